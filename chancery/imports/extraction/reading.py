"""Bytes of an uploaded file -> plain text (TXT/Markdown, DOCX, ODT, EML, HTML, PDF with a text layer).

Everything here treats the input as hostile: sizes are checked before any work, zip members are
read through a capped stream, XML with a DTD is refused, pdftotext runs under a timeout.
"""

from __future__ import annotations

import codecs
import email
import os
import re
import shutil
import subprocess
import tempfile
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from html.parser import HTMLParser
from io import BytesIO
from pathlib import Path
from typing import BinaryIO
from xml.etree import ElementTree as ET

from .errors import ExtractionError

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
MAX_XML_BYTES = 64 * 1024 * 1024  # uncompressed size of the one zip member we parse
MAX_COMPRESSION_RATIO = 100
RATIO_CHECK_FLOOR = 1024 * 1024  # small members may compress well without being a threat
MAX_ZIP_MEMBERS = 10_000
MAX_TEXT_BYTES = 32 * 1024 * 1024  # text produced by pdftotext
PDF_TIMEOUT_SECONDS = 60
PDF_MAX_PAGES = 500

TEXT_EXTENSIONS = frozenset({"", ".txt", ".text", ".md", ".markdown", ".mdown"})
KNOWN_EXTENSIONS = TEXT_EXTENSIONS | {".docx", ".odt", ".pdf", ".eml", ".html", ".htm"}

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_TEXT_NS = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_TABLE_NS = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_OFFICE_NS = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"


@dataclass(frozen=True)
class Document:
    """Text read from a file; `metadata` carries e-mail `subject`/`date` when there are any."""

    text: str
    format: str  # text, markdown, docx, odt, pdf, eml, html
    encoding: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    encoding_guessed: bool = False  # True when a legacy 8-bit encoding had to be assumed
    # files attached to an e-mail (name, bytes): the letter itself is often one of them
    embedded: tuple[tuple[str, bytes], ...] = ()


