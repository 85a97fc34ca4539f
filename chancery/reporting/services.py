"""Writes of reporting: synthesis narratives, freezing, sending as a dispatch, report jobs,
and the audit of exports. Keyword-only, typed; every act re-asks `can` before it writes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from chancery.accounts.models import User
from chancery.accounts.roles import Capability
from chancery.audit.services import record_event
from chancery.organisation.models import Unit, UnitFunction
from chancery.planning.models import Axis, Programme, ProgrammeStatus
from chancery.reporting import synthesis as synth
from chancery.reporting.models import JobKind, JobStatus, ReportJob, Synthesis, SynthesisStatus

MAX_NARRATIVE = 20_000
SYNTHESIS_ROUTING_DAYS = 30


class InvalidState(ValidationError):
    def __init__(self, message: str) -> None:
        super().__init__(message, code="invalid_state")


class Conflict(Exception):
    """The synthesis changed since the caller read it."""


# --------------------------------------------------------------------------- policy


def can_view(user: User, programme: Programme) -> bool:
    return bool(programme.pk) and Programme.objects.visible_to(user).filter(pk=programme.pk).exists()


def can(user: User, action: str, programme: Programme, synthesis: Synthesis | None = None) -> bool:
    """`edit` the narratives (mission staff proposing the plan), `freeze` and `send` (the
    head of mission), for a programme the user may read; never once frozen for `edit`."""
    if not can_view(user, programme):
        return False
    frozen = synthesis is not None and synthesis.is_frozen
    if action == "edit":
        return not frozen and bool(user.has_capability(Capability.PROPOSE_PROGRAMME, unit=programme.mission))
    if action == "freeze":
        return not frozen and bool(user.has_capability(Capability.SUBMIT_PROGRAMME, unit=programme.mission))
    if action == "send":
        return (
            frozen
            and synthesis is not None
            and synthesis.dispatch_id is None
            and bool(user.has_capability(Capability.VALIDATE_DISPATCH, unit=programme.mission))
        )
    return False


def permissions(user: User, programme: Programme, synthesis: Synthesis | None) -> dict[str, bool]:
    return {action: can(user, action, programme, synthesis) for action in ("edit", "freeze", "send")}


def check_synthesisable(programme: Programme) -> None:
    """A programme still being drafted or reviewed has nothing executed to synthesise."""
    if programme.status == ProgrammeStatus.DRAFT:
        raise InvalidState(_("This programme is still a draft: a synthesis reports on an approved programme."))
    if programme.status == ProgrammeStatus.SUBMITTED:
        raise InvalidState(_("This programme is awaiting approval: a synthesis reports on an approved programme."))


def _require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied(_("You may not do this on this synthesis."))


# --------------------------------------------------------------------------- synthesis


def _locked_synthesis(programme: Programme, user: User) -> Synthesis:
    """The one synthesis of the programme, created on first need, row-locked. The programme
    row is locked first, so two agents creating it at once get the same row."""
    Programme.objects.unrestricted("lock of a programme read through the gate").select_for_update().get(pk=programme.pk)
    found = (
        Synthesis.objects.unrestricted("the caller checked the programme")
        .select_for_update()
        .filter(programme=programme)
    )
    existing = found.first()
    if existing is not None:
        return existing
    return Synthesis.objects.create(programme=programme, created_by=user)


@transaction.atomic
def save_narratives(
    *, user: User, programme: Programme, narratives: dict[int, str], expected_version: int | None = None
) -> Synthesis:
    """Replace the narrative of each given volet (axis id → text) of a draft synthesis."""
    check_synthesisable(programme)
    current = _locked_synthesis(programme, user)
    _require(can(user, "edit", programme, current))
    if expected_version is not None and expected_version != current.lock_version:
        raise Conflict(
            _("This synthesis was changed by someone else meanwhile; reload it and apply your changes again.")
        )
    axis_ids = set(Axis.objects.visible_to(user).filter(programme=programme).values_list("pk", flat=True))
    errors: dict[str, list[str]] = {}
    for axis_id, text in narratives.items():
        if axis_id not in axis_ids:
            errors.setdefault("narratives", []).append(_("Unknown volet."))
        elif len(text) > MAX_NARRATIVE:
            errors.setdefault(f"narrative_{axis_id}", []).append(_("This narrative is too long."))
    if errors:
        raise ValidationError(errors)
    stored = synth.read_content(current)
    merged = dict(stored["narratives"])
    merged.update({str(k): v.strip() for k, v in narratives.items()})
    synth.write_content(current, narratives=merged, snapshot=None)
    current.lock_version += 1
    current.save()
    record_event(action="reporting.narratives_saved", actor=user, target=current, details={"volets": len(narratives)})
    return current


@transaction.atomic
def freeze(*, user: User, programme: Programme) -> Synthesis:
    """Take the snapshot and freeze the synthesis (idempotent: a frozen one is returned as is)."""
    check_synthesisable(programme)
    current = _locked_synthesis(programme, user)
    if current.is_frozen:
        return current
    _require(can(user, "freeze", programme, current))
    snapshot = synth.build_snapshot(user, programme)
    stored = synth.read_content(current)
    synth.write_content(current, narratives=stored["narratives"], snapshot=snapshot)
    current.classification = snapshot["marking"]["level"]
    current.compartment_codes = snapshot["marking"]["compartments"]
    current.status = SynthesisStatus.FROZEN
    current.frozen_by = user
    current.frozen_at = timezone.now()
    current.lock_version += 1
    current.save()
    record_event(
        action="reporting.synthesis_frozen",
        actor=user,
        target=current,
        details={"programme": programme.pk, "classification": current.classification},
    )
    return current


def planning_unit() -> Unit | None:
    return (
        Unit.objects.unrestricted("the units directory is open to every agent")
        .filter(function=UnitFunction.PLANNING, is_active=True)
        .order_by("path")
        .first()
    )


@transaction.atomic
def send(*, user: User, programme: Programme, language: str = "fr") -> Any:
    """Send the frozen synthesis to headquarters as an ordinary dispatch: drafted by the
    mission, routed *pour attribution* to the planning division, marked as the synthesis,
    the PDF attached, then numbered and signed by the correspondence services."""
    from django.utils import translation

    from chancery.correspondence import services as correspondence
    from chancery.reporting import renderers

    current = _locked_synthesis(programme, user)
    if current.dispatch_id is not None:
        raise InvalidState(_("This synthesis was already sent."))
    if not current.is_frozen:
        raise InvalidState(_("Freeze the synthesis before sending it."))
    _require(can(user, "send", programme, current))
    division = planning_unit()
    if division is None:
        raise InvalidState(_("No planning division is configured to receive the synthesis."))
    with translation.override(language):
        report = synth.report_for(user, programme, language=language)
        pdf = renderers.render_pdf([report])
        p = report.snapshot["programme"]
        subject = _("Execution synthesis %(year)s — %(mission)s") % {"year": p["year"], "mission": p["mission_name"]}
        body = (
            "<p>"
            + _("Please find attached the execution synthesis of the programme for %(year)s.") % {"year": p["year"]}
            + "</p>"
        )
        filename = renderers.filename_for(report, "pdf")
    marking = report.marking
    draft = correspondence.create_draft(
        actor=user,
        sending_unit=programme.mission,
        subject=subject,
        body=body,
        classification=marking.level,
        compartments=sorted(marking.compartments),
        routings=[
            correspondence.RoutingSpec(
                unit=division, due_date=timezone.localdate() + timedelta(days=SYNTHESIS_ROUTING_DAYS)
            )
        ],
        cites=[d["id"] for d in report.dispatches],
        place=programme.mission.city,
    )
    correspondence.add_attachment(actor=user, dispatch=draft, filename=filename, source=pdf)
    sent = correspondence.send_dispatch(actor=user, dispatch=draft)
    current.dispatch = sent
    current.lock_version += 1
    current.save(update_fields=["dispatch", "lock_version", "updated_at"])
    record_event(
        action="reporting.synthesis_sent",
        actor=user,
        target=current,
        details={"dispatch": sent.pk, "reference": sent.reference},
    )
    return sent


# --------------------------------------------------------------------------- jobs


def start_job(*, user: User, kind: str, output_format: str, parameters: dict[str, Any]) -> ReportJob:
    """Queue a background generation (its task runs on commit)."""
    from chancery.reporting import tasks

    if kind not in JobKind.values:
        raise ValidationError({"kind": [_("Unknown report kind.")]})
    job = ReportJob.objects.create(owner=user, kind=kind, output_format=output_format, parameters=parameters)
    record_event(action="reporting.job_started", actor=user, target=job, details={"kind": kind, **parameters})
    transaction.on_commit(lambda: _enqueue(tasks, job))
    return job


def _enqueue(tasks: Any, job: ReportJob) -> None:
    result = tasks.generate_report.enqueue(job.pk)
    ReportJob.objects.unrestricted("the job just created").filter(pk=job.pk).update(task_id=str(result.id))


def retry_job(*, user: User, job: ReportJob) -> ReportJob:
    """A failed job (its worker died or it raised) is queued again as a new job."""
    if job.status != JobStatus.FAILED:
        raise InvalidState(_("Only a failed report can be generated again."))
    with transaction.atomic():
        return start_job(user=user, kind=job.kind, output_format=job.output_format, parameters=dict(job.parameters))


def record_export(*, user: User, table: str, output_format: str, rows: int, filters: dict[str, Any]) -> None:
    """Every export of a dashboard table is audited (who, which table, how many rows)."""
    record_event(
        action="reporting.exported",
        actor=user,
        object_type="reporting.table",
        object_id=table,
        details={"format": output_format, "rows": rows, "filters": filters},
    )
