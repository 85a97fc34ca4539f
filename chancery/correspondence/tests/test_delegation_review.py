"""Delegation during absence (deputy within their own clearance, both names recorded, loops
and overlaps refused) and the security officers' declassification review queue."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils import timezone

from chancery.accounts.absences import cancel_absence, set_absence
from chancery.accounts.models import Absence
from chancery.core.classification import Level
from chancery.correspondence import circuits, review, services
from chancery.correspondence.models import Dispatch, DispatchStatus, MarkingChange
from chancery.correspondence.tests.domain_helpers import draft, sent
from chancery.correspondence.workflow_models import CircuitStep, ReviewDecision
from chancery.notifications.models import Notification, Verb

pytestmark = pytest.mark.django_db


def _today():
    return timezone.localdate()


def _fresh(user):
    user.forget_cached_rights()
    return user


def test_deputy_receives_work_and_acts_with_both_names_recorded(ministry):
    u = ministry.users
    # hom.dakar (head of mission) is away; the West Africa head at headquarters stands in.
    set_absence(
        actor=u["hom.dakar"],
        agent=u["hom.dakar"],
        deputy=u["head.dab1"],
        start_date=_today(),
        end_date=_today() + timedelta(days=7),
        reason="Congé",
    )
    deputy = _fresh(u["head.dab1"])
    d = draft(ministry)
    assert not Dispatch.objects.visible_to(u["desk.dab1"]).filter(pk=d.pk).exists()
    assert Dispatch.objects.visible_to(deputy).filter(pk=d.pk).exists()  # the absent head's drafts
    circuits.submit(actor=u["counsellor.dakar"], dispatch=d)
    # The deputy is told (the head's notification is redirected) and may give the visa.
    assert (
        Notification.objects.unrestricted("t")
        .filter(recipient=deputy, verb=Verb.DISPATCH_TO_VALIDATE, target_id=str(d.pk))
        .exists()
    )
    circuits.approve(actor=deputy, dispatch=d)
    step = CircuitStep.objects.get(dispatch=d)
    assert step.acted_by == deputy and step.on_behalf_of == u["hom.dakar"]
    assert Dispatch.objects.unrestricted("t").get(pk=d.pk).status == DispatchStatus.SENT


def test_deputy_never_reads_above_their_own_clearance(ministry):
    u = ministry.users
    # director.dab (Secret) away; desk.dab1 (Confidentiel) stands in.
    set_absence(
        actor=u["director.dab"],
        agent=u["director.dab"],
        deputy=u["desk.dab1"],
        start_date=_today(),
        end_date=_today() + timedelta(days=3),
    )
    deputy = _fresh(u["desk.dab1"])
    secret = draft(
        ministry, author="director.dab", unit="DAB", classification=Level.SECRET, routings=(("DAKAR", "action"),)
    )
    confidential = draft(
        ministry, author="director.dab", unit="DAB", classification=Level.CONFIDENTIAL, routings=(("DAKAR", "action"),)
    )
    assert not Dispatch.objects.visible_to(deputy).filter(pk=secret.pk).exists()
    assert Dispatch.objects.visible_to(deputy).filter(pk=confidential.pk).exists()
    # Acting for the director on the Secret draft is refused (no read up), on the other allowed.
    with pytest.raises(Http404):
        services.update_draft(actor=deputy, dispatch=secret, expected_version=secret.version, subject="x")
    services.update_draft(
        actor=deputy, dispatch=confidential, expected_version=confidential.version, subject="Note révisée par l'intérim"
    )


def test_item_the_deputy_may_not_read_stays_and_the_head_is_told(ministry, django_capture_on_commit_callbacks):
    u = ministry.users
    # desk.dab1 away; the deputy is a registry clerk cleared only Diffusion restreinte.
    set_absence(
        actor=u["desk.dab1"],
        agent=u["desk.dab1"],
        deputy=u["clerk.sgbo"],
        start_date=_today(),
        end_date=_today() + timedelta(days=3),
    )
    with django_capture_on_commit_callbacks(execute=True):
        d = sent(
            ministry,
            author="sg",
            unit="SG",
            head="sg",
            classification=Level.CONFIDENTIAL,
            routings=(("DAB/1", "action"),),
        )
    told = Notification.objects.unrestricted("t").filter(target_id=str(d.pk), verb=Verb.DISPATCH_ATTRIBUTED)
    assert told.filter(recipient=u["desk.dab1"]).exists()
    assert not told.filter(recipient=u["clerk.sgbo"]).exists()
    blocked = Notification.objects.unrestricted("t").filter(verb=Verb.DELEGATION_BLOCKED)
    assert blocked.filter(recipient=u["head.dab1"]).exists()
    assert blocked.get(recipient=u["head.dab1"]).target_type == "accounts.absence"
    # An unclassified one goes to the deputy as well.
    with django_capture_on_commit_callbacks(execute=True):
        open_one = sent(ministry, author="sg", unit="SG", head="sg", routings=(("DAB/1", "action"),))
    assert Notification.objects.unrestricted("t").filter(target_id=str(open_one.pk), recipient=u["clerk.sgbo"]).exists()


def test_overlaps_loops_and_rights_refused(ministry):
    u = ministry.users
    a, b, c = u["desk.dab1"], u["head.dab1"], u["desk.dab2"]
    start = _today() + timedelta(days=10)
    set_absence(actor=a, agent=a, deputy=b, start_date=start, end_date=start + timedelta(days=5))
    with pytest.raises(ValidationError) as exc:
        set_absence(
            actor=a, agent=a, deputy=c, start_date=start + timedelta(days=3), end_date=start + timedelta(days=8)
        )
    assert "start_date" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        set_absence(
            actor=b, agent=b, deputy=a, start_date=start + timedelta(days=2), end_date=start + timedelta(days=3)
        )
    message = " ".join(exc.value.message_dict["deputy"])
    assert "boucle" in message and str(a) in message and str(b) in message  # French, the default language
    # A longer loop: b → c, then c → a while a → b.
    set_absence(actor=b, agent=b, deputy=c, start_date=start + timedelta(days=4), end_date=start + timedelta(days=4))
    with pytest.raises(ValidationError):
        set_absence(actor=c, agent=c, deputy=a, start_date=start, end_date=start + timedelta(days=9))
    with pytest.raises(ValidationError):
        set_absence(
            actor=a, agent=a, deputy=a, start_date=start + timedelta(days=20), end_date=start + timedelta(days=21)
        )
    with pytest.raises(ValidationError):
        set_absence(
            actor=a, agent=a, deputy=b, start_date=start + timedelta(days=30), end_date=start + timedelta(days=29)
        )
    # Someone else's absence: only the agent or their head.
    with pytest.raises(PermissionDenied):
        set_absence(
            actor=u["desk.dab2"],
            agent=a,
            deputy=c,
            start_date=start + timedelta(days=40),
            end_date=start + timedelta(days=41),
        )
    absence = set_absence(
        actor=b, agent=a, deputy=c, start_date=start + timedelta(days=40), end_date=start + timedelta(days=41)
    )  # b heads a's unit
    cancel_absence(actor=a, absence=absence)
    assert Absence.objects.get(pk=absence.pk).cancelled_at is not None
    # After cancelling, the dates are free again (no loop, no overlap).
    set_absence(actor=a, agent=a, deputy=c, start_date=start + timedelta(days=40), end_date=start + timedelta(days=41))


def test_review_queue_confirm_postpone_refuse(ministry):
    u = ministry.users
    officer = u["security"]
    due = sent(
        ministry,
        classification=Level.CONFIDENTIAL,
        author="hom.dakar",
        declassify_on=_today() - timedelta(days=1),
        subject="Note ancienne",
    )
    later = sent(
        ministry, classification=Level.CONFIDENTIAL, author="hom.dakar", declassify_on=_today() + timedelta(days=30)
    )
    queue = list(review.review_queue(officer))
    assert due in queue and later not in queue
    assert list(review.review_queue(u["desk.dab1"])) == []
    with pytest.raises(services.NotAllowed):
        review.decide(actor=u["hom.dakar"], dispatch=due, decision=ReviewDecision.REFUSE, reason="x")
    with pytest.raises(ValidationError):
        review.decide(actor=officer, dispatch=due, decision=ReviewDecision.CONFIRM, reason=" ")
    with pytest.raises(ValidationError):
        review.decide(
            actor=officer,
            dispatch=due,
            decision=ReviewDecision.POSTPONE,
            reason="Encore sensible",
            postpone_to=_today(),
        )
    review.decide(
        actor=officer,
        dispatch=due,
        decision=ReviewDecision.POSTPONE,
        reason="Encore sensible",
        postpone_to=_today() + timedelta(days=365),
    )
    assert due not in list(review.review_queue(officer))
    # Back in the queue when the date comes again (simulated by moving it), then confirmed.
    Dispatch.objects.unrestricted("t").filter(pk=due.pk).update(declassify_on=_today())
    result = review.decide(
        actor=officer,
        dispatch=due,
        decision=ReviewDecision.CONFIRM,
        reason="Plus sensible",
        classification=Level.UNCLASSIFIED,
    )
    assert result.marking_change is not None
    assert MarkingChange.objects.get(dispatch=due).to_level == Level.UNCLASSIFIED
    assert Dispatch.objects.unrestricted("t").get(pk=due.pk).classification == Level.UNCLASSIFIED
    # Refuse: the marking stays and the review date is cleared.
    third = sent(ministry, classification=Level.CONFIDENTIAL, author="hom.dakar", declassify_on=_today())
    review.decide(actor=officer, dispatch=third, decision=ReviewDecision.REFUSE, reason="Source protégée")
    refreshed = Dispatch.objects.unrestricted("t").get(pk=third.pk)
    assert refreshed.classification == Level.CONFIDENTIAL and refreshed.declassify_on is None


def test_deputy_acts_on_attributions_and_the_log_names_both(ministry):
    from chancery.audit.models import AuditEvent
    from chancery.correspondence import history

    u = ministry.users
    set_absence(
        actor=u["head.dab1"],
        agent=u["head.dab1"],
        deputy=u["head.dab2"],
        start_date=_today(),
        end_date=_today() + timedelta(days=2),
    )
    d = sent(ministry, routings=(("DAB/1", "action"),))
    deputy = _fresh(u["head.dab2"])
    services.acknowledge(actor=deputy, dispatch=d, unit="DAB/1")
    event = AuditEvent.objects.unrestricted("t").filter(action="correspondence.acknowledged", object_id=str(d.pk)).get()
    assert event.actor == deputy and event.details["on_behalf_of"] == "head.dab1"
    entries = [e for e in history.history(deputy, d) if e.on_behalf_of]
    assert entries and entries[0].on_behalf_of == "head.dab1"
