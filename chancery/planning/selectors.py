"""Reads of action planning, always for a given user and through the permission gate.

Every function takes `user` first. Object lookups answer `Http404` for both a missing and
an out-of-scope object. Querysets returned are already gated (`visible_to(user)`).
Prefetches below a programme use `unrestricted(...)` querysets: they only ever run under a
programme that was read through the gate.
"""

from __future__ import annotations

import calendar as _calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any

from django.db.models import Count, F, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from chancery.accounts.roles import Capability
from chancery.core.classification import Level, Marking
from chancery.core.db import column, table
from chancery.core.gate import get_child_or_404, get_visible_by_id_or_404, get_visible_or_404, read_through_gate
from chancery.core.lists import first
from chancery.core.statements import GatedStatement, Statement, prefetched
from chancery.organisation.models import Unit
from chancery.planning import policy, sealed, services, versions
from chancery.planning.models import (
    FINISHED_ACTION_STATUSES,
    Achievement,
    AchievementEvidence,
    Action,
    ActionStatus,
    Axis,
    AxisType,
    EvidenceFile,
    Indicator,
    Measurement,
    Objective,
    Programme,
    ProgrammeComment,
    ProgrammeStatus,
    ProgrammeVersion,
    ProgressUpdate,
    ReportingPeriod,
)

if TYPE_CHECKING:
    from chancery.accounts.models import User

UNDER_GATED_PROGRAMME = "below a programme read through the gate"


def _u(model: Any) -> Any:
    return model.objects.unrestricted(UNDER_GATED_PROGRAMME)


def _children(model: Any, user: User, programme: Programme | None) -> Any:
    """The rows of `model` (a programme's child: visible exactly when its programme is) `user`
    may read: under `programme` when it was read through the gate for `user` in this request
    (`read_through_gate`), else through the child's own gate (its programme subquery: a query to
    build and run for what the caller already checked). The caller filters on the programme."""
    if programme is not None and read_through_gate(programme, user):
        return _u(model)
    return model.objects.visible_to(user)


# --------------------------------------------------------------------------- programmes


def axis_types(user: User | None = None, *, include_inactive: bool = False) -> list[AxisType]:
    """The configurable list of *volets* (not protected)."""
    qs = AxisType.objects.all()
    if not include_inactive:
        qs = qs.filter(is_active=True)
    return list(qs.order_by("position", "key"))


def programme_list(user: User, filters: Mapping[str, Any] | None = None) -> QuerySet[Programme]:
    """Programmes `user` may read. Filters: `mission` (id or code), `year`, `status`,
    `q` (title or mission code/city), `region` (code)."""
    filters = filters or {}
    qs = (
        Programme.objects.visible_to(user)
        .select_related("mission", "data_key")
        # A list shows the baseline's number only: the version itself (a sealed row, opened with
        # the programme's key) cost each of a page's fifty rows a model to build and texts to open.
        .annotate(baseline_number=F("baseline_version__number"))
    )
    mission = filters.get("mission")
    if mission:
        mission_text = str(mission)
        qs = (
            qs.filter(mission_id=int(mission_text)) if mission_text.isdigit() else qs.filter(mission__code=mission_text)
        )
    year = filters.get("year")
    if year not in (None, ""):
        try:
            qs = qs.filter(year__lte=int(year), end_year__gte=int(year))
        except (TypeError, ValueError):
            qs = qs.none()
    status = filters.get("status")
    if status:
        qs = qs.filter(status=status)
    region = filters.get("region")
    if region:
        qs = qs.filter(mission__parent__code=region)
    text = str(filters.get("q") or "").strip()[:100]
    if text:
        qs = sealed.text_filter(
            qs, text, ("title",), also=Q(mission__code__icontains=text) | Q(mission__city__icontains=text)
        )
    # Counted per listed programme (a correlated count on the action's programme index), not by
    # joining every action of every visible programme and grouping before the page is cut.
    actions = _u(Action).filter(programme_id=OuterRef("pk")).order_by().values("programme_id").annotate(n=Count("pk"))
    return qs.annotate(action_count=Coalesce(Subquery(actions.values("n")), 0)).order_by("-year", "mission__code")


# Who submitted and approved it: the programme's page names them. Its key opens its texts (and its
# children's): read with it, not by a query of its own.
_PROGRAMME_DETAIL = GatedStatement(
    lambda user, pk: Programme.objects.select_related(
        "mission", "mission__hq_desk", "baseline_version", "submitted_by", "approved_by", "data_key"
    ).visible_to(user).filter(pk=pk),
    Programme,
)


def programme_detail(user: User, pk: int | str) -> Programme:
    programme: Programme = get_visible_by_id_or_404(_PROGRAMME_DETAIL, user, pk)
    return programme


def programme_for(user: User, *, mission: Any, year: int) -> Programme | None:
    return Programme.objects.visible_to(user).filter(mission=mission, year=year).first()


def marking_of(programme: Programme) -> Marking:
    return programme.marking


def page_marking(programmes: Iterable[Programme]) -> Marking | None:
    """The banner of a page listing content of several programmes: the highest level shown
    and every compartment shown (None when nothing shown is protected)."""
    by_pk = {p.pk: p for p in programmes}
    if not by_pk:
        return None
    level = max(int(p.classification) for p in by_pk.values())
    codes = set(
        Programme.compartments.through.objects.filter(programme_id__in=list(by_pk)).values_list(
            "compartment__code", flat=True
        )
    )
    if level < Level.RESTRICTED and not codes:
        return None
    return Marking.of(level, codes)


