"""Cross-cutting HTTP concerns: security headers, HTMX detection, gate enforcement."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse

from chancery.core.gate import enforcing

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


class GateEnforcementMiddleware:
    """While a view runs, a restricted queryset read without visible_to() raises."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with enforcing():
            return self.get_response(request)
