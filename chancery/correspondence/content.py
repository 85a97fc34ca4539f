"""Encryption at rest of a dispatch's subject, body, attachment files and file names.

A dispatch marked at least *Diffusion restreinte*, or sent `encrypted`, keeps its subject
and body, and its attachments' file names, only as AES-256-GCM ciphertexts under its own
data key (a `crypto.DataKey` row, so `chancery rotate-keys` re-wraps it); the clear
columns stay empty. The associated data binds each ciphertext to the dispatch id, the
field (for a file name: the attachment's position) and the marking, so a change of
marking or of position re-encrypts. Nothing here logs or records content.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import nh3

from chancery.crypto import envelope
from chancery.crypto.services import new_data_key, unwrap

if TYPE_CHECKING:
    from chancery.correspondence.models import Attachment, Dispatch

from chancery.correspondence.models import marking_text

# Rich-text body: a small, safe subset of HTML.
BODY_TAGS = {
    "p",
    "br",
    "strong",
    "b",
    "em",
    "i",
    "u",
    "s",
    "ul",
    "ol",
    "li",
    "blockquote",
    "h2",
    "h3",
    "h4",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "a",
    "hr",
    "span",
    "sub",
    "sup",
    "pre",
    "code",
}
BODY_ATTRIBUTES = {"a": {"href", "title"}, "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}}


def sanitise_body(html: str) -> str:
    """The body with only safe HTML left (no scripts, styles, event handlers or odd URLs)."""
    if not html:
        return ""
    return nh3.clean(
        html,
        tags=BODY_TAGS,
        attributes=BODY_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )


def compartment_codes(dispatch: Dispatch) -> list[str]:
    """The dispatch's compartment codes (uses a prefetch when there is one)."""
    if dispatch.pk is None:
        return []
    return sorted(c.code for c in dispatch.compartments.all())


def current_marking_text(dispatch: Dispatch) -> str:
    return marking_text(dispatch.classification, compartment_codes(dispatch))


def field_aad(dispatch_id: int, field: str, marking: str) -> bytes:
    return envelope.associated_data(f"dispatch.{field}", dispatch_id, marking)


def attachment_aad(storage_name: str, marking: str) -> bytes:
    return envelope.associated_data("dispatch.attachment", storage_name, marking)


def filename_aad(dispatch_id: int, position: int, marking: str) -> bytes:
    return envelope.associated_data("attachment.filename", f"{int(dispatch_id)}/{int(position)}", marking)


def plain_key(dispatch: Dispatch) -> bytes:
    """The dispatch's data key in clear (kept on the instance for the time of a request)."""
    cached: bytes | None = getattr(dispatch, "_plain_key", None)
    if cached is None:
        if dispatch.data_key is None:
            raise ValueError(f"dispatch {dispatch.pk} has no data key")
        cached = unwrap(data_key=dispatch.data_key)
        dispatch._plain_key = cached  # type: ignore[attr-defined]
    return cached


def read_field(dispatch: Dispatch, field: str) -> str:
    """The clear `subject` or `body`, decrypting when stored encrypted."""
    ciphertext = getattr(dispatch, f"{field}_ciphertext")
    if dispatch.data_key_id is None or ciphertext is None:
        return str(getattr(dispatch, field))
    aad = field_aad(dispatch.pk, field, current_marking_text(dispatch))
    return envelope.decrypt(bytes(ciphertext), plain_key(dispatch), aad).decode("utf-8")


def store_fields(dispatch: Dispatch, *, subject: str, body: str, marking: str | None = None) -> None:
    """Put subject and body on the instance (not saved): ciphertext if it must be protected.

    The dispatch must already have a primary key (the id is bound as associated data) and
    its compartments set. A data key is created on first need and kept afterwards.
    """
    if dispatch.pk is None:
        raise ValueError("save the dispatch before storing its content")
    marking = marking if marking is not None else current_marking_text(dispatch)
    if dispatch.needs_encryption:
        if dispatch.data_key_id is None:
            row, key = new_data_key()
            dispatch.data_key = row
            dispatch._plain_key = key  # type: ignore[attr-defined]
        key = plain_key(dispatch)
        dispatch.subject_ciphertext = envelope.encrypt(
            subject.encode(), key, field_aad(dispatch.pk, "subject", marking)
        )
        dispatch.body_ciphertext = envelope.encrypt(body.encode(), key, field_aad(dispatch.pk, "body", marking))
        dispatch.subject = ""
        dispatch.body = ""
    else:
        dispatch.subject = subject
        dispatch.body = body
        dispatch.subject_ciphertext = None
        dispatch.body_ciphertext = None


def read_attachment(attachment: Attachment, dispatch: Dispatch | None = None) -> bytes:
    """The plain bytes of an attachment (decrypted when stored encrypted)."""
    from chancery.correspondence import storage

    dispatch = dispatch or attachment.dispatch
    if not attachment.encrypted:
        return storage.read(attachment.storage_name)
    aad = attachment_aad(attachment.storage_name, current_marking_text(dispatch))
    return storage.read(attachment.storage_name, data_key=plain_key(dispatch), aad=aad)


def decrypt_filename(attachment: Attachment, *, key: bytes | None, marking: str) -> str:
    """The clear name of an attachment, with an explicit data key and marking for an
    encrypted name (re-encryption reads under the old ones)."""
    if attachment.filename_ciphertext is None:
        return attachment.filename_clear
    if key is None:
        raise ValueError(f"attachment {attachment.pk} has an encrypted name but no data key was given")
    aad = filename_aad(attachment.dispatch_id, attachment.position, marking)
    return envelope.decrypt(bytes(attachment.filename_ciphertext), key, aad).decode("utf-8")


def read_filename(attachment: Attachment, dispatch: Dispatch | None = None) -> str:
    """The clear file name of an attachment (decrypted when stored encrypted).

    The data key is unwrapped once per dispatch instance (`plain_key`); attachments read
    through `dispatch.attachments` share that instance. The clear name is kept on the
    attachment instance while its ciphertext and position stay the same.
    """
    ciphertext = attachment.filename_ciphertext
    if ciphertext is None:
        return attachment.filename_clear
    raw = bytes(ciphertext)
    cached: tuple[bytes, int, str] | None = getattr(attachment, "_filename_plain", None)
    if cached is not None and cached[0] == raw and cached[1] == attachment.position:
        return cached[2]
    dispatch = dispatch or attachment.dispatch
    name = decrypt_filename(attachment, key=plain_key(dispatch), marking=current_marking_text(dispatch))
    attachment._filename_plain = (raw, attachment.position, name)  # type: ignore[attr-defined]
    return name


def store_filename(attachment: Attachment, dispatch: Dispatch, name: str, *, marking: str | None = None) -> None:
    """Put the file name on the attachment (not saved): ciphertext when the dispatch is
    protected, else in clear. `attachment.position` must be final (it is bound)."""
    if dispatch.pk is None:
        raise ValueError("save the dispatch before storing an attachment name")
    if dispatch.needs_encryption:
        if dispatch.data_key_id is None:
            raise ValueError(f"dispatch {dispatch.pk} is protected but has no data key")
        marking = marking if marking is not None else current_marking_text(dispatch)
        attachment.filename_ciphertext = envelope.encrypt(
            name.encode("utf-8"), plain_key(dispatch), filename_aad(dispatch.pk, attachment.position, marking)
        )
        attachment.filename_clear = ""
    else:
        attachment.filename_clear = name
        attachment.filename_ciphertext = None
    attachment._filename_plain = None  # type: ignore[attr-defined]
