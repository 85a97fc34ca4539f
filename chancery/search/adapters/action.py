"""Actions of a programme: title, description and risks, read as model attributes."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from chancery.planning.models import Action
from chancery.search.adapters.base import Entry, Shown
from chancery.search.adapters.planning_common import PlanningAdapter, programme_compartments, programme_entry
from chancery.search.analysis import detect_language


def action_texts(action: Action) -> tuple[str, str]:
    """(title, description + risks) in clear: the one place search reads an action's texts."""
    return action.title, "\n".join(part for part in (action.description, action.risk_note) if part)


class ActionAdapter(PlanningAdapter):
    doc_type = "action"
    model = Action

    def entry(self, obj: Any) -> Entry:
        title, body = action_texts(obj)
        entry = programme_entry(obj.programme, obj.pk)
        entry.dated = obj.start_date or obj.target_date or obj.end_date
        entry.author_id = obj.lead_id
        entry.text = f"{title}\n{body}"
        entry.language = detect_language(entry.text)
        return entry

    def show(self, obj: Any, *, with_text: bool) -> Shown:
        title, body = action_texts(obj)
        programme = obj.programme
        return Shown(
            title=title,
            url=reverse("planning:programme_detail", args=[programme.pk]) + f"#action-{obj.pk}",
            reference=f"{programme.mission.code} {programme.year}",
            text=body if with_text else "",
            unit=programme.mission.code,
            dated=obj.start_date or obj.target_date or obj.end_date,
            compartments=programme_compartments(programme),
        )
