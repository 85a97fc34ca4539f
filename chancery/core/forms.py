"""Form helpers: Bootstrap classes and accessible error wiring on every field."""

from __future__ import annotations

from typing import Any

from django import forms


class StyledFormMixin:
    """Adds Bootstrap classes, aria-invalid and aria-describedby to every widget."""

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
            bound = self[name]  # type: ignore[index]
            described = []
            if field.help_text:
                described.append(f"{bound.auto_id}_help")
            if self.is_bound and self.errors.get(name):  # type: ignore[attr-defined]
                widget.attrs["aria-invalid"] = "true"
                described.append(f"{bound.auto_id}_error")
            if described:
                widget.attrs["aria-describedby"] = " ".join(described)


class StyledForm(StyledFormMixin, forms.Form):
    pass


class StyledModelForm(StyledFormMixin, forms.ModelForm):
    pass
