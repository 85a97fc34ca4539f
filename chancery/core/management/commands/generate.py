"""`chancery generate KIND`: generate synthetic data (e.g. letters for import benchmarks).

Apps offer generators in their `generators.py`: `GENERATORS = {kind: (help, add_arguments, run)}`.
"""

from __future__ import annotations

import importlib
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError


def registered_generators() -> dict[str, Any]:
    found: dict[str, Any] = {}
    for config in apps.get_app_configs():
        if not config.name.startswith("chancery."):
            continue
        try:
            module = importlib.import_module(f"{config.name}.generators")
        except ModuleNotFoundError:
            continue
        found.update(getattr(module, "GENERATORS", {}))
    return found


class Command(BaseCommand):
    help = "Generate synthetic data, e.g. `chancery generate letters --count 10000 --out DIR`."

    def add_arguments(self, parser: Any) -> None:
        subparsers = parser.add_subparsers(dest="kind", metavar="KIND")
        for name, (help_text, add_arguments, _run) in sorted(registered_generators().items()):
            add_arguments(subparsers.add_parser(name, help=help_text))

    def handle(self, *args: Any, **options: Any) -> None:
        kind = options.get("kind")
        generators = registered_generators()
        if not kind or kind not in generators:
            raise CommandError(f"name what to generate: {', '.join(sorted(generators)) or '(nothing registered)'}")
        generators[kind][2](options, self.stdout)
