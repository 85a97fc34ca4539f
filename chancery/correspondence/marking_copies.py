"""Copies of a dispatch's marking on the rows that list it, kept by the database.

- Each routing: `dispatch_level` (the classification), `dispatch_has_compartments` and
  `dispatch_released` (sent or closed).
- Each access-index row (`DispatchAccess`): `dispatch_level`, `dispatch_has_compartments` and
  `dispatch_dated` (the list's order).

Why: the inbox and its counters walk a unit's routings in index order; checking each one
against its dispatch (the level, the status, the compartment rows) cost one probe of the
dispatch table and one of the compartment table per routing, up to a thousand per counter:
20-30 ms of a desk officer's inbox at a million dispatches. With the copies in the routing
indexes the counters read the index alone (24 ms -> 1 ms on SQLite). The dispatch list does
the same with a reader's access rows: in date order, with their marking, in one index per unit
(`access_list`), instead of sorting every dispatch of a mission or probing thousands for a count.

The copies are kept by the database itself, whatever writes (the ORM, a bulk insert, raw SQL,
a restore), in the writing statement's transaction:

- a copying row inserted, or updated in its dispatch or in a copy (a full save of a stale
  instance writes stale copies back), takes them from its dispatch;
- a dispatch inserted, or changed in classification, status or date, refreshes its rows;
- a compartment added to or removed from a dispatch refreshes its rows.

A copy never shows more than its dispatch allows: the columns default to the most closed values
(level 32767, compartmented, not released) and a row whose dispatch is not there yet keeps
them. `drift()` counts rows whose copies disagree with their dispatch (0, always: the tests check
it after every kind of write); `refill()` recomputes every copy.

A table gets its triggers once a migration has given it its copy columns (`_present`): the
migrations that add them run this module as it is now, on the tables as they were then.
"""

# ruff: noqa: S608  (every statement here is built from this module's constants, never from input)
from __future__ import annotations

from typing import Any

from django.db import connections, router

# The most closed values: above every clearance, compartmented, not released.
CLOSED_LEVEL = 32767

_DISPATCH = "correspondence_dispatch"
_COMPARTMENTS = "correspondence_dispatch_compartments"

# Each copying table: (its trigger names' stem, the copy columns it holds).
COPIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "correspondence_routing": (
        "corr_routing_marking", ("dispatch_level", "dispatch_has_compartments", "dispatch_released"),
    ),
    "correspondence_dispatchaccess": (
        "corr_access_marking", ("dispatch_level", "dispatch_has_compartments", "dispatch_dated"),
    ),
}


def _truth(row: str) -> dict[str, str]:
    """SQL expressions of each copy for the row `row` (an alias, a table or NEW)."""
    return {
        "dispatch_level": f"COALESCE((SELECT d.classification FROM {_DISPATCH} d "
        f"WHERE d.id = {row}.dispatch_id), {CLOSED_LEVEL})",
        "dispatch_has_compartments": f"EXISTS (SELECT 1 FROM {_COMPARTMENTS} c "
        f"WHERE c.dispatch_id = {row}.dispatch_id)",
        "dispatch_released": f"COALESCE((SELECT d.status IN ('sent', 'closed') FROM {_DISPATCH} d "
        f"WHERE d.id = {row}.dispatch_id), FALSE)",
        # Not a security copy (the order of a list): a row without its dispatch sorts last.
        "dispatch_dated": f"COALESCE((SELECT d.dated FROM {_DISPATCH} d WHERE d.id = {row}.dispatch_id), "
        "'0001-01-01')",
    }


def _assign(table: str, row: str) -> str:
    truth = _truth(row)
    return ", ".join(f"{column} = {truth[column]}" for column in COPIES[table][1])


def _differs(table: str, row: str, vendor: str) -> str:
    distinct = "IS NOT" if vendor == "sqlite" else "IS DISTINCT FROM"
    truth = _truth(row)
    return " OR ".join(f"{row}.{column} {distinct} ({truth[column]})" for column in COPIES[table][1])


