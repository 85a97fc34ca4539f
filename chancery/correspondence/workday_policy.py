"""Who may take the acts of the registry's working day (circuits, reviews, notes, templates,
packages). Small named predicates, asked alike by buttons, views, the API and the services,
so that they can join the app's one `can(user, action, obj)` policy."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chancery.accounts.roles import Capability
from chancery.core.classification import Marking
from chancery.correspondence import content
from chancery.correspondence.models import RELEASED_STATUSES, Dispatch, DispatchStatus
from chancery.correspondence.workflow_models import CircuitStep, StepKind, StepStatus

if TYPE_CHECKING:
    from chancery.accounts.models import User

# Who may hold a step of a unit (when no agent is named): a visa needs the head of unit's
# right; an opinion may be given by whoever handles the unit's attributions, or its head.
STEP_CAPABILITIES: dict[str, tuple[Capability, ...]] = {
    StepKind.VISA: (Capability.VALIDATE_DISPATCH,),
    StepKind.AVIS: (Capability.HANDLE_ATTRIBUTION, Capability.VALIDATE_DISPATCH),
}


def marking_of(dispatch: Dispatch) -> Marking:
    return Marking.of(dispatch.classification, content.compartment_codes(dispatch))


def cleared_for(user: User, dispatch: Dispatch) -> bool:
    """No read up: the agent's clearance dominates the dispatch's marking."""
    return bool(user.is_active and user.clearance.dominates(marking_of(dispatch)))


def can_submit(user: User, dispatch: Dispatch) -> bool:
    return dispatch.status == DispatchStatus.DRAFT and user.has_capability(
        Capability.DRAFT_DISPATCH, unit=dispatch.sending_unit
    )


def can_withdraw(user: User, dispatch: Dispatch) -> bool:
    return dispatch.status == DispatchStatus.SUBMITTED and (
        dispatch.author_id == user.pk or user.has_capability(Capability.VALIDATE_DISPATCH, unit=dispatch.sending_unit)
    )


def can_take_step(user: User, step: CircuitStep, dispatch: Dispatch) -> bool:
    """The step is current and the agent holds it: named (or deputy of the named agent), or
    holding the step's capability in its unit (own or delegated role); cleared for the draft."""
    if step.status != StepStatus.CURRENT or not cleared_for(user, dispatch):
        return False
    if step.assignee_id is not None:
        if step.assignee_id == user.pk:
            return True
        from chancery.accounts.absences import deputy_of

        deputy = deputy_of(step.assignee) if step.assignee is not None else None
        return deputy is not None and deputy.pk == user.pk
    return any(user.has_capability(c, unit=step.unit) for c in STEP_CAPABILITIES[step.kind])


def can_review_declassification(user: User) -> bool:
    return bool(user.has_capability(Capability.DOWNGRADE))


def can_note(user: User, dispatch: Dispatch) -> bool:
    """Internal notes: any agent who reads the dispatch (the caller read it through the gate)."""
    return bool(user.active_memberships())


def can_manage_templates(user: User, unit: Any) -> bool:
    return bool(user.has_capability(Capability.VALIDATE_DISPATCH, unit=unit))


def can_export_package(user: User, dispatch: Dispatch) -> bool:
    """Any reader of a sent dispatch may take its signed package (it holds only what they read)."""
    return dispatch.status in RELEASED_STATUSES
