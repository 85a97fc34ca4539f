"""The working day through the pages and the API: circuit buttons and remarks, history and
notes tabs, signature check, package download, review queue, reply templates, absences,
public keys; out-of-scope agents get 404 and bad input a clear message, never a 500."""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from chancery.accounts.services import issue_api_token
from chancery.core.classification import Level
from chancery.correspondence.models import Dispatch, DispatchStatus
from chancery.correspondence.package_format import check
from chancery.correspondence.tests.domain_helpers import draft, sent
from chancery.correspondence.workflow_models import DispatchNote, ReplyTemplate

pytestmark = pytest.mark.django_db


def _api(user) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {issue_api_token(user=user)}")


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def _status(d) -> str:
    return Dispatch.objects.unrestricted("t").get(pk=d.pk).status


def test_circuit_through_the_pages(ministry, client_for):
    d = draft(ministry, subject="Accord culturel : projet de lettre")
    url = f"/correspondence/dispatches/{d.pk}/"
    counsellor, hom, desk = client_for("counsellor.dakar"), client_for("hom.dakar"), client_for("desk.dab1")
    page = counsellor.get(url).content.decode()
    assert 'id="submit-for-validation"' in page
    response = counsellor.post(f"{url}submit/", {"opinions": ["DAB/1"]}, follow=True)
    assert response.status_code == 200 and _status(d) == DispatchStatus.SUBMITTED
    # The opinion comes first (just before the final visa): the head of mission cannot act yet.
    assert 'id="give-visa"' not in hom.get(url).content.decode()
    assert 'id="give-opinion"' in desk.get(url).content.decode()
    # A non-favourable opinion without a remark: a clear message, nothing saved.
    response = desk.post(f"{url}opinion/", {"opinion": "unfavourable", "comment": ""}, follow=True)
    assert response.status_code == 200 and _status(d) == DispatchStatus.SUBMITTED
    assert 'id="give-opinion"' in response.content.decode()
    desk.post(f"{url}opinion/", {"opinion": "reserved", "comment": "Citer l'accord de 2019."})
    page = hom.get(url).content.decode()
    assert 'id="give-visa"' in page and "Citer l&#x27;accord de 2019." in page
    # Return without a remark is refused; with one, the drafter sees it.
    hom.post(f"{url}return/", {"comment": ""})
    assert _status(d) == DispatchStatus.SUBMITTED
    hom.post(f"{url}return/", {"comment": "Ajouter la date de signature."})
    assert _status(d) == DispatchStatus.DRAFT
    assert "Ajouter la date de signature." in counsellor.get(url).content.decode()
    # Outsiders: 404 on every act.
    lima = client_for("hom.lima")
    for act in ("submit", "approve", "return", "opinion", "withdraw", "notes"):
        assert lima.post(f"{url}{act}/").status_code == 404, act
    for act in ("signature", "package"):
        assert lima.get(f"{url}{act}/").status_code == 404, act
    assert lima.get(url).status_code == 404
    counsellor.post(f"{url}submit/", {})
    response = hom.post(f"{url}approve/", {"comment": ""}, follow=True)
    assert _status(d) == DispatchStatus.SENT
    assert "signée et envoyée" in response.content.decode() or "signed and sent" in response.content.decode()
    history = counsellor.get(f"{url}?tab=history").content.decode()
    for label in ("Soumis pour validation", "Renvoyé", "Signé et envoyé"):
        assert label in history, label


def test_history_hides_drafting_from_recipients(ministry, client_for):
    d = draft(ministry, subject="Note interne")
    from chancery.correspondence import circuits

    circuits.submit(actor=ministry.users["counsellor.dakar"], dispatch=d)
    circuits.approve(actor=ministry.users["hom.dakar"], dispatch=d)
    sender_view = client_for("counsellor.dakar").get(f"/correspondence/dispatches/{d.pk}/?tab=history")
    recipient_view = client_for("desk.dab1").get(f"/correspondence/dispatches/{d.pk}/?tab=history")
    assert "Soumis pour validation" in sender_view.content.decode()
    assert "Soumis pour validation" not in recipient_view.content.decode()
    assert 'id="circuit"' in sender_view.content.decode()
    assert 'id="circuit"' not in recipient_view.content.decode()  # nor the circuit and its remarks
    assert _api(ministry.users["desk.dab1"]).get(f"/api/v1/dispatches/{d.pk}/circuit").json() == []
    assert "Signé et envoyé" in recipient_view.content.decode()


