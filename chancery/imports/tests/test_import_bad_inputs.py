"""Bad files in a batch: a clear message each, nothing saved for them, and the batch goes on.

Runs on SQLite and on PostgreSQL (DATABASE_URL): the per-file transactions are what is tested.
"""

from __future__ import annotations

import codecs
import os
import zipfile
from io import BytesIO, StringIO
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from chancery.correspondence.models import Attachment, Dispatch, Routing
from chancery.imports import bulk
from chancery.imports.models import BatchState, ImportBatch, ImportStatus, LetterImport
from chancery.planning.models import Programme

from .conftest import SAMPLES_DIR, dispatch_of

pytestmark = pytest.mark.django_db

DAKAR = (SAMPLES_DIR / "fr-plan-2022-dakar.txt").read_text(encoding="utf-8")
NOUAKCHOTT = (SAMPLES_DIR / "fr-note-2022-nouakchott.txt").read_text(encoding="utf-8")
ABIDJAN = (SAMPLES_DIR / "fr-plan-2025-abidjan.txt").read_text(encoding="utf-8")


def _zip_bomb() -> bytes:
    """A DOCX whose word/document.xml inflates to 8 MB of spaces from a few kilobytes."""
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            chunk = b" " * (1 << 20)
            for _ in range(8):
                member.write(chunk)
    return buffer.getvalue()


def _bad_files(folder: Path) -> dict[str, str]:
    """Writes the bad files; returns file name → expected error code."""
    (folder / "01-empty.txt").write_bytes(b"")
    (folder / "02-garbage.txt").write_bytes(bytes(range(256)) * 64 + os.urandom(4096))
    with (folder / "03-huge.txt").open("wb") as handle:
        handle.truncate(200 * 1024 * 1024)  # sparse: 200 MB on paper, nothing on disk
    (folder / "04-bomb.docx").write_bytes(_zip_bomb())
    (folder / "05-no-header.txt").write_text(
        "Bonjour,\n\nVoici quelques nouvelles du poste, sans en-tête ni objet.\n\nCordialement.\n", encoding="utf-8"
    )
    return {
        "01-empty.txt": "empty",
        "02-garbage.txt": "binary",
        "03-huge.txt": "too_large",
        "04-bomb.docx": "zip_bomb",
        "05-no-header.txt": "no_header",
    }


