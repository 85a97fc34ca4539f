from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError

from chancery.core.db import rows_by_key


class ChanceryBackend(ModelBackend):
    """Loads the signed-in agent outside the permission gate (authentication precedes it)."""

    def get_user(self, user_id: Any) -> Any:
        from chancery.accounts.models import User

        # every request: a statement written once (`chancery.core.db.rows_where`)
        try:
            key = User._meta.pk.to_python(user_id)
        except ValidationError:
            return None
        user = rows_by_key(User, [key]).get(key)
        return user if user is not None and self.user_can_authenticate(user) else None
