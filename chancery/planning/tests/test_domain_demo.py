"""The demo programmes: three years per mission, every state, versions, comments, measurements."""

from __future__ import annotations

import io
from typing import Any

from django.db.models import Count
from django.utils import timezone

from chancery.planning import demo, selectors, versions
from chancery.planning.models import (
    Achievement,
    Measurement,
    Programme,
    ProgrammeComment,
    ProgrammeStatus,
    ProgrammeVersion,
)


def test_populate(ministry: Any) -> None:
    out = io.StringIO()
    counts = demo.populate(ministry=ministry, seed=2026, stdout=out)
    assert "Demo programmes" in out.getvalue()
    year = timezone.localdate().year
    programmes = Programme.objects.unrestricted("t")
    missions = len(ministry.missions)
    assert programmes.count() == counts["programmes"] == 3 * missions
    assert set(programmes.values_list("year", flat=True)) == {year - 2, year - 1, year}
    per_mission = programmes.values("mission").annotate(n=Count("pk")).values_list("n", flat=True)
    assert set(per_mission) == {3}
    assert set(programmes.values_list("status", flat=True)) == set(ProgrammeStatus.values)
    for p in programmes.filter(status__in=["approved", "in_execution", "closed"]):
        assert p.baseline_version_id is not None
    assert ProgrammeVersion.objects.unrestricted("t").filter(kind="revision").exists()
    assert ProgrammeVersion.objects.unrestricted("t").filter(kind="final").count() == programmes.filter(
        status="closed").count()
    assert ProgrammeComment.objects.unrestricted("t").filter(parent__isnull=False).exists()
    assert Measurement.objects.unrestricted("t").exists() and Achievement.objects.unrestricted("t").exists()
    # The main demo mission is in execution this year, with its previous years closed and carried over.
    dakar = programmes.get(mission__code="DAKAR", year=year)
    assert dakar.status == ProgrammeStatus.IN_EXECUTION and dakar.carried_over_from is not None
    desk = ministry.users["desk.dab1"]
    doc = selectors.programme_document(desk, dakar)
    assert doc["baseline"] is not None and doc["actions"]
    assert selectors.programme_list(desk, {"year": year}).filter(mission__code="LIMA").count() == 0
    # Revised programmes differ from their baseline.
    revised = programmes.filter(versions__kind="revision").distinct().first()
    assert revised is not None
    diff = versions.compare_with_baseline(revised)
    assert diff is not None and not diff.is_empty
    # A francophone ministry's data (issue 8): French, with English or Arabic where a mission writes so.
    from chancery.planning.models import Action

    def titles(code: str) -> set[str]:
        rows = Action.objects.unrestricted("t").filter(programme__mission__code=code)
        return set(rows.values_list("title", flat=True))

    french = {t for key in demo.CONTENT for t in demo.CONTENT[key]["actions"]}
    assert titles("DAKAR") and titles("DAKAR") - {"Action supplémentaire décidée en cours d'année"} <= french
    assert titles("WASH") & {t for v in demo.ACTIONS_EN.values() for t in v}
    assert any("\u0600" <= ch <= "\u06ff" for title in titles("LECAIRE") for ch in title)
    assert "Programme annuel de la mission" in dakar.summary
