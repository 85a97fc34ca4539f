"""Attachments are searchable by their text, extracted in the background after upload by the
real task worker; real files made by real tools (LibreOffice, python-docx, openpyxl)."""

from __future__ import annotations

import io
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from chancery.correspondence import services
from chancery.correspondence.tests.domain_helpers import draft
from chancery.search.adapters.attachment import extract_text
from chancery.search.selectors import search

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def office_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.fail("LibreOffice (soffice) is not installed")
    folder = tmp_path_factory.mktemp("office")
    (folder / "rapport.txt").write_text("Rapport sur la pisciculture lacustre du Sénégal\n", encoding="utf-8")
    (folder / "annexe.txt").write_text("Annexe sur la sériciculture à Madagascar\n", encoding="utf-8")
    profile = (folder / "profile").as_uri()
    for target, name in (("pdf", "rapport.txt"), ("odt", "annexe.txt")):
        subprocess.run(
            [
                soffice,
                "--headless",
                f"-env:UserInstallation={profile}",
                "--infilter=Text (encoded):UTF8,LF,,,",
                "--convert-to",
                target,
                "--outdir",
                str(folder),
                str(folder / name),
            ],
            check=True,
            capture_output=True,
            timeout=180,
        )
    return {"rapport.pdf": (folder / "rapport.pdf").read_bytes(), "annexe.odt": (folder / "annexe.odt").read_bytes()}


def _docx(text: str) -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _xlsx(text: str) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Ligne budgétaire", text])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _eml(text: str) -> bytes:
    message = EmailMessage()
    message["Subject"] = "Compte rendu"
    message["From"] = "a@example.org"
    message["To"] = "b@example.org"
    message.set_content(text)
    return bytes(message)


def test_attachment_text_is_searchable_after_background_extraction(
    ministry: Any,
    office_files: dict[str, bytes],
    run_tasks: Callable[[], None],
    django_capture_on_commit_callbacks: Any,
) -> None:
    files = {
        **office_files,
        "note.docx": _docx("Note sur l'apiculture urbaine"),
        "budget.xlsx": _xlsx("ostréiculture"),
        "message.eml": _eml("Échanges sur la viticulture andine"),
        "brut.txt": b"Fiche sur l'aquaponie",
    }
    with django_capture_on_commit_callbacks(execute=True):
        dispatch = draft(ministry, subject="Pièces jointes", attachments=list(files.items()))
    user = ministry.users["counsellor.dakar"]
    assert search(user, "pisciculture").total == 0  # not yet: extraction runs in the background
    run_tasks()
    for word, name in [
        ("pisciculture", "rapport.pdf"),
        ("sériciculture", "annexe.odt"),
        ("apiculture", "note.docx"),
        ("ostreiculture", "budget.xlsx"),
        ("viticulture", "message.eml"),
        ("aquaponie", "brut.txt"),
    ]:
        results = search(user, f"{word} type:attachment")
        assert [h.title for h in results.hits] == [name], word
        assert results.hits[0].url.startswith(f"/correspondence/dispatches/{dispatch.pk}/attachments/")
        assert "<mark>" in str(results.hits[0].snippet)


def test_protected_attachment_found_only_by_cleared_readers(
    ministry: Any, run_tasks: Callable[[], None], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        draft(
            ministry,
            author="hom.dakar",
            classification=2,
            subject="Confidentiel",
            attachments=[("c.docx", _docx("Le dossier hydrographique du fleuve"))],
        )
    run_tasks()
    assert search(ministry.users["hom.dakar"], "hydrographique").total == 1
    assert search(ministry.users["counsellor.dakar"], "hydrographique").total == 0


def _zip_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"\0" * (20 * 1024 * 1024))
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("bomb.docx", _zip_bomb()),
        ("bomb.xlsx", _zip_bomb()),
        ("broken.pdf", b"%PDF-1.4\n garbage without objects"),
        ("broken.docx", b"PK\x03\x04 not really a zip"),
        ("empty.txt", b""),
    ],
)
def test_failed_extraction_yields_no_text_and_no_error(name: str, data: bytes, tmp_path: Path) -> None:
    assert extract_text(data, name) == ""


def test_a_file_that_cannot_be_read_is_indexed_by_name_and_the_rest_keeps_working(
    ministry: Any, run_tasks: Callable[[], None], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        dispatch = draft(ministry, subject="Deux pièces")
        services.add_attachment(
            actor=ministry.users["counsellor.dakar"],
            dispatch=dispatch,
            filename="illisible-mangrove.pdf",
            source=b"%PDF-1.4\n garbage without objects",
        )
        services.add_attachment(
            actor=ministry.users["counsellor.dakar"],
            dispatch=dispatch,
            filename="lisible.txt",
            source=b"La mangrove du Saloum",
        )
    run_tasks()
    user = ministry.users["counsellor.dakar"]
    titles = sorted(h.title for h in search(user, "mangrove type:attachment").hits)
    assert titles == ["illisible-mangrove.pdf", "lisible.txt"]
