"""Correspondence services: the dispatch lifecycle and its business rules.

All functions take keyword arguments only, run in one transaction, check the actor's
capability, and append an audit event (ids, references and unit codes only — never a
subject, a body or a file name of a protected dispatch).

Errors:
- `django.http.Http404`: the dispatch (or unit routing) is outside the actor's scope or
  does not exist — the same answer for both;
- `NotAllowed` (a `PermissionDenied`): the actor sees the dispatch but lacks the
  capability for this action (views answer 403 or 404 as they see fit);
- `InvalidState`: the action does not apply in the dispatch's current state (409);
- `DraftConflict`: the draft changed since the actor loaded it (409; `current_version`);
- `django.core.exceptions.ValidationError`: per-field errors (422 / form errors).

Lifecycle: create_draft → update_draft / add_attachment / remove_attachment →
validate_dispatch → send_dispatch (numbers, signs, freezes) → per routed unit:
acknowledge → assign → reply (a new draft) → close_routing; mark_read for copies.
register_incoming records incoming correspondence in one step (numbered, signed).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from chancery.accounts.models import Membership, User
from chancery.audit.services import record_event as _record_event
from chancery.core import errors
from chancery.core.classification import Level, Marking
from chancery.core.gate import get_visible_or_404
from chancery.core.models import Compartment
from chancery.core.validators import bidi_message, has_bidi_controls, reject_bidi_controls
from chancery.correspondence import access_index, content, policy, signals, storage
from chancery.correspondence.models import (
    RELEASED_STATUSES,
    Attachment,
    Citation,
    Direction,
    Dispatch,
    DispatchGrant,
    DispatchKind,
    DispatchStatus,
    MarkingChange,
    Routing,
    RoutingKind,
    RoutingStatus,
    Transmission,
    marking_text,
)
from chancery.correspondence.numbering import allocate_number
from chancery.correspondence.policy import NotAllowed
from chancery.correspondence.signatures import sign_dispatch
from chancery.correspondence.uploads import check_upload
from chancery.crypto import envelope
from chancery.organisation.models import Unit

__all__ = [
    "DraftConflict",
    "InvalidState",
    "NotAllowed",
    "RoutingSpec",
    "acknowledge",
    "add_attachment",
    "assign",
    "change_marking",
    "close_routing",
    "create_draft",
    "finish_sending",
    "grant_access",
    "mark_read",
    "record_read",
    "register_incoming",
    "remove_attachment",
    "reply",
    "send_dispatch",
    "update_draft",
    "validate_dispatch",
]

MAX_TAGS = 20
TAG_RE = re.compile(r"^[A-Z0-9][A-Z0-9_.-]{0,31}$")
MAX_SUBJECT = 500


class CorrespondenceError(Exception):
    """Base class of the domain errors below."""


class InvalidState(CorrespondenceError, errors.InvalidState):
    """The action does not apply to the dispatch in its current state."""

    error_code = "conflict"  # the API's code for it since version 1


class DraftConflict(CorrespondenceError, errors.Conflict):
    """The draft was changed by someone else since `expected_version` was read."""

    error_code = "version_conflict"

    def __init__(self, current_version: int) -> None:
        super().__init__(_("This draft was changed by someone else meanwhile. Reload it and apply your changes again."))
        self.current_version = current_version

    def details(self) -> dict[str, Any]:
        return {"current_version": self.current_version}


@dataclass(frozen=True)
class RoutingSpec:
    """One routing of a draft: `unit` is a Unit or a unit code; kind `action` or `info`."""

    unit: Unit | str
    kind: str = RoutingKind.ACTION
    due_date: date | None = None


# --- helpers -----------------------------------------------------------------------------


def record_event(**kwargs: Any) -> Any:
    """Append an audit event; when the actor stands in for an absent agent (`policy.require`
    notes it), the event's details name that agent too (`on_behalf_of`): both names are kept."""
    principal = getattr(kwargs.get("actor"), "_on_behalf_of", None)
    if principal is not None:
        kwargs["details"] = {**(kwargs.get("details") or {}), "on_behalf_of": principal.get_username()}
    return _record_event(**kwargs)


def _visible(actor: User, dispatch: Dispatch | int, *, lock: bool = True) -> Dispatch:
    """The dispatch re-read through the gate (404 if out of scope), locked for writing."""
    pk = dispatch.pk if isinstance(dispatch, Dispatch) else int(dispatch)
    get_visible_or_404(Dispatch.objects.all(), actor, pk=pk)
    queryset = Dispatch.objects.unrestricted("write after the gate check").select_related(
        "sending_unit", "author", "data_key"
    )
    if lock:
        queryset = queryset.select_for_update(of=("self",))
    return queryset.get(pk=pk)


def _unit_by_code(code: str) -> Unit | None:
    return Unit.objects.unrestricted("routing lookup").filter(code=code.strip().upper(), is_active=True).first()


def _units_of(actor: User) -> list[Unit]:
    return [m.unit for m in actor.active_memberships()]


def _clean_tags(tags: Iterable[str], errors: dict[str, list[str]]) -> list[str]:
    cleaned: list[str] = []
    for raw in tags:
        tag = str(raw).strip().upper()
        if not tag:
            continue
        if not TAG_RE.match(tag):
            errors.setdefault("tags", []).append(_("Invalid tag: %(tag)s") % {"tag": tag[:40]})
            continue
        if tag not in cleaned:
            cleaned.append(tag)
    if len(cleaned) > MAX_TAGS:
        errors.setdefault("tags", []).append(_("At most %(n)s tags.") % {"n": MAX_TAGS})
    return cleaned


def _clean_marking(
    actor: User, classification: int, compartments: Iterable[str], errors: dict[str, list[str]]
) -> tuple[int, list[Compartment]]:
    try:
        level = int(classification)
    except (TypeError, ValueError):
        level = -1
    if level not in Level.values:
        errors.setdefault("classification", []).append(_("Unknown classification."))
        level = Level.UNCLASSIFIED
    codes = sorted({str(c).strip().upper() for c in compartments if str(c).strip()})
    found = list(Compartment.objects.filter(code__in=codes))
    missing = sorted(set(codes) - {c.code for c in found})
    if missing:
        errors.setdefault("compartments", []).append(
            _("Unknown compartment: %(codes)s") % {"codes": ", ".join(missing)}
        )
    if not actor.clearance.dominates(Marking.of(level, [c.code for c in found])):
        errors.setdefault("classification", []).append(_("You cannot mark a dispatch above your own clearance."))
    return level, found


