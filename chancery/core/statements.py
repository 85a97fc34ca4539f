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

A gated read is a `GatedStatement`: compiled once per reader and rights (`rights_key`), its SQL and
values kept whole, run again only for the same key.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
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
                self._compiled[vendor] = _compiled_with_values(self.build, sorted(values))
        compiled = self._compiled[vendor]
        if compiled is None:
            return self.build(**values)
        return _running(compiled, _bound(compiled, values), lambda: self.build(**values))


def _compiled_with_values(build: Callable[..., QuerySet[Any]], names: list[str]) -> _Compiled | None:
    """`build`'s queryset compiled with stand-ins for the values `names`, and where each one goes."""
    stand_ins = {name: _STAND_IN - i for i, name in enumerate(names)}
    template = build(**stand_ins)
    compiled = _compiled(template)
    if compiled is None:
        return None
    slots = {name: tuple(i for i, p in enumerate(compiled.params) if type(p) is int and p == v)
             for name, v in stand_ins.items()}
    missing = [name for name, found in slots.items() if not found or str(stand_ins[name]) in compiled.sql]
    if missing:
        raise ValueError(f"a statement's values must be parameters of its SQL: {', '.join(missing)}")
    return _Compiled(template=template, sql=compiled.sql, params=compiled.params, slots=slots, state=compiled.state)


def _bound(compiled: _Compiled, values: dict[str, int]) -> tuple[Any, ...]:
    """The compiled statement's parameters with `values` in their slots."""
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
    return tuple(params)


def _compiled(template: QuerySet[Any]) -> _Compiled | None:
    """`template` compiled, with what building its rows reads from the compiler; None when its rows
    are built otherwise or it has nothing to run (left to Django: evaluated as usual each time)."""
    if template.db != DEFAULT_DB_ALIAS or template._iterable_class not in _ROWS_FROM_THE_COMPILER:
        return None
    compiler = template.query.get_compiler(using=template.db)
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:
        return None
    state = (compiler.select, compiler.klass_info, compiler.annotation_col_map, compiler.col_count,
             compiler.has_extra_select)
    return _Compiled(template=template, sql=sql, params=tuple(params), slots={}, state=state)


def _running(compiled: _Compiled, params: tuple[Any, ...], built: Callable[[], QuerySet[Any]]) -> Any:
    """A queryset of `compiled`'s template whose own evaluation runs the kept SQL with `params`;
    anything made from it starts from `built()`."""
    queryset = compiled.template._chain()  # type: ignore[attr-defined]  # its own query
    query = queryset.query
    query.__class__ = _CompiledQuery
    query._statement = _Call(query=query, sql=compiled.sql, params=params, state=compiled.state, built=built)
    return queryset


class GatedStatement(Generic[Q]):
    """A gated read compiled once per reader and their rights: `GatedStatement(lambda user:
    Action.objects.visible_to(user).filter(lead_id=user.pk)..., Programme)`, then `statement(user)`.
    Like a `Statement`, it may take integer values besides the reader (`lambda user, pk: ...`, then
    `statement(user, pk=7)`): compiled once per reader and rights, run with each call's values.

    A gated read's SQL is its reader's scope, so it is never a `Statement`. But the same reader asks
    the same reads on every view (a home page: seven gated reads, each built and compiled again; one
    of them took 1.7 ms at a million dispatches on PostgreSQL, of which running it took 0.3). Kept by
    `rights_key`: the reader, their memberships and roles, clearance, the day and the language,
    and the gate keys of the models named (`gate_key`: what each gate is written from, tested equal
    keys for equal SQL). A change of any of them is a new key, so a new statement: a kept one is
    never run for other rights than those it was compiled for. The function must build its
    queryset from the reader and nothing else that changes (no time but the day, nothing from the
    request); the queryset's rows, refinements and prefetches are as for `Statement`."""

    def __init__(self, build: Callable[..., Q], *gated: type[Any], kept: int = 256) -> None:
        self.build = build
        self.gated = gated
        # The readers seen last, each statement about 25 KB (the home page's seven: 164 KB a reader
        # at a million dispatches), so at most a few megabytes a statement in each server process.
        self.kept = kept
        self._compiled: OrderedDict[tuple[str, Any, tuple[str, ...]], _Compiled | None] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, user: Any, **values: int) -> Q:
        key = rights_key(user, self.gated)
        if key is None:
            return self.build(user, **values)
        full = (connections[DEFAULT_DB_ALIAS].vendor, key, tuple(sorted(values)))
        with self._lock:
            found = full in self._compiled
            compiled = self._compiled.get(full)
            if found:
                self._compiled.move_to_end(full)
        if not found:
            compiled = _compiled_with_values(lambda **stand_ins: self.build(user, **stand_ins), sorted(values))
            with self._lock:
                self._compiled[full] = compiled
                while len(self._compiled) > self.kept:
                    self._compiled.popitem(last=False)
        if compiled is None:
            return self.build(user, **values)
        result: Q = _running(compiled, _bound(compiled, values), lambda: self.build(user, **values))
        return result


def rights_key(user: Any, gated: Iterable[type[Any]] = ()) -> tuple[Any, ...] | None:
    """Everything a gated read of `user` may be written from (`GatedStatement`), or None for no
    signed-in active agent (their reads are built each time)."""
    from django.utils import timezone, translation

    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    memberships = tuple(
        (m.unit_id, m.role, getattr(getattr(m, "delegated_from", None), "pk", None)) for m in user.active_memberships()
    )
    return (
        user.pk, user.is_superuser, int(user.clearance.level), tuple(user.clearance_compartment_ids), memberships,
        timezone.localdate(), translation.get_language(),
        tuple(model.objects.gate_key(user) for model in gated),
    )


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
