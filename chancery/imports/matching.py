"""Unit codes and names written in letters → `organisation.Unit`.

In this order: the exact code (`DAB/2`, also written `dab / 2`), then a known alias
(`Unit.aliases`, e.g. "Press Office" for DCP/5), then the unit's name or short name (case and
accents ignored). Anything else gets fuzzy candidates (difflib), offered as choices and never
applied on their own: a `UnitMatch` is `resolved` only for code, alias and name matches.

The sending mission is found from the reference's prefix (`OTT/2023/0119` → OTT) or from the
place (`Dakar` → the mission in Dakar).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from chancery.organisation.models import Unit, UnitKind

Method = Literal["code", "alias", "name", "city", "fuzzy", "none"]
RESOLVED_METHODS: frozenset[str] = frozenset({"code", "alias", "name", "city"})
FUZZY_CUTOFF = 0.6
MAX_CANDIDATES = 5

_CODE_SPACES = re.compile(r"\s*/\s*")
_NON_WORD = re.compile(r"[^0-9a-z/]+")


def fold(text: str) -> str:
    """Lower case, no accents, punctuation turned into single spaces: "Bureau  de Presse." → "bureau de presse"."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return " ".join(_NON_WORD.sub(" ", bare).split())


def code_key(text: str) -> str:
    """How a unit code is compared: upper case, no spaces around the slashes."""
    return _CODE_SPACES.sub("/", (text or "").strip()).upper()


@dataclass(frozen=True)
class Candidate:
    unit: Unit
    score: float  # 0..1, difflib ratio


@dataclass(frozen=True)
class UnitMatch:
    text: str  # as written in the letter
    unit: Unit | None  # set only when resolved without guessing
    method: Method
    candidates: tuple[Candidate, ...] = ()

    @property
    def resolved(self) -> bool:
        return self.unit is not None and self.method in RESOLVED_METHODS

    def to_dict(self) -> dict[str, object]:
        return {
            "text": self.text,
            "unit": self.unit.code if self.unit is not None else None,
            "method": self.method,
            "candidates": [{"unit": c.unit.code, "score": round(c.score, 2)} for c in self.candidates],
        }


@dataclass
class UnitDirectory:
    """The ministry's active units, indexed once (a bulk run matches thousands of names)."""

    units: list[Unit]
    _by_code: dict[str, Unit] = field(default_factory=dict, init=False, repr=False)
    _by_alias: dict[str, Unit] = field(default_factory=dict, init=False, repr=False)
    _by_name: dict[str, Unit] = field(default_factory=dict, init=False, repr=False)
    _by_city: dict[str, Unit] = field(default_factory=dict, init=False, repr=False)
    _by_pk: dict[int, Unit] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        for unit in self.units:
            self._by_pk[unit.pk] = unit
            self._by_code[code_key(unit.code)] = unit
            for alias in unit.aliases or []:
                if isinstance(alias, str) and fold(alias):
                    self._by_alias.setdefault(fold(alias), unit)
            for name in (unit.name, unit.short_name):
                if name and fold(name):
                    self._by_name.setdefault(fold(name), unit)
            if unit.kind == UnitKind.MISSION and unit.city:
                self._by_city.setdefault(fold(unit.city), unit)

    @classmethod
    def load(cls) -> UnitDirectory:
        units = Unit.objects.unrestricted("matching letters to units: the directory is open to agents")
        return cls(list(units.filter(is_active=True).order_by("code")))

    @property
    def missions(self) -> list[Unit]:
        return [u for u in self.units if u.kind == UnitKind.MISSION]

    def get(self, code: str) -> Unit | None:
        return self._by_code.get(code_key(code))

    def get_pk(self, pk: int) -> Unit | None:
        return self._by_pk.get(pk)

    # --- recipients -------------------------------------------------------------------

    def match(self, text: str) -> UnitMatch:
        """A unit code or name as written under *Pour attribution* / *Pour information*."""
        written = (text or "").strip()
        if not written:
            return UnitMatch(written, None, "none")
        unit = self._by_code.get(code_key(written))
        if unit is not None:
            return UnitMatch(written, unit, "code")
        folded = fold(written)
        unit = self._by_alias.get(folded)
        if unit is not None:
            return UnitMatch(written, unit, "alias")
        unit = self._by_name.get(folded)
        if unit is not None:
            return UnitMatch(written, unit, "name")
        candidates = self._fuzzy(written, self.units)
        return UnitMatch(written, None, "fuzzy" if candidates else "none", candidates)

    def _fuzzy(self, text: str, units: Iterable[Unit], *, cities: bool = False) -> tuple[Candidate, ...]:
        code = code_key(text)
        folded = fold(text)
        best: dict[int, Candidate] = {}
        for unit in units:
            keys: list[tuple[str, str]] = [(code, code_key(unit.code))]
            if folded:
                keys += [(folded, fold(name)) for name in (unit.name, unit.short_name, *(unit.aliases or [])) if name]
                if cities and unit.city:
                    keys.append((folded, fold(unit.city)))
            score = max(difflib.SequenceMatcher(None, a, b).ratio() for a, b in keys if a and b) if keys else 0.0
            if score >= FUZZY_CUTOFF and (unit.pk not in best or best[unit.pk].score < score):
                best[unit.pk] = Candidate(unit, score)
        ranked = sorted(best.values(), key=lambda c: (-c.score, c.unit.code))
        return tuple(ranked[:MAX_CANDIDATES])

    # --- sender -----------------------------------------------------------------------

    def match_mission(self, *, reference: str | None, place: str | None) -> UnitMatch:
        """The sending mission: the reference's first part as a mission code, else the place as
        a mission's city (or its name). Fuzzy candidates only as suggestions."""
        prefix = (reference or "").strip().split("/", 1)[0].strip()
        if prefix:
            unit = self._by_code.get(code_key(prefix))
            if unit is not None and unit.kind == UnitKind.MISSION:
                return UnitMatch(prefix, unit, "code")
        written_place = (place or "").strip()
        if written_place:
            folded = fold(written_place)
            unit = self._by_city.get(folded)
            if unit is not None:
                return UnitMatch(written_place, unit, "city")
            for lookup, method in ((self._by_alias, "alias"), (self._by_name, "name")):
                unit = lookup.get(folded)
                if unit is not None and unit.kind == UnitKind.MISSION:
                    return UnitMatch(written_place, unit, method)  # type: ignore[arg-type]
        found: dict[int, Candidate] = {}
        for text in (written_place, prefix):
            if not text:
                continue
            for candidate in self._fuzzy(text, self.missions, cities=True):
                if candidate.unit.pk not in found or found[candidate.unit.pk].score < candidate.score:
                    found[candidate.unit.pk] = candidate
        ranked = tuple(sorted(found.values(), key=lambda c: (-c.score, c.unit.code))[:MAX_CANDIDATES])
        return UnitMatch(written_place or prefix, None, "fuzzy" if ranked else "none", ranked)
