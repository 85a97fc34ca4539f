from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from chancery.core.forms import StyledForm


class LoginForm(StyledForm):
    username = forms.CharField(
        label=_("User name"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = forms.CharField(
        label=_("Password"), max_length=4096, strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class SecondFactorForm(StyledForm):
    code = forms.CharField(
        label=_("Code from your authenticator, or a recovery code"),
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )
