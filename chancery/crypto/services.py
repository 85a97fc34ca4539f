"""Data keys, key rotation and signing keys (the database side of chancery.crypto).

Typical use by an app that stores protected content:

    row, key = new_data_key()                    # once per dispatch; keep row as an FK
    aad = associated_data("dispatch.body", dispatch.pk, marking)
    dispatch.body_ciphertext = encrypt(body.encode(), key, aad)
    ...
    body = decrypt(dispatch.body_ciphertext, unwrap(data_key=dispatch.data_key), aad)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, cast

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from chancery.core.scopes import memory
from chancery.crypto import keystore
from chancery.crypto.envelope import (
    decrypt,
    encode_fields,
    encrypt,
    generate_data_key,
    unwrap_key,
    wrap_key,
)
from chancery.crypto.exceptions import CryptoError, InsecureKeyStore, RotationError
from chancery.crypto.keystore import Kek
from chancery.crypto.models import DataKey, KeyRotation, SigningKey
from chancery.crypto.signing import generate_signing_key, public_key_of, sign, verify

__all__ = [
    "RotationReport",
    "key_scope",
    "new_data_key",
    "retire_signing_key",
    "rotate_keys",
    "sign_for",
    "signing_key_for",
    "unwrap",
    "unwrap_many",
    "verify_signature",
]

logger = logging.getLogger(__name__)

# progress(rewrapped_so_far, total_to_rewrap), called after each committed batch.
ProgressCallback = Callable[[int, int], None]

# Re-sweeps after the main pass, for data keys that a process still holding the old
# pointer wrapped under the old KEK while the rotation ran; in practice one suffices.
_MAX_SWEEPS = 5


# --- data keys --------------------------------------------------------------------------


def new_data_key() -> tuple[DataKey, bytes]:
    """Create a data key wrapped by the active KEK; returns the row and the plain key.

    The plain key must only be held in memory for the time of the encryption.
    """
    kek = keystore.current_kek()
    key = generate_data_key()
    row = DataKey.objects.create(wrapped_key=wrap_key(key, kek), kek_id=kek.id)
    return row, key


# Inside `key_scope()` (a request: `chancery.crypto.middleware.KeyScopeMiddleware`), each
# wrapped key is unwrapped once and each KEK file read once; forgotten when the scope ends.
# Keys: (kek id, wrapped key) → plain data key; (kek id, b"") → the KEK itself.
_scope: ContextVar[dict[tuple[str, bytes], Any] | None] = ContextVar("chancery_key_scope", default=None)


def key_scope() -> AbstractContextManager[None]:
    """Unwrap each data key at most once inside the block (a page that lists fifty protected
    dispatches read the KEK file and unwrapped a key per row, and the same dispatch's key again
    for its thread and citations). Nested scopes share the outer one."""
    return memory(_scope)


def unwrap(*, data_key: DataKey) -> bytes:
    """The plain key of a DataKey row. Raises KeyUnavailable or DecryptionError."""
    wrapped = bytes(data_key.wrapped_key)
    cache = _scope.get()
    if cache is None:
        return unwrap_key(wrapped, keystore.get_kek(data_key.kek_id))
    if (data_key.kek_id, wrapped) in cache:
        return cast(bytes, cache[(data_key.kek_id, wrapped)])
    kek = cache.get((data_key.kek_id, b""))
    if kek is None:
        kek = cache[(data_key.kek_id, b"")] = keystore.get_kek(data_key.kek_id)
    plain = cache[(data_key.kek_id, wrapped)] = unwrap_key(wrapped, kek)
    return plain


def unwrap_many(data_keys: Iterable[DataKey]) -> dict[int, bytes]:
    """The plain keys of many DataKey rows (by row id), reading each KEK once: what bulk
    readers (reindexing a million dispatches) use instead of one KEK read per row."""
    keks: dict[str, Kek] = {}
    plain: dict[int, bytes] = {}
    for row in data_keys:
        kek = keks.get(row.kek_id)
        if kek is None:
            kek = keks[row.kek_id] = keystore.get_kek(row.kek_id)
        plain[row.pk] = unwrap_key(bytes(row.wrapped_key), kek)
    return plain


# --- rotation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RotationReport:
    rotation_id: int
    target_kek_id: str
    resumed: bool
    rewrapped: int  # by this run
    total_rewrapped: int  # by this rotation, across interrupted runs
    source_kek_ids: tuple[str, ...]  # KEKs re-wrapped from by this run
    retired_kek_ids: tuple[str, ...]

    def summary(self) -> str:
        verb = "resumed and finished" if self.resumed else "finished"
        line = (
            f"Key rotation {self.rotation_id} {verb}: {self.rewrapped} data key(s) re-wrapped "
            f"under key-encryption key {self.target_kek_id}"
        )
        if self.total_rewrapped != self.rewrapped:
            line += f" ({self.total_rewrapped} in all)"
        if self.retired_kek_ids:
            line += f"; retired {', '.join(self.retired_kek_ids)}"
        return line + "."


def _start_or_resume() -> tuple[KeyRotation, bool]:
    master = keystore.master_kek()
    running = KeyRotation.objects.filter(state=KeyRotation.State.RUNNING).first()
    if running is not None:
        if master is None or running.target_kek_id == master.id:
            return running, True
        # The KEK now comes from the environment: finish towards it instead.
        running.state = KeyRotation.State.SUPERSEDED
        running.finished_at = timezone.now()
        running.save(update_fields=["state", "finished_at"])
    # With a master key, "rotating" moves every data key still under a file KEK to it
    # (e.g. when a deployment adopts CHANCERY_MASTER_KEY). Otherwise the new KEK file is
    # written and fsynced before the row that names it, so the row never names a key
    # that does not exist; a crash in between leaves only an unused file.
    target_id = master.id if master is not None else keystore.create_kek().id
    try:
        with transaction.atomic():
            return KeyRotation.objects.create(target_kek_id=target_id), False
    except IntegrityError:
        # Another rotate-keys started at the same moment: join it (rows are re-wrapped
        # with conditional updates, so two workers cannot corrupt each other).
        return KeyRotation.objects.get(state=KeyRotation.State.RUNNING), True


def _rewrap_batch(rows: list[DataKey], target: Kek, keks: dict[str, Kek], sources: set[str]) -> int:
    count = 0
    for row in rows:
        try:
            kek = keks.get(row.kek_id) or keks.setdefault(row.kek_id, keystore.get_kek(row.kek_id))
            plain = unwrap_key(bytes(row.wrapped_key), kek)
        except CryptoError as exc:
            raise RotationError(
                f"data key {row.pk} cannot be unwrapped: {exc}; fix this, then re-run rotate-keys to resume"
            ) from exc
        # Conditional on the KEK it was read under: never overwrites a concurrent re-wrap.
        count += DataKey.objects.filter(pk=row.pk, kek_id=row.kek_id).update(
            wrapped_key=wrap_key(plain, target), kek_id=target.id
        )
        sources.add(row.kek_id)
    return count


def _rewrap_all(
    rotation: KeyRotation, target: Kek, batch_size: int, progress: ProgressCallback | None
) -> tuple[int, set[str]]:
    pending = DataKey.objects.exclude(kek_id=target.id)
    total = pending.count()
    done = 0
    keks: dict[str, Kek] = {}
    sources: set[str] = set()
    for _sweep in range(_MAX_SWEEPS):
        last_pk = 0
        while True:
            # One transaction per batch: an interruption loses at most the batch in
            # flight, and every committed row is wrapped under a KEK still on disk.
            with transaction.atomic():
                batch = list(pending.filter(pk__gt=last_pk).order_by("pk").select_for_update()[:batch_size])
                if not batch:
                    break
                count = _rewrap_batch(batch, target, keks, sources)
                KeyRotation.objects.filter(pk=rotation.pk).update(rewrapped=F("rewrapped") + count)
            done += count
            last_pk = batch[-1].pk
            if progress is not None:
                progress(done, max(total, done))
        if not pending.exists():
            return done, sources
    raise RotationError(
        "data keys keep appearing under an old key-encryption key; is a process running "
        "with another key directory? Re-run rotate-keys once it is fixed"
    )


def _retire_unreferenced() -> tuple[str, ...]:
    """Move to keys/retired/ every KEK file that is neither active nor referenced."""
    active = keystore.current_kek_id()
    referenced = set(DataKey.objects.values_list("kek_id", flat=True).distinct())
    retired = []
    for kek_id in keystore.file_kek_ids():
        if kek_id != active and kek_id not in referenced:
            keystore.retire_kek(kek_id)
            retired.append(kek_id)
    return tuple(retired)


def rotate_keys(
    *, batch_size: int = 500, progress: ProgressCallback | None = None, retire: bool = False
) -> RotationReport:
    """Re-wrap every data key under a new KEK; safe to interrupt at any point and re-run.

    The new KEK is activated first, so data keys created meanwhile already use it and
    the sweep converges; old KEK files are kept (a row is readable under old or new KEK
    at every instant). Ciphertexts are never read nor written. With `retire`, KEK files
    that no data key references any more are moved to keys/retired/ at the end.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    problems = keystore.keystore_problems()
    if problems:  # fail before creating anything rather than halfway through
        raise InsecureKeyStore(problems[0])
    rotation, resumed = _start_or_resume()
    target = keystore.get_kek(rotation.target_kek_id)
    keystore.activate_kek(target.id)
    logger.info(
        "key rotation %s %s towards KEK %s", rotation.pk, "resumed" if resumed else "started", target.id
    )
    done, sources = _rewrap_all(rotation, target, batch_size, progress)
    rotation.refresh_from_db()
    rotation.state = KeyRotation.State.FINISHED
    rotation.finished_at = timezone.now()
    rotation.save(update_fields=["state", "finished_at"])
    retired = _retire_unreferenced() if retire else ()
    logger.info("key rotation %s finished: %s data keys re-wrapped", rotation.pk, done)
    from chancery.audit.services import record_event

    record_event(action="crypto.keys_rotated", target=rotation, details={
        "target_kek_id": target.id, "rewrapped": done, "resumed": resumed, "retired_kek_ids": list(retired),
    })
    return RotationReport(
        rotation_id=rotation.pk,
        target_kek_id=target.id,
        resumed=resumed,
        rewrapped=done,
        total_rewrapped=rotation.rewrapped,
        source_kek_ids=tuple(sorted(sources)),
        retired_kek_ids=retired,
    )


