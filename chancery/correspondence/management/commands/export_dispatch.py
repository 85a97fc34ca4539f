"""`chancery export-dispatch REF --out FILE`: write a sent dispatch's signed package."""

from __future__ import annotations

import os
import tempfile
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from chancery.correspondence.models import Dispatch
from chancery.correspondence.packages import export_package
from chancery.correspondence.services import InvalidState


class Command(BaseCommand):
    help = (
        "Export a sent dispatch as a signed package (zip: canonical content, attachments, Ed25519 "
        "signature, the unit's public key) that `chancery verify-dispatch --package` checks offline."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("reference", help="the dispatch reference, e.g. LIMA/2014/0584")
        parser.add_argument("--out", required=True, help="the package file to write (.zip)")

    def handle(self, *args: Any, **options: Any) -> None:
        reference = str(options["reference"]).strip()
        out = Path(options["out"])
        dispatch = (
            Dispatch.objects.unrestricted("export from the command line (operator)")
            .select_related("sending_unit", "author", "sent_by", "data_key", "in_reply_to")
            .filter(reference=reference)
            .first()
        )
        if dispatch is None:
            raise CommandError(f"{reference}: no dispatch has this reference")
        if not out.parent.is_dir():
            raise CommandError(f"{out.parent}: no such directory")
        try:
            data = export_package(dispatch=dispatch)
        except InvalidState as exc:
            raise CommandError(str(exc)) from exc
        # Written beside the target then renamed: never a half-written package.
        handle, temporary = tempfile.mkstemp(dir=out.parent, prefix=".export-", suffix=".zip")
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
            os.replace(temporary, out)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        self.stdout.write(f"{reference}: package written to {out} ({len(data)} bytes)")
