"""Every correspondence list costs as many SQL queries for one row as for a full page.

One line per list in `PAGES`; `check_lists` (chancery/core/tests/query_counts.py) renders each
with few rows, seeds many more through the demo's bulk writer and the services, and compares.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from chancery.core.classification import Level
from chancery.core.keyset import _encode, _value
from chancery.core.tests.query_counts import MANY, ListPage, check_lists
from chancery.correspondence import review, selectors, services
from chancery.correspondence.demo import write_correspondence
from chancery.correspondence.models import Citation, Dispatch

if TYPE_CHECKING:
    from chancery.accounts.models import User

_thread: dict[str, int] = {}  # the dispatch whose thread grows (chosen when seeding)


def _thread_root(user: User) -> str:
    return f"/correspondence/dispatches/{_thread['root']}/"


def _thread_size(user: User) -> int:
    root = selectors.dispatch_detail(user, _thread["root"], audit=False)
    found = selectors.thread(user, root)
    return len(found.cites) + len(found.cited_by)


def _deep(path: str, rows: Any, order: list[tuple[str, bool]]) -> Any:
    """A keyset page reached by an `older=` cursor (what deep pages cost): the cursor of the
    reader's first row with its id one higher, so that the page holds the whole list again."""

    def url(user: User) -> str:
        first_row = rows(user).first()
        values = [_value(first_row, name) for name, _desc in order]
        return f"{path}older={_encode([*values[:-1], values[-1] + 1])}"

    url.__name__ = f"{path}older=…"
    return url


PAGES = [
    ListPage("desk.dab1", "/", lambda u: selectors.inbox(u, status="open").count()),
    ListPage("desk.dab1", "/correspondence/", lambda u: selectors.inbox(u, status="open").count()),
    ListPage("desk.dab1", "/correspondence/sent/", lambda u: selectors.outbox(u).count()),
    ListPage("desk.dab1", "/correspondence/drafts/", lambda u: selectors.drafts(u).count()),
    # The registry's list: incoming letters registered by the central registry.
    ListPage("clerk.sgbo", "/correspondence/sent/", lambda u: selectors.outbox(u).count()),
    ListPage("desk.dab1", _thread_root, _thread_size),
    # Deep pages (a cursor, not an offset) and the security officers' declassification review queue.
    ListPage(
        "desk.dab1",
        _deep("/correspondence/?status=open&", lambda u: selectors.inbox(u, status="open"), selectors.INBOX_ORDER),
        lambda u: selectors.inbox(u, status="open").count(),
    ),
    ListPage(
        "desk.dab1",
        _deep("/correspondence/sent/?", selectors.outbox, selectors.OUTBOX_ORDER),
        lambda u: selectors.outbox(u).count(),
    ),
    ListPage("security", "/correspondence/review/", lambda u: review.review_queue(u).count()),
    ListPage("security", "/api/v1/review-queue", lambda u: review.review_queue(u).count(), api=True),
    ListPage("desk.dab1", "/api/v1/inbox?limit=100", lambda u: selectors.inbox(u).count(), api=True),
    ListPage(
        "director.dab", "/api/v1/dispatches?limit=100", lambda u: selectors.search_dispatches(u).count(), api=True
    ),
    # a narrower reader (their scope a few hundred of 1,500): the list starts from their access rows (`narrow_scope_q`)
    ListPage("desk.dab1", "/api/v1/dispatches?limit=100", lambda u: selectors.search_dispatches(u).count(), api=True),
    ListPage(
        "director.dab",
        "/api/v1/dispatches?limit=100&unit=DAB%2F1",
        lambda u: selectors.search_dispatches(u, {"unit": "DAB/1"}).count(),
        api=True,
    ),
    # words: from the substring index's candidates (and, on PostgreSQL, the reader's access rows among them)
    ListPage(
        "director.dab",
        "/api/v1/dispatches?limit=100&q=DAB",
        lambda u: selectors.search_dispatches(u, {"q": "DAB"}).count(),
        api=True,
    ),
    # dates alone: from the reader's access rows, a range of each walk's index
    ListPage(
        "desk.dab1",
        "/api/v1/dispatches?limit=100&date_from=2000-01-01",
        lambda u: selectors.search_dispatches(u, {"date_from": "2000-01-01"}).count(),
        api=True,
    ),
]


def _seed(ministry: Any, *, count: int, seed: int, drafts: int, citations: int) -> None:
    write_correspondence(units=ministry.units, users=ministry.users, count=count, seed=seed, days=15)
    desk, unit = ministry.users["desk.dab1"], ministry.units["DAB/1"]
    for n in range(drafts):
        services.create_draft(
            actor=desk,
            sending_unit=unit,
            subject=f"Draft {n}",
            classification=Level.RESTRICTED if n % 2 else 0,
            tags=["QUERY"],
        )
    if "root" not in _thread:
        _thread["root"] = selectors.outbox(desk).order_by("sent_at").values_list("pk", flat=True)[0]
    citing = [
        d.pk
        for d in selectors.search_dispatches(desk)
        .exclude(pk=_thread["root"])
        .exclude(citations__cited_id=_thread["root"])
        .filter(status__in=["sent", "closed"])[:citations]
    ]
    Citation.objects.bulk_create([Citation(citing_id=pk, cited_id=_thread["root"]) for pk in citing])
    # Protected sent dispatches whose review date has come wait in the security officers' queue.
    due = Dispatch.objects.unrestricted("test seeding").filter(
        status__in=["sent", "closed"], classification__gt=0, declassify_on=None
    )
    Dispatch.objects.unrestricted("test seeding").filter(
        pk__in=list(due.values_list("pk", flat=True)[: count // 10])
    ).update(declassify_on=date(2020, 1, 1))


def test_lists_cost_the_same_queries_for_one_row_and_a_page(ministry: Any) -> None:
    _thread.clear()
    check_lists(
        PAGES,
        ministry,
        seed_few=lambda: _seed(ministry, count=60, seed=1, drafts=1, citations=1),
        seed_many=lambda: _seed(ministry, count=1500, seed=2, drafts=MANY + 5, citations=MANY + 5),
    )
    assert Dispatch.objects.unrestricted("test check").filter(pk=_thread["root"]).exists()
