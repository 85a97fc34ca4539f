"""XLSX: export → import reproduces the programme; preview with per-row errors; all or nothing."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from openpyxl import load_workbook

from chancery.planning import services, spreadsheets, versions
from chancery.planning.demo import sample_programme
from chancery.planning.models import Action, Axis, Indicator, Objective, Programme

YEAR = 2026


@pytest.fixture
def dakar(ministry: Any) -> Programme:
    user = ministry.users["counsellor.dakar"]
    programme = sample_programme(mission=ministry.units["DAKAR"], year=YEAR, user=user)
    axis = Axis.objects.unrestricted("t").filter(programme=programme).first()
    assert axis is not None
    # Extra variety: partner units, multi-line text, decimals, undated action, an objective without actions.
    services.create_action(
        user=user,
        programme=programme,
        axis=axis,
        title='Forum, "quoted"; and more',
        description="Line one\nLine two",
        partner_units=[ministry.units["DAB/1"], ministry.units["DG3/1"]],
        budget_requested=Decimal("1234.56"),
        budget_spent=Decimal("0.5"),
        currency="XOF",
        status="postponed",
        progress=35,
        risk_note="Weather",
        priority="low",
        target_date=date(YEAR + 1, 2, 1),
    )
    services.create_objective(user=user, axis=axis, title="Lonely objective", description="No actions yet")
    services.create_indicator(
        user=user,
        programme=programme,
        label="Trade volume",
        unit="million USD",
        direction="decrease",
        data_source="Customs",
        baseline_value=Decimal("60.25"),
        baseline_year=2013,
        approved_target=Decimal("75"),
        revised_target=Decimal("80.5"),
        target_year=2015,
    )
    return programme


def _import_copy(ministry: Any, data: bytes, mission: str, year: int, username: str) -> Programme:
    unit = ministry.units[mission]
    preview = spreadsheets.parse_programme_workbook(data, mission=unit, year=year)
    assert preview.is_valid, preview.all_errors
    return spreadsheets.apply_import(preview, user=ministry.users[username], programme=None)


def test_export_has_sheets_validation_and_hidden_meta(dakar: Programme) -> None:
    data = spreadsheets.export_programme(dakar)
    wb = load_workbook(io.BytesIO(data))
    assert wb.sheetnames[0] == "Programme"
    assert {"Objectives", "Indicators", "Achievements", "_chancery", "_lists"} <= set(wb.sheetnames)
    assert wb["_chancery"].sheet_state == "hidden" and wb["_lists"].sheet_state == "hidden"
    assert wb["_chancery"]["B1"].value == "chancery-programme"
    axis_sheets = [ws for ws in wb.worksheets if ws["A2"].value == "Narrative"]
    assert [ws["B1"].value for ws in axis_sheets] == ["political", "economic", "cultural"]
    formulas = {dv.formula1 for dv in axis_sheets[0].data_validations.dataValidation}
    assert any("_lists!$A$" in f for f in formulas)  # status
    assert len(formulas) >= 4  # axis, priority, status, currency


def test_round_trip_reproduces_the_programme(ministry: Any, dakar: Programme) -> None:
    data = spreadsheets.export_programme(dakar)
    copy = _import_copy(ministry, data, "DAKAR", YEAR + 1, "hom.dakar")
    assert copy.pk != dakar.pk and copy.title == dakar.title and copy.summary == dakar.summary
    # The structure (axes, objectives, actions with every field, indicators) is identical
    # (the copy is for the next year: dates are compared as exported).
    assert versions.structure(versions.snapshot(copy)) == versions.structure(versions.snapshot(dakar))
    # Export of the copy gives the same again.
    again = _import_copy(ministry, spreadsheets.export_programme(copy), "DAKAR", YEAR + 2, "hom.dakar")
    assert versions.structure(versions.snapshot(again)) == versions.structure(versions.snapshot(dakar))


def test_import_into_existing_programme_updates_by_id(ministry: Any, dakar: Programme) -> None:
    data = spreadsheets.export_programme(dakar)
    wb = load_workbook(io.BytesIO(data))
    ws = next(ws for ws in wb.worksheets if ws["B1"].value == "political")
    ws.cell(row=5, column=3, value="Renamed action")
    ws.append(
        [
            None,
            "",
            "Brand new action",
            "",
            "",
            "",
            date(YEAR, 5, 1),
            date(YEAR, 5, 2),
            None,
            "high",
            10,
            0,
            0,
            "EUR",
            "proposed",
            0,
            "",
        ]
    )
    buffer = io.BytesIO()
    wb.save(buffer)
    before = Action.objects.unrestricted("t").filter(programme=dakar).count()
    preview = spreadsheets.parse_programme_workbook(
        buffer.getvalue(), mission=dakar.mission, year=YEAR, programme=dakar
    )
    assert preview.is_valid, preview.all_errors
    assert preview.counts["actions_updated"] == before and preview.counts["actions"] == before + 1
    spreadsheets.apply_import(preview, user=ministry.users["counsellor.dakar"], programme=dakar)
    assert Action.objects.unrestricted("t").filter(programme=dakar).count() == before + 1
    assert Action.objects.unrestricted("t").filter(programme=dakar, title="Renamed action").exists()


def _bad_workbook(dakar: Programme) -> bytes:
    data = spreadsheets.export_programme(dakar)
    wb = load_workbook(io.BytesIO(data))
    ws = next(ws for ws in wb.worksheets if ws["B1"].value == "political")
    # Row 5: end before start; row 6: negative budget and progress 150; then two bad rows appended.
    ws.cell(row=5, column=7, value=date(YEAR, 6, 1))
    ws.cell(row=5, column=8, value=date(YEAR, 5, 1))
    ws.cell(row=6, column=11, value=-5)
    ws.cell(row=6, column=16, value=150)
    ws.append(
        [
            None,
            "",
            "Next year",
            "",
            "",
            "",
            date(YEAR + 1, 3, 1),
            date(YEAR + 1, 3, 2),
            None,
            "urgent",
            "abc",
            0,
            0,
            "EURO",
            "maybe",
            0,
            "",
        ]
    )
    ws.append([None, "", "", "", "nobody.here", "NOPE", "31/02/2026", None, None, "", 0, 0, 0, "", "", "", ""])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def test_preview_lists_errors_per_row_and_saves_nothing(ministry: Any, dakar: Programme) -> None:
    preview = spreadsheets.parse_programme_workbook(_bad_workbook(dakar), mission=dakar.mission, year=YEAR + 1)
    assert not preview.is_valid and not preview.file_errors
    by_row = {(e.row, e.column) for e in preview.row_errors}
    assert (5, "End") in by_row
    assert (6, "Budget requested") in by_row and (6, "Progress %") in by_row
    # Rows 8 and 9 (appended after the three actions of the axis).
    assert {(8, "Priority"), (8, "Budget requested"), (8, "Currency"), (8, "Status")} <= by_row
    assert {(9, "Title"), (9, "Lead"), (9, "Partner units"), (9, "Start")} <= by_row
    messages = " ".join(preview.all_errors)
    assert "row 5" in messages and "End" in messages
    count = Programme.objects.unrestricted("t").count()
    with pytest.raises(ValidationError):
        spreadsheets.apply_import(preview, user=ministry.users["hom.dakar"])
    assert Programme.objects.unrestricted("t").count() == count


def test_dates_outside_year_are_warnings(ministry: Any, dakar: Programme) -> None:
    data = spreadsheets.export_programme(dakar)
    preview = spreadsheets.parse_programme_workbook(data, mission=dakar.mission, year=YEAR + 1)
    assert preview.is_valid
    assert preview.warnings and {w.column for w in preview.warnings} <= {"Start", "End", "Target date"}


def test_apply_is_all_or_nothing(ministry: Any, dakar: Programme) -> None:
    """A refusal late in the save (here: an agent without rights for the last row's mission
    would not do; we use a row the services refuse) rolls everything back."""
    data = spreadsheets.export_programme(dakar)
    preview = spreadsheets.parse_programme_workbook(data, mission=ministry.units["DAKAR"], year=YEAR + 1)
    assert preview.is_valid
    # Corrupt the last indicator after the preview: the services refuse it at save time.
    preview.indicators[-1].values["baseline_value"] = "not a number"
    before = (
        Programme.objects.unrestricted("t").count(),
        Action.objects.unrestricted("t").count(),
        Objective.objects.unrestricted("t").count(),
        Indicator.objects.unrestricted("t").count(),
    )
    with pytest.raises(ValidationError) as caught:
        spreadsheets.apply_import(preview, user=ministry.users["hom.dakar"])
    assert "Indicators, row" in str(caught.value)
    after = (
        Programme.objects.unrestricted("t").count(),
        Action.objects.unrestricted("t").count(),
        Objective.objects.unrestricted("t").count(),
        Indicator.objects.unrestricted("t").count(),
    )
    assert after == before


def test_import_needs_rights(ministry: Any, dakar: Programme) -> None:
    data = spreadsheets.export_programme(dakar)
    preview = spreadsheets.parse_programme_workbook(data, mission=ministry.units["DAKAR"], year=YEAR + 1)
    with pytest.raises(PermissionDenied):
        spreadsheets.apply_import(preview, user=ministry.users["desk.dab1"])
    assert not Programme.objects.unrestricted("t").filter(year=YEAR + 1).exists()


def test_blank_template_imports_as_empty_programme(ministry: Any) -> None:
    data = spreadsheets.blank_template(mission_code="LIMA", year=YEAR)
    preview = spreadsheets.parse_programme_workbook(data, mission=ministry.units["LIMA"], year=YEAR)
    assert preview.is_valid and not preview.actions
    programme = spreadsheets.apply_import(preview, user=ministry.users["hom.lima"])
    assert Axis.objects.unrestricted("t").filter(programme=programme).count() == 5


def test_workbook_for_another_mission_is_refused(ministry: Any, dakar: Programme) -> None:
    data = spreadsheets.export_programme(dakar)
    preview = spreadsheets.parse_programme_workbook(data, mission=ministry.units["LIMA"], year=YEAR)
    assert not preview.is_valid and any("DAKAR" in e for e in preview.all_errors)


def test_stash_is_per_user(ministry: Any, dakar: Programme) -> None:
    data = spreadsheets.export_programme(dakar)
    token = spreadsheets.stash_upload(data, user=ministry.users["hom.dakar"], programme=dakar, filename="a.xlsx")
    assert spreadsheets.load_stash(token, user=ministry.users["counsellor.dakar"]) is None
    loaded = spreadsheets.load_stash(token, user=ministry.users["hom.dakar"])
    assert loaded is not None and loaded[0] == data and loaded[1]["programme"] == dakar.pk
    assert spreadsheets.load_stash("../../etc/passwd", user=ministry.users["hom.dakar"]) is None
    spreadsheets.discard_stash(token)
    assert spreadsheets.load_stash(token, user=ministry.users["hom.dakar"]) is None


def test_a_protected_programme_prints_its_marking_on_every_page(dakar: Programme) -> None:
    def printed(sheet: Any, where: str) -> str | None:
        header_footer = getattr(sheet, where)
        assert header_footer is not None
        text: str | None = header_footer.center.text
        return text

    book = load_workbook(io.BytesIO(spreadsheets.export_programme(dakar)))
    assert printed(book.worksheets[0], "oddHeader") is None  # unprotected: no banner
    dakar.classification = 2
    dakar.save(update_fields=["classification"])
    book = load_workbook(io.BytesIO(spreadsheets.export_programme(dakar)))
    for sheet in book.worksheets:
        assert printed(sheet, "oddHeader") == "CONFIDENTIEL", sheet.title
        assert printed(sheet, "oddFooter") == "CONFIDENTIEL", sheet.title
