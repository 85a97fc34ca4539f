"""Each routing's copy of its dispatch's marking and release: `dispatch_level` (the
classification), `dispatch_has_compartments` and `dispatch_released` (sent or closed).

Why: the inbox and its counters walk a unit's routings in index order; checking each one
against its dispatch (the level, the status, the compartment rows) cost one probe of the
dispatch table and one of the compartment table per routing, up to a thousand per counter:
20-30 ms of a desk officer's inbox at a million dispatches. With the copies in the routing
indexes the counters read the index alone (24 ms -> 1 ms on SQLite).

The copies are kept by the database itself, whatever writes (the ORM, a bulk insert, raw SQL,
a restore), in the writing statement's transaction:

- a routing inserted, or updated in its dispatch or in a copy (a full save of a stale instance
  writes stale copies back), takes them from its dispatch;
- a dispatch inserted, or changed in classification or status, refreshes its routings;
- a compartment added to or removed from a dispatch refreshes its routings.

A copy never shows more than its dispatch allows: the columns default to the most closed values
(level 32767, compartmented, not released) and a routing whose dispatch is not there yet keeps
them. `drift()` counts routings whose copies disagree with their dispatch (0, always: tests and
`chancery reindex --access --check`); `refill()` recomputes every copy.
"""

# ruff: noqa: S608  (every statement here is built from this module's constants, never from input)
from __future__ import annotations

from typing import Any

from django.db import connections, router

# The most closed values: above every clearance, compartmented, not released.
CLOSED_LEVEL = 32767

_ROUTING = "correspondence_routing"
_DISPATCH = "correspondence_dispatch"
_COMPARTMENTS = "correspondence_dispatch_compartments"


def _truth(routing: str) -> dict[str, str]:
    """SQL expressions of the three copies for the routing row `routing` (an alias or NEW)."""
    return {
        "dispatch_level": f"COALESCE((SELECT d.classification FROM {_DISPATCH} d "
        f"WHERE d.id = {routing}.dispatch_id), {CLOSED_LEVEL})",
        "dispatch_has_compartments": f"EXISTS (SELECT 1 FROM {_COMPARTMENTS} c "
        f"WHERE c.dispatch_id = {routing}.dispatch_id)",
        "dispatch_released": f"COALESCE((SELECT d.status IN ('sent', 'closed') FROM {_DISPATCH} d "
        f"WHERE d.id = {routing}.dispatch_id), FALSE)",
    }


def _assign(routing: str) -> str:
    return ", ".join(f"{column} = {expression}" for column, expression in _truth(routing).items())


def _differs(routing: str, vendor: str) -> str:
    distinct = "IS NOT" if vendor == "sqlite" else "IS DISTINCT FROM"
    return " OR ".join(
        f"{routing}.{column} {distinct} ({expression})" for column, expression in _truth(routing).items()
    )


def _sqlite_triggers() -> list[str]:
    # SQLite's triggers cannot change NEW: the routing triggers update the row just written.
    # A trigger's own UPDATE does not fire it again (recursive triggers are off; the WHEN
    # clause stops it should they be turned on); the dispatch and compartment triggers touch
    # the routings' copies, which fires the routing trigger that recomputes them.
    differs = _differs("NEW", "sqlite")
    refresh = f"UPDATE {_ROUTING} SET {_assign(_ROUTING)}"
    return [
        f"CREATE TRIGGER corr_routing_marking_insert AFTER INSERT ON {_ROUTING} "
        f"BEGIN UPDATE {_ROUTING} SET {_assign('NEW')} WHERE id = NEW.id; END",
        f"CREATE TRIGGER corr_routing_marking_update AFTER UPDATE OF dispatch_id, dispatch_level, "
        f"dispatch_has_compartments, dispatch_released ON {_ROUTING} WHEN {differs} "
        f"BEGIN UPDATE {_ROUTING} SET {_assign('NEW')} WHERE id = NEW.id; END",
        f"CREATE TRIGGER corr_dispatch_marking_insert AFTER INSERT ON {_DISPATCH} "
        f"BEGIN {refresh} WHERE dispatch_id = NEW.id; END",
        f"CREATE TRIGGER corr_dispatch_marking_update AFTER UPDATE OF id, classification, status ON {_DISPATCH} "
        "WHEN OLD.id IS NOT NEW.id OR OLD.classification IS NOT NEW.classification OR OLD.status IS NOT NEW.status "
        f"BEGIN {refresh} WHERE dispatch_id IN (OLD.id, NEW.id); END",
        f"CREATE TRIGGER corr_compartment_marking_insert AFTER INSERT ON {_COMPARTMENTS} "
        f"BEGIN {refresh} WHERE dispatch_id = NEW.dispatch_id; END",
        f"CREATE TRIGGER corr_compartment_marking_delete AFTER DELETE ON {_COMPARTMENTS} "
        f"BEGIN {refresh} WHERE dispatch_id = OLD.dispatch_id; END",
        f"CREATE TRIGGER corr_compartment_marking_update AFTER UPDATE OF dispatch_id ON {_COMPARTMENTS} "
        f"BEGIN {refresh} WHERE dispatch_id IN (OLD.dispatch_id, NEW.dispatch_id); END",
    ]


# PL/pgSQL keeps a session's plan of each statement of a function once it has run it a few
# times: planned while the tables were nearly empty (a bulk load into a new site) that plan
# scans the whole table for every row written, to the end of the session (a million-dispatch
# generation slowed from hundreds of rows a second to tens). Planned afresh at each call, the
# lookups by dispatch use their indexes at any size.
_FUNCTION = "RETURNS trigger LANGUAGE plpgsql SET plan_cache_mode = force_custom_plan AS"


