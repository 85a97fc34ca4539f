"""The short crash test: the real server SIGKILLed repeatedly under concurrent writers.

Clients send dispatches (with attachments) and update actions through the API while the whole
server process group is killed; after the last restart, every acknowledged write must be
there, the database intact, the numbering gap-free, the file store exact and the audit chain
valid. The long form is `chancery bench crash` (100 kills).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from chancery.backup.stress import crash_test

# each test names its engine (its own data dir or a fresh PostgreSQL database): once per `make test`
pytestmark = pytest.mark.engine_independent

PORT = int(os.environ.get("CHANCERY_CRASH_TEST_PORT", "8147"))


def _postgres_url() -> str | None:
    for name in ("DATABASE_URL", "CHANCERY_TEST_POSTGRES_URL"):
        url = os.environ.get(name, "")
        if url.startswith(("postgres://", "postgresql://")):
            return url
    return None


@pytest.fixture
def fresh_postgres() -> object:
    import psycopg

    base = _postgres_url()
    if base is None:
        pytest.skip("no PostgreSQL server for the crash test: set CHANCERY_TEST_POSTGRES_URL")
    server, _slash, name = base.rpartition("/")
    database = f"{name.split('?')[0]}_crash_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    yield f"{server}/{database}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _assert_survived(findings: dict) -> None:
    assert findings["problems"] == [], findings
    assert findings["lost"] == 0
    assert findings["acknowledged_dispatches"] > 0 and findings["acknowledged_action_updates"] > 0
    assert findings["client_errors"].get("connection", 0) > 0  # the kills did land mid-traffic
    assert not any(key.startswith("http_5") for key in findings["client_errors"]), findings["client_errors"]


def test_sigkill_under_writes_loses_nothing_on_sqlite(tmp_path: Path):
    _assert_survived(crash_test(work=tmp_path, database_url=None, port=PORT, kills=3))


def test_sigkill_under_writes_loses_nothing_on_postgresql(tmp_path: Path, fresh_postgres: str):
    _assert_survived(crash_test(work=tmp_path, database_url=fresh_postgres, port=PORT + 1, kills=3))
