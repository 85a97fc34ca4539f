"""Encryption at rest of a dispatch's subject, body, place, tags, external citations,
attachment files and file names.

A dispatch marked at least *Diffusion restreinte*, or sent `encrypted`, keeps its subject
and body, its place and tags (one JSON `meta_ciphertext`), the free-text references it
cites (`Citation.external_ciphertext`) and its attachments' file names only as AES-256-GCM
ciphertexts under its own data key (a `crypto.DataKey` row, so `chancery rotate-keys`
re-wraps it); the clear columns stay empty. Its `tag_index` holds keyed tokens of its tags
(`crypto.keyed`, purpose "tag"), so a tag filter still works in SQL for a reader who
names the tag, and the database alone confirms no guessed tag.

Everything under the dispatch's key is re-stored when its marking or protection changes
(the key itself goes when the dispatch is no longer protected, and a new one comes when
it is again): the services read these values first and store them again after.

The associated data binds each ciphertext to the dispatch id, the
field (for a file name: the attachment's position) and the marking, so a change of
marking or of position re-encrypts. Nothing here logs or records content.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import nh3

from chancery.crypto import envelope, keyed
from chancery.crypto.services import new_data_key, unwrap, unwrap_many

if TYPE_CHECKING:
    from chancery.correspondence.models import Attachment, Citation, Dispatch

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
    """The dispatch's compartment codes (preloaded by a list, or through a prefetch when there is one)."""
    return dispatch.compartment_codes()


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


def unlock_many(dispatches: Iterable[Dispatch]) -> None:
    """Unwrap the data keys of many dispatches at once (each KEK read once) and keep each
    on its instance, as `plain_key` does: for bulk readers (the search reindex). Load the
    dispatches with `select_related("data_key")`."""
    locked = [d for d in dispatches if d.data_key is not None and getattr(d, "_plain_key", None) is None]
    plain = unwrap_many(d.data_key for d in locked if d.data_key is not None)
    for dispatch in locked:
        dispatch._plain_key = plain[int(dispatch.data_key_id or 0)]  # type: ignore[attr-defined]


def read_field(dispatch: Dispatch, field: str, *, marking: str | None = None) -> str:
    """The clear `subject` or `body`, decrypting when stored encrypted. A bulk reader that
    already knows the dispatch's current `marking` text passes it (no compartment read)."""
    ciphertext = getattr(dispatch, f"{field}_ciphertext")
    if dispatch.data_key_id is None or ciphertext is None:
        return str(getattr(dispatch, field))
    aad = field_aad(dispatch.pk, field, marking if marking is not None else current_marking_text(dispatch))
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


# --- place and tags ----------------------------------------------------------------------

TAG_PURPOSE = "tag"


@dataclass(frozen=True)
class DispatchMeta:
    place: str = ""
    tags: list[str] = field(default_factory=list)


def tag_index(tags: Sequence[str], *, protected: bool, key: bytes | None = None) -> str:
    """ "|SN|TRADE|" for a dispatch in clear; "|k…|k…|" (keyed tokens, sealed for facets)
    for a protected one. Both engines filter on one tag with a plain LIKE."""
    if not tags:
        return ""
    values = list(keyed.seal_terms(TAG_PURPOSE, tags, key).values()) if protected else list(tags)
    return "|" + "|".join(values) + "|"


def tag_patterns(tag: str) -> list[str]:
    """What a tag filter looks for in a `tag_index` (or a search document's tags): the clear
    tag and its keyed token."""
    tag = tag.strip().upper()
    return [f"|{tag}|", f"|{keyed.token(keyed.hash_key(TAG_PURPOSE), tag)}|"]


def meta_aad(dispatch_id: int, marking: str) -> bytes:
    return field_aad(dispatch_id, "meta", marking)


def encrypt_meta(dispatch_id: int, meta: DispatchMeta, key: bytes, marking: str) -> bytes:
    raw = json.dumps({"place": meta.place, "tags": list(meta.tags)}, ensure_ascii=False).encode("utf-8")
    return envelope.encrypt(raw, key, meta_aad(dispatch_id, marking))


def decrypt_meta(dispatch: Dispatch, *, key: bytes | None, marking: str) -> DispatchMeta:
    """Place and tags with an explicit data key and marking (re-encryption reads under the old ones)."""
    if dispatch.meta_ciphertext is None:
        return DispatchMeta(place=dispatch.place, tags=[str(t) for t in dispatch.tags or []])
    if key is None:
        raise ValueError(f"dispatch {dispatch.pk} has encrypted metadata but no data key was given")
    data = json.loads(envelope.decrypt(bytes(dispatch.meta_ciphertext), key, meta_aad(dispatch.pk, marking)))
    return DispatchMeta(place=str(data.get("place", "")), tags=[str(t) for t in data.get("tags", [])])


