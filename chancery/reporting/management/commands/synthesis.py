"""`chancery synthesis MISSION YEAR --format pdf|docx|xlsx --as USER --out FILE`.

Writes the execution synthesis of MISSION's programme for YEAR as USER may read it (the
same gate, the same report as the page). A missing programme and one outside USER's scope
give the same error. The file is written whole or not at all.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation

from chancery.accounts.models import User
from chancery.planning.models import Programme
from chancery.reporting import renderers, services
from chancery.reporting.synthesis import report_for


class Command(BaseCommand):
    help = "Write the execution synthesis of a mission's programme for a year (PDF, DOCX or XLSX)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("mission", help="the mission's unit code, e.g. DAKAR")
        parser.add_argument("year", type=int, help="the programme's year")
        parser.add_argument("--format", dest="output_format", choices=sorted(renderers.FORMATS), default="pdf")
        parser.add_argument(
            "--as",
            dest="username",
            metavar="USER",
            required=True,
            help="the agent whose access decides what the report contains",
        )
        parser.add_argument("--out", required=True, help="the file to write")
        parser.add_argument("--language", default="fr", choices=["fr", "en", "ar", "es"])

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.unrestricted("command line").filter(username=options["username"], is_active=True).first()
        if user is None:
            raise CommandError(f"no active user {options['username']!r}")
        out = Path(options["out"])
        if not out.parent.is_dir():
            raise CommandError(f"no such folder: {out.parent}")
        programme = (
            Programme.objects.visible_to(user)
            .filter(mission__code=options["mission"], year__lte=options["year"], end_year__gte=options["year"])
            .select_related("mission")
            .first()
        )
        if programme is None:
            raise CommandError(
                f"no programme of {options['mission']} for {options['year']} that {user.username} may read"
            )
        with translation.override(options["language"]):
            try:
                services.check_synthesisable(programme)
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from exc
            report = report_for(user, programme, language=options["language"])
            data = renderers.render(report, options["output_format"])
        services.record_export(
            user=user,
            table="synthesis",
            output_format=options["output_format"],
            rows=len(report.indicators),
            filters={"programme": programme.pk, "via": "cli"},
        )
        handle, temporary = tempfile.mkstemp(dir=out.parent, prefix=".synthesis-")
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
            os.replace(temporary, out)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        state = "frozen" if report.frozen else "provisional"
        partial = f", partial view ({report.left_out} item(s) left out)" if report.partial else ""
        self.stdout.write(f"wrote {out} ({len(data)} bytes, {state}, marking {report.marking.label()}{partial})")
