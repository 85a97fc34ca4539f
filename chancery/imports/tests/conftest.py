"""Fixtures of the import tests: the sample letters and a registry agent who imports them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

SAMPLES_DIR = Path(__file__).parent / "samples" / "letters"
SAMPLE_NAMES = sorted(path.stem for path in SAMPLES_DIR.glob("*.txt"))
# Missions whose letters carry a programme (the importer proposes programmes there, see below).
PLAN_MISSIONS = ["DAKAR", "OTT", "NAIROBI", "LIMA", "RABAT", "ABIDJAN", "CANBERRA", "TUNIS"]


def expected(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SAMPLES_DIR / f"{name}.expected.json").read_text(encoding="utf-8"))
    return data


@pytest.fixture
def importer(ministry: Any) -> Any:
    """A central-registry clerk cleared Confidentiel.

    Until planning offers `create_programme_from_letter` (a draft programme created on behalf
    of the mission by the registry that registers the letter), creating the draft programme
    needs the right to propose programmes for the mission: the clerk also gets it here.
    """
    from chancery.accounts.roles import Role
    from chancery.accounts.services import add_membership, create_user
    from chancery.core.classification import Level
    from chancery.imports.services import planning_import_available

    user = create_user(
        actor=None,
        username="importer.sgbo",
        password=None,
        first_name="Ina",
        last_name="Porter",
        clearance_level=Level.CONFIDENTIAL,
        memberships=[(ministry.units["SG/BO"], Role.REGISTRY_CLERK)],
    )
    if not planning_import_available():
        for code in PLAN_MISSIONS:
            add_membership(actor=None, user=user, unit=ministry.units[code], role=Role.AGENT)
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
