"""The boundary between Chancery's search and an engine.

A backend stores the analysed tokens of a document under its id and answers, for a list
of clauses (each a list of engine-neutral `Alternative`s), which document ids match. All
the rest (the gate, metadata filters, facets, pagination, snippets) is ordinary SQL on
`SearchDocument` built by the selectors, so an engine with its own store (e.g. OpenSearch)
would implement `write`/`delete` against its cluster and `match` as an id list filter,
without any change to views.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import Any

from chancery.search.query import Alternative

Clauses = Sequence[Sequence[Alternative]]


class SearchBackend(ABC):
    name: str

    @abstractmethod
    def write(self, doc_id: int, *, terms: Sequence[str], words: Sequence[str]) -> None:
        """Store (or replace) the tokens of document `doc_id`."""

    def write_many(self, rows: Sequence[tuple[int, str, str]]) -> None:
        """Store (or replace) the tokens of many documents: (id, space-separated terms,
        space-separated words). Engines override this with one batched write."""
        for doc_id, terms, words in rows:
            self.write(doc_id, terms=terms.split(), words=words.split())

    @abstractmethod
    def delete(self, doc_ids: Sequence[int]) -> None:
        """Forget these documents' tokens."""

    def move(self, moves: Sequence[tuple[int, int]]) -> None:
        """Carry these documents' tokens to their new ids ((new, old) pairs): the document
        rows themselves are renumbered by the caller (`indexing.move_documents`)."""
        return None  # an engine keeping its tokens in the document row has nothing to move

    @abstractmethod
    def match(self, clauses: Clauses) -> tuple[str, list[object]]:
        """An SQL condition on `search_searchdocument` (with its params) true for the
        documents that match every clause (a clause matches when one of its alternatives does)."""

    @abstractmethod
    def ranked(self, clauses: Clauses) -> Iterator[int]:
        """Ids of every matching document, best first (the caller keeps those the reader
        may read and stops when it has a page)."""

    def newest_matches(self, clauses: Clauses, excluded: Clauses = ()) -> tuple[str, list[object]]:
        """A SELECT of `id` for every document matching `clauses` and none of `excluded`
        (with its params), which the caller walks in id order (newest first: ids are recency
        keys) under a LIMIT: the engine must be able to give its matches in that order
        without ranking, sorting or even counting them all (a very common word matches most
        of the corpus, and may be the excluded one). An engine with its own store would not
        implement it."""
        raise NotImplementedError

    def filter_column(self, column: str) -> str:
        """`column` written so that a condition on it stays a filter of the walk (e.g. `IN`
        a list of ids) and is not handed to the engine as a constraint of its own."""
        return column

    def ranked_among(self, clauses: Clauses, candidates: str) -> tuple[str, list[object]]:
        """A SELECT of `(id, rank)` (a lower rank being a better match, with its params) of
        the matching documents among `candidates` — the name of a CTE with an `id` column,
        a few thousand ids at most: the engine ranks these only, not every match."""
        raise NotImplementedError

    def ranked_page(self, clauses: Clauses, within: Any, *, offset: int, limit: int) -> list[int]:
        """One page of the ids of `within` (a gated `SearchDocument` queryset) that match,
        best first. Engines in the main database override this to rank and gate in one SQL
        statement; this fallback (for an engine with its own store) walks the ranking and
        keeps the ids the gated queryset contains, one slice at a time."""
        page: list[int] = []
        skipped = 0
        chunk: list[int] = []

        def flush() -> bool:
            nonlocal skipped
            readable = set(within.filter(pk__in=chunk).values_list("pk", flat=True))
            for doc_id in chunk:
                if doc_id not in readable:
                    continue
                if skipped < offset:
                    skipped += 1
                    continue
                page.append(doc_id)
                if len(page) >= limit:
                    return True
            chunk.clear()
            return False

        for doc_id in self.ranked(clauses):
            chunk.append(doc_id)
            if len(chunk) >= 500 and flush():
                return page
        if chunk:
            flush()
        return page

    @abstractmethod
    def storage_size(self) -> int:
        """Bytes used by the engine's structures (benchmarks)."""

    @abstractmethod
    def drop_all(self) -> None:
        """Forget every document's tokens (a full reindex)."""
