"""An imported letter and the draft programme it produced (issue 8): linked both ways as far as each
reader may see; volets named, not coded; each sentence once; an incoming letter is "registered"."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from chancery.correspondence.models import Dispatch
from chancery.imports.models import LetterImport
from chancery.planning.models import Axis, Objective
from conftest import sign_in

from .conftest import SAMPLES_DIR
from .test_import_views import _file, _form_data

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english(settings: Any) -> None:
    settings.LANGUAGE_CODE = "en"


def _imported(importer: Any) -> tuple[Client, LetterImport]:
    client = sign_in(Client(), importer)
    client.post("/imports/letters/", {"file": _file("fr-plan-2022-dakar.txt")})
    row = LetterImport.objects.unrestricted("test").get()
    preview = client.get(f"/imports/letters/{row.pk}/").content.decode()
    assert 'class="badge text-bg-light axis-name">Economic<' in preview  # the volet's name, not "economic"
    assert ">political<" not in preview
    client.post(f"/imports/letters/{row.pk}/", {**_form_data(importer, row), "confirm": "1"})
    row.refresh_from_db()
    assert row.dispatch_id and row.programme_id
    return client, row


def test_letter_and_programme_link_both_ways_as_far_as_each_may_see(importer: Any, client_for: Any) -> None:
    clerk, row = _imported(importer)
    dispatch = Dispatch.objects.unrestricted("test").get(pk=int(row.dispatch_id or 0))
    link = f'href="/planning/{row.programme_id}/"'
    director = client_for("director.dab")  # reads both: the letter (DAB/2 below) and Dakar's plan
    response = director.get(f"/correspondence/dispatches/{dispatch.pk}/")
    page = response.content.decode()
    assert response.status_code == 200
    assert link in page
    assert 'id="dispatch-status">Registered<' in page
    programme = director.get(f"/planning/{row.programme_id}/").content.decode()
    assert f'class="source-letter" href="/correspondence/dispatches/{dispatch.pk}/"' in programme
    # The registry may read the letter, not the plan: no link to it, nor any trace of it.
    assert link not in clerk.get(f"/correspondence/dispatches/{dispatch.pk}/").content.decode()


def test_each_sentence_of_the_letter_is_shown_once_in_the_draft(importer: Any, client_for: Any) -> None:
    _clerk, row = _imported(importer)
    objectives = list(Objective.objects.unrestricted("test").filter(axis__programme_id=row.programme_id))
    assert objectives
    narratives = " ".join(Axis.objects.unrestricted("test").filter(programme_id=row.programme_id)
                          .values_list("narrative", flat=True))
    page = client_for("director.dab").get(f"/planning/{row.programme_id}/").content.decode()
    for objective in objectives:
        assert objective.title not in narratives
        assert objective.description != objective.title
        assert page.count(objective.title.replace("'", "&#x27;")) == 1, objective.title
    assert (SAMPLES_DIR / "fr-plan-2022-dakar.txt").exists()
