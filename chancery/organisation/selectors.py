"""Reads of the organisation, always for a given user (through the gate)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q

from chancery.accounts.models import Membership, User
from chancery.core.gate import get_visible_or_404
from chancery.organisation.models import Unit


@dataclass
class UnitNode:
    unit: Unit
    children: list[UnitNode] = field(default_factory=list)


def unit_tree(*, user: User, include_inactive: bool = False) -> list[UnitNode]:
    units = Unit.objects.visible_to(user)
    if not include_inactive:
        units = units.active()
    nodes = {u.pk: UnitNode(u) for u in units.order_by("path")}
    roots: list[UnitNode] = []
    for node in nodes.values():
        parent = nodes.get(node.unit.parent_id) if node.unit.parent_id else None
        (parent.children if parent else roots).append(node)
    return roots


def unit_list(*, user: User, query: str = "", kind: str = "") -> Any:
    units = Unit.objects.visible_to(user).select_related("parent")
    if query:
        units = units.filter(Q(code__icontains=query) | Q(name__icontains=query) | Q(city__icontains=query))
    if kind:
        units = units.filter(kind=kind)
    return units


def unit_detail(*, user: User, code: str) -> Unit:
    return get_visible_or_404(Unit.objects.select_related("parent", "hq_desk"), user, code=code)


def unit_members(*, user: User, unit: Unit) -> list[Membership]:
    visible_users = User.objects.visible_to(user).values("pk")
    return list(
        Membership.objects.active().filter(unit=unit, user__in=visible_users).select_related("user")
        .order_by("role", "user__last_name")
    )


def unit_children(*, user: User, unit: Unit) -> Any:
    return Unit.objects.visible_to(user).filter(parent=unit).order_by("code")


def missions_followed(*, user: User, unit: Unit) -> Any:
    return Unit.objects.visible_to(user).filter(hq_desk=unit).order_by("code")


def people(*, user: User, query: str = "", include_inactive: bool = False) -> Any:
    users = User.objects.visible_to(user)
    if not include_inactive:
        users = users.filter(is_active=True)
    if query:
        users = users.filter(
            Q(username__icontains=query) | Q(first_name__icontains=query) | Q(last_name__icontains=query)
        )
    return users.order_by("last_name", "first_name")


def person_detail(*, user: User, username: str) -> User:
    return get_visible_or_404(User.objects.all(), user, username=username)


def person_memberships(*, person: User) -> list[Membership]:
    return list(Membership.objects.filter(user=person).select_related("unit").order_by("-start_date"))
