"""`chancery bench dashboard`: the whole-ministry dashboard page on the demo database.

Renders `/reporting/` (the complete HTML page: figures, tables, chart data) for a planning
officer, who reads every programme, through Django's test client in this process, N times
after a warm-up; reports the median, p95 and max, the SQL query count per render (which must
not depend on the number of missions) and the same for the region and correspondence
dashboards. Target: whole-ministry median ≤ 300 ms on the demo. Run it on a database loaded
with `chancery demo` (the current CHANCERY_DATA_DIR / DATABASE_URL).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from typing import TYPE_CHECKING, Any

from django.core.management.base import CommandError

if TYPE_CHECKING:
    from chancery.accounts.models import User

TARGET_MS = 300.0


def _arguments(parser: Any) -> None:
    parser.add_argument("--user", default="plan.sg4", help="the agent viewing (default plan.sg4, planning officer)")
    parser.add_argument("--repeat", type=int, default=30, help="measured renders per page (default 30)")
    parser.add_argument("--year", type=int, help="the year shown (default: the current year)")


def _measure(client: Any, url: str, repeat: int) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    response = client.get(url)  # warm-up (templates, caches)
    if response.status_code != 200:
        raise CommandError(f"{url} answered {response.status_code}")
    timings = []
    queries = 0
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - started) * 1000)
        queries = len(captured.captured_queries)
        assert response.status_code == 200
    timings.sort()
    return {
        "url": url,
        "median_ms": round(statistics.median(timings), 1),
        "p95_ms": round(timings[max(0, round(0.95 * (len(timings) - 1)))], 1),
        "max_ms": round(timings[-1], 1),
        "queries": queries,
        "bytes": len(response.content),
    }


def _signed_in(client: Any, user: User) -> Any:
    """A session as after a complete sign-in (second factor passed), as a browser would hold."""
    from chancery.accounts.middleware import SESSION_SECOND_FACTOR, SESSION_SEEN, SESSION_STARTED

    client.force_login(user, backend="chancery.accounts.backends.ChanceryBackend")
    session = client.session
    now = int(time.time())
    session[SESSION_SECOND_FACTOR] = True
    session[SESSION_STARTED] = now
    session[SESSION_SEEN] = now
    session.save()
    return client


def _run(options: dict[str, Any], stdout: Any) -> dict[str, Any]:
    from django.test import Client
    from django.utils import timezone

    from chancery.accounts.models import User
    from chancery.planning.models import Programme

    user = User.objects.unrestricted("benchmark").filter(username=options["user"], is_active=True).first()
    if user is None:
        raise CommandError(f"no active user {options['user']!r}: load the demo first (`chancery demo`)")
    year = options.get("year") or timezone.localdate().year
    programmes = Programme.objects.unrestricted("benchmark").filter(year=year).count()
    if not programmes:
        raise CommandError(f"no programme for {year}: load the demo first (`chancery demo`)")
    # As `chancery serve` does: the pages name hashed static files.
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)
    client = _signed_in(Client(), user)
    repeat = max(1, int(options["repeat"]))
    pages = {
        "ministry": _measure(client, f"/reporting/?year={year}", repeat),
        "region": _measure(client, f"/reporting/?year={year}&region=RAFR", repeat),
        "correspondence": _measure(client, f"/reporting/correspondence/?year={year}", repeat),
    }
    ministry = pages["ministry"]
    record = {
        "user": user.username,
        "year": year,
        "programmes_in_database": programmes,
        "repeat": repeat,
        "pages": pages,
        # The machine is shared: the load during the run says how much the figures are worth.
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "target_ms": TARGET_MS,
        "meets_target": ministry["median_ms"] <= TARGET_MS,
    }
    lines = [
        "# Dashboard benchmark",
        "",
        f"Demo database, {programmes} programmes in {year}, viewed by `{user.username}`; {repeat} renders per page.",
        "",
        "| page | median ms | p95 ms | max ms | SQL queries |",
        "|---|---|---|---|---|",
        *[
            f"| {name} | {p['median_ms']} | {p['p95_ms']} | {p['max_ms']} | {p['queries']} |"
            for name, p in pages.items()
        ],
        "",
        f"Load average during the run (1/5/15 min): {record['load_average_1_5_15']} on {os.cpu_count()} CPUs.",
        "",
        f"Target: whole-ministry median ≤ {TARGET_MS:.0f} ms — {'met' if record['meets_target'] else 'NOT met'}.",
    ]
    record["markdown"] = "\n".join(lines) + "\n"
    print(record["markdown"], file=sys.stderr)
    return record


BENCHMARKS = {"dashboard": ("the ministry, region and correspondence dashboards on the demo", _arguments, _run)}
