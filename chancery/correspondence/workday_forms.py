"""Forms of the registry's working day (circuits, notes, reviews, reply templates)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from chancery.core.classification import Level
from chancery.correspondence.forms import ConfiguredForm, _choices, _unit_choices
from chancery.correspondence.workflow_models import Opinion, ReviewDecision


class SubmitForm(ConfiguredForm):
    opinions = forms.MultipleChoiceField(
        label=_("Ask the opinion of"),
        required=False,
        help_text=_("Other units consulted in parallel, before the final visa (they read the draft)."),
    )
    extra_visas = forms.MultipleChoiceField(
        label=_("Add a visa by"), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: Any, units: Iterable[Any], validators: Iterable[Any], **kwargs: Any) -> None:
        self.units = list(units)
        self.validators = list(validators)
        super().__init__(*args, **kwargs)

    def configure(self) -> None:
        _choices(self.fields["opinions"], _unit_choices(self.units))
        _choices(self.fields["extra_visas"], [(u.username, str(u)) for u in self.validators])
        if not self.validators:
            del self.fields["extra_visas"]


class RemarkForm(ConfiguredForm):
    comment = forms.CharField(label=_("Remark"), max_length=4000, widget=forms.Textarea(attrs={"rows": 3}))


class ApproveForm(ConfiguredForm):
    comment = forms.CharField(
        label=_("Remark (optional)"), max_length=4000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class OpinionForm(ConfiguredForm):
    opinion = forms.ChoiceField(label=_("Opinion"), choices=Opinion.choices)
    comment = forms.CharField(
        label=_("Remark"),
        max_length=4000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Required unless the opinion is favourable."),
    )


class NoteForm(ConfiguredForm):
    text = forms.CharField(
        label=_("Internal note"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Seen only by your unit; not part of the signed dispatch."),
    )


class ReviewForm(ConfiguredForm):
    decision = forms.ChoiceField(label=_("Decision"), choices=ReviewDecision.choices)
    reason = forms.CharField(label=_("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    classification = forms.TypedChoiceField(
        label=_("New classification (when confirming)"), coerce=int, choices=Level.choices, initial=Level.UNCLASSIFIED
    )
    postpone_to = forms.DateField(
        label=_("New review date (when postponing)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


class ReplyTemplateForm(ConfiguredForm):
    unit = forms.ChoiceField(label=_("Unit"))
    name = forms.CharField(label=_("Name"), max_length=100)
    body = forms.CharField(label=_("Text"), widget=forms.Textarea(attrs={"rows": 6}))

    def __init__(self, *args: Any, units: Iterable[Any], **kwargs: Any) -> None:
        self.units = list(units)
        super().__init__(*args, **kwargs)

    def configure(self) -> None:
        _choices(self.fields["unit"], _unit_choices(self.units))


class WorkflowForm(ConfiguredForm):
    second_visa_level = forms.TypedChoiceField(
        label=_("Final visa by the head of the parent unit from"),
        coerce=int,
        empty_value=None,
        required=False,
        choices=[("", _("never")), *Level.choices],
    )
    allow_extra_steps = forms.BooleanField(label=_("Drafters may add visas and opinions"), required=False)
    remind_days_before = forms.IntegerField(label=_("Reminder, days before the due date"), min_value=0, max_value=365)
    remind_days_after = forms.IntegerField(label=_("Reminder, days after the due date"), min_value=0, max_value=365)
    escalate_days_after = forms.IntegerField(
        label=_("Escalation to the head of unit, days after the due date"), min_value=0, max_value=365
    )
