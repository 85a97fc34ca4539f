"""Programme deadlines on the reminders' rhythm: progress updates due, then overdue, then
escalated to the head of mission; next year's programme due by November 1st; nothing once
done. Simulated days: the clock is passed in."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from chancery.notifications.models import Notification, Verb
from chancery.planning import services
from chancery.planning.demo import sample_programme
from chancery.planning.models import Programme
from chancery.planning.reminders import send_programme_reminders

if TYPE_CHECKING:
    from chancery.accounts.models import User

pytestmark = pytest.mark.django_db

YEAR = 2026


@pytest.fixture
def approved(ministry: Any) -> Programme:
    u = ministry.users
    programme = sample_programme(mission=ministry.units["DAKAR"], year=YEAR, user=u["counsellor.dakar"])
    services.submit_programme(user=u["hom.dakar"], programme=programme)
    services.approve_programme(user=u["plan.sg4"], programme=programme)
    return programme


def _told(user: User, verb: str, programme: Programme) -> int:
    return Notification.objects.unrestricted("t").filter(
        recipient=user, verb=verb, target_id=str(programme.pk)
    ).count()


def test_progress_updates_due_overdue_escalated(ministry: Any, approved: Programme) -> None:
    u = ministry.users
    period = services.create_reporting_periods(user=u["hom.dakar"], programme=approved)[0]
    deadline = period.deadline
    assert send_programme_reminders(today=deadline - timedelta(days=3)).sent["updates"] == 0
    assert send_programme_reminders(today=deadline - timedelta(days=2)).sent["updates"] == 1
    assert _told(u["counsellor.dakar"], Verb.PROGRESS_UPDATES_DUE, approved) == 1
    assert send_programme_reminders(today=deadline - timedelta(days=1)).sent["updates"] == 0
    assert send_programme_reminders(today=deadline + timedelta(days=1)).sent["updates"] == 1
    assert send_programme_reminders(today=deadline + timedelta(days=5)).sent["updates"] == 1
    assert _told(u["hom.dakar"], Verb.PROGRAMME_ESCALATED, approved) == 1
    assert _told(u["counsellor.dakar"], Verb.PROGRAMME_ESCALATED, approved) == 0
    # A closed period is not reminded.
    later = services.create_reporting_periods(user=u["hom.dakar"], programme=approved)[1]
    type(later).objects.unrestricted("t").filter(pk=later.pk).update(closed=True)
    assert send_programme_reminders(today=later.deadline).sent["updates"] == 0


def test_next_programme_due_unless_submitted(ministry: Any, approved: Programme) -> None:
    u = ministry.users
    due = date(YEAR, 11, 1)
    assert send_programme_reminders(today=due - timedelta(days=2)).sent["programme"] == 1
    assert _told(u["counsellor.dakar"], Verb.PROGRAMME_DUE, approved) == 1
    nxt = sample_programme(mission=ministry.units["DAKAR"], year=YEAR + 1, user=u["counsellor.dakar"])
    services.submit_programme(user=u["hom.dakar"], programme=nxt)
    assert send_programme_reminders(today=due + timedelta(days=10)).sent["programme"] == 0
