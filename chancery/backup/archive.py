"""The backup format: tables as JSON lines, files as they are, a signed manifest.

A backup is a directory:

    manifest.json              what is inside (every file with its size and SHA-256), signed
    db/<app.model>.jsonl       one table: a header line naming the columns, then one row per line
    data/<path>                every file under CHANCERY_DATA_DIR, by its path there

The tables are written at the level of Django's models, not in an engine's dump format, so a
backup of SQLite restores onto PostgreSQL and back. Every model of every installed app is
covered, whichever app adds it later (the search index and frozen syntheses included), and so is
every file under the data dir except the ones listed in `skipped_data_paths` (the live database,
which goes through the tables; the key-encryption keys, which are exported separately; the
secret key; collected static files; temporary files).

Nothing here is a secret: protected texts and data keys are in the tables as stored, i.e.
encrypted and wrapped; the key-encryption keys are never written into a backup (see keyfile.py).
"""

from __future__ import annotations

import base64
import datetime
import decimal
import hashlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import models
from django.utils.duration import duration_string

FORMAT = "chancery/backup/v1"
MANIFEST = "manifest.json"
TABLES_DIR = "db"
FILES_DIR = "data"
SIGNER = "@backup"  # owner of the key that signs manifests (unit codes never start with "@")

# Sessions are signed with the secret key, which a backup does not hold: restored, they would
# be useless, so agents simply sign in again.
SKIPPED_MODELS = frozenset({"sessions.session"})
SQLITE_MAGIC = b"SQLite format 3\x00"


class BackupError(Exception):
    """A backup or restore that cannot go on; the message is one clear line."""


def backed_up_models() -> list[type[models.Model]]:
    """Every concrete table of every installed app (many-to-many tables included), in a fixed order."""
    found = [
        model
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy and model._meta.label_lower not in SKIPPED_MODELS
    ]
    return sorted(found, key=lambda model: model._meta.label_lower)


def columns(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    return list(model._meta.concrete_fields)


def encode_value(value: Any) -> Any:
    """A column value as JSON (the column's field type tells how to read it back)."""
    if value is None or isinstance(value, bool | int | float | str | dict | list):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return duration_string(value)
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    raise BackupError(f"cannot write a value of type {type(value).__name__} into a backup")


def decode_value(field: models.Field[Any, Any], value: Any) -> Any:
    if value is None or isinstance(field, models.JSONField):
        return value
    if isinstance(field, models.BinaryField):
        return base64.b64decode(value)
    return field.to_python(value)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def is_sqlite_file(path: Path) -> bool:
    try:
        with path.open("rb") as stream:
            return stream.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def skipped_data_paths(data_dir: Path) -> set[Path]:
    """Paths under the data dir that a backup does not copy as files (see the module docstring)."""
    skipped = {data_dir / "keys", data_dir / "secret_key", Path(settings.STATIC_ROOT)}
    database = settings.DATABASES["default"]
    if str(database["ENGINE"]).endswith("sqlite3"):
        name = Path(str(database["NAME"]))
        skipped |= {name, Path(f"{name}-wal"), Path(f"{name}-shm"), Path(f"{name}-journal")}
    return {path.resolve() for path in skipped}


def data_files(data_dir: Path, *, also_skip: set[Path] | None = None) -> Iterator[Path]:
    """Every regular file under the data dir that a backup copies, in a fixed order."""
    data_dir = data_dir.resolve()
    skipped = skipped_data_paths(data_dir) | {path.resolve() for path in also_skip or set()}

    def walk(directory: Path) -> Iterator[Path]:
        for entry in sorted(directory.iterdir()):
            if entry.resolve() in skipped or entry.is_symlink():
                continue
            if entry.is_dir():
                yield from walk(entry)
            elif entry.is_file() and not (entry.name.startswith(".") and entry.name.endswith(".tmp")):
                # A SQLite file's side files are copied through the file itself (see copy_data_file).
                if entry.name.endswith(("-wal", "-shm", "-journal")) and is_sqlite_file(
                    entry.with_name(entry.name.rsplit("-", 1)[0])
                ):
                    continue
                yield entry

    if data_dir.is_dir():
        yield from walk(data_dir)


def manifest_message(manifest: dict[str, Any]) -> bytes:
    from chancery.crypto.signing import canonical_bytes

    return canonical_bytes({key: value for key, value in manifest.items() if key != "signature"})


def read_manifest(source: Path) -> dict[str, Any]:
    path = source / MANIFEST
    if not path.is_file():
        raise BackupError(
            f"{source} holds no {MANIFEST}: it is not a backup, or a backup that did not finish"
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(f"{path} cannot be read: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is not a Chancery backup manifest ({FORMAT})")
    return manifest


def check_manifest_signature(manifest: dict[str, Any]) -> None:
    """The manifest is signed by the public key it names (whose private half the KEK protects)."""
    from chancery.crypto.signing import verify

    try:
        public = bytes.fromhex(manifest["public_key"])
        signature = bytes.fromhex(manifest["signature"])
    except (KeyError, TypeError, ValueError) as exc:
        raise BackupError("the backup manifest carries no readable signature") from exc
    if not verify(public, manifest_message(manifest), signature):
        raise BackupError("the backup manifest's signature does not match its content: it was altered")


def check_files(source: Path, manifest: dict[str, Any], progress: Any = None) -> int:
    """Every file the manifest lists is there, with its size and hash; nothing else is."""
    listed = {entry["path"]: entry for entry in manifest["files"]}
    present = {
        str(path.relative_to(source)) for path in source.rglob("*") if path.is_file() and path.name != MANIFEST
    }
    extra = sorted(present - set(listed))
    if extra:
        raise BackupError(f"the backup holds a file its manifest does not list: {extra[0]}")
    for done, (relative, entry) in enumerate(sorted(listed.items()), start=1):
        path = source / relative
        if not path.is_file():
            raise BackupError(f"the backup lacks {relative}, which its manifest lists")
        if path.stat().st_size != entry["size"] or sha256_file(path) != entry["sha256"]:
            raise BackupError(f"{relative} in the backup does not match its hash in the manifest")
        if progress is not None:
            progress.update(done, "files checked")
    return len(listed)
