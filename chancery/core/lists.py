"""Short lists that say when they are cut (home panels and the like).

A panel shows the first few rows of a longer list; a reader must not take them for all of it.
`first(rows, n)` reads one row more than it shows, so knowing that more exist costs no count,
and `core/_more.html` says so and links to the whole list.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any, Generic, TypeVar

from django.db.models import QuerySet

T = TypeVar("T")


@dataclass(frozen=True)
class Cut(Generic[T]):
    rows: list[T]
    more: bool  # rows beyond those shown exist

    def __iter__(self) -> Iterator[T]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> T:
        return self.rows[index]

    def __bool__(self) -> bool:
        return bool(self.rows)


def first(rows: Iterable[Any], n: int) -> Cut[Any]:
    """The first `n` of `rows` (a queryset is sliced, so only n + 1 rows are read)."""
    taken = list(rows[: n + 1]) if isinstance(rows, QuerySet) else list(islice(rows, n + 1))
    return Cut(rows=taken[:n], more=len(taken) > n)
