"""The notification list costs as many SQL queries for a notification of each kind as for a full page."""

from __future__ import annotations

from typing import Any

from chancery.core.tests.query_counts import MANY, ListPage, check_lists
from chancery.correspondence.tests.domain_helpers import sent
from chancery.notifications import selectors
from chancery.notifications.models import Verb
from chancery.notifications.services import notify

PAGES = [
    ListPage("desk.dab1", "/notifications/", lambda u: selectors.notifications_for(user=u).count()),
    ListPage("desk.dab1", "/notifications/?unread=1", lambda u: selectors.notifications_for(user=u).count()),
    ListPage("desk.dab1", "/", lambda u: selectors.notifications_for(user=u).count()),
]


def _seed(ministry: Any, count: int) -> None:
    """`count` notifications of desk.dab1: half about nothing, half about a dispatch sent to their
    unit (one in two protected, whose subject the row decrypts with its key and marking), so that a
    query per row about a dispatch would show."""
    verbs = list(Verb)
    for n in range(count):
        target = None
        if n % 2:
            target = sent(ministry, routings=[("DAB/1", "action")], classification=n % 4 // 2, subject=f"Objet {n}")
        notify(recipients=[ministry.users["desk.dab1"]], verb=verbs[n % len(verbs)], target=target,
               url=f"/correspondence/?n={n}")  # fmt: skip


def test_list_costs_the_same_queries_for_one_row_and_a_page(ministry: Any) -> None:
    check_lists(PAGES, ministry, seed_few=lambda: _seed(ministry, 2), seed_many=lambda: _seed(ministry, MANY + 5))
