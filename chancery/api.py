"""The JSON API under /api/v1/: token authentication, JSON errors with a stable `code`.

Each app contributes a router from its own `api.py`; handlers are thin and read through
the same selectors (hence the same permission gate) as the HTML views.
"""

from __future__ import annotations

import functools
import json
import math
import re
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer

from chancery.accounts.services import user_for_token
from chancery.core.errors import DomainError
from chancery.core.validators import out_of_range, year_message


class TokenAuth(HttpBearer):
    openapi_scheme = "bearer"

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = user_for_token(token)
        if user is None:
            return None
        request.user = user
        return user


class ChanceryApi(NinjaAPI):
    def get_openapi_operation_id(self, operation: Any) -> str:
        name = operation.view_func.__name__
        module = operation.view_func.__module__.split(".")[-2]
        return f"{module}_{name}"

    @property
    def urls(self) -> tuple[list[Any], str, str]:
        patterns, app_name, namespace = super().urls
        for pattern in patterns:
            callback = getattr(pattern, "callback", None)
            if callback is not None:
                bounded = _bounded(callback)
                # The API authenticates by token itself; the session login redirect does not apply.
                bounded.login_required = False
                pattern.callback = bounded
        return patterns, app_name, namespace


# --- Bounds at the edge ---------------------------------------------------------------
# Whatever a client sends, the answer is a 4xx with a clear message, never a 500: numbers
# beyond what the databases store, years no record can carry, and text that is not valid
# Unicode (a lone surrogate such as "\ud800" in JSON cannot be stored or encoded) are refused
# here, once for every endpoint, before any handler runs.

INT_MIN, INT_MAX = -(2**63), 2**63 - 1
_INTEGER = re.compile(r"^[+-]?\d+$")


def _number_problem(name: str, value: Any) -> str | None:
    if isinstance(value, str):
        if not _INTEGER.match(value.strip()):
            return None
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    if not INT_MIN <= value <= INT_MAX:
        return f"{name}: the number is too large."
    if name.endswith("year") and out_of_range(value, year=True):
        return f"{name}: {year_message()}"
    return None


def _text_problem(name: str, value: str) -> str | None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return f"{name}: the text is not valid Unicode (lone surrogate)."
    if "\x00" in value:  # PostgreSQL stores no NUL character in text
        return f"{name}: the text contains a NUL character."
    return None


def _json_problem(value: Any, name: str = "body") -> str | None:
    if isinstance(value, dict):
        for key, item in value.items():
            problem = _text_problem(name, str(key)) or _json_problem(item, str(key))
            if problem:
                return problem
    elif isinstance(value, list):
        for item in value:
            problem = _json_problem(item, name)
            if problem:
                return problem
    elif isinstance(value, str):
        return _text_problem(name, value)
    elif isinstance(value, float) and not math.isfinite(value):
        return f"{name}: not a number."
    elif isinstance(value, int):
        return _number_problem(name, value)
    return None


def edge_problem(request: HttpRequest, path_values: dict[str, Any]) -> str | None:
    """Why this request cannot be handled (None: it can)."""
    for name, value in path_values.items():
        problem = _number_problem(name, value) or (_text_problem(name, value) if isinstance(value, str) else None)
        if problem:
            return problem
    for name, values in request.GET.lists():
        for value in values:
            problem = _number_problem(name, value) or _text_problem(name, value)
            if problem:
                return problem
    if request.body and (request.content_type or "").endswith("json"):
        try:
            body = json.loads(request.body)
        except (ValueError, RecursionError):
            return None  # ninja answers 400 (cannot parse)
        return _json_problem(body)
    return None


def _bounded(view: Any) -> Any:
    @functools.wraps(view)
    def bounded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        problem = edge_problem(request, kwargs)
        if problem:
            return error_response(request, 422, "invalid", problem)
        response: HttpResponse = view(request, *args, **kwargs)
        return response

    return bounded


api = ChanceryApi(
    title="Chancery API",
    version="1",
    description="Correspondence and action planning. Every endpoint reads through the permission gate: "
    "objects out of scope answer 404.",
    auth=TokenAuth(),
    docs_url=None,  # the interactive docs page needs files from a CDN; the OpenAPI document is served
    urls_namespace="api",
)


def error_response(request: HttpRequest, status: int, code: str, message: str, **extra: Any) -> HttpResponse:
    return api.create_response(request, {"code": code, "message": message, **extra}, status=status)


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
    return error_response(request, 404, "not_found", "Not found.")


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request: HttpRequest, exc: Exception) -> HttpResponse:
    return error_response(request, 401, "unauthenticated", "A valid API token is required (Authorization: Bearer …).")


@api.exception_handler(NinjaValidationError)
def on_invalid_request(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    return error_response(request, 422, "invalid", "The request is not valid.", errors=exc.errors)


@api.exception_handler(ValidationError)
def on_invalid_data(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    return error_response(request, 422, "invalid", "The data is not valid.", errors=errors)


@api.exception_handler(DomainError)
def on_domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    """Every service's domain error, mapped once: its status, its stable code, its details."""
    return error_response(request, exc.status, exc.error_code, exc.text, **exc.details())


@api.exception_handler(PermissionDenied)
def on_not_allowed(request: HttpRequest, exc: Exception) -> HttpResponse:
    return error_response(request, 403, "forbidden", str(exc) or "Not allowed.")


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    codes = {400: "bad_request", 403: "forbidden", 404: "not_found", 409: "conflict", 413: "too_large"}
    return error_response(request, exc.status_code, codes.get(exc.status_code, "error"), str(exc))


def _register_routers() -> None:
    from chancery.organisation.api import router as organisation_router

    api.add_router("/", organisation_router)
    for module in (
        "chancery.correspondence.api",
        "chancery.planning.api",
        "chancery.imports.api",
        "chancery.reporting.api",
        "chancery.search.api",
    ):
        try:
            router = __import__(module, fromlist=["router"]).router
        except ModuleNotFoundError:
            continue
        api.add_router("/", router)


_register_routers()
