"""Bulk import of a folder of letters: progress on stderr, a summary, resumable.

Each file is imported in its own transaction (`services.import_letter`): a bad file leaves a
`failed` row with its reason and nothing else, and the run goes on. State lives in the
database, keyed by content hash: a rerun over the same folder resumes the unfinished
`ImportBatch` and skips every file already imported (by this run or any other).
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from django.utils import timezone
from django.utils.translation import gettext as _

from chancery.imports import services
from chancery.imports.extraction import ExtractionError
from chancery.imports.extraction.reading import KNOWN_EXTENSIONS
from chancery.imports.matching import UnitDirectory
from chancery.imports.models import BatchState, ImportBatch, ImportStatus, LetterImport
from chancery.organisation.models import Unit

CHECKPOINT_EVERY = 50  # files between two saves of the batch counters
# In a folder, only files named like letters are taken (a file named on the command line always is).
LETTER_EXTENSIONS = KNOWN_EXTENSIONS - {""}


@dataclass
class BulkSummary:
    total: int = 0
    imported: int = 0
    skipped: int = 0
    failed: int = 0
    ignored: int = 0  # files in the folders that are not letters (by extension)
    programmes: int = 0
    elapsed: float = 0.0
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # (file, code, message)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    batch_id: int | None = None
    resumed: bool = False

    @property
    def rate(self) -> float:
        return (self.imported + self.skipped + self.failed) / self.elapsed if self.elapsed > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "imported": self.imported,
            "skipped": self.skipped,
            "failed": self.failed,
            "ignored": self.ignored,
            "programmes": self.programmes,
            "elapsed_seconds": round(self.elapsed, 3),
            "files_per_second": round(self.rate, 2),
            "batch": self.batch_id,
            "resumed": self.resumed,
            "failures": [{"file": f, "code": c, "message": m} for f, c, m in self.failures],
            "warnings": [{"file": f, "message": m} for f, m in self.warnings],
        }


def collect_files(paths: Sequence[str | os.PathLike[str]]) -> tuple[list[Path], int]:
    """Files named directly, and the letters (by extension) found under folders, sorted.

    Returns the files and the number of other files ignored in the folders.
    """
    found: list[Path] = []
    ignored = 0
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for entry in sorted(p for p in path.rglob("*") if p.is_file()):
                if any(part.startswith(".") for part in entry.relative_to(path).parts):
                    continue
                if entry.suffix.lower() in LETTER_EXTENSIONS:
                    found.append(entry)
                else:
                    ignored += 1
        else:
            found.append(path)
    return found, ignored


class Progress:
    """A plain progress bar on stderr: redrawn in place on a terminal, a line per 10 % otherwise."""

    def __init__(self, total: int, *, stream: TextIO | None = None, enabled: bool = True, width: int = 30) -> None:
        self.total = max(total, 0)
        self.stream = stream or sys.stderr
        self.enabled = enabled and self.total > 0
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.width = width
        self.started = time.monotonic()
        self.last_draw = 0.0
        self.last_decile = -1
        self.drawn = False

    def line(self, done: int, counts: str) -> str:
        fraction = done / self.total if self.total else 1.0
        filled = int(self.width * fraction)
        elapsed = time.monotonic() - self.started
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - done) / rate if rate > 0 else 0.0
        bar = "#" * filled + "-" * (self.width - filled)
        return (
            f"[{bar}] {done}/{self.total} {fraction * 100:5.1f}%  {counts}  "
            f"{rate:.1f}/s  ETA {int(eta) // 60}:{int(eta) % 60:02d}"
        )

    def update(self, done: int, counts: str) -> None:
        if not self.enabled:
            return
        if self.tty:
            now = time.monotonic()
            if done < self.total and now - self.last_draw < 0.1:
                return
            self.last_draw = now
            self.stream.write("\r" + self.line(done, counts) + "\x1b[K")
            self.drawn = True
        else:
            decile = done * 10 // self.total if self.total else 10
            if decile != self.last_decile and (decile > self.last_decile):
                self.last_decile = decile
                self.stream.write(self.line(done, counts) + "\n")
        self.stream.flush()

    def message(self, text: str) -> None:
        """A line of its own (an error), without breaking the bar."""
        if self.enabled and self.tty and self.drawn:
            self.stream.write("\r\x1b[K")
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.tty and self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _run_key(actor: Any, paths: Sequence[str | os.PathLike[str]]) -> str:
    folders = sorted(str(Path(p).resolve()) for p in paths)
    return hashlib.sha256((f"{actor.pk}\n" + "\n".join(folders)).encode()).hexdigest()


def _batch(actor: Any, paths: Sequence[str | os.PathLike[str]], unit: Unit, total: int) -> tuple[ImportBatch, bool]:
    key = _run_key(actor, paths)
    batch = (
        ImportBatch.objects.unrestricted("the agent's own unfinished run")
        .filter(run_key=key, started_by=actor, state=BatchState.RUNNING)
        .first()
    )
    resumed = batch is not None
    if batch is None:
        batch = ImportBatch(
            run_key=key, started_by=actor, registry_unit=unit, folder="; ".join(str(p) for p in paths)[:1000]
        )
    batch.total = total
    batch.runs += 1
    batch.save()
    return batch, resumed


def read_letter(path: Path) -> bytes:
    """The bytes of a letter on disk; a file over the size limit is refused before it is read."""
    try:
        size = path.stat().st_size
        if size > services.MAX_LETTER_BYTES:
            raise services.ImportFailed("too_large", _too_large_message())
        return path.read_bytes()
    except OSError as exc:
        raise services.ImportFailed(
            "unreadable", _("The file cannot be read (%(error)s).") % {"error": exc.strerror or exc}
        ) from exc


def _too_large_message() -> str:
    limit = f"{services.MAX_LETTER_BYTES // (1024 * 1024)} MB"
    return ExtractionError("too_large", limit=limit).message(services.language())


def import_path(
    path: Path,
    *,
    actor: Any,
    registry_unit: Unit,
    directory: UnitDirectory,
    batch: ImportBatch | None = None,
    unmatched: services.UnmatchedPolicy = "fail",
    notify: bool = True,
) -> services.ImportResult:
    """One file from disk; a file over the size limit is refused before it is read."""
    try:
        size = path.stat().st_size
        if size > services.MAX_LETTER_BYTES:
            digest = _hash_file(path)
            existing = services.imported_with_hash(digest, actor=actor)
            if existing is not None:  # pragma: no cover - a file this large was never imported
                return services.ImportResult(path.name, "skipped", letter_import=existing, content_hash=digest)
            message = _too_large_message()
            row = services.record_failure(
                actor=actor, digest=digest, filename=path.name, size=size, code="too_large", message=message,
                batch=batch,
            )
            return services.ImportResult(path.name, "failed", letter_import=row, error_code="too_large",
                                         message=message, content_hash=digest)
        data = path.read_bytes()
    except OSError as exc:
        return services.ImportResult(path.name, "failed", error_code="unreadable",
                                     message=_("The file cannot be read (%(error)s).") % {"error": exc.strerror or exc})
    return services.import_letter(
        actor=actor, data=data, filename=path.name, registry_unit=registry_unit, directory=directory, batch=batch,
        unmatched=unmatched, notify=notify,
    )


def run_bulk(
    *,
    actor: Any,
    paths: Sequence[str | os.PathLike[str]],
    registry_unit: Unit,
    unmatched: services.UnmatchedPolicy = "fail",
    notify: bool = True,
    progress: bool = True,
    stream: TextIO | None = None,
    on_result: Callable[[Path, services.ImportResult], None] | None = None,
    files: Iterable[Path] | None = None,
) -> BulkSummary:
    """Import every letter under `paths`; see the module's docstring."""
    if files is None:
        file_list, ignored = collect_files(paths)
    else:
        file_list, ignored = list(files), 0
    summary = BulkSummary(total=len(file_list), ignored=ignored)
    batch, summary.resumed = _batch(actor, paths, registry_unit, len(file_list))
    summary.batch_id = batch.pk
    directory = UnitDirectory.load()
    bar = Progress(len(file_list), stream=stream, enabled=progress)
    started = time.monotonic()
    done = 0

    def counts() -> str:
        return f"imported {summary.imported} · skipped {summary.skipped} · failed {summary.failed}"

    try:
        for done, path in enumerate(file_list, start=1):
            result = import_path(
                path, actor=actor, registry_unit=registry_unit, directory=directory, batch=batch, unmatched=unmatched,
                notify=notify,
            )
            if result.status == "imported":
                summary.imported += 1
                summary.programmes += result.programme is not None
                summary.warnings += [(str(path), w) for w in result.warnings]
            elif result.status == "skipped":
                summary.skipped += 1
            else:
                summary.failed += 1
                summary.failures.append((str(path), result.error_code, result.message))
                bar.message(f"{path}: {result.message}")
            if on_result is not None:
                on_result(path, result)
            if done % CHECKPOINT_EVERY == 0:
                _checkpoint(batch, summary)
            bar.update(done, counts())
        batch.state = BatchState.FINISHED
        batch.finished_at = timezone.now()
    finally:
        bar.close()
        summary.elapsed = time.monotonic() - started
        _checkpoint(batch, summary)
    return summary


def _checkpoint(batch: ImportBatch, summary: BulkSummary) -> None:
    batch.imported = LetterImport.objects.unrestricted("batch counters").filter(
        batch=batch, status=ImportStatus.IMPORTED
    ).count()
    batch.skipped = summary.skipped
    batch.failed = summary.failed
    batch.save()