def whose_step(programme: Programme, permissions: dict[str, bool]) -> str:
    """Where the programme's next step is someone else's, whose it is (empty when it is the reader's
    or there is none): a reader who sees no button learns who acts and that nothing is broken."""
    status = programme.status
    mission = programme.mission.code
    desk = programme.mission.hq_desk.code if programme.mission.hq_desk_id and programme.mission.hq_desk else ""
    if status == ProgrammeStatus.DRAFT and not permissions.get("submit"):
        return _("Next step: the head of mission (%(mission)s) submits the programme to headquarters.") % {
            "mission": mission
        }
    if status == ProgrammeStatus.SUBMITTED and not (permissions.get("approve") or permissions.get("return")):
        return _(
            "Next step: headquarters reviews the programme (desk %(desk)s) and the planning division approves it."
        ) % {"desk": desk or "—"}
    if programme.revision_pending and not permissions.get("decide_revision"):
        return _(
            "A revision proposed on %(day)s awaits the decision of the planning division; the content is frozen "
            "until then."
        ) % {"day": formats.date_format(timezone.localtime(programme.revision_proposed_at), "SHORT_DATE_FORMAT")}
    approved = status in (ProgrammeStatus.APPROVED, ProgrammeStatus.IN_EXECUTION)
    if approved and permissions.get("edit") and not permissions.get("revise"):
        return _(
            "Changes to the approved programme form its next revision: the head of mission (%(mission)s) "
            "proposes it and headquarters approves it."
        ) % {"mission": mission}
    return ""


# Asked by every dispatch page: kept compiled per reader and rights.
_FROM_LETTER = GatedStatement(
    lambda user, dispatch: Programme.objects.visible_to(user).filter(submission_dispatch_id=dispatch)
    .select_related("mission"),
    Programme,
)


def programmes_from_letter(user: User, dispatch: Any) -> list[Programme]:
    """The programmes a letter produced or carried (imported draft, submission), as far as `user` may read them."""
    return list(_FROM_LETTER(user, dispatch=dispatch.pk))


def programme_permissions(user: User, programme: Programme) -> dict[str, bool]:
    """Booleans: view, edit, submit, review, comment, return, approve, start_execution,
    revise, close, record_progress, manage_periods."""
    return services.permissions(user, programme)


def missions_for_new_programme(user: User) -> list[Any]:
    """Missions where `user` may create a programme."""
    from chancery.organisation.models import UnitKind

    return [u for u in user.units_with(Capability.PROPOSE_PROGRAMME) if u.kind == UnitKind.MISSION]


def carry_over_candidates(user: User, *, mission: Any, year: int) -> QuerySet[Programme]:
    return Programme.objects.visible_to(user).filter(mission=mission, year__lt=year).order_by("-year")


# --------------------------------------------------------------------------- the document


def _actions_qs() -> Any:
    """Actions with their lead, axis, objective and partner units (the document, which has read
    the axes and objectives already, gives them to its actions instead: `_attach_parents`)."""
    return (
        _u(Action)
        # An objective's sealed title opens with its programme's key, reached through its axis:
        # read with it (else one query per objective shown).
        .select_related("lead", "objective__axis", "axis__axis_type")
        .prefetch_related(Prefetch("partner_units", queryset=_partner_units_qs()))
    )


def _attach_parents(actions: list[Action], axes: list[Axis], objectives: list[Objective]) -> None:
    """Give each action its axis and objective from those the page read already (the same
    instances, their texts opened once), as `select_related` would have: joining them again cost
    the programme document four more objects per action to build and open, and on PostgreSQL
    four more relations to plan. One not among them stays to be read on access."""
    axis_field, objective_field = Action._meta.get_field("axis"), Action._meta.get_field("objective")
    by_axis = {a.pk: a for a in axes}
    by_objective = {o.pk: o for o in objectives}
    for action in actions:
        if action.axis_id in by_axis:
            axis_field.set_cached_value(action, by_axis[action.axis_id])
        if action.objective_id is None:
            objective_field.set_cached_value(action, None)
        elif action.objective_id in by_objective:
            objective_field.set_cached_value(action, by_objective[action.objective_id])


def _partner_units_qs() -> Any:
    from chancery.organisation.models import Unit

    return Unit.objects.unrestricted("unit names are open to every agent")


@dataclass
class ObjectiveBlock:
    objective: Objective | None
    actions: list[Action] = field(default_factory=list)
    indicators: list[Indicator] = field(default_factory=list)


@dataclass
class AxisBlock:
    axis: Axis
    objectives: list[ObjectiveBlock] = field(default_factory=list)
    indicators: list[Indicator] = field(default_factory=list)
    comments: list[CommentNode] = field(default_factory=list)

    @property
    def actions(self) -> list[Action]:
        return [a for block in self.objectives for a in block.actions]


@dataclass
class CommentNode:
    comment: ProgrammeComment
    replies: list[CommentNode] = field(default_factory=list)


def comment_count(threads: Iterable[CommentNode]) -> int:
    """How many comments the threads hold, replies included (what "n comments" counts)."""
    return sum(1 + comment_count(node.replies) for node in threads)


def comment_threads(
    user: User, programme: Programme, *, target_type: str | None = None, target_id: int | None = None
) -> list[CommentNode]:
    """Threads (roots with nested replies) on the programme, or on one axis/action."""
    if read_through_gate(programme, user) and not target_type:
        qs = _COMMENTS(programme=programme.pk)  # the whole programme's, as the document reads them
    else:
        qs = _children(ProgrammeComment, user, programme).filter(programme=programme).select_related("author")
        if target_type:
            qs = qs.filter(target_type=target_type, target_id=target_id)
        qs = qs.order_by("created_at", "pk")
    nodes = {c.pk: CommentNode(c) for c in qs}
    roots: list[CommentNode] = []
    for node in nodes.values():
        parent = nodes.get(node.comment.parent_id) if node.comment.parent_id else None
        (parent.replies if parent else roots).append(node)
    return roots


