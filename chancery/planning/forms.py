"""Forms of action planning. They validate what a person typed; the services decide the rest."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from chancery.core.classification import Level
from chancery.core.forms import StyledFormMixin
from chancery.core.locking import VersionField
from chancery.planning.models import (
    AchievementKind,
    ActionStatus,
    Aggregation,
    Direction,
    PeriodType,
    Priority,
    Programme,
    ProgrammeStatus,
)

if TYPE_CHECKING:
    from chancery.accounts.models import User

MAX_UPLOAD_BYTES = 25 * 1024 * 1024
MAX_WORKBOOK_BYTES = 10 * 1024 * 1024
REFERENCE_SPLIT = re.compile(r"[\s,;]+")


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (evidence of an achievement)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data if item]
        return [single(data, initial)] if data else []


def _blank(label: Any) -> list[tuple[Any, Any]]:
    return [("", label)]


def _set_choices(form: forms.Form, name: str, choices: list[tuple[Any, Any]]) -> None:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    field.choices = choices


class _Configured(forms.Form):
    """Calls `configure()` once the fields exist and before `StyledFormMixin` reads the errors
    (it validates a bound form while styling it): choices set there count for validation."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.configure()

    def configure(self) -> None:
        pass


class PlanningForm(StyledFormMixin, _Configured):
    pass


# --------------------------------------------------------------------------- programmes


class ProgrammeFilterForm(PlanningForm):
    mission = forms.ChoiceField(label=_("Mission"), required=False)
    year = forms.IntegerField(label=_("Year"), required=False, min_value=2000, max_value=2100)
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=_blank(_("All")) + list(ProgrammeStatus.choices)
    )

    def __init__(self, *args: Any, missions: list[tuple[str, str]] | None = None, **kwargs: Any) -> None:
        self.mission_choices = list(missions or [])
        super().__init__(*args, **kwargs)

    def configure(self) -> None:
        _set_choices(self, "mission", _blank(_("All")) + self.mission_choices)
        for field in self.fields.values():
            field.widget.attrs["data-autosubmit"] = ""

    def filters(self) -> dict[str, Any]:
        if not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}


class ProgrammeCreateForm(PlanningForm):
    mission = forms.ChoiceField(label=_("Mission"))
    year = forms.IntegerField(label=_("Year"), min_value=2000, max_value=2100)
    end_year = forms.IntegerField(
        label=_("Last year"),
        required=False,
        min_value=2000,
        max_value=2100,
        help_text=_("For a multi-year programme only."),
    )
    title = forms.CharField(
        label=_("Title"), required=False, max_length=300, help_text=_("Left empty: a title is made up from the year.")
    )
    summary = forms.CharField(label=_("Summary"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    classification = forms.TypedChoiceField(label=_("Classification"), coerce=int, choices=())
    carry_over = forms.BooleanField(
        label=_("Start from last year's programme: carry over its unfinished actions and its indicators"),
        required=False,
    )

    def __init__(self, *args: Any, missions: list[Any], user: User, **kwargs: Any) -> None:
        self.missions = {str(m.pk): m for m in missions}
        self.user = user
        super().__init__(*args, **kwargs)

    def configure(self) -> None:
        _set_choices(self, "mission", [(pk, f"{m.code} — {m.name}") for pk, m in self.missions.items()])
        _set_choices(
            self, "classification", [(int(level), level.label) for level in Level if level <= self.user.clearance.level]
        )
        self.fields["year"].initial = timezone.localdate().year + (1 if timezone.localdate().month >= 10 else 0)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        year, end_year = data.get("year"), data.get("end_year")
        if year and end_year and end_year < year:
            self.add_error("end_year", _("The last year comes before the first."))
        if data.get("mission"):
            data["mission_unit"] = self.missions[data["mission"]]
        return data


class WorkflowForm(PlanningForm):
    """The note or reason that goes with a workflow step (required to revise or return)."""

    reason = forms.CharField(
        label=_("Reason"), required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, required: bool = False, **kwargs: Any) -> None:
        self.reason_required = required
        super().__init__(*args, **kwargs)

    def configure(self) -> None:
        self.fields["reason"].required = self.reason_required


class CommentForm(PlanningForm):
    body = forms.CharField(label=_("Comment"), max_length=8000, widget=forms.Textarea(attrs={"rows": 2}))
    target_type = forms.CharField(widget=forms.HiddenInput, required=False)
    target_id = forms.IntegerField(widget=forms.HiddenInput, required=False)
    parent = forms.IntegerField(widget=forms.HiddenInput, required=False)


class AxisForm(PlanningForm):
    narrative = forms.CharField(
        label=_("Narrative"),
        required=False,
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("What the mission wants to achieve in this axis this year."),
    )


class ObjectiveForm(PlanningForm):
    title = forms.CharField(label=_("New objective"), max_length=300)
    description = forms.CharField(
        label=_("Description"), required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 2})
    )


