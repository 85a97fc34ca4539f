"""`{{ value|number }}`: a figure written through the locale, thousands grouped (40 000 → 55 000).

For values kept as text (version snapshots store figures as strings) and plain numbers alike;
anything that is not a number is returned as it is.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template
from django.utils import formats

register = template.Library()


@register.filter
def number(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    text = str(value).strip()
    try:
        amount = Decimal(text)
    except (InvalidOperation, ValueError):
        return value
    if not amount.is_finite():
        return value
    exponent = amount.normalize().as_tuple().exponent
    places = max(0, -exponent) if isinstance(exponent, int) else 0
    written = formats.number_format(amount, decimal_pos=places, use_l10n=True, force_grouping=True)
    return f"+{written}" if text.startswith("+") else written