# The document's reads of a programme already read through the gate: each the same statement for
# every programme, compiled once (`core.statements`; compiling them was a third of the selector).
_DOCUMENT_AXES = Statement(
    lambda programme: _u(Axis).filter(programme=programme).select_related("axis_type").order_by("position", "pk")
)
_DOCUMENT_OBJECTIVES = Statement(
    lambda programme: _u(Objective).filter(axis__programme=programme).select_related("axis").order_by("position", "pk")
)
_DOCUMENT_ACTIONS = Statement(
    lambda programme: _u(Action).select_related("lead").filter(programme=programme).order_by("position", "pk")
)
# The actions' partner units, the achievements' files and the actions they serve: each read for the
# programme by a statement of its own. As prefetches, their SQL held the ids of the rows read
# before, so it was compiled again at every view (1 ms of the document on PostgreSQL at 1M).
_DOCUMENT_PARTNERS = Statement(
    lambda programme: Action.partner_units.through.objects.filter(action__programme=programme)
    .select_related("unit").order_by(*(f"unit__{f}" for f in Unit._meta.ordering or ()), "pk")
)
_DOCUMENT_EVIDENCE = Statement(
    lambda programme: _u(AchievementEvidence).filter(achievement__programme=programme)
    .order_by(*AchievementEvidence._meta.ordering or ())
)
_DOCUMENT_SERVED = Statement(
    lambda programme: Achievement.actions.through.objects.filter(achievement__programme=programme)
    .order_by("pk").values_list("achievement_id", "action_id")
)
_DOCUMENT_INDICATORS = Statement(
    lambda programme: _u(Indicator).filter(programme=programme).order_by("position", "pk")
)
_DOCUMENT_MEASUREMENTS = Statement(
    lambda programme: _u(Measurement).filter(indicator__programme=programme).order_by("period_start", "pk")
)
_DOCUMENT_VERSIONS = Statement(
    lambda programme: _u(ProgrammeVersion).filter(programme=programme).select_related("created_by")
    .defer("snapshot").order_by("-number")
)
_DOCUMENT_PERIODS = Statement(lambda programme: _u(ReportingPeriod).filter(programme=programme).order_by("start"))
_COMMENTS = Statement(
    lambda programme: _u(ProgrammeComment).filter(programme=programme).select_related("author")
    .order_by("created_at", "pk")
)
_ACHIEVEMENTS = Statement(lambda programme: _u(Achievement).filter(programme=programme).order_by("-date", "-pk"))


def programme_document(user: User, programme: Programme) -> dict[str, Any]:
    """The programme as a structured document.

    Keys: programme, marking, permissions, axes (list of AxisBlock: axis, objectives
    [ObjectiveBlock: objective|None, actions, indicators], indicators, comments),
    indicators (all, with `latest` measurement attached as `indicator.latest` and the year's
    actual as `indicator.actual_value`),
    achievements, versions, baseline (ProgrammeVersion|None), diff (vs baseline, or None),
    comments (threads on the programme itself), totals (per currency), warnings
    (action id → date warnings), periods.
    """
    if not read_through_gate(programme, user):
        programme = programme_detail(user, programme.pk)
    axes = list(_DOCUMENT_AXES(programme=programme.pk))
    objectives = list(_DOCUMENT_OBJECTIVES(programme=programme.pk))
    actions = list(_DOCUMENT_ACTIONS(programme=programme.pk))
    _attach_parents(actions, axes, objectives)
    partners = _DOCUMENT_PARTNERS(programme=programme.pk)
    _attach(actions, "partner_units", [(link.action_id, link.unit) for link in partners])
    indicators = list(_DOCUMENT_INDICATORS(programme=programme.pk))
    by_indicator: dict[int, list[Measurement]] = {}
    for m in _DOCUMENT_MEASUREMENTS(programme=programme.pk):
        by_indicator.setdefault(m.indicator_id, []).append(m)
    for ind in indicators:
        values = by_indicator.get(ind.pk, [])
        ind.latest = values[-1] if values else None
        ind.actual_value = ind.actual(values)
    all_comments = comment_threads(user, programme)
    by_target: dict[tuple[str, int | None], list[CommentNode]] = {}
    for node in all_comments:
        by_target.setdefault((node.comment.target_type, node.comment.target_id), []).append(node)
    blocks = []
    for axis in axes:
        axis_objectives = [o for o in objectives if o.axis_id == axis.pk]
        block = AxisBlock(axis=axis, comments=by_target.get(("axis", axis.pk), []))
        for objective in [*axis_objectives, None]:
            ob = ObjectiveBlock(objective=objective)
            ob.actions = [
                a for a in actions if a.axis_id == axis.pk and a.objective_id == (objective.pk if objective else None)
            ]
            ob.indicators = [
                i
                for i in indicators
                if i.objective_id == (objective.pk if objective else None) and (i.axis_id == axis.pk)
            ]
            if objective is not None or ob.actions or ob.indicators:
                block.objectives.append(ob)
        block.indicators = [i for i in indicators if i.axis_id == axis.pk]
        blocks.append(block)
    for action in actions:
        action.comments = by_target.get(("action", action.pk), [])
    baseline = None
    if programme.baseline_version_id:
        # `programme_detail` reads it with the programme (its number is on the page): not twice.
        cached = Programme._meta.get_field("baseline_version").is_cached(programme)
        baseline = (
            programme.baseline_version
            if cached
            else _u(ProgrammeVersion).filter(pk=programme.baseline_version_id).first()
        )
    permissions = services.permissions(user, programme)
    return {
        "programme": programme,
        "marking": programme.marking,
        "permissions": permissions,
        "whose_step": whose_step(programme, permissions),
        "axes": blocks,
        "actions": actions,
        "indicators": indicators,
        "unassigned_indicators": [i for i in indicators if i.axis_id is None],
        "achievements": _achievements_serving(programme, actions),
        "versions": list(_DOCUMENT_VERSIONS(programme=programme.pk)),
        "baseline": baseline,
        "diff": versions.compare(
            dict(baseline.snapshot), versions.snapshot_of(programme, axes, objectives, actions, indicators)
        )
        if baseline
        else None,
        "comments": by_target.get(("programme", None), []),
        "totals": budget_totals(actions),
        "warnings": {a.pk: w for a in actions if (w := _warnings(a, programme))},
        "periods": list(_DOCUMENT_PERIODS(programme=programme.pk)),
        "submission_dispatch": submission_dispatch(user, programme),
    }


