"""Core is a leaf: the apps build on it, it imports none of them (its commands aside)."""

from __future__ import annotations

import re
from pathlib import Path

CORE = Path(__file__).resolve().parents[1]
APPS = "accounts|organisation|correspondence|planning|imports|audit|crypto|notifications|search|reporting"


def test_core_imports_no_app() -> None:
    pattern = re.compile(rf"^\s*(from|import)\s+chancery\.({APPS})\b", re.M)
    offenders = []
    for path in CORE.rglob("*.py"):
        relative = path.relative_to(CORE)
        if relative.parts[0] in {"tests", "management", "migrations"}:
            continue  # tests and the CLI commands sit on top of the apps
        offenders += [f"{relative}: {m.group(0).strip()}" for m in pattern.finditer(path.read_text(encoding="utf-8"))]
    assert not offenders, offenders


def test_roles_stay_importable_from_accounts() -> None:
    from chancery.accounts.roles import Capability as OldPlace
    from chancery.core.roles import Capability

    assert OldPlace is Capability
