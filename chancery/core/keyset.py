"""Keyset ("newer / older") pagination and capped counts for long lists.

An OFFSET page costs the rows it skips, and an exact COUNT costs the whole list: at a
million dispatches both grow with the reader's scope and the page number. A keyset page
starts after (or before) the row that ended the previous one, `WHERE (a, b) < (x, y)`
spelled out so that both SQLite and PostgreSQL walk the ordering index: page 1,000 costs
what page 1 costs. The list says how many rows it has only up to `COUNT_CAP` ("more than
1,000"): a count bounded whatever the scope, of the queryset given (already gated: it never
includes what the reader may not read).

The cursor in the URL (`?older=…` / `?newer=…`) holds the ordering values of the boundary
row, so a page's address can be shared; a tampered cursor only moves within the gated list.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import connections
from django.db.models import Count, Q, QuerySet, Window

from chancery.core.gate import check_gated
from chancery.core.statements import Statement

COUNT_CAP = 1000
OLDER, NEWER = "older", "newer"


@dataclass(frozen=True)
class CappedCount:
    value: int  # exact when not `more`, else COUNT_CAP
    more: bool  # more than `value` rows

    def __int__(self) -> int:
        return self.value


class CappedInt(int):
    """A count taken up to a cap, usable as an int (the cap itself when there are more): for
    counters shown beside other figures. `more`: there are more rows than the value says; a
    template shows it as `{{ n }}{% if n.more %}+{% endif %}`."""

    more: bool

    def __new__(cls, value: int, more: bool = False) -> CappedInt:
        number = super().__new__(cls, value)
        number.more = more
        return number

    def __add__(self, other: Any) -> CappedInt:
        return CappedInt(int(self) + int(other), self.more or bool(getattr(other, "more", False)))


def capped_count(queryset: QuerySet[Any], cap: int | None = None) -> CappedCount:
    """How many rows, counted up to `cap` (default `COUNT_CAP`; one bounded query)."""
    cap = COUNT_CAP if cap is None else cap
    counted = queryset.order_by()[: cap + 1].count()
    return CappedCount(value=min(counted, cap), more=counted > cap)


def capped_counts(querysets: Mapping[str, QuerySet[Any]], cap: int | None = None) -> dict[str, CappedInt]:
    """Each queryset's rows counted up to `cap` (default `COUNT_CAP`), all in one statement:
    one bounded count each (each walks its own index), one round trip for all of them."""
    if not querysets:
        return {}
    return run_capped_counts(capped_counts_statement(querysets, cap))


@dataclass(frozen=True)
class CappedCountsStatement:
    """`capped_counts`' statement, compiled (to be kept: `core.db.CompiledStatements`)."""

    names: tuple[str, ...]
    sql: str
    params: tuple[Any, ...]
    cap: int
    using: str


def capped_counts_statement(querysets: Mapping[str, QuerySet[Any]], cap: int | None = None) -> CappedCountsStatement:
    cap = COUNT_CAP if cap is None else cap
    for rows in querysets.values():
        check_gated(rows)
    parts = [rows.order_by().values("pk")[: cap + 1].query.sql_with_params() for rows in querysets.values()]
    select = ", ".join(f"(SELECT COUNT(*) FROM ({sql}) s{i})" for i, (sql, _params) in enumerate(parts))  # noqa: S608 - ORM SQL
    return CappedCountsStatement(names=tuple(querysets), sql=f"SELECT {select}",
                                 params=tuple(p for _sql, params in parts for p in params), cap=cap,
                                 using=next(iter(querysets.values())).db)


def run_capped_counts(statement: CappedCountsStatement) -> dict[str, CappedInt]:
    with connections[statement.using].cursor() as cursor:
        cursor.execute(statement.sql, statement.params)
        counted = cursor.fetchone()
    cap, names = statement.cap, statement.names
    return {name: CappedInt(min(int(n), cap), more=int(n) > cap) for name, n in zip(names, counted, strict=True)}


@dataclass(frozen=True)
class Counted:
    """What an API list's view returns when its count is better read from another spelling of the
    same rows (`counted`: same rows, tested equal; e.g. without a second check that only the
    rows shown need) than from the `rows` listed."""

    rows: QuerySet[Any]
    counted: QuerySet[Any]


