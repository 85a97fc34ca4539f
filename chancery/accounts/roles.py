"""Roles and capabilities live in `chancery.core.roles` (core uses them and imports nothing of
the apps); kept importable from here."""

from chancery.core.roles import ROLE_CAPABILITIES, Capability, Role

__all__ = ["ROLE_CAPABILITIES", "Capability", "Role"]
