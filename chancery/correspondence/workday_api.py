"""API of the registry's working day: validation circuits, history, internal notes, the
signature check and the signed package, the declassification review queue, reply templates
and absences. Same gate and error mapping as `correspondence.api` (mounted under it)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, cast

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field

from chancery.accounts import absences as absence_services
from chancery.accounts.access import agent
from chancery.accounts.models import Absence, User
from chancery.core.downloads import file_download
from chancery.core.models import preload_compartment_codes
from chancery.correspondence import circuits, history, notes, packages, review, selectors
from chancery.correspondence.api import DispatchDetailOut, DispatchOut, _classification, _detail, _result
from chancery.correspondence.workday_policy import can_export_package, can_review_declassification
from chancery.organisation.models import Unit

router = Router(tags=["working day"])


def _me(request: HttpRequest) -> User:
    """The signed-in agent (the login middleware and the API's token auth guarantee one)."""
    return cast(User, request.user)


# --- schemas -----------------------------------------------------------------------------


class StepOut(Schema):
    round: int
    position: int
    kind: str
    unit: str
    assignee: str | None
    status: str
    started_at: datetime | None
    acted_by: str | None
    on_behalf_of: str | None
    acted_at: datetime | None
    opinion: str
    comment: str

    @staticmethod
    def resolve_unit(obj: Any) -> str:
        return str(obj.unit.code)

    @staticmethod
    def resolve_assignee(obj: Any) -> str | None:
        return obj.assignee.get_username() if obj.assignee else None

    @staticmethod
    def resolve_acted_by(obj: Any) -> str | None:
        return obj.acted_by.get_username() if obj.acted_by else None

    @staticmethod
    def resolve_on_behalf_of(obj: Any) -> str | None:
        return obj.on_behalf_of.get_username() if obj.on_behalf_of else None


class SubmitIn(Schema):
    opinions: list[str] = Field([], description="codes of the units whose opinion is requested")
    extra_visas: list[str] = Field([], description="user names of agents whose visa is added")


class CommentIn(Schema):
    comment: str = ""


class OpinionIn(Schema):
    opinion: str = Field(..., description="`favourable`, `reserved` or `unfavourable`")
    comment: str = ""


class HistoryOut(Schema):
    at: datetime
    label: str
    actor: str
    unit: str
    on_behalf_of: str
    extra: str


class NoteIn(Schema):
    text: str


class NoteOut(Schema):
    id: int
    unit: str
    author: str
    created_at: datetime
    text: str

    @staticmethod
    def resolve_unit(obj: Any) -> str:
        return str(obj.unit.code)

    @staticmethod
    def resolve_author(obj: Any) -> str:
        return str(obj.author.get_username())


class SignatureOut(Schema):
    valid: bool
    reason: str
    unit: str
    key_id: int | None
    fingerprint: str


class ReviewIn(Schema):
    decision: str = Field(..., description="`confirm`, `postpone` or `refuse`")
    reason: str
    classification: int | str = Field(0, description="when confirming: the new level (number or key)")
    compartments: list[str] = []
    postpone_to: date | None = None


class ReviewOut(Schema):
    id: int
    decision: str
    reason: str
    due_on: date
    postponed_to: date | None


class TemplateOut(Schema):
    id: int
    unit: str
    name: str
    body: str

    @staticmethod
    def resolve_unit(obj: Any) -> str:
        return str(obj.unit.code)


class AbsenceIn(Schema):
    agent: str | None = Field(None, description="user name; default: yourself")
    deputy: str
    start_date: date
    end_date: date
    reason: str = ""


class AbsenceOut(Schema):
    id: int
    agent: str
    deputy: str
    start_date: date
    end_date: date
    reason: str
    cancelled: bool

    @staticmethod
    def resolve_agent(obj: Any) -> str:
        return str(obj.user.get_username())

    @staticmethod
    def resolve_deputy(obj: Any) -> str:
        return str(obj.deputy.get_username())

    @staticmethod
    def resolve_cancelled(obj: Any) -> bool:
        return obj.cancelled_at is not None


# --- circuit -----------------------------------------------------------------------------


def _units(codes: list[str], field: str) -> list[Unit]:
    found = []
    for code in codes:
        unit = (
            Unit.objects.unrestricted("codes given by the client")
            .filter(code=code.strip().upper(), is_active=True)
            .first()
        )
        if unit is None:
            raise ValidationError({field: [_("Unknown unit: %(code)s") % {"code": code[:64]}]})
        found.append(unit)
    return found


def _users(names: list[str], field: str) -> list[User]:
    found = []
    for name in names:
        user = User.objects.unrestricted("user names given by the client").filter(username=name.strip()).first()
        if user is None:
            raise ValidationError({field: [_("Unknown agent.")]})
        found.append(user)
    return found


@router.get("/dispatches/{id}/circuit", response=list[StepOut])
def circuit_of_dispatch(request: HttpRequest, id: int) -> Any:
    """The validation circuit of the latest submission (steps in order, remarks included)."""
    dispatch = _detail(request, id, audit=False)
    return circuits.circuit_steps(dispatch) if history.saw_draft(agent(request), dispatch) else []


@router.post("/dispatches/{id}/submit", response=DispatchDetailOut)
def submit_dispatch(request: HttpRequest, id: int, payload: SubmitIn | None = None) -> Any:
    """Submit a draft for validation along its unit's circuit, with optional opinions and visas."""
    payload = payload or SubmitIn(opinions=[], extra_visas=[])
    dispatch = _detail(request, id, audit=False)
    circuits.submit(
        actor=_me(request),
        dispatch=dispatch,
        opinions=_units(payload.opinions, "opinions"),
        extra_visas=_users(payload.extra_visas, "extra_visas"),
    )
    return _result(request, dispatch)


@router.post("/dispatches/{id}/approve", response=DispatchDetailOut)
def approve_dispatch(request: HttpRequest, id: int, payload: CommentIn | None = None) -> Any:
    """Give your visa; the last visa signs and sends."""
    comment = payload.comment if payload else ""
    return _result(request, circuits.approve(actor=_me(request), dispatch=id, comment=comment))


@router.post("/dispatches/{id}/return", response=DispatchDetailOut)
def return_dispatch(request: HttpRequest, id: int, payload: CommentIn) -> Any:
    """Return the draft to its drafter with a remark (required)."""
    return _result(request, circuits.return_draft(actor=_me(request), dispatch=id, comment=payload.comment))


@router.post("/dispatches/{id}/opinion", response=DispatchDetailOut)
def give_opinion(request: HttpRequest, id: int, payload: OpinionIn) -> Any:
    """Give your unit's opinion (a remark is required unless favourable)."""
    return _result(
        request,
        circuits.give_opinion(
            actor=_me(request),
            dispatch=id,
            opinion=payload.opinion,
            comment=payload.comment,
        ),
    )


@router.post("/dispatches/{id}/withdraw", response=DispatchDetailOut)
def withdraw_dispatch(request: HttpRequest, id: int) -> Any:
    """Take a submitted draft back (drafter or head of unit)."""
    return _result(request, circuits.withdraw(actor=_me(request), dispatch=id))


# --- history, notes, signature, package --------------------------------------------------


@router.get("/dispatches/{id}/history", response=list[HistoryOut])
def history_of_dispatch(request: HttpRequest, id: int) -> Any:
    """What happened to the dispatch, as far as you may see it."""
    return history.history(agent(request), _detail(request, id, audit=False))


@router.get("/dispatches/{id}/notes", response=list[NoteOut])
def list_notes(request: HttpRequest, id: int) -> Any:
    """Your units' internal notes on the dispatch."""
    return notes.notes_for(agent(request), _detail(request, id, audit=False))


@router.post("/dispatches/{id}/notes", response={201: NoteOut})
def add_note(request: HttpRequest, id: int, payload: NoteIn) -> Any:
    dispatch = _detail(request, id, audit=False)
    note = notes.add_note(actor=_me(request), dispatch=dispatch, text=payload.text)
    note.text = payload.text.strip()  # type: ignore[attr-defined]
    return Status(201, note)


@router.get("/dispatches/{id}/signature", response=SignatureOut)
def check_signature(request: HttpRequest, id: int) -> Any:
    """Verify the signature: valid or not, the signing unit, its key and fingerprint."""
    dispatch = _detail(request, id, audit=False)
    if not dispatch.is_sent:
        raise HttpError(409, _("This dispatch has not been sent."))
    return packages.signature_report(dispatch)


@router.get("/dispatches/{id}/package", response={200: None})
def download_package(request: HttpRequest, id: int) -> HttpResponse:
    """The signed package (zip); see `docs/signed-packages.md`."""
    dispatch = _detail(request, id, audit=False)
    if not can_export_package(agent(request), dispatch):
        raise HttpError(409, _("This dispatch has not been sent."))
    data = packages.export_package(dispatch=dispatch, actor=_me(request), request=request)
    return file_download(data, filename=packages.package_filename(dispatch), content_type="application/zip")


# --- review ------------------------------------------------------------------------------


@router.get("/review-queue", response=list[DispatchOut])
def review_queue(request: HttpRequest) -> Any:
    """Security officers: dispatches due for declassification review."""
    if not can_review_declassification(agent(request)):
        raise HttpError(403, _("Reviewing markings needs the downgrade right."))
    # what `DispatchOut` reads of each row: its author joined, its compartment codes in one query
    rows = list(review.review_queue(agent(request)).select_related("author")[:500])
    preload_compartment_codes(rows)
    return rows


@router.post("/dispatches/{id}/review", response=ReviewOut)
def decide_review(request: HttpRequest, id: int, payload: ReviewIn) -> Any:
    dispatch = _detail(request, id, audit=False)
    return review.decide(
        actor=_me(request),
        dispatch=dispatch,
        decision=payload.decision,
        reason=payload.reason,
        classification=_classification(payload.classification) or 0,
        compartments=payload.compartments,
        postpone_to=payload.postpone_to,
    )


# --- templates and absences --------------------------------------------------------------


@router.get("/reply-templates", response=list[TemplateOut])
def reply_templates(request: HttpRequest) -> Any:
    """The reply templates of the units you write for."""
    return notes.templates_for(selectors.drafting_units(agent(request)))


@router.get("/absences", response=list[AbsenceOut])
def list_absences(request: HttpRequest) -> Any:
    """Your absences and those you stand in for (not cancelled, not over)."""
    from django.db.models import Q
    from django.utils import timezone

    return list(
        Absence.objects.filter(
            Q(user_id=request.user.pk) | Q(deputy_id=request.user.pk),
            cancelled_at__isnull=True,
            end_date__gte=timezone.localdate(),
        ).select_related("user", "deputy")
    )


@router.post("/absences", response={201: AbsenceOut})
def create_absence(request: HttpRequest, payload: AbsenceIn) -> Any:
    """Set an absence with a deputy (for yourself, or an agent of a unit you head)."""
    agent = _users([payload.agent], "agent")[0] if payload.agent else _me(request)
    deputy = _users([payload.deputy], "deputy")[0]
    try:
        absence = absence_services.set_absence(
            actor=_me(request),
            agent=agent,
            deputy=deputy,
            start_date=payload.start_date,
            end_date=payload.end_date,
            reason=payload.reason,
        )
    except PermissionDenied as exc:
        raise HttpError(403, str(exc)) from exc
    return Status(201, absence)


@router.post("/absences/{absence_id}/cancel", response=AbsenceOut)
def cancel_absence(request: HttpRequest, absence_id: int) -> Any:
    absence = Absence.objects.select_related("user", "deputy").filter(pk=absence_id).first()
    if absence is None or not absence_services.may_manage_absence(_me(request), absence.user):
        raise Http404("not found")
    return absence_services.cancel_absence(actor=_me(request), absence=absence)


# --- unit workflow -----------------------------------------------------------------------


class WorkflowOut(Schema):
    unit: str
    second_visa_level: int | None
    allow_extra_steps: bool
    remind_days_before: int
    remind_days_after: int
    escalate_days_after: int

    @staticmethod
    def resolve_unit(obj: Any) -> str:
        return str(obj.unit.code)


class WorkflowIn(Schema):
    unit: str
    second_visa_level: int | None = None
    allow_extra_steps: bool = True
    remind_days_before: int = 2
    remind_days_after: int = 1
    escalate_days_after: int = 5


@router.get("/unit-workflow", response=WorkflowOut)
def get_unit_workflow(request: HttpRequest, unit: str) -> Any:
    """A unit's default validation circuit and reminder delays (defaults when never set)."""
    found = _units([unit], "unit")[0]
    return circuits.workflow_of(found)


@router.put("/unit-workflow", response=WorkflowOut)
def put_unit_workflow(request: HttpRequest, payload: WorkflowIn) -> Any:
    """Set them (head of the unit)."""
    found = _units([payload.unit], "unit")[0]
    values = payload.dict(exclude={"unit"})
    return notes.save_workflow(actor=_me(request), unit=found, **values)