# --- signing keys -----------------------------------------------------------------------


def _signing_aad(signing_key: SigningKey) -> bytes:
    # Binds the encrypted private key to its row and its public half: swapping encrypted
    # keys between rows makes decryption fail instead of signing with the wrong key.
    return encode_fields("chancery/signing-key/v1", str(signing_key.pk), bytes(signing_key.public_key).hex())


def _create_signing_key(owner: str) -> SigningKey:
    private, public = generate_signing_key()
    data_key_row, data_key = new_data_key()
    signing_key = SigningKey.objects.create(
        owner=owner, public_key=public, encrypted_private_key=b"", data_key=data_key_row
    )
    # The id is only known after the insert; same transaction, so never seen half-made.
    signing_key.encrypted_private_key = encrypt(private, data_key, _signing_aad(signing_key))
    signing_key.save(update_fields=["encrypted_private_key"])
    logger.debug("created signing key %s for %s", signing_key.pk, owner)
    return signing_key


def signing_key_for(*, owner: str) -> SigningKey:
    """The active signing key of `owner` (e.g. a unit code), created on first use."""
    if not owner or len(owner) > 64:
        raise ValueError("a signing key owner is 1 to 64 characters")
    active = SigningKey.objects.select_related("data_key").filter(owner=owner, retired_at__isnull=True)
    existing = active.first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return _create_signing_key(owner)
    except IntegrityError:
        return active.get()  # created concurrently by another process


