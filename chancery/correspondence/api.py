"""API: dispatches (list, detail, create draft, update draft, validate, send, acknowledge,
assign, mark read, close, reply) and their attachments (upload, download).

Handlers are thin: one selector or service call each, so the permission gate is the same
as for the HTML views. Objects out of scope answer 404 (`not_found`); an action the
agent may not take 403 (`forbidden`); a draft changed meanwhile 409 (`version_conflict`,
with `current_version`); an action that does not apply in the current state 409
(`conflict`); invalid data 422 (`invalid`, with per-field `errors`); a file over the size
limit 413 (`too_large`).
"""

from datetime import date, datetime
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import File, Query, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import Field

from chancery.accounts.access import agent
from chancery.core.classification import Level
from chancery.core.downloads import file_download
from chancery.core.keyset import Counted, keyset_list
from chancery.core.models import preload_compartment_codes
from chancery.correspondence import content, selectors, services
from chancery.correspondence.models import Attachment, Dispatch, Routing
from chancery.organisation.models import Unit

router = Router(tags=["correspondence"])

T = TypeVar("T")


# --- schemas -----------------------------------------------------------------------------


class RoutingIn(Schema):
    unit: str = Field(..., description="unit code, e.g. DAB/1")
    kind: str = Field("action", description="`action` (pour attribution) or `info` (pour information)")
    due_date: date | None = None


class DispatchIn(Schema):
    sending_unit: str = Field(..., description="code of the unit the dispatch is written for")
    subject: str
    body: str = Field("", description="HTML; sanitised on the server")
    kind: str = "dispatch"
    direction: str = "outgoing"
    classification: int | str = Field(0, description="level number or key (`restricted`, …)")
    compartments: list[str] = []
    transmission: str = "clear"
    routings: list[RoutingIn] = []
    cites: list[str] = Field([], description="references of earlier dispatches")
    external_references: list[str] = []
    tags: list[str] = []
    declassify_on: date | None = None
    place: str = ""
    classification_reason: str = ""
    classified_from: str = Field("", description="the source the marking derives from")


class DispatchPatch(Schema):
    version: int = Field(..., description="the `version` you loaded; 409 if the draft changed since")
    subject: str | None = None
    body: str | None = None
    kind: str | None = None
    direction: str | None = None
    classification: int | str | None = None
    compartments: list[str] | None = None
    transmission: str | None = None
    routings: list[RoutingIn] | None = None
    cites: list[str] | None = None
    external_references: list[str] | None = None
    tags: list[str] | None = None
    declassify_on: date | None = None
    place: str | None = None
    classification_reason: str | None = None
    classified_from: str | None = None


class UnitIn(Schema):
    unit: str | None = Field(None, description="unit code; default: your unit the dispatch is routed to")


class AssignIn(Schema):
    unit: str
    assignee: str = Field(..., description="user name of an agent of the unit")


class ReplyIn(Schema):
    unit: str | None = None
    subject: str | None = None
    body: str = ""
    classification: int | str | None = None
    compartments: list[str] | None = None
    transmission: str | None = None
    routings: list[RoutingIn] | None = None


class DispatchFilters(Schema):
    direction: str = ""
    unit: str = ""
    status: str = ""
    classification: str = ""
    date_from: date | None = None
    date_to: date | None = None
    tag: str = ""
    q: str = ""


class RoutingOut(Schema):
    unit: str
    kind: str
    due_date: date | None
    status: str
    overdue: bool
    acknowledged_at: datetime | None
    assigned_to: str | None
    answer: int | None
    closed_at: datetime | None
    read_at: datetime | None

    @staticmethod
    def resolve_unit(obj: Routing) -> str:
        return obj.unit.code

    @staticmethod
    def resolve_overdue(obj: Routing) -> bool:
        return obj.is_overdue

    @staticmethod
    def resolve_assigned_to(obj: Routing) -> str | None:
        return obj.assigned_to.get_username() if obj.assigned_to_id and obj.assigned_to else None

    @staticmethod
    def resolve_answer(obj: Routing) -> int | None:
        return obj.answer_id


