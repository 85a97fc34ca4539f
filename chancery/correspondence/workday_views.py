"""Pages of the registry's working day: the circuit on a draft, internal notes, the history
tab, the signature check and the signed package, the declassification review queue and the
units' reply templates. Thin, like `views`: one selector or service call each; a dispatch out
of scope, or an act the agent may not take, answers 404."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from chancery.accounts.access import agent
from chancery.accounts.models import User
from chancery.accounts.roles import Capability
from chancery.core.access import require_capability
from chancery.core.downloads import file_download
from chancery.correspondence import circuits, history, notes, packages, review, selectors
from chancery.correspondence.forms import apply_errors
from chancery.correspondence.models import DispatchStatus
from chancery.correspondence.views import _back, _detail, _page, _render, domain_errors, page_marking
from chancery.correspondence.workday_forms import (
    ApproveForm,
    NoteForm,
    OpinionForm,
    RemarkForm,
    ReplyTemplateForm,
    ReviewForm,
    SubmitForm,
    WorkflowForm,
)
from chancery.correspondence.workday_policy import (
    can_export_package,
    can_submit,
    can_take_step,
    can_withdraw,
    cleared_for,
)
from chancery.correspondence.workflow_models import StepKind
from chancery.organisation.models import Unit

TABS = ("letter", "history", "notes")


def _me(request: HttpRequest) -> User:
    """The signed-in agent (the login middleware and the API's token auth guarantee one)."""
    return cast(User, request.user)


def _submit_form(user: User, dispatch: Any, data: Any = None) -> SubmitForm:
    units = [u for u in Unit.objects.visible_to(user).active().order_by("code") if u.pk != dispatch.sending_unit_id]
    allowed = [dispatch.sending_unit] + ([dispatch.sending_unit.parent] if dispatch.sending_unit.parent else [])
    default_holders = {c.pk for spec in circuits.default_circuit(dispatch) for c in circuits.candidates(spec, dispatch)}
    validators = [
        v
        for unit in allowed
        for v in selectors.unit_members(user, unit)
        if v.has_capability(Capability.VALIDATE_DISPATCH, unit=unit)
        and cleared_for(v, dispatch)
        and v.pk not in default_holders
    ]
    return SubmitForm(data, units=units, validators=validators, auto_id="submit-%s")


def detail_context(request: HttpRequest, dispatch: Any) -> dict[str, Any]:
    """What the dispatch page shows of the working day (merged into its context)."""
    user = _me(request)
    tab = request.GET.get("tab", "letter")
    tab = tab if tab in TABS else "letter"
    # The circuit (and its remarks) is the sending side's business: recipients do not see it.
    steps = circuits.circuit_steps(dispatch) if history.saw_draft(user, dispatch) else []
    mine = [s for s in steps if can_take_step(user, s, dispatch)]
    context: dict[str, Any] = {
        "tab": tab,
        "circuit": steps,
        "circuit_live": dispatch.status == DispatchStatus.SUBMITTED,
        "my_visa": next((s for s in mine if s.kind == StepKind.VISA), None),
        "my_opinion": next((s for s in mine if s.kind == StepKind.AVIS), None),
        "can_withdraw": can_withdraw(user, dispatch),
        "can_export": can_export_package(user, dispatch),
        "note_unit": notes.note_unit(user, dispatch),
    }
    if can_submit(user, dispatch):
        context["submit_form"] = _submit_form(user, dispatch)
        context["default_circuit"] = circuits.default_circuit(dispatch)
    if context["my_visa"]:
        context["approve_form"] = ApproveForm(auto_id="approve-%s")
        context["return_form"] = RemarkForm(auto_id="return-%s")
    if context["my_opinion"]:
        context["opinion_form"] = OpinionForm(auto_id="opinion-%s")
    context["workday_actions"] = bool(
        context.get("submit_form")
        or context["my_visa"]
        or context["my_opinion"]
        or context["can_withdraw"]
        or dispatch.is_sent
    )
    if tab == "history":
        context["history"] = history.history(user, dispatch)
    if tab == "notes":
        context["notes"] = notes.notes_for(user, dispatch)
        context["note_form"] = NoteForm(auto_id="note-%s") if context["note_unit"] else None
    return context


def _errors_to_messages(request: HttpRequest, form: Any) -> None:
    for field, errors in form.errors.items():
        for error in errors:
            label = form.fields[field].label if field in form.fields else ""
            messages.error(request, f"{label}: {error}" if label else str(error))


# --- circuit -----------------------------------------------------------------------------


@require_POST
@domain_errors
def submit(request: HttpRequest, pk: int) -> HttpResponse:
    user = _me(request)
    dispatch = _detail(request, pk, audit=False)
    if not can_submit(user, dispatch):
        raise Http404("not found")
    form = _submit_form(user, dispatch, request.POST)
    if not form.is_valid():
        _errors_to_messages(request, form)
        return _back(dispatch)
    chosen = set(form.cleaned_data.get("opinions") or [])
    opinion_units = [u for u in form.units if u.code in chosen]
    visas = set(form.cleaned_data.get("extra_visas") or [])
    circuits.submit(
        actor=user,
        dispatch=dispatch,
        opinions=opinion_units,
        extra_visas=[v for v in form.validators if v.username in visas],
    )
    messages.success(request, _("The draft is submitted for validation."))
    return _back(dispatch)


@require_POST
@domain_errors
def approve(request: HttpRequest, pk: int) -> HttpResponse:
    dispatch = _detail(request, pk, audit=False)
    form = ApproveForm(request.POST)
    comment = form.cleaned_data.get("comment", "") if form.is_valid() else ""
    result = circuits.approve(actor=_me(request), dispatch=dispatch, comment=comment)
    if result.status in (DispatchStatus.SENT, DispatchStatus.CLOSED):
        messages.success(
            request,
            _("Visa given: the dispatch is signed and sent under reference %(ref)s.") % {"ref": result.reference},
        )
    else:
        messages.success(request, _("Visa given: the draft moves to the next step."))
    return _back(dispatch)


@require_POST
@domain_errors
def return_draft(request: HttpRequest, pk: int) -> HttpResponse:
    dispatch = _detail(request, pk, audit=False)
    form = RemarkForm(request.POST)
    if not form.is_valid():
        _errors_to_messages(request, form)
        return _back(dispatch)
    circuits.return_draft(
        actor=_me(request),
        dispatch=dispatch,
        comment=form.cleaned_data["comment"],
    )
    messages.success(request, _("The draft is returned to its drafter with your remark."))
    return _back(dispatch)


@require_POST
@domain_errors
def give_opinion(request: HttpRequest, pk: int) -> HttpResponse:
    dispatch = _detail(request, pk, audit=False)
    form = OpinionForm(request.POST)
    if not form.is_valid():
        _errors_to_messages(request, form)
        return _back(dispatch)
    circuits.give_opinion(
        actor=_me(request),
        dispatch=dispatch,
        opinion=form.cleaned_data["opinion"],
        comment=form.cleaned_data.get("comment", ""),
    )
    messages.success(request, _("Your opinion is recorded."))
    return _back(dispatch)


@require_POST
@domain_errors
def withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    dispatch = _detail(request, pk, audit=False)
    circuits.withdraw(actor=_me(request), dispatch=dispatch)
    messages.success(request, _("The draft is withdrawn from validation; you can change it."))
    return _back(dispatch)


# --- notes, signature, package -----------------------------------------------------------


@require_POST
@domain_errors
def add_note(request: HttpRequest, pk: int) -> HttpResponse:
    dispatch = _detail(request, pk, audit=False)
    form = NoteForm(request.POST)
    if form.is_valid():
        notes.add_note(actor=_me(request), dispatch=dispatch, text=form.cleaned_data["text"])
        messages.success(request, _("The note is added."))
    else:
        _errors_to_messages(request, form)
    return redirect(f"{reverse('correspondence:detail', args=[dispatch.pk])}?tab=notes")


@require_GET
def verify_signature(request: HttpRequest, pk: int) -> HttpResponse:
    dispatch = _detail(request, pk, audit=False)
    if not dispatch.is_sent:
        raise Http404("not signed")
    report = packages.signature_report(dispatch)
    return _render(
        request,
        "correspondence/verify.html",
        {
            "dispatch": dispatch,
            "report": report,
            "marking": page_marking([dispatch]),
        },
    )


@require_GET
def download_package(request: HttpRequest, pk: int) -> HttpResponse:
    dispatch = _detail(request, pk, audit=False)
    if not can_export_package(agent(request), dispatch):
        raise Http404("not sent")
    try:
        data = packages.export_package(dispatch=dispatch, actor=_me(request), request=request)
    except circuits.InvalidState as exc:
        messages.error(request, str(exc))
        return _back(dispatch)
    return file_download(data, filename=packages.package_filename(dispatch), content_type="application/zip")


# --- declassification review -------------------------------------------------------------


@require_GET
@require_capability(Capability.DOWNGRADE)
def review_queue(request: HttpRequest) -> HttpResponse:
    # A page at a time (keyset): each row carries its decision form, the costliest part of the page.
    page = _page(request, review.review_queue(agent(request)), review.REVIEW_ORDER)
    rows = selectors.with_subjects(page.object_list)
    # Every row's decision form is the same empty form but for the dispatch's id (in its address
    # and its fields' ids): rendered once and stamped per row, 50 forms cost what one does
    # (rendered each, they were 130 of the page's 140 ms). `_` is not in a CSRF token's alphabet.
    form = render_to_string(
        "correspondence/_review_form.html",
        {
            "form": ReviewForm(auto_id=f"review-{_STAMP}-%s"),
            "action": reverse("correspondence:review_decide", args=[0]).replace("/0/", f"/{_STAMP}/"),
        },
        request=request,
    )
    return _render(
        request,
        "correspondence/review_queue.html",
        {
            "page": page,
            "rows": [(d, mark_safe(form.replace(_STAMP, str(int(d.pk))))) for d in rows],  # noqa: S308 - rendered above
            "marking": page_marking(rows),
        },
    )


_STAMP = "__dispatch__"


@require_POST
@require_capability(Capability.DOWNGRADE)
@domain_errors
def review_decide(request: HttpRequest, pk: int) -> HttpResponse:
    dispatch = _detail(request, pk, audit=False)
    form = ReviewForm(request.POST)
    if form.is_valid():
        try:
            review.decide(
                actor=_me(request),
                dispatch=dispatch,
                decision=form.cleaned_data["decision"],
                reason=form.cleaned_data["reason"],
                classification=form.cleaned_data["classification"],
                postpone_to=form.cleaned_data.get("postpone_to"),
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Review of %(ref)s recorded.") % {"ref": dispatch.reference})
            return redirect("correspondence:review_queue")
    _errors_to_messages(request, form)
    return redirect("correspondence:review_queue")


# --- reply templates ---------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@require_capability(Capability.DRAFT_DISPATCH)
def reply_templates(request: HttpRequest) -> HttpResponse:
    user = _me(request)
    units = selectors.drafting_units(user)
    managed = [u for u in units if user.has_capability(Capability.VALIDATE_DISPATCH, unit=u)]
    form = ReplyTemplateForm(request.POST or None, units=managed) if managed else None
    if request.method == "POST":
        if form is None:
            raise Http404("not found")
        if form.is_valid():
            unit = next(u for u in managed if u.code == form.cleaned_data["unit"])
            try:
                notes.save_template(
                    actor=user,
                    unit=unit,
                    name=form.cleaned_data["name"],
                    body=form.cleaned_data["body"],
                )
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                messages.success(request, _("The reply template is saved."))
                return redirect("correspondence:reply_templates")
    return _render(
        request,
        "correspondence/reply_templates.html",
        {
            "templates": notes.templates_for(units),
            "form": form,
            "managed": {u.pk for u in managed},
        },
    )


@require_POST
@require_capability(Capability.VALIDATE_DISPATCH)
def delete_reply_template(request: HttpRequest, template_id: int) -> HttpResponse:
    notes.delete_template(actor=_me(request), template_id=template_id)
    messages.success(request, _("The reply template is deleted."))
    return redirect("correspondence:reply_templates")


# --- unit workflow settings --------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@require_capability(Capability.VALIDATE_DISPATCH)
def unit_workflow(request: HttpRequest) -> HttpResponse:
    """A head of unit's default circuit and reminder delays, one unit at a time."""
    user = _me(request)
    units = list(user.units_with(Capability.VALIDATE_DISPATCH))
    if not units:  # a super-administrator heads no unit
        raise Http404("not found")
    unit = next((u for u in units if u.code == request.GET.get("unit")), units[0])
    current = circuits.workflow_of(unit)
    initial = {f: getattr(current, f) for f in notes.WORKFLOW_FIELDS}
    form = WorkflowForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            notes.save_workflow(actor=user, unit=unit, **{f: form.cleaned_data[f] for f in notes.WORKFLOW_FIELDS})
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("The workflow of %(unit)s is saved.") % {"unit": unit.code})
            return redirect(f"{reverse('correspondence:unit_workflow')}?unit={unit.code}")
    return _render(request, "correspondence/unit_workflow.html", {"form": form, "unit": unit, "units": units})


@require_GET
def awaiting(request: HttpRequest) -> HttpResponse:
    """Drafts waiting for the agent's visa or opinion."""
    from chancery.correspondence.views import _dispatch_list

    return _dispatch_list(
        request,
        queryset=circuits.awaiting(agent(request)),
        order=circuits.AWAITING_ORDER,
        title=_("Awaiting my visa or opinion"),
        kind="awaiting",
    )
