from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from chancery.audit.services import checkpoint_document, create_checkpoint, record_event
from chancery.crypto._fsutil import atomic_write


class Command(BaseCommand):
    help = (
        "Sign the current head of the audit chain and, with --out, export it to keep elsewhere "
        "(`chancery verify-audit --since FILE` then detects any later truncation)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--out", metavar="FILE", help="write the signed checkpoint to FILE (JSON)")

    def handle(self, *args: Any, **options: Any) -> None:
        out = Path(options["out"]) if options["out"] else None
        if out is not None and not out.parent.is_dir():
            raise CommandError(f"cannot write {out}: {out.parent} is not a directory")
        checkpoint = create_checkpoint(reason="manual")
        record_event(action="audit.checkpoint", object_type="audit.auditcheckpoint", object_id=checkpoint.pk,
                     details={"sequence": checkpoint.sequence, "exported": out is not None})
        if out is not None:
            document = json.dumps(checkpoint_document(checkpoint), indent=2) + "\n"
            try:
                atomic_write(out, document.encode("utf-8"), mode=0o644)
            except OSError as exc:
                raise CommandError(f"cannot write {out}: {exc.strerror}") from exc
        where = f", written to {out}" if out is not None else ""
        self.stdout.write(f"checkpoint of the audit chain at event {checkpoint.sequence}{where}")