@dataclass(frozen=True)
class ListedByKeys:
    """What an API list's view returns when its pages' keys and its count are cheaper to read
    elsewhere than from its rows' queryset (e.g. from an index holding the list's order).

    `keys(start, stop, boundary, forward)`: the primary keys of rows `start`..`stop` of the list
    in its order (`forward`), after the ordering values `boundary` (a cursor's; None: from the
    top), or, `forward` False, of the rows before `boundary` in the reverse order; None when that
    would cost more than reading `fallback()`, the same list as a queryset (built only then).
    `count()`: the list's capped count (None: count `fallback()`). The rows of the keys are read
    through `rows` (a gated queryset: it decides what is shown). `order`: the list's keyset order."""

    rows: QuerySet[Any]
    order: list[tuple[str, bool]]
    fallback: Callable[[], QuerySet[Any]]
    keys: Callable[[int, int, list[Any] | None, bool], list[Any] | None]
    count: Callable[[], CappedCount | None]

    def rows_of(self, keys: list[Any]) -> list[Any]:
        """The rows of `keys` read through `rows`, in the keys' order (a key the gate refuses is
        not shown)."""
        if not keys:
            return []
        found = {row.pk: row for row in self.rows.filter(pk__in=keys).order_by()}
        return [found[key] for key in keys if key in found]


def ordering(order: list[tuple[str, bool]]) -> list[str]:
    """`order_by` arguments of a keyset order."""
    return [f"-{name}" if descending else name for name, descending in order]


