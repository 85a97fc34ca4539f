"""Synthesis outputs: PDF (WeasyPrint, paged media), DOCX (python-docx), XLSX (openpyxl).

All three render the same `Report` (see `chancery.reporting.synthesis.report_for`): the
reader's view of the snapshot, with its derived marking. The marking stands at the top and
bottom of every PDF page and in every DOCX header and footer.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from chancery.reporting import charts, figures
from chancery.reporting.synthesis import Report

FORMATS = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

Progress = Callable[[int, int], None]


def _float(value: Any) -> float:
    return float(Decimal(value)) if value not in (None, "") else 0.0


def report_charts(report: Report) -> list[charts.BarChart]:
    """The synthesis charts, from the report's own numbers."""
    axes = report.axes
    completion = charts.BarChart(
        title=_("Completion of actions by volet"),
        categories=[a["name"] for a in axes],
        series=[
            (str(label), [float(a["actions"].get(key, 0)) for a in axes])
            for key, label in figures.ACTION_BUCKETS.items()
        ],
        stacked=True,
        colours=["#2e7d32", "#1f77b4", "#c62828", "#9e9e9e"],
    )
    inds = report.indicators
    attainment = charts.BarChart(
        title=_("Indicators: share of the target reached (%)"),
        categories=[i["label"] for i in inds],
        series=[
            (
                _("Reached"),
                [
                    min(
                        150.0,
                        max(
                            0.0,
                            100
                            * (
                                figures.attainment(
                                    Decimal(i["baseline"]) if i["baseline"] is not None else None,
                                    Decimal(i["revised_target"] or i["approved_target"])
                                    if (i["revised_target"] or i["approved_target"])
                                    else None,
                                    Decimal(i["actual"]) if i["actual"] is not None else None,
                                )
                                or 0
                            ),
                        ),
                    )
                    for i in inds
                ],
            )
        ],
    )
    budgets = report.snapshot["budgets"]
    budget = charts.BarChart(
        title=_("Budget execution"),
        categories=list(budgets),
        series=[
            (_("Requested"), [_float(b["requested"]) for b in budgets.values()]),
            (_("Granted"), [_float(b["approved"]) for b in budgets.values()]),
            (_("Spent"), [_float(b["spent"]) for b in budgets.values()]),
        ],
    )
    return [c for c in (completion, attainment, budget) if c.categories]


def figure_list(items: Sequence[charts.BarChart], *, for_pdf: bool = False) -> list[dict[str, Any]]:
    """Charts for an HTML page (SVG) or a PDF (HTML bars): title and legend as HTML."""
    return [
        {
            "title": c.title,
            "svg": charts.to_html(c) if for_pdf else charts.to_svg(c, titled=False),
            "legend": [(str(name), charts.swatch(c.colour(i))) for i, (name, _values) in enumerate(c.series)],
        }
        for c in items
    ]


def _context(report: Report) -> dict[str, Any]:
    return {
        "report": report,
        "charts": figure_list(report_charts(report), for_pdf=True),
        "ministry_name": settings.CHANCERY_MINISTRY_NAME,
        "marking_label": report.marking.label(),
        "status_rule": figures.STATUS_RULE,
        "buckets": figures.ACTION_BUCKETS,
    }


def _css_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def render_pdf(reports: Sequence[Report], *, title: str = "", progress: Progress | None = None) -> bytes:
    """One synthesis, or a compilation (several, with summary charts first) as one PDF."""
    import logging

    # WeasyPrint narrates every step at INFO (from its import on): noise in the command line
    # and the worker's log.
    logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
    from weasyprint import HTML

    marking = reports[0].marking if len(reports) == 1 else _compiled_marking(reports)
    sections = []
    for index, report in enumerate(reports):
        sections.append(_context(report))
        if progress is not None:
            progress(index + 1, len(reports) + 1)
    html = render_to_string(
        "reporting/pdf/synthesis.html",
        {
            "sections": sections,
            "compilation": len(reports) > 1,
            "title": title,
            "summary_charts": figure_list(compilation_charts(reports), for_pdf=True) if len(reports) > 1 else [],
            "marking_css": _css_string(marking.label()),
            "marking_label": marking.label(),
            "ministry_name": settings.CHANCERY_MINISTRY_NAME,
            "rtl": translation.get_language_bidi(),
            "LANGUAGE_CODE": translation.get_language(),
        },
    )
    # Links (evidence, dispatches) resolve against the application, so they open in Chancery.
    data = HTML(string=html, base_url=settings.CHANCERY_BASE_URL + "/").write_pdf()
    if progress is not None:
        progress(len(reports) + 1, len(reports) + 1)
    return bytes(data)


