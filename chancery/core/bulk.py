"""Writing rows in bulk, faster than `bulk_create` (generators and demo loaders only).

`bulk_create` prepares every value through the field machinery and asks the database for each
new key; at a million dispatches that is most of the time. Here the primary keys are handed
out first (`take_ids`), so a row is complete in Python (the encryption's associated data and
the signature need the dispatch's id) before its one `INSERT`, sent as an `executemany`.
Application code writes through the services; nothing here checks a business rule.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any

from django.db import connection, models
from django.utils import timezone


def take_ids(model: type[models.Model], count: int) -> list[int]:
    """`count` new primary keys of `model`'s table, handed out in Python.

    PostgreSQL: drawn from the table's own sequence (`nextval`), so concurrent writers never
    collide and the sequence stays ahead of every id. SQLite: after the largest id, which is
    safe because the caller holds the database's only write lock (its transaction is IMMEDIATE)
    and SQLite's AUTOINCREMENT counter follows the largest id inserted; the rows must then be
    inserted before anything else writes to that table (or asks for its ids again).
    """
    if count <= 0:
        return []
    quoted = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [quoted, count]
            )
            return [row[0] for row in cursor.fetchall()]
        cursor.execute(f"SELECT MAX(id) FROM {quoted}")  # noqa: S608
        first = (cursor.fetchone()[0] or 0) + 1
    return list(range(first, first + count))


class Row(SimpleNamespace):
    """A row to insert: the model's column attributes (`unit_id`, not `unit`), without the cost of
    a model instance (its `__init__` and descriptors were half of a generator's time)."""

    @property
    def pk(self) -> Any:
        return self.id

    @pk.setter
    def pk(self, value: Any) -> None:
        self.id = value


_DEFAULTS: dict[type[models.Model], list[tuple[str, Callable[[], Any]]]] = {}


def new_row(model: type[models.Model], **values: Any) -> Row:
    """A `Row` of `model`: each column from `values` (by attname) or from the field's default."""
    if model not in _DEFAULTS:
        _DEFAULTS[model] = [(f.attname, f.get_default) for f in model._meta.concrete_fields]
    unknown = set(values) - {name for name, _default in _DEFAULTS[model]}
    if unknown:
        raise ValueError(f"{model.__name__} has no column {sorted(unknown)}")
    return Row(**{name: values[name] if name in values else default() for name, default in _DEFAULTS[model]})


def _converter(field: models.Field[Any, Any], now: Any) -> Callable[[Any], Any]:
    """How one field's value reaches the driver (the common types without the field machinery)."""
    attname = field.attname
    ops = connection.ops
    kind = field.get_internal_type()
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        stamp = ops.adapt_datetimefield_value(now)
        return lambda obj: stamp
    if kind == "DateTimeField":
        return lambda obj: ops.adapt_datetimefield_value(getattr(obj, attname))
    if kind == "DateField":
        return lambda obj: ops.adapt_datefield_value(getattr(obj, attname))
    if kind in {"JSONField", "DecimalField", "UUIDField"}:
        return lambda obj: field.get_db_prep_save(getattr(obj, attname), connection)
    return lambda obj: getattr(obj, attname)


def insert_rows(model: type[models.Model], objs: Sequence[models.Model | Row], *, batch: int = 2000) -> None:
    """INSERT these instances or `Row`s, primary keys included (from `take_ids`), as one executemany per batch.

    No signals, no `save()`: for generated data written in bulk inside the caller's transaction."""
    if not objs:
        return
    if any(obj.pk is None for obj in objs):
        raise ValueError("insert_rows needs the primary keys set (take_ids)")
    fields = list(model._meta.concrete_fields)
    now = timezone.now()
    converters = [_converter(f, now) for f in fields]
    columns = ", ".join(connection.ops.quote_name(str(f.column)) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({columns}) VALUES ({marks})"  # noqa: S608
    with connection.cursor() as cursor:
        for start in range(0, len(objs), batch):
            cursor.executemany(sql, [tuple(c(obj) for c in converters) for obj in objs[start:start + batch]])


def update_rows(model: type[models.Model], objs: Sequence[models.Model], fields: list[str]) -> None:
    """UPDATE ... WHERE id = %s for each object, as one executemany (Django's bulk_update
    builds CASE expressions that cost more than the whole rest of a demo load)."""
    if not objs:
        return
    concrete = [model._meta.get_field(name) for name in fields]
    assignments = ", ".join(f"{connection.ops.quote_name(str(f.column))} = %s" for f in concrete)  # type: ignore[union-attr]
    sql = f"UPDATE {connection.ops.quote_name(model._meta.db_table)} SET {assignments} WHERE id = %s"  # noqa: S608
    params = [
        [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in concrete] + [obj.pk]  # type: ignore[union-attr]
        for obj in objs
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
