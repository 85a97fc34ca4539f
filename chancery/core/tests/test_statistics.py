"""The planner's statistics are kept current, so the lists start from the unit indexes.

A never-analysed SQLite database makes the inbox start from the `(status, classification)`
index of dispatches, which covers nearly the whole table; with statistics it starts from the
routings of the reader's units. `chancery generate` (and `chancery demo`, `migrate`) analyse.
"""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from chancery.correspondence import selectors
from chancery.correspondence.models import Dispatch

COUNT = 3000
# The routings of the reader's units, found through an index on the unit.
STARTS_FROM_UNIT = re.compile(r"SEARCH correspondence_routing USING (COVERING )?INDEX \S+ \(unit_id=")


def _analysed_rows(table: str) -> int:
    """Rows of `table` as the planner's statistics know them (0: never analysed)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
            if not cursor.fetchone()[0]:
                return 0
            cursor.execute("SELECT stat FROM sqlite_stat1 WHERE tbl = %s AND idx IS NOT NULL", [table])
            row = cursor.fetchone()
            return int(row[0].split()[0]) if row else 0
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [table])
        return max(int(cursor.fetchone()[0]), 0)


def _forget_statistics() -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("DROP TABLE IF EXISTS sqlite_stat1")


def test_generate_analyses_and_the_inbox_starts_from_the_unit_index(ministry: Any) -> None:
    table = Dispatch._meta.db_table
    _forget_statistics()
    call_command(
        "generate", "dispatches", "--count", str(COUNT), "--seed", "3", "--no-programmes", "--no-reindex",
        stdout=io.StringIO(),
    )
    generated = Dispatch.objects.unrestricted("test check").count()
    assert generated >= COUNT * 0.9
    # The statistics know the table's size as generated (exactly: a full ANALYZE).
    assert _analysed_rows(table) >= COUNT * 0.9

    counsellor = ministry.users["counsellor.dakar"]
    if connection.vendor == "sqlite":
        inbox_plan = selectors.inbox(counsellor).explain()
        assert STARTS_FROM_UNIT.search(inbox_plan), inbox_plan
        sent_plan = selectors.outbox(counsellor).explain()
        assert re.search(r"SEARCH correspondence_dispatch USING (COVERING )?INDEX \S+ \(sending_unit_id=", sent_plan), (
            sent_plan
        )
        for plan in (inbox_plan, sent_plan):
            assert "corr_dispatch_status_cls" not in plan, plan
    else:
        assert "corr_dispatch_status_cls" not in selectors.inbox(counsellor).explain()


def test_migrate_analyses(ministry: Any) -> None:
    """`migrate` ends with an ANALYZE (the post_migrate receiver), so even a fresh database has
    statistics; here run on the test database after the statistics were dropped."""
    _forget_statistics()
    call_command("migrate", verbosity=0)
    assert _analysed_rows("organisation_unit") >= len(ministry.units)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="PRAGMA optimize is SQLite's; PostgreSQL autoanalyses")
def test_a_request_leaves_the_statistics_current(fresh_ministry: Any) -> None:
    """After a page is served, `PRAGMA optimize` (the outermost middleware) analyses the tables
    the request read whose statistics are missing."""
    from django.test.utils import CaptureQueriesContext

    from chancery.core.middleware import SqliteStatisticsMiddleware
    from conftest import sign_in

    def optimizes() -> bool:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/correspondence/sent/").status_code == 200
        return any(q["sql"] == "PRAGMA optimize" for q in ctx.captured_queries)

    _forget_statistics()
    assert _analysed_rows("accounts_membership") == 0
    client = sign_in(Client(), fresh_ministry.users["desk.dab1"])
    if hasattr(connection, "chancery_optimized"):
        del connection.chancery_optimized  # another test's request on this connection
    assert optimizes()
    # Memberships are read through their user index on every page.
    assert _analysed_rows("accounts_membership") > 0
    # Then once a minute per connection, not after every request.
    assert not optimizes()
    raw, at = connection.chancery_optimized  # type: ignore[attr-defined]
    connection.chancery_optimized = (raw, at - SqliteStatisticsMiddleware.OPTIMIZE_EVERY_SECONDS)  # type: ignore[attr-defined]
    assert optimizes()


@pytest.mark.django_db
def test_postgresql_sessions_plan_page_queries_without_parallel_workers_or_jit() -> None:
    """Parallel workers, JIT compilation and a join order searched over eight relations cost more
    than a page's queries (settings: `CHANCERY_PG_PARALLEL_WORKERS`, `CHANCERY_PG_JIT`,
    `CHANCERY_PG_JOIN_COLLAPSE_LIMIT`); the session has them off, or at 6."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL session settings: run by the PostgreSQL part of make test")
    values = []
    with connection.cursor() as cursor:
        for name in ("max_parallel_workers_per_gather", "jit", "join_collapse_limit"):
            cursor.execute(f"SHOW {name}")
            values.append(cursor.fetchone()[0])
    assert values == ["0", "off", "6"]



def _prepared_statements() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.django_db
def test_postgresql_reads_are_prepared_with_generic_plans_but_not_filtered_ones() -> None:
    """`chancery.core.pg_backend`: a read is prepared on the server at its first run and planned once
    (generic plans), except in `planned_with_values()` (lists filtered by their reader, whose dates
    or levels decide the plan: bench/results/filters-1m.md); writes are sent as Django sends them."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL session settings: run by the PostgreSQL part of make test")
    from chancery.accounts.models import User
    from chancery.core.db import planned_with_values

    users = User.objects.unrestricted("statements of this test")
    with connection.cursor() as cursor:
        cursor.execute("SHOW plan_cache_mode")
        assert cursor.fetchone()[0] == "force_generic_plan"
    before = _prepared_statements()
    with planned_with_values():
        assert list(users.filter(username="filtered-by-hand").values_list("pk")) == []
    assert not any("filtered-by-hand" in s or '"username" = $1' in s for s in _prepared_statements() - before)
    assert list(users.filter(username="nobody").values_list("pk")) == []
    new = _prepared_statements() - before
    assert len(new) == 1 and '"username" = $1' in new.pop()  # its value bound apart, not in the text
    users.filter(username="nobody").update(first_name="Nobody")
    assert not any(s.lstrip().upper().startswith("UPDATE") for s in _prepared_statements())
    # The same read again reuses its statement; a query log still shows the value it ran with.
    with CaptureQueriesContext(connection) as queries:
        list(users.filter(username="nobody").values_list("pk"))
    assert len(_prepared_statements() - before) == 1 and "'nobody'" in queries.captured_queries[0]["sql"]
