"""Signing in with a password: errors that reveal nothing, throttling that never locks out for good."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from chancery.accounts.models import LoginThrottle, User
from chancery.accounts.tests.hashers import CountingArgon2Hasher
from chancery.audit.models import AuditEvent
from chancery.organisation.demo import DEMO_PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

LOGIN = "/accounts/login/"
WRONG = "The user name or the password is wrong."
THROTTLED = "Too many failed attempts"


def _post(client: Client, username: str, password: str, **extra: Any) -> Any:
    return client.post(LOGIN, {"username": username, "password": password}, **extra)


def _throttles() -> Any:
    return LoginThrottle.objects.all()


def _unblock() -> None:
    """As if the back-off delay had passed."""
    LoginThrottle.objects.update(blocked_until=timezone.now() - timedelta(seconds=1))


def test_a_correct_password_signs_in(ministry):
    client = Client()
    response = _post(client, "clerk.dakar", DEMO_PASSWORD)
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    logins = AuditEvent.objects.unrestricted("test").filter(action="accounts.login", actor__username="clerk.dakar")
    assert logins.exists()


def test_user_names_are_not_case_sensitive(ministry):
    assert _post(Client(), "Clerk.Dakar", DEMO_PASSWORD).status_code == 302


def test_wrong_password_and_unknown_user_get_the_same_answer_and_the_same_work(ministry, settings):
    settings.PASSWORD_HASHERS = ["chancery.accounts.tests.hashers.CountingArgon2Hasher"]
    pages = []
    for username in ("clerk.dakar", "nobody.at.all"):
        CountingArgon2Hasher.verified.clear()
        response = _post(Client(), username, "not-the-password")
        assert response.status_code == 200
        # The password was checked by the hasher, whether the account exists or not.
        assert CountingArgon2Hasher.verified == ["not-the-password"], username
        page = response.content.decode()
        assert WRONG in page
        page = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page)
        pages.append(page.replace(f'value="{username}"', 'value="NAME"'))
    # The same page, word for word (but the CSRF token and the name typed in).
    assert pages[0] == pages[1]
    assert not AuditEvent.objects.unrestricted("test").filter(action="accounts.login").exists()
    assert AuditEvent.objects.unrestricted("test").filter(action="accounts.login_failed").count() == 2


def test_a_deactivated_agent_gets_the_same_answer_as_a_wrong_password(ministry):
    User.objects.unrestricted("test").filter(username="clerk.dakar").update(is_active=False)
    response = _post(Client(), "clerk.dakar", DEMO_PASSWORD)
    assert response.status_code == 200 and WRONG in response.content.decode()


@pytest.mark.parametrize(
    "data",
    [
        {"username": "", "password": "x"},
        {"username": "u" * 151, "password": "x"},
        {"username": "clerk.dakar", "password": "p" * 5000},
        {"password": "x"},
    ],
)
def test_malformed_sign_in_forms_are_refused_cleanly(ministry, data):
    response = Client().post(LOGIN, data)
    assert response.status_code == 200
    assert response.context["form"].errors


def test_repeated_failures_slow_down_an_account_but_never_lock_it_for_good(ministry, settings):
    client = Client()
    free = settings.CHANCERY_LOGIN_FREE_ATTEMPTS
    for _attempt in range(free):
        assert WRONG in _post(client, "clerk.dakar", "wrong").content.decode()
    # Blocked now, even with the right password.
    response = _post(client, "clerk.dakar", DEMO_PASSWORD)
    assert response.status_code == 200
    assert THROTTLED in response.content.decode()
    # Exponential back-off: each failure after the free ones doubles the delay...
    delays = []
    for _attempt in range(4):
        _unblock()
        _post(client, "clerk.dakar", "wrong")
        row = max((r for r in _throttles() if r.blocked_until), key=lambda r: r.blocked_until)
        delays.append(round((row.blocked_until - row.last_failure_at).total_seconds()))
    assert delays == [10, 20, 40, 80]
    # ...up to a cap.
    _unblock()
    LoginThrottle.objects.update(failures=500)
    _post(client, "clerk.dakar", "wrong")
    for row in _throttles():
        assert row.blocked_until - row.last_failure_at <= timedelta(seconds=settings.CHANCERY_LOGIN_MAX_DELAY_SECONDS)
    # Once the delay has passed, the right password works.
    _unblock()
    assert _post(client, "clerk.dakar", DEMO_PASSWORD).status_code == 302
    assert client.get("/").status_code == 200


def test_attempts_while_blocked_do_not_extend_the_block(ministry, settings):
    client = Client()
    for _attempt in range(settings.CHANCERY_LOGIN_FREE_ATTEMPTS):
        _post(client, "clerk.dakar", "wrong")
    blocked = {row.key: row.blocked_until for row in _throttles()}
    for _attempt in range(10):
        assert THROTTLED in _post(client, "clerk.dakar", "wrong").content.decode()
    assert {row.key: row.blocked_until for row in _throttles()} == blocked


def test_one_account_blocked_from_one_address_is_not_blocked_from_another(ministry, settings):
    for _attempt in range(settings.CHANCERY_LOGIN_FREE_ATTEMPTS):
        _post(Client(), "clerk.dakar", "wrong", REMOTE_ADDR="203.0.113.9")
    assert THROTTLED in _post(Client(), "clerk.dakar", DEMO_PASSWORD, REMOTE_ADDR="203.0.113.9").content.decode()
    assert _post(Client(), "clerk.dakar", DEMO_PASSWORD, REMOTE_ADDR="198.51.100.7").status_code == 302


def test_an_address_spraying_many_user_names_is_slowed_down(ministry, settings):
    allowance = settings.CHANCERY_LOGIN_FREE_ATTEMPTS * 4
    for index in range(allowance):
        _post(Client(), f"guess{index}", "wrong", REMOTE_ADDR="203.0.113.50")
    response = _post(Client(), "clerk.dakar", DEMO_PASSWORD, REMOTE_ADDR="203.0.113.50")
    assert THROTTLED in response.content.decode()
    # The same message for an unknown name: nothing tells which names exist.
    assert THROTTLED in _post(Client(), "nobody.at.all", "x", REMOTE_ADDR="203.0.113.50").content.decode()


def test_a_successful_sign_in_clears_the_account_counter(ministry):
    client = Client()
    for _attempt in range(3):
        _post(client, "clerk.dakar", "wrong")
    assert _post(client, "clerk.dakar", DEMO_PASSWORD).status_code == 302
    client.post("/accounts/logout/")
    # Four more failures do not block: the counter started again from zero.
    for _attempt in range(4):
        assert WRONG in _post(client, "clerk.dakar", "wrong").content.decode()


def test_sign_out_needs_a_post_and_ends_the_session(ministry):
    client = Client()
    _post(client, "clerk.dakar", DEMO_PASSWORD)
    assert client.get("/accounts/logout/").status_code == 405
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_the_next_parameter_cannot_send_the_agent_elsewhere(ministry):
    client = Client()
    response = client.post(LOGIN + "?next=https://evil.example/", {"username": "clerk.dakar",
                                                                   "password": DEMO_PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
    client = Client()
    response = client.post(LOGIN + "?next=/organisation/", {"username": "clerk.dakar", "password": DEMO_PASSWORD})
    assert response["Location"] == "/organisation/"
