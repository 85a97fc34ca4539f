"""A reader's dispatch list, newest first, read from their rows of the access index.

The list of everything a reader may read (`GET /api/v1/dispatches` without filters, or with
letter dates alone: then each walk below reads a range of its index) was read
from the dispatch table: walking its date index and checking each dispatch against the gate
until a page (and a capped count) passed, or, for a narrow reader, reading every dispatch of
their scope to sort it. At a million dispatches either cost grew with the reader: a desk
officer's count probed about 12,000 dispatches, a mission agent's page sorted 5,330 rows.

The access rows (`DispatchAccess`) name every dispatch a reader has need to know of, and carry
its marking and date (`marking_copies`, kept by the database), in one index per unit and per
user in the list's order. So a page is one walk down each of the reader's units (and their own
name), each stopping after the rows it needs, merged; the capped count reads at most 1,001
distinct dispatches per kind of row. Neither grows with the reader's scope; an offset page
costs its depth in each walk, and is read the dispatch table's way when that is cheaper.

The rows of the page are then read through the gate (`visible_to`), which alone decides: the
keys found here only say which rows to ask for. The count is the access rows' (the clearance
checked on their copies), tested equal to the gate's rows for readers of every kind
(`tests/test_access_list.py`). Security officers reviewing declassification read dispatches no
access row names (a condition on the dispatch's date): their list stays on the dispatch table.
"""

# ruff: noqa: S608  (the statements are built from the models' names and this module's text)
from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from django.db import connection

from chancery.accounts.access import signed_in
from chancery.core import keyset
from chancery.core.db import column, table
from chancery.core.keyset import CappedCount, ListedByKeys
from chancery.correspondence.models import Dispatch, DispatchAccess, _review_branch, need_to_know_units

# Index entries a page may read across its walks (walks x rows each); deeper, or over more units,
# the page is read from the dispatch table, whose cost does not grow with the walks.
LIST_WORK = 20_000

Walk = tuple[str, list[Any]]  # a condition on the access rows `a` naming one ordered walk
Dates = tuple[date | None, date | None]  # a range of letter dates: from, to (either open)


def _walks(user: Any) -> list[Walk] | None:
    """The ordered walks of the reader's rows (one per unit and one for their name), or None when
    the access rows do not name everything the reader may read."""
    if signed_in(user) is None or _review_branch(user) is not None:
        return None  # nobody reads anything (as `visible_to`); a security officer: see the module
    unit_ids, overseen = need_to_know_units(user)
    unit, user_col, oversee = (column(DispatchAccess, f) for f in ("unit", "user", "oversee"))
    own = set(unit_ids)
    walks: list[Walk] = [(f"a.{user_col} = %s", [user.pk])]
    walks += [(f"a.{unit} = %s", [u]) for u in unit_ids]
    # a member reads all of their unit's rows, an overseer its rows marked `oversee`
    walks += [(f"a.{unit} = %s AND a.{oversee} = %s", [u, True]) for u in overseen if u not in own]
    return walks


def _cleared(user: Any) -> Walk:
    """The reader's clearance, on the access rows' copies of the marking (what `clearance_q`
    checks on the dispatch row)."""
    level, compartmented = column(DispatchAccess, "dispatch_level"), column(DispatchAccess, "dispatch_has_compartments")
    condition = f"a.{level} <= %s AND (a.{compartmented} = %s"
    params: list[Any] = [user.clearance.level, False]
    cleared = user.clearance_compartment_ids
    if cleared:
        through = Dispatch.compartments.through
        c_dispatch, c_compartment = column(through, "dispatch"), column(through, "compartment")
        a_dispatch = column(DispatchAccess, "dispatch")
        condition += (
            f" OR NOT EXISTS (SELECT 1 FROM {table(through)} c WHERE c.{c_dispatch} = a.{a_dispatch}"
            f" AND c.{c_compartment} NOT IN ({', '.join(['%s'] * len(cleared))}))"
        )
        params += cleared
    return condition + ")", params


def _within(dates: Dates) -> Walk:
    """The condition of the date range `dates` (from, to; either None) on the access rows' copy
    of their dispatch's date: a range of each walk's index."""
    dated = column(DispatchAccess, "dispatch_dated")
    bounds = [(f"a.{dated} {op} %s", connection.ops.adapt_datefield_value(on))
              for op, on in zip((">=", "<="), dates, strict=True) if on is not None]  # fmt: skip
    return "".join(f" AND {condition}" for condition, _on in bounds), [on for _condition, on in bounds]


