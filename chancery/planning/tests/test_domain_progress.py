"""Reporting periods, periodic progress updates (all or nothing), missing updates, measurements."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from chancery.planning import selectors, services
from chancery.planning.demo import sample_programme
from chancery.planning.models import (
    Action,
    Indicator,
    Measurement,
    Programme,
    ProgrammeStatus,
    ProgressUpdate,
    ReportingPeriod,
)
from chancery.planning.services import ActionConflict, WorkflowError

YEAR = 2026


@pytest.fixture
def approved(ministry: Any) -> Programme:
    u = ministry.users
    programme = sample_programme(mission=ministry.units["DAKAR"], year=YEAR, user=u["counsellor.dakar"])
    services.submit_programme(user=u["hom.dakar"], programme=programme)
    services.approve_programme(user=u["plan.sg4"], programme=programme)
    return programme


def _actions(programme: Programme) -> list[Action]:
    return list(Action.objects.unrestricted("t").filter(programme=programme).order_by("pk"))


def test_periods(ministry: Any, approved: Programme) -> None:
    u = ministry.users
    with pytest.raises(PermissionDenied):
        services.create_reporting_periods(user=u["counsellor.dakar"], programme=approved)
    quarters = services.create_reporting_periods(user=u["hom.dakar"], programme=approved, deadline_days=10)
    assert [(p.start, p.end) for p in quarters][1] == (date(YEAR, 4, 1), date(YEAR, 6, 30))
    assert quarters[0].deadline == date(YEAR, 4, 10) and quarters[0].label == f"{YEAR} Q1"
    again = services.create_reporting_periods(user=u["plan.sg4"], programme=approved)
    assert [p.pk for p in again] == [p.pk for p in quarters]  # idempotent
    months = services.create_reporting_periods(user=u["hom.dakar"], programme=approved, period_type="month")
    assert len(months) == 12 and months[1].end == date(YEAR, 2, 28)


def test_progress_updates_in_one_call(ministry: Any, approved: Programme) -> None:
    u = ministry.users
    period = services.create_reporting_periods(user=u["hom.dakar"], programme=approved)[0]
    actions = _actions(approved)
    indicator = Indicator.objects.unrestricted("t").filter(programme=approved).first()
    assert indicator is not None
    rows = [{"action": a.pk, "progress": 10 * i, "status": "in_progress", "note": f"n{i}"} for i, a in
            enumerate(actions)]
    updates = services.record_progress_updates(user=u["counsellor.dakar"], period=period, rows=rows,
                                               measurements=[{"indicator": indicator, "value": "62.5"}])
    assert len(updates) == len(actions)
    fresh = _actions(approved)
    assert [a.progress for a in fresh] == [10 * i for i in range(len(actions))]
    assert all(a.lock_version == b.lock_version + 1 for a, b in zip(fresh, actions, strict=True))
    approved.refresh_from_db()
    assert approved.status == ProgrammeStatus.IN_EXECUTION  # the first progress starts execution
    m = Measurement.objects.unrestricted("t").get(indicator=indicator)
    assert (m.period_type, m.period_start, m.period_end, m.value) == ("quarter", period.start, period.end,
                                                                      Decimal("62.5"))
    # Re-recording updates in place.
    services.record_progress_updates(user=u["counsellor.dakar"], period=period,
                                     rows=[{"action": actions[0], "progress": 99, "status": "in_progress"}])
    assert ProgressUpdate.objects.unrestricted("t").get(period=period, action=actions[0]).progress == 99


def test_progress_updates_are_all_or_nothing(ministry: Any, approved: Programme) -> None:
    u = ministry.users
    period = services.create_reporting_periods(user=u["hom.dakar"], programme=approved)[0]
    actions = _actions(approved)
    other = sample_programme(mission=ministry.units["LIMA"], year=YEAR, user=u["hom.lima"], actions_per_axis=1)
    foreign = _actions(other)[0]
    rows = [
        {"action": actions[0].pk, "progress": 50, "status": "in_progress"},
        {"action": actions[1].pk, "progress": 150, "status": "in_progress"},
        {"action": actions[2].pk, "progress": 20, "status": "exploded"},
        {"action": foreign.pk, "progress": 20, "status": "done"},
    ]
    with pytest.raises(ValidationError) as caught:
        services.record_progress_updates(user=u["counsellor.dakar"], period=period, rows=rows)
    errors = caught.value.message_dict
    assert set(errors) == {f"action-{actions[1].pk}", f"action-{actions[2].pk}", f"action-{foreign.pk}"}
    assert not ProgressUpdate.objects.unrestricted("t").filter(period=period).exists()
    assert _actions(approved)[0].progress == 0
    # A stale lock_version on one row: conflict, nothing saved.
    stale = [{"action": actions[0].pk, "progress": 5, "status": "in_progress"},
             {"action": actions[1].pk, "progress": 5, "status": "in_progress", "lock_version": 999}]
    with pytest.raises(ActionConflict):
        services.record_progress_updates(user=u["counsellor.dakar"], period=period, rows=stale)
    assert not ProgressUpdate.objects.unrestricted("t").filter(period=period).exists()
    # Indicator actuals that are not numbers reject the whole update too.
    indicator = Indicator.objects.unrestricted("t").filter(programme=approved).first()
    assert indicator is not None
    with pytest.raises(ValidationError):
        services.record_progress_updates(user=u["counsellor.dakar"], period=period, rows=stale[:1],
                                         measurements=[{"indicator": indicator.pk, "value": "lots"}])
    assert not ProgressUpdate.objects.unrestricted("t").filter(period=period).exists()


def test_progress_rules(ministry: Any, approved: Programme) -> None:
    u = ministry.users
    period = services.create_reporting_periods(user=u["hom.dakar"], programme=approved)[0]
    row = [{"action": _actions(approved)[0].pk, "progress": 10, "status": "in_progress"}]
    with pytest.raises(PermissionDenied):
        services.record_progress_updates(user=u["desk.dab1"], period=period, rows=row)
    services.close_reporting_period(user=u["hom.dakar"], period=period)
    with pytest.raises(WorkflowError):
        services.record_progress_updates(user=u["counsellor.dakar"], period=period, rows=row)
    draft = sample_programme(mission=ministry.units["LIMA"], year=YEAR, user=u["hom.lima"], actions_per_axis=1)
    draft_period = services.create_reporting_periods(user=u["hom.lima"], programme=draft)[0]
    with pytest.raises(WorkflowError):
        services.record_progress_updates(user=u["hom.lima"], period=draft_period,
                                         rows=[{"action": _actions(draft)[0].pk, "progress": 1, "status": "approved"}])


def test_missing_and_overdue_updates(ministry: Any, approved: Programme) -> None:
    u = ministry.users
    past = services.create_reporting_period(user=u["hom.dakar"], programme=approved, period_type="quarter",
                                            start=date(YEAR, 1, 1), end=date(YEAR, 3, 31),
                                            deadline=date.today() - timedelta(days=1))
    actions = _actions(approved)
    # Actions starting after the period, or finished, are not expected.
    late = actions[-1]
    services.update_action(user=u["counsellor.dakar"], action=late, lock_version=None, start_date=date(YEAR, 6, 1),
                           end_date=date(YEAR, 7, 1))
    done = actions[-2]
    services.update_action(user=u["counsellor.dakar"], action=done, lock_version=None, status="done", progress=100)
    expected = {a.pk for a in actions} - {late.pk, done.pk}
    assert {a.pk for a in services.missing_updates(period=past)} == expected
    services.record_progress_updates(user=u["counsellor.dakar"], period=past,
                                     rows=[{"action": actions[0].pk, "progress": 10, "status": "in_progress"}])
    assert {a.pk for a in services.missing_updates(period=past)} == expected - {actions[0].pk}
    overdue = selectors.overdue_updates(u["desk.dab1"])
    assert [o["period"].pk for o in overdue] == [past.pk]
    assert selectors.overdue_updates(u["hom.lima"]) == []
    assert overdue[0]["missing_count"] == len(expected) - 1
    sheet = selectors.progress_sheet(u["counsellor.dakar"], past)
    assert sheet["overdue"] and sheet["editable"]
    assert sum(1 for r in sheet["rows"] if r["missing"]) == len(expected) - 1
    assert not selectors.progress_sheet(u["desk.dab1"], past)["editable"]
    rows = selectors.periods(u["desk.dab1"], approved)
    assert rows[0]["overdue"] and rows[0]["updated"] == 1


def test_measurements(ministry: Any, approved: Programme) -> None:
    u = ministry.users
    indicator = Indicator.objects.unrestricted("t").filter(programme=approved).first()
    assert indicator is not None
    m = services.record_measurement(user=u["counsellor.dakar"], indicator=indicator, period_type="month",
                                    period_start=date(YEAR, 2, 14), value="12.5", evidence="Customs data")
    assert (m.period_start, m.period_end) == (date(YEAR, 2, 1), date(YEAR, 2, 28))
    again = services.record_measurement(user=u["counsellor.dakar"], indicator=indicator, period_type="month",
                                        period_start=date(YEAR, 2, 1), value=13)
    assert again.pk == m.pk and again.value == 13  # a correction, not a duplicate
    with pytest.raises(ValidationError):
        services.record_measurement(user=u["counsellor.dakar"], indicator=indicator, period_type="week",
                                    period_start=date(YEAR, 2, 1), value=1)
    with pytest.raises(ValidationError):
        services.record_measurement(user=u["counsellor.dakar"], indicator=indicator, period_type="year",
                                    period_start=date(YEAR, 1, 1), value="n/a")
    with pytest.raises(PermissionDenied):
        services.record_measurement(user=u["desk.dab1"], indicator=indicator, period_type="year",
                                    period_start=date(YEAR, 1, 1), value=1)
    # A closed period freezes the measurements inside it.
    period = services.create_reporting_periods(user=u["hom.dakar"], programme=approved)[0]
    services.close_reporting_period(user=u["plan.sg4"], period=period)
    with pytest.raises(WorkflowError):
        services.record_measurement(user=u["counsellor.dakar"], indicator=indicator, period_type="month",
                                    period_start=date(YEAR, 3, 1), value=1)
    # The year overlaps the closed quarter but is not inside it: still open.
    services.record_measurement(user=u["counsellor.dakar"], indicator=indicator, period_type="year",
                                period_start=date(YEAR, 1, 1), value=50)
    evidence = services.store_evidence_file(user=u["counsellor.dakar"], programme=approved, filename="stats.csv",
                                            content=b"a,b\n1,2\n", content_type="text/csv")
    q2 = services.record_measurement(user=u["counsellor.dakar"], indicator=indicator, period_type="quarter",
                                     period_start=date(YEAR, 4, 1), value=20, evidence_file=evidence)
    assert q2.evidence_file == evidence
    assert [x.value for x in selectors.measurements(u["desk.dab1"], indicator)] == [50, 13, 20]
    services.close_programme(user=u["hom.dakar"], programme=approved)
    with pytest.raises(WorkflowError):
        services.record_measurement(user=u["counsellor.dakar"], indicator=indicator, period_type="quarter",
                                    period_start=date(YEAR, 7, 1), value=1)
    assert ReportingPeriod.objects.unrestricted("t").filter(programme=approved, closed=False).count() == 0


def test_a_measurement_outside_the_programme_years_is_refused(ministry: Any, approved: Programme) -> None:
    """Issue 8: a Q4 of the previous year was accepted on the next year's programme."""
    u = ministry.users
    indicator = Indicator.objects.unrestricted("t").filter(programme=approved).first()
    assert indicator is not None
    for start in (date(YEAR - 1, 11, 15), date(YEAR + 1, 1, 10)):
        with pytest.raises(ValidationError) as refused:
            services.record_measurement(user=u["counsellor.dakar"], indicator=indicator, period_type="quarter",
                                        period_start=start, value=5)
        assert "period_start" in refused.value.message_dict
    assert not Measurement.objects.unrestricted("t").filter(indicator=indicator).exists()
    # The form of a future programme starts in its own year, not on today's date.
    assert services.default_measurement_day(approved, date(YEAR - 1, 12, 1)) == date(YEAR, 1, 1)
    assert services.default_measurement_day(approved, date(YEAR, 5, 3)) == date(YEAR, 5, 3)


