"""The access index (`access_index`) stays equal to the need-to-know definition it replaces.

The oracle below is the gate as it was before the index (four sub-selects over routings,
grants and circuit steps, evaluated at read time). After a random sequence of real service
calls (drafts, sends, incoming registrations, replies, routing changes, grants, marking
changes, circuits, closing), every agent of the ministry sees exactly what the oracle says,
and the maintained table holds exactly what a full rebuild writes.
"""

from __future__ import annotations

import io
import random
from typing import TYPE_CHECKING, Any
from unittest import mock

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.db import transaction
from django.db.models import Q
from django.http import Http404
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from chancery.accounts.roles import Capability
from chancery.core.errors import DomainError
from chancery.core.keyset import COUNT_CAP, CappedCount
from chancery.correspondence import access_index, access_list, circuits, marking_copies, services
from chancery.correspondence import models as correspondence_models
from chancery.correspondence.models import (
    RELEASED_STATUSES,
    CircuitStep,
    Dispatch,
    DispatchAccess,
    DispatchGrant,
    Routing,
    _subtree_unit_ids,
    clearance_q,
    forget_narrow_decisions,
    narrow_scope_q,
)
from chancery.correspondence.tests.domain_helpers import draft, inbox_counts_by_the_gate, inbox_counts_now, sent

if TYPE_CHECKING:
    from chancery.accounts.models import User

pytestmark = pytest.mark.django_db

READERS = [
    "counsellor.dakar",
    "hom.dakar",
    "clerk.dakar",
    "desk.dab1",
    "head.dab1",
    "desk.dab2",
    "director.dab",
    "head.dg71",
    "director.dg7",
    "desk.dg76",
    "head.dg31",
    "hom.lima",
    "counsellor.lima",
    "clerk.sgbo",
    "security",
    "security2",
    "sg",
    "admin",
    "auditor",
]
# (author, unit, head of unit): who drafts where and who sends
WRITERS = [
    ("counsellor.dakar", "DAKAR", "hom.dakar"),
    ("desk.dab1", "DAB/1", "head.dab1"),
    ("counsellor.lima", "LIMA", "hom.lima"),
]
TARGETS = ["DAB/1", "DAB/2", "DG7/1", "DG3/1", "DAKAR", "LIMA", "SG/SEC"]


def oracle_ids(user: User) -> set[int]:
    """The need-to-know gate as defined before the access index (kept as the test oracle)."""
    if not user.is_active:
        return set()
    unit_ids = sorted({m.unit_id for m in user.active_memberships()})
    paths = sorted({u.path for u in user.units_with(Capability.OVERSEE_SUBTREE) if u.path})
    overseen = _subtree_unit_ids(user, paths)
    routed_units = sorted(set(unit_ids) | set(overseen))
    released = {"dispatch__status__in": RELEASED_STATUSES}
    branches = Q(sending_unit_id__in=unit_ids) if unit_ids else Q(pk__in=[])
    if routed_units:
        branches |= Q(pk__in=Routing.objects.filter(unit_id__in=routed_units, **released).values("dispatch_id"))
    if overseen:
        branches |= Q(sending_unit_id__in=overseen, status__in=RELEASED_STATUSES)
    grants = Q(user_id=user.pk) | Q(unit_id__in=unit_ids)
    branches |= Q(pk__in=DispatchGrant.objects.filter(grants, **released).values("dispatch_id"))
    steps = Q(assignee_id=user.pk) | Q(assignee__isnull=True, unit_id__in=unit_ids)
    branches |= Q(pk__in=CircuitStep.objects.filter(steps).values("dispatch_id"))
    if user.has_capability(Capability.DOWNGRADE):
        branches |= Q(status__in=RELEASED_STATUSES, declassify_on__lte=timezone.localdate())
    rows = Dispatch.objects.unrestricted("test oracle").filter(clearance_q(user)).filter(branches)
    return set(rows.values_list("pk", flat=True))


def _index_rows() -> list[tuple[Any, ...]]:
    rows = DispatchAccess.objects.values_list(
        "dispatch_id", "unit_id", "user_id", "oversee", "dispatch_level", "dispatch_has_compartments", "dispatch_dated"
    )
    return sorted((d, unit or 0, user or 0, bool(oversee), *copies) for d, unit, user, oversee, *copies in rows)


