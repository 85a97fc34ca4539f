"""AES-256-GCM envelope encryption (pure functions, no database).

Each protected object (one dispatch: subject, body and attachments) has its own random
32-byte data key; the data key is stored wrapped by a key-encryption key (KEK). Rotating
a KEK re-wraps data keys only, never the ciphertexts.

Ciphertext format (version 1):

    0x01 | nonce (12 random bytes) | AES-GCM ciphertext and 16-byte tag

The version byte is authenticated too (it is prefixed to the associated data), so a
future format cannot be confused with this one. A random 96-bit nonce is safe here
because a data key encrypts only the few fields of one object.

Associated data binds a ciphertext to its object and marking: a ciphertext copied onto
another dispatch, into another field, or left unchanged while the marking is lowered in
the database, fails to decrypt. Changing an object's marking therefore means
re-encrypting its fields (see `reencrypt`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import IO, NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from chancery.crypto._fsutil import fsync_dir
from chancery.crypto.exceptions import DecryptionError
from chancery.crypto.keystore import Kek

__all__ = [
    "DATA_KEY_BYTES",
    "DecryptionError",
    "EncryptedFile",
    "associated_data",
    "decrypt",
    "decrypt_file",
    "encode_fields",
    "encrypt",
    "encrypt_file",
    "generate_data_key",
    "reencrypt",
    "unwrap_key",
    "wrap_key",
]

VERSION = 1
_HEADER = bytes([VERSION])
_NONCE_BYTES = 12
_TAG_BYTES = 16
DATA_KEY_BYTES = 32

FileSource = str | os.PathLike[str] | IO[bytes]


def encode_fields(*fields: str) -> bytes:
    """Unambiguous encoding of a tuple of strings: each is UTF-8, prefixed by its length.

    Length prefixes (rather than a separator) mean no choice of field values can make two
    different tuples encode alike, whatever characters they contain.
    """
    out = bytearray()
    for field in fields:
        if not isinstance(field, str):
            raise TypeError(f"associated data fields must be str, not {type(field).__name__}")
        encoded = field.encode("utf-8")
        out += len(encoded).to_bytes(4, "big")
        out += encoded
    return bytes(out)


def associated_data(kind: str, object_id: int | str, marking: str) -> bytes:
    """Associated data binding a ciphertext to (kind, object id, marking).

    `kind` names the object and field, e.g. "dispatch.body" or "attachment"; `object_id`
    is the primary key (an int and its decimal string are the same id); `marking` is the
    canonical marking string (level and compartments) the object carries.
    """
    if not kind:
        raise ValueError("associated data needs a kind")
    if isinstance(object_id, bool) or not isinstance(object_id, int | str):
        raise TypeError("object_id must be an int or a str")
    object_text = str(object_id)
    if not object_text:
        raise ValueError("associated data needs an object id")
    return encode_fields("chancery/aad/v1", kind, object_text, marking)


def generate_data_key() -> bytes:
    return os.urandom(DATA_KEY_BYTES)


def _aead(key: bytes) -> AESGCM:
    if len(key) != DATA_KEY_BYTES:
        raise ValueError(f"an AES-256 key is {DATA_KEY_BYTES} bytes, not {len(key)}")
    return AESGCM(key)


def encrypt(plaintext: bytes, data_key: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(_NONCE_BYTES)
    return _HEADER + nonce + _aead(data_key).encrypt(nonce, plaintext, _HEADER + aad)


def decrypt(ciphertext: bytes, data_key: bytes, aad: bytes) -> bytes:
    """Decrypt and authenticate; raises DecryptionError on any mismatch or tampering."""
    aead = _aead(data_key)
    if len(ciphertext) < 1 + _NONCE_BYTES + _TAG_BYTES:
        raise DecryptionError("ciphertext is truncated")
    if ciphertext[:1] != _HEADER:
        raise DecryptionError(f"unknown ciphertext format version {ciphertext[0]}")
    nonce = ciphertext[1 : 1 + _NONCE_BYTES]
    try:
        return aead.decrypt(nonce, ciphertext[1 + _NONCE_BYTES :], _HEADER + aad)
    except InvalidTag:
        raise DecryptionError(
            "ciphertext failed authentication (wrong key, wrong associated data, or altered)"
        ) from None


def reencrypt(ciphertext: bytes, data_key: bytes, old_aad: bytes, new_aad: bytes) -> bytes:
    """Re-bind a ciphertext to new associated data (e.g. after an authorised re-marking)."""
    return encrypt(decrypt(ciphertext, data_key, old_aad), data_key, new_aad)


# --- key wrapping -----------------------------------------------------------------------


def _wrap_aad(kek: Kek) -> bytes:
    # Binding the KEK id means a wrapped key relabelled with another kek_id fails cleanly.
    return encode_fields("chancery/wrap/v1", kek.id)


def wrap_key(data_key: bytes, kek: Kek) -> bytes:
    """Encrypt a data key under a KEK (AES-256-GCM, same format as content)."""
    if len(data_key) != DATA_KEY_BYTES:
        raise ValueError(f"a data key is {DATA_KEY_BYTES} bytes")
    return encrypt(data_key, kek.key, _wrap_aad(kek))


def unwrap_key(wrapped: bytes, kek: Kek) -> bytes:
    data_key = decrypt(wrapped, kek.key, _wrap_aad(kek))
    if len(data_key) != DATA_KEY_BYTES:
        raise DecryptionError("unwrapped data key has the wrong length")
    return data_key


# --- files ------------------------------------------------------------------------------


class EncryptedFile(NamedTuple):
    """What encrypt_file learnt of the plaintext on the way (for signatures and limits)."""

    size: int
    sha256: str


def _read_all(source: FileSource) -> bytes:
    if isinstance(source, str | os.PathLike):
        return Path(source).read_bytes()
    return source.read()


def encrypt_file(
    source: FileSource, dst_path: str | os.PathLike[str], data_key: bytes, aad: bytes
) -> EncryptedFile:
    """Encrypt a file (path or binary file object) to `dst_path`, all or nothing.

    Whole-buffer: attachments are capped at a few tens of MB. The ciphertext is written to
    a temporary file beside the destination, fsynced, then renamed over it, so a crash or
    an error leaves either no file or the complete one, never a partial ciphertext.
    """
    plaintext = _read_all(source)
    blob = encrypt(plaintext, data_key, aad)
    dst = Path(dst_path)
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(blob)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, dst)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    fsync_dir(dst.parent)
    return EncryptedFile(size=len(plaintext), sha256=hashlib.sha256(plaintext).hexdigest())


def decrypt_file(source: FileSource, data_key: bytes, aad: bytes) -> bytes:
    """Decrypt a file written by encrypt_file.

    Returns the plaintext in memory: writing it back to disk would defeat encryption at
    rest, so streaming it to the client is the caller's job.
    """
    return decrypt(_read_all(source), data_key, aad)
