"""Reads whose SQL is compiled once per process: the same statement each time, with other values.

Django compiles a queryset into SQL each time it is evaluated: its select list, joins, ordering
and converters, worked out again from the models for every request. For the programme document
that was a third of its reading (fifteen statements, 4 ms of 11 at a million dispatches, on either
engine): more than running them. A `Statement` is a queryset built by a function of a few integer
values (ids); its SQL is compiled once, with stand-in values, and each call runs that SQL with the
call's values, the rows built into models exactly as the queryset builds them (related objects
selected with them, annotations, converters, deferred fields; prefetches and sealed texts run as
usual, after the rows).

The function must build the same statement whatever its values (no branch on them, nothing from
the request, the language or the reader: a gated read is not a statement, its scope is the
reader's). Only the queryset returned by the call uses the compiled SQL: anything made from it
(`filter`, `count`, `first`, ...) is made from the queryset built with the call's values, and
compiled as usual.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.core.exceptions import EmptyResultSet
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import QuerySet
from django.db.models.query import FlatValuesListIterable, ModelIterable, ValuesIterable, ValuesListIterable
from django.db.models.sql import Query

Q = TypeVar("Q", bound=QuerySet[Any, Any])

# Stand-ins for the values while compiling: integers no row has and no statement writes itself.
_STAND_IN = -4_611_686_018_427_000_000


# The ways Django builds rows from what compiling leaves on the compiler (models, dicts, tuples).
_ROWS_FROM_THE_COMPILER = (ModelIterable, ValuesIterable, ValuesListIterable, FlatValuesListIterable)


@dataclass(frozen=True)
class _Compiled:
    template: QuerySet[Any]
    sql: str
    params: tuple[Any, ...]
    slots: dict[str, tuple[int, ...]]  # each value's positions among the parameters
    # What compiling leaves on the compiler and building the rows reads from it.
    state: tuple[Any, ...]


class _CompiledQuery(Query):
    """The statement's query for one call: it hands its compiler the statement's SQL and state
    instead of compiling. Its WHERE holds the stand-ins, so anything made from it (a clone: `filter`,
    `count`, `first`, `exists`, ...) starts from the query built with the call's values instead,
    compiled as usual."""

    def get_compiler(self, using: Any = None, connection: Any = None, elide_empty: bool = True) -> Any:
        compiler = super().get_compiler(using, connection, elide_empty)
        ready = self.__dict__.get("_statement")
        if ready is not None and ready.query is self:
            (compiler.select, compiler.klass_info, compiler.annotation_col_map, compiler.col_count,
             compiler.has_extra_select) = ready.state
            sql, params = ready.sql, ready.params
            compiler.as_sql = lambda *args, **kwargs: (sql, params)
        return compiler

    def clone(self) -> Query:
        ready = self.__dict__.get("_statement")
        if ready is not None and ready.query is self:
            return ready.built().query.clone()
        return super().clone()


@dataclass(frozen=True)
class _Call:
    query: _CompiledQuery
    sql: str
    params: tuple[Any, ...]
    state: tuple[Any, ...]
    built: Callable[[], QuerySet[Any]]  # the queryset built with the call's values


class Statement(Generic[Q]):
    """`Statement(lambda programme: Axis.objects....filter(programme=programme))`, then
    `statement(programme=pk)`: the queryset, its SQL compiled on first use."""

    def __init__(self, build: Callable[..., Q]) -> None:
        self.build = build
        self._compiled: dict[str, _Compiled | None] = {}  # by engine; None: not compilable once
        self._lock = threading.Lock()

    def __call__(self, **values: int) -> Q:
        vendor = connections[DEFAULT_DB_ALIAS].vendor
        if vendor not in self._compiled:
            with self._lock:
                self._compiled[vendor] = self._compile(sorted(values))
        compiled = self._compiled[vendor]
        if compiled is None:
            return self.build(**values)
        if values.keys() != compiled.slots.keys():
            takes, given = ", ".join(sorted(compiled.slots)), ", ".join(sorted(values))
            raise TypeError(f"this statement takes {takes}, not {given}")
        params = list(compiled.params)
        for name, slots in compiled.slots.items():
            value = values[name]
            if type(value) is not int:
                raise TypeError(f"{name}: a statement's values are integers (ids), not {type(value).__name__}")
            for slot in slots:
                params[slot] = value
        queryset: Q = compiled.template._chain()  # type: ignore[attr-defined]  # its own query
        query = queryset.query
        query.__class__ = _CompiledQuery
        query._statement = _Call(  # type: ignore[attr-defined]
            query=query, sql=compiled.sql, params=tuple(params), state=compiled.state,  # type: ignore[arg-type]
            built=lambda: self.build(**values),
        )
        return queryset

    def _compile(self, names: list[str]) -> _Compiled | None:
        stand_ins = {name: _STAND_IN - i for i, name in enumerate(names)}
        template = self.build(**stand_ins)
        if template.db != DEFAULT_DB_ALIAS or template._iterable_class not in _ROWS_FROM_THE_COMPILER:
            return None  # rows built otherwise: left to Django
        compiler = template.query.get_compiler(using=template.db)
        try:
            sql, params = compiler.as_sql()
        except EmptyResultSet:  # nothing to run: evaluated as usual each time
            return None
        slots = {name: tuple(i for i, p in enumerate(params) if type(p) is int and p == v)
                 for name, v in stand_ins.items()}
        missing = [name for name, found in slots.items() if not found or str(stand_ins[name]) in sql]
        if missing:
            raise ValueError(f"a statement's values must be parameters of its SQL: {', '.join(missing)}")
        state = (compiler.select, compiler.klass_info, compiler.annotation_col_map, compiler.col_count,
                 compiler.has_extra_select)
        return _Compiled(template=template, sql=sql, params=tuple(params), slots=slots, state=state)


def prefetched(instance: Any, name: str, rows: Iterable[Any]) -> None:
    """Give `instance` the rows of its relation `name` as `prefetch_related(name)` does, read by the
    caller (say a statement's queryset): `instance.<name>.all()` answers from them, and anything
    made from it is the relation's own query."""
    manager = getattr(instance, name)
    # The relation's own queryset holds the rows, as in Django's prefetch (`prefetch_one_level`).
    queryset = manager.get_queryset()
    queryset._result_cache = rows = list(rows)
    queryset._prefetch_done = True
    if hasattr(manager, "prefetch_cache_name"):  # many-to-many
        cache_name = manager.prefetch_cache_name
    else:  # the reverse of a foreign key: each row's key holds the instance, as the prefetch sets it
        cache_name = manager.field.remote_field.cache_name
        for row in rows:
            manager.field.set_cached_value(row, instance)
    if not hasattr(instance, "_prefetched_objects_cache"):
        instance._prefetched_objects_cache = {}
    instance._prefetched_objects_cache[cache_name] = queryset
