"""Results, counts, facets and snippets are computed only over what the reader may read:
adding documents the reader may not read changes no number (nor word) they see."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from django.test import Client

from chancery.accounts.services import issue_api_token
from chancery.correspondence.tests.domain_helpers import draft, sent
from chancery.search import selectors
from chancery.search.indexing import reindex
from chancery.search.selectors import search
from chancery.search.tests.conftest import sent_out_of_scope

if TYPE_CHECKING:
    from chancery.accounts.models import User

pytestmark = pytest.mark.django_db

QUERIES = ["gazoduc", "gaz*", "réunion", "from:DAKAR", "tag:ENERGY", "type:dispatch", "year:2026", "-réunion visite"]


def _seen(user: User, q: str) -> Any:
    results = search(user, q, per_page=50)
    return (
        results.total,
        results.pages,
        [(f.name, f.values) for f in results.facets],
        [(h.doc_type, h.object_id, h.title, str(h.snippet), h.subject) for h in results.hits],
    )


def _hidden_documents(ministry: Any) -> None:
    """Documents that match every query above but that counsellor.dakar (cleared Diffusion
    restreinte, member of DAKAR) may not read."""
    # Above the reader's clearance, from the reader's own unit.
    sent(
        ministry,
        author="hom.dakar",
        classification=2,
        subject="Gazoduc : réunion restreinte",
        body="<p>Visite secrète du gazoduc.</p>",
        tags=["ENERGY"],
    )
    # No need to know: between two other units.
    sent_out_of_scope(ministry, subject="Gazoduc andin et réunion", body="<p>Visite du gazoduc.</p>", tags=["ENERGY"])
    # A draft of another unit.
    draft(
        ministry,
        author="counsellor.lima",
        unit="LIMA",
        routings=[("DAM/1", "action")],
        subject="Brouillon gazoduc réunion",
        body="<p>Visite.</p>",
        tags=["ENERGY"],
    )


# The plans `selectors.gated_pass` may choose for a reader: every one must keep the gate.
PLANS = {
    "narrowed": {"NARROW_SCOPE": 10**9},  # candidates narrowed to the reader's scope first
    "newest walk": {"NARROW_SCOPE": 0},  # the newest matches walked through the gate
    "small window": {"NARROW_SCOPE": 0, "COUNT_CAP": 1},  # the newest readable match only, then the page
}


@pytest.fixture(params=sorted(PLANS))
def plan(request: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    for name, value in PLANS[request.param].items():
        monkeypatch.setattr(selectors, name, value)
    return str(request.param)


def test_a_hidden_document_changes_no_number(ministry: Any, corpus: Any, plan: str) -> None:
    reader = ministry.users["counsellor.dakar"]
    cleared = ministry.users["hom.dakar"]
    before = {q: _seen(reader, q) for q in QUERIES}
    before_cleared = {q: _seen(cleared, q) for q in QUERIES}
    _hidden_documents(ministry)
    reindex()
    after = {q: _seen(reader, q) for q in QUERIES}
    assert after == before
    # The same documents do show to a reader allowed to see one of them: the test can fail.
    after_cleared = {q: _seen(cleared, q) for q in QUERIES}
    assert after_cleared["gazoduc"][0] == before_cleared["gazoduc"][0] + 1


def test_protected_snippets_only_for_cleared_readers(ministry: Any, corpus: Any) -> None:
    cleared = search(ministry.users["hom.dakar"], "transsaharien")
    assert [h.object_id for h in cleared.hits] == [corpus.protected.pk]
    assert "<mark>transsaharien</mark>" in str(cleared.hits[0].snippet)
    assert cleared.marking is not None and cleared.marking.level == 2
    not_cleared = search(ministry.users["counsellor.dakar"], "transsaharien")
    assert not_cleared.total == 0 and not_cleared.hits == [] and all(not f.values for f in not_cleared.facets)


def test_out_of_scope_answers_nothing_on_page_and_api(ministry: Any, corpus: Any, client_for: Any) -> None:
    page = client_for("counsellor.lima").get("/search/", {"q": "gazoduc"})
    assert page.status_code == 200
    body = page.content.decode()
    assert "transsaharien" not in body and "gazoduc</mark>" not in body.lower()
    token = issue_api_token(user=ministry.users["counsellor.lima"])
    api = Client().get("/api/v1/search", {"q": "gazoduc"}, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.status_code == 200 and api.json()["total"] == 0 and api.json()["results"] == []


def test_showing_protected_snippets_is_audited_without_content(ministry: Any, corpus: Any, client_for: Any) -> None:
    from chancery.audit.models import AuditEvent

    client_for("hom.dakar").get("/search/", {"q": "transsaharien"})
    event = AuditEvent.objects.filter(action="search.read").latest("id")
    assert f"dispatch:{corpus.protected.pk}" in str(event.details)
    assert "transsaharien" not in str(event.details).lower()
    before = AuditEvent.objects.filter(action="search.read").count()
    client_for("hom.dakar").get("/search/", {"q": "reunion"})  # clear results: nothing to audit
    assert AuditEvent.objects.filter(action="search.read").count() == before


def _xylophones(ministry: Any, readable: int) -> None:
    """`readable` dispatches counsellor.dakar may read that say "xylophone", and two it may not."""
    for n in range(readable):
        sent(ministry, subject=f"Xylophone numéro {n}", body="<p>Un xylophone.</p>")
    sent(ministry, author="hom.dakar", classification=2, subject="Xylophone secret", body="<p>Xylophone.</p>")
    sent_out_of_scope(ministry, subject="Xylophone andin", body="<p>Xylophone.</p>")
    reindex()


def test_counts_are_capped_over_readable_matches_only(
    ministry: Any, monkeypatch: pytest.MonkeyPatch, plan: str
) -> None:
    reader = ministry.users["counsellor.dakar"]
    _xylophones(ministry, readable=2)
    monkeypatch.setattr(selectors, "COUNT_CAP", 3)
    # Two readable and two hidden matches: under the cap of 3, exact, and the hidden ones not counted.
    results = search(reader, "xylophone")
    assert (results.total, results.capped) == (2, False)
    assert sum(n for _v, _l, n in next(f for f in results.facets if f.name == "type").values) == 2
    _xylophones(ministry, readable=2)
    capped = search(reader, "xylophone", per_page=1)  # the cap is never below the page's end
    # Four readable matches: the newest three (readable ones only: the window never holds a
    # hidden document) are ranked and counted, "or more".
    assert capped.capped and capped.total == 3 and capped.pages == 3
    assert capped.approximate and not search(reader, "xylophone", sort="date").approximate
    pages = [search(reader, "xylophone", per_page=1, page=n).hits for n in range(1, capped.total + 1)]
    assert all(len(hits) == 1 and "Xylophone num" in hits[0].title for hits in pages)
