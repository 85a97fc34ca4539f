from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from chancery.backup.archive import BackupError
from chancery.backup.cli import add_passphrase_arguments, progress_factory, read_passphrase
from chancery.backup.services import take_backup


class Command(BaseCommand):
    help = (
        "Take a consistent online backup (database, every file under the data dir, wrapped data keys) "
        "into DEST, with a signed manifest; --keys FILE exports the key-encryption keys apart, under a passphrase."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("destination", metavar="DEST", help="a new directory for the backup")
        parser.add_argument(
            "--keys", metavar="FILE",
            help="also write the key-encryption keys to FILE, sealed by a passphrase (keep it apart from the backup)",
        )
        add_passphrase_arguments(parser)
        parser.add_argument("--no-progress", action="store_true", help="no progress bars")

    def handle(self, *args: Any, **options: Any) -> None:
        key_file = Path(options["keys"]) if options["keys"] else None
        passphrase = read_passphrase(options, needed=key_file is not None)
        try:
            report = take_backup(
                destination=Path(options["destination"]), key_file=key_file, passphrase=passphrase,
                progress=progress_factory(not options["no_progress"]),
            )
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"backup written to {report.destination}: {report.rows} rows in {report.tables} tables, "
            f"{report.files} files, {report.bytes} bytes; audit checkpoint at event {report.checkpoint_sequence}"
        )
        if report.key_file is not None:
            self.stdout.write(f"key-encryption keys sealed in {report.key_file}: keep it apart from the backup")
        else:
            self.stdout.write("no key file written (--keys FILE): the backup is readable only with this "
                              "server's key-encryption keys")
