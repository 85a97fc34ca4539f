"""Opting in to a second factor from the profile: a button (a POST) starts it, reloading changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import axe_scan, format_violations, login, screenshot, serious

pytestmark = pytest.mark.browser


def test_an_agent_opts_in_from_the_profile(page: Any, live_server: Any, fresh_ministry: Any) -> None:
    from chancery.accounts.models import User

    login(page, live_server.url, "clerk.dakar")  # cleared Diffusion restreinte: the factor is optional
    page.goto(live_server.url + "/accounts/profile/")
    screenshot(page, "profile-second-factor-offer")
    page.goto(live_server.url + "/accounts/second-factor/enrol/")
    assert page.locator("button[name=begin]").count() == 1
    assert not User.objects.unrestricted("test").get(username="clerk.dakar").has_totp_secret  # the GET wrote nothing
    problems = serious(axe_scan(page))
    assert not problems, format_violations(problems, where="enrolment start: ")
    screenshot(page, "enrol-begin")
    with page.expect_navigation():
        page.click("button[name=begin]")
    secret = page.locator("code.totp-secret").inner_text()
    assert secret == User.objects.unrestricted("test").get(username="clerk.dakar").totp_secret
    page.reload()
    assert page.locator("code.totp-secret").inner_text() == secret  # a reload keeps it
    screenshot(page, "enrol-qr")