def _assert_consistent(ministry: Any) -> None:
    for name in READERS:
        user = ministry.users[name]
        assert set(Dispatch.objects.visible_to(user).values_list("pk", flat=True)) == oracle_ids(user), name
        # A list's form of the gate (need to know as membership of the reader's access rows), every
        # reader's scope counted narrow for it: the same dispatches.
        with mock.patch.object(correspondence_models, "NARROW_FACTOR", 10**9):
            forget_narrow_decisions()
            assert narrow_scope_q(user) is not None, name
            listed = Dispatch.objects.visible_to(user, from_access_rows=True)
            assert set(listed.values_list("pk", flat=True)) == oracle_ids(user), name
        forget_narrow_decisions()
        # the whole list read from the access rows' copies of the marking and date: the same dispatches, in order
        by_access = access_list.listed_by_access_rows(user, Dispatch.objects.visible_to(user), [], lambda: None)
        if by_access is not None:
            readable = oracle_ids(user)
            by_date = Dispatch.objects.unrestricted("test oracle").filter(pk__in=readable).order_by("-dated", "-pk")
            assert by_access.keys(0, len(readable) + 1, None, True) == list(by_date.values_list("pk", flat=True)), name
            assert by_access.count() == CappedCount(min(len(readable), COUNT_CAP), len(readable) > COUNT_CAP), name
        # the inbox counters read the routings' copies of the marking: they count what the gate lets through
        assert inbox_counts_now(user) == inbox_counts_by_the_gate(user), name
    assert marking_copies.drift() == 0
    maintained = _index_rows()
    access_index.rebuild_access_index()
    assert _index_rows() == maintained  # what every write kept equals a full rebuild


# --- the operations: real service calls; a refusal by the rules is part of the game ---------


def _some(rng: random.Random, kind: str | None = None) -> Dispatch | None:
    qs = Dispatch.objects.unrestricted("test picks a dispatch").order_by("pk")
    if kind == "draft":
        qs = qs.filter(status="draft")
    elif kind == "sent":
        qs = qs.filter(status__in=RELEASED_STATUSES)
    rows = list(qs)
    return rng.choice(rows) if rows else None


def _member_of(m: Any, unit_id: int) -> str | None:
    return next((r for r in READERS if unit_id in {x.unit_id for x in m.users[r].active_memberships()}), None)


def _head_of(unit_code: str) -> str:
    return next((h for _a, u, h in WRITERS if u == unit_code), "hom.dakar")


def op_draft(m: Any, rng: random.Random) -> None:
    author, unit, _head = rng.choice(WRITERS)
    routes = rng.sample(TARGETS, rng.randint(0, 2))
    draft(
        m,
        author=author,
        unit=unit,
        routings=[(code, rng.choice(["action", "info"])) for code in routes],
        classification=rng.choice([0, 0, 1, 2]),
    )


def op_send(m: Any, rng: random.Random) -> None:
    author, unit, head = rng.choice(WRITERS)
    d = sent(m, author=author, unit=unit, head=head, routings=[(rng.choice(TARGETS), "action")])
    if rng.random() < 0.5:
        services.grant_access(actor=m.users[head], dispatch=d, user=m.users[rng.choice(READERS)], reason="test")


def op_send_existing(m: Any, rng: random.Random) -> None:
    d = _some(rng, "draft")
    if d is not None:
        services.send_dispatch(actor=m.users[_head_of(d.sending_unit.code)], dispatch=d)


def op_reroute(m: Any, rng: random.Random) -> None:
    d = _some(rng, "draft")
    if d is not None:
        author = next((a for a, u, _h in WRITERS if u == d.sending_unit.code), "desk.dab1")
        services.update_draft(
            actor=m.users[author],
            dispatch=d,
            expected_version=d.version,
            routings=[services.RoutingSpec(unit=rng.choice(TARGETS), kind="info")],
        )


def op_grant_unit(m: Any, rng: random.Random) -> None:
    d = _some(rng, "sent")
    if d is not None:
        services.grant_access(
            actor=m.users[_head_of(d.sending_unit.code)], dispatch=d, unit=m.units[rng.choice(TARGETS)], reason="test"
        )


def op_incoming(m: Any, rng: random.Random) -> None:
    services.register_incoming(
        actor=m.users["clerk.sgbo"],
        unit=m.units["SG/BO"],
        sender_name="Chambre",
        subject="Invitation",
        routings=[services.RoutingSpec(unit=rng.choice(TARGETS))],
    )


def op_reply(m: Any, rng: random.Random) -> None:
    d = _some(rng, "sent")
    if d is not None:
        routing = d.routings.first()
        if routing is not None:
            reader = _member_of(m, routing.unit_id)
            if reader:
                services.reply(actor=m.users[reader], dispatch=d, body="<p>Réponse</p>")


