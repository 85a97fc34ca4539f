"""Session lifetime (inactivity and absolute) and the mandatory second factor."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

SESSION_STARTED = "chancery_started"
SESSION_SEEN = "chancery_seen"
SESSION_SECOND_FACTOR = "chancery_second_factor"


class SessionLifetimeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = int(time.time())
            started = request.session.get(SESSION_STARTED, now)
            seen = request.session.get(SESSION_SEEN, now)
            idle = now - seen > settings.CHANCERY_SESSION_IDLE_SECONDS
            too_old = now - started > settings.CHANCERY_SESSION_MAX_SECONDS
            if idle or too_old:
                logout(request)
                request.session["chancery_expired"] = True
            else:
                request.session.setdefault(SESSION_STARTED, started)
                # Write the "last seen" stamp at most once a minute, not on every request.
                if now - seen >= 60 or SESSION_SEEN not in request.session:
                    request.session[SESSION_SEEN] = now
        return self.get_response(request)


class SecondFactorRequiredMiddleware:
    """An agent who must use a second factor but whose session lacks it is signed out.

    Sign-in only completes after the second factor; this catches a clearance raised
    while a session was already open.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated and user.requires_totp and not request.session.get(SESSION_SECOND_FACTOR):
            logout(request)
        return self.get_response(request)
