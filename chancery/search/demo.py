"""Index the demo ministry's documents (written in bulk, past the indexing signals)."""

from __future__ import annotations

from typing import Any


def populate(*, ministry: Any, seed: int, stdout: Any) -> None:
    from chancery.search.indexing import reindex

    counts = reindex(restart=True)
    stdout.write(f"Search index: {sum(counts.values())} documents.")
