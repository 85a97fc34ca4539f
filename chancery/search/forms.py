from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from chancery.core.forms import StyledForm


class SaveSearchForm(StyledForm):
    name = forms.CharField(label=_("Name"), max_length=120)
    query = forms.CharField(label=_("Query"), max_length=1000, widget=forms.HiddenInput)
    notify = forms.BooleanField(label=_("Notify me of new matches"), required=False)
