"""Dates and numbers through the locale, in every language (issue 8)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import formats, translation

DAY = date(2026, 12, 1)


@pytest.mark.parametrize("language", ["fr", "ar", "es"])
def test_one_date_format_per_language_short_dates_and_date_times_agree(language):
    with translation.override(language):
        short = formats.date_format(DAY, "SHORT_DATE_FORMAT")
        stamp = formats.date_format(datetime(2026, 12, 1, 9, 30), "SHORT_DATETIME_FORMAT")
    assert short == "01/12/2026"  # day first, no direction marks that turn it around in RTL text
    assert stamp.startswith(short)


@pytest.mark.parametrize(("language", "expected"), [("fr", "40\xa0000 → 55\xa0000"), ("es", "40\xa0000 → 55\xa0000"),
                                                    ("ar", "40.000 → 55.000"), ("en", "40,000 → 55,000")])
def test_figures_kept_as_text_are_grouped_by_thousands(language, expected):
    template = Template("{% load chancery_format %}{{ old|number }} → {{ new|number }}")
    with translation.override(language):
        assert template.render(Context({"old": "40000", "new": Decimal("55000")})) == expected


def test_a_number_filter_leaves_other_text_and_keeps_signs_and_decimals():
    template = Template("{% load chancery_format %}{{ a|number }}|{{ b|number }}|{{ c|number }}")
    with translation.override("fr"):
        assert template.render(Context({"a": "—", "b": "+1500", "c": "1234.5"})) == "—|+1\xa0500|1\xa0234,5"


def test_spanish_short_month_names_are_written_alike():
    with translation.override("es"):
        names = [formats.date_format(date(2026, month, 1), "N") for month in range(1, 13)]
    assert names == ["ene.", "feb.", "mar.", "abr.", "may.", "jun.", "jul.", "ago.", "sept.", "oct.", "nov.", "dic."]


def test_statuses_agree_with_what_they_qualify():
    from chancery.planning.models import ActionStatus, ProgrammeStatus

    with translation.override("fr"):
        assert str(ActionStatus.APPROVED.label) == "Approuvée"  # une action
        assert str(ProgrammeStatus.APPROVED.label) == "Approuvé"  # un programme
        assert str(ProgrammeStatus.CLOSED.label) == "Clôturé"
