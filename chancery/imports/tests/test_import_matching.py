"""Unit names → units: code, alias, name; fuzzy candidates only offered, never applied."""

from __future__ import annotations

from typing import Any

import pytest

from chancery.imports.matching import UnitDirectory, code_key, fold

pytestmark = pytest.mark.django_db


@pytest.fixture
def directory(ministry: Any) -> UnitDirectory:
    return UnitDirectory.load()


def test_normalisation() -> None:
    assert code_key(" dab / 2 ") == "DAB/2"
    assert fold("  Bureau  de Presse. ") == "bureau de presse"
    assert fold("Économique") == "economique"


@pytest.mark.parametrize(
    ("text", "code", "method"),
    [
        ("DAB/2", "DAB/2", "code"),
        ("dg3 / 1", "DG3/1", "code"),
        ("Press Office", "DCP/5", "alias"),
        ("service de presse", "DCP/5", "alias"),
        ("Central Registry", "SG/BO", "alias"),
        ("Division du commerce extérieur", "DG3/1", "name"),
        ("division du commerce exterieur", "DG3/1", "name"),
    ],
)
def test_resolved_matches(directory: UnitDirectory, text: str, code: str, method: str) -> None:
    match = directory.match(text)
    assert match.resolved and match.unit is not None
    assert (match.unit.code, match.method) == (code, method)


def test_fuzzy_is_never_resolved(directory: UnitDirectory) -> None:
    match = directory.match("DAO/1")
    assert not match.resolved and match.unit is None and match.method == "fuzzy"
    codes = [c.unit.code for c in match.candidates]
    assert "DAB/1" in codes and len(codes) <= 5
    assert all(a.score >= b.score for a, b in zip(match.candidates, match.candidates[1:], strict=False))
    match = directory.match("Planning Unit")  # close to the alias "Planning Division" of SG/4
    assert not match.resolved and "SG/4" in [c.unit.code for c in match.candidates]
    nothing = directory.match("Xylophone")
    assert nothing.method == "none" and not nothing.candidates


def test_sending_mission(directory: UnitDirectory) -> None:
    assert directory.match_mission(reference="OTT/2023/0119", place="Ottawa").unit.code == "OTT"  # type: ignore[union-attr]
    by_place = directory.match_mission(reference="NBO/2023/0950", place="Nairobi")
    assert by_place.method == "city" and by_place.unit is not None and by_place.unit.code == "NAIROBI"
    assert directory.match_mission(reference="/2021", place="Dakar").unit.code == "DAKAR"  # type: ignore[union-attr]
    accents = directory.match_mission(reference=None, place="Yaounde")
    assert accents.resolved and accents.unit is not None and accents.unit.code == "YAOUNDE"
    unknown = directory.match_mission(reference="NKC/2022/0388", place="Nouakchott")
    assert not unknown.resolved
    fuzzy = directory.match_mission(reference=None, place="Dakkar")
    assert not fuzzy.resolved and fuzzy.candidates[0].unit.code == "DAKAR"
    assert directory.match_mission(reference="DAB/2/2021/1", place=None).unit is None  # a division is no mission
