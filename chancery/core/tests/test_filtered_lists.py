"""`FilteredListMiddleware`: a request carrying its reader's filters is planned with its values."""

from __future__ import annotations

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from chancery.core.db import values_decide_plan
from chancery.core.middleware import FilteredListMiddleware

pytestmark = pytest.mark.engine_independent


def _planned_with_values(query: str) -> bool:
    seen: list[bool] = []

    def view(request: HttpRequest) -> HttpResponse:
        seen.append(values_decide_plan())
        return HttpResponse()

    FilteredListMiddleware(view)(RequestFactory().get("/api/v1/dispatches" + query))
    assert values_decide_plan() is False  # and nothing left behind for the next request
    return seen[0]


@pytest.mark.parametrize(
    "query",
    ["?date_from=2017-01-01", "?classification=secret", "?status=open&older=abc", "?q=paris", "?page=2&unit=DAKAR"],
)
def test_a_filtered_list_is_planned_with_its_values(query: str) -> None:
    assert _planned_with_values(query)


@pytest.mark.parametrize("query", ["", "?page=3", "?older=abc", "?newer=abc&limit=20", "?offset=2000"])
def test_a_page_of_a_list_is_prepared(query: str) -> None:
    assert not _planned_with_values(query)
