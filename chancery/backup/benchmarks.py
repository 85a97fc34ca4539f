"""`chancery bench crash` and `chancery bench load`: the real server, killed or loaded, on both engines.

Both start their own site (a fresh data dir, and a fresh PostgreSQL database beside the one
`--postgres-url` names, dropped afterwards), serve on loopback only, and stop by themselves.
"""

from __future__ import annotations

import os
import signal
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from chancery.backup import stress


def _postgres_default() -> str | None:
    for name in ("CHANCERY_BENCH_POSTGRES_URL", "DATABASE_URL", "CHANCERY_TEST_POSTGRES_URL"):
        url = os.environ.get(name, "")
        if url.startswith(("postgres://", "postgresql://")):
            return url
    return None


def _stop_on_sigterm() -> None:
    """SIGTERM (e.g. `timeout`) unwinds like Ctrl-C, so the server under test is stopped too."""

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


@contextmanager
def _database(engine: str, postgres_url: str | None) -> Iterator[str | None]:
    if engine == "sqlite":
        yield None
        return
    if not postgres_url:
        raise RuntimeError("--postgres-url (or DATABASE_URL) is needed for the PostgreSQL run")
    import psycopg

    server, _slash, name = postgres_url.rpartition("/")
    database = f"{name.split('?')[0]}_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    try:
        yield f"{server}/{database}"
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _common(parser: Any, port: int) -> None:
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--postgres-url", default=_postgres_default(),
                        help="a PostgreSQL server (a fresh database is created beside the one named)")
    parser.add_argument("--port", type=int, default=port, help="loopback port of the server under test")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")


def _engines(options: dict[str, Any]) -> list[str]:
    return ["sqlite", "postgresql"] if options["engine"] == "both" else [options["engine"]]


def _say(stdout: Any) -> Callable[[str], None]:
    def write(line: str) -> None:
        stdout.write(line)
        stdout.flush()

    return write


# --- crash --------------------------------------------------------------------------------


def _crash_arguments(parser: Any) -> None:
    _common(parser, 8145)
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--senders", type=int, default=3)
    parser.add_argument("--updaters", type=int, default=2)
    parser.add_argument("--min-run", type=float, default=0.5, help="least seconds of traffic before a kill")
    parser.add_argument("--max-run", type=float, default=2.0, help="most seconds of traffic before a kill")


def _run_crash(options: dict[str, Any], stdout: Any) -> dict[str, Any]:
    _stop_on_sigterm()
    runs = []
    for engine in _engines(options):
        with tempfile.TemporaryDirectory(prefix="chancery-crash-") as work, \
                _database(engine, options["postgres_url"]) as url:
            stdout.write(f"== {engine}: {options['kills']} kills")
            runs.append(stress.crash_test(
                work=Path(work), database_url=url, port=options["port"], kills=options["kills"],
                senders=options["senders"], updaters=options["updaters"], workers=options["workers"],
                run_seconds=(options["min_run"], max(options["min_run"], options["max_run"])), progress=_say(stdout),
            ))
    lines = ["# Crash test (`chancery bench crash`)", "",
             "The real server (gunicorn, all workers) SIGKILLed while clients send dispatches (half with an",
             "attachment) and update actions through the API; restarted each time; then checked.", "",
             "| engine | kills | dispatches acknowledged | action updates acknowledged | writes lost | problems | "
             "files swept | audit events | time (s) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for run in runs:
        lines.append(f"| {run['engine']} | {run['kills']} | {run['acknowledged_dispatches']} | "
                     f"{run['acknowledged_action_updates']} | {run['lost']} | {len(run['problems'])} | "
                     f"{run['swept_files']} | {run['audit_events']} | {run['seconds']} |")
    return {"runs": runs, "markdown": "\n".join(lines) + "\n"}


# --- load ---------------------------------------------------------------------------------


def _load_arguments(parser: Any) -> None:
    _common(parser, 8146)
    parser.add_argument("--agents", default="1,8,32", help="concurrency levels, comma-separated")
    parser.add_argument("--seconds", type=float, default=30.0, help="duration of each level")


def _run_load(options: dict[str, Any], stdout: Any) -> dict[str, Any]:
    agents = [int(a) for a in str(options["agents"]).split(",") if a.strip()]
    if not agents or min(agents) < 1 or max(agents) > 64:
        raise ValueError("--agents: between 1 and 64 each")
    if not 1 <= options["seconds"] <= 300:
        raise ValueError("--seconds: between 1 and 300")
    _stop_on_sigterm()
    runs = []
    for engine in _engines(options):
        with tempfile.TemporaryDirectory(prefix="chancery-load-") as work, \
                _database(engine, options["postgres_url"]) as url:
            stdout.write(f"== {engine}: {agents} agents, {options['seconds']} s each")
            runs.append(stress.load_test(work=Path(work), database_url=url, port=options["port"], agents=agents,
                                         seconds=options["seconds"], workers=options["workers"],
                                         progress=_say(stdout)))
    lines = ["# Load (`chancery bench load`)", "",
             "Simulated agents on loopback, each in a loop: inbox 30 %, list + open a dispatch 30 %, search 10 % "
             "(when the API has it), update an action 15 %, create and send a dispatch 15 %.", "",
             "| engine | agents | req/s | p50 ms | p95 ms | p99 ms | errors |", "|---|---|---|---|---|---|---|"]
    for run in runs:
        for level in run["levels"]:
            lines.append(f"| {run['engine']} | {level['agents']} | {level['throughput_rps']} | {level['p50_ms']} | "
                         f"{level['p95_ms']} | {level['p99_ms']} | {sum(level['errors'].values())} |")
    lines += ["", "Records created against records acknowledged:", ""]
    for run in runs:
        r = run["records"]
        lines.append(f"- {run['engine']}: {r['dispatches_acknowledged']} dispatches acknowledged as sent, "
                     f"{r['dispatches_sent_in_database']} sent in the database ({r['acknowledged_present']} of the "
                     f"acknowledged ones present); {r['action_updates_acknowledged']} action updates acknowledged, "
                     f"{r['action_updates_in_database']} in the database.")
    return {"runs": runs, "markdown": "\n".join(lines) + "\n"}


BENCHMARKS = {
    "crash": ("SIGKILL the real server repeatedly under writers; check nothing acknowledged is lost",
              _crash_arguments, _run_crash),
    "load": ("a mixed workload of simulated agents at several concurrencies on a real server",
             _load_arguments, _run_load),
}


def _suite() -> dict[str, Any]:
    from chancery.backup.suite import BENCHMARKS as SUITE

    return SUITE


BENCHMARKS.update(_suite())
