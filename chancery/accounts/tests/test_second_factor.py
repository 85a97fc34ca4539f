"""The second factor: mandatory enrolment, codes, replay, recovery codes, the pending step."""

from __future__ import annotations

import time
from typing import Any

import pyotp
import pytest
from django.test import Client
from django.utils import timezone

from chancery.accounts import services
from chancery.accounts.models import RecoveryCode, User
from chancery.accounts.views import PENDING_AT, PENDING_SECONDS
from chancery.audit.models import AuditEvent
from chancery.organisation.demo import DEMO_PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

LOGIN = "/accounts/login/"
SECOND = "/accounts/login/second-factor/"
ENROL = "/accounts/second-factor/enrol/"
CODES = "/accounts/second-factor/recovery-codes/"
INVALID = "This code is not valid or has expired."


def _user(username: str) -> User:
    return User.objects.unrestricted("test").get(username=username)


def _password_step(client: Client, username: str) -> Any:
    return client.post(LOGIN, {"username": username, "password": DEMO_PASSWORD})


def _enrolled(username: str) -> tuple[User, pyotp.TOTP]:
    """An agent whose authenticator is set up (as after enrolment, a while ago)."""
    secret = pyotp.random_base32()
    user = _user(username)
    user.set_totp_secret(secret)
    user.totp_confirmed_at = timezone.now()
    user.totp_last_step = 0
    user.save()
    return _user(username), pyotp.TOTP(secret)


def _signed_in(client: Client) -> bool:
    return client.get("/").status_code == 200


