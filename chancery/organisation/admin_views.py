"""Administration of the organisation: units, agents, memberships, clearances.

Who may do what:
- units, agents, memberships: `Capability.MANAGE_ORGANISATION` (administrators);
- clearances: `Capability.MANAGE_CLEARANCES` (security officers);
- reading the agents and resetting a second factor: either;
- super-administrators may do everything. Anyone else gets 404 (`require_capability`).

An administrator who is not a super-administrator cannot change a super-administrator's
account, nor their own memberships, activity or clearance; roles that manage clearances are
granted only by those who manage clearances. Every change goes through a service, which
records it in the audit log in the same transaction.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from chancery.accounts import services as accounts_services

# The signed-in agent (require_capability has turned everyone else away); `agent` names the
# agent being administered here.
from chancery.accounts.access import agent as _actor
from chancery.accounts.models import Membership, User
from chancery.accounts.roles import Capability
from chancery.audit.models import AuditEvent
from chancery.core.access import require_capability
from chancery.core.classification import Level
from chancery.organisation import selectors
from chancery.organisation import services as organisation_services
from chancery.organisation.forms import (
    AgentCreateForm,
    AgentEditForm,
    ClearanceForm,
    MembershipForm,
    UnitForm,
    apply_errors,
)
from chancery.organisation.models import Unit, UnitKind

PAGE_SIZE = 50
RECENT_CHANGES = 25
MAX_QUERY = 100

# The audit actions shown as "recent changes" on the administration home page.
CHANGE_ACTIONS = {
    "organisation.unit_created": gettext_lazy("Unit created"),
    "organisation.unit_updated": gettext_lazy("Unit changed"),
    "accounts.user_created": gettext_lazy("Agent created"),
    "accounts.user_updated": gettext_lazy("Agent changed"),
    "accounts.membership_added": gettext_lazy("Membership added"),
    "accounts.membership_ended": gettext_lazy("Membership ended"),
    "accounts.clearance_changed": gettext_lazy("Clearance changed"),
    "accounts.totp_reset": gettext_lazy("Second factor reset"),
}


def _may(user: User, capability: Capability) -> bool:
    return bool(user.is_superuser or user.has_capability(capability))


def _refusal(actor: User, agent: User, *, own_allowed_for_superuser: bool = True) -> str | None:
    """Why `actor` may not change `agent`'s account, or None."""
    if agent.is_superuser and not actor.is_superuser:
        return _("Only a super-administrator may change a super-administrator's account.")
    if agent.pk == actor.pk and not (actor.is_superuser and own_allowed_for_superuser):
        return _("You cannot change your own account here: ask another administrator.")
    return None


def _agent(request: HttpRequest, username: str) -> User:
    return selectors.person_detail(user=_actor(request), username=username)


def _agent_url(agent: User) -> str:
    return reverse("organisation:admin_agent", args=[agent.username])


# --- Home ---------------------------------------------------------------------------

def _recent_changes(user: User) -> list[dict[str, Any]]:
    events = list(
        AuditEvent.objects.visible_to(user).filter(action__in=list(CHANGE_ACTIONS)).order_by("-sequence")[
            :RECENT_CHANGES
        ]
    )
    user_ids = {e.object_id for e in events if e.object_type == "accounts.user" and e.object_id.isdigit()}
    unit_ids = {e.object_id for e in events if e.object_type == "organisation.unit" and e.object_id.isdigit()}
    usernames = {str(pk): name for pk, name in User.objects.visible_to(user).filter(pk__in=user_ids).values_list(
        "pk", "username")}
    unit_codes = {str(pk): code for pk, code in Unit.objects.visible_to(user).filter(pk__in=unit_ids).values_list(
        "pk", "code")}
    rows = []
    for event in events:
        target_label, target_url = "", ""
        if event.object_type == "accounts.user" and event.object_id in usernames:
            target_label = usernames[event.object_id]
            target_url = reverse("organisation:admin_agent", args=[target_label])
        elif event.object_type == "organisation.unit" and event.object_id in unit_codes:
            target_label = unit_codes[event.object_id]
            target_url = reverse("organisation:admin_unit_edit", args=[target_label])
        rows.append(
            {
                "event": event,
                "label": CHANGE_ACTIONS.get(event.action, event.action),
                "target_label": target_label,
                "target_url": target_url,
                "summary": _summary(event),
            }
        )
    return rows


