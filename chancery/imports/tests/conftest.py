"""Fixtures of the import tests: the sample letters and a registry agent who imports them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

SAMPLES_DIR = Path(__file__).parent / "samples" / "letters"
SAMPLE_NAMES = sorted(path.stem for path in SAMPLES_DIR.glob("*.txt"))


def expected(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SAMPLES_DIR / f"{name}.expected.json").read_text(encoding="utf-8"))
    return data


@pytest.fixture
def importer(ministry: Any) -> Any:
    """A central-registry clerk cleared Confidentiel (no membership in any mission: the draft
    programme is opened on the mission's behalf by the registry that registers its letter)."""
    from chancery.accounts.roles import Role
    from chancery.accounts.services import create_user
    from chancery.core.classification import Level

    user = create_user(
        actor=None,
        username="importer.sgbo",
        password=None,
        first_name="Ina",
        last_name="Porter",
        clearance_level=Level.CONFIDENTIAL,
        memberships=[(ministry.units["SG/BO"], Role.REGISTRY_CLERK)],
    )
    user.forget_cached_rights()
    return user


@pytest.fixture(autouse=True)
def english() -> Any:
    """Messages are checked in English (the interface language is French by default)."""
    from django.utils import translation

    with translation.override("en"):
        yield


def dispatch_of(row: Any) -> Any:
    """The dispatch a saved import created (read past the gate, as a test may)."""
    from chancery.correspondence.models import Dispatch

    assert row.dispatch_id is not None, row
    return Dispatch.objects.unrestricted("test").get(pk=row.dispatch_id)


def programme_of(row: Any) -> Any:
    from chancery.planning.models import Programme

    assert row.programme_id is not None, row
    return Programme.objects.unrestricted("test").get(pk=row.programme_id)
