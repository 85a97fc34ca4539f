"""System checks: refuse to start on an unusable or unsafe key store.

Django runs these before `serve`, `migrate` and most commands, so a group-readable key
file or a malformed CHANCERY_MASTER_KEY stops the start-up with one clear message
instead of surfacing at the first encryption.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.core.checks import CheckMessage, Error, Warning, register

from chancery.crypto.keystore import keystore_problems, uses_master_key


@register("security")
def check_keystore(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    return [
        Error(problem, hint="Key files must be 0600 and the key directory 0700.", id="crypto.E001")
        for problem in keystore_problems()
    ]


@register("security", deploy=True)
def check_kek_apart(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """In production the key-encryption key must not travel with the data it protects."""
    if uses_master_key():
        return []
    return [
        Warning(
            "The key-encryption key is a file under CHANCERY_DATA_DIR/keys: a copy of the data dir "
            "(a backup, a stolen disk) holds both the encrypted data and the key that opens it.",
            hint="Set CHANCERY_MASTER_KEY (base64 of 32 random bytes) from a secrets manager or an "
            "environment file kept outside the data dir; see the README, 'Keeping the key apart'.",
            id="crypto.W001",
        )
    ]
