"""Sealing report content at rest: programme texts copied into a synthesis or a generated
file are encrypted (AES-256-GCM) under a data key of their own, bound to the object."""

from __future__ import annotations

import json
from typing import Any

from chancery.crypto import envelope
from chancery.crypto.models import DataKey
from chancery.crypto.services import new_data_key, unwrap


def _aad(kind: str, object_id: int) -> bytes:
    return envelope.associated_data(f"reporting.{kind}", object_id, "")


def seal(*, kind: str, object_id: int, data: bytes, data_key: DataKey | None) -> tuple[DataKey, bytes]:
    """Encrypt `data` for (kind, object id); creates the data key on first need."""
    if data_key is None:
        data_key, key = new_data_key()
    else:
        key = unwrap(data_key=data_key)
    return data_key, envelope.encrypt(data, key, _aad(kind, object_id))


def unseal(*, kind: str, object_id: int, ciphertext: bytes | memoryview, data_key: DataKey) -> bytes:
    return envelope.decrypt(bytes(ciphertext), unwrap(data_key=data_key), _aad(kind, object_id))


def seal_json(*, kind: str, object_id: int, value: Any, data_key: DataKey | None) -> tuple[DataKey, bytes]:
    return seal(kind=kind, object_id=object_id, data=json.dumps(value, default=str).encode(), data_key=data_key)


def unseal_json(*, kind: str, object_id: int, ciphertext: bytes | memoryview, data_key: DataKey) -> Any:
    return json.loads(unseal(kind=kind, object_id=object_id, ciphertext=ciphertext, data_key=data_key))
