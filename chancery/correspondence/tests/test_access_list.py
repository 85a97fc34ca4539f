"""A reader's whole dispatch list read from their access rows (`access_list`) is the gate's list:
the same dispatches in the same order, page by page at any offset and from any cursor, both
ways, counted alike; the copies of the marking and date it reads follow every change; a forged
copy shows nothing the gate refuses; the API serves it unchanged.

The ministry holds 200 letters over 20 days (many on the same day: the order's ties), a Secret
dispatch compartmented CRYPTO, a draft in a validation circuit, grants to an agent and a unit.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from chancery.accounts.services import issue_api_token
from chancery.core import keyset
from chancery.correspondence import access_list, circuits, marking_copies, selectors, services
from chancery.correspondence.demo import write_correspondence
from chancery.correspondence.models import Dispatch, DispatchAccess
from chancery.correspondence.tests.domain_helpers import draft, sent

pytestmark = pytest.mark.django_db

READERS = (
    "counsellor.dakar", "hom.dakar", "clerk.dakar", "desk.dab1", "head.dab1", "director.dab", "director.dg7",
    "head.dg71", "desk.dab2", "hom.lima", "clerk.sgbo", "sg", "admin", "auditor", "plan.sg4", "head.dg31",
)  # fmt: skip


@pytest.fixture
def letters(ministry: Any) -> Any:
    u = ministry.users
    write_correspondence(units=ministry.units, users=ministry.users, count=200, seed=11, days=20)
    sent(ministry, author="sg", unit="SG", head="sg", classification=3, compartments=["CRYPTO"],
         routings=[("SG/SEC", "action"), ("DAB/1", "info")])  # fmt: skip
    in_circuit = draft(ministry, author="desk.dab1", unit="DAB/1", routings=[("DAKAR", "action")])
    circuits.submit(actor=u["desk.dab1"], dispatch=in_circuit, opinions=[ministry.units["DG3/1"]])
    granted = sent(ministry, routings=[("DG7/1", "info")])
    services.grant_access(actor=u["hom.dakar"], dispatch=granted, user=u["desk.dab2"], reason="test")
    services.grant_access(actor=u["hom.dakar"], dispatch=granted, unit=ministry.units["LIMA"], reason="test")
    return ministry


NO_DATES: access_list.Dates = (None, None)


def _gate_list(user: Any, dates: access_list.Dates = NO_DATES) -> list[int]:
    return [d.pk for d in selectors.search_dispatches(user, {"date_from": dates[0], "date_to": dates[1]})]


def _listed(user: Any, dates: access_list.Dates = NO_DATES) -> keyset.ListedByKeys:
    rows = Dispatch.objects.visible_to(user)
    order = selectors.SEARCH_ORDER
    listed = access_list.listed_by_access_rows(user, rows, order, lambda: selectors.search_dispatches(user), dates)
    assert listed is not None
    return listed


def _keys(user: Any, stop: int = 10_000) -> list[Any]:
    keys = _listed(user).keys(0, stop, None, True)
    assert keys is not None
    return keys


def _boundary(pk: int) -> list[Any]:
    d = Dispatch.objects.unrestricted("test: a cursor's values").get(pk=pk)
    return [d.dated, d.pk]


def assert_listed_like_the_gate(user: Any, name: str, dates: access_list.Dates = NO_DATES) -> None:
    """The access rows' list of `user` (dated within `dates`) equals the gate's: whole, by offset
    pages, from cursors both ways, and counted (below and above the cap)."""
    expected = _gate_list(user, dates)
    listed = _listed(user, dates)
    assert listed.keys(0, len(expected) + 5, None, True) == expected, name
    for start in (0, 3, 50):
        assert listed.keys(start, start + 7, None, True) == expected[start : start + 7], name
    for i in (0, 1, len(expected) // 2, len(expected) - 2):
        if 0 <= i < len(expected):
            boundary = _boundary(expected[i])
            assert listed.keys(0, 6, boundary, True) == expected[i + 1 : i + 7], name
            assert listed.keys(0, 6, boundary, False) == list(reversed(expected[max(i - 6, 0) : i])), name
    assert listed.count() == keyset.CappedCount(value=len(expected), more=False), name
    if len(expected) > 3:
        cap = len(expected) - 2
        original, keyset.COUNT_CAP = keyset.COUNT_CAP, cap
        try:
            assert listed.count() == keyset.CappedCount(value=cap, more=True), name
        finally:
            keyset.COUNT_CAP = original


def test_every_reader_lists_what_the_gate_lists(letters: Any) -> None:
    sizes = {}
    for name in READERS:
        user = letters.users[name]
        assert_listed_like_the_gate(user, name)
        sizes[name] = len(_gate_list(user))
    # the readers differ: a test where everyone read everything (or nothing) would prove little
    assert len(set(sizes.values())) > 5 and min(sizes.values()) < max(sizes.values()), sizes
    assert Dispatch.objects.unrestricted("test").count() > max(sizes.values())


def test_every_reader_lists_what_the_gate_lists_between_two_dates(letters: Any, monkeypatch: Any) -> None:
    """Filtered by letter dates (the API's `date_from`, `date_to`), each walk reads a range of its
    index: the gate's rows still, for every reader and range (open either side, one day of ties,
    none at all), and the API serves them."""
    days = sorted(set(Dispatch.objects.unrestricted("test: the letters' days").values_list("dated", flat=True)))
    assert len(days) >= 15
    ranges = [(days[4], days[11]), (None, days[2]), (days[14], None), (days[7], days[7]),
              (days[-1] + timedelta(days=1), None), (days[9], days[3])]  # fmt: skip
    nonempty = 0
    for name in READERS:
        user = letters.users[name]
        for dates in ranges:
            assert_listed_like_the_gate(user, f"{name} {dates}", dates)
            nonempty += bool(_gate_list(user, dates))
    assert nonempty > len(READERS)  # the ranges reached rows (an empty equality proves nothing)
    user = letters.users["director.dab"]
    client = Client(HTTP_AUTHORIZATION=f"Bearer {issue_api_token(user=user)}")
    query = f"date_from={days[1]}&date_to={days[16]}"
    walked: list[access_list.Dates] = []
    page_keys = access_list._page_keys

    def spied(*args: Any) -> Any:
        walked.append(args[-1])
        return page_keys(*args)

    monkeypatch.setattr(access_list, "_page_keys", spied)
    expected = _gate_list(user, (days[1], days[16]))
    assert len(expected) > 9
    assert client.get(f"/api/v1/dispatches?limit=9&{query}").json()["count"] == len(expected)
    assert [d["id"] for d in _api_walk(client, f"/api/v1/dispatches?limit=9&{query}")] == expected
    assert walked and set(walked) == {(days[1], days[16])}  # read from the access rows, not the dispatch table


def test_the_api_lists_a_units_dispatches_walked_and_counts_them_apart(letters: Any, monkeypatch: Any) -> None:
    """A unit taken as having many dispatches (no `narrow_limit`): on SQLite the page walks the
    dates and the count starts from the unit's rows (`keyset.Counted`): the gate's rows and count
    either way, every page."""
    from chancery.correspondence import models as correspondence_models

    monkeypatch.setattr(correspondence_models, "NARROW_FACTOR", 0)
    sizes = []
    for name in ("desk.dab1", "director.dab", "clerk.dakar", "hom.lima"):
        user = letters.users[name]
        client = Client(HTTP_AUTHORIZATION=f"Bearer {issue_api_token(user=user)}")
        for code in ("DAB/1", "DAKAR"):
            expected = [d.pk for d in selectors.search_dispatches(user, {"unit": code})]
            url = f"/api/v1/dispatches?limit=4&unit={code.replace('/', '%2F')}"
            assert client.get(url).json()["count"] == len(expected), (name, code)
            assert [d["id"] for d in _api_walk(client, url)] == expected, (name, code)
            sizes.append(len(expected))
    assert max(sizes) > 7 and min(sizes) < max(sizes), sizes  # two pages at least, and readers that differ


def test_security_officers_keep_the_dispatch_tables_list(letters: Any) -> None:
    """They read dispatches due for review that no access row names."""
    user = letters.users["security"]
    assert access_list.listed_by_access_rows(user, Dispatch.objects.visible_to(user), [], lambda: None) is None
    client = Client(HTTP_AUTHORIZATION=f"Bearer {issue_api_token(user=user)}")
    assert [d["id"] for d in _api_walk(client, "/api/v1/dispatches?limit=40")] == _gate_list(user)


def test_a_deactivated_agent_lists_nothing(letters: Any) -> None:
    user = letters.users["desk.dab1"]
    assert _gate_list(user)
    user.is_active = False
    assert access_list.listed_by_access_rows(user, Dispatch.objects.visible_to(user), [], lambda: None) is None
    assert _gate_list(user) == []


def test_copies_follow_marking_date_and_compartments(letters: Any) -> None:
    u = letters.users
    d = sent(letters, routings=[("DAB/1", "action"), ("SG/SEC", "info")], classification=1)
    reader = u["desk.dab1"]  # cleared Confidentiel, no compartment
    assert d.pk in _gate_list(reader)
    services.change_marking(actor=u["security"], dispatch=d, classification=3, reason="now secret")
    assert d.pk not in _keys(reader)
    assert marking_copies.drift() == 0
    services.change_marking(actor=u["security"], dispatch=d, classification=1, compartments=["CRYPTO"], reason="x")
    assert d.pk not in _keys(reader)  # lacks CRYPTO
    d.compartments.clear()
    assert d.pk in _keys(reader)
    # a new date moves the dispatch in the list (a raw write: the triggers, not the services, keep it)
    Dispatch.objects.unrestricted("test").filter(pk=d.pk).update(dated="2001-01-01")
    assert _keys(reader)[-1] == d.pk
    assert marking_copies.drift() == 0
    assert_listed_like_the_gate(reader, "desk.dab1")


def test_a_forged_copy_shows_nothing_the_gate_refuses(letters: Any) -> None:
    """Without the triggers, access rows claiming a Secret compartmented dispatch is unclassified
    put its key in the reader's list; the page still reads its rows through the gate."""
    secret = Dispatch.objects.unrestricted("test").get(classification=3, sending_unit__code="SG", status="sent")
    reader = letters.users["desk.dab1"]  # DAB/1 is routed for information; cleared below Secret
    assert secret.pk not in _gate_list(reader)
    marking_copies.uninstall()
    rows = DispatchAccess.objects.filter(dispatch_id=secret.pk)
    assert rows.update(dispatch_level=0, dispatch_has_compartments=False, dispatch_dated="2099-01-01") > 0
    assert _keys(reader, 5)[0] == secret.pk  # the forged key comes first
    client = Client(HTTP_AUTHORIZATION=f"Bearer {issue_api_token(user=reader)}")
    shown = client.get("/api/v1/dispatches?limit=5").json()["items"]
    assert secret.pk not in [item["id"] for item in shown]
    assert [item["id"] for item in shown] == _gate_list(reader)[:5]  # the next key takes its place
    assert marking_copies.drift() > 0
    marking_copies.ensure_installed()
    assert marking_copies.drift() == 0


