"""The JSON API under /api/v1/: token authentication, JSON errors with a stable `code`.

Each app contributes a router from its own `api.py`; handlers are thin and read through
the same selectors (hence the same permission gate) as the HTML views.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer

from chancery.accounts.services import user_for_token


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
        # The API authenticates by token itself; the session login redirect does not apply.
        for pattern in patterns:
            callback = getattr(pattern, "callback", None)
            if callback is not None:
                callback.login_required = False
        return patterns, app_name, namespace


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


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    codes = {400: "bad_request", 403: "forbidden", 404: "not_found", 409: "conflict", 413: "too_large"}
    return error_response(request, exc.status_code, codes.get(exc.status_code, "error"), str(exc))


def _register_routers() -> None:
    from chancery.organisation.api import router as organisation_router

    api.add_router("/", organisation_router)
    apps = ("correspondence", "planning", "imports", "search")
    for module in (f"chancery.{app}.api" for app in apps):
        try:
            router = __import__(module, fromlist=["router"]).router
        except ModuleNotFoundError:
            continue
        api.add_router("/", router)


_register_routers()
