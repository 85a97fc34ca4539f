"""A one-line progress bar on stderr (`chancery reindex`, `chancery generate`)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """`[#####-----] done/total (rate/s, ETA)`, redrawn in place; a new line when complete."""

    def __init__(self, *, stream: TextIO | None = None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.started = time.monotonic()
        self.label: str | None = None
        self.shown = self.started  # when the line was last drawn

    def show(self, label: str, done: int, total: int) -> None:
        now = time.monotonic()
        if self.label is not None and label != self.label:
            # A new line (`chancery reindex`: the next type) is timed from the end of the
            # previous one: its rate is its own, not the whole run's.
            self.started = self.shown
        self.label, self.shown = label, now
        filled = int(self.width * done / total) if total else self.width
        elapsed = max(now - self.started, 1e-6)
        rate = done / elapsed
        eta = f", {(total - done) / rate / 60:.1f} min left" if rate and done < total else ""
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r{label:<12} [{bar}] {done}/{total} ({rate:.0f}/s{eta})")
        self.stream.flush()
        if done >= total:
            self.stream.write("\n")
