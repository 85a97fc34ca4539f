"""Programme workflow and role rules: create → submit → comment → approve → execute → revise → close."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from chancery.audit.models import AuditEvent
from chancery.notifications.models import Notification
from chancery.planning import selectors, services
from chancery.planning.demo import sample_programme
from chancery.planning.models import (
    Action,
    ActionStatus,
    Axis,
    Indicator,
    Programme,
    ProgrammeComment,
    ProgrammeStatus,
    ProgrammeVersion,
    VersionKind,
)
from chancery.planning.services import WorkflowError

YEAR = 2026


@pytest.fixture
def dakar(ministry: Any) -> Programme:
    return sample_programme(mission=ministry.units["DAKAR"], year=YEAR, user=ministry.users["counsellor.dakar"])


def _actions(programme: Programme) -> list[Action]:
    return list(Action.objects.unrestricted("test").filter(programme=programme).order_by("pk"))


def test_full_lifecycle(ministry: Any, dakar: Programme) -> None:
    u = ministry.users
    assert dakar.status == ProgrammeStatus.DRAFT
    assert Axis.objects.unrestricted("t").filter(programme=dakar).count() == 3
    # Mission staff propose but only the head of mission submits.
    with pytest.raises(PermissionDenied):
        services.submit_programme(user=u["counsellor.dakar"], programme=dakar)
    with pytest.raises(PermissionDenied):
        services.submit_programme(user=u["hom.lima"], programme=dakar)
    submitted = services.submit_programme(user=u["hom.dakar"], programme=dakar, note="For approval")
    assert submitted.kind == VersionKind.SUBMITTED and submitted.number == 1
    assert dakar.status == ProgrammeStatus.SUBMITTED and dakar.submitted_by == u["hom.dakar"]
    # HQ desk and region / planning are told.
    told = set(
        Notification.objects.unrestricted("t")
        .filter(target_id=str(dakar.pk))
        .values_list("recipient__username", flat=True)
    )
    assert {"desk.dab1", "plan.sg4"} <= told
    assert "hom.lima" not in told and "counsellor.dakar" not in told
    # Under review: the mission cannot change the content.
    with pytest.raises(WorkflowError):
        services.create_action(
            user=u["counsellor.dakar"],
            programme=dakar,
            axis=Axis.objects.unrestricted("t").filter(programme=dakar).get(axis_type__key="political"),
            title="Late",
        )
    # The desk comments (threaded), the mission answers; an unrelated mission may not.
    action = _actions(dakar)[0]
    root = services.comment(
        user=u["desk.dab1"], programme=dakar, body="Specify the budget.", target_type="action", target_id=action.pk
    )
    reply = services.comment(user=u["counsellor.dakar"], programme=dakar, body="Done.", parent=root)
    assert reply.target_type == "action" and reply.target_id == action.pk
    with pytest.raises(PermissionDenied):
        services.comment(user=u["hom.lima"], programme=dakar, body="Hello")
    threads = selectors.comment_threads(u["desk.dab1"], dakar, target_type="action", target_id=action.pk)
    assert len(threads) == 1 and threads[0].replies[0].comment == reply
    # The desk reviews but does not approve; planning approves.
    with pytest.raises(PermissionDenied):
        services.approve_programme(user=u["desk.dab1"], programme=dakar)
    with pytest.raises(PermissionDenied):
        services.approve_programme(user=u["hom.dakar"], programme=dakar)
    baseline = services.approve_programme(user=u["plan.sg4"], programme=dakar)
    assert baseline.kind == VersionKind.BASELINE and baseline.number == 2
    assert dakar.status == ProgrammeStatus.APPROVED and dakar.baseline_version == baseline
    assert {a.status for a in _actions(dakar)} == {ActionStatus.APPROVED}
    # After approval the plan is not frozen: edits show against the baseline.
    first = _actions(dakar)[0]
    services.update_action(
        user=u["counsellor.dakar"],
        action=first,
        lock_version=first.lock_version,
        end_date=date(YEAR, 6, 30),
        budget_requested=Decimal("900"),
    )
    # What headquarters decides is not the mission's to set: the budget granted, an "approved" status.
    with pytest.raises(ValidationError) as refused:
        services.update_action(user=u["counsellor.dakar"], action=first, lock_version=None,
                               budget_approved=Decimal("900"))
    assert "budget_approved" in refused.value.message_dict
    added = services.create_action(user=u["counsellor.dakar"], programme=dakar, axis=first.axis, title="New one")
    diff = selectors.baseline_comparison(u["desk.dab1"], dakar)["diff"]
    assert [a["id"] for a in diff.actions_added] == [added.pk]
    assert [c.id for c in diff.actions_redated] == [first.pk]
    assert diff.actions_redated[0].changes["end_date"] == (f"{YEAR}-03-15", f"{YEAR}-06-30")
    assert [c.id for c in diff.actions_rebudgeted] == [first.pk]
    # Revision: numbered, with a reason; only from approved/in execution.
    with pytest.raises(ValidationError):
        services.propose_revision(user=u["hom.dakar"], programme=dakar, reason="  ")
    with pytest.raises(PermissionDenied):  # the head of mission proposes, as they submitted
        services.propose_revision(user=u["counsellor.dakar"], programme=dakar, reason="New visit announced")
    services.propose_revision(user=u["hom.dakar"], programme=dakar, reason="New visit announced")
    with pytest.raises(WorkflowError):  # frozen while headquarters decides
        services.update_action(user=u["counsellor.dakar"], action=first, lock_version=None, title="x")
    with pytest.raises(PermissionDenied):
        services.approve_revision(user=u["desk.dab1"], programme=dakar)
    revision = services.approve_revision(user=u["plan.sg4"], programme=dakar, budgets={first.pk: "900"})
    first.refresh_from_db()
    assert first.budget_approved == Decimal("900")
    assert revision.number == 3 and revision.kind == VersionKind.REVISION and dakar.current_version == 3
    assert dakar.baseline_version_id == baseline.pk
    # Explicit start of execution; then closing freezes.
    services.start_execution(user=u["counsellor.dakar"], programme=dakar)
    assert dakar.status == ProgrammeStatus.IN_EXECUTION
    with pytest.raises(PermissionDenied):
        services.close_programme(user=u["counsellor.dakar"], programme=dakar)
    final = services.close_programme(user=u["hom.dakar"], programme=dakar)
    assert final.kind == VersionKind.FINAL and dakar.status == ProgrammeStatus.CLOSED
    with pytest.raises(WorkflowError):
        services.update_action(user=u["counsellor.dakar"], action=first, lock_version=None, title="x")
    with pytest.raises(WorkflowError):
        services.propose_revision(user=u["hom.dakar"], programme=dakar, reason="too late")
    versions = list(ProgrammeVersion.objects.unrestricted("t").filter(programme=dakar).values_list("number", "kind"))
    assert versions == [(1, "submitted"), (2, "baseline"), (3, "revision"), (4, "final")]
    actions = set(AuditEvent.objects.filter(object_id=str(dakar.pk)).values_list("action", flat=True))
    assert {
        "planning.programme_submitted",
        "planning.programme_approved",
        "planning.programme_revised",
        "planning.programme_closed",
    } <= actions


def test_return_for_changes_and_resubmit(ministry: Any, dakar: Programme) -> None:
    u = ministry.users
    services.submit_programme(user=u["hom.dakar"], programme=dakar)
    with pytest.raises(PermissionDenied):
        services.return_for_changes(user=u["counsellor.dakar"], programme=dakar, reason="no")
    note = services.return_for_changes(user=u["director.dab"], programme=dakar, reason="Add indicators.")
    assert dakar.status == ProgrammeStatus.DRAFT and note.body == "Add indicators."
    services.create_indicator(user=u["counsellor.dakar"], programme=dakar, label="Extra")
    version = services.submit_programme(user=u["hom.dakar"], programme=dakar)
    assert version.number == 2 and dakar.status == ProgrammeStatus.SUBMITTED


def test_wrong_state_transitions(ministry: Any, dakar: Programme) -> None:
    u = ministry.users
    with pytest.raises(WorkflowError):
        services.approve_programme(user=u["plan.sg4"], programme=dakar)
    with pytest.raises(WorkflowError):
        services.propose_revision(user=u["hom.dakar"], programme=dakar, reason="r")
    with pytest.raises(WorkflowError):
        services.close_programme(user=u["hom.dakar"], programme=dakar)
    empty = services.create_programme(user=u["hom.dakar"], mission=ministry.units["DAKAR"], year=YEAR + 1)
    with pytest.raises(WorkflowError):
        services.submit_programme(user=u["hom.dakar"], programme=empty)


def test_create_rules(ministry: Any, dakar: Programme) -> None:
    u = ministry.users
    with pytest.raises(ValidationError):
        services.create_programme(user=u["hom.dakar"], mission=ministry.units["DAKAR"], year=YEAR)
    for username in ("desk.dab1", "plan.sg4", "hom.lima", "auditor"):
        with pytest.raises(PermissionDenied):
            services.create_programme(user=u[username], mission=ministry.units["DAKAR"], year=YEAR + 3)
    multi = services.create_programme(
        user=u["hom.dakar"], mission=ministry.units["DAKAR"], year=YEAR + 1, end_year=YEAR + 2, axis_types=["political"]
    )
    assert multi.is_multi_year and multi.last_year == YEAR + 2
    with pytest.raises(ValidationError):
        services.create_programme(
            user=u["hom.dakar"], mission=ministry.units["DAKAR"], year=YEAR + 4, end_year=YEAR + 3
        )


def test_carry_over_copies_unfinished_actions_and_indicators(ministry: Any, dakar: Programme) -> None:
    u = ministry.users
    actions = _actions(dakar)
    services.update_action(
        user=u["counsellor.dakar"], action=actions[0], lock_version=None, status="done", progress=100
    )
    services.update_action(user=u["counsellor.dakar"], action=actions[1], lock_version=None, status="cancelled")
    services.update_action(
        user=u["counsellor.dakar"],
        action=actions[2],
        lock_version=None,
        status="in_progress",
        progress=40,
        budget_spent=Decimal("10"),
    )
    indicator = Indicator.objects.unrestricted("t").filter(programme=dakar).first()
    assert indicator is not None
    services.update_indicator(user=u["counsellor.dakar"], indicator=indicator, revised_target=Decimal("99"))
    nxt = services.create_programme(
        user=u["hom.dakar"], mission=ministry.units["DAKAR"], year=YEAR + 1, carry_over_from=dakar
    )
    assert nxt.carried_over_from == dakar
    copied = _actions(nxt)
    assert len(copied) == len(actions) - 2
    assert {a.title for a in copied} == {a.title for a in actions[2:]}
    running = next(a for a in copied if a.title == actions[2].title)
    assert running.status == "in_progress" and running.progress == 40 and running.budget_spent == 0
    assert running.objective is not None and running.objective.axis.programme_id == nxt.pk
    inds = list(Indicator.objects.unrestricted("t").filter(programme=nxt).order_by("position"))
    assert len(inds) == 2
    copied_indicator = next(i for i in inds if i.label == indicator.label)
    assert copied_indicator.approved_target == Decimal("99") and copied_indicator.revised_target is None
    assert copied_indicator.baseline_value == indicator.baseline_value
    # Only from the same mission, an earlier year.
    lima = sample_programme(mission=ministry.units["LIMA"], year=YEAR, user=u["hom.lima"], actions_per_axis=1)
    with pytest.raises((ValidationError, PermissionDenied)):
        services.create_programme(
            user=u["hom.dakar"], mission=ministry.units["DAKAR"], year=YEAR + 2, carry_over_from=lima
        )


def test_progress_moves_approved_programme_into_execution(ministry: Any, dakar: Programme) -> None:
    u = ministry.users
    services.submit_programme(user=u["hom.dakar"], programme=dakar)
    services.approve_programme(user=u["plan.sg4"], programme=dakar)
    action = _actions(dakar)[0]
    services.update_action(
        user=u["counsellor.dakar"], action=action, lock_version=None, progress=10, status="in_progress"
    )
    dakar.refresh_from_db()
    assert dakar.status == ProgrammeStatus.IN_EXECUTION and dakar.execution_started_at is not None


def test_comment_validation(ministry: Any, dakar: Programme) -> None:
    u = ministry.users
    with pytest.raises(ValidationError):
        services.comment(user=u["desk.dab1"], programme=dakar, body="   ")
    with pytest.raises(ValidationError):
        services.comment(user=u["desk.dab1"], programme=dakar, body="x", target_type="action", target_id=999999)
    other = sample_programme(mission=ministry.units["ABIDJAN"], year=YEAR, user=u["hom.abidjan"], actions_per_axis=1)
    foreign = Action.objects.unrestricted("t").filter(programme=other).first()
    assert foreign is not None
    with pytest.raises(ValidationError):
        services.comment(user=u["desk.dab1"], programme=dakar, body="x", target_type="action", target_id=foreign.pk)
    assert ProgrammeComment.objects.unrestricted("t").filter(programme=dakar).count() == 0


def test_permissions_map(ministry: Any, dakar: Programme) -> None:
    u = ministry.users
    assert services.permissions(u["counsellor.dakar"], dakar)["edit"] is True
    assert services.permissions(u["counsellor.dakar"], dakar)["submit"] is False
    assert services.permissions(u["hom.dakar"], dakar)["submit"] is True
    assert services.permissions(u["desk.dab1"], dakar)["edit"] is False
    assert services.permissions(u["desk.dab1"], dakar)["comment"] is True
    assert services.permissions(u["hom.lima"], dakar) == dict.fromkeys(
        services.permissions(u["hom.lima"], dakar), False
    )


def test_services_and_selectors_read_only_through_the_gate(ministry: Any) -> None:
    """As during a request: any restricted read that skips visible_to() would raise."""
    from chancery.core.gate import enforcing
    from chancery.planning import spreadsheets

    u = ministry.users
    with enforcing():
        programme = sample_programme(mission=ministry.units["DAKAR"], year=YEAR, user=u["counsellor.dakar"])
        action = Action.objects.visible_to(u["counsellor.dakar"]).filter(programme=programme).first()
        indicator = Indicator.objects.visible_to(u["counsellor.dakar"]).filter(programme=programme).first()
        assert action is not None and indicator is not None
        services.update_action(
            user=u["counsellor.dakar"],
            action=action,
            lock_version=action.lock_version,
            partner_units=[ministry.units["DAB/1"]],
            progress=5,
        )
        services.comment(
            user=u["desk.dab1"], programme=programme, body="Remark", target_type="action", target_id=action.pk
        )
        services.submit_programme(user=u["hom.dakar"], programme=programme)
        services.approve_programme(user=u["plan.sg4"], programme=programme)
        period = services.create_reporting_periods(user=u["hom.dakar"], programme=programme)[0]
        services.record_progress_updates(
            user=u["counsellor.dakar"],
            period=period,
            rows=[{"action": action.pk, "progress": 20, "status": "in_progress"}],
            measurements=[{"indicator": indicator.pk, "value": 3}],
        )
        achievement = services.create_achievement(
            user=u["counsellor.dakar"],
            programme=programme,
            kind="visit",
            date=date(YEAR, 3, 1),
            title="Visit",
            actions=[action],
        )
        services.add_achievement_evidence(
            user=u["counsellor.dakar"], achievement=achievement, filename="a.txt", content=b"evidence"
        )
        services.propose_revision(user=u["hom.dakar"], programme=programme, reason="Dates")
        services.approve_revision(user=u["plan.sg4"], programme=programme)
        for user in (u["desk.dab1"], u["counsellor.dakar"]):
            selectors.programme_document(user, programme)
            selectors.timeline(user, programme)
            selectors.calendar(user, YEAR, 3)
            selectors.ics_for_user(user)
            selectors.home_panel(user=user)
            selectors.baseline_comparison(user, programme)
            selectors.compare_versions(user, programme, 1, None)
            selectors.progress_sheet(user, period)
            selectors.periods(user, programme)
            selectors.overdue_updates(user)
            selectors.stats(user, programme)
            list(selectors.actions_table(user, programme, {"status": "in_progress"}))
            list(selectors.achievement_list(user, programme))
        data = spreadsheets.export_programme(programme)
        preview = spreadsheets.parse_programme_workbook(data, mission=programme.mission, year=YEAR, programme=programme)
        spreadsheets.apply_import(preview, user=u["counsellor.dakar"], programme=programme)
        copy = spreadsheets.parse_programme_workbook(data, mission=programme.mission, year=YEAR + 1)
        spreadsheets.apply_import(copy, user=u["hom.dakar"])
        services.create_programme(
            user=u["hom.dakar"], mission=ministry.units["DAKAR"], year=YEAR + 2, carry_over_from=programme
        )
        services.close_programme(user=u["hom.dakar"], programme=programme)
