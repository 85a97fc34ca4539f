"""System checks: refuse to start on an unusable or unsafe key store.

Django runs these before `serve`, `migrate` and most commands, so a group-readable key
file or a malformed CHANCERY_MASTER_KEY stops the start-up with one clear message
instead of surfacing at the first encryption.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.core.checks import CheckMessage, Error, register

from chancery.crypto.keystore import keystore_problems


@register("security")
def check_keystore(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    return [
        Error(problem, hint="Key files must be 0600 and the key directory 0700.", id="crypto.E001")
        for problem in keystore_problems()
    ]
