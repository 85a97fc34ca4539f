"""Template helpers of the reporting pages."""

from __future__ import annotations

import json
from typing import Any

from django import template
from django.utils.http import urlencode

register = template.Library()


@register.filter
def get(mapping: Any, key: Any) -> Any:
    """`{{ figures|get:key }}`: a dict entry by a variable key."""
    try:
        return mapping.get(key, "")
    except AttributeError:
        return ""


@register.filter
def to_json(value: Any) -> str:
    """A chart's data as JSON for a `data-chart` attribute (autoescaping makes it attribute-safe).
    Not a `<script>` block: HTMX drops script elements from swapped content."""
    return json.dumps(value, default=str)


@register.simple_tag
def query_with(query: dict[str, Any] | None, **changes: Any) -> str:
    """The page's filters as a query string, with some parameters changed."""
    params = {**(query or {}), **changes}
    return urlencode({k: v for k, v in params.items() if v not in (None, "")})
