"""`chancery bench import`: bulk-import N generated letters into a fresh database.

Registered with the core `bench` command through `BENCHMARKS`. Generates N letters
(`imports.synthetic`), prepares a throw-away data dir (its own SQLite database, or an EMPTY
PostgreSQL database named by `--database-url`): migrate, demo organisation, an importing
agent; then runs `chancery import-letter FOLDER` in a child process, exactly as an operator
would. The figure is the import's own time (without process start-up). Writes
`bench/results/import.json` and `.md` (written by the core `bench` command).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

REPO_ROOT = Path(__file__).resolve().parents[2]
BENCH_USER = "bench.importer"


# --- bench import ----------------------------------------------------------------------------


def _bench_arguments(parser: Any) -> None:
    parser.add_argument("--count", type=int, default=10_000, help="number of letters (default 10000)")
    parser.add_argument("--seed", type=int, default=2026, help="random seed of the letters (default 2026)")
    parser.add_argument("--work-dir", help="where the letters and the throw-away data dir go (default: a temporary "
                        "folder, removed afterwards)")
    parser.add_argument("--database-url", help="an EMPTY PostgreSQL database to use instead of a fresh SQLite one")


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _child_env(data_dir: Path, database_url: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env["CHANCERY_DATA_DIR"] = str(data_dir)
    env.pop("DATABASE_URL", None)
    # Notification e-mails are composed but not handed to an SMTP server (none in the bench).
    env["CHANCERY_EMAIL_BACKEND"] = "django.core.mail.backends.dummy.EmailBackend"
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def _run(args: list[str], env: dict[str, str], *, capture: bool = True) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "chancery.cli", *args]
    result = subprocess.run(command, env=env, text=True, capture_output=capture, check=False)
    if result.returncode != 0 and args[0] != "import_letter":
        detail = (result.stderr or result.stdout or "").strip().splitlines()[-1:] if capture else []
        raise CommandError(f"`chancery {' '.join(args)}` failed: {' '.join(detail)}")
    return result


def setup_bench_agent() -> str:
    """In the bench's own database: a central-registry clerk cleared Confidentiel."""
    from chancery.accounts.roles import Role
    from chancery.accounts.services import create_user
    from chancery.core.classification import Level
    from chancery.organisation.models import Unit

    units = Unit.objects.unrestricted("bench set-up")
    user = create_user(
        actor=None, username=BENCH_USER, password=None, first_name="Bench", last_name="Importer",
        clearance_level=Level.CONFIDENTIAL, memberships=[(units.get(code="SG/BO"), Role.REGISTRY_CLERK)],
    )
    return user.username


def _machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_gb"] = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    try:
        import django

        info["django"] = django.get_version()
    except ImportError:  # pragma: no cover
        pass
    return info


def _git_commit() -> str | None:
    if shutil.which("git") is None:
        return None
    result = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"], text=True,
                            capture_output=True, check=False)
    return result.stdout.strip() or None


def _database(env: dict[str, str]) -> str:
    code = ("from django.db import connection; connection.ensure_connection(); "
            "print(connection.vendor, connection.Database.sqlite_version if connection.vendor == 'sqlite' "
            "else connection.cursor().connection.info.server_version)")
    result = _run(["shell", "--no-imports", "-c", code], env)
    return result.stdout.strip().splitlines()[-1]


