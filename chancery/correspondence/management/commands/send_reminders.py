"""`chancery send-reminders`: send today's reminders and escalations of attributions."""

from __future__ import annotations

from argparse import ArgumentParser
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from chancery.correspondence.reminders import ensure_scheduled, send_reminders


class Command(BaseCommand):
    help = (
        "Send the reminders (before and after the due date) and escalations of attributions due today; "
        "--schedule queues the daily background run instead."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--date", help="act as if today were this date (YYYY-MM-DD)")
        parser.add_argument("--schedule", action="store_true", help="queue the daily background task")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["schedule"]:
            queued = ensure_scheduled()
            self.stdout.write("daily reminders queued" if queued else "daily reminders already queued")
            return
        today = timezone.localdate()
        if options.get("date"):
            try:
                today = date.fromisoformat(options["date"])
            except ValueError as exc:
                raise CommandError(f"--date: {options['date']!r} is not a date (YYYY-MM-DD)") from exc
        self.stdout.write(send_reminders(today=today).line())
        from chancery.planning.reminders import send_programme_reminders

        programmes = send_programme_reminders(today=today)
        self.stdout.write(
            f"programmes: {programmes.sent['updates']} progress-update reminders, "
            f"{programmes.sent['programme']} next-programme reminders"
        )