# --------------------------------------------------------------------------- actions


def _dispatch_references(text: str) -> list[str]:
    return [ref for ref in REFERENCE_SPLIT.split(text.strip()) if ref][:50]


class DispatchReferencesField(forms.CharField):
    """Dispatches named by reference (e.g. `DAKAR/2026/0012`), separated by commas or spaces."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 2000)
        kwargs.setdefault("label", _("Dispatches"))
        kwargs.setdefault("help_text", _("References of the dispatches, separated by commas (e.g. DAKAR/2026/0012)."))
        super().__init__(**kwargs)


def resolve_dispatches(form: forms.Form, user: User, field: str = "dispatch_references") -> list[Any] | None:
    """The dispatches the references name, read through the gate; unknown ones are a field error."""
    references = _dispatch_references(form.cleaned_data.get(field) or "")
    if not references:
        return []
    from chancery.correspondence.models import Dispatch

    found = list(Dispatch.objects.visible_to(user).filter(reference__in=references))
    missing = sorted(set(references) - {d.reference for d in found})
    if missing:
        form.add_error(field, _("Unknown dispatch: %(refs)s") % {"refs": ", ".join(missing)})
        return None
    return found


class ActionForm(PlanningForm):
    axis = forms.TypedChoiceField(label=_("Axis"), coerce=int)
    objective = forms.TypedChoiceField(label=_("Objective"), coerce=int, required=False, empty_value=None)
    title = forms.CharField(label=_("Title"), max_length=300)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    lead = forms.TypedChoiceField(label=_("Lead agent"), coerce=int, required=False, empty_value=None)
    partner_units = forms.TypedMultipleChoiceField(
        label=_("Partner units"), coerce=int, required=False, widget=forms.SelectMultiple(attrs={"size": 5})
    )
    start_date = forms.DateField(label=_("Start"), required=False, widget=DateInput())
    end_date = forms.DateField(label=_("End"), required=False, widget=DateInput())
    target_date = forms.DateField(label=_("Target date"), required=False, widget=DateInput())
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices, initial=Priority.MEDIUM)
    budget_requested = forms.DecimalField(
        label=_("Budget requested"), required=False, max_digits=14, decimal_places=2, initial=Decimal("0")
    )
    budget_approved = forms.DecimalField(
        label=_("Budget approved"), required=False, max_digits=14, decimal_places=2, initial=Decimal("0")
    )
    budget_spent = forms.DecimalField(
        label=_("Budget spent"), required=False, max_digits=14, decimal_places=2, initial=Decimal("0")
    )
    currency = forms.CharField(label=_("Currency"), max_length=3, initial="EUR", help_text=_("ISO code, e.g. EUR"))
    status = forms.ChoiceField(label=_("Status"), choices=ActionStatus.choices, initial=ActionStatus.PROPOSED)
    progress = forms.IntegerField(label=_("Progress %"), required=False, initial=0)
    risk_note = forms.CharField(label=_("Risks"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    dispatch_references = DispatchReferencesField()
    lock_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(
        self,
        *args: Any,
        axes: list[Any],
        objectives: list[Any],
        leads: list[Any],
        units: list[Any],
        statuses: list[tuple[str, Any]] | None = None,
        may_grant_budget: bool = True,
        **kwargs: Any,
    ) -> None:
        self.options: dict[str, Any] = {
            "axes": axes, "objectives": objectives, "leads": leads, "units": units,
            "statuses": statuses, "may_grant_budget": may_grant_budget,
        }
        super().__init__(*args, **kwargs)

    def configure(self) -> None:
        options = self.options
        _set_choices(self, "axis", [(a.pk, a.name) for a in options["axes"]])
        _set_choices(
            self,
            "objective",
            _blank(_("(none)")) + [(o.pk, f"{o.axis.name} — {o.title}") for o in options["objectives"]],
        )
        _set_choices(
            self,
            "lead",
            _blank(_("(nobody yet)")) + [(u.pk, u.get_full_name() or u.username) for u in options["leads"]],
        )
        _set_choices(self, "partner_units", [(u.pk, f"{u.code} — {u.name}") for u in options["units"]])
        if options["statuses"] is not None:
            _set_choices(self, "status", options["statuses"])
        if not options["may_grant_budget"]:
            granted = self.fields["budget_approved"]
            granted.disabled = True
            granted.help_text = _("Granted by headquarters when it approves the programme or a revision.")
        self.fields["progress"].widget.attrs.update({"min": 0, "max": 100, "step": 1})
        for name in ("budget_requested", "budget_approved", "budget_spent"):
            self.fields[name].widget.attrs.update({"min": 0, "step": "0.01"})

    def clean_currency(self) -> str:
        value = (self.cleaned_data.get("currency") or "").strip().upper()
        if not re.fullmatch(r"[A-Z]{3}", value):
            raise ValidationError(_("An ISO 4217 currency code, e.g. EUR."))
        return value

    def clean_progress(self) -> int:
        value = self.cleaned_data.get("progress")
        if value is None:
            return 0
        if not 0 <= value <= 100:
            raise ValidationError(_("Progress is between 0 and 100 %."))
        return int(value)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in ("budget_requested", "budget_approved", "budget_spent"):
            value = data.get(name)
            if value is None and name in data:
                data[name] = Decimal("0")
            elif value is not None and value < 0:
                self.add_error(name, _("A budget cannot be negative."))
        start, end = data.get("start_date"), data.get("end_date")
        if start and end and end < start:
            self.add_error("end_date", _("The end comes before the start."))
        return data

    def service_fields(self) -> dict[str, Any]:
        """What `create_action`/`update_action` take (axis, objective, lead as objects are resolved by the view)."""
        data = dict(self.cleaned_data)
        data.pop("lock_version", None)
        data.pop("dispatch_references", None)
        for name, field in self.fields.items():
            if field.disabled:  # shown, not the user's to change (e.g. the budget headquarters grants)
                data.pop(name, None)
        return data


class ActionFilterForm(PlanningForm):
    axis = forms.ChoiceField(label=_("Axis"), required=False)
    status = forms.ChoiceField(label=_("Status"), required=False, choices=_blank(_("All")) + list(ActionStatus.choices))
    lead = forms.ChoiceField(label=_("Lead"), required=False)
    priority = forms.ChoiceField(label=_("Priority"), required=False, choices=_blank(_("All")) + list(Priority.choices))
    q = forms.CharField(label=_("Text"), required=False, max_length=100)

    def __init__(self, *args: Any, axes: list[Any], leads: list[Any], **kwargs: Any) -> None:
        self.options = {"axes": axes, "leads": leads}
        super().__init__(*args, **kwargs)

    def configure(self) -> None:
        _set_choices(self, "axis", _blank(_("All")) + [(str(a.pk), a.name) for a in self.options["axes"]])
        _set_choices(
            self,
            "lead",
            (
                _blank(_("Anyone"))
                + [("me", _("Me"))]
                + [(str(u.pk), u.get_full_name() or u.username) for u in self.options["leads"]]
            ),
        )
        for name in ("axis", "status", "lead", "priority"):
            self.fields[name].widget.attrs["data-autosubmit"] = ""

    def filters(self) -> dict[str, Any]:
        if not self.is_bound or not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}


def date_warnings(programme: Programme, values: dict[str, date | None]) -> list[str]:
    """Dates outside the programme's years: shown, but allowed (multi-year actions)."""
    from django.utils.translation import gettext as _g

    first, last = programme.period_start, programme.period_end
    labels = {"start_date": _g("start"), "end_date": _g("end"), "target_date": _g("target date")}
    warnings = []
    for name, label in labels.items():
        value = values.get(name)
        if value is not None and not (first <= value <= last):
            warnings.append(
                _g("The %(field)s (%(date)s) is outside the programme period (%(first)s–%(last)s).")
                % {"field": label, "date": value.isoformat(), "first": programme.year, "last": programme.last_year}
            )
    return warnings


