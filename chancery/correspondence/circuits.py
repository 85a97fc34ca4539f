"""Validation circuits (*circuits de visa et d'avis*).

A drafter submits a draft; its circuit is the sending unit's default — a visa by the head
of the unit, then, from the unit's `second_visa_level` marking, a final visa by the head of
the parent unit — adjusted per draft within what the unit allows: extra visas by named
agents and opinions (*avis*) requested from other units. Opinions are asked in parallel,
just before the final visa. Each visa approves or returns the draft to its drafter with a
remark; the last visa signs and sends. Every step is audited and the holders are notified.

Errors as in `services`: `NotAllowed`, `InvalidState`, `ValidationError` (per field).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from chancery.accounts.absences import acting_for
from chancery.accounts.models import User
from chancery.accounts.roles import Capability
from chancery.audit.services import record_event
from chancery.core.classification import Level
from chancery.core.keyset import ordering
from chancery.correspondence import protected_text
from chancery.correspondence.models import Dispatch, DispatchStatus
from chancery.correspondence.services import InvalidState, NotAllowed, _check_ready, _visible, finish_sending
from chancery.correspondence.workday_policy import (
    STEP_CAPABILITIES,
    can_submit,
    can_take_step,
    can_withdraw,
    cleared_for,
)
from chancery.correspondence.workflow_models import CircuitStep, Opinion, StepKind, StepStatus, UnitWorkflow
from chancery.organisation.models import Unit, UnitKind

__all__ = [
    "StepSpec",
    "approve",
    "awaiting",
    "candidates",
    "circuit_steps",
    "current_steps",
    "default_circuit",
    "give_opinion",
    "return_draft",
    "submit",
    "withdraw",
    "workflow_of",
]

MAX_COMMENT = 4000
MAX_EXTRA = 10


@dataclass(frozen=True)
class StepSpec:
    kind: str
    unit: Unit
    assignee: User | None = None

    @property
    def label(self) -> str:
        return str(StepKind(self.kind).label)


def workflow_of(unit: Unit) -> UnitWorkflow:
    """The unit's workflow settings (defaults, unsaved, when it has none)."""
    found = UnitWorkflow.objects.filter(unit=unit).first()
    return found if found is not None else UnitWorkflow(unit=unit)


def candidates(step: StepSpec | CircuitStep, dispatch: Dispatch) -> list[User]:
    """The agents who may hold a step: the named one, or the unit's agents with the step's
    right; only those cleared for the draft."""
    from chancery.notifications.services import unit_members_with

    if step.assignee is not None:
        people = [step.assignee]
    else:
        seen: dict[int, User] = {}
        for capability in STEP_CAPABILITIES[step.kind]:
            for user in unit_members_with(units=[step.unit], capability=capability):
                seen.setdefault(user.pk, user)
        people = list(seen.values())
    return [u for u in people if cleared_for(u, dispatch)]


def default_circuit(dispatch: Dispatch) -> list[StepSpec]:
    unit = dispatch.sending_unit
    steps = [StepSpec(StepKind.VISA, unit)]
    settings = workflow_of(unit)
    parent = unit.parent
    if (
        settings.second_visa_level is not None
        and dispatch.classification >= settings.second_visa_level
        and parent is not None
        and parent.kind != UnitKind.REGION
    ):
        steps.append(StepSpec(StepKind.VISA, parent))
    return steps


def _plan(default: list[StepSpec], extra_visas: Sequence[StepSpec], opinions: Sequence[Unit]) -> list[list[StepSpec]]:
    """Positions in order: the default visas but the last, the extra visas, the opinions
    (one parallel position), the final visa."""
    *first, last = default
    plan = [[s] for s in first]
    plan += [[spec] for spec in extra_visas]
    if opinions:
        plan.append([StepSpec(StepKind.AVIS, u) for u in opinions])
    plan.append([last])
    return plan


def _role_name(step: StepSpec) -> str:
    if step.assignee is not None:
        return str(step.assignee)
    if step.kind == StepKind.AVIS:
        return _("an agent of %(unit)s who can give an opinion") % {"unit": step.unit.code}
    return _("the head of %(unit)s (validator)") % {"unit": step.unit.code}