def _bench(options: dict[str, Any], stdout: Any) -> dict[str, Any]:
    from chancery.imports.synthetic import write_letters

    count = options["count"]
    if count < 1:
        raise CommandError("--count must be at least 1")
    temporary = options["work_dir"] is None
    work = Path(options["work_dir"] or tempfile.mkdtemp(prefix="chancery-bench-import-"))
    letters, data_dir = work / "letters", work / "data"
    if data_dir.exists() and any(data_dir.iterdir()):
        raise CommandError(f"{data_dir} is not empty: the bench needs a fresh data dir")
    data_dir.mkdir(parents=True, exist_ok=True)
    env = _child_env(data_dir, options["database_url"])
    try:
        say(f"generating {count} letters (seed {options['seed']}) in {letters} …")
        started = time.monotonic()
        write_letters(count, letters, seed=options["seed"])
        generation = time.monotonic() - started
        say("preparing a fresh database (migrate, demo organisation) …")
        _run(["migrate", "--noinput", "-v0"], env)
        _run(["demo", "--organisation-only", "--seed", "7"], env)
        setup = "from chancery.imports.benchmarks import setup_bench_agent; print(setup_bench_agent())"
        agent = _run(["shell", "--no-imports", "-c", setup], env).stdout.strip().splitlines()[-1]
        database = _database(env)
        summary_path = work / "summary.json"
        import_args = ["import_letter", str(letters), "--as", agent, "--summary-json", str(summary_path)]
        say(f"importing: chancery {' '.join(import_args).replace('import_letter', 'import-letter')}")
        wall = time.monotonic()
        result = _run(import_args, env, capture=False)
        wall = time.monotonic() - wall
        if not summary_path.exists():
            raise CommandError(f"the import did not finish (exit {result.returncode})")
        summary = json.loads(summary_path.read_text())
    finally:
        if temporary:
            shutil.rmtree(work, ignore_errors=True)
    processed = summary["imported"] + summary["skipped"] + summary["failed"]
    record = {
        "benchmark": "bulk import of generated letters",
        "date": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "command": f"chancery bench import --count {count} --seed {options['seed']}"
        + (" --database-url " + shlex.quote(_redact(options["database_url"])) if options["database_url"] else ""),
        "import_command": f"chancery import-letter LETTERS_DIR --as {agent}",
        "letters": count,
        "seed": options["seed"],
        "letters_per_second": round(summary["imported"] / summary["elapsed_seconds"], 2)
        if summary["elapsed_seconds"] else None,
        "files_per_second": summary["files_per_second"],
        "import_seconds": summary["elapsed_seconds"],
        "wall_seconds_with_startup": round(wall, 2),
        "generation_seconds": round(generation, 2),
        "imported": summary["imported"],
        "draft_programmes": summary["programmes"],
        "skipped": summary["skipped"],
        "failed": summary["failed"],
        "failures": summary["failures"][:20],
        "processed": processed,
        "database": database,
        "machine": _machine(),
        "git_commit": _git_commit(),
        "notes": "Each letter: extraction, unit matching, one transaction registering the incoming dispatch "
        "(numbered, signed, routed, original file attached — encrypted when protected) and, for action plans, "
        "the draft programme (axes, objectives, indicators), plus the audit events and the notifications of the "
        "routed units (e-mails composed, not sent: dummy e-mail backend).",
        "agent": f"{agent}: a central-registry clerk cleared Confidentiel",
    }
    stdout.write(
        f"{summary['imported']} letters imported in {summary['elapsed_seconds']:.1f} s: "
        f"{record['letters_per_second']} letters/s ({summary['failed']} failed)"
    )
    return {**record, "markdown": _markdown(record)}


def _redact(url: str) -> str:
    """A database URL without its password."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    return f"{scheme}://{credentials.split(':', 1)[0]}@{host}"


def _markdown(record: dict[str, Any]) -> str:
    machine = record["machine"]
    return "\n".join([
        "# Bulk letter import — throughput",
        "",
        f"- **{record['letters_per_second']} letters per second** ({record['imported']} letters imported in "
        f"{record['import_seconds']} s; {record['draft_programmes']} draft programmes; {record['failed']} failed)",
        f"- Date: {record['date']}; commit: {record['git_commit'] or 'n/a'}",
        f"- Command: `{record['command']}` (runs `{record['import_command']}` in a fresh data dir)",
        f"- Database: {record['database']}",
        f"- Machine: {machine.get('cpu', '?')}, {machine.get('cpus')} CPU(s), {machine.get('memory_gb', '?')} GB, "
        f"{machine.get('platform')}, Python {machine.get('python')}, Django {machine.get('django')}",
        f"- Wall time including process start-up: {record['wall_seconds_with_startup']} s; letter generation "
        f"(not counted): {record['generation_seconds']} s",
        "",
        record["notes"],
        "",
        f"Importing agent: {record['agent']}.",
        "",
    ])


BENCHMARKS = {
    "import": (
        "bulk-import N generated letters into a fresh database (writes bench/results/import.json)",
        _bench_arguments,
        _bench,
    ),
}
