"""Attachments: their file name and the text extracted from the file (PDF, DOCX, ODT, XLSX,
TXT, e-mail). Extraction reads the file (decrypted in memory for a protected dispatch)
through the letter-import reader, which refuses zip bombs and runs pdftotext under a
timeout; a file whose text cannot be read is indexed by its name alone."""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from django.db.models import Prefetch, prefetch_related_objects
from django.urls import reverse

from chancery.correspondence import content
from chancery.correspondence.models import Attachment, Dispatch
from chancery.imports.extraction.errors import ExtractionError
from chancery.imports.extraction.reading import read_document
from chancery.search.adapters.base import Adapter, Entry, Shown
from chancery.search.adapters.dispatch import dispatch_entry, load_dispatches, routed_codes
from chancery.search.analysis import detect_language

if TYPE_CHECKING:
    from chancery.accounts.models import User

logger = logging.getLogger(__name__)

MAX_EXTRACT_BYTES = 20 * 1024 * 1024
MAX_TEXT_CHARS = 2_000_000
XLSX_MAX_CELLS = 200_000


def _xlsx_text(data: bytes) -> str:
    from openpyxl import load_workbook

    # The zip members are checked by read_document's rules first (sizes, ratio).
    workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    parts: list[str] = []
    cells = 0
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows(values_only=True):
            for value in row:
                cells += 1
                if cells > XLSX_MAX_CELLS:
                    return "\n".join(parts)
                if value is not None:
                    parts.append(str(value))
    return "\n".join(parts)


def _safe_zip(data: bytes) -> bool:
    """Refuse archives whose members would inflate beyond a sane size (zip bombs)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            total = 0
            for info in archive.infolist():
                total += info.file_size
                if total > 100 * 1024 * 1024 or (info.compress_size and info.file_size / info.compress_size > 100):
                    return False
        return True
    except zipfile.BadZipFile:
        return False


def extract_text(data: bytes, filename: str) -> str:
    """The text of a file, or "" when it has none we can read (never raises)."""
    try:
        if filename.lower().endswith(".xlsx"):
            return _xlsx_text(data)[:MAX_TEXT_CHARS] if _safe_zip(data) else ""
        document = read_document(data, filename, max_bytes=MAX_EXTRACT_BYTES)
    except ExtractionError as exc:
        # Routine (a format without text, e.g. an image): the file is indexed by its name. At
        # debug level, so that reindexing a million attachments does not print one line each.
        logger.debug("attachment text not extracted: %s", exc.code if hasattr(exc, "code") else type(exc).__name__)
        return ""
    except Exception as exc:  # a hostile or broken file must not stop the indexing of others
        logger.warning("attachment text extraction failed: %s", type(exc).__name__)
        return ""
    parts = [document.text]
    subject = document.metadata.get("subject") if document.metadata else None
    if subject:
        parts.insert(0, subject)
    return "\n".join(parts)[:MAX_TEXT_CHARS]


def _read(attachment: Attachment, dispatch: Dispatch) -> tuple[str, str]:
    name = content.read_filename(attachment, dispatch)
    try:
        data = content.read_attachment(attachment, dispatch)
    except Exception as exc:
        logger.warning("attachment %s unreadable for indexing: %s", attachment.pk, type(exc).__name__)
        return name, ""
    return name, extract_text(data, name)


class AttachmentAdapter(Adapter):
    doc_type = "attachment"

    def _rows(self) -> Any:
        # Every attachment has its dispatch (a cascading foreign key): a `dispatch IN (every
        # dispatch)` test here made SQLite walk all dispatches for each batch of ids
        # (seconds at a million, 200 times over for a reindex).
        return Attachment.objects.unrestricted("search indexing reads every attachment; results are gated")

    def entries(self, ids: Iterable[int]) -> list[Entry]:
        result = []
        attachments = list(
            Attachment.objects.unrestricted("search indexing of these attachments; results are gated").filter(
                pk__in=list(ids)
            )
        )
        loaded = load_dispatches({a.dispatch_id for a in attachments})
        prefetch_related_objects(loaded, "compartments")  # the marking bound to each file and name
        dispatches = {d.pk: d for d in loaded}
        routed = routed_codes(dispatches)
        for attachment in attachments:
            dispatch = dispatches.get(attachment.dispatch_id)
            if dispatch is None:
                continue
            name, text = _read(attachment, dispatch)
            entry = dispatch_entry(dispatch, attachment.pk, routed.get(dispatch.pk, []))
            entry.text = f"{name}\n{text}"
            entry.language = detect_language(text or name)
            result.append(entry)
        return result

    def page(self, user: User, docs: Sequence[Any]) -> dict[int, Any]:
        # An attachment is read through its dispatch: the page's dispatches are fetched
        # through the dispatch gate (one query, keys unwrapped together), and under each only
        # the page's attachments of that dispatch (its reverse relation, bound to the gated
        # instance). Going through `Attachment.objects.visible_to` would list every dispatch
        # the reader may read for twenty attachments.
        wanted = Prefetch("attachments", queryset=Attachment.objects.filter(pk__in=[d.object_id for d in docs]))
        dispatches = list(
            Dispatch.objects.visible_to(user)
            .filter(pk__in=sorted({d.dispatch_id for d in docs if d.dispatch_id is not None}))
            .select_related("sending_unit", "data_key")
            .prefetch_related("compartments", wanted)
        )
        content.unlock_many(dispatches)
        return {a.pk: a for dispatch in dispatches for a in dispatch.attachments.all()}

    def show(self, obj: Any, *, with_text: bool) -> Shown:
        dispatch = obj.dispatch
        name, text = _read(obj, dispatch) if with_text else (content.read_filename(obj, dispatch), "")
        return Shown(
            title=name,
            url=reverse("correspondence:attachment", args=[dispatch.pk, obj.position]),
            reference=f"{dispatch.reference or dispatch} — PJ {obj.position}",
            subject=content.read_field(dispatch, "subject"),
            text=text,
            unit=dispatch.sending_unit.code,
            dated=dispatch.dated,
            compartments=tuple(content.compartment_codes(dispatch)),
        )
