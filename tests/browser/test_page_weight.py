"""Light pages for slow embassy links, measured in Chromium against the production static set-up.

The live server of the other browser tests serves static files through Django's development
handler; here a server thread runs the real stack instead: ``collectstatic`` into a private
STATIC_ROOT with WhiteNoise's ``CompressedManifestStaticFilesStorage`` (hashed names, .gz and .br
side files), served by WhiteNoise, pages compressed by ``GZipMiddleware``. Chromium reports the
bytes actually transferred (headers + encoded body) for every response of a first visit with an
empty cache.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.db import connections
from playwright.sync_api import Browser, BrowserContext, Page, Request
from pytest_django.fixtures import Settings

from tests.browser import static_build
from tests.browser.conftest import DEFAULT_TIMEOUT_MS, login, wait_for_htmx

pytestmark = pytest.mark.browser

BUDGET_BYTES = 200 * 1024
ONE_YEAR = 31536000
HASHED = re.compile(r"\.[0-9a-f]{12}\.[A-Za-z0-9]+$")


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def production_server(settings: Settings, fresh_ministry: Any) -> Iterator[str]:
    """A server thread with manifest static storage, WhiteNoise and gzip, as deployed."""
    from django.core.handlers.wsgi import WSGIHandler

    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": static_build.MANIFEST_STORAGE}}
    settings.STATIC_ROOT = static_build.collected()
    # Assigning STORAGES again drops the storage instances cached while collecting (they point at
    # the build folder): templates then read the manifest of the collected files.
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": static_build.MANIFEST_STORAGE}}
    settings.DEBUG = False
    app = WSGIHandler()  # built after the settings change: WhiteNoise indexes this STATIC_ROOT
    server = ThreadedWSGIServer(("127.0.0.1", 0), _QuietHandler, allow_reuse_address=False)
    server.set_app(app)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        connections.close_all()


# --- Measuring ------------------------------------------------------------------------------------

class Transfers:
    """Every finished request of a page, with what crossed the wire."""

    def __init__(self, page: Page) -> None:
        self.requests: list[Request] = []
        page.on("requestfinished", lambda request: self.requests.append(request))

    def clear(self) -> None:
        self.requests.clear()

    def rows(self) -> list[dict[str, Any]]:
        rows = []
        for request in self.requests:
            sizes = request.sizes()
            response = request.response()
            assert response is not None
            rows.append({
                "url": request.url,
                "request": request,
                "headers": response.all_headers(),
                "status": response.status,
                "bytes": sizes["responseBodySize"] + sizes["responseHeadersSize"],
            })
        return rows

    def document(self) -> dict[str, Any]:
        documents = [row for row in self.rows() if row["request"].resource_type == "document"]
        assert len(documents) == 1, self.report()
        return documents[0]

    def total(self) -> int:
        return sum(row["bytes"] for row in self.rows())

    def report(self) -> str:
        return "\n".join(f"  {row['bytes']:>7} B  {row['status']}  {row['headers'].get('content-encoding', '-'):>4}  "
                         f"{row['url']}" for row in self.rows())


def _new_context(browser: Browser, **extra: Any) -> BrowserContext:
    context = browser.new_context(
        locale="fr-FR",
        viewport={"width": 1280, "height": 900},
        # Chromium only offers brotli over HTTPS; a deployment is served over HTTPS, so ask for it.
        extra_http_headers={"Accept-Encoding": "gzip, deflate, br"},
        **extra,
    )
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    return context


def _first_load(page: Page, url: str) -> Transfers:
    transfers = Transfers(page)
    page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")
    return transfers


def _check_static(transfers: Transfers) -> None:
    statics = [row for row in transfers.rows() if "/static/" in row["url"]]
    assert len(statics) >= 4, transfers.report()  # stylesheets and scripts
    for row in statics:
        path = row["url"].split("?")[0]
        assert HASHED.search(path), f"static file without a hashed name: {path}"
        cache_control = row["headers"].get("cache-control", "")
        assert f"max-age={ONE_YEAR}" in cache_control and "immutable" in cache_control, (path, cache_control)
        if path.endswith((".css", ".js")):
            assert row["headers"].get("content-encoding") in {"br", "gzip"}, (path, row["headers"])


def test_first_loads_are_light_and_later_navigation_swaps_fragments(
    browser: Browser, production_server: str, fresh_ministry: Any
) -> None:
    base = production_server

    # The sign-in page, first visit, empty cache.
    anonymous = _new_context(browser)
    page = anonymous.new_page()
    transfers = _first_load(page, f"{base}/accounts/login/")
    login_total = transfers.total()
    print(f"\nsign-in page, first load: {login_total / 1024:.1f} KB\n{transfers.report()}")
    assert login_total <= BUDGET_BYTES, transfers.report()
    _check_static(transfers)
    document = transfers.document()
    assert document["url"].endswith("/accounts/login/") and document["status"] == 200
    assert document["headers"].get("content-encoding") == "gzip", document["headers"]

    # Sign in, then open the home page in a new context with the session but an empty cache.
    login(page, base, "hom.dakar")
    state = anonymous.storage_state()
    anonymous.close()
    signed_in = _new_context(browser, storage_state=state)
    page = signed_in.new_page()
    transfers = _first_load(page, f"{base}/")
    assert page.url == f"{base}/", "the session did not carry over"
    home_total = transfers.total()
    print(f"home page after sign-in, first load: {home_total / 1024:.1f} KB\n{transfers.report()}")
    assert home_total <= BUDGET_BYTES, transfers.report()
    _check_static(transfers)
    document = transfers.document()
    assert document["status"] == 200 and document["headers"].get("content-encoding") == "gzip", transfers.report()

    # A later navigation: one HTMX request answering a fragment, no static file fetched again.
    transfers.clear()
    page.evaluate("() => { window.__marker = 1; }")
    page.locator("#main-nav a.nav-link[href='/organisation/']").click()
    page.wait_for_url(f"{base}/organisation/")
    wait_for_htmx(page)
    page.wait_for_load_state("networkidle")
    assert page.evaluate("() => window.__marker") == 1, "the navigation reloaded the whole page"
    rows = transfers.rows()
    print(f"HTMX navigation to the organisation: {sum(r['bytes'] for r in rows) / 1024:.1f} KB\n{transfers.report()}")
    # Chromium looks the page icon up again when the address changes; its cache answers (0 B).
    refetched = [r for r in rows if "/static/" in r["url"] and not ("/favicon." in r["url"] and r["bytes"] == 0)]
    assert not refetched, transfers.report()
    navigation = [r for r in rows if r["url"] == f"{base}/organisation/"]
    assert len(navigation) == 1, transfers.report()
    fragment = navigation[0]
    assert fragment["request"].header_value("hx-request") == "true"
    body = fragment["request"].response().text()
    assert fragment["status"] == 200
    assert "<html" not in body.lower() and "<head" not in body.lower() and "<title>" in body
    # Only the content: neither the menu nor the footer comes again.
    assert 'id="main-nav"' not in body and 'id="language-select"' not in body
    signed_in.close()
