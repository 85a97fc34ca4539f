"""Django's PostgreSQL backend, with a page's reads planned once per connection.

At a million dispatches, planning is most of a page's SQL on PostgreSQL: the inbox's rows took
2.2 ms to plan and 0.7 to run, a dispatch read through the gate 0.7 and 0.1. Statements prepared
on the server with generic plans (planned without their parameters' values, once per connection)
remove that cost, but a generic plan cannot see the values that decide a plan: a date range, a
status, a level typed into a list's filters (`bench/results/filters-1m.md`: a ten-year range
1.1 s instead of 48 ms).

So each connection sends a read one of two ways:
- statements that open with `SELECT` or `WITH` (reads, and the audit's one-statement append), by
  default, with their parameters bound on the server and prepared at their first run (psycopg's
  `prepare_threshold` 0), under `plan_cache_mode=force_generic_plan`;
- every other statement, and every statement run inside `core.db.planned_with_values()`, with its
  values written into the text as Django sends them by default (client-side binding): a statement
  without parameters is planned with its values whatever the plan cache mode.

Lists whose filters come from the reader (the API's, search) run in `planned_with_values()`.
"""

from __future__ import annotations

from typing import Any

from django.db.backends.postgresql import base, operations
from django.db.backends.postgresql.psycopg_any import register_tzloader
from psycopg.errors import DataError
from psycopg.pq import Format

from chancery.core.db import values_decide_plan

_PREPARABLE = ("SELECT", "WITH", "(SELECT")


def _preparable(query: Any) -> bool:
    return isinstance(query, str) and query.lstrip()[:7].upper().startswith(_PREPARABLE) and not values_decide_plan()


class PreparingCursor:
    """What Django's cursor wrapper holds: a client-binding cursor (Django's default) and, on the
    same connection, a server-binding one for the reads it prepares; the results are read from
    whichever ran the last statement."""

    def __init__(self, client: Any, server: Any) -> None:
        self._client = client
        self._server = server
        self._current = client

    @property
    def prepared_last(self) -> bool:
        """The last statement went to the server-binding cursor."""
        return self._current is self._server

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        self._current = self._server if _preparable(query) else self._client
        self._current.execute(query, params, **kwargs)
        return self

    def executemany(self, query: Any, params_seq: Any, **kwargs: Any) -> Any:
        self._current = self._client
        self._client.executemany(query, params_seq, **kwargs)
        return self

    def __iter__(self) -> Any:
        return iter(self._current)

    def __getattr__(self, name: str) -> Any:  # fetchone, fetchmany, description, rowcount, …
        return getattr(self._current, name)

    def close(self) -> None:
        self._server.close()
        self._client.close()

    def __enter__(self) -> PreparingCursor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class DatabaseOperations(operations.DatabaseOperations):
    def last_executed_query(self, cursor: Any, sql: str, params: Any) -> Any:  # a str, None when unknown
        """The statement as it ran (query logs, `CaptureQueriesContext`): a prepared read carried its
        values apart, so they are written in here as Django does for server-side binding."""
        if isinstance(cursor, PreparingCursor) and cursor.prepared_last:
            try:
                return str(self.compose_sql(sql, params))
            except DataError:
                return None
        return super().last_executed_query(cursor, sql, params)


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        connection = super().get_new_connection(conn_params)
        connection.prepare_threshold = 0  # the server cursor's reads: prepared at their first run
        connection.prepared_max = 500  # distinct statements kept prepared (the oldest deallocated)
        return connection

    def create_cursor(self, name: str | None = None) -> Any:
        client = super().create_cursor(name)
        if name:  # a named (server-side) cursor, as Django makes it
            return client
        server = base.ServerBindingCursor(self.connection)  # type: ignore[call-arg]  # psycopg 3 (the stubs: 2)
        # As Django does for its cursor: the time zone's loader when the connection's differs.
        loader = self.connection.adapters.get_loader(base.TIMESTAMPTZ_OID, Format.TEXT)
        if self.timezone != loader.timezone:
            register_tzloader(self.timezone, server)
        return PreparingCursor(client, server)
