"""Action planning as agents see it: programmes, their document, actions, indicators,
achievements, timeline, calendar, progress updates, versions and spreadsheets.

Views are thin: each reads through `chancery.planning.selectors` (the permission gate) or
writes through `chancery.planning.services`. An object out of the agent's scope answers 404;
a step the agent's role does not allow answers 404 for pages and a message for buttons.
"""

from __future__ import annotations

import math
from datetime import date
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from chancery.accounts.access import agent
from chancery.audit.services import record_event
from chancery.core.classification import Level
from chancery.core.downloads import file_download
from chancery.core.lists import OneStatementPaginator
from chancery.core.middleware import plans_alike
from chancery.organisation import selectors as organisation_selectors
from chancery.planning import forms, selectors, services, spreadsheets
from chancery.planning import storage as planning_storage
from chancery.planning.models import (
    Achievement,
    AchievementEvidence,
    Action,
    ActionStatus,
    Axis,
    CommentTarget,
    Direction,
    Indicator,
    Measurement,
    Objective,
    Priority,
    Programme,
    ProgrammeComment,
)

if TYPE_CHECKING:
    from chancery.accounts.models import User

GANTT_COLUMNS = 53  # one per week of a year; see .gs-N / .ge-N in planning.css
WORKBOOK_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --------------------------------------------------------------------------- helpers


def _programme(request: HttpRequest, programme_id: int) -> Programme:
    return selectors.programme_detail(agent(request), programme_id)


def _marking(programme: Programme) -> Any:
    """The banner's marking when the programme is protected (restricted or above)."""
    return programme.marking if programme.classification >= Level.RESTRICTED else None


def _page(programme: Programme, **extra: Any) -> dict[str, Any]:
    return {"programme": programme, "marking": _marking(programme), **extra}


def _apply_errors(form: Any, exc: ValidationError, renames: dict[str, str] | None = None) -> None:
    """Put a service's ValidationError on the form's fields (unknown fields: on the form)."""
    renames = renames or {}
    if hasattr(exc, "error_dict"):
        for name, errors in exc.message_dict.items():
            field = renames.get(name, name)
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _axes(user: User, programme: Programme) -> list[Axis]:
    return list(selectors.axis_list(user, programme=programme))


def _objectives(user: User, programme: Programme) -> list[Objective]:
    return list(
        Objective.objects.visible_to(user)
        .filter(axis__programme=programme)
        .select_related("axis__axis_type")
        .order_by("axis__position", "position", "pk")
    )


def _leads(user: User, programme: Programme, current: Any = None) -> list[Any]:
    people = {m.user.pk: m.user for m in organisation_selectors.unit_members(user=user, unit=programme.mission)}
    if current is not None:
        people.setdefault(current.pk, current)
    return sorted(people.values(), key=lambda u: (u.last_name, u.first_name, u.username))


def _partner_units(user: User) -> list[Any]:
    return list(organisation_selectors.unit_list(user=user).filter(is_active=True).order_by("code"))


def _action(request: HttpRequest, programme: Programme, action_id: int) -> Action:
    return selectors.action_detail(agent(request), action_id, programme=programme)


def _indicator(request: HttpRequest, programme: Programme, indicator_id: int) -> Indicator:
    return selectors.indicator_detail(agent(request), indicator_id, programme=programme)


def _achievement(request: HttpRequest, programme: Programme, achievement_id: int) -> Achievement:
    return selectors.achievement_detail(agent(request), achievement_id, programme=programme)


def _permissions(request: HttpRequest, programme: Programme) -> dict[str, bool]:
    return selectors.programme_permissions(agent(request), programme)


def _require(permissions: dict[str, bool], *names: str) -> None:
    if not any(permissions.get(name) for name in names):
        raise Http404("not found")


# --------------------------------------------------------------------------- programmes


# A programme's status among the reader's few hundred programmes: planned once, the list filtered by
# it took 1-4 ms less for each of six readers on PostgreSQL at 1M.
@plans_alike("status")
@require_GET
def programme_list(request: HttpRequest) -> HttpResponse:
    user = agent(request)
    visible = selectors.programme_list(user)
    pairs = visible.order_by().values_list("mission__code", "mission__name").distinct()
    missions = sorted((code, f"{code} — {name}") for code, name in pairs)
    form = forms.ProgrammeFilterForm(request.GET or None, missions=missions)
    programmes = selectors.programme_list(user, form.filters()) if form.is_bound else visible
    page = OneStatementPaginator(programmes, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "planning/programme_list.html",
        {
            "form": form,
            "page": page,
            "can_create": bool(selectors.missions_for_new_programme(user)),
            "marking": selectors.page_marking(page.object_list),
        },
    )


