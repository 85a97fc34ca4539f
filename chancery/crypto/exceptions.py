"""Errors raised by chancery.crypto.

Messages name key ids and paths, never key material: they end up in logs and on the
command line.
"""

from __future__ import annotations


class CryptoError(Exception):
    """Base class for every error of this app."""


class KeyStoreError(CryptoError):
    """The key store is misconfigured (bad master key, unreadable directory...)."""


class InsecureKeyStore(KeyStoreError):
    """A key file or the key directory is accessible to group or others."""


class KeyUnavailable(KeyStoreError):
    """A key-encryption key that some data needs is not in the key store."""


class DecryptionError(CryptoError):
    """Ciphertext failed authentication: wrong key, wrong associated data or tampering."""


class RotationError(CryptoError):
    """Key rotation cannot proceed."""
