"""A protected dispatch's metadata at rest: place, tags, free-text citations, grant and
marking-change reasons and attachment hashes hold no clear word (nor a plain hash of a
known file) in the database file or the data dir — the same grep finds a clear twin's, so it
can fail; readers allowed to see the dispatch still get every value, its tag filters work,
its signature verifies; the migration converts rows written before; `rotate-keys` covers
the new hash keys."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings

from chancery.correspondence import content, selectors, services
from chancery.correspondence.models import Attachment, Citation, Dispatch, DispatchGrant, MarkingChange
from chancery.correspondence.signatures import verify_dispatch
from chancery.correspondence.tests.domain_helpers import sent
from chancery.correspondence.tests.test_crypto_at_rest import _database_bytes, _found, _store_bytes
from chancery.crypto.models import HashKey
from chancery.crypto.services import rotate_keys

PLACE, TAG, CITED, GRANTED, REMARKED = "Quetzalcoville", "ZORBLAXITE", "Pelicanorama/7", "Mirlitonade", "Capybarathon"
FILE = b"Annexe unique 5d1f0e7b: known file contents"
CLEAR = ["Ornithoville", "GLOUBIBOULGA", "Hippocampe/9", "Tapiroscope"]


def _data_dir_bytes() -> bytes:
    root = Path(settings.CHANCERY_DATA_DIR)
    chunks = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.stat().st_size < 50_000_000:
            chunks.append(path.read_bytes())
    return b"".join(chunks)


def _protected(m: Any, **extra: Any) -> Dispatch:
    return sent(
        m,
        author="hom.dakar",
        classification=2,
        subject="Visite",
        place=PLACE,
        tags=[TAG, "SN"],
        external_references=[f"MAE {CITED}"],
        attachments=[("pj.txt", FILE)],
        **extra,
    )


def test_database_and_data_dir_hold_no_protected_metadata(fresh_ministry: Any) -> None:
    m = fresh_ministry
    d = _protected(m)
    security = m.users["security"]
    services.grant_access(actor=m.users["hom.dakar"], dispatch=d, user=security, reason=f"Revue {GRANTED}")
    services.change_marking(actor=security, dispatch=d, classification=1, reason=f"Après {REMARKED}")
    sent(
        m,
        subject="Clair",
        place=CLEAR[0],
        tags=[CLEAR[1]],
        external_references=[CLEAR[2]],
        attachments=[("c.txt", b"clair")],
    )
    clear_sent = Dispatch.objects.unrestricted("test").filter(place=CLEAR[0]).get()
    services.grant_access(actor=m.users["hom.dakar"], dispatch=clear_sent, user=security, reason=CLEAR[3])

    raw = _database_bytes()
    files = _data_dir_bytes() + _store_bytes()
    assert _found(raw, CLEAR) == CLEAR  # the grep works
    secrets = [PLACE, TAG, CITED, GRANTED, REMARKED]
    assert _found(raw, secrets) == []
    assert _found(files, secrets) == []
    # the plain hash of the attached file is nowhere: holding the file confirms nothing
    assert _found(raw + files, [hashlib.sha256(FILE).hexdigest()]) == []

    # readers allowed to see it get every value back
    reader = m.users["desk.dab1"]
    detail = selectors.dispatch_detail(reader, d.pk)
    assert detail.place_text == PLACE and detail.tag_list == [TAG, "SN"]
    assert selectors.thread(reader, detail).external_references == [f"MAE {CITED}"]
    assert verify_dispatch(detail).valid
    grant = DispatchGrant.objects.get(dispatch=d)
    assert grant.reason == "" and grant.reason_text == f"Revue {GRANTED}"
    change = MarkingChange.objects.get(dispatch=d)
    assert change.reason == "" and change.reason_text == f"Après {REMARKED}"
    attachment = Attachment.objects.get(dispatch=d)
    assert attachment.hash_keyed and content.clear_sha256(attachment, detail) == hashlib.sha256(FILE).hexdigest()


@pytest.mark.django_db
def test_tag_filter_finds_protected_dispatch_for_allowed_readers_only(ministry: Any) -> None:
    d = _protected(ministry)
    row = Dispatch.objects.unrestricted("test").get(pk=d.pk)
    assert row.tags == [] and row.place == "" and TAG not in row.tag_index and row.meta_ciphertext
    clear_twin = sent(ministry, subject="Clair", tags=["SN"])
    reader, outsider = ministry.users["desk.dab1"], ministry.users["desk.dg76"]
    assert [x.pk for x in selectors.search_dispatches(reader, {"tag": TAG.lower()})] == [d.pk]
    assert {x.pk for x in selectors.search_dispatches(reader, {"tag": "sn"})} == {d.pk, clear_twin.pk}
    assert list(selectors.search_dispatches(outsider, {"tag": TAG})) == []
    _clear, token = content.tag_patterns(TAG)
    assert Dispatch.objects.unrestricted("test").filter(tag_index__contains=token).count() == 1


@pytest.mark.django_db
def test_marking_changes_keep_metadata_readable(ministry: Any) -> None:
    d = _protected(ministry)
    security = ministry.users["security"]
    services.grant_access(actor=ministry.users["hom.dakar"], dispatch=d, user=security, reason="revue")
    services.change_marking(actor=security, dispatch=d, classification=0, reason="Déclassifiée")
    row = Dispatch.objects.unrestricted("test").get(pk=d.pk)
    assert row.meta_ciphertext is None and row.place == PLACE and row.tags == [TAG, "SN"]
    assert row.tag_index == f"|{TAG}|SN|"
    assert [c.external_reference for c in Citation.objects.filter(citing=d, cited__isnull=True)] == [f"MAE {CITED}"]
    assert not Attachment.objects.get(dispatch=d).hash_keyed
    assert verify_dispatch(row).valid
    services.change_marking(actor=security, dispatch=d, classification=2, reason="Sensible")
    row = Dispatch.objects.unrestricted("test").get(pk=d.pk)
    assert row.place == "" and row.place_text == PLACE and row.tag_list == [TAG, "SN"]
    assert Citation.objects.filter(citing=d, external_reference="").count() == 1
    assert Attachment.objects.get(dispatch=d).hash_keyed
    assert verify_dispatch(row).valid


@pytest.mark.django_db
def test_migration_encrypts_rows_written_in_clear(ministry: Any) -> None:
    from importlib import import_module

    migration = import_module(
        "chancery.correspondence.migrations.0005_protected_place_tags_citations_reasons_keyed_hashes"
    )
    d = _protected(ministry)
    grant = services.grant_access(
        actor=ministry.users["hom.dakar"], dispatch=d, user=ministry.users["security"], reason=GRANTED
    )
    # as an older version wrote them: everything in clear
    Dispatch.objects.unrestricted("test").filter(pk=d.pk).update(
        place=PLACE, tags=[TAG], tag_index=f"|{TAG}|", meta_ciphertext=None
    )
    Citation.objects.filter(citing=d, cited__isnull=True).update(external_reference=CITED, external_ciphertext=None)
    DispatchGrant.objects.filter(pk=grant.pk).update(reason=GRANTED, reason_ciphertext=None, reason_key=None)
    Attachment.objects.filter(dispatch=d).update(sha256=hashlib.sha256(FILE).hexdigest(), hash_keyed=False)

    migration.encrypt_existing(apps, None)

    row = Dispatch.objects.unrestricted("test").get(pk=d.pk)
    assert row.place == "" and row.tags == [] and TAG not in row.tag_index
    assert row.place_text == PLACE and row.tag_list == [TAG]
    citation = Citation.objects.get(citing=d, cited__isnull=True)
    assert citation.external_reference == "" and content.read_citation(citation, row) == CITED
    grant = DispatchGrant.objects.get(pk=grant.pk)
    assert grant.reason == "" and grant.reason_text == GRANTED
    attachment = Attachment.objects.get(dispatch=d)
    assert attachment.hash_keyed and content.digest_matches(attachment, FILE)
    assert attachment.sha256 != hashlib.sha256(FILE).hexdigest()


@pytest.mark.django_db
def test_rotate_keys_rewraps_the_hash_keys(ministry: Any) -> None:
    d = _protected(ministry)
    assert set(HashKey.objects.values_list("purpose", flat=True)) >= {"tag", "attachment"}
    report = rotate_keys()
    for row in HashKey.objects.select_related("data_key"):
        assert row.data_key.kek_id == report.target_kek_id
    _clear, token = content.tag_patterns(TAG)
    assert Dispatch.objects.unrestricted("test").filter(pk=d.pk, tag_index__contains=token).exists()
    attachment = Attachment.objects.get(dispatch=d)
    assert content.digest_matches(attachment, FILE)
