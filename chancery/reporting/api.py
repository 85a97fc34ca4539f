"""API: dashboards, the synthesis (JSON or file), freezing and sending it, compilations.

Same selectors and services as the pages, hence the same gate. An unknown filter value
answers 400 (`bad_request`) naming it; a programme out of scope 404; a synthesis of a
draft programme 409 (`invalid_state`); a step the role does not allow 403.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import translation
from ninja import Router, Schema, Status
from ninja.errors import HttpError

from chancery.accounts.access import agent
from chancery.core.downloads import file_download
from chancery.core.gate import get_visible_or_404
from chancery.planning import selectors as planning_selectors
from chancery.reporting import renderers, selectors, services, tasks
from chancery.reporting.models import JobKind, ReportJob
from chancery.reporting.responses import job_file_response
from chancery.reporting.synthesis import report_for

router = Router(tags=["reporting"])


def _filters(request: HttpRequest) -> selectors.Filters:
    filters = selectors.parse_filters(request.GET)
    if filters.ignored:
        raise HttpError(400, selectors.ignored_message(filters.ignored))
    return filters


@router.get("/reporting/dashboard", response=dict, summary="Ministry or region dashboard figures")
def dashboard(request: HttpRequest) -> dict[str, Any]:
    """Query: `year`, `region` (code), `volet` (axis key). Figures count only what the caller may see."""
    data = selectors.overview(agent(request), _filters(request))
    return {
        "filters": data["filters"].query(),
        "totals": data["totals"],
        "regions": [
            {
                "region": r["region"].code,
                "programmes": r["programmes"],
                "actions": r["actions"],
                "indicators": r["indicators"],
                "achievements": r["achievements"],
            }
            for r in data["region_rows"]
        ],
        "missions": [
            {
                "mission": r["mission"].code,
                "programme": r["programme"].pk,
                "status": r["programme"].status,
                "actions": r["actions"],
                "indicators": r["indicators"],
                "achievements": r["achievements"],
            }
            for r in data["rows"]
        ],
    }


@router.get("/reporting/correspondence", response=dict, summary="Correspondence dashboard figures")
def correspondence(request: HttpRequest) -> dict[str, Any]:
    data = selectors.correspondence(agent(request), _filters(request))
    return {k: data[k] for k in ("volumes", "month_totals", "total", "response", "response_by_unit", "overdue")} | {
        "filters": data["filters"].query()
    }


@router.get("/reporting/programmes/{programme_id}/dashboard", response=dict, summary="Mission dashboard figures")
def mission(request: HttpRequest, programme_id: int) -> dict[str, Any]:
    programme = planning_selectors.programme_detail(agent(request), programme_id)
    data = selectors.mission_dashboard(agent(request), programme)
    return {
        "programme": programme.pk,
        "totals": data["totals"],
        "axes": [{"axis": a["axis"].axis_type.key, "actions": a["actions"]} for a in data["axes"]],
        "indicators": [
            {
                "id": i.pk,
                "baseline": i.baseline_value,
                "approved_target": i.approved_target,
                "revised_target": i.revised_target,
                "actual": i.actual,
                "gap": i.gap,
                "status": i.status,
            }
            for i in data["indicators"]
        ],
        "indicator_counts": data["indicator_counts"],
        "achievements": data["achievement_total"],
        "awaiting": [{"dispatch": a["routing"].dispatch_id, "age_days": a["age_days"]} for a in data["awaiting"]],
    }


def _synthesisable(request: HttpRequest, programme_id: int) -> Any:
    programme = planning_selectors.programme_detail(agent(request), programme_id)
    try:
        services.check_synthesisable(programme)
    except ValidationError as exc:
        raise HttpError(409, " ".join(exc.messages)) from exc
    return programme


@router.get("/reporting/programmes/{programme_id}/synthesis", response=dict, summary="The synthesis (JSON, or a file)")
def synthesis(request: HttpRequest, programme_id: int, format: str = "json") -> Any:
    """`format`: json (default), pdf, docx or xlsx. The caller gets only the items they may
    read; `partial` says when some were left out."""
    if format != "json" and format not in renderers.FORMATS:
        raise HttpError(400, f"unknown format {format[:20]!r}: json, pdf, docx or xlsx")
    programme = _synthesisable(request, programme_id)
    with translation.override(request.GET.get("language") or translation.get_language() or "fr"):
        report = report_for(agent(request), programme, language=translation.get_language() or "fr")
        if format != "json":
            data = renderers.render(report, format)
            services.record_export(
                user=agent(request),
                table="synthesis",
                output_format=format,
                rows=len(report.indicators),
                filters={"programme": programme.pk, "via": "api"},
            )
            return file_download(
                data, filename=renderers.filename_for(report, format), content_type=renderers.FORMATS[format]
            )
    return {
        "programme": programme.pk,
        "frozen": report.frozen,
        "marking": {"level": report.marking.level, "compartments": sorted(report.marking.compartments)},
        "partial": report.partial,
        "left_out": report.left_out,
        "axes": [
            {"id": a["id"], "key": a["key"], "narrative": a["narrative"], "actions": a["actions"]} for a in report.axes
        ],
        "indicators": [
            {
                k: i[k]
                for k in (
                    "id",
                    "label",
                    "baseline",
                    "approved_target",
                    "revised_target",
                    "actual",
                    "gap",
                    "status",
                    "evidence_url",
                )
            }
            for i in report.indicators
        ],
        "achievements": [
            {
                "id": a["id"],
                "date": a["date"],
                "title": a["title"],
                "url": a["url"],
                "dispatches": [d["reference"] for d in a["dispatches"]],
            }
            for a in report.achievements
        ],
        "budgets": report.snapshot["budgets"],
        "revisions": report.snapshot["revisions"],
        "dispatches": [{"id": d["id"], "reference": d["reference"], "url": d["url"]} for d in report.dispatches],
    }


def _act(request: HttpRequest, programme_id: int, act: Any) -> Any:
    programme = _synthesisable(request, programme_id)
    try:
        return act(programme)
    except PermissionDenied as exc:
        raise HttpError(403, str(exc)) from exc
    except ValidationError as exc:
        raise HttpError(409, " ".join(exc.messages)) from exc


@router.post("/reporting/programmes/{programme_id}/synthesis/freeze", response=dict, summary="Freeze the synthesis")
def freeze(request: HttpRequest, programme_id: int) -> dict[str, Any]:
    done = _act(request, programme_id, lambda p: services.freeze(user=agent(request), programme=p))
    return {
        "programme": programme_id,
        "frozen": True,
        "frozen_at": done.frozen_at,
        "classification": done.classification,
    }


@router.post("/reporting/programmes/{programme_id}/synthesis/send", response=dict, summary="Send it as a dispatch")
def send(request: HttpRequest, programme_id: int) -> dict[str, Any]:
    dispatch = _act(request, programme_id, lambda p: services.send(user=agent(request), programme=p))
    return {"programme": programme_id, "dispatch": dispatch.pk, "reference": dispatch.reference}


class CompilationIn(Schema):
    year: int
    region: str = ""
    format: str = "pdf"
    language: str = "fr"


def _job_out(job: ReportJob) -> dict[str, Any]:
    return {
        "id": job.pk,
        "status": job.status,
        "progress": job.progress,
        "steps_done": job.steps_done,
        "steps_total": job.steps_total,
        "error": job.error,
        "filename": job.filename,
    }


@router.post("/reporting/compilations", response={202: dict}, summary="Compile syntheses in the background")
def compile_syntheses(request: HttpRequest, payload: CompilationIn) -> Status:
    filters = selectors.parse_filters({"year": payload.year, "region": payload.region})
    if filters.ignored:
        raise HttpError(400, selectors.ignored_message(filters.ignored))
    if payload.format not in ("pdf", "xlsx"):
        raise HttpError(400, "format: pdf or xlsx")
    job = services.start_job(
        user=agent(request),
        kind=JobKind.COMPILATION,
        output_format=payload.format,
        parameters={"year": filters.year, "region": payload.region, "language": payload.language[:5]},
    )
    return Status(202, _job_out(job))


def _own_job(request: HttpRequest, job_id: int) -> ReportJob:
    job = get_visible_or_404(ReportJob.objects.all(), request.user, pk=job_id)
    if not job.readable_by(agent(request)):
        raise Http404("not found")
    return job


@router.get("/reporting/jobs/{job_id}", response=dict, summary="A background report's progress")
def job(request: HttpRequest, job_id: int) -> dict[str, Any]:
    return _job_out(tasks.refresh_status(_own_job(request, job_id)))


@router.get("/reporting/jobs/{job_id}/file", summary="A finished background report's file")
def job_file(request: HttpRequest, job_id: int) -> HttpResponse:
    current = _own_job(request, job_id)
    if current.result_ciphertext is None:
        raise HttpError(409, "the report is not ready")
    return job_file_response(user=agent(request), job=current)
