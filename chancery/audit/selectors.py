"""Reading the audit log, always through the gate (`AuditEvent.objects.visible_to(user)`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from chancery.audit.models import AuditEvent, AuditEventQuerySet

if TYPE_CHECKING:
    from chancery.accounts.models import User


@dataclass(frozen=True)
class LogFilter:
    actor: str = ""
    action: str = ""
    object_type: str = ""
    object_id: str = ""
    since: date | None = None
    until: date | None = None

    def as_details(self) -> dict[str, Any]:
        return {key: str(value) for key, value in self.__dict__.items() if value}


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


def events_for(*, user: User, log_filter: LogFilter) -> AuditEventQuerySet:
    """The events the user may read, newest first, filtered; entries name objects, never their content."""
    events = AuditEvent.objects.visible_to(user)
    if log_filter.actor:
        events = events.filter(actor_label__iexact=log_filter.actor)
    if log_filter.action:
        events = events.filter(action__startswith=log_filter.action)
    if log_filter.object_type:
        events = events.filter(object_type=log_filter.object_type)
    if log_filter.object_id:
        events = events.filter(object_id=log_filter.object_id)
    if log_filter.since:
        events = events.filter(created_at__gte=_day_start(log_filter.since))
    if log_filter.until:
        events = events.filter(created_at__lt=_day_start(log_filter.until) + timedelta(days=1))
    return events.order_by("-sequence")


def page_of_events(
    *, user: User, log_filter: LogFilter, before: int | None, size: int = 50
) -> tuple[list[AuditEvent], int | None]:
    """One page (keyset on the sequence number: no OFFSET, no COUNT) and the cursor of the next."""
    events = events_for(user=user, log_filter=log_filter)
    if before is not None:
        events = events.filter(sequence__lt=before)
    rows = list(events[: size + 1])
    following = rows[size - 1].sequence if len(rows) > size else None
    return rows[:size], following
