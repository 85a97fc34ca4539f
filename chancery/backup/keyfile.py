"""The key-encryption keys, exported apart from the backup under a passphrase.

A backup holds data keys only wrapped by the KEKs; the KEKs travel in a separate file,
encrypted with AES-256-GCM under a key derived from a passphrase by scrypt. Kept apart (another
medium, another custodian), a stolen backup alone reveals no protected text, and the key file
alone holds no data.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from chancery.backup.archive import BackupError
from chancery.crypto import keystore

FORMAT = "chancery/keys/v1"
MIN_PASSPHRASE = 12
# scrypt cost: 2^15 × 8 × 128 B = 32 MiB and a fraction of a second per attempt.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1


@dataclass(frozen=True)
class KeySet:
    keys: dict[str, bytes]  # KEK id -> key
    current: str | None


def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))


def check_passphrase(passphrase: str) -> None:
    if len(passphrase) < MIN_PASSPHRASE:
        raise BackupError(f"the key passphrase must be at least {MIN_PASSPHRASE} characters long")


def held_keys(kek_ids: set[str]) -> KeySet:
    """The KEKs named (those the data keys are wrapped under, and the active one), read from the store."""
    current = keystore.current_kek_id()
    wanted = set(kek_ids) | ({current} if current else set())
    try:
        keys = {kek_id: keystore.get_kek(kek_id).key for kek_id in sorted(wanted)}
    except keystore.KeyStoreError as exc:
        raise BackupError(str(exc)) from exc
    return KeySet(keys=keys, current=current)


def seal(key_set: KeySet, passphrase: str) -> bytes:
    check_passphrase(passphrase)
    salt, nonce = os.urandom(16), os.urandom(12)
    plain = json.dumps(
        {"current": key_set.current, "keys": {k: base64.b64encode(v).decode() for k, v in key_set.keys.items()}}
    ).encode()
    sealed = AESGCM(_derive(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)).encrypt(nonce, plain, FORMAT.encode())
    document = {
        "format": FORMAT,
        "kek_ids": sorted(key_set.keys),  # not secret: lets an operator match the file to a backup
        "kdf": {"name": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P, "salt": salt.hex()},
        "nonce": nonce.hex(),
        "ciphertext": base64.b64encode(sealed).decode(),
    }
    return (json.dumps(document, indent=2) + "\n").encode()


def unseal(data: bytes, passphrase: str) -> KeySet:
    try:
        document = json.loads(data)
        if document.get("format") != FORMAT:
            raise BackupError("this is not a Chancery key file")
        kdf = document["kdf"]
        key = _derive(passphrase, bytes.fromhex(kdf["salt"]), int(kdf["n"]), int(kdf["r"]), int(kdf["p"]))
        sealed = base64.b64decode(document["ciphertext"])
        nonce = bytes.fromhex(document["nonce"])
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise BackupError(f"the key file is malformed ({type(exc).__name__})") from exc
    try:
        plain = json.loads(AESGCM(key).decrypt(nonce, sealed, FORMAT.encode()))
    except InvalidTag:
        raise BackupError("wrong passphrase for the key file, or the key file was altered") from None
    keys = {kek_id: base64.b64decode(value) for kek_id, value in plain["keys"].items()}
    for kek_id, value in keys.items():
        if keystore.kek_id_for(value) != kek_id:
            raise BackupError(f"the key file is damaged: key {kek_id} is not the key its id names")
    return KeySet(keys=keys, current=plain["current"])


def install(key_set: KeySet) -> None:
    """Write the KEKs into this data dir's key store and activate the one that was active.

    With CHANCERY_MASTER_KEY set, the environment holds the active KEK: only the others are
    written (data keys still wrapped under them must stay readable).
    """
    from chancery.crypto._fsutil import atomic_write

    master = keystore.master_kek()
    directory = keystore.keys_dir()
    keystore._ensure_dir(directory)
    for kek_id, key in key_set.keys.items():
        if master is not None and master.id == kek_id:
            continue
        path = directory / f"kek-{kek_id}.key"
        if not path.exists():
            atomic_write(path, base64.b64encode(key) + b"\n", mode=0o600)
    if master is None and key_set.current:
        keystore.activate_kek(key_set.current)
