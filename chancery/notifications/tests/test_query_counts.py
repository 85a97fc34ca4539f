"""The notification list costs as many SQL queries for one notification as for a full page."""

from __future__ import annotations

from typing import Any

from chancery.core.tests.query_counts import MANY, ListPage, check_lists
from chancery.notifications import selectors
from chancery.notifications.models import Verb
from chancery.notifications.services import notify

PAGES = [
    ListPage("desk.dab1", "/notifications/", lambda u: selectors.notifications_for(user=u).count()),
    ListPage("desk.dab1", "/notifications/?unread=1", lambda u: selectors.notifications_for(user=u).count()),
    ListPage("desk.dab1", "/", lambda u: selectors.notifications_for(user=u).count()),
]


def _seed(ministry: Any, count: int) -> None:
    verbs = list(Verb)
    for n in range(count):
        notify(recipients=[ministry.users["desk.dab1"]], verb=verbs[n % len(verbs)], target=None,
               url=f"/correspondence/?n={n}")


def test_list_costs_the_same_queries_for_one_row_and_a_page(ministry: Any) -> None:
    check_lists(PAGES, ministry, seed_few=lambda: _seed(ministry, 1), seed_many=lambda: _seed(ministry, MANY + 5))
