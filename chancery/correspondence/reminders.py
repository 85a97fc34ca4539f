"""Reminders and escalation of attributions (*pour attribution* with a due date).

Each day (`send_reminders(today=…)`, the clock is the caller's so tests simulate time):
- `before`: N days before the due date (the receiving unit's setting), the agent it is
  assigned to — or, unassigned, whoever handles the unit's attributions — is reminded;
- `overdue`: N days after it, the same agents are reminded again;
- `escalated`: later still, the heads of the receiving unit are told.
Each kind is sent once per attribution (a `RoutingReminder` row); an attribution answered
or closed — or a dispatch closed — meanwhile gets nothing. Recipients are only agents who
may read the dispatch (the gate), and absent agents' deputies through `notify`.

It runs as a daily background task (`send_reminders_task`, which re-queues itself for the
next morning) and as `chancery send-reminders`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django_tasks import task

from chancery.accounts.roles import Capability
from chancery.core.db import lock_for_update
from chancery.correspondence.models import Dispatch, DispatchStatus, Routing, RoutingKind, RoutingStatus
from chancery.correspondence.workflow_models import ReminderKind, RoutingReminder, UnitWorkflow
from chancery.notifications.models import Verb
from chancery.notifications.services import notify, unit_members_with

__all__ = ["ReminderRun", "ensure_scheduled", "send_reminders", "send_reminders_task"]

OPEN = (RoutingStatus.PENDING, RoutingStatus.ACKNOWLEDGED, RoutingStatus.ASSIGNED)
HORIZON_DAYS = 60  # no unit reminds earlier than this
RUN_AT = time(6, 0)
SCHEDULE_LOCK = 0x43_48_52_31  # the advisory lock of `ensure_scheduled` (any constant, unique in the app)
VERBS = {
    ReminderKind.BEFORE: Verb.DISPATCH_DUE_SOON,
    ReminderKind.OVERDUE: Verb.DISPATCH_OVERDUE,
    ReminderKind.ESCALATED: Verb.DISPATCH_ESCALATED,
}


@dataclass
class ReminderRun:
    today: date
    sent: dict[str, int] = field(default_factory=lambda: {k.value: 0 for k in ReminderKind})

    def line(self) -> str:
        return f"{self.today.isoformat()}: " + ", ".join(f"{n} {kind}" for kind, n in self.sent.items())


def _due_kinds(routing: Routing, settings: UnitWorkflow, today: date) -> list[str]:
    assert routing.due_date is not None
    return deadline_reminder_kinds(routing.due_date, settings, today)


def deadline_reminder_kinds(deadline: date, settings: UnitWorkflow, today: date) -> list[str]:
    """Which reminders a deadline calls for today under a unit's delays (attributions and programmes alike)."""
    late = (today - deadline).days
    kinds: list[str] = []
    if -settings.remind_days_before <= late <= 0:
        kinds.append(ReminderKind.BEFORE)
    if late >= max(settings.remind_days_after, 1):
        kinds.append(ReminderKind.OVERDUE)
    if late >= max(settings.escalate_days_after, 1):
        kinds.append(ReminderKind.ESCALATED)
    return kinds


def _readers(dispatch: Dispatch, people: list[Any]) -> list[Any]:
    return [u for u in people if Dispatch.objects.visible_to(u).filter(pk=dispatch.pk).exists()]


def _recipients(routing: Routing, kind: str) -> list[Any]:
    if kind == ReminderKind.ESCALATED:
        people = unit_members_with(units=[routing.unit], capability=Capability.VALIDATE_DISPATCH)
    elif routing.assigned_to is not None:
        people = [routing.assigned_to]
    else:
        people = unit_members_with(units=[routing.unit], capability=Capability.HANDLE_ATTRIBUTION)
    return _readers(routing.dispatch, people)


def send_reminders(*, today: date) -> ReminderRun:
    """Send the reminders due on `today` (see the module's docstring). Safe to repeat."""
    run = ReminderRun(today=today)
    routings = (
        Routing.objects.unrestricted("reminder job: every open attribution; each reminder goes to its routed unit")
        .filter(
            kind=RoutingKind.ACTION,
            status__in=OPEN,
            due_date__isnull=False,
            due_date__lte=today + timedelta(days=HORIZON_DAYS),
            dispatch__status=DispatchStatus.SENT,
        )
        .select_related("unit", "dispatch", "assigned_to")
        .order_by("due_date", "id")
    )
    settings_cache: dict[int, UnitWorkflow] = {}
    for routing in routings.iterator(chunk_size=500):
        if routing.unit_id not in settings_cache:
            found = UnitWorkflow.objects.filter(unit_id=routing.unit_id).first()
            settings_cache[routing.unit_id] = found or UnitWorkflow(unit=routing.unit)
        for kind in _due_kinds(routing, settings_cache[routing.unit_id], today):
            with transaction.atomic():
                reminder, created = RoutingReminder.objects.get_or_create(
                    routing=routing, kind=kind, defaults={"sent_on": today}
                )
                if not created:
                    continue
                people = _recipients(routing, kind)
                notify(
                    recipients=people,
                    verb=VERBS[ReminderKind(kind)],
                    target=routing.dispatch,
                    url=reverse("correspondence:detail", args=[routing.dispatch_id]),
                )
                reminder.recipients = len(people)
                reminder.save(update_fields=["recipients"])
                run.sent[kind] += 1
    return run


def _next_run(now: datetime) -> datetime:
    local = timezone.localtime(now)
    candidate = local.replace(hour=RUN_AT.hour, minute=RUN_AT.minute, second=0, microsecond=0)
    return candidate if candidate > local else candidate + timedelta(days=1)


def ensure_scheduled(now: datetime | None = None) -> bool:
    """Queue the daily run unless one is already waiting. True when one was queued.

    Several app servers start at once (each calls this): the check and the enqueue are one
    transaction under a lock (an advisory lock on PostgreSQL; SQLite's write lock otherwise), so
    exactly one daily run is queued."""
    from django_tasks_db.models import DBTaskResult

    with transaction.atomic():
        lock_for_update(SCHEDULE_LOCK)
        if DBTaskResult.objects.filter(task_path=send_reminders_task.module_path, status="READY").exists():
            return False
        send_reminders_task.using(run_after=_next_run(now or timezone.now())).enqueue()
    return True


@task()
def send_reminders_task() -> str:
    """The daily run: today's reminders, then the next morning's run is queued."""
    today = timezone.localdate()
    run = send_reminders(today=today)
    line = run.line()
    try:
        from chancery.planning.reminders import send_programme_reminders
    except ImportError:  # pragma: no cover - planning is always installed
        pass
    else:
        programmes = send_programme_reminders(today=today)
        line += f"; programmes: {programmes.sent['updates']} updates, {programmes.sent['programme']} programme"
    ensure_scheduled()
    return line
