"""Forms of the correspondence pages. They check the shape of the input; the business rules
(capabilities, no write down, unknown units or references) are the services' and come back
as field errors through `apply_errors`."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING, Any, cast

import nh3
from django import forms
from django.core.exceptions import ValidationError
from django.forms import formset_factory
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext_lazy as _

from chancery.core.classification import Level
from chancery.core.forms import StyledForm
from chancery.correspondence.content import sanitise_body
from chancery.correspondence.models import Direction, DispatchKind, Transmission

if TYPE_CHECKING:
    from chancery.accounts.models import User

MAX_ROUTING_ROWS = 20
TRANSMISSION_CHOICES = [(Transmission.CLEAR.value, _("In clear")), (Transmission.ENCRYPTED.value, _("Encrypted"))]
MAX_FILES = 20


def _unit_choices(units: Iterable[Any], *, blank: bool = False) -> list[tuple[str, str]]:
    choices = [(u.code, f"{u.code} — {u.name}") for u in units]
    return [("", "—"), *choices] if blank else choices


def _choices(field: forms.Field, choices: Any) -> None:
    cast(forms.ChoiceField, field).choices = choices


def level_choices(user: User) -> list[tuple[int, str]]:
    """Levels up to the agent's own clearance (no one marks above what they may read)."""
    return [(value, str(label)) for value, label in Level.choices if value <= user.clearance.level]


def compartment_choices(user: User) -> list[tuple[str, str]]:
    return [(code, code) for code in sorted(user.clearance.compartments)]


def split_lines(value: str) -> list[str]:
    return [line.strip() for line in re.split(r"[\r\n]+", value or "") if line.strip()]


def split_tags(value: str) -> list[str]:
    return [t.strip().upper() for t in re.split(r"[,;\s]+", value or "") if t.strip()]


class ConfiguredForm(StyledForm):
    """A StyledForm whose choices depend on the agent: `configure()` sets them before the
    data is bound and validated (StyledForm validates while styling a bound form)."""

    def __init__(self, data: Any = None, files: Any = None, **kwargs: Any) -> None:
        super().__init__(None, None, **kwargs)
        self.configure()
        if data is not None or files is not None:
            self.is_bound = True
            self.data = MultiValueDict() if data is None else data
            self.files = MultiValueDict() if files is None else files
            self._errors = None
            for name, field in self.fields.items():
                if self.errors.get(name):
                    field.widget.attrs["aria-invalid"] = "true"
                    described = field.widget.attrs.get("aria-describedby", "").split()
                    field.widget.attrs["aria-describedby"] = " ".join([*described, f"{self[name].auto_id}_error"])

    def configure(self) -> None:
        """Set the agent-dependent choices (subclasses)."""


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        single = super().clean
        if isinstance(data, list | tuple):
            if len(data) > MAX_FILES:
                raise ValidationError(_("At most %(n)s files at once.") % {"n": MAX_FILES})
            return [single(d, initial) for d in data if d]
        return [single(data, initial)] if data else []


# What the draft form accepts (the services' sanitiser, applied after, is the outer bound).
FORM_BODY_TAGS = {"p", "br", "strong", "em", "ul", "ol", "li", "blockquote", "h3", "h4", "a"}
FORM_BODY_ATTRIBUTES = {"a": {"href"}}


class RichTextField(forms.CharField):
    """HTML restricted to a safe subset (nh3), server-side; plain text becomes paragraphs.

    In the browser the text area becomes a rich-text editor (`core/chancery.js`); what it sends is
    cleaned here all the same."""

    widget = forms.Textarea
    rich_text = True

    def widget_attrs(self, widget: Any) -> dict[str, Any]:
        return {**super().widget_attrs(widget), "data-rich-text": ""}

    def to_python(self, value: Any) -> str:
        text = super().to_python(value)
        if text and not re.search(r"<[a-zA-Z/!]", text):
            from django.utils.html import escape

            paragraphs = [p.strip() for p in re.split(r"\r?\n\s*\r?\n", text) if p.strip()]
            text = "".join("<p>" + escape(p).replace("\r\n", "<br>").replace("\n", "<br>") + "</p>" for p in paragraphs)
        cleaned = nh3.clean(
            text or "", tags=FORM_BODY_TAGS, attributes=FORM_BODY_ATTRIBUTES,
            url_schemes={"http", "https", "mailto"}, clean_content_tags={"script", "style"},
        )
        return sanitise_body(cleaned)


