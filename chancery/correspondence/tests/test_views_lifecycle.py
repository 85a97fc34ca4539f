"""The dispatch lifecycle through the pages: draft → validate → send → acknowledge →
assign → reply → close, with notifications (in the application and by e-mail through a
real SMTP server), conflicts, field errors, sanitising, registry, marking and grants."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from chancery.correspondence.models import Direction, Dispatch, DispatchStatus, Routing, RoutingStatus
from chancery.correspondence.tests.views_helpers import BODY, PDF, SECRET_WORDS, SUBJECT, build_world, make_draft
from chancery.notifications.models import Notification, Verb
from chancery.notifications.testing import smtp_server, use_smtp

pytestmark = pytest.mark.django_db


def draft_data(**overrides):
    data = {
        "sending_unit": "DAKAR",
        "kind": "dispatch",
        "direction": "outgoing",
        "subject": SUBJECT,
        "body": BODY,
        "classification": "1",
        "transmission": "clear",
        "declassify_on": "",
        "info_units": ["DG7/6"],
        "cites": "",
        "external_references": "MAE/2026/77",
        "tags": "SN, CULT",
        "action-TOTAL_FORMS": "3",
        "action-INITIAL_FORMS": "0",
        "action-MIN_NUM_FORMS": "0",
        "action-MAX_NUM_FORMS": "20",
        "action-0-unit": "DAB/1",
        "action-0-due_date": (timezone.localdate() + timedelta(days=10)).isoformat(),
        "action-1-unit": "",
        "action-1-due_date": "",
        "action-2-unit": "",
        "action-2-due_date": "",
    }
    data.update(overrides)
    return data


def _english(client):
    client.cookies["chancery_language"] = "en"
    return client


def _dispatch_from(response) -> Dispatch:
    assert response.status_code == 302, response.content.decode()[:2000]
    pk = int(response["Location"].rstrip("/").split("/")[-1])
    return Dispatch.objects.unrestricted("test").get(pk=pk)


def test_full_lifecycle_through_the_pages(ministry, client_for, settings, django_capture_on_commit_callbacks):
    settings.CHANCERY_BASE_URL = "https://chancery.test"
    counsellor = client_for("counsellor.dakar")
    upload = SimpleUploadedFile("note.pdf", PDF, content_type="application/pdf")
    dispatch = _dispatch_from(counsellor.post(reverse("correspondence:new"), {**draft_data(), "attachments": upload}))
    assert dispatch.status == DispatchStatus.DRAFT and dispatch.attachments.count() == 1
    assert dispatch.subject == ""  # restricted: stored encrypted
    head = client_for("hom.dakar")
    assert head.post(reverse("correspondence:validate", args=[dispatch.pk])).status_code == 302
    dispatch.refresh_from_db()
    assert dispatch.status == DispatchStatus.VALIDATED

    with smtp_server() as sink:
        use_smtp(settings, sink)
        with django_capture_on_commit_callbacks(execute=True):
            response = head.post(reverse("correspondence:send", args=[dispatch.pk]))
        assert response.status_code == 302
        dispatch.refresh_from_db()
        assert dispatch.status == DispatchStatus.SENT and dispatch.reference
        # The agents handling DAB/1's attributions are told, in the app and by e-mail.
        told = set(
            Notification.objects.unrestricted("test")
            .filter(target_id=str(dispatch.pk), verb=Verb.DISPATCH_ATTRIBUTED)
            .values_list("recipient__username", flat=True)
        )
        assert told == {"desk.dab1", "head.dab1"}
        assert sorted(m["To"] for m in sink.messages) == ["desk.dab1@ministry.invalid", "head.dab1@ministry.invalid"]
        link = f"https://chancery.test/correspondence/dispatches/{dispatch.pk}/"
        for raw, text in zip(sink.raw, sink.texts(), strict=True):
            assert link in text
            for word in [*SECRET_WORDS, dispatch.reference, "SN", "CULT"]:
                assert word.encode() not in raw and word not in text, word

    desk = client_for("desk.dab1")
    counter = desk.get(reverse("notifications:counter"), HTTP_HX_REQUEST="true").content.decode()
    assert ">1<" in counter
    routing = Routing.objects.get(dispatch=dispatch, unit__code="DAB/1")
    assert desk.post(reverse("correspondence:acknowledge", args=[dispatch.pk, routing.pk])).status_code == 302
    routing.refresh_from_db()
    assert routing.status == RoutingStatus.ACKNOWLEDGED

    with smtp_server() as sink:
        use_smtp(settings, sink)
        with django_capture_on_commit_callbacks(execute=True):
            response = client_for("head.dab1").post(
                reverse("correspondence:assign", args=[dispatch.pk, routing.pk]), {"assignee": "desk.dab1"}
            )
        assert response.status_code == 302
        assert [m["To"] for m in sink.messages] == ["desk.dab1@ministry.invalid"]
    routing.refresh_from_db()
    assert routing.status == RoutingStatus.ASSIGNED
    assert routing.assigned_to is not None and routing.assigned_to.username == "desk.dab1"
    assert Notification.objects.unrestricted("test").filter(
        recipient__username="desk.dab1", verb=Verb.DISPATCH_ASSIGNED
    ).exists()

    # Reply: a new draft of DAB/1 citing the original, at least as protected.
    form = desk.get(reverse("correspondence:reply", args=[dispatch.pk])).content.decode()
    assert "Re: " + SUBJECT in form
    response = desk.post(
        reverse("correspondence:reply", args=[dispatch.pk]),
        {"unit": "DAB/1", "subject": "Re: " + SUBJECT, "body": "Agreed.", "classification": "1"},
    )
    assert response.status_code == 302 and "/edit/" in response["Location"]
    answer = Dispatch.objects.unrestricted("test").get(in_reply_to=dispatch)
    assert answer.sending_unit.code == "DAB/1" and answer.classification == 1
    assert client_for("head.dab1").post(reverse("correspondence:send", args=[answer.pk])).status_code == 302
    routing.refresh_from_db()
    assert routing.status == RoutingStatus.ANSWERED
    # Both ends see the thread.
    original_page = counsellor.get(reverse("correspondence:detail", args=[dispatch.pk])).content.decode()
    answer.refresh_from_db()
    assert answer.reference in original_page
    closing = client_for("head.dab1").post(reverse("correspondence:close", args=[dispatch.pk, routing.pk]))
    assert closing.status_code == 302
    routing.refresh_from_db()
    assert routing.status == RoutingStatus.CLOSED


def test_information_copy_is_marked_read(ministry, client_for):
    world = build_world(ministry)
    routing = world.routing(world.sent, "DG7/6")
    response = client_for("desk.dg76").post(reverse("correspondence:mark_read", args=[world.sent.pk, routing.pk]))
    assert response.status_code == 302
    routing.refresh_from_db()
    assert routing.status == RoutingStatus.READ


def test_actions_out_of_role_answer_404(ministry, client_for):
    world = build_world(ministry)
    routing = world.routing(world.sent, "DAB/1")
    # counsellor.dakar reads the dispatch but cannot acknowledge for DAB/1 nor change markings.
    client = client_for("counsellor.dakar")
    assert client.post(reverse("correspondence:acknowledge", args=[world.sent.pk, routing.pk])).status_code == 404
    assert client.post(reverse("correspondence:change_marking", args=[world.sent.pk]),
                       {"classification": "0", "reason": "x"}).status_code == 404
    assert client.post(reverse("correspondence:send", args=[world.draft.pk])).status_code == 404
    world.draft.refresh_from_db()
    assert world.draft.status == DispatchStatus.DRAFT


def test_concurrent_edit_gives_a_conflict_and_keeps_the_text(ministry, client_for):
    draft = make_draft(ministry, subject="Harbour works", body="<p>First text.</p>")
    first, second = client_for("counsellor.dakar"), _english(client_for("hom.dakar"))
    common = draft_data(classification="0", info_units=[], version=str(draft.version))
    common.pop("sending_unit")
    saved = first.post(reverse("correspondence:edit", args=[draft.pk]), {**common, "subject": "Harbour A"})
    assert saved.status_code == 302
    response = second.post(
        reverse("correspondence:edit", args=[draft.pk]), {**common, "subject": "Harbour B", "body": "My long text."}
    )
    assert response.status_code == 409
    body = response.content.decode()
    assert "changed by someone else" in body
    assert 'value="Harbour B"' in body and "My long text." in body
    draft.refresh_from_db()
    assert draft.subject == "Harbour A"


def test_field_errors_in_the_agent_language(ministry, client_for):
    english = _english(client_for("counsellor.dakar"))
    response = english.post(reverse("correspondence:new"), draft_data(subject="", cites="NOWHERE/2020/0001"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "This field is required." in body
    french = client_for("counsellor.dakar")
    french.cookies["chancery_language"] = "fr"
    body = french.post(reverse("correspondence:new"), draft_data(subject="")).content.decode()
    assert "Ce champ est obligatoire." in body
    # Rule errors from the service: unknown cited reference, on its field; the text is kept.
    body = english.post(reverse("correspondence:new"), draft_data(cites="NOWHERE/2020/0001")).content.decode()
    assert "NOWHERE/2020/0001" in body and 'id="id_cites_error"' in body
    assert SUBJECT in body
    assert not Dispatch.objects.unrestricted("test").filter(author__username="counsellor.dakar").exists()


def test_unknown_and_out_of_scope_references_get_the_same_error(ministry, client_for):
    world = build_world(ministry)
    client = _english(client_for("counsellor.dakar"))
    unknown = client.post(reverse("correspondence:new"), draft_data(cites="LIMA/2026/9999")).content.decode()
    hidden = client.post(reverse("correspondence:new"), draft_data(cites=world.lima.reference)).content.decode()

    def error(text):
        start = text.index('id="id_cites_error"')
        return text[start: text.index("</div>", start)]

    assert world.lima.reference
    assert error(unknown).replace("9999", "X") == error(hidden).replace(world.lima.reference.split("/")[-1], "X")


def test_body_is_sanitised_server_side(ministry, client_for):
    client = client_for("counsellor.dakar")
    evil = (
        '<p onclick="steal()">Hello <strong>there</strong></p><script>alert(1)</script><a href="javascript:x()">l</a>'
        '<h3>Heading</h3><img src="x" onerror="boom()"><table><tr><td>cell</td></tr></table><style>p{}</style>'
    )
    dispatch = _dispatch_from(client.post(reverse("correspondence:new"), draft_data(classification="0", body=evil)))
    page = client.get(reverse("correspondence:detail", args=[dispatch.pk])).content.decode()
    assert "<strong>there</strong>" in page
    assert "onclick" not in page and "alert(1)" not in page and "javascript:" not in page
    assert "<h3>Heading</h3>" in page and "cell" in page
    assert "onerror" not in page and "<img" not in page and "<table>" not in page and "p{}" not in page


def test_plain_text_body_becomes_paragraphs(ministry, client_for):
    client = client_for("counsellor.dakar")
    dispatch = _dispatch_from(
        client.post(reverse("correspondence:new"), draft_data(classification="0", body="One & two\nnext\n\nThree"))
    )
    page = client.get(reverse("correspondence:detail", args=[dispatch.pk])).content.decode()
    assert "<p>One &amp; two<br>next</p><p>Three</p>" in page


def test_refused_upload_creates_nothing(ministry, client_for):
    client = _english(client_for("counsellor.dakar"))
    fake = SimpleUploadedFile("report.pdf", b"MZ\x90\x00 not a pdf", content_type="application/pdf")
    response = client.post(reverse("correspondence:new"), {**draft_data(), "attachments": fake})
    assert response.status_code == 200 and "report.pdf" in response.content.decode()
    assert not Dispatch.objects.unrestricted("test").filter(author__username="counsellor.dakar").exists()


def test_edit_adds_and_removes_attachments(ministry, client_for):
    draft = make_draft(ministry, subject="Harbour works")
    client = client_for("counsellor.dakar")
    data = draft_data(classification="0", version=str(draft.version), subject="Harbour works")
    data.pop("sending_unit")
    upload = SimpleUploadedFile("annex.pdf", PDF, content_type="application/pdf")
    saved = client.post(reverse("correspondence:edit", args=[draft.pk]), {**data, "attachments": upload})
    assert saved.status_code == 302
    assert draft.attachments.count() == 1
    form = client.get(reverse("correspondence:edit", args=[draft.pk])).content.decode()
    assert "annex.pdf" in form and 'name="version" value="2"' in form
    assert client.post(reverse("correspondence:remove_attachment", args=[draft.pk, 1])).status_code == 302
    assert draft.attachments.count() == 0


def test_registry_clerk_registers_incoming_correspondence(ministry, client_for):
    client = client_for("clerk.sgbo")
    data = {
        "unit": "SG/BO", "kind": "letter", "sender_name": "Ministry of Fisheries", "external_reference": "MF/12/2026",
        "dated": (timezone.localdate() - timedelta(days=2)).isoformat(), "place": "Dakar",
        "subject": "Fishing agreement renewal", "body": "Letter text", "classification": "0",
        "transmission": "clear", "info_units": [], "cites": "", "external_references": "", "tags": "",
        "action-TOTAL_FORMS": "1", "action-INITIAL_FORMS": "0", "action-MIN_NUM_FORMS": "0",
        "action-MAX_NUM_FORMS": "20", "action-0-unit": "DAB/1", "action-0-due_date": "",
    }
    dispatch = _dispatch_from(client.post(reverse("correspondence:register_incoming"), data))
    assert dispatch.direction == Direction.INCOMING and dispatch.external_reference == "MF/12/2026"
    assert dispatch.status == DispatchStatus.SENT and (dispatch.reference or "").startswith("SG/BO/")
    page = client_for("desk.dab1").get(reverse("correspondence:detail", args=[dispatch.pk])).content.decode()
    assert "MF/12/2026" in page and "Ministry of Fisheries" in page
    future = {**data, "dated": (timezone.localdate() + timedelta(days=3)).isoformat()}
    assert client.post(reverse("correspondence:register_incoming"), future).status_code == 200


def test_security_officer_downgrades_with_a_reason(ministry, client_for):
    world = build_world(ministry)
    client = client_for("security")
    url = reverse("correspondence:change_marking", args=[world.sent.pk])
    assert client.post(url, {"classification": "0", "reason": ""}).status_code == 302
    world.sent.refresh_from_db()
    assert world.sent.classification == 1  # no reason, no change
    when = (timezone.localdate() + timedelta(days=365)).isoformat()
    assert client.post(url, {"classification": "0", "reason": "Published", "declassify_on": when}).status_code == 302
    world.sent.refresh_from_db()
    assert world.sent.classification == 0
    page = client.get(reverse("correspondence:detail", args=[world.sent.pk])).content.decode()
    assert "Published" in page and "marking-top" in page


def test_head_of_unit_grants_access(ministry, client_for):
    world = build_world(ministry)
    url = reverse("correspondence:detail", args=[world.sent.pk])
    assert client_for("plan.sg4").get(url).status_code == 404
    response = client_for("hom.dakar").post(
        reverse("correspondence:grant", args=[world.sent.pk]), {"username": "plan.sg4", "reason": "Planning review"}
    )
    assert response.status_code == 302
    assert client_for("plan.sg4").get(url).status_code == 200


def test_thread_shows_only_what_the_reader_may_see(ministry, client_for):
    world = build_world(ministry)
    desk = client_for("desk.dab1")
    response = desk.post(
        reverse("correspondence:reply", args=[world.sent.pk]),
        {"unit": "DAB/1", "subject": "Confidential answer", "body": "x", "classification": "2"},
    )
    assert response.status_code == 302
    answer = Dispatch.objects.unrestricted("test").get(in_reply_to=world.sent)
    client_for("head.dab1").post(reverse("correspondence:send", args=[answer.pk]))
    answer.refresh_from_db()
    assert answer.status == DispatchStatus.SENT
    # hom.dakar (Secret) sees the answer in the thread; counsellor.dakar (Restreint) does not.
    url = reverse("correspondence:detail", args=[world.sent.pk])
    assert answer.reference in client_for("hom.dakar").get(url).content.decode()
    page = client_for("counsellor.dakar").get(url).content.decode()
    assert answer.reference not in page and "Confidential answer" not in page
    # The page banner covers the most protected item shown.
    assert "marking-level-2 marking-top" in client_for("hom.dakar").get(url).content.decode()


def test_reply_cannot_write_down(ministry, client_for):
    world = build_world(ministry)
    response = _english(client_for("desk.dab1")).post(
        reverse("correspondence:reply", args=[world.sent.pk]),
        {"unit": "DAB/1", "subject": "Lower", "body": "x", "classification": "0"},
    )
    assert response.status_code == 200
    assert "lower marking" in response.content.decode()
    assert not Dispatch.objects.unrestricted("test").filter(in_reply_to=world.sent).exists()


def test_double_send_gives_one_number(ministry, client_for):
    draft = make_draft(ministry)
    client = client_for("hom.dakar")
    client.post(reverse("correspondence:send", args=[draft.pk]))
    client.post(reverse("correspondence:send", args=[draft.pk]))
    draft.refresh_from_db()
    assert draft.number == 1
    assert Dispatch.objects.unrestricted("test").filter(sending_unit__code="DAKAR", number__isnull=False).count() == 1
