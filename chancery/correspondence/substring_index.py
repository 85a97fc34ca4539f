"""The dispatches' substring index: where the lists' `q` filter (words in the reference, the
sender's reference, the sender or the clear subject; also the reference picker of the reply and
draft forms) finds its candidates, instead of testing every dispatch of the reader's scope.

- PostgreSQL: `pg_trgm` GIN indexes on `UPPER(column::text)`, the very expression Django's
  `icontains` writes, so that the filter's own condition can be answered by them.
- SQLite: an FTS5 table with the `trigram` tokenizer over the dispatch table (external content,
  rowid = the dispatch's id), kept by triggers in the writing statement's transaction, whatever
  writes (the ORM, a bulk insert, a restore). `detail=none`: no positions, a third of the size;
  the words' trigrams are looked up together and the filter's own test decides.

Either way the index only narrows: a dispatch is listed when the filter's own condition holds
and the gate lets the reader see it (`search_dispatches`). It holds only clear columns, which the
table already holds in clear (the subject column of a protected dispatch is empty: its subject is
encrypted). Why at all: an absent word read every dispatch of a wide reader's scope (2.1-2.8 s
at a million dispatches, `bench/results/filters-1m.md`).
"""

# ruff: noqa: S608  (every statement here is built from this module's constants, never from input)
from __future__ import annotations

from collections.abc import Callable
from functools import reduce
from operator import or_
from typing import Any

from django.db import connections, router
from django.db.models import F, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.lookups import IContains, In

from chancery.core.db import Unindexed, UnindexedText

COLUMNS = ("reference", "external_reference", "sender_name", "subject")
_DISPATCH = "correspondence_dispatch"
TABLE = "correspondence_dispatch_substrings"  # SQLite's FTS5 table
# The migration that creates the index: before it (or after it is reverted) nothing is missing.
MIGRATION = ("correspondence", "0013_dispatch_substrings")
# The shortest text the index can narrow: one trigram.
MIN_LENGTH = 3

_SQLITE_TRIGGERS = {
    "corr_substrings_insert": f"AFTER INSERT ON {_DISPATCH} BEGIN {{insert_new}}; END",
    "corr_substrings_delete": f"AFTER DELETE ON {_DISPATCH} BEGIN {{delete_old}}; END",
    # A full save rewrites every column: only a change of an indexed one re-indexes the row.
    "corr_substrings_update": (
        f"AFTER UPDATE OF {', '.join(COLUMNS)} ON {_DISPATCH} WHEN "
        + " OR ".join(f"old.{c} IS NOT new.{c}" for c in COLUMNS)
        + " BEGIN {delete_old}; {insert_new}; END"
    ),
}


def _pg_index(column: str) -> str:
    return f"corr_dispatch_{column}_trgm"


def _sqlite_trigger_sql(name: str) -> str:
    columns = ", ".join(COLUMNS)
    insert_new = f"INSERT INTO {TABLE}(rowid, {columns}) VALUES (new.id, {', '.join('new.' + c for c in COLUMNS)})"
    delete_old = (
        f"INSERT INTO {TABLE}({TABLE}, rowid, {columns}) "
        f"VALUES ('delete', old.id, {', '.join('old.' + c for c in COLUMNS)})"
    )
    body = _SQLITE_TRIGGERS[name].format(insert_new=insert_new, delete_old=delete_old)
    return f"CREATE TRIGGER {name} {body}"


def _alias(using: str | None) -> str:
    from chancery.correspondence.models import Dispatch

    return using or router.db_for_write(Dispatch)


def install(*, using: str | None = None) -> None:
    """Create the index (filled from the dispatches) and, on SQLite, its triggers."""
    connection = connections[_alias(using)]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                f"CREATE VIRTUAL TABLE IF NOT EXISTS {TABLE} USING fts5({', '.join(COLUMNS)}, "
                f"content='{_DISPATCH}', content_rowid='id', tokenize='trigram', detail=none)"
            )
            for name in _SQLITE_TRIGGERS:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
                cursor.execute(_sqlite_trigger_sql(name))
            cursor.execute(f"INSERT INTO {TABLE}({TABLE}) VALUES ('rebuild')")
        elif connection.vendor == "postgresql":
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            for column in COLUMNS:
                cursor.execute(
                    f"CREATE INDEX IF NOT EXISTS {_pg_index(column)} ON {_DISPATCH} "
                    f"USING gin ((UPPER({column}::text)) gin_trgm_ops)"
                )
            # the indexed expressions' statistics, by which the planner weighs a word's candidates
            cursor.execute(f"ANALYZE {_DISPATCH}")


def uninstall(*, using: str | None = None) -> None:
    connection = connections[_alias(using)]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for name in _SQLITE_TRIGGERS:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
            cursor.execute(f"DROP TABLE IF EXISTS {TABLE}")
        elif connection.vendor == "postgresql":
            for column in COLUMNS:
                cursor.execute(f"DROP INDEX IF EXISTS {_pg_index(column)}")


def applies(*, using: str | None = None) -> bool:
    """Whether the database is migrated to have the index (and its engine has one)."""
    from django.db.migrations.recorder import MigrationRecorder

    connection = connections[_alias(using)]
    return connection.vendor in ("sqlite", "postgresql") and MIGRATION in MigrationRecorder(
        connection
    ).applied_migrations()