class AttachmentOut(Schema):
    n: int
    filename: str
    content_type: str
    size: int
    sha256: str

    @staticmethod
    def resolve_n(obj: Attachment) -> int:
        return obj.position


class CitationOut(Schema):
    id: int | None
    reference: str | None
    external_reference: str


class DispatchOut(Schema):
    id: int
    reference: str | None
    direction: str
    kind: str
    status: str
    classification: str
    compartments: list[str]
    transmission: str
    subject: str
    sending_unit: str
    author: str
    dated: date
    sent_at: datetime | None
    tags: list[str]
    in_reply_to: int | None
    external_reference: str
    sender_name: str

    @staticmethod
    def resolve_classification(obj: Dispatch) -> str:
        return Level(obj.classification).key

    @staticmethod
    def resolve_compartments(obj: Dispatch) -> list[str]:
        return obj.compartment_codes()

    @staticmethod
    def resolve_subject(obj: Dispatch) -> str:
        return selectors.dispatch_subject(obj)

    @staticmethod
    def resolve_sending_unit(obj: Dispatch) -> str:
        return obj.sending_unit.code

    @staticmethod
    def resolve_author(obj: Dispatch) -> str:
        return obj.author.get_username()

    @staticmethod
    def resolve_tags(obj: Dispatch) -> list[str]:
        return obj.tag_list

    @staticmethod
    def resolve_in_reply_to(obj: Dispatch) -> int | None:
        return obj.in_reply_to_id


class DispatchDetailOut(DispatchOut):
    version: int
    body: str
    place: str
    declassify_on: date | None
    classification_reason: str
    classified_from: str
    validated_at: datetime | None
    routings: list[RoutingOut]
    attachments: list[AttachmentOut]
    citations: list[CitationOut]
    signing_key: int | None
    content_hash: str

    @staticmethod
    def resolve_place(obj: Dispatch) -> str:
        return obj.place_text

    @staticmethod
    def resolve_body(obj: Dispatch) -> str:
        return selectors.dispatch_body(obj)

    @staticmethod
    def resolve_routings(obj: Dispatch) -> list[Routing]:
        return list(obj.routings.all())

    @staticmethod
    def resolve_attachments(obj: Dispatch) -> list[Attachment]:
        return list(obj.attachments.all())

    @staticmethod
    def resolve_citations(obj: Dispatch) -> list[dict[str, Any]]:
        reader = getattr(obj, "_api_reader", None)
        return [
            {
                "id": c.cited_id,
                "reference": c.cited.reference if c.cited_id and c.cited else None,
                "external_reference": content.read_citation(c, obj),
            }
            for c in selectors.visible_citations(reader, obj)
        ]

    @staticmethod
    def resolve_signing_key(obj: Dispatch) -> int | None:
        return obj.signing_key_id


class InboxItemOut(Schema):
    dispatch: DispatchOut
    routing: RoutingOut

    @staticmethod
    def resolve_dispatch(obj: Routing) -> Dispatch:
        return obj.dispatch

    @staticmethod
    def resolve_routing(obj: Routing) -> Routing:
        return obj


class CountsOut(Schema):
    unacknowledged: int
    overdue: int
    unread: int
    total: int
    more: list[str] = Field(
        [], description="the counts taken only up to 1,000: there are more (the value is 1,000)"
    )

    @staticmethod
    def resolve_more(obj: dict[str, Any]) -> list[str]:
        return sorted(name for name, value in obj.items() if getattr(value, "more", False))


# --- helpers -----------------------------------------------------------------------------


def _detail(request: HttpRequest, pk: int, *, audit: bool = True) -> Dispatch:
    dispatch = selectors.dispatch_detail(agent(request), pk, request=request, audit=audit)
    dispatch._api_reader = request.user  # type: ignore[attr-defined]
    return dispatch


def _classification(value: int | str | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, int) or str(value).isdigit():
        return int(value)
    try:
        return int(Level.from_key(str(value)))
    except ValueError:
        raise ValidationError({"classification": [_("Unknown classification.")]}) from None


def _routings(items: list[RoutingIn] | None) -> list[services.RoutingSpec] | None:
    if items is None:
        return None
    return [services.RoutingSpec(unit=r.unit, kind=r.kind, due_date=r.due_date) for r in items]


