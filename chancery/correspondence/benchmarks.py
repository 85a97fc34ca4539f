"""`chancery bench pages`: the inbox and sent lists at scale, before and after the statistics.

Builds a throw-away SQLite ministry (`chancery generate dispatches`), then measures each page
twice in a child process: once with the planner's statistics removed and `PRAGMA optimize`
switched off (the state of every database before issue 10), once after `ANALYZE`. Each page is
measured beside the floor (the login page GET) in the same run, so the ratio holds on a busy
machine. Requests go through Django's full stack (middleware, views, templates) with the test
client in one process, not through an HTTP server: one client, no concurrency.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.core.management.base import CommandError

if TYPE_CHECKING:
    from chancery.accounts.models import User

# (label, username or None for anonymous, url)
FLOOR = ("login page (floor)", None, "/accounts/login/")
PAGES = [
    ("inbox, mission counsellor", "counsellor.dakar", "/correspondence/"),
    ("sent, mission counsellor", "counsellor.dakar", "/correspondence/sent/"),
    ("inbox, desk officer", "desk.dab1", "/correspondence/"),
    ("sent, desk officer", "desk.dab1", "/correspondence/sent/"),
    ("home, desk officer", "desk.dab1", "/"),
]


def _arguments(parser: Any) -> None:
    parser.add_argument("--dispatches", type=int, default=50_000, help="dispatches to generate (default 50000)")
    parser.add_argument("--requests", type=int, default=15, help="timed requests per page and state (default 15)")
    parser.add_argument("--work-dir", help="throw-away data dir (default: a temporary folder, removed afterwards)")
    parser.add_argument("--measure", choices=["before", "after"], help=None)  # internal: the child's part
    parser.add_argument("--out", help=None)  # internal: where the child writes its figures


def _signed_in(username: str) -> Any:
    from django.test import Client

    from chancery.accounts.middleware import SESSION_SECOND_FACTOR, SESSION_SEEN, SESSION_STARTED
    from chancery.accounts.models import User

    client = Client()
    client.force_login(
        User.objects.unrestricted("benchmark sign-in").get(username=username),
        backend="chancery.accounts.backends.ChanceryBackend",
    )
    session = client.session
    now = int(time.time())
    session.update({SESSION_SECOND_FACTOR: True, SESSION_STARTED: now, SESSION_SEEN: now})
    session.save()
    return client


def _timings(client: Any, url: str, count: int) -> list[float]:
    for _ in range(2):  # warm-up: templates, caches
        assert client.get(url).status_code == 200, url
    result = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(url)
        result.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise CommandError(f"{url} answered {response.status_code}")
    return result


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 1),
    }


def _measure(state: str, count: int) -> dict[str, Any]:
    """In the child: every page and its floor, with or without statistics."""
    from django.conf import settings
    from django.db import connection
    from django.test import Client, override_settings

    with connection.cursor() as cursor:
        if state == "before":
            cursor.execute("DROP TABLE IF EXISTS sqlite_stat1")
        else:
            cursor.execute("ANALYZE")
    middleware = [m for m in settings.MIDDLEWARE if state == "after" or not m.endswith("SqliteStatisticsMiddleware")]
    # Static files unhashed: the throw-away data dir has no collected manifest.
    plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    storages = {**settings.STORAGES, "staticfiles": plain}
    figures = {}
    with override_settings(MIDDLEWARE=middleware, STORAGES=storages):
        anonymous = Client()
        for label, username, url in PAGES:
            floor = _summary(_timings(anonymous, FLOOR[2], count))
            page = _summary(_timings(_signed_in(str(username)), url, count))
            ratio = round(page["p50_ms"] / floor["p50_ms"], 1)
            figures[label] = {**page, "floor_p50_ms": floor["p50_ms"], "ratio_p50": ratio}
    return figures


def _markdown(record: dict[str, Any]) -> str:
    lines = [
        f"# Pages at {record['dispatches']:,} generated dispatches (SQLite), before/after statistics",
        "",
        record["notes"],
        "",
        "| page | before p50 | before p95 | after p50 | after p95 | after / floor (p50) | floor p50 |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, _user, _url in PAGES:
        b, a = record["before"][label], record["after"][label]
        lines.append(
            f"| {label} | {b['p50_ms']} ms | {b['p95_ms']} ms | {a['p50_ms']} ms | {a['p95_ms']} ms | "
            f"{a['ratio_p50']}× | {a['floor_p50_ms']} ms |"
        )
    lines += ["", f"Generation: {record['generate_seconds']} s. Command: `{record['command']}`.", ""]
    return "\n".join(lines)


def _run_pages(options: dict[str, Any], stdout: Any) -> dict[str, Any]:
    if options.get("measure"):
        figures = _measure(options["measure"], int(options["requests"]))
        Path(options["out"]).write_text(json.dumps(figures), encoding="utf-8")
        return {"child": True}
    from chancery.imports.benchmarks import _child_env, _run, say

    if options["dispatches"] < 100 or options["requests"] < 3:
        raise CommandError("--dispatches must be at least 100 and --requests at least 3")
    with tempfile.TemporaryDirectory(prefix="chancery-bench-pages-", dir=options.get("work_dir")) as work:
        data_dir = Path(work) / "data"
        data_dir.mkdir()
        env = _child_env(data_dir, None)
        env["CHANCERY_BENCH_RESULTS"] = str(Path(work) / "child-results")
        say("migrate, organisation …")
        _run(["migrate", "--verbosity", "0"], env)
        _run(["demo", "--organisation-only"], env)
        say(f"generating {options['dispatches']} dispatches …")
        started = time.perf_counter()
        _run(["generate", "dispatches", "--count", str(options["dispatches"])], env)
        generate_seconds = round(time.perf_counter() - started, 1)
        record: dict[str, Any] = {"dispatches": options["dispatches"], "generate_seconds": generate_seconds}
        for state in ("before", "after"):
            say(f"measuring {state} …")
            out = Path(work) / f"{state}.json"
            _run(["bench", "pages", "--measure", state, "--out", str(out), "--requests", str(options["requests"])], env)
            record[state] = json.loads(out.read_text(encoding="utf-8"))
    record["notes"] = (
        "SQLite, one process, Django test client (full middleware/view/template stack, no HTTP server), one "
        f"client, {options['requests']} timed requests per page after 2 warm-ups. 'before': sqlite_stat1 dropped "
        "and PRAGMA optimize off (a never-analysed database); 'after': ANALYZE. The floor (login page GET) is "
        "measured just before each page. The machine (2 cores) was shared with six other engineers' test runs "
        "while this ran: absolute figures are noisy, compare ratios."
    )
    record["markdown"] = _markdown({**record, "command": "chancery bench pages " + (
        f"--dispatches {options['dispatches']} --requests {options['requests']}")})
    return record


BENCHMARKS = {
    "pages": (
        "inbox, sent and home at N generated dispatches, before/after the planner's statistics "
        "(writes bench/results/pages.json and .md)",
        _arguments,
        _run_pages,
    ),
}


# --- `chancery bench pages-scale`: every list and the detail page on an existing generated ministry ---

# (label, username, url or a function of the database giving it, API call?)
SCALE_PAGES: list[tuple[str, str, Any, bool]] = [
    ("inbox, mission counsellor", "counsellor.dakar", "/correspondence/", False),
    ("sent, mission counsellor", "counsellor.dakar", "/correspondence/sent/", False),
    ("sent, desk officer", "desk.dab1", "/correspondence/sent/", False),
    ("drafts, desk officer", "desk.dab1", "/correspondence/drafts/", False),
    ("inbox, desk officer", "desk.dab1", "/correspondence/", False),
    ("home, desk officer", "desk.dab1", "/", False),
    ("inbox, registry clerk", "clerk.sgbo", "/correspondence/", False),
    ("detail with thread, director", "director.dab", "detail", False),
    ("API dispatches ?unit=DAKAR, director", "director.dab", "/api/v1/dispatches?unit=DAKAR", True),
    ("API dispatches, director, deep page", "director.dab", "deep-api", True),
    ("API inbox, desk officer", "desk.dab1", "/api/v1/inbox", True),
    ("sent, mission counsellor, deep page", "counsellor.dakar", "deep-sent", False),
]


def _scale_url(spec: Any, user: User) -> str:
    """The URL of a page whose address depends on the data (chosen the same way every run)."""
    from chancery.correspondence.models import Citation, Dispatch

    if spec == "detail":  # the newest dispatch of the director's scope that cites and is cited
        cited = Citation.objects.filter(cited__isnull=False).values("cited_id")
        row = (
            Dispatch.objects.visible_to(user)
            .filter(pk__in=cited, citations__cited__isnull=False)
            .order_by("-dated", "-id")
            .first()
        )
        return f"/correspondence/dispatches/{row.pk}/" if row else "/correspondence/"
    if spec == "deep-api":
        return "/api/v1/dispatches?unit=DAKAR&offset=2000&limit=50"
    if spec == "deep-sent":  # 2,000 rows deep: an offset page before keyset pages, a cursor after
        try:
            from chancery.core.keyset import _encode
        except ImportError:
            return "/correspondence/sent/?page=41"
        from chancery.correspondence import selectors

        # (or the last page when the list is shorter, as Django's paginator answers ?page=41)
        sent_at, pk = list(selectors.outbox(user).values_list("sent_at", "pk")[:2001])[-1]
        return f"/correspondence/sent/?older={_encode([sent_at, pk])}"
    return str(spec)


def _measure_scale(count: int) -> dict[str, Any]:
    from django.conf import settings
    from django.db import connection
    from django.test import Client, override_settings

    from chancery.accounts.models import User
    from chancery.accounts.services import issue_api_token
    from chancery.core.gate import enforcing

    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    storages = {**settings.STORAGES, "staticfiles": plain}
    figures: dict[str, Any] = {}
    with override_settings(STORAGES=storages):
        anonymous = Client()
        for label, username, spec, api in SCALE_PAGES:
            user = User.objects.unrestricted("benchmark").get(username=username)
            with enforcing():
                url = _scale_url(spec, user)
            if api:
                client = Client(HTTP_AUTHORIZATION=f"Bearer {issue_api_token(user=user, name='bench')}")
            else:
                client = _signed_in(username)
            floor = _summary(_timings(anonymous, FLOOR[2], count))
            try:
                page = _summary(_timings(client, url, count))
            except (AssertionError, CommandError) as exc:
                figures[label] = {"error": str(exc), "url": url}
                continue
            ratio = round(page["p50_ms"] / floor["p50_ms"], 1)
            figures[label] = {**page, "floor_p50_ms": floor["p50_ms"], "ratio_p50": ratio, "url": url}
    return figures


def _scale_arguments(parser: Any) -> None:
    parser.add_argument("--data-dir", required=True, help="a data dir holding a generated ministry (reused)")
    parser.add_argument("--label", required=True, help="name of this run (e.g. before, after)")
    parser.add_argument("--requests", type=int, default=15, help="timed requests per page (default 15)")
    parser.add_argument("--measure", action="store_true", help=None)  # internal: the child's part
    parser.add_argument("--out", help=None)


def _run_scale(options: dict[str, Any], stdout: Any) -> dict[str, Any]:
    if options.get("measure"):
        Path(options["out"]).write_text(json.dumps(_measure_scale(int(options["requests"]))), encoding="utf-8")
        return {"child": True}
    from chancery.core.management.commands.bench import results_dir
    from chancery.imports.benchmarks import _child_env, _run, say

    data_dir = Path(options["data_dir"]).resolve()
    env = _child_env(data_dir, None)
    with tempfile.TemporaryDirectory(prefix="chancery-bench-scale-") as work:
        env["CHANCERY_BENCH_RESULTS"] = str(Path(work) / "child-results")
        out = Path(work) / "figures.json"
        say(f"measuring {options['label']} on {data_dir} …")
        _run(["bench", "pages-scale", "--data-dir", str(data_dir), "--label", options["label"], "--measure",
              "--out", str(out), "--requests", str(options["requests"])], env)  # fmt: skip
        figures = json.loads(out.read_text(encoding="utf-8"))
    previous_path = results_dir() / "pages-scale.json"
    record: dict[str, Any] = {}
    if previous_path.exists():
        record = json.loads(previous_path.read_text(encoding="utf-8"))
    runs = record.get("runs", {})
    runs[options["label"]] = {"figures": figures, "data_dir": data_dir.name, "requests": options["requests"]}
    record = {"runs": runs, "notes": SCALE_NOTES}
    record["markdown"] = _scale_markdown(runs)
    return record


SCALE_NOTES = (
    "SQLite, one process, Django test client (full middleware/view/template stack, no HTTP server), one client, "
    "N timed requests per page after 2 warm-ups, ANALYZE run first. The ministry was generated once "
    "(`chancery demo --organisation-only` then `chancery generate dispatches --count N`) and reused by every "
    "run; 'before' ran the code of the parent commit on it, 'after' this branch (after `chancery migrate`, which "
    "builds the access index). The floor (login page GET) is measured just before each page. The 2-core machine "
    "was shared with other engineers' test runs: compare ratios rather than absolute figures."
)


def _scale_markdown(runs: dict[str, Any]) -> str:
    labels = sorted(runs)
    lines = ["# Pages on a generated ministry, by run", "", SCALE_NOTES, ""]
    lines.append("| page | " + " | ".join(f"{label} p50 / p95 (× floor)" for label in labels) + " |")
    lines.append("|---|" + "---|" * len(labels))
    for label, _user, _spec, _api in SCALE_PAGES:
        cells = []
        for run in labels:
            f = runs[run]["figures"].get(label)
            if not f:
                cells.append("–")
            elif "error" in f:
                cells.append("error")
            else:
                cells.append(f"{f['p50_ms']} / {f['p95_ms']} ms ({f['ratio_p50']}×)")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("")
    for run in labels:
        lines.append(f"- {run}: data dir `{runs[run]['data_dir']}`, {runs[run]['requests']} requests per page.")
    lines.append("")
    return "\n".join(lines)


BENCHMARKS["pages-scale"] = (
    "every list, deep pages and the detail page on an existing generated ministry (--data-dir), one labelled "
    "run at a time (writes bench/results/pages-scale.json and .md)",
    _scale_arguments,
    _run_scale,
)
