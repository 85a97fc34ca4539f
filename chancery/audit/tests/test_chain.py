"""The hash-chained audit log: appending, reading through the gate, detecting tampering."""

from __future__ import annotations

import datetime
import itertools
import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test import RequestFactory

from chancery.audit.models import AuditEvent, AuditHead
from chancery.audit.services import client_ip, record_event, verify_chain
from chancery.organisation.services import create_unit

pytestmark = pytest.mark.django_db

TABLE = AuditEvent._meta.db_table


def _sql(statement: str, params: list[Any] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement.replace("{table}", connection.ops.quote_name(TABLE)), params or [])


@pytest.fixture
def chain(ministry) -> list[AuditEvent]:
    """Five fresh events at the end of the demo ministry's log."""
    actor = ministry.users["admin"]
    request = RequestFactory().get("/", REMOTE_ADDR="2001:DB8::0:1")
    events = [
        record_event(action="test.event", actor=actor, object_type="test", object_id=i,
                     details={"n": i, "text": "é"}, request=request)
        for i in range(5)
    ]
    assert verify_chain().valid
    return events


def test_events_chain_to_their_predecessor(chain):
    for previous, event in itertools.pairwise(chain):
        assert event.previous_hash == previous.hash and event.sequence == previous.sequence + 1
    head = AuditHead.objects.get()
    assert (head.sequence, head.hash) == (chain[-1].sequence, chain[-1].hash)
    verdict = verify_chain()
    assert verdict.valid and verdict.events == head.sequence


def test_ip_addresses_are_stored_normalised():
    factory = RequestFactory()
    assert client_ip(factory.get("/", REMOTE_ADDR="2001:DB8::0:1")) == "2001:db8::1"
    assert client_ip(factory.get("/", REMOTE_ADDR="192.0.2.7")) == "192.0.2.7"
    assert client_ip(factory.get("/", REMOTE_ADDR="not an address")) is None
    assert client_ip(None) is None


def test_an_edited_event_is_detected(chain):
    _sql("UPDATE {table} SET details = %s WHERE sequence = %s", ['{"n": 99, "text": "é"}', chain[2].sequence])
    verdict = verify_chain()
    assert not verdict.valid and f"event {chain[2].sequence} was altered" in verdict.message


@pytest.mark.parametrize(
    ("column", "value"),
    [("action", "test.other"), ("actor_label", "someone.else"), ("object_id", "42"),
     ("ip_address", "192.0.2.99"), ("created_at", "2020-01-01 00:00:00")],
)
def test_an_edit_of_any_recorded_field_is_detected(chain, column, value):
    column = connection.ops.quote_name(column)  # one of the names above, quoted
    _sql(f"UPDATE {{table}} SET {column} = %s WHERE sequence = %s", [value, chain[1].sequence])  # noqa: S608
    assert not verify_chain().valid


def test_an_edit_with_a_recomputed_hash_is_detected_by_the_next_event(chain):
    from chancery.audit.services import _event_hash

    target = chain[2]
    forged = _event_hash(previous_hash=target.previous_hash, sequence=target.sequence,
                         created_at=target.created_at.isoformat(), actor=target.actor_label, action="test.forged",
                         object_type=target.object_type, object_id=target.object_id,
                         ip_address=target.ip_address, details=target.details)
    _sql("UPDATE {table} SET action = %s, hash = %s WHERE sequence = %s", ["test.forged", forged, target.sequence])
    verdict = verify_chain()
    assert not verdict.valid and f"event {target.sequence + 1} does not follow" in verdict.message


def test_a_deleted_event_is_detected(chain):
    _sql("DELETE FROM {table} WHERE sequence = %s", [chain[2].sequence])
    verdict = verify_chain()
    assert not verdict.valid and f"event {chain[2].sequence} is missing" in verdict.message


def test_reordered_events_are_detected(chain):
    a, b = chain[1].sequence, chain[3].sequence
    _sql("UPDATE {table} SET sequence = %s WHERE sequence = %s", [-1, a])
    _sql("UPDATE {table} SET sequence = %s WHERE sequence = %s", [a, b])
    _sql("UPDATE {table} SET sequence = %s WHERE sequence = %s", [b, -1])
    assert not verify_chain().valid


def test_a_truncated_log_is_detected(chain):
    _sql("DELETE FROM {table} WHERE sequence >= %s", [chain[3].sequence])
    verdict = verify_chain()
    assert not verdict.valid and "truncated" in verdict.message


def test_a_change_rolled_back_leaves_no_event(ministry):
    before = AuditEvent.objects.unrestricted("test").count()
    with pytest.raises(RuntimeError), transaction.atomic():
        create_unit(actor=None, code="ZZ/1", name="Rolled back", kind="service")
        raise RuntimeError("abort")
    assert AuditEvent.objects.unrestricted("test").count() == before
    assert verify_chain().valid


