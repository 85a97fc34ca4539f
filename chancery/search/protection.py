"""Keyed hashes for the words of protected documents.

A protected document (a dispatch or programme marked at least *Diffusion restreinte*, a
dispatch sent encrypted, their attachments, actions and achievements) is indexed as
HMAC-SHA256 tokens under the index key: `q` + 16 base32 characters (80 bits) per term, and
per folded word its prefixes of 3..10 letters hashed the same way (for `visit*`). The query
hashes its terms with the same key, so a protected document matches exactly the queries
its clear twin would match, except prefixes shorter than 3 letters (not indexed) and
prefixes longer than 10 letters (matched on their first 10).

The key is a `crypto.DataKey` (wrapped by the KEK, re-wrapped by `chancery rotate-keys`).
Its clear value is kept in this process once unwrapped, keyed by the wrapped bytes: every
search hashes its terms, and a KEK round trip per query would dominate its latency.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading

from django.db import IntegrityError, transaction

from chancery.crypto.services import new_data_key, unwrap

PREFIX_MIN = 3
PREFIX_MAX = 10
HASH_MARK = "q"

_lock = threading.Lock()
_cache: dict[tuple[int, bytes], bytes] = {}


def index_key() -> bytes:
    """The clear index key, created (wrapped under the active KEK) on first use."""
    from chancery.search.models import IndexKey

    row = IndexKey.objects.select_related("data_key").filter(pk=1).first()
    if row is None:
        try:
            with transaction.atomic():
                data_key, _plain = new_data_key()
                row = IndexKey.objects.create(pk=1, data_key=data_key)
        except IntegrityError:
            row = IndexKey.objects.select_related("data_key").get(pk=1)
    cache_key = (row.data_key.pk, bytes(row.data_key.wrapped_key))
    with _lock:
        key = _cache.get(cache_key)
    if key is None:
        key = unwrap(data_key=row.data_key)
        with _lock:
            _cache.clear()
            _cache[cache_key] = key
    return key


class Hasher:
    """Hashes terms and prefixes under one key (build one per document or query)."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key if key is not None else index_key()
        # Words repeat: each is hashed once per hasher (one hasher per batch or query).
        self._seen: dict[bytes, str] = {}
        self._prefixes: dict[str, list[str]] = {}

    def _digest(self, kind: bytes, text: str) -> str:
        message = kind + text.encode("utf-8")
        found = self._seen.get(message)
        if found is None:
            mac = hmac.digest(self._key, message, hashlib.sha256)[:10]
            found = HASH_MARK + base64.b32encode(mac).decode("ascii").lower()
            if len(self._seen) < 500_000:
                self._seen[message] = found
        return found

    def term(self, term: str) -> str:
        return self._digest(b"t:", term)

    def prefix(self, prefix: str) -> str:
        return self._digest(b"p:", prefix[:PREFIX_MAX])

    def word_prefixes(self, word: str) -> list[str]:
        found = self._prefixes.get(word)
        if found is None:
            found = [self.prefix(word[:n]) for n in range(PREFIX_MIN, min(len(word), PREFIX_MAX) + 1)]
            if len(self._prefixes) < 200_000:
                self._prefixes[word] = found
        return found
