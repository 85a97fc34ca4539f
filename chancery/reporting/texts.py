"""Programme texts as reporting reads them — in ONE place.

Titles, descriptions and achievement texts of protected programmes are being moved to
encrypted storage; every text the reports show goes through these functions, so that only
this module changes when the storage does. Never aggregate on these texts in SQL.
"""

from __future__ import annotations

from typing import Any


def programme_title(programme: Any) -> str:
    return str(programme.title or "")


def programme_summary(programme: Any) -> str:
    return str(programme.summary or "")


def axis_narrative(axis: Any) -> str:
    return str(axis.narrative or "")


def action_title(action: Any) -> str:
    return str(action.title or "")


def indicator_label(indicator: Any) -> str:
    return str(indicator.label or "")


def achievement_title(achievement: Any) -> str:
    return str(achievement.title or "")


def achievement_description(achievement: Any) -> str:
    return str(achievement.description or "")


def version_reason(version: Any) -> str:
    return str(version.reason or "")
