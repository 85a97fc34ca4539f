"""Domain errors every app's services raise, and their one translation per interface.

Services raise these; the API turns them into JSON once (`chancery.api`), the web pages once
(`chancery.core.middleware.DomainErrorMiddleware`). Views and handlers carry no try/except per
action for them. `status` and `error_code` are the API's (stable: clients rely on them); `details()`
adds fields a client needs to recover (e.g. the current version after a conflict).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied


class DomainError(Exception):
    status = 400
    error_code = "error"

    def details(self) -> dict[str, Any]:
        return {}

    @property
    def text(self) -> str:
        messages = getattr(self, "messages", None)  # also a Django ValidationError
        return " ".join(str(m) for m in messages) if messages else str(self)


class NotAllowed(DomainError, PermissionDenied):
    """The agent may see the object but may not do this to it."""

    status = 403
    error_code = "forbidden"

    @property
    def text(self) -> str:
        return str(self) or "Not allowed."


class InvalidState(DomainError):
    """The act does not apply to the object in its current state."""

    status = 409
    error_code = "invalid_state"


class Conflict(DomainError):
    """Someone else changed the object since the caller read it (optimistic locking)."""

    status = 409
    error_code = "conflict"