@require_http_methods(["GET", "POST"])
def programme_create(request: HttpRequest) -> HttpResponse:
    user = agent(request)
    missions = selectors.missions_for_new_programme(user)
    if not missions:
        raise Http404("not found")
    form = forms.ProgrammeCreateForm(request.POST or None, missions=missions, user=user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        mission, year = data["mission_unit"], data["year"]
        carry_over_from = None
        if data["carry_over"]:
            carry_over_from = selectors.carry_over_candidates(user, mission=mission, year=year).first()
            if carry_over_from is None:
                form.add_error("carry_over", _("This mission has no earlier programme to start from."))
        if not form.errors:
            try:
                programme = services.create_programme(
                    user=user,
                    mission=mission,
                    year=year,
                    end_year=data.get("end_year"),
                    title=data.get("title", ""),
                    summary=data.get("summary", ""),
                    classification=data["classification"],
                    carry_over_from=carry_over_from,
                )
            except ValidationError as exc:
                _apply_errors(form, exc, {"carry_over_from": "carry_over"})
            except PermissionDenied as exc:
                form.add_error("mission", str(exc))
            else:
                messages.success(request, _("Programme created."))
                return redirect("planning:programme_detail", programme_id=programme.pk)
    return render(request, "planning/programme_form.html", {"form": form})


@require_GET
def programme_detail(request: HttpRequest, programme_id: int) -> HttpResponse:
    programme = _programme(request, programme_id)
    document = selectors.programme_document(agent(request), programme)
    programme = document["programme"]
    for action in document["actions"]:
        action.planning_warnings = document["warnings"].get(action.pk, [])
    return render(
        request,
        "planning/programme_detail.html",
        {
            **document,
            "marking": _marking(programme),
            "comment_form": forms.CommentForm(),
            "revise_form": forms.WorkflowForm(required=True, prefix="revise"),
        },
    )


WORKFLOW_STEPS: dict[str, tuple[Any, Any]] = {
    "submit": (services.submit_programme, lambda: _("Programme submitted to headquarters.")),
    "approve": (services.approve_programme, lambda: _("Programme approved: this version is the baseline.")),
    "start": (services.start_execution, lambda: _("The programme is now in execution.")),
    "revise": (services.propose_revision, lambda: _("Revision proposed to headquarters.")),
    "approve_revision": (services.approve_revision, lambda: _("Revision approved: it is now a numbered version.")),
    "return_revision": (services.return_revision, lambda: _("Revision returned to the mission.")),
    "close": (services.close_programme, lambda: _("Programme closed.")),
    "return": (services.return_for_changes, lambda: _("Programme returned to the mission for changes.")),
}


def _workflow(request: HttpRequest, programme_id: int, step: str) -> HttpResponse:
    programme = _programme(request, programme_id)
    service, success = WORKFLOW_STEPS[step]
    needs_reason = step in ("revise", "return", "return_revision")
    form = forms.WorkflowForm(request.POST, required=needs_reason, prefix=step if needs_reason else None)
    if not form.is_valid():
        messages.error(request, _("Give a reason."))
        return redirect("planning:programme_detail", programme_id=programme.pk)
    reason = form.cleaned_data.get("reason", "")
    kwargs: dict[str, Any] = {"user": request.user, "programme": programme}
    if needs_reason:
        kwargs["reason"] = reason
    elif step in ("submit", "approve", "close", "approve_revision"):
        kwargs["note"] = reason
    if step in ("approve", "approve_revision"):
        # The budgets granted, one field per action ("budget-<id>"), as the approval form shows them.
        kwargs["budgets"] = {
            int(key.removeprefix("budget-")): value
            for key in request.POST
            if key.startswith("budget-") and key.removeprefix("budget-").isdigit()
            and (value := request.POST.get(key, "").strip())
        }
    try:
        service(**kwargs)
    except PermissionDenied as exc:
        messages.error(request, str(exc) or _("You may not do this."))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, success())
    return redirect("planning:programme_detail", programme_id=programme.pk)


@require_POST
def programme_submit(request: HttpRequest, programme_id: int) -> HttpResponse:
    return _workflow(request, programme_id, "submit")


@require_POST
def programme_approve(request: HttpRequest, programme_id: int) -> HttpResponse:
    return _workflow(request, programme_id, "approve")


@require_POST
def programme_start(request: HttpRequest, programme_id: int) -> HttpResponse:
    return _workflow(request, programme_id, "start")


@require_POST
def programme_revise(request: HttpRequest, programme_id: int) -> HttpResponse:
    return _workflow(request, programme_id, "revise")


@require_POST
def programme_approve_revision(request: HttpRequest, programme_id: int) -> HttpResponse:
    return _workflow(request, programme_id, "approve_revision")


@require_POST
def programme_return_revision(request: HttpRequest, programme_id: int) -> HttpResponse:
    return _workflow(request, programme_id, "return_revision")


@require_POST
def programme_close(request: HttpRequest, programme_id: int) -> HttpResponse:
    return _workflow(request, programme_id, "close")


@require_POST
def programme_return(request: HttpRequest, programme_id: int) -> HttpResponse:
    return _workflow(request, programme_id, "return")


# --------------------------------------------------------------------------- comments


def _thread_context(
    request: HttpRequest, programme: Programme, target_type: str, target_id: int | None, can_comment: bool
) -> dict[str, Any]:
    threads = selectors.comment_threads(
        agent(request), programme, target_type=target_type, target_id=target_id if target_type != "programme" else None
    )
    return {
        "programme": programme,
        "threads": threads,
        "target_type": target_type,
        "target_id": target_id,
        "can_comment": can_comment,
    }


@require_POST
def comment_create(request: HttpRequest, programme_id: int) -> HttpResponse:
    programme = _programme(request, programme_id)
    form = forms.CommentForm(request.POST)
    target_type, target_id, error = CommentTarget.PROGRAMME.value, None, ""
    if form.is_valid():
        data = form.cleaned_data
        target_type = data.get("target_type") or CommentTarget.PROGRAMME.value
        target_id = data.get("target_id")
        parent = None
        if data.get("parent"):
            parent = (
                ProgrammeComment.objects.visible_to(request.user).filter(programme=programme, pk=data["parent"]).first()
            )
            if parent is None:
                raise Http404("not found")
            target_type, target_id = parent.target_type, parent.target_id
        try:
            services.comment(
                user=agent(request),
                programme=programme,
                body=data["body"],
                target_type=target_type,
                target_id=target_id,
                parent=parent,
            )
        except PermissionDenied as exc:
            error = str(exc) or _("You may not comment on this programme.")
        except ValidationError as exc:
            error = " ".join(exc.messages)
    else:
        error = _("The comment is empty.")
    if target_type not in CommentTarget.values:
        target_type, target_id = CommentTarget.PROGRAMME.value, None
    if _is_htmx(request):
        context = _thread_context(
            request, programme, target_type, target_id, services.can_comment(agent(request), programme)
        )
        context["error"] = error
        return render(request, "planning/_comments.html", context)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, _("Comment added."))
    anchor = "comments-programme" if target_type == "programme" else f"comments-{target_type}-{target_id}"
    return redirect(reverse("planning:programme_detail", args=[programme.pk]) + f"#{anchor}")


