"""Programmes as XLSX workbooks: export, blank template, import with a preview.

Layout of a Chancery programme workbook (template `chancery-programme`, version 1):
- `Programme`: mission, year, last year, title, summary, classification;
- one sheet per axis (cell A1 `Axis`, B1 the axis key, B2 the narrative; a header row,
  then one action per row);
- `Objectives`: axis, title, description (objectives without actions survive the trip);
- `Indicators`: one indicator per row;
- `Achievements`: exported for reading, ignored on import;
- hidden `_chancery` (template id, version, programme id) and `_lists` (the values of the
  drop-down lists: status, priority, currency, axis, direction).

Import is two steps: `parse_programme_workbook` reads and checks everything and returns
an `ImportPreview` (file errors, and per-row errors and warnings) without writing;
`apply_import` saves a valid preview through the services, all or nothing.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import secrets
import time
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from chancery.core.classification import LEVEL_KEYS, Level
from chancery.crypto._fsutil import atomic_write
from chancery.crypto.exceptions import CryptoError
from chancery.planning import services, storage
from chancery.planning.models import (
    HQ_ACTION_STATUSES,
    AchievementKind,
    Action,
    ActionStatus,
    Axis,
    AxisType,
    Direction,
    Indicator,
    Objective,
    Priority,
    Programme,
    partner_units_prefetch,
)

if TYPE_CHECKING:
    from chancery.accounts.models import User

TEMPLATE_ID = "chancery-programme"
TEMPLATE_VERSION = 1
MAX_FILE_BYTES = int(getattr(settings, "CHANCERY_PLANNING_MAX_XLSX_BYTES", 10 * 1024 * 1024))
MAX_UNCOMPRESSED_BYTES = 100 * 1024 * 1024  # declared sizes inside the zip (zip bombs)
MAX_ZIP_ENTRIES = 2000
MAX_ROWS_PER_SHEET = 5000
MAX_SHEETS = 60
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"

CURRENCIES = [
    "EUR", "USD", "GBP", "CHF", "JPY", "CNY", "CAD", "AUD", "SEK", "NOK", "DKK", "PLN", "CZK", "HUF", "XOF", "XAF",
    "MAD", "TND", "DZD", "EGP", "SAR", "AED", "QAR", "JOD", "NGN", "GHS", "KES", "ETB", "ZAR", "BRL", "ARS", "MXN",
    "PEN", "CLP", "COP", "INR", "IDR", "KRW", "TRY",
]  # fmt: skip

ACTION_COLUMNS = [
    ("id", "ID"),
    ("objective", "Objective"),
    ("title", "Title"),
    ("description", "Description"),
    ("lead", "Lead (username)"),
    ("partner_units", "Partner units (codes)"),
    ("start_date", "Start"),
    ("end_date", "End"),
    ("target_date", "Target date"),
    ("priority", "Priority"),
    ("budget_requested", "Budget requested"),
    ("budget_approved", "Budget approved"),
    ("budget_spent", "Budget spent"),
    ("currency", "Currency"),
    ("status", "Status"),
    ("progress", "Progress %"),
    ("risk_note", "Risks"),
]
INDICATOR_COLUMNS = [
    ("id", "ID"),
    ("axis", "Axis"),
    ("objective", "Objective"),
    ("label", "Label"),
    ("unit", "Unit"),
    ("direction", "Direction"),
    ("data_source", "Data source"),
    ("baseline_value", "Baseline value"),
    ("baseline_year", "Baseline year"),
    ("approved_target", "Approved target"),
    ("revised_target", "Revised target"),
    ("target_year", "Target year"),
]
OBJECTIVE_COLUMNS = [("axis", "Axis"), ("title", "Title"), ("description", "Description")]
ACHIEVEMENT_COLUMNS = ["Date", "Kind", "Title", "Description", "Outlet", "Link"]
ACTION_HEADER_ROW = 4
DATE_FORMAT = "yyyy-mm-dd"


class WorkbookError(Exception):
    """The file as a whole cannot be read (corrupt, encrypted, too large, not a template)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# --------------------------------------------------------------------------- export


def _lists_sheet(wb: Any) -> dict[str, str]:
    """A hidden sheet holding the drop-down values; returns list name → range formula."""
    ws = wb.create_sheet("_lists")
    columns = {
        "status": list(ActionStatus.values),
        "priority": list(Priority.values),
        "currency": CURRENCIES,
        "axis": [t.key for t in AxisType.objects.filter(is_active=True).order_by("position", "key")],
        "direction": list(Direction.values),
        "classification": LEVEL_KEYS,
    }
    ranges = {}
    for index, (name, values) in enumerate(columns.items(), start=1):
        letter = _col(index)
        _put(ws, 1, index, name)
        for row, value in enumerate(values, start=2):
            _put(ws, row, index, value)
        ranges[name] = f"_lists!${letter}$2:${letter}${max(len(values) + 1, 2)}"
    ws.sheet_state = "hidden"
    return ranges


