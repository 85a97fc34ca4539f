"""Type-ahead suggestions in the header box, in Arabic (RTL) on a 390 px screen, with the
keyboard only: type → the list appears (gated) → ArrowDown → Enter opens the dispatch."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page

from tests.browser.conftest import login, page_errors, screenshot

pytestmark = pytest.mark.browser


def test_header_suggestions_keyboard_rtl_phone(page: Page, live_server: Any, fresh_ministry: Any) -> None:
    from chancery.search.tests.conftest import build_corpus

    corpus = build_corpus(fresh_ministry)
    base = live_server.url
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, base, "counsellor.dakar")
    page.select_option("#language-select", "ar")
    with page.expect_navigation():
        page.locator("footer form button[type=submit]").click()
    page.wait_for_load_state("load")
    assert page.locator("html").get_attribute("dir") == "rtl"
    page.locator(".navbar-toggler").click()  # the header collapses on a phone
    box = page.locator("#header-search")
    box.wait_for(state="visible")
    box.click()
    box.press_sequentially("التعاو", delay=30)  # the word being typed is completed
    options = page.locator("#header-search-suggestions [role=option]")
    options.first.wait_for(state="visible")
    # First the completed word (from what this reader may read), then the matching documents.
    assert "التعاون" in page.locator("#header-search-completion-1").inner_text()
    hit = page.locator("#header-search-option-1")
    assert "الاجتماعات الثنائية" in hit.inner_text()
    assert corpus.arabic.reference in hit.inner_text()
    assert box.get_attribute("aria-expanded") == "true"
    listed = page.locator("#header-search-suggestions").bounding_box()
    assert listed is not None and listed["x"] >= 0 and listed["x"] + listed["width"] <= 390
    screenshot(page, "search-suggestions-ar-390")
    box.press("ArrowDown")
    assert box.get_attribute("aria-activedescendant") == "header-search-completion-1"
    box.press("ArrowDown")
    assert box.get_attribute("aria-activedescendant") == "header-search-option-1"
    box.press("Enter")
    page.wait_for_url(f"**/correspondence/dispatches/{corpus.arabic.pk}/")
    # A word only in a dispatch this reader may not read suggests nothing but the full search.
    page.locator(".navbar-toggler").click()
    box = page.locator("#header-search")
    box.wait_for(state="visible")
    box.click()
    box.press_sequentially("transsah", delay=30)
    page.locator("#header-search-option-all").wait_for(state="visible")
    assert page.locator("#header-search-suggestions [role=option]").count() == 1
    box.press("Escape")
    assert page.locator("#header-search-suggestions [role=option]").count() == 0
    assert not [e for e in page_errors(page) if "Content Security Policy" in e], page_errors(page)


def test_citation_typeahead_is_keyboard_navigable(page: Page, live_server: Any, fresh_ministry: Any) -> None:
    from chancery.search.tests.conftest import build_corpus

    corpus = build_corpus(fresh_ministry)
    base = live_server.url
    login(page, base, "counsellor.dakar")
    page.goto(base + "/correspondence/new/")
    page.wait_for_load_state("load")
    field = page.locator("#reference-search")
    field.click()
    field.press_sequentially("culturelle", delay=30)
    option = page.locator("#reference-suggestions [role=option]").first
    option.wait_for(state="visible")
    assert corpus.clear.reference in option.inner_text()
    field.press("ArrowDown")
    assert field.get_attribute("aria-activedescendant") == "reference-option-1"
    field.press("Enter")  # picks the active suggestion: its reference joins the "Ref." field
    page.wait_for_function("ref => document.querySelector('#id_cites').value.includes(ref)", arg=corpus.clear.reference)
