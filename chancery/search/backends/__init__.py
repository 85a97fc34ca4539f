"""Search engines behind one interface (`SearchBackend`), chosen by the database vendor."""

from __future__ import annotations

from django.db import connection

from chancery.search.backends.base import SearchBackend


def get_backend() -> SearchBackend:
    if connection.vendor == "postgresql":
        from chancery.search.backends.postgres import PostgresBackend

        return PostgresBackend()
    from chancery.search.backends.sqlite import SqliteBackend

    return SqliteBackend()
