"""The units' public signing keys, published so that anyone — inside the ministry or a
recipient outside it — can check a signed dispatch or package. Public keys only: nothing
here is secret, and the page and the API answer without signing in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chancery.correspondence.package_format import fingerprint, public_key_pem
from chancery.crypto.models import SigningKey
from chancery.organisation.models import Unit


@dataclass(frozen=True)
class PublishedKey:
    unit: str
    unit_name: str
    key_id: int
    fingerprint: str
    public_key_pem: str
    created_at: datetime
    retired_at: datetime | None


def published_keys() -> list[PublishedKey]:
    """Every unit's signing keys, current and retired (old dispatches were signed with those)."""
    names = dict(Unit.objects.unrestricted("public directory of unit keys").values_list("code", "name"))
    keys = SigningKey.objects.filter(owner__in=list(names)).order_by("owner", "-created_at")
    return [
        PublishedKey(
            unit=k.owner,
            unit_name=names.get(k.owner, ""),
            key_id=k.pk,
            fingerprint=fingerprint(bytes(k.public_key)),
            public_key_pem=public_key_pem(bytes(k.public_key)),
            created_at=k.created_at,
            retired_at=k.retired_at,
        )
        for k in keys
    ]
