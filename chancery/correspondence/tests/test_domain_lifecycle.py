"""The dispatch lifecycle through the services: draft → validate → send → acknowledge →
assign → reply → close, with numbering, signatures, conflicts and permissions."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404

from chancery.audit.models import AuditEvent
from chancery.correspondence import selectors, services
from chancery.correspondence.models import Dispatch, DispatchStatus, Routing, RoutingStatus
from chancery.correspondence.signatures import verify_dispatch
from chancery.correspondence.tests.domain_helpers import PDF, draft, inbox_keys_out_of_step, sent

pytestmark = pytest.mark.django_db


def test_full_lifecycle(ministry: Any) -> None:
    users = ministry.users
    d = draft(ministry, routings=[("DAB/1", "action"), ("DG7/1", "info")], attachments=[("programme.pdf", PDF)])
    assert d.status == DispatchStatus.DRAFT and d.reference is None and d.version == 1
    # the routed units do not see a draft
    assert not Dispatch.objects.visible_to(users["desk.dab1"]).filter(pk=d.pk).exists()

    assert inbox_keys_out_of_step() == []  # a draft's routings: no sent_at yet
    d = services.validate_dispatch(actor=users["hom.dakar"], dispatch=d)
    assert d.status == DispatchStatus.VALIDATED and d.validated_by == users["hom.dakar"]
    d = services.send_dispatch(actor=users["hom.dakar"], dispatch=d)
    assert d.status == DispatchStatus.SENT
    assert inbox_keys_out_of_step() == []  # sent_at copied onto the routings when released
    assert d.reference == f"DAKAR/{d.year}/0001" and d.number == 1
    assert verify_dispatch(d).valid

    desk = users["desk.dab1"]
    assert selectors.dispatch_detail(desk, d.pk).pk == d.pk
    counts = selectors.inbox_counts(desk)
    assert counts["unacknowledged"] == 1
    routing = services.acknowledge(actor=desk, dispatch=d, unit=ministry.units["DAB/1"])
    assert routing.status == RoutingStatus.ACKNOWLEDGED and routing.acknowledged_by == desk
    assert selectors.inbox_counts(desk)["unacknowledged"] == 0

    routing = services.assign(actor=users["head.dab1"], dispatch=d, unit="DAB/1", assignee=desk)
    assert routing.status == RoutingStatus.ASSIGNED and routing.assigned_to == desk

    answer = services.reply(actor=desk, dispatch=d)
    assert answer.in_reply_to_id == d.pk and answer.sending_unit.code == "DAB/1"
    assert list(answer.cites.values_list("pk", flat=True)) == [d.pk]
    assert selectors.dispatch_subject(answer).startswith("Re: ")
    assert [(r.unit.code, r.kind) for r in answer.routings.all()] == [("DAKAR", "action")]
    answer = services.send_dispatch(actor=users["head.dab1"], dispatch=answer)
    routing.refresh_from_db()
    assert routing.status == RoutingStatus.ANSWERED and routing.answer_id == answer.pk

    info = services.mark_read(actor=users["head.dg71"], dispatch=d, unit="DG7/1")
    assert info.status == RoutingStatus.READ

    services.close_routing(actor=desk, dispatch=d, unit="DAB/1")
    d.refresh_from_db()
    assert d.status == DispatchStatus.CLOSED
    # every step (acknowledge, assign, answer, read, close) kept the inbox's stored keys in step
    assert inbox_keys_out_of_step() == []
    assert not Routing.objects.of_dispatch(d).filter(open_rank=1).exists()
    actions = set(AuditEvent.objects.filter(object_id=str(d.pk)).values_list("action", flat=True))
    assert {"correspondence.sent", "correspondence.acknowledged", "correspondence.assigned"} <= actions


def test_sent_dispatch_is_frozen_and_send_is_idempotent(ministry: Any) -> None:
    users = ministry.users
    d = sent(ministry)
    again = services.send_dispatch(actor=users["hom.dakar"], dispatch=d)
    assert again.reference == d.reference and again.number == 1
    with pytest.raises(services.InvalidState):
        services.update_draft(actor=users["counsellor.dakar"], dispatch=d, expected_version=d.version, subject="x")
    with pytest.raises(services.InvalidState):
        services.add_attachment(actor=users["counsellor.dakar"], dispatch=d, filename="a.pdf", source=PDF)


def test_numbers_follow_per_unit(ministry: Any) -> None:
    a = sent(ministry)
    b = sent(ministry)
    c = sent(ministry, author="desk.dab1", unit="DAB/1", head="head.dab1", routings=[("DAKAR", "action")])
    assert (a.number, b.number, c.number) == (1, 2, 1)
    assert c.reference == f"DAB/1/{c.year}/0001"


def test_draft_conflict(ministry: Any) -> None:
    users = ministry.users
    d = draft(ministry)
    first = services.update_draft(actor=users["counsellor.dakar"], dispatch=d.pk, expected_version=1, subject="One")
    assert first.version == 2
    with pytest.raises(services.DraftConflict) as info:
        services.update_draft(actor=users["hom.dakar"], dispatch=d.pk, expected_version=1, subject="Two")
    assert info.value.current_version == 2
    d.refresh_from_db()
    assert selectors.dispatch_subject(d) == "One"


def test_capabilities(ministry: Any) -> None:
    users = ministry.users
    d = draft(ministry)
    with pytest.raises(services.NotAllowed):
        services.send_dispatch(actor=users["counsellor.dakar"], dispatch=d)
    with pytest.raises(services.NotAllowed):
        services.validate_dispatch(actor=users["clerk.dakar"], dispatch=d)
    with pytest.raises(Http404):  # out of scope: 404, not 403
        services.send_dispatch(actor=users["hom.lima"], dispatch=d)
    with pytest.raises(services.NotAllowed):
        services.create_draft(actor=users["counsellor.lima"], sending_unit=ministry.units["DAKAR"], subject="x")


def test_field_errors(ministry: Any) -> None:
    user = ministry.users["counsellor.dakar"]
    with pytest.raises(ValidationError) as info:
        services.create_draft(
            actor=user,
            sending_unit=ministry.units["DAKAR"],
            subject="  ",
            routings=[services.RoutingSpec(unit="NOPE/9")],
            cites=["DAKAR/1999/0001"],
        )
    errors = info.value.message_dict
    assert set(errors) >= {"subject", "routings", "cites"}
    assert "NOPE/9" in errors["routings"][0]


def test_cannot_cite_what_one_cannot_see(ministry: Any) -> None:
    hidden = sent(ministry, author="counsellor.lima", unit="LIMA", head="hom.lima", routings=[("DAM/2", "action")])
    with pytest.raises(ValidationError) as info:
        draft(ministry, cites=[hidden.reference])
    assert str(hidden.reference) in info.value.message_dict["cites"][0]


def test_body_is_sanitised(ministry: Any) -> None:
    d = draft(ministry, body='<p onclick="x()">Bonjour<script>alert(1)</script></p>')
    assert selectors.dispatch_body(d) == "<p>Bonjour</p>"


def test_register_incoming(ministry: Any) -> None:
    clerk = ministry.users["clerk.sgbo"]
    d = services.register_incoming(
        actor=clerk,
        unit=ministry.units["SG/BO"],
        sender_name="Chambre de commerce",
        external_reference="CC/2026/17",
        subject="Invitation à une foire commerciale",
        routings=[services.RoutingSpec(unit="DG3/1", kind="action")],
        attachments=[("invitation.pdf", PDF)],
    )
    assert d.direction == "incoming" and d.status == DispatchStatus.SENT
    assert (d.reference or "").startswith("SG/BO/")
    assert d.attachments.count() == 1
    assert verify_dispatch(d).valid
    assert Dispatch.objects.visible_to(ministry.users["head.dg31"]).filter(pk=d.pk).exists()
    assert Dispatch.objects.visible_to(clerk).filter(pk=d.pk).exists()
    with pytest.raises(services.NotAllowed):
        services.register_incoming(
            actor=ministry.users["desk.dab1"],
            unit=ministry.units["DAB/1"],
            sender_name="x",
            subject="y",
            routings=[services.RoutingSpec(unit="DG3/1")],
        )


def test_assignee_must_belong_to_unit(ministry: Any) -> None:
    d = sent(ministry)
    with pytest.raises(ValidationError):
        services.assign(
            actor=ministry.users["head.dab1"], dispatch=d, unit="DAB/1", assignee=ministry.users["desk.dab2"]
        )
    assert Routing.objects.get(dispatch=d).status == RoutingStatus.PENDING


def test_remove_attachment_renumbers(ministry: Any) -> None:
    user = ministry.users["counsellor.dakar"]
    d = draft(ministry, attachments=[("a.pdf", PDF), ("b.txt", b"deux"), ("c.txt", b"trois")])
    services.remove_attachment(actor=user, dispatch=d, position=1)
    assert [(a.position, a.filename) for a in d.attachments.order_by("position")] == [(1, "b.txt"), (2, "c.txt")]


def test_inbox_puts_overdue_first_and_counts_them(ministry: Any) -> None:
    import datetime

    from django.utils import timezone

    from chancery.correspondence.models import RoutingKind

    desk = ministry.users["desk.dab1"]
    on_time = sent(ministry, subject="Statistiques consulaires")
    late = sent(ministry, subject="Foire commerciale")
    three_days_ago = timezone.localdate() - datetime.timedelta(days=3)
    # the stored inbox key moves with the due date (the table's check constraint)
    late_routings = Routing.objects.filter(dispatch=late, kind=RoutingKind.ACTION)
    late_routings.update(due_date=three_days_ago, due_key=three_days_ago)
    inbox = list(selectors.inbox(desk))
    assert [r.dispatch_id for r in inbox] == [late.pk, on_time.pk]
    assert inbox[0].overdue == 1 and inbox[0].is_overdue  # type: ignore[attr-defined]
    assert not inbox[1].is_overdue
    assert [r.dispatch_id for r in selectors.inbox(desk, overdue_only=True)] == [late.pk]
    assert selectors.inbox_counts(desk)["overdue"] == 1
    services.close_routing(actor=desk, dispatch=late, unit="DAB/1")
    assert selectors.inbox_counts(desk)["overdue"] == 0
    assert [r.dispatch_id for r in selectors.inbox(desk, status="open")] == [on_time.pk]


def test_home_panel_and_lists(ministry: Any) -> None:
    from django.contrib.auth.models import AnonymousUser

    d = sent(ministry, subject="Semaine culturelle")
    draft(ministry, subject="Brouillon")
    panel = selectors.home_panel(user=ministry.users["desk.dab1"])
    assert panel is not None and panel["template"] == "correspondence/_home_panel.html"
    assert panel["counts"]["unacknowledged"] == 1
    # The panel lists references, units and due dates; no subject is shown, so none is decrypted.
    assert [r.dispatch_id for r in panel["inbox"]] == [d.pk]
    assert not hasattr(panel["inbox"][0].dispatch, "subject_text")
    assert selectors.home_panel(user=AnonymousUser()) is None
    author = ministry.users["counsellor.dakar"]
    assert [x.pk for x in selectors.outbox(author)] == [d.pk]
    assert [selectors.dispatch_subject(x) for x in selectors.drafts(author)] == ["Brouillon"]
    assert selectors.drafts(ministry.users["desk.dab1"]).count() == 0
    actions = selectors.allowed_actions(ministry.users["head.dab1"], d)
    assert actions["acknowledge"] and actions["reply"] and not actions["send"] and actions["grant"]
    assert not selectors.allowed_actions(author, d)["acknowledge"]
