"""Every planning list costs as many SQL queries for one row as for a full page.

One line per list in `PAGES`; `check_lists` (chancery/core/tests/query_counts.py) renders each
with one programme, seeds the demo's programmes and fifty more actions, and compares.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from chancery.core.classification import Level
from chancery.core.tests.query_counts import MANY, ListPage, check_lists
from chancery.planning import demo, selectors, services
from chancery.planning.models import Axis

if TYPE_CHECKING:
    from chancery.accounts.models import User

_sample: dict[str, int] = {}  # the programme whose actions grow (made when seeding)


def _in_sample(path: str) -> Any:
    def url(user: User) -> str:
        return path.format(id=_sample["id"])

    url.__name__ = path
    return url


def _sample_actions(user: User) -> int:
    return selectors.action_list(user, {"programme": _sample["id"]}).count()


PAGES = [
    ListPage("plan.sg4", "/planning/", lambda u: selectors.programme_list(u).count()),
    ListPage("plan.sg4", _in_sample("/planning/{id}/"), _sample_actions),
    ListPage("plan.sg4", _in_sample("/planning/{id}/actions/"), _sample_actions),
    ListPage("hom.dakar", _in_sample("/planning/{id}/actions/"), _sample_actions),
    ListPage("plan.sg4", "/api/v1/programmes?limit=200", lambda u: selectors.programme_list(u).count(), api=True),
    ListPage("plan.sg4", "/api/v1/actions?limit=100", lambda u: selectors.action_list(u).count(), api=True),
    ListPage("plan.sg4", "/api/v1/indicators?limit=100", lambda u: selectors.indicator_list(u).count(), api=True),
    ListPage("plan.sg4", "/api/v1/axes?limit=100", lambda u: selectors.axis_list(u).count(), api=True),
]


def _seed_few(ministry: Any) -> None:
    year = timezone.localdate().year + 1  # clear of the demo's years
    programme = demo.sample_programme(
        mission=ministry.units["DAKAR"], year=year, user=ministry.users["hom.dakar"], actions_per_axis=1, indicators=1
    )
    # Protected from the start, so that "few" already reads sealed texts (one query loads
    # the programmes' keys, see `planning.sealed`) and "many" shows that it stays one.
    services.update_programme(user=ministry.users["hom.dakar"], programme=programme, classification=Level.RESTRICTED)
    _sample["id"] = programme.pk


def _seed_many(ministry: Any) -> None:
    demo.populate(ministry=ministry, seed=7)
    user = ministry.users["hom.dakar"]
    axis = Axis.objects.unrestricted("test data").filter(programme_id=_sample["id"]).order_by("position").first()
    assert axis is not None
    year = timezone.localdate().year + 1
    # Objectives too (their sealed titles open with the programme's key, reached through the axis).
    objectives = [services.create_objective(user=user, axis=axis, title=f"Objectif {n}") for n in range(5)]
    for n in range(MANY):
        services.create_action(
            user=user, programme=axis.programme, axis=axis, title=f"Action {n}", lead=user,
            start_date=date(year, 1 + n % 12, 1), end_date=date(year, 1 + n % 12, 20),
            budget_requested=Decimal(100 + n), currency="EUR", objective=objectives[n % len(objectives)],
        )


def test_lists_cost_the_same_queries_for_one_row_and_a_page(ministry: Any) -> None:
    _sample.clear()
    check_lists(PAGES, ministry, seed_few=lambda: _seed_few(ministry), seed_many=lambda: _seed_many(ministry))
