"""`chancery verify-dispatch REF`: check a sent dispatch's signature and attachment hashes."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from chancery.correspondence.models import Dispatch
from chancery.correspondence.signatures import verify_dispatch


class Command(BaseCommand):
    help = (
        "Verify a sent dispatch: its Ed25519 signature over the canonical content and the "
        "SHA-256 of every attachment file. Prints one line; exits non-zero when invalid."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("reference", help="the dispatch reference, e.g. LIMA/2014/0584")

    def handle(self, *args: Any, **options: Any) -> None:
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
