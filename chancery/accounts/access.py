"""The signed-in agent of a request, typed."""

from __future__ import annotations

from django.http import Http404, HttpRequest

from chancery.accounts.models import User
from chancery.core.types import Viewer


def agent(request: HttpRequest) -> User:
    """The signed-in agent of a request (API token or session), typed as such: every view and
    API handler behind authentication has one; anything else is a missing page."""
    user = request.user
    if not isinstance(user, User) or not user.is_authenticated:
        raise Http404("not found")
    return user


def signed_in(user: Viewer | None) -> User | None:
    """The active signed-in agent a gated read is made for, or None (nobody, an anonymous
    visitor, a deactivated account): `visible_to` answers None with nothing."""
    if isinstance(user, User) and user.is_authenticated and user.is_active:
        return user
    return None
