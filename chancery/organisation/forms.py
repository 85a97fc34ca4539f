"""Forms of the administration pages: units, agents, memberships, clearances.

The forms only check input; saving goes through `organisation.services` and
`accounts.services`, whose validation errors are mapped back onto the form with
`apply_errors` (everything is saved, or nothing).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from chancery.accounts.models import User
from chancery.accounts.roles import ROLE_CAPABILITIES, Capability, Role
from chancery.core.classification import Level, Marking
from chancery.core.forms import StyledForm
from chancery.core.locking import VersionField
from chancery.core.models import Compartment
from chancery.organisation.models import MissionKind, Unit, UnitFunction, UnitKind

MAX_ALIASES = 20
MAX_ALIAS_LENGTH = 200
MAX_REASON_LENGTH = 1000


def apply_errors(form: forms.Form, error: ValidationError) -> None:
    """Put a service's ValidationError on the form: on its field when the form has one."""
    if hasattr(error, "error_dict"):
        for name, errors in error.error_dict.items():
            field = name if name in form.fields else None
            for item in errors:
                form.add_error(field, item)
            if field is not None:
                _mark_invalid(form, field)
    else:
        form.add_error(None, error)


def _mark_invalid(form: forms.Form, name: str) -> None:
    """What StyledForm does for errors found while validating, for an error found while saving."""
    widget = form.fields[name].widget
    widget.attrs["aria-invalid"] = "true"
    error_id = f"{form[name].auto_id}_error"
    described = widget.attrs.get("aria-describedby", "").split()
    if error_id not in described:
        widget.attrs["aria-describedby"] = " ".join([*described, error_id])


class UpperCaseField(forms.CharField):
    """Codes (units, countries) are written in capitals; accept them typed in lower case."""

    def to_python(self, value: Any) -> str:
        return str(super().to_python(value)).upper()


def _unit_label(unit: Unit) -> str:
    return f"{unit.code} — {unit.name}"


class UnitChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return _unit_label(obj)


def _model_field(model: Any, name: str) -> Any:
    return model._meta.get_field(name)


