"""The absences page: set an absence with a deputy (for oneself, or for an agent one heads),
see and cancel them."""

from __future__ import annotations

from datetime import date
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from chancery.accounts.absences import cancel_absence, may_manage_absence, set_absence
from chancery.accounts.models import Absence, Membership, User
from chancery.accounts.roles import Capability
from chancery.core.forms import StyledForm


def _me(request: HttpRequest) -> User:
    """The signed-in agent (the login middleware and the API's token auth guarantee one)."""
    return cast(User, request.user)


class AbsenceForm(StyledForm):
    agent = forms.ChoiceField(label=_("Agent"))
    deputy = forms.CharField(label=_("Deputy (user name)"), max_length=150)
    start_date = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    end_date = forms.DateField(
        label=_("To (included)"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    reason = forms.CharField(label=_("Reason (optional)"), max_length=200, required=False)

    def __init__(self, *args: Any, agents: list[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["agent"].choices = [(a.username, str(a)) for a in agents]  # type: ignore[attr-defined]


def _managed_agents(user: User) -> list[User]:
    """The agent themself, then the agents of the units they head."""
    units = user.units_with(Capability.VALIDATE_DISPATCH)
    ids = Membership.objects.active().filter(unit__in=units).values("user_id")
    others = list(User.objects.visible_to(user).filter(pk__in=ids, is_active=True).exclude(pk=user.pk))
    return [user, *others]


@require_http_methods(["GET", "POST"])
def absences(request: HttpRequest) -> HttpResponse:
    user = _me(request)
    agents = _managed_agents(user)
    form = AbsenceForm(request.POST or None, agents=agents, initial={"agent": user.get_username()})
    if request.method == "POST" and form.is_valid():
        agent = next(a for a in agents if a.username == form.cleaned_data["agent"])
        deputy = User.objects.visible_to(user).filter(username=form.cleaned_data["deputy"].strip()).first()
        if deputy is None:
            form.add_error("deputy", _("Unknown agent."))
        else:
            try:
                set_absence(
                    actor=user,
                    agent=agent,
                    deputy=deputy,
                    start_date=form.cleaned_data["start_date"],
                    end_date=form.cleaned_data["end_date"],
                    reason=form.cleaned_data.get("reason", ""),
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(request, _("The absence is recorded; the deputy receives the work meanwhile."))
                return redirect("accounts:absences")
    today = date.today()
    rows = Absence.objects.filter(user__in=agents, cancelled_at__isnull=True, end_date__gte=today).select_related(
        "user", "deputy"
    )
    standing_in = Absence.objects.filter(
        deputy_id=user.pk, cancelled_at__isnull=True, end_date__gte=today
    ).select_related("user")
    return render(request, "accounts/absences.html", {"form": form, "rows": rows, "standing_in": standing_in})


@require_POST
def cancel(request: HttpRequest, absence_id: int) -> HttpResponse:
    absence = Absence.objects.select_related("user").filter(pk=absence_id).first()
    if absence is None or not may_manage_absence(_me(request), absence.user):
        raise Http404("not found")
    try:
        cancel_absence(actor=_me(request), absence=absence)
    except PermissionDenied as exc:
        raise Http404("not found") from exc
    messages.success(request, _("The absence is cancelled."))
    return redirect("accounts:absences")
