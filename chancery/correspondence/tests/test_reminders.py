"""Reminders before and after the due date, then escalation, over simulated days (the clock
is passed in: nothing sleeps); closed work is not reminded; the daily task re-queues itself."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from chancery.correspondence import services
from chancery.correspondence.reminders import send_reminders, send_reminders_task
from chancery.correspondence.tests.domain_helpers import draft
from chancery.correspondence.workflow_models import ReminderKind, RoutingReminder, UnitWorkflow
from chancery.notifications.models import Notification, Verb

pytestmark = pytest.mark.django_db

DUE = date(2031, 3, 20)


def _sent_with_due(ministry, due: date = DUE):
    dispatch = draft(ministry, routings=())
    services.update_draft(
        actor=ministry.users["counsellor.dakar"],
        dispatch=dispatch,
        expected_version=dispatch.version,
        routings=[services.RoutingSpec(unit="DAB/1", kind="action", due_date=due)],
    )
    return services.send_dispatch(actor=ministry.users["hom.dakar"], dispatch=dispatch)


def _told(user, verb, dispatch) -> int:
    return (
        Notification.objects.unrestricted("test").filter(recipient=user, verb=verb, target_id=str(dispatch.pk)).count()
    )


def test_reminders_before_after_and_escalation_once_each(ministry):
    u = ministry.users
    d = _sent_with_due(ministry)
    assert send_reminders(today=DUE - timedelta(days=3)).sent["before"] == 0
    assert send_reminders(today=DUE - timedelta(days=2)).sent["before"] == 1
    assert _told(u["desk.dab1"], Verb.DISPATCH_DUE_SOON, d) == 1
    assert send_reminders(today=DUE - timedelta(days=1)).sent["before"] == 0  # once only
    assert send_reminders(today=DUE).sent == {"before": 0, "overdue": 0, "escalated": 0}
    assert send_reminders(today=DUE + timedelta(days=1)).sent["overdue"] == 1
    assert _told(u["desk.dab1"], Verb.DISPATCH_OVERDUE, d) == 1
    assert _told(u["head.dab1"], Verb.DISPATCH_ESCALATED, d) == 0
    assert send_reminders(today=DUE + timedelta(days=5)).sent["escalated"] == 1
    assert _told(u["head.dab1"], Verb.DISPATCH_ESCALATED, d) == 1
    assert _told(u["desk.dab1"], Verb.DISPATCH_ESCALATED, d) == 0  # escalation goes to the head only
    assert set(RoutingReminder.objects.values_list("kind", flat=True)) == {k.value for k in ReminderKind}


def test_assigned_attribution_reminds_the_assignee_and_unit_delays_apply(ministry):
    u = ministry.users
    UnitWorkflow.objects.create(
        unit=ministry.units["DAB/1"], remind_days_before=5, remind_days_after=2, escalate_days_after=3
    )
    d = _sent_with_due(ministry)
    services.assign(actor=u["head.dab1"], dispatch=d, unit="DAB/1", assignee=u["desk.dab1"])
    assert send_reminders(today=DUE - timedelta(days=5)).sent["before"] == 1
    assert _told(u["desk.dab1"], Verb.DISPATCH_DUE_SOON, d) == 1
    assert _told(u["head.dab1"], Verb.DISPATCH_DUE_SOON, d) == 0
    assert send_reminders(today=DUE + timedelta(days=1)).sent["overdue"] == 0
    run = send_reminders(today=DUE + timedelta(days=3))
    assert run.sent["overdue"] == 1 and run.sent["escalated"] == 1


def test_closed_or_answered_work_is_not_reminded(ministry):
    u = ministry.users
    d = _sent_with_due(ministry)
    services.close_routing(actor=u["head.dab1"], dispatch=d, unit="DAB/1")
    run = send_reminders(today=DUE + timedelta(days=10))
    assert run.sent == {"before": 0, "overdue": 0, "escalated": 0}
    assert not RoutingReminder.objects.exists()


def test_daily_task_runs_through_the_worker_and_requeues_itself(ministry, run_tasks):
    from django_tasks_db.models import DBTaskResult

    today = timezone.localdate()
    d = _sent_with_due(ministry, due=today - timedelta(days=1))
    result = send_reminders_task.enqueue()
    run_tasks()
    result.refresh()
    assert result.status == "SUCCESSFUL"
    assert _told(ministry.users["desk.dab1"], Verb.DISPATCH_OVERDUE, d) == 1
    waiting = DBTaskResult.objects.filter(task_path=send_reminders_task.module_path, status="READY")
    assert waiting.count() == 1 and waiting.get().run_after > timezone.now()
