"""The search page, the header box, saved searches and their notifications, the API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client

from chancery.accounts.services import issue_api_token
from chancery.correspondence.tests.domain_helpers import sent
from chancery.notifications.models import Notification
from chancery.search.models import SavedSearch

pytestmark = pytest.mark.django_db


def test_header_box_on_every_page(client_for: Any) -> None:
    body = client_for("desk.dab1").get("/correspondence/").content.decode()
    assert 'id="header-search"' in body and 'action="/search/"' in body


def test_search_page_results_facets_and_pagination_links(client_for: Any, corpus: Any) -> None:
    response = client_for("hom.dakar").get("/search/", {"q": "reunion", "sort": "date"})
    assert response.status_code == 200
    body = response.content.decode()
    assert f"/correspondence/dispatches/{corpus.clear.pk}/" in body
    assert f"/correspondence/dispatches/{corpus.spanish.pk}/" in body
    assert 'data-facet="from"' in body and "from%3ADAKAR" in body
    # A facet link narrows the query; the URL of a search is shareable.
    narrowed = client_for("hom.dakar").get("/search/", {"q": "reunion tag:CULTURE"}).content.decode()
    assert f"/correspondence/dispatches/{corpus.clear.pk}/" in narrowed
    assert f"/correspondence/dispatches/{corpus.spanish.pk}/" not in narrowed


def test_protected_result_page_carries_the_marking_banner(client_for: Any, corpus: Any) -> None:
    body = client_for("hom.dakar").get("/search/", {"q": "transsaharien"}).content.decode()
    assert "<mark>transsaharien</mark>" in body
    assert "Confidenti" in body  # the banner names the marking of what is shown


def test_save_a_search_and_be_notified_of_a_new_match(
    ministry: Any,
    client_for: Any,
    corpus: Any,
    run_tasks: Callable[[], None],
    django_capture_on_commit_callbacks: Any,
) -> None:
    client = client_for("desk.dab1")
    response = client.post("/search/saved-searches/", {"name": "Pêche", "query": "pêcheries", "notify": "on"})
    assert response.status_code == 302
    saved = SavedSearch.objects.unrestricted("test").get(owner=ministry.users["desk.dab1"])
    assert client.get(f"/search/saved-searches/{saved.pk}/").url == "/search/?q=p%C3%AAcheries&sort=date"
    # Another agent cannot open or delete it.
    assert client_for("desk.dab2").get(f"/search/saved-searches/{saved.pk}/").status_code == 404
    assert client_for("desk.dab2").post(f"/search/saved-searches/{saved.pk}/delete/").status_code == 404
    # A same name is refused with a message, nothing saved twice.
    again = client.post("/search/saved-searches/", {"name": "Pêche", "query": "x"})
    assert again.status_code == 422 and SavedSearch.objects.unrestricted("test").count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        sent(ministry, subject="Accord sur les pêcheries", routings=[("DAB/1", "action")])
        hidden = sent(
            ministry,
            author="counsellor.lima",
            head="hom.lima",
            unit="LIMA",
            routings=[("DAM/1", "action")],
            subject="Pêcheries andines",
        )
    run_tasks()
    notes = list(
        Notification.objects.unrestricted("test").filter(
            recipient=ministry.users["desk.dab1"], verb="saved_search_match"
        )
    )
    assert len(notes) == 1 and notes[0].url == f"/search/saved-searches/{saved.pk}/"
    assert "pêcheries" not in notes[0].url.lower() and str(hidden.pk) != notes[0].target_id


def test_api_search(ministry: Any, corpus: Any) -> None:
    token = issue_api_token(user=ministry.users["hom.dakar"])
    response = Client().get("/api/v1/search", {"q": "gazoduc", "sort": "date"}, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    data = response.json()
    assert data["total"] == 2
    by_id = {r["id"]: r for r in data["results"]}
    assert by_id[corpus.protected.pk]["subject"] == "Négociations secrètes sur le gazoduc"
    assert by_id[corpus.protected.pk]["type"] == "dispatch"
    assert Client().get("/api/v1/search", {"q": "gazoduc"}).status_code == 401
    bad = Client().get("/api/v1/search", {"q": '"NEAR(' * 3000}, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert bad.status_code == 200 and bad.json()["warnings"]


def test_citation_typeahead_shows_subject_date_and_sender_from_the_index(client_for: Any, corpus: Any) -> None:
    # "pourparlers" is only in the body of the protected dispatch: found through the index.
    body = client_for("hom.dakar").get("/correspondence/references/", {"q": "pourparlers"}).content.decode()
    assert corpus.protected.reference in body
    assert "Négociations secrètes sur le gazoduc" in body and "DAKAR" in body
    # A reader not cleared for it gets nothing, not even the reference.
    hidden = client_for("counsellor.dakar").get("/correspondence/references/", {"q": "pourparlers"}).content.decode()
    assert corpus.protected.reference not in hidden and "Négociations" not in hidden


@pytest.mark.parametrize(
    ("url", "scope"),
    [
        ("/correspondence/", "type:dispatch"),
        ("/correspondence/sent/", "type:dispatch"),
        ("/correspondence/drafts/", "type:dispatch"),
        ("/planning/", "type:programme"),
    ],
)
def test_lists_carry_a_search_box_scoped_to_them(client_for: Any, url: str, scope: str) -> None:
    client = client_for("hom.dakar")
    body = client.get(url).content.decode()
    assert 'class="d-flex flex-wrap gap-2 align-items-center mb-3 search-list-box"' in body
    assert f'name="scope" value="{scope}"' in body
    response = client.get("/search/", {"q": "gazoduc", "scope": scope})
    assert response.status_code == 302 and response.url == "/search/?" + urlencode({"q": f"gazoduc {scope}"})
