"""`{% url %}` with its answers remembered by the process: a template builtin (settings' `TEMPLATES`),
so it stands for Django's tag in every template, with the same syntax and results.

A page renders twenty to forty `{% url %}` tags (the navigation, the actions of each row), each
about 30 µs in `reverse`: a millisecond of every page, a tenth of the cheapest ones. The same view
name and arguments give the same path for as long as the process runs under the same URLconf,
script prefix, language and current application (the URLconf is code), so the answers are kept,
a bounded number of them. Only plain arguments (`str`, `int`) are remembered; anything else (a
model instance, whose text is its `__str__`) is reversed each time, as Django does.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django import template
from django.conf import settings
from django.template.defaulttags import URLNode
from django.template.defaulttags import url as django_url
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString
from django.utils.translation import get_language

register = template.Library()

# `SafeString` too: a quoted view name or argument in a template (`{% url 'core:home' %}`) resolves
# to one, and its text is its value (left out, no literal view name was ever answered from memory).
_PLAIN = (str, SafeString, int)


@lru_cache(maxsize=4096)
def _reversed(view_name: str, args: tuple[Any, ...], kwargs: tuple[tuple[str, Any], ...], current_app: str | None,
              urlconf: str | None, prefix: str, language: str | None) -> str:  # fmt: skip
    # `prefix` and `language` are part of the key only: `reverse` reads them itself.
    return reverse(view_name, args=args, kwargs=dict(kwargs), current_app=current_app, urlconf=urlconf)


class CachedURLNode(URLNode):
    def render(self, context: Any) -> str:
        args = tuple(arg.resolve(context) for arg in self.args)
        kwargs = tuple((k, v.resolve(context)) for k, v in self.kwargs.items())
        view_name = self.view_name.resolve(context)
        values = (view_name, *args, *(v for _k, v in kwargs))
        if not all(type(v) in _PLAIN for v in values):
            return str(super().render(context))
        # As plain values in the key: a `SafeString` and a `str` of the same text are one answer.
        view_name = str(view_name)
        args = tuple(a if type(a) is int else str(a) for a in args)
        kwargs = tuple((k, v if type(v) is int else str(v)) for k, v in kwargs)
        request = getattr(context, "request", None)
        current_app = getattr(request, "current_app", None)
        if current_app is None:
            current_app = getattr(getattr(request, "resolver_match", None), "namespace", None)
        urlconf = get_urlconf() or settings.ROOT_URLCONF
        url = ""
        try:
            url = _reversed(view_name, args, kwargs, current_app, urlconf, get_script_prefix(), get_language())
        except NoReverseMatch:
            if self.asvar is None:
                raise
        if self.asvar:
            context[self.asvar] = url
            return ""
        return str(conditional_escape(url)) if context.autoescape else url


@register.tag
def url(parser: Any, token: Any) -> CachedURLNode:
    """Django's `{% url %}`, parsed by Django, rendered through the process's remembered answers."""
    node = django_url(parser, token)
    node.__class__ = CachedURLNode
    return node  # type: ignore[return-value]  # the same node, its class swapped
