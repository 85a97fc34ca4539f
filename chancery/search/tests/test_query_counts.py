"""The saved searches list costs as many SQL queries for one saved search as for fifty."""

from __future__ import annotations

from typing import Any

from chancery.core.tests.query_counts import MANY, ListPage, check_lists
from chancery.search.models import SavedSearch
from chancery.search.saved import save_search

PAGES = [
    ListPage("desk.dab1", "/search/saved-searches/", lambda u: SavedSearch.objects.visible_to(u).count()),
]
_made = [0]


def _seed(ministry: Any, count: int) -> None:
    for _ in range(count):
        _made[0] += 1
        save_search(owner=ministry.users["desk.dab1"], name=f"Search {_made[0]}", query=f"visite {_made[0]}",
                    notify=_made[0] % 2 == 0)  # fmt: skip


def test_saved_searches_cost_the_same_queries_for_one_and_many(ministry: Any) -> None:
    check_lists(PAGES, ministry, seed_few=lambda: _seed(ministry, 1), seed_many=lambda: _seed(ministry, MANY + 5))