def _achievements_serving(programme: Programme, actions: list[Action]) -> list[Achievement]:
    """The achievements of a programme the document read through the gate, each with `served` (the
    actions it serves, from the document's `actions`): read by their link rows rather than a
    prefetch that read and opened the same actions a second time."""
    achievements = list(_ACHIEVEMENTS(programme=programme.pk))
    if achievements:
        _attach(achievements, "evidence", [(f.achievement_id, f) for f in _DOCUMENT_EVIDENCE(programme=programme.pk)])
        by_pk = {a.pk: a for a in actions}
        links: dict[int, list[Action]] = {}
        # Link rows of this programme's achievements (an automatic table, not gated itself).
        for achievement_id, action_id in _DOCUMENT_SERVED(programme=programme.pk):
            if action_id in by_pk:
                links.setdefault(achievement_id, []).append(by_pk[action_id])
        for achievement in achievements:
            achievement.served = links.get(achievement.pk, [])
    return achievements


def _attach(owners: list[Any], relation: str, rows: list[tuple[int, Any]]) -> None:
    """Give each of `owners` its rows of `relation` from (owner id, row) pairs, as a prefetch would."""
    by_owner: dict[int, list[Any]] = {}
    for owner_id, row in rows:
        by_owner.setdefault(owner_id, []).append(row)
    for owner in owners:
        prefetched(owner, relation, by_owner.get(owner.pk, []))


def submission_dispatch(user: User, programme: Programme) -> Any:
    """The dispatch that carried the plan, when `user` may read it (never through the FK:
    that would bypass the gate and show the reference of a dispatch out of their scope)."""
    from chancery.correspondence.models import Dispatch

    if not programme.submission_dispatch_id:
        return None
    return Dispatch.objects.visible_to(user).filter(pk=programme.submission_dispatch_id).first()


def _warnings(action: Action, programme: Programme) -> list[str]:
    action.programme = programme
    return action.date_warnings()


def budget_totals(actions: list[Action]) -> dict[str, dict[str, Decimal]]:
    """Per currency: requested, approved, spent (cancelled actions left out)."""
    totals: dict[str, dict[str, Decimal]] = {}
    for a in actions:
        if a.status == ActionStatus.CANCELLED:
            continue
        bucket = totals.setdefault(a.currency, {"requested": Decimal(0), "approved": Decimal(0), "spent": Decimal(0)})
        bucket["requested"] += a.budget_requested
        bucket["approved"] += a.budget_approved
        bucket["spent"] += a.budget_spent
    return totals


# --------------------------------------------------------------------------- actions


def _given(filters: Mapping[str, Any] | None) -> bool:
    """Whether any filter has a value."""
    return any(value not in (None, "", [], ()) for value in (filters or {}).values())


_ACTION_RELATED = ("programme__mission", "axis__axis_type", "objective__axis", "lead")
# A programme's planning table unfiltered, once the programme was read through the gate: the same
# statement for every programme (`core.statements`).
_TABLE_ACTIONS = Statement(
    lambda programme: _u(Action).filter(programme=programme).select_related(*_ACTION_RELATED)
    .order_by("programme", "axis__position", "position", "pk")
    .prefetch_related(Prefetch("partner_units", queryset=_partner_units_qs()))
)


def action_list(
    user: User, filters: Mapping[str, Any] | None = None, *, programme: Programme | None = None
) -> QuerySet[Action]:
    """Actions `user` may read (of `programme` if given). Filters: programme, axis (id or axis-type
    key), status, priority, lead (id or username, "me"), mission (code), year, q, overdue (truthy)."""
    filters = filters or {}
    qs = _children(Action, user, programme).select_related(*_ACTION_RELATED)
    if programme is not None:
        qs = qs.filter(programme=programme)
    if filters.get("programme"):
        qs = qs.filter(programme_id=filters["programme"])
    axis = filters.get("axis")
    if axis:
        qs = qs.filter(axis_id=int(axis)) if str(axis).isdigit() else qs.filter(axis__axis_type__key=axis)
    for name in ("status", "priority"):
        value = filters.get(name)
        if value:
            qs = qs.filter(**({f"{name}__in": value} if isinstance(value, list | tuple) else {name: value}))
    lead = filters.get("lead")
    if lead == "me":
        qs = qs.filter(lead_id=user.pk)
    elif lead:
        qs = qs.filter(lead_id=int(lead)) if str(lead).isdigit() else qs.filter(lead__username=lead)
    if filters.get("mission"):
        qs = qs.filter(programme__mission__code=filters["mission"])
    if filters.get("year"):
        qs = qs.filter(programme__year=filters["year"])
    text = str(filters.get("q") or "").strip()[:100]
    if text:
        qs = sealed.text_filter(qs, text, ("title", "description"))
    if filters.get("overdue"):
        qs = qs.exclude(status__in=FINISHED_ACTION_STATUSES).filter(
            Q(target_date__lt=timezone.localdate()) | Q(target_date__isnull=True, end_date__lt=timezone.localdate())
        )
    return qs.order_by("programme", "axis__position", "position", "pk")


def actions_table(user: User, programme: Programme, filters: Mapping[str, Any] | None = None) -> QuerySet[Action]:
    """The programme's actions for the filterable table (see `action_list` for filters)."""
    if not _given(filters) and read_through_gate(programme, user):
        return _TABLE_ACTIONS(programme=programme.pk)
    return action_list(user, filters, programme=programme).prefetch_related(
        Prefetch("partner_units", queryset=_partner_units_qs())
    )


def action_detail(user: User, pk: int | str, *, programme: Programme | None = None) -> Action:
    queryset = Action.objects.select_related(
        "programme__mission", "axis__axis_type", "objective__axis", "lead"
    ).prefetch_related(Prefetch("partner_units", queryset=_partner_units_qs()))
    if programme is not None:  # under its programme's URL: an action of another one is missing
        return get_child_or_404(programme, queryset, pk, user=user)
    return get_visible_or_404(queryset, user, pk=pk)


def action_dispatches(user: User, action: Action) -> Any:
    """The dispatches linked to `action` that `user` may read (others stay invisible)."""
    from chancery.correspondence.models import Dispatch

    return Dispatch.objects.visible_to(user).filter(planning_actions=action)


def achievement_dispatches(user: User, achievement: Achievement) -> Any:
    from chancery.correspondence.models import Dispatch

    return Dispatch.objects.visible_to(user).filter(planning_achievements=achievement)


