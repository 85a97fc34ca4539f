"""Programme texts as reporting reads them — in ONE place.

Titles, descriptions and achievement texts of protected programmes are stored sealed
(encrypted under the programme's data key, `chancery.planning.sealed`): the model attributes
these functions read give the clear text, decrypted once per row in the reader's process.
Every text the reports show goes through here. Never aggregate, filter or sort on these
texts in SQL: for sealed rows the columns are blank.
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
