"""Dashboard reads: every figure aggregated in the database, through the gate of `user`.

Each dashboard runs a fixed number of grouped queries (one per kind of figure), whatever
the number of missions: programmes are restricted with `Programme.objects.visible_to(user)`,
their children with the same subquery, dispatches with `Dispatch.objects.visible_to(user)`.
A record the viewer may not see is never counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from statistics import median
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from chancery.correspondence.models import (
    RELEASED_STATUSES,
    Dispatch,
    DispatchQuerySet,
    Routing,
    RoutingKind,
    RoutingStatus,
)
from chancery.organisation.models import Unit, UnitKind
from chancery.planning.models import Achievement, Action, ActionStatus, AxisType, Indicator, Programme
from chancery.reporting import figures, texts

if TYPE_CHECKING:
    from chancery.accounts.models import User

OPEN_ROUTING = (RoutingStatus.PENDING, RoutingStatus.ACKNOWLEDGED, RoutingStatus.ASSIGNED)
UNITS = "the units directory is open to every agent"


# --------------------------------------------------------------------------- filters


@dataclass
class Filters:
    year: int
    region: Unit | None = None
    volet: AxisType | None = None
    mission: Unit | None = None
    ignored: dict[str, str] = field(default_factory=dict)  # parameter → the unknown value

    def query(self, **extra: Any) -> dict[str, Any]:
        """The filters as URL parameters (for drill-down links and exports)."""
        params: dict[str, Any] = {"year": self.year}
        if self.region is not None:
            params["region"] = self.region.code
        if self.volet is not None:
            params["volet"] = self.volet.key
        if self.mission is not None:
            params["mission"] = self.mission.code
        params.update({k: v for k, v in extra.items() if v not in (None, "")})
        return params


def regions() -> list[Unit]:
    return list(Unit.objects.unrestricted(UNITS).filter(kind=UnitKind.REGION).order_by("code"))


def volets() -> list[AxisType]:
    return list(AxisType.objects.filter(is_active=True).order_by("position", "key"))


def parse_filters(params: Mapping[str, Any], *, today: date | None = None) -> Filters:
    """Filters from request parameters. An unknown value is ignored and reported in
    `ignored` (pages show a message, the API answers 400)."""
    today = today or timezone.localdate()
    result = Filters(year=today.year)
    year = str(params.get("year") or "").strip()
    if year:
        if year.isdigit() and 2000 <= int(year) <= 2100:
            result.year = int(year)
        else:
            result.ignored["year"] = year[:40]
    region = str(params.get("region") or "").strip()
    if region:
        result.region = Unit.objects.unrestricted(UNITS).filter(kind=UnitKind.REGION, code=region).first()
        if result.region is None:
            result.ignored["region"] = region[:40]
    volet = str(params.get("volet") or "").strip()
    if volet:
        result.volet = AxisType.objects.filter(key=volet).first()
        if result.volet is None:
            result.ignored["volet"] = volet[:40]
    mission = str(params.get("mission") or "").strip()
    if mission:
        result.mission = Unit.objects.unrestricted(UNITS).filter(kind=UnitKind.MISSION, code=mission).first()
        if result.mission is None:
            result.ignored["mission"] = mission[:40]
    return result


def ignored_message(ignored: Mapping[str, str]) -> str:
    """The message naming unknown filter values (parameter → value)."""
    return _("Unknown filter values were ignored: %(values)s.") % {
        "values": ", ".join(f"{k}={v}" for k, v in sorted(ignored.items()))
    }


# --------------------------------------------------------------------------- scoped querysets


def programmes(user: User, filters: Filters) -> QuerySet[Programme]:
    """Programmes in the viewer's scope covering the year, within the region/mission."""
    qs = Programme.objects.visible_to(user).filter(year__lte=filters.year, end_year__gte=filters.year)
    if filters.region is not None:
        qs = qs.filter(mission__parent=filters.region)
    if filters.mission is not None:
        qs = qs.filter(mission=filters.mission)
    return qs