def test_measurements_are_corrected_and_deleted_with_an_audit_trail(ministry: Any, approved: Programme) -> None:
    from chancery.audit.models import AuditEvent

    u = ministry.users
    indicator = Indicator.objects.unrestricted("t").filter(programme=approved).first()
    assert indicator is not None
    m = services.record_measurement(user=u["counsellor.dakar"], indicator=indicator, period_type="quarter",
                                    period_start=date(YEAR, 2, 1), value=10)
    with pytest.raises(PermissionDenied):
        services.update_measurement(user=u["desk.dab1"], measurement=m, value=11)
    with pytest.raises(ValidationError):
        services.update_measurement(user=u["counsellor.dakar"], measurement=m, value="n/a")
    services.update_measurement(user=u["counsellor.dakar"], measurement=m, value="12,5", evidence="Corrigé")
    m.refresh_from_db()
    assert m.value == Decimal("12.5") and m.evidence == "Corrigé"
    services.delete_measurement(user=u["counsellor.dakar"], measurement=m)
    assert not Measurement.objects.unrestricted("t").filter(pk=m.pk).exists()
    actions = list(AuditEvent.objects.unrestricted("t").filter(action__startswith="planning.measurement_")
                   .order_by("pk").values_list("action", flat=True))
    assert actions[-2:] == ["planning.measurement_corrected", "planning.measurement_deleted"]
    # A closed period freezes corrections and deletions too.
    frozen = services.record_measurement(user=u["counsellor.dakar"], indicator=indicator, period_type="month",
                                         period_start=date(YEAR, 1, 1), value=3)
    period = services.create_reporting_periods(user=u["hom.dakar"], programme=approved)[0]
    services.close_reporting_period(user=u["plan.sg4"], period=period)
    with pytest.raises(WorkflowError):
        services.delete_measurement(user=u["counsellor.dakar"], measurement=frozen)
    with pytest.raises(WorkflowError):
        services.update_measurement(user=u["counsellor.dakar"], measurement=frozen, value=4)


