from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from chancery.audit.selectors import LogFilter
from chancery.core.forms import StyledForm


class LogFilterForm(StyledForm):
    actor = forms.CharField(label=_("Agent"), required=False, max_length=150)
    action = forms.CharField(label=_("Action"), required=False, max_length=64,
                             help_text=_("e.g. accounts.login or correspondence (all its actions)"))
    object_type = forms.CharField(label=_("Object type"), required=False, max_length=64)
    object_id = forms.CharField(label=_("Object id"), required=False, max_length=64)
    since = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("Until"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise forms.ValidationError(_("The start date is after the end date."))
        return data

    def log_filter(self) -> LogFilter:
        if not self.is_valid():
            return LogFilter()
        return LogFilter(**{name: value for name, value in self.cleaned_data.items() if value})
