"""A small, hand-countable scenario for the reporting tests (see EXPECTED below).

Year Y = last year (so an indicator is expected to have reached its whole target).
Seen by `plan.sg4` (planning officer, cleared CONFIDENTIAL):

- DAKAR (region RAFR), closed programme, volets political + economic, actions:
  A1 done (EUR 1000 / 800 / 700), A2 in progress with a past target date → late
  (500 / 500 / 100), A3 cancelled (9999 requested: never counted), A4 approved without
  dates → not started (200 / 0 / 0), A5 in progress without dates → in progress
  (300 / 300 / 50). Budget: requested 2000, granted 1600, spent 850.
  Indicators: I1 ↑ 10→20, latest actual 20 (an earlier 5) → on track; I2 ↑ 10→20 revised
  30, actual 26 → 16 of 20 = 80 % → at risk; I3 ↓ 30→20, actual 28 → 2 of 10 → off track;
  I4 without actual → no data. Achievements: two; one cites D1 (visible), one cites D3
  (SECRET: not visible to plan.sg4).
- ABIDJAN (RAFR), in execution: one action done; one indicator ↑ 0→10, actual 12 → on track.
- LIMA (RAME), approved: one action approved with a past end date → late.
- ACCRA (RAFR), SECRET programme (out of plan.sg4's clearance): 3 actions done, 2
  indicators off track, 1 achievement — must never be counted.
- PARIS: a DRAFT programme (no synthesis possible).

Dispatches in Y (all routed *pour attribution* to SG/4): D1 DAKAR 10 March, answered after
2 days; D2 DAKAR 20 March, answered after 4 days; D3 DAKAR SECRET 1 April, answered after
100 days (hidden); D4 ABIDJAN 5 May, pending, due 1 June → overdue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from chancery.correspondence.models import Dispatch, DispatchStatus, Routing, RoutingKind, RoutingStatus
from chancery.planning.models import (
    Achievement,
    Action,
    ActionStatus,
    Axis,
    AxisType,
    Direction,
    Indicator,
    Measurement,
    Programme,
    ProgrammeStatus,
)

EXPECTED: dict[str, Any] = {
    "programmes": 4,  # DAKAR, ABIDJAN, LIMA and the PARIS draft (visible, nothing in it)
    "actions": {"total": 6, "done": 2, "in_progress": 1, "late": 2, "not_started": 1},
    "indicators": {"on_track": 2, "at_risk": 1, "off_track": 1, "no_data": 1},
    "achievements": 2,
    "dakar": {"total": 4, "done": 1, "in_progress": 1, "late": 1, "not_started": 1},
    "dakar_budget": {"requested": Decimal("2000"), "approved": Decimal("1600"), "spent": Decimal("850")},
    "rafr": {"total": 5, "done": 2, "late": 1},
    "rame": {"total": 1, "late": 1},
}


@dataclass
class Scenario:
    year: int
    programmes: dict[str, Programme] = field(default_factory=dict)
    actions: dict[str, Action] = field(default_factory=dict)
    indicators: dict[str, Indicator] = field(default_factory=dict)
    dispatches: dict[str, Dispatch] = field(default_factory=dict)
    achievements: dict[str, Achievement] = field(default_factory=dict)


def _aware(d: date, hour: int = 10) -> datetime:
    return timezone.make_aware(datetime(d.year, d.month, d.day, hour, 0))


def build(ministry: Any) -> Scenario:
    y = timezone.localdate().year - 1
    s = Scenario(year=y)
    units, users = ministry.units, ministry.users
    types = {t.key: t for t in AxisType.objects.all()}

    def programme(code: str, status: str, level: int = 0) -> Programme:
        p = Programme.objects.create(
            mission=units[code], year=y, end_year=y, title=f"Programme {code} {y}", status=status, classification=level
        )
        s.programmes[code] = p
        return p

    def axis(p: Programme, key: str, position: int) -> Axis:
        return Axis.objects.create(programme=p, axis_type=types[key], position=position, narrative=f"Plan {key}")

    def action(
        name: str,
        p: Programme,
        ax: Axis,
        status: str,
        *,
        target: date | None = None,
        end: date | None = None,
        budget: tuple[int, int, int] = (0, 0, 0),
    ) -> Action:
        a = Action.objects.create(
            programme=p,
            axis=ax,
            title=f"Action {name}",
            status=status,
            target_date=target,
            end_date=end,
            budget_requested=Decimal(budget[0]),
            budget_approved=Decimal(budget[1]),
            budget_spent=Decimal(budget[2]),
            progress=100 if status == ActionStatus.DONE else 0,
        )
        s.actions[name] = a
        return a

    def indicator(
        name: str,
        p: Programme,
        ax: Axis | None,
        *,
        base: int,
        target: int,
        revised: int | None = None,
        direction: str = Direction.INCREASE,
        actuals: tuple[int, ...] = (),
    ) -> Indicator:
        i = Indicator.objects.create(
            programme=p,
            axis=ax,
            label=f"Indicator {name}",
            unit="units",
            direction=direction,
            baseline_value=Decimal(base),
            baseline_year=y - 1,
            approved_target=Decimal(target),
            revised_target=Decimal(revised) if revised is not None else None,
            target_year=y,
        )
        for q, value in enumerate(actuals):
            Measurement.objects.create(
                indicator=i,
                period_type="quarter",
                period_start=date(y, 3 * q + 1, 1),
                period_end=date(y, 3 * q + 3, 28),
                value=Decimal(value),
                evidence=f"Source {name}/{q}",
            )
        s.indicators[name] = i
        return i

    def dispatch(
        name: str, code: str, dated: date, *, level: int = 0, answered_after: int | None = None, due: date | None = None
    ) -> Dispatch:
        d = Dispatch.objects.create(
            sending_unit=units[code],
            author=users[f"hom.{code.lower()}"],
            status=DispatchStatus.SENT,
            reference=f"{code}/{y}/{len(s.dispatches) + 1:04d}",
            year=y,
            number=len(s.dispatches) + 1,
            dated=dated,
            sent_at=_aware(dated),
            subject=f"Subject {name}",
            classification=level,
        )
        answered = _aware(dated) + timedelta(days=answered_after) if answered_after is not None else None
        Routing.objects.create(
            dispatch=d,
            unit=units["SG/4"],
            kind=RoutingKind.ACTION,
            due_date=due,
            status=RoutingStatus.ANSWERED if answered else RoutingStatus.PENDING,
            answered_at=answered,
        )
        s.dispatches[name] = d
        return d

    dispatch("D1", "DAKAR", date(y, 3, 10), answered_after=2)
    dispatch("D2", "DAKAR", date(y, 3, 20), answered_after=4)
    dispatch("D3", "DAKAR", date(y, 4, 1), level=3, answered_after=100)
    dispatch("D4", "ABIDJAN", date(y, 5, 5), due=date(y, 6, 1))

    dakar = programme("DAKAR", ProgrammeStatus.CLOSED)
    pol, eco = axis(dakar, "political", 0), axis(dakar, "economic", 1)
    action("A1", dakar, pol, ActionStatus.DONE, target=date(y, 3, 1), budget=(1000, 800, 700))
    action("A2", dakar, pol, ActionStatus.IN_PROGRESS, target=date(y, 6, 30), budget=(500, 500, 100))
    action("A3", dakar, pol, ActionStatus.CANCELLED, target=date(y, 6, 30), budget=(9999, 9999, 9999))
    action("A4", dakar, eco, ActionStatus.APPROVED, budget=(200, 0, 0))
    action("A5", dakar, eco, ActionStatus.IN_PROGRESS, budget=(300, 300, 50))
    indicator("I1", dakar, pol, base=10, target=20, actuals=(5, 20))
    indicator("I2", dakar, eco, base=10, target=20, revised=30, actuals=(26,))
    indicator("I3", dakar, eco, base=30, target=20, direction=Direction.DECREASE, actuals=(28,))
    indicator("I4", dakar, None, base=0, target=5)
    visit = Achievement.objects.create(
        programme=dakar, kind="visit", date=date(y, 3, 12), title="Visit of a delegation"
    )
    visit.dispatches.through.objects.create(achievement=visit, dispatch=s.dispatches["D1"])
    secret = Achievement.objects.create(programme=dakar, kind="meeting", date=date(y, 4, 2), title="Meeting of note")
    secret.dispatches.through.objects.create(achievement=secret, dispatch=s.dispatches["D3"])
    s.achievements = {"visit": visit, "secret": secret}

    abidjan = programme("ABIDJAN", ProgrammeStatus.IN_EXECUTION)
    ab = axis(abidjan, "cultural", 0)
    action("B1", abidjan, ab, ActionStatus.DONE, target=date(y, 5, 1))
    indicator("J1", abidjan, ab, base=0, target=10, actuals=(12,))

    lima = programme("LIMA", ProgrammeStatus.APPROVED)
    la = axis(lima, "political", 0)
    action("C1", lima, la, ActionStatus.APPROVED, end=date(y, 2, 1))

    accra = programme("ACCRA", ProgrammeStatus.IN_EXECUTION, level=3)
    xa = axis(accra, "political", 0)
    for n in range(3):
        action(f"X{n}", accra, xa, ActionStatus.DONE)
    indicator("K1", accra, xa, base=0, target=10, actuals=(1,))
    indicator("K2", accra, xa, base=0, target=10, actuals=(2,))
    Achievement.objects.create(programme=accra, kind="visit", date=date(y, 2, 2), title="Hidden achievement")

    programme("PARIS", ProgrammeStatus.DRAFT)
    return s


def build_more_missions(ministry: Any, scenario: Scenario, *, count: int) -> None:
    """More programmes (each with an action and an indicator), for the query-count test."""
    taken = set(scenario.programmes)
    codes = [u.code for u in ministry.missions if u.code not in taken][:count]
    political = AxisType.objects.get(key="political")
    for code in codes:
        p = Programme.objects.create(
            mission=ministry.units[code],
            year=scenario.year,
            end_year=scenario.year,
            title=f"P {code}",
            status=ProgrammeStatus.IN_EXECUTION,
        )
        ax = Axis.objects.create(programme=p, axis_type=political)
        Action.objects.create(programme=p, axis=ax, title="x", status=ActionStatus.DONE)
        Indicator.objects.create(programme=p, axis=ax, label="y", approved_target=Decimal(1))
        Achievement.objects.create(programme=p, kind="visit", date=date(scenario.year, 1, 5), title="z")
