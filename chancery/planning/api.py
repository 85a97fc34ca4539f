"""API: programmes, axes, actions, indicators (with measurements) and achievements.

Every read goes through the selectors (hence `visible_to(user)`): objects out of scope
answer 404 (`not_found`). A step the agent's role does not allow answers 403
(`forbidden`); a step that does not apply in the programme's status 409 (`invalid_state`);
an action changed since it was read 409 (`conflict`, with `current_lock_version`);
invalid data 422 (`invalid`, with per-field `errors`).
"""

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from ninja.pagination import LimitOffsetPagination, paginate
from pydantic import Field

from chancery.accounts.access import agent
from chancery.core.classification import Level
from chancery.planning import selectors, services, versions
from chancery.planning.models import (
    Achievement,
    Action,
    Axis,
    Indicator,
    Measurement,
    Objective,
    Programme,
    ProgrammeVersion,
)

router = Router(tags=["planning"])

T = TypeVar("T")


# --------------------------------------------------------------------------- schemas


class ProgrammeOut(Schema):
    id: int
    mission: str
    year: int
    end_year: int
    title: str
    summary: str
    status: str
    classification: str
    current_version: int
    baseline_version: int | None
    carried_over_from: int | None
    submitted_at: datetime | None
    approved_at: datetime | None
    closed_at: datetime | None
    revision_proposed_at: datetime | None = Field(None, description="a revision awaits headquarters' decision")
    lock_version: int

    @staticmethod
    def resolve_mission(obj: Programme) -> str:
        return str(obj.mission.code)

    @staticmethod
    def resolve_classification(obj: Programme) -> str:
        return Level(obj.classification).key

    @staticmethod
    def resolve_baseline_version(obj: Programme) -> int | None:
        if not obj.baseline_version_id:
            return None
        # The list reads the number alone (`selectors.programme_list`); one programme reads its version.
        number = getattr(obj, "baseline_number", None)
        if number is None and obj.baseline_version is not None:
            number = obj.baseline_version.number
        return number

    @staticmethod
    def resolve_carried_over_from(obj: Programme) -> int | None:
        return obj.carried_over_from_id


class ProgrammeFilters(Schema):
    mission: str | None = Field(None, description="mission code (e.g. DAKAR) or id")
    year: int | None = Field(None, description="programmes covering this year")
    status: str | None = Field(None, description="draft, submitted, approved, in_execution, closed")
    q: str | None = None


class ProgrammeIn(Schema):
    mission: str = Field(..., description="mission code")
    year: int
    end_year: int | None = None
    title: str = ""
    summary: str = ""
    classification: int | str = 0
    axes: list[str] | None = Field(None, description="axis keys; default the five usual axes")
    carry_over_from: int | None = Field(None, description="id of an earlier programme of the mission")


class ReasonIn(Schema):
    reason: str = ""


class ApprovalIn(Schema):
    reason: str = ""
    budgets: dict[int, Decimal] | None = Field(None, description="budget granted per action id")


class VersionOut(Schema):
    number: int
    kind: str
    reason: str
    created_at: datetime
    created_by: str | None

    @staticmethod
    def resolve_created_by(obj: ProgrammeVersion) -> str | None:
        return obj.created_by.username if obj.created_by_id and obj.created_by else None


class ObjectiveOut(Schema):
    id: int
    title: str
    description: str
    position: int


class AxisOut(Schema):
    id: int
    programme: int
    key: str
    name: str
    narrative: str
    position: int
    objectives: list[ObjectiveOut]

    @staticmethod
    def resolve_programme(obj: Axis) -> int:
        return obj.programme_id

    @staticmethod
    def resolve_key(obj: Axis) -> str:
        return str(obj.axis_type.key)

    @staticmethod
    def resolve_objectives(obj: Axis) -> list[Objective]:
        return list(obj.objectives.all())


class ActionOut(Schema):
    id: int
    programme: int
    axis: str
    axis_id: int
    objective_id: int | None
    title: str
    description: str
    lead: str | None
    partner_units: list[str]
    start_date: date | None
    end_date: date | None
    target_date: date | None
    priority: str
    budget_requested: Decimal
    budget_approved: Decimal
    budget_spent: Decimal
    currency: str
    status: str
    progress: int
    risk_note: str
    lock_version: int
    warnings: list[str]

    @staticmethod
    def resolve_programme(obj: Action) -> int:
        return obj.programme_id

    @staticmethod
    def resolve_axis(obj: Action) -> str:
        return str(obj.axis.axis_type.key)

    @staticmethod
    def resolve_lead(obj: Action) -> str | None:
        return obj.lead.username if obj.lead_id and obj.lead else None

    @staticmethod
    def resolve_partner_units(obj: Action) -> list[str]:
        return sorted(u.code for u in obj.partner_units.all())

    @staticmethod
    def resolve_warnings(obj: Action) -> list[str]:
        return obj.date_warnings()


