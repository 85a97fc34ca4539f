"""Writes and business rules of action planning.

Every function is keyword-only, runs in one transaction, checks the acting agent's rights
(`PermissionDenied` when the role does not allow it), validates (`ValidationError`, with a
field → messages dict where it helps) and appends to the audit log.

Errors a caller should expect:
- `django.core.exceptions.PermissionDenied` — the agent's roles do not allow this step
  (views: the object was already read through the gate, so answer 403 or hide the button);
- `WorkflowError` (a `ValidationError`) — not allowed in the programme's current status;
- `ValidationError` — invalid data (end before start, negative budget, progress > 100…);
- `ActionConflict` — the action changed since the caller read it (optimistic concurrency:
  pass the `lock_version` you read; the second writer gets the conflict, nothing is lost).

Who does what (capabilities from `chancery.accounts.roles`):
- mission staff (`PROPOSE_PROGRAMME` in the mission): create, edit content, record progress,
  measurements and achievements, revise;
- head of mission (`SUBMIT_PROGRAMME` in the mission): submit, close;
- HQ desk / its directorate (`REVIEW_PROGRAMME` in the desk or an ancestor): comment, return;
- planning unit (`APPROVE_PROGRAMME`): approve, return, revise, close.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from chancery.accounts.models import User
from chancery.accounts.roles import Capability
from chancery.audit.services import record_event
from chancery.core import errors
from chancery.core.classification import Level, Marking
from chancery.core.locking import claim_version
from chancery.core.validators import date_message, out_of_range
from chancery.organisation.models import Unit, UnitKind
from chancery.planning import policy, sealed, storage
from chancery.planning.models import (
    FINISHED_ACTION_STATUSES,
    Achievement,
    AchievementEvidence,
    AchievementKind,
    Action,
    ActionStatus,
    Axis,
    AxisType,
    CommentTarget,
    EvidenceFile,
    Indicator,
    Measurement,
    Objective,
    PeriodType,
    Programme,
    ProgrammeComment,
    ProgrammeStatus,
    ProgrammeVersion,
    ProgressUpdate,
    ReportingPeriod,
    StoredFile,
    VersionKind,
    partner_units_prefetch,
)

DEFAULT_AXIS_KEYS = ("political", "economic", "cultural", "communication", "consular")
MAX_EVIDENCE_BYTES = int(getattr(settings, "CHANCERY_PLANNING_MAX_EVIDENCE_BYTES", 25 * 1024 * 1024))

ACTION_FIELDS = frozenset(
    {
        "axis",
        "objective",
        "title",
        "description",
        "lead",
        "partner_units",
        "start_date",
        "end_date",
        "target_date",
        "priority",
        "budget_requested",
        "budget_approved",
        "budget_spent",
        "currency",
        "status",
        "progress",
        "risk_note",
        "dispatches",
        "position",
    }
)
INDICATOR_FIELDS = frozenset(
    {
        "axis",
        "objective",
        "label",
        "unit",
        "direction",
        "data_source",
        "baseline_value",
        "baseline_year",
        "approved_target",
        "revised_target",
        "target_year",
        "aggregation",
        "position",
    }
)
ACHIEVEMENT_FIELDS = frozenset({"kind", "date", "title", "description", "outlet", "link", "actions", "dispatches"})
PROGRAMME_FIELDS = frozenset({"title", "summary", "end_year", "classification"})


# Who may do what is decided in `planning.policy`; the services ask it again before every
# write. Re-exported under their old names for the callers that ask the services.
can = policy.can
permissions = policy.permissions
PERMISSION_NAMES = policy.PERMISSION_NAMES
can_approve = policy.can_approve
can_close = policy.can_close
can_comment = policy.can_comment
can_create_programme = policy.can_create_programme
can_edit = policy.can_edit
can_manage_periods = policy.can_manage_periods
can_record_progress = policy.can_record_progress
can_return = policy.can_return
can_review = policy.can_review
can_revise = policy.can_revise
can_decide_revision = policy.can_decide_revision
can_grant_budget = policy.can_grant_budget
can_set_action_status = policy.can_set_action_status
can_start_execution = policy.can_start_execution
can_submit = policy.can_submit
can_view = policy.can_view


class WorkflowError(errors.InvalidState, ValidationError):
    """The step is not allowed in the programme's current status (also a ValidationError, so
    that forms show it as one)."""

    def __init__(self, message: str, code: str = "invalid_state") -> None:
        ValidationError.__init__(self, message, code=code)


class Conflict(errors.Conflict):
    """Optimistic concurrency: the object changed since the caller read it."""

    def __init__(self, message: str, *, expected: int | None, current: int) -> None:
        super().__init__(message)
        self.expected = expected
        self.current = current

    def details(self) -> dict[str, Any]:
        return {"current_lock_version": self.current}


class ActionConflict(Conflict):
    """Another agent saved this action since you read it (lock_version moved on)."""

    def __init__(self, action: Action, *, expected: int | None) -> None:
        super().__init__(
            _("This action was changed by someone else meanwhile; reload it and apply your changes again."),
            expected=expected,
            current=action.lock_version,
        )
        self.action = action


class ProgrammeConflict(Conflict):
    def __init__(self, programme: Programme, *, expected: int | None) -> None:
        super().__init__(
            _("This programme was changed by someone else meanwhile; reload it and apply your changes again."),
            expected=expected,
            current=programme.lock_version,
        )
        self.programme = programme


# --------------------------------------------------------------------------- rights


def _set_links(instance: Any, field: str, targets: Iterable[Any]) -> None:
    """Replace a many-to-many link set by writing its through table (the related manager's
    own `set()` would read the target table outside the gate)."""
    m2m = instance._meta.get_field(field)
    through = m2m.remote_field.through
    source, target = m2m.m2m_field_name(), m2m.m2m_reverse_field_name()
    through.objects.filter(**{f"{source}_id": instance.pk}).delete()
    through.objects.bulk_create(
        [through(**{f"{source}_id": instance.pk, f"{target}_id": t.pk}) for t in {t.pk: t for t in targets}.values()]
    )


def _unrestricted(model: Any, reason: str) -> Any:
    """Every row of `model`, with the reason the caller needs them all (no default: each call says why)."""
    return model.objects.unrestricted(reason)


def audit_content(programme: Programme, **content: Any) -> dict[str, Any]:
    """Text and figures of a programme for an audit event, only when it is unprotected: the
    audit log is kept in clear and read by auditors who may lack the programme's clearance
    (ids, counts and field names always suffice to follow what happened)."""
    return content if int(programme.classification) < Level.RESTRICTED else {}


def _require(allowed: bool, message: str) -> None:
    if not allowed:
        raise errors.NotAllowed(message)


def _require_edit(user: User, programme: Programme) -> None:
    if programme.status == ProgrammeStatus.CLOSED:
        raise WorkflowError(_("A closed programme can no longer be changed."))
    if programme.status == ProgrammeStatus.SUBMITTED:
        raise WorkflowError(
            _("The programme is under review at headquarters; it can be changed once approved or returned."),
            code="under_review",
        )
    if programme.revision_pending:
        raise WorkflowError(
            _("A proposed revision awaits headquarters' decision; the programme can be changed once it is decided."),
            code="under_review",
        )
    _require(can_edit(user, programme), _("You may not change this programme."))


def _lock(programme: Programme) -> Programme:
    return _unrestricted(Programme, "workflow lock").select_for_update().select_related("mission").get(pk=programme.pk)


def _touch(programme: Programme) -> None:
    _unrestricted(
        Programme, "touch: the programme the caller already read through the gate"
    ).filter(pk=programme.pk).update(
        lock_version=F("lock_version") + 1, updated_at=timezone.now()
    )


# --------------------------------------------------------------------------- notifications


def _programme_url(programme: Programme) -> str:
    from django.urls import NoReverseMatch, reverse

    for name in ("planning:programme_detail", "planning:programme"):
        try:
            return reverse(name, args=[programme.pk])
        except (NoReverseMatch, ImportError):  # ImportError: the URLconf is being built
            continue
    return f"/planning/programmes/{programme.pk}/"


def _notify(*, programme: Programme, users: Iterable[Any], verb: str, actor: Any) -> None:
    try:
        from chancery.notifications.services import notify
    except ImportError:  # pragma: no cover - the notifications app is optional
        return
    # Only agents who may read the programme are told (clearance included).
    recipients = [u for u in users if can_view(u, programme)]
    if recipients:
        notify(recipients=recipients, verb=verb, target=programme, url=_programme_url(programme), actor=actor)


def _reviewers_of(programme: Programme) -> list[Any]:
    """Agents of the HQ desk and of the region (the mission's ancestors)."""
    from chancery.accounts.models import Membership, User

    mission = programme.mission
    unit_ids = list(mission.ancestor_ids())
    if mission.hq_desk_id:
        unit_ids.append(mission.hq_desk_id)
    user_ids = Membership.objects.filter(unit_id__in=unit_ids).active().values_list("user_id", flat=True)
    regions = {u.pk for u in _unrestricted(
        Unit, "notification recipients: region units of the mission's ancestors"
    ).filter(pk__in=unit_ids, kind=UnitKind.REGION)}
    users = list(User.objects.unrestricted("notification recipients").filter(pk__in=user_ids, is_active=True))
    result = []
    for user in users:
        # Desk members are always told; in the region and above, only those who oversee.
        in_desk = any(m.unit_id == mission.hq_desk_id for m in user.active_memberships())
        in_region = any(m.unit_id in regions for m in user.active_memberships())
        if in_desk or in_region or user.units_with(Capability.OVERSEE_SUBTREE):
            result.append(user)
    return result


def _approvers() -> list[Any]:
    try:
        from chancery.notifications.services import unit_members_with
    except ImportError:  # pragma: no cover
        return []

    units = _unrestricted(Unit, "notification recipients: the planning units").filter(function="planning")
    return unit_members_with(units=units, capability=Capability.APPROVE_PROGRAMME)


# --------------------------------------------------------------------------- programmes


def _axis_types(keys: Iterable[AxisType | str]) -> list[AxisType]:
    result = []
    for item in keys:
        if isinstance(item, AxisType):
            result.append(item)
            continue
        found = AxisType.objects.filter(key=item).first()
        if found is None:
            raise ValidationError({"axis_type": _("Unknown axis: %(key)s") % {"key": item}})
        result.append(found)
    return result


def _clean_programme(programme: Programme) -> None:
    # Constraints are checked here, not by full_clean: its queries would bypass the gate.
    programme.full_clean(exclude=["baseline_version", "submission_dispatch"], validate_constraints=False)
    if programme.end_year < programme.year:
        raise ValidationError({"end_year": _("The last year comes before the first.")})


@transaction.atomic
def create_programme(
    *,
    user: User,
    mission: Unit,
    year: int,
    end_year: int | None = None,
    title: str = "",
    summary: str = "",
    classification: int = Level.UNCLASSIFIED,
    axis_types: Iterable[AxisType | str] | None = None,
    carry_over_from: Programme | None = None,
) -> Programme:
    """A new draft programme for `mission` × `year`.

    Axes: `axis_types` (keys or objects); default the five usual *volets*, or those of
    `carry_over_from`. With `carry_over_from` (an earlier programme of the same mission):
    its objectives, unfinished actions (not done/cancelled; approved ones go back to
    proposed; approved and spent budgets reset) and indicators (the current target becomes
    the approved target) are copied.
    """
    _require(can_create_programme(user, mission), _("You may not create a programme for this mission."))
    return _new_programme(
        user=user, mission=mission, year=year, end_year=end_year, title=title, summary=summary,
        classification=classification, axis_types=axis_types, carry_over_from=carry_over_from,
    )


def _new_programme(
    *,
    user: User,
    mission: Unit,
    year: int,
    end_year: int | None,
    title: str,
    summary: str,
    classification: int,
    axis_types: Iterable[AxisType | str] | None,
    carry_over_from: Programme | None,
    submission_dispatch: Any | None = None,
) -> Programme:
    """Creates the programme once the caller has checked the agent's right to."""
    if carry_over_from is not None:
        _require(can_view(user, carry_over_from), _("You may not read the programme to carry over."))
        if carry_over_from.mission_id != mission.pk:
            raise ValidationError({"carry_over_from": _("Carry over a programme of the same mission.")})
        if carry_over_from.year >= year:
            raise ValidationError({"carry_over_from": _("Carry over from an earlier year.")})
    if _unrestricted(Programme, "uniqueness check").filter(mission=mission, year=year).exists():
        raise ValidationError({"year": _("This mission already has a programme for %(year)s.") % {"year": year}})
    programme = Programme(
        mission=mission,
        year=year,
        end_year=end_year or year,
        title=title or _("Action programme %(year)s — %(mission)s") % {"year": year, "mission": mission.code},
        summary=summary,
        classification=classification,
        carried_over_from=carry_over_from,
        submission_dispatch=submission_dispatch,
    )
    _clean_programme(programme)
    programme.save()
    if carry_over_from is not None:
        stats = _carry_over(source=carry_over_from, target=programme, axis_types=axis_types)
    else:
        types = _axis_types(DEFAULT_AXIS_KEYS if axis_types is None else axis_types)
        Axis.objects.bulk_create(
            [Axis(programme=programme, axis_type=t, position=(i + 1) * 10) for i, t in enumerate(types)]
        )
        stats = {"axes": len(types)}
    record_event(
        action="planning.programme_created",
        actor=user,
        target=programme,
        details={
            "mission": mission.code,
            "year": year,
            "carried_over_from": carry_over_from and carry_over_from.pk,
            **stats,
        },
    )
    return programme


def _carry_over(*, source: Programme, target: Programme, axis_types: Iterable[AxisType | str] | None) -> dict[str, int]:
    axis_map: dict[int, Axis] = {}
    objective_map: dict[int, Objective] = {}
    source_axes = list(_unrestricted(
        Axis, "carry-over: axes of the source programme the caller may read"
    ).filter(programme=source).select_related("axis_type"))
    for axis in source_axes:
        axis_map[axis.pk] = Axis.objects.create(
            programme=target, axis_type=axis.axis_type, narrative=axis.narrative, position=axis.position
        )
    if axis_types is not None:
        have = {a.axis_type_id for a in axis_map.values()}
        extra = [t for t in _axis_types(axis_types) if t.pk not in have]
        for i, t in enumerate(extra):
            Axis.objects.create(programme=target, axis_type=t, position=1000 + i)
    for objective in _unrestricted(
        Objective, "carry-over: objectives of the source programme"
    ).filter(axis__programme=source):
        objective_map[objective.pk] = Objective.objects.create(
            axis=axis_map[objective.axis_id],
            title=objective.title,
            description=objective.description,
            position=objective.position,
        )
    actions = list(
        _unrestricted(Action, "carry-over: open actions of the source programme")
        .filter(programme=source)
        .exclude(status__in=FINISHED_ACTION_STATUSES)
        .prefetch_related(partner_units_prefetch())
    )
    for action in actions:
        copy = Action.objects.create(
            programme=target,
            axis=axis_map[action.axis_id],
            objective=objective_map.get(action.objective_id) if action.objective_id else None,
            title=action.title,
            description=action.description,
            lead_id=action.lead_id,
            start_date=action.start_date,
            end_date=action.end_date,
            target_date=action.target_date,
            priority=action.priority,
            budget_requested=action.budget_requested,
            currency=action.currency,
            status=ActionStatus.PROPOSED if action.status == ActionStatus.APPROVED else action.status,
            progress=action.progress,
            risk_note=action.risk_note,
            position=action.position,
        )
        _set_links(copy, "partner_units", action.partner_units.all())
    indicators = list(_unrestricted(
        Indicator, "carry-over: indicators of the source programme"
    ).filter(programme=source))
    Indicator.objects.bulk_create(
        [
            Indicator(
                programme=target,
                axis=axis_map.get(i.axis_id) if i.axis_id else None,
                objective=objective_map.get(i.objective_id) if i.objective_id else None,
                label=i.label,
                unit=i.unit,
                direction=i.direction,
                data_source=i.data_source,
                baseline_value=i.baseline_value,
                baseline_year=i.baseline_year,
                approved_target=i.current_target,
                revised_target=None,
                target_year=i.target_year,
                position=i.position,
            )
            for i in indicators
        ]
    )
    return {"axes": len(axis_map), "actions": len(actions), "indicators": len(indicators)}


@transaction.atomic
def update_programme(*, user: User, programme: Programme, lock_version: int | None = None, **fields: Any) -> Programme:
    """Change the title, summary, last year or classification (`lock_version`: optional check)."""
    unknown = set(fields) - PROGRAMME_FIELDS
    if unknown:
        raise ValueError(f"unknown programme fields: {sorted(unknown)}")
    locked = _lock(programme)
    _require_edit(user, locked)
    if lock_version is not None and locked.lock_version != lock_version:
        raise ProgrammeConflict(locked, expected=lock_version)
    if "classification" in fields and not user.clearance.dominates(
        type(user.clearance).of(int(fields["classification"]))
    ):
        raise ValidationError({"classification": _("You cannot mark a programme above your own clearance.")})
    changed = sorted(k for k, v in fields.items() if getattr(locked, k) != v)
    for key, value in fields.items():
        setattr(locked, key, value)
    if locked.end_year is None:
        locked.end_year = locked.year
    _clean_programme(locked)
    locked.lock_version += 1
    locked.save()
    if "classification" in changed:
        leading = _unrestricted(
            Action, "marking check: every lead of the programme must stay cleared"
        ).filter(programme=locked, lead__isnull=False).select_related("lead")
        uncleared = sorted({
            a.lead.username for a in leading
            if a.lead_id is not None and not _lead_cleared(a.lead_id, locked.pk)
        })
        if uncleared:
            raise ValidationError({"classification": _(
                "These action leads are not cleared for this marking: %(names)s. Change the leads first."
            ) % {"names": ", ".join(uncleared)}})
        # Raised to a protected level: its files and texts still in clear get encrypted
        # (lowered: they stay encrypted and readable, see `planning.storage` and `planning.sealed`).
        storage.protect_programme_files(locked)
        sealed.seal_programme(locked)
    if changed:
        record_event(action="planning.programme_updated", actor=user, target=locked, details={"fields": changed})
    programme.refresh_from_db()
    return programme


# --------------------------------------------------------------------------- workflow


def _new_version(*, programme: Programme, user: User, kind: str, reason: str = "") -> ProgrammeVersion:
    from chancery.planning.versions import snapshot

    number = programme.current_version + 1
    version = ProgrammeVersion.objects.create(
        programme=programme, number=number, kind=kind, reason=reason, snapshot=snapshot(programme), created_by=user
    )
    programme.current_version = number
    return version


@transaction.atomic
def submit_programme(
    *, user: User, programme: Programme, dispatch: Any | None = None, note: str = ""
) -> ProgrammeVersion:
    """Head of mission sends the draft to headquarters: a `submitted` version, HQ desk and region told.

    `dispatch`: the dispatch that carries the plan (must be visible to `user`), if any.
    """
    locked = _lock(programme)
    if locked.status != ProgrammeStatus.DRAFT:
        raise WorkflowError(_("Only a draft programme can be submitted."))
    _require(can_submit(user, locked), _("Only the head of mission may submit the programme."))
    if not _unrestricted(Action, "submission: whether the programme has any action").filter(programme=locked).exists():
        raise WorkflowError(_("Add at least one action before submitting."), code="empty")
    if dispatch is not None:
        _check_dispatches(user, [dispatch])
        locked.submission_dispatch = dispatch
    version = _new_version(programme=locked, user=user, kind=VersionKind.SUBMITTED, reason=note)
    locked.status = ProgrammeStatus.SUBMITTED
    locked.submitted_at = timezone.now()
    locked.submitted_by = user
    locked.lock_version += 1
    locked.save()
    record_event(
        action="planning.programme_submitted",
        actor=user,
        target=locked,
        details={"version": version.number, "dispatch": dispatch.pk if dispatch is not None else None},
    )
    _notify(programme=locked, users=_reviewers_of(locked) + _approvers(), verb="programme_submitted", actor=user)
    programme.refresh_from_db()
    return version


@transaction.atomic
def return_for_changes(*, user: User, programme: Programme, reason: str) -> ProgrammeComment:
    """HQ desk or planning sends a submitted programme back to draft, with a reason (kept as a comment)."""
    if not reason.strip():
        raise ValidationError({"reason": _("Say what should change.")})
    locked = _lock(programme)
    if locked.status != ProgrammeStatus.SUBMITTED:
        raise WorkflowError(_("Only a submitted programme can be returned."))
    _require(can_return(user, locked), _("You may not return this programme."))
    locked.status = ProgrammeStatus.DRAFT
    locked.lock_version += 1
    locked.save()
    note = ProgrammeComment.objects.create(
        programme=locked, target_type=CommentTarget.PROGRAMME, author=user, body=reason.strip()
    )
    record_event(action="planning.programme_returned", actor=user, target=locked, details={"comment": note.pk})
    _notify_mission(locked, actor=user, verb="programme_returned")
    programme.refresh_from_db()
    return note


def _notify_mission(programme: Programme, *, actor: Any, verb: str) -> None:
    try:
        from chancery.notifications.services import unit_members_with
    except ImportError:  # pragma: no cover
        return
    users = unit_members_with(units=[programme.mission], capability=Capability.PROPOSE_PROGRAMME)
    _notify(programme=programme, users=users, verb=verb, actor=actor)


def _grant_budgets(user: User, programme: Programme, budgets: Mapping[int, Any] | None) -> list[int]:
    """Set the budgets headquarters grants (action id → amount); returns the ids changed.

    Checked first, all or nothing: an unknown action or a bad amount changes no budget."""
    if not budgets:
        return []
    _require(can_grant_budget(user, programme), _("Only headquarters grants budgets, when it approves."))
    rows = _unrestricted(Action, "budgets granted: the programme's own actions")
    actions = {a.pk: a for a in rows.filter(programme=programme, pk__in=list(budgets))}
    amounts: dict[int, Decimal] = {}
    for pk, raw in budgets.items():
        if pk not in actions:
            raise ValidationError({"budgets": _("An action of another programme cannot get a budget here.")})
        amount = _clean_decimal(raw, "budgets")
        if amount is None or amount < 0:
            raise ValidationError({"budgets": _("A granted budget is a positive amount or zero.")})
        amounts[pk] = amount
    changed = [pk for pk, amount in amounts.items() if actions[pk].budget_approved != amount]
    for pk in changed:
        _unrestricted(Action, "budget granted by headquarters").filter(pk=pk).update(
            budget_approved=amounts[pk], lock_version=F("lock_version") + 1
        )
    return changed


def _approve_proposed_actions(programme: Programme) -> None:
    _unrestricted(Action, "approval: the programme's proposed actions become approved").filter(
        programme=programme, status=ActionStatus.PROPOSED
    ).update(
        status=ActionStatus.APPROVED, lock_version=F("lock_version") + 1
    )


@transaction.atomic
def approve_programme(
    *, user: User, programme: Programme, note: str = "", budgets: Mapping[int, Any] | None = None
) -> ProgrammeVersion:
    """Planning unit approves: the approved version becomes the baseline; actions still
    `proposed` become `approved`; `budgets` (action id → amount) are the budgets granted."""
    locked = _lock(programme)
    if locked.status != ProgrammeStatus.SUBMITTED:
        raise WorkflowError(_("Only a submitted programme can be approved."))
    _require(can_approve(user, locked), _("Only the planning unit may approve a programme."))
    granted = _grant_budgets(user, locked, budgets)
    _approve_proposed_actions(locked)
    version = _new_version(programme=locked, user=user, kind=VersionKind.BASELINE, reason=note)
    locked.baseline_version = version
    locked.status = ProgrammeStatus.APPROVED
    locked.approved_at = timezone.now()
    locked.approved_by = user
    locked.lock_version += 1
    locked.save()
    record_event(
        action="planning.programme_approved",
        actor=user,
        target=locked,
        details={"version": version.number, "budgets_granted": granted},
    )
    _notify_mission(locked, actor=user, verb="programme_approved")
    programme.refresh_from_db()
    return version


def _start_execution_locked(locked: Programme) -> bool:
    if locked.status != ProgrammeStatus.APPROVED:
        return False
    locked.status = ProgrammeStatus.IN_EXECUTION
    locked.execution_started_at = timezone.now()
    locked.lock_version += 1
    locked.save(update_fields=["status", "execution_started_at", "lock_version", "updated_at"])
    return True


@transaction.atomic
def start_execution(*, user: User, programme: Programme) -> Programme:
    """approved → in execution (also happens by itself at the first progress recorded)."""
    locked = _lock(programme)
    if locked.status != ProgrammeStatus.APPROVED:
        raise WorkflowError(_("Only an approved programme can enter execution."))
    _require(can_start_execution(user, locked), _("You may not start the execution of this programme."))
    _start_execution_locked(locked)
    record_event(action="planning.programme_execution_started", actor=user, target=locked)
    programme.refresh_from_db()
    return programme


@transaction.atomic
def propose_revision(*, user: User, programme: Programme, reason: str) -> Programme:
    """The mission proposes the changes made since the last approved version as a revision,
    with its reason; headquarters (desk, region, planning) is told and decides. The content is
    frozen until then."""
    if not reason.strip():
        raise ValidationError({"reason": _("A revision needs a reason.")})
    locked = _lock(programme)
    if locked.status not in (ProgrammeStatus.APPROVED, ProgrammeStatus.IN_EXECUTION):
        raise WorkflowError(_("Only an approved programme can be revised."))
    if locked.revision_pending:
        raise WorkflowError(_("A revision already awaits headquarters' decision."))
    _require(can_revise(user, locked), _("The head of mission proposes revisions."))
    locked.revision_reason = reason.strip()
    locked.revision_proposed_at = timezone.now()
    locked.revision_proposed_by = user
    locked.lock_version += 1
    locked.save()
    record_event(
        action="planning.revision_proposed",
        actor=user,
        target=locked,
        details=audit_content(locked, reason=reason.strip()[:500]),
    )
    _notify(
        programme=locked, users=_reviewers_of(locked) + _approvers(), verb="programme_revision_proposed", actor=user
    )
    programme.refresh_from_db()
    return programme


def _clear_proposal(programme: Programme) -> str:
    reason = programme.revision_reason
    programme.revision_reason = ""
    programme.revision_proposed_at = None
    programme.revision_proposed_by = None
    return reason


@transaction.atomic
def approve_revision(
    *, user: User, programme: Programme, note: str = "", budgets: Mapping[int, Any] | None = None
) -> ProgrammeVersion:
    """Headquarters approves the proposed revision: it becomes a numbered version with the
    mission's reason (the approved baseline stays beside it); new actions are approved and
    `budgets` granted; the mission is told."""
    locked = _lock(programme)
    if not locked.revision_pending:
        raise WorkflowError(_("No revision awaits a decision."))
    _require(can_decide_revision(user, locked), _("Only the planning unit may approve a revision."))
    granted = _grant_budgets(user, locked, budgets)
    _approve_proposed_actions(locked)
    reason = _clear_proposal(locked)
    if note.strip():
        reason = f"{reason}\n\n{note.strip()}"
    version = _new_version(programme=locked, user=user, kind=VersionKind.REVISION, reason=reason)
    locked.lock_version += 1
    locked.save()
    record_event(
        action="planning.programme_revised",
        actor=user,
        target=locked,
        details={"version": version.number, "budgets_granted": granted, **audit_content(locked, reason=reason[:500])},
    )
    _notify_mission(locked, actor=user, verb="programme_revision_decided")
    programme.refresh_from_db()
    return version


@transaction.atomic
def return_revision(*, user: User, programme: Programme, reason: str) -> ProgrammeComment:
    """Headquarters declines the proposed revision for now, saying why (kept as a comment);
    the mission may change the content again and propose anew."""
    if not reason.strip():
        raise ValidationError({"reason": _("Say what should change.")})
    locked = _lock(programme)
    if not locked.revision_pending:
        raise WorkflowError(_("No revision awaits a decision."))
    _require(can_decide_revision(user, locked), _("Only the planning unit may return a revision."))
    _clear_proposal(locked)
    locked.lock_version += 1
    locked.save()
    note = ProgrammeComment.objects.create(
        programme=locked, target_type=CommentTarget.PROGRAMME, author=user, body=reason.strip()
    )
    record_event(action="planning.revision_returned", actor=user, target=locked, details={"comment": note.pk})
    _notify_mission(locked, actor=user, verb="programme_revision_decided")
    programme.refresh_from_db()
    return note


@transaction.atomic
def close_programme(*, user: User, programme: Programme, note: str = "") -> ProgrammeVersion:
    """Close the year: a final snapshot; nothing changes afterwards. Open reporting periods close."""
    locked = _lock(programme)
    if locked.status not in (ProgrammeStatus.APPROVED, ProgrammeStatus.IN_EXECUTION):
        raise WorkflowError(_("Only an approved programme can be closed."))
    _require(can_close(user, locked), _("You may not close this programme."))
    version = _new_version(programme=locked, user=user, kind=VersionKind.FINAL, reason=note)
    _unrestricted(
        ReportingPeriod, "closing: the programme's reporting periods close"
    ).filter(programme=locked).update(closed=True)
    locked.status = ProgrammeStatus.CLOSED
    locked.closed_at = timezone.now()
    locked.closed_by = user
    locked.lock_version += 1
    locked.save()
    record_event(action="planning.programme_closed", actor=user, target=locked, details={"version": version.number})
    programme.refresh_from_db()
    return version


@transaction.atomic
def comment(
    *,
    user: User,
    programme: Programme,
    body: str,
    target_type: str = CommentTarget.PROGRAMME,
    target_id: int | None = None,
    parent: ProgrammeComment | None = None,
) -> ProgrammeComment:
    """A comment on the programme, one of its axes or actions; `parent` makes it a reply
    (a reply inherits its parent's target)."""
    _require(can_comment(user, programme), _("You may not comment on this programme."))
    body = body.strip()
    if not body:
        raise ValidationError({"body": _("The comment is empty.")})
    if parent is not None:
        if parent.programme_id != programme.pk:
            raise ValidationError({"parent": _("The comment answered belongs to another programme.")})
        target_type, target_id = parent.target_type, parent.target_id
    if target_type not in CommentTarget.values:
        raise ValidationError({"target_type": _("Unknown comment target.")})
    if target_type == CommentTarget.PROGRAMME:
        target_id = None
    else:
        model = Axis if target_type == CommentTarget.AXIS else Action
        if target_id is None or not _unrestricted(
            model, "comment target: must belong to the programme"
        ).filter(pk=target_id, programme=programme).exists():
            raise ValidationError({"target_id": _("Unknown item of this programme.")})
    note = ProgrammeComment.objects.create(
        programme=programme, target_type=target_type, target_id=target_id, parent=parent, author=user, body=body
    )
    record_event(
        action="planning.comment_added",
        actor=user,
        target=note,
        details={"programme": programme.pk, "on": f"{target_type}:{target_id or programme.pk}"},
    )
    return note


# --------------------------------------------------------------------------- axes and objectives


@transaction.atomic
def add_axis(
    *, user: User, programme: Programme, axis_type: AxisType | str, narrative: str = "", position: int | None = None
) -> Axis:
    _require_edit(user, programme)
    (kind,) = _axis_types([axis_type])
    if _unrestricted(
        Axis, "axes: one per axis type in a programme"
    ).filter(programme=programme, axis_type=kind).exists():
        raise ValidationError({"axis_type": _("The programme already has this axis.")})
    if position is None:
        position = (kind.position or 0) or 10 * (_unrestricted(
            Axis, "axes: next position in the programme"
        ).filter(programme=programme).count() + 1)
    axis = Axis.objects.create(programme=programme, axis_type=kind, narrative=narrative, position=position)
    _touch(programme)
    record_event(
        action="planning.axis_added", actor=user, target=axis, details={"programme": programme.pk, "axis": kind.key}
    )
    return axis


@transaction.atomic
def update_axis(*, user: User, axis: Axis, narrative: str | None = None, position: int | None = None) -> Axis:
    _require_edit(user, axis.programme)
    if narrative is not None:
        axis.narrative = narrative
    if position is not None:
        axis.position = position
    axis.save()
    _touch(axis.programme)
    record_event(action="planning.axis_updated", actor=user, target=axis)
    return axis


@transaction.atomic
def remove_axis(*, user: User, axis: Axis) -> None:
    """Remove an axis without actions (move or delete its actions first)."""
    _require_edit(user, axis.programme)
    if _unrestricted(Action, "axes: an axis with actions is not removed").filter(axis=axis).exists():
        raise ValidationError({"axis": _("This axis still has actions.")})
    record_event(action="planning.axis_removed", actor=user, target=axis, details={"axis": axis.axis_type.key})
    _touch(axis.programme)
    axis.delete()


@transaction.atomic
def create_objective(
    *, user: User, axis: Axis, title: str, description: str = "", position: int | None = None
) -> Objective:
    _require_edit(user, axis.programme)
    return _new_objective(user=user, axis=axis, title=title, description=description, position=position)


def _new_objective(*, user: User, axis: Axis, title: str, description: str, position: int | None) -> Objective:
    if position is None:
        position = 10 * (_unrestricted(
            Objective, "objectives: next position in the axis"
        ).filter(axis=axis).count() + 1)
    objective = Objective(axis=axis, title=title.strip(), description=description, position=position)
    objective.full_clean()
    objective.save()
    _touch(axis.programme)
    record_event(action="planning.objective_created", actor=user, target=objective)
    return objective


@transaction.atomic
def update_objective(*, user: User, objective: Objective, **fields: Any) -> Objective:
    unknown = set(fields) - {"title", "description", "position", "axis"}
    if unknown:
        raise ValueError(f"unknown objective fields: {sorted(unknown)}")
    programme = objective.axis.programme
    _require_edit(user, programme)
    if "axis" in fields and fields["axis"].programme_id != programme.pk:
        raise ValidationError({"axis": _("The axis belongs to another programme.")})
    for key, value in fields.items():
        setattr(objective, key, value)
    objective.full_clean()
    objective.save()
    _touch(programme)
    record_event(action="planning.objective_updated", actor=user, target=objective, details={"fields": sorted(fields)})
    return objective


@transaction.atomic
def delete_objective(*, user: User, objective: Objective) -> None:
    """Delete an objective; its actions and indicators stay, without objective."""
    programme = objective.axis.programme
    _require_edit(user, programme)
    record_event(action="planning.objective_deleted", actor=user, target=objective)
    objective.delete()
    _touch(programme)


# --------------------------------------------------------------------------- actions


def _check_dispatches(user: User, dispatches: Iterable[Any]) -> list[Any]:
    """Only dispatches the agent can read may be linked."""
    items = list(dispatches)
    if not items:
        return []
    from chancery.correspondence.models import Dispatch

    ids = {d if isinstance(d, int) else d.pk for d in items}
    visible = list(Dispatch.objects.visible_to(user).filter(pk__in=ids))
    if len(visible) != len(ids):
        raise ValidationError({"dispatches": _("Unknown dispatch.")})
    return visible


def _check_units(units: Iterable[Any]) -> list[Unit]:
    items = list(units)
    ids = {u if isinstance(u, int) else u.pk for u in items}
    found = list(_unrestricted(Unit, "partner units: unit codes are open to every agent").filter(pk__in=ids))
    if len(found) != len(ids):
        raise ValidationError({"partner_units": _("Unknown unit.")})
    return found


def _clean_decimal(value: Any, field: str) -> Any:
    if value is None or isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value).replace(",", ".").replace(" ", ""))
    except InvalidOperation as exc:
        raise ValidationError({field: _("Enter a number.")}) from exc