def _clean_routings(
    specs: Iterable[RoutingSpec | dict[str, Any]], errors: dict[str, list[str]]
) -> list[tuple[Unit, str, date | None]]:
    result: list[tuple[Unit, str, date | None]] = []
    seen: set[int] = set()
    for raw in specs:
        spec = raw if isinstance(raw, RoutingSpec) else RoutingSpec(**raw)
        if isinstance(spec.unit, Unit):
            unit: Unit | None = spec.unit
        else:
            unit = _unit_by_code(str(spec.unit))
        if unit is None:
            errors.setdefault("routings", []).append(_("Unknown unit: %(code)s") % {"code": str(spec.unit)[:64]})
            continue
        if spec.kind not in RoutingKind.values:
            errors.setdefault("routings", []).append(
                _("Unknown routing kind: %(kind)s") % {"kind": str(spec.kind)[:20]}
            )
            continue
        if unit.pk in seen:
            errors.setdefault("routings", []).append(_("%(code)s is routed twice.") % {"code": unit.code})
            continue
        seen.add(unit.pk)
        result.append((unit, spec.kind, spec.due_date if spec.kind == RoutingKind.ACTION else None))
    return result


def _clean_cites(actor: User, cites: Iterable[Dispatch | str | int], errors: dict[str, list[str]]) -> list[Dispatch]:
    found: list[Dispatch] = []
    visible = Dispatch.objects.visible_to(actor).filter(status__in=RELEASED_STATUSES)
    for item in cites:
        if isinstance(item, Dispatch):
            target = visible.filter(pk=item.pk).first()
            label = item.reference or str(item.pk)
        elif isinstance(item, int):
            target = visible.filter(pk=item).first()
            label = str(item)
        else:
            label = str(item).strip()
            target = visible.filter(reference=label).first() if label else None
        if target is None:
            # Same message for a reference that does not exist and one out of scope.
            errors.setdefault("cites", []).append(_("Unknown cited reference: %(ref)s") % {"ref": label[:100]})
        elif all(t.pk != target.pk for t in found):
            found.append(target)
    return found


def _raise(errors: dict[str, list[str]]) -> None:
    if errors:
        raise ValidationError(errors)


def _set_routings(dispatch: Dispatch, routings: list[tuple[Unit, str, date | None]]) -> None:
    Routing.objects.of_dispatch(dispatch).delete()
    rows = [
        Routing(
            dispatch=dispatch,
            unit=unit,
            kind=kind,
            due_date=due,
            status=RoutingStatus.PENDING if kind == RoutingKind.ACTION else RoutingStatus.UNREAD,
            sent_at=dispatch.sent_at,
        )
        for unit, kind, due in routings
    ]
    for row in rows:
        row.fill_sort_keys()  # bulk_create does not call save()
    Routing.objects.bulk_create(rows)
    access_index.sync_dispatches([dispatch.pk])  # bulk_create sends no post_save


def _set_citations(
    dispatch: Dispatch, cited: list[Dispatch], external: Iterable[str], *, marking: str | None = None
) -> None:
    """Replace the dispatch's citations (free-text ones encrypted when it is protected)."""
    external = [str(ref) for ref in external]
    reject_bidi_controls(external_references=" ".join(external))
    Citation.objects.of_dispatch(dispatch).delete()
    rows = [Citation(citing=dispatch, cited=c) for c in cited]
    refs = list(dict.fromkeys(ref for ref in (str(r).strip()[:200] for r in external) if ref))
    rows += content.citation_rows(dispatch, refs, marking=marking)
    Citation.objects.bulk_create(rows)


def _external_references(dispatch: Dispatch, *, key: bytes | None, marking: str) -> list[str]:
    """The dispatch's free-text citations in clear, read under an explicit key and marking."""
    return [
        content.decrypt_citation(c, key=key, marking=marking)
        for c in Citation.objects.of_dispatch(dispatch).filter(cited__isnull=True).order_by("pk")
    ]


def _cited_dispatches(dispatch: Dispatch) -> list[Dispatch]:
    return [
        c.cited
        for c in Citation.objects.of_dispatch(dispatch).filter(cited__isnull=False).select_related("cited")
        if c.cited is not None
    ]


def _floor_of(dispatch: Dispatch) -> Marking:
    return Marking.of(dispatch.classification, content.compartment_codes(dispatch))


def _check_no_write_down(
    level: int, compartments: list[Compartment], floor: Dispatch | None, errors: dict[str, list[str]]
) -> None:
    if floor is None:
        return
    if not Marking.of(level, [c.code for c in compartments]).dominates(_floor_of(floor)):
        errors.setdefault("classification", []).append(
            _("A reply cannot carry a lower marking than the dispatch it answers (%(marking)s).")
            % {"marking": _floor_of(floor).label()}
        )


def _on_commit_send(signal: Any, **kwargs: Any) -> None:
    transaction.on_commit(lambda: signal.send(**kwargs))


# --- drafts ------------------------------------------------------------------------------


