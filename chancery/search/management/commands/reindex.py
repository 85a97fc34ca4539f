"""`chancery reindex`: rebuild the search index with a progress bar; resumable; runs while serving."""

from __future__ import annotations

import sys
import time
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from chancery.search.indexing import reindex
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
        parser.add_argument("--batch-size", type=_positive_int, default=200, help="objects per transaction")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")
        parser.add_argument(
            "--access",
            action="store_true",
            help="rebuild the correspondence access index (who may read which dispatch) instead",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        if options["access"]:
            from django.db import transaction

            from chancery.core.db import refresh_statistics
            from chancery.correspondence.access_index import rebuild_access_index

            with transaction.atomic():
                rows = rebuild_access_index()
            refresh_statistics()
            self.stdout.write(f"Access index rebuilt: {rows} rows in {time.monotonic() - started:.1f} s.")
            return
        show = not options["no_progress"]

        def progress(doc_type: str, done: int, total: int) -> None:
            if not show:
                return
            width = 30
            filled = int(width * done / total) if total else width
            rate = done / max(time.monotonic() - started, 1e-6)
            bar = "#" * filled + "-" * (width - filled)
            sys.stderr.write(f"\r{doc_type:<12} [{bar}] {done}/{total} ({rate:.0f}/s)")
            sys.stderr.flush()
            if done >= total:
                sys.stderr.write("\n")

        counts = reindex(
            types=options["type"], restart=options["restart"], progress=progress, batch=options["batch_size"]
        )
        summary = ", ".join(f"{n} {t}" for t, n in counts.items())
        self.stdout.write(f"Index rebuilt: {summary}.")
