"""Attachment uploads: size, type by content and name, zip bombs, file names, no leftovers."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from chancery.correspondence import services
from chancery.correspondence.tests.domain_helpers import PDF, draft
from chancery.correspondence.uploads import check_upload, sanitise_filename

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32
EML = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: Invitation\r\n\r\nBonjour.\r\n"


def _zip(entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


DOCX = _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})
XLSX = _zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"})
ODT = _zip({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<office/>"})


def _code(exc: pytest.ExceptionInfo[ValidationError]) -> str:
    return str(exc.value.error_dict["file"][0].code)


@pytest.mark.parametrize(
    ("name", "data", "content_type"),
    [
        ("rapport.pdf", PDF, "application/pdf"),
        ("photo.PNG", PNG, "image/png"),
        ("photo.jpeg", JPEG, "image/jpeg"),
        ("note.docx", DOCX, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        ("tableau.xlsx", XLSX, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("note.odt", ODT, "application/vnd.oasis.opendocument.text"),
        ("archive.zip", _zip({"a.txt": b"a"}), "application/zip"),
        ("donnees.csv", b"pays;visites\nSN;12\n", "text/csv"),
        ("lettre.txt", "Objet : semaine culturelle, été".encode("cp1252"), "text/plain"),
        ("courriel.eml", EML, "message/rfc822"),
        ("lettre.md", b"**Objet :** semaine culturelle", "text/markdown"),
        ("lettre.html", b"<p>Objet : semaine culturelle</p>", "text/html"),
        ("lettre-utf16.txt", "Objet : semaine culturelle, été".encode("utf-16"), "text/plain"),
    ],
)
def test_accepted(name: str, data: bytes, content_type: str) -> None:
    checked = check_upload(filename=name, source=data)
    assert checked.content_type == content_type and checked.data == data


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("image.png", PDF, "type_mismatch"),
        ("note.pdf", b"MZ\x90\x00" + b"\x00" * 60, "unsupported_type"),
        ("outil.exe", b"MZ\x90\x00", "unsupported_type"),
        ("note.xlsx", DOCX, "type_mismatch"),
        ("script.txt", b"\x00\x01binary", "unsupported_type"),
        ("faux-utf16.txt", b"\xff\xfe\x01\x00\x02\x00", "unsupported_type"),
        ("sans-extension", b"texte", "unsupported_type"),
        ("vide.txt", b"", "empty"),
        ("fausse.docx", b"PK\x03\x04 not really a zip", "archive_refused"),
    ],
)
def test_refused(name: str, data: bytes, code: str) -> None:
    with pytest.raises(ValidationError) as info:
        check_upload(filename=name, source=data)
    assert _code(info) == code


def test_size_limit_reads_no_more_than_needed() -> None:
    class Endless(io.RawIOBase):
        read_total = 0

        def read(self, size: int = -1) -> bytes:
            Endless.read_total += size
            return b"a" * size

    with pytest.raises(ValidationError) as info:
        check_upload(filename="big.txt", source=Endless(), max_bytes=1000)
    assert _code(info) == "too_large"
    assert Endless.read_total < 200_000


def test_zip_bombs() -> None:
    bomb = _zip({"zeros.bin": b"\x00" * (20 * 1024 * 1024)})
    with pytest.raises(ValidationError) as info:
        check_upload(filename="bomb.zip", source=bomb)
    assert _code(info) == "archive_refused"
    docx_bomb = _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b" " * (20 * 1024 * 1024)})
    with pytest.raises(ValidationError):
        check_upload(filename="bomb.docx", source=docx_bomb)
    many = _zip({f"f{i}.txt": b"x" for i in range(2100)}, zipfile.ZIP_STORED)
    with pytest.raises(ValidationError):
        check_upload(filename="many.zip", source=many)


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("C:\\Users\\agent\\rapport final.pdf", "rapport final.pdf"),
        ("a<b>:c|d?.txt", "a_b__c_d_.txt"),
        ("\x00\x1fnote\u202e.txt", "note.txt"),
        ("...hidden.txt", "hidden.txt"),
        ("CON.txt", "_CON.txt"),
        ("é" * 300 + ".pdf", "é" * 146 + ".pdf"),
        ("", "attachment"),
    ],
)
def test_filenames_sanitised(raw: str, safe: str) -> None:
    assert sanitise_filename(raw) == safe


@pytest.mark.django_db
def test_refused_upload_leaves_no_file(ministry: Any) -> None:
    user = ministry.users["counsellor.dakar"]
    d = draft(ministry, classification=1)
    root = Path(settings.CHANCERY_ATTACHMENT_DIR)

    def files() -> list[Path]:
        return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []

    with override_settings(CHANCERY_MAX_ATTACHMENT_BYTES=100):
        with pytest.raises(ValidationError):
            services.add_attachment(actor=user, dispatch=d, filename="big.txt", source=b"a" * 101)
        with pytest.raises(ValidationError):
            services.add_attachment(actor=user, dispatch=d, filename="x.pdf", source=PNG)
    assert files() == [] and d.attachments.count() == 0
    upload = SimpleUploadedFile("../Rapport.pdf", PDF, content_type="application/octet-stream")
    attachment = services.add_attachment(actor=user, dispatch=d, filename=upload.name or "", source=upload)
    assert attachment.filename == "Rapport.pdf" and attachment.content_type == "application/pdf"
    assert attachment.encrypted and len(files()) == 1
