"""Checks on free text shared by every app."""

from __future__ import annotations

import re
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db import models
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


# Dates and years a ministry's records can carry. Anything beyond is a typing slip or an
# attack: 9999-12-31 accepted once made every timeline and calendar feed fail for every reader
# (the day after it does not exist).
DATE_MIN = date(1900, 1, 1)
DATE_MAX = date(2199, 12, 31)


def date_message() -> str:
    return _("Enter a date between %(min)s and %(max)s.") % {"min": DATE_MIN.isoformat(), "max": DATE_MAX.isoformat()}


def year_message() -> str:
    return _("Enter a year between %(min)d and %(max)d.") % {"min": DATE_MIN.year, "max": DATE_MAX.year}


def out_of_range(value: object, *, year: bool = False) -> bool:
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return not DATE_MIN <= value <= DATE_MAX
    if year and isinstance(value, int) and not isinstance(value, bool):
        return not DATE_MIN.year <= value <= DATE_MAX.year
    return False


def check_model_bounds(instance: models.Model) -> None:
    """Every date, date-time and year field of `instance` within the bounds above.

    Run before every save of a Chancery model (see `chancery.core.db`), whatever the path
    (form, API, spreadsheet, letter import, command): a ValidationError naming the field.
    """
    errors: dict[str, str] = {}
    for field in instance._meta.concrete_fields:
        value = getattr(instance, field.attname, None)
        if value is None:
            continue
        is_date = isinstance(field, models.DateField | models.DateTimeField)
        if is_date and out_of_range(value):
            errors[field.name] = date_message()
        elif isinstance(field, models.IntegerField) and field.name.endswith("year") and out_of_range(value, year=True):
            errors[field.name] = year_message()
    if errors:
        raise ValidationError(errors)
