"""Actions, indicators and achievements: validation, warnings, optimistic concurrency, dispatch links, evidence."""

from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from chancery.correspondence.models import Dispatch
from chancery.planning import selectors, services
from chancery.planning.demo import sample_programme
from chancery.planning.models import Action, Axis, Indicator, Objective, Programme
from chancery.planning.services import ActionConflict

YEAR = 2026


@pytest.fixture
def dakar(ministry: Any) -> Programme:
    return sample_programme(mission=ministry.units["DAKAR"], year=YEAR, user=ministry.users["counsellor.dakar"])


def _axis(programme: Programme, key: str = "political") -> Axis:
    return Axis.objects.unrestricted("t").get(programme=programme, axis_type__key=key)


@pytest.mark.parametrize(
    ("fields", "error_field"),
    [
        ({"start_date": date(YEAR, 5, 2), "end_date": date(YEAR, 5, 1)}, "end_date"),
        ({"budget_requested": Decimal("-1")}, "budget_requested"),
        ({"budget_approved": "-3"}, "budget_approved"),
        ({"budget_spent": Decimal("-0.01")}, "budget_spent"),
        ({"budget_spent": "lots"}, "budget_spent"),
        ({"progress": 101}, "progress"),
        ({"progress": -5}, "progress"),
        ({"progress": "half"}, "progress"),
        ({"currency": "euro"}, "currency"),
        ({"priority": "urgent"}, "priority"),
        ({"status": "lost"}, "status"),
    ],
)
def test_action_validation(ministry: Any, dakar: Programme, fields: dict[str, Any], error_field: str) -> None:
    user = ministry.users["counsellor.dakar"]
    count = Action.objects.unrestricted("t").filter(programme=dakar).count()
    with pytest.raises(ValidationError) as caught:
        services.create_action(user=user, programme=dakar, axis=_axis(dakar), title="Bad", **fields)
    assert error_field in caught.value.message_dict
    assert Action.objects.unrestricted("t").filter(programme=dakar).count() == count
    action = Action.objects.unrestricted("t").filter(programme=dakar).first()
    assert action is not None
    with pytest.raises(ValidationError):
        services.update_action(user=user, action=action, lock_version=action.lock_version, **fields)
    fresh = Action.objects.unrestricted("t").get(pk=action.pk)
    assert fresh.lock_version == action.lock_version  # the failed update left nothing behind


def test_dates_outside_the_year_warn_but_save(ministry: Any, dakar: Programme) -> None:
    action = services.create_action(user=ministry.users["counsellor.dakar"], programme=dakar, axis=_axis(dakar),
                                    title="Two years", start_date=date(YEAR, 10, 1), end_date=date(YEAR + 1, 3, 1))
    assert action.pk and len(action.date_warnings()) == 1 and f"{YEAR + 1}-03-01" in action.date_warnings()[0]
    ok = services.create_action(user=ministry.users["counsellor.dakar"], programme=dakar, axis=_axis(dakar),
                                title="In year", start_date=date(YEAR, 1, 1), end_date=date(YEAR, 12, 31))
    assert ok.date_warnings() == []
    document = selectors.programme_document(ministry.users["desk.dab1"], dakar)
    assert action.pk in document["warnings"] and ok.pk not in document["warnings"]


def test_axis_and_objective_must_belong_to_the_programme(ministry: Any, dakar: Programme) -> None:
    user = ministry.users["counsellor.dakar"]
    other = services.create_programme(user=user, mission=ministry.units["DAKAR"], year=YEAR + 1)
    with pytest.raises(ValidationError):
        services.create_action(user=user, programme=dakar, axis=_axis(other), title="Wrong axis")
    foreign = Objective.objects.unrestricted("t").filter(axis=_axis(dakar, "economic")).first()
    with pytest.raises(ValidationError):
        services.create_action(user=user, programme=dakar, axis=_axis(dakar), objective=foreign, title="Wrong obj")


def test_stale_lock_version_is_a_conflict_and_nothing_is_lost(ministry: Any, dakar: Programme) -> None:
    first, second = ministry.users["counsellor.dakar"], ministry.users["hom.dakar"]
    action = Action.objects.unrestricted("t").filter(programme=dakar).first()
    assert action is not None
    read_by_second = Action.objects.unrestricted("t").get(pk=action.pk)
    services.update_action(user=first, action=action, lock_version=action.lock_version, title="First edit")
    with pytest.raises(ActionConflict) as caught:
        services.update_action(user=second, action=read_by_second, lock_version=read_by_second.lock_version,
                               title="Second edit", progress=50)
    assert caught.value.current == read_by_second.lock_version + 1
    fresh = Action.objects.unrestricted("t").get(pk=action.pk)
    assert fresh.title == "First edit" and fresh.progress == 0
    with pytest.raises(ActionConflict):
        services.delete_action(user=second, action=read_by_second, lock_version=read_by_second.lock_version)


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_one_wins_one_conflicts(fresh_ministry: Any) -> None:
    user = fresh_ministry.users["counsellor.dakar"]
    programme = sample_programme(mission=fresh_ministry.units["DAKAR"], year=YEAR, user=user, axes=("political",),
                                 actions_per_axis=1, indicators=0)
    action = Action.objects.unrestricted("t").get(programme=programme)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def write(title: str) -> None:
        try:
            barrier.wait(timeout=10)
            services.update_action(user=user, action=Action.objects.unrestricted("t").get(pk=action.pk),
                                   lock_version=action.lock_version, title=title)
            outcomes.append("saved:" + title)
        except ActionConflict:
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(t,)) for t in ("A", "B")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(o.split(":")[0] for o in outcomes) == ["conflict", "saved"]
    fresh = Action.objects.unrestricted("t").get(pk=action.pk)
    winner = next(o for o in outcomes if o.startswith("saved")).split(":")[1]
    assert fresh.title == winner and fresh.lock_version == action.lock_version + 1