class ActionDetailOut(ActionOut):
    dispatches: list[int] = Field([], description="linked dispatches you may read")

    @staticmethod
    def resolve_dispatches(obj: Action) -> list[int]:
        return list(getattr(obj, "dispatches_visible", []))


class ActionFilters(Schema):
    programme: int | None = None
    axis: str | None = Field(None, description="axis id or key (e.g. economic)")
    status: str | None = None
    priority: str | None = None
    mission: str | None = None
    year: int | None = None
    lead: str | None = Field(None, description="username, or `me`")
    q: str | None = None


class ActionFields(Schema):
    axis: int | None = Field(None, description="axis id (of the same programme)")
    objective: int | None = Field(None, description="objective id (of that axis)")
    title: str | None = None
    description: str | None = None
    lead: str | None = Field(None, description="username")
    partner_units: list[str] | None = Field(None, description="unit codes")
    start_date: date | None = None
    end_date: date | None = None
    target_date: date | None = None
    priority: str | None = None
    budget_requested: Decimal | None = None
    budget_approved: Decimal | None = None
    budget_spent: Decimal | None = None
    currency: str | None = None
    status: str | None = None
    progress: int | None = None
    risk_note: str | None = None
    dispatches: list[int] | None = Field(None, description="ids of dispatches you may read")


class ActionIn(ActionFields):
    programme: int
    axis: int
    title: str


class ActionPatch(ActionFields):
    lock_version: int = Field(..., description="the `lock_version` you read; 409 if the action changed since")


class IndicatorOut(Schema):
    id: int
    programme: int
    axis: str | None
    objective_id: int | None
    label: str
    unit: str
    direction: str
    data_source: str
    baseline_value: Decimal | None
    baseline_year: int | None
    approved_target: Decimal | None
    revised_target: Decimal | None
    current_target: Decimal | None
    target_year: int | None
    aggregation: str = Field(description="how the periods' values add up against the annual target: sum, last, average")

    @staticmethod
    def resolve_programme(obj: Indicator) -> int:
        return obj.programme_id

    @staticmethod
    def resolve_axis(obj: Indicator) -> str | None:
        return str(obj.axis.axis_type.key) if obj.axis_id and obj.axis else None


class IndicatorFilters(Schema):
    programme: int | None = None
    axis: str | None = None
    mission: str | None = None
    year: int | None = None


class MeasurementOut(Schema):
    id: int
    indicator: int
    period_type: str
    period_start: date
    period_end: date
    value: Decimal
    evidence: str
    recorded_by: str | None
    recorded_at: datetime

    @staticmethod
    def resolve_indicator(obj: Measurement) -> int:
        return obj.indicator_id

    @staticmethod
    def resolve_recorded_by(obj: Measurement) -> str | None:
        return obj.recorded_by.username if obj.recorded_by_id and obj.recorded_by else None


class MeasurementIn(Schema):
    period_type: str = Field("year", description="month, quarter or year")
    period_start: date
    period_end: date | None = Field(None, description="default: the end of that month/quarter/year")
    value: Decimal
    evidence: str = Field("", description="a note or a link")


class MeasurementPatch(Schema):
    value: Decimal
    evidence: str | None = Field(None, description="a note or a link; unchanged when absent")


class AchievementOut(Schema):
    id: int
    programme: int
    kind: str
    date: date
    title: str
    description: str
    outlet: str
    link: str
    actions: list[int]
    evidence: list[dict[str, Any]]

    @staticmethod
    def resolve_programme(obj: Achievement) -> int:
        return obj.programme_id

    @staticmethod
    def resolve_actions(obj: Achievement) -> list[int]:
        return sorted(a.pk for a in obj.actions.all())

    @staticmethod
    def resolve_evidence(obj: Achievement) -> list[dict[str, Any]]:
        return [
            {"id": e.pk, "filename": e.filename, "size": e.size, "sha256": e.sha256, "content_type": e.content_type}
            for e in obj.evidence.all()
        ]


class AchievementFilters(Schema):
    programme: int | None = None
    kind: str | None = None
    mission: str | None = None
    year: int | None = None
    q: str | None = None


