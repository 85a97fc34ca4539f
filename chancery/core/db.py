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

import contextvars
import re
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from enum import Enum
from typing import Any, Generic, TypeVar

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Func, QuerySet, Value

from chancery.core.gate import check_gated

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


# --- statements planned with their values ------------------------------------------------------
# On PostgreSQL, reads are prepared and planned once per connection without their parameters'
# values (`chancery.core.pg_backend`), except inside `planned_with_values()`: a list filtered by
# what its reader typed (dates, a level, a status), whose plan depends on those values.

_planned_with_values: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "chancery_planned_with_values", default=False
)


@contextmanager
def planned_with_values() -> Iterator[None]:
    """The statements run inside are planned with their parameters' values (never prepared)."""
    token = _planned_with_values.set(True)
    try:
        yield
    finally:
        _planned_with_values.reset(token)


def planned_once_after_all() -> None:
    """Inside `planned_with_values()`: what runs from here on is prepared and planned once, as
    outside it (the `with` block's end restores what was before)."""
    _planned_with_values.set(False)


def values_decide_plan() -> bool:
    return _planned_with_values.get()


# --- the reads every request makes -------------------------------------------------------------
# Each signed-in request reads its session, its agent, the agent's memberships and clearance (an
# API request: its token). Built as querysets, compiling them cost ten times what running them
# does: about 2 ms of every page at any scale. These statements are written once, from the
# models' own table and column names, and read through `raw`, which still converts the columns
# as the ORM does. Only for rows that are not behind the permission gate (authentication and the
# agent's own rights come before it).


def column(model: Any, field: str) -> str:
    """The quoted column of `model.field`."""
    return connection.ops.quote_name(model._meta.get_field(field).column)


def table(model: Any) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def rows_where(model: Any, where: str, params: list[Any]) -> list[Any]:
    """The instances of `model` whose row meets `where` (SQL on its table, aliased `t`). The columns
    are named, not `t.*`: a statement prepared on PostgreSQL (`core.pg_backend`) keeps its result's
    shape when a migration adds a column to the table."""
    columns = ", ".join(f"t.{connection.ops.quote_name(f.column)}" for f in model._meta.concrete_fields)
    return list(model._base_manager.raw(f"SELECT {columns} FROM {table(model)} t WHERE {where}", params))  # noqa: S608


def rows_by_key(model: Any, keys: list[Any]) -> dict[Any, Any]:
    """The instances of `model` with these primary keys, by key."""
    if not keys:
        return {}
    where = f"t.{column(model, model._meta.pk.name)} IN ({', '.join(['%s'] * len(keys))})"
    return {row.pk: row for row in rows_where(model, where, list(keys))}


def db_date(value: Any) -> Any:
    return connection.ops.adapt_datefield_value(value)


def db_datetime(value: Any) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


class Literal(Value):
    """A constant written into the statement's text instead of bound as a parameter.

    For a condition whose constants decide the plan: with statements prepared on the server
    (`chancery.core.pg_backend`), PostgreSQL may plan a statement once for any parameters, and the
    declassification queue's `declassify_on BETWEEN $1 AND $2 AND status IN ($3, $4) AND
    classification > $5`, planned blind, read 371,000 index entries (0.3 -> 45 ms at 1M).
    Written out, the constants are in the plan (a date's text changes once a day: each day's
    statement is prepared anew). Only what needs no escaping is accepted: a `date`, an `int`,
    or a code's word (letters, digits, `_`, `-`), never text a user typed.
    """

    def __init__(self, value: date | int | str) -> None:
        plain_date = isinstance(value, date) and not isinstance(value, datetime)
        plain_int = isinstance(value, int) and not isinstance(value, bool)
        plain_word = isinstance(value, str) and _WORD.fullmatch(value) is not None
        if not (plain_date or plain_int or plain_word):
            raise ValueError(f"not a constant that can be written out: {value!r}")
        super().__init__(value.value if isinstance(value, Enum) else value)

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[()]]:
        value = self.value
        if isinstance(value, date):
            text = f"'{value.year:04d}-{value.month:02d}-{value.day:02d}'"
            return (f"DATE {text}" if connection.vendor == "postgresql" else text), ()
        return (str(int(value)) if isinstance(value, int) else f"'{value}'"), ()


_WORD = re.compile(r"[A-Za-z0-9_-]{1,64}")


class Unindexed(Func):
    """A column that SQLite's planner may not start from (the unary `+`; the same column elsewhere).

    For a filter whose index covers most of the table: SQLite chose the `(status, classification)`
    index for "sent dispatches", read the 600,000 it names and sorted the reader's among them (0.6 s
    at 1M for a desk officer), where walking the list's date order finds a page in 30 ms."""

    template = "%(expressions)s"

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        return self.as_sql(compiler, connection, template="+%(expressions)s", **extra_context)


class UnindexedText(Unindexed):
    """A text column that no planner may answer from an index on it or on an expression of it
    (PostgreSQL: `column || ''`). For a test a list applies to the rows it walks, where the
    index answers it only at a cost the planner misjudges: a two-letter word against the trigram
    indexes, which cannot narrow it, read them whole (3 s at 1M against 1.5 s walked)."""

    def as_postgresql(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        return self.as_sql(compiler, connection, template="(%(expressions)s || '')", **extra_context)


# --- statements compiled once ------------------------------------------------------------------

Statement = tuple[str, tuple[Any, ...]]


Compiled = TypeVar("Compiled")


class CompiledStatements(Generic[Compiled]):
    """Statements compiled by the ORM, kept in this process by a key that holds everything they
    are written from (for a gated read: the reader's rights, so a change of rights is a new key,
    never an old statement). Building and compiling a gated query costs milliseconds of Python,
    often more than running it. Per database engine; bounded: emptied when full."""

    def __init__(self, kept: int = 4096) -> None:
        self.kept = kept
        self._statements: dict[tuple[str, Hashable], Compiled] = {}

    def get(self, key: Hashable, build: Callable[[], Compiled]) -> Compiled:
        """The statement kept for `key`, else the one `build` compiles (then kept). A key of None (a
        reader with no `rights_key`): compiled each time, never kept."""
        if key is None:
            return build()
        full = (connection.vendor, key)
        statement = self._statements.get(full)
        if statement is None:
            statement = build()
            if len(self._statements) >= self.kept:
                self._statements.clear()
            self._statements[full] = statement
        return statement

    def clear(self) -> None:
        self._statements.clear()

    def __len__(self) -> int:
        return len(self._statements)


def count_statement(queryset: QuerySet[Any]) -> Statement:
    """`SELECT COUNT(*)` of the rows of `queryset`, compiled (for `CompiledStatements`)."""
    check_gated(queryset)
    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    return f"SELECT COUNT(*) FROM ({sql}) counted", tuple(params)  # noqa: S608 - compiled by the ORM


def run_count(statement: Statement) -> int:
    with connection.cursor() as cursor:
        cursor.execute(*statement)
        row = cursor.fetchone()
    return int(row[0])
