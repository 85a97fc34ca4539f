"""Correspondence pages: inboxes, drafts, sent, a dispatch, its actions, the forms.

Views are thin: each reads through one selector (the permission gate) or calls one
service. A dispatch outside the agent's scope answers 404 on every URL that names it;
an action the agent may not take on a dispatch they see answers 404 as well.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

import nh3
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, pgettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from chancery.accounts.access import agent
from chancery.accounts.models import User
from chancery.accounts.roles import Capability
from chancery.audit.services import record_event
from chancery.core.access import require_capability
from chancery.core.classification import Marking
from chancery.core.downloads import file_download
from chancery.core.keyset import NEWER, OLDER, CappedCount, KeysetPage, keyset_page
from chancery.core.middleware import plans_alike
from chancery.correspondence import content, notes, selectors, services
from chancery.correspondence.content import BODY_ATTRIBUTES, BODY_TAGS
from chancery.correspondence.forms import (
    AssignForm,
    DraftForm,
    GrantForm,
    InboxFilterForm,
    MarkingChangeForm,
    RegisterIncomingForm,
    ReplyForm,
    action_formset,
    apply_errors,
    routing_specs,
)
from chancery.correspondence.models import Dispatch, Routing, RoutingKind
from chancery.correspondence.uploads import check_upload
from chancery.notifications.services import mark_target_read
from chancery.organisation.models import Unit

PAGE_SIZE = 50


# --- helpers -----------------------------------------------------------------------------


def page_marking(dispatches: Iterable[Dispatch]) -> Marking | None:
    """The banner of a page listing `dispatches`: the highest level shown, every caveat shown."""
    level = 0
    compartments: set[str] = set()
    for d in dispatches:
        level = max(level, d.classification)
        compartments.update(d.compartment_codes())
    return Marking.of(level, compartments)


def _all_units(user: User) -> list[Unit]:
    return list(Unit.objects.visible_to(user).active().order_by("code"))


def _safe_body(html: str) -> str:
    # Stored sanitised; cleaned again on the way out (defence in depth).
    return mark_safe(  # noqa: S308 - nh3 output is safe HTML
        nh3.clean(html or "", tags=BODY_TAGS, attributes=BODY_ATTRIBUTES, url_schemes={"http", "https", "mailto"})
    )


def _detail(request: HttpRequest, pk: int, *, audit: bool = True) -> Dispatch:
    return selectors.dispatch_detail(agent(request), pk, request=request, audit=audit)


def _routing_of(dispatch: Dispatch, routing_id: int) -> Routing:
    for routing in dispatch.routings.all():
        if routing.pk == routing_id:
            return routing
    raise Http404("no such routing")


def _back(dispatch: Dispatch | int) -> HttpResponse:
    pk = dispatch.pk if isinstance(dispatch, Dispatch) else dispatch
    return redirect("correspondence:detail", pk=pk)


def domain_errors(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Map the services' errors: not allowed → 404 (never 403 for an object); invalid state
    and rule errors → a message on the dispatch page."""

    @wraps(view)
    def wrapped(request: HttpRequest, pk: int, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, pk, *args, **kwargs)
        except PermissionDenied as exc:
            raise Http404("not found") from exc
        except services.InvalidState as exc:
            messages.warning(request, str(exc))
            return _back(pk)
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
            return _back(pk)

    return wrapped


def _with_subjects(dispatches: Iterable[Dispatch]) -> list[Dispatch]:
    return selectors.with_subjects(dispatches)


# --- lists -------------------------------------------------------------------------------


