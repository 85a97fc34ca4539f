from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import get_language_bidi

from chancery.core.roles import Capability


def chancery(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    signed_in = bool(user is not None and user.is_authenticated)
    return {
        "can_manage_organisation": signed_in
        and (
            user.is_superuser  # type: ignore[union-attr]
            or user.has_capability(Capability.MANAGE_ORGANISATION)  # type: ignore[union-attr]
            or user.has_capability(Capability.MANAGE_CLEARANCES)  # type: ignore[union-attr]
        ),
        "can_read_audit": signed_in
        and (user.is_superuser or user.has_capability(Capability.READ_AUDIT)),  # type: ignore[union-attr]
        "ministry_name": settings.CHANCERY_MINISTRY_NAME,
        "is_rtl": get_language_bidi(),
        "base_template": "core/fragment.html" if getattr(request, "htmx", False) else "core/base.html",
    }
