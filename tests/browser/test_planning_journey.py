"""The planning journey in a real browser.

A head of mission creates the year's programme, adds an action and an indicator and submits
it; the planning officer approves it (the baseline); a counsellor re-dates and re-budgets the
action, records a revision with its reason, compares with the baseline and records an
achievement with an evidence file. Elements are found by URL and id (the interface is French).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page

from tests.browser.conftest import (
    DEFAULT_TIMEOUT_MS,
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


def _page_for(browser: Browser, base: str, username: str) -> Page:
    context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page._chancery_errors = errors  # type: ignore[attr-defined]
    login(page, base, username)
    return page


def _submit(page: Page, selector: str) -> None:
    """Click a submit button and wait for the (boosted or plain) navigation to settle."""
    page.locator(selector).click()
    page.wait_for_load_state("load")
    wait_for_htmx(page)


def _shot(page: Page, name: str) -> None:
    """A screenshot, then a reload: Playwright leaves empty `style=""` attributes behind, which
    HTMX's settle step would copy onto the next swap (a CSP refusal that users never see)."""
    screenshot(page, name)
    page.reload()
    page.wait_for_load_state("load")


def _no_csp_errors(page: Page) -> None:
    errors = page_errors(page)
    assert not [e for e in errors if "Content Security Policy" in e], errors


def _accessible(page: Page, where: str) -> None:
    problems = serious(axe_scan(page))
    assert not problems, format_violations(problems, where=where + ": ")