def _sqlite_triggers(tables: list[str]) -> list[str]:
    # SQLite's triggers cannot change NEW: a copying table's triggers update the row just
    # written. A trigger's own UPDATE does not fire it again (recursive triggers are off; the
    # WHEN clause stops it should they be turned on); the dispatch and compartment triggers
    # touch the rows' copies, which fires the row's trigger that recomputes them.
    statements = []
    for table in tables:
        stem, columns = COPIES[table]
        differs = _differs(table, "NEW", "sqlite")
        statements += [
            # The access index's writer already copies the marking: checked, written only if it differs.
            f"CREATE TRIGGER {stem}_insert AFTER INSERT ON {table} WHEN {differs} "
            f"BEGIN UPDATE {table} SET {_assign(table, 'NEW')} WHERE id = NEW.id; END",
            f"CREATE TRIGGER {stem}_update AFTER UPDATE OF dispatch_id, {', '.join(columns)} ON {table} "
            f"WHEN {differs} BEGIN UPDATE {table} SET {_assign(table, 'NEW')} WHERE id = NEW.id; END",
        ]

    def refresh(where: str) -> str:
        return " ".join(f"UPDATE {t} SET {_assign(t, t)} WHERE dispatch_id {where};" for t in tables)

    return [
        *statements,
        f"CREATE TRIGGER corr_dispatch_marking_insert AFTER INSERT ON {_DISPATCH} "
        f"BEGIN {refresh('= NEW.id')} END",
        f"CREATE TRIGGER corr_dispatch_marking_update AFTER UPDATE OF id, classification, status, dated "
        f"ON {_DISPATCH} WHEN OLD.id IS NOT NEW.id OR OLD.classification IS NOT NEW.classification "
        "OR OLD.status IS NOT NEW.status OR OLD.dated IS NOT NEW.dated "
        f"BEGIN {refresh('IN (OLD.id, NEW.id)')} END",
        f"CREATE TRIGGER corr_compartment_marking_insert AFTER INSERT ON {_COMPARTMENTS} "
        f"BEGIN {refresh('= NEW.dispatch_id')} END",
        f"CREATE TRIGGER corr_compartment_marking_delete AFTER DELETE ON {_COMPARTMENTS} "
        f"BEGIN {refresh('= OLD.dispatch_id')} END",
        f"CREATE TRIGGER corr_compartment_marking_update AFTER UPDATE OF dispatch_id ON {_COMPARTMENTS} "
        f"BEGIN {refresh('IN (OLD.dispatch_id, NEW.dispatch_id)')} END",
    ]


# PL/pgSQL keeps a session's plan of each statement of a function once it has run it a few
# times: planned while the tables were nearly empty (a bulk load into a new site) that plan
# scans the whole table for every row written, to the end of the session (a million-dispatch
# generation slowed from hundreds of rows a second to tens). Planned afresh at each call, the
# lookups by dispatch use their indexes at any size.
_FUNCTION = "RETURNS trigger LANGUAGE plpgsql SET plan_cache_mode = force_custom_plan AS"


def _postgresql_triggers(tables: list[str]) -> list[str]:
    # A BEFORE trigger sets the copies of every copying row written; the other tables' AFTER
    # triggers rewrite their rows' copies, which passes each row through it.
    statements = []
    for table in tables:
        stem, columns = COPIES[table]
        truth = _truth("NEW")
        sets = "\n    ".join(f"NEW.{column} := {truth[column]};" for column in columns)
        statements += [
            f"CREATE FUNCTION {stem}() {_FUNCTION} $$\nBEGIN\n    {sets}\n    RETURN NEW;\nEND $$",
            f"CREATE TRIGGER {stem} BEFORE INSERT OR UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION {stem}()",
        ]

    def touch(where: str) -> str:
        return " ".join(
            f"UPDATE {t} SET dispatch_level = dispatch_level WHERE dispatch_id {where};" for t in tables
        )

    return [
        *statements,
        f"""CREATE FUNCTION corr_dispatch_marking() {_FUNCTION} $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {touch('= NEW.id')}
    ELSIF NEW.classification IS DISTINCT FROM OLD.classification OR NEW.status IS DISTINCT FROM OLD.status
          OR NEW.dated IS DISTINCT FROM OLD.dated OR NEW.id IS DISTINCT FROM OLD.id THEN
        {touch('IN (OLD.id, NEW.id)')}
    END IF;
    RETURN NULL;
END $$""",
        f"CREATE TRIGGER corr_dispatch_marking AFTER INSERT OR UPDATE ON {_DISPATCH} "
        "FOR EACH ROW EXECUTE FUNCTION corr_dispatch_marking()",
        f"""CREATE FUNCTION corr_compartment_marking() {_FUNCTION} $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        {touch('= OLD.dispatch_id')}
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        {touch('= NEW.dispatch_id')}
    END IF;
    RETURN NULL;
END $$""",
        f"CREATE TRIGGER corr_compartment_marking AFTER INSERT OR UPDATE OR DELETE ON {_COMPARTMENTS} "
        "FOR EACH ROW EXECUTE FUNCTION corr_compartment_marking()",
    ]


