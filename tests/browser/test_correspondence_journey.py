"""The correspondence journey in a real browser, once in French and once in Arabic:
a counsellor drafts a protected dispatch with an attachment, the head of mission validates
and sends it, the headquarters desk acknowledges it and replies.

Each agent signs in through the real forms (second factor included for Confidentiel and
above), switches language with the footer form, and works through the HTMX-boosted pages.
Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page

from tests.browser.conftest import (
    accept_dialogs,
    axe_scan,
    format_violations,
    login,
    page_errors,
    screenshot,
    serious,
    wait_for_htmx,
)

pytestmark = pytest.mark.browser

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
SUBJECT = "Semaine culturelle : programme provisoire"


def _as(page: Page, base: str, username: str, language: str) -> None:
    """Sign out (fresh cookies), sign in as `username`, and choose the language in the footer."""
    page.context.clear_cookies()
    login(page, base, username)
    page.select_option("#language-select", language)
    with page.expect_navigation():
        page.locator("footer form button[type=submit]").click()
    page.wait_for_load_state("load")
    html = page.locator("html")
    assert html.get_attribute("lang") == language
    assert html.get_attribute("dir") == ("rtl" if language == "ar" else "ltr")


def _open(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("load")


def _submit(page: Page, selector: str) -> None:
    """Click a boosted form's button and wait for the HTMX swap that follows the redirect."""
    with page.expect_response(lambda r: r.request.method == "GET" and "/correspondence/" in r.url):
        page.locator(selector).click()
    wait_for_htmx(page)


def _accessible(page: Page, label: str) -> None:
    problems = serious(axe_scan(page))
    assert not problems, format_violations(problems, where=f"{label}: ")


def _banners(page: Page, level: int) -> None:
    top = page.locator(f"#main .marking-banner.marking-top.marking-level-{level}")
    bottom = page.locator(f"#main .marking-banner.marking-bottom.marking-level-{level}")
    assert top.count() == 1 and bottom.count() == 1
    assert top.is_visible() and bottom.is_visible()


