"""Importing letters into records: preview, correct, confirm (all or nothing).

- `preview_letter` reads an uploaded file, extracts its fields (`imports.extraction`), matches the
  unit names to the ministry's units and keeps the file, encrypted, in a `previewed`
  `LetterImport` until the agent confirms. Nothing else is saved.
- `confirm_import` applies the agent's corrections and saves, in one transaction: the incoming
  dispatch (through `correspondence.services.register_incoming`: routed to the matched units,
  its cited references, the original file attached, the announced attachments listed in the
  body), and, when the letter carries an action plan, the draft programme (one axis per
  *volet* with its text as narrative, candidate objectives, candidate indicators with
  baseline and target) through the planning services; then marks the import `imported`.
- `import_letter` does both at once without corrections (the CLI and bulk runs): only units
  matched without guessing are routed; a file that cannot be imported leaves a `failed` row
  with its reason and nothing else.

A file whose content hash was already imported is never imported again (`skipped`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from chancery.accounts.roles import Capability
from chancery.audit.services import record_event
from chancery.core.classification import Level, Marking
from chancery.crypto import envelope
from chancery.crypto.services import new_data_key, unwrap
from chancery.imports.extraction import (
    DEFAULT_MAX_BYTES,
    ExtractionError,
    LetterExtraction,
    extract_letter,
)
from chancery.imports.matching import UnitDirectory, UnitMatch
from chancery.imports.models import ImportBatch, ImportStatus, LetterImport
from chancery.organisation.models import Unit, UnitFunction

logger = logging.getLogger(__name__)

MAX_LETTER_BYTES = int(getattr(settings, "CHANCERY_MAX_LETTER_BYTES", DEFAULT_MAX_BYTES))
IMPORT_TAG = "IMPORT"
UnmatchedPolicy = Literal["fail", "registry"]

CORRECTABLE = frozenset(
    {
        "subject",
        "body",
        "place",
        "dated",
        "external_reference",
        "sender_name",
        "mission",
        "kind",
        "classification",
        "transmission",
        "attribution",
        "information",
        "cites",
        "attachments",
        "create_programme",
        "programme_year",
        "programme_end_year",
    }
)


class ImportFailed(Exception):
    """A letter that cannot be imported: `code` is stable, the message is for people."""

    def __init__(self, code: str, message: str, *, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.errors = errors or {}


# --- plans ------------------------------------------------------------------------------


@dataclass
class IndicatorPlan:
    label: str
    unit: str
    axis: str | None
    baseline_value: Decimal | None = None
    baseline_year: int | None = None
    target_value: Decimal | None = None
    target_year: int | None = None


@dataclass
class AxisPlan:
    key: str
    heading: str
    narrative: str


@dataclass
class ProgrammePlan:
    year: int | None
    end_year: int | None
    title: str
    axes: list[AxisPlan] = field(default_factory=list)
    objectives: list[tuple[str, str]] = field(default_factory=list)  # (axis key, sentence)
    indicators: list[IndicatorPlan] = field(default_factory=list)


@dataclass
class RoutingLine:
    kind: Literal["action", "info"]
    match: UnitMatch


@dataclass
class LetterPlan:
    """What confirming will save (the extracted values, then the agent's corrections)."""

    subject: str
    body: str
    observations: str
    place: str
    dated: dt.date | None
    external_reference: str
    sender_name: str
    mission: Unit | None
    kind: str
    classification: int
    transmission: str
    attribution: list[Unit]
    information: list[Unit]
    cites: list[str]
    attachments: list[str]
    programme: ProgrammePlan | None
    create_programme: bool


@dataclass
class LetterPreview:
    filename: str
    content_hash: str
    size: int
    extraction: LetterExtraction
    routing: list[RoutingLine]
    mission: UnitMatch
    plan: LetterPlan
    letter_import: LetterImport | None = None
    duplicate: LetterImport | None = None
    programme_obstacle: str | None = None  # why no draft programme would be created
    blocking: str | None = None  # why this letter cannot be registered by this agent


@dataclass
class ImportResult:
    filename: str
    status: str  # imported / skipped / failed / previewed
    letter_import: LetterImport | None = None
    dispatch: Any = None
    programme: Any = None
    warnings: list[str] = field(default_factory=list)
    error_code: str = ""
    message: str = ""
    content_hash: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.filename,
            "status": self.status,
            "dispatch": getattr(self.dispatch, "reference", None),
            "dispatch_id": getattr(self.dispatch, "pk", None),
            "programme_id": getattr(self.programme, "pk", None),
            "warnings": list(self.warnings),
            "error": {"code": self.error_code, "message": self.message} if self.status == "failed" else None,
            "sha256": self.content_hash,
        }


