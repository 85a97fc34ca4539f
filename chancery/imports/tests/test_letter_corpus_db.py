"""The corpus of issue #15 registered in the database, as `chancery import-letter` would register it.

Runs on SQLite, and on PostgreSQL with DATABASE_URL: what is saved is what the letter says (the expected
records), letters the agent may not register or that name no unit for action are refused with nothing saved.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from chancery.core.classification import Level
from chancery.correspondence.models import Citation, Dispatch
from chancery.imports import services
from chancery.imports.variations import FixedChoices, vary
from chancery.planning.models import Axis, Programme

from .test_letter_corpus import LETTER_NAMES, LETTERS_DIR, expected_record

pytestmark = pytest.mark.django_db


def _register_all(importer: Any, letters: dict[str, bytes]) -> int:
    """Import each letter; check what was saved against its expected record. Returns the programmes created."""
    registry = services.registry_unit_for(importer)
    programmes = 0
    for name, data in letters.items():
        wanted = expected_record(name)["dispatch"]
        plan = expected_record(name)["programme"]
        before = Dispatch.objects.unrestricted("test").count()
        result = services.import_letter(
            actor=importer, data=data, filename=f"{name}.txt", registry_unit=registry, unmatched="registry",
            notify=False,
        )
        if wanted["classification"] == "secret":  # above the agent's clearance (Confidentiel)
            assert (result.status, result.error_code) == ("failed", "not_allowed"), name
            assert Dispatch.objects.unrestricted("test").count() == before, name
            continue
        if not wanted["attribution"]:
            assert (result.status, result.error_code) == ("failed", "no_attribution"), name
            assert Dispatch.objects.unrestricted("test").count() == before, name
            continue
        assert result.status == "imported", (name, result.message)
        dispatch = Dispatch.objects.unrestricted("test").get(pk=result.dispatch.pk)
        assert dispatch.dated == dt.date.fromisoformat(wanted["date"]), name
        assert dispatch.place_text == (wanted["place"] or ""), name  # sealed when the dispatch is protected
        assert dispatch.external_reference == (wanted["reference"] or ""), name
        level = Level.from_key(wanted["classification"]) if wanted["classification"] else Level.UNCLASSIFIED
        assert dispatch.classification == int(level), name
        if wanted["transmission"]:
            assert dispatch.transmission == wanted["transmission"], name
        if not dispatch.is_encrypted:
            assert dispatch.subject == wanted["subject"], name
        cited = [c.reference_text for c in Citation.objects.of_dispatch(dispatch).order_by("pk")]
        assert cited == wanted["cites"], name
        if plan is None:
            assert result.programme is None, f"{name}: a programme was invented"
            continue
        if result.programme is None:  # the mission is not one of the demo ministry's: the letter says why
            assert result.warnings, name
            continue
        programmes += 1
        programme = Programme.objects.unrestricted("test").get(pk=result.programme.pk)
        assert programme.year == plan["year"], name
        axes = Axis.objects.unrestricted("test").filter(programme=programme).select_related("axis_type")
        assert sorted(a.axis_type.key for a in axes) == sorted(plan["axes"]), name
    return programmes


def test_the_corpus_registers_what_each_letter_says(ministry: Any, importer: Any) -> None:
    letters = {name: (LETTERS_DIR / f"{name}.txt").read_bytes() for name in LETTER_NAMES}
    assert _register_all(importer, letters) >= 10


def test_variations_of_the_corpus_register_the_same(ministry: Any, importer: Any) -> None:
    """Each letter retyped (header reordered, labels in another case and punctuation, volets renumbered)."""
    letters = {
        name: vary((LETTERS_DIR / f"{name}.txt").read_text(encoding="utf-8"), FixedChoices(number % 4 + 1)).encode()
        for number, name in enumerate(LETTER_NAMES)
    }
    assert sum(data != (LETTERS_DIR / f"{name}.txt").read_bytes() for name, data in letters.items()) >= 50
    assert _register_all(importer, letters) >= 10