def _compiled_marking(reports: Sequence[Report]) -> Any:
    from chancery.reporting.synthesis import derive_marking

    return derive_marking([r.marking for r in reports])


def compilation_charts(reports: Sequence[Report]) -> list[charts.BarChart]:
    """Summary of a compilation: completion and indicator status per mission."""
    missions = [r.snapshot["programme"]["mission_code"] for r in reports]
    completion = charts.BarChart(
        title=_("Completion of actions by mission"),
        categories=missions,
        series=[
            (str(label), [float(r.snapshot["actions"].get(key, 0)) for r in reports])
            for key, label in figures.ACTION_BUCKETS.items()
        ],
        stacked=True,
        colours=["#2e7d32", "#1f77b4", "#c62828", "#9e9e9e"],
    )
    statuses = charts.BarChart(
        title=_("Indicators by status and mission"),
        categories=missions,
        series=[
            (str(label), [float(sum(1 for i in r.snapshot["indicators"] if i["status"] == key)) for r in reports])
            for key, label in figures.INDICATOR_STATUSES.items()
        ],
        stacked=True,
        colours=[charts.STATUS_COLOURS[k] for k in figures.INDICATOR_STATUSES],
    )
    return [completion, statuses]


# --------------------------------------------------------------------------- DOCX


def render_docx(report: Report) -> bytes:
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Inches

    document = Document()
    marking = report.marking.label().upper()
    for section in document.sections:
        for part in (section.header, section.footer):
            paragraph = part.paragraphs[0]
            paragraph.text = marking
            paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    p = report.snapshot["programme"]
    document.add_paragraph(str(settings.CHANCERY_MINISTRY_NAME))
    document.add_heading(
        _("Execution synthesis %(year)s — %(mission)s") % {"year": p["year"], "mission": p["mission_name"]}, 0
    )
    document.add_paragraph(report.title)
    if not report.frozen:
        document.add_paragraph(_("Provisional: this synthesis is not frozen yet; its figures may still change."))
    if report.partial:
        document.add_paragraph(_partial_text(report))
    if report.is_empty:
        document.add_paragraph(_("This programme has no recorded actions, indicators or achievements for the year."))
    for chart in report_charts(report):
        document.add_picture(io.BytesIO(charts.to_png(chart)), width=Inches(6))
    document.add_heading(_("Narrative by volet"), 1)
    for axis in report.axes:
        document.add_heading(axis["name"], 2)
        a = axis["actions"]
        document.add_paragraph(
            _(
                "Actions: %(total)s — done %(done)s, in progress %(in_progress)s, late %(late)s, "
                "not started %(not_started)s."
            )
            % a
        )
        document.add_paragraph(axis["narrative"] or _("No narrative."))
    document.add_heading(_("Indicators"), 1)
    headers = [
        _("Indicator"),
        _("Unit"),
        _("Baseline"),
        _("Approved target"),
        _("Revised target"),
        _("Actual"),
        _("Gap"),
        _("Status"),
    ]
    table = document.add_table(rows=1, cols=len(headers))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, headers, strict=True):
        cell.text = str(text)
    for ind in report.indicators:
        cells = table.add_row().cells
        values = [
            ind["label"],
            ind["unit"],
            ind["baseline"],
            ind["approved_target"],
            ind["revised_target"],
            ind["actual"],
            ind["gap"],
            ind["status_label"],
        ]
        for cell, value in zip(cells, values, strict=True):
            cell.text = "" if value is None else str(value)
    document.add_heading(_("Achievements"), 1)
    for a in report.achievements:
        refs = ", ".join(d["reference"] for d in a["dispatches"])
        document.add_paragraph(f"{a['date']} — {a['title']}" + (f" ({refs})" if refs else ""), style="List Bullet")
    document.add_heading(_("Budget execution"), 1)
    for currency, b in report.snapshot["budgets"].items():
        document.add_paragraph(
            _("%(currency)s: requested %(requested)s, granted %(approved)s, spent %(spent)s")
            % {"currency": currency, **b}
        )
    document.add_heading(_("Revisions during the year"), 1)
    for r in report.snapshot["revisions"]:
        document.add_paragraph(f"v{r['number']} ({r['date']}): {r['reason']}", style="List Bullet")
    document.add_heading(_("Dispatches cited"), 1)
    for d in report.dispatches:
        document.add_paragraph(f"{d['reference']} ({d['dated']}) — {d['subject']}", style="List Bullet")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _partial_text(report: Report) -> str:
    return _("Partial view: %(count)s cited item(s) are not shown because they are outside your access.") % {
        "count": report.left_out
    }


