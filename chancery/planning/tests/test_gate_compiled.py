"""The plan gate compiled once per set of rights (`planning.models.programme_gate`): what it lets
through is what the rule says, for every agent of the ministry, and a change of rights or of the
unit tree is never answered from what was compiled before it."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from chancery.accounts import services as accounts
from chancery.accounts.models import Membership
from chancery.accounts.roles import Capability
from chancery.core.classification import Level
from chancery.core.models import Compartment
from chancery.organisation import services as organisation
from chancery.planning import models as planning_models
from chancery.planning.demo import sample_programme
from chancery.planning.models import Action, Programme, ReportingPeriod

pytestmark = pytest.mark.django_db


def _rule(user: Any, programme: Programme) -> bool:
    """The plan gate as DESIGN states it, in Python, one programme at a time."""
    if not user.is_active or not user.active_memberships():
        return False
    mission = programme.mission
    desk = mission.hq_desk
    if user.units_with(Capability.READ_ALL_PROGRAMMES):
        scope = True
    else:
        units = {m.unit_id for m in user.active_memberships()}
        scope = mission.pk in units or (desk is not None and desk.pk in units)
        for unit in user.units_with(Capability.OVERSEE_SUBTREE):
            under = mission.path.startswith(unit.path) or (desk is not None and desk.path.startswith(unit.path))
            scope = scope or under
    codes = set(programme.compartments.values_list("code", flat=True))
    cleared = set(user.clearance_compartments.values_list("code", flat=True))
    return scope and int(programme.classification) <= int(user.clearance_level) and codes <= cleared


def _programmes(ministry: Any) -> list[Programme]:
    """Plans of missions of two regions and desks, at every level, one in a compartment."""
    u = ministry.users
    made: list[Programme] = []
    for code, author, level in (
        ("DAKAR", "counsellor.dakar", Level.UNCLASSIFIED),
        ("DAKAR", "counsellor.dakar", Level.CONFIDENTIAL),
        ("LIMA", "hom.lima", Level.RESTRICTED),
        ("LIMA", "hom.lima", Level.SECRET),
    ):
        programme = sample_programme(mission=ministry.units[code], year=2030 + len(made), user=u[author])
        Programme.objects.unrestricted("test: its marking").filter(pk=programme.pk).update(classification=level)
        made.append(programme)
    made[1].compartments.set([Compartment.objects.get(code="CRYPTO")])
    return [Programme.objects.unrestricted("test").select_related("mission__hq_desk").get(pk=p.pk) for p in made]


def test_every_agent_reads_the_plans_the_rule_gives_and_their_children_alike(ministry: Any) -> None:
    programmes = _programmes(ministry)
    ids = [p.pk for p in programmes]
    seen_some = seen_none = 0
    for user in ministry.users.values():
        user.forget_cached_rights()
        expected = {p.pk for p in programmes if _rule(user, p)}
        assert set(Programme.objects.visible_to(user).filter(pk__in=ids).values_list("pk", flat=True)) == expected, (
            user.username
        )
        actions = Action.objects.visible_to(user).filter(programme_id__in=ids)
        assert set(actions.values_list("programme_id", flat=True)) == expected, user.username
        seen_some, seen_none = seen_some + bool(expected), seen_none + (not expected)
    assert seen_some > 5 and seen_none > 5  # the ministry's agents fall on both sides


def test_a_change_of_rights_or_of_the_tree_is_never_answered_from_what_was_compiled(ministry: Any) -> None:
    u, units = ministry.users, ministry.units
    programme = _programmes(ministry)[0]  # DAKAR, whose desk is DAB/1 under the directorate DAB

    def reads(username: str) -> bool:
        user = u[username]
        user.forget_cached_rights()  # as the next request would
        return Programme.objects.visible_to(user).filter(pk=programme.pk).exists()

    assert reads("director.dab") and reads("head.dab1") and not reads("director.dam")
    # The desk moves to another directorate: its new overseer reads the plan, the old one no longer;
    # the desk's own head (whose unit's path changed) still does, by membership of the desk.
    organisation.update_unit(actor=u["admin"], unit=units["DAB/1"], parent=units["DAM"])
    assert not reads("director.dab") and reads("director.dam") and reads("head.dab1")
    # The desk's head leaves it: nothing compiled for them before answers for them now.
    for membership in Membership.objects.filter(user=u["head.dab1"], unit=units["DAB/1"]):
        accounts.end_membership(actor=u["admin"], membership=membership)
    assert not reads("head.dab1")
    # A period of the plan follows its programme.
    period = ReportingPeriod.objects.unrestricted("test").create(
        programme=programme, period_type="quarter", start=date(2030, 1, 1), end=date(2030, 3, 31),
        deadline=date(2030, 4, 15),
    )  # fmt: skip
    for username, allowed in (("director.dam", True), ("director.dab", False), ("head.dab1", False)):
        user = u[username]
        user.forget_cached_rights()
        assert ReportingPeriod.objects.visible_to(user).filter(pk=period.pk).exists() is allowed, username


def _agent(ministry: Any, username: str, *, level: int, role: str, unit: str) -> Any:
    """A new agent cleared to `level`, member of `unit` with `role`."""
    from chancery.accounts.models import User

    agent = User.objects.create(username=username, clearance_level=level)
    Membership.objects.create(user=agent, unit=ministry.units[unit], role=role)
    return agent


def test_agents_alike_but_for_one_right_never_share_what_was_compiled(ministry: Any) -> None:
    """Who differs from another only by a compartment, or by oversight of the same unit, is asked
    after them and still gets their own answer."""
    planning_models._GATE_SQL.clear()
    dakar, crypto_plan = _programmes(ministry)[:2]
    plain = _agent(ministry, "plain.dakar", level=Level.SECRET, role="agent", unit="DAKAR")
    cleared = _agent(ministry, "cleared.dakar", level=Level.SECRET, role="agent", unit="DAKAR")
    cleared.clearance_compartments.set([Compartment.objects.get(code="CRYPTO")])
    director = ministry.users["director.dab"]
    agent = _agent(ministry, "agent.dab", level=director.clearance_level, role="agent", unit="DAB")
    for first, second, programme in ((plain, cleared, crypto_plan), (agent, director, dakar)):
        for user in (first, second):
            user.forget_cached_rights()
            visible = Programme.objects.visible_to(user).filter(pk=programme.pk).exists()
            assert visible is _rule(user, programme), user.username
            assert visible is (user is second)


def test_what_is_kept_is_bounded(ministry: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(planning_models._GATE_SQL, "kept", 3)
    planning_models._GATE_SQL.clear()
    for user in ministry.users.values():
        Programme.objects.visible_to(user).exists()
        assert len(planning_models._GATE_SQL) <= 3
    assert planning_models._GATE_SQL  # and it does keep some


def test_a_programme_read_by_id_answers_as_the_rule_for_every_agent_asked_twice(ministry: Any) -> None:
    """`selectors.programme_detail` keeps the read compiled per reader and rights (a `GatedStatement`
    with the id as its value): every agent, every plan, twice, gets the rule's answer; the same
    404 for a plan out of scope as for none."""
    from django.http import Http404

    from chancery.planning import selectors

    programmes = _programmes(ministry)
    opened = refused = 0
    for _round in range(2):
        for user in ministry.users.values():
            user.forget_cached_rights()
            for programme in programmes:
                if _rule(user, programme):
                    assert selectors.programme_detail(user, programme.pk).pk == programme.pk, user.username
                    opened += 1
                else:
                    with pytest.raises(Http404):
                        selectors.programme_detail(user, programme.pk)
                    refused += 1
            for missing in (max(p.pk for p in programmes) + 1000, 0, -1, "x", 2**63, str(programmes[0].pk) + "x"):
                with pytest.raises(Http404):
                    selectors.programme_detail(user, missing)
    assert opened > 10 and refused > 10


def test_a_programme_read_by_id_follows_a_change_of_rights(ministry: Any) -> None:
    from django.http import Http404

    from chancery.planning import selectors

    u = ministry.users
    programme = _programmes(ministry)[0]  # DAKAR's, whose desk is DAB/1
    head = u["head.dab1"]
    assert selectors.programme_detail(head, programme.pk).pk == programme.pk
    for membership in Membership.objects.filter(user=head, unit=ministry.units["DAB/1"]):
        accounts.end_membership(actor=u["admin"], membership=membership)
    head.forget_cached_rights()  # as the next request would
    with pytest.raises(Http404):
        selectors.programme_detail(head, programme.pk)