def _check_headquarters_fields(
    user: User, programme: Programme, fields: dict[str, Any], *, current: Action | None
) -> None:
    """What headquarters decides is not set by the mission through an edit: an "approved"
    status and the budget granted. Unchanged values pass (a form sends them back as they were)."""
    errors: dict[str, list[str]] = {}
    status = fields.get("status")
    new_status = status is not None and status != (current.status if current else None)
    if new_status and not can_set_action_status(user, programme, str(status)):
        errors["status"] = [_("Only headquarters approves an action, by approving the programme or its revision.")]
    granted = fields.get("budget_approved")
    new_grant = granted is not None and granted != (current.budget_approved if current else Decimal("0"))
    if new_grant and not can_grant_budget(user, programme):
        errors["budget_approved"] = [_("Headquarters grants the budget when it approves the programme.")]
    if errors:
        raise ValidationError(errors)


def _lead_cleared(lead_id: int, programme_id: int) -> bool:
    """The lead reads the programme (clearance and need to know): an action led by someone
    who cannot see it would be work assigned to a person who never learns of it."""
    lead = _unrestricted(
        User, "lead check: the lead's own clearance is what is checked"
    ).filter(pk=lead_id, is_active=True).first()
    return lead is not None and Programme.objects.visible_to(lead).filter(pk=programme_id).exists()


