"""`chancery token`: print a new API token for an agent."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from chancery.accounts import services
from chancery.accounts.models import User


class Command(BaseCommand):
    help = "Print a new API token for a user (shown once; only its hash is stored)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="cli", help="a label for the token")
        parser.add_argument("--days", type=int, default=365, help="lifetime in days (default 365)")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.unrestricted("command line").filter(username=options["username"], is_active=True).first()
        if user is None:
            raise CommandError(f"no active user {options['username']!r}")
        if options["days"] < 1:
            raise CommandError("--days must be at least 1")
        self.stdout.write(services.issue_api_token(user=user, name=options["name"], lifetime_days=options["days"]))