def _encoded_files(folder: Path) -> None:
    """Readable letters in legacy encodings: they import, with a note on the guessed encoding."""
    (folder / "10-latin1.txt").write_bytes(NOUAKCHOTT.replace("DAF/1 - DAJ/2", "DG3/1").encode("latin-1"))
    (folder / "11-cp1252.txt").write_bytes(ABIDJAN.replace("DAO/1", "DAB/1").encode("cp1252"))
    (folder / "12-utf16.txt").write_bytes(codecs.BOM_UTF16_LE + DAKAR.encode("utf-16-le"))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A folder of its own (tmp_path also holds the test's data dir)."""
    path = tmp_path / "letters"
    path.mkdir()
    return path


def _attachment_files() -> int:
    root = Path(settings.CHANCERY_ATTACHMENT_DIR)
    return sum(1 for p in root.rglob("*") if p.is_file()) if root.exists() else 0


def _run(*args: str) -> tuple[str, str, bool]:
    out, err = StringIO(), StringIO()
    failed = False
    try:
        call_command("import_letter", *args, stdout=out, stderr=err)
    except CommandError:
        failed = True
    return out.getvalue(), err.getvalue(), failed


def test_a_batch_of_bad_files_goes_on(ministry: Any, importer: Any, folder: Path) -> None:
    codes = _bad_files(folder)
    _encoded_files(folder)
    (folder / "20-dakar.txt").write_text(DAKAR, encoding="utf-8")
    (folder / "notes.json").write_text("{}")  # not a letter: ignored in a folder

    out, err, failed = _run(str(folder), "--as", importer.username, "--no-progress")

    assert failed, "a run with bad files exits non-zero"
    error_lines = [line for line in err.splitlines() if line.strip()]
    assert len(error_lines) == len(codes), err
    for name in codes:
        assert sum(name in line for line in error_lines) == 1, (name, err)
    assert "9 file(s): 4 imported (2 draft programme(s))" in out and "5 failed" in out
    assert "1 other file(s) ignored" in out
    by_name = {r.filename: r for r in LetterImport.objects.unrestricted("test").all()}  # names are sealed
    for name, code in codes.items():
        row = by_name[name]
        assert row.status == ImportStatus.FAILED and row.error_code == code, name
        assert row.error_message and row.dispatch_id is None and row.programme_id is None
    assert "200.0 MB" not in err and "20 MB" in err  # the size limit is stated
    # Nothing saved for the bad files: four dispatches, each with its one attachment file. The two
    # copies of the Dakar plan (UTF-8 and UTF-16: different files) give one draft programme.
    imported = LetterImport.objects.unrestricted("test").filter(status=ImportStatus.IMPORTED)
    assert imported.count() == 4
    assert Dispatch.objects.unrestricted("test").count() == 4
    assert Attachment.objects.count() == 4 == _attachment_files()
    assert "DAKAR already has a programme for 2022" in out


def test_legacy_encodings_import_with_a_note(ministry: Any, importer: Any, folder: Path) -> None:
    _encoded_files(folder)
    summary = bulk.run_bulk(
        actor=importer, paths=[str(folder)], registry_unit=ministry.units["SG/BO"], progress=False
    )
    assert (summary.imported, summary.failed) == (3, 0), summary.failures
    rows = {r.filename: r for r in LetterImport.objects.unrestricted("test").filter(status=ImportStatus.IMPORTED)}
    latin1 = dispatch_of(rows["10-latin1.txt"])
    assert latin1.sender_name == "Nouakchott"  # no mission there in the demo ministry: the place is the sender
    assert "text:encoding_guess" in rows["10-latin1.txt"].extraction["problems"]
    assert rows["10-latin1.txt"].extraction["encoding"] == "iso-8859-1"
    assert rows["11-cp1252.txt"].extraction["encoding"] == "windows-1252"
    cp1252 = dispatch_of(rows["11-cp1252.txt"])
    assert {r.unit.code for r in Routing.objects.filter(dispatch=cp1252).select_related("unit")} >= {"DAB/1"}
    utf16 = dispatch_of(rows["12-utf16.txt"])
    assert utf16.subject == "Programme d'actions de l'Ambassade au titre de l'année 2022"
    # The original UTF-16 file is kept byte for byte as the dispatch's attachment.
    attachment = Attachment.objects.get(dispatch=utf16)
    assert attachment.filename == "12-utf16.txt"
    assert attachment.size == len(codecs.BOM_UTF16_LE + DAKAR.encode("utf-16-le"))
    assert not any("plain text" in note for note in rows["12-utf16.txt"].notes), rows["12-utf16.txt"].notes


def test_a_failure_after_the_dispatch_was_written_leaves_nothing(
    ministry: Any, importer: Any, folder: Path
) -> None:
    """The draft programme fails (an indicator too large for the table) after the dispatch and
    its attachment were written: the whole file is rolled back, its file removed."""
    letter = folder / "big-figure.txt"
    letter.write_text(DAKAR.replace("42,5 millions EUR", "123456789012345 millions EUR"), encoding="utf-8")
    (folder / "dakar.txt").write_text(DAKAR.replace("DG3/1", "DG3/2"), encoding="utf-8")
    summary = bulk.run_bulk(
        actor=importer, paths=[str(folder)], registry_unit=ministry.units["SG/BO"], progress=False
    )
    assert (summary.imported, summary.failed) == (1, 1)
    (failure,) = summary.failures
    assert failure[0].endswith("big-figure.txt") and failure[1] == "programme_invalid"
    assert Dispatch.objects.unrestricted("test").count() == 1
    assert Programme.objects.unrestricted("test").count() == 1
    assert Attachment.objects.count() == 1 == _attachment_files()


def test_a_rerun_resumes_and_skips_what_was_imported(ministry: Any, importer: Any, folder: Path) -> None:
    (folder / "a.txt").write_text(DAKAR, encoding="utf-8")
    (folder / "b.txt").write_text(NOUAKCHOTT.replace("DAF/1 - DAJ/2", "DG3/1"), encoding="utf-8")
    (folder / "c.txt").write_bytes(b"")

    seen: list[str] = []

    def stop_after_first(path: Path, result: Any) -> None:
        seen.append(path.name)
        raise KeyboardInterrupt  # as if the run were interrupted after its first file

    unit = ministry.units["SG/BO"]
    with pytest.raises(KeyboardInterrupt):
        bulk.run_bulk(actor=importer, paths=[str(folder)], registry_unit=unit, progress=False,
                      on_result=stop_after_first)
    batch = ImportBatch.objects.unrestricted("test").get()
    assert batch.state == BatchState.RUNNING and batch.imported == 1 and seen == ["a.txt"]

    summary = bulk.run_bulk(actor=importer, paths=[str(folder)], registry_unit=unit, progress=False)
    assert summary.resumed and summary.batch_id == batch.pk
    assert (summary.imported, summary.skipped, summary.failed) == (1, 1, 1)
    batch.refresh_from_db()
    assert batch.state == BatchState.FINISHED and batch.runs == 2 and batch.imported == 2 and batch.failed == 1
    assert Dispatch.objects.unrestricted("test").count() == 2

    # A third run is a new batch where everything already imported is skipped.
    summary = bulk.run_bulk(actor=importer, paths=[str(folder)], registry_unit=unit, progress=False)
    assert not summary.resumed and (summary.imported, summary.skipped, summary.failed) == (0, 2, 1)
    assert LetterImport.objects.unrestricted("test").filter(status=ImportStatus.FAILED).count() == 1


def test_progress_bar_on_a_terminal() -> None:
    class Terminal(StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    bar = bulk.Progress(4, stream=stream)
    for done in range(1, 5):
        bar.update(done, "imported 0")
    bar.message("x.txt: bad")
    bar.close()
    text = stream.getvalue()
    assert "\r[" in text and "4/4 100.0%" in text and "x.txt: bad\n" in text


def test_dry_run_of_a_folder_reads_everything_and_saves_nothing(ministry: Any, folder: Path) -> None:
    _bad_files(folder)
    (folder / "dakar.txt").write_text(DAKAR, encoding="utf-8")
    out, err, failed = _run(str(folder), "--dry-run", "--no-progress")
    assert failed and "6 file(s): 1 read, 5 failed" in out
    assert len([line for line in err.splitlines() if line.strip()]) == 5
    assert LetterImport.objects.unrestricted("test").count() == 0
