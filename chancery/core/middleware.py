"""Cross-cutting HTTP concerns: security headers, HTMX detection, gate enforcement."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.exceptions import BadRequest, PermissionDenied
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse

from chancery.core.db import optimize_sqlite, planned_once_after_all, planned_with_values, values_decide_plan
from chancery.core.gate import enforcing
from chancery.core.scopes import ScopeMiddleware

logger = logging.getLogger(__name__)

# No inline script anywhere: scripts come from our own origin only. Styles are also
# same-origin; Bootstrap's and HTMX's dynamic style attributes are disabled in base.html.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class RequestTextMiddleware:
    """A NUL character in a query or form value is refused with 400 before any view runs:
    PostgreSQL cannot store or compare it, so it would otherwise surface as a 500 wherever a
    view passes raw parameters to a query. (The API answers the same in JSON: `chancery.api`.)"""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith("/api/"):
            urlencoded = request.method == "POST" and request.content_type == "application/x-www-form-urlencoded"
            sources = [request.GET] + ([request.POST] if urlencoded else [])
            for source in sources:
                for values in source.lists():
                    if any("\x00" in value for value in [values[0], *values[1]]):
                        raise BadRequest("NUL character in the request")
        return self.get_response(request)


V = TypeVar("V", bound=Callable[..., Any])

# A page's own position in its list: not a value a plan depends on.
PAGING_PARAMETERS = frozenset({"page", "older", "newer", "offset", "limit"})


class FilteredListMiddleware:
    """A request carrying its reader's filters (any query parameter but a page's position) has its
    statements planned with their values (`core.db.planned_with_values`): on PostgreSQL a list
    filtered by dates, a level or a status planned once for any values read up to 25 times more
    (`chancery.core.pg_backend`). Every other read is prepared and planned once per connection."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.GET and not PAGING_PARAMETERS.issuperset(request.GET.keys()):
            with planned_with_values():
                return self.get_response(request)
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view: Any, args: Any, kwargs: Any) -> None:
        # A view's filters that plan alike whatever their value (`plans_alike`): filtered by them
        # alone, its request is prepared and planned once, as an unfiltered one.
        alike = getattr(view, "plans_alike", None)
        if alike and values_decide_plan() and (PAGING_PARAMETERS | alike).issuperset(request.GET.keys()):
            planned_once_after_all()


def plans_alike(*parameters: str) -> Callable[[V], V]:
    """For a view whose filters `parameters` take a few fixed values, each planned best by the
    same plan (measured on PostgreSQL at 1M with `scripts/measure_filters.py` or alike): a request
    filtered by them alone is prepared and planned once (`FilteredListMiddleware`). Not for a
    filter whose value decides the plan (a date, a level, a dispatch status in a wide list:
    `/api/v1/dispatches?status=draft` took 0.8-1.5 s with a generic plan against 7-15 ms)."""

    def mark(view: V) -> V:
        view.plans_alike = frozenset(parameters)  # type: ignore[attr-defined]
        return view

    return mark


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if request.user.is_authenticated if hasattr(request, "user") else False:
            # Pages of a signed-in user may show protected content: never cache them on shared machines.
            response.headers.setdefault("Cache-Control", "no-store")
        return response


class HtmxMiddleware:
    """Sets `request.htmx` so views and templates can answer with a page fragment."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        is_htmx = request.headers.get("HX-Request") == "true"
        request.htmx = is_htmx and request.headers.get("HX-History-Restore-Request") != "true"  # type: ignore[attr-defined]
        response = self.get_response(request)
        response.headers["Vary"] = ", ".join(filter(None, [response.headers.get("Vary"), "HX-Request"]))
        return response


class GateEnforcementMiddleware(ScopeMiddleware):
    """While a view runs, a restricted queryset read without visible_to() raises."""

    scope = staticmethod(enforcing)


class DomainErrorMiddleware:
    """The web's one translation of the services' domain errors (the API has its own, in
    `chancery.api`). A refused act answers like a missing page (404: a page's existence leaks
    nothing); a step that no longer applies, or a conflict, comes back to the page it was
    asked from with the reason as a message."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        from django.contrib import messages
        from django.shortcuts import redirect
        from django.utils.http import url_has_allowed_host_and_scheme

        from chancery.core.errors import DomainError
        from chancery.core.views import not_found

        if request.path.startswith("/api/"):
            return None
        if isinstance(exception, PermissionDenied):
            return not_found(request, exception)
        if isinstance(exception, DomainError):
            messages.warning(request, exception.text)
            back = request.META.get("HTTP_REFERER", "")
            if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
                back = request.path if request.method == "GET" else "/"
            return redirect(back)
        return None


class SqliteStatisticsMiddleware:
    """After a response, `PRAGMA optimize` on the request's SQLite connection when this connection
    has not run it for `OPTIMIZE_EVERY_SECONDS` (always on a connection's first request): the
    statistics follow the data as it grows, so the planner keeps choosing the unit indexes.
    SQLite advises it before a connection closes or every few hours on a long-lived one; on
    every request it cost 0.5 ms and, now and then, a re-analysis of 10-20 ms on a page.
    Outermost, so that it runs last; a no-op on PostgreSQL (autoanalyze)."""

    OPTIMIZE_EVERY_SECONDS = 60.0

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        now = time.monotonic()
        # Per thread (Django's connection object is) and per open connection: a new one optimizes.
        raw = connection.connection
        last = getattr(connection, "chancery_optimized", None)
        if raw is not None and (last is None or last[0] is not raw or now - last[1] >= self.OPTIMIZE_EVERY_SECONDS):
            try:
                if optimize_sqlite(connection):
                    connection.chancery_optimized = (raw, now)  # type: ignore[attr-defined]
            except DatabaseError:  # e.g. the write lock is busy: the next request will do it
                logger.info("PRAGMA optimize skipped", exc_info=True)
        return response
