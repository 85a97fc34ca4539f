"""Validation circuits: sequential visas, parallel opinions, return with a remark,
re-submission, the last visa signing and sending; refusals for missing or uncleared holders."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from chancery.audit.models import AuditEvent
from chancery.core.classification import Level
from chancery.correspondence import circuits, services
from chancery.correspondence.models import Dispatch, DispatchStatus
from chancery.correspondence.signatures import verify_dispatch
from chancery.correspondence.tests.domain_helpers import draft
from chancery.correspondence.workflow_models import CircuitStep, Opinion, StepKind, StepStatus
from chancery.notifications.models import Notification, Verb

pytestmark = pytest.mark.django_db


def _confidential_draft(ministry, **extra):
    return draft(
        ministry,
        author="desk.dab1",
        unit="DAB/1",
        routings=(("DAKAR", "action"),),
        classification=Level.CONFIDENTIAL,
        subject="Visite ministérielle : éléments de langage",
        **extra,
    )


def _notified(user, verb, dispatch) -> bool:
    return (
        Notification.objects.unrestricted("test").filter(recipient=user, verb=verb, target_id=str(dispatch.pk)).exists()
    )


def test_sequential_and_parallel_circuit_return_resubmit_and_sign_at_last_visa(ministry):
    u = ministry.users
    d = _confidential_draft(ministry)
    steps = circuits.submit(
        actor=u["desk.dab1"], dispatch=d, opinions=[ministry.units["DG3/1"], ministry.units["DG7/1"]]
    )
    # visa DAB/1, then two opinions in parallel, then the final visa of the parent unit (Confidentiel).
    assert [(s.position, s.kind, s.unit.code) for s in steps] == [
        (1, StepKind.VISA, "DAB/1"),
        (2, StepKind.AVIS, "DG3/1"),
        (2, StepKind.AVIS, "DG7/1"),
        (3, StepKind.VISA, "DAB"),
    ]
    d.refresh_from_db()
    assert d.status == DispatchStatus.SUBMITTED
    assert _notified(u["head.dab1"], Verb.DISPATCH_TO_VALIDATE, d)
    assert not _notified(u["director.dab"], Verb.DISPATCH_TO_VALIDATE, d)
    # The drafter cannot edit while it is in the circuit; the consulted unit cannot act yet.
    with pytest.raises(services.InvalidState):
        services.update_draft(actor=u["desk.dab1"], dispatch=d, expected_version=d.version, subject="x")
    with pytest.raises(services.NotAllowed):
        circuits.give_opinion(actor=u["head.dg31"], dispatch=d, opinion=Opinion.FAVOURABLE)
    # Returned with a remark.
    with pytest.raises(ValidationError):
        circuits.return_draft(actor=u["head.dab1"], dispatch=d, comment="  ")
    circuits.return_draft(actor=u["head.dab1"], dispatch=d, comment="Préciser la date de la visite.")
    d.refresh_from_db()
    assert d.status == DispatchStatus.DRAFT
    assert _notified(u["desk.dab1"], Verb.DISPATCH_RETURNED, d)
    returned = [s for s in circuits.circuit_steps(d) if s.status == StepStatus.RETURNED]
    assert returned[0].comment == "Préciser la date de la visite."  # type: ignore[attr-defined]
    # The remark is not stored in clear.
    raw = CircuitStep.objects.get(pk=returned[0].pk)
    assert b"visite" not in bytes(raw.comment_ciphertext or b"")
    # Corrected and re-submitted: a new round.
    services.update_draft(
        actor=u["desk.dab1"], dispatch=d, expected_version=d.version, body="<p>La visite aura lieu le 12 mars.</p>"
    )
    circuits.submit(actor=u["desk.dab1"], dispatch=d, opinions=[ministry.units["DG3/1"]])
    assert {s.round for s in circuits.circuit_steps(d)} == {2}
    circuits.approve(actor=u["head.dab1"], dispatch=d)
    assert _notified(u["head.dg31"], Verb.OPINION_REQUESTED, d)
    # The consulted unit reads the draft under the gate (clearance permitting).
    assert Dispatch.objects.visible_to(u["head.dg31"]).filter(pk=d.pk).exists()
    with pytest.raises(ValidationError):
        circuits.give_opinion(actor=u["head.dg31"], dispatch=d, opinion=Opinion.UNFAVOURABLE)  # needs a remark
    circuits.give_opinion(
        actor=u["head.dg31"], dispatch=d, opinion=Opinion.RESERVED, comment="Ajouter le volet commercial."
    )
    assert _notified(u["director.dab"], Verb.DISPATCH_TO_VALIDATE, d)
    with pytest.raises(services.NotAllowed):
        circuits.approve(actor=u["head.dab1"], dispatch=d)  # not their step any more
    sent = circuits.approve(actor=u["director.dab"], dispatch=d)
    assert sent.status == DispatchStatus.SENT and sent.reference
    assert verify_dispatch(Dispatch.objects.unrestricted("test").get(pk=d.pk)).valid
    actions = list(AuditEvent.objects.unrestricted("test").filter(object_id=str(d.pk)).values_list("action", flat=True))
    for action in (
        "correspondence.submitted",
        "correspondence.returned",
        "correspondence.visa_given",
        "correspondence.opinion_given",
        "correspondence.sent",
    ):
        assert action in actions


def test_unclassified_draft_has_one_visa_which_signs(ministry):
    u = ministry.users
    d = draft(ministry)  # DAKAR, unclassified
    steps = circuits.submit(actor=u["counsellor.dakar"], dispatch=d)
    assert [(s.kind, s.unit.code) for s in steps] == [(StepKind.VISA, "DAKAR")]
    sent = circuits.approve(actor=u["hom.dakar"], dispatch=d)
    assert sent.status == DispatchStatus.SENT


def test_direct_send_refused_while_in_circuit(ministry):
    u = ministry.users
    d = draft(ministry)
    circuits.submit(actor=u["counsellor.dakar"], dispatch=d)
    with pytest.raises(services.InvalidState):
        services.send_dispatch(actor=u["hom.dakar"], dispatch=d)


def test_extra_visa_by_uncleared_agent_refused(ministry):
    u = ministry.users
    d = draft(ministry, author="director.dab", unit="DAB", classification=Level.SECRET, routings=(("DAKAR", "action"),))
    # head.dab1 heads DAB/1 (not DAB nor its parent) — and is only cleared Confidentiel.
    with pytest.raises(ValidationError) as exc:
        circuits.submit(actor=u["director.dab"], dispatch=d, extra_visas=[u["head.dab1"]])
    assert "extra_visas" in exc.value.message_dict
    assert Dispatch.objects.unrestricted("test").get(pk=d.pk).status == DispatchStatus.DRAFT
    assert not CircuitStep.objects.filter(dispatch=d).exists()


def test_no_validator_available_names_the_missing_role(ministry):
    u = ministry.users
    # A Secret draft of DAB/1 (drafted by its director, cleared Secret? no: head.dab1 is Confidentiel).
    d = draft(ministry, author="director.dab", unit="DAB", classification=Level.SECRET, routings=(("DAKAR", "action"),))
    with pytest.raises(ValidationError) as exc:
        circuits.submit(actor=u["director.dab"], dispatch=d, opinions=[ministry.units["DG3/1"]])
    message = " ".join(exc.value.messages)
    assert "DG3/1" in message
    assert Dispatch.objects.unrestricted("test").get(pk=d.pk).status == DispatchStatus.DRAFT
