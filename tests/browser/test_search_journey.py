"""The search journey in a real browser: the header box (shortcut "/") → results → a facet
→ open a result → back → save the search. Screenshots go to test-artifacts/."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page

from tests.browser.conftest import axe_scan, format_violations, login, page_errors, screenshot, serious, wait_for_htmx

pytestmark = pytest.mark.browser


def _screenshot(page: Page, name: str) -> None:
    """A screenshot, then the empty `style=""` Playwright leaves on form fields removed: HTMX
    would copy it onto the next page's fields of the same id, which the CSP (rightly) refuses."""
    screenshot(page, name)
    page.evaluate("document.querySelectorAll('[style=\"\"]').forEach(e => e.removeAttribute('style'))")


def test_header_search_to_saved_search(page: Page, live_server: Any, fresh_ministry: Any) -> None:
    from chancery.search.models import SavedSearch
    from chancery.search.tests.conftest import build_corpus

    corpus = build_corpus(fresh_ministry)
    base = live_server.url
    login(page, base, "hom.dakar")
    page.goto(base + "/correspondence/")
    page.wait_for_load_state("load")
    # "/" jumps to the header box from anywhere on the page.
    page.locator("body").press("/")
    box = page.locator("#header-search")
    assert box.evaluate("el => el === document.activeElement")
    box.fill("reunion")
    box.press("Enter")
    page.wait_for_url("**/search/?q=reunion*")
    wait_for_htmx(page)
    assert page.locator("#search-count").inner_text().startswith("2")
    assert page.locator(".search-hit").count() == 2
    _screenshot(page, "search-results")
    problems = serious(axe_scan(page))
    assert not problems, format_violations(problems, where="search results: ")

    # A facet narrows the results; the URL carries the whole search.
    page.locator('[data-facet="tag"] a', has_text="CULTURE").click()
    page.wait_for_url("**tag%3ACULTURE*")
    wait_for_htmx(page)
    assert page.locator(".search-hit").count() == 1
    assert "tag%3ACULTURE" in page.url
    _screenshot(page, "search-facet")

    # Open the result, then come back.
    page.locator(".search-hit a").first.click()
    page.wait_for_url(f"**/correspondence/dispatches/{corpus.clear.pk}/")
    wait_for_htmx(page)
    assert "Réunion de coopération culturelle" in page.locator("#main").inner_text()
    page.go_back()
    page.wait_for_url("**tag%3ACULTURE*")
    page.wait_for_load_state("load")

    # Save the search, with notifications.
    page.locator("#save-name").fill("Culture à Dakar")
    page.locator("#save-notify").check()
    page.locator("#save-search button[type=submit]").click()
    page.wait_for_url("**/search/saved-searches/")
    wait_for_htmx(page)
    assert page.get_by_role("link", name="Culture à Dakar").is_visible()
    _screenshot(page, "search-saved")
    saved = SavedSearch.objects.unrestricted("test").get()
    assert saved.query == "reunion tag:CULTURE" and saved.notify
    assert not [e for e in page_errors(page) if "Content Security Policy" in e], page_errors(page)
