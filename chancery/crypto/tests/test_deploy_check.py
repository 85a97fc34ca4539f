"""`chancery check --deploy` warns while the key-encryption key lies inside the data dir."""

from __future__ import annotations

import base64
import io
import os
from typing import Any

from django.core.management import call_command
from django.core.management.base import SystemCheckError


def _deploy_check() -> str:
    out = io.StringIO()
    try:
        call_command("check", "--deploy", "--tag", "security", stdout=out, stderr=out)
    except SystemCheckError as exc:  # other deploy errors (DEBUG, HTTPS…) may stop it: the text is what matters
        return out.getvalue() + str(exc)
    return out.getvalue()


def test_key_files_in_the_data_dir_are_warned_about(settings: Any) -> None:
    settings.CHANCERY_MASTER_KEY = None
    assert "crypto.W001" in _deploy_check()


def test_a_key_from_the_environment_is_not(settings: Any) -> None:
    settings.CHANCERY_MASTER_KEY = base64.b64encode(os.urandom(32)).decode()
    assert "crypto.W001" not in _deploy_check()
