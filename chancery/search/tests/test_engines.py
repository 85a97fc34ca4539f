"""The same query language gives the same results on both engines: this table is checked
on SQLite and, with DATABASE_URL, on PostgreSQL (`make test` runs both). Each row names the
corpus documents a query must find — chosen from what the query means, not from a run."""

from __future__ import annotations

from typing import Any

import pytest

from chancery.search.backends import get_backend
from chancery.search.selectors import search

pytestmark = pytest.mark.django_db

# query → corpus documents found by hom.dakar (cleared Secret, member of DAKAR)
TABLE: list[tuple[str, set[str]]] = [
    ("reunion", {"clear", "spanish"}),
    ("REUNION", {"clear", "spanish"}),
    ("Réunions", {"clear", "spanish"}),
    ("aout", {"clear"}),
    ("visite", {"clear", "spanish"}),
    ("gazoduc", {"protected", "draft"}),
    ("gaz*", {"protected", "draft"}),
    ("transsah*", {"protected"}),
    ("ga*", {"draft"}),  # prefixes under 3 letters do not reach protected words
    ('"semaine culturelle"', {"clear"}),
    ('"culturelle semaine"', set()),
    ('"pourparlers discrets"', {"protected"}),
    ("gazoduc -brouillon", {"protected"}),
    ("-gazoduc -reunion -visite", {"english", "arabic"}),
    ("gazoduc -transsaharien", {"draft"}),  # a protected word (a keyed hash) excluded
    ("gazoduc -transsah* -brouillon", set()),
    ('gaz* -"pourparlers discrets"', {"draft"}),
    ("gazoduc -brouillon after:2000-01-01", {"protected"}),
    ("acuerdo comercial", {"spanish"}),
    ("meeting agreement", {"english"}),
    ("اجتماع", {"arabic"}),
    ("التعاون", {"arabic"}),
    ("tag:ENERGY", {"protected"}),
    ("tag:culture reunion", {"clear"}),
    ("classification:confidential", {"protected"}),
    ("classification:0 gazoduc", {"draft"}),
    ("type:dispatch transsaharien", {"protected"}),
    ("type:programme gazoduc", set()),
    ("to:DAB/1 gazoduc", {"protected", "draft"}),
    ("from:LIMA reunion", set()),
    ("after:2000-01-01 aout", {"clear"}),
    ("before:2000-01-01 aout", set()),
    ('NEAR "', set()),
]


@pytest.mark.parametrize(("q", "expected"), TABLE, ids=[q for q, _ in TABLE])
def test_same_results_on_every_engine(ministry: Any, corpus: Any, q: str, expected: set[str]) -> None:
    ids = {getattr(corpus, name).pk: name for name in vars(corpus)}
    results = search(ministry.users["hom.dakar"], q, per_page=50, with_snippets=False)
    found = {
        ids.get(h.object_id, f"other {h.doc_type} {h.object_id}") for h in results.hits if h.doc_type == "dispatch"
    }
    assert found == expected, (get_backend().name, q)
    assert results.total == len(results.hits)


@pytest.mark.parametrize("sort", ["relevance", "date", "oldest"])
def test_every_sort_returns_the_same_set(ministry: Any, corpus: Any, sort: str) -> None:
    user = ministry.users["hom.dakar"]
    results = search(user, "visit* OR reunion", sort=sort, per_page=50)
    assert {h.object_id for h in results.hits} == {corpus.clear.pk, corpus.spanish.pk}
    if sort != "relevance":
        keys = [h.dated for h in results.hits if h.dated is not None]
        assert keys == sorted(keys, reverse=(sort == "date"))
