"""The form renderer writes out some of Django's widget templates in Python: its HTML must be
Django's, character for character, for every widget and every kind of value and attribute."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy, override
from hypothesis import given, settings
from hypothesis import strategies as st

from chancery.core.form_renderer import INPUT_TEMPLATES, OPTION_TEMPLATE, SELECT_TEMPLATE, TEXTAREA_TEMPLATE
from chancery.core.form_renderer import FastWidgetRenderer as Fast

TEMPLATES = DjangoTemplates()
FAST = Fast()

# Text that HTML escaping changes, right-to-left and accented text, and the empty string.
texts = st.one_of(
    st.sampled_from(["", "a", 'x"y', "<b>&amp;</b>", "l'été", "دبلوماسية", " spaced "]),
    st.text(max_size=12),
)
values = st.one_of(
    st.none(),
    texts,
    texts.map(mark_safe),
    st.integers(-(10**7), 10**7),
    st.booleans(),
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
    st.dates(),
)
attr_values = st.one_of(st.booleans(), texts, texts.map(mark_safe), st.integers(-5, 5000))
attrs = st.dictionaries(
    st.sampled_from(["class", "id", "required", "disabled", "data-x", "aria-label", "maxlength"]),
    attr_values,
    max_size=4,
)
choices = st.lists(
    st.tuples(st.one_of(texts, st.integers(0, 3000)), st.one_of(texts, st.integers(0, 3000))), max_size=5
)
grouped = st.lists(st.one_of(st.tuples(texts, choices), st.tuples(texts, texts)), max_size=4)

INPUT_WIDGETS = [
    forms.TextInput,
    forms.NumberInput,
    forms.EmailInput,
    forms.URLInput,
    forms.ColorInput,
    forms.SearchInput,
    forms.TelInput,
    forms.PasswordInput,
    forms.HiddenInput,
    forms.FileInput,
    forms.DateInput,
    forms.DateTimeInput,
    forms.TimeInput,
    forms.CheckboxInput,
]


def both(widget: forms.Widget, name: str, value: Any) -> tuple[str, str]:
    return (widget.render(name, value, renderer=TEMPLATES), widget.render(name, value, renderer=FAST))


def test_the_written_out_templates_are_those_of_this_django() -> None:
    # A Django upgrade that changed one of them would show here (the other tests compare output).
    def source(name: str) -> str:
        return TEMPLATES.get_template(name).template.source.strip()

    include = '{% include "django/forms/widgets/input.html" %}'
    assert all(source(name) == include for name in INPUT_TEMPLATES - {"django/forms/widgets/input.html"})
    assert {w.template_name for w in INPUT_WIDGETS} <= INPUT_TEMPLATES
    assert source(OPTION_TEMPLATE).startswith("<option value=\"{{ widget.value|stringformat:'s' }}\"")


@settings(max_examples=150, deadline=None)
@given(widget=st.sampled_from(INPUT_WIDGETS), name=texts, value=values, attrs=attrs)
def test_inputs_render_as_django_renders_them(
    widget: type[forms.Widget], name: str, value: Any, attrs: dict[str, Any]
) -> None:
    expected, written = both(widget(attrs=attrs), name, value)
    assert written == expected


@settings(max_examples=150, deadline=None)
@given(name=texts, value=values, attrs=attrs)
def test_textareas_render_as_django_renders_them(name: str, value: Any, attrs: dict[str, Any]) -> None:
    expected, written = both(forms.Textarea(attrs=attrs), name, value)
    assert written == expected


@settings(max_examples=150, deadline=None)
@given(
    widget=st.sampled_from([forms.Select, forms.SelectMultiple]),
    choices=grouped,
    name=texts,
    value=st.one_of(values, st.lists(texts, max_size=3)),
    attrs=attrs,
)
def test_selects_render_as_django_renders_them(
    widget: type[forms.Select], choices: list[Any], name: str, value: Any, attrs: dict[str, Any]
) -> None:
    expected, written = both(widget(attrs=attrs, choices=choices), name, value)
    assert written == expected


@pytest.mark.parametrize("language", ["fr", "en", "ar"])
def test_translated_numbered_and_dated_labels_render_as_django_renders_them(language: str) -> None:
    with override(language):
        select = forms.Select(
            choices=[
                (2026, 2026),
                (1234567, Decimal("1234.5")),
                ("", gettext_lazy("Status")),
                ("d", datetime.date(2026, 12, 3)),
            ]
        )
        for value in (2026, "", None, "d"):
            expected, written = both(select, "year", value)
            assert written == expected
        assert written.count("<option") == 4


def test_other_widgets_still_render_through_their_templates() -> None:
    # Radio buttons and the like are not written out: same HTML, from Django's templates.
    for widget, value in (
        (forms.RadioSelect(choices=[("a", "<A>")]), "a"),
        (forms.CheckboxSelectMultiple(choices=[(1, "b")]), [1]),
        (forms.SplitDateTimeWidget(), datetime.datetime(2026, 12, 3, 9, 30)),
        (forms.ClearableFileInput(), None),
        (forms.NullBooleanSelect(), True),
    ):
        expected, written = both(widget, "n", value)
        assert written == expected and written


def test_a_project_form_renders_whole_as_with_django_templates() -> None:
    from chancery.correspondence.forms import InboxFilterForm

    data = {"status": "open", "kind": "<x>"}
    fast = str(InboxFilterForm(data, units=[]))
    assert fast == str(InboxFilterForm(data, units=[], renderer=TEMPLATES))
    assert "<select" in fast and 'name="status"' in fast


def test_the_project_uses_it() -> None:
    from django.forms.renderers import get_default_renderer

    assert isinstance(get_default_renderer(), Fast)
    assert {SELECT_TEMPLATE, OPTION_TEMPLATE, TEXTAREA_TEMPLATE}.isdisjoint(INPUT_TEMPLATES)