def test_planning_journey(browser: Browser, live_server: Any, fresh_ministry: Any, tmp_path: Path) -> None:
    base = live_server.url
    year = timezone.localdate().year

    # 1. The head of mission creates the programme for the year.
    hom = _page_for(browser, base, "hom.dakar")
    hom.goto(f"{base}/planning/")
    hom.locator("a[href='/planning/new/']").first.click()
    hom.wait_for_url(f"{base}/planning/new/")
    hom.locator("#id_year").fill(str(year))
    hom.locator("#id_title").fill(f"Programme d'action {year} — Dakar")
    _submit(hom, "main form button[type=submit]")
    hom.wait_for_url(lambda url: url.rstrip("/").split("/")[-1].isdigit())
    programme_url = hom.url.split("#")[0]
    pk = programme_url.rstrip("/").split("/")[-1]
    assert hom.locator("main h1").inner_text().endswith("Dakar")

    # 2. An action (dated, budgeted) and an indicator (baseline → target).
    hom.locator(f"a[href='/planning/{pk}/actions/new/']").first.click()
    hom.wait_for_url(f"{base}/planning/{pk}/actions/new/")
    hom.locator("#id_title").fill("Forum économique bilatéral")
    hom.locator("#id_start_date").fill(f"{year}-03-01")
    hom.locator("#id_end_date").fill(f"{year}-03-31")
    hom.locator("#id_budget_requested").fill("12000")
    _submit(hom, "main form button[type=submit]")
    hom.wait_for_url(lambda url: url.startswith(programme_url) and "/actions/" not in url)
    assert hom.locator("main").get_by_text("Forum économique bilatéral").first.is_visible()

    hom.locator(f"a[href='/planning/{pk}/indicators/new/']").first.click()
    hom.wait_for_url(f"{base}/planning/{pk}/indicators/new/")
    hom.locator("#id_label").fill("Volume des échanges bilatéraux")
    hom.locator("#id_unit").fill("million USD")
    hom.locator("#id_baseline_value").fill("60")
    hom.locator("#id_baseline_year").fill(str(year - 1))
    hom.locator("#id_approved_target").fill("75")
    _submit(hom, "main form button[type=submit]")
    hom.wait_for_url(lambda url: url.startswith(programme_url) and "/indicators/" not in url)
    assert hom.locator("main").get_by_text("Volume des échanges bilatéraux").first.is_visible()
    _shot(hom, "planning-1-draft")
    _accessible(hom, "draft programme")

    # 3. Submitted by the head of mission.
    _submit(hom, f"form[action='/planning/{pk}/submit/'] button")
    hom.locator("main .status-submitted").first.wait_for()
    assert hom.locator(f"form[action='/planning/{pk}/submit/']").count() == 0
    _no_csp_errors(hom)
    hom.context.close()

    # 4. Approved by the planning officer: the approved version becomes the baseline.
    planner = _page_for(browser, base, "plan.sg4")
    planner.goto(programme_url)
    # A comment on the action, posted with HTMX: only its thread is swapped, the page stays.
    planner.evaluate("() => { window.__stay = 1; }")
    thread = planner.locator("li[id^=action-] .comments").first
    planner.locator("li[id^=action-] details > summary").first.click()
    thread.locator("textarea[name=body]").fill("Préciser le budget accordé.")
    with planner.expect_response(lambda r: r.url.endswith(f"/planning/{pk}/comments/")) as posted:
        thread.locator("button[type=submit]").click()
    assert "<html" not in posted.value.text().lower()
    planner.locator("li[id^=action-] .comment").filter(has_text="Préciser le budget accordé.").wait_for()
    assert planner.evaluate("() => window.__stay") == 1, "the whole page was reloaded"
    accept_dialogs(planner)
    _submit(planner, f"form[action='/planning/{pk}/approve/'] button")
    planner.locator("main .status-approved").first.wait_for()
    _shot(planner, "planning-2-approved")
    _no_csp_errors(planner)
    planner.context.close()

    # 5. A counsellor re-dates and re-budgets the action, then records a revision with its reason.
    counsellor = _page_for(browser, base, "counsellor.dakar")
    counsellor.goto(programme_url)
    counsellor.locator(f"a[href^='/planning/{pk}/actions/'][href$='/edit/']").first.click()
    counsellor.wait_for_url(lambda url: url.endswith("/edit/"))
    counsellor.locator("#id_end_date").fill(f"{year}-06-30")
    assert counsellor.locator("#id_budget_approved").is_disabled()  # headquarters grants budgets
    counsellor.locator("#id_budget_requested").fill("9000")
    _submit(counsellor, "main form button[type=submit]")
    counsellor.wait_for_url(lambda url: url.startswith(programme_url) and "/edit/" not in url)
    # The revision is the head of mission's to propose: the counsellor is told so.
    assert counsellor.locator(".whose-step").count() == 1
    assert counsellor.locator(f"form[action='/planning/{pk}/revise/']").count() == 0

    hom = _page_for(browser, base, "hom.dakar")
    hom.goto(programme_url)
    hom.locator("details:has(#id_revise-reason) > summary").click()
    hom.locator("#id_revise-reason").fill("Forum prolongé jusqu'en juin à la demande des partenaires")
    accept_dialogs(hom)
    _submit(hom, f"form[action='/planning/{pk}/revise/'] button")
    hom.get_by_text("Forum prolongé jusqu'en juin").first.wait_for()
    hom.context.close()

    # Headquarters approves the revision (and grants the budget requested).
    planner = _page_for(browser, base, "plan.sg4")
    planner.goto(programme_url)
    accept_dialogs(planner)
    planner.locator("input[name^=budget-]").first.fill("8500")
    _submit(planner, f"form[action='/planning/{pk}/revision/approve/'] button")
    planner.locator(f"form[action='/planning/{pk}/revision/approve/']").wait_for(state="detached")
    planner.context.close()
    counsellor.goto(programme_url)

    # 6. The baseline beside the current version: the action is re-dated and re-budgeted.
    counsellor.locator(f"a[href='/planning/{pk}/baseline/']").first.click()
    counsellor.wait_for_url(f"{base}/planning/{pk}/baseline/")
    wait_for_htmx(counsellor)
    changed = counsellor.locator("tr.diff-changed")
    assert changed.count() == 1
    row = changed.first.inner_text()
    assert "Forum économique bilatéral" in row
    assert changed.first.locator(".diff-kind-redated").count() == 1
    assert changed.first.locator(".diff-kind-rebudgeted").count() == 1
    assert changed.first.locator("del").count() >= 2 and changed.first.locator("ins").count() >= 2
    _shot(counsellor, "planning-3-baseline")
    _accessible(counsellor, "baseline comparison")

    # Any two versions: v1 (submitted) against v3 (the revision).
    counsellor.goto(f"{base}/planning/{pk}/versions/?old=1&new=3")
    assert counsellor.locator("tr.diff-changed").count() == 1

    # 7. An achievement serving the action, with an evidence file.
    counsellor.goto(programme_url)
    counsellor.locator(f"a[href='/planning/{pk}/achievements/new/']").first.click()
    counsellor.wait_for_url(f"{base}/planning/{pk}/achievements/new/")
    counsellor.locator("#id_kind").select_option("agreement")
    counsellor.locator("#id_date").fill(f"{year}-03-20")
    counsellor.locator("#id_title").fill("Accord de coopération économique signé")
    counsellor.locator("input[name=actions]").first.check()
    evidence = tmp_path / "communique.txt"
    evidence.write_text("Communiqué conjoint", encoding="utf-8")
    counsellor.locator("#id_evidence_files").set_input_files(evidence)
    _submit(counsellor, "main form button[type=submit]")
    counsellor.wait_for_url(lambda url: url.startswith(programme_url) and "/achievements/" not in url)
    achievement = counsellor.locator("li[id^=achievement-]").filter(has_text="Accord de coopération économique signé")
    assert achievement.count() == 1
    assert achievement.locator("a", has_text="communique.txt").count() == 1
    assert achievement.locator("a", has_text="Forum économique bilatéral").count() == 1
    _shot(counsellor, "planning-4-achievement")

    # The timeline draws the action's bar with classes only (the CSP forbids style attributes).
    counsellor.goto(f"{base}/planning/{pk}/timeline/")
    bar = counsellor.locator(".gantt-bar[class*=gs-]").first
    box = bar.bounding_box()
    assert box is not None and box["width"] > 20
    _shot(counsellor, "planning-5-timeline")
    _no_csp_errors(counsellor)
    counsellor.context.close()
