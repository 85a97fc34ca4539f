"""Dashboards and the synthesis in a real browser, once in French and once in Arabic.

The planning officer opens the ministry dashboard (charts drawn by the vendored Chart.js,
no CSP refusal), drills down to the late actions, opens the region and a mission, and the
correspondence dashboard; the head of mission writes a volet's narrative, freezes the
synthesis and sends it to headquarters; the planning officer compiles the region's
syntheses in the background and watches the progress bar. Screenshots in test-artifacts/.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page

from tests.browser.conftest import login, page_errors, screenshot, wait_for_htmx

pytestmark = pytest.mark.browser


def _as(page: Page, base: str, username: str, language: str) -> None:
    page.context.clear_cookies()
    login(page, base, username)
    page.select_option("#language-select", language)
    with page.expect_navigation():
        page.locator("footer form button[type=submit]").click()
    page.wait_for_load_state("load")
    assert page.locator("html").get_attribute("dir") == ("rtl" if language == "ar" else "ltr")


def _open(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("load")


def _charts_drawn(page: Page) -> int:
    try:
        page.wait_for_function("() => [...document.querySelectorAll('canvas[data-chart]')].every(c => c.dataset.drawn)")
    except Exception as exc:
        raise AssertionError(f"charts not drawn; page errors: {page_errors(page)}") from exc
    return page.locator("canvas[data-chart][data-drawn]").count()


def _csp_clean(page: Page) -> None:
    refused = [e for e in page_errors(page) if "Content Security Policy" in e or "Refused" in e]
    assert not refused, refused


@pytest.mark.parametrize("language", ["fr", "ar"])
def test_dashboards_and_synthesis_journey(page: Page, live_server: Any, fresh_ministry: Any, language: str) -> None:
    from chancery.reporting.models import ReportJob, Synthesis
    from chancery.reporting.tests.scenario import build

    scenario = build(fresh_ministry)
    base = live_server.url
    year = scenario.year
    dakar = scenario.programmes["DAKAR"]

    # --- the planning officer's dashboards
    _as(page, base, "plan.sg4", language)
    _open(page, f"{base}/reporting/?year={year}")
    assert page.locator('[data-figure="actions-late"]').inner_text().strip() == "2"
    assert page.locator('[data-figure="programmes"]').inner_text().strip() == "4"
    assert page.locator("#missions-table tr[data-mission=ACCRA]").count() == 0
    assert _charts_drawn(page) == 2
    screenshot(page, f"reporting-ministry-{language}")

    page.locator('[data-figure="actions-late"]').click()
    wait_for_htmx(page)
    assert page.locator("#records-table tbody tr").count() == 2
    screenshot(page, f"reporting-drilldown-late-{language}")

    _open(page, f"{base}/reporting/?year={year}&region=RAFR")
    assert page.locator("#missions-table tbody tr[data-mission]").count() == 2
    screenshot(page, f"reporting-region-{language}")

    page.locator("#missions-table tr[data-mission=DAKAR] td a").first.click()
    wait_for_htmx(page)
    page.wait_for_url(f"**/reporting/programmes/{dakar.pk}/")
    assert page.locator("[data-indicator-status=off_track]").count() == 1
    assert _charts_drawn(page) == 5  # completion by volet + one per indicator
    screenshot(page, f"reporting-mission-{language}")

    _open(page, f"{base}/reporting/correspondence/?year={year}")
    assert page.locator('[data-figure="total"]').inner_text().strip() == "3"
    assert _charts_drawn(page) == 2
    screenshot(page, f"reporting-correspondence-{language}")
    _csp_clean(page)

    # --- the head of mission: narrative, freeze, send
    _as(page, base, "hom.dakar", language)
    _open(page, f"{base}/reporting/programmes/{dakar.pk}/synthesis/")
    first_axis = dakar.axes.order_by("position").first()
    page.fill(f"#narrative-{first_axis.pk}", "Bilan politique : objectifs atteints pour l'essentiel.")
    page.locator("form:has(textarea) button[type=submit]").click()
    wait_for_htmx(page)
    assert "objectifs atteints" in page.locator(f"#narrative-{first_axis.pk}").input_value()
    page.locator("form[action$='/freeze/'] button").click()
    wait_for_htmx(page)
    assert Synthesis.objects.unrestricted("test").get(programme=dakar).is_frozen
    page.locator("form[action$='/send/'] button").click()
    wait_for_htmx(page)
    synthesis = Synthesis.objects.unrestricted("test").get(programme=dakar)
    assert synthesis.dispatch_id is not None
    assert page.locator("#synthesis-state a[href*='/correspondence/dispatches/']").count() == 1
    screenshot(page, f"reporting-synthesis-{language}")
    _csp_clean(page)

    # --- the planning officer compiles the region in the background
    _as(page, base, "plan.sg4", language)
    _open(page, f"{base}/reporting/compile/?year={year}&region=RAFR")
    page.locator("#compile-form button[type=submit]").click()
    wait_for_htmx(page)
    page.wait_for_url("**/reporting/jobs/*/")
    assert page.locator("#job-progress progress").count() == 1
    screenshot(page, f"reporting-job-running-{language}")
    job = ReportJob.objects.unrestricted("test").latest("pk")
    _run_worker()  # the page keeps polling the live server (its own thread) meanwhile
    job.refresh_from_db()
    assert job.status == "done", (job.status, job.error, job.task_id)
    page.wait_for_selector("#job-progress[data-status=done]", timeout=30_000)  # the page polls by itself
    assert page.locator(f"#job-progress a[href$='/jobs/{job.pk}/download/']").count() == 1
    screenshot(page, f"reporting-job-done-{language}")
    _csp_clean(page)


def _run_worker() -> None:
    """The database worker, as `chancery serve` runs it beside the server (one batch; in this
    thread, because the worker installs signal handlers)."""
    from django.core.management import call_command

    call_command("db_worker", "--batch", "--no-startup-delay", "--interval", "0", verbosity=0)
