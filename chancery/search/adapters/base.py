"""How each document type is read for the index and shown in results.

One small module per type keeps every read of another app's content in one place: when
an app changes how its text is stored (e.g. programme texts encrypted at rest), only its
adapter changes. An adapter reads *all* rows for indexing (`unrestricted`, with a reason)
but shows results only for objects fetched through the owning model's `visible_to(user)`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from chancery.accounts.models import User


@dataclass
class Entry:
    """What the index stores for one object. `text` never leaves the indexing process:
    it is analysed (and hashed when `protected`) before anything is written."""

    object_id: int
    dispatch_id: int | None = None
    programme_id: int | None = None
    unit_id: int | None = None
    unit_code: str = ""
    routed: list[str] = field(default_factory=list)
    author_id: int | None = None
    reference: str = ""
    dated: date | None = None
    classification: int = 0
    protected: bool = False
    language: str = ""
    tags: list[str] = field(default_factory=list)
    text: str = ""


@dataclass
class Shown:
    """A result as the reader sees it (already gated)."""

    title: str
    url: str
    reference: str = ""
    subject: str | None = None  # only for a reader allowed to read it (always: gated)
    text: str = ""  # clear text a snippet is cut from
    unit: str = ""
    dated: date | None = None
    compartments: tuple[str, ...] = ()  # caveats of what is shown (for the page's banner)


class Adapter:
    doc_type: ClassVar[str]

    def _rows(self) -> Any:  # pragma: no cover - abstract
        """Every object of the type (unrestricted: for indexing only)."""
        raise NotImplementedError

    def all_ids(self, after: int, limit: int) -> list[int]:
        return list(self._rows().filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:limit])

    def count_after(self, after: int) -> int:
        return int(self._rows().filter(pk__gt=after).count())

    def entries(self, ids: Iterable[int]) -> list[Entry]:  # pragma: no cover - abstract
        """Entries for the existing objects among `ids` (missing ones are left out)."""
        raise NotImplementedError

    def visible(self, user: User, ids: Iterable[int]) -> dict[int, Any]:  # pragma: no cover - abstract
        """The objects of `ids` that `user` may read (through the model's own gate), by id."""
        raise NotImplementedError

    def page(self, user: User, docs: Sequence[Any]) -> dict[int, Any]:
        """The objects of a results page's index documents (`SearchDocument` rows of this
        type) that `user` may read, by object id: fetched together, through their gate."""
        return self.visible(user, [doc.object_id for doc in docs])

    def show(self, obj: Any, *, with_text: bool) -> Shown:  # pragma: no cover - abstract
        raise NotImplementedError
