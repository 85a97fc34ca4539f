"""A reader's dispatch list, newest first, read from their rows of the access index.

The list of everything a reader may read (`GET /api/v1/dispatches` without filters) was read
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

from chancery.core import keyset
from chancery.core.db import column, table
from chancery.core.keyset import CappedCount, ListedByKeys
from chancery.correspondence.models import Dispatch, DispatchAccess, _review_branch, need_to_know_units

# Index entries a page may read across its walks (walks x rows each); deeper, or over more units,
# the page is read from the dispatch table, whose cost does not grow with the walks.
LIST_WORK = 20_000

Walk = tuple[str, list[Any]]  # a condition on the access rows `a` naming one ordered walk


def _walks(user: Any) -> tuple[list[Walk], list[Walk]] | None:
    """(ordered walks: one per unit and one for the reader's name; their grouping for the count),
    or None when the access rows do not name everything the reader may read."""
    if _review_branch(user) is not None:
        return None
    unit_ids, overseen = need_to_know_units(user)
    unit, user_col, oversee = (column(DispatchAccess, f) for f in ("unit", "user", "oversee"))
    own = set(unit_ids)
    overseen = [u for u in overseen if u not in own]  # a member reads all of their unit's rows
    walks: list[Walk] = [(f"a.{user_col} = %s", [user.pk])]
    walks += [(f"a.{unit} = %s", [u]) for u in unit_ids]
    walks += [(f"a.{unit} = %s AND a.{oversee} = %s", [u, True]) for u in overseen]
    grouped: list[Walk] = [walks[0]]
    if unit_ids:
        grouped.append((f"a.{unit} IN ({', '.join(['%s'] * len(unit_ids))})", list(unit_ids)))
    if overseen:
        grouped.append((f"a.{unit} IN ({', '.join(['%s'] * len(overseen))}) AND a.{oversee} = %s", [*overseen, True]))
    return walks, grouped


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


def _page_keys(
    user: Any, walks: list[Walk], start: int, stop: int, boundary: list[Any] | None, forward: bool
) -> list[int] | None:
    """The dispatch ids of rows `start`..`stop` of the list, newest first (`forward`), or, before
    `boundary` (newer rows, `forward` False), oldest first: each walk reads `stop` rows at most."""
    if len(walks) * stop > LIST_WORK:
        return None
    dated, dispatch = column(DispatchAccess, "dispatch_dated"), column(DispatchAccess, "dispatch")
    direction = "DESC" if forward else "ASC"
    cleared, cleared_params = _cleared(user)
    beyond, beyond_params = "", []
    if boundary is not None:
        (on, key), (past, reach) = boundary, ("<", "<=") if forward else (">", ">=")
        value = connection.ops.adapt_datefield_value(on if isinstance(on, date) else date.fromisoformat(str(on)))
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
    merged = parts[0] if len(parts) == 1 else " UNION ".join(parts)
    sql = (
        f"SELECT listed_id FROM ({merged}) u ORDER BY listed_on {direction}, listed_id {direction} "
        "LIMIT %s OFFSET %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, stop - start, start])
        return [int(key) for (key,) in cursor.fetchall()]


def _count(user: Any, grouped: list[Walk]) -> CappedCount:
    """How many dispatches the access rows let the reader read, up to `keyset.COUNT_CAP`: at most
    COUNT_CAP + 1 distinct dispatches read per kind of row."""
    cap = keyset.COUNT_CAP
    dated, dispatch = column(DispatchAccess, "dispatch_dated"), column(DispatchAccess, "dispatch")
    cleared, cleared_params = _cleared(user)
    parts, params = [], []
    for i, (where, where_params) in enumerate(grouped):
        # The date beside the id (the same dispatches: one date each) keeps the engine on the
        # listing indexes: for `DISTINCT dispatch_id` alone SQLite walked the whole index that is
        # in dispatch order (2.4 million entries, 125 ms) rather than the agent's rows.
        parts.append(
            f"SELECT * FROM (SELECT DISTINCT a.{dated}, a.{dispatch} AS listed_id FROM {table(DispatchAccess)} a "
            f"WHERE {where} AND {cleared} LIMIT %s) c{i}"
        )
        params += [*where_params, *cleared_params, cap + 1]
    sql = f"SELECT COUNT(*) FROM (SELECT DISTINCT listed_id FROM ({' UNION ALL '.join(parts)}) u LIMIT %s) t"
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, cap + 1])
        counted = int(cursor.fetchone()[0])
    return CappedCount(value=min(counted, cap), more=counted > cap)


def listed_by_access_rows(
    user: Any, rows: Any, order: list[tuple[str, bool]], fallback: Callable[[], Any]
) -> ListedByKeys | None:
    """The reader's whole list (no filter) in `order` (date, id; newest first) as `ListedByKeys`:
    page keys and count from their access rows, the rows of the keys read through `rows` (gated),
    `fallback()` (the same list as a queryset) where the walks would read more than `LIST_WORK`
    entries. None when the access rows do not name everything the reader may read (a security
    officer)."""
    walks = _walks(user)
    if walks is None:
        return None
    ordered, grouped = walks

    def keys(start: int, stop: int, boundary: list[Any] | None, forward: bool) -> list[int] | None:
        return _page_keys(user, ordered, start, stop, boundary, forward)

    count: Callable[[], CappedCount] = lambda: _count(user, grouped)  # noqa: E731
    return ListedByKeys(rows=rows, order=order, fallback=fallback, keys=keys, count=count)
