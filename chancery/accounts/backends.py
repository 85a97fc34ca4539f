from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend


class ChanceryBackend(ModelBackend):
    """Loads the signed-in agent outside the permission gate (authentication precedes it)."""

    def get_user(self, user_id: Any) -> Any:
        from chancery.accounts.models import User

        user = User.objects.unrestricted("session authentication").filter(pk=user_id).first()
        return user if user is not None and self.user_can_authenticate(user) else None