# --- small helpers -------------------------------------------------------------------------


def language() -> str:
    return (translation.get_language() or "en")[:2]


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def registry_units(actor: Any) -> list[Unit]:
    """Units in which `actor` registers incoming correspondence (registry first)."""
    units = list(actor.units_with(Capability.REGISTER_INCOMING))
    return sorted(units, key=lambda u: (u.function != UnitFunction.REGISTRY, u.code))


def registry_unit_for(actor: Any, code: str | None = None) -> Unit:
    units = registry_units(actor)
    if code:
        for unit in units:
            if unit.code == code.strip().upper():
                return unit
        message = _("You may not register incoming correspondence for %(unit)s.") % {"unit": code}
        raise ImportFailed("not_allowed", message)
    if not units:
        raise ImportFailed("not_allowed", _("You may not register incoming correspondence."))
    return units[0]


def imported_with_hash(digest: str, *, actor: Any) -> LetterImport | None:
    """The earlier import of this file whose dispatch `actor` may read, if any.

    Only within what the importer may see: "already imported" about a letter they may not
    read would confirm that a document exists. A file imported by someone else out of the
    importer's scope is imported again, as if it were new (each import is its own dispatch).
    """
    from chancery.correspondence.models import Dispatch

    imported = LetterImport.objects.unrestricted("duplicate check by content hash, within the actor's scope").filter(
        content_hash=digest, status=ImportStatus.IMPORTED
    )
    readable = Dispatch.objects.visible_to(actor).filter(pk__in=imported.values("dispatch_id")).values("pk")
    return imported.filter(dispatch_id__in=readable).select_related("dispatch").first()


def _level(key: str | None) -> int:
    return int(Level.from_key(key)) if key else int(Level.UNCLASSIFIED)


