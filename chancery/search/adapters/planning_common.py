"""What programmes, actions and achievements share: the programme decides who may read
them and whether their words are protected (marked at least *Diffusion restreinte*)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from chancery.core.classification import Level
from chancery.search.adapters.base import Adapter, Entry

if TYPE_CHECKING:
    from chancery.accounts.models import User


def programme_compartments(programme: Any) -> tuple[str, ...]:
    return tuple(sorted(c.code for c in programme.compartments.all()))


def programme_entry(programme: Any, object_id: int) -> Entry:
    return Entry(
        object_id=object_id,
        programme_id=programme.pk,
        unit_id=programme.mission_id,
        unit_code=programme.mission.code,
        classification=int(programme.classification),
        protected=int(programme.classification) >= Level.RESTRICTED,
    )


class PlanningAdapter(Adapter):
    model: ClassVar[Any]
    related: ClassVar[tuple[str, ...]] = ("programme__mission",)
    # The programme's compartments (the banner of a results page), read with the page.
    compartments: ClassVar[str] = "programme__compartments"

    def _rows(self) -> Any:
        return self.model.objects.unrestricted("search indexing reads every planning object; results are gated")

    def entries(self, ids: Iterable[int]) -> list[Entry]:
        return [self.entry(obj) for obj in self._rows().filter(pk__in=list(ids)).select_related(*self.related)]

    def entry(self, obj: Any) -> Entry:  # pragma: no cover - abstract
        raise NotImplementedError

    def visible(self, user: User, ids: Iterable[int]) -> dict[int, Any]:
        rows = self.model.objects.visible_to(user).filter(pk__in=list(ids)).select_related(*self.related)
        return {obj.pk: obj for obj in rows.prefetch_related(self.compartments)}