# --------------------------------------------------------------------------- indicators


class IndicatorForm(PlanningForm):
    lock_version = VersionField()
    label = forms.CharField(label=_("Label"), max_length=300)
    axis = forms.TypedChoiceField(label=_("Axis"), coerce=int, required=False, empty_value=None)
    objective = forms.TypedChoiceField(label=_("Objective"), coerce=int, required=False, empty_value=None)
    unit = forms.CharField(
        label=_("Unit"), max_length=60, required=False, help_text=_("e.g. million USD, visits, articles")
    )
    direction = forms.ChoiceField(label=_("Direction"), choices=Direction.choices, initial=Direction.INCREASE)
    data_source = forms.CharField(label=_("Data source"), max_length=300, required=False)
    baseline_value = forms.DecimalField(label=_("Baseline value"), required=False, max_digits=18, decimal_places=4)
    baseline_year = forms.IntegerField(label=_("Baseline year"), required=False, min_value=1900, max_value=2100)
    approved_target = forms.DecimalField(label=_("Approved target"), required=False, max_digits=18, decimal_places=4)
    revised_target = forms.DecimalField(
        label=_("Revised target"),
        required=False,
        max_digits=18,
        decimal_places=4,
        help_text=_("During the year, revise the target here: the approved target stays beside it."),
    )
    target_year = forms.IntegerField(label=_("Target year"), required=False, min_value=1900, max_value=2100)
    aggregation = forms.ChoiceField(
        label=_("Periods add up as"),
        choices=Aggregation.choices,
        initial=Aggregation.LAST,
        required=False,
        help_text=_("How monthly or quarterly values compare with the annual target: summed (visits, articles), "
                    "the latest one (a stock, a rate), or their average."),
    )

    def clean_aggregation(self) -> str:
        return self.cleaned_data.get("aggregation") or Aggregation.LAST

    def __init__(
        self, *args: Any, axes: list[Any], objectives: list[Any], lock_approved_target: bool = False, **kwargs: Any
    ) -> None:
        self.options: dict[str, Any] = {"axes": axes, "objectives": objectives, "lock": lock_approved_target}
        super().__init__(*args, **kwargs)

    def configure(self) -> None:
        _set_choices(self, "axis", _blank(_("(programme-wide)")) + [(a.pk, a.name) for a in self.options["axes"]])
        _set_choices(
            self,
            "objective",
            _blank(_("(none)")) + [(o.pk, f"{o.axis.name} — {o.title}") for o in self.options["objectives"]],
        )
        if self.options["lock"]:
            field = self.fields["approved_target"]
            field.disabled = True
            field.help_text = _("Approved with the programme; revise the target instead.")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.fields["approved_target"].disabled:
            data.pop("approved_target", None)
        baseline_year, target_year = data.get("baseline_year"), data.get("target_year")
        if baseline_year and target_year and target_year < baseline_year:
            self.add_error("target_year", _("The target year comes before the baseline year."))
        return data


