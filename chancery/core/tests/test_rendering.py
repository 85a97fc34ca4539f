"""`chancery.core.rendering`: each helper outputs what the template language outputs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.template import Context, Template
from django.utils import timezone, translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from chancery.core.rendering import as_text, date_text, number_text

pytestmark = pytest.mark.engine_independent

VALUES = [
    datetime(2026, 12, 5, 6, 58, 1, 123456, tzinfo=UTC),
    datetime(2026, 3, 29, 0, 30, tzinfo=UTC),  # the night the clocks change in Paris
    datetime(2019, 1, 1, tzinfo=UTC) + timedelta(microseconds=1),
    date(2024, 2, 29),
    None,
    "",
]


@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris", "Africa/Dakar", "America/Lima"])
@pytest.mark.parametrize("language", ["fr", "en", "ar"])
@pytest.mark.parametrize("format_name", ["c", "SHORT_DATETIME_FORMAT", "DATE_FORMAT"])
def test_date_text_is_the_date_filter(zone: str, language: str, format_name: str) -> None:
    template = Template("{{ value|date:format_name }}")
    with timezone.override(zone), translation.override(language):
        for value in VALUES * 2:  # days are formatted once per language: the second time from what was kept
            if isinstance(value, date) and not isinstance(value, datetime) and format_name != "DATE_FORMAT":
                continue  # the filter itself refuses a day with an hour format
            expected = template.render(Context({"value": value, "format_name": format_name}))
            assert date_text(value, format_name) == expected, (value, zone, language)


@pytest.mark.parametrize("language", ["fr", "en", "ar", "es"])
@pytest.mark.parametrize("grouping", [False, True])
def test_as_text_is_the_variable_tag(language: str, grouping: bool, settings: Any) -> None:
    settings.USE_THOUSAND_SEPARATOR = grouping
    template = Template("{{ value }}")
    values = [0, 7, -42, 1234567, 10**18, True, False, 2.5, "<b>&</b>", None, date(2026, 12, 5),
              "l'ambassade \"DAB\" <Dakar> & co", "برقية — é", "", mark_safe("<i>déjà</i> &amp;"),
              gettext_lazy("Edit")]
    with translation.override(language):
        for value in values:
            assert as_text(value) == template.render(Context({"value": value})), (value, language, grouping)


def test_number_text_is_the_floatformat_filter_in_every_language_and_grouping(settings: Any) -> None:
    """Amounts are formatted once per language and kept: switching languages, or the grouping
    setting, never answers with a text kept for another."""
    template = Template("{{ value|floatformat:arg }}")
    values = [0, 7, -42, 1234567, 10**12, Decimal("60000000"), Decimal("1.5"), Decimal("1.50"), Decimal("-0.005"),
              Decimal("1234.5678"), 2.5, 1234567.891, None, "", "x"]
    for grouping in (False, True, False):
        settings.USE_THOUSAND_SEPARATOR = grouping
        for language in ("fr", "en", "ar", "es", "fr"):
            with translation.override(language):
                for arg in ("-2g", "2", "-2", "0g"):
                    for value in values:
                        expected = template.render(Context({"value": value, "arg": arg}))
                        assert number_text(value, arg) == expected, (value, arg, language, grouping)
