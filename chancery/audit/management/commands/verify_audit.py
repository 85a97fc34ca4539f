from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from chancery.audit.services import CheckpointError, read_checkpoint_document, verify_chain


class Command(BaseCommand):
    help = (
        "Verify the hash chain of the audit log (detects edited, deleted, inserted, reordered and truncated "
        "events and names the first bad one)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--since", metavar="CHECKPOINT",
            help="a checkpoint exported by `chancery audit-checkpoint --out`: proves the log still holds it "
                 "(catches a truncation that also rewrote the database) and verifies from there on",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        since = None
        if options["since"]:
            path = Path(options["since"])
            try:
                since = read_checkpoint_document(json.loads(path.read_text(encoding="utf-8")))
            except OSError as exc:
                raise CommandError(f"cannot read {path}: {exc.strerror}") from exc
            except (json.JSONDecodeError, CheckpointError) as exc:
                raise CommandError(f"{path}: {exc}") from exc
        verdict = verify_chain(since=since)
        if not verdict.valid:
            raise CommandError(f"audit log NOT valid: {verdict.message}")
        self.stdout.write(f"audit log valid: {verdict.message}")
