"""Forms of the letter import screens: the upload, and the preview the agent corrects."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any, cast

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from chancery.core.classification import Level
from chancery.core.forms import StyledForm
from chancery.correspondence.models import DispatchKind, Transmission
from chancery.imports.extraction import LOW_CONFIDENCE, LetterExtraction, SourceSpan
from chancery.imports.matching import UnitDirectory
from chancery.imports.services import LetterPreview, RoutingLine
from chancery.organisation.models import Unit

ACCEPTED = ".txt,.md,.markdown,.docx,.odt,.pdf,.eml,.html,.htm"


def _restyle(form: forms.Form) -> None:
    """Style the fields added or changed after `StyledForm.__init__` (classes, help text wiring);
    errors are wired by `StyledForm.add_error`."""
    for name, form_field in form.fields.items():
        widget = form_field.widget
        if isinstance(widget, forms.HiddenInput):
            continue
        if isinstance(widget, forms.CheckboxInput):
            css = "form-check-input"
        elif isinstance(widget, forms.Select | forms.SelectMultiple):
            css = "form-select"
        else:
            css = "form-control"
        classes = widget.attrs.get("class", "").split()
        if css not in classes:
            widget.attrs["class"] = " ".join([*classes, css])
        if form_field.help_text:
            widget.attrs["aria-describedby"] = f"{form[name].auto_id}_help"


class UploadForm(StyledForm):
    file = forms.FileField(
        label=gettext_lazy("Letter"),
        help_text=gettext_lazy("TXT or Markdown, DOCX, ODT, PDF with a text layer, e-mail (.eml) or HTML."),
        widget=forms.ClearableFileInput(attrs={"accept": ACCEPTED}),
    )
    unit = forms.ChoiceField(label=gettext_lazy("Registered by"), required=False)

    def __init__(self, *args: Any, units: list[Unit], **kwargs: Any) -> None:
        self.units = units
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["unit"]).choices = [(u.code, f"{u.code} — {u.name}") for u in units]
        if len(units) <= 1:
            self.fields["unit"].widget = forms.HiddenInput()
        if units:
            self.fields["unit"].initial = units[0].code
        _restyle(self)

    def clean_unit(self) -> Unit:
        code = self.cleaned_data.get("unit") or (self.units[0].code if self.units else "")
        for unit in self.units:
            if unit.code == code:
                return unit
        raise forms.ValidationError(_("Choose one of your registry units."))


def _unit_label(unit: Unit) -> str:
    return f"{unit.code} — {unit.name}"


def _routing_choices(line: RoutingLine, directory: UnitDirectory) -> list[tuple[str, Any]]:
    choices: list[tuple[str, Any]] = [("", _("— not routed —"))]
    if line.match.candidates:
        suggested = [
            (c.unit.code, _("%(unit)s (suggestion, %(score)s %%)") % {"unit": _unit_label(c.unit),
                                                                       "score": round(c.score * 100)})
            for c in line.match.candidates
        ]
        choices.append((_("Suggestions"), suggested))
    choices.append((_("All units"), [(u.code, _unit_label(u)) for u in directory.units]))
    return choices


class PreviewForm(StyledForm):
    """Every field the letter gave, editable; unit names as choices (fuzzy ones never preselected)."""

    subject = forms.CharField(label=gettext_lazy("Subject"), max_length=500)
    dated = forms.DateField(
        label=gettext_lazy("Date of the letter"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),  # the ISO form a date input needs
    )
    place = forms.CharField(label=gettext_lazy("Place"), max_length=100, required=False)
    external_reference = forms.CharField(label=gettext_lazy("Sender's reference"), max_length=200, required=False)
    mission = forms.ChoiceField(label=gettext_lazy("Sending mission"), required=False)
    sender_name = forms.CharField(label=gettext_lazy("Sender"), max_length=300)
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=DispatchKind.choices)
    classification = forms.TypedChoiceField(
        label=gettext_lazy("Classification"), choices=Level.choices, coerce=int
    )
    transmission = forms.ChoiceField(label=gettext_lazy("Transmission"), choices=Transmission.choices)
    add_action = forms.ChoiceField(label=gettext_lazy("Also for action"), required=False)
    add_info = forms.ChoiceField(label=gettext_lazy("Also for information"), required=False)
    cites = forms.CharField(
        label=gettext_lazy("Cited correspondence (Réf)"), required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("One per line. A reference of a dispatch you can read is linked to it."),
    )
    attachments = forms.CharField(
        label=gettext_lazy("Attachments announced (PJ)"), required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("One per line. The letter's file itself is attached to the dispatch."),
    )
    body = forms.CharField(label=gettext_lazy("Body"), required=False, widget=forms.Textarea(attrs={"rows": 10}))
    create_programme = forms.BooleanField(label=gettext_lazy("Create the draft programme"), required=False)
    programme_year = forms.IntegerField(label=gettext_lazy("Programme year"), required=False, min_value=2000,
                                        max_value=2100)
    programme_end_year = forms.IntegerField(label=gettext_lazy("Last year (multi-year programme)"), required=False,
                                            min_value=2000, max_value=2100)

    def __init__(self, *args: Any, preview: LetterPreview, directory: UnitDirectory, **kwargs: Any) -> None:
        plan = preview.plan
        kwargs.setdefault("initial", {})
        kwargs["initial"] = {
            "subject": plan.subject,
            "dated": plan.dated,
            "place": plan.place,
            "external_reference": plan.external_reference,
            "mission": plan.mission.code if plan.mission else "",
            "sender_name": plan.sender_name,
            "kind": plan.kind,
            "classification": plan.classification,
            "transmission": plan.transmission,
            "cites": "\n".join(plan.cites),
            "attachments": "\n".join(plan.attachments),
            "body": plan.body,
            "create_programme": plan.programme is not None and preview.programme_obstacle is None,
            "programme_year": plan.programme.year if plan.programme else None,
            "programme_end_year": plan.programme.end_year if plan.programme else None,
            **kwargs["initial"],
        }
        super().__init__(*args, **kwargs)
        self.preview = preview
        self.directory = directory
        self.routing_names: list[tuple[str, RoutingLine]] = []
        for index, line in enumerate(preview.routing):
            name = f"route_{index}"
            label = _("For action: “%(text)s”") if line.kind == "action" else _("For information: “%(text)s”")
            self.fields[name] = forms.ChoiceField(
                label=label % {"text": line.match.text},
                required=False,
                choices=_routing_choices(line, directory),
                initial=line.match.unit.code if line.match.resolved and line.match.unit else "",
                widget=forms.Select(attrs={"data-routing-kind": line.kind}),
            )
            self.routing_names.append((name, line))
        all_units = [("", "—")] + [(u.code, _unit_label(u)) for u in directory.units]
        cast(forms.ChoiceField, self.fields["add_action"]).choices = all_units
        cast(forms.ChoiceField, self.fields["add_info"]).choices = all_units
        missions = [("", "—")] + [(u.code, _unit_label(u)) for u in directory.missions]
        cast(forms.ChoiceField, self.fields["mission"]).choices = missions
        if plan.programme is None:
            for name in ("create_programme", "programme_year", "programme_end_year"):
                del self.fields[name]
        _restyle(self)

    def corrections(self) -> dict[str, Any]:
        data = self.cleaned_data
        action: list[str] = []
        info: list[str] = []
        for name, line in self.routing_names:
            code = data.get(name) or ""
            if code:
                (action if line.kind == "action" else info).append(code)
        if data.get("add_action"):
            action.append(data["add_action"])
        if data.get("add_info"):
            info.append(data["add_info"])
        corrections: dict[str, Any] = {
            "subject": data["subject"],
            "dated": data.get("dated"),
            "place": data.get("place", ""),
            "external_reference": data.get("external_reference", ""),
            "mission": data.get("mission") or None,
            "sender_name": data["sender_name"],
            "kind": data["kind"],
            "classification": data["classification"],
            "transmission": data["transmission"],
            "attribution": action,
            "information": info,
            "cites": data.get("cites", ""),
            "attachments": data.get("attachments", ""),
            "body": data.get("body", ""),
        }
        if "create_programme" in self.fields:
            corrections["create_programme"] = bool(data.get("create_programme"))
            corrections["programme_year"] = data.get("programme_year")
            corrections["programme_end_year"] = data.get("programme_end_year")
        return corrections


# Form field → the extracted field it shows (for the source line and the "not found" mark).
FIELD_SOURCES: dict[str, str] = {
    "subject": "subject",
    "dated": "date",
    "place": "place",
    "external_reference": "reference",
    "classification": "classification",
    "transmission": "transmission",
    "cites": "cites",
    "attachments": "attachments",
}
FIELD_LABELS: dict[str, Any] = {
    "place": gettext_lazy("Place"),
    "date": gettext_lazy("Date"),
    "reference": gettext_lazy("Reference"),
    "attribution": gettext_lazy("For action"),
    "information": gettext_lazy("For information"),
    "transmission": gettext_lazy("Transmission"),
    "classification": gettext_lazy("Classification"),
    "cites": gettext_lazy("Réf"),
    "subject": gettext_lazy("Subject"),
    "attachments": gettext_lazy("PJ"),
    "year": gettext_lazy("Programme year"),
}


@dataclass
class FieldRow:
    field: forms.BoundField
    status: str  # found / missing / unclear
    span: SourceSpan | None
    problems: list[str] = dataclass_field(default_factory=list)
    note: str = ""
    confidence: float | None = None  # how sure the reading is (0..1); None when not read from the letter

    @property
    def percent(self) -> int | None:
        return None if self.confidence is None else round(self.confidence * 100)

    @property
    def low_confidence(self) -> bool:
        return self.confidence is not None and self.confidence < LOW_CONFIDENCE

    @property
    def source_text(self) -> str:
        """The line the value was read from, as written (first line of a multi-line field)."""
        return self.span.text.split("\n")[0].strip() if self.span is not None else ""


@dataclass
class SourceLine:
    number: int
    text: str
    labels: list[str]
    check: bool = False  # a field was read from this line with low confidence


@dataclass
class ProgrammeField:
    """A field of the draft programme as read: its label, how sure the reading is, and its line."""

    name: str
    label: str
    confidence: float
    line: int | None
    source_text: str

    @property
    def percent(self) -> int:
        return round(self.confidence * 100)

    @property
    def low_confidence(self) -> bool:
        return self.confidence < LOW_CONFIDENCE


PROGRAMME_FIELD_LABELS: dict[str, Any] = {
    "programme": gettext_lazy("Read as an action plan"),
    "programme.year": gettext_lazy("Programme year"),
    "programme.axes": gettext_lazy("Axes (volets)"),
    "programme.indicators": gettext_lazy("Candidate indicators"),
}


def programme_fields(extraction: LetterExtraction) -> list[ProgrammeField]:
    """How sure the reading of the draft programme is, field by field (those read from the letter)."""
    report = extraction.field_report()
    return [
        ProgrammeField(name, str(label), report[name]["confidence"], report[name]["line"], report[name]["source"] or "")
        for name, label in PROGRAMME_FIELD_LABELS.items()
        if name in report and report[name]["confidence"] is not None
    ]


def field_rows(form: PreviewForm, language: str) -> list[FieldRow]:
    """The header fields in reading order, each with its status and the line it came from."""
    extraction: LetterExtraction = form.preview.extraction
    sources = extraction.dispatch.sources
    problems: dict[str, list[str]] = {}
    for problem in extraction.problems:
        problems.setdefault(problem.field, []).append(problem.message(language))
    rows: list[FieldRow] = []

    confidence = extraction.dispatch.confidence

    def status_of(source: str | None, span: SourceSpan | None, found_problems: list[str]) -> str:
        if found_problems or (source in confidence and confidence[source] < LOW_CONFIDENCE):
            return "unclear"
        return "found" if span is not None or source is None else "missing"

    def add(form_name: str, source: str | None, *, note: str = "") -> None:
        if form_name not in form.fields:
            return
        span = sources.get(source) if source else None
        found_problems = problems.get(source or "", [])
        status = status_of(source, span, found_problems)
        rows.append(FieldRow(form[form_name], status, span, found_problems, note, confidence.get(source or "")))

    for name in ("place", "dated", "external_reference"):
        add(name, FIELD_SOURCES[name])
    mission = form.preview.mission
    mission_note = ""
    if mission.resolved and mission.unit is not None:
        mission_note = _("Matched from “%(text)s”.") % {"text": mission.text}
    elif mission.candidates:
        mission_note = _("Not matched; close: %(codes)s.") % {
            "codes": ", ".join(c.unit.code for c in mission.candidates[:3])
        }
    rows.append(
        FieldRow(form["mission"], "found" if mission.resolved else "missing",
                 sources.get("reference") if mission.method == "code" else sources.get("place"), [], mission_note)
    )
    add("sender_name", None)
    for name, line in form.routing_names:
        source = "attribution" if line.kind == "action" else "information"
        if line.match.resolved:
            status, note = "found", _("Matched by %(method)s.") % {"method": line.match.method}
        elif line.match.candidates:
            status, note = "unclear", _("No unit has this code or name: choose among the suggestions or leave it "
                                        "unrouted.")
        else:
            status, note = "unclear", _("No unit has this code or name.")
        rows.append(FieldRow(form[name], status, sources.get(source), problems.get(source, []), note,
                             confidence.get(source)))
    for name in ("add_action", "add_info"):
        rows.append(FieldRow(form[name], "found", None))
    for name in ("transmission", "classification", "cites", "subject", "attachments"):
        add(name, FIELD_SOURCES[name])
    add("kind", None)
    return rows


def source_lines(extraction: LetterExtraction) -> list[SourceLine]:
    """The letter's text line by line, each line labelled with the fields read from it."""
    labels: dict[int, list[str]] = {}
    unsure: set[int] = set()
    spans: list[tuple[str, SourceSpan]] = list(extraction.dispatch.sources.items())
    if extraction.programme is not None:
        spans += [(name, span) for name, span in extraction.programme.sources.items()]
    for name, span in spans:
        for number in range(span.first_line, span.last_line + 1):
            labels.setdefault(number, []).append(str(FIELD_LABELS.get(name, name)))
    for field in extraction.field_report().values():
        if field["check"] and field["line"] is not None:
            unsure.add(field["line"])
    lines = extraction.text.split("\n")
    return [
        SourceLine(number, text, labels.get(number, []), number in unsure)
        for number, text in enumerate(lines, start=1)
    ]
