"""`chancery bench NAME`: run a benchmark and write its results under bench/results/.

Each app may offer benchmarks in its `benchmarks.py`: a dict `BENCHMARKS = {name: (help, add_arguments, run)}`
where `add_arguments(parser)` declares options and `run(options, stdout) -> dict` returns the record
(figures, and optionally `markdown`: a human summary written beside it as NAME.md).
Speed and memory targets live here, never in timed tests.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError


def registered_benchmarks() -> dict[str, Any]:
    found: dict[str, Any] = {}
    for config in apps.get_app_configs():
        if not config.name.startswith("chancery."):
            continue
        try:
            module = importlib.import_module(f"{config.name}.benchmarks")
        except ModuleNotFoundError:
            continue
        found.update(getattr(module, "BENCHMARKS", {}))
    return found


def machine_info() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def results_dir() -> Path:
    return Path(os.environ.get("CHANCERY_BENCH_RESULTS", "bench/results"))


class Command(BaseCommand):
    help = "Run a benchmark (e.g. `chancery bench import --count 10000`); results go to bench/results/."

    def add_arguments(self, parser: Any) -> None:
        subparsers = parser.add_subparsers(dest="benchmark", metavar="NAME")
        for name, (help_text, add_arguments, _run) in sorted(registered_benchmarks().items()):
            sub = subparsers.add_parser(name, help=help_text)
            add_arguments(sub)

    def handle(self, *args: Any, **options: Any) -> None:
        name = options.get("benchmark")
        benchmarks = registered_benchmarks()
        if not name or name not in benchmarks:
            raise CommandError(f"name a benchmark: {', '.join(sorted(benchmarks)) or '(none registered)'}")
        _help, _add, run = benchmarks[name]
        record = dict(run(options, self.stdout))
        markdown = record.pop("markdown", None)
        record.setdefault("command", "chancery " + " ".join(sys.argv[1:]))
        record.setdefault("machine", machine_info())
        out = results_dir()
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"{name}.json"
        path.write_text(json.dumps(record, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
        if markdown:
            path.with_suffix(".md").write_text(markdown, encoding="utf-8")
        self.stdout.write(f"results written to {path}")
