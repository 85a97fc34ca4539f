"""The reads every request makes for its agent (session, agent, memberships, clearance, API token),
written once as SQL (`chancery.core.db.rows_where`): each gives what the ORM's spelling of the
same conditions gives, on dates and absences at their edges, and refuses what it must."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.db.models import Q
from django.utils import timezone

from chancery.accounts.absences import cancel_absence, set_absence
from chancery.accounts.backends import ChanceryBackend
from chancery.accounts.models import Absence, ApiToken, Membership, User, held_memberships
from chancery.accounts.services import issue_api_token, user_for_token
from chancery.accounts.sessions import SessionStore
from chancery.core.models import Compartment
from chancery.organisation.models import Unit

pytestmark = pytest.mark.django_db


def _orm_memberships(agent: User) -> list[tuple[int, int | None]]:
    """`held_memberships` as the ORM spells it (`active()`, `Absence.objects.on`): (membership,
    the absent agent or None), in the same order."""
    today = timezone.localdate()
    principals = Absence.objects.on(today).filter(deputy=agent).values("user_id")
    rows = (
        Membership.objects.filter(Q(user=agent) | Q(user_id__in=principals))
        .active()
        .order_by("unit__path", "id")
        .values_list("pk", "user_id")
    )
    ordered = sorted(rows, key=lambda row: row[1] != agent.pk)
    return [(pk, None if user_id == agent.pk else user_id) for pk, user_id in ordered]


def _held(agent: User) -> list[tuple[int, int | None]]:
    agent.forget_cached_rights()
    found = agent.active_memberships()
    for membership in found:
        assert membership.unit == Unit.objects.unrestricted("t").get(pk=membership.unit_id)
        assert membership.user.pk == (getattr(membership, "delegated_from", None) or agent).pk
    return [(m.pk, getattr(getattr(m, "delegated_from", None), "pk", None)) for m in found]


def test_memberships_at_the_edges_of_their_dates_and_of_absences(ministry: Any) -> None:
    u = ministry.users
    agent, head = u["desk.dab1"], u["hom.dakar"]
    today = timezone.localdate()
    before = _held(agent)
    assert before == _orm_memberships(agent) and before, "the desk officer holds memberships"
    units = list(Unit.objects.unrestricted("t").exclude(pk__in=[m.unit_id for m in agent.memberships.all()])[:4])
    tomorrow = today + timedelta(days=1)
    ended_today = Membership.objects.create(user=agent, unit=units[0], role="agent", end_date=today)
    ends_tomorrow = Membership.objects.create(user=agent, unit=units[1], role="agent", end_date=tomorrow)
    starts_tomorrow = Membership.objects.create(user=agent, unit=units[2], role="agent", start_date=tomorrow)
    started_today = Membership.objects.create(user=agent, unit=units[3], role="agent", start_date=today)
    held = _held(agent)
    assert held == _orm_memberships(agent)
    ids = {pk for pk, _absent in held}
    assert ends_tomorrow.pk in ids and started_today.pk in ids
    assert ended_today.pk not in ids and starts_tomorrow.pk not in ids  # `end_date` is the first day without

    # a deputy holds the absent agent's memberships for the absence, marked as delegated
    absence = set_absence(actor=head, agent=head, deputy=agent, start_date=today, end_date=today, reason="Mission")
    held = _held(agent)
    assert held == _orm_memberships(agent)
    delegated = [pk for pk, absent in held if absent == head.pk]
    assert set(delegated) == set(Membership.objects.filter(user=head).active().values_list("pk", flat=True))
    assert held[: len(held) - len(delegated)] == [(pk, None) for pk, absent in held if absent is None]  # own first
    cancel_absence(actor=head, absence=absence)
    assert _held(agent) == _orm_memberships(agent) == [row for row in held if row[1] is None]

    # an absence that starts tomorrow gives nothing yet
    set_absence(actor=head, agent=head, deputy=agent, start_date=today + timedelta(days=1),
                end_date=today + timedelta(days=3), reason="Congé")  # fmt: skip
    assert all(absent is None for _pk, absent in _held(agent))
    assert held_memberships(User(username="unsaved")) == []


def test_clearance_compartments_are_the_agents_own(ministry: Any) -> None:
    agent = ministry.users["desk.dab1"]
    codes = ["NOFORN-T1", "CRYPTO-T2"]
    cleared = [Compartment.objects.create(code=code, name=code) for code in codes]
    Compartment.objects.create(code="OTHER-T3", name="other")
    agent.clearance_compartments.set(cleared)
    agent.forget_cached_rights()
    assert agent.clearance_compartment_ids == sorted(c.pk for c in cleared)
    assert sorted(agent.clearance.compartments) == sorted(codes)
    agent.clearance_compartments.clear()
    agent.forget_cached_rights()
    assert agent.clearance_compartment_ids == [] and not agent.clearance.compartments


def test_session_and_agent_reads(ministry: Any) -> None:
    agent = ministry.users["desk.dab1"]
    store = SessionStore()
    store["_auth_user_id"] = str(agent.pk)
    store.create()
    key = store.session_key
    assert SessionStore(key).load()["_auth_user_id"] == str(agent.pk)
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    expired = SessionStore(key)
    assert expired.load() == {} and expired.session_key is None  # expired: no session, its key dropped
    assert SessionStore("short").load() == {}  # a malformed key never reaches the database
    assert SessionStore("x" * 32).load() == {}  # an unknown one finds nothing

    backend = ChanceryBackend()
    assert backend.get_user(agent.pk) == agent
    assert backend.get_user(str(agent.pk)) == agent  # the session keeps the key as text
    assert backend.get_user("not a key") is None
    assert backend.get_user(10**9) is None
    User.objects.unrestricted("t").filter(pk=agent.pk).update(is_active=False)
    assert backend.get_user(agent.pk) is None


def test_api_token_reads(ministry: Any) -> None:
    agent = ministry.users["desk.dab1"]
    token = issue_api_token(user=agent, name="t", lifetime_days=1)
    found = user_for_token(token)
    assert found == agent and found is not None and found.username == agent.username
    assert user_for_token(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    ApiToken.objects.filter(user=agent).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert user_for_token(token) is None
    ApiToken.objects.filter(user=agent).update(expires_at=None, revoked_at=timezone.now())
    assert user_for_token(token) is None
    ApiToken.objects.filter(user=agent).update(revoked_at=None)
    assert user_for_token(token) == agent
    User.objects.unrestricted("t").filter(pk=agent.pk).update(is_active=False)
    assert user_for_token(token) is None
