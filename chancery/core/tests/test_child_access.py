"""`get_child_or_404`: a child is read under its parent, through the gate, or is missing."""

from __future__ import annotations

from typing import Any

import pytest
from django.http import Http404

from chancery.core.gate import get_child_or_404
from chancery.planning.demo import sample_programme
from chancery.planning.models import AchievementEvidence, Action, Programme

pytestmark = pytest.mark.django_db


def test_a_child_of_another_parent_or_out_of_scope_is_missing(ministry: Any) -> None:
    u = ministry.users
    dakar = sample_programme(mission=ministry.units["DAKAR"], year=2026, user=u["counsellor.dakar"])
    other = sample_programme(mission=ministry.units["DAKAR"], year=2027, user=u["counsellor.dakar"])
    lima = sample_programme(mission=ministry.units["LIMA"], year=2026, user=u["counsellor.lima"])
    own = Action.objects.unrestricted("test").filter(programme=dakar).first()
    foreign = Action.objects.unrestricted("test").filter(programme=other).first()
    hidden = Action.objects.unrestricted("test").filter(programme=lima).first()
    assert own is not None and foreign is not None and hidden is not None
    reader = u["counsellor.dakar"]
    assert get_child_or_404(dakar, Action.objects.all(), own.pk, user=reader) == own
    for pk in (foreign.pk, hidden.pk, 987654321, "not-a-number"):
        with pytest.raises(Http404):
            get_child_or_404(dakar, Action.objects.all(), pk, user=reader)
    # Out of scope under its own parent too.
    with pytest.raises(Http404):
        get_child_or_404(lima, Action.objects.all(), hidden.pk, user=reader)


def test_the_parent_may_be_two_steps_up(ministry: Any) -> None:
    from datetime import date

    from chancery.planning import services

    user = ministry.users["counsellor.dakar"]
    dakar = sample_programme(mission=ministry.units["DAKAR"], year=2026, user=user)
    achievement = services.create_achievement(user=user, programme=dakar, kind="visit", date=date(2026, 3, 1),
                                              title="Visit")
    evidence = services.add_achievement_evidence(user=user, achievement=achievement, filename="a.txt", content=b"x")
    found = get_child_or_404(Programme.objects.unrestricted("test").get(pk=dakar.pk),
                             AchievementEvidence.objects.all(), evidence.pk, user=user)
    assert found.pk == evidence.pk
