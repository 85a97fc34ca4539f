"""The audit log costs as many SQL queries for one event as for a full page of them."""

from __future__ import annotations

from typing import Any

from chancery.audit.selectors import events_for
from chancery.audit.services import record_event
from chancery.core.tests.query_counts import MANY, ListPage, check_lists

_ABOUT = "correspondence.dispatch"
_ID = "424242"  # events about one object: the list filtered to them starts with a single row


def _events(user: Any) -> int:
    from chancery.audit.forms import LogFilterForm

    form = LogFilterForm({"object_type": _ABOUT, "object_id": _ID})
    return events_for(user=user, log_filter=form.log_filter()).count()


PAGES = [ListPage("auditor", f"/audit/?object_type={_ABOUT}&object_id={_ID}", _events)]


def _seed(ministry: Any, count: int) -> None:
    actors = [ministry.users[name] for name in ("desk.dab1", "counsellor.dakar", "director.dab")]
    for n in range(count):
        record_event(action="correspondence.read", actor=actors[n % len(actors)], object_type=_ABOUT, object_id=_ID,
                     details={"what": "detail", "n": n})  # fmt: skip


def test_log_costs_the_same_queries_for_one_event_and_a_page(ministry: Any) -> None:
    check_lists(PAGES, ministry, seed_few=lambda: _seed(ministry, 1), seed_many=lambda: _seed(ministry, MANY + 5))
