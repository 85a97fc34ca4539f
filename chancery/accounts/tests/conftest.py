from __future__ import annotations

from typing import Any

import pytest
from pytest_django.fixtures import Settings

from conftest import FAST_HASHERS


@pytest.fixture(autouse=True)
def english(settings: Settings) -> None:
    """Pages in English (the source language), whatever catalogues exist for the default French."""
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def fast_passwords(settings: Settings, monkeypatch: pytest.MonkeyPatch, ministry: Any) -> None:
    """Every demo agent's password hashed with cheap Argon2 parameters (same algorithm, same checks)."""
    from django.contrib.auth.hashers import make_password

    from chancery.accounts import services
    from chancery.accounts.models import User
    from chancery.organisation.demo import DEMO_PASSWORD

    settings.PASSWORD_HASHERS = FAST_HASHERS
    monkeypatch.setattr(services, "_DUMMY_PASSWORD_HASH", None)
    password = make_password(DEMO_PASSWORD)
    # English after sign-in too (sign-in applies the agent's preferred language).
    User.objects.unrestricted("test set-up").update(password=password, preferred_language="en")
    for user in ministry.users.values():  # so that client_for's sessions match the new hash
        user.password = password
        user.preferred_language = "en"
