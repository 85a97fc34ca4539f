"""System checks with stable ids (chancery.E00x / W00x)."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register


@register(Tags.security, deploy=True)
def check_deploy(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    if settings.DEBUG:
        messages.append(Error("CHANCERY_DEBUG is on in production.", id="chancery.E001"))
    if not settings.SESSION_COOKIE_SECURE:
        messages.append(
            Warning(
                "Chancery is not served over HTTPS (CHANCERY_HTTPS is off): cookies are not marked secure.",
                hint="Set CHANCERY_HTTPS=true behind TLS.",
                id="chancery.W001",
            )
        )
    return messages


@register()
def check_data_dir(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    data_dir = settings.CHANCERY_DATA_DIR
    if not os.access(data_dir, os.W_OK):
        return [Error(f"CHANCERY_DATA_DIR {data_dir} is not writable.", id="chancery.E002")]
    key_dir = data_dir / "keys"
    if key_dir.exists() and key_dir.stat().st_mode & 0o077:
        return [Error(f"{key_dir} is readable by other users; chmod 700 it.", id="chancery.E003")]
    return []