def _notify_holders(dispatch: Dispatch, steps: Iterable[CircuitStep], actor: User | None) -> None:
    from chancery.notifications.models import Verb
    from chancery.notifications.services import notify

    url = reverse("correspondence:detail", args=[dispatch.pk])
    for step in steps:
        verb = Verb.DISPATCH_TO_VALIDATE if step.kind == StepKind.VISA else Verb.OPINION_REQUESTED
        notify(recipients=candidates(step, dispatch), verb=verb, target=dispatch, url=url, actor=actor)


def _start(dispatch: Dispatch, steps: list[CircuitStep], actor: User | None) -> None:
    now = timezone.now()
    for step in steps:
        step.status = StepStatus.CURRENT
        step.started_at = now
        step.save(update_fields=["status", "started_at"])
    _notify_holders(dispatch, steps, actor)


def current_round(dispatch: Dispatch) -> int:
    return int(CircuitStep.objects.filter(dispatch=dispatch).aggregate(n=Max("round"))["n"] or 0)


def circuit_steps(dispatch: Dispatch) -> list[CircuitStep]:
    """The steps of the latest submission, in order, with `comment` decrypted (for a reader
    of the dispatch: the caller read it through the gate)."""
    steps = list(
        CircuitStep.objects.filter(dispatch=dispatch, round=current_round(dispatch))
        .select_related("unit", "assignee", "acted_by", "on_behalf_of", "data_key")
        .order_by("position", "id")
    )
    for step in steps:
        step.comment = protected_text.unseal(  # type: ignore[attr-defined]
            step.comment_ciphertext, step.data_key, kind="remark", dispatch_id=dispatch.pk
        )
        # Who may take a current step of a unit (named on the draft, as users expect).
        step.holders = candidates(step, dispatch) if step.status == StepStatus.CURRENT else []  # type: ignore[attr-defined]
    return steps


AWAITING_ORDER = [("updated_at", False), ("id", False)]  # the longest waiting first (keyset pages)


def awaiting(user: User) -> Any:
    """Drafts whose current circuit step the user may take (visa or opinion), oldest first,
    through the gate. Unit steps are matched on the units where the user holds the step's right."""
    from django.db.models import Q

    from chancery.correspondence.models import Dispatch as DispatchModel

    condition = Q(assignee_id=user.pk)
    for kind, capabilities in STEP_CAPABILITIES.items():
        unit_ids = sorted({u.pk for c in capabilities for u in user.units_with(c)})
        if unit_ids:
            condition |= Q(kind=kind, assignee__isnull=True, unit_id__in=unit_ids)
    steps = CircuitStep.objects.filter(condition, status=StepStatus.CURRENT).values("dispatch_id")
    return (
        DispatchModel.objects.visible_to(user)
        .filter(pk__in=steps, status=DispatchStatus.SUBMITTED)
        .select_related("sending_unit", "author", "data_key")
        .prefetch_related("compartments")
        .order_by(*ordering(AWAITING_ORDER))
    )


def current_steps(dispatch: Dispatch) -> list[CircuitStep]:
    return [s for s in circuit_steps(dispatch) if s.status == StepStatus.CURRENT]


def _my_step(actor: User, dispatch: Dispatch, kind: str) -> CircuitStep:
    for step in CircuitStep.objects.filter(dispatch=dispatch, status=StepStatus.CURRENT, kind=kind).select_related(
        "unit", "assignee"
    ):
        if can_take_step(actor, step, dispatch):
            return step
    if kind == StepKind.VISA:
        raise NotAllowed(_("This draft does not await your visa."))
    raise NotAllowed(_("This draft does not await your opinion."))


def _on_behalf(actor: User, step: CircuitStep) -> User | None:
    if step.assignee_id is not None:
        return step.assignee if step.assignee_id != actor.pk else None
    return acting_for(actor, step.unit, STEP_CAPABILITIES[step.kind])


def _clean_comment(comment: str, *, required: bool) -> str:
    comment = (comment or "").strip()
    if required and not comment:
        raise ValidationError({"comment": [_("Say what must change: the remark goes back to the drafter.")]})
    if len(comment) > MAX_COMMENT:
        raise ValidationError({"comment": [_("The remark is too long.")]})
    return comment