def _encode(values: list[Any]) -> str:
    def one(value: Any) -> Any:
        if isinstance(value, datetime):
            return {"t": value.isoformat()}
        if isinstance(value, date):
            return {"d": value.isoformat()}
        return value

    raw = json.dumps([one(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(token: str, size: int) -> list[Any] | None:
    """The values of a cursor, or None when it is malformed (the list then starts at the top)."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        items = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(items, list) or len(items) != size:
        return None
    values: list[Any] = []
    for item in items:
        try:
            if isinstance(item, dict) and "t" in item:
                values.append(datetime.fromisoformat(str(item["t"])))
            elif isinstance(item, dict) and "d" in item:
                values.append(date.fromisoformat(str(item["d"])))
            elif item is None or (isinstance(item, (int, str)) and not isinstance(item, bool)):
                values.append(item)
            else:
                return None
        except ValueError:
            return None
    return values


def _order_field(model: Any, name: str) -> Any:
    """The model field an order name (`id`, `sent_at`, `dispatch__dated`) designates, or None."""
    field = None
    for part in name.split("__"):
        if model is None:
            return None
        try:
            field = model._meta.pk if part == "pk" else model._meta.get_field(part)
        except FieldDoesNotExist:
            return None
        model = field.related_model
    return field


def _typed(model: Any, order: list[tuple[str, bool]], values: list[Any] | None) -> list[Any] | None:
    """A cursor's values as the order's fields hold them, or None when one is not a value of its
    field (a tampered cursor of the right shape, `["abc", 5]` for a date and an id): the list then
    starts at the top, as for a malformed one, instead of failing in the query (a 500)."""
    if values is None:
        return None
    typed = []
    for (name, _descending), value in zip(order, values, strict=True):
        field = _order_field(model, name)
        if field is None:  # an annotation: passed as decoded
            typed.append(value)
            continue
        if value is None:  # no list pages on a column holding NULLs (`_beyond` cannot compare them)
            return None
        try:
            typed.append(field.to_python(value))
        except (ValidationError, ValueError, TypeError):
            return None
    return typed


def _beyond(order: list[tuple[str, bool]], values: list[Any], *, forward: bool, bounded: bool = False) -> Q:
    """Rows after `values` in `order` (forward) or before them: the lexicographic
    comparison (a < x) OR (a = x AND b < y) OR …, which the engines turn into index ranges.

    `bounded`: behind the range that comparison implies on the first key (a <= x). The bound
    changes no row; it lets an index on the list's filter then its order start at the cursor, for
    a list whose keys all run the same way. Without it, PostgreSQL read a registry's deep sent page
    from the newest dispatch of every unit down (25,000 rows filtered out: 7.4 ms, against 0.4 for
    the first page). Not for every list: in the inbox's order, whose first key is a two-valued rank,
    it led SQLite to a plan ten times slower, and the API's lists, read through their own access
    rows, only paid for it."""
    condition = Q(pk__in=[])
    for i, (name, descending) in enumerate(order):
        lookup = "lt" if descending == forward else "gt"
        term = Q(**{f"{name}__{lookup}": values[i]})
        for previous, value in zip(order[:i], values[:i], strict=True):
            term &= Q(**{previous[0]: value})
        condition |= term
    if not bounded:
        return condition
    first, descending = order[0]
    if any(other != descending for _name, other in order):
        raise ValueError("a bounded keyset list orders all its keys the same way")
    return Q(**{f"{first}__{'lte' if descending == forward else 'gte'}": values[0]}) & condition


def _value(row: Any, path: str) -> Any:
    value = row
    for part in path.split("__"):
        value = getattr(value, part)
    if hasattr(value, "pk") and not isinstance(value, (int, str, date)):
        value = value.pk
    return value


def page_rows(queryset: QuerySet[Any], order_by: list[str], start: int, stop: int) -> list[Any]:
    """Rows `start`..`stop` of `queryset` in `order_by`: their keys first, then the rows by key.

    When the engine has to sort the reader's candidates (a narrow scope read from its access
    rows, an offset), sorting keys instead of whole rows (bodies, ciphertexts, signatures) is
    what the sort costs: at a million dispatches a mission agent's API list went from 42 to 25 ms
    of SQL on SQLite. The keys are read through the queryset given: the gate decides which rows
    are listed. The rows are then fetched by those keys alone, an instant later (with the gate's
    conditions repeated, SQLite planned the second read like the first: 13 ms instead of 2); a
    key whose row was deleted in between is skipped. A queryset with annotations or DISTINCT is
    read in one query."""
    ordered = queryset.order_by(*order_by)
    if ordered.query.annotations or ordered.query.distinct:
        return list(ordered[start:stop])
    return _rows_by_keys(queryset, list(ordered.values_list("pk", flat=True)[start:stop]))


def page_rows_and_total(
    queryset: QuerySet[Any],
    order_by: list[str],
    start: int,
    stop: int,
    *,
    in_one_statement: bool | None = None,
    counted: QuerySet[Any] | None = None,
) -> tuple[list[Any], CappedCount]:
    """`page_rows` and the list's capped count (`capped_count`), of the queryset given, so of what
    the gate lets through.

    For a queryset whose scope is bounded (`RestrictedQuerySet._bounded_scope`: a narrow reader's
    list, which the engine reads whole to sort it) on PostgreSQL, the keys' statement counts the
    list too, as a window over the rows it reads anyway (`COUNT(*) OVER ()`): one pass over the
    reader's rows instead of two (a mission agent's API list at a million dispatches: 47 -> 36 ms).
    SQLite counts a narrow list up to the cap in 2 ms and materialises the rows once more for a
    window (+3.5 ms): there the count stays apart. `in_one_statement` overrides the choice.
    `counted`: the same rows spelt for counting (`Counted`), counted apart."""
    if counted is not None:
        return page_rows(queryset, order_by, start, stop), capped_count(counted)
    if in_one_statement is None:
        in_one_statement = connections[queryset.db].vendor == "postgresql"
    ordered = queryset.order_by(*order_by)
    bounded = getattr(queryset, "_bounded_scope", False)
    if not (in_one_statement and bounded) or ordered.query.annotations or ordered.query.distinct:
        return page_rows(queryset, order_by, start, stop), capped_count(queryset)
    keyed = list(ordered.annotate(_list_total=Window(Count("pk"))).values_list("pk", "_list_total")[start:stop])
    if not keyed and start:  # past the end: the window saw no row to report the total on
        return [], capped_count(queryset)
    total = keyed[0][1] if keyed else 0
    rows = _rows_by_keys(queryset, [key for key, _total in keyed])
    return rows, CappedCount(value=min(total, COUNT_CAP), more=total > COUNT_CAP)


def _rows_by_keys(queryset: QuerySet[Any], keys: list[Any]) -> list[Any]:
    """The rows of `keys` (read through `queryset` an instant before), in that order, loaded as
    `queryset` loads them (related rows, deferred columns, prefetches)."""
    if not keys:
        return []
    shape = _shape(queryset)
    if len(keys) <= KEYS_KEPT and shape is not None and all(type(key) is int and key > 0 for key in keys):
        # A page's keys as a kept statement's values (the unused ones 0, which no row has): the
        # same SQL for every page of a list, compiled once (each page's own `IN` list was compiled
        # again: about 1 ms of a list page on PostgreSQL at a million dispatches).
        padded = keys + [0] * (KEYS_KEPT - len(keys))
        by_key = _by_keys_statement(shape)(**{f"k{i:03d}": key for i, key in enumerate(padded)})
    else:
        by_key = _by_keys(queryset.model, queryset.query.select_related, queryset.query.deferred_loading,
                          queryset._prefetch_related_lookups, keys)  # type: ignore[attr-defined]
    found = {row.pk: row for row in by_key}
    return [found[key] for key in keys if key in found]


KEYS_KEPT = 100  # a list's page holds at most this many rows


def _by_keys(model: Any, select_related: Any, deferred: Any, prefetches: Any, keys: list[Any]) -> QuerySet[Any]:
    manager = model._default_manager
    by_key = (
        manager.unrestricted("the rows of the keys just read through the gate")
        if hasattr(manager, "unrestricted") else manager.all()
    ).filter(pk__in=keys)
    by_key.query.select_related = select_related
    by_key.query.deferred_loading = deferred
    by_key._prefetch_related_lookups = prefetches
    return by_key


def _frozen(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((key, _frozen(item)) for key, item in value.items()))
    if isinstance(value, (set, frozenset)):
        return tuple(sorted(value))
    return value


def _shape(queryset: QuerySet[Any]) -> tuple[Any, ...] | None:
    """What loading the rows of `queryset` reads, hashable; None when it has prefetches with
    querysets of their own (not compared by value: read by keys each time)."""
    prefetches = queryset._prefetch_related_lookups  # type: ignore[attr-defined]
    if not all(isinstance(lookup, str) for lookup in prefetches):
        return None
    query = queryset.query
    deferred_names, defer = query.deferred_loading
    return (queryset.model, _frozen(query.select_related), _frozen(deferred_names), defer, tuple(prefetches))


@functools.lru_cache(maxsize=64)
def _by_keys_statement(shape: tuple[Any, ...]) -> Statement[QuerySet[Any]]:
    model, select_related, deferred_names, defer, prefetches = shape
    related = _thawed(select_related)
    deferred = (frozenset(deferred_names), defer)
    return Statement(lambda **keys: _by_keys(model, related, deferred, prefetches, list(keys.values())))


def _thawed(value: Any) -> Any:
    if isinstance(value, tuple) and all(isinstance(item, tuple) and len(item) == 2 for item in value):
        return {key: _thawed(item) for key, item in value}
    return value


@dataclass
class KeysetPage:
    rows: list[Any]
    newer: str | None  # cursor of the page before this one (None: this is the first)
    older: str | None  # cursor of the page after this one (None: this is the last)
    total: CappedCount | None = None
    query: dict[str, str] = field(default_factory=dict)  # the other query parameters of the list

    def __iter__(self) -> Any:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def object_list(self) -> list[Any]:
        return self.rows

    @property
    def has_other_pages(self) -> bool:
        return bool(self.newer or self.older)

    def _url(self, direction: str, token: str | None) -> str:
        if token is None:
            return ""
        return "?" + urlencode({**self.query, direction: token})

    @property
    def newer_url(self) -> str:
        return self._url(NEWER, self.newer)

    @property
    def older_url(self) -> str:
        return self._url(OLDER, self.older)

    @property
    def first_url(self) -> str:
        return "?" + urlencode(self.query)


def keyset_page(
    queryset: QuerySet[Any] | Callable[[], QuerySet[Any]],
    order: list[tuple[str, bool]],
    *,
    size: int,
    older: str | None = None,
    newer: str | None = None,
    query: dict[str, str] | None = None,
    count: bool = True,
    listed: ListedByKeys | None = None,
    bounded: bool = False,
) -> KeysetPage:
    """One page of `queryset` in `order` ([(field, descending)], ending with a unique field),
    after the row of cursor `older`, or before the row of cursor `newer` (or the first page).
    Reads size + 1 rows, plus the capped count when `count`. `listed`: the same list, its
    page's keys read from there when it can (`queryset` may then be a function building it).
    `bounded`: the cursor's condition behind its first key's range (see `_beyond`)."""

    def the_queryset() -> QuerySet[Any]:
        return queryset if isinstance(queryset, QuerySet) else queryset()

    names = [name for name, _desc in order]
    forward_order = ordering(order)
    backward_order = ordering([(n, not d) for n, d in order])
    model = queryset.model if isinstance(queryset, QuerySet) else listed.rows.model  # type: ignore[union-attr]
    values = _typed(model, order, _decode(older, len(order))) if older else None
    back = None if values is not None or not newer else _typed(model, order, _decode(newer, len(order)))

    def taken_rows(boundary: list[Any] | None, forward: bool) -> list[Any]:
        keys = listed.keys(0, size + 1, boundary, forward) if listed is not None else None
        if keys is not None:
            return listed.rows_of(keys)  # type: ignore[union-attr]  # keys come from `listed`
        qs = the_queryset()
        if boundary is not None:
            qs = qs.filter(_beyond(order, boundary, forward=forward, bounded=bounded))
        return page_rows(qs, forward_order if forward else backward_order, 0, size + 1)

    if back is not None:
        taken = taken_rows(back, False)
        more_newer = len(taken) > size
        rows = list(reversed(taken[:size]))
        has_newer, has_older = more_newer, True
    else:
        taken = taken_rows(values, True)
        rows = taken[:size]
        has_newer, has_older = values is not None, len(taken) > size
    if not rows:
        has_older = False
        has_newer = values is not None or back is not None
    newer_token = _encode([_value(rows[0], n) for n in names]) if rows and has_newer else None
    older_token = _encode([_value(rows[-1], n) for n in names]) if rows and has_older else None
    if not rows and has_newer:
        newer_token = None  # an empty page past the end: the first page is the way back
    clean_query = {k: v for k, v in (query or {}).items() if k not in (OLDER, NEWER, "page")}
    return KeysetPage(
        rows=rows,
        newer=newer_token,
        older=older_token,
        total=capped_count(the_queryset()) if count else None,
        query=clean_query,
    )


# --- the API lists: the same keyset pages, with the offset kept for existing clients --------

API_MAX_OFFSET = 10_000  # an offset costs the rows it skips: deeper, follow the `older` cursor


def _queryset_order(queryset: QuerySet[Any]) -> list[tuple[str, bool]]:
    fields = list(queryset.query.order_by) or ["-pk"]
    order = [(str(f).lstrip("-"), str(f).startswith("-")) for f in fields]
    if order[-1][0] not in ("id", "pk"):
        order.append(("id", order[-1][1]))
    return order


def _api_pagination() -> Any:
    from ninja import Field, Schema
    from ninja.conf import settings as ninja_settings
    from ninja.pagination import PaginationBase

    class KeysetPagination(PaginationBase):
        """`limit` and `offset` as before (offset up to 10,000), or `older` / `newer`: a cursor
        from the `Link` header of the previous answer (`rel="next"`: older rows, `rel="prev"`:
        newer), which costs the same at any depth. The body keeps its shape (`items`, `count`);
        `count` is counted up to 1,000, and the header `X-Count-More: true` says there are more.
        (The view takes a `response: HttpResponse` argument for the headers.)"""

        class Input(Schema):
            limit: int = Field(ninja_settings.PAGINATION_PER_PAGE, ge=1, le=100)
            offset: int = Field(
                0, ge=0, le=API_MAX_OFFSET, description="rows to skip (at most 10,000: deeper, use `older`)"
            )
            older: str | None = Field(
                None, max_length=500, description='cursor from the `Link` header (rel="next"): the rows after it'
            )
            newer: str | None = Field(
                None, max_length=500, description='cursor from the `Link` header (rel="prev"): the rows before it'
            )

        class Output(Schema):
            items: list[Any]
            count: int

        items_attribute = "items"

        def __init__(self, *, prepare: Callable[[list[Any]], object] | None = None, **kwargs: Any) -> None:
            # `prepare`: called with a page's rows before they are serialised (what they all
            # need read in one query, e.g. their compartment codes).
            super().__init__(**kwargs)
            self.prepare = prepare

        def paginate_queryset(self, queryset: Any, pagination: Any, request: Any, **params: Any) -> Any:
            # `queryset`: the view's answer, a queryset, `Counted` or `ListedByKeys`
            counted = queryset.counted if isinstance(queryset, Counted) else None
            listed = queryset if isinstance(queryset, ListedByKeys) else None
            queryset = queryset.rows if isinstance(queryset, Counted) else queryset
            order = listed.order if listed is not None else _queryset_order(queryset)

            def total_of_list() -> CappedCount:
                if listed is not None:
                    return listed.count() or capped_count(listed.fallback())
                return capped_count(queryset if counted is None else counted)

            if pagination.older or pagination.newer:  # a cursor's page: counted apart (the whole list)
                total = total_of_list()
                page = keyset_page(
                    listed.fallback if listed is not None else queryset, order, size=pagination.limit,
                    older=pagination.older, newer=pagination.newer, count=False, listed=listed,
                )  # fmt: skip
                rows, older, newer = page.rows, page.older, page.newer
            else:  # the first page, or an offset: its rows and the list's count (one statement when bounded)
                offset = pagination.offset
                stop = offset + pagination.limit + 1
                keys = listed.keys(offset, stop, None, True) if listed is not None else None
                if keys is not None:
                    taken, total = listed.rows_of(keys), total_of_list()  # type: ignore[union-attr]
                elif listed is not None:
                    taken, total = page_rows(listed.fallback(), ordering(order), offset, stop), total_of_list()
                else:
                    taken, total = page_rows_and_total(queryset, ordering(order), offset, stop, counted=counted)
                rows = taken[: pagination.limit]
                names = [name for name, _d in order]
                older = _encode([_value(rows[-1], n) for n in names]) if len(taken) > pagination.limit else None
                newer = _encode([_value(rows[0], n) for n in names]) if rows and offset else None
            if self.prepare is not None:
                self.prepare(rows)
            response = params.get("response")
            if response is not None:
                query = {k: v for k, v in request.GET.items() if k not in ("offset", OLDER, NEWER)}
                links = [
                    f'<{request.path}?{urlencode({**query, name: token})}>; rel="{rel}"'
                    for name, token, rel in ((OLDER, older, "next"), (NEWER, newer, "prev"))
                    if token
                ]
                if links:
                    response["Link"] = ", ".join(links)
                if total.more:
                    response["X-Count-More"] = "true"
            return {"items": rows, "count": total.value}

    return KeysetPagination


KeysetPagination = _api_pagination()


def keyset_list(schema: Any, *, prepare: Callable[[list[Any]], object] | None = None) -> Callable[[Any], Any]:
    """`@paginate(KeysetPagination, prepare=…)` for a list of `schema` rows (the schema of the
    route's `response=list[…]`), its rows read into JSON by `plain_rows` instead of validated
    one field at a time (see `chancery.core.plain_rows`). The view takes `response: HttpResponse`."""
    from functools import wraps

    from ninja.pagination import paginate

    from chancery.core.plain_rows import plain_rows

    def decorate(view: Any) -> Any:
        paginated = paginate(KeysetPagination, prepare=prepare)(view)

        @wraps(paginated)
        def answer(request: Any, **kwargs: Any) -> Any:
            result = paginated(request, **kwargs)
            if not isinstance(result, dict):
                return result
            result["items"] = plain_rows(schema, result["items"])
            from chancery.api import api

            return api.create_response(request, result, temporal_response=kwargs["response"])

        return answer

    return decorate