def _level_label(value: Any) -> str:
    try:
        return str(Level(int(value)).label)
    except (TypeError, ValueError):
        return str(value)


def _summary(event: AuditEvent) -> str:
    details = event.details or {}
    if event.action in {"accounts.membership_added", "accounts.membership_ended"}:
        return f"{details.get('unit', '')} · {details.get('role', '')}"
    if event.action == "accounts.clearance_changed":
        before, after = details.get("before", {}), details.get("after", {})
        return f"{_level_label(before.get('level'))} → {_level_label(after.get('level'))}"
    if "fields" in details:
        return ", ".join(str(f) for f in details["fields"])
    if event.action == "organisation.unit_created":
        return str(details.get("code", ""))
    return ""


@require_capability(Capability.MANAGE_ORGANISATION, Capability.MANAGE_CLEARANCES)
def admin_home(request: HttpRequest) -> HttpResponse:
    user = _actor(request)
    return render(
        request,
        "organisation/admin/home.html",
        {
            "changes": _recent_changes(user),
            "sees_every_change": user.is_superuser or user.has_capability(Capability.READ_AUDIT),
            "can_manage_organisation": _may(user, Capability.MANAGE_ORGANISATION),
        },
    )


# --- Units --------------------------------------------------------------------------

@require_capability(Capability.MANAGE_ORGANISATION)
def admin_units(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:MAX_QUERY]
    kind = request.GET.get("kind", "")
    if kind not in UnitKind.values:
        kind = ""
    units = selectors.unit_list(user=_actor(request), query=query, kind=kind).order_by("code")
    page = Paginator(units, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "organisation/admin/units.html",
        {"page": page, "query": query, "kind": kind, "kinds": UnitKind.choices},
    )