UNDER_GATED_PROGRAMMES = "children of programmes read through the gate (their ids come from visible_to)"


def _children(model: Any, user: User, filters: Filters, programme_ids: list[int] | None) -> Any:
    """Rows of `model` under the viewer's programmes. With `programme_ids` (already read
    through the gate by the caller) the SQL is a plain IN list, cheaper to compile and plan
    than the gate's subquery repeated in every grouped query of a dashboard."""
    if programme_ids is not None:
        return model.objects.unrestricted(UNDER_GATED_PROGRAMMES).filter(programme_id__in=programme_ids)
    return model.objects.visible_to(user).filter(programme__in=programmes(user, filters).values("pk"))


def actions(user: User, filters: Filters, programme_ids: list[int] | None = None) -> QuerySet[Action]:
    qs = _children(Action, user, filters, programme_ids)
    if filters.volet is not None:
        qs = qs.filter(axis__axis_type=filters.volet)
    return qs.exclude(status=ActionStatus.CANCELLED)


def indicators(user: User, filters: Filters, programme_ids: list[int] | None = None) -> QuerySet[Indicator]:
    qs = _children(Indicator, user, filters, programme_ids)
    if filters.volet is not None:
        qs = qs.filter(axis__axis_type=filters.volet)
    return figures.with_status(qs, expected=figures.expected_share(filters.year, timezone.localdate()))


def achievements(user: User, filters: Filters, programme_ids: list[int] | None = None) -> QuerySet[Achievement]:
    qs = _children(Achievement, user, filters, programme_ids)
    if filters.volet is not None:
        qs = qs.filter(actions__axis__axis_type=filters.volet).distinct()
    return qs


def attributions(user: User, *, units: Any = None, within: DispatchQuerySet | None = None) -> QuerySet[Routing]:
    """Attributions (*pour attribution*) of dispatches the viewer may read (of `within`, a set of
    them read through the gate, when given)."""
    routings = Routing.objects.visible_to(user) if within is None else Routing.objects.of_dispatches(within)
    qs = routings.filter(kind=RoutingKind.ACTION, dispatch__status__in=RELEASED_STATUSES)
    if units is not None:
        qs = qs.filter(unit__in=units)
    return qs


# --------------------------------------------------------------------------- grouped figures


def _empty_actions() -> dict[str, Any]:
    return {"total": 0, **dict.fromkeys(figures.ACTION_BUCKETS, 0), "budgets": {}}


def action_figures(qs: QuerySet[Action], group: str | None) -> dict[Any, dict[str, Any]]:
    """Completion counts and budgets per `group` (a field path; None = one total under key None).
    Two queries: counts, then budgets per currency."""
    today = timezone.localdate()
    counts = {b: Count("pk", filter=figures.bucket_q(b, today)) for b in figures.ACTION_BUCKETS}
    keys = [group] if group else []
    result: dict[Any, dict[str, Any]] = {}
    rows = (
        qs.order_by().values(*keys).annotate(total=Count("pk"), **counts)
        if keys
        else [qs.order_by().aggregate(total=Count("pk"), **counts)]
    )
    for row in rows:
        key = row.pop(group) if group else None
        result[key] = {**_empty_actions(), **row}
    budget_rows = (
        qs.order_by()
        .values(*keys, "currency")
        .annotate(requested=Sum("budget_requested"), approved=Sum("budget_approved"), spent=Sum("budget_spent"))
    )
    for row in budget_rows:
        key = row[group] if group else None
        entry = result.setdefault(key, _empty_actions())
        entry["budgets"][row["currency"]] = {
            "requested": row["requested"] or Decimal(0),
            "approved": row["approved"] or Decimal(0),
            "spent": row["spent"] or Decimal(0),
        }
    for entry in result.values():
        entry["done_pct"] = round(100 * entry["done"] / entry["total"]) if entry["total"] else 0
    return result