# The inbox's status (open, closed, overdue, all) reads the reader's routings alike: planned once, the
# inbox filtered by it took up to 4 ms less for six readers on PostgreSQL at 1M (none slower beyond 0.2 ms).
@plans_alike("status")
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    user = agent(request)
    units = [m.unit for m in user.active_memberships()]
    # The filters are the query without the page cursor (a cursor alone keeps the default filters).
    data = request.GET.copy()
    for name in (OLDER, NEWER, "page"):
        data.pop(name, None)
    form = InboxFilterForm(data or None, units=units)
    filters: dict[str, Any] = {"unit": "", "status": "open", "kind": "", "overdue": False}
    if form.is_bound and form.is_valid():
        filters.update(form.cleaned_data)
    elif not form.is_bound:
        form = InboxFilterForm(initial={"status": "open"}, units=units)
    routings = selectors.inbox(
        user, unit=filters["unit"] or None, status=filters["status"] or None, overdue_only=filters["overdue"]
    )
    if filters["kind"] in (RoutingKind.ACTION, RoutingKind.INFO):
        routings = routings.filter(kind=filters["kind"])
    counts = selectors.inbox_counts(user, with_open=True)
    # The default view (open routings of every unit) is counted by the inbox counters already.
    default = filters["status"] == "open" and not (filters["unit"] or filters["kind"] or filters["overdue"])
    query = {k: str(v) for k, v in data.items()} if data else {"status": "open"}
    page = _page(request, routings, selectors.INBOX_ORDER, count=not default, query=query)
    if default:
        page.total = CappedCount(value=int(counts["open"]), more=counts["open"].more)
    rows = list(page.object_list)
    selectors.without_compartments_known(rows)
    _with_subjects(r.dispatch for r in rows)
    context = {
        "form": form,
        "page": page,
        "rows": rows,
        "counts": counts,
        "marking": page_marking(r.dispatch for r in rows),
        "query_string": _query_without_page(request),
    }
    return _render(request, "correspondence/inbox.html", context)


