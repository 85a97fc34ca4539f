"""One key scope per request (`crypto.services.key_scope`): a data key is unwrapped once for a
page, however many of its rows, thread entries and citations share it, and forgotten when the
page is sent."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from chancery.crypto.services import key_scope


class KeyScopeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with key_scope():
            return self.get_response(request)
