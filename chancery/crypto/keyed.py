"""Keyed hashes (HMAC-SHA256) of protected words and files, under keys wrapped by the KEK.

A plain hash lets anyone holding a candidate confirm it (a known file, a guessed tag): a
keyed hash needs the key, which is a `DataKey` (re-wrapped by `chancery rotate-keys`).
One key per `purpose` (`HashKey`): "tag" for the tags of protected dispatches (filtering
and facets compare tokens), "attachment" for the hashes of their attachments.

`seal_terms` keeps the word behind a token as AES-GCM ciphertext under the same key, so a
facet can name the tokens of the documents its reader may already see; the database
alone reveals neither the words nor whether a guessed word is among them.
The clear key is kept in this process once unwrapped (keyed by the wrapped bytes).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
from collections.abc import Iterable

from django.db import IntegrityError, transaction

from chancery.crypto import envelope
from chancery.crypto.services import new_data_key, unwrap

TOKEN_MARK = "k"  # noqa: S105 - a prefix, not a secret

_lock = threading.Lock()
_cache: dict[tuple[str, int, bytes], bytes] = {}


def hash_key(purpose: str) -> bytes:
    """The clear key of `purpose`, created (wrapped under the active KEK) on first use."""
    from chancery.crypto.models import HashKey

    row = HashKey.objects.select_related("data_key").filter(purpose=purpose).first()
    if row is None:
        try:
            with transaction.atomic():
                data_key, _plain = new_data_key()
                row = HashKey.objects.create(purpose=purpose, data_key=data_key)
        except IntegrityError:
            row = HashKey.objects.select_related("data_key").get(purpose=purpose)
    cache_key = (purpose, row.data_key.pk, bytes(row.data_key.wrapped_key))
    with _lock:
        key = _cache.get(cache_key)
    if key is None:
        key = unwrap(data_key=row.data_key)
        with _lock:
            for stale in [k for k in _cache if k[0] == purpose]:
                del _cache[stale]
            _cache[cache_key] = key
    return key


def hex_digest(key: bytes, data: bytes) -> str:
    """HMAC-SHA256 of `data` in hex (64 characters, the width of a SHA-256 column)."""
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def token(key: bytes, word: str) -> str:
    """A short keyed token for a word: `k` + 16 base32 characters (80 bits)."""
    mac = hmac.digest(key, word.encode("utf-8"), hashlib.sha256)[:10]
    return TOKEN_MARK + base64.b32encode(mac).decode("ascii").lower()


def is_token(value: str) -> bool:
    return len(value) == 17 and value.startswith(TOKEN_MARK) and value[1:].isalnum() and value[1:].islower()


def _term_aad(purpose: str, value: str) -> bytes:
    return envelope.associated_data(f"crypto.term.{purpose}", value, "")


def seal_terms(purpose: str, words: Iterable[str], key: bytes | None = None) -> dict[str, str]:
    """Tokens of `words` (word → token), each word sealed once under the purpose's key."""
    from chancery.crypto.models import SealedTerm

    wanted = [word for word in dict.fromkeys(words) if word]
    if not wanted:
        return {}
    key = key if key is not None else hash_key(purpose)
    tokens = {word: token(key, word) for word in wanted}
    known = set(
        SealedTerm.objects.filter(purpose=purpose, token__in=list(tokens.values())).values_list("token", flat=True)
    )
    missing = [
        SealedTerm(purpose=purpose, token=t, ciphertext=envelope.encrypt(w.encode("utf-8"), key, _term_aad(purpose, t)))
        for w, t in tokens.items()
        if t not in known
    ]
    if missing:
        SealedTerm.objects.bulk_create(missing, ignore_conflicts=True)
    return tokens


def unseal_terms(purpose: str, tokens: Iterable[str]) -> dict[str, str]:
    """The words behind these tokens (token → word), for tokens that were sealed."""
    from chancery.crypto.models import SealedTerm

    wanted = sorted({t for t in tokens if is_token(t)})
    if not wanted:
        return {}
    key = hash_key(purpose)
    return {
        row.token: envelope.decrypt(bytes(row.ciphertext), key, _term_aad(purpose, row.token)).decode("utf-8")
        for row in SealedTerm.objects.filter(purpose=purpose, token__in=wanted)
    }