class MarkingFieldsMixin:
    """classification + compartments limited to what the agent is cleared for."""

    def setup_marking(self, user: User) -> None:
        fields = self.fields  # type: ignore[attr-defined]
        _choices(fields["classification"], level_choices(user))
        choices = compartment_choices(user)
        if choices:
            _choices(fields["compartments"], choices)
        else:
            del fields["compartments"]


class DraftForm(MarkingFieldsMixin, ConfiguredForm):
    sending_unit = forms.ChoiceField(label=_("Sending unit"))
    kind = forms.ChoiceField(label=_("Kind"), choices=DispatchKind.choices)
    direction = forms.ChoiceField(
        label=_("Direction"),
        choices=[(Direction.OUTGOING, Direction.OUTGOING.label), (Direction.INTERNAL, Direction.INTERNAL.label)],
    )
    subject = forms.CharField(label=_("Subject (Objet)"), max_length=500)
    body = RichTextField(
        label=_("Body"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 12}),
        help_text=_("Plain text, or HTML limited to paragraphs, bold, italics, lists, quotes, headings and links."),
    )
    classification = forms.TypedChoiceField(label=_("Classification"), coerce=int, choices=Level.choices)
    compartments = forms.MultipleChoiceField(
        label=_("Compartments"), required=False, widget=forms.CheckboxSelectMultiple
    )
    transmission = forms.ChoiceField(label=_("Transmission"), choices=TRANSMISSION_CHOICES)
    declassify_on = forms.DateField(
        label=_("Declassify on"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    classification_reason = forms.CharField(label=_("Reason for the marking"), max_length=300, required=False)
    classified_from = forms.CharField(
        label=_("Marking derived from"),
        max_length=200,
        required=False,
        help_text=_("The source document or classification guide the marking follows, if any."),
    )
    info_units = forms.MultipleChoiceField(
        label=_("For information (Pour information)"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
        help_text=_("Units receiving a copy; hold Ctrl (or ⌘) to choose several."),
    )
    cites = forms.CharField(
        label=_("Cited dispatches (Réf)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "dir": "ltr"}),
        help_text=_("References of dispatches in Chancery, one per line."),
    )
    external_references = forms.CharField(
        label=_("External references"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "dir": "ltr"}),
        help_text=_("Other correspondence cited (e.g. a letter from another ministry), one per line."),
    )
    tags = forms.CharField(
        label=_("Tags"), required=False, max_length=500, help_text=_("Country and subject codes, separated by commas.")
    )
    attachments = MultipleFileField(label=_("Attachments (PJ)"), required=False)
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, user: User, units: Iterable[Any], all_units: Iterable[Any], editing: bool = False,
                 **kwargs: Any) -> None:
        self.user, self.units, self.all_units, self.editing = user, list(units), list(all_units), editing
        super().__init__(*args, **kwargs)

    def configure(self) -> None:
        _choices(self.fields["sending_unit"], _unit_choices(self.units))
        # A draft stays with the unit it was written for.
        self.fields["sending_unit"].disabled = self.editing
        _choices(self.fields["info_units"], _unit_choices(self.all_units))
        self.setup_marking(self.user)

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "kind": data["kind"],
            "direction": data["direction"],
            "subject": data["subject"],
            "body": data["body"],
            "classification": data["classification"],
            "compartments": data.get("compartments") or [],
            "transmission": data["transmission"],
            "declassify_on": data.get("declassify_on"),
            "classification_reason": data.get("classification_reason", ""),
            "classified_from": data.get("classified_from", ""),
            "cites": split_lines(data.get("cites", "")),
            "external_references": split_lines(data.get("external_references", "")),
            "tags": split_tags(data.get("tags", "")),
        }


class ActionRoutingForm(ConfiguredForm):
    unit = forms.ChoiceField(label=_("Unit"), required=False)
    due_date = forms.DateField(
        label=_("Due date"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    def __init__(self, *args: Any, unit_choices: list[tuple[str, str]] | None = None, **kwargs: Any) -> None:
        self.unit_choices = unit_choices or [("", "—")]
        super().__init__(*args, **kwargs)

    def configure(self) -> None:
        _choices(self.fields["unit"], self.unit_choices)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("due_date") and not data.get("unit"):
            self.add_error("unit", _("Choose the unit this due date is for."))
        due = data.get("due_date")
        if isinstance(due, date) and due.year < 2000:
            self.add_error("due_date", _("Enter a realistic date."))
        return data


ActionRoutingFormSet = formset_factory(ActionRoutingForm, extra=0, max_num=MAX_ROUTING_ROWS, validate_max=True)


def action_formset(
    *, data: Any = None, initial: list[dict[str, Any]] | None = None, all_units: Iterable[Any], extra: int = 3
) -> Any:
    """The *Pour attribution* rows: unit + optional due date; blank rows are ignored."""
    formset_class = formset_factory(ActionRoutingForm, extra=extra, max_num=MAX_ROUTING_ROWS, validate_max=True)
    return formset_class(
        data=data, initial=initial, prefix="action", form_kwargs={"unit_choices": _unit_choices(all_units, blank=True)}
    )


def routing_specs(formset: Any, info_units: Iterable[str]) -> list[dict[str, Any]]:
    specs: list[dict[str, Any]] = []
    for form in formset.forms:
        data = getattr(form, "cleaned_data", None) or {}
        if data.get("unit"):
            specs.append({"unit": data["unit"], "kind": "action", "due_date": data.get("due_date")})
    specs.extend({"unit": code, "kind": "info"} for code in info_units)
    return specs


class RegisterIncomingForm(MarkingFieldsMixin, ConfiguredForm):
    unit = forms.ChoiceField(label=_("Registering unit"))
    kind = forms.ChoiceField(label=_("Kind"), choices=DispatchKind.choices, initial=DispatchKind.LETTER)
    sender_name = forms.CharField(label=_("Sender"), max_length=300)
    external_reference = forms.CharField(label=_("Sender's reference"), max_length=200, required=False)
    dated = forms.DateField(
        label=_("Date of the letter"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("As written on the letter; the registration records the date of receipt."),
    )
    place = forms.CharField(label=_("Place"), max_length=100, required=False)
    subject = forms.CharField(label=_("Subject (Objet)"), max_length=500)
    body = RichTextField(label=_("Body or summary"), required=False, widget=forms.Textarea(attrs={"rows": 8}))
    classification = forms.TypedChoiceField(label=_("Classification"), coerce=int, choices=Level.choices)
    compartments = forms.MultipleChoiceField(
        label=_("Compartments"), required=False, widget=forms.CheckboxSelectMultiple
    )
    transmission = forms.ChoiceField(label=_("Transmission"), choices=TRANSMISSION_CHOICES)
    info_units = forms.MultipleChoiceField(
        label=_("For information (Pour information)"), required=False, widget=forms.SelectMultiple(attrs={"size": 6})
    )
    cites = forms.CharField(
        label=_("Cited dispatches (Réf)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "dir": "ltr"}),
        help_text=_("References of dispatches in Chancery, one per line."),
    )
    external_references = forms.CharField(
        label=_("External references"), required=False, widget=forms.Textarea(attrs={"rows": 2, "dir": "ltr"})
    )
    tags = forms.CharField(label=_("Tags"), required=False, max_length=500)
    attachments = MultipleFileField(label=_("Attachments (PJ)"), required=False)

    def __init__(self, *args: Any, user: User, units: Iterable[Any], all_units: Iterable[Any], **kwargs: Any) -> None:
        self.user, self.units, self.all_units = user, list(units), list(all_units)
        super().__init__(*args, **kwargs)

    def configure(self) -> None:
        _choices(self.fields["unit"], _unit_choices(self.units))
        _choices(self.fields["info_units"], _unit_choices(self.all_units))
        self.setup_marking(self.user)

    def clean_dated(self) -> date | None:
        value: date | None = self.cleaned_data.get("dated")
        from django.utils import timezone

        if value and value > timezone.localdate():
            raise ValidationError(_("The date of the letter cannot be in the future."))
        return value

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "kind": data["kind"],
            "sender_name": data["sender_name"],
            "external_reference": data.get("external_reference", ""),
            "dated": data.get("dated"),
            "place": data.get("place", ""),
            "subject": data["subject"],
            "body": data["body"],
            "classification": data["classification"],
            "compartments": data.get("compartments") or [],
            "transmission": data["transmission"],
            "cites": split_lines(data.get("cites", "")),
            "external_references": split_lines(data.get("external_references", "")),
            "tags": split_tags(data.get("tags", "")),
        }


class ReplyForm(MarkingFieldsMixin, ConfiguredForm):
    unit = forms.ChoiceField(label=_("Answer for"))
    subject = forms.CharField(label=_("Subject (Objet)"), max_length=500)
    body = RichTextField(label=_("Body"), required=False, widget=forms.Textarea(attrs={"rows": 10}))
    classification = forms.TypedChoiceField(label=_("Classification"), coerce=int, choices=Level.choices)
    compartments = forms.MultipleChoiceField(
        label=_("Compartments"), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: Any, user: User, units: Iterable[Any], **kwargs: Any) -> None:
        self.user, self.units = user, list(units)
        super().__init__(*args, **kwargs)

    def configure(self) -> None:
        _choices(self.fields["unit"], _unit_choices(self.units))
        self.setup_marking(self.user)


class AssignForm(ConfiguredForm):
    assignee = forms.ChoiceField(label=_("Agent"))

    def __init__(self, *args: Any, agents: Iterable[Any], **kwargs: Any) -> None:
        self.agents = list(agents)
        super().__init__(*args, **kwargs)

    def configure(self) -> None:
        _choices(self.fields["assignee"], [(a.username, str(a)) for a in self.agents])


class MarkingChangeForm(MarkingFieldsMixin, ConfiguredForm):
    classification = forms.TypedChoiceField(label=_("New classification"), coerce=int, choices=Level.choices)
    compartments = forms.MultipleChoiceField(
        label=_("Compartments"), required=False, widget=forms.CheckboxSelectMultiple
    )
    reason = forms.CharField(label=_("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    declassify_on = forms.DateField(
        label=_("Declassify on"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        self.user = user
        super().__init__(*args, **kwargs)

    def configure(self) -> None:
        self.setup_marking(self.user)


class GrantForm(ConfiguredForm):
    username = forms.CharField(label=_("Agent (user name)"), max_length=150, required=False)
    unit = forms.ChoiceField(label=_("or unit"), required=False)
    reason = forms.CharField(label=_("Reason"), max_length=500)

    def __init__(self, *args: Any, all_units: Iterable[Any], **kwargs: Any) -> None:
        self.all_units = list(all_units)
        super().__init__(*args, **kwargs)

    def configure(self) -> None:
        _choices(self.fields["unit"], _unit_choices(self.all_units, blank=True))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if bool(data.get("username")) == bool(data.get("unit")):
            raise ValidationError(_("Grant access to one agent or to one unit."))
        return data


class InboxFilterForm(ConfiguredForm):
    unit = forms.ChoiceField(label=_("Unit"), required=False)
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[
            ("open", _("To handle")),
            ("", _("All")),
            ("pending", _("Pending")),
            ("acknowledged", _("Acknowledged")),
            ("assigned", _("Assigned")),
            ("answered", _("Answered")),
            ("closed", _("Closed")),
            ("unread", _("Unread")),
            ("read", _("Read")),
        ],
    )
    kind = forms.ChoiceField(
        label=_("Routing"),
        required=False,
        choices=[("", _("All")), ("action", _("For action")), ("info", _("For information"))],
    )
    overdue = forms.BooleanField(label=_("Overdue only"), required=False)

    def __init__(self, *args: Any, units: Iterable[Any], **kwargs: Any) -> None:
        self.units = list(units)
        super().__init__(*args, **kwargs)

    def configure(self) -> None:
        _choices(self.fields["unit"], [("", _("All my units")), *_unit_choices(self.units)])
        for field in self.fields.values():
            field.widget.attrs["data-autosubmit"] = ""


def apply_errors(form: forms.Form, error: ValidationError, *, aliases: dict[str, str] | None = None) -> None:
    """Put a service's ValidationError on the form: per field when the form has it, else on top."""
    aliases = aliases or {}
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for key, messages in error.message_dict.items():
        name = aliases.get(key, key)
        form.add_error(name if name in form.fields else None, messages)
