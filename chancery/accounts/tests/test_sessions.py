"""Sessions: inactivity timeout, absolute lifetime, tampered cookies, clearance raised mid-session."""

from __future__ import annotations

import time

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from chancery.accounts.middleware import SESSION_SECOND_FACTOR, SESSION_SEEN, SESSION_STARTED
from chancery.core.classification import Level
from chancery.organisation.demo import DEMO_PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

LOGIN = "/accounts/login/"


def _age(client: Client, *, started: int = 0, seen: int = 0) -> None:
    """Move the session's timestamps `started`/`seen` seconds into the past."""
    session = client.session
    now = int(time.time())
    session[SESSION_STARTED] = now - started
    session[SESSION_SEEN] = now - seen
    session.save()


def _is_signed_out(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(LOGIN)


def test_an_active_session_is_kept_and_its_last_seen_stamp_moves(client_for, settings):
    client = client_for("clerk.dakar")
    _age(client, started=600, seen=settings.CHANCERY_SESSION_IDLE_SECONDS - 60)
    assert client.get("/").status_code == 200
    assert int(time.time()) - client.session[SESSION_SEEN] < 5


def test_inactivity_signs_out(client_for, settings):
    client = client_for("clerk.dakar")
    _age(client, started=settings.CHANCERY_SESSION_IDLE_SECONDS + 10, seen=settings.CHANCERY_SESSION_IDLE_SECONDS + 1)
    assert _is_signed_out(client.get("/"))
    assert "Your session expired" in client.get(LOGIN).content.decode()
    assert _is_signed_out(client.get("/"))


def test_the_absolute_lifetime_ends_even_a_busy_session(client_for, settings):
    client = client_for("clerk.dakar")
    _age(client, started=settings.CHANCERY_SESSION_MAX_SECONDS + 1, seen=0)
    assert _is_signed_out(client.get("/"))


def test_the_api_is_not_affected_by_session_timestamps(client_for):
    client = client_for("clerk.dakar")
    _age(client, started=10**6, seen=10**6)
    assert client.get("/api/v1/units").status_code == 401  # the API wants a token, never a session


@pytest.mark.parametrize("cookie", ["tampered", "", "x" * 4000, "../../etc/passwd", "' OR 1=1 --"])
def test_a_tampered_session_cookie_is_treated_as_signed_out(client_for, cookie):
    client = client_for("clerk.dakar")
    name = django_settings.SESSION_COOKIE_NAME
    real = client.cookies[name].value
    client.cookies[name] = (real[:-4] + "abcd") if cookie == "tampered" else cookie
    response = client.get("/")
    assert _is_signed_out(response)
    assert client.get(LOGIN).status_code == 200


def test_the_session_key_changes_at_sign_in(ministry):
    client = Client()
    client.get(LOGIN)
    client.cookies[django_settings.SESSION_COOKIE_NAME] = "fixated-session-key-0123456789"
    client.post(LOGIN, {"username": "clerk.dakar", "password": DEMO_PASSWORD})
    assert client.cookies[django_settings.SESSION_COOKIE_NAME].value != "fixated-session-key-0123456789"
    assert client.get("/").status_code == 200


def test_raising_a_clearance_to_confidentiel_signs_out_an_agent_without_second_factor(client_for, ministry):
    # The clerk signs in the real way: password only (cleared Diffusion restreinte).
    clerk = Client()
    assert clerk.post(LOGIN, {"username": "clerk.dakar", "password": DEMO_PASSWORD}).status_code == 302
    assert clerk.session[SESSION_SECOND_FACTOR] is False
    assert clerk.get("/").status_code == 200
    # The security officer raises the clearance through the administration page.
    response = client_for("security").post(
        reverse("organisation:admin_agent_clearance", args=["clerk.dakar"]),
        {"level": Level.CONFIDENTIAL, "reason": "Posting to a sensitive desk"},
    )
    assert response.status_code == 302
    assert _is_signed_out(clerk.get("/"))
    # At the next sign-in, enrolment is required.
    again = Client()
    assert again.post(LOGIN, {"username": "clerk.dakar", "password": DEMO_PASSWORD})["Location"] == (
        "/accounts/second-factor/enrol/")


def test_lowering_a_clearance_keeps_the_session(client_for):
    client = client_for("hom.dakar")  # signed in with a second factor
    client_for("security").post(
        reverse("organisation:admin_agent_clearance", args=["hom.dakar"]),
        {"level": Level.RESTRICTED, "reason": "End of posting"},
    )
    assert client.get("/").status_code == 200
