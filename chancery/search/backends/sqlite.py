"""SQLite FTS5: table `search_fts(terms, words)`, rowid = `SearchDocument.id`.

Tokens arrive analysed (see `chancery.search.analysis`): the FTS5 tokenizer only splits on
the spaces we put between them. Expressions are built from tokens that contain only
letters and digits, each quoted, so nothing a user typed is ever parsed as FTS5 syntax.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from django.db import connection

from chancery.search.backends.base import Clauses, SearchBackend
from chancery.search.query import Alternative


def _quote(token: str) -> str:
    return '"' + token.replace('"', "") + '"'


def _alternative(alt: Alternative) -> str:
    if alt.kind == "prefix":
        return f"{alt.column} : {_quote(alt.tokens[0])} *"
    return f"{alt.column} : {_quote(' '.join(alt.tokens))}"


def expression(clauses: Clauses) -> str:
    parts = []
    for clause in clauses:
        parts.append("(" + " OR ".join(_alternative(alt) for alt in clause) + ")")
    return " AND ".join(parts)


class SqliteBackend(SearchBackend):
    name = "sqlite"

    def write(self, doc_id: int, *, terms: Sequence[str], words: Sequence[str]) -> None:
        self.write_many([(doc_id, " ".join(terms), " ".join(words))])

    def write_many(self, rows: Sequence[tuple[int, str, str]]) -> None:
        # FTS5 replaces a row of the same rowid (and its index entries) in place: a document
        # re-indexed under its key (`models.document_key`) needs no separate delete.
        # In rowid order: FTS5 flushes its pending terms to a new segment whenever a rowid is
        # not above the previous one of the transaction — one segment per row for a batch in
        # object order but keyed by date (a reindex ran at 90 rows/s instead of 800).
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT OR REPLACE INTO search_fts (rowid, terms, words) VALUES (%s, %s, %s)", sorted(rows)
            )

    def delete(self, doc_ids: Sequence[int]) -> None:
        with connection.cursor() as cursor:
            cursor.executemany("DELETE FROM search_fts WHERE rowid = %s", [(i,) for i in doc_ids])

    def move(self, moves: Sequence[tuple[int, int]]) -> None:
        with connection.cursor() as cursor:
            cursor.executemany("UPDATE search_fts SET rowid = %s WHERE rowid = %s", sorted(moves))  # see write_many

    def drop_all(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM search_fts")

    def match(self, clauses: Clauses) -> tuple[str, list[object]]:
        return (
            '"search_searchdocument"."id" IN (SELECT rowid FROM search_fts WHERE search_fts MATCH %s)',
            [expression(clauses)],
        )

    def newest_matches(self, clauses: Clauses, excluded: Clauses = ()) -> tuple[str, list[object]]:
        # FTS5 walks a term's doclist in rowid order, either way: `ORDER BY id DESC LIMIT n`
        # over this reads about n entries, ranks nothing and sorts nothing. An exclusion is
        # FTS5's own NOT, evaluated along the same walk (the excluded word's list is only
        # sought where the walk is); outside the MATCH, `NOT IN (its matches)` listed every
        # document holding the excluded word first (a second for a common one at a million).
        match = f"({expression(clauses)})" + "".join(f" NOT ({expression([clause])})" for clause in excluded)
        return "SELECT rowid AS id FROM search_fts WHERE search_fts MATCH %s", [match]

    def filter_column(self, column: str) -> str:
        # The unary `+`: an id list offered to FTS5 as rowid constraints would re-run the
        # MATCH once per id. (On PostgreSQL the same `+` is an operator call, which kept the
        # planner from hashing the list: a counsellor's search compared 3.5 million pairs.)
        return f"+{column}"

    def ranked_among(self, clauses: Clauses, candidates: str) -> tuple[str, list[object]]:
        # bm25() is negative, lower is better; stems weigh more than word prefixes. It
        # exists only in the statement that MATCHes: the match is run again, held to
        # the candidates' rowid range (FTS5 seeks it in each doclist), and only the
        # candidates are kept (`+` keeps the list a filter, not one MATCH per id).
        return (
            "SELECT rowid AS id, bm25(search_fts, 1.0, 0.3) AS rank FROM search_fts "  # noqa: S608 - a CTE name
            f"WHERE search_fts MATCH %s AND rowid >= (SELECT MIN(id) FROM {candidates}) "
            f"AND +rowid IN (SELECT id FROM {candidates})",
            [expression(clauses)],
        )

    def ranked(self, clauses: Clauses) -> Iterator[int]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT rowid FROM search_fts WHERE search_fts MATCH %s "
                "ORDER BY bm25(search_fts, 1.0, 0.3), rowid DESC",
                [expression(clauses)],
            )
            while rows := cursor.fetchmany(500):
                yield from (row[0] for row in rows)

    def ranked_page(self, clauses: Clauses, within: Any, *, offset: int, limit: int) -> list[int]:
        # bm25() is only available in the statement that MATCHes the FTS table: the gated
        # queryset joins in as a semi-join on the rowid, so SQLite ranks only readable matches.
        # `+rowid` keeps that semi-join a filter: offered to FTS5 as a rowid constraint, it
        # would re-run the MATCH once per readable id (seconds for a common prefix).
        sub, params = within.order_by().values("id").query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT rowid FROM search_fts WHERE search_fts MATCH %s "  # noqa: S608 - ORM-built subquery
                f"AND +rowid IN ({sub}) "
                "ORDER BY bm25(search_fts, 1.0, 0.3), rowid DESC LIMIT %s OFFSET %s",
                [expression(clauses), *params, limit, offset],
            )
            return [row[0] for row in cursor.fetchall()]

    def storage_size(self) -> int:
        with connection.cursor() as cursor:
            try:
                cursor.execute("SELECT SUM(pgsize) FROM dbstat WHERE name LIKE 'search_fts%%' OR name LIKE 'search_%%'")
                return int(cursor.fetchone()[0] or 0)
            except Exception:  # dbstat is an optional SQLite module
                return 0
