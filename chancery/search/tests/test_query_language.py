"""The query language: any string is a valid query (property-based), bad input gives a
sensible result or a clear message, never an engine error."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chancery.search.query import parse
from chancery.search.selectors import search

# Text that looks like the query language and its hostile neighbours (engine syntax, SQL).
_PIECES = st.sampled_from(
    [
        '"',
        "-",
        "*",
        "^",
        ":",
        "(",
        ")",
        "NEAR",
        "AND",
        "OR",
        "NOT",
        "'",
        ";",
        "--",
        "%",
        "_",
        "\\",
        "{",
        "}",
        "from:",
        "to:",
        "after:",
        "before:",
        "classification:",
        "type:",
        "tag:",
        "ref:",
        "by:",
        "year:",
        "réunion",
        "gazoduc",
        "visit*",
        "DROP TABLE",
        "<mark>",
        "\x00",
        "الاجتماع",
        "2026-13-45",
        " ",
    ]
)
QUERIES = st.one_of(st.text(max_size=200), st.lists(st.one_of(_PIECES, st.text(max_size=8)), max_size=25).map("".join))


@given(QUERIES)
@settings(max_examples=400, deadline=None)
def test_any_string_parses(text: str) -> None:
    query = parse(text)
    assert len(query.must) + len(query.must_not) <= 24
    for clause in query.must + query.must_not:
        assert clause.words and all(word for word in clause.words)


@pytest.mark.django_db
@given(text=QUERIES)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_string_searches_without_error(ministry: Any, corpus: Any, text: str) -> None:
    results = search(ministry.users["hom.dakar"], text)
    assert results.total >= len(results.hits)


def test_language_features_are_parsed() -> None:
    query = parse('réunion "semaine culturelle" -brouillon visit* from:dakar to:DAB/1 after:2026-01-01 type:pj')
    assert [c.kind for c in query.must] == ["word", "phrase", "prefix"]
    assert query.must[0].words == ("reunion",)
    assert query.must[1].words == ("semaine", "culturelle")
    assert [c.words for c in query.must_not] == [("brouillon",)]
    assert query.filters["from"] == "DAKAR" and query.filters["to"] == "DAB/1"
    assert query.filters["after"] == date(2026, 1, 1)
    assert query.filters["type"] == ["attachment"]
    assert not query.warnings


@pytest.mark.parametrize(
    ("text", "warned"),
    [
        ('"semaine culturelle', False),  # unbalanced quote: the phrase runs to the end
        ("le la les of the", True),  # only common words
        ("x" * 10_000, True),  # far too long
        ("foo:bar gazoduc", True),  # unknown filter: searched as words
        ("after:2026-02-30 gazoduc", True),  # invalid date
        ("classification:ultra", True),
        ("NEAR(gazoduc, 5) ^ * OR AND", False),  # engine operators are only text
        ("'; DROP TABLE search_fts; --", False),
        (r"(a|b)+.*[\d]", False),
    ],
)
def test_bad_input_gives_a_message_not_an_error(text: str, warned: bool) -> None:
    query = parse(text)
    assert bool(query.warnings) == warned, query.warnings


@pytest.mark.django_db
@pytest.mark.parametrize(
    "text",
    [
        '"semaine culturelle',
        "le la les",
        "x" * 10_000,
        "foo:bar",
        "after:2026-02-30",
        "NEAR gazoduc ^ *",
        "'; DROP TABLE search_fts; --",
        '"',
        "-",
        "*",
        "-gazoduc",
        "type:nothing",
    ],
)
def test_bad_input_on_the_page_never_fails(client_for: Any, corpus: Any, text: str) -> None:
    response = client_for("hom.dakar").get("/search/", {"q": text})
    assert response.status_code == 200
    body = response.content.decode()
    assert "fts5" not in body.lower() and "syntax error" not in body.lower()


@pytest.mark.django_db
def test_unbalanced_quote_still_finds_the_phrase(ministry: Any, corpus: Any) -> None:
    results = search(ministry.users["hom.dakar"], '"semaine culturelle')
    assert [h.object_id for h in results.hits] == [corpus.clear.pk]