def indicator_figures(qs: QuerySet[Indicator], group: str | None) -> dict[Any, dict[str, int]]:
    """Indicator counts by status per `group` (one query)."""
    keys = [group] if group else []
    result: dict[Any, dict[str, int]] = {}
    for row in qs.order_by().values(*keys, "status").annotate(n=Count("pk")):
        entry = result.setdefault(row[group] if group else None, dict.fromkeys(figures.INDICATOR_STATUSES, 0))
        entry[row["status"]] = row["n"]
    return result


def achievement_counts(qs: QuerySet[Achievement], group: str | None) -> dict[Any, int]:
    if not group:
        return {None: qs.order_by().count()}
    return {row[group]: row["n"] for row in qs.order_by().values(group).annotate(n=Count("pk", distinct=True))}


def _sparklines(qs: Any) -> dict[int, list[float | None]]:
    """Per programme: the attainment of each indicator (one query; for the table's sparklines)."""
    lines: dict[int, list[float | None]] = {}
    for pid, base, target, actual in qs.order_by("programme_id", "position", "pk").values_list(
        "programme_id", "base", "target", "actual"
    ):
        lines.setdefault(pid, []).append(figures.attainment(base, target, actual))
    return lines


# --------------------------------------------------------------------------- dashboards


def overview(user: User, filters: Filters) -> dict[str, Any]:
    """The region / ministry dashboard: totals, one row per region, one row per mission.

    A fixed number of queries (programmes, action counts and budgets ×3 groupings,
    indicator statuses ×3, achievements ×3, sparklines), independent of the missions count.
    """
    progs = list(programmes(user, filters).select_related("mission", "mission__parent").order_by("mission__code"))
    ids = [p.pk for p in progs]
    acts, inds, achs = actions(user, filters, ids), indicators(user, filters, ids), achievements(user, filters, ids)
    by_prog = action_figures(acts, "programme_id")
    ind_by_prog = indicator_figures(inds, "programme_id")
    ach_by_prog = achievement_counts(achs, "programme_id")
    lines = _sparklines(inds)
    rows = []
    for p in progs:
        a = by_prog.get(p.pk, _empty_actions() | {"done_pct": 0})
        rows.append(
            {
                "programme": p,
                "mission": p.mission,
                "region": p.mission.parent,
                "title": texts.programme_title(p),
                "actions": a,
                "indicators": ind_by_prog.get(p.pk, dict.fromkeys(figures.INDICATOR_STATUSES, 0)),
                "achievements": ach_by_prog.get(p.pk, 0),
                "sparkline": lines.get(p.pk, []),
            }
        )
    region_group = "programme__mission__parent_id"
    reg_actions = action_figures(acts, region_group)
    reg_inds = indicator_figures(inds, region_group)
    reg_achs = achievement_counts(achs, region_group)
    region_rows = [
        {
            "region": r,
            "actions": reg_actions.get(r.pk, _empty_actions() | {"done_pct": 0}),
            "indicators": reg_inds.get(r.pk, dict.fromkeys(figures.INDICATOR_STATUSES, 0)),
            "achievements": reg_achs.get(r.pk, 0),
            "programmes": sum(1 for p in progs if p.mission.parent_id == r.pk),
        }
        for r in regions()
        if r.pk in reg_actions or any(p.mission.parent_id == r.pk for p in progs)
    ]
    totals_actions = action_figures(acts, None).get(None, _empty_actions() | {"done_pct": 0})
    return {
        "filters": filters,
        "rows": rows,
        "region_rows": region_rows,
        "totals": {
            "programmes": len(progs),
            "actions": totals_actions,
            "indicators": indicator_figures(inds, None).get(None, dict.fromkeys(figures.INDICATOR_STATUSES, 0)),
            "achievements": achievement_counts(achs, None)[None],
        },
        "programme_list": progs,
    }


