"""System checks of the correspondence tables (run with the database: `chancery check --database
default`, and by `migrate`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.core.checks import CheckMessage, Error, Tags, register


@register(Tags.database)
def check_routing_marking(
    app_configs: Sequence[AppConfig] | None = None, databases: Sequence[str] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """The inbox's clearance check relies on the routings' copies of their dispatch's marking,
    kept by triggers: without them a marking change would not reach the inbox counters."""
    from chancery.correspondence.marking_copies import missing_triggers

    return [
        Error(
            f"Database {alias!r} lacks the triggers that keep each routing's copy of its dispatch's marking: "
            + ", ".join(missing),
            hint="Run `chancery migrate` (it re-creates them and recomputes the copies).",
            id="correspondence.E001",
        )
        for alias in databases or []
        if (missing := missing_triggers(using=alias))
    ]


@register(Tags.database)
def check_substring_index(
    app_configs: Sequence[AppConfig] | None = None, databases: Sequence[str] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """The lists' word filter finds its candidates in the substring index: without its triggers
    (SQLite) it would miss dispatches written since; without its indexes it reads every dispatch."""
    from chancery.correspondence.substring_index import missing

    return [
        Error(
            f"Database {alias!r} lacks parts of the dispatches' substring index: " + ", ".join(absent),
            hint="Run `chancery migrate` (it re-creates them and rebuilds the index from the dispatches).",
            id="correspondence.E002",
        )
        for alias in databases or []
        if (absent := missing(using=alias))
    ]
