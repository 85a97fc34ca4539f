"""Typed results of a letter extraction.

Every extracted value keeps the place it came from (`SourceSpan`) so that a preview can show the
field beside the source text; `to_expected_dict()` gives the shape of the shared
`samples/letters/*.expected.json` files, `to_dict()` everything (JSON-ready).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from .messages import render

AxisKey = Literal["political", "economic", "cultural", "communication", "consular", "security", "other"]
AXIS_ORDER: tuple[AxisKey, ...] = (
    "political",
    "economic",
    "cultural",
    "communication",
    "consular",
    "security",
    "other",
)
Transmission = Literal["encrypted", "clear"]
Classification = Literal["unclassified", "restricted", "confidential", "secret"]
Role = Literal["baseline", "target"]
# below this, the preview asks the clerk to check the field (and `--json` says "check": true)
LOW_CONFIDENCE = 0.7

DISPATCH_FIELDS: tuple[str, ...] = (
    "place",
    "date",
    "reference",
    "attribution",
    "information",
    "transmission",
    "classification",
    "cites",
    "subject",
    "attachments",
)


@dataclass(frozen=True)
class SourceSpan:
    """Lines of `LetterExtraction.text` a value was read from (lines 1-based, offsets 0-based)."""

    first_line: int
    last_line: int
    start: int
    end: int
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "first_line": self.first_line,
            "last_line": self.last_line,
            "start": self.start,
            "end": self.end,
            "text": self.text,
        }


@dataclass(frozen=True)
class Problem:
    """A field that could not be read clearly; `messages` holds the text per language."""

    field: str
    code: str
    messages: dict[str, str]
    span: SourceSpan | None = None

    @classmethod
    def make(cls, field_name: str, code: str, span: SourceSpan | None = None, **params: str) -> Problem:
        return cls(field_name, code, render(f"problem.{code}", field=field_name, **params), span)

    @property
    def message_fr(self) -> str:
        return self.messages["fr"]

    @property
    def message_en(self) -> str:
        return self.messages["en"]

    def message(self, language: str = "fr") -> str:
        return self.messages.get(language, self.messages["en"])

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "code": self.code,
            "messages": dict(self.messages),
            "span": self.span.to_dict() if self.span else None,
        }


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


@dataclass
class Dispatch:
    place: str | None = None
    date: dt.date | None = None
    reference: str | None = None
    attribution: list[str] = field(default_factory=list)
    information: list[str] = field(default_factory=list)
    transmission: Transmission | None = None
    classification: Classification | None = None
    cites: list[str] = field(default_factory=list)
    subject: str | None = None
    attachments: list[str] = field(default_factory=list)
    # field name -> where it was read; absent for missing fields
    sources: dict[str, SourceSpan] = field(default_factory=dict)
    # field name -> how sure the reading is (0..1); absent for missing fields
    confidence: dict[str, float] = field(default_factory=dict)

    def to_expected_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in DISPATCH_FIELDS:
            value = getattr(self, name)
            if isinstance(value, dt.date):
                value = value.isoformat()
            elif isinstance(value, list):
                value = list(value)
            out[name] = value
        return out

    def to_dict(self) -> dict[str, Any]:
        out = self.to_expected_dict()
        out["sources"] = {name: span.to_dict() for name, span in self.sources.items()}
        out["confidence"] = dict(self.confidence)
        return out


@dataclass(frozen=True)
class Objective:
    text: str
    axis: AxisKey | None
    span: SourceSpan

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "axis": self.axis, "span": self.span.to_dict()}


@dataclass(frozen=True)
class Indicator:
    value: Decimal
    unit: str
    year: int
    role: Role
    axis: AxisKey | None
    text: str  # the clause the figure was read from
    span: SourceSpan
    confidence: float = 0.9

    def to_expected_dict(self) -> dict[str, Any]:
        return {"value": _number(self.value), "unit": self.unit, "year": self.year, "role": self.role}

    def to_dict(self) -> dict[str, Any]:
        out = self.to_expected_dict()
        out.update(axis=self.axis, text=self.text, span=self.span.to_dict(), confidence=self.confidence)
        return out


@dataclass(frozen=True)
class Axis:
    key: AxisKey
    heading: str  # as written, without markup
    text: str  # the narrative under the heading
    span: SourceSpan  # heading line through the end of the narrative

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "heading": self.heading, "text": self.text, "span": self.span.to_dict()}


@dataclass
class Programme:
    year: int | None
    end_year: int | None = None  # set for multi-year plans ("2022-2024")
    axes: list[Axis] = field(default_factory=list)  # in document order
    objectives: list[Objective] = field(default_factory=list)
    indicators: list[Indicator] = field(default_factory=list)
    sources: dict[str, SourceSpan] = field(default_factory=dict)
    # "programme" (is it a plan), "year", "axes", "indicators" -> how sure the reading is (0..1)
    confidence: dict[str, float] = field(default_factory=dict)

    @property
    def axis_keys(self) -> list[AxisKey]:
        """Distinct keys of the axes found, in canonical order."""
        found = {axis.key for axis in self.axes}
        return [key for key in AXIS_ORDER if key in found]

    def to_expected_dict(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "axes": self.axis_keys,
            "indicators": [indicator.to_expected_dict() for indicator in self.indicators],
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "end_year": self.end_year,
            "axes": [axis.to_dict() for axis in self.axes],
            "axis_keys": self.axis_keys,
            "objectives": [objective.to_dict() for objective in self.objectives],
            "indicators": [indicator.to_dict() for indicator in self.indicators],
            "sources": {name: span.to_dict() for name, span in self.sources.items()},
            "confidence": dict(self.confidence),
        }


@dataclass
class LetterExtraction:
    dispatch: Dispatch
    programme: Programme | None
    body: str
    observations: str | None
    text: str  # the full text read from the file; spans point into it
    source_format: str
    encoding: str | None
    language: str
    problems: list[Problem] = field(default_factory=list)

    def to_expected_dict(self) -> dict[str, Any]:
        return {
            "dispatch": self.dispatch.to_expected_dict(),
            "programme": self.programme.to_expected_dict() if self.programme else None,
        }

    def field_report(self) -> dict[str, dict[str, Any]]:
        """Each field of the record with how sure its reading is and the line it was read from.

        `confidence` is None for a field not found (its value is null or empty: nothing is invented);
        `check` says the clerk should look at it: it was read, but with low confidence.
        """
        report: dict[str, dict[str, Any]] = {}
        dispatch = self.dispatch.to_expected_dict()
        for name in DISPATCH_FIELDS:
            report[name] = _field(dispatch[name], self.dispatch.confidence.get(name), self.dispatch.sources.get(name))
        programme = self.programme
        if programme is None:
            return report
        expected = programme.to_expected_dict()
        subject = self.dispatch.sources.get("subject")
        report["programme"] = _field(True, programme.confidence.get("programme"), subject)
        report["programme.year"] = _field(expected["year"], programme.confidence.get("year"), subject)
        first_axis = programme.axes[0].span if programme.axes else None
        report["programme.axes"] = _field(expected["axes"], programme.confidence.get("axes"), first_axis)
        first_indicator = programme.indicators[0].span if programme.indicators else None
        report["programme.indicators"] = _field(
            expected["indicators"], programme.confidence.get("indicators"), first_indicator
        )
        return report

    def to_dict(self) -> dict[str, Any]:
        return {
            "fields": self.field_report(),
            "dispatch": self.dispatch.to_dict(),
            "programme": self.programme.to_dict() if self.programme else None,
            "body": self.body,
            "observations": self.observations,
            "source_format": self.source_format,
            "encoding": self.encoding,
            "language": self.language,
            "problems": [problem.to_dict() for problem in self.problems],
            "text": self.text,
        }


def _field(value: Any, confidence: float | None, span: SourceSpan | None) -> dict[str, Any]:
    found = value not in (None, [])
    confidence = confidence if found else None
    return {
        "value": value,
        "confidence": confidence,
        "check": confidence is not None and confidence < LOW_CONFIDENCE,
        "line": span.first_line if span is not None and found else None,
        "source": span.text.split("\n")[0] if span is not None and found else None,
    }