def _unit(code: str | None, field: str) -> Unit | None:
    if not code:
        return None
    unit = Unit.objects.unrestricted("lookup of a code given by the client").filter(code=code.strip().upper()).first()
    if unit is None:
        raise ValidationError({field: [_("Unknown unit: %(code)s") % {"code": code[:64]}]})
    return unit


def _result(request: HttpRequest, value: Any, *, status: int = 200, audit: bool = False) -> Any:
    if isinstance(value, HttpResponse):
        return value
    pk = value.pk if isinstance(value, Dispatch) else value.dispatch_id
    detail = _detail(request, pk, audit=audit)
    return Status(status, detail) if status != 200 else detail


# --- dispatches --------------------------------------------------------------------------


@router.get("/dispatches", response=list[DispatchOut])
@keyset_list(DispatchOut, prepare=selectors.prepare_dispatch_api_rows)
def list_dispatches(request: HttpRequest, response: HttpResponse, filters: Query[DispatchFilters]) -> Any:
    """Dispatches you may read, newest first (filters: direction, unit, status,
    classification, date range on the letter date, tag, q)."""
    return selectors.dispatch_api_list(agent(request), filters.dict())


@router.get("/dispatches/{id}", response=DispatchDetailOut)
def get_dispatch(request: HttpRequest, id: int) -> Any:
    """One dispatch, with routings, attachments and the citations you may see (audited
    when protected)."""
    return _detail(request, id)


@router.post("/dispatches", response={201: DispatchDetailOut})
def create_dispatch(request: HttpRequest, payload: DispatchIn) -> Any:
    """Create a draft."""
    sending_unit = _unit(payload.sending_unit, "sending_unit")
    if sending_unit is None:
        raise ValidationError({"sending_unit": [_("The sending unit is required.")]})
    created = services.create_draft(actor=agent(request),
        sending_unit=sending_unit,
        subject=payload.subject,
        body=payload.body,
        kind=payload.kind,
        direction=payload.direction,
        classification=_classification(payload.classification) or 0,
        compartments=payload.compartments,
        transmission=payload.transmission,
        routings=_routings(payload.routings) or [],
        cites=payload.cites,
        external_references=payload.external_references,
        tags=payload.tags,
        declassify_on=payload.declassify_on,
        place=payload.place,
        classification_reason=payload.classification_reason,
        classified_from=payload.classified_from,
    )
    return _result(request, created, status=201)


@router.patch("/dispatches/{id}", response=DispatchDetailOut)
def update_dispatch(request: HttpRequest, id: int, payload: DispatchPatch) -> Any:
    """Update a draft; pass the `version` you loaded (409 `version_conflict` otherwise)."""
    changes = payload.dict(exclude_unset=True)
    version = changes.pop("version")
    if "classification" in changes:
        changes["classification"] = _classification(changes["classification"])
    if "routings" in changes:
        changes["routings"] = _routings(payload.routings) or []
    for key in ("compartments", "cites", "external_references", "tags"):
        if key in changes and changes[key] is None:
            changes[key] = []
    updated = services.update_draft(actor=agent(request), dispatch=id, expected_version=version, **changes
    )
    return _result(request, updated)


@router.post("/dispatches/{id}/validate", response=DispatchDetailOut)
def validate_dispatch(request: HttpRequest, id: int) -> Any:
    """Validate a draft (head of the sending unit)."""
    return _result(request, services.validate_dispatch(actor=agent(request), dispatch=id))


@router.post("/dispatches/{id}/send", response=DispatchDetailOut)
def send_dispatch(request: HttpRequest, id: int) -> Any:
    """Number, sign and send (head of the sending unit). Sending twice returns the
    dispatch as sent the first time."""
    return _result(request, services.send_dispatch(actor=agent(request), dispatch=id))


@router.post("/dispatches/{id}/acknowledge", response=RoutingOut)
def acknowledge_dispatch(request: HttpRequest, id: int, payload: UnitIn | None = None) -> Any:
    """Acknowledge receipt for your unit (`unit`: which one, if several)."""
    unit = payload.unit if payload else None
    return services.acknowledge(actor=agent(request), dispatch=id, unit=unit)