def axis_detail(user: User, pk: int | str, *, programme: Programme | None = None) -> Axis:
    queryset = Axis.objects.select_related("programme__mission", "axis_type")
    if programme is not None:  # under its programme's URL: a child of another one is missing
        return get_child_or_404(programme, queryset, pk, user=user)
    return get_visible_or_404(queryset, user, pk=pk)


# A programme's axes, once it was read through the gate (its planning table's filter, its forms).
_PROGRAMME_AXES = Statement(
    lambda programme: _u(Axis).filter(programme=programme).select_related("axis_type", "programme__mission")
    .order_by("programme", "position", "pk")
)


def axis_list(
    user: User, filters: Mapping[str, Any] | None = None, *, programme: Programme | None = None
) -> QuerySet[Axis]:
    """Axes `user` may read (of `programme` if given). Filters: programme, mission, year, key."""
    filters = filters or {}
    if programme is not None and not _given(filters) and read_through_gate(programme, user):
        return _PROGRAMME_AXES(programme=programme.pk)
    qs = _children(Axis, user, programme).select_related("axis_type", "programme__mission")
    if programme is not None:
        qs = qs.filter(programme=programme)
    if filters.get("programme"):
        qs = qs.filter(programme_id=filters["programme"])
    if filters.get("mission"):
        qs = qs.filter(programme__mission__code=filters["mission"])
    if filters.get("year"):
        qs = qs.filter(programme__year=filters["year"])
    if filters.get("key"):
        qs = qs.filter(axis_type__key=filters["key"])
    return qs.order_by("programme", "position", "pk")


def objective_detail(user: User, pk: int | str) -> Objective:
    return get_visible_or_404(Objective.objects.select_related("axis__programme__mission"), user, pk=pk)


# --------------------------------------------------------------------------- timeline and calendar


@dataclass
class TimelineRow:
    action: Action
    start: date
    end: date
    milestone: bool  # a single date (target only)
    offset_pct: float = 0.0
    width_pct: float = 0.0


