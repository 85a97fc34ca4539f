"""One key scope per request (`crypto.services.key_scope`): a data key is unwrapped once for a
page, however many of its rows, thread entries and citations share it, and forgotten when the
page is sent."""

from __future__ import annotations

from chancery.core.scopes import ScopeMiddleware
from chancery.crypto.services import key_scope


class KeyScopeMiddleware(ScopeMiddleware):
    scope = staticmethod(key_scope)
