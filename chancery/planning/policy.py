"""Who may do what in planning: the one policy that buttons, views, the API and the services ask.

`visible(user)` is what an agent may read (the gate: `Programme.objects.visible_to`); `can(user,
action, programme)` is whether they may do `action` to it. Each rule is a small function below;
`permissions()` gives them all at once for a page's buttons. The services re-ask `can` before
every write (`planning.services._require`), so a rule is written once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal

from chancery.accounts.models import User
from chancery.core import gate
from chancery.core.roles import Capability
from chancery.organisation.models import Unit, UnitKind
from chancery.planning.models import HQ_ACTION_STATUSES, Programme, ProgrammeStatus

PlanningAct = Literal[
    "view", "edit", "submit", "review", "comment", "return", "approve", "start_execution", "revise",
    "decide_revision", "grant_budget", "close", "record_progress", "manage_periods",
]  # fmt: skip


def visible(user: User) -> Any:
    """The programmes `user` may read (children are read through their programme)."""
    return Programme.objects.visible_to(user)


def can_view(user: User, programme: Programme) -> bool:
    memo = getattr(programme, "_visible_memo", None)
    if memo is not None and memo[0] == getattr(user, "pk", None):
        return bool(memo[1])
    if gate.read_through_gate(programme, user):  # `get_visible_or_404` returned it for them
        return True
    return bool(programme.pk) and Programme.objects.visible_to(user).filter(pk=programme.pk).exists()


def read_through_gate(user: User, programmes: Iterable[Programme]) -> Iterator[Programme]:
    """`programmes`, just read through `Programme.objects.visible_to(user)`, each remembered as
    visible to `user`: the `can_*` questions asked of them then skip the gate query they would
    otherwise make one by one (a list of 200 submitted programmes made 200 queries)."""
    for programme in programmes:
        programme._visible_memo = (user.pk, True)  # type: ignore[attr-defined]
        yield programme


def _holds_in_mission(user: User, capability: Capability, programme: Programme) -> bool:
    return bool(user.has_capability(capability, unit=programme.mission))


def _is_reviewer(user: User, programme: Programme) -> bool:
    """`REVIEW_PROGRAMME` in the mission's HQ desk, or in an ancestor of the desk or of the mission."""
    mission = programme.mission
    desk = mission.hq_desk
    for unit in user.units_with(Capability.REVIEW_PROGRAMME):
        if desk is not None and (unit.pk == desk.pk or desk.path.startswith(unit.path)):
            return True
        if mission.path.startswith(unit.path):
            return True
    return False


def _is_approver(user: User) -> bool:
    return bool(user.units_with(Capability.APPROVE_PROGRAMME))


def can_edit(user: User, programme: Programme) -> bool:
    """Change the content (axes, objectives, actions, indicators, achievements).

    After approval, changes make up the next revision, which headquarters approves; while a
    proposed revision awaits its decision, the content is frozen."""
    return (
        programme.status in (ProgrammeStatus.DRAFT, ProgrammeStatus.APPROVED, ProgrammeStatus.IN_EXECUTION)
        and not programme.revision_pending
        and _holds_in_mission(user, Capability.PROPOSE_PROGRAMME, programme)
        and can_view(user, programme)
    )


def can_submit(user: User, programme: Programme) -> bool:
    return (
        programme.status == ProgrammeStatus.DRAFT
        and _holds_in_mission(user, Capability.SUBMIT_PROGRAMME, programme)
        and can_view(user, programme)
    )


def can_review(user: User, programme: Programme) -> bool:
    return _is_reviewer(user, programme) and can_view(user, programme)


def can_comment(user: User, programme: Programme) -> bool:
    """HQ reviewers and the planning unit comment; mission staff answer in the thread."""
    if programme.status == ProgrammeStatus.CLOSED:
        return False
    allowed = (
        _is_reviewer(user, programme)
        or _is_approver(user)
        or _holds_in_mission(user, Capability.PROPOSE_PROGRAMME, programme)
    )
    return allowed and can_view(user, programme)


def can_return(user: User, programme: Programme) -> bool:
    return (
        programme.status == ProgrammeStatus.SUBMITTED
        and (_is_reviewer(user, programme) or _is_approver(user))
        and can_view(user, programme)
    )


def can_approve(user: User, programme: Programme) -> bool:
    return programme.status == ProgrammeStatus.SUBMITTED and _is_approver(user) and can_view(user, programme)


def can_start_execution(user: User, programme: Programme) -> bool:
    return (
        programme.status == ProgrammeStatus.APPROVED
        and (_holds_in_mission(user, Capability.PROPOSE_PROGRAMME, programme) or _is_approver(user))
        and can_view(user, programme)
    )