def missing(*, using: str | None = None) -> list[str]:
    """The index's parts (table, triggers, indexes) absent from a database migrated to have them."""
    connection = connections[_alias(using)]
    if not applies(using=using):
        return []
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            expected = [TABLE, *_SQLITE_TRIGGERS]
            cursor.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')")
        elif connection.vendor == "postgresql":
            expected = [_pg_index(column) for column in COLUMNS]
            cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", [_DISPATCH])
        else:
            return []
        present = {row[0] for row in cursor.fetchall()}
    return [name for name in expected if name not in present]


def ensure_installed(*, using: str | None = None) -> bool:
    """Re-create the index if a part is missing: on SQLite a migration that rebuilds the dispatch
    table drops its triggers with it (`post_migrate` runs this after every migration; the index
    is then rebuilt from the table, whatever was written meanwhile). True when it repaired."""
    if not missing(using=using):
        return False
    install(using=using)
    return True


def drift(*, using: str | None = None) -> int:
    """SQLite: 1 when the index disagrees with the dispatch table (FTS5's own integrity check
    against its content), else 0. PostgreSQL keeps its indexes itself: 0."""
    from django.db import DatabaseError

    connection = connections[_alias(using)]
    if connection.vendor != "sqlite":
        return 0
    with connection.cursor() as cursor:
        try:
            cursor.execute(f"INSERT INTO {TABLE}({TABLE}, rank) VALUES ('integrity-check', 1)")
        except DatabaseError:
            return 1
    return 0


def words_q(text: str, *, by_index: bool = False) -> Q:
    """The `q` filter's own condition on `Dispatch`: `text` in the reference, the sender's
    reference, the sender or the clear subject (empty for a protected dispatch: its subject is
    encrypted), as `icontains` tests it. What the index's candidates narrow, never replace.
    Written `by_index` so that PostgreSQL's trigram indexes answer it (the candidates), else so
    that no index does (the test a list applies to each row it reads: see `UnindexedText`)."""
    if by_index:
        return reduce(or_, (Q(**{f"{column}__icontains": text}) for column in COLUMNS))
    return reduce(or_, (Q(IContains(UnindexedText(F(column)), text)) for column in COLUMNS))


def _sqlite_match(text: str) -> str:
    """An FTS5 query of trigrams covering `text` (one every three characters, and the last), each
    a quoted string (nothing typed is parsed as FTS5 syntax); FTS5 folds their case as it folded
    the rows'. Not every trigram: each is a list to read, and the filter's own test decides
    anyway (a 15-letter word's 13 trigrams read in 9 ms at 1M, its 5 in 4)."""
    starts = [*range(0, len(text) - MIN_LENGTH, MIN_LENGTH), len(text) - MIN_LENGTH]
    trigrams = dict.fromkeys(text[i : i + MIN_LENGTH] for i in starts)
    return " AND ".join('"' + trigram.replace('"', '""') + '"' for trigram in trigrams)


def _fts_rowids(text: str) -> tuple[str, list[str]]:
    return f"SELECT rowid FROM {TABLE} WHERE {TABLE} MATCH %s", [_sqlite_match(text)]


def words_filter_q(
    text: str,
    *,
    few: int | None,
    many: int,
    scope: Callable[[], list[QuerySet[Any]] | None] | None = None,
    using: str | None = None,
) -> Q:
    """`words_q`, with the candidates the index finds for `text` (any reader's: the gate decides):

    - at most `few` of them: written so that a list starts from them;
    - on SQLite, up to `many`: tested row by row as a list walks its own order, read once (a
      frequent word's page and count for a desk officer at 1M: 164 -> 66 ms, where testing each
      row's columns read the whole scope for the count's thousand);
    - more, or a text shorter than a trigram (which the index cannot narrow), or `few` None (the
      list starts from somewhere narrower): the test alone, as the list walks its order.

    On PostgreSQL the few candidates' keys are read once, here, and, given the reader's `scope`
    (asked only then: `models.gate_scope`, rows naming every dispatch they may read), narrowed to
    those it names, on the access index alone; the list and its count start from that array
    (read from the trigram indexes each, every candidate's row was visited twice more: 60-90 ms
    each for 21,000 at 1M, of which a desk officer may read 1,622). More are left to the planner
    with the indexes (a frequent word's page: 1,000 ms walked, 200 ms from the indexes), but never
    a short text (3 s from the indexes, which it cannot narrow, 1.6 s walked)."""
    from chancery.correspondence.models import Dispatch, ids_array_q

    exact = words_q(text)
    if few is None or len(text) < MIN_LENGTH:
        return exact
    connection = connections[_alias(using)]
    if connection.vendor == "sqlite":
        sql, params = _fts_rowids(text)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM ({sql} LIMIT %s)", [*params, many + 1])
            n = int(cursor.fetchone()[0])
        if n > many:
            return exact
        # straight from the FTS table: through the dispatch table, every candidate cost a lookup more
        found = RawSQL(sql, params)  # noqa: S611 - the text a parameter
        return exact & (Q(pk__in=found) if n <= few else Q(In(Unindexed(F("pk")), found)))
    by_index = words_q(text, by_index=True)
    rows = Dispatch.objects.unrestricted("the words' candidates: the gate decides").filter(by_index)
    ids = list(rows.order_by().values_list("pk", flat=True)[: few + 1])
    if len(ids) > few:
        return by_index
    parts = scope() if scope is not None else None
    if parts:
        named = [part.filter(ids_array_q(ids, "dispatch_id")).values_list("dispatch_id", flat=True) for part in parts]
        ids = list(named[0].union(*named[1:]))
    return exact & ids_array_q(ids)