@router.post("/dispatches/{id}/assign", response=RoutingOut)
def assign_dispatch(request: HttpRequest, id: int, payload: AssignIn) -> Any:
    """Assign the attribution of `unit` to one of its agents."""
    from chancery.accounts.models import User

    assignee = User.objects.visible_to(request.user).filter(username=payload.assignee).first()
    if assignee is None:
        raise ValidationError({"assignee": [_("Unknown agent.")]})
    return services.assign(actor=agent(request), dispatch=id, unit=payload.unit, assignee=assignee)


@router.post("/dispatches/{id}/read", response=RoutingOut)
def mark_dispatch_read(request: HttpRequest, id: int, payload: UnitIn | None = None) -> Any:
    """Mark an information copy read for your unit."""
    unit = payload.unit if payload else None
    return services.mark_read(actor=agent(request), dispatch=id, unit=unit)


@router.post("/dispatches/{id}/close", response=RoutingOut)
def close_dispatch_routing(request: HttpRequest, id: int, payload: UnitIn) -> Any:
    """Close the attribution of `unit`."""
    return services.close_routing(actor=agent(request), dispatch=id, unit=payload.unit or "")


@router.post("/dispatches/{id}/reply", response={201: DispatchDetailOut})
def reply_to_dispatch(request: HttpRequest, id: int, payload: ReplyIn | None = None) -> Any:
    """Create a draft answering the dispatch (cites it; at least its marking)."""
    payload = payload or ReplyIn()
    created = services.reply(actor=agent(request),
        dispatch=id,
        unit=_unit(payload.unit, "unit"),
        subject=payload.subject,
        body=payload.body,
        classification=_classification(payload.classification),
        compartments=payload.compartments,
        transmission=payload.transmission,
        routings=_routings(payload.routings),
    )
    return _result(request, created, status=201)


# --- attachments -------------------------------------------------------------------------


@router.post("/dispatches/{id}/attachments", response={201: AttachmentOut})
def upload_attachment(request: HttpRequest, id: int, file: File[UploadedFile]) -> Any:
    """Attach a file to a draft (multipart field `file`)."""
    try:
        attachment = services.add_attachment(actor=agent(request), dispatch=id, filename=file.name or "", source=file)
    except ValidationError as exc:
        errors = getattr(exc, "error_dict", {}).get("file", [])
        if any(getattr(e, "code", "") == "too_large" for e in errors):
            from chancery.api import error_response

            return error_response(request, 413, "too_large", str(errors[0].messages[0]))
        raise
    return Status(201, attachment)


@router.get("/dispatches/{id}/attachments/{n}", response={200: None})
def download_attachment(request: HttpRequest, id: int, n: int) -> HttpResponse:
    """The file of attachment `n` (1-based), decrypted for readers; audited when protected."""
    attachment, data = selectors.attachment_content(agent(request), id, n, request=request)
    return file_download(data, filename=attachment.filename, content_type=attachment.content_type)


# --- inbox -------------------------------------------------------------------------------


@router.get("/inbox", response=list[InboxItemOut])
@keyset_list(InboxItemOut, prepare=lambda rows: preload_compartment_codes([r.dispatch for r in rows]))
def list_inbox(
    request: HttpRequest, response: HttpResponse, unit: str = "", status: str = "", overdue_only: bool = False
) -> Any:
    """Routings to your units (overdue first)."""
    user, args = agent(request), (unit or None, status or None, overdue_only)
    rows = selectors.inbox_api_rows(selectors.inbox(user, *args))
    return Counted(rows=rows, counted=selectors.inbox_counted(user, *args))


@router.get("/inbox/counts", response=CountsOut)
def inbox_counts(request: HttpRequest) -> Any:
    """Unacknowledged attributions, overdue attributions and unread copies."""
    return selectors.inbox_counts(agent(request))


def _mount_working_day() -> None:
    # The working day's endpoints (circuits, notes, package, review, absences) live in their own module.
    from chancery.correspondence.workday_api import router as workday_router

    router.add_router("/", workday_router)


_mount_working_day()
