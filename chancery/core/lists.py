"""Short lists that say when they are cut (home panels and the like), and numbered pages of
short lists read in one statement.

A panel shows the first few rows of a longer list; a reader must not take them for all of it.
`first(rows, n)` reads one row more than it shows, so knowing that more exist costs no count,
and `core/_more.html` says so and links to the whole list.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any, Generic, TypeVar

from django.core.paginator import Page, Paginator
from django.db.models import Count, QuerySet, Window

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


TOTAL = "listed_total"


class OneStatementPaginator(Paginator):
    """Django's paginator for a queryset of a reader's few hundred rows (their notifications, the
    programmes of their scope): a page's rows and the list's total read by one statement
    (`COUNT(*) OVER ()` beside each row) instead of a count and then the rows. Each of the two
    was a gated statement to plan, which on PostgreSQL cost more than running it (a notification
    list's count: 1.0 ms to plan, 0.7 to run). The window counts every row of the list, so it is
    for lists whose whole is cheap to read, not for an inbox of a million (`core.keyset`).

    `get_page` answers as Django's does (the last page for a number past it or below 1, the first
    for one that is not a number); only a page past the end costs the count and rows apart."""

    def __init__(self, object_list: QuerySet[Any], per_page: int) -> None:
        super().__init__(object_list, per_page)  # no orphans: a page is exactly the rows read
        self.queryset = object_list

    def get_page(self, number: Any) -> Page:
        queryset = self.queryset
        try:  # as `validate_number` reads it
            if isinstance(number, float) and not number.is_integer():
                raise ValueError
            wanted = int(number)
        except (TypeError, ValueError):
            wanted = 1
        if wanted < 1 or queryset.query.distinct or queryset.query.combinator:
            return super().get_page(number)
        bottom = (wanted - 1) * self.per_page
        rows = list(queryset.annotate(**{TOTAL: Window(Count("*"))})[bottom : bottom + self.per_page])
        if not rows:
            if wanted > 1:  # past the end: Django's answer, the last page
                return super().get_page(number)
            self.__dict__["count"] = 0  # the first page is empty: so is the list
            return Page([], 1, self)
        self.__dict__["count"] = getattr(rows[0], TOTAL)
        return Page(rows, wanted, self)