@pytest.mark.parametrize("language", ["fr", "ar"])
def test_draft_validate_send_acknowledge_reply(page: Page, live_server: Any, fresh_ministry: Any,
                                               language: str) -> None:
    from chancery.correspondence.models import Dispatch, DispatchStatus, Routing, RoutingStatus

    base = live_server.url
    due = (timezone.localdate() + timedelta(days=15)).isoformat()

    # 1. The counsellor drafts (cleared Diffusion restreinte: no second factor).
    _as(page, base, "counsellor.dakar", language)
    _open(page, f"{base}/correspondence/new/")
    assert page.locator("html").get_attribute("dir") == ("rtl" if language == "ar" else "ltr")
    _accessible(page, "draft form")
    page.select_option("#id_classification", "1")
    page.select_option("#id_transmission", "encrypted")
    page.select_option("#id_action-0-unit", "DAB/1")
    page.fill("#id_action-0-due_date", due)
    page.select_option("#id_info_units", ["DG7/6"])
    page.fill("#id_external_references", "NV/2026/118")
    page.fill("#id_subject", SUBJECT)
    editor = page.locator(".rich-editor .ql-editor")
    editor.click()
    page.keyboard.type("Le programme provisoire est joint.")
    page.keyboard.press("Enter")
    page.keyboard.type("Les dates restent à confirmer.")
    page.fill("#id_tags", "SN, CULT")
    page.set_input_files("#id_attachments", files=[{"name": "programme.pdf", "mimeType": "application/pdf",
                                                    "buffer": PDF}])
    _submit(page, "#main form[enctype] button[type=submit]")
    page.wait_for_url(re.compile(r".*/correspondence/dispatches/\d+/$"))
    pk = int(page.url.rstrip("/").split("/")[-1])
    _banners(page, 1)
    assert page.locator("#letter-subject").inner_text() == SUBJECT
    assert page.locator(".letter-body p").first.inner_text() == "Le programme provisoire est joint."
    assert page.locator("a[href$='/attachments/1/']").inner_text() == "programme.pdf"
    screenshot(page, f"correspondence-{language}-1-draft")
    dispatch = Dispatch.objects.unrestricted("test").get(pk=pk)
    assert dispatch.status == DispatchStatus.DRAFT and dispatch.subject == ""  # stored encrypted

    # 2. The head of mission (second factor) validates, then signs and sends.
    _as(page, base, "hom.dakar", language)
    _open(page, f"{base}/correspondence/drafts/")
    page.locator(f"#main a[href='/correspondence/dispatches/{pk}/']").first.click()
    page.wait_for_url(f"{base}/correspondence/dispatches/{pk}/")
    wait_for_htmx(page)
    _submit(page, f"form[action='/correspondence/dispatches/{pk}/validate/'] button")
    dispatch.refresh_from_db()
    assert dispatch.status == DispatchStatus.VALIDATED
    asked = accept_dialogs(page)
    _submit(page, f"form[action='/correspondence/dispatches/{pk}/send/'] button")
    assert len(asked) == 1  # signing and sending cannot be undone: the agent was asked first
    dispatch.refresh_from_db()
    assert dispatch.status == DispatchStatus.SENT and dispatch.reference
    page.locator("h1 .reference", has_text=dispatch.reference).wait_for()
    _banners(page, 1)
    screenshot(page, f"correspondence-{language}-2-sent")
    _accessible(page, "dispatch page")

    # 3. The desk officer sees it in the inbox, notified, and acknowledges receipt.
    _as(page, base, "desk.dab1", language)
    page.locator("#notification-counter .badge").wait_for()
    assert page.locator("#notification-counter .badge").inner_text() == "1"
    _open(page, f"{base}/correspondence/")
    row = page.locator("#main tbody tr", has=page.locator(f"a:text-is('{dispatch.reference}')"))
    assert row.count() == 1
    assert due[:4] in row.locator("time").get_attribute("datetime")  # type: ignore[operator]
    _banners(page, 1)
    screenshot(page, f"correspondence-{language}-3-inbox")
    _accessible(page, "inbox")
    row.locator(f"a[href='/correspondence/dispatches/{pk}/']").first.click()
    page.wait_for_url(f"{base}/correspondence/dispatches/{pk}/")
    wait_for_htmx(page)
    routing = Routing.objects.get(dispatch=dispatch, unit__code="DAB/1")
    _submit(page, f"form[action='/correspondence/dispatches/{pk}/routings/{routing.pk}/acknowledge/'] button")
    routing.refresh_from_db()
    assert routing.status == RoutingStatus.ACKNOWLEDGED

    # 4. ... and replies: the answer is a draft of DAB/1 citing the dispatch, at least as protected.
    page.locator(f"a[href='/correspondence/dispatches/{pk}/reply/']").click()
    page.wait_for_url(f"{base}/correspondence/dispatches/{pk}/reply/")
    wait_for_htmx(page)
    assert page.locator("#id_subject").input_value().startswith("Re: ")
    _accessible(page, "reply form")
    page.locator(".rich-editor .ql-editor").click()
    page.keyboard.type("Accord de principe ; les dates seront confirmées.")
    with page.expect_response(lambda r: r.request.method == "GET" and "/edit/" in r.url):
        page.locator("#main form button[type=submit]").click()
    wait_for_htmx(page)
    answer = Dispatch.objects.unrestricted("test").get(in_reply_to=dispatch)
    page.wait_for_url(f"{base}/correspondence/dispatches/{answer.pk}/edit/")
    assert answer.classification >= 1 and answer.sending_unit.code == "DAB/1"
    assert dispatch.reference in page.locator("#id_cites").input_value()
    screenshot(page, f"correspondence-{language}-4-reply")
    _accessible(page, "reply draft")
    _open(page, f"{base}/correspondence/dispatches/{pk}/")
    assert page.locator(f"#main .thread-list a[href='/correspondence/dispatches/{answer.pk}/']").count() == 1

    # The printable version carries the marking on top and bottom.
    _open(page, f"{base}/correspondence/dispatches/{pk}/?print=1")
    assert page.locator("thead .marking-banner").is_visible() and page.locator("tfoot .marking-banner").count() == 1
    assert not [e for e in page_errors(page) if "Content Security Policy" in e], page_errors(page)