@require_capability(Capability.MANAGE_ORGANISATION)
@require_http_methods(["GET", "POST"])
def admin_unit_create(request: HttpRequest) -> HttpResponse:
    form = UnitForm(request.POST or None, user=_actor(request))
    if request.method == "POST" and form.is_valid():
        try:
            unit = organisation_services.create_unit(
                actor=_actor(request), parent=form.cleaned_data["parent"], **form.service_fields()
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Unit %(code)s created.") % {"code": unit.code})
            return redirect(f"{reverse('organisation:admin_units')}?{urlencode({'q': unit.code})}")
    return render(request, "organisation/admin/unit_form.html", {"form": form, "unit_code": None})


@require_capability(Capability.MANAGE_ORGANISATION)
@require_http_methods(["GET", "POST"])
def admin_unit_edit(request: HttpRequest, code: str) -> HttpResponse:
    actor = _actor(request)
    unit = selectors.unit_detail(user=actor, code=code)
    form = UnitForm(request.POST or None, user=actor, unit=unit)
    if request.method == "POST" and form.is_valid():
        try:
            unit = organisation_services.update_unit(
                actor=actor, unit=unit, parent=form.cleaned_data["parent"],
                lock_version=form.cleaned_data.get("lock_version"), **form.service_fields()
            )
        except ValidationError as exc:
            apply_errors(form, exc)  # the transaction was rolled back: nothing is saved
        else:
            messages.success(request, _("Unit %(code)s saved.") % {"code": unit.code})
            return redirect(f"{reverse('organisation:admin_units')}?{urlencode({'q': unit.code})}")
    return render(request, "organisation/admin/unit_form.html", {"form": form, "unit_code": code})


# --- Agents -------------------------------------------------------------------------

@require_capability(Capability.MANAGE_ORGANISATION, Capability.MANAGE_CLEARANCES)
def admin_agents(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:MAX_QUERY]
    agents = selectors.people(user=_actor(request), query=query, include_inactive=True)
    page = Paginator(agents, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "organisation/admin/agents.html",
        {
            "page": page,
            "query": query,
            "can_manage_organisation": _may(_actor(request), Capability.MANAGE_ORGANISATION),
        },
    )


@require_capability(Capability.MANAGE_ORGANISATION)
@require_http_methods(["GET", "POST"])
def admin_agent_create(request: HttpRequest) -> HttpResponse:
    form = AgentCreateForm(request.POST or None, actor=_actor(request))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            agent = accounts_services.create_user(
                actor=_actor(request),
                username=data["username"],
                password=data["password1"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                email=data["email"],
                memberships=[(data["unit"], data["role"])] if data.get("unit") else [],
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Agent %(username)s created.") % {"username": agent.username})
            return redirect(_agent_url(agent))
    return render(request, "organisation/admin/agent_form.html", {"form": form, "agent": None})


def _agent_page(request: HttpRequest, agent: User, *, membership_form: MembershipForm | None = None) -> HttpResponse:
    actor = _actor(request)
    can_manage = _may(actor, Capability.MANAGE_ORGANISATION)
    today = timezone.localdate()
    memberships = [
        {
            "membership": m,
            "state": "ended" if m.end_date is not None and m.end_date <= today
            else "future" if m.start_date > today else "active",
        }
        for m in selectors.person_memberships(person=agent)
    ]
    refusal = _refusal(actor, agent)
    return render(
        request,
        "organisation/admin/agent_detail.html",
        {
            "agent": agent,
            "memberships": memberships,
            "membership_form": membership_form
            if membership_form is not None
            else (MembershipForm(actor=actor) if can_manage else None),
            "can_manage_organisation": can_manage,
            "can_manage_clearances": _may(actor, Capability.MANAGE_CLEARANCES),
            "may_change": refusal is None,
            "refusal": refusal,
            "second_factor_set": agent.has_totp_secret,
        },
    )


@require_capability(Capability.MANAGE_ORGANISATION, Capability.MANAGE_CLEARANCES)
@require_http_methods(["GET"])
def admin_agent(request: HttpRequest, username: str) -> HttpResponse:
    return _agent_page(request, _agent(request, username))


@require_capability(Capability.MANAGE_ORGANISATION)
@require_http_methods(["GET", "POST"])
def admin_agent_edit(request: HttpRequest, username: str) -> HttpResponse:
    agent = _agent(request, username)
    refusal = _refusal(_actor(request), agent)
    if refusal:
        messages.error(request, refusal)
        return redirect(_agent_url(agent))
    form = AgentEditForm(
        request.POST or None,
        initial={"first_name": agent.first_name, "last_name": agent.last_name, "email": agent.email,
                 "lock_version": agent.lock_version},
    )
    if request.method == "POST" and form.is_valid():
        try:
            accounts_services.update_user(actor=_actor(request), user=agent, **form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
            agent.refresh_from_db()
        else:
            messages.success(request, _("Agent %(username)s saved.") % {"username": agent.username})
            return redirect(_agent_url(agent))
    return render(request, "organisation/admin/agent_form.html", {"form": form, "agent": agent})


@require_capability(Capability.MANAGE_ORGANISATION)
@require_POST
def admin_agent_set_active(request: HttpRequest, username: str) -> HttpResponse:
    agent = _agent(request, username)
    active = request.POST.get("active")
    refusal = _refusal(_actor(request), agent, own_allowed_for_superuser=False)
    if active not in {"0", "1"}:
        messages.error(request, _("Choose whether the agent is active."))
    elif refusal:
        messages.error(request, refusal)
    else:
        accounts_services.update_user(actor=_actor(request), user=agent, is_active=active == "1")
        if agent.is_active:
            messages.success(request, _("%(username)s can sign in again.") % {"username": agent.username})
        else:
            messages.success(
                request, _("%(username)s is deactivated: their sessions and API tokens no longer work.")
                % {"username": agent.username},
            )
    return redirect(_agent_url(agent))


@require_capability(Capability.MANAGE_ORGANISATION)
@require_POST
def admin_membership_add(request: HttpRequest, username: str) -> HttpResponse:
    actor = _actor(request)
    agent = _agent(request, username)
    refusal = _refusal(actor, agent)
    if refusal:
        messages.error(request, refusal)
        return redirect(_agent_url(agent))
    form = MembershipForm(request.POST, actor=actor)
    if form.is_valid():
        data = form.cleaned_data
        try:
            membership = accounts_services.add_membership(
                actor=actor, user=agent, unit=data["unit"], role=data["role"], start_date=data["start_date"]
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(
                request,
                _("%(username)s is now %(role)s in %(unit)s.")
                % {"username": agent.username, "role": membership.get_role_display(), "unit": membership.unit.code},
            )
            return redirect(_agent_url(agent))
    return _agent_page(request, agent, membership_form=form)


@require_capability(Capability.MANAGE_ORGANISATION)
@require_POST
def admin_membership_end(request: HttpRequest, username: str, membership_id: int) -> HttpResponse:
    agent = _agent(request, username)
    membership = Membership.objects.filter(pk=membership_id, user=agent).select_related("unit", "user").first()
    if membership is None:
        raise Http404("not found")
    refusal = _refusal(_actor(request), agent)
    if refusal:
        messages.error(request, refusal)
        return redirect(_agent_url(agent))
    try:
        accounts_services.end_membership(actor=_actor(request), membership=membership)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _("%(username)s no longer holds the role %(role)s in %(unit)s.")
            % {"username": agent.username, "role": membership.get_role_display(), "unit": membership.unit.code},
        )
    return redirect(_agent_url(agent))


@require_capability(Capability.MANAGE_CLEARANCES)
@require_http_methods(["GET", "POST"])
def admin_agent_clearance(request: HttpRequest, username: str) -> HttpResponse:
    actor = _actor(request)
    agent = _agent(request, username)
    refusal = _refusal(actor, agent)
    if refusal:
        messages.error(request, refusal)
        return redirect(_agent_url(agent))
    form = ClearanceForm(request.POST or None, actor=actor, agent=agent)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            accounts_services.set_clearance(
                actor=actor,
                user=agent,
                level=data["level"],
                compartments=[c.code for c in data["compartments"]],
                reason=data["reason"],
            )
        except ValidationError as exc:
            apply_errors(form, exc)
            agent.refresh_from_db()
        else:
            messages.success(
                request,
                _("Clearance of %(username)s set to %(clearance)s.")
                % {"username": agent.username, "clearance": agent.clearance.label()},
            )
            if agent.requires_totp and not agent.totp_enrolled:
                messages.info(
                    request,
                    _("This clearance needs a second factor: %(username)s is signed out and sets one up "
                      "at the next sign-in.") % {"username": agent.username},
                )
            return redirect(_agent_url(agent))
    return render(request, "organisation/admin/clearance_form.html", {"form": form, "agent": agent})


@require_capability(Capability.MANAGE_ORGANISATION, Capability.MANAGE_CLEARANCES)
@require_POST
def admin_agent_reset_second_factor(request: HttpRequest, username: str) -> HttpResponse:
    agent = _agent(request, username)
    refusal = _refusal(_actor(request), agent)
    if refusal:
        messages.error(request, refusal)
    else:
        accounts_services.reset_second_factor(actor=_actor(request), user=agent)
        messages.success(
            request,
            _("The second factor of %(username)s is reset: they set up a new one at the next sign-in "
              "if their clearance requires it.") % {"username": agent.username},
        )
    return redirect(_agent_url(agent))