def test_details_are_stored_as_json(ministry):
    event = record_event(action="test.types", details={"when": datetime.date(2026, 1, 2), "n": 1})
    event.refresh_from_db()
    assert event.details == {"when": "2026-01-02", "n": 1}
    assert verify_chain().valid


def test_the_verify_audit_command(chain):
    out = StringIO()
    call_command("verify_audit", stdout=out)
    assert "audit log valid" in out.getvalue()
    _sql("DELETE FROM {table} WHERE sequence = %s", [chain[0].sequence])
    with pytest.raises(CommandError, match="audit log NOT valid"):
        call_command("verify_audit", stdout=StringIO())


def _forge(sequence: int, previous_hash: str, action: str = "test.inserted") -> str:
    from chancery.audit.services import _event_hash

    return _event_hash(previous_hash=previous_hash, sequence=sequence, created_at="2026-01-01T00:00:00+00:00",
                       actor="", action=action, object_type="", object_id="", ip_address=None, details={})


def test_an_inserted_event_is_detected_and_named(chain):
    """An event slipped in between two others (later ones renumbered) breaks the next link."""
    at = chain[2].sequence
    _sql("UPDATE {table} SET sequence = -sequence WHERE sequence >= %s", [at])
    _sql("UPDATE {table} SET sequence = 1 - sequence WHERE sequence <= %s", [-at])
    forged = _forge(at, chain[1].hash)
    _sql("INSERT INTO {table} (sequence, created_at, actor_label, action, object_type, object_id, details, "
         "previous_hash, hash) VALUES (%s, %s, '', 'test.inserted', '', '', '{}', %s, %s)",
         [at, "2026-01-01 00:00:00", chain[1].hash, forged])
    verdict = verify_chain()
    assert not verdict.valid
    # The forged event links correctly to its predecessor; the event after it does not.
    assert verdict.first_bad == at + 1 and f"event {at + 1} does not follow" in verdict.message


def _truncate_and_rewrite_head(from_sequence: int) -> None:
    """What someone with write access to the database does to hide the newest events."""
    from chancery.audit.models import AuditCheckpoint

    last = AuditEvent.objects.unrestricted("test").get(sequence=from_sequence - 1)
    _sql("DELETE FROM {table} WHERE sequence >= %s", [from_sequence])
    AuditHead.objects.filter(id=1).update(sequence=last.sequence, hash=last.hash)
    AuditCheckpoint.objects.filter(sequence__gte=from_sequence).delete()


def test_a_truncation_that_rewrote_the_head_is_caught_by_an_exported_checkpoint(chain, tmp_path):
    from chancery.audit.services import read_checkpoint_document

    out = tmp_path / "checkpoint.json"
    call_command("audit_checkpoint", "--out", str(out), stdout=StringIO())
    document = json.loads(out.read_text())
    assert document["sequence"] == chain[-1].sequence and document["hash"] == chain[-1].hash
    call_command("verify_audit", "--since", str(out), stdout=StringIO())

    _truncate_and_rewrite_head(chain[3].sequence)
    assert verify_chain().valid  # the database alone no longer knows
    verdict = verify_chain(since=read_checkpoint_document(document))
    assert not verdict.valid and "truncated" in verdict.message and verdict.first_bad == chain[3].sequence
    with pytest.raises(CommandError, match="truncated"):
        call_command("verify_audit", "--since", str(out), stdout=StringIO())


def test_a_stored_checkpoint_catches_a_truncation_that_rewrote_only_the_head(chain):
    from chancery.audit.services import create_checkpoint

    checkpoint = create_checkpoint(reason="test")
    assert checkpoint.sequence == chain[-1].sequence
    last = chain[1]
    _sql("DELETE FROM {table} WHERE sequence > %s", [last.sequence])
    AuditHead.objects.filter(id=1).update(sequence=last.sequence, hash=last.hash)
    verdict = verify_chain()
    assert not verdict.valid and "truncated" in verdict.message and verdict.first_bad == last.sequence + 1


def test_an_edit_before_an_exported_checkpoint_is_named(chain):
    from chancery.audit.services import checkpoint_document, create_checkpoint, read_checkpoint_document

    since = read_checkpoint_document(checkpoint_document(create_checkpoint(reason="test")))
    _sql("UPDATE {table} SET hash = %s WHERE sequence = %s", ["f" * 64, chain[-1].sequence])
    verdict = verify_chain(since=since)
    assert not verdict.valid and verdict.first_bad == chain[-1].sequence


