"""`chancery demo`: load the demo ministry (and each domain's demo data)."""

from __future__ import annotations

import importlib
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from chancery.core.db import refresh_statistics
from chancery.organisation.models import Unit

# Each domain app may offer `demo.populate(ministry=..., seed=..., stdout=...)`, run in this order.
DOMAIN_DEMOS = ["chancery.correspondence.demo", "chancery.planning.demo", "chancery.search.demo"]


class Command(BaseCommand):
    help = "Load the demo ministry: units, missions, agents, correspondence and programmes (deterministic)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
        parser.add_argument("--if-empty", action="store_true", help="do nothing if the database has units")
        parser.add_argument("--organisation-only", action="store_true", help="only units and agents")

    def handle(self, *args: Any, **options: Any) -> None:
        from chancery.organisation.demo import DEMO_LOGINS, DEMO_PASSWORD, build_ministry

        has_units = Unit.objects.unrestricted("emptiness check").exists()
        if has_units and options["if_empty"]:
            self.stdout.write("The database already holds a ministry; demo not loaded again.")
            self._print_logins(DEMO_LOGINS, DEMO_PASSWORD)
            return
        if has_units:
            raise CommandError("the database already holds units; the demo loads into an empty database only")
        with transaction.atomic():
            ministry = build_ministry(seed=options["seed"])
        self.stdout.write(f"Demo ministry: {len(ministry.units)} units, {len(ministry.users)} agents.")
        if not options["organisation_only"]:
            for module_name in DOMAIN_DEMOS:
                try:
                    module = importlib.import_module(module_name)
                except ModuleNotFoundError:
                    continue
                module.populate(ministry=ministry, seed=options["seed"], stdout=self.stdout)
        refresh_statistics()  # the planner must know the tables' new sizes before the first page
        self._print_logins(DEMO_LOGINS, DEMO_PASSWORD)

    def _print_logins(self, logins: list[tuple[str, str]], password: str) -> None:
        from chancery.accounts.models import User

        existing = set(
            User.objects.unrestricted("demo logins").filter(username__in=[u for u, _ in logins]).values_list(
                "username", flat=True
            )
        )
        if not existing:
            return
        self.stdout.write("")
        self.stdout.write(f"Demo logins (password for all: {password}):")
        for username, what in logins:
            if username in existing:
                self.stdout.write(f"  {username:<18} {what}")
        self.stdout.write("Agents cleared Confidentiel or above set up a second factor (TOTP) at first sign-in.")
