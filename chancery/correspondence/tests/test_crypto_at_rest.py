"""Encryption at rest: a copy of the database or of the attachment store reveals none of a
protected dispatch's words (the same grep finds a clear dispatch's words, so it works);
key rotation leaves every protected dispatch readable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from chancery.correspondence import selectors, services
from chancery.correspondence.models import Attachment, Dispatch
from chancery.correspondence.signatures import verify_dispatch
from chancery.correspondence.tests.domain_helpers import draft, sent
from chancery.crypto.models import DataKey
from chancery.crypto.services import rotate_keys

SECRET_WORDS = ["Quokkafestival", "Zanzibarique", "Marmelopodium", "Vexillodrome", "Tatouragamme", "Cormoranesque"]
CLEAR_WORDS = ["Ornithoscope", "Pangolinarium", "Girafonnerie"]


def _database_bytes() -> bytes:
    """Everything the database holds, as raw as we can get it."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        path = Path(connection.settings_dict["NAME"])
        blobs = [path.read_bytes()]
        for suffix in ("-wal", "-journal"):
            extra = Path(str(path) + suffix)
            if extra.exists():
                blobs.append(extra.read_bytes())
        return b"".join(blobs)
    # PostgreSQL: every row of every table in its text form (bytea as hex, text as is).
    out: list[bytes] = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        tables = [row[0] for row in cursor.fetchall()]
        for table in tables:
            cursor.execute(f'SELECT t::text FROM "{table}" t')  # noqa: S608 - table names from the catalogue
            out.extend(row[0].encode() for row in cursor.fetchall())
            # bytea columns also in escape form, in case a ciphertext were plain bytes
            cursor.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s AND data_type = 'bytea'",
                [table],
            )
            for (column,) in cursor.fetchall():
                cursor.execute(f'SELECT "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL')  # noqa: S608
                out.extend(bytes(row[0]) for row in cursor.fetchall())
    return b"\n".join(out)


def _store_bytes() -> bytes:
    root = Path(settings.CHANCERY_ATTACHMENT_DIR)
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def _found(haystack: bytes, words: list[str]) -> list[str]:
    lowered = haystack.lower()
    return [w for w in words if w.lower().encode() in lowered]


def test_database_and_store_hold_no_protected_words(fresh_ministry: Any) -> None:
    m = fresh_ministry
    protected = sent(
        m,
        subject=f"Préparation de la visite {SECRET_WORDS[0]}",
        body=f"<p>Note sur {SECRET_WORDS[1]}.</p>",
        classification=1,
        attachments=[("note.txt", f"Annexe {SECRET_WORDS[2]}".encode()), (f"{SECRET_WORDS[4]}.txt", b"Annexe")],
        tags=["SN"],
    )
    encrypted_only = sent(
        m,
        subject=f"Transmission cryptée {SECRET_WORDS[3]}",
        classification=0,
        transmission="encrypted",
        attachments=[(f"annexe-{SECRET_WORDS[5]}.txt", f"Annexe {SECRET_WORDS[3]}".encode())],
    )
    reply = services.reply(actor=m.users["desk.dab1"], dispatch=protected)
    services.send_dispatch(actor=m.users["head.dab1"], dispatch=reply)
    services.acknowledge(actor=m.users["desk.dab1"], dispatch=encrypted_only, unit="DAB/1")
    # reads are audited: the audit log must not carry content either
    selectors.dispatch_detail(m.users["desk.dab1"], protected.pk)
    selectors.attachment_content(m.users["desk.dab1"], protected.pk, 1)
    sent(
        m,
        subject=f"Foire commerciale {CLEAR_WORDS[0]}",
        attachments=[("clair.txt", f"Annexe {CLEAR_WORDS[1]}".encode()), (f"{CLEAR_WORDS[2]}.txt", b"Annexe")],
    )

    db = _database_bytes()
    store = _store_bytes()
    assert _found(db, [CLEAR_WORDS[0], CLEAR_WORDS[2]]) == [CLEAR_WORDS[0], CLEAR_WORDS[2]]  # the grep works
    assert _found(store, CLEAR_WORDS[1:2]) == CLEAR_WORDS[1:2]
    assert _found(db, SECRET_WORDS) == []
    assert _found(store, SECRET_WORDS) == []

    # and readers still get the clear text
    for d in (protected, encrypted_only):
        d = Dispatch.objects.unrestricted("test").get(pk=d.pk)
        assert d.is_encrypted and d.subject == "" and d.body == ""
    reader = m.users["desk.dab1"]
    detail = selectors.dispatch_detail(reader, protected.pk)
    assert SECRET_WORDS[0] in selectors.dispatch_subject(detail)
    assert selectors.dispatch_subject(selectors.dispatch_detail(reader, reply.pk)).startswith("Re: Préparation")
    _attachment, data = selectors.attachment_content(reader, protected.pk, 1)
    assert SECRET_WORDS[2].encode() in data
    assert [a.filename for a in detail.attachments.all()] == ["note.txt", f"{SECRET_WORDS[4]}.txt"]
    assert all(a.filename_clear == "" and a.filename_ciphertext for a in detail.attachments.all())
    assert verify_dispatch(detail).valid


