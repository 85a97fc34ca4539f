"""The unread counter compiled once per reader and rights (`selectors.unread_count`): it counts what
the gate lets through for every agent of the ministry, and no change of rights (clearance, a
compartment, a membership, oversight of a region, the review date of a security officer) is ever
answered from a statement compiled before it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from chancery.accounts.models import Membership, User
from chancery.core.classification import Level
from chancery.core.models import Compartment
from chancery.correspondence.models import Dispatch
from chancery.correspondence.tests.domain_helpers import sent
from chancery.notifications import selectors, services
from chancery.notifications.models import Notification, Verb
from chancery.organisation import services as organisation
from chancery.planning.demo import sample_programme
from chancery.planning.models import Programme

pytestmark = pytest.mark.django_db


def _targets(ministry: Any) -> list[Any]:
    """Dispatches at every level (one compartmented, one due for review soon) and plans of two missions,
    one of them confidential in a compartment: each out of some agents' reach."""
    dispatches = [
        sent(ministry, routings=[("DAB/1", "action")]),
        sent(ministry, author="hom.dakar", classification=3, routings=[("DAB/1", "action"), ("DG7/1", "info")]),
        sent(ministry, author="hom.dakar", classification=2, routings=[("DAB/1", "info")]),
        sent(ministry, author="sg", unit="SG", head="sg", classification=2, compartments=["CRYPTO"],
             routings=[("SG/SEC", "action"), ("DAB/1", "info")]),
        sent(ministry, author="counsellor.lima", unit="LIMA", head="hom.lima", classification=1,
             routings=[("DAM/2", "action")]),
    ]
    review_on = timezone.localdate() + timedelta(days=5)
    Dispatch.objects.unrestricted("test: a review date").filter(pk=dispatches[-1].pk).update(declassify_on=review_on)
    plans = [
        sample_programme(mission=ministry.units["DAKAR"], year=2031, user=ministry.users["counsellor.dakar"]),
        sample_programme(mission=ministry.units["LIMA"], year=2031, user=ministry.users["hom.lima"]),
    ]
    Programme.objects.unrestricted("test: its marking").filter(pk=plans[1].pk).update(classification=Level.CONFIDENTIAL)
    plans[1].compartments.set([Compartment.objects.get(code="CRYPTO")])
    return [*dispatches, *plans]


def _notify_everyone(ministry: Any, targets: list[Any]) -> None:
    everyone = list(ministry.users.values())
    for target in targets:
        services.notify(recipients=everyone, verb=Verb.OTHER, target=target, url="/")
    services.notify(recipients=everyone, verb=Verb.OTHER, target=ministry.units["DAKAR"], url="/")  # always readable


def _by_the_gate(user: User) -> int:
    """The oracle: each unread notification whose target the target's own gate lets `user` read,
    asked one object at a time."""
    count = 0
    for n in Notification.objects.unrestricted("test: the oracle").filter(recipient=user, read_at__isnull=True):
        if n.target_type == "correspondence.dispatch":
            count += Dispatch.objects.visible_to(user).filter(pk=int(n.target_id)).exists()
        elif n.target_type == "planning.programme":
            count += Programme.objects.visible_to(user).filter(pk=int(n.target_id)).exists()
        else:
            count += 1
    return count


def _fresh(user: User) -> User:
    """The agent as the next request reads them."""
    return User.objects.get(pk=user.pk)


def test_every_agent_counts_what_the_gate_lets_through(ministry: Any) -> None:
    targets = _targets(ministry)
    _notify_everyone(ministry, targets)
    partial = 0
    for _ in range(2):  # compiled, then answered from what was compiled
        for user in ministry.users.values():
            if not user.is_active:
                continue
            user = _fresh(user)
            expected = _by_the_gate(user)
            assert selectors.unread_count(user=user) == expected, user.username
            partial += 0 < expected < len(targets) + 1
    assert partial > 10  # the gate keeps some targets from most agents, and lets some through


def test_no_change_of_rights_is_answered_from_what_was_compiled(ministry: Any, monkeypatch: Any) -> None:
    targets = _targets(ministry)
    _notify_everyone(ministry, targets)
    u, units = ministry.users, ministry.units
    statements: dict[Any, Any] = {}
    counts: list[int] = []

    def check(username: str) -> None:
        user = _fresh(u[username])
        counts.append(selectors.unread_count(user=user))
        assert counts[-1] == _by_the_gate(user), username
        # and equal keys are equal statements, for the dispatch gate as for the notifications'
        for model in (Dispatch, Notification, Programme):
            key = model.objects.gate_key(user)
            statement = model.objects.visible_to(user).values("pk").query.sql_with_params()
            assert statements.setdefault((model, key), statement) == statement, (model, username)

    desk = u["desk.dab1"]
    check("desk.dab1")
    desk.clearance_compartments.add(Compartment.objects.get(code="CRYPTO"))
    check("desk.dab1")
    User.objects.filter(pk=desk.pk).update(clearance_level=Level.RESTRICTED)
    check("desk.dab1")
    Membership.objects.create(user=desk, unit=units["DAM"], role="director")  # oversight of a region
    check("desk.dab1")
    for membership in Membership.objects.filter(user=desk, unit=units["DAB/1"]):
        membership.end_date = timezone.localdate()
        membership.save()
    check("desk.dab1")
    check("director.dam")
    organisation.update_unit(actor=u["admin"], unit=units["DAB/1"], parent=units["DAM"])  # into their region
    check("director.dam")
    check("security")
    later = timezone.localdate() + timedelta(days=10)  # the Lima dispatch's review date has come
    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: later)
    check("security")
    # the rights changed what is counted at each step
    assert len(set(counts[:5])) >= 4 and counts[6] > counts[5] and counts[8] > counts[7], counts
