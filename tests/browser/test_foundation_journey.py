"""The foundation journey in a real browser: TOTP enrolment, Arabic right-to-left, HTMX navigation, keyboard."""

from __future__ import annotations

from typing import Any

import pyotp
import pytest
from playwright.sync_api import Page

from tests.browser.conftest import axe_scan, format_violations, page_errors, screenshot, serious, wait_for_htmx

pytestmark = pytest.mark.browser

USERNAME = "hom.dakar"  # head of mission cleared Confidentiel or above: the second factor is mandatory
PASSWORD = "Chancery-demo-2026"


def _enrol_through_the_pages(page: Page, base: str) -> list[str]:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", USERNAME)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    assert "/second-factor/enrol/" in page.url, page.url
    qr = page.locator("main img[src^='data:image/svg+xml']")
    assert qr.is_visible() and qr.get_attribute("alt")
    problems = serious(axe_scan(page))
    assert not problems, format_violations(problems, where="enrolment: ")
    secret = page.locator("code.totp-secret").inner_text().strip()
    assert len(secret) >= 16
    page.fill("#id_code", pyotp.TOTP(secret).now())
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    assert "/second-factor/recovery-codes/" in page.url, page.url
    codes = [c.strip() for c in page.locator("ul.recovery-codes code").all_inner_texts()]
    assert len(codes) >= 8 and len(set(codes)) == len(codes), codes
    problems = serious(axe_scan(page))
    assert not problems, format_violations(problems, where="recovery codes: ")
    return codes


def test_foundation_journey(page: Page, live_server: Any, fresh_ministry: Any) -> None:
    base = live_server.url
    user = fresh_ministry.users[USERNAME]
    assert user.requires_totp and not user.totp_enrolled

    # 1. First sign-in: enrolment by QR code / typed key, then the recovery codes, then home.
    recovery_codes = _enrol_through_the_pages(page, base)
    page.locator("main a.btn-primary").click()  # "I have kept them" (a boosted link: HTMX swap)
    page.wait_for_url(f"{base}/")
    wait_for_htmx(page)
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.locator("html").get_attribute("dir") == "ltr"
    assert page.locator("a.skip-link").text_content() == "Aller au contenu"  # French by default
    user.refresh_from_db()
    assert user.totp_enrolled

    # 2. Arabic through the footer's language form: the whole layout turns right-to-left.
    page.select_option("#language-select", "ar")
    with page.expect_navigation():
        page.locator("footer form button[type=submit]").click()
    assert page.url == f"{base}/", "the language switch must return to the page being read"
    html = page.locator("html")
    assert html.get_attribute("lang") == "ar"
    assert html.get_attribute("dir") == "rtl"
    sheets = page.evaluate("() => Array.from(document.styleSheets, s => s.href || '')")
    assert any("bootstrap.rtl" in href for href in sheets), sheets
    assert page.evaluate("() => getComputedStyle(document.body).direction") == "rtl"
    width = page.viewport_size["width"] if page.viewport_size else 1280
    brand = page.locator(".navbar-brand").bounding_box()
    assert brand is not None and brand["x"] > width / 2, brand  # the brand stands on the right
    nav_first = page.locator("#main-nav .nav-link").first.bounding_box()
    assert nav_first is not None and nav_first["x"] < brand["x"]
    # The interface text is translated, not left in English or French.
    assert page.locator("#language-select option[value=ar]").get_attribute("selected") is not None
    assert page.locator("a.skip-link").text_content() == "انتقل إلى المحتوى"
    assert page.locator("#main-nav a.nav-link[href='/']").inner_text().strip() == "الرئيسية"
    shot = screenshot(page, "foundation-home-ar")
    assert shot.exists() and shot.stat().st_size > 10_000

    # 3. HTMX navigation: the page is not reloaded, only #main is swapped, and the title follows.
    old_title = page.title()
    old_heading = page.locator("#main h1").inner_text()
    page.evaluate("() => { window.__marker = 1; }")
    with page.expect_response(lambda r: r.url.rstrip("/").endswith("/organisation")) as caught:
        page.locator("#main-nav a.nav-link[href='/organisation/']").click()
    response = caught.value
    assert response.request.header_value("hx-request") == "true"
    body = response.text()
    assert "<html" not in body.lower() and "<body" not in body.lower()
    wait_for_htmx(page)
    page.wait_for_url(f"{base}/organisation/")
    assert page.evaluate("() => window.__marker") == 1, "the page was fully reloaded"
    assert page.locator("#main h1").inner_text() != old_heading
    page.wait_for_function("(old) => document.title !== old", arg=old_title)
    assert page.locator("html").get_attribute("dir") == "rtl"
    # Focus follows the swapped content, for keyboard and screen-reader users.
    assert page.evaluate("() => document.activeElement && document.activeElement.id") == "main"
    # Browser history: back returns to the home page, still without a full reload.
    page.go_back()
    page.wait_for_url(f"{base}/")
    page.locator("#main h1").filter(has_text=old_heading).wait_for()

    # 4. Keyboard: the first Tab reaches the skip link, which sends focus to the content.
    page.goto(f"{base}/")
    page.keyboard.press("Tab")
    focused = page.evaluate("() => document.activeElement.className")
    assert "skip-link" in focused, focused
    skip = page.locator("a.skip-link").bounding_box()
    assert skip is not None and skip["width"] > 1 and skip["height"] > 1, "the skip link stays invisible on focus"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"

    # 5. Focus is visible: a focused link draws a clear outline.
    page.goto(f"{base}/")
    for _ in range(3):  # skip link, brand, first menu entry
        page.keyboard.press("Tab")
    outline = page.evaluate(
        """() => { const s = getComputedStyle(document.activeElement);
                   return {tag: document.activeElement.tagName, style: s.outlineStyle, width: s.outlineWidth}; }"""
    )
    assert outline["tag"] == "A", outline
    assert outline["style"] != "none" and float(outline["width"].rstrip("px")) >= 2, outline

    # 6. Sign out, and back in with a recovery code at the second step: the agent's language stays Arabic.
    page.locator("#user-menu").click()  # the agent's menu: their profile, signing out
    with page.expect_navigation():
        page.locator("header form button[type=submit]").click()  # sign out (a POST form)
    assert "/accounts/login/" in page.url
    page.fill("#id_username", USERNAME)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    assert "/accounts/login/second-factor/" in page.url, page.url
    page.fill("#id_code", recovery_codes[0])
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    assert page.url == f"{base}/", page.url
    assert page.locator("html").get_attribute("dir") == "rtl"

    assert not [e for e in page_errors(page) if "Content Security Policy" in e], page_errors(page)