# --------------------------------------------------------------------------- axes and objectives


@require_http_methods(["GET", "POST"])
def axis_edit(request: HttpRequest, programme_id: int, axis_id: int) -> HttpResponse:
    """An axis's narrative, and its objectives (listed, and a new one added)."""
    user = agent(request)
    programme = _programme(request, programme_id)
    axis = selectors.axis_detail(user, axis_id, programme=programme)
    _require(_permissions(request, programme), "edit")
    which = request.POST.get("form") if request.method == "POST" else None
    axis_form = forms.AxisForm(request.POST if which == "axis" else None, initial={"narrative": axis.narrative})
    objective_form = forms.ObjectiveForm(request.POST if which == "objective" else None, prefix="objective")
    try:
        if which == "axis" and axis_form.is_valid():
            services.update_axis(user=user, axis=axis, narrative=axis_form.cleaned_data["narrative"])
            messages.success(request, _("Narrative saved."))
            return redirect(reverse("planning:programme_detail", args=[programme.pk]) + f"#axis-{axis.pk}")
        if which == "objective" and objective_form.is_valid():
            services.create_objective(
                user=user,
                axis=axis,
                title=objective_form.cleaned_data["title"],
                description=objective_form.cleaned_data["description"],
            )
            messages.success(request, _("Objective added."))
            return redirect("planning:axis_edit", programme_id=programme.pk, axis_id=axis.pk)
    except ValidationError as exc:
        _apply_errors(objective_form if which == "objective" else axis_form, exc)
    objectives = [o for o in _objectives(user, programme) if o.axis_id == axis.pk]
    return render(
        request,
        "planning/axis_form.html",
        _page(programme, axis=axis, axis_form=axis_form, objective_form=objective_form, objectives=objectives),
    )


# --------------------------------------------------------------------------- actions


@require_GET
def actions_table(request: HttpRequest, programme_id: int) -> HttpResponse:
    programme = _programme(request, programme_id)
    user = agent(request)
    axes = _axes(user, programme)
    leads = _leads(user, programme)
    form = forms.ActionFilterForm(request.GET or None, axes=axes, leads=leads)
    actions = selectors.actions_table(user, programme, form.filters())
    context = _page(
        programme,
        form=form,
        actions=actions,
        permissions=_permissions(request, programme),
        totals=selectors.budget_totals(list(actions)),
    )
    if _is_htmx(request) and request.headers.get("HX-Target") == "actions-results":
        return render(request, "planning/_actions_rows.html", context)
    return render(request, "planning/actions_table.html", context)


def _action_form(
    request: HttpRequest, programme: Programme, data: Any = None, *, action: Action | None = None, **kwargs: Any
) -> forms.ActionForm:
    user = agent(request)
    return forms.ActionForm(
        data,
        axes=_axes(user, programme),
        objectives=_objectives(user, programme),
        leads=_leads(user, programme, action.lead if action is not None else None),
        units=_partner_units(user),
        # What headquarters decides shows, but only headquarters changes it (one rule, in the policy).
        statuses=[
            (value, label)
            for value, label in ActionStatus.choices
            if services.can_set_action_status(user, programme, value) or (action is not None and action.status == value)
        ],
        may_grant_budget=services.can_grant_budget(user, programme),
        **kwargs,
    )


def _action_kwargs(form: forms.ActionForm, programme: Programme, user: User) -> dict[str, Any] | None:
    """The service's keyword arguments from a valid form (None: a dispatch reference is unknown)."""
    fields = form.service_fields()
    axes = {a.pk: a for a in _axes(user, programme)}
    objectives = {o.pk: o for o in _objectives(user, programme)}
    leads = {u.pk: u for u in _leads(user, programme)}
    fields["axis"] = axes[fields["axis"]]
    fields["objective"] = objectives.get(fields["objective"]) if fields.get("objective") else None
    if fields.get("lead") and fields["lead"] not in leads:
        from chancery.accounts.models import User

        fields["lead"] = User.objects.visible_to(user).filter(pk=fields["lead"]).first()
    else:
        fields["lead"] = leads.get(fields["lead"]) if fields.get("lead") else None
    dispatches = forms.resolve_dispatches(form, user)
    if dispatches is None:
        return None
    fields["dispatches"] = dispatches
    return fields


def _after_action_saved(request: HttpRequest, programme: Programme, action: Action, verb: str) -> HttpResponse:
    messages.success(request, verb)
    action.programme = programme
    for warning in action.date_warnings():
        messages.warning(request, warning)
    return redirect(reverse("planning:programme_detail", args=[programme.pk]) + f"#action-{action.pk}")


