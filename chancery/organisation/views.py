"""The ministry as agents see it: the units tree, a unit, people."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from chancery.accounts.access import agent
from chancery.organisation import selectors
from chancery.organisation.keys import published_keys


@require_GET
def unit_tree(request: HttpRequest) -> HttpResponse:
    return render(request, "organisation/unit_tree.html", {"roots": selectors.unit_tree(user=agent(request))})


@require_GET
def unit_detail(request: HttpRequest, code: str) -> HttpResponse:
    user = agent(request)
    unit = selectors.unit_detail(user=user, code=code)
    return render(
        request,
        "organisation/unit_detail.html",
        {
            "unit": unit,
            "members": selectors.unit_members(user=user, unit=unit),
            "children": selectors.unit_children(user=user, unit=unit),
            "missions_followed": selectors.missions_followed(user=user, unit=unit),
        },
    )


@require_GET
def people(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")[:100]
    page = Paginator(selectors.people(user=agent(request), query=query), 50).get_page(request.GET.get("page"))
    return render(request, "organisation/people.html", {"page": page, "query": query})


@require_GET
def person_detail(request: HttpRequest, username: str) -> HttpResponse:
    person = selectors.person_detail(user=agent(request), username=username)
    return render(
        request,
        "organisation/person_detail.html",
        {"person": person, "memberships": selectors.person_memberships(person=person)},
    )


@login_not_required
@require_GET
def unit_keys(request: HttpRequest) -> HttpResponse:
    """Public: the units' signing keys and fingerprints (see `organisation.keys`)."""
    return render(request, "organisation/unit_keys.html", {"keys": published_keys()})