@transaction.atomic
def create_draft(
    *,
    actor: User,
    sending_unit: Unit,
    subject: str,
    body: str = "",
    kind: str = DispatchKind.DISPATCH,
    direction: str = Direction.OUTGOING,
    classification: int = Level.UNCLASSIFIED,
    compartments: Iterable[str] = (),
    transmission: str = Transmission.CLEAR,
    routings: Iterable[RoutingSpec | dict[str, Any]] = (),
    cites: Iterable[Dispatch | str | int] = (),
    external_references: Iterable[str] = (),
    tags: Iterable[str] = (),
    in_reply_to: Dispatch | None = None,
    declassify_on: date | None = None,
    place: str = "",
    classification_reason: str = "",
    classified_from: str = "",
) -> Dispatch:
    """A new draft of `sending_unit` (actor needs DRAFT_DISPATCH there).

    `cites` are dispatches or references of sent dispatches the actor can see;
    `external_references` free-text references. Body HTML is sanitised. Content is
    encrypted at rest when classification ≥ restricted or transmission is encrypted.
    """
    policy.require(actor, "edit", sending_unit)
    errors: dict[str, list[str]] = {}
    subject = (subject or "").strip()
    if not subject:
        errors.setdefault("subject", []).append(_("The subject is required."))
    elif len(subject) > MAX_SUBJECT:
        errors.setdefault("subject", []).append(_("The subject is too long."))
    if kind not in DispatchKind.values:
        errors.setdefault("kind", []).append(_("Unknown kind."))
    if direction not in (Direction.OUTGOING, Direction.INTERNAL):
        errors.setdefault("direction", []).append(_("Incoming correspondence is registered by the registry."))
    if transmission not in Transmission.values:
        errors.setdefault("transmission", []).append(_("Unknown transmission."))
    level, comps = _clean_marking(actor, classification, compartments, errors)
    clean_routings = _clean_routings(routings, errors)
    cited = _clean_cites(actor, cites, errors)
    clean_tags = _clean_tags(tags, errors)
    _check_no_write_down(level, comps, in_reply_to, errors)
    _raise(errors)

    dispatch = Dispatch.objects.create(
        direction=direction,
        kind=kind,
        sending_unit=sending_unit,
        author=actor,
        classification=level,
        transmission=transmission,
        in_reply_to=in_reply_to,
        declassify_on=declassify_on,
        classification_reason=(classification_reason or "").strip()[:300],
        classified_from=(classified_from or "").strip()[:200],
    )
    if comps:
        dispatch.compartments.set(comps)
    content.store_fields(dispatch, subject=subject, body=content.sanitise_body(body))
    content.store_meta(dispatch, place=place, tags=clean_tags)
    dispatch.save(
        update_fields=["subject", "body", "subject_ciphertext", "body_ciphertext", "data_key", *content.META_COLUMNS]
    )
    _set_routings(dispatch, clean_routings)
    if in_reply_to is not None and all(c.pk != in_reply_to.pk for c in cited):
        cited.insert(0, in_reply_to)
    _set_citations(dispatch, cited, external_references)
    record_event(
        action="correspondence.draft_created",
        actor=actor,
        target=dispatch,
        details={
            "unit": sending_unit.code,
            "classification": level,
            "in_reply_to": in_reply_to.pk if in_reply_to else None,
        },
    )
    return dispatch


_UPDATABLE = {
    "subject",
    "body",
    "kind",
    "direction",
    "classification",
    "compartments",
    "transmission",
    "routings",
    "cites",
    "external_references",
    "tags",
    "declassify_on",
    "place",
    "classification_reason",
    "classified_from",
}


@transaction.atomic
def update_draft(*, actor: User, dispatch: Dispatch | int, expected_version: int, **changes: Any) -> Dispatch:
    """Change a draft (fields as in create_draft). Optimistic concurrency: the caller
    passes the `version` it loaded; if the draft changed meanwhile, `DraftConflict`.

    Editing a validated dispatch sends it back to draft (validation cleared).
    """
    unknown = set(changes) - _UPDATABLE
    if unknown:
        raise TypeError(f"update_draft() got unexpected fields: {', '.join(sorted(unknown))}")
    current = _visible(actor, dispatch)
    policy.require(actor, "edit", current.sending_unit)
    if current.status == DispatchStatus.SUBMITTED:
        raise InvalidState(_("This draft is in its validation circuit; withdraw it before changing it."))
    if current.status not in (DispatchStatus.DRAFT, DispatchStatus.VALIDATED):
        raise InvalidState(_("A sent dispatch cannot be edited; write a new dispatch that cites it."))
    if current.version != int(expected_version):
        raise DraftConflict(current.version)

    errors: dict[str, list[str]] = {}
    subject = content.read_field(current, "subject")
    body = content.read_field(current, "body")
    meta = content.read_meta(current)
    place, tags = meta.place, meta.tags
    old_marking = content.current_marking_text(current)
    if "subject" in changes:
        subject = (changes["subject"] or "").strip()
        if not subject:
            errors.setdefault("subject", []).append(_("The subject is required."))
        elif len(subject) > MAX_SUBJECT:
            errors.setdefault("subject", []).append(_("The subject is too long."))
    if "body" in changes:
        body = content.sanitise_body(changes["body"] or "")
    if "kind" in changes:
        if changes["kind"] not in DispatchKind.values:
            errors.setdefault("kind", []).append(_("Unknown kind."))
        else:
            current.kind = changes["kind"]
    if "direction" in changes:
        if current.direction == Direction.INCOMING or changes["direction"] not in (
            Direction.OUTGOING,
            Direction.INTERNAL,
        ):
            errors.setdefault("direction", []).append(_("This direction cannot be chosen here."))
        else:
            current.direction = changes["direction"]
    if "transmission" in changes:
        if changes["transmission"] not in Transmission.values:
            errors.setdefault("transmission", []).append(_("Unknown transmission."))
        else:
            current.transmission = changes["transmission"]
    comps: list[Compartment] | None = None
    if "classification" in changes or "compartments" in changes:
        level, comps = _clean_marking(
            actor,
            changes.get("classification", current.classification),
            changes.get("compartments", content.compartment_codes(current)),
            errors,
        )
        _check_no_write_down(level, comps, current.in_reply_to, errors)
        current.classification = level
    routings = _clean_routings(changes["routings"], errors) if "routings" in changes else None
    cited = _clean_cites(actor, changes.get("cites", ()), errors) if "cites" in changes else None
    if cited is not None:
        # Citations of dispatches the actor may not read were never shown to them: keep them.
        hidden = (
            Citation.objects.of_dispatch(current)
            .filter(cited__isnull=False)
            .exclude(cited__in=Dispatch.objects.visible_to(actor).values("pk"))
            .select_related("cited")
        )
        cited += [c.cited for c in hidden if c.cited is not None and all(c.cited_id != d.pk for d in cited)]
    if "tags" in changes:
        tags = _clean_tags(changes["tags"], errors)
    if "declassify_on" in changes:
        current.declassify_on = changes["declassify_on"]
    if "place" in changes:
        place = str(changes["place"] or "")[:100]
    if "classification_reason" in changes:
        current.classification_reason = str(changes["classification_reason"] or "").strip()[:300]
    if "classified_from" in changes:
        current.classified_from = str(changes["classified_from"] or "").strip()[:200]
    _raise(errors)

    if comps is not None:
        current.compartments.set(comps)
    new_marking = content.current_marking_text(current)
    was_encrypted = current.is_encrypted
    old_key = content.plain_key(current) if current.data_key_id else None
    external_before = _external_references(current, key=old_key, marking=old_marking)
    if was_encrypted and not current.needs_encryption:
        # Old ciphertexts are dropped; the content is now stored in clear.
        current.data_key = None
        current._plain_key = None  # type: ignore[attr-defined]
    content.store_fields(current, subject=subject, body=body, marking=new_marking)
    content.store_meta(current, place=place, tags=tags, marking=new_marking)
    written: list[str] = []
    rebind = (was_encrypted or current.is_encrypted) and (
        new_marking != old_marking or was_encrypted != current.is_encrypted
    )
    if rebind:
        written = _restore_attachments(current, old_marking=old_marking, old_key=old_key)
    if routings is not None:
        _set_routings(current, routings)
    if cited is not None or "external_references" in changes or rebind:
        keep_cited = cited if cited is not None else _cited_dispatches(current)
        if current.in_reply_to is not None and all(c.pk != current.in_reply_to_id for c in keep_cited):
            keep_cited.insert(0, current.in_reply_to)
        external = changes.get("external_references", external_before)
        _set_citations(current, keep_cited, external, marking=new_marking)
    if current.status == DispatchStatus.VALIDATED:
        current.status = DispatchStatus.DRAFT
        current.validated_by = None
        current.validated_at = None
    current.version = current.version + 1
    try:
        current.save()
        record_event(
            action="correspondence.draft_updated",
            actor=actor,
            target=current,
            details={"fields": sorted(changes), "version": current.version},
        )
    except BaseException:
        _delete_files(written)
        raise
    return current