def _validate_action(action: Action) -> None:
    errors: dict[str, list[str]] = {}
    if action.lead_id is not None and not _lead_cleared(action.lead_id, action.programme_id):
        errors.setdefault("lead", []).append(_("This agent is not cleared to read this programme."))
    if action.axis.programme_id != action.programme_id:
        errors.setdefault("axis", []).append(_("The axis belongs to another programme."))
    if action.objective_id is not None and action.objective is not None and action.objective.axis_id != action.axis_id:
        errors.setdefault("objective", []).append(_("The objective belongs to another axis."))
    for name in ("start_date", "end_date", "target_date"):
        if out_of_range(getattr(action, name)):
            errors.setdefault(name, []).append(date_message())
    if errors:
        raise ValidationError(errors)
    if action.start_date and action.end_date and action.end_date < action.start_date:
        errors.setdefault("end_date", []).append(_("The end comes before the start."))
    for name in ("budget_requested", "budget_approved", "budget_spent"):
        value = getattr(action, name)
        if value is not None and value < 0:
            errors.setdefault(name, []).append(_("A budget cannot be negative."))
    if action.progress is not None and not (0 <= int(action.progress) <= 100):
        errors.setdefault("progress", []).append(_("Progress is between 0 and 100 %."))
    if errors:
        raise ValidationError(errors)
    try:
        action.full_clean(exclude=["programme", "axis", "objective", "lead"], validate_constraints=False)
    except ValidationError as exc:
        raise ValidationError(exc.message_dict) from exc


