"""Roles an agent holds in a unit, and what each role may do.

Capabilities are decided here, in one table, so that views, API handlers and services
ask the same question (`has_capability`) instead of testing role names.
"""

from __future__ import annotations

from enum import StrEnum

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    HEAD_OF_MISSION = "head_of_mission", _("Head of mission")
    DIRECTOR = "director", _("Director / head of unit")
    COUNSELLOR = "counsellor", _("Counsellor")
    AGENT = "agent", _("Agent")
    REGISTRY_CLERK = "registry_clerk", _("Registry clerk")
    DESK_OFFICER = "desk_officer", _("Headquarters desk officer")
    PLANNING_OFFICER = "planning_officer", _("Planning officer")
    INSPECTION_OFFICER = "inspection_officer", _("Inspection officer")
    SECURITY_OFFICER = "security_officer", _("Security officer")
    ADMINISTRATOR = "administrator", _("Administrator")
    AUDITOR = "auditor", _("Auditor")


class Capability(StrEnum):
    DRAFT_DISPATCH = "draft_dispatch"
    VALIDATE_DISPATCH = "validate_dispatch"  # head of unit: validates and sends for the unit
    REGISTER_INCOMING = "register_incoming"
    HANDLE_ATTRIBUTION = "handle_attribution"  # acknowledge, assign, answer, close for the unit
    OVERSEE_SUBTREE = "oversee_subtree"  # reads what the unit's sub-units read
    DOWNGRADE = "downgrade"
    PROPOSE_PROGRAMME = "propose_programme"
    SUBMIT_PROGRAMME = "submit_programme"
    REVIEW_PROGRAMME = "review_programme"
    APPROVE_PROGRAMME = "approve_programme"
    READ_ALL_PROGRAMMES = "read_all_programmes"
    MANAGE_ORGANISATION = "manage_organisation"
    MANAGE_CLEARANCES = "manage_clearances"
    READ_AUDIT = "read_audit"


ROLE_CAPABILITIES: dict[str, frozenset[Capability]] = {
    Role.HEAD_OF_MISSION: frozenset(
        {
            Capability.DRAFT_DISPATCH,
            Capability.VALIDATE_DISPATCH,
            Capability.HANDLE_ATTRIBUTION,
            Capability.OVERSEE_SUBTREE,
            Capability.PROPOSE_PROGRAMME,
            Capability.SUBMIT_PROGRAMME,
        }
    ),
    Role.DIRECTOR: frozenset(
        {
            Capability.DRAFT_DISPATCH,
            Capability.VALIDATE_DISPATCH,
            Capability.HANDLE_ATTRIBUTION,
            Capability.OVERSEE_SUBTREE,
            Capability.REVIEW_PROGRAMME,
        }
    ),
    Role.COUNSELLOR: frozenset(
        {Capability.DRAFT_DISPATCH, Capability.HANDLE_ATTRIBUTION, Capability.PROPOSE_PROGRAMME}
    ),
    Role.AGENT: frozenset({Capability.DRAFT_DISPATCH, Capability.PROPOSE_PROGRAMME}),
    Role.REGISTRY_CLERK: frozenset({Capability.REGISTER_INCOMING, Capability.HANDLE_ATTRIBUTION}),
    Role.DESK_OFFICER: frozenset(
        {Capability.DRAFT_DISPATCH, Capability.HANDLE_ATTRIBUTION, Capability.REVIEW_PROGRAMME}
    ),
    Role.PLANNING_OFFICER: frozenset(
        {Capability.DRAFT_DISPATCH, Capability.APPROVE_PROGRAMME, Capability.READ_ALL_PROGRAMMES}
    ),
    Role.INSPECTION_OFFICER: frozenset({Capability.READ_ALL_PROGRAMMES}),
    Role.SECURITY_OFFICER: frozenset({Capability.DOWNGRADE, Capability.MANAGE_CLEARANCES}),
    Role.ADMINISTRATOR: frozenset({Capability.MANAGE_ORGANISATION}),
    Role.AUDITOR: frozenset({Capability.READ_AUDIT}),
}
