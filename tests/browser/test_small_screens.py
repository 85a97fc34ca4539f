"""Every page fits a phone (issue 8): at 390×844 the page is no wider than the screen (wide tables
scroll inside their own container) and the actions stay reachable."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from tests.browser.conftest import DEFAULT_TIMEOUT_MS, login, page_errors, screenshot

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def _phone(browser: Browser, base: str, username: str) -> Page:
    context = browser.new_context(locale="fr-FR", viewport=PHONE)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page._chancery_errors = errors  # type: ignore[attr-defined]
    login(page, base, username)
    return page


def _fits(page: Page, where: str) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{where}: the page is {width} px wide on a {PHONE['width']} px screen"


def test_pages_fit_a_phone(browser: Browser, live_server: Any, fresh_ministry: Any) -> None:
    from chancery.correspondence.tests.views_helpers import build_world
    from chancery.planning.demo import sample_programme

    users = fresh_ministry.users
    world = build_world(fresh_ministry)
    programme = sample_programme(mission=fresh_ministry.units["DAKAR"], year=2026, user=users["counsellor.dakar"])
    base = live_server.url
    page = _phone(browser, base, "hom.dakar")
    for path, name in [
        ("/", "home"),
        ("/correspondence/", "inbox"),
        (f"/correspondence/dispatches/{world.sent.pk}/", "dispatch"),
        ("/planning/", "programmes"),
        (f"/planning/{programme.pk}/", "programme"),
        (f"/planning/{programme.pk}/actions/", "actions-table"),
        (f"/planning/{programme.pk}/timeline/", "timeline"),
        ("/notifications/", "notifications"),
    ]:
        page.goto(base + path)
        page.wait_for_load_state("load")
        _fits(page, name)
        screenshot(page, f"phone-{name}")
    # The desk officer's home lists the dispatches to handle in a table.
    desk = _phone(browser, base, "desk.dab1")
    desk.goto(base + "/")
    assert desk.locator("#main table").count() >= 1
    _fits(desk, "desk home")
    screenshot(desk, "phone-desk-home")
    desk.context.close()
    # The head of mission's step stays on screen: its button is inside the viewport's width.
    page.goto(f"{base}/planning/{programme.pk}/")
    box = page.locator(f"form[action='/planning/{programme.pk}/submit/'] button").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert not [e for e in page_errors(page) if "Content Security Policy" in e]