def _normalise_action_fields(fields: dict[str, Any]) -> dict[str, Any]:
    for name in ("budget_requested", "budget_approved", "budget_spent"):
        if name in fields:
            fields[name] = _clean_decimal(fields[name], name)
            if fields[name] is None:
                fields[name] = Decimal("0")
    if fields.get("currency"):
        fields["currency"] = str(fields["currency"]).strip().upper()
    if "progress" in fields and fields["progress"] is not None:
        try:
            fields["progress"] = int(fields["progress"])
        except (TypeError, ValueError) as exc:
            raise ValidationError({"progress": _("Enter a whole number between 0 and 100.")}) from exc
        if not 0 <= fields["progress"] <= 100:
            raise ValidationError({"progress": _("Progress is between 0 and 100 %.")})
    if "title" in fields and isinstance(fields["title"], str):
        fields["title"] = fields["title"].strip()
    return fields


@transaction.atomic
def create_action(*, user: User, programme: Programme, axis: Axis, title: str, **fields: Any) -> Action:
    """Add an action. Optional fields: objective, description, lead, partner_units (units),
    start_date, end_date, target_date, priority, budget_requested/approved/spent, currency,
    status, progress, risk_note, dispatches (visible to `user`), position.

    Dates outside the programme's year(s) are allowed: see `action.date_warnings()`.
    """
    unknown = set(fields) - ACTION_FIELDS
    if unknown:
        raise ValueError(f"unknown action fields: {sorted(unknown)}")
    _require_edit(user, programme)
    fields = _normalise_action_fields({"title": title, **fields})
    _check_headquarters_fields(user, programme, fields, current=None)
    partner_units = _check_units(fields.pop("partner_units", ()))
    dispatches = _check_dispatches(user, fields.pop("dispatches", ()))
    if fields.get("position") is None:
        fields["position"] = 10 * (_unrestricted(
            Action, "actions: next position in the axis"
        ).filter(programme=programme, axis=axis).count() + 1)
    action = Action(programme=programme, axis=axis, **fields)
    _validate_action(action)
    action.save()
    if partner_units:
        _set_links(action, "partner_units", partner_units)
    if dispatches:
        _set_links(action, "dispatches", dispatches)
    _touch(programme)
    _maybe_start_execution(programme, action)
    record_event(
        action="planning.action_created",
        actor=user,
        target=action,
        details={"programme": programme.pk, "warnings": action.date_warnings()},
    )
    return action