def _restore_attachments(dispatch: Dispatch, *, old_marking: str, old_key: bytes | None) -> list[str]:
    """Re-store a dispatch's attachment files and file names after its marking or
    protection changed (names and files follow the subject and body: encrypted under the
    new marking when protected, in clear otherwise).

    New files are written under new names and the rows repointed; old files are deleted
    once the transaction commits. Returns the new names: the caller deletes them if what
    follows fails, so the store keeps matching the rows.
    """
    attachments = list(Attachment.objects.of_dispatch(dispatch).order_by("position"))
    new_marking = content.current_marking_text(dispatch)
    written: list[str] = []
    old_names: list[str] = []
    try:
        for attachment in attachments:
            if attachment.encrypted:
                if old_key is None:
                    raise ValueError(f"attachment {attachment.pk} is encrypted but its dispatch has no key")
                data = storage.read(
                    attachment.storage_name,
                    data_key=old_key,
                    aad=content.attachment_aad(attachment.storage_name, old_marking),
                )
            else:
                data = storage.read(attachment.storage_name)
            clear_name = content.decrypt_filename(attachment, key=old_key, marking=old_marking)
            name = storage.new_name(dispatch.pk)
            encrypt = dispatch.needs_encryption
            storage.write(
                name,
                data,
                data_key=content.plain_key(dispatch) if encrypt else None,
                aad=content.attachment_aad(name, new_marking) if encrypt else None,
            )
            written.append(name)
            old_names.append(attachment.storage_name)
            attachment.storage_name = name
            attachment.encrypted = encrypt
            attachment.sha256, attachment.hash_keyed = content.file_digest(data, protected=encrypt)
            content.store_filename(attachment, dispatch, clear_name, marking=new_marking)
            attachment.save(
                update_fields=[
                    "storage_name", "encrypted", "filename_clear", "filename_ciphertext", "sha256", "hash_keyed"
                ]
            )
    except BaseException:
        _delete_files(written)
        raise
    transaction.on_commit(lambda: _delete_files(old_names))
    return written


def _delete_files(names: list[str]) -> None:
    for name in names:
        storage.delete(name)


# --- attachments -------------------------------------------------------------------------


@transaction.atomic
def add_attachment(
    *, actor: User, dispatch: Dispatch | int, filename: str, source: bytes | IO[bytes] | Any
) -> Attachment:
    """Check an upload (size, type by content and name, zip bombs, file name) and attach
    it to a draft as the next *PJ* number. Encrypted at rest with the dispatch's data key
    when the dispatch is protected. A refused upload leaves no file behind."""
    current = _visible(actor, dispatch)
    if current.direction == Direction.INCOMING:
        policy.require(actor, "register", current.sending_unit)
    else:
        policy.require(actor, "edit", current.sending_unit)
    if current.status not in (DispatchStatus.DRAFT, DispatchStatus.VALIDATED):
        raise InvalidState(_("Attachments of a sent dispatch cannot change."))
    checked = check_upload(filename=filename, source=source)
    attachment = _store_attachment(current, actor, checked.filename, checked.content_type, checked.data)
    record_event(
        action="correspondence.attachment_added",
        actor=actor,
        target=current,
        details={"position": attachment.position, "size": attachment.size, "sha256": attachment.sha256},
    )
    return attachment


def _store_attachment(
    dispatch: Dispatch, actor: User | None, filename: str, content_type: str, data: bytes
) -> Attachment:
    position = (Attachment.objects.of_dispatch(dispatch).aggregate(n=Max("position"))["n"] or 0) + 1
    name = storage.new_name(dispatch.pk)
    encrypt = dispatch.needs_encryption
    if encrypt and dispatch.data_key_id is None:
        # A protected dispatch always has its data key from creation; this is a safety net.
        content.store_fields(
            dispatch, subject=content.read_field(dispatch, "subject"), body=content.read_field(dispatch, "body")
        )
        dispatch.save(update_fields=["subject", "body", "subject_ciphertext", "body_ciphertext", "data_key"])
    marking = content.current_marking_text(dispatch)
    storage.write(
        name,
        data,
        data_key=content.plain_key(dispatch) if encrypt else None,
        aad=content.attachment_aad(name, marking) if encrypt else None,
    )
    try:
        attachment = Attachment(
            dispatch=dispatch,
            position=position,
            content_type=content_type,
            size=len(data),
            storage_name=name,
            encrypted=encrypt,
            uploaded_by=actor,
        )
        attachment.sha256, attachment.hash_keyed = content.file_digest(data, protected=encrypt)
        content.store_filename(attachment, dispatch, filename, marking=marking)
        attachment.save(force_insert=True)
        return attachment
    except BaseException:
        storage.delete(name)
        raise