def _private_key(signing_key: SigningKey) -> bytes:
    data_key = unwrap(data_key=signing_key.data_key)
    private = decrypt(bytes(signing_key.encrypted_private_key), data_key, _signing_aad(signing_key))
    if public_key_of(private) != bytes(signing_key.public_key):
        raise CryptoError(f"signing key {signing_key.pk}: private and public halves do not match")
    return private


def signer_for(*, owner: str) -> Callable[[bytes], tuple[int, bytes]]:
    """A signing function for the owner's active key, unwrapped once (for bulk signing)."""
    signing_key = signing_key_for(owner=owner)
    private = _private_key(signing_key)

    def sign_message(message: bytes) -> tuple[int, bytes]:
        return signing_key.pk, sign(private, message)

    return sign_message


def sign_for(*, owner: str, message: bytes) -> tuple[int, bytes]:
    """Sign with the owner's active key; returns (signing key id, 64-byte signature)."""
    signing_key = signing_key_for(owner=owner)
    return signing_key.pk, sign(_private_key(signing_key), message)


def verify_signature(*, signing_key_id: int, message: bytes, signature: bytes) -> bool:
    """Check a signature against a stored public key (retired keys still verify)."""
    signing_key = SigningKey.objects.filter(pk=signing_key_id).only("public_key").first()
    if signing_key is None:
        return False
    return verify(bytes(signing_key.public_key), message, signature)


def retire_signing_key(*, owner: str) -> int:
    """Retire the owner's active key (the next signature creates a new one)."""
    return SigningKey.objects.filter(owner=owner, retired_at__isnull=True).update(retired_at=timezone.now())
