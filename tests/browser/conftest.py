"""The browser-test harness: Debian's Chromium driven by Playwright against pytest-django's live server.

Every browser test is marked ``@pytest.mark.browser`` and takes ``live_server`` (which brings
``transactional_db``) and ``fresh_ministry`` (the demo ministry, rebuilt after each flush)::

    import pytest
    from tests.browser.conftest import axe_scan, login, screenshot

    pytestmark = pytest.mark.browser

    def test_something(page, live_server, fresh_ministry):
        login(page, live_server.url, "hom.dakar")        # handles the TOTP step
        page.goto(live_server.url + "/organisation/")
        assert not serious(axe_scan(page))
        screenshot(page, "organisation")                  # -> test-artifacts/organisation.png

Fixtures:
- ``browser``: session-wide headless Chromium (``/usr/bin/chromium``; Playwright cannot download browsers).
- ``page``: a new browser context per test (locale ``fr-FR``, 1280×900), closed afterwards. The page's
  console errors (CSP refusals included) are kept in ``page_errors(page)``.

Helpers (plain functions, import them from ``tests.browser.conftest``):
- ``login(page, live_server_url, username, password=DEMO_PASSWORD)`` signs in through the real forms,
  enrolling the agent's TOTP programmatically first when their clearance requires it.
- ``axe_scan(page, *, rules=None) -> list[dict]``: the axe-core violations of the current page.
- ``serious(violations)``: only the ``serious``/``critical`` ones; ``format_violations(violations)``.
- ``screenshot(page, name) -> Path``: a full-page PNG under ``test-artifacts/``.
- ``wait_for_htmx(page)``: waits until no HTMX request is in flight (after a boosted click).
- ``accept_dialogs(page) -> list[str]``: accept the confirmations irreversible steps ask; the list
  collects their questions.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:  # pragma: no cover - the dev extra installs it
    sync_playwright = None  # type: ignore[assignment]

DEMO_PASSWORD = "Chancery-demo-2026"
CHROMIUM = os.environ.get("CHANCERY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
AXE_SOURCE = Path(__file__).with_name("vendor") / "axe-core" / "axe.min.js"
DEFAULT_TIMEOUT_MS = 15_000


# --- Hooks ---------------------------------------------------------------------------------------

def pytest_collection_finish(session: pytest.Session) -> None:
    """The page-weight test needs the production static files: start building them right away."""
    if any(item.path.name == "test_page_weight.py" for item in session.items):
        from tests.browser import static_build

        static_build.start()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from tests.browser import static_build

    static_build.stop(interrupted=exitstatus == pytest.ExitCode.INTERRUPTED)


# --- Fixtures -------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def _serialized_database(django_db_setup: None, django_db_blocker: Any) -> str | None:
    """The database as the migrations and the demo ministry's set-up (`django_db_setup`) left it,
    serialized once: serialized rollback restores it before every browser test, so that
    ``fresh_ministry`` finds the ministry there instead of building it again through the services
    (1.5 s a test)."""
    from django.db import connection

    with django_db_blocker.unblock():
        serialized = connection.creation.serialize_db_to_string()
    connection._test_serialized_contents = serialized  # type: ignore[attr-defined]  # this connection's too
    return serialized


@pytest.fixture(autouse=True)
def _migration_data_kept(django_db_serialized_rollback: None, _serialized_database: str | None) -> None:
    """Browser tests are transactional (the live server answers from another thread), so the
    database is flushed after each one, which also wipes the rows seeded by data migrations (the
    default planning axes, …) and the demo organisation. Serialized rollback puts both back before
    every browser test (see ``_serialized_database``).

    Django keeps database connections per asyncio context, and Playwright's sync API runs an event
    loop: once the browser is up, tests get a new connection object that lacks the serialized copy
    taken at set-up, so it is handed over here (and the first restore done by hand).
    """
    from django.db import connection

    if _serialized_database and not hasattr(connection, "_test_serialized_contents"):
        connection._test_serialized_contents = _serialized_database  # type: ignore[attr-defined]
        connection.creation.deserialize_db_from_string(_serialized_database)


@pytest.fixture(scope="session")
def browser(_serialized_database: str | None) -> Iterator[Browser]:
    # Depends on the database set-up so that it runs before Playwright starts its event loop.
    if sync_playwright is None:
        pytest.skip("playwright is not installed (pip install -e '.[dev]')")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-chromium.sh (Debian package 'chromium').")
    # Playwright's sync API keeps an event loop running in this thread while the browser lives; the
    # database set-up and the test bodies' ORM calls are still plain synchronous code (the live
    # server answers from its own thread), so Django's async-context guard is lifted meanwhile.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            yield launched
            launched.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    new_page = context.new_page()
    errors: list[str] = []
    new_page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    new_page.on("pageerror", lambda error: errors.append(str(error)))
    new_page._chancery_errors = errors  # type: ignore[attr-defined]
    yield new_page
    context.close()


def page_errors(page: Page) -> list[str]:
    """Console errors and uncaught exceptions seen by this page so far (CSP refusals show here)."""
    return list(getattr(page, "_chancery_errors", []))


# --- Signing in -----------------------------------------------------------------------------------

_TOTP_INTERVAL = 30


def _user(username: str) -> Any:
    from chancery.accounts.models import User

    return User.objects.unrestricted("browser test set-up").get(username=username)


def enrol_totp(username: str) -> str:
    """Enrol the agent's authenticator through the services, as the enrolment page would; returns the secret.

    The confirmation uses the previous 30-second step's code (inside the server's one-step drift
    window), so the current step stays free for the sign-in that follows.
    """
    import pyotp

    from chancery.accounts import services

    user = _user(username)
    secret = services.begin_totp_enrolment(user=user)
    # At a step's last instant the server may check the code in the next step, two past the code's
    # (a loaded machine once took that long between the two lines): begin in a fresh step instead.
    remaining = _TOTP_INTERVAL - time.time() % _TOTP_INTERVAL
    if remaining < 2:
        time.sleep(remaining + 0.05)
    previous = pyotp.TOTP(secret).at(time.time() - _TOTP_INTERVAL)
    services.confirm_totp_enrolment(user=user, code=previous)
    return secret


def fresh_totp_code(username: str) -> str:
    """A code the server accepts now: the current step's, else the next step's (an authenticator
    whose clock runs up to one step ahead, which the server's drift window accepts), waiting for
    the next step only when both were already used. A journey that signs the same agent in twice
    within 30 seconds so goes on without sleeping, and the replay refusal still decides: a step
    at or below the last one used is never offered."""
    import pyotp

    user = _user(username)
    totp = pyotp.TOTP(user.totp_secret)
    while True:
        now = time.time()
        step = int(now) // totp.interval
        for candidate in (step, step + 1):
            if candidate > user.totp_last_step:
                return totp.at(candidate * totp.interval)
        time.sleep(totp.interval - (now % totp.interval) + 0.2)


def login(page: Page, live_server_url: str, username: str, password: str = DEMO_PASSWORD) -> None:
    """Sign in through the login form (and the second-factor form when the agent needs one).

    Leaves the page on the home page (or wherever the sign-in redirects), fully loaded.
    """
    user = _user(username)
    if user.requires_totp and not user.totp_enrolled:
        enrol_totp(username)
    page.goto(f"{live_server_url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("form:has(input[name=password]) button[type=submit]")
    if "/accounts/login/second-factor/" in page.url:
        page.fill("input[name=code]", fresh_totp_code(username))
        with page.expect_navigation():
            page.click("form:has(input[name=code]) button[type=submit]")
    if "/accounts/login" in page.url:
        alert = page.locator(".alert-danger, .invalid-feedback")
        detail = alert.first.inner_text() if alert.count() else page.title()
        raise AssertionError(f"sign-in as {username} failed: {detail}")
    page.wait_for_load_state("load")


# --- Confirmations --------------------------------------------------------------------------------

def accept_dialogs(page: Page) -> list[str]:
    """Accept every confirmation the page asks from now on (Playwright would dismiss them);
    returns the list the questions asked are appended to, so a test can check what was said."""
    asked: list[str] = []

    def answer(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.on("dialog", answer)
    return asked


# --- HTMX -----------------------------------------------------------------------------------------

def wait_for_htmx(page: Page) -> None:
    """Wait until no HTMX request is in flight and the last swap has settled."""
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
    )


# --- Accessibility --------------------------------------------------------------------------------

def axe_scan(page: Page, *, rules: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Run axe-core (vendored, WCAG 2.x A/AA rules) on the current page; returns the violations.

    The script is evaluated through the DevTools protocol, which the page's CSP does not govern,
    so the scan needs no CSP bypass and the page is checked exactly as users get it.
    """
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE_SOURCE.read_text(encoding="utf-8"))
    options: dict[str, Any] = {
        "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
        "resultTypes": ["violations"],
    }
    if rules:
        options["rules"] = rules
    result = page.evaluate("async (options) => await window.axe.run(document, options)", options)
    return list(result["violations"])


def serious(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [v for v in violations if v.get("impact") in ("serious", "critical")]


def format_violations(violations: list[dict[str, Any]], *, where: str = "") -> str:
    lines = []
    for violation in violations:
        impact, rule = violation.get("impact"), violation["id"]
        lines.append(f"{where}[{impact}] {rule}: {violation['help']} ({violation['helpUrl']})")
        for node in violation.get("nodes", [])[:8]:
            target = " ".join(str(t) for t in node.get("target", []))
            summary = (node.get("failureSummary") or "").replace("\n", " ")
            lines.append(f"    {target} :: {summary[:300]}")
    return "\n".join(lines)


# --- Artefacts ------------------------------------------------------------------------------------

def screenshot(page: Page, name: str) -> Path:
    """Save a full-page PNG as test-artifacts/<name>.png and return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "page"
    path = ARTIFACTS / f"{safe}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