@pytest.mark.django_db
def test_ciphertext_is_bound_to_dispatch_and_marking(ministry: Any) -> None:
    from chancery.crypto.exceptions import DecryptionError

    a = sent(ministry, classification=1, subject="Statistiques consulaires")
    b = sent(ministry, classification=1, subject="Semaine culturelle")
    # a ciphertext copied onto another dispatch does not decrypt
    Dispatch.objects.unrestricted("test").filter(pk=b.pk).update(subject_ciphertext=a.subject_ciphertext)
    b = Dispatch.objects.unrestricted("test").get(pk=b.pk)
    with pytest.raises(DecryptionError):
        selectors.dispatch_subject(b)
    # lowering the marking in the database without re-encryption breaks decryption
    Dispatch.objects.unrestricted("test").filter(pk=a.pk).update(classification=0, transmission="encrypted")
    a = Dispatch.objects.unrestricted("test").get(pk=a.pk)
    with pytest.raises(DecryptionError):
        selectors.dispatch_subject(a)


@pytest.mark.django_db
def test_downgrade_reencrypts_or_decrypts(ministry: Any) -> None:
    security = ministry.users["security"]
    d = sent(
        ministry,
        author="hom.dakar",
        classification=2,
        subject="Visite officielle",
        attachments=[("n.txt", b"annexe confidentielle")],
        routings=[("DAB/1", "action")],
    )
    services.grant_access(actor=ministry.users["hom.dakar"], dispatch=d, user=security, reason="review of marking")
    with pytest.raises(Exception):  # noqa: B017 - reason is required
        services.change_marking(actor=security, dispatch=d, classification=1, reason=" ")
    services.change_marking(actor=security, dispatch=d, classification=1, reason="Downgraded after the visit")
    d = Dispatch.objects.unrestricted("test").get(pk=d.pk)
    assert d.classification == 1 and d.is_encrypted
    assert selectors.dispatch_subject(d) == "Visite officielle"
    assert verify_dispatch(d).valid
    services.change_marking(actor=security, dispatch=d, classification=0, reason="Declassified")
    d = Dispatch.objects.unrestricted("test").get(pk=d.pk)
    assert not d.is_encrypted and d.subject == "Visite officielle"
    attachment = Attachment.objects.get(dispatch=d)
    assert not attachment.encrypted
    assert (Path(settings.CHANCERY_ATTACHMENT_DIR) / attachment.storage_name).read_bytes() == b"annexe confidentielle"
    assert verify_dispatch(d).valid
    assert list(d.marking_changes.values_list("to_level", flat=True)) == [1, 0]
    # without the downgrade right
    with pytest.raises(services.NotAllowed):
        services.change_marking(actor=ministry.users["hom.dakar"], dispatch=d, classification=1, reason="x")


@pytest.mark.django_db
def test_key_rotation_keeps_every_protected_dispatch_readable(ministry: Any) -> None:
    dispatches = [
        sent(
            ministry,
            author="hom.dakar",
            classification=level,
            subject=f"Dépêche {level}",
            attachments=[("a.txt", f"pj {level}".encode())],
        )
        for level in (1, 2, 1)
    ]
    report = rotate_keys()
    assert report.rewrapped >= len(dispatches)
    for original in dispatches:
        d = Dispatch.objects.unrestricted("test").select_related("data_key").get(pk=original.pk)
        assert d.data_key is not None and d.data_key.kek_id == report.target_kek_id
        assert selectors.dispatch_subject(d).startswith("Dépêche ")
        attachment = Attachment.objects.get(dispatch=d)
        from chancery.correspondence.content import read_attachment

        assert read_attachment(attachment, d).startswith(b"pj ")
        assert verify_dispatch(d).valid
    assert not DataKey.objects.exclude(kek_id=report.target_kek_id).exists()


@pytest.mark.django_db
def test_draft_marking_change_reencrypts_attachments(ministry: Any) -> None:
    user = ministry.users["counsellor.dakar"]
    d = draft(ministry, attachments=[("a.txt", b"texte clair")])
    assert not Attachment.objects.get(dispatch=d).encrypted
    d = services.update_draft(actor=user, dispatch=d, expected_version=d.version, classification=1)
    attachment = Attachment.objects.get(dispatch=d)
    assert attachment.encrypted and d.is_encrypted
    raw = (Path(settings.CHANCERY_ATTACHMENT_DIR) / attachment.storage_name).read_bytes()
    assert b"texte clair" not in raw
    assert len(list(Path(settings.CHANCERY_ATTACHMENT_DIR).rglob("*.txt"))) == 0
    d = services.update_draft(actor=user, dispatch=d, expected_version=d.version, classification=0)
    from chancery.correspondence.content import read_attachment

    attachment = Attachment.objects.get(dispatch=d)
    assert not attachment.encrypted and read_attachment(attachment, d) == b"texte clair"