def _render(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    """Render with what the correspondence menu needs (which forms the agent may open)."""
    user = agent(request)
    context.setdefault("can_draft", bool(selectors.drafting_units(user)))
    context.setdefault("can_register", bool(selectors.registry_units(user)))
    context.setdefault("can_review", user.has_capability(Capability.DOWNGRADE))
    return render(request, template, context, status=status)


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    for name in ("page", OLDER, NEWER):
        query.pop(name, None)
    return query.urlencode()


def _page(
    request: HttpRequest,
    queryset: Any,
    order: list[tuple[str, bool]],
    *,
    count: bool = False,
    query: dict[str, str] | None = None,
    bounded: bool = False,
) -> KeysetPage:
    """A "newer / older" page of a list (see `core.keyset`): page 1,000 costs what page 1 costs;
    `count`: with the list's size, counted up to `keyset.COUNT_CAP`; `bounded`: see `keyset._beyond`."""
    return keyset_page(
        queryset,
        order,
        size=PAGE_SIZE,
        older=request.GET.get(OLDER),
        newer=request.GET.get(NEWER),
        query=query if query is not None else {k: str(v) for k, v in request.GET.items()},
        count=count,
        bounded=bounded,
    )


def _dispatch_list(
    request: HttpRequest,
    *,
    queryset: Any,
    order: list[tuple[str, bool]],
    title: str,
    kind: str,
    bounded: bool = False,
) -> HttpResponse:
    page = _page(request, queryset, order, bounded=bounded)
    rows = _with_subjects(page.object_list)
    return _render(
        request,
        "correspondence/dispatch_list.html",
        {
            "page": page,
            "rows": rows,
            "title": title,
            "list_kind": kind,
            "marking": page_marking(rows),
            "query_string": _query_without_page(request),
        },
    )


@require_GET
def drafts(request: HttpRequest) -> HttpResponse:
    return _dispatch_list(
        request,
        queryset=selectors.drafts(agent(request)),
        order=selectors.DRAFTS_ORDER,
        title=_("Drafts"),
        kind="drafts",
    )


@require_GET
def sent(request: HttpRequest) -> HttpResponse:
    return _dispatch_list(
        request,
        queryset=selectors.outbox(agent(request)),
        order=selectors.OUTBOX_ORDER,
        title=pgettext("mailbox", "Sent"),  # the list (plural), not a dispatch's status
        kind="sent",
        bounded=True,  # walked on its units' (unit, sent at, id) index from the cursor on
    )


@require_GET
def reference_suggestions(request: HttpRequest) -> HttpResponse:
    """References of visible sent dispatches matching what the agent typed (HTMX)."""
    add = (request.GET.get("add") or "").strip()[:100]
    if add:
        # A suggestion was picked: answer the *Réf* field with the reference appended.
        lines = [line.strip() for line in (request.GET.get("cites") or "").splitlines() if line.strip()][:50]
        if add not in lines:
            lines.append(add)
        return render(request, "correspondence/_cites_field.html", {"value": "\n".join(lines)})
    q = (request.GET.get("q") or "").strip()[:100]
    results: list[Dispatch] = []
    if len(q) >= 2:
        by_words = selectors.search_dispatches(agent(request), {"q": q}, reads=10)
        results = list(by_words.exclude(reference=None)[:10])
        if len(results) < 10:
            # Then what the search index finds in subjects, bodies and attachments (gated).
            from chancery.search.selectors import matching_object_ids

            found = [
                i
                for i in matching_object_ids(request.user, q, doc_type="dispatch", limit=20)
                if i not in {d.pk for d in results}
            ]
            more = selectors.visible_dispatches(agent(request)).filter(pk__in=found).exclude(reference=None)
            results += sorted(more, key=lambda d: found.index(d.pk))[: 10 - len(results)]
        selectors.with_subjects(results)
    return render(request, "correspondence/_reference_suggestions.html", {"results": results, "q": q})


# --- one dispatch ------------------------------------------------------------------------


def _programmes_from(user: User, dispatch: Dispatch) -> list[Any]:
    from chancery.planning.selectors import programmes_from_letter  # planning builds on correspondence

    return programmes_from_letter(user, dispatch)


@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = agent(request)
    dispatch = _detail(request, pk)
    actions = selectors.allowed_actions(user, dispatch)
    thread = selectors.thread(user, dispatch)
    thread_dispatches = [e.dispatch for e in thread.cites + thread.cited_by]
    _with_subjects(thread_dispatches)
    citations = selectors.visible_citations(user, dispatch, known={e.dispatch.pk: e.dispatch for e in thread.cites})
    routings = list(dispatch.routings.all())
    assign_forms = [
        (r, AssignForm(agents=selectors.unit_members(user, r.unit), auto_id=f"assign-{r.pk}-%s"))
        for r in actions["assign"]
    ]
    context = {
        "dispatch": dispatch,
        "subject": selectors.dispatch_subject(dispatch),
        "body": _safe_body(selectors.dispatch_body(dispatch)),
        "action_routings": [r for r in routings if r.kind == RoutingKind.ACTION],
        "info_routings": [r for r in routings if r.kind == RoutingKind.INFO],
        "attachments": list(dispatch.attachments.all()),
        "citations": citations,
        "thread": thread,
        "actions": actions,
        "assign_forms": assign_forms,
        "marking_form": MarkingChangeForm(user=user, initial={"classification": dispatch.classification})
        if actions["change_marking"]
        else None,
        "grant_form": GrantForm(all_units=_all_units(user)) if actions["grant"] else None,
        "marking": page_marking([dispatch, *thread_dispatches]),
        "dispatch_marking": page_marking([dispatch]),
        "programmes": _programmes_from(user, dispatch),
    }
    from chancery.correspondence.workday_views import detail_context

    context.update(detail_context(request, dispatch))
    mark_target_read(user=user, target=dispatch)
    if request.GET.get("print") == "1":
        return render(request, "correspondence/print.html", context)
    return _render(request, "correspondence/detail.html", context)


@require_GET
def download_attachment(request: HttpRequest, pk: int, position: int) -> HttpResponse:
    attachment, data = selectors.attachment_content(agent(request), pk, position, request=request)
    if not attachment.encrypted:
        # Protected downloads are audited by the selector; the others are recorded too.
        record_event(
            action="correspondence.attachment_downloaded",
            actor=request.user,
            object_type="correspondence.dispatch",
            object_id=pk,
            details={"attachment": position},
            request=request,
        )
    return file_download(data, filename=attachment.filename, content_type=attachment.content_type)


# --- lifecycle actions -------------------------------------------------------------------


@require_POST
@domain_errors
def validate(request: HttpRequest, pk: int) -> HttpResponse:
    dispatch = _detail(request, pk, audit=False)
    services.validate_dispatch(actor=agent(request), dispatch=dispatch)
    messages.success(request, _("The dispatch is validated."))
    return _back(dispatch)


@require_POST
@domain_errors
def send(request: HttpRequest, pk: int) -> HttpResponse:
    dispatch = _detail(request, pk, audit=False)
    dispatch = services.send_dispatch(actor=agent(request), dispatch=dispatch)
    messages.success(request, _("The dispatch is sent under reference %(ref)s.") % {"ref": dispatch.reference})
    return _back(dispatch)


def _routing_step(service: Any, done: str) -> Any:
    """A view applying one routing step (`service(actor=, dispatch=, unit=)`) for the routed unit."""

    @require_POST
    @domain_errors
    def view(request: HttpRequest, pk: int, routing_id: int) -> HttpResponse:
        dispatch = _detail(request, pk, audit=False)
        routing = _routing_of(dispatch, routing_id)
        service(actor=request.user, dispatch=dispatch, unit=routing.unit)
        messages.success(request, _(done) % {"unit": routing.unit.code})
        return _back(dispatch)

    return view


# The messages are marked for translation here and translated when shown.
acknowledge = _routing_step(services.acknowledge, gettext_noop("Receipt acknowledged for %(unit)s."))
close = _routing_step(services.close_routing, gettext_noop("Closed for %(unit)s."))
mark_read = _routing_step(services.mark_read, gettext_noop("Marked as read for %(unit)s."))


@require_POST
@domain_errors
def assign(request: HttpRequest, pk: int, routing_id: int) -> HttpResponse:
    user = agent(request)
    dispatch = _detail(request, pk, audit=False)
    routing = _routing_of(dispatch, routing_id)
    agents = list(selectors.unit_members(user, routing.unit))
    form = AssignForm(request.POST, agents=agents)
    if not form.is_valid():
        messages.error(request, _("Choose an agent of %(unit)s.") % {"unit": routing.unit.code})
        return _back(dispatch)
    assignee = next(a for a in agents if a.username == form.cleaned_data["assignee"])
    services.assign(actor=user, dispatch=dispatch, unit=routing.unit, assignee=assignee)
    messages.success(request, _("Assigned to %(agent)s.") % {"agent": assignee})
    return _back(dispatch)






@require_POST
@domain_errors
def change_marking(request: HttpRequest, pk: int) -> HttpResponse:
    user = agent(request)
    dispatch = _detail(request, pk, audit=False)
    if not selectors.allowed_actions(user, dispatch)["change_marking"]:
        raise Http404("not found")
    form = MarkingChangeForm(request.POST, user=user)
    if form.is_valid():
        try:
            services.change_marking(
                actor=user,
                dispatch=dispatch,
                classification=form.cleaned_data["classification"],
                compartments=form.cleaned_data.get("compartments") or [],
                reason=form.cleaned_data["reason"],
                declassify_on=form.cleaned_data.get("declassify_on"),
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("The marking was changed."))
            return _back(dispatch)
    for field, errors in form.errors.items():
        for error in errors:
            messages.error(request, f"{form.fields[field].label}: {error}" if field in form.fields else str(error))
    return _back(dispatch)


@require_POST
@domain_errors
def grant(request: HttpRequest, pk: int) -> HttpResponse:
    user = agent(request)
    dispatch = _detail(request, pk, audit=False)
    if not selectors.allowed_actions(user, dispatch)["grant"]:
        raise Http404("not found")
    form = GrantForm(request.POST, all_units=_all_units(user))
    if form.is_valid():
        grantee = None
        unit = None
        if form.cleaned_data.get("username"):
            grantee = User.objects.visible_to(user).filter(username=form.cleaned_data["username"]).first()
            if grantee is None:
                form.add_error("username", _("Unknown agent."))
        else:
            unit = Unit.objects.visible_to(user).filter(code=form.cleaned_data["unit"]).first()
        if form.is_valid():
            try:
                services.grant_access(
                    actor=user,
                    dispatch=dispatch,
                    reason=form.cleaned_data["reason"],
                    user=grantee,
                    unit=unit,
                )
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                messages.success(request, _("Access granted."))
                return _back(dispatch)
    for error in [e for errors in form.errors.values() for e in errors]:
        messages.error(request, str(error))
    return _back(dispatch)


@require_http_methods(["GET", "POST"])
@domain_errors
def reply(request: HttpRequest, pk: int) -> HttpResponse:
    user = agent(request)
    original = _detail(request, pk)
    if not selectors.allowed_actions(user, original)["reply"]:
        raise Http404("not found")
    units = [
        r.unit
        for r in selectors.my_routings(user, original)
        if user.has_capability(Capability.DRAFT_DISPATCH, unit=r.unit)
    ]
    subject = selectors.dispatch_subject(original)
    initial = {
        "subject": subject if subject.lower().startswith("re:") else f"Re: {subject}",
        "classification": original.classification,
        "compartments": [c.code for c in original.compartments.all()],
    }
    reply_templates = notes.templates_for(units)
    chosen = next((t for t in reply_templates if str(t.pk) == request.GET.get("template")), None)
    if chosen is not None:
        initial["body"] = chosen.body
    form = ReplyForm(request.POST or None, user=user, units=units, initial=initial)
    if request.method == "POST" and form.is_valid():
        unit = next(u for u in units if u.code == form.cleaned_data["unit"])
        try:
            draft = services.reply(
                actor=user,
                dispatch=original,
                unit=unit,
                subject=form.cleaned_data["subject"],
                body=form.cleaned_data["body"],
                classification=form.cleaned_data["classification"],
                compartments=form.cleaned_data.get("compartments") or [],
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(
                request, _("Your answer is saved as a draft; complete it, then have it validated and sent.")
            )
            return redirect("correspondence:edit", pk=draft.pk)
    return _render(
        request,
        "correspondence/reply.html",
        {
            "form": form,
            "original": original,
            "original_subject": subject,
            "marking": page_marking([original]),
            "reply_templates": reply_templates,
            "chosen_template": chosen,
        },
    )


# --- drafts ------------------------------------------------------------------------------


def _check_uploads(form: Any) -> list[Any]:
    """Check every upload before anything is written, so a refused file leaves nothing behind."""
    files = form.cleaned_data.get("attachments") or []
    for upload in files:
        try:
            check_upload(filename=upload.name, source=upload)
        except ValidationError as exc:
            for message in exc.message_dict.get("file", exc.messages):
                form.add_error("attachments", f"{upload.name}: {message}")
    return files


def _store_uploads(user: User, dispatch: Dispatch, files: list[Any]) -> None:
    for upload in files:
        upload.seek(0)
        services.add_attachment(actor=user, dispatch=dispatch, filename=upload.name, source=upload)


def _draft_context(form: Any, formset: Any, **extra: Any) -> dict[str, Any]:
    return {"form": form, "formset": formset, **extra}


@require_http_methods(["GET", "POST"])
@require_capability(Capability.DRAFT_DISPATCH)
def draft_create(request: HttpRequest) -> HttpResponse:
    user = agent(request)
    units = selectors.drafting_units(user)
    all_units = _all_units(user)
    data = request.POST if request.method == "POST" else None
    form = DraftForm(
        data,
        request.FILES or None,
        user=user,
        units=units,
        all_units=all_units,
        initial={"classification": 0, "transmission": "clear", "direction": "outgoing"},
    )
    formset = action_formset(data=data, all_units=all_units)
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        files = _check_uploads(form)
        if form.is_valid():
            unit = next(u for u in units if u.code == form.cleaned_data["sending_unit"])
            try:
                with transaction.atomic():
                    dispatch = services.create_draft(
                        actor=user,
                        sending_unit=unit,
                        routings=routing_specs(formset, form.cleaned_data.get("info_units") or []),
                        **form.service_kwargs(),
                    )
                    _store_uploads(user, dispatch, files)
            except ValidationError as exc:
                apply_errors(form, exc, aliases={"file": "attachments"})
            except PermissionDenied as exc:
                raise Http404("not found") from exc
            else:
                messages.success(request, _("The draft is saved."))
                return redirect("correspondence:detail", pk=dispatch.pk)
    return _render(request, "correspondence/draft_form.html", _draft_context(form, formset, dispatch=None))


def _draft_initial(user: User, dispatch: Dispatch) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    routings = list(dispatch.routings.all())
    # Only what the editor may read: a colleague may have cited a dispatch out of their
    # scope (it is kept when they save, see services.update_draft).
    citations = selectors.visible_citations(user, dispatch)
    initial = {
        "sending_unit": dispatch.sending_unit.code,
        "kind": dispatch.kind,
        "direction": dispatch.direction,
        "subject": selectors.dispatch_subject(dispatch),
        "body": selectors.dispatch_body(dispatch),
        "classification": dispatch.classification,
        "compartments": [c.code for c in dispatch.compartments.all()],
        "transmission": dispatch.transmission,
        "declassify_on": dispatch.declassify_on,
        "classification_reason": dispatch.classification_reason,
        "classified_from": dispatch.classified_from,
        "info_units": [r.unit.code for r in routings if r.kind == RoutingKind.INFO],
        "cites": "\n".join(c.cited.reference or "" for c in citations if c.cited is not None and c.cited.reference),
        "external_references": "\n".join(content.read_citation(c, dispatch) for c in citations if c.cited_id is None),
        "tags": ", ".join(dispatch.tag_list),
        "version": dispatch.version,
    }
    actions = [{"unit": r.unit.code, "due_date": r.due_date} for r in routings if r.kind == RoutingKind.ACTION]
    return initial, actions


@require_http_methods(["GET", "POST"])
def draft_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = agent(request)
    dispatch = _detail(request, pk)
    if not selectors.allowed_actions(user, dispatch)["edit"]:
        raise Http404("not found")
    all_units = _all_units(user)
    units = [dispatch.sending_unit]
    initial, action_initial = _draft_initial(user, dispatch)
    data = request.POST if request.method == "POST" else None
    form = DraftForm(data, request.FILES or None, user=user, units=units, all_units=all_units, initial=initial,
                     editing=True)
    formset = action_formset(
        data=data, initial=None if data else action_initial, all_units=all_units, extra=2 if action_initial else 3
    )
    conflict = False
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        files = _check_uploads(form)
        if form.is_valid():
            try:
                with transaction.atomic():
                    dispatch = services.update_draft(
                        actor=user,
                        dispatch=dispatch,
                        expected_version=form.cleaned_data.get("version") or 0,
                        routings=routing_specs(formset, form.cleaned_data.get("info_units") or []),
                        **form.service_kwargs(),
                    )
                    _store_uploads(user, dispatch, files)
            except services.DraftConflict as exc:
                conflict = True
                form.add_error(None, str(exc))
            except services.InvalidState as exc:
                messages.warning(request, str(exc))
                return _back(pk)
            except ValidationError as exc:
                apply_errors(form, exc, aliases={"file": "attachments"})
            except PermissionDenied as exc:
                raise Http404("not found") from exc
            else:
                messages.success(request, _("The draft is saved."))
                return redirect("correspondence:detail", pk=dispatch.pk)
    status = 409 if conflict else 200
    return _render(
        request,
        "correspondence/draft_form.html",
        _draft_context(
            form,
            formset,
            dispatch=dispatch,
            attachments=list(dispatch.attachments.all()),
            conflict=conflict,
            marking=page_marking([dispatch]),
        ),
        status=status,
    )


@require_POST
@domain_errors
def remove_attachment(request: HttpRequest, pk: int, position: int) -> HttpResponse:
    dispatch = _detail(request, pk, audit=False)
    services.remove_attachment(actor=agent(request), dispatch=dispatch, position=position)
    messages.success(request, _("The attachment was removed."))
    return redirect("correspondence:edit", pk=dispatch.pk)


# --- registry ----------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@require_capability(Capability.REGISTER_INCOMING)
def register_incoming(request: HttpRequest) -> HttpResponse:
    user = agent(request)
    units = selectors.registry_units(user)
    all_units = _all_units(user)
    data = request.POST if request.method == "POST" else None
    form = RegisterIncomingForm(
        data,
        request.FILES or None,
        user=user,
        units=units,
        all_units=all_units,
        initial={"classification": 0, "transmission": "clear"},
    )
    formset = action_formset(data=data, all_units=all_units)
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        files = _check_uploads(form)
        if form.is_valid():
            unit = next(u for u in units if u.code == form.cleaned_data["unit"])
            try:
                dispatch = services.register_incoming(
                    actor=user,
                    unit=unit,
                    routings=routing_specs(formset, form.cleaned_data.get("info_units") or []),
                    attachments=[(f.name, f) for f in files],
                    **form.service_kwargs(),
                )
            except ValidationError as exc:
                apply_errors(form, exc, aliases={"file": "attachments"})
            except PermissionDenied as exc:
                raise Http404("not found") from exc
            else:
                messages.success(request, _("Registered under reference %(ref)s.") % {"ref": dispatch.reference})
                return redirect("correspondence:detail", pk=dispatch.pk)
    return _render(request, "correspondence/register_incoming.html", {"form": form, "formset": formset})
