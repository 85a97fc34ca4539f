"""Newer / older pages (`core.keyset`) of the correspondence lists and API lists: walking the
cursors shows every row of the gated list once, in order, both ways; a tampered cursor starts
at the top; the API keeps its body and offset, adds `Link` cursors and caps offset and count."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chancery.core import keyset
from chancery.core.models import preload_compartment_codes
from chancery.correspondence import selectors, views
from chancery.correspondence.demo import write_correspondence
from chancery.correspondence.models import RoutingKind, RoutingStatus, narrow_scope_q
from conftest import sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def letters(ministry: Any) -> Any:
    write_correspondence(units=ministry.units, users=ministry.users, count=200, seed=7, days=20)
    return ministry


def _walk(client: Client, path: str, url: str, direction: str) -> tuple[list[list[int]], str]:
    """The pages from `url` following the `direction` links: (row ids per page, last page's url)."""
    pages = []
    while True:
        response = client.get(url)
        assert response.status_code == 200
        pages.append([row.pk for row in response.context["rows"]])
        link = getattr(response.context["page"], f"{direction}_url")
        if not link:
            return pages, url
        url = path + link


@pytest.mark.parametrize(
    "path,selector,username",
    [("/correspondence/sent/", "outbox", "clerk.sgbo"), ("/correspondence/", "inbox", "desk.dab1")],
)
def test_cursors_walk_the_whole_list_both_ways(
    letters: Any, monkeypatch: Any, path: str, selector: str, username: str
) -> None:
    monkeypatch.setattr(views, "PAGE_SIZE", 3)
    user = letters.users[username]
    rows = selectors.inbox(user, status="open") if selector == "inbox" else selectors.outbox(user)
    everything = [r.pk for r in rows]
    assert len(everything) > 6, len(everything)  # several pages
    client = sign_in(Client(), user)
    forward, last_url = _walk(client, path, path, "older")
    assert [pk for page in forward for pk in page] == everything
    assert all(len(page) == 3 for page in forward[:-1])
    backward, first_url = _walk(client, path, last_url, "newer")  # from the last page back to the first
    assert backward == list(reversed(forward))
    assert client.get(first_url).context["page"].newer is None


def test_a_tampered_cursor_starts_at_the_top(letters: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(views, "PAGE_SIZE", 4)
    client = sign_in(Client(), letters.users["desk.dab1"])
    top = [r.pk for r in client.get("/correspondence/sent/").context["rows"]]
    # malformed, of the wrong length, of the wrong types (a date that is not one, a text for an id, a null)
    right_shape: list[list[Any]] = [
        ["abc", 5], [timezone.now().isoformat(), "x"], [None, 3], ["2026-13-40T00:00:00", 3], [3, 4],
    ]
    for junk in ("%%%", "bm90IGpzb24", keyset._encode([1, 2, 3]), keyset._encode([{"x": 1}, 2]),
                 *(keyset._encode(values) for values in right_shape)):  # fmt: skip
        response = client.get(f"/correspondence/sent/?older={junk}")
        assert response.status_code == 200
        assert [r.pk for r in response.context["rows"]] == top


def test_a_cursor_never_reaches_beyond_the_gate(letters: Any, monkeypatch: Any) -> None:
    """A cursor taken from another reader's list pages only through one's own."""
    monkeypatch.setattr(views, "PAGE_SIZE", 4)
    other = list(selectors.outbox(letters.users["counsellor.dakar"]))
    mine = {d.pk for d in selectors.outbox(letters.users["desk.dab1"])}
    cursor = keyset._encode([other[0].sent_at, other[0].pk])
    client = sign_in(Client(), letters.users["desk.dab1"])
    shown = {r.pk for r in client.get(f"/correspondence/sent/?older={cursor}").context["rows"]}
    assert shown <= mine


def test_api_keeps_its_body_and_links_the_next_page(letters: Any, monkeypatch: Any) -> None:
    from chancery.accounts.services import issue_api_token

    user = letters.users["director.dab"]
    client = Client(HTTP_AUTHORIZATION=f"Bearer {issue_api_token(user=user)}")
    everything = [d.pk for d in selectors.search_dispatches(user)]
    first = client.get("/api/v1/dispatches?limit=3")
    assert set(first.json()) == {"items", "count"}
    assert first.json()["count"] == len(everything)
    assert 'rel="next"' in first["Link"]
    next_url = first["Link"].split(">")[0].lstrip("<")
    second = client.get(next_url).json()["items"]
    by_offset = client.get("/api/v1/dispatches?limit=3&offset=3").json()["items"]
    assert [d["id"] for d in second] == [d["id"] for d in by_offset] == everything[3:6]
    assert client.get(f"/api/v1/dispatches?offset={keyset.API_MAX_OFFSET + 1}").status_code == 422
    monkeypatch.setattr(keyset, "COUNT_CAP", 5)
    capped = client.get("/api/v1/dispatches?limit=3")
    assert capped.json()["count"] == 5 and capped["X-Count-More"] == "true"


def test_capped_count_counts_only_what_the_reader_may_read(letters: Any) -> None:
    from chancery.correspondence.models import Dispatch

    user = letters.users["hom.lima"]
    visible = Dispatch.objects.visible_to(user)
    exact = visible.count()
    assert exact < Dispatch.objects.unrestricted("test").count()
    assert keyset.capped_count(visible, cap=exact + 10) == keyset.CappedCount(value=exact, more=False)
    assert keyset.capped_count(visible, cap=exact - 1) == keyset.CappedCount(value=exact - 1, more=True)


def _api_walk(client: Client, url: str, key: Any) -> list[Any]:
    """`key` of every item of an API list, following its `Link` rel="next" cursors."""
    ids: list[Any] = []
    while url:
        response = client.get(url)
        assert response.status_code == 200
        ids += [key(item) for item in response.json()["items"]]
        links = dict(
            (part.split(">")[1].split('"')[1], part.split(">")[0].strip().lstrip("<"))
            for part in response.get("Link", "").split(",")
            if part.strip()
        )
        url = links.get("next", "")
    return ids


@pytest.mark.parametrize("username", ["counsellor.dakar", "desk.dab1"])
def test_api_cursors_walk_the_inbox_and_the_dispatches(letters: Any, username: str) -> None:
    """The whole inbox (every status: open first, by due date, newest first, on the routing's
    stored keys) and the dispatch list (a narrow reader's from their access rows) page by
    cursor through exactly the gated rows, in order."""
    from chancery.accounts.services import issue_api_token
    from chancery.correspondence.models import RoutingKind, RoutingStatus

    user = letters.users[username]
    for routing in list(selectors.inbox(user))[1:9:2]:  # some settled: the inbox lists them after the open ones
        routing.status = RoutingStatus.CLOSED if routing.kind == RoutingKind.ACTION else RoutingStatus.READ
        routing.save()  # the stored keys follow
    client = Client(HTTP_AUTHORIZATION=f"Bearer {issue_api_token(user=user)}")
    inbox = list(selectors.inbox(user))
    if username == "desk.dab1":
        assert len({r.open_rank for r in inbox}) == 2, "open and settled routings both listed"
    assert all(r.sent_at is not None for r in inbox)  # released: copied from the dispatch
    assert inbox == sorted(inbox, key=lambda r: (-r.open_rank, r.due_key, -r.sent_at.timestamp(), -r.pk))  # type: ignore[union-attr]
    walked = _api_walk(client, "/api/v1/inbox?limit=7", lambda item: (item["dispatch"]["id"], item["routing"]["unit"]))
    assert walked == [(r.dispatch_id, r.unit.code) for r in inbox]
    dispatches = [d.pk for d in selectors.search_dispatches(user)]
    assert len(dispatches) > 2  # several pages of 2
    assert _api_walk(client, "/api/v1/dispatches?limit=2", lambda item: item["id"]) == dispatches


def test_inbox_counters_are_capped_and_say_so(letters: Any, monkeypatch: Any) -> None:
    from chancery.accounts.services import issue_api_token

    user = letters.users["desk.dab1"]
    with CaptureQueriesContext(connection) as queries:
        exact = selectors.inbox_counts(user, with_open=True)
    assert exact["open"] > 3 and not exact["open"].more
    rows = list(selectors.inbox(user))
    today = timezone.localdate()
    by_hand = {  # counted from the inbox's own rows, one by one
        "unacknowledged": sum(r.kind == RoutingKind.ACTION and r.status == RoutingStatus.PENDING for r in rows),
        "overdue": sum(r.open_rank == 1 and r.kind == RoutingKind.ACTION and r.due_key < today for r in rows),
        "unread": sum(r.kind == RoutingKind.INFO and r.status == RoutingStatus.UNREAD for r in rows),
        "open": sum(r.open_rank == 1 for r in rows),
    }
    assert exact == by_hand | {"total": by_hand["unacknowledged"] + by_hand["unread"]}
    assert by_hand["unacknowledged"] and by_hand["open"] > by_hand["unacknowledged"]  # not all of one kind
    counting = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert len(counting) == 1, "every counter in one statement"
    monkeypatch.setattr(keyset, "COUNT_CAP", 3)
    capped = selectors.inbox_counts(user, with_open=True)
    assert capped["open"] == 3 and capped["open"].more
    for name in ("unacknowledged", "overdue", "unread"):
        assert capped[name] == min(exact[name], 3) and capped[name].more == (exact[name] > 3), name
    client = sign_in(Client(), user)
    response = client.get("/correspondence/")
    page = response.content.decode()
    if capped["unacknowledged"].more:
        assert "<strong>3+</strong>" in page
    assert response.context["page"].total == keyset.CappedCount(3, True)  # the default view's: the open counter
    api = Client(HTTP_AUTHORIZATION=f"Bearer {issue_api_token(user=user)}")
    body = api.get("/api/v1/inbox/counts").json()
    assert set(body["more"]) == {n for n in ("unacknowledged", "overdue", "unread", "total") if capped[n].more}


@pytest.mark.parametrize("username", ["desk.dab1", "director.dab"])
def test_a_page_read_by_keys_is_the_page_of_the_gated_list(letters: Any, username: str) -> None:
    """`keyset.page_rows` sorts keys, then reads the rows by key: the same rows in the same
    order as the gated list itself, with what the list preloads (no query per row)."""
    user = letters.users[username]
    listed = selectors.search_dispatches(user)
    order = keyset.ordering(selectors.SEARCH_ORDER)
    expected = [row.pk for row in listed.order_by(*order)[3:13]]
    assert len(expected) == 10
    assert narrow_scope_q(user) is not None  # read from the reader's access rows, sorted
    rows = keyset.page_rows(listed, order, 3, 13)
    assert [row.pk for row in rows] == expected
    with CaptureQueriesContext(connection) as queries:
        preload_compartment_codes(rows)  # as the API's pages do: one query for the page
    assert len(queries) == 1
    with CaptureQueriesContext(connection) as queries:
        for row in rows:
            _ = (row.sending_unit.code, row.data_key_id and row.data_key.kek_id, row.compartment_codes())
    assert len(queries) == 0


@pytest.mark.parametrize("username", ["desk.dab1", "director.dab", "clerk.sgbo"])
def test_a_narrow_readers_api_list_is_counted_by_its_page_statement(
    letters: Any, monkeypatch: Any, username: str
) -> None:
    """A narrow reader's list is read from their access rows and sorted whole
    (`RestrictedQuerySet._bounded_scope`): on PostgreSQL the first page and an offset page count the
    list in the statement that reads their keys (`keyset.page_rows_and_total`), with the same
    count, capped the same way, as the count apart that a cursor's page still makes (and that
    SQLite keeps for every page). (A filtered list: the whole list is read from the access rows'
    copies, `test_access_list`.)"""
    from chancery.accounts.services import issue_api_token
    from chancery.correspondence import models as correspondence_models

    monkeypatch.setattr(correspondence_models, "NARROW_FACTOR", 10**9)  # every scope narrow
    correspondence_models.forget_narrow_decisions()
    user = letters.users[username]
    listed = selectors.search_dispatches(user, {"status": "sent"})
    assert listed._bounded_scope
    everything = [d.pk for d in listed]
    assert len(everything) > 6
    client = Client(HTTP_AUTHORIZATION=f"Bearer {issue_api_token(user=user)}")
    base = "/api/v1/dispatches?status=sent"
    for url, first in ((f"{base}&limit=3", 0), (f"{base}&limit=3&offset=4", 4)):
        with CaptureQueriesContext(connection) as queries:
            body = client.get(url).json()
        assert body["count"] == len(everything), url
        assert [d["id"] for d in body["items"]] == everything[first : first + 3], url
        counts_apart = [q for q in queries.captured_queries if q["sql"].startswith("SELECT COUNT(*)")]
        assert len(counts_apart) == (0 if connection.vendor == "postgresql" else 1), url
    past = client.get(f"{base}&offset={len(everything) + 5}")
    assert past.json() == {"items": [], "count": len(everything)}
    after_cursor = client.get(client.get(f"{base}&limit=3")["Link"].split(">")[0].lstrip("<"))
    assert after_cursor.json()["count"] == len(everything)
    monkeypatch.setattr(keyset, "COUNT_CAP", 5)
    capped = client.get(f"{base}&limit=3&offset=2")
    assert capped.json()["count"] == 5 and capped["X-Count-More"] == "true"
    assert [d["id"] for d in capped.json()["items"]] == everything[2:5]


@pytest.mark.parametrize("in_one_statement", [True, False], ids=["counted with the keys", "counted apart"])
def test_page_rows_and_total_agree_either_way(letters: Any, monkeypatch: Any, in_one_statement: bool) -> None:
    """Both ways of counting a bounded list give its rows and its capped count, on either engine,
    at every offset (past the end too)."""
    from chancery.correspondence import models as correspondence_models

    monkeypatch.setattr(correspondence_models, "NARROW_FACTOR", 10**9)
    correspondence_models.forget_narrow_decisions()
    listed = selectors.search_dispatches(letters.users["director.dab"])
    order = ["-dated", "-id"]
    everything = [d.pk for d in listed.order_by(*order)]
    for start in (0, 5, len(everything) - 2, len(everything) + 3):
        rows, total = keyset.page_rows_and_total(listed, order, start, start + 4, in_one_statement=in_one_statement)
        assert [r.pk for r in rows] == everything[start : start + 4]
        assert total == keyset.CappedCount(value=len(everything), more=False)
    monkeypatch.setattr(keyset, "COUNT_CAP", 7)
    _rows, capped = keyset.page_rows_and_total(listed, order, 0, 4, in_one_statement=in_one_statement)
    assert capped == keyset.CappedCount(value=7, more=True)


def test_a_bounded_cursor_takes_the_same_rows(letters: Any) -> None:
    """The sent list's cursor condition behind its first key's range (`keyset._beyond`, `bounded`)
    selects exactly what the plain condition selects, both ways, ties on the first key included;
    an order whose keys run both ways cannot be bounded."""
    from chancery.correspondence.models import Dispatch

    user = letters.users["clerk.sgbo"]
    rows = list(selectors.outbox(user))
    assert len(rows) > 10, len(rows)
    # Three dispatches sent at the same instant: the cursor's tie-break (a = x AND b < y) is walked.
    tied = [row.pk for row in rows[3:6]]
    Dispatch.objects.unrestricted("test data: a tie on the sent list's first key").filter(pk__in=tied).update(
        sent_at=rows[3].sent_at
    )
    rows = list(selectors.outbox(user))
    for row in rows[::2]:
        values = [keyset._value(row, name) for name, _descending in selectors.OUTBOX_ORDER]
        for forward in (True, False):
            plain = selectors.outbox(user).filter(keyset._beyond(selectors.OUTBOX_ORDER, values, forward=forward))
            bounded = selectors.outbox(user).filter(
                keyset._beyond(selectors.OUTBOX_ORDER, values, forward=forward, bounded=True)
            )
            assert [d.pk for d in bounded] == [d.pk for d in plain]
            assert len(plain) == (len(rows) - rows.index(row) - 1 if forward else rows.index(row))
    with pytest.raises(ValueError, match="same way"):
        keyset._beyond(selectors.INBOX_ORDER, [1, timezone.localdate(), timezone.now(), 1], forward=True, bounded=True)


def test_pages_read_by_keys_through_the_kept_statement_equal_the_list(letters: Any, monkeypatch: Any) -> None:
    """Pages of up to KEYS_KEPT keys are read by one statement per shape of list, compiled once
    (the unused keys 0); longer ones by the query compiled each time. Both give the list's rows,
    in its order, loaded as the list loads them (deferred columns too)."""
    from chancery.core.tests.test_statements import _compilations
    from chancery.correspondence.models import Dispatch

    user = letters.users["director.dab"]
    order = keyset.ordering(selectors.SEARCH_ORDER)
    listed = selectors.search_dispatches(user)
    deferred = listed.defer("body")
    everything = [row.pk for row in listed.order_by(*order)]
    assert len(everything) > 25
    keyset._by_keys_statement.cache_clear()
    compiled = _compilations(monkeypatch)
    for queryset in (listed, deferred):
        for start, stop in ((0, 10), (10, 30), (5, 6), (len(everything) - 3, len(everything) + 5)):
            rows = keyset.page_rows(queryset, order, start, stop)
            assert [row.pk for row in rows] == everything[start:stop], (start, stop)
    # one statement per shape (two shapes), against a compiled key read for each of the eight pages
    assert keyset._by_keys_statement.cache_info().currsize == 2
    assert compiled.count(Dispatch) == 8 + 2
    rows = keyset.page_rows(deferred, order, 0, 10)
    with CaptureQueriesContext(connection) as queries:
        _ = [(row.sending_unit.code, row.subject) for row in rows]
    assert len(queries) == 0 and all("body" in row.get_deferred_fields() for row in rows)
    monkeypatch.setattr(keyset, "KEYS_KEPT", 5)  # more keys than the statement takes: compiled each time
    assert [row.pk for row in keyset.page_rows(listed, order, 0, 20)] == everything[:20]
