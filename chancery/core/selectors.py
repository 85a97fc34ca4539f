"""Reads for the home page; each domain contributes a panel through its own selectors."""

from __future__ import annotations

import importlib
from typing import Any

from chancery.core.classification import Marking
from chancery.core.types import Agent

# Each module may define `home_panel(*, user) -> dict | None`; a panel dict names its
# `template` and carries what the template needs (already read through the gate).
HOME_PANEL_PROVIDERS = ["chancery.correspondence.selectors", "chancery.planning.selectors"]


def home_summary(*, user: Agent) -> dict[str, Any]:
    panels = []
    for module_name in HOME_PANEL_PROVIDERS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            continue
        provider = getattr(module, "home_panel", None)
        panel = provider(user=user) if provider else None
        if panel:
            panels.append(panel)
    return {"memberships": user.active_memberships(), "panels": panels, "marking": combined_marking(panels)}


def combined_marking(panels: list[dict[str, Any]]) -> Marking | None:
    """The home page's banner: the panels show protected titles side by side, so the page
    carries the highest level and every compartment any panel declares (`marking`)."""
    markings = [p["marking"] for p in panels if p.get("marking") is not None]
    if not markings:
        return None
    return Marking.of(max(m.level for m in markings), {c for m in markings for c in m.compartments})
