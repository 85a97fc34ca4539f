"""The attachment store: files under `settings.CHANCERY_ATTACHMENT_DIR`.

Storage names are generated here (`<dispatch id>/<random hex>`), never taken from a
user. Every write goes to a temporary file beside the destination, is fsynced and then
renamed, so a failure leaves either nothing or the whole file. Files of protected
dispatches are written encrypted (AES-256-GCM via `chancery.crypto.envelope`); clear
bytes of a protected attachment never touch the disk.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import tempfile
from pathlib import Path

from django.conf import settings

from chancery.crypto import envelope
from chancery.crypto._fsutil import fsync_dir

_NAME_RE = re.compile(r"^[0-9]{1,20}/[0-9a-f]{32}$")


class StorageError(Exception):
    """The attachment store cannot read or write a file."""


def root() -> Path:
    """The store's directory, read from settings at call time and created lazily."""
    configured = getattr(settings, "CHANCERY_ATTACHMENT_DIR", None)
    path = Path(configured) if configured else Path(settings.CHANCERY_DATA_DIR) / "attachments"
    path.mkdir(parents=True, exist_ok=True)
    return path


def new_name(dispatch_id: int) -> str:
    return f"{int(dispatch_id)}/{secrets.token_hex(16)}"


def path_for(name: str) -> Path:
    if not _NAME_RE.match(name):
        raise StorageError(f"invalid storage name {name!r}")
    return root() / name


def _atomic_write(dst: Path, data: bytes, *, durable: bool = True) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, dst)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    if durable:
        fsync_dir(dst.parent)


def write(
    name: str, data: bytes, *, data_key: bytes | None = None, aad: bytes | None = None, durable: bool = True
) -> None:
    """Store `data` under `name`: encrypted when a data key is given, else in clear.

    `durable=False` skips the fsyncs (bulk demo loading only: a crash loses the lot anyway)."""
    dst = path_for(name)
    if data_key is not None:
        if aad is None:
            raise ValueError("encrypted attachments need associated data")
        data = envelope.encrypt(data, data_key, aad)
    _atomic_write(dst, data, durable=durable)


def read(name: str, *, data_key: bytes | None = None, aad: bytes | None = None) -> bytes:
    """The plain bytes of a stored file. Raises StorageError or crypto DecryptionError."""
    src = path_for(name)
    try:
        raw = src.read_bytes()
    except OSError as exc:
        raise StorageError(f"attachment file {name} cannot be read: {exc.strerror}") from exc
    if data_key is None:
        return raw
    if aad is None:
        raise ValueError("encrypted attachments need associated data")
    return envelope.decrypt(raw, data_key, aad)


def read_raw(name: str) -> bytes:
    return path_for(name).read_bytes()


def replace_raw(name: str, data: bytes) -> None:
    """Overwrite a stored file atomically with already-prepared bytes (re-encryption)."""
    _atomic_write(path_for(name), data)


def delete(name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        path_for(name).unlink()


def exists(name: str) -> bool:
    return path_for(name).exists()


SWEPT_MARKER = ".swept"  # in the store's root: the horizon of the last complete sweep


def _swept_since(directory: Path) -> float:
    try:
        return float((directory / SWEPT_MARKER).read_text(encoding="ascii"))
    except (OSError, ValueError):
        return 0.0


def _changed_directories(directory: Path, since: float) -> dict[int, str]:
    """The dispatch directories modified at or after `since` (id → path)."""
    changed: dict[int, str] = {}
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.name.isdigit() and entry.is_dir(follow_symlinks=False) and entry.stat().st_mtime >= since:
                changed[int(entry.name)] = entry.path
    return changed


def mark_bulk_load_swept(*, first_dispatch_id: int) -> bool:
    """After a bulk load whose every file is named by a committed row (`chancery generate`,
    which writes whole batches in transactions): record that the directories it created need
    no sweep, so that the next server start does not open a million of them. Only when every
    directory changed since the last complete sweep is one of the load's (dispatch ids from
    `first_dispatch_id`): another writer's leftovers stay for the sweep. Returns whether the
    record moved."""
    import time

    directory = root()
    started = time.time()
    changed = _changed_directories(directory, _swept_since(directory))
    if any(dispatch_id < first_dispatch_id for dispatch_id in changed):
        return False
    # Directories changed from `started` on (a write beginning now) are reopened by the next sweep.
    _atomic_write(directory / SWEPT_MARKER, repr(started).encode("ascii"))
    return True


def sweep(*, older_than_seconds: float) -> int:
    """Remove what interrupted writes left behind; returns how many files went.

    A file is written (and fsynced) before the row that names it is committed, so a crash in
    between leaves a complete file no attachment names, and a crash during the write a
    temporary file. Both are garbage once no write can still be in flight: files younger than
    `older_than_seconds` are kept (another server may be about to commit them).

    Incremental: every file lives in its dispatch's directory, and creating, renaming or
    removing a file there moves that directory's modification time forward. A complete sweep
    records its horizon; the next one opens only the directories changed since (at a million
    dispatches, a full walk held `chancery serve` for minutes). Without the record, or with
    `older_than_seconds=0` after a crash test, every directory is opened.
    """
    import time

    from chancery.correspondence.models import Attachment

    horizon = time.time() - older_than_seconds
    directory = root()
    marker = directory / SWEPT_MARKER
    changed = _changed_directories(directory, _swept_since(directory))
    every = Attachment.objects.unrestricted("orphan sweep: the stored names of the changed directories' dispatches")
    ids = sorted(changed)
    named: set[str] = set()
    for first in range(0, len(ids), 5000):
        named.update(every.filter(dispatch_id__in=ids[first:first + 5000]).values_list("storage_name", flat=True))
    removed = 0
    for path in (p for folder in changed.values() for p in Path(folder).iterdir()):
        if not path.is_file() or path.stat().st_mtime > horizon:
            continue
        relative = path.relative_to(directory).as_posix()
        if relative not in named and (_NAME_RE.match(relative) or path.name.endswith(".tmp")):
            path.unlink(missing_ok=True)
            removed += 1
    # Files younger than the horizon were kept: the next sweep must reopen their directories.
    _atomic_write(marker, repr(horizon).encode("ascii"))
    return removed
