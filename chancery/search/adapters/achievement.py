"""Achievements (*réalisations*): title, description and outlet, read as model attributes."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from chancery.planning.models import Achievement
from chancery.search.adapters.base import Entry, Shown
from chancery.search.adapters.planning_common import PlanningAdapter, programme_compartments, programme_entry
from chancery.search.analysis import detect_language


def achievement_texts(achievement: Achievement) -> tuple[str, str]:
    """(title, description + outlet) in clear: the one place search reads an achievement's texts."""
    return achievement.title, "\n".join(part for part in (achievement.description, achievement.outlet) if part)


class AchievementAdapter(PlanningAdapter):
    doc_type = "achievement"
    model = Achievement

    def entry(self, obj: Any) -> Entry:
        title, body = achievement_texts(obj)
        entry = programme_entry(obj.programme, obj.pk)
        entry.dated = obj.date
        entry.author_id = obj.created_by_id
        entry.text = f"{title}\n{body}"
        entry.language = detect_language(entry.text)
        return entry

    def show(self, obj: Any, *, with_text: bool) -> Shown:
        title, body = achievement_texts(obj)
        programme = obj.programme
        return Shown(
            title=title,
            url=reverse("planning:programme_detail", args=[programme.pk]) + f"#achievement-{obj.pk}",
            reference=f"{programme.mission.code} {programme.year}",
            text=body if with_text else "",
            unit=programme.mission.code,
            dated=obj.date,
            compartments=programme_compartments(programme),
        )