class MeasurementForm(PlanningForm):
    period_type = forms.ChoiceField(label=_("Period"), choices=PeriodType.choices, initial=PeriodType.QUARTER)
    period_start = forms.DateField(
        label=_("Any day of the period"),
        widget=DateInput(),
        help_text=_("The month, quarter or year containing this day."),
    )
    value = forms.DecimalField(label=_("Actual value"), max_digits=18, decimal_places=4)
    evidence = forms.CharField(
        label=_("Evidence"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("A note or a link."),
    )
    evidence_file = forms.FileField(label=_("Evidence file"), required=False)

    def clean_evidence_file(self) -> Any:
        upload = self.cleaned_data.get("evidence_file")
        if upload is not None and upload.size > MAX_UPLOAD_BYTES:
            raise ValidationError(_("The file is too large (25 MB at most)."))
        return upload


class MeasurementCorrectionForm(PlanningForm):
    value = forms.DecimalField(label=_("Actual value"), max_digits=18, decimal_places=4)
    evidence = forms.CharField(
        label=_("Evidence"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("A note or a link."),
    )


# --------------------------------------------------------------------------- achievements


class AchievementForm(PlanningForm):
    kind = forms.ChoiceField(label=_("Kind"), choices=AchievementKind.choices)
    date = forms.DateField(label=_("Date"), widget=DateInput())
    title = forms.CharField(label=_("Title"), max_length=300)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    outlet = forms.CharField(
        label=_("Outlet"), required=False, max_length=200, help_text=_("For press: the newspaper, channel…")
    )
    link = forms.URLField(label=_("Link"), required=False, max_length=500, assume_scheme="https")
    actions = forms.TypedMultipleChoiceField(
        label=_("Actions it serves"), coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )
    dispatch_references = DispatchReferencesField(
        help_text=_("References of the dispatches that report it, separated by commas.")
    )
    evidence_files = MultipleFileField(label=_("Evidence files"), required=False)

    def __init__(self, *args: Any, actions: list[Any], **kwargs: Any) -> None:
        self.action_choices = [(a.pk, a.title) for a in actions]
        super().__init__(*args, **kwargs)
        # CheckboxSelectMultiple renders its own inputs: Bootstrap's form-control would box them.
        self.fields["actions"].widget.attrs["class"] = "form-check-input"

    def configure(self) -> None:
        _set_choices(self, "actions", self.action_choices)

    def clean_evidence_files(self) -> list[Any]:
        files = self.cleaned_data.get("evidence_files") or []
        if len(files) > 20:
            raise ValidationError(_("20 files at most at a time."))
        for upload in files:
            if upload.size > MAX_UPLOAD_BYTES:
                raise ValidationError(_("%(name)s is too large (25 MB at most).") % {"name": upload.name})
        return list(files)


# --------------------------------------------------------------------------- periodic progress


class PeriodsForm(PlanningForm):
    period_type = forms.ChoiceField(
        label=_("Reporting periods"), choices=PeriodType.choices, initial=PeriodType.QUARTER
    )
    deadline_days = forms.IntegerField(
        label=_("Days after each period to report"), min_value=0, max_value=120, initial=15
    )


class ProgressSheetForm(PlanningForm):
    """One field group per action (progress, status, note) and per indicator (value, evidence)."""

    def __init__(self, *args: Any, rows: list[dict[str, Any]], indicators: list[dict[str, Any]], **kwargs: Any) -> None:
        self.rows, self.indicators = rows, indicators
        self.action_ids: list[int] = []
        self.indicator_ids: list[int] = []
        super().__init__(*args, **kwargs)

    def configure(self) -> None:
        rows, indicators = self.rows, self.indicators
        for row in rows:
            action, update = row["action"], row["update"]
            pk = action.pk
            self.action_ids.append(pk)
            self.fields[f"a{pk}-progress"] = forms.IntegerField(
                label=_("Progress %"),
                required=True,
                initial=update.progress if update else action.progress,
                widget=forms.NumberInput(attrs={"min": 0, "max": 100, "step": 1}),
            )
            self.fields[f"a{pk}-status"] = forms.ChoiceField(
                label=_("Status"), choices=ActionStatus.choices, initial=update.status if update else action.status
            )
            self.fields[f"a{pk}-note"] = forms.CharField(
                label=_("Note"),
                required=False,
                max_length=4000,
                initial=update.note if update else "",
                widget=forms.Textarea(attrs={"rows": 1}),
            )
            self.fields[f"a{pk}-lock"] = forms.IntegerField(
                widget=forms.HiddenInput, required=False, initial=action.lock_version
            )
        for item in indicators:
            indicator, measurement = item["indicator"], item["measurement"]
            pk = indicator.pk
            self.indicator_ids.append(pk)
            self.fields[f"i{pk}-value"] = forms.DecimalField(
                label=_("Actual"),
                required=False,
                max_digits=18,
                decimal_places=4,
                initial=measurement.value if measurement else None,
            )
            self.fields[f"i{pk}-evidence"] = forms.CharField(
                label=_("Evidence"),
                required=False,
                max_length=4000,
                initial=measurement.evidence if measurement else "",
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for pk in self.action_ids:
            value = data.get(f"a{pk}-progress")
            if value is not None and not 0 <= value <= 100:
                self.add_error(f"a{pk}-progress", _("Progress is between 0 and 100 %."))
        return data

    def bound(self, name: str) -> forms.BoundField:
        return self[name]

    def service_rows(self) -> list[dict[str, Any]]:
        data = self.cleaned_data
        return [
            {
                "action": pk,
                "progress": data[f"a{pk}-progress"],
                "status": data[f"a{pk}-status"],
                "note": data.get(f"a{pk}-note", ""),
                "lock_version": data.get(f"a{pk}-lock"),
            }
            for pk in self.action_ids
        ]

    def service_measurements(self) -> list[dict[str, Any]]:
        data = self.cleaned_data
        return [
            {"indicator": pk, "value": data.get(f"i{pk}-value"), "evidence": data.get(f"i{pk}-evidence", "")}
            for pk in self.indicator_ids
            if data.get(f"i{pk}-value") is not None
        ]


# --------------------------------------------------------------------------- spreadsheets


class WorkbookUploadForm(PlanningForm):
    workbook = forms.FileField(
        label=_("Workbook (.xlsx)"),
        help_text=_("A Chancery programme workbook: the export of a programme, or the blank template filled in."),
        widget=forms.ClearableFileInput(
            attrs={"accept": ".xlsx,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
        ),
    )

    def clean_workbook(self) -> Any:
        upload = self.cleaned_data["workbook"]
        if upload.size > MAX_WORKBOOK_BYTES:
            raise ValidationError(_("The file is too large (10 MB at most)."))
        if not upload.name.lower().endswith(".xlsx"):
            raise ValidationError(_("This is not an .xlsx workbook."))
        return upload


class VersionPickForm(PlanningForm):
    old = forms.TypedChoiceField(label=_("From version"), coerce=int)
    new = forms.TypedChoiceField(label=_("To version"), coerce=int, required=False, empty_value=None)

    def __init__(self, *args: Any, versions: list[Any], **kwargs: Any) -> None:
        self.versions = versions
        super().__init__(*args, **kwargs)

    def configure(self) -> None:
        choices = [(v.number, f"v{v.number} — {v.get_kind_display()}") for v in self.versions]
        _set_choices(self, "old", choices)
        _set_choices(self, "new", [("", _("The programme as it stands")), *choices])
