"""Profile the correspondence pages of a generated ministry (pyinstrument), for issue 10.

    CHANCERY_DATA_DIR=/path/to/data .venv/bin/python scripts/profile_pages.py --label before \
        [--requests 9] [--out bench/results/profiles] [--only inbox,home]

For each role of `chancery bench all` (`chancery.backup.suite.ROLES`) and each page (home, inbox,
sent, review queue, dispatch detail with thread, an encrypted and a clear dispatch), through
Django's test client (full middleware, view and template stack, one process): two warm-ups, the
median and p95 of `--requests` timed requests beside the floor (the login page GET) and the SQL
queries of one request (how many, their milliseconds, the slowest); then one profiled request (garbage collector
off), written as text to
`<out>/<page>-<role>-<label>.txt`, and a summary table to `<out>/summary-<label>.md`.
The data dir is only read (the encrypted detail page audits the read, as it does for anyone; the API
pages issue each reader a token).
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

PAGES = [
    "home",
    "inbox",
    "sent",
    "review",
    "detail-with-thread",
    "detail-encrypted",
    "detail-clear",
    "programme-list",
    "programme-document",
    "planning-table",
    "notifications",
    "api-dispatches",
    "api-inbox",
]


def _setup() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chancery.settings")
    import django

    django.setup()


def _urls(user: Any) -> dict[str, str]:
    """The page addresses for this reader, chosen the same way every run (the newest of each kind)."""
    from chancery.core.gate import enforcing
    from chancery.correspondence.models import Citation, Dispatch
    from chancery.planning.models import Programme

    with enforcing():
        visible = Dispatch.objects.visible_to(user).exclude(reference=None).order_by("-dated", "-id")
        cited = Citation.objects.unrestricted("profile: ids of cited dispatches").filter(cited__isnull=False)
        thread = visible.filter(pk__in=cited.values("cited_id"), citations__cited__isnull=False).first()
        encrypted = visible.filter(classification__gte=1).first()
        clear = visible.filter(classification=0, transmission="clear").first()
        programme = Programme.objects.visible_to(user).order_by("-year", "mission__code").first()
    urls = {
        "home": "/",
        "inbox": "/correspondence/",
        "sent": "/correspondence/sent/",
        "review": "/correspondence/review/",
        "notifications": "/notifications/",
        "programme-list": "/planning/",
        "api-dispatches": "/api/v1/dispatches",
        "api-inbox": "/api/v1/inbox",
    }
    if programme is not None:
        urls["programme-document"] = f"/planning/{programme.pk}/"
        urls["planning-table"] = f"/planning/{programme.pk}/actions/"
    for name, row in (("detail-with-thread", thread), ("detail-encrypted", encrypted), ("detail-clear", clear)):
        if row is not None:
            urls[name] = f"/correspondence/dispatches/{row.pk}/"
    return urls


def _api_client(username: str) -> Any:
    """A test client sending a bearer token of `username` (the API's only authentication)."""
    from django.test import Client

    from chancery.accounts.models import User
    from chancery.accounts.services import issue_api_token

    user = User.objects.unrestricted("profile: the reader's token").get(username=username)
    token = issue_api_token(user=user, name="profile", lifetime_days=1)
    return Client(headers={"Authorization": f"Bearer {token}"})


def _time(client: Any, url: str, count: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU (this process, SQLite included) milliseconds of each request, sorted.
    On a shared machine the CPU time is the steadier figure: waiting for a core is not in it."""
    wall, cpu = [], []
    for _ in range(count):
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get(url)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return sorted(wall), sorted(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", required=True)
    parser.add_argument("--requests", type=int, default=9)
    parser.add_argument("--out", default="bench/results/profiles")
    parser.add_argument("--only", default="", help="pages, comma-separated (default: all)")
    parser.add_argument("--roles", default="", help="usernames, comma-separated (default: the suite's roles)")
    args = parser.parse_args()
    _setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client, override_settings
    from pyinstrument import Profiler

    from chancery.accounts.models import User
    from chancery.correspondence.benchmarks import _signed_in

    roles = {
        "mission agent": "counsellor.dakar",
        "desk officer": "desk.dab1",
        "director (region)": "director.dab",
        "registry clerk": "clerk.sgbo",
    }  # as chancery.backup.suite.ROLES, and the security officer for the review queue
    roles["security officer"] = "security"
    if args.roles:
        roles = {name: name for name in args.roles.split(",")}
    pages = args.only.split(",") if args.only else PAGES
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    lines = [
        f"# Page profiles, {args.label}",
        "",
        f"Data dir `{Path(settings.CHANCERY_DATA_DIR).parent.name}`, {connection.vendor}, Django test client in one "
        f"process; {args.requests} timed requests per page after 2 warm-ups; load average at start "
        f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores (shared machine: compare ratios).",
        "",
        "| page | role | p50 ms | p95 ms | CPU p50 ms | floor p50 / CPU ms | × floor | × floor (CPU) | queries "
        "| SQL ms |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    with override_settings(STORAGES={**settings.STORAGES, "staticfiles": plain}):
        anonymous = Client()
        for role, username in roles.items():
            user = User.objects.unrestricted("profile").get(username=username)
            urls = _urls(user)
            page_client, api_client = _signed_in(username), None
            for page in pages:
                if page.startswith("api-"):
                    api_client = api_client or _api_client(username)
                client = api_client if page.startswith("api-") else page_client
                url = urls.get(page)
                if url is None:
                    lines.append(f"| {page} | {role} | – | – | – | – | – | – | – | – |")
                    continue
                response = client.get(url)
                if response.status_code != 200:  # e.g. the review queue of an agent without the right
                    lines.append(f"| {page} | {role} | {response.status_code} | – | – | – | – | – | – | – |")
                    continue
                _time(client, url, 1)
                timed: list[tuple[float, str]] = []  # Django's query log rounds to the millisecond

                def timing(
                    execute: Any, sql: str, params: Any, many: bool, context: Any, timed: list[Any] = timed
                ) -> Any:
                    started = time.perf_counter()
                    try:
                        return execute(sql, params, many, context)
                    finally:
                        timed.append(((time.perf_counter() - started) * 1000, sql))

                with connection.execute_wrapper(timing):
                    client.get(url)
                query_count = len(timed)
                sql_ms = sum(ms for ms, _ in timed)  # SQLite steps its rows after execute: a floor there
                slowest = sorted(timed, key=lambda item: -item[0])[:8]
                floor, floor_cpu = _time(anonymous, "/accounts/login/", args.requests)
                values, cpu = _time(client, url, args.requests)
                p50, p95 = statistics.median(values), values[min(len(values) - 1, int(len(values) * 0.95))]
                fp50, cp50, fcp50 = statistics.median(floor), statistics.median(cpu), statistics.median(floor_cpu)
                lines.append(
                    f"| {page} | {role} | {p50:.1f} | {p95:.1f} | {cp50:.1f} | {fp50:.1f} / {fcp50:.1f} | "
                    f"{p50 / fp50:.1f} | {cp50 / fcp50:.1f} | {query_count} | {sql_ms:.1f} |"
                )
                print(lines[-1], flush=True)
                profiler = Profiler(interval=0.0005)
                gc.collect()
                gc.disable()  # the page's own work: a collection landing in it would be blamed on one line
                profiler.start()
                client.get(url)
                profiler.stop()
                gc.enable()
                slug = username.replace(".", "-")
                text = profiler.output_text(unicode=True, color=False, show_all=False)
                (out / f"{page}-{slug}-{args.label}.txt").write_text(
                    f"# {url} as {username} ({role})\n\n{text}\n# slowest queries (ms, SQL)\n\n"
                    + "".join(f"{ms:.2f}  {sql[:600]}\n\n" for ms, sql in slowest),
                    encoding="utf-8",
                )
    (out / f"summary-{args.label}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
