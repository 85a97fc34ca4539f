"""The programme document's actions, indicator tables and comment threads, written in Python.

Through templates, each action (with its comment form and threads) cost about 2.5 ms, and the
indicator tables 7 ms at a million dispatches: two thirds of the programme document's rendering
(60 ms for a mission's 18 actions; 21 ms with the actions written here), which made it the
slowest page. Built here with the helpers of `chancery.core.rendering`, each value is output as
the template language would output it (escaped, localised); the addresses are reversed once per
page.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import template
from django.template import defaultfilters
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext, ngettext, pgettext

from chancery.core.rendering import (
    as_text,
    csrf_input,
    date_text,
    first_of,
    lines_text,
    number_text,
    url_maker,
)
from chancery.planning.selectors import comment_count

register = template.Library()
register.filter("comment_count", comment_count)


def status_badge(row: Any) -> str:
    """`planning/_status.html` for a programme's or an action's status (with its line break)."""
    return f'<span class="status-badge status-{as_text(row.status)}">{as_text(row.get_status_display())}</span>\n'


class CommentThreads:
    """What the comment threads of one programme page share: the form's address, the CSRF token,
    the labels."""

    def __init__(self, programme: Any, csrf_token: Any) -> None:
        self.programme = programme
        self.csrf = csrf_input(csrf_token)
        self.post = url_maker("planning:comment_create", programme.pk)()
        self.form_attributes = (
            f'method="post" action="{self.post}" hx-post="{self.post}" hx-target="closest .comments" '
            'hx-swap="outerHTML" hx-push-url="false"'
        )
        # Each label as `{% translate %}` outputs it (escaped); literal calls, for makemessages.
        self.said = {
            key: as_text(text)
            for key, text in {
                "No comments.": gettext("No comments."),
                "Add a comment": gettext("Add a comment"),
                "Comment": gettext("Comment"),
                "Former agent": gettext("Former agent"),
                "Reply": gettext("Reply"),
                "Your reply": gettext("Your reply"),
                "Send the reply": gettext("Send the reply"),
            }.items()
        }

    def block(self, threads: list[Any], target_type: str, target_id: Any, can_comment: bool, error: Any = "") -> str:
        """The threads on one target and the form to add a comment."""
        target = as_text(target_type)
        parts = [f'<div class="comments" id="comments-{target}{f"-{as_text(target_id)}" if target_id else ""}">\n']
        if error:
            parts.append(f'<div class="alert alert-danger py-1 px-2 small" role="alert">{as_text(error)}</div>')
        parts.append("\n")
        if threads:
            nodes = "".join(self.node(node, can_comment) for node in threads)
            parts.append(f'<ul class="comment-thread">{nodes}</ul>\n')
        elif not can_comment:
            parts.append(f'<p class="small text-body-secondary mb-1">{self.said["No comments."]}</p>')
        parts.append("\n")
        if can_comment:
            field = f"comment-body-{target}-{as_text(target_id or self.programme.pk)}"
            target_field = f'<input type="hidden" name="target_id" value="{as_text(target_id)}">' if target_id else ""
            parts.append(
                f'\n<form {self.form_attributes} class="mb-2">{self.csrf}\n'
                f'  <input type="hidden" name="target_type" value="{target}">{target_field}\n'
                f'  <label class="form-label small mb-0" for="{field}">{self.said["Add a comment"]}</label>\n'
                f'  <textarea class="form-control form-control-sm" rows="2" name="body" id="{field}" required '
                'maxlength="8000"></textarea>\n'
                f'  <button type="submit" class="btn btn-sm btn-outline-primary mt-1">'
                f"{self.said['Comment']}</button>\n"
                "</form>\n"
            )
        parts.append("\n</div>\n")
        return "".join(parts)

    def node(self, node: Any, can_comment: bool) -> str:
        """One comment, the form to reply to it, and its replies."""
        comment = node.comment
        pk = as_text(comment.pk)
        author = comment.author
        name = first_of(author.get_full_name(), author.username) if author else self.said["Former agent"]
        reply = ""
        if can_comment:
            reply = (
                f'\n  <details class="mt-1"><summary class="small">{self.said["Reply"]}</summary>\n'
                f"    <form {self.form_attributes}>{self.csrf}\n"
                f'      <input type="hidden" name="parent" value="{pk}">\n'
                f'      <label class="visually-hidden" for="reply-body-{pk}">{self.said["Your reply"]}</label>\n'
                f'      <textarea class="form-control form-control-sm" rows="2" name="body" id="reply-body-{pk}" '
                'required maxlength="8000"></textarea>\n'
                f'      <button type="submit" class="btn btn-sm btn-outline-primary mt-1">'
                f"{self.said['Send the reply']}</button>\n"
                "    </form>\n  </details>\n  "
            )
        replies = ""
        if node.replies:
            replies = (
                f'<ul class="comment-thread">{"".join(self.node(child, can_comment) for child in node.replies)}</ul>'
            )
        return (
            f'<li>\n<article class="comment" id="comment-{pk}">\n'
            f'  <div class="comment-meta"><strong>{name}</strong> · '
            f'<time datetime="{date_text(comment.created_at, "c")}">'
            f"{date_text(comment.created_at, 'SHORT_DATETIME_FORMAT')}</time></div>\n"
            f"  <div>{lines_text(comment.body)}</div>\n  {reply}\n</article>\n{replies}\n</li>\n"
        )


class ActionItems(CommentThreads):
    """Each action of the page (`permissions`: `policy.permissions`, as the document gives them)."""

    def __init__(self, programme: Any, csrf_token: Any, permissions: dict[str, bool]) -> None:
        super().__init__(programme, csrf_token)
        self.permissions = permissions
        self.edit = url_maker("planning:action_edit", programme.pk, None)
        self.record = url_maker("planning:achievement_create", programme.pk)()
        self.measurements = url_maker("planning:measurement_create", programme.pk, None)
        self.indicator_edit = url_maker("planning:indicator_edit", programme.pk, None)
        self.create = url_maker("planning:action_create", programme.pk)()
        self.axis_edit = url_maker("planning:axis_edit", programme.pk, None)
        self.labels = {
            "Priority": gettext("Priority"),
            "Dates": gettext("Dates"),
            "target": gettext("target"),
            "not dated": gettext("not dated"),
            "Lead": gettext("Lead"),
            "with": gettext("with"),
            "Progress": gettext("Progress"),
            "Budget": gettext("Budget"),
            "Risks": gettext("Risks"),
            "Warning:": gettext("Warning:"),
            "Edit": gettext("Edit"),
            "Record an achievement": gettext("Record an achievement"),
            "Indicators": gettext("Indicators"),
            "Indicator": gettext("Indicator"),
            "Baseline": gettext("Baseline"),
            "Approved target": gettext("Approved target"),
            "Revised target": gettext("Revised target"),
            "Actual": gettext("Actual"),
            "Tools": gettext("Tools"),
            "lower is better": gettext("↓ lower is better"),
            "higher is better": gettext("↑ higher is better"),
            "latest": gettext("latest"),
            "not measured": gettext("not measured"),
            "Measurements": gettext("Measurements"),
            "History": gettext("History"),
            "Objective": gettext("Objective"),
            "Actions and indicators without an objective": gettext("Actions and indicators without an objective"),
            "Actions": gettext("Actions"),
            "No action in this axis yet.": gettext("No action in this axis yet."),
            "Add an action to this axis": gettext("Add an action to this axis"),
            "Narrative and objectives": gettext("Narrative and objectives"),
        }
        self.labels = {key: as_text(text) for key, text in self.labels.items()}  # `{% translate %}` escapes
        self.budget = [
            as_text(pgettext("budget", "requested")),
            as_text(pgettext("budget", "approved")),
            as_text(pgettext("budget", "spent")),
        ]

    def item(self, a: Any) -> str:
        label = self.labels
        title = as_text(a.title)
        description = f'<p class="mb-1 small">{lines_text(a.description)}</p>' if a.description else ""
        dates = ""
        if a.start_date or a.end_date:
            start = date_text(a.start_date, "SHORT_DATE_FORMAT") or "…"
            end = date_text(a.end_date, "SHORT_DATE_FORMAT") or "…"
            dates = f'{start} <span class="flow-arrow">→</span> {end}'
        if a.target_date:
            dates += f" · {label['target']} {date_text(a.target_date, 'SHORT_DATE_FORMAT')}"
        if not a.start_date and not a.end_date and not a.target_date:
            dates += label["not dated"]
        lead = first_of(a.lead.get_full_name(), a.lead.username) if a.lead else "—"
        units = list(a.partner_units.all())
        if units:
            codes = ", ".join(f'<span dir="ltr">{as_text(u.code)}</span>' for u in units)
            lead += f" · {label['with']} {codes}"
        requested, approved, spent = self.budget
        budget = (
            f"{requested} {number_text(a.budget_requested)} · {approved} {number_text(a.budget_approved)} · "
            f"{spent} {number_text(a.budget_spent)} {as_text(a.currency)}"
        )
        risks = (
            f'<dt class="col-sm-3">{label["Risks"]}</dt><dd class="col-sm-9">{lines_text(a.risk_note)}</dd>'
            if a.risk_note
            else ""
        )
        warnings = "".join(
            f'<p class="small text-warning-emphasis mb-1"><strong>{label["Warning:"]}</strong> {as_text(w)}</p>'
            for w in getattr(a, "planning_warnings", [])
        )
        tools = ""
        if self.permissions.get("edit"):
            tools += (
                f'<a class="btn btn-sm btn-outline-secondary" href="{self.edit(a.pk)}">{label["Edit"]}'
                f'<span class="visually-hidden"> — {title}</span></a>'
            )
        tools += "\n  "
        if self.permissions.get("record_progress"):
            tools += (
                f'<a class="btn btn-sm btn-outline-secondary" href="{self.record}?action={as_text(a.pk)}">'
                f'{label["Record an achievement"]}<span class="visually-hidden"> — {title}</span></a>'
            )
        n = comment_count(a.comments)
        # `{% blocktranslate count %}`: the translation as it is, the number as `{{ n }}`.
        comments = ngettext("%(n)s comment", "%(n)s comments", n) % {"n": as_text(n)}
        return (
            f'<li class="list-group-item" id="action-{as_text(a.pk)}">\n'
            '<div class="d-flex flex-wrap gap-2 align-items-baseline">\n'
            f'  <h4 class="h6 mb-0 me-auto">{title}</h4>\n'
            f"  {status_badge(a)}\n"
            f'  <span class="small">{label["Priority"]}: {as_text(a.get_priority_display())}</span>\n'
            "</div>\n"
            f"{description}\n"
            '<dl class="row small mb-1">\n'
            f'  <dt class="col-sm-3">{label["Dates"]}</dt>\n  <dd class="col-sm-9">{dates}</dd>\n'
            f'  <dt class="col-sm-3">{label["Lead"]}</dt><dd class="col-sm-9">{lead}</dd>\n'
            f'  <dt class="col-sm-3">{label["Progress"]}</dt><dd class="col-sm-9">{as_text(a.progress)} %</dd>\n'
            f'  <dt class="col-sm-3">{label["Budget"]}</dt><dd class="col-sm-9">{budget}</dd>\n'
            f"  {risks}\n</dl>\n{warnings}\n"
            f'<div class="d-flex flex-wrap gap-2 no-print">\n  {tools}\n</div>\n'
            f'<details class="mt-1"{" open" if a.comments else ""}><summary class="small">{comments}</summary>\n'
            f"{self.block(a.comments, 'action', a.pk, bool(self.permissions.get('comment')))}\n"
            "</details>\n</li>\n"
        )

    def axis_section(self, block: Any) -> str:
        """One axis of the document (`AxisBlock`): its narrative, each objective with its actions and
        indicators, its tools and its comment threads."""
        label, axis = self.labels, block.axis
        pk, name = as_text(axis.pk), as_text(axis.name)
        narrative = ""
        if axis.narrative:
            narrative = f'<div class="mb-2">{defaultfilters.linebreaks_filter(axis.narrative)}</div>'
        objectives = "".join(self.objective_part(ob) for ob in block.objectives) or (
            f'<p class="small text-body-secondary">{label["No action in this axis yet."]}</p>\n'
        )
        tools = ""
        if self.permissions.get("edit"):
            tools = (
                f'<p class="no-print"><a class="btn btn-sm btn-link" href="{self.create}?axis={pk}">'
                f'{label["Add an action to this axis"]}</a> <a class="btn btn-sm btn-link" '
                f'href="{self.axis_edit(axis.pk)}">{label["Narrative and objectives"]}'
                f'<span class="visually-hidden"> — {name}</span></a></p>'
            )
        n = comment_count(block.comments)
        # `{% blocktranslate count %}`: the translation as it is, the values as `{{ axis }}`, `{{ n }}`.
        summary = ngettext("Comments on %(axis)s (%(n)s)", "Comments on %(axis)s (%(n)s)", n) % {
            "axis": name,
            "n": as_text(n),
        }
        threads = self.block(block.comments, "axis", axis.pk, bool(self.permissions.get("comment")))
        return (
            f'\n<section class="axis" id="axis-{pk}" aria-labelledby="axis-{pk}-h">\n'
            f'<h2 class="h4" id="axis-{pk}-h">{name}</h2>\n{narrative}\n{objectives}\n{tools}\n'
            f'<details{" open" if block.comments else ""}><summary>{summary}</summary>\n{threads}\n</details>\n'
            "</section>\n"
        )

    def objective_part(self, ob: Any) -> str:
        """One objective of an axis (`ObjectiveBlock`; none: the axis's actions without one)."""
        label, objective = self.labels, ob.objective
        if objective is not None:
            heading = f"{label['Objective']}: {as_text(objective.title)}"
        else:
            heading = label["Actions and indicators without an objective"]
        description = (
            f'<p class="small">{lines_text(objective.description)}</p>'
            if objective is not None and objective.description
            else ""
        )
        actions = ""
        if ob.actions:
            items = "".join(self.item(a) for a in ob.actions)
            actions = f'<ul class="list-group mb-2" aria-label="{label["Actions"]}">{items}</ul>'
        indicators = self.indicator_table(ob.indicators) if ob.indicators else ""
        return (
            f'\n<div class="objective mb-3">\n<h3 class="h5">{heading}</h3>\n{description}\n{actions}\n'
            f"{indicators}\n</div>\n"
        )

    def indicator_table(self, indicators: Iterable[Any]) -> str:
        """The table of indicators (baseline, targets, latest actual) with their tools."""
        label = self.labels
        rows = []
        for ind in indicators:
            name = as_text(ind.label)
            unit = f' <span class="text-body-secondary">({as_text(ind.unit)})</span>' if ind.unit else ""
            better = label["lower is better"] if ind.direction == "decrease" else label["higher is better"]
            source = f" · {as_text(ind.data_source)}" if ind.data_source else ""
            baseline = target = revised = "—"
            if ind.baseline_value is not None:
                year = f' <span class="small">({as_text(ind.baseline_year)})</span>' if ind.baseline_year else ""
                baseline = f"{number_text(ind.baseline_value)}{year}"
            if ind.approved_target is not None:
                year = f' <span class="small">({as_text(ind.target_year)})</span>' if ind.target_year else ""
                target = f"{number_text(ind.approved_target)}{year}"
            if ind.revised_target is not None:
                revised = f"<strong>{number_text(ind.revised_target)}</strong>"
            actual = label["not measured"]
            if ind.latest:
                actual = (
                    f'{number_text(ind.actual_value)} <span class="small text-body-secondary">'
                    f"({as_text(ind.get_aggregation_display())}; {label['latest']} "
                    f"{date_text(ind.latest.period_end, 'SHORT_DATE_FORMAT')})</span>"
                )
            history = label["Measurements"] if self.permissions.get("record_progress") else label["History"]
            edit = (
                f'<a class="btn btn-sm btn-link" href="{self.indicator_edit(ind.pk)}">{label["Edit"]}'
                f'<span class="visually-hidden"> — {name}</span></a>'
                if self.permissions.get("edit")
                else ""
            )
            rows.append(
                f'\n<tr id="indicator-{as_text(ind.pk)}">\n'
                f'<th scope="row" class="fw-normal text-wrap">{name}{unit}<br>'
                f'<span class="small text-body-secondary">{better}{source}</span></th>\n'
                f"<td>{baseline}</td>\n<td>{target}</td>\n<td>{revised}</td>\n<td>{actual}</td>\n"
                '<td class="text-end text-nowrap no-print">\n'
                f'  <a class="btn btn-sm btn-link" href="{self.measurements(ind.pk)}">{history}'
                f'<span class="visually-hidden"> — {name}</span></a>\n  {edit}\n</td>\n</tr>\n'
            )
        headings = "".join(
            f'<th scope="col">{label[key]}</th>\n'
            for key in ("Indicator", "Baseline", "Approved target", "Revised target", "Actual")
        )
        return (
            '<div class="table-responsive"><table class="table table-sm indicator-values align-middle">\n'
            f'<caption class="visually-hidden">{label["Indicators"]}</caption>\n<thead><tr>\n{headings}'
            f'<th scope="col"><span class="visually-hidden">{label["Tools"]}</span></th>\n</tr></thead>\n<tbody>\n'
            f"{''.join(rows)}\n</tbody></table></div>\n"
        )


def _page_of(context: template.Context, kind: type[CommentThreads], *args: Any) -> Any:
    """One renderer per page (kept on the context's render state, shared by every tag of the page)."""
    key = f"programme_items.{kind.__name__}"
    page = context.render_context.get(key)
    if page is None:
        page = context.render_context[key] = kind(context["programme"], context.get("csrf_token"), *args)
    return page


@register.simple_tag(takes_context=True)
def axis_sections(context: template.Context, axes: Iterable[Any]) -> SafeString:
    """The `<section>` of each axis (`AxisBlock`s of the document): what the page's loop over its
    axes wrote through the template language (13 axes: a quarter of the page's rendering)."""
    page = _page_of(context, ActionItems, context["permissions"])
    return mark_safe("".join(page.axis_section(block) for block in axes))  # noqa: S308 - every value escaped above


@register.simple_tag(takes_context=True)
def action_items(context: template.Context, actions: Iterable[Any]) -> SafeString:
    """The `<li>` of each action: title, status, dates, lead, progress, budget, warnings, tools
    and comment threads (`programme`, `permissions` and `csrf_token` from the page)."""
    page = _page_of(context, ActionItems, context["permissions"])
    return mark_safe("".join(page.item(a) for a in actions))  # noqa: S308 - every value escaped above


@register.simple_tag(takes_context=True)
def indicator_table(context: template.Context, indicators: Iterable[Any]) -> SafeString:
    """The table of indicators: baseline, approved and revised targets, latest actual, tools."""
    page = _page_of(context, ActionItems, context["permissions"])
    return mark_safe(page.indicator_table(indicators))  # noqa: S308 - every value escaped above


@register.simple_tag(takes_context=True)
def comment_threads(
    context: template.Context, threads: list[Any], target_type: str, target_id: Any, can_comment: bool, error: Any = ""
) -> SafeString:
    """The comment threads on one target of the programme, with the form to add one."""
    page = _page_of(context, CommentThreads)
    return mark_safe(page.block(threads, target_type, target_id, can_comment, error))  # noqa: S308 - escaped above


@register.simple_tag
def programme_rows(programmes: Iterable[Any]) -> SafeString:
    """The programme list's rows (`programme_list.html` wrote them through the template language:
    50 rows, 6 ms of a wide reader's page at a million dispatches). Every value is escaped here."""
    detail = url_maker("planning:programme_detail", None)
    rows = []
    for p in programmes:
        years = f"{as_text(p.year)}–{as_text(p.last_year)}" if p.is_multi_year else as_text(p.year)
        rows.append(
            f'  <tr>\n    <td dir="ltr" class="text-start">{as_text(p.mission.code)}</td>\n'
            f"    <td>{years}</td>\n"
            f'    <td><a href="{detail(p.pk)}">{as_text(p.title)}</a></td>\n'
            f"    <td>{status_badge(p)}</td>\n"
            f'    <td class="text-end">{as_text(p.action_count)}</td>\n  </tr>\n'
        )
    return mark_safe("".join(rows))  # noqa: S308 - escaped above