@require_http_methods(["GET", "POST"])
def action_create(request: HttpRequest, programme_id: int) -> HttpResponse:
    programme = _programme(request, programme_id)
    _require(_permissions(request, programme), "edit")
    initial: dict[str, Any] = {"currency": "EUR", "priority": "medium", "status": "proposed", "progress": 0}
    if request.GET.get("axis", "").isdigit():
        initial["axis"] = int(request.GET["axis"])
    if request.GET.get("objective", "").isdigit():
        initial["objective"] = int(request.GET["objective"])
    form = _action_form(request, programme, request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        kwargs = _action_kwargs(form, programme, agent(request))
        if kwargs is not None:
            title = kwargs.pop("title")
            axis = kwargs.pop("axis")
            try:
                action = services.create_action(
                    user=agent(request), programme=programme, axis=axis, title=title, **kwargs
                )
            except ValidationError as exc:
                _apply_errors(form, exc, {"dispatches": "dispatch_references"})
            else:
                return _after_action_saved(request, programme, action, _("Action added."))
    warnings = forms.date_warnings(programme, getattr(form, "cleaned_data", {}))
    return render(request, "planning/action_form.html", _page(programme, form=form, action=None, warnings=warnings))


@require_http_methods(["GET", "POST"])
def action_edit(request: HttpRequest, programme_id: int, action_id: int) -> HttpResponse:
    user = agent(request)
    programme = _programme(request, programme_id)
    action = _action(request, programme, action_id)
    _require(_permissions(request, programme), "edit")
    conflict: Action | None = None
    if request.method == "POST":
        form = _action_form(request, programme, request.POST, action=action)
        if form.is_valid():
            kwargs = _action_kwargs(form, programme, user)
            if kwargs is not None:
                try:
                    action = services.update_action(
                        user=user,
                        action=action,
                        lock_version=form.cleaned_data.get("lock_version"),
                        **kwargs,
                    )
                except services.ActionConflict as exc:
                    # Keep what the agent typed; the next save is a deliberate overwrite of the newer version.
                    conflict = selectors.action_detail(user, action.pk)
                    data = request.POST.copy()
                    data["lock_version"] = str(exc.current)
                    form = _action_form(request, programme, data, action=action)
                    form.is_valid()
                    form.add_error(None, str(exc))
                except ValidationError as exc:
                    _apply_errors(form, exc, {"dispatches": "dispatch_references"})
                else:
                    return _after_action_saved(request, programme, action, _("Action saved."))
    else:
        references = " ".join(d.reference or "" for d in selectors.action_dispatches(user, action))
        form = _action_form(
            request,
            programme,
            initial={
                "axis": action.axis_id,
                "objective": action.objective_id,
                "title": action.title,
                "description": action.description,
                "lead": action.lead_id,
                "partner_units": [u.pk for u in action.partner_units.all()],
                "start_date": action.start_date,
                "end_date": action.end_date,
                "target_date": action.target_date,
                "priority": action.priority,
                "budget_requested": action.budget_requested,
                "budget_approved": action.budget_approved,
                "budget_spent": action.budget_spent,
                "currency": action.currency,
                "status": action.status,
                "progress": action.progress,
                "risk_note": action.risk_note,
                "dispatch_references": references.strip(),
                "lock_version": action.lock_version,
            },
            action=action,
        )
    if form.is_bound and hasattr(form, "cleaned_data"):
        warnings = forms.date_warnings(programme, form.cleaned_data)
    else:
        action.programme = programme
        warnings = action.date_warnings()
    return render(
        request,
        "planning/action_form.html",
        _page(programme, form=form, action=action, conflict=conflict, warnings=warnings),
    )


# --------------------------------------------------------------------------- timeline and calendar


def _slot(pct: float) -> int:
    """The 1-based grid column where a position given in % of the period falls."""
    return min(GANTT_COLUMNS, max(1, 1 + math.floor(pct * GANTT_COLUMNS / 100)))


def _span(offset_pct: float, width_pct: float) -> tuple[int, int]:
    start = _slot(offset_pct)
    end = min(GANTT_COLUMNS + 1, max(start + 1, math.ceil((offset_pct + width_pct) * GANTT_COLUMNS / 100) + 1))
    return start, end


def gantt_layout(data: dict[str, Any]) -> dict[str, Any]:
    """Grid columns (classes gs-N / ge-N) for the timeline selector's percentages."""
    start: date = data["start"]
    end: date = data["end"]
    span = max((end - start).days + 1, 1)
    months = []
    marks = data["months"]
    many_years = end.year - start.year >= 2
    for index, (first, _label) in enumerate(marks):
        following = marks[index + 1][0] if index + 1 < len(marks) else None
        if many_years and first.month not in (1, 4, 7, 10):
            continue
        if many_years:
            following = next((m for m, _l in marks[index + 1 :] if m.month in (1, 4, 7, 10)), None)
        offset = 100 * max((first - start).days, 0) / span
        stop = 100 * ((following - start).days if following else span) / span
        gs = _slot(offset)
        ge = max(gs + 1, min(GANTT_COLUMNS + 1, _slot(stop) if following else GANTT_COLUMNS + 1))
        label = f"T{(first.month - 1) // 3 + 1} {first.year}" if many_years else first
        months.append({"first": first, "label": label, "quarter": many_years, "gs": gs, "ge": ge})
    axes = []
    for block in data["axes"]:
        rows = []
        for row in block["rows"]:
            gs, ge = _span(row.offset_pct, row.width_pct)
            if row.milestone:
                ge = gs + 1
            rows.append({"row": row, "action": row.action, "gs": gs, "ge": ge})
        axes.append({"axis": block["axis"], "rows": rows})
    today = data.get("today_pct")
    return {
        "months": months,
        "axes": axes,
        "today": _slot(today) if today is not None else None,
        "undated": data["undated"],
        "start": start,
        "end": end,
    }


@require_GET
def timeline(request: HttpRequest, programme_id: int) -> HttpResponse:
    programme = _programme(request, programme_id)
    data = selectors.timeline(agent(request), programme)
    return render(request, "planning/timeline.html", _page(data["programme"], gantt=gantt_layout(data)))


def _month_from(request: HttpRequest) -> tuple[int, int]:
    today = timezone.localdate()
    text = request.GET.get("month", "")
    try:
        year_text, month_text = text.split("-", 1)
        year, month = int(year_text), int(month_text)
        if 2000 <= year <= 2100 and 1 <= month <= 12:
            return year, month
    except ValueError:
        pass
    return today.year, today.month


@require_GET
def calendar_view(request: HttpRequest) -> HttpResponse:
    year, month = _month_from(request)
    mine = request.GET.get("mine") == "1"
    data = selectors.calendar(agent(request), year, month, mine_only=mine)
    return render(
        request,
        "planning/calendar.html",
        {
            **data,
            "first_day": date(year, month, 1),
            "today": timezone.localdate(),
            "mine": mine,
            "previous_month": "{:04d}-{:02d}".format(*data["previous"]),
            "next_month": "{:04d}-{:02d}".format(*data["next"]),
            "this_month": timezone.localdate().strftime("%Y-%m"),
            "marking": selectors.page_marking(a.programme for a in data["actions"]),
        },
    )


@require_GET
def calendar_ics(request: HttpRequest) -> HttpResponse:
    body = selectors.ics_for_user(agent(request), host=request.get_host().split(":")[0] or "chancery.invalid")
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="chancery-my-actions.ics"'
    return response


# --------------------------------------------------------------------------- indicators and measurements


@require_http_methods(["GET", "POST"])
def indicator_create(request: HttpRequest, programme_id: int) -> HttpResponse:
    return _indicator_form(request, programme_id, None)


@require_http_methods(["GET", "POST"])
def indicator_edit(request: HttpRequest, programme_id: int, indicator_id: int) -> HttpResponse:
    return _indicator_form(request, programme_id, indicator_id)


def _indicator_form(request: HttpRequest, programme_id: int, indicator_id: int | None) -> HttpResponse:
    programme = _programme(request, programme_id)
    indicator = _indicator(request, programme, indicator_id) if indicator_id else None
    _require(_permissions(request, programme), "edit")
    user = agent(request)
    axes = _axes(user, programme)
    objectives = _objectives(user, programme)
    initial: dict[str, Any] = {}
    if indicator is not None:
        initial = {
            name: getattr(indicator, name)
            for name in (
                "label",
                "unit",
                "direction",
                "data_source",
                "baseline_value",
                "baseline_year",
                "approved_target",
                "revised_target",
                "target_year",
                "aggregation",
            )
        }
        initial["axis"] = indicator.axis_id
        initial["objective"] = indicator.objective_id
        initial["lock_version"] = indicator.lock_version
    else:
        initial = {"target_year": programme.last_year}
        if request.GET.get("axis", "").isdigit():
            initial["axis"] = int(request.GET["axis"])
    lock_target = bool(indicator is not None and programme.is_approved)
    form = forms.IndicatorForm(
        request.POST or None, initial=initial, axes=axes, objectives=objectives, lock_approved_target=lock_target
    )
    if request.method == "POST" and form.is_valid():
        fields = dict(form.cleaned_data)
        fields["axis"] = {a.pk: a for a in axes}.get(fields["axis"]) if fields.get("axis") else None
        fields["objective"] = (
            {o.pk: o for o in objectives}.get(fields["objective"]) if fields.get("objective") else None
        )
        if fields["objective"] is not None and fields["axis"] is None:
            fields["axis"] = fields["objective"].axis
        try:
            if indicator is None:
                fields.pop("lock_version", None)
                label = fields.pop("label")
                indicator = services.create_indicator(user=user, programme=programme, label=label, **fields)
                messages.success(request, _("Indicator added."))
            else:
                services.update_indicator(user=user, indicator=indicator, **fields)
                messages.success(request, _("Indicator saved."))
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            return redirect(reverse("planning:programme_detail", args=[programme.pk]) + f"#indicator-{indicator.pk}")
    return render(request, "planning/indicator_form.html", _page(programme, form=form, indicator=indicator))


@require_http_methods(["GET", "POST"])
def measurement_create(request: HttpRequest, programme_id: int, indicator_id: int) -> HttpResponse:
    user = agent(request)
    programme = _programme(request, programme_id)
    indicator = _indicator(request, programme, indicator_id)
    permissions = _permissions(request, programme)
    form = forms.MeasurementForm(
        request.POST or None,
        request.FILES or None,
        initial={"period_start": services.default_measurement_day(programme, timezone.localdate())},
    )
    if request.method == "POST":
        _require(permissions, "record_progress")
        if form.is_valid():
            data = form.cleaned_data
            try:
                stored = None
                upload = data.get("evidence_file")
                if upload is not None:
                    stored = services.store_evidence_file(
                        user=user,
                        programme=programme,
                        filename=upload.name,
                        content=upload.read(),
                        content_type=upload.content_type or "",
                    )
                services.record_measurement(
                    user=user,
                    indicator=indicator,
                    period_type=data["period_type"],
                    period_start=data["period_start"],
                    value=data["value"],
                    evidence=data.get("evidence", ""),
                    evidence_file=stored,
                )
            except ValidationError as exc:
                _apply_errors(form, exc, {"file": "evidence_file"})
            else:
                messages.success(request, _("Measurement recorded."))
                return redirect("planning:measurement_create", programme_id=programme.pk, indicator_id=indicator.pk)
    values = selectors.measurements(user, indicator)
    return render(
        request,
        "planning/measurement_form.html",
        _page(
            programme,
            indicator=indicator,
            form=form,
            measurements=values,
            actual=indicator.actual(list(values)),
            can_record=permissions.get("record_progress", False),
        ),
    )


def _measurement(request: HttpRequest, indicator: Indicator, measurement_id: int) -> Measurement:
    measurement = selectors.measurements(agent(request), indicator).filter(pk=measurement_id).first()
    if measurement is None:
        raise Http404("not found")
    return measurement


@require_http_methods(["GET", "POST"])
def measurement_edit(request: HttpRequest, programme_id: int, indicator_id: int, measurement_id: int) -> HttpResponse:
    """Correct a recorded value (its period stays: to move it, delete it and record it again)."""
    programme = _programme(request, programme_id)
    indicator = _indicator(request, programme, indicator_id)
    measurement = _measurement(request, indicator, measurement_id)
    _require(_permissions(request, programme), "record_progress")
    form = forms.MeasurementCorrectionForm(
        request.POST or None, initial={"value": measurement.value, "evidence": measurement.evidence}
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.update_measurement(
                user=agent(request), measurement=measurement, value=form.cleaned_data["value"],
                evidence=form.cleaned_data.get("evidence", ""),
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Measurement corrected."))
            return redirect("planning:measurement_create", programme_id=programme.pk, indicator_id=indicator.pk)
    context = _page(programme, indicator=indicator, measurement=measurement, form=form)
    return render(request, "planning/measurement_edit.html", context)


@require_POST
def measurement_delete(request: HttpRequest, programme_id: int, indicator_id: int, measurement_id: int) -> HttpResponse:
    programme = _programme(request, programme_id)
    indicator = _indicator(request, programme, indicator_id)
    measurement = _measurement(request, indicator, measurement_id)
    _require(_permissions(request, programme), "record_progress")
    try:
        services.delete_measurement(user=agent(request), measurement=measurement)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Measurement deleted."))
    return redirect("planning:measurement_create", programme_id=programme.pk, indicator_id=indicator.pk)


# --------------------------------------------------------------------------- achievements


@require_http_methods(["GET", "POST"])
def achievement_create(request: HttpRequest, programme_id: int) -> HttpResponse:
    return _achievement_form(request, programme_id, None)


@require_http_methods(["GET", "POST"])
def achievement_edit(request: HttpRequest, programme_id: int, achievement_id: int) -> HttpResponse:
    return _achievement_form(request, programme_id, achievement_id)


def _save_achievement(
    user: User, programme: Programme, achievement: Achievement | None, data: dict[str, Any], files: list[Any]
) -> Achievement:
    if achievement is None:
        achievement = services.create_achievement(
            user=user,
            programme=programme,
            kind=data.pop("kind"),
            date=data.pop("date"),
            title=data.pop("title"),
            **data,
        )
    else:
        services.update_achievement(user=user, achievement=achievement, **data)
    for upload in files:
        services.add_achievement_evidence(
            user=user,
            achievement=achievement,
            filename=upload.name,
            content=upload.read(),
            content_type=upload.content_type or "",
        )
    return achievement


def _achievement_form(request: HttpRequest, programme_id: int, achievement_id: int | None) -> HttpResponse:
    programme = _programme(request, programme_id)
    achievement = _achievement(request, programme, achievement_id) if achievement_id else None
    _require(_permissions(request, programme), "record_progress")
    user = agent(request)
    actions = list(selectors.actions_table(user, programme))
    initial: dict[str, Any] = {"date": timezone.localdate()}
    if request.GET.get("action", "").isdigit():
        initial["actions"] = [int(request.GET["action"])]
    if achievement is not None:
        initial = {
            name: getattr(achievement, name) for name in ("kind", "date", "title", "description", "outlet", "link")
        }
        initial["actions"] = [a.pk for a in Action.objects.visible_to(user).filter(achievements=achievement)]
        initial["dispatch_references"] = " ".join(
            d.reference or "" for d in selectors.achievement_dispatches(user, achievement)
        ).strip()
    form = forms.AchievementForm(request.POST or None, request.FILES or None, initial=initial, actions=actions)
    if request.method == "POST" and form.is_valid():
        dispatches = forms.resolve_dispatches(form, user)
        if dispatches is not None:
            data = dict(form.cleaned_data)
            files = data.pop("evidence_files")
            data.pop("dispatch_references")
            data["dispatches"] = dispatches
            try:
                with transaction.atomic():  # the achievement and its files: all or nothing
                    achievement = _save_achievement(user, programme, achievement, data, files)
            except ValidationError as exc:
                _apply_errors(form, exc, {"dispatches": "dispatch_references", "file": "evidence_files"})
                if achievement_id is None:
                    achievement = None
            else:
                messages.success(request, _("Achievement recorded."))
                return redirect(
                    reverse("planning:programme_detail", args=[programme.pk]) + f"#achievement-{achievement.pk}"
                )
    evidence = (
        list(AchievementEvidence.objects.visible_to(user).filter(achievement=achievement).order_by("pk"))
        if achievement is not None
        else []
    )
    return render(
        request,
        "planning/achievement_form.html",
        _page(programme, form=form, achievement=achievement, evidence=evidence),
    )


def _file_response(request: HttpRequest, stored: Any, programme: Programme, action: str) -> HttpResponse:
    """A stored file as a download (decrypted for a reader who passed the gate; audited)."""
    try:
        data = planning_storage.read_file(stored, programme)
    except planning_storage.StorageError as exc:
        raise Http404("not found") from exc
    record_event(
        action=action,
        actor=request.user,
        target=stored,
        request=request,
        details={"programme": programme.pk, "sha256": stored.sha256},
    )
    return file_download(data, filename=stored.filename)


@require_GET
def evidence_download(request: HttpRequest, programme_id: int, evidence_id: int) -> HttpResponse:
    programme = _programme(request, programme_id)
    evidence = selectors.evidence_detail(agent(request), evidence_id, programme=programme)
    return _file_response(request, evidence, programme, "planning.evidence_downloaded")


@require_GET
def evidence_file_download(request: HttpRequest, programme_id: int, file_id: int) -> HttpResponse:
    """A file supporting a measurement."""
    programme = _programme(request, programme_id)
    stored = selectors.evidence_file_detail(agent(request), file_id, programme=programme)
    return _file_response(request, stored, programme, "planning.evidence_file_downloaded")


# --------------------------------------------------------------------------- periodic progress


@require_http_methods(["GET", "POST"])
def period_list(request: HttpRequest, programme_id: int) -> HttpResponse:
    programme = _programme(request, programme_id)
    permissions = _permissions(request, programme)
    form = forms.PeriodsForm(request.POST or None)
    if request.method == "POST":
        _require(permissions, "manage_periods")
        if form.is_valid():
            try:
                services.create_reporting_periods(
                    user=agent(request),
                    programme=programme,
                    period_type=form.cleaned_data["period_type"],
                    deadline_days=form.cleaned_data["deadline_days"],
                )
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(request, _("Reporting periods set."))
                return redirect("planning:period_list", programme_id=programme.pk)
    return render(
        request,
        "planning/period_list.html",
        _page(
            programme,
            periods=selectors.periods(agent(request), programme),
            form=form,
            permissions=permissions,
            today=timezone.localdate(),
        ),
    )


def _row_errors(exc: ValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {key: list(value) for key, value in exc.message_dict.items()}
    return {"__all__": list(exc.messages)}


@require_http_methods(["GET", "POST"])
def progress_update(request: HttpRequest, programme_id: int, period_id: int) -> HttpResponse:
    user = agent(request)
    programme = _programme(request, programme_id)
    period = selectors.period_detail(user, period_id, programme=programme)
    sheet = selectors.progress_sheet(user, period)
    form = forms.ProgressSheetForm(request.POST or None, rows=sheet["rows"], indicators=sheet["indicators"])
    if not sheet["editable"]:
        for field in form.fields.values():
            field.disabled = True
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        if not sheet["editable"]:
            raise Http404("not found")
        if form.is_valid():
            try:
                services.record_progress_updates(
                    user=user,
                    period=period,
                    rows=form.service_rows(),
                    measurements=form.service_measurements(),
                )
            except services.ActionConflict as exc:
                form.add_error(
                    None,
                    _("“%(title)s” was changed by someone else meanwhile. Nothing was saved: reload the page.")
                    % {"title": exc.action.title},
                )
            except ValidationError as exc:
                errors = _row_errors(exc)
                form.add_error(None, _("Nothing was saved: correct the rows marked below."))
                for message in errors.get("__all__", []):
                    form.add_error(None, message)
            else:
                messages.success(request, _("Progress update saved for %(period)s.") % {"period": period.label})
                return redirect("planning:progress_update", programme_id=programme.pk, period_id=period.pk)
        else:
            form.add_error(None, _("Nothing was saved: correct the rows marked below."))
    rows = []
    for row in sheet["rows"]:
        pk_ = row["action"].pk
        rows.append(
            {
                **row,
                "progress": form[f"a{pk_}-progress"],
                "status": form[f"a{pk_}-status"],
                "note": form[f"a{pk_}-note"],
                "lock": form[f"a{pk_}-lock"],
                "errors": errors.get(f"action-{pk_}", []),
            }
        )
    indicators = []
    for item in sheet["indicators"]:
        pk_ = item["indicator"].pk
        indicators.append(
            {
                **item,
                "value": form[f"i{pk_}-value"],
                "evidence": form[f"i{pk_}-evidence"],
                "errors": errors.get(f"indicator-{pk_}", []),
            }
        )
    return render(
        request,
        "planning/progress_update.html",
        _page(
            programme,
            period=period,
            form=form,
            rows=rows,
            indicators=indicators,
            overdue=sheet["overdue"],
            editable=sheet["editable"],
            missing_count=sum(1 for r in rows if r["missing"]),
        ),
    )


# --------------------------------------------------------------------------- versions


def _field_labels() -> dict[str, str]:
    return {
        "start_date": _("Start"),
        "end_date": _("End"),
        "target_date": _("Target date"),
        "budget_requested": _("Budget requested"),
        "budget_approved": _("Budget approved"),
        "budget_spent": _("Budget spent"),
        "currency": _("Currency"),
        "status": _("Status"),
        "title": _("Title"),
        "description": _("Description"),
        "axis": _("Axis"),
        "objective": _("Objective"),
        "lead": _("Lead"),
        "priority": _("Priority"),
        "progress": _("Progress %"),
        "risk_note": _("Risks"),
        "partner_units": _("Partner units"),
        "approved_target": _("Approved target"),
        "revised_target": _("Revised target"),
        "target_year": _("Target year"),
        "label": _("Label"),
        "unit": _("Unit"),
        "direction": _("Direction"),
        "data_source": _("Data source"),
        "baseline_value": _("Baseline value"),
        "baseline_year": _("Baseline year"),
    }


def _shown(field: str, value: Any) -> Any:
    """A snapshot value as people read it (labels for choices, dates as dates)."""
    if value in (None, "", []):
        return "—"
    if field == "status":
        return dict(ActionStatus.choices).get(value, value)
    if field == "priority":
        return dict(Priority.choices).get(value, value)
    if field == "direction":
        return dict(Direction.choices).get(value, value)
    if field.endswith("_date"):
        try:
            return date.fromisoformat(value)
        except (TypeError, ValueError):
            return value
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return value


def diff_view(comparison: dict[str, Any]) -> dict[str, Any]:
    """Rows of a comparison with, for each changed one, what kind of change and old → new values."""
    diff = comparison["diff"]
    labels = _field_labels()
    kinds = {
        "actions_redated": ("redated", _("re-dated")),
        "actions_rebudgeted": ("rebudgeted", _("re-budgeted")),
        "actions_status_changed": ("status", _("status changed")),
        "actions_edited": ("edited", _("edited")),
        "indicators_target_revised": ("target", _("target revised")),
        "indicators_edited": ("edited", _("edited")),
    }
    found: dict[tuple[str, int], dict[str, Any]] = {}
    if diff is not None:
        for group, kind in kinds.items():
            scope = "indicator" if group.startswith("indicators") else "action"
            for change in getattr(diff, group):
                entry = found.setdefault((scope, change.id), {"kinds": [], "fields": []})
                entry["kinds"].append({"key": kind[0], "label": kind[1]})
                for name, (old, new) in change.changes.items():
                    entry["fields"].append(
                        {"label": labels.get(name, name), "old": _shown(name, old), "new": _shown(name, new)}
                    )

    def rows(items: list[dict[str, Any]], scope: str) -> list[dict[str, Any]]:
        out = []
        for row in items:
            side = row["current"] or row["baseline"] or {}
            entry = found.get((scope, row["id"]), {"kinds": [], "fields": []})
            out.append(
                {
                    **row,
                    "title": side.get("title") or side.get("label", ""),
                    "kinds": entry["kinds"],
                    "fields": entry["fields"],
                    "old": _summary(row["baseline"], scope),
                    "new": _summary(row["current"], scope),
                }
            )
        order = {"removed": 0, "added": 1, "changed": 2, "same": 3}
        return sorted(out, key=lambda r: order.get(r["state"], 9))

    actions = rows(comparison["rows"], "action")
    indicators = rows(comparison["indicators"], "indicator")
    totals = []
    if diff is not None:
        for currency, values in diff.budget_totals.items():
            totals.append(
                {
                    "currency": currency,
                    "items": [
                        {
                            "label": labels[name],
                            "old": values[f"{name}_old"],
                            "new": values[f"{name}_new"],
                            "delta": values[name],
                        }
                        for name in ("budget_requested", "budget_approved", "budget_spent")
                    ],
                }
            )
    counts = {
        state: sum(1 for r in actions if r["state"] == state) for state in ("added", "removed", "changed", "same")
    }
    return {
        "actions": actions,
        "indicators": indicators,
        "totals": totals,
        "counts": counts,
        "axes_added": diff.axes_added if diff else [],
        "axes_removed": diff.axes_removed if diff else [],
    }


def _summary(item: dict[str, Any] | None, scope: str) -> dict[str, Any] | None:
    if item is None:
        return None
    if scope == "indicator":
        return {
            "approved_target": item.get("approved_target"),
            "revised_target": item.get("revised_target"),
            "target_year": item.get("target_year"),
            "unit": item.get("unit"),
        }
    return {
        "start": _shown("start_date", item.get("start_date")),
        "end": _shown("end_date", item.get("end_date")),
        "target": _shown("target_date", item.get("target_date")),
        "budget": item.get("budget_approved") or item.get("budget_requested"),
        "currency": item.get("currency"),
        "status": _shown("status", item.get("status")),
    }


@require_GET
def version_compare(request: HttpRequest, programme_id: int) -> HttpResponse:
    programme = _programme(request, programme_id)
    versions = list(selectors.version_list(agent(request), programme))
    form = forms.VersionPickForm(request.GET or None, versions=versions)
    comparison = None
    if versions and form.is_bound and form.is_valid():
        comparison = selectors.compare_versions(
            agent(request), programme, form.cleaned_data["old"], form.cleaned_data.get("new")
        )
        comparison["view"] = diff_view(comparison)
    return render(
        request,
        "planning/version_compare.html",
        _page(programme, versions=versions, form=form, comparison=comparison),
    )


@require_GET
def baseline(request: HttpRequest, programme_id: int) -> HttpResponse:
    programme = _programme(request, programme_id)
    comparison = selectors.baseline_comparison(agent(request), programme)
    comparison["view"] = diff_view(comparison) if comparison["diff"] is not None else None
    return render(request, "planning/baseline.html", _page(comparison["programme"], comparison=comparison))


# --------------------------------------------------------------------------- spreadsheets


def _workbook_response(content: bytes, filename: str) -> HttpResponse:
    return file_download(content, filename=filename, content_type=WORKBOOK_TYPE)


@require_GET
def export_xlsx(request: HttpRequest, programme_id: int) -> HttpResponse:
    programme = _programme(request, programme_id)
    content = spreadsheets.export_programme(programme)
    record_event(
        action="planning.programme_exported",
        actor=request.user,
        target=programme,
        request=request,
        details={"format": "xlsx", "size": len(content)},
    )
    return _workbook_response(content, f"programme-{programme.mission.code.replace('/', '-')}-{programme.year}.xlsx")


@require_GET
def blank_template(request: HttpRequest) -> HttpResponse:
    return _workbook_response(spreadsheets.blank_template(), "chancery-programme-template.xlsx")


@require_http_methods(["GET", "POST"])
def import_upload(request: HttpRequest, programme_id: int) -> HttpResponse:
    programme = _programme(request, programme_id)
    _require(_permissions(request, programme), "edit")
    form = forms.WorkbookUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["workbook"]
        content = upload.read()
        preview = spreadsheets.parse_programme_workbook(
            content, mission=programme.mission, year=programme.year, programme=programme, filename=upload.name
        )
        if preview.file_errors:
            # The file as a whole is refused: say why, keep nothing.
            form.add_error("workbook", [e.message for e in preview.file_errors])
        else:
            token = spreadsheets.stash_upload(content, user=agent(request), programme=programme, filename=upload.name)
            return redirect(reverse("planning:import_preview", args=[programme.pk]) + f"?token={token}")
    return render(request, "planning/import_upload.html", _page(programme, form=form))


@require_http_methods(["GET", "POST"])
def import_preview(request: HttpRequest, programme_id: int) -> HttpResponse:
    programme = _programme(request, programme_id)
    token = request.POST.get("token") or request.GET.get("token") or ""
    _require(_permissions(request, programme), "edit")
    stashed = spreadsheets.load_stash(token, user=agent(request))
    if stashed is None or stashed[1].get("programme") != programme.pk:
        raise Http404("not found")
    content, meta = stashed
    if request.method == "POST" and request.POST.get("decision") == "cancel":
        spreadsheets.discard_stash(token)
        messages.info(request, _("Import cancelled: nothing was saved."))
        return redirect("planning:programme_detail", programme_id=programme.pk)
    preview = spreadsheets.parse_programme_workbook(
        content, mission=programme.mission, year=programme.year, programme=programme, filename=meta.get("filename", "")
    )
    errors: list[str] = []
    if request.method == "POST" and request.POST.get("decision") == "confirm":
        try:
            spreadsheets.apply_import(preview, user=agent(request), programme=programme)
        except ValidationError as exc:
            errors = list(exc.messages)
        else:
            spreadsheets.discard_stash(token)
            messages.success(request, _("The workbook was imported."))
            return redirect("planning:programme_detail", programme_id=programme.pk)
    return render(
        request,
        "planning/import_preview.html",
        _page(programme, preview=preview, token=token, errors=errors, filename=meta.get("filename", "")),
    )
