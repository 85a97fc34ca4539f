"""axe-core on every main page, in French and in Arabic: no serious or critical violation.

The list grows by itself: every page of the main applications that takes no URL argument and
answers a full HTML page is scanned (correspondence and planning included as they land), plus
the detail pages listed in DETAIL_PAGES whose URL names exist.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import NoReverseMatch, get_resolver, reverse
from playwright.sync_api import Page

from tests.browser.conftest import DEMO_PASSWORD, axe_scan, enrol_totp, format_violations, login, serious

pytestmark = pytest.mark.browser

NAMESPACES = ("core", "accounts", "organisation", "correspondence", "planning", "notifications", "imports", "reporting")
# The sign-in steps are scanned signed out (login) or in the foundation journey (enrolment,
# recovery codes); the others are actions, not pages.
SKIP = {
    "accounts:login", "accounts:logout", "accounts:second_factor", "accounts:enrol", "accounts:recovery_codes",
    "core:health",
}
# Pages that need an argument, scanned when their URL name exists.
DETAIL_PAGES: list[tuple[str, dict[str, Any]]] = [
    ("organisation:unit_detail", {"code": "DAKAR"}),
    ("organisation:unit_detail", {"code": "SG/4"}),
    ("organisation:person_detail", {"username": "hom.dakar"}),
    ("organisation:admin_agent", {"username": "hom.dakar"}),
    ("organisation:admin_agent_edit", {"username": "hom.dakar"}),
    ("organisation:admin_agent_clearance", {"username": "hom.dakar"}),
    ("organisation:admin_membership_add", {"username": "hom.dakar"}),
    ("organisation:admin_unit_edit", {"code": "DAKAR"}),
]
SCANNER = "admin"  # administrator (sees the administration pages); cleared Diffusion restreinte


def _argument_free_pages() -> list[str]:
    names: list[str] = []
    namespaces = get_resolver().namespace_dict
    for namespace in NAMESPACES:
        if namespace not in namespaces:
            continue
        _prefix, resolver = namespaces[namespace]
        for key in resolver.reverse_dict:
            if not isinstance(key, str) or f"{namespace}:{key}" in SKIP:
                continue
            try:
                reverse(f"{namespace}:{key}")
            except NoReverseMatch:
                continue
            names.append(f"{namespace}:{key}")
    return sorted(set(names))


def _pages() -> list[tuple[str, str]]:
    pages = [(name, reverse(name)) for name in _argument_free_pages()]
    for name, kwargs in DETAIL_PAGES:
        try:
            pages.append((f"{name} {kwargs}", reverse(name, kwargs=kwargs)))
        except NoReverseMatch:
            continue
    return pages


def _is_full_page(page: Page, url: str) -> bool:
    """Only GET pages answering a whole HTML document are scanned (not actions, fragments or files)."""
    response = page.request.get(url, max_redirects=0)
    assert response.status < 500, f"{url} answered {response.status}"
    if response.status != 200 or "text/html" not in response.headers.get("content-type", ""):
        return False
    return "<html" in response.text()[:500].lower()


def _scan(page: Page, url: str, label: str, language: str, found: dict[str, list[dict[str, Any]]]) -> None:
    page.goto(url)
    assert page.locator("html").get_attribute("lang") == language, f"{label}: the page is not in {language}"
    violations = axe_scan(page)
    found[label] = violations


@pytest.mark.parametrize("language", ["fr", "ar"])
def test_main_pages_have_no_serious_accessibility_violation(
    page: Page, live_server: Any, fresh_ministry: Any, language: str
) -> None:
    base = live_server.url
    found: dict[str, list[dict[str, Any]]] = {}

    page.context.add_cookies([{"name": "chancery_language", "value": language, "url": base}])
    _scan(page, f"{base}{reverse('accounts:login')}", "accounts:login (signed out)", language, found)
    # The second step of the sign-in, for an agent whose authenticator is set up.
    enrol_totp("hom.dakar")
    page.fill("#id_username", "hom.dakar")
    page.fill("#id_password", DEMO_PASSWORD)
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    assert page.url.endswith(reverse("accounts:second_factor")), page.url
    found["accounts:second_factor"] = axe_scan(page)
    page.context.clear_cookies()

    login(page, base, SCANNER)
    page.context.add_cookies([{"name": "chancery_language", "value": language, "url": base}])
    scanned = 0
    for label, path in _pages():
        url = f"{base}{path}"
        if not _is_full_page(page, url):
            continue
        _scan(page, url, label, language, found)
        scanned += 1
    # A head of mission sees other panels and menus (home dashboard, mission work lists).
    page.context.clear_cookies()
    login(page, base, "hom.dakar")
    page.context.add_cookies([{"name": "chancery_language", "value": language, "url": base}])
    for name in ("core:home", "correspondence:inbox", "planning:programme_list"):
        try:
            url = f"{base}{reverse(name)}"
        except NoReverseMatch:
            continue
        _scan(page, url, f"{name} (head of mission)", language, found)

    # An error page (404: unknown or out-of-scope object).
    page.goto(f"{base}{reverse('organisation:unit_detail', kwargs={'code': 'NO/SUCH/UNIT'})}")
    found["404 page"] = axe_scan(page)

    missing = {"core:home", "organisation:unit_tree", "organisation:people", "accounts:profile",
               "organisation:admin_home"} - set(found)
    assert not missing, f"main pages not scanned: {sorted(missing)}"

    report = "\n".join(
        format_violations(serious(violations), where=f"[{language}] {label}: ")
        for label, violations in found.items()
        if serious(violations)
    )
    for label, violations in found.items():
        print(f"axe [{language}] {label}: " + (", ".join(f"{v['id']}({v['impact']})" for v in violations) or "clean"))
    assert not report, "serious or critical accessibility violations:\n" + report


def test_the_scanner_finds_a_known_violation(page: Page) -> None:
    """The harness itself: axe really runs and reports (an unlabelled field, an image without text)."""
    page.set_content('<html lang="fr"><body><main><img src="x.png"><input type="text"></main></body></html>')
    ids = {v["id"] for v in serious(axe_scan(page))}
    assert {"image-alt", "label"} <= ids, ids
