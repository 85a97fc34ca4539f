"""`chancery generate dispatches`: demo-like correspondence in bulk (benchmarks, load tests).

Registered with the core `generate` command through `GENERATORS`.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import CommandError
from django.db import transaction


def _add_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--count", type=int, default=10_000, help="how many dispatches (default 10000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--days", type=int, default=365, help="spread over this many past days (default 365)")
    parser.add_argument("--batch", type=int, default=5000, help="dispatches per transaction (default 5000)")


def _run(options: dict[str, Any], stdout: Any) -> None:
    from chancery.core.db import refresh_statistics
    from chancery.correspondence.demo import write_correspondence
    from chancery.organisation.demo import load_ministry
    from chancery.organisation.models import Unit

    total, batch, days = int(options["count"]), int(options["batch"]), int(options["days"])
    if total < 1 or batch < 1 or days < 1:
        raise CommandError("--count, --batch and --days must be at least 1")
    if not Unit.objects.unrestricted("emptiness check").exists():
        raise CommandError("the database holds no ministry; run `chancery demo --organisation-only` first")
    ministry = load_ministry()
    done = 0
    while done < total:
        size = min(batch, total - done)
        # One transaction per batch: an interruption keeps whole batches, numbering stays gap-free.
        with transaction.atomic():
            write_correspondence(
                units=ministry.units,
                users=ministry.users,
                count=size,
                seed=int(options["seed"]) * 1_000_003 + done,
                batch=size,
                days=days,
            )
        done += size
        stdout.write(f"{done}/{total} dispatches written")
    refresh_statistics()  # bulk rows: without fresh statistics the planner picks the wrong indexes
    stdout.write(f"Generated {done} dispatches (written in bulk: run `chancery reindex` to make them searchable).")


GENERATORS = {
    "dispatches": ("demo-like dispatches in bulk: numbered, encrypted, signed", _add_arguments, _run),
}
