"""`chancery bench all` (issue 10's suite, through the real server) and `chancery bench generate`.

One command, per engine: a fresh site (data dir + database), `chancery generate dispatches`
(timed), then `chancery serve` (gunicorn, several workers) on loopback, and:

- every page of the issue's table and the API lists, for a mission agent, a desk officer, a
  director overseeing a region and a registry clerk, at 1, 8 and 32 concurrent clients, each
  measured right after its floor (the login page GET) at the same concurrency, so that the
  ratio holds on a noisy machine: p50/p95/p99, requests/s, ratio to the floor;
- the SQL queries of each page (Django's test client in a process of the site);
- reading an encrypted dispatch against a clear one (detail page, overhead in %);
- dispatches sent per second by 8 concurrent senders, the numbers checked unique and gap-free;
- import throughput (`chancery bench import`, small count).

Writes bench/results/all.json and all.md. Speed targets live here, never in timed tests.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

ROLES = {
    "mission agent": "counsellor.dakar",
    "desk officer": "desk.dab1",
    "director (region)": "director.dab",
    "registry clerk": "clerk.sgbo",
    "security officer": "security",
}
# Pages only some readers have (their menu leads there; anyone else gets "forbidden", which
# measures nothing), and the readers measured on those pages and their home page alone.
ONLY_FOR = {"declassification review queue": {"security officer"}}
SPECIALISTS = {"security officer"}
FLOOR = "/accounts/login/"
# (label, path template); {dispatch}, {thread}, {programme} come from the site's set-up.
PAGES = [
    ("home", "/"),
    ("inbox", "/correspondence/"),
    ("sent", "/correspondence/sent/"),
    ("drafts", "/correspondence/drafts/"),
    ("declassification review queue", "/correspondence/review/"),
    ("dispatch detail with thread", "/correspondence/dispatches/{thread}/"),
    ("programme list", "/planning/"),
    ("programme document", "/planning/{programme}/"),
    ("planning table", "/planning/{programme}/actions/"),
    ("notifications", "/notifications/"),
    # deep pages follow an "older" cursor taken 2,000 rows down the reader's own list (keyset pages)
    ("inbox, deep page", "/correspondence/?status=open&older={inbox_deep}"),
    ("sent, deep page", "/correspondence/sent/?older={sent_deep}"),
    ("API dispatches", "/api/v1/dispatches"),
    ("API inbox", "/api/v1/inbox"),
    ("API dispatches, deep", "/api/v1/dispatches?offset=2000"),
    # the same depth through the `older` cursor of the Link header (what the API asks deep readers to follow)
    ("API dispatches, deep cursor", "/api/v1/dispatches?older={api_deep}"),
]


def pages_of(role: str, pages: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The pages measured for `role`: a specialist's own pages and home, else every page not
    reserved to others (`ONLY_FOR`)."""
    if role in SPECIALISTS:
        return [(label, path) for label, path in pages if label == "home" or role in ONLY_FOR.get(label, ())]
    return [(label, path) for label, path in pages if label not in ONLY_FOR or role in ONLY_FOR[label]]


