"""The top bar on a laptop's screen: one line for a reader's menu in French at 1280 px, no entry broken
over two lines, nothing off the screen's edge (an administrator's eight entries wrap whole), and the
agent's own menu (profile, signing out) opens from their name."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from tests.browser.conftest import DEFAULT_TIMEOUT_MS, login, screenshot

pytestmark = pytest.mark.browser


def _page(browser: Browser, base: str, username: str, width: int) -> Page:
    context = browser.new_context(locale="fr-FR", viewport={"width": width, "height": 800})
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    context.add_cookies([{"name": "chancery_language", "value": "fr", "url": base}])
    page = context.new_page()
    login(page, base, username)
    return page


def _bar(page: Page) -> dict[str, Any]:
    return page.evaluate(
        """() => {
            const links = [...document.querySelectorAll('#main-nav .nav-link')];
            const line = Math.max(...links.map(a => parseFloat(getComputedStyle(a).lineHeight) || 24));
            return {
                page: document.documentElement.scrollWidth,
                broken: links.filter(a => a.getBoundingClientRect().height > 2 * line).map(a => a.innerText),
                tops: [...new Set(links.map(a => Math.round(a.getBoundingClientRect().top)))].length,
            };
        }"""
    )


def test_the_top_bar_fits_and_the_agent_menu_opens(browser: Browser, live_server: Any, fresh_ministry: Any) -> None:
    base = live_server.url
    reader = _page(browser, base, "counsellor.dakar", 1280)
    bar = _bar(reader)
    assert bar["page"] <= 1280 and not bar["broken"] and bar["tops"] == 1, bar
    assert reader.locator("html").get_attribute("lang") == "fr"
    screenshot(reader, "top-bar-fr-1280")
    for width in (1280, 1100, 992):
        admin = _page(browser, base, "admin", width)
        bar = _bar(admin)
        assert bar["page"] <= width and not bar["broken"], (width, bar)
        admin.context.close()
    # The agent's name opens their menu; signing out is in it (a POST form).
    reader.locator("#user-menu").click()
    reader.get_by_role("link", name="Mon profil").click()
    reader.wait_for_url(f"{base}/accounts/profile/")
    reader.locator("#user-menu").click()
    with reader.expect_navigation():
        reader.get_by_role("button", name="Se déconnecter").click()
    assert "/accounts/login/" in reader.url