def mission_dashboard(user: User, programme: Programme) -> dict[str, Any]:
    """One programme (read through the gate by the caller): completion by volet, indicators
    with status, budget, upcoming and overdue actions, recent achievements, dispatches
    awaiting action by the mission and their age."""
    today = timezone.localdate()
    filters = Filters(year=programme.year, mission=programme.mission)
    acts = Action.objects.visible_to(user).filter(programme=programme).exclude(status=ActionStatus.CANCELLED)
    by_axis = action_figures(acts, "axis_id")
    axes = list(_axes(user, programme))
    ind_qs = figures.with_status(
        Indicator.objects.visible_to(user).filter(programme=programme),
        expected=figures.expected_share(programme.year, today),
    )
    inds = list(ind_qs.order_by("position", "pk"))
    for ind in inds:
        ind.gap = (ind.actual - ind.target) if ind.actual is not None and ind.target is not None else None
        ind.display_label = texts.indicator_label(ind)
    open_acts = acts.exclude(status=ActionStatus.DONE)
    upcoming = list(
        open_acts.exclude(figures.late_q(today))
        .filter(Q(target_date__gte=today) | Q(target_date__isnull=True, end_date__gte=today))
        .filter(
            Q(target_date__lte=today + timedelta(days=60))
            | Q(target_date__isnull=True, end_date__lte=today + timedelta(days=60))
        )
        .select_related("axis__axis_type", "lead")
        .order_by("target_date", "end_date", "pk")[:10]
    )
    overdue = list(
        open_acts.filter(figures.late_q(today))
        .select_related("axis__axis_type", "lead")
        .order_by("target_date", "pk")[:10]
    )
    recent = list(Achievement.objects.visible_to(user).filter(programme=programme).order_by("-date", "-pk")[:5])
    # The gate over the dispatches with an open attribution to the mission only (`within`): over
    # every dispatch the reader may read, then the mission's, it took 1.8 s for a director at 1M.
    with_open_attribution = Dispatch.objects.visible_to(user).filter(
        routings__unit_id=programme.mission_id, routings__kind=RoutingKind.ACTION, routings__status__in=OPEN_ROUTING
    )
    awaiting = list(
        attributions(user, units=[programme.mission_id], within=with_open_attribution)
        .filter(status__in=OPEN_ROUTING)
        .select_related("dispatch")
        .order_by("dispatch__sent_at", "pk")[:20]
    )
    awaiting_rows = [
        {
            "routing": r,
            "age_days": (today - timezone.localdate(r.dispatch.sent_at)).days if r.dispatch.sent_at else None,
        }
        for r in awaiting
    ]
    return {
        "programme": programme,
        "filters": filters,
        "totals": action_figures(acts, None).get(None, _empty_actions() | {"done_pct": 0}),
        "axes": [
            {
                "axis": axis,
                "name": axis.axis_type.name,
                "actions": by_axis.get(axis.pk, _empty_actions() | {"done_pct": 0}),
            }
            for axis in axes
        ],
        "indicators": inds,
        "indicator_counts": indicator_figures(ind_qs, None).get(None, dict.fromkeys(figures.INDICATOR_STATUSES, 0)),
        "upcoming": [{"record": a, "title": texts.action_title(a), "date": a.key_date} for a in upcoming],
        "overdue": [{"record": a, "title": texts.action_title(a), "date": a.key_date} for a in overdue],
        "achievements": [{"record": a, "title": texts.achievement_title(a), "date": a.date} for a in recent],
        "achievement_total": Achievement.objects.visible_to(user).filter(programme=programme).count(),
        "awaiting": awaiting_rows,
    }


def _axes(user: User, programme: Programme) -> Any:
    from chancery.planning.models import Axis

    return (
        Axis.objects.visible_to(user).filter(programme=programme).select_related("axis_type").order_by("position", "pk")
    )


def _percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(share * (len(ordered) - 1))))
    return ordered[index]


