"""Programme snapshots and their comparison.

`snapshot(programme)` freezes the whole structure as plain JSON (axes, objectives, actions
with dates, budgets and status, indicators with their targets). `compare(old, new)` tells
what changed between two snapshots: actions added, removed, re-dated, re-budgeted, with a
new status or otherwise edited; indicator targets revised. `compare_with_baseline` compares
the approved baseline with the programme as it stands.

Snapshots name people by username and units by code, and name linked dispatches by id
only: a snapshot carries no text of the correspondence.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from chancery.core.statements import Statement
from chancery.planning.models import (
    Action,
    Axis,
    Indicator,
    Objective,
    Programme,
    ProgrammeVersion,
    partner_units_prefetch,
)

SCHEMA = 1
DATE_FIELDS = ("start_date", "end_date", "target_date")
BUDGET_FIELDS = ("budget_requested", "budget_approved", "budget_spent", "currency")
TARGET_FIELDS = ("approved_target", "revised_target", "target_year")
OTHER_ACTION_FIELDS = (
    "title",
    "description",
    "axis",
    "objective",
    "lead",
    "priority",
    "progress",
    "risk_note",
    "partner_units",
)
OTHER_INDICATOR_FIELDS = ("label", "unit", "direction", "data_source", "baseline_value", "baseline_year", "axis")


def _d(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _n(value: Decimal | None) -> str | None:
    """Decimals as normalised strings (`60`, `12.5`), so equal amounts compare equal."""
    if value is None:
        return None
    text = format(Decimal(value).normalize(), "f")
    return text


def _objects(model: Any) -> Any:
    return model.objects.unrestricted("snapshot of an authorised programme")


def snapshot(programme: Programme) -> dict[str, Any]:
    """The whole programme as a JSON-serialisable dict."""
    axes = list(_objects(Axis).filter(programme=programme).select_related("axis_type").order_by("position", "pk"))
    objectives = list(
        _objects(Objective).filter(axis__programme=programme).select_related("axis")
        .order_by("axis__position", "position", "pk")
    )
    actions = list(
        _objects(Action)
        .filter(programme=programme)
        .select_related("lead")
        .prefetch_related(partner_units_prefetch())
        .order_by("axis__position", "position", "pk")
    )
    indicators = list(_objects(Indicator).filter(programme=programme).order_by("position", "pk"))
    return snapshot_of(programme, axes, objectives, actions, indicators)


# The dispatches linked to a programme's actions (ids): one statement for every programme.
_ACTION_DISPATCHES = Statement(
    lambda programme: Action.dispatches.through.objects.filter(action__programme=programme)
    .values_list("action_id", "dispatch_id")
)


def snapshot_of(
    programme: Programme,
    axes: list[Axis],
    objectives: list[Objective],
    actions: list[Action],
    indicators: list[Indicator],
) -> dict[str, Any]:
    """`snapshot` of a programme whose parts a page has loaded already (axes with `axis_type`,
    actions with `lead` and `partner_units` prefetched): the programme document compares
    with its baseline without reading them all again (a fifth of its selector)."""
    dispatch_ids: dict[int, list[int]] = {}
    for action_id, dispatch_id in _ACTION_DISPATCHES(programme=programme.pk):
        dispatch_ids.setdefault(action_id, []).append(dispatch_id)
    partners = {x.pk: [u.code for u in x.partner_units.all()] for x in actions}
    return assemble(programme, axes, objectives, actions, indicators, partners=partners, dispatches=dispatch_ids)


def assemble(
    programme: Programme,
    axes: list[Axis],
    objectives: list[Objective],
    actions: list[Action],
    indicators: list[Indicator],
    *,
    partners: dict[int, list[str]],
    dispatches: dict[int, list[int]],
) -> dict[str, Any]:
    """The snapshot dict from objects already in memory (axes with `axis_type`, actions with
    `lead` loaded); `partners`/`dispatches` map an action id to unit codes / dispatch ids."""
    axis_keys = {a.pk: a.axis_type.key for a in axes}
    axis_order = {a.pk: (a.position, a.pk) for a in axes}
    axes = sorted(axes, key=lambda a: axis_order[a.pk])
    objectives = sorted(objectives, key=lambda o: (axis_order.get(o.axis_id, (0, 0)), o.position, o.pk))
    actions = sorted(actions, key=lambda x: (axis_order.get(x.axis_id, (0, 0)), x.position, x.pk))
    indicators = sorted(indicators, key=lambda i: (i.position, i.pk))
    return {
        "schema": SCHEMA,
        "programme": {
            "id": programme.pk,
            "mission": programme.mission.code,
            "year": programme.year,
            "end_year": programme.last_year,
            "title": programme.title,
            "summary": programme.summary,
            "status": programme.status,
            "classification": int(programme.classification),
        },
        "axes": [
            {
                "id": a.pk,
                "key": a.axis_type.key,
                "name": a.axis_type.name_fr,
                "narrative": a.narrative,
                "position": a.position,
                "objectives": [
                    {"id": o.pk, "title": o.title, "description": o.description, "position": o.position}
                    for o in objectives
                    if o.axis_id == a.pk
                ],
            }
            for a in axes
        ],
        "actions": [
            {
                "id": x.pk,
                "axis": axis_keys.get(x.axis_id),
                "objective": x.objective_id,
                "title": x.title,
                "description": x.description,
                "lead": x.lead.username if x.lead else None,
                "partner_units": sorted(partners.get(x.pk, [])),
                "start_date": _d(x.start_date),
                "end_date": _d(x.end_date),
                "target_date": _d(x.target_date),
                "priority": x.priority,
                "budget_requested": _n(x.budget_requested),
                "budget_approved": _n(x.budget_approved),
                "budget_spent": _n(x.budget_spent),
                "currency": x.currency,
                "status": x.status,
                "progress": x.progress,
                "risk_note": x.risk_note,
                "dispatches": sorted(dispatches.get(x.pk, [])),
                "position": x.position,
            }
            for x in actions
        ],
        "indicators": [
            {
                "id": i.pk,
                "axis": axis_keys.get(i.axis_id) if i.axis_id else None,
                "objective": i.objective_id,
                "label": i.label,
                "unit": i.unit,
                "direction": i.direction,
                "data_source": i.data_source,
                "baseline_value": _n(i.baseline_value),
                "baseline_year": i.baseline_year,
                "approved_target": _n(i.approved_target),
                "revised_target": _n(i.revised_target),
                "target_year": i.target_year,
                "position": i.position,
            }
            for i in indicators
        ],
    }


@dataclass
class Change:
    """One changed item: `changes` maps a field to (old, new)."""

    id: int
    title: str
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)


@dataclass
class Diff:
    """What changed from an old snapshot to a new one."""

    actions_added: list[dict[str, Any]] = field(default_factory=list)
    actions_removed: list[dict[str, Any]] = field(default_factory=list)
    actions_redated: list[Change] = field(default_factory=list)
    actions_rebudgeted: list[Change] = field(default_factory=list)
    actions_status_changed: list[Change] = field(default_factory=list)
    actions_edited: list[Change] = field(default_factory=list)
    indicators_added: list[dict[str, Any]] = field(default_factory=list)
    indicators_removed: list[dict[str, Any]] = field(default_factory=list)
    indicators_target_revised: list[Change] = field(default_factory=list)
    indicators_edited: list[Change] = field(default_factory=list)
    axes_added: list[str] = field(default_factory=list)
    axes_removed: list[str] = field(default_factory=list)
    budget_totals: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return not any(getattr(self, name) for name in self.__dataclass_fields__ if name != "budget_totals")

    @property
    def counts(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in self.__dataclass_fields__ if name != "budget_totals"}

    def changed_action_ids(self) -> set[int]:
        ids = {a["id"] for a in self.actions_added}
        for group in (self.actions_redated, self.actions_rebudgeted, self.actions_status_changed, self.actions_edited):
            ids.update(c.id for c in group)
        return ids

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for group in (
            "actions_redated",
            "actions_rebudgeted",
            "actions_status_changed",
            "actions_edited",
            "indicators_target_revised",
            "indicators_edited",
        ):
            for item in data[group]:
                item["changes"] = {k: {"old": v[0], "new": v[1]} for k, v in item["changes"].items()}
        data["is_empty"] = self.is_empty
        return data


def _changes(old: dict[str, Any], new: dict[str, Any], names: tuple[str, ...]) -> dict[str, tuple[Any, Any]]:
    return {name: (old.get(name), new.get(name)) for name in names if old.get(name) != new.get(name)}


def _totals(snap: dict[str, Any]) -> dict[str, dict[str, Decimal]]:
    totals: dict[str, dict[str, Decimal]] = {}
    for action in snap.get("actions", []):
        if action.get("status") == "cancelled":
            continue
        bucket = totals.setdefault(
            action.get("currency") or "EUR",
            {
                "budget_requested": Decimal(0),
                "budget_approved": Decimal(0),
                "budget_spent": Decimal(0),
            },
        )
        for name in bucket:
            bucket[name] += Decimal(action.get(name) or 0)
    return totals


def compare(old: dict[str, Any], new: dict[str, Any]) -> Diff:
    """A structured diff between two snapshots of the same programme (items matched by id)."""
    diff = Diff()
    old_actions = {a["id"]: a for a in old.get("actions", [])}
    new_actions = {a["id"]: a for a in new.get("actions", [])}
    diff.actions_added = [a for pk, a in new_actions.items() if pk not in old_actions]
    diff.actions_removed = [a for pk, a in old_actions.items() if pk not in new_actions]
    for pk, after in new_actions.items():
        before = old_actions.get(pk)
        if before is None:
            continue
        title = after["title"]
        if changes := _changes(before, after, DATE_FIELDS):
            diff.actions_redated.append(Change(pk, title, changes))
        if changes := _changes(before, after, BUDGET_FIELDS):
            diff.actions_rebudgeted.append(Change(pk, title, changes))
        if changes := _changes(before, after, ("status",)):
            diff.actions_status_changed.append(Change(pk, title, changes))
        if changes := _changes(before, after, OTHER_ACTION_FIELDS):
            diff.actions_edited.append(Change(pk, title, changes))
    old_indicators = {i["id"]: i for i in old.get("indicators", [])}
    new_indicators = {i["id"]: i for i in new.get("indicators", [])}
    diff.indicators_added = [i for pk, i in new_indicators.items() if pk not in old_indicators]
    diff.indicators_removed = [i for pk, i in old_indicators.items() if pk not in new_indicators]
    for pk, after in new_indicators.items():
        before = old_indicators.get(pk)
        if before is None:
            continue
        if changes := _changes(before, after, TARGET_FIELDS):
            diff.indicators_target_revised.append(Change(pk, after["label"], changes))
        if changes := _changes(before, after, OTHER_INDICATOR_FIELDS):
            diff.indicators_edited.append(Change(pk, after["label"], changes))
    old_axes = [a["key"] for a in old.get("axes", [])]
    new_axes = [a["key"] for a in new.get("axes", [])]
    diff.axes_added = [k for k in new_axes if k not in old_axes]
    diff.axes_removed = [k for k in old_axes if k not in new_axes]
    old_totals, new_totals = _totals(old), _totals(new)
    for currency in sorted(set(old_totals) | set(new_totals)):
        for name in ("budget_requested", "budget_approved", "budget_spent"):
            before_total = old_totals.get(currency, {}).get(name, Decimal(0))
            after_total = new_totals.get(currency, {}).get(name, Decimal(0))
            diff.budget_totals.setdefault(currency, {})[name] = _n(after_total - before_total) or "0"
            diff.budget_totals[currency][f"{name}_old"] = _n(before_total) or "0"
            diff.budget_totals[currency][f"{name}_new"] = _n(after_total) or "0"
    return diff


def baseline_snapshot(programme: Programme) -> dict[str, Any] | None:
    if programme.baseline_version_id is None:
        return None
    version = ProgrammeVersion.objects.unrestricted("baseline of an authorised programme").get(
        pk=programme.baseline_version_id
    )
    return dict(version.snapshot)


def compare_with_baseline(programme: Programme) -> Diff | None:
    """The approved baseline against the programme as it stands; None before approval."""
    base = baseline_snapshot(programme)
    if base is None:
        return None
    return compare(base, snapshot(programme))


def compare_versions(programme: Programme, old_number: int, new_number: int | None = None) -> Diff:
    """Version `old_number` against version `new_number` (None: the programme as it stands)."""
    versions = ProgrammeVersion.objects.unrestricted("versions of an authorised programme").filter(programme=programme)
    old = versions.get(number=old_number).snapshot
    new = snapshot(programme) if new_number is None else versions.get(number=new_number).snapshot
    return compare(old, new)


def structure(snap: dict[str, Any]) -> dict[str, Any]:
    """A snapshot without ids, positions or status — what a spreadsheet round trip must keep.

    Objectives are named by title; actions and indicators are listed in order per axis.
    """
    objective_titles = {o["id"]: o["title"] for a in snap["axes"] for o in a["objectives"]}
    skip = {"id", "position", "dispatches"}

    def clean(item: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in item.items() if k not in skip}
        if "objective" in out:
            out["objective"] = objective_titles.get(out["objective"]) if out["objective"] else None
        return out

    return {
        "axes": [
            {"key": a["key"], "narrative": a["narrative"], "objectives": [o["title"] for o in a["objectives"]]}
            for a in snap["axes"]
        ],
        "actions": [clean(a) for a in snap["actions"]],
        "indicators": [clean(i) for i in snap["indicators"]],
    }
