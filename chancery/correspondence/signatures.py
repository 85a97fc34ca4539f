"""Signing a sent dispatch and verifying it.

The sending unit's Ed25519 key (crypto `SigningKey`, owner = unit code) signs
`canonical_bytes(canonical_content(dispatch))`: the dispatch's identifying fields, its
clear subject and body, its routing, its citations, its marking *as sent* and the
SHA-256 of every attachment. A later authorised re-marking (`MarkingChange`) does not
invalidate the signature: the marking as sent is the first change's `from_*` marking.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from chancery.correspondence.content import (
    clear_sha256,
    digest_matches,
    read_attachment,
    read_citation,
    read_field,
    read_filename,
    read_meta,
)
from chancery.correspondence.models import Attachment, Citation, Dispatch, MarkingChange, Routing
from chancery.crypto.exceptions import CryptoError
from chancery.crypto.models import SigningKey
from chancery.crypto.services import sign_for, verify_signature
from chancery.crypto.signing import canonical_bytes

FORMAT = "chancery/dispatch/v1"


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def marking_as_sent(dispatch: Dispatch) -> dict[str, Any]:
    first = MarkingChange.objects.of_dispatch(dispatch).order_by("changed_at", "id").first()
    if first is not None:
        return {"level": int(first.from_level), "compartments": sorted(first.from_compartments)}
    return {"level": int(dispatch.classification), "compartments": sorted(c.code for c in dispatch.compartments.all())}


def attachment_entries(dispatch: Dispatch) -> list[dict[str, Any]]:
    """The attachments as signed: the CLEAR file name (decrypted when stored encrypted)."""
    return [
        {"n": a.position, "filename": read_filename(a, dispatch), "size": a.size, "sha256": clear_sha256(a, dispatch)}
        for a in Attachment.objects.of_dispatch(dispatch).order_by("position")
    ]


def _label(attachment: Attachment, dispatch: Dispatch) -> str:
    """`attachment N (name)` for messages; the number alone when the name cannot be read."""
    try:
        return f"attachment {attachment.position} ({read_filename(attachment, dispatch)})"
    except Exception:
        return f"attachment {attachment.position}"


def canonical_content(dispatch: Dispatch) -> dict[str, Any]:
    """Everything the signature covers (plain JSON types only), read from the database."""
    citations = [
        (c.cited.reference if c.cited_id and c.cited else None, read_citation(c, dispatch))
        for c in Citation.objects.of_dispatch(dispatch).select_related("cited")
    ]
    routings = [
        (r.unit.code, r.kind, r.due_date) for r in Routing.objects.of_dispatch(dispatch).select_related("unit")
    ]
    meta = read_meta(dispatch)
    return build_canonical(
        dispatch,
        place=meta.place,
        tags=meta.tags,
        sending_unit=dispatch.sending_unit.code,
        author=dispatch.author.get_username(),
        sent_by=dispatch.sent_by.get_username() if dispatch.sent_by else None,
        marking=marking_as_sent(dispatch),
        subject=read_field(dispatch, "subject"),
        body=read_field(dispatch, "body"),
        in_reply_to=dispatch.in_reply_to.reference if dispatch.in_reply_to else None,
        citations=citations,
        routings=routings,
        attachments=attachment_entries(dispatch),
    )


def build_canonical(
    dispatch: Dispatch,
    *,
    place: str,
    tags: list[str],
    sending_unit: str,
    author: str,
    sent_by: str | None,
    marking: dict[str, Any],
    subject: str,
    body: str,
    in_reply_to: str | None,
    citations: list[tuple[str | None, str]],
    routings: list[tuple[str, str, Any]],
    attachments: list[dict[str, Any]],
) -> dict[str, Any]:
    """The signed content from values already at hand (bulk loaders use it directly)."""
    return {
        "format": FORMAT,
        "reference": dispatch.reference,
        "direction": dispatch.direction,
        "kind": dispatch.kind,
        "sending_unit": sending_unit,
        "author": author,
        "sent_by": sent_by,
        "sent_at": _iso(dispatch.sent_at),
        "dated": _iso(dispatch.dated),
        "place": place,
        "external_reference": dispatch.external_reference,
        "sender_name": dispatch.sender_name,
        "transmission": dispatch.transmission,
        "marking": marking,
        "subject": subject,
        "body": body,
        "tags": sorted(str(t) for t in tags),
        "in_reply_to": in_reply_to,
        "citations": sorted(
            ({"reference": ref, "external": ext} for ref, ext in citations),
            key=lambda c: (c["reference"] or "", c["external"]),
        ),
        "routings": sorted(
            ({"unit": unit, "kind": kind, "due_date": _iso(due)} for unit, kind, due in routings),
            key=lambda r: (r["kind"], r["unit"]),
        ),
        "attachments": sorted(attachments, key=lambda a: a["n"]),
    }


def sign_dispatch(dispatch: Dispatch) -> None:
    """Sign with the sending unit's key; sets signing_key, signature, content_hash (not saved)."""
    message = canonical_bytes(canonical_content(dispatch))
    key_id, signature = sign_for(owner=dispatch.sending_unit.code, message=message)
    dispatch.signing_key_id = key_id
    dispatch.signature = signature
    dispatch.content_hash = hashlib.sha256(message).hexdigest()


@dataclass(frozen=True)
class Verification:
    reference: str
    valid: bool
    reason: str = ""
    unit: str = ""
    key_id: int | None = None
    attachments: int = 0

    def line(self) -> str:
        if self.valid:
            noun = "attachment" if self.attachments == 1 else "attachments"
            return f"{self.reference}: valid (signature by {self.unit} key #{self.key_id}, {self.attachments} {noun})"
        return f"{self.reference}: INVALID — {self.reason}"


def verify_dispatch(dispatch: Dispatch) -> Verification:
    """Check the stored attachments against their hashes, then the signature."""
    ref = dispatch.reference or f"dispatch #{dispatch.pk}"

    def invalid(reason: str) -> Verification:
        return Verification(reference=ref, valid=False, reason=reason)

    if not dispatch.is_sent:
        return invalid("not sent, hence not signed")
    if not dispatch.signature or dispatch.signing_key_id is None:
        return invalid("no signature recorded")
    key = SigningKey.objects.filter(pk=dispatch.signing_key_id).first()
    if key is None:
        return invalid(f"signing key #{dispatch.signing_key_id} does not exist")
    if key.owner != dispatch.sending_unit.code:
        return invalid(f"signed with a key of {key.owner}, not of the sending unit {dispatch.sending_unit.code}")
    attachments = list(Attachment.objects.of_dispatch(dispatch).order_by("position"))
    for attachment in attachments:
        try:
            data = read_attachment(attachment, dispatch)
        except CryptoError:
            return invalid(f"{_label(attachment, dispatch)} was altered (decryption failed)")
        except Exception as exc:
            return invalid(f"{_label(attachment, dispatch)} cannot be read: {exc}")
        if not digest_matches(attachment, data) or len(data) != attachment.size:
            return invalid(f"{_label(attachment, dispatch)} does not match its hash")
    try:
        message = canonical_bytes(canonical_content(dispatch))
    except CryptoError:
        return invalid("the stored subject, body or an attachment name was altered (decryption failed)")
    if hashlib.sha256(message).hexdigest() != dispatch.content_hash:
        return invalid("the content differs from what was signed")
    if not verify_signature(signing_key_id=key.pk, message=message, signature=bytes(dispatch.signature)):
        return invalid("the signature does not match the content")
    return Verification(reference=ref, valid=True, unit=key.owner, key_id=key.pk, attachments=len(attachments))
