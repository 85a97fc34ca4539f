"""`chancery verify-dispatch REF`: check a sent dispatch's signature and attachment hashes."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from chancery.correspondence.models import Dispatch
from chancery.correspondence.signatures import verify_dispatch


class Command(BaseCommand):
    help = (
        "Verify a sent dispatch (or, with --package, a signed package offline): its Ed25519 "
        "signature over the canonical content and the "
        "SHA-256 of every attachment file. Prints one line; exits non-zero when invalid."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("reference", nargs="?", help="the dispatch reference, e.g. LIMA/2014/0584")
        parser.add_argument("--package", help="verify a signed package file instead (offline: no database needed)")
        parser.add_argument("--key", help="with --package: the unit key's published fingerprint (SHA-256 hex)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options.get("package"):
            from chancery.correspondence.package_format import check

            try:
                data = Path(options["package"]).read_bytes()
            except OSError as exc:
                raise CommandError(f"{options['package']}: {exc.strerror or exc}") from exc
            checked = check(data, expected_fingerprint=options.get("key"))
            if not checked.valid:
                raise CommandError(checked.line())
            self.stdout.write(checked.line())
            return
        if not options.get("reference"):
            raise CommandError("give a reference, or --package FILE")
        reference = str(options["reference"]).strip()
        dispatch = (
            Dispatch.objects.unrestricted("integrity check from the command line")
            .select_related("sending_unit", "author", "sent_by", "data_key", "in_reply_to")
            .filter(reference=reference)
            .first()
        )
        if dispatch is None:
            raise CommandError(f"{reference}: no dispatch has this reference")
        result = verify_dispatch(dispatch)
        if not result.valid:
            raise CommandError(result.line())
        self.stdout.write(result.line())