def test_a_forged_or_foreign_checkpoint_file_is_refused(chain, tmp_path):
    from chancery.audit.services import (
        CheckpointError,
        checkpoint_document,
        create_checkpoint,
        read_checkpoint_document,
    )
    from chancery.crypto.signing import generate_signing_key, public_key_of, sign

    document = checkpoint_document(create_checkpoint(reason="test"))
    with pytest.raises(CheckpointError, match="signature"):
        read_checkpoint_document({**document, "sequence": document["sequence"] - 1})
    # Validly signed, but by a key this database never held.
    private, public = generate_signing_key()
    from chancery.audit.services import _checkpoint_message

    foreign = {**document, "public_key": public.hex(), "signature": sign(private, _checkpoint_message(
        sequence=document["sequence"], hash=document["hash"], created_at=document["created_at"])).hex()}
    assert public_key_of(private) == public
    verdict = verify_chain(since=read_checkpoint_document(foreign))
    assert not verdict.valid and "does not hold" in verdict.message
    bad_file = tmp_path / "bad.json"
    bad_file.write_text("{not json")
    with pytest.raises(CommandError, match=str(bad_file)):
        call_command("verify_audit", "--since", str(bad_file), stdout=StringIO())


def test_the_chain_is_checkpointed_periodically(ministry, monkeypatch):
    from chancery.audit import services
    from chancery.audit.models import AuditCheckpoint

    monkeypatch.setattr(services, "CHECKPOINT_EVERY", 3)
    before = AuditCheckpoint.objects.count()
    events = [record_event(action="test.event") for _ in range(6)]
    made = AuditCheckpoint.objects.order_by("sequence")[before:]
    assert [c.sequence for c in made] == [e.sequence for e in events if e.sequence % 3 == 0]
    assert all(c.reason == "periodic" for c in made)
    assert verify_chain().valid


def test_concurrent_appends_make_one_unbroken_chain(fresh_ministry):
    """Readers append at once (each protected read is an event): every append waits its turn on
    the head, so the sequences stay gap-free and each event chains to the one before it."""
    from chancery.correspondence.tests.test_numbering import THREADS, _run_concurrently

    before = AuditHead.objects.get().sequence

    def reads(worker: int) -> Any:
        def job() -> list[int]:
            return [record_event(action="test.read", object_type="test", object_id=f"{worker}-{i}").sequence
                    for i in range(10)]
        return job

    results, errors = _run_concurrently([reads(worker) for worker in range(THREADS)])
    assert errors == []
    sequences = sorted(s for batch in results for s in batch)
    assert sequences == list(range(before + 1, before + 1 + 10 * THREADS))
    assert AuditHead.objects.get().sequence == sequences[-1]
    verdict = verify_chain()
    assert verdict.valid and verdict.events == sequences[-1]


def test_the_first_event_creates_the_head():
    # A database whose log is empty: no head row yet (what set-up wrote is removed first).
    _sql("DELETE FROM {table}")
    AuditHead.objects.all().delete()
    first = record_event(action="test.first")
    second = record_event(action="test.second")
    assert (first.sequence, first.previous_hash) == (1, "0" * 64)
    assert (second.sequence, second.previous_hash) == (2, first.hash)
    assert AuditEvent.objects.unrestricted("test").get(pk=second.pk).hash == second.hash
    assert verify_chain().valid


@pytest.mark.parametrize("details", [
    {},
    {"text": "é — \"quoted\" \\ back\nline", "arabic": "برقية", "n": 12, "x": 0.5, "none": None},
    {"nested": {"b": [1, "2", {"z": True, "a": False}], "a": "\u2028"}, "emoji": "\U0001f510"},
], ids=["empty", "text", "nested"])
def test_the_database_hashes_an_event_as_python_does(details):
    """PostgreSQL's append hashes the event in the database, from the canonical JSON's tail written
    here: the hash stored must be the one verification works out again in Python, for any content
    (escapes, non-ASCII, astral characters, nested keys to sort), actor, address and instant."""
    from chancery.audit import services

    request = RequestFactory().get("/", REMOTE_ADDR="2001:DB8::0:1")
    event = record_event(action="test.hashed", object_type="test", object_id="ü-1", details=details,
                         request=request)
    stored = AuditEvent.objects.unrestricted("test").get(pk=event.pk)
    assert (stored.sequence, stored.previous_hash, stored.hash) == (event.sequence, event.previous_hash, event.hash)
    assert stored.hash == services._event_hash(
        previous_hash=stored.previous_hash, sequence=stored.sequence, created_at=stored.created_at.isoformat(),
        actor=stored.actor_label, action=stored.action, object_type=stored.object_type,
        object_id=stored.object_id, ip_address=stored.ip_address, details=stored.details)
    assert verify_chain().valid
