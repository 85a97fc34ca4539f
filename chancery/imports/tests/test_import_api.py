"""POST /api/v1/imports/letters (preview) and …/{id}/confirm (save with corrections)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from chancery.accounts.services import issue_api_token
from chancery.correspondence.models import Dispatch, Routing
from chancery.imports.models import LetterImport

from .conftest import SAMPLES_DIR, expected

if TYPE_CHECKING:
    from chancery.accounts.models import User

pytestmark = pytest.mark.django_db


def _client(user: User) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {issue_api_token(user=user)}")


def test_preview_then_confirm_with_corrections(importer: Any) -> None:
    api = _client(importer)
    data = (SAMPLES_DIR / "en-cable-2023-ottawa.txt").read_bytes()
    response = api.post("/api/v1/imports/letters", {"file": SimpleUploadedFile("ottawa.txt", data)})
    assert response.status_code == 201, response.content
    body = response.json()
    record = body["record"]
    for name, value in expected("en-cable-2023-ottawa")["dispatch"].items():
        assert record["dispatch"][name] == value, name
    assert {"kind": "info", "text": "Press Office", "unit": "DCP/5", "method": "alias", "candidates": []} in body[
        "routing"
    ]
    assert body["mission"]["unit"] == "OTT" and "text" not in body["details"]
    # how sure each reading is, and the line it came from
    assert body["fields"]["classification"] == {
        "value": "confidential", "confidence": 0.95, "check": False, "line": 7, "source": "Distribution: Confidential"
    }
    assert body["fields"]["attachments"]["line"] == 30 and body["fields"]["cites"]["value"] == [
        "DAM/1 No. 88 of 12 January 2023"
    ]
    assert body["fields"]["programme.year"]["value"] == 2023
    assert Dispatch.objects.unrestricted("test").count() == 0

    response = api.post(
        f"/api/v1/imports/letters/{body['import_id']}/confirm",
        json.dumps({"subject": "Action plan 2023 (revised)", "information": ["DG2/4"], "create_programme": False}),
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    result = response.json()
    dispatch = Dispatch.objects.unrestricted("test").get(pk=result["dispatch_id"])
    assert result["reference"] == dispatch.reference and result["programme_id"] is None
    routings = {(r.unit.code, r.kind) for r in Routing.objects.filter(dispatch=dispatch).select_related("unit")}
    assert routings == {("DAM/1", "action"), ("DG2/4", "info")}
    from chancery.correspondence.content import read_field

    assert read_field(dispatch, "subject") == "Action plan 2023 (revised)"

    again = api.post(f"/api/v1/imports/letters/{body['import_id']}/confirm", "{}", content_type="application/json")
    assert again.status_code == 409
    duplicate = api.post("/api/v1/imports/letters", {"file": SimpleUploadedFile("copy.txt", data)})
    assert duplicate.status_code == 201 and duplicate.json()["duplicate_of"] == dispatch.reference
    assert duplicate.json()["import_id"] is None


def test_errors(importer: Any, ministry: Any) -> None:
    api = _client(importer)
    response = api.post("/api/v1/imports/letters", {"file": SimpleUploadedFile("empty.txt", b"")})
    assert response.status_code == 422 and response.json()["code"] == "empty" and response.json()["message"]
    outsider = _client(ministry.users["hom.dakar"])
    sample = (SAMPLES_DIR / "fr-plan-2022-dakar.txt").read_bytes()
    assert outsider.post("/api/v1/imports/letters", {"file": SimpleUploadedFile("d.txt", sample)}).status_code == 404
    response = api.post("/api/v1/imports/letters", {"file": SimpleUploadedFile("d.txt", sample)})
    row = LetterImport.objects.unrestricted("test").get(pk=response.json()["import_id"])
    other = _client(ministry.users["clerk2.sgbo"])
    assert other.post(f"/api/v1/imports/letters/{row.pk}/confirm", "{}",
                      content_type="application/json").status_code == 404
    invalid = api.post(f"/api/v1/imports/letters/{row.pk}/confirm", json.dumps({"attribution": ["ZZ/9"]}),
                       content_type="application/json")
    assert invalid.status_code == 422 and "attribution" in invalid.json()["errors"]
