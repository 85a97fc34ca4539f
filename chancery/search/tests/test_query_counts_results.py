"""The search results page costs as many SQL queries for one hit as for a full page of them."""

from __future__ import annotations

from typing import Any

from chancery.core.tests.query_counts import ListPage, check_lists
from chancery.correspondence.demo import write_correspondence
from chancery.search import selectors
from chancery.search.indexing import reindex

Q = "type:dispatch"
PAGES = [
    ListPage("desk.dab1", f"/search/?q={Q}&sort=date", lambda u: selectors.count(u, Q)),
    ListPage("director.dab", f"/search/?q={Q}", lambda u: selectors.count(u, Q)),
]


def _seed(ministry: Any, *, count: int, seed: int) -> None:
    write_correspondence(units=ministry.units, users=ministry.users, count=count, seed=seed, days=15)
    reindex(types=["dispatch"])


def test_results_cost_the_same_queries_for_one_hit_and_a_page(ministry: Any) -> None:
    check_lists(
        PAGES,
        ministry,
        seed_few=lambda: _seed(ministry, count=60, seed=1),
        seed_many=lambda: _seed(ministry, count=1500, seed=2),
    )
