"""Internal notes on a dispatch (not part of the signed content) and units' reply templates."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.utils.translation import gettext as _

from chancery.accounts.models import User
from chancery.audit.services import record_event
from chancery.correspondence import protected_text
from chancery.correspondence.content import sanitise_body
from chancery.correspondence.models import Dispatch
from chancery.correspondence.services import NotAllowed, _visible
from chancery.correspondence.workday_policy import can_manage_templates, can_note
from chancery.correspondence.workflow_models import CircuitStep, DispatchNote, ReplyTemplate
from chancery.organisation.models import Unit

__all__ = ["add_note", "delete_template", "note_unit", "notes_for", "save_template", "templates_for"]

MAX_NOTE = 4000


def note_unit(user: User, dispatch: Dispatch) -> Unit | None:
    """The unit a reader's notes on `dispatch` belong to: their unit that sends it, holds a
    routing or a circuit step of it (in this order); None when they have no such unit."""
    mine = {m.unit_id: m.unit for m in user.active_memberships()}
    if dispatch.sending_unit_id in mine:
        return mine[dispatch.sending_unit_id]
    # the dispatch's routings (prefetched by the dispatch page), in their order: kind, then unit code
    for routing in dispatch.routings.all():
        if routing.unit_id in mine:
            return mine[routing.unit_id]
    for unit_id in CircuitStep.objects.filter(dispatch=dispatch, unit_id__in=mine).values_list("unit_id", flat=True):
        return mine[unit_id]
    return None


def notes_for(user: User, dispatch: Dispatch) -> list[DispatchNote]:
    """The notes of the reader's units on a dispatch they read (the caller used the gate)."""
    unit_ids = sorted({m.unit_id for m in user.active_memberships()})
    notes = list(
        DispatchNote.objects.filter(dispatch=dispatch, unit_id__in=unit_ids).select_related(
            "author", "unit", "data_key"
        )
    )
    for note in notes:
        note.text = protected_text.unseal(  # type: ignore[attr-defined]
            note.text_ciphertext, note.data_key, kind="note", dispatch_id=dispatch.pk
        )
    return notes


@transaction.atomic
def add_note(*, actor: User, dispatch: Dispatch | int, text: str) -> DispatchNote:
    current = _visible(actor, dispatch, lock=False)
    unit = note_unit(actor, current)
    if unit is None or not can_note(actor, current):
        raise NotAllowed(_("Only the units that handle this dispatch keep notes on it."))
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": [_("The note is empty.")]})
    if len(text) > MAX_NOTE:
        raise ValidationError({"text": [_("The note is too long.")]})
    data_key, ciphertext = protected_text.seal(text, kind="note", dispatch_id=current.pk)
    note = DispatchNote.objects.create(
        dispatch=current, unit=unit, author=actor, text_ciphertext=ciphertext, data_key=data_key
    )
    record_event(action="correspondence.note_added", actor=actor, target=current, details={"unit": unit.code})
    return note


def templates_for(units: list[Unit]) -> list[ReplyTemplate]:
    return list(ReplyTemplate.objects.filter(unit__in=units).select_related("unit").order_by("unit__code", "name"))


@transaction.atomic
def save_template(
    *, actor: User, unit: Unit, name: str, body: str, template: ReplyTemplate | None = None
) -> ReplyTemplate:
    if not can_manage_templates(actor, unit):
        raise NotAllowed(_("Only the head of %(unit)s manages its reply templates.") % {"unit": unit.code})
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()[:100]
    body = sanitise_body(body or "")
    if not name:
        errors["name"] = [_("Give the template a name.")]
    if not body.strip():
        errors["body"] = [_("The template is empty.")]
    clash = ReplyTemplate.objects.filter(unit=unit, name=name)
    if template is not None:
        clash = clash.exclude(pk=template.pk)
    if name and clash.exists():
        errors["name"] = [_("%(unit)s already has a template of this name.") % {"unit": unit.code}]
    if errors:
        raise ValidationError(errors)
    template = template or ReplyTemplate(unit=unit, created_by=actor)
    template.name = name
    template.body = body
    template.save()
    record_event(
        action="correspondence.reply_template_saved", actor=actor, target=template, details={"unit": unit.code}
    )
    return template


@transaction.atomic
def delete_template(*, actor: User, template_id: int) -> None:
    template = ReplyTemplate.objects.select_related("unit").filter(pk=template_id).first()
    if template is None or not can_manage_templates(actor, template.unit):
        raise Http404("no such template")
    record_event(
        action="correspondence.reply_template_deleted",
        actor=actor,
        target=template,
        details={"unit": template.unit.code},
    )
    template.delete()


WORKFLOW_FIELDS = (
    "second_visa_level",
    "allow_extra_steps",
    "remind_days_before",
    "remind_days_after",
    "escalate_days_after",
)
MAX_DAYS = 365


@transaction.atomic
def save_workflow(*, actor: User, unit: Unit, **values: Any) -> Any:
    """A head of unit sets the unit's default circuit and reminder delays (audited)."""
    from chancery.core.classification import Level
    from chancery.correspondence.workflow_models import UnitWorkflow

    if not can_manage_templates(actor, unit):
        raise NotAllowed(_("Only the head of %(unit)s sets its workflow.") % {"unit": unit.code})
    unknown = set(values) - set(WORKFLOW_FIELDS)
    if unknown:
        raise TypeError(f"save_workflow() got unexpected fields: {', '.join(sorted(unknown))}")
    workflow = UnitWorkflow.objects.filter(unit=unit).first() or UnitWorkflow(unit=unit)
    errors: dict[str, list[str]] = {}
    for field, value in values.items():
        if field == "second_visa_level" and value not in (None, *Level.values):
            errors[field] = [_("Unknown classification.")]
        elif field.endswith(("_days_before", "_days_after")) and (
            not isinstance(value, int) or not 0 <= value <= MAX_DAYS
        ):
            errors[field] = [_("A number of days between 0 and 365.")]
        setattr(workflow, field, value)
    if not errors and workflow.escalate_days_after < workflow.remind_days_after:
        errors["escalate_days_after"] = [_("Escalation comes after the reminder that follows the due date.")]
    if errors:
        raise ValidationError(errors)
    workflow.save()
    record_event(
        action="correspondence.workflow_changed",
        actor=actor,
        object_type="organisation.unit",
        object_id=unit.pk,
        details={"unit": unit.code, **{f: getattr(workflow, f) for f in WORKFLOW_FIELDS}},
    )
    return workflow