def test_an_agent_cleared_confidentiel_must_enrol_at_sign_in(ministry):
    hom = ministry.users["hom.dakar"]
    assert hom.clearance_level >= 2 and not hom.totp_enrolled
    client = Client()
    response = _password_step(client, "hom.dakar")
    assert response.status_code == 302 and response["Location"] == ENROL
    assert not _signed_in(client)
    # The enrolment page shows a QR code and the key to type.
    html = client.get(ENROL).content.decode()
    secret = _user("hom.dakar").totp_secret
    assert secret and secret in html
    assert 'src="data:image/svg+xml' in html
    # A wrong code: a clear message, still not signed in, not enrolled.
    response = client.post(ENROL, {"code": "000000"})
    assert response.status_code == 200
    assert "This code is not valid" in response.content.decode()
    assert not _user("hom.dakar").totp_enrolled
    # The right code: signed in, recovery codes shown once.
    response = client.post(ENROL, {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302 and response["Location"] == CODES
    shown = client.get(CODES).content.decode()
    codes = [chunk.split("</code>")[0] for chunk in shown.split("<code>")[1:]]
    assert len(codes) == services.RECOVERY_CODE_COUNT
    assert RecoveryCode.objects.filter(user=hom, used_at__isnull=True).count() == services.RECOVERY_CODE_COUNT
    for code in codes:  # stored hashed only
        assert not RecoveryCode.objects.filter(code_hash__contains=code.replace("-", "")).exists()
    response = client.get(CODES)
    assert response.status_code == 302  # not shown again
    assert _signed_in(client)
    assert _user("hom.dakar").totp_enrolled
    assert AuditEvent.objects.unrestricted("test").filter(action="accounts.totp_enrolled", object_id=str(hom.pk))


def test_an_agent_below_confidentiel_signs_in_with_the_password_alone(ministry):
    assert ministry.users["clerk.dakar"].clearance_level < 2
    client = Client()
    assert _password_step(client, "clerk.dakar")["Location"] == "/"
    assert _signed_in(client)


def test_sign_in_with_a_valid_code_then_the_same_code_is_refused(ministry):
    _user_obj, totp = _enrolled("hom.dakar")
    client = Client()
    response = _password_step(client, "hom.dakar")
    assert response["Location"] == SECOND
    assert not _signed_in(client)  # the password alone is not enough
    code = totp.now()
    response = client.post(SECOND, {"code": code})
    assert response.status_code == 302
    assert _signed_in(client)
    # Replay: a second session with the very same code.
    other = Client()
    _password_step(other, "hom.dakar")
    response = other.post(SECOND, {"code": code})
    assert response.status_code == 200 and INVALID in response.content.decode()
    assert not _signed_in(other)


@pytest.mark.parametrize("code", ["123456", "12345", "abcdef", "", "9" * 30])
def test_wrong_codes_are_refused(ministry, code):
    _enrolled("hom.dakar")
    client = Client()
    _password_step(client, "hom.dakar")
    response = client.post(SECOND, {"code": code})
    assert response.status_code == 200
    assert not _signed_in(client)


def test_an_expired_code_is_refused(ministry):
    _user_obj, totp = _enrolled("hom.dakar")
    client = Client()
    _password_step(client, "hom.dakar")
    old = totp.at(int(time.time()) - 5 * totp.interval)
    response = client.post(SECOND, {"code": old})
    assert INVALID in response.content.decode()
    assert not _signed_in(client)


def test_wrong_codes_count_towards_the_throttle(ministry, settings):
    _user_obj, totp = _enrolled("hom.dakar")
    client = Client()
    _password_step(client, "hom.dakar")
    for _attempt in range(settings.CHANCERY_LOGIN_FREE_ATTEMPTS):
        client.post(SECOND, {"code": "000000"})
    response = client.post(SECOND, {"code": totp.now()})
    assert "Too many failed attempts" in response.content.decode()
    assert not _signed_in(client)


def test_a_recovery_code_works_once(ministry):
    hom, totp = _enrolled("hom.dakar")
    User.objects.unrestricted("test").filter(pk=hom.pk).update(totp_confirmed_at=None)
    hom = _user("hom.dakar")
    codes = services.confirm_totp_enrolment(user=hom, code=totp.now())
    client = Client()
    _password_step(client, "hom.dakar")
    response = client.post(SECOND, {"code": codes[3].upper()})  # typed in capitals: still accepted
    assert response.status_code == 302
    assert _signed_in(client)
    other = Client()
    _password_step(other, "hom.dakar")
    response = other.post(SECOND, {"code": codes[3]})
    assert INVALID in response.content.decode()
    assert not _signed_in(other)
    assert AuditEvent.objects.unrestricted("test").filter(action="accounts.recovery_code_used").count() == 1


def test_the_pending_second_step_expires_after_five_minutes(ministry):
    _user_obj, totp = _enrolled("hom.dakar")
    client = Client()
    _password_step(client, "hom.dakar")
    session = client.session
    session[PENDING_AT] = time.time() - PENDING_SECONDS - 1
    session.save()
    response = client.post(SECOND, {"code": totp.now()})
    assert response.status_code == 302 and response["Location"] == LOGIN
    assert not _signed_in(client)
    assert "Your sign-in expired" in client.get(LOGIN).content.decode()


def test_the_second_step_without_the_first_goes_back_to_the_sign_in_page(ministry):
    assert Client().get(SECOND)["Location"] == LOGIN
    assert Client().get(ENROL)["Location"] == LOGIN


def test_the_password_alone_cannot_replace_an_enrolled_authenticator(ministry):
    """After the password step, the enrolment page must not let a new device in."""
    hom, _totp = _enrolled("hom.dakar")
    client = Client()
    _password_step(client, "hom.dakar")
    response = client.get(ENROL)
    assert response.status_code == 302 and response["Location"] == SECOND
    attacker = pyotp.TOTP(pyotp.random_base32())
    response = client.post(ENROL, {"code": attacker.now()})
    assert response["Location"] == SECOND
    assert _user("hom.dakar").totp_secret == hom.totp_secret
    assert not _signed_in(client)


def test_a_signed_in_agent_cannot_lose_the_second_factor_by_visiting_the_enrolment_page(ministry, client_for):
    hom, _totp = _enrolled("hom.dakar")
    client = client_for("hom.dakar")
    response = client.get(ENROL)
    assert response.status_code == 302 and response["Location"] == "/accounts/profile/"
    assert _user("hom.dakar").totp_secret == hom.totp_secret
    assert _user("hom.dakar").totp_enrolled


def test_an_agent_may_opt_in_to_a_second_factor_from_the_profile(ministry, client_for):
    client = client_for("clerk.dakar")
    assert client.get(ENROL).status_code == 200
    assert client.post(ENROL, {"begin": "1"})["Location"] == ENROL  # the profile's "Set up" button
    secret = _user("clerk.dakar").totp_secret
    assert secret in client.get(ENROL).content.decode()
    assert client.post(ENROL, {"code": pyotp.TOTP(secret).now()})["Location"] == CODES
    assert _user("clerk.dakar").totp_enrolled
    # From now on the second factor is asked for at sign-in.
    assert _password_step(Client(), "clerk.dakar")["Location"] == SECOND


def test_the_totp_secret_is_encrypted_at_rest_and_survives_key_rotation(ministry):
    from django.db import connection

    from chancery.crypto.services import rotate_keys

    hom, totp = _enrolled("hom.dakar")
    secret = hom.totp_secret
    with connection.cursor() as cursor:
        cursor.execute("SELECT totp_secret_ciphertext FROM accounts_user WHERE id = %s", [hom.pk])
        stored = bytes(cursor.fetchone()[0])
    assert secret.encode() not in stored and len(stored) > len(secret)
    rotate_keys()
    assert _user("hom.dakar").totp_secret == secret
    assert services.verify_second_factor(user=_user("hom.dakar"), code=totp.now())
