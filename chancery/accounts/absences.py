"""Delegation during absence: an agent (or their head) names a deputy for some dates.

While the absence runs, the deputy holds the absent agent's roles (`User.active_memberships`
adds them), so the deputy receives the agent's work and notifications and may act for
them — always within the deputy's own clearance, which the permission gate checks. Acts
done through a delegated role record both names (`acting_for`).

Rules: no absence for oneself as one's own deputy, no overlapping absences of one agent,
no delegation loop (A→B while B→A, or longer) over overlapping dates, and the deputy
must be an active agent present on the first day.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from chancery.accounts.models import Absence, Membership, User
from chancery.accounts.roles import ROLE_CAPABILITIES, Capability
from chancery.audit.services import record_event

__all__ = ["acting_for", "cancel_absence", "may_manage_absence", "set_absence"]

MAX_DAYS = 366


def may_manage_absence(actor: User, agent: User) -> bool:
    """The agent themself, or a head (VALIDATE_DISPATCH) of one of the agent's units."""
    if actor.pk == agent.pk:
        return True
    heads_of = {u.pk for u in actor.units_with(Capability.VALIDATE_DISPATCH)}
    return Membership.objects.active().filter(user=agent, unit_id__in=heads_of).exists()


def _chain_returns_to(start: User, deputy: User, start_date: date, end_date: date) -> bool:
    """Would `deputy` (or their own deputy, and so on) hand the work back to `start`
    on some day between the dates?"""
    seen: set[int] = set()
    frontier = [deputy.pk]
    while frontier:
        current = frontier.pop()
        if current == start.pk:
            return True
        if current in seen:
            continue
        seen.add(current)
        frontier += list(
            Absence.objects.filter(
                user_id=current, cancelled_at__isnull=True, start_date__lte=end_date, end_date__gte=start_date
            ).values_list("deputy_id", flat=True)
        )
    return False


@transaction.atomic
def set_absence(
    *, actor: User, agent: User, deputy: User, start_date: date, end_date: date, reason: str = ""
) -> Absence:
    if not may_manage_absence(actor, agent):
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied(_("Only the agent or the head of their unit may set this absence."))
    User.objects.unrestricted("lock the agent while checking absences").select_for_update().filter(pk=agent.pk).get()
    errors: dict[str, list[str]] = {}
    if end_date < start_date:
        errors["end_date"] = [_("The absence ends before it starts.")]
    elif (end_date - start_date).days >= MAX_DAYS:
        errors["end_date"] = [_("An absence lasts at most a year.")]
    if end_date < timezone.localdate():
        errors.setdefault("end_date", []).append(_("This absence is already over."))
    if deputy.pk == agent.pk:
        errors["deputy"] = [_("An agent cannot be their own deputy.")]
    elif not deputy.is_active:
        errors["deputy"] = [_("The deputy's account is not active.")]
    elif not errors:
        overlapping = Absence.objects.filter(
            user=agent, cancelled_at__isnull=True, start_date__lte=end_date, end_date__gte=start_date
        )
        if overlapping.exists():
            errors["start_date"] = [_("This agent already has an absence over these dates.")]
        elif _chain_returns_to(agent, deputy, start_date, end_date):
            errors["deputy"] = [
                _("%(deputy)s is away over these dates and hands their work back to %(agent)s: that would be a loop.")
                % {"deputy": deputy, "agent": agent}
            ]
    if errors:
        raise ValidationError(errors)
    absence = Absence.objects.create(
        user=agent,
        deputy=deputy,
        start_date=start_date,
        end_date=end_date,
        reason=(reason or "").strip()[:200],
        created_by=actor,
    )
    record_event(
        action="accounts.absence_set",
        actor=actor,
        target=absence,
        details={
            "agent": agent.get_username(),
            "deputy": deputy.get_username(),
            "from": start_date.isoformat(),
            "to": end_date.isoformat(),
        },
    )
    return absence


@transaction.atomic
def cancel_absence(*, actor: User, absence: Absence) -> Absence:
    if not may_manage_absence(actor, absence.user):
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied(_("Only the agent or the head of their unit may cancel this absence."))
    if absence.cancelled_at is None:
        absence.cancelled_at = timezone.now()
        absence.save(update_fields=["cancelled_at"])
        record_event(
            action="accounts.absence_cancelled",
            actor=actor,
            target=absence,
            details={"agent": absence.user.get_username()},
        )
    return absence


def acting_for(actor: User, unit: Any, capabilities: tuple[Capability, ...]) -> User | None:
    """The absent agent `actor` stands in for when one of `capabilities` in `unit` comes
    to them only through a delegation (None when they hold it themselves)."""
    own = False
    principal: User | None = None
    for membership in actor.active_memberships():
        if membership.unit_id != unit.pk or not set(capabilities) & ROLE_CAPABILITIES.get(membership.role, frozenset()):
            continue
        delegated = getattr(membership, "delegated_from", None)
        if delegated is None:
            own = True
        elif principal is None:
            principal = delegated
    return None if own else principal


def deputy_of(agent: User, day: date | None = None) -> User | None:
    """Today's deputy of an absent agent (None when present)."""
    absence = Absence.objects.on(day or timezone.localdate()).filter(user=agent).select_related("deputy").first()
    return absence.deputy if absence is not None else None


def _may_read(user: User, target: Any) -> bool:
    manager = type(target)._default_manager
    if hasattr(manager, "visible_to"):
        return bool(manager.visible_to(user).filter(pk=target.pk).exists())
    return True


def _heads_of(agent: User) -> list[User]:
    """The heads of the agent's units (the heads of the parent units for a head of unit)."""
    from chancery.notifications.services import unit_members_with

    units = [m.unit for m in Membership.objects.active().filter(user=agent).select_related("unit")]
    heads = [h for h in unit_members_with(units=units, capability=Capability.VALIDATE_DISPATCH) if h.pk != agent.pk]
    if not heads:
        parents = [u.parent_id for u in units if u.parent_id]
        heads = [
            h for h in unit_members_with(units=parents, capability=Capability.VALIDATE_DISPATCH) if h.pk != agent.pk
        ]
    return heads


def route_to_deputies(users: list[User], *, target: Any, url: str, actor: User | None = None) -> list[User]:
    """Recipients of a notification about `target`, with today's deputy of each absent one
    added. A deputy who may not read the target (clearance) is left out: the item stays with
    the absent agent and the heads of the agent's units are told."""
    from chancery.notifications.models import Verb
    from chancery.notifications.services import notify

    today = timezone.localdate()
    absences = list(Absence.objects.on(today).filter(user__in=users).select_related("deputy", "user"))
    result = list(users)
    for absence in absences:
        deputy = absence.deputy
        if not deputy.is_active or (actor is not None and deputy.pk == actor.pk):
            continue
        if _may_read(deputy, target):
            if all(u.pk != deputy.pk for u in result):
                result.append(deputy)
            continue
        heads = _heads_of(absence.user)
        # The heads may not read the item either: they are pointed at the agent, not the item.
        notify(
            recipients=heads,
            verb=Verb.DELEGATION_BLOCKED,
            target=absence,
            url=reverse("organisation:person_detail", args=[absence.user.get_username()]),
            actor=actor,
        )
    return result
