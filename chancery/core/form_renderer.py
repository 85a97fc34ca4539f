"""The form renderer (`FORM_RENDERER`): Django's widget templates, with the plainest ones written
out in Python.

Django renders each widget through its template engine: a select is one template, one more per
option and one for each element's attributes. On the inbox its four filters were a third of the
page's rendering (3.4 of 9.3 ms), and forms are on most pages (the programme document has one per
action). The input, textarea, select and option templates are short enough to write out here,
character for character (`chancery/core/tests/test_form_renderer.py` compares every widget with
Django's templates); any other template goes through the templates as before. (This renderer's
engine reads django/forms/templates before the apps' templates, as Django's does, so an app cannot
replace the templates written out here.)
"""

from __future__ import annotations

from typing import Any

from django.forms.renderers import DjangoTemplates
from django.utils.html import escape
from django.utils.safestring import SafeData

from chancery.core.rendering import as_text as _output

_WIDGETS = "django/forms/widgets/"
# The widget templates that are `{% include "django/forms/widgets/input.html" %}` and nothing else.
INPUT_TEMPLATES = frozenset(
    f"{_WIDGETS}{name}.html"
    for name in (
        "input",
        "checkbox",
        "color",
        "date",
        "datetime",
        "email",
        "file",
        "hidden",
        "number",
        "password",
        "search",
        "tel",
        "text",
        "time",
        "url",
    )
)
SELECT_TEMPLATE = f"{_WIDGETS}select.html"
OPTION_TEMPLATE = f"{_WIDGETS}select_option.html"
TEXTAREA_TEMPLATE = f"{_WIDGETS}textarea.html"


def _as_string(value: Any) -> str:
    """`{{ value|stringformat:'s' }}` (the filter keeps a safe string safe)."""
    text = "%s" % (value,)  # noqa: UP031 - the filter's own formatting
    return text if isinstance(value, SafeData) else escape(text)


def _attrs(attrs: dict[str, Any]) -> str:
    """django/forms/widgets/attrs.html."""
    return "".join(
        f" {_output(name)}" + ("" if value is True else f'="{_as_string(value)}"')
        for name, value in attrs.items()
        if value is not False
    )


def _input(widget: dict[str, Any]) -> str:
    value = f' value="{_as_string(widget["value"])}"' if widget["value"] is not None else ""
    return f'<input type="{_output(widget["type"])}" name="{_output(widget["name"])}"{value}{_attrs(widget["attrs"])}>'


def _option(option: dict[str, Any]) -> str:
    # The template file ends with a newline, which `{% include %}` keeps inside a select.
    return (
        f'<option value="{_as_string(option["value"])}"{_attrs(option["attrs"])}>{_output(option["label"])}</option>\n'
    )


class FastWidgetRenderer(DjangoTemplates):
    """`DjangoTemplates`, with the input, textarea, select and option templates in Python."""

    def render(self, template_name: str, context: dict[str, Any], request: Any = None) -> str:
        widget = context.get("widget") if isinstance(context, dict) and len(context) == 1 else None
        if widget is None:
            return super().render(template_name, context, request)
        if template_name in INPUT_TEMPLATES:
            return _input(widget)
        if template_name == TEXTAREA_TEMPLATE:
            value = _output(widget["value"]) if widget["value"] else ""
            return f'<textarea name="{_output(widget["name"])}"{_attrs(widget["attrs"])}>\n{value}</textarea>'
        if template_name == SELECT_TEMPLATE:
            return self._select(widget, request)
        if template_name == OPTION_TEMPLATE:
            return _option(widget).strip()
        return super().render(template_name, context, request)

    def _select(self, widget: dict[str, Any], request: Any) -> str:
        parts = [f'<select name="{_output(widget["name"])}"{_attrs(widget["attrs"])}>']
        for group_name, group_choices, _index in widget["optgroups"]:
            if group_name:
                parts.append(f'\n  <optgroup label="{_output(group_name)}">')
            for option in group_choices:
                if option["template_name"] == OPTION_TEMPLATE:
                    parts.append(f"\n  {_option(option)}")
                else:  # `{% include option.template_name with widget=option %}`
                    template = self.get_template(option["template_name"])
                    parts.append(f"\n  {template.render({'widget': option}, request)}")
            if group_name:
                parts.append("\n  </optgroup>")
        parts.append("\n</select>")
        return "".join(parts)
