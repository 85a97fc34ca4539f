"""`chancery import-letter FILE... [--dry-run] [--json] [--as USER]`: letters into records."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import translation

from chancery.accounts.models import User
from chancery.imports import bulk, services
from chancery.imports.matching import UnitDirectory

MAX_WARNING_LINES = 50


class Command(BaseCommand):
    help = (
        "Import letters (TXT/Markdown, DOCX, ODT, EML, HTML, PDF with text) as incoming dispatches and draft "
        "programmes. With --dry-run nothing is saved (--json prints the extracted records); folders are imported "
        "in bulk, with a progress bar and a summary, and a rerun resumes. Files already imported are skipped."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("paths", nargs="+", metavar="FILE", help="letters, or folders of letters")
        parser.add_argument("--dry-run", action="store_true", help="extract and match only; save nothing")
        parser.add_argument("--json", action="store_true", help="print JSON (one object, or a list for several)")
        parser.add_argument("--as", dest="username", metavar="USER", help="the registry agent who imports (required "
                            "to save)")
        parser.add_argument("--unit", metavar="CODE", help="the registering unit (default: the agent's registry)")
        parser.add_argument(
            "--unmatched",
            choices=["fail", "registry"],
            default="fail",
            help="a 'Pour attribution' unit that matches no unit: fail the file (default), or route it for action "
            "to the registering unit, to be routed by hand",
        )
        parser.add_argument(
            "--no-notify",
            action="store_true",
            help="historical correspondence: register without notifying the routed units",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")
        parser.add_argument("--summary-json", metavar="PATH", help="also write the run's summary as JSON to PATH")
        parser.add_argument("--lang", default="en", choices=["en", "fr", "es", "ar"], help="language of messages")

    def handle(self, *args: Any, **options: Any) -> None:
        with translation.override(options["lang"]):
            self._handle(options)

    def _handle(self, options: dict[str, Any]) -> None:
        paths = [Path(p) for p in options["paths"]]
        missing = [str(p) for p in paths if not p.exists()]
        if missing:
            raise CommandError(f"no such file or folder: {', '.join(missing)}")
        has_folder = any(p.is_dir() for p in paths)
        if options["dry_run"]:
            self._dry_run(paths, options, has_folder)
            return
        if not options["username"]:
            raise CommandError("--as USER is required to save (or use --dry-run)")
        user = User.objects.unrestricted("command line").filter(username=options["username"], is_active=True).first()
        if user is None:
            raise CommandError(f"no active user {options['username']!r}")
        try:
            unit = services.registry_unit_for(user, options["unit"])
        except services.ImportFailed as exc:
            raise CommandError(exc.message) from exc
        results: list[dict[str, Any]] = []

        def report(path: Path, result: services.ImportResult) -> None:
            results.append(result.to_dict() | {"file": str(path)})
            if options["json"] or has_folder:
                return
            if result.status == "imported":
                line = f"imported {path} → {result.dispatch.reference}"
                if result.programme is not None:
                    line += f" (draft programme #{result.programme.pk})"
                self.stdout.write(line)
                for warning in result.warnings:
                    self.stdout.write(f"  warning: {warning}")
            elif result.status == "skipped":
                reference = getattr(result.dispatch, "reference", None) or "?"
                self.stdout.write(f"skipped {path}: already imported ({reference})")

        summary = bulk.run_bulk(
            actor=user,
            paths=[str(p) for p in paths],
            registry_unit=unit,
            unmatched=options["unmatched"],
            notify=not options["no_notify"],
            progress=has_folder and not options["no_progress"],
            stream=self._raw_stderr(),
            on_result=report,
        )
        if options["json"]:
            self.stdout.write(json.dumps(results[0] if len(results) == 1 else results, ensure_ascii=False, indent=2))
        if has_folder or len(results) > 1:
            self._print_summary(summary, self.stderr if options["json"] else self.stdout)
        if options["summary_json"]:
            Path(options["summary_json"]).write_text(json.dumps(summary.to_dict(), ensure_ascii=False, indent=2))
        if summary.failed:
            raise CommandError(f"{summary.failed} file(s) could not be imported")

    def _raw_stderr(self) -> Any:
        """The command's stderr without Django's line-ending wrapper (the bar redraws in place)."""
        return getattr(self.stderr, "_out", sys.stderr)

    def _print_summary(self, summary: bulk.BulkSummary, out: Any) -> None:
        out.write(
            f"{summary.total} file(s): {summary.imported} imported ({summary.programmes} draft programme(s)), "
            f"{summary.skipped} skipped (already imported), {summary.failed} failed"
            + (f"; {summary.ignored} other file(s) ignored" if summary.ignored else "")
            + f" — {summary.elapsed:.1f} s, {summary.rate:.1f} files/s"
            + (" (resumed run)" if summary.resumed else "")
        )
        for file, code, message in summary.failures:
            out.write(f"  failed {file} [{code}]: {message}")
        for file, message in summary.warnings[:MAX_WARNING_LINES]:
            out.write(f"  warning {file}: {message}")
        if len(summary.warnings) > MAX_WARNING_LINES:
            out.write(f"  … and {len(summary.warnings) - MAX_WARNING_LINES} more warning(s) (see --summary-json)")

    def _dry_run(self, paths: list[Path], options: dict[str, Any], has_folder: bool) -> None:
        files, ignored = bulk.collect_files([str(p) for p in paths])
        directory = UnitDirectory.load()
        records: list[dict[str, Any] | None] = []
        failed = 0
        progress = bulk.Progress(
            len(files), stream=self._raw_stderr(), enabled=has_folder and not options["no_progress"]
        )
        for done, path in enumerate(files, start=1):
            try:
                preview = services.dry_run(data=bulk.read_letter(path), filename=path.name, directory=directory)
            except services.ImportFailed as exc:
                failed += 1
                records.append(None)
                progress.message(f"{path}: {exc.message}")
            else:
                # the record, and per field how sure the reading is and the line it came from
                records.append(preview.extraction.to_expected_dict() | {"fields": preview.extraction.field_report()})
                if not options["json"] and not has_folder:
                    self._describe(path, preview)
            progress.update(done, f"read {done - failed} · failed {failed}")
        progress.close()
        if options["json"]:
            self.stdout.write(json.dumps(records[0] if len(records) == 1 else records, ensure_ascii=False, indent=2))
        elif has_folder:
            self.stdout.write(
                f"{len(files)} file(s): {len(files) - failed} read, {failed} failed"
                + (f"; {ignored} other file(s) ignored" if ignored else "")
                + " (dry run: nothing saved)"
            )
        if failed:
            raise CommandError(f"{failed} file(s) could not be read")

    def _describe(self, path: Path, preview: services.LetterPreview) -> None:
        letter = preview.extraction.dispatch
        write = self.stdout.write
        write(f"{path} (dry run: nothing saved)")
        report = preview.extraction.field_report()
        for name, value in letter.to_expected_dict().items():
            write(f"  {name:<15} {value if value not in (None, []) else '—'}{_how_sure(report[name])}")
        for line in preview.routing:
            target = line.match.unit.code if line.match.resolved and line.match.unit else "UNMATCHED"
            extra = ""
            if line.match.candidates:
                extra = " (did you mean " + ", ".join(c.unit.code for c in line.match.candidates[:3]) + "?)"
            write(f"  route {line.kind:<6} {line.match.text} → {target} [{line.match.method}]{extra}")
        mission = preview.mission.unit.code if preview.mission.resolved and preview.mission.unit else "unknown"
        write(f"  sending mission {mission}")
        programme = preview.extraction.programme
        if programme is not None:
            write(f"  programme      year {programme.year}, axes {', '.join(programme.axis_keys) or '—'}, "
                  f"{len(programme.objectives)} objective(s), {len(programme.indicators)} indicator(s)"
                  f"{_how_sure(report['programme'])}")
        for problem in preview.extraction.problems:
            write(f"  unclear: {problem.message(services.language())}")


def _how_sure(field: dict[str, Any]) -> str:
    """'  [line 6, 95 %]', with 'CHECK' when the reading is unsure; nothing for a field not found."""
    if field["confidence"] is None:
        return ""
    check = ", CHECK" if field["check"] else ""
    return f"  [line {field['line']}, {round(field['confidence'] * 100)} %{check}]"
