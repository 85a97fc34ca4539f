"""Form helpers: Bootstrap classes and accessible error wiring on every field."""

from __future__ import annotations

from typing import Any

from django import forms


class StyledFormMixin:
    """Adds Bootstrap classes and aria-describedby to every widget, and aria-invalid to fields in error.

    Nothing here validates the form: subclasses may still adjust fields after `__init__`.
    Every error, from cleaning or added by a view, passes through `add_error`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():  # type: ignore[attr-defined]
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.Select | forms.SelectMultiple):
                css = "form-select"
            else:
                css = "form-control"
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()
            if field.help_text:
                widget.attrs["aria-describedby"] = f"{self[name].auto_id}_help"  # type: ignore[index]

    def add_error(self, field: str | None, error: Any) -> None:
        super().add_error(field, error)  # type: ignore[misc]
        for name in self.errors:  # type: ignore[attr-defined]
            if name not in self.fields:  # type: ignore[attr-defined]
                continue
            attrs = self.fields[name].widget.attrs  # type: ignore[attr-defined]
            error_id = f"{self[name].auto_id}_error"  # type: ignore[index]
            attrs["aria-invalid"] = "true"
            described = attrs.get("aria-describedby", "").split()
            if error_id not in described:
                attrs["aria-describedby"] = " ".join([*described, error_id])


class StyledForm(StyledFormMixin, forms.Form):
    pass


class StyledModelForm(StyledFormMixin, forms.ModelForm):
    pass
