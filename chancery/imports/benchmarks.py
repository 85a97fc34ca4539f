"""`chancery bench import`: bulk-import N generated letters into a fresh database;
`chancery bench import-accuracy`: field-level precision and recall of the letter extraction.

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
import random
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


# --- bench import-accuracy ----------------------------------------------------------------------------

CORPORA = {
    "corpus": REPO_ROOT / "chancery/imports/tests/letters",  # issue #15: letters as they really come
    # written after the extractor was generalised and never used to tune it: the honest measure
    "held-out": REPO_ROOT / "chancery/imports/tests/letters/held-out",
    "samples": REPO_ROOT / "chancery/imports/tests/samples/letters",  # the earlier samples
}
ACCURACY_FIELDS = (
    "place", "date", "reference", "attribution", "information", "transmission", "classification", "cites",
    "subject", "attachments", "programme", "programme.year", "programme.axes", "programme.indicators",
)
TARGET_RIGHT = 0.98
# What the held-out letters first measured, before anything was changed in view of them (kept: a later run
# on letters the extractor has since been adjusted to is no longer a blind measure).
HELD_OUT_HISTORY = (
    "First measured at commit 4d59352 (2026-12-01): 167/168 fields right (99.4%), none invented; the miss was "
    "an amount in NZD (a currency code the extractor did not know). The list of currency codes was then widened "
    "to the ISO codes in capitals."
)


def _accuracy_arguments(parser: Any) -> None:
    parser.add_argument("--letters", action="append", metavar="DIR",
                        help="a folder of NAME.txt + NAME.expected.json (default: the corpus and the samples)")
    parser.add_argument("--variations", type=int, default=10, metavar="N",
                        help="also read N retyped variations of each corpus letter (default 10; 0: none)")
    parser.add_argument("--seed", type=int, default=2026, help="random seed of the variations (default 2026)")


def _fields_of(record: dict[str, Any] | None) -> dict[str, Any]:
    """The compared fields of a record; an empty list or a missing programme counts as absent (None)."""
    record = record or {}
    dispatch = record.get("dispatch") or {}
    programme = record.get("programme")
    values: dict[str, Any] = {name: dispatch.get(name) for name in ACCURACY_FIELDS if "." not in name}
    values["programme"] = True if programme is not None else None
    for name in ("year", "axes", "indicators"):
        values[f"programme.{name}"] = programme.get(name) if programme is not None else None
    if values["programme.indicators"] is not None:  # the same figures in any order
        indicators = values["programme.indicators"]
        values["programme.indicators"] = sorted(json.dumps(item, sort_keys=True) for item in indicators)
    return {name: (None if value in ([], "") else value) for name, value in values.items()}


def _tally() -> dict[str, int]:
    return {"right": 0, "wrong": 0, "missed": 0, "invented": 0, "absent": 0, "flagged_wrong": 0, "total": 0}


def _score(counts: dict[str, int]) -> dict[str, Any]:
    true_positive = counts["right"] - counts["absent"]
    extracted = true_positive + counts["wrong"] + counts["invented"]
    expected = true_positive + counts["wrong"] + counts["missed"]
    return {
        **counts,
        "precision": round(true_positive / extracted, 4) if extracted else None,
        "recall": round(true_positive / expected, 4) if expected else None,
        "right_share": round(counts["right"] / counts["total"], 4) if counts["total"] else None,
    }


def _accuracy(options: dict[str, Any], stdout: Any) -> dict[str, Any]:
    from chancery.imports.extraction import ExtractionError, extract_letter
    from chancery.imports.variations import RandomChoices, vary

    folders = {Path(folder).name: Path(folder) for folder in options.get("letters") or []} or CORPORA
    by_field: dict[str, dict[str, int]] = {}
    by_language: dict[str, dict[str, int]] = {}
    by_corpus: dict[str, dict[str, int]] = {}
    overall = _tally()
    mistakes: list[dict[str, Any]] = []
    letters = 0
    started = time.monotonic()
    rng = random.Random(options.get("seed", 2026))
    cases: list[tuple[str, Path, bytes]] = []
    for corpus, folder in folders.items():
        files = sorted(folder.glob("*.txt"))
        if not files:
            raise CommandError(f"no letters (NAME.txt with NAME.expected.json) in {folder}")
        cases += [(corpus, path, path.read_bytes()) for path in files]
        if corpus == "corpus":  # the same letters retyped: header reordered, labels recased, volets renumbered
            for _round in range(options.get("variations", 10) or 0):
                cases += [("variations", path, vary(path.read_text(encoding="utf-8"), RandomChoices(rng)).encode())
                          for path in files]
    for corpus, path, data in cases:
        wanted = json.loads(path.with_suffix(".expected.json").read_text(encoding="utf-8"))
        try:
            extraction = extract_letter(data, path.name)
            got, report = extraction.to_expected_dict(), extraction.field_report()
        except ExtractionError:
            got, report = None, {}
        got = json.loads(json.dumps(got, default=str))
        letters += corpus != "variations"
        language = path.name.split("-")[0]
        expected_values, got_values = _fields_of(wanted), _fields_of(got)
        for name in ACCURACY_FIELDS:
            want, have = expected_values[name], got_values[name]
            if want == have:
                outcome = "right"
            elif want is None:
                outcome = "invented"
            elif have is None:
                outcome = "missed"
            else:
                outcome = "wrong"
            flagged = bool(report.get(name, {}).get("check"))
            # the letters as written make the per-field and per-language tables; their variations a row apart
            tables = [by_corpus.setdefault(corpus, _tally())]
            if corpus != "variations":
                tables += [by_field.setdefault(name, _tally()), by_language.setdefault(language, _tally()), overall]
            for table in tables:
                table["total"] += 1
                table[outcome] += 1
                table["absent"] += outcome == "right" and want is None
                table["flagged_wrong"] += outcome != "right" and flagged
            if outcome != "right":
                mistakes.append({"letter": f"{corpus}/{path.name}", "field": name, "outcome": outcome,
                                 "expected": want, "got": have, "flagged_for_check": flagged})
    elapsed = time.monotonic() - started
    score = _score(overall)
    record = {
        "benchmark": "field-level accuracy of the letter extraction",
        "date": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "command": "chancery bench import-accuracy"
        + (f" --variations {options['variations']} --seed {options['seed']}" if options.get("variations") else ""),
        "letters": letters,
        "variations": sum(1 for corpus, _path, _data in cases if corpus == "variations"),
        "corpora": {name: str(folder.relative_to(REPO_ROOT) if folder.is_relative_to(REPO_ROOT) else folder)
                    for name, folder in folders.items()},
        "target_right_share": TARGET_RIGHT,
        "target_met": all(
            counts["right"] >= TARGET_RIGHT * counts["total"] and counts["invented"] == 0
            for counts in [overall, *by_corpus.values()]
        ),
        "overall": score,
        "by_field": {name: _score(counts) for name, counts in by_field.items()},
        "by_language": {name: _score(counts) for name, counts in sorted(by_language.items())},
        "by_corpus": {name: _score(counts) for name, counts in by_corpus.items()},
        "mistakes": mistakes,
        "seconds": round(elapsed, 2),
        "machine": _machine(),
        "git_commit": _git_commit(),
        "notes": "Each letter is extracted from its file (no database) and compared field by field with its "
        "hand-written expected record. right: equal (both absent counts as right); wrong: both present but "
        "different; missed: expected but not read; invented: read but absent from the letter. precision = correct "
        "readings / readings made; recall = correct readings / fields the letters give. Indicators compare as a "
        "set of (value, unit, year, role). flagged_wrong: mistaken fields the preview marks for checking.",
        "held_out_history": HELD_OUT_HISTORY,
    }
    stdout.write(
        f"{letters} letters, {score['total']} fields: {score['right_share']:.2%} right, "
        f"{score['invented']} invented, {score['missed']} missed, {score['wrong']} wrong ({elapsed:.1f} s)"
    )
    return {**record, "markdown": _accuracy_markdown(record)}


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _accuracy_markdown(record: dict[str, Any]) -> str:
    overall = record["overall"]
    lines = [
        "# Letter import — field-level accuracy",
        "",
        f"- **{_percent(overall['right_share'])} of fields right** over {record['letters']} letters "
        f"({overall['total']} fields); **{overall['invented']} field(s) invented**; precision "
        f"{_percent(overall['precision'])}, recall {_percent(overall['recall'])}. Target: ≥ "
        f"{record['target_right_share']:.0%} right and nothing invented — "
        f"{'met' if record['target_met'] else 'NOT met'} (on the letters as written and on each set, variations "
        "included).",
        f"- Date: {record['date']}; commit: {record['git_commit'] or 'n/a'}; command: `{record['command']}` "
        f"({record['seconds']} s)",
        f"- Letters: {', '.join(f'{name} = `{path}`' for name, path in record['corpora'].items())}; "
        f"variations: {record['variations']} retyped copies of the corpus letters (header lines reordered, labels "
        "in another case, spacing, punctuation and accents, volets numbered in another style), counted apart",
        "",
        "| | fields | right | precision | recall | wrong | missed | invented |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def row(label: str, score: dict[str, Any]) -> str:
        return (f"| {label} | {score['total']} | {_percent(score['right_share'])} | {_percent(score['precision'])} | "
                f"{_percent(score['recall'])} | {score['wrong']} | {score['missed']} | {score['invented']} |")

    lines += ["| **Per field** (letters as written) | | | | | | | |"]
    lines += [row(f"`{name}`", score) for name, score in record["by_field"].items()]
    lines += ["| **Per language** (letters as written) | | | | | | | |"]
    lines += [row(name, score) for name, score in record["by_language"].items()]
    lines += ["| **Per set of letters** | | | | | | | |"]
    lines += [row(name, score) for name, score in record["by_corpus"].items()]
    lines += [row("**All letters as written**", overall), ""]
    if record["mistakes"]:
        lines += ["## Fields not right", ""]
        lines += [f"- `{m['letter']}` {m['field']}: {m['outcome']} (expected {m['expected']!r}, got {m['got']!r})"
                  f"{' — flagged for checking' if m['flagged_for_check'] else ''}" for m in record["mistakes"]]
        lines.append("")
    lines += [record["notes"], "", f"Held-out letters: {record['held_out_history']}", ""]
    return "\n".join(lines)


BENCHMARKS = {
    "import": (
        "bulk-import N generated letters into a fresh database (writes bench/results/import.json)",
        _bench_arguments,
        _bench,
    ),
    "import-accuracy": (
        "field-level precision and recall of the letter extraction over the letter corpus and the samples "
        "(writes bench/results/import-accuracy.json)",
        _accuracy_arguments,
        _accuracy,
    ),
}
