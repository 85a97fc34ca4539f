"""PostgreSQL full-text search: `terms_vector` and `words_vector` (tsvector, GIN) on
`search_searchdocument`.

The vectors are written as tsvector literals built from our own analysed tokens (with
their positions, for phrases), not through `to_tsvector`: the language-aware work —
folding (the job `unaccent` would do), Snowball stemming, the Arabic light stemmer and the
keyed hashes of protected words — is done once in Python for both engines, so PostgreSQL
and SQLite index and match exactly the same terms. Queries are tsquery literals built from
the same tokens (`&`, `|`, `<->` for phrases, `:*` for prefixes).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

from django.db import connection

from chancery.search.backends.base import Clauses, SearchBackend
from chancery.search.query import Alternative

MAX_POSITION = 16383


def _lexeme(token: str) -> str:
    return "'" + token.replace("'", "").replace("\\", "") + "'"


def vector_literal(tokens: Sequence[str], *, positions: bool) -> str:
    if not positions:
        return " ".join(_lexeme(t) for t in dict.fromkeys(tokens))
    where: dict[str, list[int]] = defaultdict(list)
    for index, token in enumerate(tokens[:MAX_POSITION], start=1):
        if len(where[token]) < 256:  # PostgreSQL keeps at most 256 positions per lexeme
            where[token].append(index)
    return " ".join(f"{_lexeme(t)}:{','.join(map(str, pos))}" for t, pos in where.items())


def _alternative(alt: Alternative) -> str:
    if alt.kind == "prefix":
        return _lexeme(alt.tokens[0]) + ":*"
    return " <-> ".join(_lexeme(t) for t in alt.tokens)


def _column_queries(clauses: Clauses) -> dict[str, str]:
    """One tsquery per column: the AND of the clauses that search it."""
    by_column: dict[str, list[str]] = defaultdict(list)
    for clause in clauses:
        columns = {alt.column for alt in clause}
        if len(columns) != 1:  # never built by the query module: a clause searches one column
            raise ValueError("a clause must search a single column")
        by_column[columns.pop()].append("(" + " | ".join(_alternative(alt) for alt in clause) + ")")
    return {column: " & ".join(parts) for column, parts in by_column.items()}


class PostgresBackend(SearchBackend):
    name = "postgresql"

    def write(self, doc_id: int, *, terms: Sequence[str], words: Sequence[str]) -> None:
        self.write_many([(doc_id, " ".join(terms), " ".join(words))])

    def write_many(self, rows: Sequence[tuple[int, str, str]]) -> None:
        # The vectors are columns of the document row (new or not): one UPDATE ... FROM
        # (VALUES ...) per 500 documents.
        values = [
            (doc_id, vector_literal(terms.split(), positions=True), vector_literal(words.split(), positions=False))
            for doc_id, terms, words in rows
        ]
        with connection.cursor() as cursor:
            for start in range(0, len(values), 500):
                chunk = values[start : start + 500]
                marks = ", ".join(["(%s::bigint, %s::tsvector, %s::tsvector)"] * len(chunk))
                cursor.execute(
                    "UPDATE search_searchdocument AS d SET terms_vector = v.t, words_vector = v.w "  # noqa: S608
                    f"FROM (VALUES {marks}) AS v(id, t, w) WHERE d.id = v.id",
                    [value for row in chunk for value in row],
                )

    def delete(self, doc_ids: Sequence[int]) -> None:
        return None  # the vectors are columns of the document row, deleted with it

    def drop_all(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("UPDATE search_searchdocument SET terms_vector = NULL, words_vector = NULL")

    def match(self, clauses: Clauses) -> tuple[str, list[object]]:
        parts: list[str] = []
        params: list[object] = []
        for column, tsquery in sorted(_column_queries(clauses).items()):
            parts.append(f'"search_searchdocument"."{column}_vector" @@ %s::tsquery')
            params.append(tsquery)
        return " AND ".join(parts) or "TRUE", params

    @staticmethod
    def _rank(clauses: Clauses) -> tuple[str, list[str]]:
        queries = _column_queries(clauses)
        # Stems weigh more than word prefixes (as bm25's column weights do on SQLite).
        weights = {"terms": "1.0", "words": "0.3"}
        rank = " + ".join(
            f'{weights[column]} * ts_rank_cd("search_searchdocument"."{column}_vector", %s::tsquery)'
            for column in sorted(queries)
        )
        return rank, [queries[column] for column in sorted(queries)]

    def newest_matches(self, clauses: Clauses, excluded: Clauses = ()) -> tuple[str, list[object]]:
        # Walked by the primary key backwards (or from the GIN index's bitmap for a rarer
        # word): PostgreSQL's planner picks; either way nothing is ranked. An exclusion is
        # tested on each row walked.
        where, where_params = self.match(clauses)
        for clause in excluded:
            sql, params = self.match([clause])
            where += f" AND NOT ({sql})"
            where_params = [*where_params, *params]
        return f"SELECT search_searchdocument.id AS id FROM search_searchdocument WHERE {where}", where_params  # noqa: S608

    def ranked_among(self, clauses: Clauses, candidates: str) -> tuple[str, list[object]]:
        rank, rank_params = self._rank(clauses)
        return (
            f"SELECT search_searchdocument.id AS id, -({rank}) AS rank FROM search_searchdocument "  # noqa: S608
            f"WHERE search_searchdocument.id IN (SELECT id FROM {candidates})",
            [*rank_params],
        )

    def ranked_page(self, clauses: Clauses, within: Any, *, offset: int, limit: int) -> list[int]:
        # The gated queryset already carries the match: rank it in the same statement.
        rank, rank_params = self._rank(clauses)
        ordered = within.extra(select={"search_rank": rank}, select_params=rank_params)  # noqa: S610 - tokens only
        ordered = ordered.order_by("-search_rank", "-id")
        return [row[0] for row in ordered.values_list("id", "search_rank")[offset : offset + limit]]

    def ranked(self, clauses: Clauses) -> Iterator[int]:
        where, where_params = self.match(clauses)
        rank, rank_params = self._rank(clauses)
        sql = (
            f"SELECT search_searchdocument.id FROM search_searchdocument WHERE {where} "  # noqa: S608
            f"ORDER BY {rank} DESC, search_searchdocument.id DESC"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*where_params, *rank_params])  # type: ignore[list-item]
            while rows := cursor.fetchmany(500):
                yield from (row[0] for row in rows)

    def storage_size(self) -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_total_relation_size('search_searchdocument')")
            return int(cursor.fetchone()[0] or 0)
