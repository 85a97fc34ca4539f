"""Request-long memories: a context variable that holds a dict while a block runs (a request, a
command), and the middleware that runs each request inside such a block."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from typing import Any

from django.http import HttpRequest, HttpResponse


@contextmanager
def memory(var: ContextVar[Any]) -> Iterator[None]:
    """`var` holds a fresh dict inside the block and None after it; a nested block shares the
    outer one's dict."""
    if var.get() is not None:
        yield
        return
    token = var.set({})
    try:
        yield
    finally:
        var.reset(token)


class ScopeMiddleware:
    """Runs each request inside `scope()` (a subclass names it: `scope = staticmethod(...)`)."""

    scope: Callable[[], AbstractContextManager[Any]]

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with self.scope():
            return self.get_response(request)
