"""Key-encryption keys (KEKs), held outside the database.

A KEK only ever wraps data keys (see services.py); it never touches content. KEKs live
either in the environment (`CHANCERY_MASTER_KEY`, base64 of 32 bytes: the choice for
several app servers, or for keys kept in a secrets manager) or as files under
`CHANCERY_DATA_DIR/keys/`:

    keys/                  0700
      kek-<id>.key         0600, base64 of 32 random bytes
      current              id of the KEK that wraps new data keys
      retired/kek-<id>.key KEKs no data key references any more (kept for old backups)

A KEK id is a fingerprint of the key (16 hex digits of a domain-separated SHA-256), so
an id names exactly one key, a file whose content does not match its name is detected,
and the same key imported twice gets the same id. The id is not secret.

Nothing is cached in memory: every process reads the `current` pointer afresh, so an
activation is seen at once by all the processes that share the directory.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import logging
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import Literal, NoReturn

from django.conf import settings

from chancery.crypto._fsutil import atomic_write, fsync_dir
from chancery.crypto.exceptions import InsecureKeyStore, KeyStoreError, KeyUnavailable

__all__ = [
    "InsecureKeyStore",
    "Kek",
    "KeyStoreError",
    "KeyUnavailable",
    "activate_kek",
    "create_kek",
    "current_kek",
    "current_kek_id",
    "file_kek_ids",
    "get_kek",
    "kek_id_for",
    "keys_dir",
    "keystore_problems",
    "master_kek",
    "retire_kek",
    "uses_master_key",
]

logger = logging.getLogger(__name__)

KEY_BYTES = 32
_KEK_ID_RE = re.compile(r"^[0-9a-f]{16}$")
_POINTER = "current"
_RETIRED = "retired"

KekSource = Literal["environment", "file"]


class Kek:
    """A key-encryption key. Its repr and str show the id only, never the key."""

    __slots__ = ("_key", "id", "source")

    id: str
    source: KekSource
    _key: bytes

    def __init__(self, kek_id: str, key: bytes, *, source: KekSource) -> None:
        if len(key) != KEY_BYTES:
            raise KeyStoreError(f"key-encryption key {kek_id} is not {KEY_BYTES} bytes long")
        object.__setattr__(self, "id", kek_id)
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "_key", key)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Kek is immutable")

    @property
    def key(self) -> bytes:
        return self._key

    def __repr__(self) -> str:
        return f"<Kek {self.id} ({self.source})>"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        # Refuse pickling: a Kek must never end up in a cache, a task queue or a dump.
        raise TypeError("Kek cannot be pickled")


def kek_id_for(key: bytes) -> str:
    """The public fingerprint of a KEK (domain-separated so it is no other hash of it)."""
    return hashlib.sha256(b"chancery/kek-id/v1\x00" + key).hexdigest()[:16]


def keys_dir() -> Path:
    return Path(settings.CHANCERY_DATA_DIR) / "keys"


def _retired_dir() -> Path:
    return keys_dir() / _RETIRED


def _kek_path(directory: Path, kek_id: str) -> Path:
    return directory / f"kek-{kek_id}.key"


# --- environment master key -------------------------------------------------------------


def _decode_key(text: str) -> bytes:
    value = text.strip()
    try:
        key = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        try:
            key = base64.urlsafe_b64decode(value)
        except (binascii.Error, ValueError):
            key = b""
    return key


def master_kek() -> Kek | None:
    """The KEK from `CHANCERY_MASTER_KEY`, or None when it is not set."""
    value: str | None = getattr(settings, "CHANCERY_MASTER_KEY", None)
    if not value:
        return None
    key = _decode_key(value)
    if len(key) != KEY_BYTES:
        # Never echo the value: it is (meant to be) a secret.
        raise KeyStoreError(
            f"CHANCERY_MASTER_KEY must be the base64 encoding of {KEY_BYTES} random bytes "
            '(e.g. python -c "import os,base64;print(base64.b64encode(os.urandom(32)).decode())")'
        )
    return Kek(kek_id_for(key), key, source="environment")


def uses_master_key() -> bool:
    return bool(getattr(settings, "CHANCERY_MASTER_KEY", None))


# --- permissions ------------------------------------------------------------------------


def _private_mode_problem(path: Path, mode: int, *, is_dir: bool) -> str | None:
    if stat.S_IMODE(mode) & 0o077:
        wanted = "700" if is_dir else "600"
        return (
            f"{path} is accessible to group or others (mode {stat.S_IMODE(mode):o}); "
            f"refusing to use it: run `chmod {wanted} {path}`"
        )
    return None


def _check_dir(path: Path) -> None:
    problem = _private_mode_problem(path, path.stat().st_mode, is_dir=True)
    if problem:
        raise InsecureKeyStore(problem)


def _ensure_dir(path: Path) -> None:
    """Create a 0700 directory, or check that an existing one is 0700."""
    try:
        path.mkdir(mode=0o700, parents=False)
    except FileExistsError:
        _check_dir(path)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir(mode=0o700, exist_ok=True)
        path.chmod(0o700)
    else:
        path.chmod(0o700)  # mkdir's mode is filtered by the umask


def keystore_problems() -> list[str]:
    """Every reason the key store is unusable, without creating or changing anything.

    Used by the system check, so that `chancery serve` and every command refuse to
    start on an unsafe key store rather than fail at the first encryption.
    """
    problems: list[str] = []
    try:
        master_kek()
    except KeyStoreError as exc:
        problems.append(str(exc))
    directory = keys_dir()
    if not directory.exists():
        return problems
    for sub in (directory, directory / _RETIRED):
        if not sub.exists():
            continue
        problem = _private_mode_problem(sub, sub.stat().st_mode, is_dir=True)
        if problem:
            problems.append(problem)
        for path in sorted(sub.glob("kek-*.key")):
            problem = _private_mode_problem(path, path.stat().st_mode, is_dir=False)
            if problem:
                problems.append(problem)
    return problems


# --- reading ----------------------------------------------------------------------------


def _read_kek_file(path: Path, kek_id: str) -> Kek:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        # fstat on the open descriptor: the mode checked is the mode of what is read.
        problem = _private_mode_problem(path, os.fstat(fd).st_mode, is_dir=False)
        if problem:
            raise InsecureKeyStore(problem)
        with os.fdopen(fd, "rb", closefd=False) as handle:
            text = handle.read(1024)
    finally:
        os.close(fd)
    key = _decode_key(text.decode("ascii", errors="replace"))
    if len(key) != KEY_BYTES or kek_id_for(key) != kek_id:
        raise KeyStoreError(f"{path} is damaged: its content is not the key its name says")
    return Kek(kek_id, key, source="file")


def get_kek(kek_id: str) -> Kek:
    """The KEK with this id, from the environment, keys/ or keys/retired/.

    Raises KeyUnavailable if no such key is held here.
    """
    master = master_kek()
    if master is not None and master.id == kek_id:
        return master
    if not _KEK_ID_RE.match(kek_id):
        raise KeyUnavailable(f"{kek_id!r} is not a key-encryption key id")
    directory = keys_dir()
    if directory.exists():
        _check_dir(directory)
        # Retired KEKs are still read: a restored older backup may reference them.
        for sub in (directory, directory / _RETIRED):
            try:
                return _read_kek_file(_kek_path(sub, kek_id), kek_id)
            except FileNotFoundError:
                continue
    where = "CHANCERY_MASTER_KEY nor " if master is not None else ""
    raise KeyUnavailable(
        f"key-encryption key {kek_id} is needed but is in neither {where}{directory} "
        f"nor {directory / _RETIRED}: restore it from the key backup"
    )


def _read_pointer() -> str | None:
    try:
        text = (keys_dir() / _POINTER).read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    if not _KEK_ID_RE.match(text):
        raise KeyStoreError(f"{keys_dir() / _POINTER} is damaged: it does not hold a key id")
    return text


def current_kek_id() -> str | None:
    """Id of the KEK that wraps new data keys; None if none was created yet."""
    master = master_kek()
    if master is not None:
        return master.id
    return _read_pointer()


def file_kek_ids() -> list[str]:
    """Ids of the (non-retired) KEK files in keys/."""
    directory = keys_dir()
    if not directory.exists():
        return []
    ids = [path.name[len("kek-") : -len(".key")] for path in directory.glob("kek-*.key")]
    return sorted(kek_id for kek_id in ids if _KEK_ID_RE.match(kek_id))


# --- writing ----------------------------------------------------------------------------


def _refuse_in_master_mode(action: str) -> None:
    if uses_master_key():
        raise KeyStoreError(
            f"cannot {action}: CHANCERY_MASTER_KEY is set, so the key-encryption key "
            "comes from the environment and no key file is used"
        )


def create_kek() -> Kek:
    """Create a new KEK file (durably). It is not activated."""
    _refuse_in_master_mode("create a key-encryption key file")
    directory = keys_dir()
    _ensure_dir(directory)
    key = os.urandom(KEY_BYTES)
    kek = Kek(kek_id_for(key), key, source="file")
    # The id is a hash of the key: a same-named file could only hold the same key.
    atomic_write(_kek_path(directory, kek.id), base64.b64encode(key) + b"\n", mode=0o600)
    logger.info("created key-encryption key %s", kek.id)
    return kek


def activate_kek(kek_id: str) -> None:
    """Make `kek_id` the KEK that wraps new data keys (atomic pointer switch)."""
    master = master_kek()
    if master is not None:
        if kek_id == master.id:
            return
        _refuse_in_master_mode(f"activate key-encryption key {kek_id}")
    directory = keys_dir()
    path = _kek_path(directory, kek_id)
    if not _KEK_ID_RE.match(kek_id) or not path.exists():
        raise KeyUnavailable(f"cannot activate key-encryption key {kek_id}: {path} does not exist")
    _read_kek_file(path, kek_id)  # readable, private and intact before anyone depends on it
    atomic_write(directory / _POINTER, f"{kek_id}\n".encode("ascii"), mode=0o600)
    logger.info("activated key-encryption key %s", kek_id)


def current_kek() -> Kek:
    """The KEK that wraps new data keys; the first call on an empty key store creates it."""
    master = master_kek()
    if master is not None:
        return master
    kek_id = _read_pointer()
    if kek_id is not None:
        return get_kek(kek_id)
    return _bootstrap()


def _bootstrap() -> Kek:
    """Create and activate the first KEK, safely against concurrent first calls.

    The pointer is published with link(), which fails if it already exists, so two
    processes starting together cannot each activate their own key: the loser removes
    the KEK it just made (nothing can reference it yet) and uses the winner's.
    """
    kek = create_kek()
    directory = keys_dir()
    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{_POINTER}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(f"{kek.id}\n".encode("ascii"))
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, directory / _POINTER)
        except FileExistsError:
            _kek_path(directory, kek.id).unlink()
            winner = _read_pointer()
            if winner is None:  # pragma: no cover - the pointer is never removed
                raise KeyStoreError(f"{directory / _POINTER} vanished during start-up") from None
            return get_kek(winner)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    fsync_dir(directory)
    logger.info("activated key-encryption key %s", kek.id)
    return kek


def retire_kek(kek_id: str) -> None:
    """Move a KEK file to keys/retired/.

    The caller (services.rotate_keys) must have checked that no data key references it;
    the file is kept, not deleted, so that backups taken before the rotation can still be
    read once restored.
    """
    if kek_id == current_kek_id():
        raise KeyStoreError(f"cannot retire key-encryption key {kek_id}: it is the active one")
    directory = keys_dir()
    source = _kek_path(directory, kek_id)
    if not source.exists():
        raise KeyUnavailable(f"cannot retire key-encryption key {kek_id}: {source} does not exist")
    retired = directory / _RETIRED
    _ensure_dir(retired)
    os.replace(source, _kek_path(retired, kek_id))
    fsync_dir(retired)
    fsync_dir(directory)
    logger.info("retired key-encryption key %s", kek_id)
