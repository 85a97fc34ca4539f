from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from chancery.audit.services import verify_chain


class Command(BaseCommand):
    help = "Verify the hash chain of the audit log (detects edits, deletions, reordering, truncation)."

    def handle(self, *args: Any, **options: Any) -> None:
        verdict = verify_chain()
        if not verdict.valid:
            raise CommandError(f"audit log NOT valid: {verdict.message}")
        self.stdout.write(f"audit log valid: {verdict.message}")