@transaction.atomic
def remove_attachment(*, actor: User, dispatch: Dispatch | int, position: int) -> None:
    """Remove *PJ* `position` from a draft; later attachments move up one number."""
    current = _visible(actor, dispatch)
    policy.require(actor, "edit", current.sending_unit)
    if current.status not in (DispatchStatus.DRAFT, DispatchStatus.VALIDATED):
        raise InvalidState(_("Attachments of a sent dispatch cannot change."))
    attachment = Attachment.objects.of_dispatch(current).filter(position=position).first()
    if attachment is None:
        raise Http404("no such attachment")
    name = attachment.storage_name
    attachment.delete()
    for later in Attachment.objects.of_dispatch(current).filter(position__gt=position).order_by("position"):
        # The position is bound to an encrypted name: re-store it under the new number.
        clear_name = content.read_filename(later, current)
        later.position -= 1
        content.store_filename(later, current, clear_name)
        later.save(update_fields=["position", "filename_clear", "filename_ciphertext"])
    transaction.on_commit(lambda: storage.delete(name))
    record_event(
        action="correspondence.attachment_removed", actor=actor, target=current, details={"position": position}
    )


# --- validation and sending --------------------------------------------------------------


def _check_ready(dispatch: Dispatch) -> None:
    errors: dict[str, list[str]] = {}
    if not content.read_field(dispatch, "subject").strip():
        errors["subject"] = [_("The subject is required.")]
    if not Routing.objects.of_dispatch(dispatch).exists():
        errors["routings"] = [_("Route the dispatch to at least one unit.")]
    _raise(errors)


@transaction.atomic
def validate_dispatch(*, actor: User, dispatch: Dispatch | int) -> Dispatch:
    """The head of the sending unit (VALIDATE_DISPATCH) approves a draft for sending."""
    current = _visible(actor, dispatch)
    policy.require(actor, "validate", current.sending_unit)
    if current.status == DispatchStatus.VALIDATED:
        return current
    if current.status != DispatchStatus.DRAFT:
        raise InvalidState(_("Only a draft can be validated."))
    _check_ready(current)
    current.status = DispatchStatus.VALIDATED
    current.validated_by = actor
    current.validated_at = timezone.now()
    current.version = current.version + 1
    current.save(update_fields=["status", "validated_by", "validated_at", "version", "updated_at"])
    record_event(action="correspondence.validated", actor=actor, target=current)
    return current


def _release(dispatch: Dispatch, actor: User, *, now: Any) -> None:
    """Number, sign and freeze (caller holds the row lock inside a transaction)."""
    year = now.astimezone(timezone.get_current_timezone()).year if timezone.is_aware(now) else now.year
    number, reference = allocate_number(unit=dispatch.sending_unit, year=year)
    dispatch.year = year
    dispatch.number = number
    dispatch.reference = reference
    dispatch.status = DispatchStatus.SENT
    dispatch.sent_by = actor
    dispatch.sent_at = now
    if dispatch.direction != Direction.INCOMING:
        dispatch.dated = timezone.localdate(now) if timezone.is_aware(now) else now.date()
    sign_dispatch(dispatch)
    dispatch.save()
    # The inbox's order key, in the same transaction (see `Routing.sent_at`).
    Routing.objects.of_dispatch(dispatch).update(sent_at=dispatch.sent_at)


@transaction.atomic
def send_dispatch(*, actor: User, dispatch: Dispatch | int) -> Dispatch:
    """Send a draft or validated dispatch (VALIDATE_DISPATCH in the sending unit).

    Assigns the next reference of the sending unit for the year, signs the canonical
    content and attachment hashes with the unit's Ed25519 key, and freezes it.
    Idempotent: sending a dispatch already sent returns it unchanged (one number, even
    for a double submission). A reply being sent marks the routing it answers.
    """
    current = _visible(actor, dispatch)
    if current.status in RELEASED_STATUSES:
        return current
    policy.require(actor, "send", current.sending_unit)
    if current.status == DispatchStatus.SUBMITTED:
        raise InvalidState(_("This draft is in its validation circuit: it is sent by the last visa."))
    _check_ready(current)
    if current.status == DispatchStatus.DRAFT:
        current.validated_by = actor
        current.validated_at = timezone.now()
    return finish_sending(actor=actor, dispatch=current)


def finish_sending(*, actor: User, dispatch: Dispatch) -> Dispatch:
    """Number, sign and release a dispatch the caller has checked and locked (the send
    action above, or the last visa of a validation circuit)."""
    current = dispatch
    current.version = current.version + 1
    _release(current, actor, now=timezone.now())
    if current.in_reply_to_id is not None:
        answered = Routing.objects.unrestricted(
            "the sender's own routing of the dispatch it answers: the reply was read through the gate"
        ).filter(
            dispatch_id=current.in_reply_to_id,
            unit=current.sending_unit,
            kind=RoutingKind.ACTION,
            status__in=[RoutingStatus.PENDING, RoutingStatus.ACKNOWLEDGED, RoutingStatus.ASSIGNED],
        )
        for routing in answered:
            routing.status = RoutingStatus.ANSWERED
            routing.answer = current
            routing.answered_at = current.sent_at
            if routing.acknowledged_at is None:
                routing.acknowledged_at = current.sent_at
                routing.acknowledged_by = actor
            routing.save()
            _on_commit_send(signals.routing_changed, sender=Routing, routing=routing, actor=actor, action="answered")
    record_event(
        action="correspondence.sent",
        actor=actor,
        target=current,
        details={"reference": current.reference, "signing_key": current.signing_key_id, "hash": current.content_hash},
    )
    _on_commit_send(signals.dispatch_sent, sender=Dispatch, dispatch=current, actor=actor)
    return current


