"""The signed-in agent of a request, typed."""

from __future__ import annotations

from django.http import Http404, HttpRequest

from chancery.accounts.models import User


def agent(request: HttpRequest) -> User:
    """The signed-in agent of a request (API token or session), typed as such: every view and
    API handler behind authentication has one; anything else is a missing page."""
    user = request.user
    if not isinstance(user, User) or not user.is_authenticated:
        raise Http404("not found")
    return user