class AchievementIn(Schema):
    programme: int
    kind: str
    date: date
    title: str
    description: str = ""
    outlet: str = ""
    link: str = ""
    actions: list[int] = []
    dispatches: list[int] = []


# --------------------------------------------------------------------------- helpers


def _programme(request: HttpRequest, pk: int) -> Programme:
    return selectors.programme_detail(agent(request), pk)


def _actions() -> Any:
    from chancery.organisation.models import Unit

    return Prefetch("partner_units", queryset=Unit.objects.unrestricted("unit codes are open to every agent"))


def _action_out(request: HttpRequest, pk: int) -> Action:
    action = selectors.action_detail(agent(request), pk)
    action.dispatches_visible = list(  # type: ignore[attr-defined]
        selectors.action_dispatches(agent(request), action).values_list("pk", flat=True)
    )
    return action


def _resolve_action_fields(request: HttpRequest, data: dict[str, Any], programme: Programme | None) -> dict[str, Any]:
    """Ids, usernames and codes from the client → objects, each checked against the gate."""
    from chancery.accounts.models import User
    from chancery.organisation.models import Unit

    user = request.user
    if data.get("axis") is not None:
        axis = Axis.objects.visible_to(user).filter(pk=data["axis"]).first()
        if axis is None or (programme is not None and axis.programme_id != programme.pk):
            raise ValidationError({"axis": ["Unknown axis of this programme."]})
        data["axis"] = axis
    elif "axis" in data:
        data.pop("axis")
    if "objective" in data:
        if data["objective"] is None:
            data["objective"] = None
        else:
            objective = Objective.objects.visible_to(user).filter(pk=data["objective"]).first()
            if objective is None:
                raise ValidationError({"objective": ["Unknown objective."]})
            data["objective"] = objective
    if "lead" in data:
        if data["lead"]:
            lead = User.objects.visible_to(user).filter(username=data["lead"]).first()
            if lead is None:
                raise ValidationError({"lead": ["Unknown agent."]})
            data["lead"] = lead
        else:
            data["lead"] = None
    if data.get("partner_units") is not None:
        codes = [c.strip().upper() for c in data["partner_units"]]
        units = list(Unit.objects.visible_to(user).filter(code__in=codes))
        if len(units) != len(set(codes)):
            raise ValidationError({"partner_units": ["Unknown unit."]})
        data["partner_units"] = units
    return data


def _classification(value: int | str) -> int:
    if isinstance(value, int) or str(value).isdigit():
        return int(value)
    try:
        return int(Level.from_key(str(value)))
    except ValueError:
        raise ValidationError({"classification": ["Unknown classification."]}) from None


# --------------------------------------------------------------------------- programmes


@router.get("/programmes", response=list[ProgrammeOut])
@paginate(LimitOffsetPagination)
def list_programmes(request: HttpRequest, filters: Query[ProgrammeFilters]) -> Any:
    """Programmes you may read (filters: mission, year, status, q)."""
    return selectors.programme_list(agent(request), filters.dict(exclude_none=True))


@router.get("/programmes/{id}", response=ProgrammeOut)
def get_programme(request: HttpRequest, id: int) -> Any:
    return _programme(request, id)


@router.post("/programmes", response={201: ProgrammeOut})
def create_programme(request: HttpRequest, payload: ProgrammeIn) -> Any:
    """Create a draft programme for a mission where you may propose one."""
    from chancery.organisation.models import Unit

    mission = Unit.objects.visible_to(request.user).filter(code=payload.mission.strip().upper()).first()
    if mission is None:
        raise ValidationError({"mission": ["Unknown mission."]})
    carry = _programme(request, payload.carry_over_from) if payload.carry_over_from else None
    created = services.create_programme(user=agent(request), mission=mission,
        year=payload.year,
        end_year=payload.end_year,
        title=payload.title,
        summary=payload.summary,
        classification=_classification(payload.classification),
        axis_types=payload.axes,
        carry_over_from=carry,
    )
    return Status(201, _programme(request, created.pk))


def _step(request: HttpRequest, id: int, fn: Callable[..., Any], **kwargs: Any) -> Any:
    programme = _programme(request, id)
    fn(user=request.user, programme=programme, **kwargs)
    return _programme(request, id)


@router.post("/programmes/{id}/submit", response=ProgrammeOut)
def submit_programme(request: HttpRequest, id: int, payload: ReasonIn | None = None) -> Any:
    """Head of mission: submit the draft to headquarters."""
    return _step(request, id, services.submit_programme, note=payload.reason if payload else "")


