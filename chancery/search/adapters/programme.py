"""Programmes (*Contrats Programmes*): title and summary, read as model attributes."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.urls import reverse

from chancery.planning.models import Programme
from chancery.search.adapters.base import Entry, Shown
from chancery.search.adapters.planning_common import PlanningAdapter, programme_compartments, programme_entry
from chancery.search.analysis import detect_language


def programme_texts(programme: Programme) -> tuple[str, str]:
    """(title, summary) in clear: the one place search reads a programme's texts."""
    return programme.title, programme.summary


class ProgrammeAdapter(PlanningAdapter):
    doc_type = "programme"
    model = Programme
    related = ("mission",)
    compartments = "compartments"

    def entry(self, obj: Any) -> Entry:
        title, summary = programme_texts(obj)
        entry = programme_entry(obj, obj.pk)
        entry.dated = date(obj.year, 1, 1)
        entry.author_id = obj.submitted_by_id
        entry.text = f"{title}\n{summary}"
        entry.language = detect_language(entry.text)
        return entry

    def show(self, obj: Any, *, with_text: bool) -> Shown:
        title, summary = programme_texts(obj)
        return Shown(
            title=title,
            url=reverse("planning:programme_detail", args=[obj.pk]),
            reference=f"{obj.mission.code} {obj.year}",
            text=summary if with_text else "",
            unit=obj.mission.code,
            dated=date(obj.year, 1, 1),
            compartments=programme_compartments(obj),
        )