def read_meta(dispatch: Dispatch) -> DispatchMeta:
    """The clear place and tags (decrypted when protected; kept on the instance)."""
    raw = dispatch.meta_ciphertext
    if raw is None:
        return DispatchMeta(place=dispatch.place, tags=[str(t) for t in dispatch.tags or []])
    raw = bytes(raw)
    cached: tuple[bytes, DispatchMeta] | None = getattr(dispatch, "_meta_plain", None)
    if cached is not None and cached[0] == raw:
        return cached[1]
    meta = decrypt_meta(dispatch, key=plain_key(dispatch), marking=current_marking_text(dispatch))
    dispatch._meta_plain = (raw, meta)  # type: ignore[attr-defined]
    return meta


def store_meta(dispatch: Dispatch, *, place: str, tags: Sequence[str], marking: str | None = None) -> None:
    """Put place and tags on the instance (not saved): ciphertext and tag tokens when the
    dispatch is protected (it must then have its data key), else in clear."""
    meta = DispatchMeta(place=place[:100], tags=list(tags))
    if dispatch.pk is None:
        raise ValueError("save the dispatch before storing its place and tags")
    if dispatch.needs_encryption:
        if dispatch.data_key_id is None:
            raise ValueError(f"dispatch {dispatch.pk} is protected but has no data key")
        marking = marking if marking is not None else current_marking_text(dispatch)
        dispatch.meta_ciphertext = encrypt_meta(dispatch.pk, meta, plain_key(dispatch), marking)
        dispatch.place = ""
        dispatch.tags = []
        dispatch.tag_index = tag_index(meta.tags, protected=True)
    else:
        dispatch.meta_ciphertext = None
        dispatch.place = meta.place
        dispatch.tags = list(meta.tags)
        dispatch.tag_index = tag_index(meta.tags, protected=False)
    dispatch._meta_plain = None  # type: ignore[attr-defined]


META_COLUMNS = ["place", "tags", "tag_index", "meta_ciphertext"]


# --- free-text citations -----------------------------------------------------------------


def citation_aad(dispatch_id: int, marking: str) -> bytes:
    return field_aad(dispatch_id, "citation", marking)


def citation_rows(dispatch: Dispatch, refs: Iterable[str], *, marking: str | None = None) -> list[Citation]:
    """Unsaved `Citation` rows for free-text references: ciphertext when protected."""
    from chancery.correspondence.models import Citation

    rows = []
    protected = dispatch.needs_encryption
    if protected:
        if dispatch.data_key_id is None:
            raise ValueError(f"dispatch {dispatch.pk} is protected but has no data key")
        key = plain_key(dispatch)
        aad = citation_aad(dispatch.pk, marking if marking is not None else current_marking_text(dispatch))
    for ref in refs:
        if protected:
            rows.append(
                Citation(
                    citing=dispatch, external_reference="", external_ciphertext=envelope.encrypt(ref.encode(), key, aad)
                )
            )
        else:
            rows.append(Citation(citing=dispatch, external_reference=ref))
    return rows


def decrypt_citation(citation: Citation, *, key: bytes | None, marking: str) -> str:
    if citation.external_ciphertext is None:
        return citation.external_reference
    if key is None:
        raise ValueError(f"citation {citation.pk} is encrypted but no data key was given")
    aad = citation_aad(citation.citing_id, marking)
    return envelope.decrypt(bytes(citation.external_ciphertext), key, aad).decode("utf-8")


def read_citation(citation: Citation, dispatch: Dispatch | None = None) -> str:
    """The clear free-text reference of a citation ("" when it cites a dispatch)."""
    if citation.external_ciphertext is None:
        return citation.external_reference
    dispatch = dispatch if dispatch is not None else citation.citing
    return decrypt_citation(citation, key=plain_key(dispatch), marking=current_marking_text(dispatch))


# --- attachment hashes -------------------------------------------------------------------

ATTACHMENT_PURPOSE = "attachment"


def keyed_file_digest(sha256_hex: str, key: bytes | None = None) -> str:
    """HMAC-SHA256, under the attachment hash key, of a file's SHA-256 (so existing rows are
    migrated from their stored hash, without reading every file)."""
    return keyed.hex_digest(key if key is not None else keyed.hash_key(ATTACHMENT_PURPOSE), bytes.fromhex(sha256_hex))


def file_digest(data: bytes, *, protected: bool, key: bytes | None = None) -> tuple[str, bool]:
    """(hash to store, keyed?): keyed (`keyed_file_digest`) when protected, else the plain SHA-256."""
    plain = hashlib.sha256(data).hexdigest()
    return (keyed_file_digest(plain, key), True) if protected else (plain, False)


def digest_matches(attachment: Attachment, data: bytes) -> bool:
    """Whether `data` is the attachment's file, by its stored (plain or keyed) hash."""
    expected, _keyed = file_digest(data, protected=attachment.hash_keyed)
    return hmac.compare_digest(expected, attachment.sha256)


def clear_sha256(attachment: Attachment, dispatch: Dispatch) -> str:
    """The plain SHA-256 of the attachment's file (read and hashed when only keyed is stored)."""
    if not attachment.hash_keyed:
        return attachment.sha256
    return hashlib.sha256(read_attachment(attachment, dispatch)).hexdigest()
