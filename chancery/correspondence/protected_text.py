"""Short texts about a dispatch (circuit remarks, internal notes), encrypted at rest.

Each text gets a data key of its own (wrapped by the KEK like every data key, so `rotate-keys`
covers it) and is bound to its kind and dispatch: a remark cannot be moved to another draft.
It does not depend on the dispatch's own key, which changes when its marking does.
"""

from __future__ import annotations

from chancery.crypto import envelope
from chancery.crypto.models import DataKey
from chancery.crypto.services import new_data_key, unwrap


def _aad(kind: str, dispatch_id: int) -> bytes:
    return envelope.associated_data(f"correspondence.{kind}", dispatch_id, "")


def seal(text: str, *, kind: str, dispatch_id: int) -> tuple[DataKey, bytes]:
    data_key, key = new_data_key()
    return data_key, envelope.encrypt(text.encode(), key, _aad(kind, dispatch_id))


def unseal(ciphertext: bytes | memoryview | None, data_key: DataKey | None, *, kind: str, dispatch_id: int) -> str:
    if not ciphertext or data_key is None:
        return ""
    return envelope.decrypt(bytes(ciphertext), unwrap(data_key=data_key), _aad(kind, dispatch_id)).decode()
