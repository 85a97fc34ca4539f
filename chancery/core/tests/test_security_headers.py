"""Security headers on every response, HSTS when served over HTTPS."""

from __future__ import annotations

import pytest
from django.test import Client


def _directives(csp: str) -> dict[str, list[str]]:
    parsed = {}
    for part in csp.split(";"):
        words = part.split()
        if words:
            parsed[words[0]] = words[1:]
    return parsed


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/accounts/login/", "/", "/organisation/", "/api/v1/openapi.json", "/no-such-page/"])
def test_security_headers(client_for, path):
    response = client_for("clerk.dakar").get(path)
    csp = _directives(response["Content-Security-Policy"])
    assert csp["script-src"] == ["'self'"]
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]
    assert "'unsafe-inline'" not in csp.get("style-src", [])
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["default-src"] == ["'self'"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in response  # plain HTTP: no HSTS


@pytest.mark.django_db
def test_pages_of_a_signed_in_agent_are_not_cached(client_for):
    assert "no-store" in client_for("clerk.dakar").get("/")["Cache-Control"]


@pytest.mark.django_db
def test_no_inline_script_on_the_main_pages(client_for):
    client = client_for("admin")
    for path in ("/", "/organisation/", "/organisation/admin/", "/organisation/admin/agents/clerk.dakar/",
                 "/organisation/admin/units/new/", "/accounts/profile/"):
        html = client.get(path).content.decode()
        for chunk in html.split("<script")[1:]:
            assert chunk.split(">")[0].strip().startswith("src="), f"inline script on {path}"
        assert " style=" not in html and " onclick=" not in html and "hx-on" not in html, path


@pytest.mark.django_db
def test_hsts_over_https(settings):
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    client = Client()
    secure = client.get("/accounts/login/", secure=True)
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert "Strict-Transport-Security" not in client.get("/accounts/login/")


@pytest.mark.django_db
def test_https_redirect(settings):
    settings.SECURE_SSL_REDIRECT = True
    response = Client().get("/accounts/login/")
    assert response.status_code == 301 and response["Location"].startswith("https://")