def can_revise(user: User, programme: Programme) -> bool:
    """The mission proposes a revision of its approved programme, as it submitted the programme
    (headquarters then decides: `can_decide_revision`)."""
    return (
        programme.status in (ProgrammeStatus.APPROVED, ProgrammeStatus.IN_EXECUTION)
        and not programme.revision_pending
        and _holds_in_mission(user, Capability.SUBMIT_PROGRAMME, programme)
        and can_view(user, programme)
    )


def can_decide_revision(user: User, programme: Programme) -> bool:
    """Headquarters (the planning unit, which approves programmes) approves or returns a proposed revision."""
    return programme.revision_pending and _is_approver(user) and can_view(user, programme)


def can_grant_budget(user: User, programme: Programme) -> bool:
    """Headquarters grants budgets, when it approves the programme or a revision of it."""
    return (
        (programme.status == ProgrammeStatus.SUBMITTED or programme.revision_pending)
        and _is_approver(user)
        and can_view(user, programme)
    )


def can_set_action_status(user: User, programme: Programme, status: str) -> bool:
    """Statuses that record headquarters' decision ("approved") are given by headquarters only."""
    return status not in HQ_ACTION_STATUSES or _is_approver(user)


def can_close(user: User, programme: Programme) -> bool:
    return (
        programme.status in (ProgrammeStatus.APPROVED, ProgrammeStatus.IN_EXECUTION)
        and not programme.revision_pending
        and (_holds_in_mission(user, Capability.SUBMIT_PROGRAMME, programme) or _is_approver(user))
        and can_view(user, programme)
    )


def can_record_progress(user: User, programme: Programme) -> bool:
    """Progress updates, measurements: mission staff, once the programme is approved (measurements: any open state)."""
    return (
        programme.status != ProgrammeStatus.CLOSED
        and _holds_in_mission(user, Capability.PROPOSE_PROGRAMME, programme)
        and can_view(user, programme)
    )


def can_manage_periods(user: User, programme: Programme) -> bool:
    return (
        programme.status != ProgrammeStatus.CLOSED
        and (_holds_in_mission(user, Capability.SUBMIT_PROGRAMME, programme) or _is_approver(user))
        and can_view(user, programme)
    )


def can_create_programme(user: User, mission: Unit) -> bool:
    return mission.kind == UnitKind.MISSION and bool(user.has_capability(Capability.PROPOSE_PROGRAMME, unit=mission))


def permissions(user: User, programme: Programme) -> dict[str, bool]:
    """Every right of `user` on `programme`, for showing or hiding buttons (one gate query)."""
    visible = can_view(user, programme)
    if not visible:
        return dict.fromkeys(PERMISSION_NAMES, False)
    programme._visible_memo = (user.pk, True)  # type: ignore[attr-defined]
    try:
        return _permissions(user, programme)
    finally:
        del programme._visible_memo  # type: ignore[attr-defined]


PERMISSION_NAMES: tuple[PlanningAct, ...] = (
    "view", "edit", "submit", "review", "comment", "return", "approve", "start_execution", "revise",
    "decide_revision", "grant_budget", "close", "record_progress", "manage_periods",
)  # fmt: skip


def _permissions(user: User, programme: Programme) -> dict[str, bool]:
    return {
        "view": can_view(user, programme),
        "edit": can_edit(user, programme),
        "submit": can_submit(user, programme),
        "review": can_review(user, programme),
        "comment": can_comment(user, programme),
        "return": can_return(user, programme),
        "approve": can_approve(user, programme),
        "start_execution": can_start_execution(user, programme),
        "revise": can_revise(user, programme),
        "decide_revision": can_decide_revision(user, programme),
        "grant_budget": can_grant_budget(user, programme),
        "close": can_close(user, programme),
        "record_progress": can_record_progress(user, programme),
        "manage_periods": can_manage_periods(user, programme),
    }


RULES: dict[str, Callable[[Any, Programme], bool]] = {
    "view": can_view,
    "edit": can_edit,
    "submit": can_submit,
    "review": can_review,
    "comment": can_comment,
    "return": can_return,
    "approve": can_approve,
    "start_execution": can_start_execution,
    "revise": can_revise,
    "decide_revision": can_decide_revision,
    "grant_budget": can_grant_budget,
    "close": can_close,
    "record_progress": can_record_progress,
    "manage_periods": can_manage_periods,
}


def can(user: User, action: PlanningAct, programme: Programme) -> bool:
    """Whether `user` may do `action` to `programme` (an unknown action is never allowed)."""
    rule = RULES.get(action)
    return bool(rule is not None and rule(user, programme))