def _human_size(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB" if size >= 1024 * 1024 else f"{size} bytes"


def _too_large(size: int | None, max_bytes: int) -> ExtractionError:
    detail = f"{size} bytes > {max_bytes}" if size is not None else f"more than {max_bytes} bytes"
    return ExtractionError("too_large", detail, limit=_human_size(max_bytes))


def read_limited(stream: BinaryIO, *, max_bytes: int = DEFAULT_MAX_BYTES, chunk_size: int = 1 << 16) -> bytes:
    """Read a stream but never more than `max_bytes` (+1 to notice an overflow)."""
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = stream.read(min(chunk_size, max_bytes + 1 - total))
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > max_bytes:
            raise _too_large(None, max_bytes)
        chunks.append(chunk)


def read_document_path(path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> Document:
    """Like `read_document`, checking the size on disk before opening the file."""
    file_path = Path(path)
    size = file_path.stat().st_size
    if size > max_bytes:
        raise _too_large(size, max_bytes)
    with file_path.open("rb") as stream:
        data = read_limited(stream, max_bytes=max_bytes)
    return read_document(data, file_path.name, max_bytes=max_bytes)


def read_document(data: bytes, filename: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Document:
    if len(data) > max_bytes:
        raise _too_large(len(data), max_bytes)
    if not data.strip():
        raise ExtractionError("empty")
    extension = Path(filename or "").suffix.lower()
    head = data[:1024]
    if b"%PDF-" in head:
        return Document(_pdf_text(data), "pdf", "utf-8")
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        return _read_zip_document(data)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ExtractionError("unsupported_format", "legacy OLE document (.doc/.msg)")
    if data.lstrip().startswith(b"{\\rtf"):
        raise ExtractionError("unsupported_format", "RTF")
    if extension in (".docx", ".odt", ".pdf"):
        raise ExtractionError("corrupt", f"not a {extension[1:].upper()} file")
    if extension not in KNOWN_EXTENSIONS:
        raise ExtractionError("unsupported_format", f"extension {extension}")
    if extension == ".eml" or _looks_like_email(data):
        return _read_email(data)
    text, encoding, guessed = decode_text(data)
    if extension in (".html", ".htm") or re.match(r"\s*<(?:!doctype\s+html|html)\b", text[:200], re.I):
        return Document(html_to_text(text), "html", encoding, encoding_guessed=guessed)
    if not text.strip():
        raise ExtractionError("empty")
    kind = "markdown" if extension in (".md", ".markdown", ".mdown") else "text"
    return Document(normalise_newlines(text), kind, encoding, encoding_guessed=guessed)


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n").replace("\u2028", "\n")


# --- plain text -------------------------------------------------------------------------------

_UTF8_MULTIBYTE_RE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


def _cp1252_fallback(error: UnicodeError) -> tuple[str, int]:
    # a stray Windows-1252 byte in an otherwise UTF-8 file (copy-paste from an old document)
    assert isinstance(error, UnicodeDecodeError)
    return error.object[error.start : error.end].decode("cp1252", errors="replace"), error.end


codecs.register_error("chancery-cp1252", _cp1252_fallback)


def _utf16_without_bom(data: bytes) -> str | None:
    if len(data) < 4 or len(data) % 2:
        return None
    even_zeros = data[0::2].count(0) / (len(data) / 2)
    odd_zeros = data[1::2].count(0) / (len(data) / 2)
    if odd_zeros > 0.3 and even_zeros < 0.05:
        return "utf-16-le"
    if even_zeros > 0.3 and odd_zeros < 0.05:
        return "utf-16-be"
    return None


def looks_binary(text: str) -> bool:
    """Control characters (other than layout ones) mean this is not a letter."""
    if "\x00" in text:
        return True
    sample = text[:100_000]
    bad = sum(
        1
        for ch in sample
        if ch == "\ufffd" or (unicodedata.category(ch) in ("Cc", "Co", "Cs") and ch not in "\t\n\r\f\v")
    )
    return bad > max(2, len(sample) // 100)


def _decode_8bit(data: bytes) -> tuple[str, str]:
    # Windows-1252 is Latin-1 with printable characters where Latin-1 has C1 controls
    if any(0x80 <= byte <= 0x9F for byte in data):
        try:
            return data.decode("cp1252"), "windows-1252"
        except UnicodeDecodeError:
            pass
    return data.decode("latin-1"), "iso-8859-1"


def decode_text(data: bytes) -> tuple[str, str, bool]:
    """(text, encoding, guessed): BOMs first, then UTF-8, then Windows-1252 / Latin-1."""
    boms = (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    )
    encoding = next((name for bom, name in boms if data.startswith(bom)), None)
    guessed = False
    if encoding is None and b"\x00" in data:
        encoding = _utf16_without_bom(data)
        if encoding is None:
            raise ExtractionError("binary", "NUL bytes")
    try:
        if encoding is not None:
            text = data.decode(encoding)
        else:
            try:
                text, encoding = data.decode("utf-8"), "utf-8"
            except UnicodeDecodeError:
                valid = len(_UTF8_MULTIBYTE_RE.findall(data))
                invalid = data.decode("utf-8", errors="replace").count("\ufffd")
                guessed = True
                if valid and valid >= invalid:
                    text, encoding = data.decode("utf-8", errors="chancery-cp1252"), "utf-8"
                else:
                    text, encoding = _decode_8bit(data)
    except UnicodeDecodeError as exc:
        raise ExtractionError("binary", f"undecodable as {encoding}") from exc
    if looks_binary(text):
        raise ExtractionError("binary", "control characters")
    return text.lstrip("\ufeff"), encoding, guessed


# --- e-mail and HTML --------------------------------------------------------------------------

_EMAIL_HEADER_RE = re.compile(rb"^(?:Received|Message-ID|MIME-Version|Return-Path|X-[\w-]+)\s*:", re.I | re.M)


def _looks_like_email(data: bytes) -> bool:
    head = data[:4096].split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
    return bool(_EMAIL_HEADER_RE.search(head)) and bool(re.search(rb"^From\s*:", head, re.I | re.M))


def _read_email(data: bytes) -> Document:
    message = email.message_from_bytes(data, policy=policy.default)
    if not isinstance(message, EmailMessage):  # pragma: no cover - policy.default always gives one
        raise ExtractionError("corrupt", "e-mail")
    metadata = {key: str(message[key]) for key in ("subject", "date") if message[key]}
    embedded = tuple(_email_attachments(message))
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None or not isinstance(part, EmailMessage):
        if embedded:
            return Document("", "eml", None, metadata, embedded=embedded)
        raise ExtractionError("empty", "e-mail without a text part")
    try:
        content = part.get_content()
    except (LookupError, UnicodeError):
        payload = part.get_payload(decode=True)
        content = decode_text(payload if isinstance(payload, bytes) else b"")[0]
    if not isinstance(content, str):
        raise ExtractionError("empty", "e-mail without a text part")
    if part.get_content_subtype() == "html":
        content = html_to_text(content)
    if not content.strip() and not embedded:
        raise ExtractionError("empty", "e-mail body is empty")
    charset = part.get_content_charset() or "utf-8"
    return Document(normalise_newlines(content), "eml", charset, metadata, embedded=embedded)


def _email_attachments(message: EmailMessage) -> Iterator[tuple[str, bytes]]:
    for part in message.iter_attachments():
        name = part.get_filename() or ""
        # no nested e-mails: one level of attachments is what missions send
        if Path(name).suffix.lower() in KNOWN_EXTENSIONS - {".eml", ""}:
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes) and payload:
                yield name, payload


class _HtmlText(HTMLParser):
    _BLOCKS = frozenset(
        {"p", "div", "br", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "li", "table", "ul", "ol", "blockquote"}
    )
    _SKIPPED = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIPPED:
            self._skip += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")
            if tag == "li":
                self.parts.append("- ")
        elif tag in ("td", "th"):
            self.parts.append("\t")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIPPED:
            self._skip = max(0, self._skip - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(re.sub(r"[ \t\r\n]+", " ", data))


def html_to_text(markup: str) -> str:
    parser = _HtmlText()
    parser.feed(markup)
    parser.close()
    lines = [line.strip(" ") for line in "".join(parser.parts).split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n") + "\n"


# --- zip containers (DOCX, ODT) ----------------------------------------------------------------


def _read_zip_document(data: bytes) -> Document:
    try:
        archive = zipfile.ZipFile(BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise ExtractionError("corrupt", f"zip: {exc}") from exc
    with archive:
        members = archive.infolist()
        if len(members) > MAX_ZIP_MEMBERS:
            raise ExtractionError("zip_bomb", f"{len(members)} members")
        names = {member.filename for member in members}
        if "word/document.xml" in names:
            root = _parse_xml(_read_member(archive, "word/document.xml"))
            return Document(_docx_text(root), "docx", "utf-8")
        if "content.xml" in names:
            mimetype = _read_member(archive, "mimetype").strip() if "mimetype" in names else b""
            if mimetype and mimetype != b"application/vnd.oasis.opendocument.text":
                raise ExtractionError("unsupported_format", mimetype.decode("ascii", "replace"))
            root = _parse_xml(_read_member(archive, "content.xml"))
            return Document(_odt_text(root), "odt", "utf-8")
    raise ExtractionError("unsupported_format", "zip archive that is neither DOCX nor ODT")


def _read_member(archive: zipfile.ZipFile, name: str, limit: int = MAX_XML_BYTES) -> bytes:
    info = archive.getinfo(name)
    if info.flag_bits & 0x1:
        raise ExtractionError("corrupt", "password-protected document")
    if info.file_size > limit:
        raise ExtractionError("zip_bomb", f"{name} declares {info.file_size} bytes")
    if info.file_size > RATIO_CHECK_FLOOR and (
        info.compress_size == 0 or info.file_size / info.compress_size > MAX_COMPRESSION_RATIO
    ):
        raise ExtractionError("zip_bomb", f"{name} compression ratio")
    chunks: list[bytes] = []
    total = 0
    try:
        with archive.open(info) as stream:
            # declared sizes can lie: stop as soon as the real output passes them
            while chunk := stream.read(1 << 16):
                total += len(chunk)
                if total > min(limit, info.file_size):
                    raise ExtractionError("zip_bomb", f"{name} inflates past its declared size")
                chunks.append(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
        raise ExtractionError("corrupt", f"{name}: {exc}") from exc
    return b"".join(chunks)


def _parse_xml(data: bytes) -> ET.Element:
    # Office files never carry a DTD; refusing one rules out entity-expansion attacks
    if re.search(rb"<!(?:DOCTYPE|ENTITY)", data[:65536] + data[-65536:], re.I) or b"<!ENTITY" in data:
        raise ExtractionError("corrupt", "XML with a DTD")
    try:
        return ET.fromstring(data)  # noqa: S314 - DTDs refused above; expat resolves no external entities
    except ET.ParseError as exc:
        raise ExtractionError("corrupt", f"XML: {exc}") from exc


def _docx_runs(paragraph: ET.Element) -> str:
    parts: list[str] = []
    for node in paragraph.iter():
        if node.tag == f"{_W}t":
            parts.append(node.text or "")
        elif node.tag == f"{_W}tab":
            parts.append("\t")
        elif node.tag in (f"{_W}br", f"{_W}cr"):
            parts.append("\n")
        elif node.tag == f"{_W}noBreakHyphen":
            parts.append("-")
    return "".join(parts)


def _docx_blocks(parent: ET.Element) -> Iterator[str]:
    for child in parent:
        if child.tag == f"{_W}p":
            text = _docx_runs(child)
            numbered = child.find(f"{_W}pPr/{_W}numPr") is not None
            yield f"- {text}" if numbered and text.strip() else text
        elif child.tag == f"{_W}tbl":
            for row in child.iter(f"{_W}tr"):
                yield from _table_row([cell for cell in row if cell.tag == f"{_W}tc"], _docx_blocks)
        elif child.tag in (f"{_W}sdt", f"{_W}sdtContent", f"{_W}customXml", f"{_W}body"):
            yield from _docx_blocks(child)


def _table_row(cells: list[ET.Element], blocks: Callable[[ET.Element], Iterator[str]]) -> Iterator[str]:
    """A one-cell row keeps its paragraphs; cells of a wider row go on one tab-separated line."""
    texts = [[line for line in blocks(cell) if line.strip()] for cell in cells]
    if len(cells) == 1:
        yield from texts[0]
    else:
        yield "\t".join(" ".join(lines) for lines in texts)


def _docx_text(root: ET.Element) -> str:
    body = root.find(f"{_W}body")
    if body is None:
        raise ExtractionError("corrupt", "DOCX without a body")
    return normalise_newlines("\n".join(_docx_blocks(body))) + "\n"


def _odt_inline(node: ET.Element) -> str:
    parts: list[str] = [node.text or ""]
    for child in node:
        if child.tag == f"{_TEXT_NS}s":
            parts.append(" " * int(child.get(f"{_TEXT_NS}c", "1") or 1))
        elif child.tag == f"{_TEXT_NS}tab":
            parts.append("\t")
        elif child.tag == f"{_TEXT_NS}line-break":
            parts.append("\n")
        elif child.tag not in (f"{_TEXT_NS}note", f"{_TEXT_NS}annotation"):
            parts.append(_odt_inline(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _odt_blocks(parent: ET.Element) -> Iterator[str]:
    for child in parent:
        if child.tag in (f"{_TEXT_NS}p", f"{_TEXT_NS}h"):
            yield _odt_inline(child)
        elif child.tag == f"{_TEXT_NS}list":
            for item in child:
                for number, line in enumerate(_odt_blocks(item)):
                    yield f"- {line}" if number == 0 and line.strip() else line
        elif child.tag == f"{_TABLE_NS}table":
            for row in child.iter(f"{_TABLE_NS}table-row"):
                yield from _table_row([c for c in row if c.tag == f"{_TABLE_NS}table-cell"], _odt_blocks)
        elif child.tag in (f"{_TEXT_NS}section", f"{_OFFICE_NS}text", f"{_OFFICE_NS}body", f"{_TEXT_NS}list-item"):
            yield from _odt_blocks(child)


def _odt_text(root: ET.Element) -> str:
    body = root.find(f"{_OFFICE_NS}body")
    if body is None:
        raise ExtractionError("corrupt", "ODT without a body")
    return normalise_newlines("\n".join(_odt_blocks(body))) + "\n"


# --- PDF ----------------------------------------------------------------------------------------


def _pdf_text(data: bytes) -> str:
    tool = shutil.which("pdftotext")
    if tool is None:
        raise ExtractionError("tool_missing", "pdftotext not on PATH", tool="pdftotext", package="poppler-utils")
    with tempfile.TemporaryDirectory(prefix="chancery-pdf-") as folder:
        source = Path(folder) / "letter.pdf"
        target = Path(folder) / "letter.txt"
        source.write_bytes(data)
        command = [tool, "-layout", "-enc", "UTF-8", "-l", str(PDF_MAX_PAGES), str(source), "-"]
        try:
            with target.open("wb") as out:
                done = subprocess.run(
                    command, stdout=out, stderr=subprocess.PIPE, timeout=PDF_TIMEOUT_SECONDS, check=False
                )
        except subprocess.TimeoutExpired as exc:
            raise ExtractionError("corrupt", "pdftotext timed out") from exc
        except OSError as exc:
            raise ExtractionError("tool_missing", str(exc), tool="pdftotext", package="poppler-utils") from exc
        if done.returncode != 0:
            message = done.stderr.decode("utf-8", "replace").strip().splitlines()
            raise ExtractionError("corrupt", f"pdftotext: {message[-1] if message else done.returncode}")
        if target.stat().st_size > MAX_TEXT_BYTES:
            raise ExtractionError("too_large", "text of the PDF", limit=_human_size(MAX_TEXT_BYTES))
        text = target.read_bytes().decode("utf-8", errors="replace")
    if not text.replace("\f", "").strip():
        raise ExtractionError("no_text_layer")
    return normalise_newlines(text)
