"""What the backup and restore commands share: the passphrase and the progress bars."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

PASSPHRASE_ENV = "CHANCERY_KEY_PASSPHRASE"  # noqa: S105 - the name of a variable, not a secret


def add_passphrase_arguments(parser: Any) -> None:
    parser.add_argument("--passphrase-file", metavar="FILE", help="read the key file's passphrase from FILE")
    parser.add_argument("--passphrase-stdin", action="store_true", help="read the key file's passphrase from stdin")


def read_passphrase(options: dict[str, Any], *, needed: bool) -> str | None:
    """From --passphrase-file, --passphrase-stdin or $CHANCERY_KEY_PASSPHRASE; never from the command line."""
    if options.get("passphrase_file"):
        try:
            return Path(options["passphrase_file"]).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise CommandError(f"cannot read {options['passphrase_file']}: {exc.strerror}") from exc
    if options.get("passphrase_stdin"):
        return sys.stdin.readline().rstrip("\r\n")
    if os.environ.get(PASSPHRASE_ENV):
        return os.environ[PASSPHRASE_ENV]
    if needed:
        raise CommandError(
            f"the key file needs a passphrase: --passphrase-file FILE, --passphrase-stdin or ${PASSPHRASE_ENV}"
        )
    return None


def progress_factory(enabled: bool) -> Any:
    from chancery.imports.bulk import Progress

    def make(total: int, label: str) -> Progress:
        return Progress(total, stream=sys.stderr, enabled=enabled)

    return make
