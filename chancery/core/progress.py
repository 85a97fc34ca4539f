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

    def show(self, label: str, done: int, total: int) -> None:
        filled = int(self.width * done / total) if total else self.width
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = done / elapsed
        eta = f", {(total - done) / rate / 60:.1f} min left" if rate and done < total else ""
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r{label:<12} [{bar}] {done}/{total} ({rate:.0f}/s{eta})")
        self.stream.flush()
        if done >= total:
            self.stream.write("\n")
