"""Background generation of reports (django-tasks, database backend).

The worker is not serving a request, so it re-reads everything through the gate of the
job's owner: a report built in the background contains exactly what its owner would get
on the page. Progress is written to the job row after each step (the page polls it).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django_tasks import task

from chancery.planning.models import Programme, ProgrammeStatus
from chancery.reporting import renderers, sealed
from chancery.reporting import synthesis as synth
from chancery.reporting.models import JobKind, JobStatus, ReportJob

if TYPE_CHECKING:
    from chancery.accounts.models import User

logger = logging.getLogger(__name__)
STALE_AFTER = timedelta(minutes=10)


def _jobs() -> Any:
    return ReportJob.objects.unrestricted("the worker runs a job for its owner")


def _progress(job_id: int, done: int, total: int) -> None:
    _jobs().filter(pk=job_id).update(
        steps_done=done,
        steps_total=total,
        progress=min(99, int(100 * done / total)) if total else 0,
        heartbeat_at=timezone.now(),
    )


def compilation_programmes(user: User, *, year: int, region: str | None) -> Any:
    """Programmes of a compilation: those the user may read for the year, approved or later."""
    qs = (
        Programme.objects.visible_to(user)
        .filter(year=year)
        .exclude(status__in=[ProgrammeStatus.DRAFT, ProgrammeStatus.SUBMITTED])
    )
    if region:
        qs = qs.filter(mission__parent__code=region)
    return qs.select_related("mission").order_by("mission__code")


def build(job: ReportJob, *, on_progress: Any = None) -> tuple[bytes, str, Any]:
    """The file of a job: (content, file name, marking)."""
    user = job.owner
    params = job.parameters
    if job.kind == JobKind.SYNTHESIS:
        programme = Programme.objects.visible_to(user).select_related("mission").get(pk=params["programme"])
        from chancery.reporting.services import check_synthesisable

        check_synthesisable(programme)
        report = synth.report_for(user, programme, language=translation.get_language() or "fr")
        if on_progress:
            on_progress(1, 2)
        return (
            renderers.render(report, job.output_format),
            renderers.filename_for(report, job.output_format),
            report.marking,
        )
    programmes = list(compilation_programmes(user, year=int(params["year"]), region=params.get("region") or None))
    reports = []
    for index, programme in enumerate(programmes):
        reports.append(synth.report_for(user, programme, language=translation.get_language() or "fr"))
        if on_progress:
            on_progress(index + 1, len(programmes) + 1)
    scope = params.get("region") or _("ministry")
    title = _("Compilation of execution syntheses %(year)s — %(scope)s") % {"year": params["year"], "scope": scope}
    name = f"compilation-{scope}-{params['year']}".replace("/", "-")
    if not reports:
        raise ValueError(_("No synthesis to compile: no approved programme in your scope for this year."))
    marking = synth.derive_marking([r.marking for r in reports])
    if job.output_format == "xlsx":
        rows = [
            [
                r.snapshot["programme"]["mission_code"],
                r.snapshot["actions"]["total"],
                *[r.snapshot["actions"][k] for k in ("done", "in_progress", "late", "not_started")],
                len(r.snapshot["indicators"]),
                len(r.snapshot["achievements"]),
                "yes" if r.frozen else "no",
            ]
            for r in reports
        ]
        headers = [
            _("Mission"),
            _("Actions"),
            _("Done"),
            _("In progress"),
            _("Late"),
            _("Not started"),
            _("Indicators"),
            _("Achievements"),
            _("Frozen"),
        ]
        return renderers.workbook([(_("Compilation"), headers, rows)], marking=marking.label()), name + ".xlsx", marking
    return renderers.render_pdf(reports, title=title), name + ".pdf", marking


@task()
def generate_report(job_id: int) -> int:
    job = _jobs().select_related("owner").get(pk=job_id)
    if job.status == JobStatus.DONE:
        return job_id
    _jobs().filter(pk=job_id).update(status=JobStatus.RUNNING, heartbeat_at=timezone.now(), error="")
    language = str(job.parameters.get("language") or "fr")
    try:
        with translation.override(language):
            data, filename, marking = build(job, on_progress=lambda d, t: _progress(job_id, d, t))
            error = ""
    except Exception as exc:  # the job is marked failed (retry offered); the details go to the log
        logger.exception("report job %s failed", job_id)
        message = str(exc) if isinstance(exc, ValueError) else ""
        _jobs().filter(pk=job_id).update(
            status=JobStatus.FAILED,
            error=(message or gettext_noop("The report could not be generated."))[:300],
            finished_at=timezone.now(),
        )
        raise
    with transaction.atomic():
        job = _jobs().select_for_update().get(pk=job_id)
        job.data_key, job.result_ciphertext = sealed.seal(
            kind="report_job", object_id=job.pk, data=data, data_key=job.data_key
        )
        job.filename = filename
        job.classification = marking.level
        job.compartment_codes = sorted(marking.compartments)
        job.status = JobStatus.DONE
        job.progress = 100
        job.steps_done = job.steps_total  # the last step (writing the file) is done too
        job.error = error
        job.finished_at = timezone.now()
        job.save()
        from chancery.notifications.models import Verb
        from chancery.notifications.services import notify

        notify(recipients=[job.owner_id], verb=Verb.OTHER, target=None, url=reverse("reporting:job", args=[job.pk]))
    return job_id


def refresh_status(job: ReportJob) -> ReportJob:
    """A job whose worker died is marked failed (so that a retry is offered): its task
    result failed, or it has shown no sign of life for `STALE_AFTER`."""
    if job.is_finished:
        return job
    died = False
    if job.task_id:
        try:
            result = generate_report.get_result(job.task_id)
            died = result.status == "FAILED"
        except Exception:  # the result row is gone: nothing will run this job any more
            died = True
    last = job.heartbeat_at or job.created_at
    if job.status == JobStatus.RUNNING and timezone.now() - last > STALE_AFTER:
        died = True
    if died:
        _jobs().filter(pk=job.pk, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).update(
            status=JobStatus.FAILED,
            error=gettext_noop("The background worker stopped before the report was finished."),
            finished_at=timezone.now(),
        )
        job.refresh_from_db()
    return job


def read_result(job: ReportJob) -> bytes:
    assert job.result_ciphertext is not None and job.data_key is not None
    return sealed.unseal(kind="report_job", object_id=job.pk, ciphertext=job.result_ciphertext, data_key=job.data_key)