def timeline(user: User, programme: Programme) -> dict[str, Any]:
    """Actions by axis with their dates, for a Gantt chart.

    Returns {"start", "end" (the programme period, widened to fit the actions), "months"
    [(date of the 1st, label)], "axes": [{"axis", "rows": [TimelineRow]}], "undated":
    [Action]}. `offset_pct`/`width_pct` place each bar on the period (0–100).
    """
    programme = programme_detail(user, programme.pk)
    actions = list(_actions_qs().filter(programme=programme).order_by("axis__position", "position", "pk"))
    start, end = programme.period_start, programme.period_end
    rows_by_axis: dict[int, list[TimelineRow]] = {}
    undated = []
    for a in actions:
        first = a.start_date or a.target_date or a.end_date
        last = a.end_date or a.target_date or a.start_date
        if first is None or last is None:
            undated.append(a)
            continue
        start, end = min(start, first), max(end, last)
        rows_by_axis.setdefault(a.axis_id, []).append(
            TimelineRow(action=a, start=first, end=last, milestone=a.start_date is None and a.end_date is None)
        )
    span = max((end - start).days + 1, 1)
    for rows in rows_by_axis.values():
        for row in rows:
            row.offset_pct = round(100 * (row.start - start).days / span, 2)
            row.width_pct = max(round(100 * ((row.end - row.start).days + 1) / span, 2), 0.5)
    months = []
    cursor = date(start.year, start.month, 1)
    while cursor <= end:
        months.append((cursor, cursor.strftime("%Y-%m")))
        cursor = date(cursor.year + cursor.month // 12, cursor.month % 12 + 1, 1)
    axes = list(_u(Axis).filter(programme=programme).select_related("axis_type").order_by("position", "pk"))
    return {
        "programme": programme,
        "start": start,
        "end": end,
        "months": months,
        "axes": [{"axis": ax, "rows": rows_by_axis.get(ax.pk, [])} for ax in axes],
        "undated": undated,
        "today_pct": round(100 * (timezone.localdate() - start).days / span, 2)
        if start <= timezone.localdate() <= end
        else None,
    }


def calendar(user: User, year: int, month: int, *, mine_only: bool = False) -> dict[str, Any]:
    """Actions whose key date (target, else end, else start) falls in `year`-`month`.

    Returns {"year", "month", "weeks": [[{"date", "in_month", "actions"}] × 7], "actions",
    "previous": (y, m), "next": (y, m)}. `mine_only`: actions led by `user`.
    """
    first = date(year, month, 1)
    last = date(year, month, _calendar.monthrange(year, month)[1])
    qs = Action.objects.visible_to(user).select_related("programme__mission", "axis__axis_type")
    if mine_only:
        qs = qs.filter(lead_id=user.pk)
    qs = qs.filter(
        Q(target_date__range=(first, last))
        | Q(target_date__isnull=True, end_date__range=(first, last))
        | Q(target_date__isnull=True, end_date__isnull=True, start_date__range=(first, last))
    )
    actions = list(qs.order_by("target_date", "end_date", "start_date", "pk"))
    by_day: dict[date, list[Action]] = {}
    for a in actions:
        if a.key_date:
            by_day.setdefault(a.key_date, []).append(a)
    weeks = []
    for week in _calendar.Calendar(firstweekday=0).monthdatescalendar(year, month):
        weeks.append([{"date": d, "in_month": d.month == month, "actions": by_day.get(d, [])} for d in week])
    previous = (year - 1, 12) if month == 1 else (year, month - 1)
    following = (year + 1, 1) if month == 12 else (year, month + 1)
    return {"year": year, "month": month, "weeks": weeks, "actions": actions, "previous": previous, "next": following}


def _ics_escape(text: str) -> str:
    return (
        text.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def _ics_fold(line: str) -> list[str]:
    """RFC 5545 §3.1: lines longer than 75 octets are folded (CRLF + one space)."""
    out: list[str] = []
    current = ""
    for char in line:
        limit = 75 if not out else 74
        if len((current + char).encode()) > limit:
            out.append(current)
            current = char
        else:
            current += char
    out.append(current)
    return [out[0], *(" " + part for part in out[1:])]


def ics_for_user(user: User, *, host: str = "chancery.invalid") -> str:
    """The agent's own actions (they lead them, and can read them) as an iCalendar feed.

    One all-day VEVENT per dated action: from the start (or key date) to the end (or
    key date), inclusive. Only titles and mission codes are written — no descriptions —
    and no title at all for a protected programme: a feed is synchronised into calendar
    applications outside Chancery, where no marking follows it.
    """
    actions = (
        Action.objects.visible_to(user)
        .filter(lead_id=user.pk)
        .exclude(status=ActionStatus.CANCELLED)
        .select_related("programme__mission")
        .prefetch_related("programme__compartments")
        .order_by("pk")
    )
    stamp = datetime.now(tz=timezone.get_fixed_timezone(0)).strftime("%Y%m%dT%H%M%SZ")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Chancery//Action planning//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "X-WR-CALNAME:" + _ics_escape("Chancery — my actions"),
    ]
    for a in actions:
        first = a.start_date or a.key_date
        last = a.end_date or a.key_date
        if first is None or last is None:
            continue
        if last < first:
            last = first
        protected = a.programme.classification >= Level.RESTRICTED or bool(a.programme.compartments.all())
        summary = f"{'Action #' + str(a.pk) if protected else a.title} ({a.programme.mission.code})"
        lines += [
            "BEGIN:VEVENT",
            f"UID:planning-action-{a.pk}@{host}",
            f"DTSTAMP:{stamp}",
            f"DTSTART;VALUE=DATE:{first.strftime('%Y%m%d')}",
            f"DTEND;VALUE=DATE:{(last + timedelta(days=1)).strftime('%Y%m%d')}",
            "SUMMARY:" + _ics_escape(summary),
            "STATUS:" + ("CONFIRMED" if a.status != ActionStatus.PROPOSED else "TENTATIVE"),
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    folded = [part for line in lines for part in _ics_fold(line)]
    return "\r\n".join(folded) + "\r\n"


# --------------------------------------------------------------------------- versions


def version_list(user: User, programme: Programme) -> QuerySet[ProgrammeVersion]:
    return (
        ProgrammeVersion.objects.visible_to(user)
        .filter(programme=programme)
        .select_related("created_by")
        .defer("snapshot")
        .order_by("-number")
    )


def version_detail(user: User, programme: Programme, number: int) -> ProgrammeVersion:
    return get_visible_or_404(ProgrammeVersion.objects.all(), user, programme=programme, number=number)


def baseline_comparison(user: User, programme: Programme) -> dict[str, Any]:
    """The approved baseline beside the current version.

    Returns {"programme", "baseline" (ProgrammeVersion|None), "current" (snapshot dict),
    "baseline_snapshot" (dict|None), "diff" (versions.Diff|None), "rows": [per action of
    either side: {"id", "baseline": dict|None, "current": dict|None, "state":
    added/removed/changed/same}], "indicators": same for indicators}.
    """
    programme = programme_detail(user, programme.pk)
    current = versions.snapshot(programme)
    baseline = (
        ProgrammeVersion.objects.visible_to(user).filter(pk=programme.baseline_version_id).first()
        if programme.baseline_version_id
        else None
    )
    base = dict(baseline.snapshot) if baseline else None
    diff = versions.compare(base, current) if base is not None else None
    return {
        "programme": programme,
        "marking": programme.marking,
        "baseline": baseline,
        "baseline_snapshot": base,
        "current": current,
        "diff": diff,
        "rows": _side_by_side(base.get("actions", []) if base else [], current["actions"]),
        "indicators": _side_by_side(base.get("indicators", []) if base else [], current["indicators"]),
    }


def compare_versions(user: User, programme: Programme, old: int, new: int | None = None) -> dict[str, Any]:
    """Any two versions (`new` None: the programme as it stands); same shape as baseline_comparison."""
    programme = programme_detail(user, programme.pk)
    old_version = version_detail(user, programme, old)
    new_version = version_detail(user, programme, new) if new is not None else None
    new_snap = dict(new_version.snapshot) if new_version else versions.snapshot(programme)
    return {
        "programme": programme,
        "marking": programme.marking,
        "old": old_version,
        "new": new_version,
        "diff": versions.compare(old_version.snapshot, new_snap),
        "rows": _side_by_side(old_version.snapshot.get("actions", []), new_snap["actions"]),
        "indicators": _side_by_side(old_version.snapshot.get("indicators", []), new_snap["indicators"]),
    }


def _side_by_side(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    old_by_id = {x["id"]: x for x in old}
    new_ids = {x["id"] for x in new}
    rows = []
    for item in new:
        before = old_by_id.get(item["id"])
        state = "added" if before is None else ("same" if _same(before, item) else "changed")
        rows.append({"id": item["id"], "baseline": before, "current": item, "state": state})
    rows += [{"id": x["id"], "baseline": x, "current": None, "state": "removed"} for x in old if x["id"] not in new_ids]
    return rows


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    ignore = {"position"}
    return {k: v for k, v in a.items() if k not in ignore} == {k: v for k, v in b.items() if k not in ignore}


# --------------------------------------------------------------------------- indicators, achievements


def indicator_list(user: User, filters: Mapping[str, Any] | None = None) -> QuerySet[Indicator]:
    filters = filters or {}
    qs = Indicator.objects.visible_to(user).select_related("programme__mission", "axis__axis_type", "objective__axis")
    if filters.get("programme"):
        qs = qs.filter(programme_id=filters["programme"])
    axis = filters.get("axis")
    if axis:
        qs = qs.filter(axis_id=int(axis)) if str(axis).isdigit() else qs.filter(axis__axis_type__key=axis)
    if filters.get("mission"):
        qs = qs.filter(programme__mission__code=filters["mission"])
    if filters.get("year"):
        qs = qs.filter(programme__year=filters["year"])
    return qs.order_by("programme", "position", "pk")


def indicator_detail(user: User, pk: int | str, *, programme: Programme | None = None) -> Indicator:
    queryset = Indicator.objects.select_related("programme__mission", "axis__axis_type")
    if programme is not None:  # under its programme's URL: a child of another one is missing
        return get_child_or_404(programme, queryset, pk, user=user)
    return get_visible_or_404(queryset, user, pk=pk)


def measurement_detail(user: User, pk: int | str) -> Measurement:
    return get_visible_or_404(Measurement.objects.select_related("indicator"), user, pk=pk)


def measurements(user: User, indicator: Indicator) -> QuerySet[Measurement]:
    return (
        Measurement.objects.visible_to(user)
        .filter(indicator=indicator)
        .select_related("recorded_by", "evidence_file")
        .order_by("period_start", "pk")
    )


def achievement_list(
    user: User, programme: Programme | None = None, filters: Mapping[str, Any] | None = None
) -> QuerySet[Achievement]:
    """Achievements `user` may read (of `programme` if given). Filters: kind, year, mission, q."""
    filters = filters or {}
    qs = (
        _children(Achievement, user, programme)
        .select_related("programme__mission")
        .prefetch_related(
            Prefetch("actions", queryset=_u(Action).only("id", "title", "programme_id", "sealed_texts")),
            Prefetch("evidence", queryset=_u(AchievementEvidence)),
        )
    )
    if programme is not None:
        qs = qs.filter(programme=programme)
    if filters.get("programme"):
        qs = qs.filter(programme_id=filters["programme"])
    if filters.get("kind"):
        qs = qs.filter(kind=filters["kind"])
    if filters.get("mission"):
        qs = qs.filter(programme__mission__code=filters["mission"])
    if filters.get("year"):
        qs = qs.filter(date__year=filters["year"])
    text = str(filters.get("q") or "").strip()[:100]
    if text:
        qs = sealed.text_filter(qs, text, ("title", "description", "outlet"))
    return qs.order_by("-date", "-pk")


def achievement_detail(user: User, pk: int | str, *, programme: Programme | None = None) -> Achievement:
    queryset = Achievement.objects.select_related("programme__mission")
    if programme is not None:  # under its programme's URL: a child of another one is missing
        return get_child_or_404(programme, queryset, pk, user=user)
    return get_visible_or_404(queryset, user, pk=pk)


def evidence_detail(user: User, pk: int | str, *, programme: Programme | None = None) -> AchievementEvidence:
    """An achievement's evidence file, for download (404 out of scope)."""
    queryset = AchievementEvidence.objects.select_related("achievement__programme")
    if programme is not None:  # under its programme's URL: a child of another one is missing
        return get_child_or_404(programme, queryset, pk, user=user)
    return get_visible_or_404(queryset, user, pk=pk)


def evidence_file_detail(user: User, pk: int | str, *, programme: Programme | None = None) -> EvidenceFile:
    queryset = EvidenceFile.objects.select_related("programme")
    if programme is not None:  # under its programme's URL: a child of another one is missing
        return get_child_or_404(programme, queryset, pk, user=user)
    return get_visible_or_404(queryset, user, pk=pk)


# --------------------------------------------------------------------------- periodic progress


def periods(user: User, programme: Programme) -> list[dict[str, Any]]:
    """The programme's reporting periods with counts: [{"period", "updated", "missing", "overdue"}]."""
    rows = []
    qs = (
        ReportingPeriod.objects.visible_to(user)
        .filter(programme=programme)
        .annotate(updated=Count("updates", distinct=True), missing_count=_missing_update_count())
        .order_by("start")
    )
    for period in qs:
        missing = period.missing_count
        rows.append(
            {
                "period": period,
                "updated": period.updated,
                "missing": missing,
                "overdue": missing > 0 and services.is_overdue(period),
            }
        )
    return rows


def period_detail(user: User, pk: int | str, *, programme: Programme | None = None) -> ReportingPeriod:
    queryset = ReportingPeriod.objects.select_related("programme__mission")
    if programme is not None:  # under its programme's URL: a child of another one is missing
        return get_child_or_404(programme, queryset, pk, user=user)
    return get_visible_or_404(queryset, user, pk=pk)


def progress_sheet(user: User, period: ReportingPeriod) -> dict[str, Any]:
    """What the one-screen periodic update needs: every open action with its update for the
    period (if any), and every indicator with its measurement for the period (if any)."""
    period = period_detail(user, period.pk)
    programme = period.programme
    actions = list(
        _actions_qs()
        .filter(programme=programme)
        .exclude(status=ActionStatus.CANCELLED)
        .order_by("axis__position", "position", "pk")
    )
    updates = {u.action_id: u for u in _u(ProgressUpdate).filter(period=period)}
    missing = {a.pk for a in services.missing_updates(period=period)}
    indicators = list(_u(Indicator).filter(programme=programme).order_by("position", "pk"))
    values = {
        m.indicator_id: m
        for m in _u(Measurement).filter(
            indicator__programme=programme, period_type=period.period_type, period_start=period.start
        )
    }
    return {
        "programme": programme,
        "period": period,
        "marking": programme.marking,
        "rows": [{"action": a, "update": updates.get(a.pk), "missing": a.pk in missing} for a in actions],
        "indicators": [{"indicator": i, "measurement": values.get(i.pk)} for i in indicators],
        "overdue": services.is_overdue(period) and bool(missing),
        "editable": (not period.closed)
        and services.can_record_progress(user, programme)
        and programme.status in (ProgrammeStatus.APPROVED, ProgrammeStatus.IN_EXECUTION),
    }


@cache
def _missing_update_count_sql() -> str:
    """SQL, on a reporting period's row: how many updates it misses (`services.missing_updates`:
    the actions of its programme not done or cancelled, started by the period's end or undated,
    with no update for it). Written once from the models' tables and columns (see
    `chancery.core.db`): built as nested ORM subqueries (`OuterRef(OuterRef(...))`), compiling the
    count and the filter on it cost about 5 ms of every home page, ten times running them."""
    period, action, update = table(ReportingPeriod), table(Action), table(ProgressUpdate)
    finished = ", ".join(f"'{status}'" for status in FINISHED_ACTION_STATUSES)  # constants of the code
    # Table and column names and constants of the code: no input reaches this text.
    return (
        f"(SELECT COUNT(*) FROM {action} a WHERE a.{column(Action, 'programme')} = "  # noqa: S608
        f"{period}.{column(ReportingPeriod, 'programme')} AND a.{column(Action, 'status')} NOT IN ({finished}) "
        f"AND NOT (a.{column(Action, 'start_date')} IS NOT NULL AND "
        f"a.{column(Action, 'start_date')} > {period}.{column(ReportingPeriod, 'end')}) "
        f"AND NOT EXISTS (SELECT 1 FROM {update} u WHERE u.{column(ProgressUpdate, 'period')} = "
        f"{period}.{column(ReportingPeriod, 'id')} AND u.{column(ProgressUpdate, 'action')} = "
        f"a.{column(Action, 'id')}))"
    )


def _missing_update_count() -> RawSQL:
    """SQL, on a reporting period (the listed table, not aliased): how many updates it misses."""
    return RawSQL(_missing_update_count_sql(), [], output_field=IntegerField())  # noqa: S611 - no user input


def _overdue_periods(user: User) -> QuerySet[ReportingPeriod]:
    today = timezone.localdate()
    return (
        ReportingPeriod.objects.visible_to(user)
        .filter(
            closed=False,
            deadline__lt=today,
            programme__status__in=[ProgrammeStatus.APPROVED, ProgrammeStatus.IN_EXECUTION],
        )
        .annotate(missing_count=_missing_update_count())
        .filter(missing_count__gt=0)
        .select_related("programme__mission")
        .order_by("deadline", "pk")
    )


def overdue_updates(user: User, *, limit: int = 200) -> list[dict[str, Any]]:
    """Periods past their deadline with missing updates, in programmes `user` may read (the
    first `limit`, oldest deadline first), each with how many updates it misses: one query,
    whatever the number of periods, compiled once per reader and rights (`GatedStatement`, one
    for each limit the code asks: the home page's and the default)."""
    statement = _OVERDUE.get(limit)
    if statement is None:
        first_rows = GatedStatement(lambda reader: _overdue_periods(reader)[:limit], Programme)
        statement = _OVERDUE.setdefault(limit, first_rows)
    return [
        {"period": period, "programme": period.programme, "missing_count": period.missing_count}  # type: ignore[attr-defined]
        for period in statement(user)
    ]


_OVERDUE: dict[int, GatedStatement[QuerySet[ReportingPeriod]]] = {}


# --------------------------------------------------------------------------- home


def home_panel(*, user: User) -> dict[str, Any] | None:
    """The planning panel of the home page (template `planning/_home_panel.html`).

    Keys: template, programmes (running this year, visible), to_review (submitted, `user` may
    review or approve), my_actions (open actions led by `user`, next target dates first),
    overdue (periods with missing updates). None without a programme running this year, one to
    review or an action to lead.
    """
    current = first(list(_HOME_CURRENT(user)), 10)
    # Reviewing rights are per desk and region: check the oldest 200 submitted rather than all.
    # Without a reviewing or approving role anywhere, nobody's submission is theirs to review
    # (`can_review`, `can_approve`): no query (a mission agent's home, every time).
    to_review = first([], 10)
    if user.units_with(Capability.REVIEW_PROGRAMME) or user.units_with(Capability.APPROVE_PROGRAMME):
        to_review = first(
            (
                p
                for p in policy.read_through_gate(user, _HOME_SUBMITTED(user))
                if services.can_approve(user, p) or services.can_review(user, p)
            ),
            10,
        )
    my_actions = first(list(_HOME_MY_ACTIONS(user)), 10)
    if not (current or to_review or my_actions):
        return None
    return {
        "template": "planning/_home_panel.html",
        "marking": page_marking([*to_review, *(a.programme for a in my_actions)]),
        "year": timezone.localdate().year,
        "programmes": current,
        "to_review": to_review,
        "my_actions": my_actions,
        "overdue": first(overdue_updates(user, limit=11), 10),
    }


# The home panel's reads, compiled once per reader and rights (`GatedStatement`: every page view of
# the home asked them again, four gated reads built and compiled each time; the fourth is
# `overdue_updates`'), each one row past what the panel shows (`first` tells from it whether there
# are more).
_HOME_CURRENT = GatedStatement(
    lambda user: Programme.objects.visible_to(user)
    .filter(year__lte=timezone.localdate().year, end_year__gte=timezone.localdate().year)
    .select_related("mission", "data_key")  # the key opens the sealed titles: no query for it
    .order_by("mission__code")[:11],
    Programme,
)
_HOME_SUBMITTED = GatedStatement(
    lambda user: Programme.objects.visible_to(user)
    .filter(status=ProgrammeStatus.SUBMITTED)
    .select_related("mission", "mission__hq_desk", "data_key")
    .order_by("submitted_at")[:200],
    Programme,
)
_HOME_MY_ACTIONS = GatedStatement(
    lambda user: Action.objects.visible_to(user)
    .filter(lead_id=user.pk)
    .exclude(status__in=FINISHED_ACTION_STATUSES)
    .select_related("programme__mission")
    .order_by("target_date", "end_date", "pk")[:11],
    Programme,
)


def stats(user: User, programme: Programme) -> dict[str, Any]:
    """Figures for a programme dashboard: actions by status, average progress, budgets."""
    qs = Action.objects.visible_to(user).filter(programme=programme)
    by_status = dict(qs.values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
    sums = qs.exclude(status=ActionStatus.CANCELLED).aggregate(
        requested=Sum("budget_requested"), approved=Sum("budget_approved"), spent=Sum("budget_spent")
    )
    total = sum(by_status.values())
    done = by_status.get(ActionStatus.DONE, 0)
    progress = list(qs.exclude(status=ActionStatus.CANCELLED).values_list("progress", flat=True))
    return {
        "by_status": by_status,
        "total": total,
        "done_pct": round(100 * done / total) if total else 0,
        "average_progress": round(sum(progress) / len(progress)) if progress else 0,
        "budgets": sums,
        "achievements": Achievement.objects.visible_to(user).filter(programme=programme).count(),
    }