def _api_walk(client: Client, url: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        items += response.json()["items"]
        links = {
            part.split(">")[1].split('"')[1]: part.split(">")[0].strip().lstrip("<")
            for part in response.get("Link", "").split(",")
            if part.strip()
        }
        url = links.get("next", "")
    return items


def test_the_api_pages_the_list_both_ways(letters: Any, monkeypatch: Any) -> None:
    user = letters.users["director.dab"]
    client = Client(HTTP_AUTHORIZATION=f"Bearer {issue_api_token(user=user)}")
    expected = _gate_list(user)
    assert len(expected) > 20
    first = client.get("/api/v1/dispatches?limit=9")
    assert first.json()["count"] == len(expected)
    assert [d["id"] for d in _api_walk(client, "/api/v1/dispatches?limit=9")] == expected
    by_offset = client.get("/api/v1/dispatches?limit=5&offset=10").json()["items"]
    assert [d["id"] for d in by_offset] == expected[10:15]
    # back from a deep page along its rel="prev" links
    deep = client.get(f"/api/v1/dispatches?limit=5&older={keyset._encode(_boundary(expected[14]))}")
    assert [d["id"] for d in deep.json()["items"]] == expected[15:20]
    prev = deep["Link"].split(",")[-1].split(">")[0].strip().lstrip("<")
    assert 'rel="prev"' in deep["Link"]
    assert [d["id"] for d in client.get(prev).json()["items"]] == expected[10:15]
    # past the walks' budget the dispatch table serves the page: the same rows
    monkeypatch.setattr(access_list, "LIST_WORK", 10)
    assert [d["id"] for d in client.get("/api/v1/dispatches?limit=5&offset=10").json()["items"]] == expected[10:15]
    assert [d["id"] for d in _api_walk(client, "/api/v1/dispatches?limit=9")] == expected
    # a filter reads the dispatch table, as before
    assert [d["id"] for d in client.get("/api/v1/dispatches?limit=100&status=sent").json()["items"]] == [
        d.pk for d in selectors.search_dispatches(user, {"status": "sent"})
    ][:100]


def test_a_tampered_cursor_starts_at_the_top(letters: Any) -> None:
    """A cursor of the right shape holding values its fields cannot hold answers the first page,
    on the access rows' list and on a filtered one, both ways (it failed in the query before)."""
    client = Client(HTTP_AUTHORIZATION=f"Bearer {issue_api_token(user=letters.users['desk.dab1'])}")
    for extra in ("", "&status=sent"):
        top = [d["id"] for d in client.get(f"/api/v1/dispatches?limit=4{extra}").json()["items"]]
        assert len(top) == 4
        for values in (["abc", 5], ["2026-01-01", "x"], [None, 3], ["2026-02-30", 3], [3, 4]):
            for way in ("older", "newer"):
                response = client.get(f"/api/v1/dispatches?limit=4&{way}={keyset._encode(values)}{extra}")
                assert response.status_code == 200, (values, way, extra)
                assert [d["id"] for d in response.json()["items"]] == top, (values, way, extra)


def test_the_walks_read_their_index(letters: Any) -> None:
    """Each walk is an ordered read of the unit's (the user's) index, stopped by its limit: no
    sort of the reader's rows, no scan of the table."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's plan text is checked here; PostgreSQL's is measured by the bench")
    user = letters.users["director.dab"]
    walks = access_list._walks(user)
    assert walks is not None
    where, params = walks[1]
    cleared, cleared_params = access_list._cleared(user)
    sql = (
        "EXPLAIN QUERY PLAN SELECT DISTINCT a.dispatch_dated, a.dispatch_id FROM correspondence_dispatchaccess a "  # noqa: S608
        f"WHERE {where} AND {cleared} ORDER BY a.dispatch_dated DESC, a.dispatch_id DESC LIMIT 5"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *cleared_params])
        plan = " ".join(str(row[-1]) for row in cursor.fetchall())
    assert "corr_access_unit_listed" in plan and "TEMP B-TREE FOR ORDER BY" not in plan, plan