class AdminForm(StyledForm):
    """A form whose fields depend on the acting agent (choices read through the gate)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.prepare_fields(self.fields)
        for field in self.fields.values():
            if isinstance(field.widget, forms.CheckboxSelectMultiple):
                field.widget.attrs["class"] = "form-check-input"

    def prepare_fields(self, fields: dict[str, Any]) -> None:
        """Adjust `fields` (querysets, choices) for this instance."""


class UnitForm(AdminForm):
    """Create or edit a unit. `unit` is the unit being edited (None to create one)."""

    lock_version = VersionField()
    code = UpperCaseField(
        label=_("Code"),
        max_length=_model_field(Unit, "code").max_length,
        validators=list(_model_field(Unit, "code").validators),
        help_text=_("Capital letters and digits, parts separated by /, e.g. SG/4 or DG7/6."),
    )
    name = forms.CharField(label=_("Name"), max_length=_model_field(Unit, "name").max_length)
    short_name = forms.CharField(
        label=_("Short name"), max_length=_model_field(Unit, "short_name").max_length, required=False
    )
    kind = forms.ChoiceField(label=_("Kind"), choices=UnitKind.choices)
    parent = UnitChoiceField(
        label=_("Part of"), queryset=Unit.objects.none(), required=False, empty_label=_("— (top of the tree)")
    )
    function = forms.ChoiceField(label=_("Function"), choices=UnitFunction.choices, required=False)
    mission_kind = forms.ChoiceField(
        label=_("Mission kind"), choices=[("", "—"), *MissionKind.choices], required=False
    )
    country = UpperCaseField(
        label=_("Country"),
        max_length=_model_field(Unit, "country").max_length,
        validators=list(_model_field(Unit, "country").validators),
        required=False,
        help_text=_("For a mission: ISO 3166 code of the country, e.g. SN."),
    )
    city = forms.CharField(label=_("City"), max_length=_model_field(Unit, "city").max_length, required=False)
    hq_desk = UnitChoiceField(
        label=_("Headquarters desk"),
        queryset=Unit.objects.none(),
        required=False,
        help_text=_("For a mission: the headquarters division that follows it."),
    )
    aliases = forms.CharField(
        label=_("Aliases"),
        required=False,
        max_length=MAX_ALIASES * (MAX_ALIAS_LENGTH + 1),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Other names used in letters, one per line."),
    )
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args: Any, user: User, unit: Unit | None = None, **kwargs: Any) -> None:
        self.unit = unit
        self.user = user
        if unit is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "code": unit.code,
                "name": unit.name,
                "short_name": unit.short_name,
                "kind": unit.kind,
                "parent": unit.parent_id,
                "function": unit.function,
                "mission_kind": unit.mission_kind,
                "country": unit.country,
                "city": unit.city,
                "hq_desk": unit.hq_desk_id,
                "aliases": "\n".join(unit.aliases or []),
                "is_active": unit.is_active,
                "lock_version": unit.lock_version,
            }
        super().__init__(*args, **kwargs)

    def prepare_fields(self, fields: dict[str, Any]) -> None:
        units = Unit.objects.visible_to(self.user).order_by("code")
        fields["parent"].queryset = units
        fields["hq_desk"].queryset = units.filter(kind__in=[UnitKind.DIRECTORATE, UnitKind.DIVISION, UnitKind.SERVICE])
        if self.unit is None:
            del fields["is_active"]

    def clean_aliases(self) -> list[str]:
        raw = self.cleaned_data.get("aliases") or ""
        aliases: list[str] = []
        for line in raw.splitlines():
            alias = line.strip()
            if not alias or alias in aliases:
                continue
            if len(alias) > MAX_ALIAS_LENGTH:
                raise ValidationError(
                    _("An alias may have at most %(max)d characters."),
                    code="max_length",
                    params={"max": MAX_ALIAS_LENGTH},
                )
            aliases.append(alias)
        if len(aliases) > MAX_ALIASES:
            raise ValidationError(_("At most %(max)d aliases."), code="max_aliases", params={"max": MAX_ALIASES})
        return aliases

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind")
        if kind and kind != UnitKind.MISSION:
            if data.get("mission_kind"):
                self.add_error("mission_kind", _("Only a mission has a mission kind."))
            if data.get("hq_desk"):
                self.add_error("hq_desk", _("Only a mission has a headquarters desk."))
        if kind == UnitKind.MISSION and not data.get("mission_kind"):
            self.add_error("mission_kind", _("Choose the kind of mission."))
        if self.unit is not None and data.get("hq_desk") is not None and data["hq_desk"].pk == self.unit.pk:
            self.add_error("hq_desk", _("A unit cannot follow itself."))
        return data

    def service_fields(self) -> dict[str, Any]:
        """Keyword arguments for create_unit/update_unit (the parent is passed apart)."""
        data = self.cleaned_data
        fields = {
            name: data[name]
            for name in ("code", "name", "short_name", "kind", "function", "mission_kind", "country", "city",
                         "hq_desk", "aliases")
        }
        fields["function"] = fields["function"] or ""
        if "is_active" in self.fields:
            fields["is_active"] = data["is_active"]
        return fields


def _grantable_roles(actor: Any) -> list[tuple[str, Any]]:
    """Roles carrying the management of clearances are granted only by those who hold it."""
    can_grant_clearance_roles = actor.is_superuser or actor.has_capability(Capability.MANAGE_CLEARANCES)
    return [
        (value, label)
        for value, label in Role.choices
        if can_grant_clearance_roles or Capability.MANAGE_CLEARANCES not in ROLE_CAPABILITIES.get(value, ())
    ]


class MembershipFieldsForm(AdminForm):
    """Unit and role of a membership, limited to what the acting administrator may grant."""

    membership_required = True

    def __init__(self, *args: Any, actor: Any, **kwargs: Any) -> None:
        self.actor = actor
        super().__init__(*args, **kwargs)

    def prepare_fields(self, fields: dict[str, Any]) -> None:
        fields["unit"].queryset = Unit.objects.visible_to(self.actor).active().order_by("code")
        fields["unit"].required = self.membership_required
        fields["role"].choices = [("", "—"), *_grantable_roles(self.actor)]
        fields["role"].required = self.membership_required


class AgentCreateForm(MembershipFieldsForm):
    membership_required = False

    username = forms.CharField(
        label=_("User name"),
        max_length=_model_field(User, "username").max_length,
        validators=list(_model_field(User, "username").validators),
        help_text=_model_field(User, "username").help_text,
    )
    first_name = forms.CharField(label=_("First name"), max_length=_model_field(User, "first_name").max_length)
    last_name = forms.CharField(label=_("Last name"), max_length=_model_field(User, "last_name").max_length)
    email = forms.EmailField(label=_("E-mail"), max_length=_model_field(User, "email").max_length, required=False)
    password1 = forms.CharField(
        label=_("Initial password"),
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 10 characters; not a common password, not only digits, not like the names."),
    )
    password2 = forms.CharField(
        label=_("Initial password (again)"),
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    unit = UnitChoiceField(label=_("First unit"), queryset=Unit.objects.none(), required=False)
    role = forms.ChoiceField(label=_("Role in that unit"), choices=[], required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        password = data.get("password1")
        if password and data.get("password2") is not None and password != data.get("password2"):
            self.add_error("password2", _("The two passwords differ."))
        elif password:
            candidate = User(
                username=data.get("username", ""),
                first_name=data.get("first_name", ""),
                last_name=data.get("last_name", ""),
                email=data.get("email", ""),
            )
            try:
                password_validation.validate_password(password, candidate)
            except ValidationError as exc:
                self.add_error("password1", exc)
        if bool(data.get("unit")) != bool(data.get("role")):
            self.add_error("role" if data.get("unit") else "unit", _("Give both a unit and a role, or neither."))
        return data


class AgentEditForm(AdminForm):
    lock_version = VersionField()
    first_name = forms.CharField(label=_("First name"), max_length=_model_field(User, "first_name").max_length)
    last_name = forms.CharField(label=_("Last name"), max_length=_model_field(User, "last_name").max_length)
    email = forms.EmailField(label=_("E-mail"), max_length=_model_field(User, "email").max_length, required=False)


class MembershipForm(MembershipFieldsForm):
    unit = UnitChoiceField(label=_("Unit"), queryset=Unit.objects.none())
    role = forms.ChoiceField(label=_("Role"), choices=[])
    start_date = forms.DateField(
        label=_("Start"), required=False, help_text=_("Leave empty for today."),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


class CompartmentChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.code} — {obj.name}"


class ClearanceForm(AdminForm):
    level = forms.TypedChoiceField(label=_("Clearance"), choices=Level.choices, coerce=int)
    compartments = CompartmentChoiceField(
        label=_("Compartments"),
        queryset=Compartment.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    reason = forms.CharField(
        label=_("Reason for the change"),
        max_length=MAX_REASON_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Recorded in the audit log, e.g. the reference of the security decision."),
        error_messages={"required": _("Give a reason for the change of clearance.")},
    )

    def __init__(self, *args: Any, actor: Any, agent: User, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {"level": agent.clearance_level, "compartments": list(agent.clearance_compartments.all())},
        )
        self.actor = actor
        self.agent = agent
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.actor.pk == self.agent.pk and not self.actor.is_superuser:
            raise ValidationError(_("You cannot change your own clearance."), code="own_clearance")
        level = data.get("level")
        compartments = data.get("compartments")
        if level is not None and compartments is not None and not self.actor.is_superuser:
            wanted = Marking.of(level, [c.code for c in compartments])
            if not self.actor.clearance.dominates(wanted):
                raise ValidationError(
                    _("You cannot grant a clearance above your own (%(own)s)."),
                    code="above_own",
                    params={"own": self.actor.clearance.label()},
                )
        return data
