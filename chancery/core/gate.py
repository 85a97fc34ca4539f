"""The one permission gate.

Every protected model's queryset derives from `RestrictedQuerySet` and implements
`visible_to(user)`. While a request is being served, evaluating (fetching, counting,
aggregating, testing existence of) a restricted queryset that did not pass through
`visible_to` raises `GateBypassError`: a view that forgets the gate fails loudly in
tests and fails closed in production. Code that truly needs every row (services that
allocate numbers, background jobs after re-checking permissions) says so with
`unrestricted(reason)`.

`get_visible_or_404` is the single access function: a missing object and an object
out of scope give the same 404.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Self, TypeVar

from django.db import models
from django.http import Http404

if TYPE_CHECKING:
    from chancery.core.types import Viewer

_enforcing: contextvars.ContextVar[bool] = contextvars.ContextVar("chancery_gate_enforcing", default=False)

M = TypeVar("M", bound=models.Model)


class GateBypassError(RuntimeError):
    """A restricted queryset was read during a request without going through visible_to()."""


@contextmanager
def enforcing() -> Iterator[None]:
    token = _enforcing.set(True)
    try:
        yield
    finally:
        _enforcing.reset(token)


class RestrictedQuerySet(models.QuerySet[M]):
    _gated: bool = False
    # The rows were narrowed to a bounded set before any order (a narrow reader's own rows of an
    # access index): an engine reads them all to sort a page of them anyway, so a list may count
    # them in the same statement (`keyset.page_rows_and_total`) rather than in a second one.
    _bounded_scope: bool = False

    def visible_to(self, user: Viewer | None) -> Self:  # pragma: no cover - abstract
        raise NotImplementedError(f"{self.model.__name__} must implement visible_to(user)")

    def _mark_gated(self) -> Self:
        clone = self._chain()  # type: ignore[attr-defined]
        clone._gated = True
        return clone

    def unrestricted(self, reason: str) -> Self:
        """Every row, on purpose; `reason` documents why at the call site."""
        if not reason:
            raise ValueError("unrestricted() needs a reason")
        return self._mark_gated()

    def _mark_bounded_scope(self) -> Self:
        clone = self._chain()  # type: ignore[attr-defined]
        clone._bounded_scope = True
        return clone

    def _clone(self) -> Self:
        clone = super()._clone()  # type: ignore[misc]
        clone._gated = self._gated
        clone._bounded_scope = self._bounded_scope
        return clone

    def _check_gate(self) -> None:
        if _enforcing.get() and not self._gated:
            raise GateBypassError(
                f"{self.model.__name__} queryset read without visible_to(user) during a request"
            )

    def _fetch_all(self) -> None:
        if self._result_cache is None:
            self._check_gate()
        super()._fetch_all()

    def count(self) -> int:
        self._check_gate()
        return super().count()

    def exists(self) -> bool:
        self._check_gate()
        return super().exists()

    def aggregate(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self._check_gate()
        return super().aggregate(*args, **kwargs)

    def iterator(self, chunk_size: int | None = None) -> Iterator[M]:
        self._check_gate()
        return super().iterator(chunk_size=chunk_size)


def check_gated(queryset: Any) -> None:
    """For SQL compiled from a queryset and run by hand (which skips the queryset's own evaluation,
    where the gate is checked): refuse a restricted queryset not read through the gate."""
    check_gate = getattr(queryset, "_check_gate", None)
    if check_gate is not None:
        check_gate()


def get_visible_or_404(queryset: RestrictedQuerySet[M], user: Viewer | None, **lookup: Any) -> M:
    """The single access function: same 404 for a missing and a forbidden object. The object
    returned remembers whom it was read for (`read_through_gate`)."""
    try:
        found = queryset.visible_to(user).get(**lookup)
    except (queryset.model.DoesNotExist, ValueError, TypeError) as exc:  # type: ignore[attr-defined]
        raise Http404("not found") from exc
    found.__dict__[_READ_FOR] = getattr(user, "pk", None)
    return found


def get_visible_by_id_or_404(statement: Any, user: Viewer | None, pk: int | str) -> Any:
    """`get_visible_or_404` for a read by id kept as a `GatedStatement` built `lambda user, pk:
    Model.objects.visible_to(user).filter(pk=pk)`: compiled once per reader and rights instead of
    at every view (compiling a programme's read cost its pages about 1 ms on PostgreSQL at a
    million dispatches, a dispatch's 2 ms). The same 404 for a missing and a forbidden object."""
    try:
        value = int(pk)
    except (ValueError, TypeError) as exc:
        raise Http404("not found") from exc
    if not 0 < value < 2**63:  # no such row; and beyond a bigint, the database would refuse the value
        raise Http404("not found")
    rows = list(statement(user, pk=value))
    if len(rows) != 1:
        raise Http404("not found")
    found = rows[0]
    found.__dict__[_READ_FOR] = getattr(user, "pk", None)
    return found


_READ_FOR = "_gate_read_for"


def read_through_gate(obj: Any, user: Viewer | None) -> bool:
    """`obj` is an instance `get_visible_or_404` returned for `user` in this request: a helper
    handed it need not read it through the gate again (a second check of the same object cost a
    page one more gated query to build and run)."""
    pk = getattr(user, "pk", None)
    return pk is not None and obj.__dict__.get(_READ_FOR) == pk


def _path_to(model: type[models.Model], parent_model: type[models.Model], depth: int = 3) -> str:
    """The lookup from `model` up to `parent_model` through foreign keys ("achievement__programme")."""
    frontier: list[tuple[type[models.Model], str]] = [(model, "")]
    for _level in range(depth):
        following = []
        for current, path in frontier:
            for field in current._meta.concrete_fields:
                if not field.is_relation or field.related_model is None:
                    continue
                lookup = f"{path}__{field.name}" if path else field.name
                if field.related_model is parent_model:
                    return lookup
                following.append((field.related_model, lookup))
        frontier = following
    raise LookupError(f"{model._meta.label} does not belong to a {parent_model._meta.label}")


def get_child_or_404(parent: models.Model, queryset: RestrictedQuerySet[M], pk: Any, *, user: Viewer | None) -> M:
    """A child of `parent` by its id, read through the gate (Zulip's access_message): a child of
    another parent, a missing one and one out of scope all answer the same 404. The views write
    no parent/child check of their own."""
    path = _path_to(queryset.model, type(parent))
    return get_visible_or_404(queryset, user, pk=pk, **{path: parent})


def protected_models() -> list[type[models.Model]]:
    """Every installed model whose default manager is gated (used by the gate tests)."""
    from django.apps import apps

    return [
        model
        for model in apps.get_models()
        if isinstance(model._default_manager.all(), RestrictedQuerySet)
    ]