_SETUP = r"""
import json, time
from django.conf import settings
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from chancery.accounts.middleware import SESSION_SECOND_FACTOR, SESSION_SEEN, SESSION_STARTED
from chancery.accounts.models import User
from chancery.accounts.services import issue_api_token
from chancery.core.keyset import _encode, _value
from chancery.correspondence import selectors
from chancery.correspondence.models import Dispatch
from chancery.planning.models import Programme


def twins(visible):
    # An encrypted dispatch and a clear one of the same shape (kind, direction, routings,
    # attachments, citations each way, reply or not), the latest such pair among the reader's
    # latest 400 of each: the detail pages then differ by the encryption only.
    from django.db.models import Count
    def shapes(qs):
        pks = list(qs.order_by("-pk").values_list("pk", flat=True)[:400])
        rows = (Dispatch.objects.unrestricted("bench: shapes of dispatches read through the gate above")
                .filter(pk__in=pks).annotate(r=Count("routings", distinct=True), a=Count("attachments", distinct=True),
                                             c=Count("citations", distinct=True),
                                             i=Count("incoming_citations", distinct=True))
                .values_list("pk", "kind", "direction", "r", "a", "c", "i", "in_reply_to_id"))
        found = {}
        for pk, *shape in sorted(rows, reverse=True):
            shape[-1] = shape[-1] is not None
            found.setdefault(tuple(shape), pk)
        return found
    encrypted = shapes(visible.filter(classification__gte=1))
    clear = shapes(visible.filter(classification=0, transmission="clear"))
    common = [(max(encrypted[k], clear[k]), encrypted[k], clear[k]) for k in encrypted.keys() & clear.keys()]
    return max(common)[1:] if common else (None, None)

def deep(queryset, order, depth=2000):
    rows = list(queryset[depth:depth + 1]) or list(queryset.reverse()[:1])
    return _encode([_value(rows[0], name) for name, _desc in order]) if rows else ""

roles, pages_by_role = json.loads(%(args)r)
out = {"sessions": {}, "tokens": {}, "ids": {}, "queries": {}}
for label, username in roles.items():
    user = User.objects.unrestricted("bench").get(username=username)
    client = Client()
    client.force_login(user, backend="chancery.accounts.backends.ChanceryBackend")
    session = client.session
    now = int(time.time())
    session.update({SESSION_SECOND_FACTOR: True, SESSION_STARTED: now, SESSION_SEEN: now})
    session.save()
    out["sessions"][label] = session.session_key
    out["tokens"][label] = issue_api_token(user=user, name="bench", lifetime_days=1)
    visible = Dispatch.objects.visible_to(user).exclude(reference=None)
    thread = visible.exclude(in_reply_to=None).order_by("-pk").values_list("pk", flat=True).first()
    latest = visible.order_by("-pk").values_list("pk", flat=True).first()
    # Among the dispatches dated before today: the bench's own senders (below) write today's,
    # which would otherwise change the twins from one run to the next.
    encrypted, clear = twins(visible.filter(dated__lt=timezone.localdate()))
    unit = user.memberships.values_list("unit_id", flat=True).first()
    # a programme the reader may open (their mission's, their desk's, else any in scope; none for a
    # registry clerk, whose planning pages are then not measured: a 404 measures nothing)
    programmes = Programme.objects.visible_to(user)  # newest year first, then the mission's code (the model's order)
    programme = (programmes.filter(mission_id=unit).values_list("pk", flat=True).first()
                 or programmes.filter(mission__hq_desk_id=unit).values_list("pk", flat=True).first()
                 or programmes.values_list("pk", flat=True).first())
    out["ids"][label] = {"thread": thread or latest, "dispatch": latest, "encrypted": encrypted, "clear": clear,
                         "programme": programme,
                         "inbox_deep": deep(selectors.inbox(user, status="open"), selectors.INBOX_ORDER),
                         "sent_deep": deep(selectors.outbox(user), selectors.OUTBOX_ORDER),
                         "api_deep": deep(selectors.search_dispatches(user), selectors.SEARCH_ORDER)}
plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
with override_settings(STORAGES={**settings.STORAGES, "staticfiles": plain}):
    for label, username in roles.items():
        client = Client()
        client.cookies[settings.SESSION_COOKIE_NAME] = out["sessions"][label]
        headers = {"HTTP_AUTHORIZATION": "Bearer " + out["tokens"][label]}
        for page, template in pages_by_role[label]:
            url = template.format(**out["ids"][label])
            if "None" in url:
                continue
            extra = headers if url.startswith("/api/") else {}
            client.get(url, **extra)  # warm
            with CaptureQueriesContext(connection) as queries:
                status = client.get(url, **extra).status_code
            out["queries"].setdefault(label, {})[page] = {"queries": len(queries), "status": status}
print(json.dumps(out))
"""


def _arguments(parser: Any) -> None:
    from chancery.backup.benchmarks import _common

    _common(parser, 8147)
    parser.add_argument("--dispatches", type=int, default=20_000, help="generated dispatches (default 20000)")
    parser.add_argument("--missions", type=int, default=200, help="missions of the generated ministry")
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--clients", default="1,8,32", help="concurrency levels, comma-separated")
    parser.add_argument("--requests", type=int, default=20, help="requests per client and measurement (default 20)")
    parser.add_argument("--sends", type=int, default=80, help="dispatches sent by the 8 concurrent senders")
    parser.add_argument("--import-count", type=int, default=200, help="letters for the import figure (0: skip)")
    parser.add_argument("--pages", default="", help="only pages whose label contains one of these (comma-separated)")
    parser.add_argument("--crowd", default="",
                        help="levels above 8 clients only for pages whose label contains one of these (e.g. inbox; "
                             "default: every page)")
    parser.add_argument("--site", default="",
                        help="measure a ministry generated earlier (its data dir) instead of generating one; its run "
                             "replaces that engine's run in all.json (a million dispatches take long to generate)")
    parser.add_argument("--site-database-url", default="",
                        help="with --site: the site's PostgreSQL database (else the site is SQLite)")


