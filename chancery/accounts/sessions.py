"""Django's database sessions, each request's session read by a statement written once.

Every signed-in request reads its session: `Session.objects.get(…)` built and compiled the query
each time (a quarter of a millisecond, five times what running it costs; see
`chancery.core.db.rows_where`). Everything else is Django's `db` session engine, unchanged.
"""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.utils import timezone

from chancery.core.db import column, db_datetime, rows_where


class SessionStore(DatabaseSessionStore):
    def _get_session_from_db(self) -> Any:
        model = self.model
        if self.session_key is None:  # `session_key` validates the cookie's value: None when malformed
            self._session_key = None
            return None
        rows = rows_where(
            model,
            f"t.{column(model, 'session_key')} = %s AND t.{column(model, 'expire_date')} > %s",
            [self.session_key, db_datetime(timezone.now())],
        )
        if not rows:
            self._session_key = None
            return None
        return rows[0]