def _maybe_start_execution(programme: Programme, action: Action) -> None:
    if programme.status == ProgrammeStatus.APPROVED and (
        action.progress or action.status in (ActionStatus.IN_PROGRESS, ActionStatus.DONE)
    ):
        _start_execution_locked(_lock(programme))
        programme.refresh_from_db()


@transaction.atomic
def update_action(*, user: User, action: Action, lock_version: int | None, **fields: Any) -> Action:
    """Change an action; `lock_version` is the version the caller read (None: no check).

    Raises `ActionConflict` when someone saved the action meanwhile: the caller reloads and
    re-applies, nothing is overwritten silently.
    """
    unknown = set(fields) - ACTION_FIELDS
    if unknown:
        raise ValueError(f"unknown action fields: {sorted(unknown)}")
    programme = _unrestricted(
        Programme, "update_action: the programme of an action the caller read through the gate"
    ).select_related("mission").get(pk=action.programme_id)
    _require_edit(user, programme)
    fields = _normalise_action_fields(dict(fields))
    _check_headquarters_fields(user, programme, fields, current=action)
    # Compare-and-set first: the row lock also serialises concurrent writers.
    if lock_version is None:
        expected = _unrestricted(
            Action, "update_action: the lock version to compare"
        ).values_list("lock_version", flat=True).get(pk=action.pk)
    else:
        expected = lock_version
    claimed = _unrestricted(
        Action, "update_action: compare-and-set of the lock version"
    ).filter(pk=action.pk, lock_version=expected).update(lock_version=expected + 1)
    if not claimed:
        current = _unrestricted(Action, "update_action: the current row for the conflict report").get(pk=action.pk)
        raise ActionConflict(current, expected=lock_version)
    fresh = _unrestricted(
        Action, "update_action: re-read after the compare-and-set"
    ).select_related("programme", "axis").get(pk=action.pk)
    before = {k: getattr(fresh, k) for k in fields if k not in ("partner_units", "dispatches")}
    partner_units = _check_units(fields.pop("partner_units")) if "partner_units" in fields else None
    dispatches = _check_dispatches(user, fields.pop("dispatches")) if "dispatches" in fields else None
    for key, value in fields.items():
        setattr(fresh, key, value)
    _validate_action(fresh)
    fresh.save()
    if partner_units is not None:
        _set_links(fresh, "partner_units", partner_units)
    if dispatches is not None:
        _set_links(fresh, "dispatches", dispatches)
    changed = sorted(k for k, v in before.items() if getattr(fresh, k) != v)
    changed += [k for k, v in (("partner_units", partner_units), ("dispatches", dispatches)) if v is not None]
    _touch(programme)
    _maybe_start_execution(programme, fresh)
    record_event(
        action="planning.action_updated",
        actor=user,
        target=fresh,
        details={"fields": changed, "lock_version": fresh.lock_version, "warnings": fresh.date_warnings()},
    )
    for attr in ("lock_version", *fields.keys()):
        setattr(action, attr, getattr(fresh, attr))
    return fresh


@transaction.atomic
def delete_action(*, user: User, action: Action, lock_version: int | None = None) -> None:
    programme = _unrestricted(
        Programme, "delete_action: the programme of an action read through the gate"
    ).select_related("mission").get(pk=action.programme_id)
    _require_edit(user, programme)
    if lock_version is not None and not _unrestricted(
        Action, "delete_action: compare the lock version"
    ).filter(pk=action.pk, lock_version=lock_version).exists():
        raise ActionConflict(_unrestricted(
            Action, "delete_action: the current row for the conflict report"
        ).get(pk=action.pk), expected=lock_version)
    record_event(
        action="planning.action_deleted",
        actor=user,
        target=action,
        details={"programme": programme.pk, **audit_content(programme, title=action.title[:200])},
    )
    action.delete()
    _touch(programme)


# --------------------------------------------------------------------------- indicators and measurements


def _normalise_indicator_fields(fields: dict[str, Any]) -> dict[str, Any]:
    for name in ("baseline_value", "approved_target", "revised_target"):
        if name in fields:
            fields[name] = None if fields[name] in ("", None) else _clean_decimal(fields[name], name)
    for name in ("baseline_year", "target_year"):
        if name in fields and fields[name] in ("", None):
            fields[name] = None
    return fields


def _validate_indicator(indicator: Indicator) -> None:
    if indicator.axis_id and indicator.axis is not None and indicator.axis.programme_id != indicator.programme_id:
        raise ValidationError({"axis": _("The axis belongs to another programme.")})
    if indicator.objective_id and indicator.objective is not None:
        if indicator.objective.axis.programme_id != indicator.programme_id:
            raise ValidationError({"objective": _("The objective belongs to another programme.")})
        if indicator.axis_id is None:
            indicator.axis_id = indicator.objective.axis_id
    indicator.full_clean(exclude=["programme", "axis", "objective"])


@transaction.atomic
def create_indicator(*, user: User, programme: Programme, label: str, **fields: Any) -> Indicator:
    """Add an indicator (axis, objective, unit, direction, data_source, baseline_value/year,
    approved_target, revised_target, target_year, position)."""
    unknown = set(fields) - INDICATOR_FIELDS
    if unknown:
        raise ValueError(f"unknown indicator fields: {sorted(unknown)}")
    _require_edit(user, programme)
    return _new_indicator(user=user, programme=programme, label=label, fields=fields)


def _approved_target_locked() -> ValidationError:
    return ValidationError({"approved_target": _(
        "The approved target of an approved programme does not change: set the revised target instead."
    )})


def _new_indicator(*, user: User, programme: Programme, label: str, fields: dict[str, Any]) -> Indicator:
    fields = _normalise_indicator_fields(dict(fields))
    if programme.is_approved and fields.get("approved_target") is not None:
        # Whatever the path (form, API, spreadsheet): an indicator added after approval has no
        # approved target; headquarters approved none.
        raise _approved_target_locked()
    if fields.get("position") is None:
        fields["position"] = 10 * (_unrestricted(
            Indicator, "indicators: next position in the programme"
        ).filter(programme=programme).count() + 1)
    indicator = Indicator(programme=programme, label=label.strip(), **fields)
    _validate_indicator(indicator)
    indicator.save()
    _touch(programme)
    record_event(action="planning.indicator_created", actor=user, target=indicator, details={"programme": programme.pk})
    return indicator