def _fetch(url: str, headers: dict[str, str]) -> tuple[float, int]:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - loopback only
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
            response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        exc.read()
        status = exc.code
    return (time.perf_counter() - started) * 1000, status


ENCRYPTION_PAIRS = 100  # at least, read in turn: each page read this many times


def _level(url: str, headers: dict[str, str], clients: int, per_client: int, *, warm: int = 1) -> dict[str, Any]:
    """`clients` threads, each `per_client` GETs in a row (after `warm` warm-ups): latencies and rate."""
    from chancery.backup.stress import _percentile

    for _ in range(warm):
        _fetch(url, headers)
    samples: list[float] = []
    errors: list[int] = []
    lock = threading.Lock()

    def client() -> None:
        for _ in range(per_client):
            ms, status = _fetch(url, headers)
            with lock:
                samples.append(ms)
                if status != 200:
                    errors.append(status)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    wall = _run_all(threads)
    return {
        "p50_ms": round(statistics.median(samples), 1),
        "p95_ms": round(_percentile(samples, 0.95), 1),
        "p99_ms": round(_percentile(samples, 0.99), 1),
        "rps": round(len(samples) / wall, 1),
        "errors": len(errors),
        "statuses": sorted(set(errors)),
    }


def _run_all(threads: list[threading.Thread]) -> float:
    """Start the threads together and wait for all: the wall time in seconds."""
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def _sends(base: str, token: str, mission: dict[str, str], total: int) -> dict[str, Any]:
    """8 concurrent senders through the API: dispatches/s, and the numbers unique and gap-free."""
    from chancery.backup import stress

    ledger = stress.Ledger()
    api = stress.Api(base, token)
    per = max(1, total // 8)

    def sender(first: int) -> None:
        for n in range(first, first + per):
            try:
                stress.send_one(api, mission, ledger, n, attach=False)
            except (stress.ApiError, OSError) as exc:
                ledger.error(type(exc).__name__)

    threads = [threading.Thread(target=sender, args=(i * 10_000,)) for i in range(8)]
    wall = _run_all(threads)
    numbers: dict[str, list[int]] = {}
    for d in ledger.dispatches:
        prefix, _slash, number = d["reference"].rpartition("/")
        numbers.setdefault(prefix, []).append(int(number))
    gapless = all(sorted(ns) == list(range(min(ns), min(ns) + len(ns))) for ns in numbers.values())
    unique = sum(len(ns) for ns in numbers.values()) == len({d["reference"] for d in ledger.dispatches})
    return {"senders": 8, "sent": len(ledger.dispatches), "seconds": round(wall, 1),
            "dispatches_per_second": round(len(ledger.dispatches) / wall, 2), "unique_numbers": unique,
            "gap_free": gapless, "errors": ledger.errors}


def _generated_site(engine: str, url: str | None, options: dict[str, Any], say: Any,
                    work: Path) -> tuple[dict[str, str], float]:
    """A fresh site with a generated ministry: its environment and the seconds generation took."""
    from chancery.backup import stress

    env = stress.site_env(work / "data", url)
    (work / "data").mkdir()
    say(f"== {engine}: migrate, organisation …")
    stress.chancery(env, "migrate", "-v0")
    stress.chancery(env, "demo", "--organisation-only")
    say(f"generating {options['dispatches']} dispatches ({options['missions']} missions, {options['years']} years) …")
    started = time.perf_counter()
    stress.chancery(env, "generate", "dispatches", "--count", str(options["dispatches"]), "--missions",
                    str(options["missions"]), "--years", str(options["years"]), "--no-reindex", "--no-progress",
                    timeout=24 * 3600)
    return env, time.perf_counter() - started


_COUNTS = r"""
from chancery.correspondence.models import Dispatch
from chancery.organisation.models import Unit
print(Dispatch.objects.unrestricted("bench: site size").count(), Unit.objects.filter(kind="mission").count())
"""


def _engine_run(engine: str, env: dict[str, str], options: dict[str, Any], say: Any, work: Path,
                generate_seconds: float | None) -> dict[str, Any]:
    from chancery.backup import stress

    dispatches, missions_count = (int(n) for n in stress.chancery(env, "shell", "-c", _COUNTS).split()[-2:])
    stress.chancery(env, "collectstatic", "--noinput", "-v0")
    wanted = [w.strip() for w in str(options.get("pages") or "").split(",") if w.strip()]
    pages = [(label, path) for label, path in PAGES if not wanted or any(w in label for w in wanted)]
    say("sessions, tokens and query counts …")
    args = json.dumps([ROLES, {role: pages_of(role, pages) for role in ROLES}])
    site = json.loads(stress.chancery(env, "shell", "-c", _SETUP % {"args": args})
                      .strip().splitlines()[-1])
    missions = stress.mission_tokens(env, missions=1)
    server = stress.Server(env, options["port"], workers=options["workers"], log=work / "server.log")
    levels = [int(c) for c in str(options["clients"]).split(",") if c.strip()]
    crowd = [w.strip() for w in str(options.get("crowd") or "").split(",") if w.strip()]
    record: dict[str, Any] = {"engine": engine, "dispatches": dispatches, "missions": missions_count,
                              "generate_seconds": round(generate_seconds, 1) if generate_seconds else None,
                              "generate_rate_per_s": round(options["dispatches"] / generate_seconds, 1)
                              if generate_seconds else None,
                              "site": options.get("site") or None, "pages": {}, "queries": site["queries"]}
    server.start()
    try:
        for role, _username in ROLES.items():
            cookie = {"Cookie": f"chancery_session={site['sessions'][role]}"}
            bearer = {"Authorization": f"Bearer {site['tokens'][role]}", "Accept": "application/json"}
            for label, template in pages_of(role, pages):
                path = template.format(**site["ids"][role])
                if "None" in path:
                    continue
                headers = bearer if path.startswith("/api/") else cookie
                crowded = not crowd or any(w in label for w in crowd)
                for clients in (c for c in levels if c <= 8 or crowded):
                    # One client's requests land on either worker (whichever accepts first), each with
                    # its own connection and statements prepared on it: one warm-up left the other
                    # worker's first request of the page among the samples. Three per worker warm both.
                    warm = 3 * server.workers
                    floor = _level(server.url + FLOOR, {}, clients, options["requests"], warm=warm)
                    page = _level(server.url + path, headers, clients, options["requests"], warm=warm)
                    page.update(floor_p50_ms=floor["p50_ms"], floor_p95_ms=floor["p95_ms"],
                                ratio_p50=round(page["p50_ms"] / max(floor["p50_ms"], 0.1), 1),
                                ratio_p95=round(page["p95_ms"] / max(floor["p95_ms"], 0.1), 1))
                    record["pages"].setdefault(role, {}).setdefault(label, {})[str(clients)] = page
                say(f"  {role}: {label} done")
        role = "desk officer"
        ids, cookie = site["ids"][role], {"Cookie": f"chancery_session={site['sessions'][role]}"}
        if ids.get("encrypted") and ids.get("clear"):
            # Twins (see `twins` in the set-up), read in turn so that the machine's load drifts alike on both.
            urls = {name: f"{server.url}/correspondence/dispatches/{ids[name]}/" for name in ("clear", "encrypted")}
            times: dict[str, list[float]] = {"clear": [], "encrypted": []}
            for url in urls.values():
                _fetch(url, cookie)  # warm
            # The pages differ by 2-5 ms on 20-45: twenty pairs moved the figure by more than the target
            # from one run to the next. Each pair starts with the other page than the last one did.
            pairs = max(options["requests"] * 2, ENCRYPTION_PAIRS)
            for turn in range(pairs):
                for name, url in list(urls.items())[:: 1 if turn % 2 else -1]:
                    times[name].append(_fetch(url, cookie)[0])
            clear_p50, enc_p50 = (round(statistics.median(times[n]), 1) for n in ("clear", "encrypted"))
            record["encryption"] = {"clear_p50_ms": clear_p50, "encrypted_p50_ms": enc_p50, "pairs": pairs,
                                    "clear_id": ids["clear"], "encrypted_id": ids["encrypted"],
                                    "overhead_percent": round(100 * (enc_p50 / clear_p50 - 1), 1)}
        say("8 concurrent senders …")
        record["sends"] = _sends(server.url, missions[0]["token"], missions[0], options["sends"])
    finally:
        server.stop()
    return record


def _markdown(record: dict[str, Any]) -> str:
    lines = ["# `chancery bench all`", "", record["notes"], ""]
    for run in record["runs"]:
        lines += [f"## {run['engine']}: {run['dispatches']:,} dispatches, {run['missions']} missions",
                  "", f"Generated in {run['generate_seconds']} s ({run['generate_rate_per_s']} dispatches/s)."
                  if run.get("generate_seconds") else
                  f"Measured on a ministry generated earlier (`{run.get('site')}`; generation: generate.md).", "",
                  "| role | page | clients | p50 ms | p95 ms | p99 ms | req/s | floor p50 | ×floor p50 | ×floor p95 "
                  "| queries | errors |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for role, pages in run["pages"].items():
            for label, by_clients in pages.items():
                queries = run["queries"].get(role, {}).get(label, {}).get("queries", "")
                for clients, f in by_clients.items():
                    lines.append(f"| {role} | {label} | {clients} | {f['p50_ms']} | {f['p95_ms']} | {f['p99_ms']} | "
                                 f"{f['rps']} | {f['floor_p50_ms']} | {f['ratio_p50']}× | {f['ratio_p95']}× | "
                                 f"{queries} | {f['errors']} |")
        if "encryption" in run:
            e = run["encryption"]
            lines += ["", "Encrypted vs clear dispatch (detail page, desk officer, p50; two dispatches of the same "
                      f"shape, read in turn, {e.get('pairs', 'twenty')} times each): {e['encrypted_p50_ms']} ms "
                      f"vs {e['clear_p50_ms']} ms: overhead {e['overhead_percent']} %."]
        s = run["sends"]
        lines += ["", f"Sends: {s['sent']} dispatches by {s['senders']} concurrent senders in {s['seconds']} s = "
                  f"{s['dispatches_per_second']}/s; numbers unique: {s['unique_numbers']}, gap-free: {s['gap_free']}; "
                  f"errors: {s['errors'] or 'none'}.", ""]
    if record.get("import"):
        i = record["import"]
        lines += [f"Import: {i.get('imported')} letters at {i.get('letters_per_second')} letters/s "
                  f"({i.get('database')}).", ""]
    lines += [f"Command: `{record['command']}`. Machine: {json.dumps(record['machine'])}.", ""]
    return "\n".join(lines)


def _earlier_runs() -> list[dict[str, Any]]:
    """The runs of all.json as it stands (a --site run replaces only its own engine's)."""
    from chancery.core.management.commands.bench import results_dir

    path = results_dir() / "all.json"
    try:
        return list(json.loads(path.read_text(encoding="utf-8")).get("runs", []))
    except (OSError, ValueError):
        return []


def _run(options: dict[str, Any], stdout: Any) -> dict[str, Any]:
    from chancery.backup import stress
    from chancery.backup.benchmarks import _database, _engines, _say, _stop_on_sigterm
    from chancery.core.management.commands.bench import machine_info

    if options["dispatches"] < 100:
        raise CommandError("--dispatches must be at least 100")
    _stop_on_sigterm()
    say = _say(stdout)
    runs = []
    imported: dict[str, Any] = {}
    if options.get("site"):
        engine = "postgresql" if options.get("site_database_url") else "sqlite"
        env = stress.site_env(Path(options["site"]).resolve(), options.get("site_database_url") or None)
        with tempfile.TemporaryDirectory(prefix="chancery-bench-all-") as work:
            runs.append(_engine_run(engine, env, options, say, Path(work), None))
        earlier = _earlier_runs()
        runs = [*(r for r in earlier if r["engine"] != engine), *runs]
    for engine in [] if options.get("site") else _engines(options):
        with tempfile.TemporaryDirectory(prefix="chancery-bench-all-") as work, \
                _database(engine, options["postgres_url"]) as url:
            env, seconds = _generated_site(engine, url, options, say, Path(work))
            runs.append(_engine_run(engine, env, options, say, Path(work), seconds))
    if options["import_count"]:
        from chancery.imports.benchmarks import _bench

        say(f"import: {options['import_count']} letters …")
        imported = _bench({"count": options["import_count"], "work_dir": None, "database_url": None, "seed": 1},
                          stdout)
        imported.pop("markdown", None)
    record = {
        "runs": runs,
        "import": {k: imported.get(k) for k in ("imported", "letters_per_second", "database", "import_seconds")}
        if imported else None,
        "machine": machine_info(),
        "command": "chancery bench all " + " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in options.items()
            if k in {"engine", "dispatches", "missions", "years", "clients", "requests", "sends", "import_count",
                     "workers", "site", "crowd"} and v
            # a measured site was generated earlier: the generation's options are not this run's
            and not (options.get("site") and k in {"engine", "dispatches", "missions", "years"})),
        "notes": "Each page measured right after its floor (the login page GET) at the same concurrency, through "
                 "`chancery serve` (gunicorn) on loopback, the clients on the same machine; a request is a full "
                 "GET (page or JSON). Queries: Django's test client in a process of the site, after a warm-up.",
    }
    record["markdown"] = _markdown(record)
    return record


def _generate_arguments(parser: Any) -> None:
    from chancery.backup.benchmarks import _common

    _common(parser, 0)
    parser.add_argument("--count", type=int, default=100_000, help="dispatches (default 100000)")
    parser.add_argument("--missions", type=int, default=200)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--reindex", action="store_true", help="time the search index rebuild too")


def _generate(options: dict[str, Any], stdout: Any) -> dict[str, Any]:
    """`chancery generate dispatches` timed on a fresh site per engine (the progress bar off)."""
    from chancery.backup import stress
    from chancery.backup.benchmarks import _database, _engines, _say, _stop_on_sigterm
    from chancery.core.management.commands.bench import machine_info

    _stop_on_sigterm()
    say = _say(stdout)
    runs = []
    for engine in _engines(options):
        with tempfile.TemporaryDirectory(prefix="chancery-bench-generate-") as work, \
                _database(engine, options["postgres_url"]) as url:
            env = stress.site_env(Path(work) / "data", url)
            stress.chancery(env, "migrate", "-v0")
            stress.chancery(env, "demo", "--organisation-only")
            say(f"== {engine}: {options['count']} dispatches …")
            started = time.perf_counter()
            output = stress.chancery(env, "generate", "dispatches", "--count", str(options["count"]), "--missions",
                                     str(options["missions"]), "--years", str(options["years"]), "--no-progress",
                                     *([] if options["reindex"] else ["--no-reindex"]), timeout=24 * 3600)
            seconds = time.perf_counter() - started
            say(next((line for line in output.splitlines() if line.startswith("Generated")), ""))
            runs.append({"engine": engine, "dispatches": options["count"], "missions": options["missions"],
                         "years": options["years"], "reindex": options["reindex"], "minutes": round(seconds / 60, 2),
                         "dispatches_per_second": round(options["count"] / seconds, 1)})
    lines = ["# `chancery generate dispatches` (`chancery bench generate`)", "",
             "A fresh site per engine (migrate, demo organisation), then the whole command: missions added, "
             "dispatches with routings, citations, replies, attachments and every marking (encrypted, signed, "
             "numbered), programmes, statistics" + (", search index" if options["reindex"] else "") + ".", "",
             "| engine | dispatches | missions | years | minutes | dispatches/s |", "|---|---|---|---|---|---|"]
    for run in runs:
        lines.append(f"| {run['engine']} | {run['dispatches']:,} | {run['missions']} | {run['years']} | "
                     f"{run['minutes']} | {run['dispatches_per_second']} |")
    machine = machine_info()
    lines += ["", f"Machine: {json.dumps(machine)}.", ""]
    return {"runs": runs, "machine": machine, "markdown": "\n".join(lines)}


BENCHMARKS = {"generate": ("time `chancery generate dispatches` on a fresh site per engine",
                           _generate_arguments, _generate),
              "all": ("issue 10's suite: every page at 1/8/32 clients beside its floor, queries, encryption, "
                      "sends, import, on a generated ministry", _arguments, _run)}