@transaction.atomic
def register_incoming(
    *,
    actor: User,
    unit: Unit,
    sender_name: str,
    subject: str,
    body: str = "",
    external_reference: str = "",
    dated: date | None = None,
    place: str = "",
    kind: str = DispatchKind.LETTER,
    classification: int = Level.UNCLASSIFIED,
    compartments: Iterable[str] = (),
    transmission: str = Transmission.CLEAR,
    routings: Iterable[RoutingSpec | dict[str, Any]] = (),
    cites: Iterable[Dispatch | str | int] = (),
    external_references: Iterable[str] = (),
    tags: Iterable[str] = (),
    attachments: Iterable[tuple[str, bytes | IO[bytes] | Any]] = (),
    notify: bool = True,
) -> Dispatch:
    """Register incoming correspondence (REGISTER_INCOMING in `unit`, e.g. the central
    registry): direction incoming, the sender's own reference, routed at once. It gets
    the next reference of `unit`, is signed by `unit`'s key, and is immediately visible
    to its routed units. `attachments` are (file name, bytes or file) pairs. `notify=False`
    registers without telling the routed units (historical correspondence imported in bulk)."""
    policy.require(actor, "register", unit)
    errors: dict[str, list[str]] = {}
    subject = (subject or "").strip()
    if not subject:
        errors.setdefault("subject", []).append(_("The subject is required."))
    elif len(subject) > MAX_SUBJECT:
        errors.setdefault("subject", []).append(_("The subject is too long."))
    if not (sender_name or "").strip():
        errors.setdefault("sender_name", []).append(_("The sender is required."))
    external_references = [str(ref) for ref in external_references]
    for name, value in (("sender_name", sender_name), ("external_reference", external_reference),
                        ("place", place), *(("external_references", ref) for ref in external_references)):
        if has_bidi_controls(value):
            errors.setdefault(name, []).append(bidi_message())
    if kind not in DispatchKind.values:
        errors.setdefault("kind", []).append(_("Unknown kind."))
    if transmission not in Transmission.values:
        errors.setdefault("transmission", []).append(_("Unknown transmission."))
    level, comps = _clean_marking(actor, classification, compartments, errors)
    clean_routings = _clean_routings(routings, errors)
    if not clean_routings and "routings" not in errors:
        errors["routings"] = [_("Route the dispatch to at least one unit.")]
    cited = _clean_cites(actor, cites, errors)
    clean_tags = _clean_tags(tags, errors)
    checked = []
    for filename, source in attachments:
        try:
            checked.append(check_upload(filename=filename, source=source))
        except ValidationError as exc:
            for message in exc.message_dict.get("file", exc.messages):
                errors.setdefault("attachments", []).append(message)
    _raise(errors)

    dispatch = Dispatch.objects.create(
        direction=Direction.INCOMING,
        kind=kind,
        sending_unit=unit,
        author=actor,
        classification=level,
        transmission=transmission,
        external_reference=(external_reference or "").strip()[:200],
        sender_name=sender_name.strip()[:300],
        dated=dated or timezone.localdate(),
        validated_by=actor,
        validated_at=timezone.now(),
    )
    if comps:
        dispatch.compartments.set(comps)
    content.store_fields(dispatch, subject=subject, body=content.sanitise_body(body))
    content.store_meta(dispatch, place=place, tags=clean_tags)
    _set_routings(dispatch, clean_routings)
    _set_citations(dispatch, cited, external_references)
    for upload in checked:
        _store_attachment(dispatch, actor, upload.filename, upload.content_type, upload.data)
    _release(dispatch, actor, now=timezone.now())
    record_event(
        action="correspondence.registered",
        actor=actor,
        target=dispatch,
        details={"reference": dispatch.reference, "unit": unit.code, "classification": level, "notified": notify},
    )
    if notify:
        _on_commit_send(signals.dispatch_sent, sender=Dispatch, dispatch=dispatch, actor=actor)
    return dispatch


# --- handling routed dispatches ----------------------------------------------------------


def _routing(dispatch: Dispatch, unit: Unit | str) -> Routing:
    unit_obj = unit if isinstance(unit, Unit) else _unit_by_code(str(unit))
    if unit_obj is None:
        raise Http404("no such unit")
    routing = (
        Routing.objects.of_dispatch(dispatch)
        .select_for_update(of=("self",))
        .select_related("unit")
        .filter(unit=unit_obj)
        .first()
    )
    if routing is None:
        raise Http404("this dispatch is not routed to this unit")
    return routing


def _released(dispatch: Dispatch) -> None:
    if dispatch.status not in RELEASED_STATUSES:
        raise InvalidState(_("This dispatch has not been sent."))


def _member_of(actor: User, unit: Unit) -> bool:
    return any(m.unit_id == unit.pk for m in actor.active_memberships())


def _default_handling_unit(actor: User, dispatch: Dispatch, kinds: Sequence[str]) -> Unit:
    mine = {m.unit_id for m in actor.active_memberships()}
    for routing in Routing.objects.of_dispatch(dispatch).filter(kind__in=kinds).select_related("unit"):
        if routing.unit_id in mine:
            return routing.unit
    raise Http404("this dispatch is not routed to any of your units")


@transaction.atomic
def acknowledge(*, actor: User, dispatch: Dispatch | int, unit: Unit | str | None = None) -> Routing:
    """Acknowledge receipt for `unit` (HANDLE_ATTRIBUTION there). For an information
    copy this marks it read. Repeating it changes nothing."""
    current = _visible(actor, dispatch)
    _released(current)
    unit = unit or _default_handling_unit(actor, current, [RoutingKind.ACTION, RoutingKind.INFO])
    routing = _routing(current, unit)
    if routing.kind == RoutingKind.INFO:
        return _mark_read(actor, current, routing)
    policy.require(actor, "acknowledge", routing.unit)
    if routing.status != RoutingStatus.PENDING:
        return routing
    return _advance(routing, actor=actor, dispatch=current, status=RoutingStatus.ACKNOWLEDGED, stamp="acknowledged",
                    action="acknowledged", event="correspondence.acknowledged")


