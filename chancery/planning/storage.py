"""Planning files at rest: evidence files under `CHANCERY_DATA_DIR/evidence/`, and the
workbooks stashed between an import's preview and its confirmation.

Evidence (`EvidenceFile`, `AchievementEvidence`) of a programme marked at least *Diffusion
restreinte* is written encrypted (AES-256-GCM, `chancery.crypto.envelope`) under the
programme's own data key (`Programme.data_key`, a `crypto.DataKey` created on first need, so
`chancery rotate-keys` re-wraps it and never touches the files). Each file gets its own
storage name `p<programme id>/<32 random hex>`, chosen here and never taken from a user; the
ciphertext goes to a temporary file beside it, is fsynced and renamed, so a failure leaves
no partial file. Clear bytes of a protected programme's evidence never touch the disk.

Associated data: ("planning file", kind, programme id, storage name) — deliberately NOT the
programme's level. A programme's marking is an ordinary edit (the programme form, a workbook
import) and, unlike a dispatch's, is not a rare authorised act: binding the level would mean
re-encrypting every file of the programme inside that edit's transaction, a slow request and
a window where files and rows disagree. Binding the programme id (and the file's unique
name) keeps what matters: a ciphertext cannot be moved to another programme or another row,
while the data key is per programme anyway. So a change of classification keeps every file
readable; raising it to *Diffusion restreinte* or above encrypts the files still in clear
(`protect_programme_files`), lowering it leaves them encrypted.

Files of unprotected programmes stay in clear. Older clear files are content-addressed
(`<sha256[:2]>/<sha256>`, rows with an empty `storage_name`) and may be shared by rows.

Stashed workbooks are always encrypted, each under its own data key, bound to the stash
token and the uploading agent; discarding a stash deletes its key too (the bytes are then
unreadable even if a file survives).
"""

from __future__ import annotations

import contextlib
import io
import re
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction

from chancery.core.classification import Level
from chancery.crypto import envelope
from chancery.crypto._fsutil import atomic_write
from chancery.crypto.services import new_data_key, unwrap

if TYPE_CHECKING:
    from chancery.planning.models import Programme, StoredFile

_NAME_RE = re.compile(r"^p[0-9]{1,20}/[0-9a-f]{32}$")
_LEGACY_RE = re.compile(r"^[0-9a-f]{64}$")


class StorageError(Exception):
    """A planning file cannot be read or written."""


def root() -> Path:
    return Path(settings.CHANCERY_DATA_DIR) / "evidence"


def new_name(programme_id: int) -> str:
    return f"p{int(programme_id)}/{secrets.token_hex(16)}"


def path_for(stored: StoredFile) -> Path:
    """Where a stored file lives (its own name, or the legacy content address)."""
    if stored.storage_name:
        if not _NAME_RE.match(stored.storage_name):
            raise StorageError(f"invalid storage name {stored.storage_name!r}")
        return root() / stored.storage_name
    if not _LEGACY_RE.match(stored.sha256 or ""):
        raise StorageError("invalid content address")
    return root() / stored.sha256[:2] / stored.sha256


def needs_encryption(programme: Programme) -> bool:
    return int(programme.classification) >= Level.RESTRICTED


def file_aad(kind: str, programme_id: int, storage_name: str) -> bytes:
    return envelope.encode_fields("chancery/planning-file/v1", kind, str(int(programme_id)), storage_name)


def programme_key(programme: Programme) -> bytes:
    """The programme's data key in clear, created on first need (kept on the instance)."""
    from chancery.planning.models import Programme

    cached: bytes | None = getattr(programme, "_plain_key", None)
    if cached is not None:
        return cached
    if programme.data_key_id is None:
        row, key = new_data_key()
        # Conditional: of two writers racing to create the key, one wins, the other re-reads.
        claimed = (
            Programme.objects.unrestricted("data key of a programme")
            .filter(pk=programme.pk, data_key__isnull=True)
            .update(data_key=row)
        )
        if claimed:
            programme.data_key = row
            programme._plain_key = key  # type: ignore[attr-defined]
            return key
        row.delete()
        programme.data_key_id = (
            Programme.objects.unrestricted("data key of a programme")
            .values_list("data_key_id", flat=True)
            .get(pk=programme.pk)
        )
    from chancery.crypto.models import DataKey

    key = unwrap(data_key=DataKey.objects.get(pk=programme.data_key_id))
    programme._plain_key = key  # type: ignore[attr-defined]
    return key


def _programme_of(stored: StoredFile) -> Programme:
    from chancery.planning.models import Programme

    return Programme.objects.unrestricted("file of a programme read through the gate").get(pk=stored.programme_pk)


