"""Snapshots and their comparison: against the baseline and between any two versions."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from chancery.planning import selectors, services, versions
from chancery.planning.demo import sample_programme
from chancery.planning.models import Action, Axis, Indicator, Programme

YEAR = 2026


@pytest.fixture
def approved(ministry: Any) -> Programme:
    u = ministry.users
    programme = sample_programme(mission=ministry.units["DAKAR"], year=YEAR, user=u["counsellor.dakar"])
    services.submit_programme(user=u["hom.dakar"], programme=programme)
    services.approve_programme(user=u["plan.sg4"], programme=programme)
    return programme


def test_snapshot_is_complete_json(approved: Programme) -> None:
    snap = versions.snapshot(approved)
    json.dumps(snap)  # plain JSON
    assert snap["programme"]["mission"] == "DAKAR" and snap["programme"]["year"] == YEAR
    assert [a["key"] for a in snap["axes"]] == ["political", "economic", "cultural"]
    assert all(len(a["objectives"]) == 1 for a in snap["axes"])
    action = snap["actions"][0]
    assert action["start_date"] == f"{YEAR}-02-01" and action["budget_requested"] == "1000"
    assert action["status"] == "approved" and action["lead"] == "counsellor.dakar"
    indicator = snap["indicators"][0]
    assert indicator["approved_target"] == "75" and indicator["baseline_year"] == YEAR - 1


def test_identical_snapshots_have_an_empty_diff(approved: Programme) -> None:
    diff = versions.compare_with_baseline(approved)
    assert diff is not None and diff.is_empty and not diff.changed_action_ids()


def test_compare_with_baseline_tells_every_kind_of_change(ministry: Any, approved: Programme) -> None:
    user = ministry.users["counsellor.dakar"]
    actions = list(Action.objects.unrestricted("t").filter(programme=approved).order_by("pk"))
    redated, rebudgeted, restatused, removed, edited = actions[:5]
    services.update_action(user=user, action=redated, lock_version=None, start_date=date(YEAR, 2, 10),
                           target_date=date(YEAR, 4, 1))
    services.update_action(user=user, action=rebudgeted, lock_version=None, budget_requested=Decimal("2500"),
                           currency="USD")
    services.update_action(user=user, action=restatused, lock_version=None, status="postponed")
    removed_id = removed.pk
    services.delete_action(user=user, action=removed)
    services.update_action(user=user, action=edited, lock_version=None, title="New title", priority="low")
    added = services.create_action(user=user, programme=approved, axis=redated.axis, title="Added")
    indicator = Indicator.objects.unrestricted("t").filter(programme=approved).first()
    assert indicator is not None
    services.update_indicator(user=user, indicator=indicator, revised_target=Decimal("90"))
    new_indicator = services.create_indicator(user=user, programme=approved, label="New indicator")
    services.add_axis(user=user, programme=approved, axis_type="consular")

    diff = versions.compare_with_baseline(approved)
    assert diff is not None and not diff.is_empty
    # The programme document compares the parts it has loaded (`snapshot_of`): the same diff.
    document = selectors.programme_document(user, Programme.objects.unrestricted("t").get(pk=approved.pk))
    assert document["diff"] == diff
    assert [a["id"] for a in diff.actions_added] == [added.pk]
    assert [a["id"] for a in diff.actions_removed] == [removed_id]
    assert [c.id for c in diff.actions_redated] == [redated.pk]
    assert set(diff.actions_redated[0].changes) == {"start_date", "target_date"}
    assert [c.id for c in diff.actions_rebudgeted] == [rebudgeted.pk]
    assert diff.actions_rebudgeted[0].changes["budget_requested"] == ("2000", "2500")
    assert diff.actions_rebudgeted[0].changes["currency"] == ("EUR", "USD")
    assert [(c.id, c.changes["status"]) for c in diff.actions_status_changed] == [
        (restatused.pk, ("approved", "postponed"))
    ]
    assert [c.id for c in diff.actions_edited] == [edited.pk]
    assert set(diff.actions_edited[0].changes) == {"title", "priority"}
    assert [(c.id, c.changes) for c in diff.indicators_target_revised] == [(indicator.pk, {"revised_target": (None,
                                                                                                               "90")})]
    assert [i["id"] for i in diff.indicators_added] == [new_indicator.pk]
    assert diff.axes_added == ["consular"]
    assert diff.budget_totals["USD"]["budget_requested"] == "2500"
    data = diff.to_dict()
    json.dumps(data)
    assert data["actions_rebudgeted"][0]["changes"]["budget_requested"] == {"old": "2000", "new": "2500"}
    assert diff.counts["actions_added"] == 1 and diff.counts["actions_removed"] == 1


def test_baseline_stays_while_revisions_accumulate(ministry: Any, approved: Programme) -> None:
    u = ministry.users
    baseline_id = approved.baseline_version_id
    action = Action.objects.unrestricted("t").filter(programme=approved).first()
    assert action is not None
    services.update_action(user=u["counsellor.dakar"], action=action, lock_version=None, end_date=date(YEAR, 8, 1))
    services.propose_revision(user=u["hom.dakar"], programme=approved, reason="First revision")
    services.approve_revision(user=u["plan.sg4"], programme=approved)
    services.update_action(user=u["counsellor.dakar"], action=action, lock_version=None,
                           budget_requested=Decimal("7"))
    services.propose_revision(user=u["hom.dakar"], programme=approved, reason="Second revision")
    services.approve_revision(user=u["plan.sg4"], programme=approved)
    approved.refresh_from_db()
    assert approved.baseline_version_id == baseline_id and approved.current_version == 4
    # Any two versions compare: 3 → 4 is only the budget change; 2 (baseline) → 4 has both.
    between = selectors.compare_versions(u["desk.dab1"], approved, 3, 4)["diff"]
    assert [c.id for c in between.actions_rebudgeted] == [action.pk] and not between.actions_redated
    since_baseline = selectors.compare_versions(u["desk.dab1"], approved, 2, 4)["diff"]
    assert [c.id for c in since_baseline.actions_redated] == [action.pk]
    assert [c.id for c in since_baseline.actions_rebudgeted] == [action.pk]
    # Side by side: the baseline beside the current version.
    data = selectors.baseline_comparison(u["desk.dab1"], approved)
    states = {row["id"]: row["state"] for row in data["rows"]}
    assert states[action.pk] == "changed" and list(states.values()).count("changed") == 1
    row = next(r for r in data["rows"] if r["id"] == action.pk)
    assert row["baseline"]["end_date"] == f"{YEAR}-03-15" and row["current"]["end_date"] == f"{YEAR}-08-01"


def test_structure_ignores_ids_and_positions(ministry: Any) -> None:
    u = ministry.users
    first = sample_programme(mission=ministry.units["DAKAR"], year=YEAR, user=u["hom.dakar"], actions_per_axis=1)
    second = sample_programme(mission=ministry.units["LIMA"], year=YEAR, user=u["hom.lima"], actions_per_axis=1)
    a, b = versions.structure(versions.snapshot(first)), versions.structure(versions.snapshot(second))
    for item in b["actions"]:
        item["lead"] = "hom.dakar"
    assert a == b
    axis = Axis.objects.unrestricted("t").filter(programme=second).first()
    assert axis is not None
    services.create_action(user=u["hom.lima"], programme=second, axis=axis, title="Extra")
    assert versions.structure(versions.snapshot(first)) != versions.structure(versions.snapshot(second))