@pytest.mark.parametrize(("aggregation", "expected"), [("sum", Decimal(60)), ("last", Decimal(30)),
                                                      ("average", Decimal(20))])
def test_an_indicator_says_how_its_periods_add_up(ministry: Any, approved: Programme, aggregation: str,
                                                  expected: Decimal) -> None:
    u = ministry.users
    indicator = Indicator.objects.unrestricted("t").filter(programme=approved).first()
    assert indicator is not None
    services.update_indicator(user=u["counsellor.dakar"], indicator=indicator, aggregation=aggregation)
    for month, value in ((1, 10), (4, 20), (7, 30)):
        services.record_measurement(user=u["counsellor.dakar"], indicator=indicator, period_type="quarter",
                                    period_start=date(YEAR, month, 1), value=value)
    document = selectors.programme_document(u["desk.dab1"], approved)
    shown = next(i for i in document["indicators"] if i.pk == indicator.pk)
    assert shown.actual_value == expected
    # A yearly value, once recorded, is the year's actual whatever the periods add up to.
    services.record_measurement(user=u["counsellor.dakar"], indicator=indicator, period_type="year",
                                period_start=date(YEAR, 1, 1), value=55)
    document = selectors.programme_document(u["desk.dab1"], approved)
    assert next(i for i in document["indicators"] if i.pk == indicator.pk).actual_value == 55