def write_file(stored: StoredFile, programme: Programme, content: bytes) -> list[Path]:
    """Give `stored` (not yet saved) a storage name and write `content`: encrypted when the
    programme is protected. Returns the paths written (for clean-up if the caller fails)."""
    name = new_name(programme.pk)
    stored.storage_name = name
    stored.encrypted = needs_encryption(programme)
    path = path_for(stored)
    if stored.encrypted:
        aad = file_aad(stored.file_kind, programme.pk, name)
        envelope.encrypt_file(io.BytesIO(content), path, programme_key(programme), aad)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, content)
    return [path]


def read_file(stored: StoredFile, programme: Programme | None = None) -> bytes:
    """The plain bytes of a stored file. Raises StorageError or crypto DecryptionError."""
    path = path_for(stored)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise StorageError(f"planning file {stored.pk} cannot be read: {exc.strerror}") from exc
    if not stored.encrypted:
        return raw
    programme = programme if programme is not None and programme.pk == stored.programme_pk else _programme_of(stored)
    aad = file_aad(stored.file_kind, programme.pk, stored.storage_name)
    return envelope.decrypt(raw, programme_key(programme), aad)


def delete_paths(paths: list[Path]) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def delete_after_commit(stored: StoredFile) -> None:
    """Remove a file once the row that named it is gone for good (its own files only:
    a legacy content-addressed file may be shared)."""
    if not stored.storage_name:
        return
    path = path_for(stored)
    transaction.on_commit(lambda: delete_paths([path]))


def _legacy_unreferenced(sha256: str) -> bool:
    from chancery.planning.models import AchievementEvidence, EvidenceFile

    return not any(
        model.objects.unrestricted("is a content-addressed file still used")
        .filter(storage_name="", sha256=sha256)
        .exists()
        for model in (EvidenceFile, AchievementEvidence)
    )


def protect_programme_files(programme: Programme) -> int:
    """Encrypt every file of a protected programme still stored in clear (after its marking
    was raised). New files are written before the rows change; the clear ones are removed
    after commit (a legacy shared file only once no clear row names it). Returns the count."""
    from chancery.planning.models import AchievementEvidence, EvidenceFile

    if not needs_encryption(programme):
        return 0
    clear: list[Any] = [
        *EvidenceFile.objects.unrestricted("re-protecting a programme's files").filter(
            programme=programme, encrypted=False
        ),
        *AchievementEvidence.objects.unrestricted("re-protecting a programme's files").filter(
            achievement__programme=programme, encrypted=False
        ),
    ]
    written: list[Path] = []
    old_own: list[Path] = []
    old_shared: set[str] = set()
    try:
        for stored in clear:
            content = read_file(stored, programme)
            if stored.storage_name:
                old_own.append(path_for(stored))
            else:
                old_shared.add(stored.sha256)
            written += write_file(stored, programme, content)
            stored.save(update_fields=["storage_name", "encrypted"])
    except BaseException:
        delete_paths(written)
        raise

    def remove_clear() -> None:
        delete_paths(old_own)
        for sha256 in old_shared:
            if _legacy_unreferenced(sha256):
                delete_paths([root() / sha256[:2] / sha256])

    transaction.on_commit(remove_clear)
    return len(clear)


# --------------------------------------------------------------------------- stashed workbooks


def stash_aad(token: str, user_id: int) -> bytes:
    return envelope.encode_fields("chancery/planning-stash/v1", token, str(int(user_id)))


def encrypt_stash(data: bytes, path: Path, *, token: str, user_id: int, filename: str) -> int:
    """Encrypt a stashed workbook and its file name to `path` under a new data key;
    returns the key's id."""
    row, key = new_data_key()
    name = filename.encode("utf-8")
    payload = len(name).to_bytes(4, "big") + name + data
    envelope.encrypt_file(io.BytesIO(payload), path, key, stash_aad(token, user_id))
    return int(row.pk)


def decrypt_stash(path: Path, *, data_key_id: int, token: str, user_id: int) -> tuple[bytes, str]:
    """(workbook, file name) of a stash. Raises OSError, DataKey.DoesNotExist or CryptoError."""
    from chancery.crypto.models import DataKey

    row = DataKey.objects.get(pk=data_key_id)
    payload = envelope.decrypt(path.read_bytes(), unwrap(data_key=row), stash_aad(token, user_id))
    size = int.from_bytes(payload[:4], "big")
    return payload[4 + size :], payload[4 : 4 + size].decode("utf-8")


def forget_stash_key(data_key_id: Any) -> None:
    from chancery.crypto.models import DataKey

    if isinstance(data_key_id, int):
        DataKey.objects.filter(pk=data_key_id).delete()