@transaction.atomic
def assign(*, actor: User, dispatch: Dispatch | int, unit: Unit | str, assignee: User) -> Routing:
    """Assign the attribution of `unit` to one of its agents (HANDLE_ATTRIBUTION there);
    acknowledges it if that was not done yet. The assignee must see the dispatch."""
    current = _visible(actor, dispatch)
    _released(current)
    routing = _routing(current, unit)
    if routing.kind != RoutingKind.ACTION:
        raise InvalidState(_("An information copy is not assigned."))
    policy.require(actor, "assign", routing.unit)
    if routing.status in (RoutingStatus.ANSWERED, RoutingStatus.CLOSED):
        raise InvalidState(_("This attribution is already answered or closed."))
    if not Membership.objects.active().filter(user=assignee, unit=routing.unit).exists() or not assignee.is_active:
        raise ValidationError({"assignee": [_("The agent must belong to %(unit)s.") % {"unit": routing.unit.code}]})
    if not Dispatch.objects.visible_to(assignee).filter(pk=current.pk).exists():
        raise ValidationError({"assignee": [_("This agent's clearance does not allow reading this dispatch.")]})
    now = timezone.now()
    if routing.acknowledged_at is None:
        routing.acknowledged_by = actor
        routing.acknowledged_at = now
    routing.status = RoutingStatus.ASSIGNED
    routing.assigned_to = assignee
    routing.assigned_at = now
    routing.save()
    record_event(
        action="correspondence.assigned",
        actor=actor,
        target=current,
        details={"unit": routing.unit.code, "assignee": assignee.get_username()},
    )
    _on_commit_send(signals.routing_assigned, sender=Routing, routing=routing, actor=actor)
    return routing


@transaction.atomic
def reply(
    *,
    actor: User,
    dispatch: Dispatch | int,
    unit: Unit | None = None,
    subject: str | None = None,
    body: str = "",
    classification: int | None = None,
    compartments: Iterable[str] | None = None,
    transmission: str | None = None,
    routings: Iterable[RoutingSpec | dict[str, Any]] | None = None,
    kind: str | None = None,
    tags: Iterable[str] | None = None,
) -> Dispatch:
    """A new draft answering `dispatch`, from `unit` (default: the actor's unit the
    dispatch is routed to). It cites the original, inherits at least its marking (no
    write down: a lower one is a field error), its transmission and tags, and is routed
    for action to the original's sending unit unless other routings are given. When
    sent, it marks the routing of its unit as answered."""
    original = _visible(actor, dispatch, lock=False)
    _released(original)
    if unit is None:
        unit = _default_handling_unit(actor, original, [RoutingKind.ACTION, RoutingKind.INFO])
    policy.require(actor, "reply", unit, message=_("You may not write for %(unit)s.") % {"unit": unit.code})
    floor = _floor_of(original)
    level = original.classification if classification is None else classification
    comps = sorted(floor.compartments) if compartments is None else list(compartments)
    if routings is None:
        routings = [] if original.sending_unit_id == unit.pk else [RoutingSpec(unit=original.sending_unit)]
    if subject is None:
        original_subject = content.read_field(original, "subject")
        subject = original_subject if original_subject.lower().startswith("re:") else f"Re: {original_subject}"
    return create_draft(
        actor=actor,
        sending_unit=unit,
        subject=subject[:MAX_SUBJECT],
        body=body,
        kind=kind or (DispatchKind.LETTER if original.direction == Direction.INCOMING else original.kind),
        direction=Direction.OUTGOING,
        classification=level,
        compartments=comps,
        transmission=transmission or original.transmission,
        routings=routings,
        tags=original.tag_list if tags is None else tags,
        in_reply_to=original,
    )


def _mark_read(actor: User, dispatch: Dispatch, routing: Routing) -> Routing:
    if not _member_of(actor, routing.unit):
        raise NotAllowed(_("You may not do this for %(unit)s.") % {"unit": routing.unit.code})
    if routing.status == RoutingStatus.READ:
        return routing
    return _advance(routing, actor=actor, dispatch=dispatch, status=RoutingStatus.READ, stamp="read", action="read",
                    event="correspondence.marked_read")


def _advance(
    routing: Routing, *, actor: User, dispatch: Dispatch, status: str, stamp: str, action: str, event: str
) -> Routing:
    """Move a routing to `status`, stamping `<stamp>_by`/`<stamp>_at`; audited (`event`) and signalled (`action`)."""
    routing.status = status
    setattr(routing, f"{stamp}_by", actor)
    setattr(routing, f"{stamp}_at", timezone.now())
    routing.save(update_fields=["status", f"{stamp}_by", f"{stamp}_at"])
    record_event(action=event, actor=actor, target=dispatch, details={"unit": routing.unit.code})
    _on_commit_send(signals.routing_changed, sender=Routing, routing=routing, actor=actor, action=action)
    return routing


@transaction.atomic
def mark_read(*, actor: User, dispatch: Dispatch | int, unit: Unit | str | None = None) -> Routing:
    """Mark an information copy read for `unit` (any agent of that unit)."""
    current = _visible(actor, dispatch)
    _released(current)
    unit = unit or _default_handling_unit(actor, current, [RoutingKind.INFO])
    routing = _routing(current, unit)
    if routing.kind != RoutingKind.INFO:
        raise InvalidState(_("An attribution is acknowledged, not marked read."))
    return _mark_read(actor, current, routing)


@transaction.atomic
def close_routing(*, actor: User, dispatch: Dispatch | int, unit: Unit | str) -> Routing:
    """Close the attribution of `unit` (HANDLE_ATTRIBUTION there). When every attribution
    of the dispatch is closed, the dispatch itself is closed."""
    current = _visible(actor, dispatch)
    _released(current)
    routing = _routing(current, unit)
    if routing.kind != RoutingKind.ACTION:
        raise InvalidState(_("An information copy is not closed; mark it read."))
    policy.require(actor, "close", routing.unit)
    if routing.status == RoutingStatus.CLOSED:
        return routing
    now = timezone.now()
    if routing.acknowledged_at is None:
        routing.acknowledged_by = actor
        routing.acknowledged_at = now
    routing.status = RoutingStatus.CLOSED
    routing.closed_by = actor
    routing.closed_at = now
    routing.save()
    still_open = (
        Routing.objects.of_dispatch(current)
        .filter(kind=RoutingKind.ACTION)
        .exclude(status=RoutingStatus.CLOSED)
        .exists()
    )
    if not still_open and current.status == DispatchStatus.SENT:
        current.status = DispatchStatus.CLOSED
        current.closed_at = now
        current.save(update_fields=["status", "closed_at", "updated_at"])
    record_event(
        action="correspondence.routing_closed", actor=actor, target=current, details={"unit": routing.unit.code}
    )
    _on_commit_send(signals.routing_changed, sender=Routing, routing=routing, actor=actor, action="closed")
    return routing


