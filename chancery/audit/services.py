"""Appending to and verifying the audit log."""

from __future__ import annotations

import hashlib
import ipaddress
import json
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.ipv6 import clean_ipv6_address

from chancery.audit.models import AuditEvent, AuditHead

GENESIS = "0" * 64


def _event_hash(*, previous_hash: str, sequence: int, created_at: str, actor: str, action: str,
                object_type: str, object_id: str, ip_address: str | None, details: dict[str, Any]) -> str:
    canonical = json.dumps(
        [previous_hash, sequence, created_at, actor, action, object_type, object_id, ip_address or "", details],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


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
    with transaction.atomic():
        head, _created = AuditHead.objects.select_for_update().get_or_create(id=1)
        sequence = head.sequence + 1
        created_at = timezone.now()
        digest = _event_hash(
            previous_hash=head.hash,
            sequence=sequence,
            created_at=created_at.isoformat(),
            actor=actor_obj.get_username() if actor_obj else "",
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            ip_address=ip_address,
            details=details,
        )
        event = AuditEvent.objects.create(
            sequence=sequence,
            created_at=created_at,
            actor=actor_obj,
            actor_label=actor_obj.get_username() if actor_obj else "",
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            ip_address=ip_address,
            details=details,
            previous_hash=head.hash,
            hash=digest,
        )
        head.sequence = sequence
        head.hash = digest
        head.save(update_fields=["sequence", "hash"])
    return event


@dataclass(frozen=True)
class ChainVerdict:
    valid: bool
    events: int
    message: str


def verify_chain() -> ChainVerdict:
    """Walk the chain: any edit, deletion, reordering or truncation breaks it."""
    previous = GENESIS
    expected_sequence = 1
    count = 0
    events = AuditEvent.objects.unrestricted("chain verification").order_by("sequence").iterator(chunk_size=2000)
    for event in events:
        if event.sequence != expected_sequence:
            return ChainVerdict(False, count, f"event {expected_sequence} is missing (found {event.sequence})")
        if event.previous_hash != previous:
            return ChainVerdict(False, count, f"event {event.sequence} does not follow its predecessor")
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
            return ChainVerdict(False, count, f"event {event.sequence} was altered")
        previous = event.hash
        expected_sequence += 1
        count += 1
    head = AuditHead.objects.filter(id=1).first()
    if head is not None and (head.sequence != count or head.hash != previous):
        return ChainVerdict(False, count, f"the log was truncated: the head names event {head.sequence}")
    return ChainVerdict(True, count, f"{count} events, chain intact")