@router.post("/programmes/{id}/return", response=ProgrammeOut)
def return_programme(request: HttpRequest, id: int, payload: ReasonIn) -> Any:
    """HQ desk or planning: send a submitted programme back for changes."""
    return _step(request, id, services.return_for_changes, reason=payload.reason)


@router.post("/programmes/{id}/approve", response=ProgrammeOut)
def approve_programme(request: HttpRequest, id: int, payload: ApprovalIn | None = None) -> Any:
    """Planning unit: approve (the approved version becomes the baseline) and grant budgets."""
    return _step(
        request, id, services.approve_programme,
        note=payload.reason if payload else "", budgets=payload.budgets if payload else None,
    )


@router.post("/programmes/{id}/revise", response=ProgrammeOut)
def revise_programme(request: HttpRequest, id: int, payload: ReasonIn) -> Any:
    """Head of mission: propose the changes since the last approved version as a revision, with its reason."""
    return _step(request, id, services.propose_revision, reason=payload.reason)


@router.post("/programmes/{id}/revision/approve", response=ProgrammeOut)
def approve_revision(request: HttpRequest, id: int, payload: ApprovalIn | None = None) -> Any:
    """Planning unit: approve the proposed revision (a numbered version) and grant budgets."""
    return _step(
        request, id, services.approve_revision,
        note=payload.reason if payload else "", budgets=payload.budgets if payload else None,
    )


@router.post("/programmes/{id}/revision/return", response=ProgrammeOut)
def return_revision(request: HttpRequest, id: int, payload: ReasonIn) -> Any:
    """Planning unit: return the proposed revision to the mission, saying why."""
    return _step(request, id, services.return_revision, reason=payload.reason)


@router.post("/programmes/{id}/close", response=ProgrammeOut)
def close_programme(request: HttpRequest, id: int, payload: ReasonIn | None = None) -> Any:
    return _step(request, id, services.close_programme, note=payload.reason if payload else "")


@router.get("/programmes/{id}/versions", response=list[VersionOut])
def list_programme_versions(request: HttpRequest, id: int) -> Any:
    return selectors.version_list(agent(request), _programme(request, id))


@router.get("/programmes/{id}/baseline-comparison")
def programme_baseline_comparison(request: HttpRequest, id: int) -> Any:
    """What changed since the approved baseline (null before approval)."""
    data = selectors.baseline_comparison(agent(request), _programme(request, id))
    diff: versions.Diff | None = data["diff"]
    return {
        "baseline_version": data["baseline"].number if data["baseline"] else None,
        "diff": diff.to_dict() if diff else None,
    }


# --------------------------------------------------------------------------- axes


@router.get("/axes", response=list[AxisOut])
@paginate(LimitOffsetPagination)
def list_axes(
    request: HttpRequest,
    programme: int | None = None,
    mission: str | None = None,
    year: int | None = None,
    key: str | None = None,
) -> Any:
    filters = {"programme": programme, "mission": mission, "year": year, "key": key}
    return selectors.axis_list(agent(request), {k: v for k, v in filters.items() if v}).prefetch_related(
        Prefetch("objectives", queryset=Objective.objects.unrestricted("below a gated axis").order_by("position"))
    )


@router.get("/axes/{id}", response=AxisOut)
def get_axis(request: HttpRequest, id: int) -> Any:
    axis = selectors.axis_detail(agent(request), id)
    axis._prefetched_objects_cache = {  # type: ignore[attr-defined]
        "objectives": Objective.objects.unrestricted("below a gated axis").filter(axis=axis).order_by("position")
    }
    return axis


# --------------------------------------------------------------------------- actions


@router.get("/actions", response=list[ActionOut])
@paginate(LimitOffsetPagination)
def list_actions(request: HttpRequest, filters: Query[ActionFilters]) -> Any:
    """Actions you may read (filters: programme, axis, status, priority, mission, year, lead, q)."""
    return selectors.action_list(agent(request), filters.dict(exclude_none=True)).prefetch_related(_actions())


@router.get("/actions/{id}", response=ActionDetailOut)
def get_action(request: HttpRequest, id: int) -> Any:
    action = _action_out(request, id)
    return _with_dispatches(action)


def _with_dispatches(action: Action) -> Action:
    return action


