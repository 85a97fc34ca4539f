"""A new user's first day (issue 8): the rough edges a newcomer met, each checked in Chromium.

Each test here failed before its fix. Set-up goes through the services (as the pages would);
what is checked is what a person sees and does on the page.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page

from tests.browser.conftest import login, wait_for_htmx

pytestmark = pytest.mark.browser


def _programme(ministry: Any, *, submitted: bool = False, approved: bool = False) -> Any:
    from chancery.planning import services
    from chancery.planning.models import Axis

    hom = ministry.users["hom.dakar"]
    programme = services.create_programme(
        user=hom, mission=ministry.units["DAKAR"], year=timezone.localdate().year, title="Programme d'action — Dakar"
    )
    axis = Axis.objects.unrestricted("test set-up").filter(programme=programme).order_by("position").first()
    services.create_action(user=hom, programme=programme, axis=axis, title="Forum économique bilatéral")
    if submitted or approved:
        services.submit_programme(user=hom, programme=programme)
    if approved:
        services.approve_programme(user=ministry.users["plan.sg4"], programme=programme)
    programme.refresh_from_db()
    return programme, axis


def _click_and_settle(page: Page, selector: str) -> None:
    page.locator(selector).click()
    page.wait_for_load_state("load")
    wait_for_htmx(page)


def test_typed_text_on_a_volet_page_is_not_lost_without_a_word(page: Page, live_server: Any, fresh_ministry: Any):
    programme, axis = _programme(fresh_ministry)
    login(page, live_server.url, "hom.dakar")
    page.goto(f"{live_server.url}/planning/{programme.pk}/axes/{axis.pk}/")
    page.locator("#id_axis-narrative, textarea[name$=narrative]").first.fill("Un exposé de deux heures de travail.")
    page.locator("input[name$=title]").last.fill("Renforcer le dialogue politique")

    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.locator("form:has(input[value=objective]) button[type=submit]").click()
    page.wait_for_timeout(300)
    assert asked, "the exposé was thrown away without a word"
    assert page.locator("textarea[name$=narrative]").first.input_value() == "Un exposé de deux heures de travail."

    # Leaving by a link asks too; agreeing leaves.
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    _click_and_settle(page, f"main a[href='/planning/{programme.pk}/#axis-{axis.pk}']")
    assert len(asked) == 2
    assert page.url.split("#")[0].rstrip("/").endswith(f"/planning/{programme.pk}")


@pytest.mark.parametrize("step", ["approve", "close"])
def test_irreversible_programme_steps_ask_first(page: Page, live_server: Any, fresh_ministry: Any, step: str):
    from chancery.planning.models import Programme, ProgrammeStatus

    programme, _ = _programme(fresh_ministry, submitted=True, approved=step == "close")
    before = programme.status
    login(page, live_server.url, "plan.sg4")
    page.goto(f"{live_server.url}/planning/{programme.pk}/")
    button = f"form[action='/planning/{programme.pk}/{step}/'] button"

    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.locator(button).click()
    page.wait_for_timeout(500)
    assert asked and len(asked[0]) > 40, "no question saying what will happen"
    assert Programme.objects.unrestricted("test").get(pk=programme.pk).status == before

    page.once("dialog", lambda dialog: dialog.accept())
    _click_and_settle(page, button)
    expected = ProgrammeStatus.APPROVED if step == "approve" else ProgrammeStatus.CLOSED
    assert Programme.objects.unrestricted("test").get(pk=programme.pk).status == expected


def test_htmx_swaps_on_planning_pages_break_no_content_security_policy(
    page: Page, live_server: Any, fresh_ministry: Any
):
    """Issue 8: after an HTMX swap, HTMX copied the old elements' `style` attributes onto the new
    ones with setAttribute, which the CSP refuses (any script or extension that touched an
    element's style, Bootstrap's collapse included, set that off)."""
    from tests.browser.conftest import page_errors

    programme, _axis = _programme(fresh_ministry)
    login(page, live_server.url, "hom.dakar")
    page.goto(f"{live_server.url}/planning/{programme.pk}/")
    # A style set through the CSSOM is allowed; copying it as an attribute is not.
    page.evaluate("() => { for (const el of document.querySelectorAll('#main [id]')) el.style.outline = '0'; }")
    _click_and_settle(page, f"main a.nav-link[href='/planning/{programme.pk}/']")  # the same page again
    page.wait_for_timeout(300)
    assert not [e for e in page_errors(page) if "Content Security Policy" in e], page_errors(page)


def test_arabic_pages_keep_the_order_and_the_start_of_latin_text(page: Page, live_server: Any, fresh_ministry: Any):
    """Issue 8: in Arabic the breadcrumb read "2026 DAKAR" and the timeline cut the start of French titles."""
    from chancery.planning import services

    programme, axis = _programme(fresh_ministry)
    services.create_action(
        user=fresh_ministry.users["hom.dakar"], programme=programme, axis=axis,
        title="Semaine culturelle et expositions au Musée des civilisations noires de Dakar",
        start_date=timezone.localdate().replace(month=3, day=1), end_date=timezone.localdate().replace(month=4, day=1),
    )
    login(page, live_server.url, "hom.dakar")
    page.select_option("#language-select", "ar")
    with page.expect_navigation():
        page.locator("footer form button[type=submit]").click()
    page.goto(f"{live_server.url}/planning/{programme.pk}/timeline/")
    assert page.locator("html").get_attribute("dir") == "rtl"
    code = page.locator(".breadcrumb .programme-code").first
    assert code.inner_text().startswith("DAKAR")
    assert code.evaluate("el => getComputedStyle(el).direction") == "ltr"
    label = page.locator(".gantt-label", has_text="Semaine culturelle").first
    # A Latin title runs left to right, so an ellipsis cuts its end, never its start.
    assert label.evaluate("el => getComputedStyle(el).direction") == "ltr"
    # "start → end" reads from the right: the arrow points the way the eye goes.
    page.goto(f"{live_server.url}/planning/{programme.pk}/")
    arrow = page.locator(".flow-arrow").first
    assert arrow.evaluate("el => getComputedStyle(el).transform") != "none"


@pytest.mark.parametrize("language", ["fr", "ar"])
def test_a_draft_reopens_in_a_rich_text_editor_not_as_html(page: Page, live_server: Any, fresh_ministry: Any,
                                                            language: str):
    """Issue 8: the body of a draft reopened as raw <p>…</p> in a text box."""
    from chancery.correspondence.models import Dispatch
    from chancery.correspondence.selectors import dispatch_body
    from chancery.correspondence.tests.views_helpers import make_draft
    from tests.browser.conftest import axe_scan, format_violations, page_errors, serious

    draft = make_draft(fresh_ministry, body="<p>Premier paragraphe.</p><ul><li>Un point</li></ul>")
    login(page, live_server.url, "counsellor.dakar")
    page.select_option("#language-select", language)
    with page.expect_navigation():
        page.locator("footer form button[type=submit]").click()
    page.goto(f"{live_server.url}/correspondence/dispatches/{draft.pk}/edit/")
    editor = page.locator(".rich-editor .ql-editor")
    editor.wait_for()
    assert "<p>" not in editor.inner_text() and "Premier paragraphe." in editor.inner_text()
    assert editor.locator("li").count() == 1
    assert editor.get_attribute("role") == "textbox" and editor.get_attribute("aria-labelledby")
    toolbar = page.locator(".rich-editor [role=toolbar]")
    assert toolbar.get_attribute("aria-label") and toolbar.locator("button[aria-label]").count() >= 8
    assert page.locator("#id_body").is_hidden()
    problems = serious(axe_scan(page))
    assert not problems, format_violations(problems, where="editor: ")
    # Bold text typed in the editor is saved, cleaned by the server like any body.
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    page.locator(".rich-editor button.ql-bold").click()
    page.keyboard.type("Texte important")
    page.locator("#main form[enctype] button[type=submit]").click()
    page.wait_for_url(f"{live_server.url}/correspondence/dispatches/{draft.pk}/")
    saved = dispatch_body(Dispatch.objects.unrestricted("test").get(pk=draft.pk))
    assert "<strong>Texte important</strong>" in saved and "<p>Premier paragraphe.</p>" in saved
    assert "&nbsp;" not in saved and "ql-" not in saved
    assert not [e for e in page_errors(page) if "Content Security Policy" in e], page_errors(page)
