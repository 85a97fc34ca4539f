"""Files that are not letters, or are hostile, give one `ExtractionError` with a stable code."""

from __future__ import annotations

import builtins
import random
import struct
import subprocess
import time
import zipfile
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest

from chancery.imports.extraction import (
    ERROR_CODES,
    ExtractionError,
    extract_letter,
    extract_letter_path,
    extract_text,
    read_limited,
)

from .test_extraction_formats import make_docx
from .test_extraction_samples import sample_text


def _code(data: bytes, filename: str = "lettre.txt", **kwargs: Any) -> str:
    with pytest.raises(ExtractionError) as caught:
        extract_letter(data, filename, **kwargs)
    return caught.value.code


def test_every_code_has_a_message_in_every_language() -> None:
    assert set(ERROR_CODES) == {
        "empty", "too_large", "binary", "unsupported_format", "zip_bomb",
        "corrupt", "no_header", "no_text_layer", "tool_missing",
    }  # fmt: skip
    for code in ERROR_CODES:
        error = ExtractionError(code, "detail", limit="1 MB", tool="pdftotext", package="poppler-utils")  # type: ignore[arg-type]
        assert set(error.messages) == {"fr", "en", "es", "ar"}
        assert all(message.strip() and "{" not in message for message in error.messages.values())
        assert error.message("fr") == error.message_fr and error.message("xx") == error.message_en
        assert "detail" in str(error)
    with pytest.raises(ValueError):
        ExtractionError("nope")  # type: ignore[arg-type]


def test_empty() -> None:
    assert _code(b"") == "empty"
    assert _code(b"  \n\r\n\t ") == "empty"
    assert _code(b"\xef\xbb\xbf\n\n") == "empty"


def test_binary_garbage() -> None:
    garbage = random.Random(1).randbytes(8192)
    assert _code(garbage) == "binary"
    assert _code(b"Objet : test\n\x00\x01\x02\x03\x00\x00\x07" * 50) == "binary"
    assert _code(bytes(range(0x80, 0xA0)) * 40 + b"Objet : x") == "binary"


def test_size_limit_on_bytes() -> None:
    data = sample_text("fr-plan-2022-dakar").encode()
    assert _code(data, max_bytes=100) == "too_large"
    assert extract_letter(data, "ok.txt", max_bytes=len(data)).dispatch.place == "Dakar"
    with pytest.raises(ExtractionError) as caught:
        extract_letter(data, "x.txt", max_bytes=1024)
    assert "1024 bytes" in caught.value.message_fr


def test_sparse_200mb_file_is_refused_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "huge.txt"
    subprocess.run(["truncate", "-s", "200M", str(path)], check=True)

    def no_reading(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the file was opened")

    started = time.monotonic()
    with monkeypatch.context() as patched:
        patched.setattr(builtins, "open", no_reading)
        patched.setattr(Path, "open", no_reading)
        patched.setattr(Path, "read_bytes", no_reading)
        with pytest.raises(ExtractionError) as caught:
            extract_letter_path(path)
    assert caught.value.code == "too_large"
    assert time.monotonic() - started < 1


def test_read_limited_stops_at_the_limit() -> None:
    assert read_limited(BytesIO(b"abc"), max_bytes=3) == b"abc"
    with pytest.raises(ExtractionError) as caught:
        read_limited(BytesIO(b"x" * 10_000), max_bytes=1000, chunk_size=64)
    assert caught.value.code == "too_large"


def test_unsupported_formats() -> None:
    assert _code(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "old.doc") == "unsupported_format"
    assert _code(b"{\\rtf1\\ansi Objet : x}", "lettre.rtf") == "unsupported_format"
    assert _code(b"MZ\x90\x00 not a letter", "setup.exe") == "unsupported_format"
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    assert _code(buffer.getvalue(), "table.xlsx") == "unsupported_format"


def test_corrupt_documents() -> None:
    assert _code(b"plain text pretending", "lettre.docx") == "corrupt"
    assert _code(b"PK\x03\x04" + b"\x00garbage" * 50, "lettre.docx") == "corrupt"
    whole = make_docx("<w:p><w:r><w:t>Objet : x</w:t></w:r></w:p>")
    assert _code(whole[: len(whole) // 2], "lettre.docx") == "corrupt"
    assert _code(make_docx("<w:p><w:r><w:t>unclosed</w:r></w:p>"), "lettre.docx") == "corrupt"


def test_xml_entity_expansion_is_refused() -> None:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
        b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p>'
        b"<w:r><w:t>&lol2;</w:t></w:r></w:p></w:body></w:document>"
    )
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", laughs)
    assert _code(buffer.getvalue(), "lettre.docx") == "corrupt"


def _zip_with_document(size: int, level: int = 9) -> bytes:
    """A DOCX-like zip whose word/document.xml inflates to `size` bytes of spaces (written in chunks)."""
    buffer = BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as archive,
        archive.open("word/document.xml", "w", force_zip64=True) as member,
    ):
        chunk = b" " * (1 << 20)
        for _ in range(size // len(chunk)):
            member.write(chunk)
    return buffer.getvalue()


def test_zip_bomb_by_declared_size() -> None:
    data = _zip_with_document(80 << 20, level=1)
    assert len(data) < 2 << 20
    assert _code(data, "bomb.docx") == "zip_bomb"


def test_zip_bomb_by_compression_ratio() -> None:
    data = _zip_with_document(4 << 20)
    assert _code(data, "bomb.docx") == "zip_bomb"


def test_zip_member_lying_about_its_size() -> None:
    data = bytearray(_zip_with_document(1 << 20))
    central = data.rfind(b"PK\x01\x02")
    compressed = struct.unpack_from("<I", data, central + 20)[0]
    assert compressed != 0xFFFFFFFF  # no zip64 sizes for a member this small
    struct.pack_into("<I", data, central + 24, 1000)  # claims 1000 bytes once inflated
    # the inflated stream is cut at the declared size, so the checksum cannot match
    assert _code(bytes(data), "liar.docx") == "corrupt"


def test_too_many_zip_members() -> None:
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for number in range(10_001):
            archive.writestr(f"f{number}", b"")
    assert _code(buffer.getvalue(), "many.docx") == "zip_bomb"


def _blank_pdf() -> bytes:
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        b"<< /Length 19 >>\nstream\n0 0 1 rg 0 0 9 9 re\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def test_pdf_without_text_layer() -> None:
    assert _code(_blank_pdf(), "scan.pdf") == "no_text_layer"


def test_broken_pdf() -> None:
    assert _code(b"%PDF-1.4\n" + random.Random(2).randbytes(2000), "broken.pdf") == "corrupt"


def test_pdftotext_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ExtractionError) as caught:
        extract_letter(_blank_pdf(), "lettre.pdf")
    assert caught.value.code == "tool_missing"
    assert "poppler-utils" in caught.value.message_fr and "pdftotext" in caught.value.message_en


def test_no_recognisable_header() -> None:
    prose = (
        "Il était une fois, dans une ville lointaine, un jardin où poussaient des arbres centenaires.\n\n"
        "Chaque matin, les enfants venaient y jouer avant l'école.\n"
    )
    assert _code(prose.encode()) == "no_header"
    with pytest.raises(ExtractionError) as caught:
        extract_text("Just a line\n")
    assert caught.value.code == "no_header"


def test_wrong_extension_for_a_text_file() -> None:
    assert _code(b"Objet : test", "lettre.pdf") == "corrupt"
