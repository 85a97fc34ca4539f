"""Checking an uploaded attachment before it is stored.

- size: at most `settings.CHANCERY_MAX_ATTACHMENT_BYTES` (read with a cap, never whole);
- type: decided from the content (magic bytes, archive layout) AND the name's extension,
  which must agree; only office documents, PDF, text, images, ZIP and e-mail files;
- archives (ZIP and the ZIP-based office formats): entry count, total declared size and
  compression ratio are capped (zip bombs), no encrypted entries;
- file name: base name only, no control or reserved characters, bounded length.

Errors are Django `ValidationError`s keyed on `file` with a stable `code`
(`too_large`, `empty`, `unsupported_type`, `type_mismatch`, `archive_refused`).
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

# Zip-bomb limits.
MAX_ZIP_ENTRIES = 2000
MAX_ZIP_TOTAL_BYTES = 512 * 1024 * 1024
MAX_ZIP_RATIO = 200  # declared size / compressed size, per entry and overall
_MIN_RATIO_CHECK_BYTES = 1024 * 1024  # small entries compress well and harm nobody

# extension -> (content type, detected kind)
TYPES: dict[str, tuple[str, str]] = {
    "pdf": ("application/pdf", "pdf"),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "pptx": ("application/vnd.openxmlformats-officedocument.presentationml.presentation", "pptx"),
    "odt": ("application/vnd.oasis.opendocument.text", "odt"),
    "ods": ("application/vnd.oasis.opendocument.spreadsheet", "ods"),
    "txt": ("text/plain", "text"),
    "csv": ("text/csv", "text"),
    "md": ("text/markdown", "text"),
    "html": ("text/html", "text"),
    "htm": ("text/html", "text"),
    "png": ("image/png", "png"),
    "jpg": ("image/jpeg", "jpeg"),
    "jpeg": ("image/jpeg", "jpeg"),
    "zip": ("application/zip", "zip"),
    "eml": ("message/rfc822", "eml"),
}
ACCEPTED_EXTENSIONS = sorted(TYPES)

_RESERVED = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
_WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
_HEADER_LINE = re.compile(rb"^[A-Za-z0-9][A-Za-z0-9-]*:[ \t]?")


@dataclass(frozen=True)
class CheckedUpload:
    filename: str
    content_type: str
    data: bytes


def _refuse(message: str, code: str) -> ValidationError:
    return ValidationError({"file": ValidationError(message, code=code)})


def sanitise_filename(name: str, *, max_length: int = 150) -> str:
    """A safe base name: no directories, controls or reserved characters, bounded length."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _RESERVED.sub("_", name).strip().lstrip(".").strip()
    name = re.sub(r"\s+", " ", name)
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    if stem.upper() in _WINDOWS_DEVICES:
        stem = f"_{stem}"
    ext = ext[:10]
    stem = stem[: max(1, max_length - len(ext) - 1)].rstrip(". ") or "attachment"
    return f"{stem}.{ext}" if ext else stem


def read_capped(source: bytes | IO[bytes] | Any, limit: int) -> bytes:
    """Read at most limit+1 bytes from bytes, a file object or a Django UploadedFile."""
    if isinstance(source, bytes | bytearray):
        return bytes(source[: limit + 1])
    chunks: Iterable[bytes] = (
        source.chunks() if hasattr(source, "chunks") else iter(lambda: source.read(64 * 1024), b"")
    )
    out = bytearray()
    for chunk in chunks:
        out += chunk
        if len(out) > limit:
            break
    return bytes(out[: limit + 1])


