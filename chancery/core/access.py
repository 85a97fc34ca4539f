"""View decorators for capability checks; answer 404 so that a page's existence leaks nothing."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse

from chancery.core.roles import Capability


def require_capability(
    *capabilities: Capability,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """The agent must hold at least one of `capabilities` in some unit (superusers pass)."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request.user
            if not user.is_authenticated or not (
                user.is_superuser or any(user.has_capability(c) for c in capabilities)
            ):
                raise Http404("not found")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