def op_circuit(m: Any, rng: random.Random) -> None:
    d = draft(m, author="desk.dab1", unit="DAB/1", routings=[(rng.choice(TARGETS), "action")])
    circuits.submit(actor=m.users["desk.dab1"], dispatch=d, opinions=[m.units["DG3/1"]] if rng.random() < 0.5 else [])
    if rng.random() < 0.5:
        circuits.approve(actor=m.users["head.dab1"], dispatch=d)
    if rng.random() < 0.3:
        circuits.withdraw(actor=m.users["desk.dab1"], dispatch=d)


def op_close(m: Any, rng: random.Random) -> None:
    d = _some(rng, "sent")
    if d is not None:
        for routing in d.routings.filter(kind="action"):
            closer = _member_of(m, routing.unit_id)
            if closer:
                services.close_routing(actor=m.users[closer], dispatch=d, unit=routing.unit)


def op_remark(m: Any, rng: random.Random) -> None:
    d = _some(rng, "sent")
    if d is not None:
        services.grant_access(
            actor=m.users[_head_of(d.sending_unit.code)], dispatch=d, user=m.users["security"], reason="review"
        )
        services.change_marking(
            actor=m.users["security"],
            dispatch=d,
            classification=0,
            reason="declassified",
            declassify_on=timezone.localdate(),
        )


def op_compartment(m: Any, rng: random.Random) -> None:
    """Raise a sent dispatch into a compartment (SG/SEC holds readers with and without it)."""
    d = _some(rng, "sent")
    if d is not None:
        services.grant_access(
            actor=m.users[_head_of(d.sending_unit.code)], dispatch=d, user=m.users["security"], reason="review"
        )
        services.change_marking(
            actor=m.users["security"],
            dispatch=d,
            classification=rng.choice([1, 2, 3]),
            compartments=rng.sample(["CRYPTO", "PERSONNEL"], rng.randint(1, 2)),
            reason="compartmented",
        )


def op_delete_draft(m: Any, rng: random.Random) -> None:
    d = _some(rng, "draft")
    if d is not None and not d.circuit_steps.exists() and not d.replies.exists():
        d.delete()


OPS = [
    op_draft,
    op_send,
    op_send_existing,
    op_reroute,
    op_grant_unit,
    op_incoming,
    op_reply,
    op_circuit,
    op_close,
    op_remark,
    op_compartment,
    op_delete_draft,
]
REFUSALS = (DomainError, PermissionDenied, ValidationError, Http404)


class _Rollback(Exception):
    pass


@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # no shrinking: each example runs real services
)
@given(plan=st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 2**31)), min_size=4, max_size=8))
def test_index_equals_the_definition_after_random_writes(ministry: Any, plan: list[Any]) -> None:
    try:
        with transaction.atomic():
            for op, seed in plan:
                try:
                    with transaction.atomic():
                        op(ministry, random.Random(seed))
                except REFUSALS:
                    pass
            _assert_consistent(ministry)
            raise _Rollback
    except _Rollback:
        pass


def test_every_kind_of_row_gives_the_right_readers(ministry: Any) -> None:
    """A fixed sequence touching each branch (fails if any branch is missing from the index)."""
    u = ministry.users
    d = draft(ministry, author="desk.dab1", unit="DAB/1", routings=[("DAKAR", "action")])
    assert d.pk in oracle_ids(u["head.dab1"]) and d.pk not in oracle_ids(u["hom.dakar"])
    circuits.submit(actor=u["desk.dab1"], dispatch=d, opinions=[ministry.units["DG3/1"]])
    assert d.pk in set(Dispatch.objects.visible_to(u["head.dg31"]).values_list("pk", flat=True))
    s = sent(ministry, routings=[("DG7/1", "info")])
    services.grant_access(actor=u["hom.dakar"], dispatch=s, user=u["desk.dab2"], reason="test")
    services.grant_access(actor=u["hom.dakar"], dispatch=s, unit=ministry.units["LIMA"], reason="test")
    for name in ("director.dg7", "head.dg71", "desk.dab2", "hom.lima"):
        assert Dispatch.objects.visible_to(u[name]).filter(pk=s.pk).exists(), name
    _assert_consistent(ministry)


def test_rebuild_restores_a_wiped_index(ministry: Any) -> None:
    sent(ministry, routings=[("DAB/1", "action")])
    draft(ministry)
    before = _index_rows()
    assert before
    DispatchAccess.objects.all().delete()
    assert not Dispatch.objects.visible_to(ministry.users["desk.dab1"]).exists()  # the gate reads the index
    assert access_index.rebuild_access_index() == len(before)
    assert _index_rows() == before
    DispatchAccess.objects.all().delete()
    out = io.StringIO()
    call_command("reindex", "--access", stdout=out)  # the operator's way
    assert _index_rows() == before and f"{len(before)} rows" in out.getvalue()
