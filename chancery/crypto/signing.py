"""Ed25519 signatures and the canonical encoding they are computed over (pure functions).

A sent dispatch is signed by its sending unit over `canonical_bytes(content)`, where
the content includes the SHA-256 of each attachment. Anyone holding the public key can
check it: the encoding is plain JSON with fixed rules, reproducible in any language.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "PUBLIC_KEY_BYTES",
    "SIGNATURE_BYTES",
    "canonical_bytes",
    "generate_signing_key",
    "public_key_of",
    "sign",
    "verify",
]

PRIVATE_KEY_BYTES = 32
PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64


def generate_signing_key() -> tuple[bytes, bytes]:
    """A new key pair as (raw 32-byte private key, raw 32-byte public key)."""
    private = Ed25519PrivateKey.generate()
    return (
        private.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        ),
        private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw),
    )


def public_key_of(private: bytes) -> bytes:
    key = Ed25519PrivateKey.from_private_bytes(private)
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def sign(private: bytes, message: bytes) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(private).sign(message)


def verify(public: bytes, message: bytes, signature: bytes) -> bool:
    """True only for a valid signature; malformed keys or signatures are simply False."""
    if len(public) != PUBLIC_KEY_BYTES or len(signature) != SIGNATURE_BYTES:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def _check_canonical(value: object, path: str) -> None:
    # Only types with one obvious JSON form are accepted, so that a signature never
    # depends on how a serializer happens to render dates, decimals, bytes or sets.
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{path}: NaN and infinities have no canonical form")
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path}: object keys must be str, not {type(key).__name__}")
            _check_canonical(item, f"{path}.{key}")
        return
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        for index, item in enumerate(value):
            _check_canonical(item, f"{path}[{index}]")
        return
    raise TypeError(f"{path}: {type(value).__name__} has no canonical form; convert it to str first")


def canonical_bytes(obj: object) -> bytes:
    """Canonical JSON: sorted keys, no whitespace, UTF-8 (not \\u-escaped), finite numbers.

    Equal data gives equal bytes whatever the key order; unsupported types raise
    TypeError and non-finite floats ValueError rather than being silently coerced.
    """
    _check_canonical(obj, "$")
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8")
