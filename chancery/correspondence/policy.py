"""Who may do what to a dispatch: the one correspondence policy.

`visible(user)` is what an agent may read (the gate: `Dispatch.objects.visible_to`). Each act
needs one capability, held in the unit the act concerns (the sending unit, the routed unit, any
unit for a downgrade): `holds(user, act, unit)`. `allowed_actions()` offers the buttons of a
dispatch page from the same table, and the services re-ask `require()` before every write, so
a rule is written once (NetBox's `restrict(user, action)`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from django.utils.translation import gettext as _

from chancery.accounts.absences import acting_for
from chancery.accounts.models import User
from chancery.core import errors
from chancery.core.roles import Capability
from chancery.correspondence.models import (
    RELEASED_STATUSES,
    Dispatch,
    DispatchStatus,
    Routing,
    RoutingKind,
    RoutingStatus,
)
from chancery.organisation.models import Unit

CorrespondenceAct = Literal[
    "edit", "validate", "send", "register", "acknowledge", "assign", "close", "mark_read", "reply",
    "grant", "change_marking",
]  # fmt: skip

CAPABILITY: dict[str, Capability] = {
    "edit": Capability.DRAFT_DISPATCH,
    "validate": Capability.VALIDATE_DISPATCH,
    "send": Capability.VALIDATE_DISPATCH,
    "register": Capability.REGISTER_INCOMING,
    "acknowledge": Capability.HANDLE_ATTRIBUTION,
    "assign": Capability.HANDLE_ATTRIBUTION,
    "close": Capability.HANDLE_ATTRIBUTION,
    "reply": Capability.DRAFT_DISPATCH,
    "grant": Capability.VALIDATE_DISPATCH,
    "change_marking": Capability.DOWNGRADE,
}
OPEN_ACTION = (RoutingStatus.PENDING, RoutingStatus.ACKNOWLEDGED, RoutingStatus.ASSIGNED)


class NotAllowed(errors.NotAllowed):
    """The actor may see the dispatch but lacks the capability for this act."""


def visible(user: User) -> Any:
    """The dispatches `user` may read (attachments, routings and citations through them)."""
    return Dispatch.objects.visible_to(user)


def holds(user: User, act: CorrespondenceAct, unit: Unit | None = None) -> bool:
    """Whether `user` holds the capability behind `act` in `unit` (None: in any unit)."""
    capability = CAPABILITY[act]
    return bool(user.has_capability(capability, unit=unit) if unit is not None else user.has_capability(capability))


def holds_in_any(user: User, act: CorrespondenceAct, units: Iterable[Unit]) -> bool:
    return any(holds(user, act, unit) for unit in units)


def require(user: User, act: CorrespondenceAct, unit: Unit | None = None, *, message: str = "") -> None:
    """`holds`, or NotAllowed (the services' check before every write)."""
    if not holds(user, act, unit):
        raise NotAllowed(message or (_("You may not do this for %(unit)s.") % {"unit": unit.code} if unit
                                            else _("You may not do this.")))
    # A deputy acting through an absent agent's role: the act's audit event names both
    # (read by `services.record_event`).
    user._on_behalf_of = acting_for(user, unit, (CAPABILITY[act],)) if unit is not None else None  # type: ignore[attr-defined]


def allowed_actions(user: User, dispatch: Dispatch, routings: list[Routing]) -> dict[str, Any]:
    """Which acts `user` may take on a visible dispatch (for its page's buttons), given the
    routings of the dispatch to the user's units.

    Keys: edit, validate, send, reply, change_marking, grant (bool); acknowledge, assign,
    close, mark_read (the routings those apply to).
    """
    unit = dispatch.sending_unit
    pre_send = dispatch.status in (DispatchStatus.DRAFT, DispatchStatus.VALIDATED)
    sent = dispatch.status in RELEASED_STATUSES
    routings = routings if sent else []
    handle = [r for r in routings if r.kind == RoutingKind.ACTION and holds(user, "acknowledge", r.unit)]
    attributed = [r.unit for r in dispatch.routings.all() if r.kind == RoutingKind.ACTION] if sent else []
    return {
        "edit": pre_send and holds(user, "edit", unit),
        "validate": dispatch.status == DispatchStatus.DRAFT and holds(user, "validate", unit),
        "send": pre_send and holds(user, "send", unit),
        "acknowledge": [r for r in handle if r.status == RoutingStatus.PENDING],
        "assign": [r for r in handle if r.status in OPEN_ACTION],
        "close": [r for r in handle if r.status != RoutingStatus.CLOSED],
        "mark_read": [r for r in routings if r.kind == RoutingKind.INFO and r.status == RoutingStatus.UNREAD],
        "reply": sent and holds_in_any(user, "reply", [r.unit for r in routings]),
        "change_marking": sent and holds(user, "change_marking"),
        "grant": sent and holds_in_any(user, "grant", [unit, *attributed]),
    }