# --- marking and access ------------------------------------------------------------------


@transaction.atomic
def change_marking(
    *,
    actor: User,
    dispatch: Dispatch | int,
    classification: int,
    compartments: Iterable[str] = (),
    reason: str,
    declassify_on: date | None = None,
) -> MarkingChange:
    """Downgrade, declassify (or raise) a sent dispatch's marking: DOWNGRADE capability,
    a reason, logged. Content and attachments are re-bound to the new marking, decrypted
    when no longer protected, or encrypted when newly protected. The signature stays
    valid (it covers the marking as sent)."""
    current = _visible(actor, dispatch)
    policy.require(actor, "change_marking", message=_("Changing a marking needs the downgrade right."))
    _released(current)
    errors: dict[str, list[str]] = {}
    if not (reason or "").strip():
        errors["reason"] = [_("Give a reason for the change of marking.")]
    level, comps = _clean_marking(actor, classification, compartments, errors)
    _raise(errors)
    old_codes = content.compartment_codes(current)
    old_marking = marking_text(current.classification, old_codes)
    new_codes = sorted(c.code for c in comps)
    if old_marking == marking_text(level, new_codes):
        raise ValidationError({"classification": [_("The new marking is the same as the current one.")]})
    subject = content.read_field(current, "subject")
    body = content.read_field(current, "body")
    meta = content.read_meta(current)
    was_encrypted = current.is_encrypted
    was_protected = current.needs_encryption
    old_key = content.plain_key(current) if current.data_key_id else None
    external = _external_references(current, key=old_key, marking=old_marking)
    change = MarkingChange(
        dispatch=current,
        from_level=current.classification,
        from_compartments=old_codes,
        to_level=level,
        to_compartments=new_codes,
        declassify_on=declassify_on,
        changed_by=actor,
    )
    current.classification = level
    current.compartments.set(comps)
    current.declassify_on = declassify_on
    if was_encrypted and not current.needs_encryption:
        current.data_key = None
        current._plain_key = None  # type: ignore[attr-defined]
    new_marking = marking_text(level, new_codes)
    if current.is_encrypted and current.needs_encryption and old_key is not None:
        # Same data key: re-bind the ciphertexts to the new marking.
        current.subject_ciphertext = envelope.reencrypt(
            bytes(current.subject_ciphertext or b""),
            old_key,
            content.field_aad(current.pk, "subject", old_marking),
            content.field_aad(current.pk, "subject", new_marking),
        )
        current.body_ciphertext = envelope.reencrypt(
            bytes(current.body_ciphertext or b""),
            old_key,
            content.field_aad(current.pk, "body", old_marking),
            content.field_aad(current.pk, "body", new_marking),
        )
    else:
        content.store_fields(current, subject=subject, body=body, marking=new_marking)
    content.store_meta(current, place=meta.place, tags=meta.tags, marking=new_marking)
    protected = was_protected or current.needs_encryption
    change.store_reason(reason.strip(), protected=protected)
    change.save(force_insert=True)
    written = _restore_attachments(current, old_marking=old_marking, old_key=old_key)
    try:
        _set_citations(current, _cited_dispatches(current), external, marking=new_marking)
        current.save()
        record_event(
            action="correspondence.marking_changed",
            actor=actor,
            target=current,
            details={
                "from": {"level": change.from_level, "compartments": old_codes},
                "to": {"level": level, "compartments": new_codes},
                # a protected dispatch's reason is sealed: the audit log keeps no copy of it
                "reason": "" if protected else change.reason,
                "reason_sealed": protected,
                "declassify_on": declassify_on,
            },
        )
    except BaseException:
        _delete_files(written)
        raise
    return change


@transaction.atomic
def grant_access(
    *, actor: User, dispatch: Dispatch | int, reason: str, user: User | None = None, unit: Unit | None = None
) -> DispatchGrant:
    """An explicit need-to-know grant of a sent dispatch to one agent or one unit, by the
    head of its sending unit or of a unit it is attributed to (VALIDATE_DISPATCH there).
    The gate still checks the grantee's clearance."""
    current = _visible(actor, dispatch)
    _released(current)
    units = [current.sending_unit] + [
        r.unit for r in Routing.objects.of_dispatch(current).filter(kind=RoutingKind.ACTION).select_related("unit")
    ]
    if not policy.holds_in_any(actor, "grant", units):
        raise NotAllowed(_("Only the head of the sending or attributed unit may grant access."))
    errors: dict[str, list[str]] = {}
    if (user is None) == (unit is None):
        errors["__all__"] = [_("Grant access to one agent or to one unit.")]
    if not (reason or "").strip():
        errors["reason"] = [_("Give a reason for the grant.")]
    if user is not None and not user.clearance.dominates(_floor_of(current)):
        errors["user"] = [_("This agent's clearance does not allow reading this dispatch.")]
    _raise(errors)
    grant = DispatchGrant(dispatch=current, user=user, unit=unit, granted_by=actor)
    protected = current.needs_encryption
    grant.store_reason(reason.strip(), protected=protected)
    grant.save(force_insert=True)
    record_event(
        action="correspondence.access_granted",
        actor=actor,
        target=current,
        details={
            "user": user.get_username() if user else None,
            "unit": unit.code if unit else None,
            # a protected dispatch's reason is sealed: the audit log keeps no copy of it
            "reason": "" if protected else grant.reason,
            "reason_sealed": protected,
        },
    )
    return grant


def record_read(
    *, actor: User, dispatch: Dispatch, what: str = "detail", position: int | None = None, request: Any = None
) -> None:
    """Audit a read of protected content (ids only). Called by the detail selector and
    the attachment download for dispatches marked ≥ restricted or sent encrypted."""
    details: dict[str, Any] = {"what": what, "classification": dispatch.classification}
    if position is not None:
        details["attachment"] = position
    record_event(action="correspondence.read", actor=actor, target=dispatch, details=details, request=request)