def _zip_names(data: bytes) -> list[str]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise _refuse(_("The archive is damaged."), "archive_refused") from exc
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_ZIP_ENTRIES:
            raise _refuse(_("The archive holds too many files."), "archive_refused")
        total = 0
        compressed_total = 0
        for info in infos:
            if info.flag_bits & 0x1:
                raise _refuse(_("Encrypted archives are not accepted."), "archive_refused")
            total += info.file_size
            compressed_total += info.compress_size
            if info.file_size > _MIN_RATIO_CHECK_BYTES and info.file_size > MAX_ZIP_RATIO * max(info.compress_size, 1):
                raise _refuse(_("The archive expands too much (possible zip bomb)."), "archive_refused")
        if total > MAX_ZIP_TOTAL_BYTES:
            raise _refuse(_("The archive expands too much (possible zip bomb)."), "archive_refused")
        if total > _MIN_RATIO_CHECK_BYTES and total > MAX_ZIP_RATIO * max(compressed_total, 1):
            raise _refuse(_("The archive expands too much (possible zip bomb)."), "archive_refused")
        return [info.filename for info in infos]


def _zip_kind(data: bytes) -> str:
    names = _zip_names(data)
    name_set = set(names)
    if "mimetype" in name_set:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            info = archive.getinfo("mimetype")
            mimetype = archive.read("mimetype")[:100].decode("ascii", "replace").strip() if info.file_size < 200 else ""
        if mimetype == "application/vnd.oasis.opendocument.text":
            return "odt"
        if mimetype == "application/vnd.oasis.opendocument.spreadsheet":
            return "ods"
    if "[Content_Types].xml" in name_set:
        if any(n.startswith("word/") for n in names):
            return "docx"
        if any(n.startswith("xl/") for n in names):
            return "xlsx"
        if any(n.startswith("ppt/") for n in names):
            return "pptx"
    return "zip"


def _is_text(data: bytes) -> bool:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        # UTF-16 with a byte-order mark (as Windows tools write it): NUL bytes are expected.
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            return False
        return not any(unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f" for ch in text)
    if b"\x00" in data:
        return False
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            return False
    return not any(unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f" for ch in text)


def _is_eml(data: bytes) -> bool:
    if not _is_text(data):
        return False
    head = data[:16384].replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    lines = head.split(b"\n")
    if len(lines) < 2:
        return False
    fields = [line for line in lines if _HEADER_LINE.match(line)]
    folded = [line for line in lines if line[:1] in (b" ", b"\t")]
    known = {b"from", b"to", b"subject", b"date", b"received", b"message-id", b"mime-version", b"return-path"}
    names = {line.split(b":", 1)[0].lower() for line in fields}
    return len(fields) + len(folded) == len(lines) and len(names & known) >= 2


def detect_kind(data: bytes) -> str | None:
    """The kind of content (`pdf`, `png`, `jpeg`, `docx`, ..., `text`, `eml`), or None."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_kind(data)
    if _is_eml(data):
        return "eml"
    if _is_text(data):
        return "text"
    return None


def check_upload(*, filename: str, source: bytes | IO[bytes] | Any, max_bytes: int | None = None) -> CheckedUpload:
    """The checked, sanitised upload; raises ValidationError (on `file`) if refused."""
    limit = int(max_bytes if max_bytes is not None else settings.CHANCERY_MAX_ATTACHMENT_BYTES)
    data = read_capped(source, limit)
    if len(data) > limit:
        raise _refuse(
            _("The file is larger than %(size)s MB.") % {"size": round(limit / (1024 * 1024), 1)}, "too_large"
        )
    if not data:
        raise _refuse(_("The file is empty."), "empty")
    safe_name = sanitise_filename(filename)
    ext = safe_name.rpartition(".")[2].lower() if "." in safe_name else ""
    if ext not in TYPES:
        raise _refuse(
            _("This type of file is not accepted (accepted: %(types)s).") % {"types": ", ".join(ACCEPTED_EXTENSIONS)},
            "unsupported_type",
        )
    content_type, expected = TYPES[ext]
    kind = detect_kind(data)
    if kind is None:
        raise _refuse(_("The content of this file is not of an accepted type."), "unsupported_type")
    # An e-mail is text too; a .txt holding e-mail headers is still a text file.
    if kind != expected and not (expected == "text" and kind == "eml"):
        raise _refuse(_("The file's content does not match its name (.%(ext)s).") % {"ext": ext}, "type_mismatch")
    return CheckedUpload(filename=safe_name, content_type=content_type, data=data)
