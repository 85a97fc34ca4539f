"""`chancery createuser`: create an agent with memberships and a clearance."""

from __future__ import annotations

import sys
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from chancery.accounts import services
from chancery.accounts.roles import Role
from chancery.core.classification import LEVEL_KEYS, Level
from chancery.organisation.models import Unit


class Command(BaseCommand):
    help = "Create an agent (user) with a clearance and memberships in units."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")
        parser.add_argument("--unit", action="append", default=[], help="unit code; repeat for several units")
        parser.add_argument("--role", action="append", default=[], choices=Role.values,
                            help="role in the matching --unit (one per --unit; the last one repeats)")
        parser.add_argument("--clearance", default="unclassified", choices=LEVEL_KEYS)
        parser.add_argument("--compartment", action="append", default=[], help="compartment code; repeatable")
        parser.add_argument("--first-name", default="")
        parser.add_argument("--last-name", default="")
        parser.add_argument("--email", default="")
        parser.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
        parser.add_argument("--superuser", action="store_true", help="make a super-administrator")

    def handle(self, *args: Any, **options: Any) -> None:
        password = None
        if options["password_stdin"]:
            password = sys.stdin.readline().rstrip("\n")
            if not password:
                raise CommandError("no password on standard input")
        units: list[Unit] = []
        for code in options["unit"]:
            unit = Unit.objects.unrestricted("command line").filter(code=code).first()
            if unit is None:
                raise CommandError(f"unknown unit {code!r}")
            units.append(unit)
        roles = options["role"] or ([Role.AGENT] if units else [])
        if units and len(roles) > len(units):
            raise CommandError("more --role than --unit")
        roles = roles + [roles[-1]] * (len(units) - len(roles)) if units else []
        try:
            user = services.create_user(
                actor=None,
                username=options["username"],
                password=password,
                first_name=options["first_name"],
                last_name=options["last_name"],
                email=options["email"],
                clearance_level=Level.from_key(options["clearance"]),
                compartments=options["compartment"],
                memberships=list(zip(units, roles, strict=True)),
                is_superuser=options["superuser"],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(f"created {user.username}")
