"""`core.lists.OneStatementPaginator`: the pages Django's paginator gives, each read in one statement."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.paginator import Paginator
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chancery.core.lists import OneStatementPaginator
from chancery.organisation.models import Unit

NUMBERS = [None, "", "abc", "1", 1, 2, "2", 2.0, 2.5, 0, -1, "7", 7, 8, 50, "9999"]


def _units(**filters: Any) -> Any:
    return Unit.objects.unrestricted("test: rows to page through").filter(**filters).order_by("code", "pk")


@pytest.mark.parametrize("per_page", [1, 7, 12, 500])
def test_every_page_is_djangos(ministry: Any, per_page: int) -> None:
    total = _units().count()
    assert total > 12  # several pages at the smaller sizes
    for number in NUMBERS:
        theirs = Paginator(_units(), per_page).get_page(number)
        ours = OneStatementPaginator(_units(), per_page).get_page(number)
        assert (ours.number, ours.paginator.count, ours.paginator.num_pages) == (
            theirs.number,
            theirs.paginator.count,
            theirs.paginator.num_pages,
        ), number
        assert [u.pk for u in ours] == [u.pk for u in theirs.object_list], number
        assert (ours.has_next(), ours.has_previous(), ours.start_index(), ours.end_index()) == (
            theirs.has_next(),
            theirs.has_previous(),
            theirs.start_index(),
            theirs.end_index(),
        ), number


def test_a_page_in_the_list_is_one_statement(ministry: Any) -> None:
    with CaptureQueriesContext(connection) as queries:
        page = OneStatementPaginator(_units(), 5).get_page("2")
        shown = [u.code for u in page]
        count = page.paginator.count
    assert len(queries) == 1 and len(shown) == 5 and count == _units().count()


def test_an_empty_list_is_one_statement(ministry: Any) -> None:
    with CaptureQueriesContext(connection) as queries:
        page = OneStatementPaginator(_units(code="NO-SUCH-UNIT"), 5).get_page(None)
        assert (list(page), page.paginator.count, page.paginator.num_pages, page.number) == ([], 0, 1, 1)
    assert len(queries) == 1
