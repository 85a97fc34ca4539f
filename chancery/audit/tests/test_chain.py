"""The hash-chained audit log: appending, reading through the gate, detecting tampering."""

from __future__ import annotations

import datetime
import itertools
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