@transaction.atomic
def update_indicator(*, user: User, indicator: Indicator, lock_version: int | None = None, **fields: Any) -> Indicator:
    """Change an indicator. After approval, set `revised_target` (the approved target stays
    beside it, as the baseline). `lock_version`: the version the editor read (StaleVersion if it moved on)."""
    unknown = set(fields) - INDICATOR_FIELDS
    if unknown:
        raise ValueError(f"unknown indicator fields: {sorted(unknown)}")
    programme = _unrestricted(
        Programme, "update_indicator: the programme of an indicator read through the gate"
    ).select_related("mission").get(pk=indicator.programme_id)
    _require_edit(user, programme)
    fields = _normalise_indicator_fields(dict(fields))
    if programme.is_approved and "approved_target" in fields and fields["approved_target"] != indicator.approved_target:
        raise _approved_target_locked()
    before = {k: getattr(indicator, k) for k in fields}
    for key, value in fields.items():
        setattr(indicator, key, value)
    _validate_indicator(indicator)
    claim_version(indicator, lock_version)
    indicator.save()
    _touch(programme)
    changed = sorted(k for k, v in before.items() if getattr(indicator, k) != v)
    record_event(action="planning.indicator_updated", actor=user, target=indicator, details={"fields": changed})
    return indicator


@transaction.atomic
def delete_indicator(*, user: User, indicator: Indicator) -> None:
    programme = _unrestricted(
        Programme, "delete_indicator: the programme of an indicator read through the gate"
    ).select_related("mission").get(pk=indicator.programme_id)
    _require_edit(user, programme)
    record_event(
        action="planning.indicator_deleted",
        actor=user,
        target=indicator,
        details=audit_content(programme, label=indicator.label[:200]),
    )
    indicator.delete()
    _touch(programme)


