"""`chancery generate letters --count N --out DIR [--seed S] [--expected]`: synthetic letters.

Registered with the core `generate` command through `GENERATORS`; the letters themselves come
from `chancery.imports.synthetic` (varied, deterministic for a seed, neutral content).
"""

from __future__ import annotations

import time
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import CommandError


def _add_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--count", type=int, default=100, help="number of letters (default 100)")
    parser.add_argument("--out", required=True, help="folder to write them into (created)")
    parser.add_argument("--seed", type=int, default=2026, help="random seed (default 2026): same seed, same letters")
    parser.add_argument(
        "--expected", action="store_true", help="also write each letter's expected record (NAME.expected.json)"
    )


def _run(options: dict[str, Any], stdout: Any) -> None:
    from chancery.imports.synthetic import write_letters

    if options["count"] < 1:
        raise CommandError("--count must be at least 1")
    started = time.monotonic()
    paths = write_letters(options["count"], options["out"], seed=options["seed"], expected=options["expected"])
    stdout.write(
        f"{len(paths)} letter(s) written to {options['out']} in {time.monotonic() - started:.1f} s "
        f"(seed {options['seed']})"
    )


GENERATORS = {
    "letters": (
        "synthetic letters to import (TXT, Markdown, DOCX, HTML, e-mail; French, English, Spanish)",
        _add_arguments,
        _run,
    ),
}
