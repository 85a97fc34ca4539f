"""The duplicate check answers only within what the importer may read (attack finding)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from chancery.accounts.services import issue_api_token
from chancery.correspondence.models import Dispatch
from chancery.imports import services
from chancery.imports.models import LetterImport

from .conftest import SAMPLES_DIR

if TYPE_CHECKING:
    from chancery.accounts.models import User

pytestmark = pytest.mark.django_db

# An unclassified letter that the first importer registers as Confidentiel (a correction).
LETTER = "en-plan-2024-nairobi.txt"
AS_CONFIDENTIAL = json.dumps({"classification": "confidential", "create_programme": False, "attribution": ["SG/4"]})


def _api(user: User) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {issue_api_token(user=user)}")


def _preview(user: User, data: bytes) -> dict[str, Any]:
    response = _api(user).post("/api/v1/imports/letters", {"file": SimpleUploadedFile("letter.txt", data)})
    assert response.status_code == 201, response.content
    body: dict[str, Any] = response.json()
    return body


def test_a_letter_imported_out_of_the_importers_scope_looks_new(importer: Any, ministry: Any) -> None:
    data = (SAMPLES_DIR / LETTER).read_bytes()
    clerk = ministry.users["clerk.sgbo"]  # same registry, cleared only Diffusion restreinte
    before = _preview(clerk, data)
    LetterImport.objects.unrestricted("test").filter(pk=before["import_id"]).delete()

    first = _preview(importer, data)
    response = _api(importer).post(f"/api/v1/imports/letters/{first['import_id']}/confirm", AS_CONFIDENTIAL,
                                   content_type="application/json")
    assert response.status_code == 201, response.content
    dispatch = Dispatch.objects.unrestricted("test").get(pk=response.json()["dispatch_id"])
    assert not Dispatch.objects.visible_to(clerk).filter(pk=dispatch.pk).exists()

    after = _preview(clerk, data)
    # Word for word what the clerk got before the letter existed (but the new preview's id).
    assert after["import_id"] is not None
    assert {**after, "import_id": None} == {**before, "import_id": None}
    # The service says the same to every path (web page, bulk import, command).
    assert services.imported_with_hash(first["sha256"], actor=clerk) is None
    assert services.imported_with_hash(first["sha256"], actor=importer) is not None
    # The bulk importer (and `chancery import-letter`) imports it for the clerk as a letter of their own.
    result = services.import_letter(actor=clerk, data=data, filename="letter.txt",
                                    registry_unit=ministry.units["SG/BO"], unmatched="registry")
    assert result.status == "imported", result.message
    assert result.dispatch is not None and result.dispatch.pk != dispatch.pk


def test_the_importer_who_may_read_it_is_still_told(importer: Any) -> None:
    data = (SAMPLES_DIR / LETTER).read_bytes()
    first = _preview(importer, data)
    response = _api(importer).post(f"/api/v1/imports/letters/{first['import_id']}/confirm", AS_CONFIDENTIAL,
                                   content_type="application/json")
    assert response.status_code == 201, response.content
    again = _preview(importer, data)
    assert again["duplicate_of"] and again["import_id"] is None
