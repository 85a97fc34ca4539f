"""`chancery reindex`: rebuild the search index with a progress bar; resumable; runs while serving."""

from __future__ import annotations

import time
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from chancery.core.progress import ProgressBar
from chancery.search.indexing import BATCH, catch_up, reindex
from chancery.search.models import DocumentType


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise CommandError(f"not a whole number: {text!r}") from exc
    if value < 1:
        raise CommandError("must be at least 1")
    return value


class Command(BaseCommand):
    help = (
        "Rebuild the search index (dispatches, attachments, actions, achievements, programmes). "
        "An interrupted run resumes where it stopped; --restart begins again. The application may keep serving."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--type",
            action="append",
            choices=[t.value for t in DocumentType],
            help="only this document type (repeatable)",
        )
        parser.add_argument("--restart", action="store_true", help="ignore a previous interrupted run")
        parser.add_argument(
            "--batch-size", type=_positive_int, default=BATCH, help=f"objects per transaction (default {BATCH})"
        )
        parser.add_argument(
            "--jobs",
            type=_positive_int,
            default=1,
            help="worker processes reading and analysing batches while this one writes (default 1; at most the cores)",
        )
        parser.add_argument(
            "--stale",
            action="store_true",
            help="only objects missing from the index or changed since indexed (after bulk writes)",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")
        parser.add_argument(
            "--access",
            action="store_true",
            help="rebuild the correspondence access index (who may read which dispatch) instead",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["access"]:
            from django.db import transaction

            from chancery.core.db import refresh_statistics
            from chancery.correspondence.access_index import rebuild_access_index

            started = time.monotonic()
            with transaction.atomic():
                rows = rebuild_access_index()
            refresh_statistics()
            self.stdout.write(f"Access index rebuilt: {rows} rows in {time.monotonic() - started:.1f} s.")
            return
        if options["stale"]:
            found = catch_up(types=options["type"], enqueue=False, batch=options["batch_size"])
            self.stdout.write("Index caught up: " + ", ".join(f"{n} {t}" for t, n in found.items()) + ".")
            return
        bar = None if options["no_progress"] else ProgressBar()
        progress = bar.show if bar is not None else None

        counts = reindex(
            types=options["type"],
            restart=options["restart"],
            progress=progress,
            batch=options["batch_size"],
            jobs=options["jobs"],
        )
        summary = ", ".join(f"{n} {t}" for t, n in counts.items())
        self.stdout.write(f"Index rebuilt: {summary}.")
