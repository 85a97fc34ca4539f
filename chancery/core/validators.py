"""Checks on free text shared by every app."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

# Bidirectional embedding, override and isolate controls (U+202A–U+202E, U+2066–U+2069): in a
# name or a reference they make text display in another order than it is stored
# ("moc.exe" shown for "exe.com"), so a reader can be misled about who or what is named.
# The plain marks U+200E/U+200F stay allowed: Arabic text legitimately uses them.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def has_bidi_controls(value: object) -> bool:
    return isinstance(value, str) and BIDI_CONTROLS.search(value) is not None


def bidi_message() -> str:
    return _("This text contains an invisible direction control character (such as U+202E); remove it.")


def reject_bidi_controls(**fields: object) -> None:
    """Raise a ValidationError naming every field whose text holds a direction control."""
    errors = {name: bidi_message() for name, value in fields.items() if has_bidi_controls(value)}
    if errors:
        raise ValidationError(errors)