@router.post("/actions", response={201: ActionDetailOut})
def create_action(request: HttpRequest, payload: ActionIn) -> Any:
    programme = _programme(request, payload.programme)
    data = _resolve_action_fields(request, payload.dict(exclude_unset=True, exclude={"programme"}), programme)
    axis = data.pop("axis")
    title = data.pop("title")
    created = services.create_action(user=agent(request), programme=programme, axis=axis, title=title, **data)
    return Status(201, _with_dispatches(_action_out(request, created.pk)))


@router.patch("/actions/{id}", response=ActionDetailOut)
def update_action(request: HttpRequest, id: int, payload: ActionPatch) -> Any:
    """Change an action. `lock_version` must be the one you read: 409 `conflict` otherwise
    (nothing is overwritten; reload and re-apply)."""
    action = selectors.action_detail(agent(request), id)
    data = payload.dict(exclude_unset=True)
    lock_version = data.pop("lock_version")
    programme = action.programme
    data = _resolve_action_fields(request, data, programme)
    services.update_action(user=agent(request), action=action, lock_version=lock_version, **data)
    return _with_dispatches(_action_out(request, id))


@router.delete("/actions/{id}", response={204: None})
def delete_action(request: HttpRequest, id: int, lock_version: int | None = None) -> Any:
    action = selectors.action_detail(agent(request), id)
    services.delete_action(user=agent(request), action=action, lock_version=lock_version)
    return Status(204, None)


# --------------------------------------------------------------------------- indicators


@router.get("/indicators", response=list[IndicatorOut])
@paginate(LimitOffsetPagination)
def list_indicators(request: HttpRequest, filters: Query[IndicatorFilters]) -> Any:
    return selectors.indicator_list(agent(request), filters.dict(exclude_none=True))


@router.get("/indicators/{id}", response=IndicatorOut)
def get_indicator(request: HttpRequest, id: int) -> Any:
    return selectors.indicator_detail(agent(request), id)


@router.get("/indicators/{id}/measurements", response=list[MeasurementOut])
def list_measurements(request: HttpRequest, id: int) -> Any:
    return selectors.measurements(agent(request), selectors.indicator_detail(agent(request), id))


@router.post("/indicators/{id}/measurements", response={201: MeasurementOut})
def record_measurement(request: HttpRequest, id: int, payload: MeasurementIn) -> Any:
    """Record (or correct) an actual value; 409 `invalid_state` for a closed period."""
    indicator = selectors.indicator_detail(agent(request), id)
    created = services.record_measurement(user=agent(request), indicator=indicator,
        period_type=payload.period_type,
        period_start=payload.period_start,
        period_end=payload.period_end,
        value=payload.value,
        evidence=payload.evidence,
    )
    return Status(201, created)


@router.patch("/measurements/{id}", response=MeasurementOut)
def correct_measurement(request: HttpRequest, id: int, payload: MeasurementPatch) -> Any:
    """Correct a recorded value (audited); 409 `invalid_state` for a closed period or programme."""
    measurement = selectors.measurement_detail(agent(request), id)
    return services.update_measurement(
        user=agent(request), measurement=measurement, value=payload.value, evidence=payload.evidence
    )


@router.delete("/measurements/{id}", response={204: None})
def delete_measurement(request: HttpRequest, id: int) -> Any:
    """Remove a measurement recorded by mistake (audited)."""
    measurement = selectors.measurement_detail(agent(request), id)
    services.delete_measurement(user=agent(request), measurement=measurement)
    return Status(204, None)


# --------------------------------------------------------------------------- achievements


@router.get("/achievements", response=list[AchievementOut])
@paginate(LimitOffsetPagination)
def list_achievements(request: HttpRequest, filters: Query[AchievementFilters]) -> Any:
    return selectors.achievement_list(agent(request), None, filters.dict(exclude_none=True))


@router.get("/achievements/{id}", response=AchievementOut)
def get_achievement(request: HttpRequest, id: int) -> Any:
    selectors.achievement_detail(agent(request), id)
    return selectors.achievement_list(agent(request)).get(pk=id)


@router.post("/achievements", response={201: AchievementOut})
def create_achievement(request: HttpRequest, payload: AchievementIn) -> Any:
    programme = _programme(request, payload.programme)
    created = services.create_achievement(user=agent(request), programme=programme,
        kind=payload.kind,
        date=payload.date,
        title=payload.title,
        description=payload.description,
        outlet=payload.outlet,
        link=payload.link,
        actions=payload.actions,
        dispatches=payload.dispatches,
    )
    return Status(201, selectors.achievement_list(agent(request)).get(pk=created.pk))