def _triggers(vendor: str, tables: list[str]) -> dict[str, str]:
    """Trigger name -> its table, for the copying `tables`."""
    shared = {"corr_dispatch_marking": _DISPATCH, "corr_compartment_marking": _COMPARTMENTS}
    if vendor != "sqlite":
        return {**{COPIES[t][0]: t for t in tables}, **shared}
    names = {f"{COPIES[t][0]}_{when}": t for t in tables for when in ("insert", "update")}
    names.update({f"corr_dispatch_marking_{when}": _DISPATCH for when in ("insert", "update")})
    names.update({f"corr_compartment_marking_{when}": _COMPARTMENTS for when in ("insert", "delete", "update")})
    return names


# Every trigger of this module, by engine (name -> table).
TRIGGERS = {vendor: _triggers(vendor, list(COPIES)) for vendor in ("sqlite", "postgresql")}


def _drop(vendor: str) -> list[str]:
    every = TRIGGERS[vendor]
    if vendor == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {name}" for name in every]
    return [f"DROP TRIGGER IF EXISTS {name} ON {table}" for name, table in every.items()] + [
        f"DROP FUNCTION IF EXISTS {name}()" for name in every
    ]


def _connection(using: str | None) -> Any:
    if using is None:
        from chancery.correspondence.models import Routing

        using = router.db_for_write(Routing)
    return connections[using]


def _present(connection: Any) -> list[str]:
    """The copying tables that hold their copy columns in this database (in `COPIES` order)."""
    with connection.cursor() as cursor:
        names = set(connection.introspection.table_names(cursor))
        present = []
        for table, (_stem, columns) in COPIES.items():
            if table in names:
                have = {c.name for c in connection.introspection.get_table_description(cursor, table)}
                if set(columns) <= have:
                    present.append(table)
    return present


def install(*, using: str | None = None) -> None:
    """Create the triggers (a migration runs it; again after `uninstall`)."""
    connection = _connection(using)
    tables = _present(connection)
    if not tables:
        return
    statements = _sqlite_triggers(tables) if connection.vendor == "sqlite" else _postgresql_triggers(tables)
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def uninstall(*, using: str | None = None) -> None:
    connection = _connection(using)
    with connection.cursor() as cursor:
        for statement in _drop(connection.vendor):
            cursor.execute(statement)


def refill(*, using: str | None = None, tables: list[str] | None = None) -> int:
    """Recompute every copy from its dispatch (one UPDATE per table, of the rows that differ), of
    every copying table or of `tables`; returns how many rows it corrected."""
    connection = _connection(using)
    corrected = 0
    with connection.cursor() as cursor:
        for table in _present(connection):
            if tables is not None and table not in tables:
                continue
            differs = _differs(table, table, connection.vendor)
            cursor.execute(f"UPDATE {table} SET {_assign(table, table)} WHERE {differs}")
            corrected += max(int(cursor.rowcount), 0)
    return corrected


def drift(*, using: str | None = None) -> int:
    """How many rows' copies disagree with their dispatch (0 unless the triggers are missing)."""
    connection = _connection(using)
    drifted = 0
    with connection.cursor() as cursor:
        for table in _present(connection):
            cursor.execute(f"SELECT COUNT(*) FROM {table} WHERE {_differs(table, table, connection.vendor)}")
            drifted += int(cursor.fetchone()[0])
    return drifted


def missing_triggers(*, using: str | None = None) -> list[str]:
    """The copy-keeping triggers absent (or disabled) in the database; [] before the migrations
    that add the copies, or when all are there."""
    connection = _connection(using)
    tables = _present(connection)
    if not tables:
        return []
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        else:
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgenabled <> 'D'")
        present = {row[0] for row in cursor.fetchall()}
    return sorted(set(_triggers(connection.vendor, tables)) - present)


def ensure_installed(*, using: str | None = None) -> bool:
    """Re-create the triggers and recompute the copies if a trigger is missing: on SQLite a
    migration that rebuilds a copying, dispatch or compartment table drops that table's
    triggers with it (`post_migrate` runs this after every migration). True when it repaired."""
    if not missing_triggers(using=using):
        return False
    uninstall(using=using)
    install(using=using)
    refill(using=using)
    return True
