"""Exporting a sent dispatch as a signed package (see `package_format` for the layout and
the offline check), and checking a stored dispatch's signature for the dispatch page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from chancery.audit.services import record_event
from chancery.correspondence.content import read_attachment
from chancery.correspondence.models import Attachment, Dispatch
from chancery.correspondence.package_format import build, fingerprint
from chancery.correspondence.services import InvalidState
from chancery.correspondence.signatures import canonical_content, verify_dispatch
from chancery.crypto.models import SigningKey
from chancery.crypto.signing import canonical_bytes

__all__ = ["SignatureReport", "export_package", "package_filename", "signature_report"]


@dataclass(frozen=True)
class SignatureReport:
    valid: bool
    reason: str
    unit: str
    key_id: int | None
    fingerprint: str


def signature_report(dispatch: Dispatch) -> SignatureReport:
    """The "verify signature" action: valid or not, the signing unit and its key's fingerprint."""
    result = verify_dispatch(dispatch)
    key = SigningKey.objects.filter(pk=dispatch.signing_key_id).first() if dispatch.signing_key_id else None
    return SignatureReport(
        valid=result.valid,
        reason=result.reason,
        unit=key.owner if key else dispatch.sending_unit.code,
        key_id=key.pk if key else None,
        fingerprint=fingerprint(bytes(key.public_key)) if key else "",
    )


def package_filename(dispatch: Dispatch) -> str:
    return f"{(dispatch.reference or f'dispatch-{dispatch.pk}').replace('/', '-')}.zip"


def export_package(*, dispatch: Dispatch, actor: Any | None = None, request: Any = None) -> bytes:
    """The package of a sent dispatch the caller may read (checked against its signature
    first: a dispatch altered in the database is not exported as if it were sound). Audited."""
    result = verify_dispatch(dispatch)
    if not result.valid:
        raise InvalidState(result.line())
    key = SigningKey.objects.get(pk=int(dispatch.signing_key_id or 0))
    attachments = [
        (a.position, a.filename, read_attachment(a, dispatch))
        for a in Attachment.objects.of_dispatch(dispatch).order_by("position")
    ]
    data = build(
        content=canonical_bytes(canonical_content(dispatch)),
        signature=bytes(dispatch.signature or b""),
        public_key=bytes(key.public_key),
        key_id=key.pk,
        attachments=attachments,
        exported_at=timezone.now().isoformat(),
    )
    record_event(
        action="correspondence.package_exported",
        actor=actor,
        target=dispatch,
        details={"reference": dispatch.reference, "size": len(data)},
        request=request,
    )
    return data
