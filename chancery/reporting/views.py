"""Dashboards, drill-down lists, exports, the synthesis and report jobs. Thin views: reads
through `chancery.reporting.selectors` / `synthesis` (the gate), writes through `services`."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.dates import MONTHS_3
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from chancery.accounts.access import agent
from chancery.core.downloads import file_download
from chancery.core.gate import get_visible_or_404
from chancery.planning import selectors as planning_selectors
from chancery.planning.models import Programme
from chancery.reporting import charts, figures, renderers, selectors, services, tasks, texts
from chancery.reporting import synthesis as synth
from chancery.reporting.models import JobKind, ReportJob
from chancery.reporting.responses import job_file_response

EXPORT_FORMATS = ("csv", "xlsx")


# --------------------------------------------------------------------------- helpers


def _filters(request: HttpRequest) -> selectors.Filters:
    filters = selectors.parse_filters(request.GET)
    if filters.ignored:
        messages.warning(request, selectors.ignored_message(filters.ignored))
    return filters


def _export(
    request: HttpRequest, *, table: str, headers: Sequence[Any], rows: Sequence[Sequence[Any]], filters: dict[str, Any]
) -> HttpResponse | None:
    """The table as CSV/XLSX when `?export=` asks for it (audited), else None."""
    output = request.GET.get("export")
    if not output:
        return None
    if output not in EXPORT_FORMATS:
        messages.warning(request, _("Unknown export format: %(value)s.") % {"value": output[:20]})
        return None
    services.record_export(user=agent(request), table=table, output_format=output, rows=len(rows), filters=filters)
    stamp = timezone.localdate().isoformat()
    if output == "xlsx":
        return file_download(
            renderers.workbook([(table, headers, rows)]),
            filename=f"{table}-{stamp}.xlsx",
            content_type=renderers.FORMATS["xlsx"],
        )
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([str(h) for h in headers])
    for row in rows:
        writer.writerow(["" if v is None else renderers.safe_text(v) if isinstance(v, str) else str(v) for v in row])
    return file_download(
        ("\ufeff" + buffer.getvalue()).encode(), filename=f"{table}-{stamp}.csv", content_type="text/csv"
    )


def _sparkline(values: list[float | None]) -> str:
    """A tiny bar per indicator: its attainment (0..100 %+); grey when no data."""
    width, height, bar = 6 * max(len(values), 1), 20, 5
    parts = [
        f'<svg class="sparkline" width="{width}" height="{height}" viewBox="0 0 {width} {height}" aria-hidden="true">'
    ]
    for i, v in enumerate(values):
        if v is None:
            parts.append(f'<rect x="{i * 6}" y="{height - 2}" width="{bar}" height="2" fill="#9e9e9e"/>')
            continue
        h = max(1.0, min(1.0, max(v, 0.0)) * height)
        colour = "#2e7d32" if v >= 1 else ("#f9a825" if v >= 0.75 else "#c62828")
        parts.append(f'<rect x="{i * 6}" y="{height - h:.1f}" width="{bar}" height="{h:.1f}" fill="{colour}"/>')
    parts.append("</svg>")
    return "".join(parts)


def _link(name: str, filters: selectors.Filters, **extra: Any) -> str:
    return _url(name) + "?" + urlencode(filters.query(**extra))


@lru_cache(maxsize=32)
def _url(name: str) -> str:
    # Dashboards build hundreds of drill-down links to the same few views.
    return reverse(name)


SORT_KEYS = {
    "mission": lambda r: r["mission"].code,
    "region": lambda r: r["region"].code if r["region"] else "",
    "done": lambda r: r["actions"]["done_pct"],
    "late": lambda r: r["actions"]["late"],
    "off_track": lambda r: r["indicators"]["off_track"],
    "achievements": lambda r: r["achievements"],
}


# --------------------------------------------------------------------------- dashboards


@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    """The ministry dashboard; with `region=` the region dashboard (same figures, rolled up)."""
    filters = _filters(request)
    data = selectors.overview(agent(request), filters)
    rows = data["rows"]
    sort = request.GET.get("sort", "mission")
    descending = sort.startswith("-")
    key = SORT_KEYS.get(sort.lstrip("-"))
    if key is None:
        sort, descending, key = "mission", False, SORT_KEYS["mission"]
    rows.sort(key=key, reverse=descending)
    figure_headers = [
        _("Actions"),
        *[str(v) for v in figures.ACTION_BUCKETS.values()],
        *[str(v) for v in figures.INDICATOR_STATUSES.values()],
        _("Achievements"),
    ]

    def figure_cells(r: dict[str, Any]) -> list[Any]:
        return [
            r["actions"]["total"],
            *[r["actions"][k] for k in figures.ACTION_BUCKETS],
            *[r["indicators"][k] for k in figures.INDICATOR_STATUSES],
            r["achievements"],
        ]

    if request.GET.get("table") == "regions":
        export = _export(
            request,
            table="regions",
            headers=[_("Region"), _("Programmes"), *figure_headers],
            rows=[[r["region"].code, r["programmes"], *figure_cells(r)] for r in data["region_rows"]],
            filters=filters.query(),
        )
    else:
        export = _export(
            request,
            table="missions",
            headers=[_("Mission"), _("Region"), _("Programme status"), *figure_headers],
            rows=[
                [
                    r["mission"].code,
                    r["region"].code if r["region"] else "",
                    r["programme"].get_status_display(),
                    *figure_cells(r),
                ]
                for r in rows
            ],
            filters=filters.query(),
        )
    if export is not None:
        return export
    for r in rows:
        r["sparkline_svg"] = _sparkline(r["sparkline"])
        r["links"] = (
            {
                b: _link("reporting:records_actions", filters, mission=r["mission"].code, bucket=b)
                for b in figures.ACTION_BUCKETS
            }
            | {
                s: _link("reporting:records_indicators", filters, mission=r["mission"].code, status=s)
                for s in figures.INDICATOR_STATUSES
            }
            | {"achievements": _link("reporting:records_achievements", filters, mission=r["mission"].code)}
        )
    totals = data["totals"]
    chart = {
        "type": "bar",
        "labels": [r["mission"].code for r in rows],
        "stacked": True,
        "datasets": [
            {"label": str(label), "data": [r["actions"][k] for r in rows], "colour": colour}
            for (k, label), colour in zip(
                figures.ACTION_BUCKETS.items(), ["#2e7d32", "#1f77b4", "#c62828", "#9e9e9e"], strict=True
            )
        ],
    }
    status_chart = {
        "type": "doughnut",
        "labels": [str(v) for v in figures.INDICATOR_STATUSES.values()],
        "datasets": [
            {
                "label": _("Indicators"),
                "data": [totals["indicators"][k] for k in figures.INDICATOR_STATUSES],
                "colours": [charts.STATUS_COLOURS[k] for k in figures.INDICATOR_STATUSES],
            }
        ],
    }
    return render(
        request,
        "reporting/overview.html",
        {
            **data,
            "rows": rows,
            "sort": sort.lstrip("-"),
            "descending": descending,
            "regions": selectors.regions(),
            "volets": selectors.volets(),
            "years": _years(),
            "chart": chart,
            "status_chart": status_chart,
            "buckets": figures.ACTION_BUCKETS,
            "statuses": figures.INDICATOR_STATUSES,
            "total_links": {b: _link("reporting:records_actions", filters, bucket=b) for b in figures.ACTION_BUCKETS}
            | {s: _link("reporting:records_indicators", filters, status=s) for s in figures.INDICATOR_STATUSES}
            | {"achievements": _link("reporting:records_achievements", filters)},
            "query": filters.query(),
            "completion_rule": figures.COMPLETION_RULE,
            "status_rule": figures.STATUS_RULE,
            "marking": planning_selectors.page_marking(data["programme_list"]),
        },
    )


def _years() -> list[int]:
    year = timezone.localdate().year
    return list(range(year + 1, year - 6, -1))


@require_GET
def mission(request: HttpRequest, programme_id: int) -> HttpResponse:
    programme = planning_selectors.programme_detail(agent(request), programme_id)
    data = selectors.mission_dashboard(agent(request), programme)
    filters = data["filters"]
    for axis in data["axes"]:
        axis["links"] = {
            b: _link("reporting:records_actions", filters, volet=axis["axis"].axis_type.key, bucket=b)
            for b in figures.ACTION_BUCKETS
        }
    export = _export(
        request,
        table="indicators",
        headers=[
            _("Indicator"),
            _("Unit"),
            _("Baseline"),
            _("Approved target"),
            _("Revised target"),
            _("Actual"),
            _("Gap"),
            _("Status"),
        ],
        rows=[
            [
                i.display_label,
                i.unit,
                i.baseline_value,
                i.approved_target,
                i.revised_target,
                i.actual,
                i.gap,
                str(figures.INDICATOR_STATUSES[i.status]),
            ]
            for i in data["indicators"]
        ],
        filters={"programme": programme.pk},
    )
    if export is not None:
        return export
    completion = {
        "type": "bar",
        "stacked": True,
        "horizontal": True,
        "labels": [a["name"] for a in data["axes"]],
        "datasets": [
            {"label": str(label), "data": [a["actions"][k] for a in data["axes"]], "colour": colour}
            for (k, label), colour in zip(
                figures.ACTION_BUCKETS.items(), ["#2e7d32", "#1f77b4", "#c62828", "#9e9e9e"], strict=True
            )
        ],
    }
    indicator_charts = [
        {
            "id": f"indicator-{i.pk}",
            "indicator": i,
            "status_label": figures.INDICATOR_STATUSES[i.status],
            "chart": {
                "type": "bar",
                "labels": [_("Baseline"), _("Approved target"), _("Revised target"), _("Actual")],
                "datasets": [
                    {
                        "label": i.display_label,
                        "data": [_f(i.baseline_value), _f(i.approved_target), _f(i.revised_target), _f(i.actual)],
                        "colours": ["#9e9e9e", "#1f4e79", "#7fa7d1", charts.STATUS_COLOURS[i.status]],
                    }
                ],
            },
        }
        for i in data["indicators"]
    ]
    budgets = data["totals"]["budgets"]
    return render(
        request,
        "reporting/mission.html",
        {
            **data,
            "completion_chart": completion,
            "indicator_charts": indicator_charts,
            "budgets": budgets,
            "buckets": figures.ACTION_BUCKETS,
            "status_rule": figures.STATUS_RULE,
            "completion_rule": figures.COMPLETION_RULE,
            "title": texts.programme_title(programme),
            "marking": programme.marking if programme.classification else None,
            "today": timezone.localdate(),
        },
    )


def _f(value: Any) -> float | None:
    return None if value is None else float(value)


@require_GET
def correspondence(request: HttpRequest) -> HttpResponse:
    filters = _filters(request)
    data = selectors.correspondence(agent(request), filters)
    table = request.GET.get("table", "volumes")
    months = [str(m) for m in range(1, 13)]
    tables = {
        "volumes": ([_("Unit"), *months, _("Total")], [[r["unit"], *r["months"], r["total"]] for r in data["volumes"]]),
        "response": (
            [_("Unit"), _("Answered"), _("Median (days)"), _("90th percentile (days)")],
            [[r["unit"], r["answered"], round(r["median"], 2), round(r["p90"], 2)] for r in data["response_by_unit"]],
        ),
        "overdue": (
            [_("Unit"), _("Overdue"), _("Open")],
            [[r["unit"], r["overdue"], r["open"]] for r in data["overdue"]],
        ),
    }
    if table in tables:
        export = _export(
            request,
            table=f"correspondence-{table}",
            headers=tables[table][0],
            rows=tables[table][1],
            filters=filters.query(),
        )
        if export is not None:
            return export
    chart = {
        "type": "bar",
        "labels": [str(MONTHS_3[m]).capitalize() for m in range(1, 13)],
        "datasets": [{"label": _("Dispatches sent"), "data": data["month_totals"], "colour": "#1f4e79"}],
    }
    overdue_chart = {
        "type": "bar",
        "horizontal": True,
        "labels": [r["unit"] for r in data["overdue"][:15]],
        "datasets": [
            {
                "label": _("Overdue attributions"),
                "data": [r["overdue"] for r in data["overdue"][:15]],
                "colour": "#c62828",
            }
        ],
    }
    return render(
        request,
        "reporting/correspondence.html",
        {
            **data,
            "chart": chart,
            "overdue_chart": overdue_chart,
            "regions": selectors.regions(),
            "years": _years(),
            "query": filters.query(),
            "months": months,
        },
    )


# --------------------------------------------------------------------------- drill-down


@require_GET
def records(request: HttpRequest, kind: str) -> HttpResponse:
    """The records behind a dashboard figure (same conditions as the figure)."""
    user = agent(request)
    filters = _filters(request)
    today = timezone.localdate()
    bucket = request.GET.get("bucket", "")
    status = request.GET.get("status", "")
    headers: list[Any]
    if kind == "actions":
        qs: Any = selectors.actions(user, filters)
        if bucket:
            if bucket not in figures.ACTION_BUCKETS:
                messages.warning(request, selectors.ignored_message({"bucket": bucket[:40]}))
            else:
                qs = qs.filter(figures.bucket_q(bucket, today))
        items = list(
            qs.select_related("programme__mission", "axis__axis_type", "lead").order_by(
                "programme__mission__code", "target_date", "pk"
            )[:1000]
        )
        headers = [_("Mission"), _("Volet"), _("Action"), _("Status"), _("Target date"), _("Progress %")]
        rows = [
            [
                a.programme.mission.code,
                a.axis.axis_type.name,
                texts.action_title(a),
                a.get_status_display(),
                a.target_date or a.end_date,
                a.progress,
            ]
            for a in items
        ]
        links = [reverse("planning:action_edit", args=[a.programme_id, a.pk]) for a in items]
        programmes = [a.programme for a in items]
    elif kind == "indicators":
        qs = selectors.indicators(user, filters)
        if status:
            if status not in figures.INDICATOR_STATUSES:
                messages.warning(request, selectors.ignored_message({"status": status[:40]}))
            else:
                qs = qs.filter(status=status)
        inds = list(
            qs.select_related("programme__mission").order_by("programme__mission__code", "position", "pk")[:1000]
        )
        headers = [_("Mission"), _("Indicator"), _("Baseline"), _("Target"), _("Actual"), _("Status")]
        rows = [
            [
                i.programme.mission.code,
                texts.indicator_label(i),
                i.baseline_value,
                i.target,
                i.actual,
                str(figures.INDICATOR_STATUSES[i.status]),
            ]
            for i in inds
        ]
        links = [reverse("planning:measurement_create", args=[i.programme_id, i.pk]) for i in inds]
        programmes = [i.programme for i in inds]
    elif kind == "achievements":
        achs = list(
            selectors.achievements(user, filters)
            .select_related("programme__mission")
            .order_by("-date", "pk")[:1000]
        )
        headers = [_("Mission"), _("Date"), _("Kind"), _("Achievement")]
        rows = [[a.programme.mission.code, a.date, a.get_kind_display(), texts.achievement_title(a)] for a in achs]
        links = [reverse("planning:achievement_edit", args=[a.programme_id, a.pk]) for a in achs]
        programmes = [a.programme for a in achs]
    else:
        raise Http404("not found")
    export = _export(
        request,
        table=f"records-{kind}",
        headers=headers,
        rows=rows,
        filters=filters.query(bucket=bucket, status=status),
    )
    if export is not None:
        return export
    return render(
        request,
        "reporting/records.html",
        {
            "kind": kind,
            "link_column": {"actions": 2, "indicators": 1, "achievements": 3}[kind],
            "headers": headers,
            "rows": list(zip(rows, links, strict=True)),
            "filters": filters,
            "query": filters.query(bucket=bucket, status=status),
            "bucket_label": figures.ACTION_BUCKETS.get(bucket) or figures.INDICATOR_STATUSES.get(status) or "",
            "marking": planning_selectors.page_marking(programmes),
        },
    )


# --------------------------------------------------------------------------- synthesis


def _programme(request: HttpRequest, programme_id: int) -> Programme:
    return planning_selectors.programme_detail(agent(request), programme_id)


def _refused(request: HttpRequest, programme: Programme, exc: ValidationError) -> HttpResponse:
    return render(request, "reporting/refused.html", {"programme": programme, "reasons": exc.messages}, status=409)


@require_http_methods(["GET", "POST"])
def synthesis(request: HttpRequest, programme_id: int) -> HttpResponse:
    user = agent(request)
    programme = _programme(request, programme_id)
    try:
        services.check_synthesisable(programme)
    except ValidationError as exc:
        return _refused(request, programme, exc)
    report = synth.report_for(user, programme, language=translation.get_language() or "fr")
    permissions = services.permissions(user, programme, report.synthesis)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        if not permissions["edit"]:
            raise Http404("not found")
        narratives = {axis["id"]: request.POST.get(f"narrative_{axis['id']}", "") for axis in report.snapshot["axes"]}
        version = request.POST.get("lock_version", "")
        try:
            services.save_narratives(
                user=user,
                programme=programme,
                narratives=narratives,
                expected_version=int(version) if version.isdigit() else None,
            )
        except services.Conflict as exc:
            messages.error(request, str(exc))
        except ValidationError as exc:
            errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
        else:
            messages.success(request, _("The narratives were saved."))
            return redirect("reporting:synthesis", programme_id=programme.pk)
    dispatch = None
    if report.synthesis is not None and report.synthesis.dispatch_id:
        from chancery.correspondence.models import Dispatch

        dispatch = Dispatch.objects.visible_to(request.user).filter(pk=report.synthesis.dispatch_id).first()
    chart_figures = renderers.figure_list(renderers.report_charts(report))
    return render(
        request,
        "reporting/synthesis.html",
        {
            "programme": programme,
            "report": report,
            "permissions": permissions,
            "errors": errors,
            "chart_figures": chart_figures,
            "marking": report.marking if report.marking.level or report.marking.compartments else None,
            "status_rule": figures.STATUS_RULE,
            "dispatch": dispatch,
            "lock_version": report.synthesis.lock_version if report.synthesis else "",
        },
    )


@require_POST
def synthesis_freeze(request: HttpRequest, programme_id: int) -> HttpResponse:
    programme = _programme(request, programme_id)
    try:
        services.freeze(user=agent(request), programme=programme)
    except PermissionDenied as exc:
        raise Http404("not found") from exc
    except ValidationError as exc:
        return _refused(request, programme, exc)
    messages.success(request, _("The synthesis is frozen: later changes of the programme will not alter it."))
    return redirect("reporting:synthesis", programme_id=programme.pk)


@require_POST
def synthesis_send(request: HttpRequest, programme_id: int) -> HttpResponse:
    programme = _programme(request, programme_id)
    try:
        dispatch = services.send(user=agent(request), programme=programme, language=translation.get_language() or "fr")
    except PermissionDenied as exc:
        raise Http404("not found") from exc
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("reporting:synthesis", programme_id=programme.pk)
    messages.success(
        request, _("The synthesis was sent as dispatch %(reference)s.") % {"reference": dispatch.reference}
    )
    return redirect("reporting:synthesis", programme_id=programme.pk)


@require_GET
def synthesis_download(request: HttpRequest, programme_id: int, output_format: str) -> HttpResponse:
    programme = _programme(request, programme_id)
    try:
        services.check_synthesisable(programme)
    except ValidationError as exc:
        return _refused(request, programme, exc)
    report = synth.report_for(agent(request), programme, language=translation.get_language() or "fr")
    data = renderers.render(report, output_format)
    services.record_export(
        user=agent(request),
        table="synthesis",
        output_format=output_format,
        rows=len(report.indicators),
        filters={"programme": programme.pk},
    )
    return file_download(
        data, filename=renderers.filename_for(report, output_format), content_type=renderers.FORMATS[output_format]
    )


# --------------------------------------------------------------------------- jobs


@require_http_methods(["GET", "POST"])
def compile_view(request: HttpRequest) -> HttpResponse:
    """Ask for a compilation of the syntheses of a region or the whole ministry (background)."""
    filters = _filters(request) if request.method == "GET" else selectors.parse_filters(request.POST)
    if request.method == "POST":
        output = request.POST.get("format", "pdf")
        if filters.ignored or output not in ("pdf", "xlsx"):
            messages.error(
                request, selectors.ignored_message(filters.ignored) if filters.ignored else _("Unknown format.")
            )
        else:
            job = services.start_job(
                user=agent(request),
                kind=JobKind.COMPILATION,
                output_format=output,
                parameters={
                    "year": filters.year,
                    "region": filters.region.code if filters.region else "",
                    "language": translation.get_language() or "fr",
                },
            )
            return redirect("reporting:job", job_id=job.pk)
    count = tasks.compilation_programmes(
        agent(request), year=filters.year, region=filters.region.code if filters.region else None
    ).count()
    return render(
        request,
        "reporting/compile.html",
        {
            "filters": filters,
            "regions": selectors.regions(),
            "years": _years(),
            "count": count,
            "jobs": list(ReportJob.objects.visible_to(request.user)[:10]),
        },
    )


def _job(request: HttpRequest, job_id: int) -> ReportJob:
    job = get_visible_or_404(ReportJob.objects.all(), request.user, pk=job_id)
    if not job.readable_by(agent(request)):
        raise Http404("not found")
    return tasks.refresh_status(job)


@require_GET
def job(request: HttpRequest, job_id: int) -> HttpResponse:
    current = _job(request, job_id)
    template = "reporting/_job_progress.html" if request.GET.get("poll") else "reporting/job.html"
    return render(request, template, {"job": current})


@require_GET
def job_download(request: HttpRequest, job_id: int) -> HttpResponse:
    current = _job(request, job_id)
    if current.result_ciphertext is None:
        raise Http404("not found")
    return job_file_response(user=agent(request), job=current)


@require_POST
def job_retry(request: HttpRequest, job_id: int) -> HttpResponse:
    current = _job(request, job_id)
    try:
        new = services.retry_job(user=agent(request), job=current)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("reporting:job", job_id=current.pk)
    return redirect("reporting:job", job_id=new.pk)
