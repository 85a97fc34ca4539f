"""Words of protected programmes never reach the disk in clear (issue #9).

The demo's planning part (the real demo content, for a few of its missions over three years,
some programmes marked *Diffusion restreinte*) is loaded, then the raw database (SQLite: its
image, free pages included; PostgreSQL: every row of every table as text) and every file
under the data dir are searched for each distinctive word of a protected programme's texts
(see `chancery.core.tests.at_rest`).
"""

from __future__ import annotations

from typing import Any

from chancery.core.tests import at_rest
from chancery.organisation.demo import DemoMinistry
from chancery.planning import demo
from chancery.planning.models import Programme

MISSIONS = 6  # of the demo's, by code: enough for protected and open programmes, in seconds


def _some_missions(ministry: Any) -> DemoMinistry:
    keep = {u.code for u in sorted(ministry.missions, key=lambda u: u.code)[:MISSIONS]}
    part = DemoMinistry(users=ministry.users)
    part.units = {code: u for code, u in ministry.units.items() if code in keep or u not in ministry.missions}
    return part


def test_no_word_of_a_protected_programme_lies_in_clear_after_the_demo(ministry: Any) -> None:
    demo.populate(ministry=_some_missions(ministry), seed=2026)
    programmes = Programme.objects.unrestricted("test")
    assert programmes.filter(classification__gte=1).exists() and programmes.filter(classification=0).exists()

    at_rest.assert_nothing_in_clear("planning", at_least=20)
