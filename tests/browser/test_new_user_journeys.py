"""A new user's first day, in French and in Arabic (issue 8): journeys A and C walked through the
pages with a screenshot at each step under test-artifacts/ (journey B, draft → validate → send →
acknowledge → reply, is `test_correspondence_journey.py`, in both languages too).

A. The central registry imports a Dakar plan letter; the letter and its draft programme link to
   each other for a reader who may see both.
C. The head of mission builds and submits a programme; headquarters approves it and grants the
   budget; the counsellor records a measurement; the head of mission proposes a revision and
   headquarters approves it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page

from tests.browser.conftest import (
    DEFAULT_TIMEOUT_MS,
    DEMO_PASSWORD,
    accept_dialogs,
    login,
    page_errors,
    screenshot,
    wait_for_htmx,
)

pytestmark = pytest.mark.browser

LETTER = Path(__file__).resolve().parents[2] / "chancery/imports/tests/samples/letters/fr-plan-2022-dakar.txt"


def _as(browser: Browser, base: str, username: str, language: str) -> Page:
    """A fresh browser for `username`, who chooses `language` in the footer."""
    context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page._chancery_errors = errors  # type: ignore[attr-defined]
    login(page, base, username)
    page.select_option("#language-select", language)
    with page.expect_navigation():
        page.locator("footer form button[type=submit]").click()
    page.wait_for_load_state("load")
    assert page.locator("html").get_attribute("dir") == ("rtl" if language == "ar" else "ltr")
    accept_dialogs(page)
    return page


def _go(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("load")


def _submit(page: Page, selector: str) -> None:
    page.locator(selector).click()
    page.wait_for_load_state("load")
    wait_for_htmx(page)


def _shot(page: Page, language: str, step: str) -> None:
    screenshot(page, f"journey-{language}-{step}")
    assert not [e for e in page_errors(page) if "Content Security Policy" in e], page_errors(page)


@pytest.mark.parametrize("language", ["fr", "ar"])
def test_journey_a_import_a_letter(browser: Browser, live_server: Any, fresh_ministry: Any, language: str) -> None:
    from chancery.accounts.roles import Role
    from chancery.accounts.services import create_user
    from chancery.core.classification import Level
    from chancery.imports.models import LetterImport

    base = live_server.url
    create_user(actor=None, username="clerk.import", password=DEMO_PASSWORD, first_name="Ines", last_name="Registre",
                clearance_level=Level.RESTRICTED, memberships=[(fresh_ministry.units["SG/BO"], Role.REGISTRY_CLERK)],
                validate_password=False)
    clerk = _as(browser, base, "clerk.import", language)
    _go(clerk, f"{base}/imports/letters/")
    _shot(clerk, language, "A1-upload")
    clerk.set_input_files("#id_file", str(LETTER))
    with clerk.expect_navigation():
        clerk.locator("form.import-upload button[type=submit]").click()
    assert re.search(r"/imports/letters/\d+/$", clerk.url)
    assert clerk.locator(".import-axes .axis-name").count() == 4
    assert "political" not in clerk.locator(".import-axes").inner_text()
    _shot(clerk, language, "A2-preview")
    clerk.locator("form.import-form button[name=confirm]").click()
    clerk.wait_for_url(re.compile(r".*/correspondence/dispatches/\d+/$"))
    row = LetterImport.objects.unrestricted("test").get()
    assert clerk.locator("#dispatch-status").inner_text() != ""
    _shot(clerk, language, "A3-registered")
    clerk.context.close()

    director = _as(browser, base, "director.dab", language)
    _go(director, f"{base}/correspondence/dispatches/{row.dispatch_id}/")
    director.locator(f".letter-programmes a[href='/planning/{row.programme_id}/']").click()
    director.wait_for_url(f"{base}/planning/{row.programme_id}/")
    wait_for_htmx(director)
    assert director.locator(f"a.source-letter[href='/correspondence/dispatches/{row.dispatch_id}/']").count() == 1
    _shot(director, language, "A4-draft-programme")
    director.context.close()


@pytest.mark.parametrize("language", ["fr", "ar"])
def test_journey_c_build_submit_approve_measure_revise(
    browser: Browser, live_server: Any, fresh_ministry: Any, language: str
) -> None:
    from chancery.planning.models import Action, Measurement, Programme, ProgrammeStatus

    base = live_server.url
    year = timezone.localdate().year

    # C1. The head of mission builds the programme: an action and an indicator.
    hom = _as(browser, base, "hom.dakar", language)
    _go(hom, f"{base}/planning/new/")
    hom.locator("#id_year").fill(str(year))
    hom.locator("#id_title").fill(f"Programme d'action {year} — Dakar")
    _submit(hom, "main form button[type=submit]")
    hom.wait_for_url(lambda url: url.rstrip("/").split("/")[-1].isdigit())
    pk = int(hom.url.split("#")[0].rstrip("/").split("/")[-1])
    _go(hom, f"{base}/planning/{pk}/actions/new/")
    hom.locator("#id_title").fill("Forum économique bilatéral")
    hom.locator("#id_start_date").fill(f"{year}-03-01")
    hom.locator("#id_end_date").fill(f"{year}-03-31")
    hom.locator("#id_budget_requested").fill("12000")
    assert hom.locator("#id_budget_approved").is_disabled()
    assert hom.locator("#id_status option[value=approved]").count() == 0
    _submit(hom, "main form button[type=submit]")
    _go(hom, f"{base}/planning/{pk}/indicators/new/")
    hom.locator("#id_label").fill("Missions d'hommes d'affaires")
    hom.locator("#id_baseline_value").fill("2")
    hom.locator("#id_approved_target").fill("6")
    hom.locator("#id_aggregation").select_option("sum")
    _submit(hom, "main form button[type=submit]")
    _go(hom, f"{base}/planning/{pk}/")
    _shot(hom, language, "C1-draft")

    # C2. Submitted to headquarters.
    _submit(hom, f"form[action='/planning/{pk}/submit/'] button")
    hom.locator("main .status-submitted").first.wait_for()
    _shot(hom, language, "C2-submitted")

    # C3. The planning division approves and grants a budget.
    planner = _as(browser, base, "plan.sg4", language)
    _go(planner, f"{base}/planning/{pk}/")
    action = Action.objects.unrestricted("test").get(programme_id=pk)
    planner.locator(f"#budget-{action.pk}").fill("10000")
    _shot(planner, language, "C3-approval")
    _submit(planner, f"form[action='/planning/{pk}/approve/'] button")
    planner.locator("main .status-approved").first.wait_for()
    action.refresh_from_db()
    assert action.budget_approved == 10000
    _shot(planner, language, "C4-approved")

    # C5. The counsellor records two quarters of the indicator; they add up against the target.
    counsellor = _as(browser, base, "counsellor.dakar", language)
    indicator_pk = Programme.objects.unrestricted("test").get(pk=pk).indicators.get().pk
    url = f"{base}/planning/{pk}/indicators/{indicator_pk}/measurements/"
    for day, value in ((f"{year}-02-10", "1"), (f"{year}-05-10", "2")):
        _go(counsellor, url)
        counsellor.locator("#id_period_type").select_option("quarter")
        counsellor.locator("#id_period_start").fill(day)
        counsellor.locator("#id_value").fill(value)
        _submit(counsellor, "main form[enctype] button[type=submit]")
    assert Measurement.objects.unrestricted("test").filter(indicator_id=indicator_pk).count() == 2
    assert counsellor.locator("#indicator-actual").inner_text().strip().startswith("3")
    _shot(counsellor, language, "C5-measured")

    # C6. The counsellor re-dates the action; the revision is the head of mission's to propose.
    _go(counsellor, f"{base}/planning/{pk}/actions/{action.pk}/edit/")
    counsellor.locator("#id_end_date").fill(f"{year}-06-30")
    _submit(counsellor, "main form button[type=submit]")
    _go(counsellor, f"{base}/planning/{pk}/")
    assert counsellor.locator(".whose-step").count() == 1
    _shot(counsellor, language, "C6-changed")
    _go(hom, f"{base}/planning/{pk}/")
    hom.locator("details:has(#id_revise-reason) > summary").click()
    hom.locator("#id_revise-reason").fill("Forum prolongé jusqu'en juin à la demande des partenaires")
    _submit(hom, f"form[action='/planning/{pk}/revise/'] button")
    hom.locator(".revision-proposal").wait_for()
    _shot(hom, language, "C7-revision-proposed")

    # C8. Headquarters approves the revision: a numbered version beside the baseline.
    _go(planner, f"{base}/planning/{pk}/")
    _submit(planner, f"form[action='/planning/{pk}/revision/approve/'] button")
    planner.locator(f"form[action='/planning/{pk}/revision/approve/']").wait_for(state="detached")
    programme = Programme.objects.unrestricted("test").get(pk=pk)
    assert programme.current_version == 3 and not programme.revision_pending
    assert programme.status == ProgrammeStatus.APPROVED
    _go(planner, f"{base}/planning/{pk}/baseline/")
    _shot(planner, language, "C8-revision-approved")
    for page in (hom, planner, counsellor):
        page.context.close()
