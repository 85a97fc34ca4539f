"""Appending to and verifying the audit log."""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import json
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.ipv6 import clean_ipv6_address

from chancery.audit.models import AuditCheckpoint, AuditEvent, AuditHead

GENESIS = "0" * 64
# The chain head is checkpointed (signed) every this many events, besides each backup and
# each `chancery audit-checkpoint`.
CHECKPOINT_EVERY = 500
# The owner of the signing key of checkpoints (unit codes never start with "@").
CHECKPOINT_SIGNER = "@audit"
CHECKPOINT_FORMAT = "chancery/audit-checkpoint/v1"


def _event_hash(*, previous_hash: str, sequence: int, created_at: str, actor: str, action: str,
                object_type: str, object_id: str, ip_address: str | None, details: dict[str, Any]) -> str:
    tail = _canonical_tail(created_at=created_at, actor=actor, action=action, object_type=object_type,
                           object_id=object_id, ip_address=ip_address, details=details)
    return _digest(previous_hash, sequence, tail)


def _digest(previous_hash: str, sequence: int, tail: str) -> str:
    """The event's hash, as PostgreSQL's append works it out too (`_one_statement`)."""
    return hashlib.sha256(_chained(previous_hash, sequence, tail).encode()).hexdigest()


def _canonical_tail(*, created_at: str, actor: str, action: str, object_type: str, object_id: str,
                    ip_address: str | None, details: dict[str, Any]) -> str:
    """The canonical JSON of an event's content after its place in the chain: what `_chained`
    completes (here, or in PostgreSQL's append, see `_one_statement`)."""
    canonical = json.dumps(
        [created_at, actor, action, object_type, object_id, ip_address or "", details],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return canonical[1:]  # without its "[": the chain's two values come first


def _chained(previous_hash: str, sequence: int, tail: str) -> str:
    """The canonical JSON an event's hash is taken of: `[previous_hash, sequence, created_at, actor,
    action, object_type, object_id, ip_address, details]`, compact, keys sorted. The two values
    need no escaping (hex digits and an integer), so the database can write them as well."""
    return f'["{previous_hash}",{sequence},{tail}'


def _address(text: str) -> str | None:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return None
    # The form the database stores (and the chain hashes): IPv6 normalised as the field does it.
    try:
        return clean_ipv6_address(text) if ":" in text else text
    except ValidationError:
        return None


def _trusted(address: str) -> bool:
    from django.conf import settings

    parsed = ipaddress.ip_address(address)
    return any(parsed in ipaddress.ip_network(net) for net in settings.CHANCERY_TRUSTED_PROXIES)


def client_ip(request: HttpRequest | None) -> str | None:
    """The client's address: the peer's, or, when the peer is a trusted proxy, the right-most
    address of X-Forwarded-For that is not itself a trusted proxy (the left part of that header
    is written by the client and proves nothing)."""
    if request is None:
        return None
    address = _address((request.META.get("REMOTE_ADDR") or "").strip())
    if address is None or not _trusted(address):
        return address
    hops = [hop.strip() for hop in (request.META.get("HTTP_X_FORWARDED_FOR") or "").split(",")]
    for hop in reversed(hops):
        parsed = _address(hop)
        if parsed is None:
            return address  # a malformed chain: fall back to the proxy itself
        if not _trusted(parsed):
            return parsed
    return address


def record_event(
    *,
    action: str,
    actor: Any | None = None,
    target: Any | None = None,
    object_type: str = "",
    object_id: str | int = "",
    details: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
) -> AuditEvent:
    """Append one event; runs in the caller's transaction so a rolled-back change leaves no event."""
    if target is not None:
        object_type = object_type or target._meta.label_lower
        object_id = object_id or str(target.pk)
    actor_obj = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
    details = json.loads(json.dumps(details or {}, default=str))
    ip_address = client_ip(request)
    actor_label = actor_obj.get_username() if actor_obj else ""
    object_id = str(object_id)

    created_at = timezone.now()
    event = AuditEvent(
        created_at=created_at, actor=actor_obj, actor_label=actor_label, action=action, object_type=object_type,
        object_id=object_id, ip_address=ip_address, details=details,
    )
    tail = _canonical_tail(created_at=created_at.isoformat(), actor=actor_label, action=action,
                           object_type=object_type, object_id=object_id, ip_address=ip_address, details=details)
    if connection.vendor == "postgresql":
        return _append_in_one_statement(event, tail)
    with transaction.atomic():
        event.sequence, event.previous_hash = _advance_head()
        event.hash = _digest(event.previous_hash, event.sequence, tail)
        _insert(event)
        _checkpoint_if_due(event)
    return event


# Every protected read appends an event, so on SQLite the append is written as three plain statements
# rather than through the ORM's get_or_create, create and save (0.85 -> 0.23 ms on SQLite: the
# ORM's Python was most of a read's audit, and the audit most of what an encrypted dispatch's
# page costs beyond a clear one's). The first statement takes SQLite's write lock, so concurrent
# appends queue.
_EVENT_COLUMNS = [f for f in AuditEvent._meta.concrete_fields if not f.primary_key]


def _names() -> tuple[str, str, str]:
    """The head's and events' tables and the events' columns, quoted for this engine from the models."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(f.column)) for f in _EVENT_COLUMNS)
    return quote(AuditHead._meta.db_table), quote(AuditEvent._meta.db_table), columns


@functools.cache
def _statements(vendor: str) -> tuple[str, str, str]:
    """SQLite's three statements (every value a parameter)."""
    head, event, columns = _names()
    placeholders = ", ".join(["%s"] * len(_EVENT_COLUMNS))
    return (
        f"UPDATE {head} SET sequence = sequence + 1, previous_hash = hash WHERE id = 1 "  # noqa: S608
        "RETURNING sequence, hash",
        f"INSERT INTO {event} ({columns}) VALUES ({placeholders}) RETURNING id",  # noqa: S608
        f"UPDATE {head} SET hash = %s WHERE id = 1",  # noqa: S608
    )


# On PostgreSQL the append is one statement, one round trip and its own transaction: it moves the
# head, which it locks, hashes the event there (the canonical JSON's tail comes from Python, see
# `_chained`) and inserts it. Concurrent appends queue on the head's row and each chains to the one
# before (PostgreSQL evaluates the SET on the newest row once it holds the lock). Inside a caller's
# transaction it is that transaction's. Before, the head was read, then moved if still there: two
# round trips, and a retry when overtaken. (SQLite has no UPDATE inside WITH, nor SHA-256; its lock
# is the file's.)
_CHAIN_COLUMNS = ("sequence", "previous_hash", "hash")


@functools.cache
def _one_statement() -> str:
    head, event, columns = _names()
    values = ", ".join(f"moved.{f.column}" if f.column in _CHAIN_COLUMNS else "%s" for f in _EVENT_COLUMNS)
    return (
        f"WITH moved AS (UPDATE {head} SET sequence = sequence + 1, previous_hash = hash, "  # noqa: S608
        f"""hash = encode(sha256(convert_to('["' || hash || '",' || (sequence + 1)::text || ',' || %s, 'UTF8')), """
        f"'hex') WHERE id = 1 RETURNING sequence, previous_hash, hash) "
        f"INSERT INTO {event} ({columns}) SELECT {values} FROM moved RETURNING id, sequence, previous_hash, hash"
    )


def _append_in_one_statement(event: AuditEvent, tail: str) -> AuditEvent:
    """Append `event`, whose canonical content after its place in the chain is `tail` (PostgreSQL)."""
    values = [v for f, v in zip(_EVENT_COLUMNS, _values(event), strict=True) if f.column not in _CHAIN_COLUMNS]
    with connection.cursor() as cursor:
        cursor.execute(_one_statement(), [tail, *values])
        row = cursor.fetchone()
    if row is None:  # the first event ever: the head's row does not exist yet
        AuditHead.objects.get_or_create(id=1)
        return _append_in_one_statement(event, tail)
    event.pk, event.sequence, event.previous_hash, event.hash = row
    event._state.adding = False
    event._state.db = connection.alias
    # Signed after its event: outside a caller's transaction, in one of its own (a crash between
    # the two leaves this checkpoint unsigned, and the chain whole; the next one covers it).
    _checkpoint_if_due(event)
    return event


def _values(event: AuditEvent) -> list[Any]:
    """The event's column values as the ORM would write them, each prepared by its field."""
    return [f.get_db_prep_save(f.pre_save(event, True), connection) for f in _EVENT_COLUMNS]


def _checkpoint_if_due(event: AuditEvent) -> None:
    if event.sequence % CHECKPOINT_EVERY == 0:
        _sign_checkpoint(AuditHead(id=1, sequence=event.sequence, hash=event.hash), reason="periodic")


def _advance_head() -> tuple[int, str]:
    """Lock the chain's head and move it one step: (the new event's sequence, the previous hash)."""
    with connection.cursor() as cursor:
        cursor.execute(_statements(connection.vendor)[0], [])
        row = cursor.fetchone()
    if row is None:  # the first event ever: the head's row does not exist yet
        AuditHead.objects.get_or_create(id=1)
        return _advance_head()
    return int(row[0]), str(row[1])


def _insert(event: AuditEvent) -> None:
    """Insert the event and record its hash in the head, in the caller's transaction."""
    _, insert, set_hash = _statements(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(insert, _values(event))
        event.pk = cursor.fetchone()[0]
        cursor.execute(set_hash, [event.hash])
    event._state.adding = False
    event._state.db = connection.alias


# --- checkpoints --------------------------------------------------------------------------


def _checkpoint_message(*, sequence: int, hash: str, created_at: str) -> bytes:
    from chancery.crypto.signing import canonical_bytes

    return canonical_bytes({"format": CHECKPOINT_FORMAT, "sequence": sequence, "hash": hash, "created_at": created_at})


def _sign_checkpoint(head: AuditHead, *, reason: str) -> AuditCheckpoint:
    from chancery.crypto.services import sign_for

    created_at = timezone.now()
    key_id, signature = sign_for(
        owner=CHECKPOINT_SIGNER,
        message=_checkpoint_message(sequence=head.sequence, hash=head.hash, created_at=created_at.isoformat()),
    )
    return AuditCheckpoint.objects.create(
        sequence=head.sequence, hash=head.hash, created_at=created_at, reason=reason,
        signing_key_id=key_id, signature=signature,
    )


def create_checkpoint(*, reason: str) -> AuditCheckpoint:
    """Sign the current head of the chain (locked, so it names a head that really was)."""
    with transaction.atomic():
        head, _created = AuditHead.objects.select_for_update().get_or_create(id=1)
        return _sign_checkpoint(head, reason=reason)


def checkpoint_document(checkpoint: AuditCheckpoint) -> dict[str, Any]:
    """The exportable form: everything needed to check it, the public key included."""
    from chancery.crypto.models import SigningKey

    public_key = SigningKey.objects.get(pk=checkpoint.signing_key_id).public_key
    return {
        "format": CHECKPOINT_FORMAT,
        "sequence": checkpoint.sequence,
        "hash": checkpoint.hash,
        "created_at": checkpoint.created_at.isoformat(),
        "signing_key_id": checkpoint.signing_key_id,
        "public_key": bytes(public_key).hex(),
        "signature": bytes(checkpoint.signature).hex(),
    }


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint read back from an exported document, its signature checked."""

    sequence: int
    hash: str
    created_at: str
    signing_key_id: int
    public_key: bytes


class CheckpointError(ValueError):
    """An exported checkpoint that is malformed or whose signature does not hold."""


def read_checkpoint_document(document: Any) -> Checkpoint:
    from chancery.crypto.signing import verify

    try:
        if document.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError("not a Chancery audit checkpoint")
        checkpoint = Checkpoint(
            sequence=int(document["sequence"]), hash=str(document["hash"]), created_at=str(document["created_at"]),
            signing_key_id=int(document["signing_key_id"]), public_key=bytes.fromhex(document["public_key"]),
        )
        signature = bytes.fromhex(document["signature"])
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, CheckpointError):
            raise
        raise CheckpointError(f"malformed audit checkpoint ({type(exc).__name__}: {exc})") from exc
    message = _checkpoint_message(sequence=checkpoint.sequence, hash=checkpoint.hash, created_at=checkpoint.created_at)
    if not verify(checkpoint.public_key, message, signature):
        raise CheckpointError("the checkpoint's signature does not match its content")
    return checkpoint


def _stored_checkpoint_problem(checkpoint: AuditCheckpoint) -> str | None:
    from chancery.crypto.services import verify_signature

    message = _checkpoint_message(
        sequence=checkpoint.sequence, hash=checkpoint.hash, created_at=checkpoint.created_at.isoformat()
    )
    if not verify_signature(signing_key_id=checkpoint.signing_key_id, message=message,
                            signature=bytes(checkpoint.signature)):
        return f"checkpoint {checkpoint.pk} (event {checkpoint.sequence}) is not validly signed"
    return None


@dataclass(frozen=True)
class ChainVerdict:
    valid: bool
    events: int
    message: str
    first_bad: int | None = None  # the sequence number of the first bad (or missing) event


def verify_chain(*, since: Checkpoint | None = None) -> ChainVerdict:
    """Walk the chain: any edit, deletion, insertion, reordering or truncation breaks it.

    Truncation of the newest events is caught against the head row and against every
    signed checkpoint; `since` (an exported checkpoint, kept outside the database) also
    catches a truncation that rewrote the head and the stored checkpoints, and lets the
    walk start there instead of at the genesis.
    """
    from chancery.crypto.models import SigningKey

    all_events = AuditEvent.objects.unrestricted("chain verification")
    previous = GENESIS
    expected_sequence = 1
    count = 0

    def bad(sequence: int, message: str) -> ChainVerdict:
        return ChainVerdict(False, count, message, first_bad=sequence)

    if since is not None:
        stored_key = SigningKey.objects.filter(pk=since.signing_key_id).first()
        if stored_key is None or bytes(stored_key.public_key) != since.public_key:
            return bad(since.sequence, f"the checkpoint was signed by key #{since.signing_key_id}, which this "
                                       "database does not hold")
        anchor = all_events.filter(sequence=since.sequence).first()
        if anchor is None:
            last = all_events.order_by("-sequence").values_list("sequence", flat=True).first() or 0
            if last < since.sequence:
                return bad(last + 1, f"the log was truncated: the checkpoint names event {since.sequence}, "
                                     f"the log ends at event {last}")
            return bad(since.sequence, f"event {since.sequence} is missing")
        if anchor.hash != since.hash:
            return bad(since.sequence, f"event {since.sequence} differs from the checkpoint")
        previous, expected_sequence = anchor.previous_hash, since.sequence
    checkpoints: dict[int, list[AuditCheckpoint]] = {}
    for checkpoint in AuditCheckpoint.objects.filter(sequence__gte=expected_sequence):
        checkpoints.setdefault(checkpoint.sequence, []).append(checkpoint)
    events = all_events.filter(sequence__gte=expected_sequence).order_by("sequence").iterator(chunk_size=2000)
    for event in events:
        if event.sequence != expected_sequence:
            return bad(expected_sequence, f"event {expected_sequence} is missing (found {event.sequence})")
        if event.previous_hash != previous:
            return bad(event.sequence, f"event {event.sequence} does not follow its predecessor")
        digest = _event_hash(
            previous_hash=event.previous_hash,
            sequence=event.sequence,
            created_at=event.created_at.isoformat(),
            actor=event.actor_label,
            action=event.action,
            object_type=event.object_type,
            object_id=event.object_id,
            ip_address=event.ip_address,
            details=event.details,
        )
        if digest != event.hash:
            return bad(event.sequence, f"event {event.sequence} was altered")
        for checkpoint in checkpoints.pop(event.sequence, []):
            problem = _stored_checkpoint_problem(checkpoint)
            if problem:
                return bad(event.sequence, problem)
            if checkpoint.hash != event.hash:
                return bad(event.sequence, f"event {event.sequence} differs from checkpoint {checkpoint.pk}")
        previous = event.hash
        expected_sequence += 1
        count += 1
    if checkpoints:
        named = min(checkpoints)
        return bad(expected_sequence, f"the log was truncated: a checkpoint names event {named}, "
                                      f"the log ends at event {expected_sequence - 1}")
    head = AuditHead.objects.filter(id=1).first()
    if head is not None and (head.sequence != expected_sequence - 1 or head.hash != previous):
        return bad(expected_sequence, f"the log was truncated: the head names event {head.sequence}")
    scope = f" since the checkpoint at event {since.sequence}" if since is not None else ""
    return ChainVerdict(True, count, f"{count} events{scope}, chain intact")
