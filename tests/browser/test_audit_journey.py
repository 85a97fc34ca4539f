"""The auditor reads, filters and exports the log in Chromium; others find no such page."""

from __future__ import annotations

import csv
import io

import pytest

from tests.browser.conftest import axe_scan, format_violations, login, screenshot, serious, wait_for_htmx

pytestmark = pytest.mark.browser


def test_the_auditor_browses_filters_and_exports_the_log(page, live_server, fresh_ministry):
    login(page, live_server.url, "counsellor.dakar")  # a sign-in the auditor will find
    page.context.clear_cookies()
    login(page, live_server.url, "auditor")
    page.goto(live_server.url + "/")
    page.locator("nav a[href='/audit/']").first.click()
    page.wait_for_url("**/audit/")
    rows = page.locator("#audit-log tbody tr")
    assert rows.count() > 1
    violations = axe_scan(page)
    assert not serious(violations), format_violations(serious(violations))
    screenshot(page, "audit-log")

    page.fill("#id_actor", "counsellor.dakar")
    page.fill("#id_action", "accounts.login")
    page.locator("form[aria-label] button[type=submit]").click()
    page.wait_for_url("**/audit/?*action=accounts.login*")
    wait_for_htmx(page)
    cells = page.locator("#audit-log tbody tr td:nth-child(4)").all_inner_texts()
    agents = page.locator("#audit-log tbody tr td:nth-child(3)").all_inner_texts()
    assert cells and set(cells) == {"accounts.login"} and set(agents) == {"counsellor.dakar"}
    screenshot(page, "audit-log-filtered")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export (CSV)").or_(page.get_by_role("link", name="Exporter (CSV)")).click()
    content = download_info.value.path().read_text(encoding="utf-8")
    exported = list(csv.DictReader(io.StringIO(content)))
    assert exported and {row["action"] for row in exported} == {"accounts.login"}
    assert {row["actor"] for row in exported} == {"counsellor.dakar"}

    # The export is itself in the log.
    page.goto(live_server.url + "/audit/?action=audit.exported")
    assert page.locator("#audit-log tbody tr td:nth-child(3)").first.inner_text() == "auditor"
    # Nothing in the page offers to change an entry.
    assert page.locator("#audit-log form, #audit-log button").count() == 0


def test_an_agent_without_the_audit_role_finds_no_log(page, live_server, fresh_ministry):
    login(page, live_server.url, "counsellor.dakar")
    assert page.locator("nav a[href='/audit/']").count() == 0
    response = page.goto(live_server.url + "/audit/")
    assert response is not None and response.status == 404
