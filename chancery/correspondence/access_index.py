"""The access index (`DispatchAccess`): who has need to know of which dispatch, denormalised
so that the gate (`DispatchQuerySet.visible_to`) is one indexed semi-join instead of four
sub-selects over the routings, grants and circuit steps of the reader's whole scope.

What the index holds (derived only from the dispatch, its routings, grants and circuit steps;
never from the reader, so membership changes, oversight changes and unit-tree moves need no
maintenance: the reader's units and overseen subtree are expanded at read time):

- the sending unit, always; `oversee` once the dispatch is released (sent or closed);
- each routed unit, once released, `oversee`;
- each grant (to a user or a unit), once released;
- each validation-circuit step: its assignee, or its unit when the step names nobody
  (any status: participants read the draft they are asked about).

A reader has need to know when a row names one of their units, or them, or (`oversee` rows)
a unit under one of their oversight subtrees. The security officers' review branch
(declassification date reached) depends on today's date and stays a condition on the
dispatch row, as do clearance and compartments.

Maintenance: `sync_dispatches(ids)` recomputes the rows of a few dispatches from their
sources (one DELETE and one INSERT ... SELECT); receivers call it in the same transaction as
every save/delete of a dispatch, routing, grant or circuit step, and the bulk paths (services'
routing replacement, the demo writer) call it directly. `rebuild_access_index()` rebuilds the
whole table with one INSERT ... SELECT (`chancery reindex --access`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import connections, router

# Dispatches handled per statement by the partial rebuild (SQLite's bound-parameter limit).
CHUNK = 500


def _tables(models: Any = None) -> dict[str, str]:
    """Quoted table names (from the live models or, in a migration, from `apps`)."""

    def get(name: str) -> Any:
        if models is not None:
            return models.get_model("correspondence", name)
        from django.apps import apps

        return apps.get_model("correspondence", name)

    names = {
        "access": "DispatchAccess",
        "dispatch": "Dispatch",
        "routing": "Routing",
        "grant": "DispatchGrant",
        "step": "CircuitStep",
    }
    tables = {key: get(model)._meta.db_table for key, model in names.items()}
    # The compartments' table when the index holds the marking's copies (not before the migration
    # that adds them: an earlier migration rebuilding the index runs this code on its own tables).
    copying = any(f.name == "dispatch_level" for f in get("DispatchAccess")._meta.get_fields())
    compartments = get("Dispatch")._meta.get_field("compartments").remote_field.through
    tables["compartments"] = compartments._meta.db_table if copying else ""
    return tables


def _insert(where: str, where_params: list[Any], models: Any, connection: Any) -> tuple[str, list[Any]]:
    """INSERT ... SELECT of the index rows of the dispatches `d` matching `where` (SQL with
    `where_params`), and its parameters."""
    t = _tables(models)
    q = connection.ops.quote_name
    released = "d.status IN (%s, %s)"
    statuses = ["sent", "closed"]
    columns, copies = "dispatch_id, unit_id, user_id, oversee", ""
    if t["compartments"]:
        # The dispatch's marking and date, as its triggers would copy them (`marking_copies`: on
        # SQLite they then find nothing to correct, instead of rewriting each row just written).
        columns += ", dispatch_level, dispatch_has_compartments, dispatch_dated"
        compartmented = f"EXISTS (SELECT 1 FROM {q(t['compartments'])} c WHERE c.dispatch_id = d.id)"  # noqa: S608
        copies = f", d.classification, {compartmented}, d.dated"
    sql = (
        f"INSERT INTO {q(t['access'])} ({columns}) "  # noqa: S608
        f"SELECT d.id, d.sending_unit_id, CAST(NULL AS BIGINT), CASE WHEN {released} THEN %s ELSE %s END{copies} "
        f"FROM {q(t['dispatch'])} d WHERE {where} "
        f"UNION ALL SELECT r.dispatch_id, r.unit_id, CAST(NULL AS BIGINT), %s{copies} "
        f"FROM {q(t['routing'])} r JOIN {q(t['dispatch'])} d ON d.id = r.dispatch_id WHERE {where} AND {released} "
        f"UNION ALL SELECT g.dispatch_id, g.unit_id, g.user_id, %s{copies} "
        f"FROM {q(t['grant'])} g JOIN {q(t['dispatch'])} d ON d.id = g.dispatch_id WHERE {where} AND {released} "
        "UNION ALL SELECT s.dispatch_id, CASE WHEN s.assignee_id IS NULL THEN s.unit_id END, s.assignee_id, "
        f"%s{copies} "
        f"FROM {q(t['step'])} s JOIN {q(t['dispatch'])} d ON d.id = s.dispatch_id WHERE {where}"
    )
    params: list[Any] = [*statuses, True, False, *where_params]
    params += [True, *where_params, *statuses]
    params += [False, *where_params, *statuses]
    params += [False, *where_params]
    return sql, params


def _using(using: str | None) -> str:
    if using:
        return using
    from chancery.correspondence.models import DispatchAccess

    return router.db_for_write(DispatchAccess)


def sync_dispatches(dispatch_ids: Iterable[int], *, using: str | None = None, models: Any = None) -> None:
    """Recompute the index rows of these dispatches from their sources (run it in the
    transaction of the write that changed them)."""
    ids = sorted({int(i) for i in dispatch_ids if i is not None})
    if not ids:
        return
    connection = connections[_using(using)]
    tables = _tables(models)
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(
                f"DELETE FROM {q(tables['access'])} WHERE dispatch_id IN ({marks})",  # noqa: S608
                chunk,
            )
            insert, params = _insert(f"d.id IN ({marks})", list(chunk), models, connection)
            cursor.execute(insert, params)


def rebuild_access_index(
    *,
    dispatch_ids: Iterable[int] | None = None,
    id_range: tuple[int, int] | None = None,
    using: str | None = None,
    models: Any = None,
) -> int:
    """Rebuild the index: of every dispatch (default), of `dispatch_ids`, or of the dispatches
    whose id is in `id_range` (inclusive; what a bulk writer that just inserted a block of
    dispatches passes). One INSERT ... SELECT per call (per chunk for `dispatch_ids`).
    Returns the number of index rows afterwards (whole table) or 0."""
    if dispatch_ids is not None:
        sync_dispatches(dispatch_ids, using=using, models=models)
        return 0
    connection = connections[_using(using)]
    tables = _tables(models)
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        if id_range is not None:
            low, high = int(id_range[0]), int(id_range[1])
            cursor.execute(
                f"DELETE FROM {q(tables['access'])} WHERE dispatch_id BETWEEN %s AND %s",  # noqa: S608
                [low, high],
            )
            insert, params = _insert("d.id BETWEEN %s AND %s", [low, high], models, connection)
            cursor.execute(insert, params)
            return 0
        cursor.execute(f"DELETE FROM {q(tables['access'])}")  # noqa: S608
        insert, params = _insert("1 = 1", [], models, connection)
        cursor.execute(insert, params)
        cursor.execute(f"SELECT COUNT(*) FROM {q(tables['access'])}")  # noqa: S608
        return int(cursor.fetchone()[0])


# --- receivers: every save/delete of a source row re-syncs its dispatch, in its transaction ---


def _dispatch_saved(
    sender: Any,
    instance: Any,
    created: bool,
    update_fields: Any = None,
    raw: bool = False,
    using: str | None = None,
    **kwargs: Any,
) -> None:
    if raw:
        return
    # Only the status and the sending unit matter (the sending unit is fixed after creation).
    if not created and update_fields is not None and "status" not in update_fields:
        return
    sync_dispatches([instance.pk], using=using)


def _dispatch_deleted(sender: Any, instance: Any, using: str | None = None, **kwargs: Any) -> None:
    from chancery.correspondence.models import DispatchAccess

    DispatchAccess.objects.using(using).filter(dispatch_id=instance.pk).delete()


def _source_saved(
    sender: Any, instance: Any, created: bool, raw: bool = False, using: str | None = None, **kwargs: Any
) -> None:
    # Routings, grants and steps never change dispatch, unit or assignee after creation.
    if created and not raw:
        sync_dispatches([instance.dispatch_id], using=using)


def _source_deleted(sender: Any, instance: Any, using: str | None = None, **kwargs: Any) -> None:
    sync_dispatches([instance.dispatch_id], using=using)


def connect() -> None:
    """Wire the receivers (from the app config's `ready`)."""
    from django.db.models.signals import post_delete, post_save

    from chancery.correspondence.models import CircuitStep, Dispatch, DispatchGrant, Routing

    post_save.connect(_dispatch_saved, sender=Dispatch, dispatch_uid="access_index.dispatch_saved")
    post_delete.connect(_dispatch_deleted, sender=Dispatch, dispatch_uid="access_index.dispatch_deleted")
    for model in (Routing, DispatchGrant, CircuitStep):
        post_save.connect(_source_saved, sender=model, dispatch_uid=f"access_index.{model.__name__}.saved")
        post_delete.connect(_source_deleted, sender=model, dispatch_uid=f"access_index.{model.__name__}.deleted")
