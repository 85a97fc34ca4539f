from __future__ import annotations

from argparse import ArgumentParser, ArgumentTypeError
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from chancery.crypto.exceptions import CryptoError
from chancery.crypto.services import rotate_keys


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise ArgumentTypeError("must be at least 1")
    return value


class Command(BaseCommand):
    help = "Re-wrap every data key under a new key-encryption key; safe to interrupt and resume."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--batch-size",
            type=_positive_int,
            default=500,
            help="data keys re-wrapped per transaction (default 500)",
        )
        parser.add_argument(
            "--retire",
            action="store_true",
            help="afterwards, move key-encryption keys that nothing references any more to keys/retired/",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        verbose = options["verbosity"] >= 2

        def progress(done: int, total: int) -> None:
            if verbose:
                self.stderr.write(f"{done}/{total} data keys re-wrapped")

        try:
            report = rotate_keys(
                batch_size=options["batch_size"], progress=progress, retire=options["retire"]
            )
        except CryptoError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(report.summary())
