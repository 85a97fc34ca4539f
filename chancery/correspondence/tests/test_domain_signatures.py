"""Signatures of sent dispatches and `chancery verify-dispatch`."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from chancery.correspondence.models import Attachment, Dispatch
from chancery.correspondence.signatures import verify_dispatch
from chancery.correspondence.tests.domain_helpers import PDF, draft, sent
from chancery.crypto.models import SigningKey

pytestmark = pytest.mark.django_db


def _verify(reference: str | None) -> str:
    out = StringIO()
    call_command("verify_dispatch", reference or "", stdout=out)
    return out.getvalue().strip()


def _flip_byte(path: Path, offset: int = -20) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def _store_path(attachment: Attachment) -> Path:
    return Path(settings.CHANCERY_ATTACHMENT_DIR) / attachment.storage_name


def test_valid_line(ministry: Any) -> None:
    d = sent(ministry, attachments=[("a.pdf", PDF), ("b.txt", b"deux")])
    key = SigningKey.objects.get(owner="DAKAR", retired_at__isnull=True)
    assert _verify(d.reference) == f"{d.reference}: valid (signature by DAKAR key #{key.pk}, 2 attachments)"


@pytest.mark.parametrize("classification", [0, 1])
def test_tampered_attachment_file(ministry: Any, classification: int) -> None:
    d = sent(ministry, classification=classification, attachments=[("a.pdf", PDF)])
    _flip_byte(_store_path(Attachment.objects.get(dispatch=d)))
    with pytest.raises(CommandError) as info:
        _verify(d.reference)
    assert str(info.value).startswith(f"{d.reference}: INVALID — attachment 1 (a.pdf)")


def test_swapped_attachment_file(ministry: Any) -> None:
    d = sent(ministry, attachments=[("a.txt", b"original")])
    _store_path(Attachment.objects.get(dispatch=d)).write_bytes(b"replaced")
    result = verify_dispatch(d)
    assert not result.valid and "does not match its hash" in result.reason


def test_tampered_database_row(ministry: Any) -> None:
    d = sent(ministry, subject="Foire commerciale")
    Dispatch.objects.unrestricted("test").filter(pk=d.pk).update(subject="Foire commerciale annulée")
    with pytest.raises(CommandError) as info:
        _verify(d.reference)
    assert "INVALID — the content differs from what was signed" in str(info.value)


def test_tampered_hash_and_row_still_caught_by_signature(ministry: Any) -> None:
    import hashlib

    from chancery.correspondence.signatures import canonical_content
    from chancery.crypto.signing import canonical_bytes

    d = sent(ministry, subject="Foire commerciale")
    Dispatch.objects.unrestricted("test").filter(pk=d.pk).update(subject="Autre objet")
    d = Dispatch.objects.unrestricted("test").get(pk=d.pk)
    forged = hashlib.sha256(canonical_bytes(canonical_content(d))).hexdigest()
    Dispatch.objects.unrestricted("test").filter(pk=d.pk).update(content_hash=forged)
    result = verify_dispatch(Dispatch.objects.unrestricted("test").get(pk=d.pk))
    assert not result.valid and result.reason == "the signature does not match the content"


def test_tampered_routing_and_attachment_hash_rows(ministry: Any) -> None:
    d = sent(ministry, attachments=[("a.txt", b"original")])
    d.routings.filter(kind="action").update(due_date="2030-01-01", due_key="2030-01-01")  # keys kept consistent
    assert not verify_dispatch(d).valid
    d2 = sent(ministry, attachments=[("a.txt", b"original")])
    attachment = Attachment.objects.get(dispatch=d2)
    _store_path(attachment).write_bytes(b"replaced")
    import hashlib

    Attachment.objects.filter(pk=attachment.pk).update(sha256=hashlib.sha256(b"replaced").hexdigest(), size=8)
    assert not verify_dispatch(d2).valid


def test_protected_ciphertext_tampered(ministry: Any) -> None:
    d = sent(ministry, classification=1)
    blob = bytearray(bytes(d.body_ciphertext or b""))
    blob[-1] ^= 1
    Dispatch.objects.unrestricted("test").filter(pk=d.pk).update(body_ciphertext=bytes(blob))
    result = verify_dispatch(Dispatch.objects.unrestricted("test").get(pk=d.pk))
    assert not result.valid and "decryption failed" in result.reason


def test_unknown_reference_and_drafts(ministry: Any) -> None:
    with pytest.raises(CommandError, match="no dispatch has this reference"):
        _verify("NOPE/2026/0001")
    d = draft(ministry)
    assert not verify_dispatch(d).valid