def _scope_between(user: User, start: date, end: date) -> Q | None:
    """The dispatches of these dates among the rows naming what `user` may read (`gate_scope`: one
    range of an index per kind of row), as a condition that only narrows: `visible_to` still
    decides. Without it the year's dispatches were read from the date index and each tested at
    the gate (a desk officer at a million dispatches: 90,000 of them for the 7,700 they may read)."""
    from chancery.correspondence.models import DispatchAccess, among_ids_q, gate_scope

    parts = gate_scope(user)
    if parts is None:
        return None
    ids = []
    for part in parts:
        dated = "dispatch_dated" if part.model is DispatchAccess else "dated"
        ids.append(part.filter(**{f"{dated}__gte": start, f"{dated}__lte": end}).values("dispatch_id"))
    return among_ids_q(ids)


def correspondence(user: User, filters: Filters) -> dict[str, Any]:
    """Volumes by sending unit and month, response times to attributions, overdue attributions.

    Volumes and overdue counts are grouped in SQL; response times fetch one column of
    durations (answered − sent) for the year and take the median and 90th percentile.
    """
    today = timezone.localdate()
    sent = Dispatch.objects.visible_to(user).released().filter(dated__year=filters.year)
    year_rows = _scope_between(user, date(filters.year, 1, 1), date(filters.year, 12, 31))
    if year_rows is not None:
        sent = sent.filter(year_rows)
    if filters.region is not None:
        sent = sent.filter(sending_unit__path__startswith=filters.region.path)
    if filters.mission is not None:
        sent = sent.filter(sending_unit=filters.mission)
    volume_rows = (
        sent.order_by()
        .annotate(month=TruncMonth("dated"))
        .values("sending_unit__code", "month")
        .annotate(n=Count("pk"))
        .order_by("sending_unit__code", "month")
    )
    volumes: dict[str, list[int]] = {}
    row: Any
    for row in volume_rows:
        months = volumes.setdefault(row["sending_unit__code"], [0] * 12)
        months[row["month"].month - 1] += row["n"]
    volume_table: list[dict[str, Any]] = [
        {"unit": code, "months": months, "total": sum(months)} for code, months in sorted(volumes.items())
    ]
    month_totals = [sum(months[m] for months in volumes.values()) for m in range(12)]
    # The attributions' figures from one reading of them (answered or open: each row once), not
    # three statements that each read the reader's dispatches of the year through the gate again
    # (a desk officer at a million dispatches: 0.1 + 0.23 + 0.22 s on PostgreSQL).
    durations: list[float] = []
    by_unit_durations: dict[str, list[float]] = {}
    overdue: dict[str, int] = {}
    open_rows: dict[str, int] = {}
    attributed = attributions(user, within=sent).filter(
        Q(answered_at__isnull=False, dispatch__sent_at__isnull=False) | Q(status__in=OPEN_ROUTING)
    )
    for code, answered_at, sent_at, status, due_date in attributed.values_list(
        "unit__code", "answered_at", "dispatch__sent_at", "status", "due_date"
    ):
        if status in OPEN_ROUTING:
            open_rows[code] = open_rows.get(code, 0) + 1
            if due_date is not None and due_date < today:
                overdue[code] = overdue.get(code, 0) + 1
        if answered_at is not None and sent_at is not None:
            days = (answered_at - sent_at).total_seconds() / 86400
            durations.append(days)
            by_unit_durations.setdefault(code, []).append(days)
    return {
        "filters": filters,
        "volumes": volume_table,
        "month_totals": month_totals,
        "total": sum(month_totals),
        "response": {
            "answered": len(durations),
            "median": median(durations) if durations else None,
            "p90": _percentile(durations, 0.9),
        },
        "response_by_unit": [
            {"unit": code, "answered": len(ds), "median": median(ds), "p90": _percentile(ds, 0.9)}
            for code, ds in sorted(by_unit_durations.items())
        ],
        "overdue": [
            {"unit": code, "overdue": n, "open": open_rows[code]}
            for code, n in sorted(overdue.items(), key=lambda item: (-item[1], item[0]))
        ],
    }