# --------------------------------------------------------------------------- XLSX


def workbook(sheets: Sequence[tuple[str, Sequence[str], Sequence[Sequence[Any]]]], *, marking: str = "") -> bytes:
    """A workbook of simple tables (also used by the dashboard exports)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    for default in list(book.worksheets):
        book.remove(default)
    for name, headers, rows in sheets:
        sheet = book.create_sheet(title=name[:31])
        if marking:
            sheet.oddHeader.center.text = marking
            sheet.oddFooter.center.text = marking
        sheet.append([str(h) for h in headers])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append([_cell(v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value: str) -> str:
    """Text that a spreadsheet will not run as a formula (an achievement titled "=HYPERLINK(…)"
    stays text): such cells get a leading apostrophe."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _cell(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, str):
        return safe_text(value)
    if value is None or isinstance(value, int | float):
        return value
    return safe_text(str(value))


def _number(value: str | None) -> float | None:
    return None if value is None else float(Decimal(value))


def render_xlsx(report: Report) -> bytes:
    marking = report.marking.label()
    return workbook(
        [
            (
                _("Indicators"),
                [
                    _("Indicator"),
                    _("Volet"),
                    _("Unit"),
                    _("Baseline"),
                    _("Approved target"),
                    _("Revised target"),
                    _("Actual"),
                    _("Gap"),
                    _("Status"),
                ],
                [
                    [
                        i["label"],
                        i["axis"],
                        i["unit"],
                        _number(i["baseline"]),
                        _number(i["approved_target"]),
                        _number(i["revised_target"]),
                        _number(i["actual"]),
                        _number(i["gap"]),
                        str(i["status_label"]),
                    ]
                    for i in report.indicators
                ],
            ),
            (
                _("Volets"),
                [_("Volet"), _("Actions"), *[str(v) for v in figures.ACTION_BUCKETS.values()]],
                [
                    [a["name"], a["actions"]["total"], *[a["actions"][k] for k in figures.ACTION_BUCKETS]]
                    for a in report.axes
                ],
            ),
            (
                _("Achievements"),
                [_("Date"), _("Kind"), _("Title"), _("Dispatches")],
                [
                    [a["date"], a["kind"], a["title"], ", ".join(d["reference"] for d in a["dispatches"])]
                    for a in report.achievements
                ],
            ),
            (
                _("Budget"),
                [_("Currency"), _("Requested"), _("Granted"), _("Spent")],
                [
                    [c, _number(b["requested"]), _number(b["approved"]), _number(b["spent"])]
                    for c, b in report.snapshot["budgets"].items()
                ],
            ),
            (
                _("Revisions"),
                [_("Version"), _("Date"), _("Reason")],
                [[r["number"], r["date"], r["reason"]] for r in report.snapshot["revisions"]],
            ),
            (
                _("Dispatches"),
                [_("Reference"), _("Date"), _("Subject")],
                [[d["reference"], d["dated"], d["subject"]] for d in report.dispatches],
            ),
        ],
        marking=marking,
    )


def render(report: Report, output_format: str) -> bytes:
    if output_format == "pdf":
        return render_pdf([report])
    if output_format == "docx":
        return render_docx(report)
    if output_format == "xlsx":
        return render_xlsx(report)
    raise ValueError(output_format)


def filename_for(report: Report, output_format: str) -> str:
    p = report.snapshot["programme"]
    return f"synthesis-{p['mission_code'].replace('/', '-')}-{p['year']}.{output_format}"
