"""HTML written in Python for the parts of pages repeated many times (rows, items, widgets), each
value output as the template language outputs it.

Through templates, an action of the programme document cost 2.5 ms (some sixty lookups, filters,
includes, `{% url %}` and `{% csrf_token %}` per action and per comment): 35 of the 71 ms the demo's
programme took to render. The helpers here are what the template language does for `{{ value }}`,
and the filters those parts use, so that the HTML stays what the templates gave.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.template import defaultfilters
from django.template.base import render_value_in_context
from django.urls import reverse
from django.utils.html import conditional_escape
from django.utils.timezone import template_localtime  # type: ignore[attr-defined]  # not in the stubs
from django.utils.translation import get_language

# What `{{ value }}` reads of its context: autoescaped, localised and time-zone aware as configured.
_CONTEXT: Any = SimpleNamespace(autoescape=True, use_l10n=None, use_tz=None)


def as_text(value: Any) -> str:
    """`{{ value }}`: localised and escaped (a safe string as it is)."""
    kind = type(value)
    if kind is str:
        # A plain string is neither localised nor converted: escaped, as `conditional_escape` does
        # (the titles, names and labels of a page, hundreds a page).
        return html.escape(value)
    if kind is int and not settings.USE_THOUSAND_SEPARATOR:
        # What localising an integer gives without grouping (the keys in a page's addresses and
        # ids, hundreds a page), without looking up the language's separators for each.
        return str(value)
    return str(render_value_in_context(value, _CONTEXT))


def date_text(value: Any, format_name: str) -> str:
    """`{{ value|date:format_name }}` ("" for no date), in the current time zone."""
    if format_name == "c" and value not in (None, ""):
        # What Django's "c" is (`DateFormat.c`), without its format parser: a machine-readable
        # `datetime` attribute on each row of a list.
        return str(template_localtime(value).isoformat())
    if type(value) is date:  # no time zone to apply: the same text for the same day and language
        return _day_text(value, format_name, get_language())
    return str(defaultfilters.date(template_localtime(value), format_name))


def number_text(value: Any, arg: str = "-2g") -> str:
    """`{{ value|floatformat:arg }}`."""
    if type(value) in (int, Decimal):
        return _number_text(value, arg, get_language())
    return str(defaultfilters.floatformat(value, arg))


# A programme's document writes a few hundred dates and amounts, most of them alike (its actions'
# start and end days, budgets, targets): formatted once per language (Django's format parser and
# number grouping took 1 ms of the mission agent's document at a million dispatches). Emptied when
# a setting changes (tests), as Django's own format cache is.
@functools.lru_cache(maxsize=4096, typed=True)
def _day_text(value: date, format_name: str, language: str | None) -> str:
    return str(defaultfilters.date(value, format_name))


@functools.lru_cache(maxsize=4096, typed=True)
def _number_text(value: int | Decimal, arg: str, language: str | None) -> str:
    return str(defaultfilters.floatformat(value, arg))


@receiver(setting_changed)
def _forget_formatted(**_kwargs: Any) -> None:
    _day_text.cache_clear()
    _number_text.cache_clear()


def lines_text(value: Any) -> str:
    """`{{ value|linebreaksbr }}`: escaped, each line break a `<br>`."""
    return str(defaultfilters.linebreaksbr(value, autoescape=True))


def first_of(*values: Any) -> str:
    """`{% firstof a b %}`: the first true value, escaped."""
    return next((str(conditional_escape(v)) for v in values if v), "")


def csrf_input(token: Any) -> str:
    """`{% csrf_token %}` with the page's token (the same masked token in every form of a page)."""
    if not token or token == "NOTPROVIDED":  # noqa: S105 - what Django puts when no token is needed
        return ""
    return f'<input type="hidden" name="csrfmiddlewaretoken" value="{conditional_escape(token)}">'


_SLOT = 987_654_321_987  # an id no object has, replaced in the reversed address


def url_maker(viewname: str, *args: Any) -> Callable[..., str]:
    """`{% url viewname *args %}` for many objects: the address is reversed once, with a slot for
    each `None` in `args`, filled by the function returned (one `reverse` per call cost 50 µs)."""
    slots = [i for i, arg in enumerate(args) if arg is None]
    pattern = reverse(viewname, args=[_SLOT + i if arg is None else arg for i, arg in enumerate(args)])

    def make(*values: Any) -> str:
        url = pattern
        for slot, value in zip(slots, values, strict=True):
            url = url.replace(str(_SLOT + slot), str(int(value)), 1)
        return str(conditional_escape(url))

    return make