def _col(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return str(get_column_letter(index))


def _validation(ws: Any, formula: str, column: int, first_row: int, *, strict: bool = True) -> None:
    from openpyxl.worksheet.datavalidation import DataValidation

    dv = DataValidation(
        type="list",
        formula1=f"={formula}",
        allow_blank=True,
        showErrorMessage=True,
        errorStyle="stop" if strict else "warning",
    )
    ws.add_data_validation(dv)
    letter = _col(column)
    dv.add(f"{letter}{first_row}:{letter}{first_row + 1999}")


def _header(ws: Any, row: int, labels: list[str]) -> None:
    from openpyxl.styles import Font, PatternFill

    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDE5F0")
    for column, label in enumerate(labels, start=1):
        cell = _put(ws, row, column, label)
        cell.font = bold
        cell.fill = fill
    ws.freeze_panes = ws.cell(row=row + 1, column=1)


def _sheet_title(name: str, used: set[str]) -> str:
    base = re.sub(r"[\[\]\*\?/\\:]", " ", name).strip()[:28] or "Axis"
    title, n = base, 2
    while title.lower() in used or title.startswith("_"):
        title = f"{base[:25]} {n}"
        n += 1
    used.add(title.lower())
    return title


# What a spreadsheet application would read as the start of a formula if the text were typed in.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _put(ws: Any, row: int, column: int, value: Any) -> Any:
    """Write one cell; text is always text. openpyxl stores a string starting with "=" as a
    formula, so a title such as `=HYPERLINK("http://…")` would run in the reader's spreadsheet
    (formula injection): such text is stored as a string cell, shown with a quote prefix so
    that editing it in Excel or LibreOffice keeps it text too."""
    cell = ws.cell(row=row, column=column, value=value)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        cell.data_type = "s"
        cell.quotePrefix = True
    return cell


def _workbook(programme: Programme | None, *, mission_code: str = "", year: int | None = None) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    info = wb.worksheets[0]
    info.title = "Programme"
    ranges = _lists_sheet(wb)
    used = {"programme", "objectives", "indicators", "achievements", "_lists", "_chancery"}
    info_rows = [
        ("Mission", programme.mission.code if programme else mission_code),
        ("Year", programme.year if programme else year),
        ("Last year", programme.last_year if programme else year),
        ("Title", programme.title if programme else ""),
        ("Summary", programme.summary if programme else ""),
        ("Classification", Level(programme.classification).key if programme else Level.UNCLASSIFIED.key),
    ]
    for row, (label, value) in enumerate(info_rows, start=1):
        _put(info, row, 1, label)
        _put(info, row, 2, value)
    _validation(info, ranges["classification"], 2, 6)
    info.column_dimensions["A"].width = 18
    info.column_dimensions["B"].width = 60

    if programme is not None:
        axes = list(
            Axis.objects.unrestricted("export of an authorised programme")
            .filter(programme=programme)
            .select_related("axis_type")
            .order_by("position", "pk")
        )
    else:
        axes = [
            Axis(axis_type=t, position=t.position)
            for t in AxisType.objects.filter(key__in=services.DEFAULT_AXIS_KEYS).order_by("position")
        ]
    objectives = (
        list(
            Objective.objects.unrestricted("export")
            .filter(axis__programme=programme)
            .select_related("axis__axis_type")
            .order_by("axis__position", "position", "pk")
        )
        if programme
        else []
    )
    objective_titles = {o.pk: o.title for o in objectives}
    actions = (
        list(
            Action.objects.unrestricted("export")
            .filter(programme=programme)
            .select_related("lead")
            .prefetch_related(partner_units_prefetch())
            .order_by("position", "pk")
        )
        if programme
        else []
    )
    for axis in axes:
        ws = wb.create_sheet(_sheet_title(axis.axis_type.name_fr, used))
        _put(ws, 1, 1, "Axis")
        _put(ws, 1, 2, axis.axis_type.key)
        _put(ws, 1, 3, axis.axis_type.name_fr)
        _put(ws, 2, 1, "Narrative")
        _put(ws, 2, 2, axis.narrative)
        _validation(ws, ranges["axis"], 2, 1)
        _header(ws, ACTION_HEADER_ROW, [label for _key, label in ACTION_COLUMNS])
        row = ACTION_HEADER_ROW + 1
        for action in (a for a in actions if a.axis_id == axis.pk):
            values = {
                "id": action.pk,
                "objective": objective_titles.get(action.objective_id or 0, ""),
                "title": action.title,
                "description": action.description,
                "lead": action.lead.username if action.lead else "",
                "partner_units": ", ".join(sorted(u.code for u in action.partner_units.all())),
                "start_date": action.start_date,
                "end_date": action.end_date,
                "target_date": action.target_date,
                "priority": action.priority,
                "budget_requested": action.budget_requested,
                "budget_approved": action.budget_approved,
                "budget_spent": action.budget_spent,
                "currency": action.currency,
                "status": action.status,
                "progress": action.progress,
                "risk_note": action.risk_note,
            }
            for column, (key, _label) in enumerate(ACTION_COLUMNS, start=1):
                cell = _put(ws, row, column, values[key])
                if isinstance(values[key], date):
                    cell.number_format = DATE_FORMAT
            row += 1
        first = ACTION_HEADER_ROW + 1
        keys = [k for k, _label in ACTION_COLUMNS]
        _validation(ws, ranges["priority"], keys.index("priority") + 1, first)
        _validation(ws, ranges["status"], keys.index("status") + 1, first)
        _validation(ws, ranges["currency"], keys.index("currency") + 1, first, strict=False)
        for key, width in (("title", 40), ("description", 50), ("objective", 30), ("risk_note", 30)):
            ws.column_dimensions[_col(keys.index(key) + 1)].width = width

    ws = wb.create_sheet("Objectives")
    _header(ws, 1, [label for _k, label in OBJECTIVE_COLUMNS])
    for row, objective in enumerate(objectives, start=2):
        _put(ws, row, 1, objective.axis.axis_type.key)
        _put(ws, row, 2, objective.title)
        _put(ws, row, 3, objective.description)
    _validation(ws, ranges["axis"], 1, 2)

    ws = wb.create_sheet("Indicators")
    _header(ws, 1, [label for _k, label in INDICATOR_COLUMNS])
    indicators = (
        list(
            Indicator.objects.unrestricted("export")
            .filter(programme=programme)
            .select_related("axis__axis_type")
            .order_by("position", "pk")
        )
        if programme
        else []
    )
    for row, ind in enumerate(indicators, start=2):
        values = {
            "id": ind.pk,
            "axis": ind.axis.axis_type.key if ind.axis else "",
            "objective": objective_titles.get(ind.objective_id or 0, ""),
            "label": ind.label,
            "unit": ind.unit,
            "direction": ind.direction,
            "data_source": ind.data_source,
            "baseline_value": ind.baseline_value,
            "baseline_year": ind.baseline_year,
            "approved_target": ind.approved_target,
            "revised_target": ind.revised_target,
            "target_year": ind.target_year,
        }
        for column, (key, _label) in enumerate(INDICATOR_COLUMNS, start=1):
            _put(ws, row, column, values[key])
    keys = [k for k, _label in INDICATOR_COLUMNS]
    _validation(ws, ranges["axis"], keys.index("axis") + 1, 2)
    _validation(ws, ranges["direction"], keys.index("direction") + 1, 2)

    ws = wb.create_sheet("Achievements")
    _header(ws, 1, ACHIEVEMENT_COLUMNS)
    if programme is not None:
        from chancery.planning.models import Achievement

        kinds = dict(AchievementKind.choices)
        for row, ach in enumerate(
            Achievement.objects.unrestricted("export").filter(programme=programme).order_by("date", "pk"), start=2
        ):
            for column, value in enumerate(
                [ach.date, str(kinds.get(ach.kind, ach.kind)), ach.title, ach.description, ach.outlet, ach.link],
                start=1,
            ):
                cell = _put(ws, row, column, value)
                if isinstance(value, date):
                    cell.number_format = DATE_FORMAT

    meta = wb.create_sheet("_chancery")
    meta_rows: list[tuple[str, Any]] = [
        ("template", TEMPLATE_ID),
        ("version", TEMPLATE_VERSION),
        ("programme", programme.pk if programme else ""),
        ("mission", programme.mission.code if programme else mission_code),
        ("year", programme.year if programme else year),
    ]
    for row, (key, value) in enumerate(meta_rows, start=1):
        _put(meta, row, 1, key)
        _put(meta, row, 2, value)
    meta.sheet_state = "hidden"
    if programme is not None and programme.classification >= Level.RESTRICTED:
        _mark_printed_pages(wb, programme.marking.label())
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def _mark_printed_pages(wb: Any, marking: str) -> None:
    """The classification marking on top and bottom of every printed page of every sheet."""
    text = marking.upper()
    for ws in wb.worksheets:
        for header_footer in (ws.oddHeader, ws.oddFooter, ws.evenHeader, ws.evenFooter,
                              ws.firstHeader, ws.firstFooter):
            header_footer.center.text = text
            header_footer.center.font = "Arial,Bold"


def export_programme(programme: Programme) -> bytes:
    """The programme as an XLSX workbook (the caller has read `programme` through the gate)."""
    return _workbook(programme)


def blank_template(*, mission_code: str = "", year: int | None = None) -> bytes:
    """An empty workbook with the default axes and every drop-down list."""
    return _workbook(None, mission_code=mission_code, year=year)


# --------------------------------------------------------------------------- import: reading


@dataclass
class RowIssue:
    sheet: str
    row: int | None
    column: str
    message: str

    def __str__(self) -> str:
        where = (
            f"{self.sheet}" + (f", row {self.row}" if self.row else "") + (f", {self.column}" if self.column else "")
        )
        return f"{where}: {self.message}"


@dataclass
class ParsedRow:
    sheet: str
    row: int
    values: dict[str, Any]
    existing_id: int | None = None  # the object this row updates, when importing into its programme
    errors: list[RowIssue] = field(default_factory=list)
    warnings: list[RowIssue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class ImportPreview:
    """What an import would do. Nothing is written until `apply_import`."""

    mission: Any
    year: int
    filename: str = ""
    programme_id: int | None = None  # the existing programme it updates, if any
    info: dict[str, Any] = field(default_factory=dict)
    axes: list[ParsedRow] = field(default_factory=list)
    objectives: list[ParsedRow] = field(default_factory=list)
    actions: list[ParsedRow] = field(default_factory=list)
    indicators: list[ParsedRow] = field(default_factory=list)
    file_errors: list[WorkbookError] = field(default_factory=list)
    errors: list[RowIssue] = field(default_factory=list)  # sheet-level errors (not tied to a row)
    notices: list[str] = field(default_factory=list)  # informational, not blocking

    @property
    def rows(self) -> list[ParsedRow]:
        return [*self.axes, *self.objectives, *self.actions, *self.indicators]

    @property
    def row_errors(self) -> list[RowIssue]:
        return [issue for row in self.rows for issue in row.errors]

    @property
    def all_errors(self) -> list[str]:
        return [e.message for e in self.file_errors] + [str(e) for e in self.errors] + [str(e) for e in self.row_errors]

    @property
    def warnings(self) -> list[RowIssue]:
        return [issue for row in self.rows for issue in row.warnings]

    @property
    def is_valid(self) -> bool:
        return not self.file_errors and not self.errors and not self.row_errors

    @property
    def counts(self) -> dict[str, int]:
        return {
            "axes": len(self.axes),
            "objectives": len(self.objectives),
            "actions": len(self.actions),
            "actions_updated": sum(1 for r in self.actions if r.existing_id),
            "indicators": len(self.indicators),
            "indicators_updated": sum(1 for r in self.indicators if r.existing_id),
            "errors": len(self.all_errors),
            "warnings": len(self.warnings),
        }


def check_file(data: bytes) -> None:
    """Refuse, before any parsing, what is not a readable XLSX of reasonable size."""
    if not data:
        raise WorkbookError("empty", _("The file is empty."))
    if len(data) > MAX_FILE_BYTES:
        raise WorkbookError(
            "too_large",
            _("The file is too large (%(size)d MB; at most %(max)d MB).")
            % {"size": len(data) // (1024 * 1024), "max": MAX_FILE_BYTES // (1024 * 1024)},
        )
    if data.startswith(OLE_MAGIC):
        if "EncryptedPackage".encode("utf-16-le") in data or "EncryptionInfo".encode("utf-16-le") in data:
            raise WorkbookError(
                "encrypted", _("The workbook is password-protected: remove the password in Excel and try again.")
            )
        raise WorkbookError(
            "legacy_format",
            _("This is an old Excel (.xls) file or an encrypted workbook: save it as .xlsx without a password."),
        )
    if not data.startswith(ZIP_MAGIC):
        raise WorkbookError("corrupt", _("The file is not an Excel workbook (.xlsx), or it is damaged."))
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
            if len(entries) > MAX_ZIP_ENTRIES:
                raise WorkbookError("too_large", _("The workbook has too many parts."))
            declared = sum(info.file_size for info in entries)
            if declared > MAX_UNCOMPRESSED_BYTES:
                raise WorkbookError("too_large", _("The workbook is too large once uncompressed."))
            names = {info.filename for info in entries}
            if "xl/workbook.xml" not in names:
                raise WorkbookError("corrupt", _("The file is not an Excel workbook (.xlsx), or it is damaged."))
            if "EncryptedPackage" in names:
                raise WorkbookError("encrypted", _("The workbook is password-protected."))
    except zipfile.BadZipFile as exc:
        raise WorkbookError("corrupt", _("The file is damaged: it cannot be opened as a workbook.")) from exc


def _open(data: bytes) -> Any:
    from openpyxl import load_workbook

    check_file(data)
    try:
        return load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except WorkbookError:
        raise
    except Exception as exc:  # openpyxl raises many kinds on damaged files
        raise WorkbookError("corrupt", _("The file is damaged: it cannot be opened as a workbook.")) from exc


def _rows(ws: Any, sheet: str) -> list[tuple[int, tuple[Any, ...]]]:
    rows = []
    dimension_rows = ws.max_row if isinstance(getattr(ws, "max_row", None), int) else 0
    if dimension_rows > MAX_ROWS_PER_SHEET + ACTION_HEADER_ROW:
        raise WorkbookError(
            "too_many_rows",
            _("The sheet %(sheet)s has too many rows (at most %(max)d).") % {"sheet": sheet, "max": MAX_ROWS_PER_SHEET},
        )
    for number, values in enumerate(ws.iter_rows(values_only=True), start=1):
        if number > MAX_ROWS_PER_SHEET + ACTION_HEADER_ROW:
            raise WorkbookError(
                "too_many_rows",
                _("The sheet %(sheet)s has too many rows (at most %(max)d).")
                % {"sheet": sheet, "max": MAX_ROWS_PER_SHEET},
            )
        rows.append((number, tuple(values)))
    return rows


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(_("not a date (use YYYY-MM-DD)"))


def _decimal(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise ValueError(_("not a number"))
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    text = str(value).strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
    try:
        return Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(_("not a number")) from exc


def _int(value: Any) -> int | None:
    number = _decimal(value)
    if number is None:
        return None
    if number != number.to_integral_value():
        raise ValueError(_("not a whole number"))
    return int(number)


def _meta(wb: Any) -> dict[str, Any]:
    if "_chancery" not in wb.sheetnames:
        raise WorkbookError(
            "not_template", _("This workbook is not a Chancery programme template (download the blank template).")
        )
    meta = {}
    for _number, values in _rows(wb["_chancery"], "_chancery")[:20]:
        if values and values[0]:
            meta[str(values[0])] = values[1] if len(values) > 1 else None
    if meta.get("template") != TEMPLATE_ID:
        raise WorkbookError("not_template", _("This workbook is not a Chancery programme template."))
    try:
        version = int(meta.get("version") or 0)
    except (TypeError, ValueError):
        version = 0
    if version != TEMPLATE_VERSION:
        raise WorkbookError(
            "template_version", _("This template version is not supported: download a new blank template.")
        )
    return meta


def parse_programme_workbook(
    data: bytes,
    *,
    mission: Any,
    year: int,
    programme: Programme | None = None,
    filename: str = "",
) -> ImportPreview:
    """Read a programme workbook for `mission` × `year` without writing anything.

    File-level problems land in `preview.file_errors` (corrupt, password-protected,
    too large, not a Chancery template…); row problems in each row's `errors` (and
    `warnings`, e.g. dates outside the year). `programme`: the existing programme the
    import would update (rows whose ID belongs to it update that object).
    """
    preview = ImportPreview(
        mission=mission, year=year, filename=filename, programme_id=programme.pk if programme else None
    )
    try:
        wb = _open(data)
        try:
            _meta(wb)
            if len(wb.sheetnames) > MAX_SHEETS:
                raise WorkbookError("too_large", _("The workbook has too many sheets."))
            _read(wb, preview, programme)
        finally:
            wb.close()
    except WorkbookError as exc:
        preview.file_errors.append(exc)
    except Exception as exc:  # a damaged part discovered while reading
        preview.file_errors.append(
            WorkbookError("corrupt", _("The file is damaged: %(error)s") % {"error": str(exc)[:200]})
        )
    return preview


def _read(wb: Any, preview: ImportPreview, programme: Programme | None) -> None:
    from chancery.accounts.models import User
    from chancery.organisation.models import Unit

    year = preview.year
    axis_types = {t.key: t for t in AxisType.objects.all()}
    existing_actions: set[int] = set()
    existing_indicators: set[int] = set()
    if programme is not None:
        existing_actions = set(
            Action.objects.unrestricted("import into an authorised programme")
            .filter(programme=programme)
            .values_list("pk", flat=True)
        )
        existing_indicators = set(
            Indicator.objects.unrestricted("import into an authorised programme")
            .filter(programme=programme)
            .values_list("pk", flat=True)
        )

    # Programme sheet.
    if "Programme" in wb.sheetnames:
        info = {
            str(v[0]).strip(): (v[1] if len(v) > 1 else None)
            for _n, v in _rows(wb["Programme"], "Programme")
            if v and v[0]
        }
        mission_code = _text(info.get("Mission"))
        if mission_code and mission_code != preview.mission.code:
            preview.errors.append(
                RowIssue(
                    "Programme",
                    None,
                    "Mission",
                    _("The workbook is for %(code)s, not %(mission)s.")
                    % {"code": mission_code, "mission": preview.mission.code},
                )
            )
        try:
            file_year = _int(info.get("Year")) or year
            file_last_year = _int(info.get("Last year")) or file_year
        except ValueError:
            file_year = file_last_year = year
            preview.errors.append(RowIssue("Programme", None, "Year", _("not a year")))
        if file_last_year < file_year:
            preview.errors.append(RowIssue("Programme", None, "Last year", _("The last year comes before the first.")))
        # A workbook of another year serves as a model: the programme keeps its length.
        last_year = year + max(file_last_year - file_year, 0)
        if file_year != year:
            preview.notices.append(
                _("The workbook was made for %(file)s; it is imported for %(year)s.")
                % {"file": file_year, "year": year}
            )
        classification = _text(info.get("Classification")) or Level.UNCLASSIFIED.key
        try:
            level = int(Level.from_key(classification))
        except ValueError:
            level = int(Level.UNCLASSIFIED)
            preview.errors.append(RowIssue("Programme", None, "Classification", _("Unknown classification.")))
        preview.info = {
            "title": _text(info.get("Title"))[:300],
            "summary": _text(info.get("Summary")),
            "end_year": last_year,
            "classification": level,
        }
    first_day, last_day = date(year, 1, 1), date(preview.info.get("end_year", year), 12, 31)

    users: dict[str, Any] = {}
    units: dict[str, Any] = {}

    def user_for(username: str) -> Any:
        if username not in users:
            users[username] = (
                User.objects.unrestricted("import: resolving a username").filter(username=username).first()
            )
        return users[username]

    def unit_for(code: str) -> Any:
        if code not in units:
            units[code] = Unit.objects.unrestricted("import: resolving a unit code").filter(code=code).first()
        return units[code]

    # Axis sheets.
    seen_axes: set[str] = set()
    objective_keys: set[tuple[str, str]] = set()
    for sheet in wb.sheetnames:
        if sheet.startswith("_") or sheet in ("Programme", "Objectives", "Indicators", "Achievements"):
            continue
        rows = _rows(wb[sheet], sheet)
        if not rows or _text(rows[0][1][0] if rows[0][1] else "") != "Axis":
            preview.errors.append(
                RowIssue(sheet, None, "", _("Unexpected sheet (an axis sheet starts with 'Axis' in A1)."))
            )
            continue
        key = _text(rows[0][1][1] if len(rows[0][1]) > 1 else "")
        axis_row = ParsedRow(sheet=sheet, row=1, values={"key": key})
        if key not in axis_types:
            axis_row.errors.append(RowIssue(sheet, 1, "Axis", _("Unknown axis %(key)r.") % {"key": key}))
        elif key in seen_axes:
            axis_row.errors.append(RowIssue(sheet, 1, "Axis", _("This axis appears on two sheets.")))
        seen_axes.add(key)
        narrative = ""
        if len(rows) > 1 and rows[1][1] and _text(rows[1][1][0]) == "Narrative":
            narrative = _text(rows[1][1][1] if len(rows[1][1]) > 1 else "")
        axis_row.values["narrative"] = narrative
        preview.axes.append(axis_row)
        header = rows[ACTION_HEADER_ROW - 1][1] if len(rows) >= ACTION_HEADER_ROW else ()
        expected = [label for _k, label in ACTION_COLUMNS]
        if [_text(h) for h in header[: len(expected)]] != expected:
            preview.errors.append(RowIssue(sheet, ACTION_HEADER_ROW, "", _("The column headers were changed.")))
            continue
        for number, values in rows[ACTION_HEADER_ROW:]:
            cells = dict(
                zip([k for k, _l in ACTION_COLUMNS], list(values) + [None] * len(ACTION_COLUMNS), strict=False)
            )
            if all(_text(v) == "" for v in cells.values()):
                continue
            preview.actions.append(
                _parse_action(sheet, number, key, cells, first_day, last_day, user_for, unit_for, existing_actions)
            )
            objective = preview.actions[-1].values.get("objective")
            if objective:
                objective_keys.add((key, objective))

    # Objectives sheet.
    if "Objectives" in wb.sheetnames:
        for number, values in _rows(wb["Objectives"], "Objectives")[1:]:
            cells = dict(zip([k for k, _l in OBJECTIVE_COLUMNS], list(values) + [None] * 3, strict=False))
            if all(_text(v) == "" for v in cells.values()):
                continue
            row = ParsedRow(
                sheet="Objectives",
                row=number,
                values={
                    "axis": _text(cells["axis"]),
                    "title": _text(cells["title"])[:300],
                    "description": _text(cells["description"]),
                },
            )
            if row.values["axis"] not in seen_axes:
                row.errors.append(RowIssue("Objectives", number, "Axis", _("No sheet for this axis.")))
            if not row.values["title"]:
                row.errors.append(RowIssue("Objectives", number, "Title", _("The title is missing.")))
            preview.objectives.append(row)
            objective_keys.add((row.values["axis"], row.values["title"]))

    # Indicators sheet.
    if "Indicators" in wb.sheetnames:
        for number, values in _rows(wb["Indicators"], "Indicators")[1:]:
            cells = dict(zip([k for k, _l in INDICATOR_COLUMNS], list(values) + [None] * 12, strict=False))
            if all(_text(v) == "" for v in cells.values()):
                continue
            preview.indicators.append(_parse_indicator(number, cells, seen_axes, objective_keys, existing_indicators))

    if not preview.axes:
        preview.errors.append(RowIssue("", None, "", _("The workbook has no axis sheet.")))


def _parse_action(
    sheet: str,
    number: int,
    axis_key: str,
    cells: dict[str, Any],
    first_day: date,
    last_day: date,
    user_for: Any,
    unit_for: Any,
    existing: set[int],
) -> ParsedRow:
    row = ParsedRow(sheet=sheet, row=number, values={"axis": axis_key})

    def err(column: str, message: str) -> None:
        row.errors.append(RowIssue(sheet, number, column, message))

    values = row.values
    try:
        ident = _int(cells["id"])
    except ValueError:
        ident = None
    if ident is not None and ident in existing:
        row.existing_id = ident
    values["objective"] = _text(cells["objective"])[:300]
    values["title"] = _text(cells["title"])
    if not values["title"]:
        err("Title", _("The title is missing."))
    elif len(values["title"]) > 300:
        err("Title", _("The title is too long (300 characters at most)."))
    values["description"] = _text(cells["description"])
    values["risk_note"] = _text(cells["risk_note"])
    lead = _text(cells["lead"])
    values["lead"] = None
    if lead:
        values["lead"] = user_for(lead)
        if values["lead"] is None:
            err("Lead", _("Unknown agent %(name)r.") % {"name": lead})
    partners = []
    for code in [c.strip() for c in _text(cells["partner_units"]).replace(";", ",").split(",") if c.strip()]:
        unit = unit_for(code)
        if unit is None:
            err("Partner units", _("Unknown unit %(code)r.") % {"code": code})
        else:
            partners.append(unit)
    values["partner_units"] = partners
    for key, label in (("start_date", "Start"), ("end_date", "End"), ("target_date", "Target date")):
        try:
            values[key] = _date(cells[key])
        except ValueError as exc:
            values[key] = None
            err(label, str(exc))
        if values[key] is not None and not (first_day <= values[key] <= last_day):
            row.warnings.append(RowIssue(sheet, number, label, _("outside the programme year")))
    if values["start_date"] and values["end_date"] and values["end_date"] < values["start_date"]:
        err("End", _("The end comes before the start."))
    priority = _text(cells["priority"]) or Priority.MEDIUM
    if priority not in Priority.values:
        err("Priority", _("Unknown priority %(value)r.") % {"value": priority})
    values["priority"] = priority
    for key, label in (
        ("budget_requested", "Budget requested"),
        ("budget_approved", "Budget approved"),
        ("budget_spent", "Budget spent"),
    ):
        try:
            amount = _decimal(cells[key])
        except ValueError as exc:
            err(label, str(exc))
            amount = None
        if amount is not None and amount < 0:
            err(label, _("A budget cannot be negative."))
        if amount is not None and (abs(amount) >= Decimal(10) ** 12 or amount != amount.quantize(Decimal("0.01"))):
            err(label, _("At most 12 digits and 2 decimals."))
        values[key] = amount if amount is not None else Decimal(0)
    currency = _text(cells["currency"]).upper() or "EUR"
    if not re.fullmatch(r"[A-Z]{3}", currency):
        err("Currency", _("An ISO 4217 currency code, e.g. EUR."))
    values["currency"] = currency
    status = _text(cells["status"]) or ActionStatus.PROPOSED
    if status not in ActionStatus.values:
        err("Status", _("Unknown status %(value)r.") % {"value": status})
    values["status"] = status
    try:
        progress = _int(cells["progress"])
    except ValueError as exc:
        err("Progress %", str(exc))
        progress = None
    if progress is not None and not 0 <= progress <= 100:
        err("Progress %", _("Progress is between 0 and 100 %."))
    values["progress"] = progress or 0
    return row


def _parse_indicator(
    number: int, cells: dict[str, Any], axes: set[str], objectives: set[tuple[str, str]], existing: set[int]
) -> ParsedRow:
    sheet = "Indicators"
    row = ParsedRow(sheet=sheet, row=number, values={})

    def err(column: str, message: str) -> None:
        row.errors.append(RowIssue(sheet, number, column, message))

    values = row.values
    try:
        ident = _int(cells["id"])
    except ValueError:
        ident = None
    if ident is not None and ident in existing:
        row.existing_id = ident
    values["axis"] = _text(cells["axis"]) or None
    if values["axis"] and values["axis"] not in axes:
        err("Axis", _("No sheet for this axis."))
    values["objective"] = _text(cells["objective"]) or None
    if values["objective"] and (values["axis"], values["objective"]) not in objectives:
        err("Objective", _("Unknown objective for this axis."))
    values["label"] = _text(cells["label"])[:300]
    if not values["label"]:
        err("Label", _("The label is missing."))
    values["unit"] = _text(cells["unit"])[:60]
    values["direction"] = _text(cells["direction"]) or Direction.INCREASE
    if values["direction"] not in Direction.values:
        err("Direction", _("Unknown direction."))
    values["data_source"] = _text(cells["data_source"])[:300]
    for key, label in (
        ("baseline_value", "Baseline value"),
        ("approved_target", "Approved target"),
        ("revised_target", "Revised target"),
    ):
        try:
            values[key] = _decimal(cells[key])
        except ValueError as exc:
            values[key] = None
            err(label, str(exc))
    for key, label in (("baseline_year", "Baseline year"), ("target_year", "Target year")):
        try:
            values[key] = _int(cells[key])
        except ValueError as exc:
            values[key] = None
            err(label, str(exc))
        if values[key] is not None and not 1900 <= values[key] <= 2200:
            err(label, _("not a year"))
    return row


# --------------------------------------------------------------------------- import: saving


@transaction.atomic
def apply_import(preview: ImportPreview, *, user: User, programme: Programme | None = None) -> Programme:
    """Save a valid preview: a new programme for the preview's mission × year (`programme`
    None), or changes to `programme` (rows with its IDs update, others are added; nothing
    is deleted). All or nothing: any refusal (rights, workflow, validation) rolls back
    everything and raises `ValidationError` naming the row."""
    if not preview.is_valid:
        raise ValidationError(preview.all_errors or [_("The workbook has errors.")])
    info = preview.info
    created = programme is None
    if programme is None:
        programme = services.create_programme(
            user=user,
            mission=preview.mission,
            year=preview.year,
            end_year=info.get("end_year"),
            title=info.get("title", ""),
            summary=info.get("summary", ""),
            classification=info.get("classification", Level.UNCLASSIFIED),
            axis_types=[],
        )
    else:
        if programme.mission_id != preview.mission.pk or programme.year != preview.year:
            raise ValidationError(_("The workbook was read for another programme."))
        changes = {k: v for k, v in info.items() if k in ("title", "summary", "end_year", "classification") and v != ""}
        services.update_programme(user=user, programme=programme, **changes)
    axes: dict[str, Axis] = {
        a.axis_type.key: a
        for a in Axis.objects.unrestricted("import").filter(programme=programme).select_related("axis_type")
    }
    objectives: dict[tuple[str, str], Objective] = {
        (o.axis.axis_type.key, o.title): o
        for o in Objective.objects.unrestricted("import")
        .filter(axis__programme=programme)
        .select_related("axis__axis_type")
    }

    def guarded(row: ParsedRow, call: Any) -> Any:
        try:
            return call()
        except (ValidationError, PermissionDenied) as exc:
            messages = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
            raise ValidationError(
                [f"{row.sheet}, row {row.row}: {m}" for m in messages] if row.row else messages
            ) from exc

    for row in preview.axes:
        key = row.values["key"]
        if key in axes:
            if row.values["narrative"] != axes[key].narrative:
                guarded(
                    row,
                    lambda key=key, row=row: services.update_axis(
                        user=user, axis=axes[key], narrative=row.values["narrative"]
                    ),
                )
        else:
            axes[key] = guarded(
                row,
                lambda key=key, row=row: services.add_axis(
                    user=user,
                    programme=programme,
                    axis_type=key,
                    narrative=row.values["narrative"],
                    position=(len(axes) + 1) * 10,
                ),
            )

    def objective_for(axis_key: str, title: str, row: ParsedRow, description: str = "") -> Objective:
        if (axis_key, title) not in objectives:
            objectives[(axis_key, title)] = guarded(
                row,
                lambda: services.create_objective(user=user, axis=axes[axis_key], title=title, description=description),
            )
        return objectives[(axis_key, title)]

    for row in preview.objectives:
        objective_for(row.values["axis"], row.values["title"], row, row.values["description"])
    positions: dict[str, int] = {}
    for row in preview.actions:
        values = dict(row.values)
        axis_key = values.pop("axis")
        title = values.pop("title")
        objective_title = values.pop("objective")
        values["objective"] = objective_for(axis_key, objective_title, row) if objective_title else None
        positions[axis_key] = positions.get(axis_key, 0) + 10
        values["position"] = positions[axis_key]
        if created:
            # A new draft starts from proposals, as a carried-over programme does: what headquarters
            # approved and granted for the workbook's programme is not approved for this one.
            if values.get("status") in HQ_ACTION_STATUSES:
                values["status"] = ActionStatus.PROPOSED
            values.pop("budget_approved", None)
        if row.existing_id:
            action = Action.objects.unrestricted("import").get(pk=row.existing_id)
            guarded(
                row,
                lambda action=action, values=values, axis_key=axis_key, title=title: services.update_action(
                    user=user, action=action, lock_version=None, axis=axes[axis_key], title=title, **values
                ),
            )
        else:
            guarded(
                row,
                lambda values=values, axis_key=axis_key, title=title: services.create_action(
                    user=user, programme=programme, axis=axes[axis_key], title=title, **values
                ),
            )
    for position, row in enumerate(preview.indicators, start=1):
        values = dict(row.values)
        axis_key = values.pop("axis")
        objective_title = values.pop("objective")
        values["axis"] = axes[axis_key] if axis_key else None
        values["objective"] = objectives.get((axis_key, objective_title)) if objective_title else None
        values["position"] = position * 10
        label = values.pop("label")
        if row.existing_id:
            indicator = Indicator.objects.unrestricted("import").get(pk=row.existing_id)
            guarded(
                row,
                lambda indicator=indicator, values=values, label=label: services.update_indicator(
                    user=user, indicator=indicator, label=label, **values
                ),
            )
        else:
            guarded(
                row,
                lambda values=values, label=label: services.create_indicator(
                    user=user, programme=programme, label=label, **values
                ),
            )
    from chancery.audit.services import record_event

    record_event(
        action="planning.programme_imported",
        actor=user,
        target=programme,
        details={**services.audit_content(programme, file=preview.filename[:200]), **preview.counts},
    )
    programme.refresh_from_db()
    return programme


# --------------------------------------------------------------------------- upload stash (preview → confirm)

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
STASH_LIFETIME_SECONDS = 24 * 3600


def _stash_dir() -> Path:
    path = Path(settings.CHANCERY_DATA_DIR) / "imports" / "planning"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _remove_stash(directory: Path, token: str) -> None:
    meta_path = directory / f"{token}.json"
    with contextlib.suppress(OSError, ValueError, AttributeError):
        storage.forget_stash_key(json.loads(meta_path.read_text()).get("data_key"))
    meta_path.unlink(missing_ok=True)
    (directory / f"{token}.bin").unlink(missing_ok=True)
    (directory / f"{token}.xlsx").unlink(missing_ok=True)  # stashes written before encryption


def stash_upload(
    data: bytes,
    *,
    user: User,
    programme: Programme | None = None,
    mission: Any = None,
    year: int | None = None,
    filename: str = "",
) -> str:
    """Keep an uploaded workbook between the preview and the confirmation; returns a token.

    Files live under CHANCERY_DATA_DIR (shared by every app server) and expire after a day.
    The workbook is always stored encrypted, under a data key of its own bound to the
    token and the agent (see `planning.storage`): it may be a copy of a protected plan.
    """
    directory = _stash_dir()
    now = time.time()
    for old in directory.glob("*.json"):
        if now - old.stat().st_mtime > STASH_LIFETIME_SECONDS:
            _remove_stash(directory, old.stem)
    token = secrets.token_urlsafe(24)
    data_key_id = storage.encrypt_stash(
        data, directory / f"{token}.bin", token=token, user_id=user.pk, filename=filename[:200]
    )
    meta = {  # in clear: ids only (the file name is encrypted with the workbook)
        "user": user.pk,
        "programme": programme.pk if programme else None,
        "mission": (programme.mission_id if programme else mission.pk),
        "year": programme.year if programme else year,
        "created": now,
        "data_key": data_key_id,
    }
    atomic_write(directory / f"{token}.json", json.dumps(meta).encode())
    return token


def load_stash(token: str, *, user: User) -> tuple[bytes, dict[str, Any]] | None:
    """The stashed upload of `user` (None if unknown, expired or someone else's)."""
    if not TOKEN_RE.match(token or ""):
        return None
    directory = _stash_dir()
    try:
        meta = json.loads((directory / f"{token}.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or not isinstance(meta.get("data_key"), int):
        return None
    if meta.get("user") != user.pk or time.time() - float(meta.get("created", 0)) > STASH_LIFETIME_SECONDS:
        return None
    try:
        data, filename = storage.decrypt_stash(
            directory / f"{token}.bin", data_key_id=meta["data_key"], token=token, user_id=user.pk
        )
    except (OSError, ObjectDoesNotExist, CryptoError, UnicodeDecodeError):
        return None
    return data, {**meta, "filename": filename}


def discard_stash(token: str) -> None:
    if TOKEN_RE.match(token or ""):
        _remove_stash(_stash_dir(), token)