def _clip(text: str, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# --- extraction → plan ---------------------------------------------------------------------


def _indicator_plans(extraction: LetterExtraction) -> list[IndicatorPlan]:
    """Pairs each baseline with the next target of the same unit (and axis) into one indicator."""
    programme = extraction.programme
    if programme is None:
        return []
    plans: list[IndicatorPlan] = []
    for item in programme.indicators:
        label = _clip(item.text, 200) or item.unit
        if item.role == "baseline":
            plans.append(IndicatorPlan(label, item.unit[:60], item.axis, item.value, item.year))
            continue
        open_baseline = next(
            (
                p
                for p in reversed(plans)
                if p.unit == item.unit[:60] and p.axis == item.axis and p.target_value is None
                and p.baseline_value is not None
            ),
            None,
        )
        if open_baseline is not None:
            open_baseline.target_value, open_baseline.target_year = item.value, item.year
        else:
            plans.append(
                IndicatorPlan(label, item.unit[:60], item.axis, target_value=item.value, target_year=item.year)
            )
    return plans


def _programme_plan(extraction: LetterExtraction) -> ProgrammePlan | None:
    programme = extraction.programme
    if programme is None:
        return None
    axes: dict[str, AxisPlan] = {}
    for axis in programme.axes:  # one axis per volet; a volet written twice is merged
        if axis.key in axes:
            axes[axis.key].narrative = f"{axes[axis.key].narrative}\n\n{axis.text}".strip()
        else:
            axes[axis.key] = AxisPlan(axis.key, axis.heading, axis.text)
    first_axis = next(iter(axes), None)
    objectives = [
        (objective.axis or first_axis, objective.text)
        for objective in programme.objectives
        if (objective.axis or first_axis) is not None
    ]
    return ProgrammePlan(
        year=programme.year,
        end_year=programme.end_year,
        title=_clip(extraction.dispatch.subject or "", 300),
        axes=list(axes.values()),
        objectives=[(str(key), text) for key, text in objectives],
        indicators=_indicator_plans(extraction),
    )


def analyse(extraction: LetterExtraction, directory: UnitDirectory) -> tuple[list[RoutingLine], UnitMatch, LetterPlan]:
    """Unit matches and the default plan (only what was matched without guessing)."""
    letter = extraction.dispatch
    routing = [RoutingLine("action", directory.match(text)) for text in letter.attribution]
    routing += [RoutingLine("info", directory.match(text)) for text in letter.information]
    mission = directory.match_mission(reference=letter.reference, place=letter.place)
    attribution: list[Unit] = []
    information: list[Unit] = []
    for line in routing:
        if line.match.resolved and line.match.unit is not None:
            target = attribution if line.kind == "action" else information
            if all(u.pk != line.match.unit.pk for u in attribution + information):
                target.append(line.match.unit)
    mission_unit = mission.unit if mission.resolved else None
    sender = mission_unit.name if mission_unit is not None else (letter.place or "")
    programme = _programme_plan(extraction)
    plan = LetterPlan(
        subject=letter.subject or "",
        body=extraction.body or "",
        observations=extraction.observations or "",
        place=letter.place or "",
        dated=letter.date,
        external_reference=letter.reference or "",
        sender_name=sender,
        mission=mission_unit,
        kind="letter",
        classification=_level(letter.classification),
        transmission=letter.transmission or "clear",
        attribution=attribution,
        information=information,
        cites=list(letter.cites),
        attachments=list(letter.attachments),
        programme=programme,
        create_programme=programme is not None,
    )
    return routing, mission, plan


def _units_from(value: Iterable[Unit | str | int], directory: UnitDirectory, errors: dict[str, list[str]],
                key: str) -> list[Unit]:
    units: list[Unit] = []
    for item in value:
        if isinstance(item, Unit):
            unit: Unit | None = item
        elif isinstance(item, int):
            unit = directory.get_pk(item)
        else:
            if not str(item).strip():
                continue
            unit = directory.get(str(item))
        if unit is None:
            errors.setdefault(key, []).append(_("Unknown unit: %(code)s") % {"code": str(item)[:64]})
        elif all(u.pk != unit.pk for u in units):
            units.append(unit)
    return units


def _as_int(value: Any) -> int | None:
    if value in (None, ""):
        return None
    return int(value)


def apply_corrections(plan: LetterPlan, corrections: Mapping[str, Any], directory: UnitDirectory) -> LetterPlan:
    """The plan with the agent's corrections; raises ImportFailed("invalid") listing bad fields."""
    unknown = set(corrections) - CORRECTABLE
    if unknown:
        raise ValueError(f"unknown corrections: {sorted(unknown)}")
    errors: dict[str, list[str]] = {}
    c = dict(corrections)
    for name in ("subject", "body", "place", "external_reference", "sender_name", "kind", "transmission"):
        if name in c and c[name] is not None:
            setattr(plan, name, str(c[name]).strip() if name != "body" else str(c[name]))
    if "dated" in c:
        value = c["dated"]
        if isinstance(value, str):
            try:
                value = dt.date.fromisoformat(value) if value.strip() else None
            except ValueError:
                errors.setdefault("dated", []).append(_("Enter a valid date."))
                value = plan.dated
        plan.dated = value
    if "classification" in c and c["classification"] is not None:
        value = c["classification"]
        try:
            plan.classification = int(value) if str(value).isdigit() else int(Level.from_key(str(value)))
        except ValueError:
            errors.setdefault("classification", []).append(_("Unknown classification."))
    if "mission" in c:
        value = c["mission"]
        if value in (None, ""):
            plan.mission = None
        else:
            unit = value if isinstance(value, Unit) else directory.get(str(value))
            if unit is None or not unit.is_mission:
                errors.setdefault("mission", []).append(_("Choose a mission."))
            else:
                plan.mission = unit
                if "sender_name" not in c:
                    plan.sender_name = unit.name
    if "attribution" in c and c["attribution"] is not None:
        plan.attribution = _units_from(c["attribution"], directory, errors, "attribution")
    if "information" in c and c["information"] is not None:
        plan.information = _units_from(c["information"], directory, errors, "information")
    action_ids = {u.pk for u in plan.attribution}
    plan.information = [u for u in plan.information if u.pk not in action_ids]
    for name in ("cites", "attachments"):
        if name in c and c[name] is not None:
            value = c[name]
            items = value.splitlines() if isinstance(value, str) else list(value)
            setattr(plan, name, [str(v).strip() for v in items if str(v).strip()])
    if "create_programme" in c and c["create_programme"] is not None:
        plan.create_programme = bool(c["create_programme"]) and plan.programme is not None
    if plan.programme is not None:
        try:
            if c.get("programme_year") not in (None, ""):
                plan.programme.year = _as_int(c["programme_year"])
            if "programme_end_year" in c:
                plan.programme.end_year = _as_int(c["programme_end_year"])
        except (TypeError, ValueError):
            errors.setdefault("programme_year", []).append(_("Enter a year."))
    if errors:
        raise ImportFailed("invalid", _("Some corrections are not valid."), errors=errors)
    return plan


# --- the draft programme -------------------------------------------------------------------


def programme_obstacle(actor: Any, plan: LetterPlan) -> str | None:
    """Why the draft programme of `plan` would not be created (None: it will be)."""
    from chancery.planning import services as planning
    from chancery.planning.models import Programme

    programme = plan.programme
    if programme is None or not plan.create_programme:
        return None
    if plan.mission is None:
        return _("The sending mission is not known: choose it to create the draft programme.")
    if programme.year is None:
        return _("The year of the programme could not be read: enter it to create the draft programme.")
    if not 2000 <= programme.year <= 2100 or (programme.end_year is not None and programme.end_year < programme.year):
        return _("The years of the programme are not valid.")
    existing = Programme.objects.unrestricted("uniqueness check before import")
    if existing.filter(mission=plan.mission, year=programme.year).exists():
        return _("%(mission)s already has a programme for %(year)s: no draft programme is created.") % {
            "mission": plan.mission.code,
            "year": programme.year,
        }
    # The registry that registers the letter opens its draft programme on the mission's behalf.
    if not actor.has_capability(Capability.REGISTER_INCOMING) and not planning.can_create_programme(
        actor, plan.mission
    ):
        return _("You may not create programmes for %(mission)s: the letter is registered without its draft "
                 "programme.") % {"mission": plan.mission.code}
    return None


def _create_programme(actor: Any, plan: LetterPlan, dispatch: Any) -> Any:
    """The draft programme, through the planning services (never writing their tables)."""
    from chancery.planning import services as planning

    programme_plan = plan.programme
    assert programme_plan is not None and plan.mission is not None and programme_plan.year is not None
    indicators: list[dict[str, Any]] = [
        {
            "label": item.label,
            "axis": item.axis,
            "unit": item.unit,
            "baseline_value": item.baseline_value,
            "baseline_year": item.baseline_year,
            "approved_target": item.target_value,
            "target_year": item.target_year,
        }
        for item in programme_plan.indicators
    ]
    summary = _("Draft imported from the incoming letter %(reference)s (sender's reference: %(external)s).") % {
        "reference": dispatch.reference,
        "external": plan.external_reference or "—",
    }
    return planning.create_programme_from_letter(
        user=actor,
        mission=plan.mission,
        year=programme_plan.year,
        end_year=programme_plan.end_year,
        title=programme_plan.title,
        summary=summary,
        classification=plan.classification,
        source_dispatch=dispatch,
        axes=[(axis.key, axis.narrative) for axis in programme_plan.axes],
        objectives=[
            (key, _clip(text, 300), text if len(text) > 300 else "") for key, text in programme_plan.objectives
        ],
        indicators=indicators,
    )


# --- saving --------------------------------------------------------------------------------


def _paragraphs(text: str) -> list[str]:
    blocks = [block.strip() for block in (text or "").split("\n\n")]
    return ["<p>" + "<br>".join(html.escape(line) for line in block.splitlines()) + "</p>" for block in blocks if block]


def body_html(plan: LetterPlan) -> str:
    """The letter's body (observations included, as written) and the announced attachments."""
    parts = _paragraphs(plan.body)
    if plan.observations.strip() and plan.observations.strip() not in plan.body:
        parts += [f"<p><strong>{html.escape(_('Observations'))}</strong></p>", *_paragraphs(plan.observations)]
    if plan.attachments:
        items = "".join(f"<li>{html.escape(name)}</li>" for name in plan.attachments)
        parts.append(f"<p><strong>{html.escape(_('Attachments announced (PJ)'))}</strong></p><ol>{items}</ol>")
    return "\n".join(parts)


def original_attachment(filename: str, data: bytes, extraction: LetterExtraction) -> tuple[str, bytes, str | None]:
    """The original file as the dispatch's attachment, with a note when it had to change.

    The attachment store accepts a fixed list of types: a letter under another name keeps its
    bytes under a `.txt` name (`letter.text.txt`); content it refuses is kept as the text read
    from it, in UTF-8."""
    from chancery.correspondence.uploads import check_upload, sanitise_filename

    name = sanitise_filename(Path(filename or "letter.txt").name) or "letter.txt"
    for candidate in (name, f"{name}.txt"):
        try:
            check_upload(filename=candidate, source=data)
            return candidate, data, None
        except ValidationError:
            continue
    stem = name.rsplit(".", 1)[0] if "." in name else name
    text_name = f"{stem}.txt"
    note = _("The original file was kept as plain text (%(name)s): its format is not accepted as an attachment.") % {
        "name": text_name
    }
    return text_name, extraction.text.encode("utf-8"), note


REFERENCE_LIKE = re.compile(r"^[A-Z][A-Z0-9]*(?:/[A-Z0-9]+)*/\d{4}/\d+$")


def _split_cites(actor: Any, cites: Sequence[str]) -> tuple[list[str], list[str]]:
    """Cited references that name a dispatch the agent can read, and the others (free text)."""
    from chancery.correspondence.models import RELEASED_STATUSES, Dispatch

    wanted = [c for c in cites if c]
    candidates = [c for c in wanted if REFERENCE_LIKE.match(c)]  # e.g. SG/BO/2026/0012
    if not candidates:
        return [], wanted
    known = set(
        Dispatch.objects.visible_to(actor)
        .filter(status__in=RELEASED_STATUSES, reference__in=candidates)
        .values_list("reference", flat=True)
    )
    return [c for c in wanted if c in known], [c for c in wanted if c not in known]


def _validation_message(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return " ".join(f"{name}: {' '.join(str(m) for m in messages)}" for name, messages in exc.message_dict.items())
    return " ".join(str(m) for m in exc.messages)


def _summary(extraction: LetterExtraction, plan: LetterPlan) -> dict[str, Any]:
    """What the extraction found, without any content (safe to keep in clear)."""
    letter = extraction.dispatch
    return {
        "format": extraction.source_format,
        "encoding": extraction.encoding,
        "language": extraction.language,
        "found": sorted(letter.sources),
        "confidence": dict(sorted(letter.confidence.items())),  # numbers only: how sure each reading was
        "problems": [f"{p.field}:{p.code}" for p in extraction.problems],
        "routings": len(plan.attribution) + len(plan.information),
        "programme": None
        if extraction.programme is None
        else {
            "axes": extraction.programme.axis_keys,
            "objectives": len(extraction.programme.objectives),
            "indicators": len(extraction.programme.indicators),
        },
    }


def _save(
    *,
    actor: Any,
    plan: LetterPlan,
    registry_unit: Unit,
    filename: str,
    data: bytes,
    extraction: LetterExtraction,
    stored_files: list[str],
    notify: bool = True,
) -> tuple[Any, Any, list[str]]:
    """Dispatch + programme (the caller holds the transaction). Raises ImportFailed."""
    from chancery.correspondence import services as correspondence
    from chancery.correspondence.models import Attachment

    warnings: list[str] = []
    if not plan.subject.strip():
        raise ImportFailed("invalid", _("The subject is missing."), errors={"subject": [_("The subject is required.")]})
    if not plan.attribution:
        raise ImportFailed(
            "no_attribution",
            _("No unit to route the letter to for action."),
            errors={"attribution": [_("Route the dispatch to at least one unit.")]},
        )
    if not plan.sender_name.strip():
        raise ImportFailed(
            "invalid", _("The sender is not known."), errors={"sender_name": [_("The sender is required.")]}
        )
    if plan.dated is None:
        warnings.append(_("The letter's date could not be read: today's date was used."))
    known, external = _split_cites(actor, plan.cites)
    attachment_name, attachment_data, note = original_attachment(filename, data, extraction)
    if note:
        warnings.append(note)
    obstacle = programme_obstacle(actor, plan)
    routings = [correspondence.RoutingSpec(unit=u, kind="action") for u in plan.attribution]
    routings += [correspondence.RoutingSpec(unit=u, kind="info") for u in plan.information]
    try:
        dispatch = correspondence.register_incoming(
            actor=actor,
            unit=registry_unit,
            sender_name=plan.sender_name[:300],
            subject=plan.subject,
            body=body_html(plan),
            external_reference=plan.external_reference[:200],
            dated=plan.dated,
            place=plan.place[:100],
            kind=plan.kind,
            classification=plan.classification,
            transmission=plan.transmission,
            routings=routings,
            cites=known,
            external_references=external,
            tags=[IMPORT_TAG],
            attachments=[(attachment_name, attachment_data)],
            notify=notify,
        )
    except ValidationError as exc:
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
        raise ImportFailed("invalid", _validation_message(exc), errors=errors) from exc
    except PermissionDenied as exc:
        raise ImportFailed("not_allowed", str(exc) or _("You may not register this letter.")) from exc
    stored_files += list(Attachment.objects.of_dispatch(dispatch).values_list("storage_name", flat=True))
    programme = None
    if plan.programme is not None and plan.create_programme:
        if obstacle:
            warnings.append(obstacle)
        else:
            try:
                programme = _create_programme(actor, plan, dispatch)
            except ValidationError as exc:
                raise ImportFailed("programme_invalid", _validation_message(exc)) from exc
            except PermissionDenied as exc:
                raise ImportFailed("not_allowed", str(exc) or _("You may not create this programme.")) from exc
    return dispatch, programme, warnings


def _delete_files(names: list[str]) -> None:
    from chancery.correspondence import storage

    for name in names:
        try:
            storage.delete(name)
        except OSError:  # pragma: no cover - best effort after a rollback
            logger.warning("could not delete attachment file %s after a rolled-back import", name)


def _record_imported(
    row: LetterImport, *, actor: Any, dispatch: Any, programme: Any, warnings: list[str], summary: dict[str, Any]
) -> LetterImport:
    row.status = ImportStatus.IMPORTED
    row.dispatch = dispatch
    row.programme = programme
    row.notes = warnings
    row.extraction = summary
    row.imported_by = actor
    row.imported_at = timezone.now()
    row.error_code = ""
    row.error_message = ""
    row.pending_ciphertext = None
    row.pending_key = None
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError as exc:
        raise ImportFailed("duplicate", _("This file has already been imported.")) from exc
    record_event(
        action="imports.letter_imported",
        actor=actor,
        target=row,
        details={
            "sha256": row.content_hash,
            "dispatch": dispatch.pk,
            "reference": dispatch.reference,
            "programme": getattr(programme, "pk", None),
        },
    )
    return row


# --- preview and confirmation (the registry's screen) ---------------------------------------


def _pending_aad(digest: str) -> bytes:
    return envelope.associated_data("imports.pending", digest, "pending")


def _pending_bytes(row: LetterImport) -> bytes:
    if row.pending_ciphertext is None or row.pending_key is None:
        raise ImportFailed("expired", _("This preview is no longer available: upload the letter again."))
    key = unwrap(data_key=row.pending_key)
    return envelope.decrypt(bytes(row.pending_ciphertext), key, _pending_aad(row.content_hash))


def _extract(data: bytes, filename: str) -> LetterExtraction:
    try:
        return extract_letter(data, filename, max_bytes=MAX_LETTER_BYTES)
    except ExtractionError as exc:
        raise ImportFailed(exc.code, exc.message(language())) from exc


def _blocking(actor: Any, plan: LetterPlan) -> str | None:
    if not actor.clearance.dominates(Marking.of(plan.classification)):
        return _(
            "This letter is marked %(marking)s, above your clearance: it must be registered by an agent cleared "
            "at that level."
        ) % {"marking": Level(plan.classification).label}
    return None


def _preview(actor: Any, *, data: bytes, filename: str, digest: str, directory: UnitDirectory) -> LetterPreview:
    extraction = _extract(data, filename)
    routing, mission, plan = analyse(extraction, directory)
    preview = LetterPreview(
        filename=filename,
        content_hash=digest,
        size=len(data),
        extraction=extraction,
        routing=routing,
        mission=mission,
        plan=plan,
    )
    preview.programme_obstacle = programme_obstacle(actor, plan)
    preview.blocking = _blocking(actor, plan)
    return preview


@transaction.atomic
def preview_letter(*, actor: Any, data: bytes, filename: str, registry_unit: Unit | None = None) -> LetterPreview:
    """Extract an uploaded letter for the agent to check. Saves only a `previewed` row holding
    the file encrypted; raises ImportFailed when the file cannot be read as a letter.

    A file already imported gives a preview with `duplicate` set and nothing saved.
    """
    unit = registry_unit or registry_unit_for(actor)
    if unit not in registry_units(actor):
        raise ImportFailed("not_allowed", _("You may not register incoming correspondence for %(unit)s.")
                           % {"unit": unit.code})
    if len(data) > MAX_LETTER_BYTES:
        raise ImportFailed("too_large", ExtractionError("too_large", limit=f"{MAX_LETTER_BYTES // (1024 * 1024)} MB")
                           .message(language()))
    digest = content_hash(data)
    discard_stale_previews(actor=actor)
    preview = _preview(actor, data=data, filename=filename, digest=digest, directory=UnitDirectory.load())
    preview.duplicate = imported_with_hash(digest, actor=actor)
    if preview.duplicate is not None or preview.blocking:
        return preview
    key_row, key = new_data_key()
    row = LetterImport(
        content_hash=digest,
        size=len(data),
        status=ImportStatus.PREVIEWED,
        extraction=_summary(preview.extraction, preview.plan),
        pending_ciphertext=envelope.encrypt(data, key, _pending_aad(digest)),
        pending_key=key_row,
        registry_unit=unit,
        imported_by=actor,
    )
    row.store_filename(Path(filename or "letter").name)
    row.save(force_insert=True)
    record_event(action="imports.letter_previewed", actor=actor, target=row, details={"sha256": digest})
    preview.letter_import = row
    return preview


def load_preview(*, actor: Any, letter_import: LetterImport) -> LetterPreview:
    """The preview of a `previewed` import (the file is decrypted and read again)."""
    if letter_import.imported_by_id != actor.pk:
        raise PermissionDenied("not your import")
    data = _pending_bytes(letter_import)
    preview = _preview(
        actor, data=data, filename=letter_import.filename, digest=letter_import.content_hash,
        directory=UnitDirectory.load(),
    )
    preview.letter_import = letter_import
    preview.duplicate = imported_with_hash(letter_import.content_hash, actor=actor)
    return preview


def confirm_import(
    *,
    actor: Any,
    letter_import: LetterImport | int,
    corrections: Mapping[str, Any] | None = None,
    registry_unit: Unit | None = None,
) -> ImportResult:
    """Save a previewed letter with the agent's corrections, all or nothing.

    Raises ImportFailed (code `invalid` with per-field `errors`, `duplicate`, `not_allowed`,
    `expired`, …); on failure nothing is saved and the preview stays available.
    """
    stored: list[str] = []
    saved = False
    pk = letter_import.pk if isinstance(letter_import, LetterImport) else int(letter_import)
    try:
        with transaction.atomic():
            row = (
                LetterImport.objects.unrestricted("confirming the agent's own preview")
                .select_for_update()
                .get(pk=pk)
            )
            if row.imported_by_id != actor.pk:
                raise PermissionDenied("not your import")
            if row.status != ImportStatus.PREVIEWED:
                raise ImportFailed("already_confirmed", _("This letter has already been imported."))
            if imported_with_hash(row.content_hash, actor=actor) is not None:
                raise ImportFailed("duplicate", _("This file has already been imported."))
            unit = registry_unit or row.registry_unit or registry_unit_for(actor)
            if unit not in registry_units(actor):
                raise ImportFailed("not_allowed", _("You may not register incoming correspondence for %(unit)s.")
                                   % {"unit": unit.code})
            data = _pending_bytes(row)
            directory = UnitDirectory.load()
            extraction = _extract(data, row.filename)
            _routing, _mission, plan = analyse(extraction, directory)
            plan = apply_corrections(plan, corrections or {}, directory)
            blocking = _blocking(actor, plan)
            if blocking:
                raise ImportFailed("not_allowed", blocking)
            dispatch, programme, warnings = _save(
                actor=actor, plan=plan, registry_unit=unit, filename=row.filename, data=data,
                extraction=extraction, stored_files=stored,
            )
            row.registry_unit = unit
            _record_imported(
                row, actor=actor, dispatch=dispatch, programme=programme, warnings=warnings,
                summary=_summary(extraction, plan),
            )
            saved = True
    except BaseException:
        if not saved:  # rolled back: the attachment files written meanwhile go too
            _delete_files(stored)
        raise
    return ImportResult(
        filename=row.filename, status="imported", letter_import=row, dispatch=dispatch, programme=programme,
        warnings=warnings, content_hash=row.content_hash,
    )


PREVIEW_LIFETIME = dt.timedelta(days=7)


def discard_stale_previews(*, actor: Any, older_than: dt.timedelta = PREVIEW_LIFETIME) -> int:
    """Forget the agent's previews never confirmed (their encrypted files with them)."""
    stale = LetterImport.objects.unrestricted("the agent's own stale previews").filter(
        imported_by=actor, status=ImportStatus.PREVIEWED, created_at__lt=timezone.now() - older_than
    )
    count, _detail = stale.delete()
    if count:
        record_event(action="imports.previews_expired", actor=actor, details={"count": count})
    return count


@transaction.atomic
def discard_preview(*, actor: Any, letter_import: LetterImport) -> None:
    """Forget a preview (its encrypted file included)."""
    if letter_import.imported_by_id != actor.pk:
        raise PermissionDenied("not your import")
    if letter_import.status == ImportStatus.PREVIEWED:
        record_event(action="imports.preview_discarded", actor=actor, target=letter_import)
        letter_import.delete()


# --- one file without corrections (command line, bulk) ---------------------------------------


def record_failure(
    *, actor: Any, digest: str, filename: str, size: int, code: str, message: str, batch: ImportBatch | None
) -> LetterImport:
    """One `failed` row per (agent, file content): a rerun updates it."""
    with transaction.atomic():
        row = (
            LetterImport.objects.unrestricted("the agent's own failed import")
            .filter(content_hash=digest, status=ImportStatus.FAILED, imported_by=actor)
            .first()
        ) or LetterImport(content_hash=digest, status=ImportStatus.FAILED, imported_by=actor)
        row.store_filename(Path(filename).name)
        row.size = size
        row.error_code = code[:40]
        row.error_message = message[:500]
        row.batch = batch
        row.created_at = timezone.now()
        row.save()
        return row


def import_letter(
    *,
    actor: Any,
    data: bytes,
    filename: str,
    registry_unit: Unit,
    directory: UnitDirectory | None = None,
    batch: ImportBatch | None = None,
    unmatched: UnmatchedPolicy = "fail",
    digest: str | None = None,
    notify: bool = True,
) -> ImportResult:
    """Import one file as extracted (no corrections), in its own transaction.

    Units are routed only when matched without guessing. A name under *Pour attribution* that
    matches no unit fails the file (`unmatched="fail"`) or routes it for action to the registry
    itself, to be routed by hand (`unmatched="registry"`); unmatched copies are left out. Each
    left-out name is reported in the result's warnings. Never raises for a bad file: the
    result says `failed`, with the reason, and a `failed` row records it.
    """
    digest = digest or content_hash(data)
    name = Path(filename).name
    existing = imported_with_hash(digest, actor=actor)
    earlier_failure = LetterImport.objects.unrestricted("the agent's own earlier failure").filter(
        content_hash=digest, status=ImportStatus.FAILED, imported_by=actor
    ).exists()
    if existing is not None:
        return ImportResult(name, "skipped", letter_import=existing, dispatch=existing.dispatch,
                            message=_("already imported"), content_hash=digest)
    directory = directory or UnitDirectory.load()
    stored: list[str] = []
    saved = False
    try:
        if len(data) > MAX_LETTER_BYTES:
            raise ImportFailed("too_large", ExtractionError(
                "too_large", limit=f"{MAX_LETTER_BYTES // (1024 * 1024)} MB").message(language()))
        extraction = _extract(data, filename)
        routing, _mission, plan = analyse(extraction, directory)
        warnings: list[str] = []
        unrouted = [line for line in routing if not line.match.resolved]
        missing_action = [line for line in unrouted if line.kind == "action"]
        if missing_action and unmatched == "fail":
            raise ImportFailed("unmatched_unit", _unmatched_message(missing_action))
        if missing_action:
            plan.attribution = [registry_unit, *[u for u in plan.attribution if u.pk != registry_unit.pk]]
        for line in unrouted:
            warnings.append(_unmatched_message([line]))
        if not plan.attribution:
            raise ImportFailed("no_attribution", _("No unit for action (Pour attribution) was found in the letter."))
        blocking = _blocking(actor, plan)
        if blocking:
            raise ImportFailed("not_allowed", blocking)
        with transaction.atomic():
            dispatch, programme, save_warnings = _save(
                actor=actor, plan=plan, registry_unit=registry_unit, filename=filename, data=data,
                extraction=extraction, stored_files=stored, notify=notify,
            )
            row = LetterImport(content_hash=digest, size=len(data), registry_unit=registry_unit, batch=batch)
            row.store_filename(name)
            _record_imported(
                row, actor=actor, dispatch=dispatch, programme=programme, warnings=warnings + save_warnings,
                summary=_summary(extraction, plan),
            )
            saved = True
        if earlier_failure:
            LetterImport.objects.unrestricted("clearing the agent's earlier failure").filter(
                content_hash=digest, status=ImportStatus.FAILED, imported_by=actor
            ).delete()
        return ImportResult(name, "imported", letter_import=row, dispatch=dispatch, programme=programme,
                            warnings=warnings + save_warnings, content_hash=digest)
    except ImportFailed as exc:
        if not saved:
            _delete_files(stored)
        if exc.code == "duplicate":
            existing = imported_with_hash(digest, actor=actor)
            return ImportResult(name, "skipped", letter_import=existing, dispatch=getattr(existing, "dispatch", None),
                                message=_("already imported"), content_hash=digest)
        row = record_failure(actor=actor, digest=digest, filename=name, size=len(data), code=exc.code,
                              message=exc.message, batch=batch)
        return ImportResult(name, "failed", letter_import=row, error_code=exc.code, message=exc.message,
                            content_hash=digest)
    except BaseException:
        if not saved:
            _delete_files(stored)
        raise


def _unmatched_message(lines: Sequence[RoutingLine]) -> str:
    parts = []
    for line in lines:
        label = _("for action") if line.kind == "action" else _("for information")
        text = _("“%(name)s” (%(kind)s) matches no unit") % {"name": line.match.text, "kind": label}
        if line.match.candidates:
            text += " — " + _("did you mean %(codes)s?") % {
                "codes": ", ".join(c.unit.code for c in line.match.candidates[:3])
            }
        parts.append(text)
    return "; ".join(parts)


def dry_run(*, data: bytes, filename: str, directory: UnitDirectory | None = None) -> LetterPreview:
    """Extraction and matching only; nothing is saved. Raises ImportFailed for a bad file."""
    extraction = _extract(data, filename)
    routing, mission, plan = analyse(extraction, directory or UnitDirectory.load())
    return LetterPreview(filename=Path(filename).name, content_hash=content_hash(data), size=len(data),
                         extraction=extraction, routing=routing, mission=mission, plan=plan)
