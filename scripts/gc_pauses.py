"""What the garbage collector costs a page, with and without `chancery serve`'s preparation before the fork.

    CHANCERY_DATA_DIR=/path/to/site .venv/bin/python scripts/gc_pauses.py director.dab / [--requests 150] [--prefork]

One process, Django's test client (the whole middleware and template stack): five warm-up requests, then
`--requests` timed ones, with every collection timed (`gc.callbacks`). `--prefork` first does what the server's
master process does before forking its workers (`chancery.core.prefork.prepare_for_fork`: the URL map and the
templates built, everything alive frozen). Printed: the page's p50 and p95, the collector's milliseconds per
request, the collections per generation, and the longest (a full collection of an unfrozen heap is the one that
stalls a worker).
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("username")
    parser.add_argument("path")
    parser.add_argument("--requests", type=int, default=150)
    parser.add_argument("--prefork", action="store_true", help="prepare as `chancery serve` does before forking")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chancery.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.test import override_settings

    from chancery.correspondence.benchmarks import _signed_in

    if args.prefork:
        from chancery.core.prefork import prepare_for_fork
        from chancery.wsgi import application  # noqa: F401  # as the server loads it before forking

        prepare_for_fork()
    paused = {"seconds": 0.0, "longest": 0.0, "started": 0.0}
    collections = [0, 0, 0]

    def timed(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            paused["started"] = time.perf_counter()
            return
        pause = time.perf_counter() - paused["started"]
        paused["seconds"] += pause
        paused["longest"] = max(paused["longest"], pause)
        collections[info["generation"]] += 1

    plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    with override_settings(STORAGES={**settings.STORAGES, "staticfiles": plain}):
        client = _signed_in(args.username)
        for _ in range(5):
            assert client.get(args.path).status_code == 200
        gc.callbacks.append(timed)
        walls = []
        for _ in range(args.requests):
            started = time.perf_counter()
            client.get(args.path)
            walls.append((time.perf_counter() - started) * 1000)
        gc.callbacks.remove(timed)
    walls.sort()
    print(
        f"{args.path} as {args.username}{' (prefork)' if args.prefork else ''}: p50 {statistics.median(walls):.1f} ms, "
        f"p95 {walls[int(len(walls) * 0.95)]:.1f} ms; collector {paused['seconds'] / len(walls) * 1000:.2f} ms a "
        f"request, collections by generation {collections}, longest {paused['longest'] * 1000:.1f} ms; "
        f"objects frozen {gc.get_freeze_count()}, still walked {len(gc.get_objects())}"
    )


if __name__ == "__main__":
    main()