def _act(step: CircuitStep, actor: User, dispatch: Dispatch, *, status: str, comment: str, opinion: str = "") -> None:
    step.status = status
    step.opinion = opinion
    step.acted_by = actor
    step.on_behalf_of = _on_behalf(actor, step)
    step.acted_at = timezone.now()
    if comment:
        step.data_key, step.comment_ciphertext = protected_text.seal(comment, kind="remark", dispatch_id=dispatch.pk)
    step.save()


def _audit(action: str, actor: User, dispatch: Dispatch, step: CircuitStep | None = None, **details: Any) -> None:
    if step is not None:
        details.update(
            step=step.position,
            kind=step.kind,
            unit=step.unit.code,
            on_behalf_of=step.on_behalf_of.get_username() if step.on_behalf_of else None,
        )
    record_event(action=action, actor=actor, target=dispatch, details=details)


# --- acts --------------------------------------------------------------------------------


@transaction.atomic
def submit(
    *,
    actor: User,
    dispatch: Dispatch | int,
    extra_visas: Sequence[User] = (),
    opinions: Sequence[Unit] = (),
) -> list[CircuitStep]:
    """Submit a draft for validation along its circuit (see the module's docstring).

    `extra_visas`: agents (of the sending unit or its parent) whose visa is added;
    `opinions`: units whose opinion is requested. Refused: a step nobody cleared can hold
    (the message names the missing role), an agent not cleared for the draft."""
    current = _visible(actor, dispatch)
    if not can_submit(actor, current):
        if current.status != DispatchStatus.DRAFT:
            raise InvalidState(_("Only a draft can be submitted for validation."))
        raise NotAllowed(_("You may not do this for %(unit)s.") % {"unit": current.sending_unit.code})
    _check_ready(current)
    errors: dict[str, list[str]] = {}
    settings = workflow_of(current.sending_unit)
    extra_visas = list(extra_visas)[:MAX_EXTRA]
    opinions = [u for u in dict.fromkeys(opinions) if u.pk != current.sending_unit_id][:MAX_EXTRA]
    if (extra_visas or opinions) and not settings.allow_extra_steps:
        errors["__all__"] = [
            _("%(unit)s does not allow changing its validation circuit.") % {"unit": current.sending_unit.code}
        ]
    extra_specs: list[StepSpec] = []
    allowed_units = [current.sending_unit] + ([current.sending_unit.parent] if current.sending_unit.parent else [])
    for user in extra_visas:
        unit = next((u for u in allowed_units if user.has_capability(Capability.VALIDATE_DISPATCH, unit=u)), None)
        if unit is None:
            errors.setdefault("extra_visas", []).append(
                _("%(agent)s cannot give a visa for %(unit)s.") % {"agent": user, "unit": current.sending_unit.code}
            )
        elif not cleared_for(user, current):
            errors.setdefault("extra_visas", []).append(
                _("%(agent)s is not cleared for this draft's marking.") % {"agent": user}
            )
        else:
            extra_specs.append(StepSpec(StepKind.VISA, unit, user))
    if errors:
        raise ValidationError(errors)
    plan = _plan(default_circuit(current), extra_specs, opinions)
    for group in plan:
        for spec in group:
            if not candidates(spec, current):
                field = "opinions" if spec.kind == StepKind.AVIS else "__all__"
                errors.setdefault(field, []).append(
                    _("No one can take this step: %(role)s is missing or not cleared for %(marking)s.")
                    % {"role": _role_name(spec), "marking": Level(current.classification).label}
                )
    if errors:
        raise ValidationError(errors)
    round_no = current_round(current) + 1
    created: list[CircuitStep] = []
    for position, group in enumerate(plan, start=1):
        for spec in group:
            created.append(
                CircuitStep.objects.create(
                    dispatch=current,
                    round=round_no,
                    position=position,
                    kind=spec.kind,
                    unit=spec.unit,
                    assignee=spec.assignee,
                )
            )
    current.status = DispatchStatus.SUBMITTED
    current.validated_by = None
    current.validated_at = None
    current.version += 1
    current.save(update_fields=["status", "validated_by", "validated_at", "version", "updated_at"])
    _audit(
        "correspondence.submitted",
        actor,
        current,
        round=round_no,
        circuit=[
            {
                "position": s.position,
                "kind": s.kind,
                "unit": s.unit.code,
                "agent": s.assignee.get_username() if s.assignee else None,
            }
            for s in created
        ],
    )
    _start(current, [s for s in created if s.position == 1], actor)
    return created


