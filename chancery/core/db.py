"""Database helpers shared by the apps, and the upkeep of the query planner's statistics.

The planner picks an index from what it knows of the tables. A database never analysed
(SQLite's `sqlite_stat1` absent) makes SQLite start the inbox from the `(status,
classification)` index, which covers nearly every dispatch, instead of the unit indexes: at
100k dispatches that is 10-30x slower. So the statistics are refreshed whenever the data
grows in bulk (after `migrate`, `chancery demo`, `chancery generate`) and kept current on
SQLite by `PRAGMA optimize` at the end of each request (PostgreSQL's autovacuum does the
same there; see docs/deployment.md).
"""

from __future__ import annotations

from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper

# Rows SQLite samples per index in `PRAGMA optimize`: bounds its cost on a large table
# (a few milliseconds) while keeping the estimates good enough to choose an index.
OPTIMIZE_ANALYSIS_LIMIT = 400


def is_postgresql() -> bool:
    return connection.vendor == "postgresql"


def refresh_statistics(*, using: str = DEFAULT_DB_ALIAS) -> None:
    """Analyse every table now (a full `ANALYZE`), after data was written in bulk."""
    db = connections[using]
    with db.cursor() as cursor:
        if db.vendor == "sqlite":
            cursor.execute("PRAGMA analysis_limit=0")  # exact statistics, not the sampled ones
        cursor.execute("ANALYZE")


def optimize_sqlite(db: BaseDatabaseWrapper) -> bool:
    """`PRAGMA optimize` on an open SQLite connection before it is closed: re-analyses (sampled)
    the tables this connection queried whose statistics are missing or out of date; costs
    next to nothing when they are current. Not inside a transaction (a test's, or a caller's).
    Whether it ran."""
    if db.vendor != "sqlite" or db.connection is None or db.in_atomic_block:
        return False
    with db.cursor() as cursor:
        cursor.execute(f"PRAGMA analysis_limit={OPTIMIZE_ANALYSIS_LIMIT}")
        cursor.execute("PRAGMA optimize")
    return True


def analyse_after_migrate(sender: Any, using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> None:
    """`post_migrate` receiver (connected for the core app only, so it runs once per migrate):
    the shared cache's table when the cache is the database's (`CHANCERY_CACHE=database`), then
    the statistics."""
    from django.core.management import call_command

    call_command("createcachetable", database=using, verbosity=0)  # a no-op for other caches
    refresh_statistics(using=using)


def lock_for_update(key: int, *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Serialise a check-then-write between processes (several app servers) until the end of the
    caller's transaction: an advisory lock on PostgreSQL; on SQLite every writing transaction
    already holds the database's only write lock (IMMEDIATE mode), so nothing more is needed."""
    db = connections[using]
    if not db.in_atomic_block:
        raise RuntimeError("lock_for_update must run inside the transaction it protects")
    if db.vendor == "postgresql":
        with db.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])