def _postgresql_triggers() -> list[str]:
    # A BEFORE trigger sets the copies of every routing row written; the other tables' AFTER
    # triggers rewrite their routings' copies, which passes each row through it.
    truth = _truth("NEW")
    touch = f"UPDATE {_ROUTING} SET dispatch_level = dispatch_level"
    return [
        f"""CREATE FUNCTION corr_routing_marking() {_FUNCTION} $$
BEGIN
    NEW.dispatch_level := {truth['dispatch_level']};
    NEW.dispatch_has_compartments := {truth['dispatch_has_compartments']};
    NEW.dispatch_released := {truth['dispatch_released']};
    RETURN NEW;
END $$""",
        f"CREATE TRIGGER corr_routing_marking BEFORE INSERT OR UPDATE ON {_ROUTING} "
        "FOR EACH ROW EXECUTE FUNCTION corr_routing_marking()",
        f"""CREATE FUNCTION corr_dispatch_marking() {_FUNCTION} $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {touch} WHERE dispatch_id = NEW.id;
    ELSIF NEW.classification IS DISTINCT FROM OLD.classification OR NEW.status IS DISTINCT FROM OLD.status
          OR NEW.id IS DISTINCT FROM OLD.id THEN
        {touch} WHERE dispatch_id IN (OLD.id, NEW.id);
    END IF;
    RETURN NULL;
END $$""",
        f"CREATE TRIGGER corr_dispatch_marking AFTER INSERT OR UPDATE ON {_DISPATCH} "
        "FOR EACH ROW EXECUTE FUNCTION corr_dispatch_marking()",
        f"""CREATE FUNCTION corr_compartment_marking() {_FUNCTION} $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        {touch} WHERE dispatch_id = OLD.dispatch_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        {touch} WHERE dispatch_id = NEW.dispatch_id;
    END IF;
    RETURN NULL;
END $$""",
        f"CREATE TRIGGER corr_compartment_marking AFTER INSERT OR UPDATE OR DELETE ON {_COMPARTMENTS} "
        "FOR EACH ROW EXECUTE FUNCTION corr_compartment_marking()",
    ]


TRIGGERS = {
    "sqlite": {
        "corr_routing_marking_insert": _ROUTING,
        "corr_routing_marking_update": _ROUTING,
        "corr_dispatch_marking_insert": _DISPATCH,
        "corr_dispatch_marking_update": _DISPATCH,
        "corr_compartment_marking_insert": _COMPARTMENTS,
        "corr_compartment_marking_delete": _COMPARTMENTS,
        "corr_compartment_marking_update": _COMPARTMENTS,
    },
    "postgresql": {
        "corr_routing_marking": _ROUTING,
        "corr_dispatch_marking": _DISPATCH,
        "corr_compartment_marking": _COMPARTMENTS,
    },
}


def _drop(vendor: str) -> list[str]:
    if vendor == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {name}" for name in TRIGGERS[vendor]]
    return [f"DROP TRIGGER IF EXISTS {name} ON {table}" for name, table in TRIGGERS[vendor].items()] + [
        f"DROP FUNCTION IF EXISTS {name}()" for name in TRIGGERS[vendor]
    ]


def _connection(using: str | None) -> Any:
    if using is None:
        from chancery.correspondence.models import Routing

        using = router.db_for_write(Routing)
    return connections[using]


def install(*, using: str | None = None) -> None:
    """Create the triggers (a migration runs it; again after `uninstall`)."""
    connection = _connection(using)
    statements = _sqlite_triggers() if connection.vendor == "sqlite" else _postgresql_triggers()
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def uninstall(*, using: str | None = None) -> None:
    connection = _connection(using)
    with connection.cursor() as cursor:
        for statement in _drop(connection.vendor):
            cursor.execute(statement)


def refill(*, using: str | None = None) -> int:
    """Recompute every routing's copies from its dispatch (one UPDATE of the rows that differ);
    returns how many rows it corrected."""
    connection = _connection(using)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {_ROUTING} SET {_assign(_ROUTING)} WHERE {_differs(_ROUTING, connection.vendor)}")
        return max(int(cursor.rowcount), 0)


def drift(*, using: str | None = None) -> int:
    """How many routings' copies disagree with their dispatch (0 unless the triggers are missing)."""
    connection = _connection(using)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {_ROUTING} WHERE {_differs(_ROUTING, connection.vendor)}")
        return int(cursor.fetchone()[0])


def missing_triggers(*, using: str | None = None) -> list[str]:
    """The copy-keeping triggers absent (or disabled) in the database; [] before the migration
    that adds the copies, or when all are there."""
    connection = _connection(using)
    with connection.cursor() as cursor:
        columns = {c.name for c in connection.introspection.get_table_description(cursor, _ROUTING)} if (
            _ROUTING in connection.introspection.table_names(cursor)
        ) else set()
        if "dispatch_level" not in columns:
            return []
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        else:
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgenabled <> 'D'")
        present = {row[0] for row in cursor.fetchall()}
    return sorted(set(TRIGGERS[connection.vendor]) - present)


def ensure_installed(*, using: str | None = None) -> bool:
    """Re-create the triggers and recompute the copies if a trigger is missing: on SQLite a
    migration that rebuilds the routing, dispatch or compartment table drops that table's
    triggers with it (`post_migrate` runs this after every migration). True when it repaired."""
    if not missing_triggers(using=using):
        return False
    uninstall(using=using)
    install(using=using)
    refill(using=using)
    return True
