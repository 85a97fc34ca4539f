"""`chancery generate dispatches`: a ministry's correspondence in bulk (benchmarks, load tests).

`chancery generate dispatches --count 1000000 --missions 200 --years 10` builds the large
ministry of issue 10: 200 missions (the demo's and generated ones), ten years of dispatches with
routings, citations, replies, attachments and every marking, numbered gap-free per unit and year,
encrypted and signed as the services do; then programmes with their actions, indicators and
achievements for every mission; then the notifications of each unit's latest routings
(`chancery generate notifications`); then the derived tables (`rebuild_derived`). Deterministic for a
given seed and end date (`--until`): two runs give the same references and subjects.

Rows are written by `correspondence.demo.write_correspondence` (primary keys handed out in
Python, one `executemany` per table and batch: `chancery.core.bulk`), one transaction per batch
so an interruption keeps whole batches and the numbering stays gap-free.
Registered with the core `generate` command through `GENERATORS`.
"""

from __future__ import annotations

import os
import time
from argparse import ArgumentParser
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.management.base import CommandError
from django.db import transaction


def _add_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--count", type=int, default=10_000, help="how many dispatches (default 10000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--days", type=int, default=None, help="spread over this many past days (default 365)")
    parser.add_argument("--years", type=int, default=None, help="spread over this many past years (instead of --days)")
    parser.add_argument("--missions", type=int, default=0,
                        help="first grow the ministry to this many missions (e.g. 200); default: as it is")
    parser.add_argument("--until", default=None,
                        help="the end of the period, YYYY-MM-DD (default: now); fix it for identical runs")
    parser.add_argument("--batch", type=int, default=5000, help="dispatches per transaction (default 5000)")
    parser.add_argument("--no-programmes", action="store_true",
                        help="no programmes (by default every mission without one gets the demo's three years)")
    parser.add_argument("--no-notifications", action="store_true",
                        help="no notifications (by default each unit's latest routings are told to its members)")
    parser.add_argument("--no-reindex", action="store_true",
                        help="leave the search index to a later `chancery reindex` (long at a million)")
    parser.add_argument("--no-progress", action="store_true", help="one line per batch instead of a progress bar")


def rebuild_derived(*, search: bool = True, stdout: Any = None) -> None:
    """Everything computed from the rows, rebuilt after a bulk load (the one place to add more).

    1. the planner's statistics (without them the planner picks the wrong indexes);
    2. the access index of the gate: each batch already indexes its own dispatches in its
       transaction (`demo._flush` → `access_index.sync_dispatches`), so nothing is left to do;
    3. the search index (`chancery reindex`'s bulk function); when `search` is false, it catches
       up in the background instead (`core.signals.bulk_written`: queued catch-up tasks).
    """
    from chancery.core.db import refresh_statistics

    refresh_statistics()
    if search:
        from chancery.core.progress import ProgressBar
        from chancery.search.indexing import reindex

        # Worker processes analyse while this one writes (the machine's cores, at most 2:
        # the writes are one stream).
        counts = reindex(restart=True, progress=ProgressBar().show, jobs=min(2, os.cpu_count() or 1))
        refresh_statistics()
        if stdout is not None:
            stdout.write("Search index rebuilt: " + ", ".join(f"{n} {t}" for t, n in counts.items()) + ".")
    else:
        from chancery.core.signals import bulk_written

        bulk_written.send(sender=rebuild_derived, model=None, ids=None)


def _period(options: dict[str, Any]) -> tuple[datetime | None, int]:
    if options.get("years") is not None and options.get("days") is not None:
        raise CommandError("give --days or --years, not both")
    days = int(options["years"]) * 365 if options.get("years") is not None else int(options.get("days") or 365)
    end = None
    if options.get("until"):
        try:
            end = datetime.strptime(str(options["until"]), "%Y-%m-%d").replace(hour=12, tzinfo=UTC)
        except ValueError as exc:
            raise CommandError("--until: a date as YYYY-MM-DD") from exc
    return end, days


def _run(options: dict[str, Any], stdout: Any) -> None:
    from django.utils import timezone

    from chancery.core.progress import ProgressBar
    from chancery.organisation.demo import add_missions, load_ministry
    from chancery.organisation.models import Unit

    total, batch = int(options["count"]), int(options["batch"])
    end, days = _period(options)
    if total < 1 or batch < 1 or days < 1:
        raise CommandError("--count, --batch and --days/--years must be at least 1")
    if not Unit.objects.unrestricted("emptiness check").exists():
        raise CommandError("the database holds no ministry; run `chancery demo --organisation-only` first")
    started = time.monotonic()
    from chancery.correspondence.models import Dispatch

    latest = Dispatch.objects.unrestricted("first id of the load").order_by("-pk").values_list("pk", flat=True)
    first_dispatch_id = (latest.first() or 0) + 1
    ministry = load_ministry()
    if options.get("missions"):
        with transaction.atomic():
            added = add_missions(ministry, total=int(options["missions"]), seed=int(options["seed"]))
        stdout.write(f"{added} missions added ({len(ministry.missions)} in all).")
    final = end or timezone.now()
    bar = None if options.get("no_progress") else ProgressBar()
    with _substring_index_rebuilt_after(load=total, existing=first_dispatch_id - 1, stdout=stdout):
        done = _write_batches(ministry, options, total=total, batch=batch, final=final, days=days, bar=bar,
                              stdout=stdout)
    seconds = time.monotonic() - started
    from chancery.correspondence import storage

    storage.mark_bulk_load_swept(first_dispatch_id=first_dispatch_id)
    stdout.write(f"Generated {done} dispatches in {seconds / 60:.1f} min ({done / max(seconds, 1e-6):.0f}/s).")
    if not options.get("no_programmes"):
        _programmes(ministry, seed=int(options["seed"]), stdout=stdout)
    if not options.get("no_notifications"):
        from chancery.notifications.generators import write_routing_notifications

        stdout.write(f"{write_routing_notifications()} notifications written (`chancery generate notifications`).")
    rebuild_derived(search=not options.get("no_reindex"), stdout=stdout)
    if options.get("no_reindex"):
        stdout.write("Search index not rebuilt: run `chancery reindex` to make the dispatches searchable.")


@contextmanager
def _substring_index_rebuilt_after(*, load: int, existing: int, stdout: Any) -> Iterator[None]:
    """On SQLite, a load at least as large as what the database holds writes without the substring
    index's triggers, and the index is built once from the table at its end (`substring_index.install`;
    100,000 dispatches: 140 -> 127 s). Built also when the load stops half-way (an error, Ctrl-C);
    were the process killed, `chancery migrate` builds it (`post_migrate`) and `chancery check`
    reports it missing meanwhile (correspondence.E002). PostgreSQL keeps its trigram indexes
    through the load: built at the end instead, 100,000 dispatches took 278 s against 243."""
    from django.db import connection

    from chancery.correspondence import substring_index

    if (connection.vendor != "sqlite" or load < max(existing, 1) or not substring_index.applies()
            or substring_index.missing()):
        yield
        return
    substring_index.uninstall()
    try:
        yield
    finally:
        started = time.monotonic()
        substring_index.install()
        stdout.write(f"Substring index built in {time.monotonic() - started:.0f} s.")


def _write_batches(ministry: Any, options: dict[str, Any], *, total: int, batch: int, final: datetime, days: int,
                   bar: Any, stdout: Any) -> int:
    from chancery.correspondence.demo import write_correspondence

    done = 0
    while done < total:
        size = min(batch, total - done)
        slice_end, slice_days = _slice(final, days, done, size, total)
        # One transaction per batch: an interruption keeps whole batches, numbering stays gap-free.
        with transaction.atomic():
            write_correspondence(
                units=ministry.units,
                users=ministry.users,
                count=size,
                seed=int(options["seed"]) * 1_000_003 + done,
                batch=size,
                days=slice_days,
                end=slice_end,
                now=final,
            )
        done += size
        if bar is not None:
            bar.show("dispatches", done, total)
        else:
            stdout.write(f"{done}/{total} dispatches written")
    return done


def _slice(final: datetime, days: int, done: int, size: int, total: int) -> tuple[datetime, float]:
    """(end, days) of a batch: batches follow each other in time, oldest first, so the numbers of
    a unit's year rise with the dates."""
    span = days * 86400.0
    return final - timedelta(seconds=span * (total - done - size) / total), days * size / total


def _programmes(ministry: Any, *, seed: int, stdout: Any) -> None:
    """The demo's programmes (three years, every state) for each mission that has none yet."""
    from chancery.organisation.models import UnitKind
    from chancery.planning import demo as planning_demo
    from chancery.planning.models import Programme

    planned = set(Programme.objects.values_list("mission_id", flat=True).distinct())
    missing = [m for m in ministry.missions if m.pk not in planned]
    if not missing:
        return
    sub = type(ministry)(units={**{k: v for k, v in ministry.units.items() if v.kind != UnitKind.MISSION},
                                **{m.code: m for m in missing}}, users=ministry.users)
    planning_demo.populate(ministry=sub, seed=seed, stdout=stdout)


GENERATORS = {
    "dispatches": ("a ministry's correspondence in bulk: numbered, encrypted, signed; programmes too",
                   _add_arguments, _run),
}
