"""Administration of the organisation: units, agents, memberships, clearances."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from chancery.accounts.roles import Capability
from chancery.core.access import require_capability


@require_capability(Capability.MANAGE_ORGANISATION)
def admin_home(request: HttpRequest) -> HttpResponse:
    return render(request, "organisation/admin/home.html", {})