def _merged(
    user: Any, walks: list[Walk], stop: int, boundary: list[Any] | None, forward: bool, dates: Dates = (None, None)
) -> tuple[str, list[Any]]:
    """SQL of the first `stop` distinct (date, dispatch) pairs of each walk in the list's order
    (`forward`: newest first) after `boundary` (or before it, oldest first), dated within `dates`,
    merged without duplicates: `listed_on`, `listed_id`. Each walk is an ordered read of one
    index, stopped by its limit (SQLite and PostgreSQL both stream it; with several units under
    one `IN`, PostgreSQL hashed all their rows before counting: 111 ms for a director at 1M)."""
    dated, dispatch = column(DispatchAccess, "dispatch_dated"), column(DispatchAccess, "dispatch")
    direction = "DESC" if forward else "ASC"
    cleared, cleared_params = _cleared(user)
    within, within_params = _within(dates)
    cleared, cleared_params = cleared + within, cleared_params + within_params
    beyond, beyond_params = "", []
    if boundary is not None:
        # (a cursor's values come typed by `keyset._typed`: a date and an id)
        (on, key), (past, reach) = boundary, ("<", "<=") if forward else (">", ">=")
        value = connection.ops.adapt_datefield_value(on)
        # A range on the date (the index's), then the ties on that date by id.
        beyond = f" AND a.{dated} {reach} %s AND (a.{dated} {past} %s OR a.{dispatch} {past} %s)"
        beyond_params = [value, value, int(key)]
    parts, params = [], []
    for i, (where, where_params) in enumerate(walks):
        parts.append(
            f"SELECT * FROM (SELECT DISTINCT a.{dated} AS listed_on, a.{dispatch} AS listed_id "
            f"FROM {table(DispatchAccess)} a WHERE {where} AND {cleared}{beyond} "
            f"ORDER BY a.{dated} {direction}, a.{dispatch} {direction} LIMIT %s) w{i}"
        )
        params += [*where_params, *cleared_params, *beyond_params, stop]
    return (parts[0] if len(parts) == 1 else " UNION ".join(parts)), params


def _page_keys(
    user: Any, walks: list[Walk], start: int, stop: int, boundary: list[Any] | None, forward: bool, dates: Dates
) -> list[int] | None:
    """The dispatch ids of rows `start`..`stop` of the list, newest first (`forward`), or, before
    `boundary` (newer rows, `forward` False), oldest first: each walk reads `stop` rows at most.
    None past `LIST_WORK`."""
    if len(walks) * stop > LIST_WORK:
        return None
    merged, params = _merged(user, walks, stop, boundary, forward, dates)
    direction = "DESC" if forward else "ASC"
    sql = f"SELECT listed_id FROM ({merged}) u ORDER BY listed_on {direction}, listed_id {direction} LIMIT %s OFFSET %s"
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, stop - start, start])
        return [int(key) for (key,) in cursor.fetchall()]


def _count(user: Any, walks: list[Walk], dates: Dates) -> CappedCount | None:
    """How many dispatches the access rows let the reader read, up to `keyset.COUNT_CAP`: each walk
    reads COUNT_CAP + 1 of them at most. None past `LIST_WORK` (a reader of many units: their
    list is wide, and the dispatch table's date index counts it sooner)."""
    cap = keyset.COUNT_CAP
    if len(walks) * (cap + 1) > LIST_WORK:
        return None
    merged, params = _merged(user, walks, cap + 1, None, True, dates)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM (SELECT listed_id FROM ({merged}) u LIMIT %s) t", [*params, cap + 1])
        counted = int(cursor.fetchone()[0])
    return CappedCount(value=min(counted, cap), more=counted > cap)


def listed_by_access_rows(
    user: Any, rows: Any, order: list[tuple[str, bool]], fallback: Callable[[], Any], dates: Dates = (None, None)
) -> ListedByKeys | None:
    """The reader's whole list (no filter but, optionally, the letter dates within `dates`: from,
    to, either None) in `order` (date, id; newest first) as `ListedByKeys`: page keys and count
    from their access rows, the rows of the keys read through `rows` (gated, and filtered alike),
    `fallback()` (the same list as a queryset) where the walks would read more than `LIST_WORK`
    entries (for the count: more than 1,001 per walk). None when the access rows do not name
    everything the reader may read (a security officer)."""
    walks = _walks(user)
    if walks is None:
        return None

    def keys(start: int, stop: int, boundary: list[Any] | None, forward: bool) -> list[int] | None:
        return _page_keys(user, walks, start, stop, boundary, forward, dates)

    def count() -> CappedCount | None:
        return _count(user, walks, dates)

    return ListedByKeys(rows=rows, order=order, fallback=fallback, keys=keys, count=count)