def test_notes_are_encrypted_and_kept_per_unit(ministry, client_for):
    d = sent(ministry, classification=Level.RESTRICTED, subject="Visite d'État")
    url = f"/correspondence/dispatches/{d.pk}/"
    desk = client_for("desk.dab1")
    desk.post(f"{url}notes/", {"text": "Appeler le protocole avant jeudi."})
    note = DispatchNote.objects.get(dispatch=d)
    assert note.unit.code == "DAB/1" and b"protocole" not in bytes(note.text_ciphertext)
    assert "Appeler le protocole" in desk.get(f"{url}?tab=notes").content.decode()
    # The sending unit does not see the receiving unit's notes.
    assert "Appeler le protocole" not in client_for("hom.dakar").get(f"{url}?tab=notes").content.decode()
    desk.post(f"{url}notes/", {"text": "   "})
    assert DispatchNote.objects.filter(dispatch=d).count() == 1


def test_signature_page_and_package_download(ministry, client_for):
    d = sent(ministry, subject="Programme définitif")
    url = f"/correspondence/dispatches/{d.pk}/"
    desk = client_for("desk.dab1")
    page = desk.get(f"{url}signature/").content.decode()
    assert 'id="signature-result"' in page and "alert-success" in page and "DAKAR" in page
    response = desk.get(f"{url}package/")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    data = _body(response)
    result = check(data)
    assert result.valid and result.reference == d.reference
    assert result.fingerprint in client_for("desk.dab1").get("/organisation/keys/").content.decode()
    # Public: no sign-in needed for the keys page and the keys API.
    assert result.fingerprint in Client().get("/organisation/keys/").content.decode()
    keys = Client().get("/api/v1/unit-keys").json()
    assert any(k["fingerprint"] == result.fingerprint and k["unit"] == "DAKAR" for k in keys)
    # A tampered row in the database: the page says invalid, the package is refused.
    Dispatch.objects.unrestricted("t").filter(pk=d.pk).update(subject="Programme modifié")
    assert "alert-danger" in desk.get(f"{url}signature/").content.decode()
    assert desk.get(f"{url}package/", follow=True).status_code == 200
    draft_one = draft(ministry)
    assert (
        client_for("counsellor.dakar").get(f"/correspondence/dispatches/{draft_one.pk}/signature/").status_code == 404
    )


def test_review_queue_page(ministry, client_for):
    d = sent(
        ministry,
        classification=Level.CONFIDENTIAL,
        author="hom.dakar",
        declassify_on=timezone.localdate() - timedelta(days=3),
        subject="Ancien télégramme",
    )
    other = sent(
        ministry,
        classification=Level.SECRET,
        author="hom.dakar",
        declassify_on=timezone.localdate() - timedelta(days=1),
        subject="Autre télégramme",
    )
    officer = client_for("security")
    page = officer.get("/correspondence/review/").content.decode()
    assert d.reference in page and "Ancien télégramme" in page
    # One decision form per row (rendered once, stamped per row): each posts to its own dispatch,
    # with its own field ids and the page's CSRF token.
    forms = re.findall(r'<form method="post" action="([^"]+)" class="mt-2 review-form">(.*?)</form>', page, re.S)
    assert [action for action, _ in forms] == [
        f"/correspondence/dispatches/{d.pk}/review/",
        f"/correspondence/dispatches/{other.pk}/review/",
    ]
    for (_, body), pk in zip(forms, (d.pk, other.pk), strict=True):
        assert f'id="review-{pk}-reason"' in body and f'for="review-{pk}-reason"' in body
        assert body.count('name="csrfmiddlewaretoken"') == 1
    assert "__dispatch__" not in page
    assert client_for("desk.dab1").get("/correspondence/review/").status_code == 404
    officer.post(f"/correspondence/dispatches/{d.pk}/review/", {"decision": "refuse", "reason": ""})
    assert Dispatch.objects.unrestricted("t").get(pk=d.pk).declassify_on is not None
    officer.post(
        f"/correspondence/dispatches/{d.pk}/review/",
        {"decision": "confirm", "reason": "Plus sensible", "classification": "0"},
    )
    assert Dispatch.objects.unrestricted("t").get(pk=d.pk).classification == Level.UNCLASSIFIED
    assert f"/correspondence/dispatches/{d.pk}/review/" not in officer.get("/correspondence/review/").content.decode()