def test_missing_update_counts_take_one_query_whatever_the_periods(ministry: Any, approved: Programme) -> None:
    """The home panel's overdue periods and the period list count each period's missing updates
    in SQL (what `services.missing_updates` lists), in as many queries for three periods as for one."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    u = ministry.users
    desk = u["desk.dab1"]
    actions = _actions(approved)

    def period(quarter: int) -> ReportingPeriod:
        start = date(YEAR, 3 * quarter - 2, 1)
        end = date(YEAR, 3 * quarter + 1, 1) - timedelta(days=1) if quarter < 4 else date(YEAR, 12, 31)
        return services.create_reporting_period(
            user=u["hom.dakar"], programme=approved, period_type="quarter", start=start, end=end,
            deadline=date.today() - timedelta(days=quarter))

    def queries() -> tuple[int, int]:
        counts = []
        for read in (lambda: selectors.overdue_updates(desk), lambda: selectors.periods(desk, approved)):
            desk.forget_cached_rights()
            read()  # per-request caches (rights) filled first
            with CaptureQueriesContext(connection) as ctx:
                read()
            counts.append(len(ctx.captured_queries))
        return counts[0], counts[1]

    first = period(1)
    one = queries()
    later = [period(2), period(3)]
    before = len(services.missing_updates(period=later[0]))
    services.record_progress_updates(user=u["counsellor.dakar"], period=later[0],
                                     rows=[{"action": actions[0].pk, "progress": 10, "status": "in_progress"}])
    assert queries() == one
    expected = {p.pk: len(services.missing_updates(period=p)) for p in [first, *later]}
    assert expected[later[0].pk] == before - 1 and all(expected.values())
    assert {o["period"].pk: o["missing_count"] for o in selectors.overdue_updates(desk)} == expected
    assert {r["period"].pk: r["missing"] for r in selectors.periods(desk, approved)} == expected
    # The home panel says each count.
    from django.test import Client
    from django.urls import reverse

    from conftest import sign_in

    desk.forget_cached_rights()
    page = sign_in(Client(), desk).get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    for pk, n in expected.items():
        link = reverse("planning:progress_update", args=[approved.pk, pk])
        assert link in page
        item = page[page.index(link):].split("</li>", 1)[0]
        assert f"{n} missing update{'s' if n > 1 else ''}, due" in item, item
