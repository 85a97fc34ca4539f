from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from chancery.backup.archive import BackupError
from chancery.backup.cli import add_passphrase_arguments, progress_factory, read_passphrase
from chancery.backup.services import restore_backup


class Command(BaseCommand):
    help = (
        "Restore a backup taken by `chancery backup` into this (empty) database and data dir; "
        "--verify proves the result (row counts, file hashes, dispatch signatures, audit chain)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("source", metavar="SRC", help="the backup directory")
        parser.add_argument("--keys", metavar="FILE", help="the key file written with the backup")
        add_passphrase_arguments(parser)
        parser.add_argument("--verify", action="store_true", help="prove the restored copy afterwards")
        parser.add_argument(
            "--force", action="store_true",
            help="replace the content of a database and data dir that are not empty (destroys it)",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bars")

    def handle(self, *args: Any, **options: Any) -> None:
        key_file = Path(options["keys"]) if options["keys"] else None
        passphrase = read_passphrase(options, needed=key_file is not None)
        source = Path(options["source"])
        if not source.is_dir():
            raise CommandError(f"{source} is not a backup directory")
        try:
            report = restore_backup(
                source=source, key_file=key_file, passphrase=passphrase, force=options["force"],
                verify=options["verify"], progress=progress_factory(not options["no_progress"]),
            )
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"restored {report.rows} rows in {report.tables} tables and {report.files} files")
        for line in report.checks:
            self.stdout.write(f"verified: {line}")
