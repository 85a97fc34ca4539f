"""The registry's working day in a real browser, in French and in Arabic: a desk officer
drafts a Confidentiel dispatch and submits it; the head of unit returns it with a remark; the
drafter corrects and re-submits; the head gives the visa; another unit gives its opinion; the
director's final visa signs and sends it; the daily reminder run (clock passed in, nothing
sleeps) reminds the receiving mission, whose head sees the reminder and acknowledges receipt.
Screenshots go to test-artifacts/working-day-<language>-*.png.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page

from tests.browser.conftest import screenshot, wait_for_htmx
from tests.browser.test_correspondence_journey import _accessible, _as, _open, _submit

pytestmark = pytest.mark.browser

SUBJECT = "Visite ministérielle à Dakar : éléments de langage"
REMARK = "Préciser la date de la visite et le format de la délégation."


def _dispatch_page(page: Page, base: str, pk: int) -> None:
    _open(page, f"{base}/correspondence/dispatches/{pk}/")
    wait_for_htmx(page)


def _type_body(page: Page, text: str) -> None:
    """The body is written in the rich-text editor, as a drafter does (it replaces what was there)."""
    editor = page.locator(".rich-editor .ql-editor")
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(text)


@pytest.mark.parametrize("language", ["fr", "ar"])
def test_submit_return_correct_visa_opinion_sign_remind_acknowledge(
    page: Page, live_server: Any, fresh_ministry: Any, language: str
) -> None:
    from chancery.correspondence.models import Dispatch, DispatchStatus, Routing, RoutingStatus
    from chancery.correspondence.reminders import send_reminders
    from chancery.correspondence.workflow_models import CircuitStep, StepStatus

    base = live_server.url
    shot = f"working-day-{language}"
    due = timezone.localdate() + timedelta(days=2)

    # 1. The desk officer drafts a Confidentiel dispatch for action by the embassy in Dakar.
    _as(page, base, "desk.dab1", language)
    _open(page, f"{base}/correspondence/new/")
    page.select_option("#id_classification", "2")
    page.select_option("#id_action-0-unit", "DAKAR")
    page.fill("#id_action-0-due_date", due.isoformat())
    page.fill("#id_subject", SUBJECT)
    _type_body(page, "Éléments de langage pour la visite du ministre.")
    _submit(page, "#main form[enctype] button[type=submit]")
    page.wait_for_url(re.compile(r".*/correspondence/dispatches/\d+/$"))
    pk = int(page.url.rstrip("/").split("/")[-1])
    dispatch = Dispatch.objects.unrestricted("test").get(pk=pk)

    # 2. ... and submits it, asking the opinion of the trade division (DG3/1).
    assert page.locator("#submit-for-validation").is_visible()
    page.select_option("#submit-opinions", ["DG3/1"])
    screenshot(page, f"{shot}-1-draft-submit")
    _accessible(page, "draft with the submit form")
    _submit(page, "#submit-for-validation")
    dispatch.refresh_from_db()
    assert dispatch.status == DispatchStatus.SUBMITTED
    assert page.locator("#circuit .circuit-step").count() == 3  # visa DAB/1, opinion DG3/1, visa DAB
    assert page.locator("#circuit .circuit-current").count() == 1

    # 3. The head of unit returns it with a remark.
    _as(page, base, "head.dab1", language)
    _dispatch_page(page, base, pk)
    page.locator(".my-visa details summary").click()
    page.fill("#return-comment", REMARK)
    _submit(page, "#return-draft")
    dispatch.refresh_from_db()
    assert dispatch.status == DispatchStatus.DRAFT

    # 4. The drafter sees the remark, corrects the draft and submits it again.
    _as(page, base, "desk.dab1", language)
    _dispatch_page(page, base, pk)
    assert page.locator("#circuit .circuit-remark").inner_text().strip() == REMARK
    screenshot(page, f"{shot}-2-returned-with-remark")
    _accessible(page, "returned draft")
    _open(page, f"{base}/correspondence/dispatches/{pk}/edit/")
    _type_body(page, "Visite du ministre le 12 mars ; délégation de six personnes.")
    _submit(page, "#main form[enctype] button[type=submit]")
    page.wait_for_url(f"{base}/correspondence/dispatches/{pk}/")
    wait_for_htmx(page)
    page.select_option("#submit-opinions", ["DG3/1"])
    _submit(page, "#submit-for-validation")
    dispatch.refresh_from_db()
    assert dispatch.status == DispatchStatus.SUBMITTED

    # 5. The head of unit gives the visa.
    _as(page, base, "head.dab1", language)
    _dispatch_page(page, base, pk)
    _submit(page, "#give-visa")
    assert CircuitStep.objects.filter(dispatch_id=pk, round=2, position=1, status=StepStatus.APPROVED).exists()

    # 6. The trade division gives its opinion (it reads the draft under the gate).
    _as(page, base, "head.dg31", language)
    _dispatch_page(page, base, pk)
    page.select_option("#opinion-opinion", "reserved")
    page.fill("#opinion-comment", "Mentionner le forum économique.")
    screenshot(page, f"{shot}-3-opinion")
    _accessible(page, "opinion form")
    _submit(page, "#give-opinion")
    assert CircuitStep.objects.filter(dispatch_id=pk, round=2, kind="avis", status=StepStatus.GIVEN).exists()

    # 7. The director's final visa signs and sends it.
    _as(page, base, "director.dab", language)
    _dispatch_page(page, base, pk)
    _submit(page, "#give-visa")
    dispatch.refresh_from_db()
    assert dispatch.status == DispatchStatus.SENT and dispatch.reference
    page.locator("h1 .reference", has_text=dispatch.reference).wait_for()
    _open(page, f"{base}/correspondence/dispatches/{pk}/?tab=history")
    assert page.locator("#main .history li").count() >= 8
    screenshot(page, f"{shot}-4-signed-history")
    _accessible(page, "history tab")
    page.locator("#verify-signature").click()
    page.wait_for_url(f"{base}/correspondence/dispatches/{pk}/signature/")
    wait_for_htmx(page)
    assert "alert-success" in (page.locator("#signature-result").get_attribute("class") or "")
    screenshot(page, f"{shot}-5-signature")

    # 8. The daily reminder run, two days before the due date (the clock is passed in).
    run = send_reminders(today=timezone.localdate())
    assert run.sent["before"] == 1

    # 9. The head of mission sees the reminder and acknowledges receipt.
    _as(page, base, "hom.dakar", language)
    _open(page, f"{base}/notifications/")
    reminder = page.locator(f"#main a[href*='/correspondence/dispatches/{pk}/'], #main a[href*='/notifications/']")
    assert reminder.count() >= 1
    expected = {"fr": "arrive à échéance", "ar": "يقترب موعد استحقاقها"}[language]
    assert expected in page.locator("#main").inner_text()
    screenshot(page, f"{shot}-6-reminder")
    _accessible(page, "notifications with the reminder")
    _dispatch_page(page, base, pk)
    routing = Routing.objects.get(dispatch_id=pk, unit__code="DAKAR")
    _submit(page, f"form[action='/correspondence/dispatches/{pk}/routings/{routing.pk}/acknowledge/'] button")
    routing.refresh_from_db()
    assert routing.status == RoutingStatus.ACKNOWLEDGED
    screenshot(page, f"{shot}-7-acknowledged")