def test_reply_templates(ministry, client_for):
    head = client_for("head.dab1")
    head.post(
        "/correspondence/reply-templates/",
        {"unit": "DAB/1", "name": "Accusé de réception", "body": "<p>Nous accusons réception de votre dépêche.</p>"},
    )
    template = ReplyTemplate.objects.get(unit__code="DAB/1")
    head.post("/correspondence/reply-templates/", {"unit": "DAB/1", "name": "Accusé de réception", "body": "x"})
    assert ReplyTemplate.objects.count() == 1
    d = sent(ministry)
    page = client_for("desk.dab1").get(f"/correspondence/dispatches/{d.pk}/reply/?template={template.pk}")
    assert "Nous accusons réception" in page.content.decode()
    # A desk officer may use templates but not write them.
    client_for("desk.dab1").post("/correspondence/reply-templates/", {"unit": "DAB/1", "name": "x", "body": "y"})
    assert ReplyTemplate.objects.count() == 1


def test_absences_page(ministry, client_for):
    today = timezone.localdate()
    desk = client_for("desk.dab1")
    response = desk.post(
        "/accounts/absences/",
        {
            "agent": "desk.dab1",
            "deputy": "desk.dab2",
            "start_date": today.isoformat(),
            "end_date": (today + timedelta(days=3)).isoformat(),
        },
        follow=True,
    )
    assert response.status_code == 200
    response = desk.post(
        "/accounts/absences/",
        {
            "agent": "desk.dab1",
            "deputy": "head.dab1",
            "start_date": today.isoformat(),
            "end_date": (today + timedelta(days=1)).isoformat(),
        },
    )
    assert response.status_code == 200 and "absence" in response.content.decode().lower()
    response = desk.post(
        "/accounts/absences/",
        {"agent": "desk.dab1", "deputy": "nobody", "start_date": today.isoformat(), "end_date": today.isoformat()},
    )
    assert response.status_code == 200


def test_api_circuit_review_and_bad_input(ministry):
    u = ministry.users
    d = draft(
        ministry, author="desk.dab1", unit="DAB/1", classification=Level.CONFIDENTIAL, routings=(("DAKAR", "action"),)
    )
    desk, head, director = _api(u["desk.dab1"]), _api(u["head.dab1"]), _api(u["director.dab"])
    response = desk.post(f"/api/v1/dispatches/{d.pk}/submit", {"opinions": ["NOPE/1"]}, content_type="application/json")
    assert response.status_code == 422 and response.json()["code"] == "invalid"
    response = desk.post(f"/api/v1/dispatches/{d.pk}/submit", {}, content_type="application/json")
    assert response.status_code == 200 and response.json()["status"] == "submitted"
    steps = desk.get(f"/api/v1/dispatches/{d.pk}/circuit").json()
    assert [(s["kind"], s["unit"], s["status"]) for s in steps] == [
        ("visa", "DAB/1", "current"),
        ("visa", "DAB", "waiting"),
    ]
    assert director.post(f"/api/v1/dispatches/{d.pk}/approve", {}, content_type="application/json").status_code == 403
    response = head.post(f"/api/v1/dispatches/{d.pk}/return", {"comment": ""}, content_type="application/json")
    assert response.status_code == 422
    assert head.post(f"/api/v1/dispatches/{d.pk}/approve", {}, content_type="application/json").status_code == 200
    response = director.post(f"/api/v1/dispatches/{d.pk}/approve", {}, content_type="application/json")
    assert response.status_code == 200 and response.json()["status"] == "sent"
    signature = desk.get(f"/api/v1/dispatches/{d.pk}/signature").json()
    assert signature["valid"] and signature["unit"] == "DAB/1"
    package = desk.get(f"/api/v1/dispatches/{d.pk}/package")
    data = _body(package)
    assert check(data).valid
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("manifest.json"))
    assert manifest["key_fingerprint"] == signature["fingerprint"]
    history = desk.get(f"/api/v1/dispatches/{d.pk}/history").json()
    assert [h["label"] for h in history if h["label"] in ("Visa donné", "Visa given")]
    assert _api(u["hom.lima"]).get(f"/api/v1/dispatches/{d.pk}/history").status_code == 404
    assert desk.get("/api/v1/review-queue").status_code == 403
    # Absences through the API, a loop refused.
    today = timezone.localdate().isoformat()
    assert (
        desk.post(
            "/api/v1/absences",
            {"deputy": "head.dab1", "start_date": today, "end_date": today},
            content_type="application/json",
        ).status_code
        == 201
    )
    response = head.post(
        "/api/v1/absences",
        {"deputy": "desk.dab1", "start_date": today, "end_date": today},
        content_type="application/json",
    )
    assert response.status_code == 422 and "deputy" in response.json()["errors"]


