"""API: units and agents (read)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.pagination import LimitOffsetPagination, paginate

from chancery.accounts.access import agent
from chancery.organisation import selectors
from chancery.organisation.keys import published_keys

router = Router(tags=["organisation"])


class UnitOut(Schema):
    id: int
    code: str
    name: str
    kind: str
    function: str
    parent: str | None
    country: str
    city: str
    hq_desk: str | None
    is_active: bool

    @staticmethod
    def resolve_parent(obj: Any) -> str | None:
        return obj.parent.code if obj.parent_id else None

    @staticmethod
    def resolve_hq_desk(obj: Any) -> str | None:
        return obj.hq_desk.code if obj.hq_desk_id else None


class MembershipOut(Schema):
    unit: str
    role: str
    start_date: str
    end_date: str | None

    @staticmethod
    def resolve_unit(obj: Any) -> str:
        return str(obj.unit.code)

    @staticmethod
    def resolve_start_date(obj: Any) -> str:
        return obj.start_date.isoformat()

    @staticmethod
    def resolve_end_date(obj: Any) -> str | None:
        return obj.end_date.isoformat() if obj.end_date else None


class UserOut(Schema):
    id: int
    username: str
    first_name: str
    last_name: str


class UserDetailOut(UserOut):
    memberships: list[MembershipOut]

    @staticmethod
    def resolve_memberships(obj: Any) -> list[Any]:
        return selectors.person_memberships(person=obj)


@router.get("/units", response=list[UnitOut])
@paginate(LimitOffsetPagination)
def list_units(request: HttpRequest, q: str = "", kind: str = "") -> Any:
    return selectors.unit_list(user=agent(request), query=q[:100], kind=kind).select_related("hq_desk")


@router.get("/units/{path:code}", response=UnitOut)
def get_unit(request: HttpRequest, code: str) -> Any:
    return selectors.unit_detail(user=agent(request), code=code)


@router.get("/users", response=list[UserOut])
@paginate(LimitOffsetPagination)
def list_users(request: HttpRequest, q: str = "") -> Any:
    return selectors.people(user=agent(request), query=q[:100])


@router.get("/users/{username}", response=UserDetailOut)
def get_user(request: HttpRequest, username: str) -> Any:
    return selectors.person_detail(user=agent(request), username=username)


class UnitKeyOut(Schema):
    unit: str
    unit_name: str
    key_id: int
    fingerprint: str
    public_key_pem: str
    created_at: str
    retired_at: str | None

    @staticmethod
    def resolve_created_at(obj: Any) -> str:
        return obj.created_at.isoformat()

    @staticmethod
    def resolve_retired_at(obj: Any) -> str | None:
        return obj.retired_at.isoformat() if obj.retired_at else None


@router.get("/unit-keys", response=list[UnitKeyOut], auth=None)
def list_unit_keys(request: HttpRequest) -> Any:
    """Public (no token): every unit's Ed25519 signing keys with their SHA-256 fingerprints,
    current and retired, to check signed dispatches and packages."""
    return published_keys()