def period_bounds(period_type: str, period_start: date) -> tuple[date, date]:
    """The (start, end) of the month / quarter / year that begins at or contains `period_start`."""
    if period_type == PeriodType.MONTH:
        return ReportingPeriod.bounds(PeriodType.MONTH, period_start.year, period_start.month)
    if period_type == PeriodType.QUARTER:
        return ReportingPeriod.bounds(PeriodType.QUARTER, period_start.year, (period_start.month - 1) // 3 + 1)
    if period_type == PeriodType.YEAR:
        return ReportingPeriod.bounds(PeriodType.YEAR, period_start.year, 1)
    raise ValidationError({"period_type": _("Unknown period type.")})


def closed_period_covering(programme: Programme, start: date, end: date) -> ReportingPeriod | None:
    return (
        _unrestricted(
            ReportingPeriod, "measurements: a closed period covering the dates"
        ).filter(programme=programme, closed=True, start__lte=start, end__gte=end).first()
    )


@transaction.atomic
def record_measurement(
    *,
    user: User,
    indicator: Indicator,
    period_type: str,
    period_start: date,
    value: Any,
    period_end: date | None = None,
    evidence: str = "",
    evidence_file: EvidenceFile | None = None,
) -> Measurement:
    """Record (or correct) the actual value of `indicator` for a month/quarter/year.

    `period_end` defaults to the end of that month/quarter/year. Refused when the period
    lies in a closed reporting period or the programme is closed.
    """
    programme = _unrestricted(
        Programme, "record_measurement: the programme of an indicator read through the gate"
    ).select_related("mission").get(pk=indicator.programme_id)
    if programme.status == ProgrammeStatus.CLOSED:
        raise WorkflowError(_("The programme is closed."))
    _require(can_record_progress(user, programme), _("You may not record measurements for this programme."))
    if period_type not in PeriodType.values:
        raise ValidationError({"period_type": _("Unknown period type.")})
    if period_end is None:
        start, end = period_bounds(period_type, period_start)
    else:
        start, end = period_start, period_end
    if end < start:
        raise ValidationError({"period_end": _("The end comes before the start.")})
    _check_period_in_programme(programme, start, end)
    if closed_period_covering(programme, start, end) is not None:
        raise WorkflowError(_("This period is closed: its measurements can no longer change."), code="period_closed")
    amount = _clean_decimal(value, "value")
    if amount is None:
        raise ValidationError({"value": _("Enter a number.")})
    if evidence_file is not None and evidence_file.programme_id != programme.pk:
        raise ValidationError({"evidence_file": _("The file belongs to another programme.")})
    measurement = _unrestricted(Measurement, "record_measurement: the measurement of this period, if any").filter(
        indicator=indicator, period_type=period_type, period_start=start
    ).first() or Measurement(indicator=indicator, period_type=period_type, period_start=start)
    previous = None if measurement.pk is None else measurement.value
    measurement.period_end = end
    measurement.value = amount
    measurement.evidence = evidence
    if evidence_file is not None:
        measurement.evidence_file = evidence_file
    measurement.recorded_by = user
    measurement.full_clean(exclude=["indicator", "evidence_file", "recorded_by"], validate_constraints=False)
    measurement.save()
    record_event(
        action="planning.measurement_recorded",
        actor=user,
        target=measurement,
        details={
            "indicator": indicator.pk,
            "period": f"{period_type}:{start}",
            **audit_content(
                programme, value=str(amount), previous=None if previous is None else str(previous)
            ),
        },
    )
    return measurement


def _check_period_in_programme(programme: Programme, start: date, end: date) -> None:
    """A measurement belongs to the programme's year(s): a value of another year would count
    against the wrong target."""
    last = programme.end_year or programme.year
    if start.year < programme.year or end.year > last:
        years = str(programme.year) if last == programme.year else f"{programme.year}–{last}"
        raise ValidationError(
            {"period_start": _("This period is outside the programme’s years (%(years)s).") % {"years": years}}
        )


def _measurement_for_change(user: User, measurement: Measurement) -> tuple[Programme, Measurement]:
    """The programme and the locked measurement, once `user` may change it (open programme and period)."""
    rows = _unrestricted(Measurement, "measurement correction: the row is locked")
    locked = rows.select_for_update().get(pk=measurement.pk)
    programme = _unrestricted(Programme, "the measurement's programme, whose rules apply").select_related(
        "mission"
    ).get(indicators__measurements=locked)
    if programme.status == ProgrammeStatus.CLOSED:
        raise WorkflowError(_("The programme is closed."))
    _require(can_record_progress(user, programme), _("You may not record measurements for this programme."))
    if closed_period_covering(programme, locked.period_start, locked.period_end) is not None:
        raise WorkflowError(_("This period is closed: its measurements can no longer change."), code="period_closed")
    return programme, locked


@transaction.atomic
def update_measurement(*, user: User, measurement: Measurement, value: Any, evidence: str | None = None) -> Measurement:
    """Correct the value (and the evidence note) of a recorded measurement; audited with the previous value."""
    programme, locked = _measurement_for_change(user, measurement)
    amount = _clean_decimal(value, "value")
    if amount is None:
        raise ValidationError({"value": _("Enter a number.")})
    previous = locked.value
    locked.value = amount
    if evidence is not None:
        locked.evidence = evidence
    locked.recorded_by = user
    locked.full_clean(exclude=["indicator", "evidence_file", "recorded_by"], validate_constraints=False)
    locked.save()
    record_event(
        action="planning.measurement_corrected",
        actor=user,
        target=locked,
        details={
            "indicator": locked.indicator_id,
            "period": f"{locked.period_type}:{locked.period_start}",
            **audit_content(programme, value=str(amount), previous=str(previous)),
        },
    )
    return locked


@transaction.atomic
def delete_measurement(*, user: User, measurement: Measurement) -> None:
    """Remove a measurement recorded by mistake; audited with the value removed."""
    programme, locked = _measurement_for_change(user, measurement)
    record_event(
        action="planning.measurement_deleted",
        actor=user,
        target=locked,
        details={
            "indicator": locked.indicator_id,
            "period": f"{locked.period_type}:{locked.period_start}",
            **audit_content(programme, value=str(locked.value)),
        },
    )
    locked.delete()


def default_measurement_day(programme: Programme, today: date) -> date:
    """The day a new measurement form starts on: today within the programme's years, else the
    nearest end of them (a 2027 programme opened in 2026 starts on 1 January 2027)."""
    last = programme.end_year or programme.year
    if today.year < programme.year:
        return date(programme.year, 1, 1)
    if today.year > last:
        return date(last, 12, 31)
    return today


def _file_fields(filename: str, content: bytes, content_type: str) -> dict[str, Any]:
    if not content:
        raise ValidationError({"file": _("The file is empty.")})
    if len(content) > MAX_EVIDENCE_BYTES:
        raise ValidationError({"file": _("The file is too large.")})
    name = os.path.basename(filename.replace("\\", "/")).strip()[:255] or "evidence"
    return {
        "filename": name,
        "content_type": (content_type or "application/octet-stream")[:100],
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
    }


def _store_file(stored: StoredFile, programme: Programme, content: bytes) -> None:
    """Write the file (encrypted for a protected programme, see `planning.storage`), then
    save its row; a failure removes the file again."""
    written = storage.write_file(stored, programme, content)
    try:
        stored.save()
    except BaseException:
        storage.delete_paths(written)
        raise


@transaction.atomic
def store_evidence_file(
    *, user: User, programme: Programme, filename: str, content: bytes, content_type: str = ""
) -> EvidenceFile:
    """Keep a file supporting a measurement (under CHANCERY_DATA_DIR/evidence; encrypted
    when the programme is protected)."""
    _require(can_record_progress(user, programme), _("You may not add files to this programme."))
    locked = _lock(programme)  # its marking cannot change while the file is written
    stored = EvidenceFile(programme=locked, uploaded_by=user, **_file_fields(filename, content, content_type))
    _store_file(stored, locked, content)
    record_event(
        action="planning.evidence_stored",
        actor=user,
        target=stored,
        details={"programme": programme.pk, "sha256": stored.sha256, "size": stored.size},
    )
    return stored


# --------------------------------------------------------------------------- achievements


def _check_actions(programme: Programme, actions: Iterable[Any]) -> list[Action]:
    items = list(actions)
    ids = {a if isinstance(a, int) else a.pk for a in items}
    found = list(_unrestricted(
        Action, "achievements: linked actions must belong to the programme"
    ).filter(pk__in=ids, programme=programme))
    if len(found) != len(ids):
        raise ValidationError({"actions": _("Unknown action of this programme.")})
    return found


def _require_achievements(user: User, programme: Programme) -> None:
    if programme.status == ProgrammeStatus.CLOSED:
        raise WorkflowError(_("A closed programme can no longer be changed."))
    _require(can_record_progress(user, programme), _("You may not record achievements for this programme."))


@transaction.atomic
def create_achievement(
    *, user: User, programme: Programme, kind: str, date: date, title: str, **fields: Any
) -> Achievement:
    """Record an achievement (description, outlet, link, actions, dispatches visible to `user`)."""
    unknown = set(fields) - ACHIEVEMENT_FIELDS
    if unknown:
        raise ValueError(f"unknown achievement fields: {sorted(unknown)}")
    _require_achievements(user, programme)
    actions = _check_actions(programme, fields.pop("actions", ()))
    dispatches = _check_dispatches(user, fields.pop("dispatches", ()))
    achievement = Achievement(programme=programme, kind=kind, date=date, title=title.strip(), created_by=user, **fields)
    achievement.full_clean(exclude=["programme", "created_by"])
    achievement.save()
    if actions:
        _set_links(achievement, "actions", actions)
    if dispatches:
        _set_links(achievement, "dispatches", dispatches)
    record_event(
        action="planning.achievement_created",
        actor=user,
        target=achievement,
        details={"programme": programme.pk, "kind": kind},
    )
    return achievement


@transaction.atomic
def update_achievement(*, user: User, achievement: Achievement, **fields: Any) -> Achievement:
    unknown = set(fields) - ACHIEVEMENT_FIELDS
    if unknown:
        raise ValueError(f"unknown achievement fields: {sorted(unknown)}")
    programme = _unrestricted(
        Programme, "update_achievement: the programme of an achievement read through the gate"
    ).select_related("mission").get(pk=achievement.programme_id)
    _require_achievements(user, programme)
    actions = _check_actions(programme, fields.pop("actions")) if "actions" in fields else None
    dispatches = _check_dispatches(user, fields.pop("dispatches")) if "dispatches" in fields else None
    for key, value in fields.items():
        setattr(achievement, key, value)
    achievement.full_clean(exclude=["programme", "created_by"])
    achievement.save()
    if actions is not None:
        _set_links(achievement, "actions", actions)
    if dispatches is not None:
        _set_links(achievement, "dispatches", dispatches)
    record_event(
        action="planning.achievement_updated",
        actor=user,
        target=achievement,
        details={
            "fields": sorted(
                [
                    *fields,
                    *(["actions"] if actions is not None else []),
                    *(["dispatches"] if dispatches is not None else []),
                ]
            )
        },
    )
    return achievement


@transaction.atomic
def delete_achievement(*, user: User, achievement: Achievement) -> None:
    programme = _unrestricted(
        Programme, "delete_achievement: the programme of an achievement read through the gate"
    ).select_related("mission").get(pk=achievement.programme_id)
    _require_achievements(user, programme)
    record_event(
        action="planning.achievement_deleted",
        actor=user,
        target=achievement,
        details=audit_content(programme, title=achievement.title[:200]),
    )
    for evidence in _unrestricted(
        AchievementEvidence, "delete_achievement: its evidence files to remove"
    ).filter(achievement=achievement):
        storage.delete_after_commit(evidence)
    achievement.delete()


@transaction.atomic
def add_achievement_evidence(
    *, user: User, achievement: Achievement, filename: str, content: bytes, content_type: str = ""
) -> AchievementEvidence:
    programme = _lock(_unrestricted(
        Programme, "add_achievement_evidence: the programme to lock"
    ).get(pk=achievement.programme_id))
    _require_achievements(user, programme)
    evidence = AchievementEvidence(
        achievement=achievement, uploaded_by=user, **_file_fields(filename, content, content_type)
    )
    _store_file(evidence, programme, content)
    record_event(
        action="planning.achievement_evidence_added",
        actor=user,
        target=evidence,
        details={"achievement": achievement.pk, "sha256": evidence.sha256, "size": evidence.size},
    )
    return evidence


@transaction.atomic
def remove_achievement_evidence(*, user: User, evidence: AchievementEvidence) -> None:
    programme = _unrestricted(
        Programme, "remove_achievement_evidence: the programme of evidence read through the gate"
    ).select_related("mission").get(pk=evidence.achievement.programme_id)
    _require_achievements(user, programme)
    record_event(
        action="planning.achievement_evidence_removed", actor=user, target=evidence, details={"sha256": evidence.sha256}
    )
    storage.delete_after_commit(evidence)  # its own file; an older content-addressed one may be shared
    evidence.delete()


# --------------------------------------------------------------------------- reporting periods and progress


@transaction.atomic
def create_reporting_periods(
    *, user: User, programme: Programme, period_type: str = PeriodType.QUARTER, deadline_days: int = 15
) -> list[ReportingPeriod]:
    """The programme's months / quarters / years (those missing), each due `deadline_days`
    after it ends."""
    _require(can_manage_periods(user, programme), _("You may not set the reporting periods of this programme."))
    counts: dict[str, int] = {PeriodType.MONTH: 12, PeriodType.QUARTER: 4, PeriodType.YEAR: 1}
    if period_type not in counts:
        raise ValidationError({"period_type": _("Unknown period type.")})
    existing = set(
        _unrestricted(ReportingPeriod, "reporting periods: those already set for the programme")
        .filter(programme=programme, period_type=period_type)
        .values_list("start", flat=True)
    )
    new = []
    for year in range(programme.year, programme.last_year + 1):
        for index in range(1, counts[period_type] + 1):
            start, end = ReportingPeriod.bounds(period_type, year, index)
            if start not in existing:
                new.append(
                    ReportingPeriod(
                        programme=programme,
                        period_type=period_type,
                        start=start,
                        end=end,
                        deadline=end + timedelta(days=deadline_days),
                    )
                )
    ReportingPeriod.objects.bulk_create(new)
    record_event(
        action="planning.periods_created",
        actor=user,
        target=programme,
        details={"period_type": period_type, "count": len(new)},
    )
    return list(_unrestricted(
        ReportingPeriod, "reporting periods: the programme's periods of one type"
    ).filter(programme=programme, period_type=period_type).order_by("start"))


@transaction.atomic
def create_reporting_period(
    *, user: User, programme: Programme, period_type: str, start: date, end: date, deadline: date
) -> ReportingPeriod:
    _require(can_manage_periods(user, programme), _("You may not set the reporting periods of this programme."))
    if end < start:
        raise ValidationError({"end": _("The end comes before the start.")})
    if deadline < end:
        raise ValidationError({"deadline": _("The deadline comes before the end of the period.")})
    if _unrestricted(
        ReportingPeriod, "reporting periods: no duplicate period"
    ).filter(programme=programme, period_type=period_type, start=start).exists():
        raise ValidationError({"start": _("This period already exists.")})
    period = ReportingPeriod(programme=programme, period_type=period_type, start=start, end=end, deadline=deadline)
    period.full_clean(exclude=["programme"], validate_constraints=False)
    period.save()
    record_event(action="planning.period_created", actor=user, target=period, details={"programme": programme.pk})
    return period


@transaction.atomic
def close_reporting_period(*, user: User, period: ReportingPeriod) -> ReportingPeriod:
    """Freeze a period: its progress updates and the measurements inside it no longer change."""
    programme = _unrestricted(
        Programme, "close_reporting_period: the programme of a period read through the gate"
    ).select_related("mission").get(pk=period.programme_id)
    _require(can_manage_periods(user, programme), _("You may not close this period."))
    period.closed = True
    period.save(update_fields=["closed"])
    record_event(action="planning.period_closed", actor=user, target=period)
    return period


@dataclass
class ProgressRow:
    """One line of the periodic update: an action's progress, status and note."""

    action: Action | int
    progress: Any
    status: str
    note: str = ""
    lock_version: int | None = None


def _row(raw: ProgressRow | Mapping[str, Any]) -> ProgressRow:
    if isinstance(raw, ProgressRow):
        return raw
    return ProgressRow(
        action=raw["action"],
        progress=raw.get("progress"),
        status=raw.get("status", ""),
        note=raw.get("note", "") or "",
        lock_version=raw.get("lock_version"),
    )


@transaction.atomic
def record_progress_updates(
    *,
    user: User,
    period: ReportingPeriod,
    rows: Iterable[ProgressRow | Mapping[str, Any]],
    measurements: Iterable[Mapping[str, Any]] = (),
) -> list[ProgressUpdate]:
    """The periodic update, in one call: each row sets an action's progress, status and note
    for `period` (and the action's current progress/status); `measurements` are indicator
    actuals for the period ({"indicator", "value", "evidence"}).

    All or nothing: any invalid row → `ValidationError` whose dict maps `action-<id>` (or
    `indicator-<id>`) to messages, and nothing is saved. A row with a `lock_version` that no
    longer matches raises `ActionConflict`. The first update moves an approved programme
    into execution.
    """
    programme = _unrestricted(
        Programme, "progress updates: the programme of a period read through the gate"
    ).select_related("mission").get(pk=period.programme_id)
    if programme.status == ProgrammeStatus.CLOSED:
        raise WorkflowError(_("The programme is closed."))
    if period.closed:
        raise WorkflowError(_("This period is closed."), code="period_closed")
    if programme.status not in (ProgrammeStatus.APPROVED, ProgrammeStatus.IN_EXECUTION):
        raise WorkflowError(_("Progress is recorded once the programme is approved."))
    _require(can_record_progress(user, programme), _("You may not record progress for this programme."))
    parsed = [_row(r) for r in rows]
    ids = [r.action if isinstance(r.action, int) else r.action.pk for r in parsed]
    actions = {a.pk: a for a in _unrestricted(
        Action, "progress updates: the programme's actions, locked for writing"
    ).select_for_update().filter(programme=programme, pk__in=ids)}
    errors: dict[str, list[str]] = {}
    seen: set[int] = set()
    for row, action_id in zip(parsed, ids, strict=True):
        key = f"action-{action_id}"
        if action_id not in actions:
            errors.setdefault(key, []).append(_("Unknown action of this programme."))
            continue
        if action_id in seen:
            errors.setdefault(key, []).append(_("The action appears twice."))
        seen.add(action_id)
        try:
            row.progress = int(row.progress)
        except (TypeError, ValueError):
            errors.setdefault(key, []).append(_("Enter a whole number between 0 and 100."))
        else:
            if not 0 <= row.progress <= 100:
                errors.setdefault(key, []).append(_("Progress is between 0 and 100 %."))
        if row.status not in ActionStatus.values:
            errors.setdefault(key, []).append(_("Unknown status."))
    measured = []
    for item in measurements:
        indicator_id = item["indicator"] if isinstance(item["indicator"], int) else item["indicator"].pk
        key = f"indicator-{indicator_id}"
        indicator = _unrestricted(
            Indicator, "progress updates: an indicator of this programme"
        ).filter(pk=indicator_id, programme=programme).first()
        if indicator is None:
            errors.setdefault(key, []).append(_("Unknown indicator of this programme."))
            continue
        if item.get("value") in (None, ""):
            continue
        try:
            value = _clean_decimal(item["value"], "value")
        except ValidationError:
            errors.setdefault(key, []).append(_("Enter a number."))
            continue
        measured.append((indicator, value, str(item.get("evidence", "") or "")))
    if errors:
        raise ValidationError(errors)
    for row, action_id in zip(parsed, ids, strict=True):
        action = actions[action_id]
        if row.lock_version is not None and action.lock_version != row.lock_version:
            raise ActionConflict(action, expected=row.lock_version)
    updates = []
    for row, action_id in zip(parsed, ids, strict=True):
        action = actions[action_id]
        update, _created = _unrestricted(
            ProgressUpdate, "progress updates: this action's update for the period"
        ).update_or_create(
            action=action,
            period=period,
            defaults={"progress": row.progress, "status": row.status, "note": row.note, "recorded_by": user},
        )
        updates.append(update)
        _unrestricted(Action, "progress updates: the action's progress follows its update").filter(pk=action.pk).update(
            progress=row.progress, status=row.status, lock_version=F("lock_version") + 1, updated_at=timezone.now()
        )
    for indicator, value, evidence in measured:
        record_measurement(
            user=user,
            indicator=indicator,
            period_type=period.period_type,
            period_start=period.start,
            period_end=period.end,
            value=value,
            evidence=evidence,
        )
    locked = _lock(programme)
    if updates and _start_execution_locked(locked):
        record_event(action="planning.programme_execution_started", actor=user, target=locked)
    _touch(programme)
    record_event(
        action="planning.progress_recorded",
        actor=user,
        target=period,
        details={"programme": programme.pk, "actions": len(updates), "measurements": len(measured)},
    )
    return updates


def missing_updates(*, period: ReportingPeriod) -> list[Action]:
    """Actions of the period's programme still expected to report and without an update for it:
    not done/cancelled, and started by the end of the period (or undated). The caller must
    have read `period` through the gate."""
    updated = ProgressUpdate.objects.unrestricted("period already gated").filter(period=period).values("action_id")
    return list(
        _unrestricted(Action, "period already gated")
        .filter(programme_id=period.programme_id)
        .exclude(status__in=FINISHED_ACTION_STATUSES)
        .exclude(start_date__gt=period.end)
        .exclude(pk__in=updated)
        .select_related("axis__axis_type", "lead")
        .order_by("axis__position", "position", "pk")
    )


def is_overdue(period: ReportingPeriod, today: date | None = None) -> bool:
    return not period.closed and (today or timezone.localdate()) > period.deadline


def achievement_kinds() -> list[tuple[str, str]]:
    return [(str(k), str(label)) for k, label in AchievementKind.choices]


def reorder(*, user: User, programme: Programme, model: str, ids: Sequence[int]) -> None:
    """Set positions 10, 20, … following `ids` for axes, objectives, actions or indicators."""
    _require_edit(user, programme)
    targets: dict[str, tuple[Any, str]] = {
        "axis": (Axis, "programme"),
        "objective": (Objective, "axis__programme"),
        "action": (Action, "programme"),
        "indicator": (Indicator, "programme"),
    }
    if model not in targets:
        raise ValueError(f"cannot reorder {model}")
    klass, path = targets[model]
    rows = {o.pk: o for o in _unrestricted(
        klass, "reorder: rows of the programme being reordered"
    ).filter(**{path: programme}, pk__in=list(ids))}
    for i, pk in enumerate(ids):
        if pk in rows:
            rows[pk].position = (i + 1) * 10
    klass.objects.bulk_update(list(rows.values()), ["position"])
    _touch(programme)
    record_event(
        action="planning.reordered", actor=user, target=programme, details={"model": model, "count": len(rows)}
    )


# --------------------------------------------------------------------------- from letters


def can_create_programme_from_letter(user: User, mission: Unit, source_dispatch: Any) -> bool:
    """A registry clerk who registers a mission's plan letter may open its draft programme,
    provided they may read that letter (the programme then belongs to the mission)."""
    from chancery.correspondence.models import Dispatch

    if mission.kind != UnitKind.MISSION or not user.has_capability(Capability.REGISTER_INCOMING):
        return False
    return bool(Dispatch.objects.visible_to(user).filter(pk=source_dispatch.pk).exists())


def _check_no_write_down(classification: int, source_dispatch: Any) -> None:
    """No write down: a programme filled from a letter's text carries at least its marking
    (a new programme has no compartments, so a letter with compartments cannot seed one)."""
    from chancery.correspondence.content import compartment_codes

    floor = Marking.of(source_dispatch.classification, compartment_codes(source_dispatch))
    if not Marking.of(int(classification)).dominates(floor):
        message = _("The programme cannot carry a lower marking than the letter it comes from (%(marking)s).")
        raise ValidationError({"classification": message % {"marking": floor.label()}})


def _without_sentences(text: str, sentences: Iterable[str]) -> str:
    for sentence in sentences:
        if sentence.strip():
            text = text.replace(sentence.strip(), "")
    paragraphs = [" ".join(p.split()) for p in text.split("\n\n")]
    return "\n\n".join(p for p in paragraphs if p)


@transaction.atomic
def create_programme_from_letter(
    *,
    user: User,
    mission: Unit,
    year: int,
    end_year: int | None,
    title: str,
    summary: str,
    classification: int,
    source_dispatch: Any,
    axes: Iterable[tuple[str, str]],
    objectives: Iterable[tuple[str, str, str]],
    indicators: Iterable[dict[str, Any]],
) -> Programme:
    """The draft programme announced by an imported letter, linked to that letter.

    `axes`: (axis key, narrative); `objectives`: (axis key, title, description);
    `indicators`: field dicts with an `axis` key (or None). Mission staff then work on the
    draft as on any other; the importer gets no further right on it.
    """
    allowed = can_create_programme(user, mission) or can_create_programme_from_letter(user, mission, source_dispatch)
    _require(allowed, _("You may not create a programme for this mission."))
    _check_no_write_down(classification, source_dispatch)
    axes = list(axes)
    programme = _new_programme(
        user=user, mission=mission, year=year, end_year=end_year, title=title, summary=summary,
        classification=classification, axis_types=[key for key, _narrative in axes] or None,
        carry_over_from=None, submission_dispatch=source_dispatch,
    )
    by_key = {axis.axis_type.key: axis for axis in _unrestricted(
        Axis, "letter import: axes of the programme just created"
    ).select_related("axis_type").filter(
        programme=programme
    )}
    objectives = list(objectives)
    for key, narrative in axes:
        # An objective the letter states once is shown once: the sentences that became this
        # axis's objectives leave its narrative (the rest, figures included, stays as context).
        taken = [title for axis_key, title, _d in objectives if axis_key == key]
        narrative = _without_sentences(narrative, taken)
        if narrative:
            by_key[key].narrative = narrative
            by_key[key].save(update_fields=["narrative"])
    for key, objective_title, description in objectives:
        description = "" if description.strip() == objective_title.strip() else description
        _new_objective(user=user, axis=by_key[key], title=objective_title, description=description, position=None)
    for item in indicators:
        fields = dict(item)
        axis_key = fields.pop("axis", None)
        label = fields.pop("label")
        fields["axis"] = by_key.get(str(axis_key)) if axis_key else None
        _new_indicator(user=user, programme=programme, label=label, fields=fields)
    return programme
