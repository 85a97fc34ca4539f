"""Reminders for programme deadlines, on the same rhythm as attributions' (the mission's
workflow settings, `correspondence.workflow_models.UnitWorkflow`):

- progress updates: a reporting period of an approved programme with actions still to update
  is reminded to the mission's drafters N days before its deadline and N days after, then
  escalated to the head of mission;
- next year's programme: a mission whose programme for year Y is approved (or in execution)
  and which has not submitted one for Y+1 by `NEXT_PROGRAMME_DUE` of year Y is reminded the same way.

One reminder of each kind per deadline; only agents who may read the programme (the gate) are
told, and absent agents' deputies through `notify`. Run by the daily reminders task.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db import transaction
from django.urls import reverse

from chancery.accounts.roles import Capability
from chancery.correspondence.circuits import workflow_of
from chancery.correspondence.reminders import deadline_reminder_kinds
from chancery.correspondence.workflow_models import DeadlineReminder, ReminderKind
from chancery.notifications.models import Verb
from chancery.notifications.services import notify, unit_members_with
from chancery.planning.models import Programme, ProgrammeStatus, ReportingPeriod

__all__ = ["NEXT_PROGRAMME_DUE", "ProgrammeReminderRun", "send_programme_reminders"]

NEXT_PROGRAMME_DUE = (11, 1)  # (month, day) of year Y by which the programme for Y+1 is submitted
RUNNING = (ProgrammeStatus.APPROVED, ProgrammeStatus.IN_EXECUTION)
SUBMITTED_OR_LATER = (
    ProgrammeStatus.SUBMITTED,
    ProgrammeStatus.APPROVED,
    ProgrammeStatus.IN_EXECUTION,
    ProgrammeStatus.CLOSED,
)


@dataclass
class ProgrammeReminderRun:
    today: date
    sent: dict[str, int] = field(default_factory=lambda: {"updates": 0, "programme": 0})


def _readers(programme: Programme, people: list[Any]) -> list[Any]:
    return [u for u in people if Programme.objects.visible_to(u).filter(pk=programme.pk).exists()]


def _remind(subject: str, kind: str, programme: Programme, verb: str, url: str, today: date) -> bool:
    with transaction.atomic():
        reminder, created = DeadlineReminder.objects.get_or_create(
            subject=subject, kind=kind, defaults={"sent_on": today}
        )
        if not created:
            return False
        capability = Capability.SUBMIT_PROGRAMME if kind == ReminderKind.ESCALATED else Capability.PROPOSE_PROGRAMME
        people = _readers(programme, unit_members_with(units=[programme.mission_id], capability=capability))
        notify(
            recipients=people,
            verb=Verb.PROGRAMME_ESCALATED if kind == ReminderKind.ESCALATED else verb,
            target=programme,
            url=url,
        )
        reminder.recipients = len(people)
        reminder.save(update_fields=["recipients"])
    return True


def send_programme_reminders(*, today: date) -> ProgrammeReminderRun:
    from chancery.planning.services import missing_updates

    run = ProgrammeReminderRun(today=today)
    periods = (
        ReportingPeriod.objects.unrestricted("daily reminders (recipients are checked against the gate)")
        .filter(closed=False, programme__status__in=RUNNING)
        .select_related("programme", "programme__mission")
        .order_by("deadline", "id")
    )
    for period in periods:
        kinds = deadline_reminder_kinds(period.deadline, workflow_of(period.programme.mission), today)
        if not kinds or not missing_updates(period=period):
            continue
        url = reverse("planning:progress_update", args=[period.programme_id, period.pk])
        for kind in kinds:
            run.sent["updates"] += _remind(
                f"period:{period.pk}", kind, period.programme, Verb.PROGRESS_UPDATES_DUE, url, today
            )
    programmes = (
        Programme.objects.unrestricted("daily reminders (recipients are checked against the gate)")
        .filter(status__in=RUNNING, year__gte=today.year - 1, year__lte=today.year)
        .select_related("mission")
    )
    for programme in programmes:
        due = date(programme.year, *NEXT_PROGRAMME_DUE)
        kinds = deadline_reminder_kinds(due, workflow_of(programme.mission), today)
        if not kinds:
            continue
        following = Programme.objects.unrestricted("does next year's programme exist").filter(
            mission_id=programme.mission_id, year=programme.year + 1, status__in=SUBMITTED_OR_LATER
        )
        if following.exists():
            continue
        url = reverse("planning:programme_detail", args=[programme.pk])
        for kind in kinds:
            run.sent["programme"] += _remind(
                f"programme:{programme.mission_id}:{programme.year + 1}",
                kind,
                programme,
                Verb.PROGRAMME_DUE,
                url,
                today,
            )
    return run