def test_edit_form_keeps_due_dates(ministry, client_for):
    """The date inputs carry ISO dates (what a browser's date field accepts, whatever the
    language): re-saving a draft from its edit form keeps the attribution's due date."""
    from chancery.correspondence import services

    due = timezone.localdate() + timedelta(days=9)
    d = draft(ministry, routings=())
    services.update_draft(
        actor=ministry.users["counsellor.dakar"],
        dispatch=d,
        expected_version=d.version,
        routings=[services.RoutingSpec(unit="DAB/1", kind="action", due_date=due)],
    )
    page = client_for("counsellor.dakar").get(f"/correspondence/dispatches/{d.pk}/edit/").content.decode()
    assert f'value="{due.isoformat()}"' in page


def test_unit_workflow_settings_drive_the_circuit_and_reminders(ministry, client_for):
    from chancery.correspondence import circuits
    from chancery.correspondence.workflow_models import UnitWorkflow

    head = client_for("head.dab1")
    page = head.get("/correspondence/workflow/")
    assert page.status_code == 200 and "DAB/1" in page.content.decode()
    # Bad input: escalation before the reminder; nothing saved.
    head.post(
        "/correspondence/workflow/?unit=DAB/1",
        {"second_visa_level": "1", "remind_days_before": "3", "remind_days_after": "4", "escalate_days_after": "2"},
    )
    assert not UnitWorkflow.objects.filter(unit__code="DAB/1").exists()
    head.post(
        "/correspondence/workflow/?unit=DAB/1",
        {
            "second_visa_level": "1",
            "allow_extra_steps": "on",
            "remind_days_before": "3",
            "remind_days_after": "1",
            "escalate_days_after": "4",
        },
    )
    saved = UnitWorkflow.objects.get(unit__code="DAB/1")
    assert (saved.second_visa_level, saved.remind_days_before, saved.escalate_days_after) == (1, 3, 4)
    # Now a Diffusion restreinte draft of DAB/1 needs the director's final visa too.
    d = draft(
        ministry, author="desk.dab1", unit="DAB/1", classification=Level.RESTRICTED, routings=(("DAKAR", "action"),)
    )
    assert [s.unit.code for s in circuits.default_circuit(d)] == ["DAB/1", "DAB"]
    assert client_for("desk.dab1").get("/correspondence/workflow/").status_code == 404
    api = _api(ministry.users["head.dab1"])
    assert api.get("/api/v1/unit-workflow", {"unit": "DAB/1"}).json()["remind_days_before"] == 3
    response = api.put(
        "/api/v1/unit-workflow", {"unit": "DAKAR", "remind_days_before": 1}, content_type="application/json"
    )
    assert response.status_code == 403


def test_classification_reason_and_source_recorded_at_drafting(ministry, client_for):
    api = _api(ministry.users["counsellor.dakar"])
    response = api.post(
        "/api/v1/dispatches",
        {
            "sending_unit": "DAKAR",
            "subject": "Point de situation",
            "classification": "restricted",
            "routings": [{"unit": "DAB/1"}],
            "classification_reason": "Informations de sécurité des personnes",
            "classified_from": "TD DAKAR/2026/0012",
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["classified_from"] == "TD DAKAR/2026/0012"
    page = client_for("counsellor.dakar").get(f"/correspondence/dispatches/{body['id']}/").content.decode()
    assert "Informations de sécurité des personnes" in page and "TD DAKAR/2026/0012" in page
    edit = client_for("counsellor.dakar").get(f"/correspondence/dispatches/{body['id']}/edit/").content.decode()
    assert 'value="TD DAKAR/2026/0012"' in edit


def test_awaiting_list_shows_what_waits_for_me(ministry, client_for):
    from chancery.correspondence import circuits

    d = draft(
        ministry,
        author="desk.dab1",
        unit="DAB/1",
        classification=Level.CONFIDENTIAL,
        routings=(("DAKAR", "action"),),
        subject="Éléments pour le sommet",
    )
    circuits.submit(actor=ministry.users["desk.dab1"], dispatch=d, opinions=[ministry.units["DG3/1"]])
    link = f'href="/correspondence/dispatches/{d.pk}/"'
    assert link in client_for("head.dab1").get("/correspondence/awaiting/").content.decode()
    assert link not in client_for("director.dab").get("/correspondence/awaiting/").content.decode()
    assert link not in client_for("head.dg31").get("/correspondence/awaiting/").content.decode()
    page = client_for("desk.dab1").get(f"/correspondence/dispatches/{d.pk}/").content.decode()
    assert str(ministry.users["head.dab1"]) in page  # who holds the current step
    circuits.approve(actor=ministry.users["head.dab1"], dispatch=d)
    assert link in client_for("head.dg31").get("/correspondence/awaiting/").content.decode()
    assert link not in client_for("head.dab1").get("/correspondence/awaiting/").content.decode()
    assert link not in client_for("hom.lima").get("/correspondence/awaiting/").content.decode()
