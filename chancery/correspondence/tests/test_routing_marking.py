"""Each routing's copy of its dispatch's marking and release (`marking_copies`) follows every
write, whatever path makes it, and the inbox counters that read the copies count what the gate
lets through, no more.

SG/SEC holds two readers cleared Secret: `security` (CRYPTO and PERSONNEL) and `security2`
(CRYPTO only), so a compartment change shows on one inbox and not on the other.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management.sql import emit_post_migrate_signal
from django.db import connection

from chancery.core.models import Compartment
from chancery.correspondence import marking_copies, services
from chancery.correspondence.checks import check_routing_marking
from chancery.correspondence.models import Dispatch, DispatchAccess, Routing
from chancery.correspondence.tests.domain_helpers import draft, inbox_counts_by_the_gate, inbox_counts_now, sent

pytestmark = pytest.mark.django_db

READERS = ("security", "security2", "sg", "desk.dab1", "head.dab1", "clerk.sgbo", "counsellor.dakar")


def _copies(dispatch: Dispatch) -> set[tuple[int, bool, bool]]:
    rows = Routing.objects.unrestricted("test: the copies of one dispatch's routings").filter(dispatch=dispatch)
    return set(rows.values_list("dispatch_level", "dispatch_has_compartments", "dispatch_released"))


def _assert_kept(ministry: Any) -> None:
    assert marking_copies.drift() == 0
    for name in READERS:
        user = ministry.users[name]
        assert inbox_counts_now(user) == inbox_counts_by_the_gate(user), name


def _unacknowledged(ministry: Any, name: str) -> int:
    return inbox_counts_now(ministry.users[name])["unacknowledged"]


def test_copies_follow_the_services(ministry: Any) -> None:
    u = ministry.users
    before = {name: _unacknowledged(ministry, name) for name in ("security", "security2")}
    d = draft(
        ministry, author="sg", unit="SG", routings=[("SG/SEC", "action"), ("DAB/1", "info")], classification=2,
        compartments=["CRYPTO"],
    )
    assert _copies(d) == {(2, True, False)}  # a draft is not released: no inbox shows it
    _assert_kept(ministry)
    assert _unacknowledged(ministry, "security") == before["security"]
    services.send_dispatch(actor=u["sg"], dispatch=d)
    assert _copies(d) == {(2, True, True)}
    _assert_kept(ministry)
    assert _unacknowledged(ministry, "security") == before["security"] + 1
    assert _unacknowledged(ministry, "security2") == before["security2"] + 1  # holds CRYPTO
    services.change_marking(
        actor=u["security"], dispatch=d, classification=3, compartments=["PERSONNEL"], reason="personnel matter"
    )
    assert _copies(d) == {(3, True, True)}
    _assert_kept(ministry)
    assert _unacknowledged(ministry, "security") == before["security"] + 1
    assert _unacknowledged(ministry, "security2") == before["security2"]  # lacks PERSONNEL: no trace in counts
    services.change_marking(actor=u["security"], dispatch=d, classification=0, reason="declassified")
    assert _copies(d) == {(0, False, True)}
    _assert_kept(ministry)
    assert _unacknowledged(ministry, "security2") == before["security2"] + 1
    # a routing's own change (a copy read) and a registered incoming letter
    services.mark_read(actor=u["desk.dab1"], dispatch=d, unit=ministry.units["DAB/1"])
    _assert_kept(ministry)
    incoming = services.register_incoming(
        actor=u["clerk.sgbo"], unit=ministry.units["SG/BO"], sender_name="Chambre", subject="Invitation",
        routings=[services.RoutingSpec(unit="SG/SEC")], classification=1,
    )
    assert _copies(incoming) == {(1, False, True)}
    _assert_kept(ministry)


def test_the_database_keeps_the_copies_whatever_writes(ministry: Any) -> None:
    """Writes that bypass the services (a queryset update, raw SQL, bulk inserts, a full save of
    a stale instance, a forged copy) leave the copies equal to their dispatch."""
    d = sent(ministry, routings=[("SG/SEC", "action"), ("DAB/1", "info")], classification=1)
    routing = Routing.objects.unrestricted("test").filter(dispatch=d, kind="action").first()
    assert routing is not None
    Dispatch.objects.unrestricted("test").filter(pk=d.pk).update(classification=3)
    assert _copies(d) == {(3, False, True)}
    with connection.cursor() as cursor:
        cursor.execute("UPDATE correspondence_dispatch SET classification = 2 WHERE id = %s", [d.pk])
    assert _copies(d) == {(2, False, True)}
    through = Dispatch.compartments.through
    personnel = Compartment.objects.get(code="PERSONNEL")
    through.objects.bulk_create([through(dispatch_id=d.pk, compartment_id=personnel.pk)])
    assert _copies(d) == {(2, True, True)}
    _assert_kept(ministry)
    through.objects.filter(dispatch_id=d.pk).delete()
    assert _copies(d) == {(2, False, True)}
    # a stale instance (loaded before the change) saved whole writes its old copies back
    Dispatch.objects.unrestricted("test").filter(pk=d.pk).update(classification=3)
    routing.status = "acknowledged"
    routing.save()
    assert _copies(d) == {(3, False, True)}
    # a forged copy does not hold
    Routing.objects.unrestricted("test").filter(pk=routing.pk).update(
        dispatch_level=0, dispatch_has_compartments=False
    )
    assert _copies(d) == {(3, False, True)}
    # rows inserted in bulk (the generator's path) take their copies from their dispatch
    unit = ministry.units["DG7/1"]
    Routing.objects.bulk_create([Routing(dispatch_id=d.pk, unit=unit, kind="info", status="unread", open_rank=1)])
    assert _copies(d) == {(3, False, True)}
    # the status: closing a dispatch keeps it released; a draft back in the table is not
    Dispatch.objects.unrestricted("test").filter(pk=d.pk).update(status="closed")
    assert _copies(d) == {(3, False, True)}
    Dispatch.objects.unrestricted("test").filter(pk=d.pk).update(status="draft")
    assert _copies(d) == {(3, False, False)}
    _assert_kept(ministry)


def test_missing_triggers_are_reported_and_repaired(ministry: Any) -> None:
    d = sent(ministry, routings=[("SG/SEC", "action")], classification=1)
    assert check_routing_marking(databases=["default"]) == []
    marking_copies.uninstall()
    assert marking_copies.missing_triggers()
    assert [e.id for e in check_routing_marking(databases=["default"])] == ["correspondence.E001"]
    # without the triggers a change goes unnoticed: the counters would count a dispatch now Secret
    Dispatch.objects.unrestricted("test").filter(pk=d.pk).update(classification=3)
    # (its routing, and its rows of the access index, which copy the marking too)
    assert marking_copies.drift() == 1 + DispatchAccess.objects.filter(dispatch_id=d.pk).count()
    # a row written behind the copies' back gets the most closed defaults
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO correspondence_routing (dispatch_id, unit_id, kind, status, open_rank, due_key) "
            "VALUES (%s, %s, 'info', 'unread', 1, '2199-12-31')",
            [d.pk, ministry.units["DAB/2"].pk],
        )
    assert (marking_copies.CLOSED_LEVEL, True, False) in _copies(d)
    # what `migrate` runs after every migration puts them back and recomputes the copies
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")
    assert marking_copies.missing_triggers() == []
    assert check_routing_marking(databases=["default"]) == []
    assert marking_copies.drift() == 0
    assert _copies(d) == {(3, False, True)}
    assert marking_copies.ensure_installed() is False  # nothing to repair


def test_trigger_lookups_stay_on_their_indexes() -> None:
    """The triggers' lookups by dispatch use indexes at any table size: on PostgreSQL each
    function is planned afresh at every call (a plan cached while a new site's tables were empty
    scanned the whole routing table for every dispatch a bulk load wrote); on SQLite a trigger is
    planned with its statement, and the lookup is by an indexed column."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT proname, proconfig FROM pg_proc WHERE proname = ANY(%s)",
                [sorted(marking_copies.TRIGGERS["postgresql"])],
            )
            configs = dict(cursor.fetchall())
            assert set(configs) == set(marking_copies.TRIGGERS["postgresql"])
            assert all("plan_cache_mode=force_custom_plan" in (c or []) for c in configs.values()), configs
        else:
            cursor.execute(
                "EXPLAIN QUERY PLAN UPDATE correspondence_routing SET dispatch_level = dispatch_level "
                "WHERE dispatch_id = 1"
            )
            plan = " ".join(str(row[-1]) for row in cursor.fetchall())
            assert "SEARCH correspondence_routing USING" in plan and "SCAN correspondence_routing" not in plan, plan