def _advance(actor: User, dispatch: Dispatch, step: CircuitStep) -> Dispatch:
    """After a step is done: when its position is complete, start the next one, or — after
    the last visa — sign and send."""
    same = CircuitStep.objects.filter(dispatch=dispatch, round=step.round, position=step.position)
    if same.filter(status=StepStatus.CURRENT).exists():
        return dispatch
    following = list(
        CircuitStep.objects.filter(dispatch=dispatch, round=step.round, position__gt=step.position)
        .select_related("unit", "assignee")
        .order_by("position")
    )
    if following:
        position = following[0].position
        _start(dispatch, [s for s in following if s.position == position], actor)
        return dispatch
    dispatch.status = DispatchStatus.VALIDATED
    dispatch.validated_by = actor
    dispatch.validated_at = timezone.now()
    return finish_sending(actor=actor, dispatch=dispatch)


@transaction.atomic
def approve(*, actor: User, dispatch: Dispatch | int, comment: str = "") -> Dispatch:
    """The holder of the current visa approves; the last visa signs and sends."""
    current = _visible(actor, dispatch)
    if current.status != DispatchStatus.SUBMITTED:
        raise InvalidState(_("This draft is not in a validation circuit."))
    step = _my_step(actor, current, StepKind.VISA)
    _act(step, actor, current, status=StepStatus.APPROVED, comment=_clean_comment(comment, required=False))
    _audit("correspondence.visa_given", actor, current, step)
    return _advance(actor, current, step)


@transaction.atomic
def give_opinion(*, actor: User, dispatch: Dispatch | int, opinion: str, comment: str = "") -> Dispatch:
    """An agent of a consulted unit gives its opinion (with an optional remark)."""
    current = _visible(actor, dispatch)
    if current.status != DispatchStatus.SUBMITTED:
        raise InvalidState(_("This draft is not in a validation circuit."))
    if opinion not in Opinion.values:
        raise ValidationError({"opinion": [_("Choose an opinion.")]})
    step = _my_step(actor, current, StepKind.AVIS)
    required = opinion != Opinion.FAVOURABLE
    _act(
        step,
        actor,
        current,
        status=StepStatus.GIVEN,
        opinion=opinion,
        comment=_clean_comment(comment, required=required),
    )
    _audit("correspondence.opinion_given", actor, current, step, opinion=opinion)
    return _advance(actor, current, step)


def _back_to_draft(dispatch: Dispatch) -> None:
    CircuitStep.objects.filter(dispatch=dispatch, status__in=[StepStatus.WAITING, StepStatus.CURRENT]).update(
        status=StepStatus.CANCELLED
    )
    dispatch.status = DispatchStatus.DRAFT
    dispatch.version += 1
    dispatch.save(update_fields=["status", "version", "updated_at"])


@transaction.atomic
def return_draft(*, actor: User, dispatch: Dispatch | int, comment: str) -> Dispatch:
    """The holder of the current visa returns the draft to its drafter with a remark."""
    from chancery.notifications.models import Verb
    from chancery.notifications.services import notify

    current = _visible(actor, dispatch)
    if current.status != DispatchStatus.SUBMITTED:
        raise InvalidState(_("This draft is not in a validation circuit."))
    step = _my_step(actor, current, StepKind.VISA)
    _act(step, actor, current, status=StepStatus.RETURNED, comment=_clean_comment(comment, required=True))
    _back_to_draft(current)
    _audit("correspondence.returned", actor, current, step)
    notify(
        recipients=[current.author],
        verb=Verb.DISPATCH_RETURNED,
        target=current,
        url=reverse("correspondence:detail", args=[current.pk]),
        actor=actor,
    )
    return current


@transaction.atomic
def withdraw(*, actor: User, dispatch: Dispatch | int) -> Dispatch:
    """The drafter (or the head of unit) takes a submitted draft back to change it."""
    current = _visible(actor, dispatch)
    if not can_withdraw(actor, current):
        if current.status != DispatchStatus.SUBMITTED:
            raise InvalidState(_("This draft is not in a validation circuit."))
        raise NotAllowed(_("Only the drafter or the head of unit may withdraw this draft."))
    _back_to_draft(current)
    _audit("correspondence.withdrawn", actor, current)
    return current
