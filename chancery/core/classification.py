"""The classification scale and the clearance-dominance rule (Bell–LaPadula "no read up").

A marking is a level plus a set of compartments (caveats). A clearance dominates a marking
when its level is at least the marking's and its compartments include all of the marking's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import models
from django.utils.translation import gettext_lazy as _


class Level(models.IntegerChoices):
    UNCLASSIFIED = 0, _("Non protégé")
    RESTRICTED = 1, _("Diffusion restreinte")
    CONFIDENTIAL = 2, _("Confidentiel")
    SECRET = 3, _("Secret")

    @property
    def key(self) -> str:
        """The stable English key used in APIs and imports (e.g. `restricted`)."""
        return self.name.lower()

    @classmethod
    def from_key(cls, key: str) -> Level:
        try:
            return cls[key.upper()]
        except KeyError as exc:
            raise ValueError(f"unknown classification {key!r}") from exc


LEVEL_KEYS = [level.key for level in Level]


@dataclass(frozen=True)
class Marking:
    level: int
    compartments: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, level: int, compartments: Iterable[str] = ()) -> Marking:
        return cls(int(level), frozenset(compartments))

    @property
    def is_protected(self) -> bool:
        return self.level >= Level.RESTRICTED

    def label(self) -> str:
        text = str(Level(self.level).label)
        if self.compartments:
            text += " — " + " / ".join(sorted(self.compartments))
        return text

    def dominates(self, other: Marking) -> bool:
        return self.level >= other.level and self.compartments >= other.compartments

    def __str__(self) -> str:
        return self.label()


def dominates(clearance: Marking, marking: Marking) -> bool:
    """True when a holder of `clearance` may read an object marked `marking`."""
    return clearance.dominates(marking)


def at_least(marking: Marking, floor: Marking) -> bool:
    """No write down: a derived object's marking must dominate what it copies."""
    return marking.dominates(floor)
