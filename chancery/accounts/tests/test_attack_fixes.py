"""Holes an attack on a running instance found in sign-in and account administration."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from chancery.accounts.models import User
from chancery.organisation.demo import DEMO_PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

LOGIN = "/accounts/login/"
ENROL = "/accounts/second-factor/enrol/"
THROTTLED = "Too many failed attempts"


def _post(client: Client, username: str, password: str, **extra: Any) -> Any:
    return client.post(LOGIN, {"username": username, "password": password}, **extra)


def _secret_fields(username: str) -> tuple[Any, ...]:
    user = User.objects.unrestricted("test").get(username=username)
    return (bytes(user.totp_secret_ciphertext or b""), user.totp_data_key_id, user.totp_confirmed_at)


# --- Django's admin is not served ------------------------------------------------------


@pytest.mark.parametrize("path", ["/superadmin/", "/superadmin/login/", "/superadmin/accounts/user/",
                                  "/superadmin/organisation/unit/"])
def test_the_django_admin_is_not_served_even_to_a_super_administrator(client_for, path):
    admin = client_for("admin")
    assert admin.get(path).status_code == 404
    assert Client().post(path, {"username": "admin", "password": DEMO_PASSWORD}).status_code in {302, 404}
    assert "_auth_user_id" not in Client().session


# --- A GET of the enrolment page changes nothing -----------------------------------------


def test_reloading_the_enrolment_page_keeps_the_secret(ministry):
    client = Client()
    assert _post(client, "hom.dakar", DEMO_PASSWORD)["Location"] == ENROL
    first = _secret_fields("hom.dakar")
    assert first[0], "the password step starts the enrolment (a POST)"
    page = client.get(ENROL).content.decode()
    for _reload in range(3):
        assert client.get(ENROL).status_code == 200
        assert _secret_fields("hom.dakar") == first
    secret = User.objects.unrestricted("test").get(username="hom.dakar").totp_secret
    assert secret in page


def test_the_enrolment_page_of_a_signed_in_agent_writes_only_on_post(client_for, ministry):
    client = client_for("clerk.dakar")
    before = _secret_fields("clerk.dakar")
    page = client.get(ENROL)
    assert page.status_code == 200 and 'name="begin"' in page.content.decode()
    assert _secret_fields("clerk.dakar") == before
    assert client.post(ENROL, {"begin": "1"}).status_code == 302
    started = _secret_fields("clerk.dakar")
    assert started[0] and started != before
    client.get(ENROL)
    assert _secret_fields("clerk.dakar") == started


def test_a_new_sign_in_does_not_reuse_a_secret_seen_in_an_abandoned_one(ministry):
    _post(Client(), "hom.dakar", DEMO_PASSWORD)
    abandoned = User.objects.unrestricted("test").get(username="hom.dakar").totp_secret
    _post(Client(), "hom.dakar", DEMO_PASSWORD)
    assert User.objects.unrestricted("test").get(username="hom.dakar").totp_secret != abandoned


# --- Throttling per account and per address; trusted proxies ------------------------------


def test_guessing_one_password_from_many_addresses_slows_the_account(ministry, settings):
    allowance = settings.CHANCERY_LOGIN_FREE_ATTEMPTS * 4
    for index in range(allowance):
        _post(Client(), "clerk.dakar", "wrong", REMOTE_ADDR=f"203.0.113.{index + 1}")
    # A new address, the right password: slowed down all the same (else the guess would be confirmed).
    assert THROTTLED in _post(Client(), "clerk.dakar", DEMO_PASSWORD, REMOTE_ADDR="198.51.100.200").content.decode()
    # Other accounts are not concerned.
    assert _post(Client(), "counsellor.dakar", DEMO_PASSWORD, REMOTE_ADDR="198.51.100.200").status_code == 302


def test_behind_a_trusted_proxy_a_sprayer_blocks_only_itself(ministry, settings):
    settings.CHANCERY_TRUSTED_PROXIES = ["10.0.0.0/8"]
    proxy = {"REMOTE_ADDR": "10.1.2.3"}
    for index in range(settings.CHANCERY_LOGIN_FREE_ATTEMPTS * 4):
        _post(Client(), f"guess{index}", "wrong", HTTP_X_FORWARDED_FOR="203.0.113.50", **proxy)
    assert THROTTLED in _post(Client(), "clerk.dakar", DEMO_PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.50",
                              **proxy).content.decode()
    # A colleague behind the same proxy signs in.
    colleague = _post(Client(), "clerk.dakar", DEMO_PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.7", **proxy)
    assert colleague.status_code == 302
    # The client cannot escape by writing its own X-Forwarded-For: the proxy appends the real address.
    spoofed = {"HTTP_X_FORWARDED_FOR": "198.51.100.9, 203.0.113.50", **proxy}
    assert THROTTLED in _post(Client(), "counsellor.dakar", DEMO_PASSWORD, **spoofed).content.decode()


def test_an_untrusted_peer_cannot_choose_its_address(ministry, settings):
    settings.CHANCERY_TRUSTED_PROXIES = ["10.0.0.0/8"]
    for index in range(settings.CHANCERY_LOGIN_FREE_ATTEMPTS * 4):
        _post(Client(), f"guess{index}", "wrong", REMOTE_ADDR="203.0.113.60",
              HTTP_X_FORWARDED_FOR=f"198.51.100.{index + 1}")
    assert THROTTLED in _post(Client(), "clerk.dakar", DEMO_PASSWORD, REMOTE_ADDR="203.0.113.60",
                              HTTP_X_FORWARDED_FOR="198.51.100.99").content.decode()


def test_trusted_proxies_are_checked_at_start_up(monkeypatch):
    from chancery.env import ConfigurationError, env_networks

    monkeypatch.setenv("CHANCERY_TRUSTED_PROXIES", "10.0.0.0/8, ::1")
    assert env_networks("CHANCERY_TRUSTED_PROXIES") == ["10.0.0.0/8", "::1/128"]
    monkeypatch.setenv("CHANCERY_TRUSTED_PROXIES", "10.0.0.0/8, proxy.example")
    with pytest.raises(ConfigurationError):
        env_networks("CHANCERY_TRUSTED_PROXIES")
