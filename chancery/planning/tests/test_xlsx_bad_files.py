"""XLSX import: a clear error per bad file, nothing saved."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
from openpyxl import Workbook

from chancery.planning import spreadsheets
from chancery.planning.demo import sample_programme
from chancery.planning.models import Programme

YEAR = 2026


def _codes(ministry: Any, data: bytes) -> list[str]:
    preview = spreadsheets.parse_programme_workbook(data, mission=ministry.units["DAKAR"], year=YEAR)
    assert not preview.is_valid
    assert all(e.message for e in preview.file_errors)
    return [e.code for e in preview.file_errors]


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_empty_and_random_bytes(ministry: Any) -> None:
    assert _codes(ministry, b"") == ["empty"]
    assert _codes(ministry, b"hello, this is not a spreadsheet" * 10) == ["corrupt"]


def test_truncated_workbook_is_corrupt(ministry: Any) -> None:
    data = spreadsheets.blank_template(mission_code="DAKAR", year=YEAR)
    assert _codes(ministry, data[: len(data) // 2]) == ["corrupt"]


def test_zip_that_is_not_a_workbook(ministry: Any) -> None:
    assert _codes(ministry, _zip({"word/document.xml": b"<w/>"})) == ["corrupt"]


def test_damaged_workbook_parts(ministry: Any) -> None:
    data = _zip({"xl/workbook.xml": b"<not xml", "[Content_Types].xml": b"<Types/>"})
    assert _codes(ministry, data) == ["corrupt"]


def test_password_protected_workbook(ministry: Any) -> None:
    # An encrypted OOXML file is an OLE compound file holding EncryptionInfo / EncryptedPackage streams.
    header = spreadsheets.OLE_MAGIC + b"\x00" * 504
    body = "EncryptionInfo".encode("utf-16-le") + b"\x00" * 64 + "EncryptedPackage".encode("utf-16-le")
    assert _codes(ministry, header + body + b"\x00" * 1024) == ["encrypted"]


def test_legacy_xls(ministry: Any) -> None:
    assert _codes(ministry, spreadsheets.OLE_MAGIC + b"\x00" * 2048) == ["legacy_format"]


def test_huge_file(ministry: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    data = spreadsheets.blank_template(mission_code="DAKAR", year=YEAR)
    monkeypatch.setattr(spreadsheets, "MAX_FILE_BYTES", len(data) - 1)
    assert _codes(ministry, data) == ["too_large"]


def test_zip_bomb_is_refused_before_reading(ministry: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spreadsheets, "MAX_UNCOMPRESSED_BYTES", 5 * 1024 * 1024)
    bomb = _zip({"xl/workbook.xml": b"<workbook/>", "xl/worksheets/sheet1.xml": b"\x00" * (6 * 1024 * 1024)})
    assert len(bomb) < 100_000
    assert _codes(ministry, bomb) == ["too_large"]


def test_too_many_rows(ministry: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    programme = sample_programme(
        mission=ministry.units["DAKAR"], year=YEAR, user=ministry.users["hom.dakar"], actions_per_axis=3
    )
    data = spreadsheets.export_programme(programme)
    monkeypatch.setattr(spreadsheets, "MAX_ROWS_PER_SHEET", 2)
    assert _codes(ministry, data) == ["too_many_rows"]


def test_not_a_chancery_template(ministry: Any) -> None:
    wb = Workbook()
    wb.worksheets[0].append(["Title", "Start", "End"])
    wb.worksheets[0].append(["Something", "2026-01-01", "2026-02-01"])
    buffer = io.BytesIO()
    wb.save(buffer)
    assert _codes(ministry, buffer.getvalue()) == ["not_template"]


def test_wrong_template_version(ministry: Any) -> None:
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(spreadsheets.blank_template(mission_code="DAKAR", year=YEAR)))
    wb["_chancery"]["B2"] = 99
    buffer = io.BytesIO()
    wb.save(buffer)
    assert _codes(ministry, buffer.getvalue()) == ["template_version"]


def test_changed_headers_are_reported(ministry: Any) -> None:
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(spreadsheets.blank_template(mission_code="DAKAR", year=YEAR)))
    ws = next(ws for ws in wb.worksheets if ws["A2"].value == "Narrative")
    ws["C4"] = "Name"
    buffer = io.BytesIO()
    wb.save(buffer)
    preview = spreadsheets.parse_programme_workbook(buffer.getvalue(), mission=ministry.units["DAKAR"], year=YEAR)
    assert not preview.is_valid and [(e.row, e.column) for e in preview.errors] == [(4, "")]


def test_nothing_is_saved_for_a_bad_file(ministry: Any) -> None:
    preview = spreadsheets.parse_programme_workbook(b"garbage", mission=ministry.units["DAKAR"], year=YEAR)
    count = Programme.objects.unrestricted("t").count()
    with pytest.raises(Exception):  # noqa: B017 - ValidationError
        spreadsheets.apply_import(preview, user=ministry.users["hom.dakar"])
    assert Programme.objects.unrestricted("t").count() == count
