"""Writes to the units tree: create, update, move (with cycle detection), all audited."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Value
from django.db.models.functions import Concat, Substr
from django.utils.translation import gettext as _

from chancery.audit.services import record_event
from chancery.core.locking import claim_version
from chancery.organisation.models import Unit

UNIT_FIELDS = {
    "code", "name", "short_name", "kind", "function", "mission_kind", "country", "city", "hq_desk", "aliases",
    "is_active",
}


def _units() -> Any:
    return Unit.objects.unrestricted("organisation service")


def _validate(unit: Unit) -> None:
    """full_clean, with the uniqueness of the code checked outside the gate.

    Django's own unique check reads through the default (gated) manager, which raises
    GateBypassError while a request is served.
    """
    unit.full_clean(exclude=["path"], validate_unique=False)
    if _units().filter(code=unit.code).exclude(pk=unit.pk).exists():
        raise ValidationError({"code": _("A unit with this code already exists.")})


def _path_for(unit: Unit, parent: Unit | None) -> str:
    return f"{parent.path if parent else '/'}{unit.pk}/"


@transaction.atomic
def create_unit(*, actor: Any | None, parent: Unit | None = None, **fields: Any) -> Unit:
    unknown = set(fields) - UNIT_FIELDS
    if unknown:
        raise ValueError(f"unknown unit fields: {sorted(unknown)}")
    unit = Unit(parent=parent, **fields)
    _validate(unit)
    unit.save()
    unit.path = _path_for(unit, parent)
    unit.save(update_fields=["path"])
    record_event(action="organisation.unit_created", actor=actor, target=unit,
                 details={"code": unit.code, "parent": parent.code if parent else None})
    return unit


@transaction.atomic
def update_unit(
    *, actor: Any, unit: Unit, parent: Unit | Any | None = ..., lock_version: int | None = None, **fields: Any
) -> Unit:
    """Change a unit; `lock_version` is the version the editor read (StaleVersion if it moved on)."""
    unknown = set(fields) - UNIT_FIELDS
    if unknown:
        raise ValueError(f"unknown unit fields: {sorted(unknown)}")
    claim_version(unit, lock_version)
    changed = sorted(name for name, value in fields.items() if getattr(unit, name) != value)
    for name, value in fields.items():
        setattr(unit, name, value)
    moving = parent is not ... and (parent.pk if parent else None) != unit.parent_id
    if moving:
        if parent is not None and (parent.pk == unit.pk or f"/{unit.pk}/" in parent.path):
            raise ValidationError({"parent": _("A unit cannot be placed under itself or one of its sub-units.")})
        unit.parent = parent
        changed.append("parent")
    _validate(unit)
    unit.save()
    if moving:
        old_path = unit.path
        new_path = _path_for(unit, parent)
        # Re-root the whole subtree in one statement: descendants keep their tails.
        _units().filter(path__startswith=old_path).update(
            path=Concat(Value(new_path), Substr("path", len(old_path) + 1))
        )
        unit.refresh_from_db(fields=["path"])
    if changed:
        record_event(action="organisation.unit_updated", actor=actor, target=unit, details={"fields": changed})
    return unit
