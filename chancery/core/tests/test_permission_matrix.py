"""The permission gate over every role × every clearance level.

For each combination an agent is created through the accounts service; then the gated
querysets (units, agents, audit events) and the capability-guarded administration pages
are checked against what the role and clearance should give, and nothing more.
"""

from __future__ import annotations

from itertools import product
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import Client
from django.urls import reverse

from chancery.accounts import services
from chancery.accounts.models import User
from chancery.accounts.roles import ROLE_CAPABILITIES, Capability, Role
from chancery.audit.models import AuditEvent
from chancery.audit.services import record_event
from chancery.core.classification import Level, Marking
from chancery.core.gate import GateBypassError, RestrictedQuerySet, enforcing, protected_models
from chancery.organisation.models import Unit
from conftest import sign_in

pytestmark = pytest.mark.django_db

MATRIX = list(product(Role.values, [int(level) for level in Level]))


def _agent(ministry: Any, role: str, level: int, *, active: bool = True) -> User:
    unit = ministry.units["DAKAR"] if role in {Role.HEAD_OF_MISSION, Role.COUNSELLOR} else ministry.units["SG"]
    user = services.create_user(
        actor=None,
        username=f"m.{role}.{level}",
        password=None,
        clearance_level=level,
        memberships=[(unit, role)],
    )
    if not active:
        User.objects.unrestricted("test").filter(pk=user.pk).update(is_active=False)
        user.refresh_from_db()
    return user


def test_the_protected_models_include_units_agents_and_audit_events():
    assert {Unit, User, AuditEvent} <= set(protected_models())
    for model in (Unit, User, AuditEvent):
        assert isinstance(model.objects.all(), RestrictedQuerySet)


@pytest.mark.parametrize(("role", "level"), MATRIX, ids=[f"{r}-{lv}" for r, lv in MATRIX])
def test_gated_querysets_for_each_role_and_clearance(ministry, role, level):
    agent = _agent(ministry, role, level)
    own = record_event(action="test.own", actor=agent)
    record_event(action="test.other", actor=ministry.users["sg"])
    assert agent.clearance == Marking.of(level)
    with enforcing():
        # The directory (units, agents) is open to every active agent.
        assert Unit.objects.visible_to(agent).count() == Unit.objects.unrestricted("test").count()
        assert User.objects.visible_to(agent).count() == User.objects.unrestricted("test").count()
        # The audit log: everything for auditors, one's own events for everyone else.
        events = AuditEvent.objects.visible_to(agent)
        if Capability.READ_AUDIT in ROLE_CAPABILITIES[role]:
            assert events.count() == AuditEvent.objects.unrestricted("test").count()
        else:
            assert list(events.values_list("pk", flat=True)) == [own.pk]
        # Reading without the gate fails, whoever asks.
        for model in (Unit, User, AuditEvent):
            with pytest.raises(GateBypassError):
                model.objects.count()


@pytest.mark.parametrize("level", [int(level) for level in Level])
def test_deactivated_agents_and_anonymous_visitors_see_nothing(ministry, level):
    inactive = _agent(ministry, Role.AUDITOR, level, active=False)
    for who in (inactive, AnonymousUser(), None):
        for model in (Unit, User, AuditEvent):
            assert model.objects.visible_to(who).count() == 0, (model, who)


def test_a_superuser_reads_the_whole_audit_log(ministry):
    admin = ministry.users["admin"]
    assert AuditEvent.objects.visible_to(admin).count() == AuditEvent.objects.unrestricted("test").count()


# Capability-guarded pages: which roles reach them (the clearance does not matter).
ADMIN_PAGES = {
    "organisation:admin_home": {Capability.MANAGE_ORGANISATION, Capability.MANAGE_CLEARANCES},
    "organisation:admin_units": {Capability.MANAGE_ORGANISATION},
    "organisation:admin_agents": {Capability.MANAGE_ORGANISATION, Capability.MANAGE_CLEARANCES},
}


@pytest.mark.parametrize("level", [0, 3])
@pytest.mark.parametrize("role", Role.values)
def test_administration_pages_for_each_role_and_clearance(ministry, role, level):
    client = sign_in(Client(), _agent(ministry, role, level))
    for name, capabilities in ADMIN_PAGES.items():
        expected = 200 if capabilities & ROLE_CAPABILITIES[role] else 404
        assert client.get(reverse(name)).status_code == expected, (name, role, level)
    clearance_page = reverse("organisation:admin_agent_clearance", args=["clerk.dakar"])
    expected = 200 if Capability.MANAGE_CLEARANCES in ROLE_CAPABILITIES[role] else 404
    assert client.get(clearance_page).status_code == expected