def test_only_mission_staff_edit(ministry: Any, dakar: Programme) -> None:
    action = Action.objects.unrestricted("t").filter(programme=dakar).first()
    assert action is not None
    for username in ("desk.dab1", "plan.sg4", "hom.lima", "inspect.sg5", "clerk.dakar"):
        with pytest.raises(PermissionDenied):
            services.update_action(user=ministry.users[username], action=action, lock_version=None, title="x")
        with pytest.raises(PermissionDenied):
            services.create_indicator(user=ministry.users[username], programme=dakar, label="x")


def test_dispatch_links_only_to_dispatches_the_agent_reads(ministry: Any, dakar: Programme) -> None:
    u = ministry.users
    own = Dispatch.objects.create(sending_unit=ministry.units["DAKAR"], author=u["hom.dakar"], subject="Report")
    foreign = Dispatch.objects.create(sending_unit=ministry.units["LIMA"], author=u["hom.lima"], subject="Other")
    action = Action.objects.unrestricted("t").filter(programme=dakar).first()
    assert action is not None
    with pytest.raises(ValidationError):
        services.update_action(user=u["counsellor.dakar"], action=action, lock_version=None, dispatches=[foreign])
    services.update_action(user=u["counsellor.dakar"], action=action, lock_version=None, dispatches=[own])
    assert list(selectors.action_dispatches(u["counsellor.dakar"], action)) == [own]
    # The desk reads the action but not the mission's draft: the link stays invisible to it.
    assert list(selectors.action_dispatches(u["desk.dab1"], action)) == []
    achievement = services.create_achievement(user=u["counsellor.dakar"], programme=dakar, kind="visit",
                                              date=date(YEAR, 4, 1), title="Visit", dispatches=[own],
                                              actions=[action])
    assert list(selectors.achievement_dispatches(u["counsellor.dakar"], achievement)) == [own]
    services.submit_programme(user=u["hom.dakar"], programme=dakar, dispatch=own)
    assert dakar.submission_dispatch == own


def test_indicator_targets_side_by_side(ministry: Any, dakar: Programme) -> None:
    indicator = Indicator.objects.unrestricted("t").filter(programme=dakar).first()
    assert indicator is not None
    assert indicator.current_target == indicator.approved_target
    services.update_indicator(user=ministry.users["counsellor.dakar"], indicator=indicator, revised_target="80,5")
    indicator.refresh_from_db()
    assert indicator.revised_target == Decimal("80.5") and indicator.current_target == Decimal("80.5")
    assert indicator.approved_target == Decimal("75")
    with pytest.raises(ValidationError):
        services.update_indicator(user=ministry.users["counsellor.dakar"], indicator=indicator, direction="sideways")


def test_achievement_with_evidence(ministry: Any, dakar: Programme, data_dir: Any) -> None:
    u = ministry.users
    achievement = services.create_achievement(user=u["counsellor.dakar"], programme=dakar, kind="press_article",
                                              date=date(YEAR, 5, 5), title="Article", outlet="Daily",
                                              link="https://example.org/article")
    evidence = services.add_achievement_evidence(user=u["counsellor.dakar"], achievement=achievement,
                                                 filename="../../clip.pdf", content=b"%PDF-1.4 test",
                                                 content_type="application/pdf")
    assert evidence.filename == "clip.pdf" and evidence.size == 13
    assert evidence.storage_path.is_relative_to(data_dir / "evidence") and evidence.read_bytes() == b"%PDF-1.4 test"
    assert selectors.evidence_detail(u["desk.dab1"], evidence.pk) == evidence
    from django.http import Http404

    with pytest.raises(Http404):
        selectors.evidence_detail(u["hom.lima"], evidence.pk)
    with pytest.raises(ValidationError):
        services.add_achievement_evidence(user=u["counsellor.dakar"], achievement=achievement, filename="e",
                                          content=b"")
    with pytest.raises(ValidationError):
        services.create_achievement(user=u["counsellor.dakar"], programme=dakar, kind="nonsense",
                                    date=date(YEAR, 5, 5), title="x")
    with pytest.raises(PermissionDenied):
        services.create_achievement(user=u["desk.dab1"], programme=dakar, kind="visit", date=date(YEAR, 5, 5),
                                    title="x")


def test_axes_and_objectives(ministry: Any, dakar: Programme) -> None:
    user = ministry.users["counsellor.dakar"]
    axis = services.add_axis(user=user, programme=dakar, axis_type="consular", narrative="Services")
    with pytest.raises(ValidationError):
        services.add_axis(user=user, programme=dakar, axis_type="consular")
    with pytest.raises(ValidationError):
        services.add_axis(user=user, programme=dakar, axis_type="unknown")
    with pytest.raises(ValidationError):
        services.remove_axis(user=user, axis=_axis(dakar))  # has actions
    services.remove_axis(user=user, axis=axis)
    objective = Objective.objects.unrestricted("t").filter(axis__programme=dakar).first()
    assert objective is not None
    services.delete_objective(user=user, objective=objective)
    assert Action.objects.unrestricted("t").filter(programme=dakar, objective__isnull=True).exists()
