"""Optimistic locking, shared by every editable object that has a `lock_version`.

An edit form carries the version it was read at (`VersionField`); the service calls
`claim_version` inside its transaction before writing. The claim is one conditional UPDATE
(compare-and-set), so of two concurrent editors of the same version exactly one wins; the other
gets `StaleVersion` — a ValidationError, so every form already shows it and nothing is saved —
and re-applies their change to the newer version. Nothing is ever overwritten unseen.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

FIELD = "lock_version"


class StaleVersion(ValidationError):
    """Someone saved the object after the editor read it (the version moved on)."""

    def __init__(self, *, expected: int, current: int) -> None:
        super().__init__(
            _("Someone else saved this meanwhile; reload the page and apply your changes again."), code="stale"
        )
        self.expected = expected
        self.current = current


def claim_version(obj: models.Model, expected: int | None) -> None:
    """Move `obj`'s row from version `expected` to the next, or raise StaleVersion.

    `expected=None` (a caller that read nothing, e.g. a script) claims whatever is current.
    Call it inside the transaction that writes the object; `obj.lock_version` is updated,
    so the following `save()` keeps the claimed version.
    """
    rows = type(obj)._base_manager.filter(pk=obj.pk)
    current = rows.values_list(FIELD, flat=True).get()
    if expected is None:
        expected = current
    if not rows.filter(**{FIELD: expected}).update(**{FIELD: expected + 1}):
        raise StaleVersion(expected=expected, current=rows.values_list(FIELD, flat=True).get())
    setattr(obj, FIELD, expected + 1)


class VersionField(forms.IntegerField):
    """The hidden field carrying the version the form was read at."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.HiddenInput)
        kwargs.setdefault("required", False)
        kwargs.setdefault("min_value", 0)
        super().__init__(**kwargs)


def version_field() -> models.PositiveIntegerField[Any, Any]:
    return models.PositiveIntegerField(default=1, editable=False)
