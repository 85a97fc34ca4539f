"""Rule-based, explainable extraction of official letters into structured records.

Pure Python (no Django, no database): `extract_letter(data, filename)` returns a
`LetterExtraction` whose `to_expected_dict()` has the shape of `samples/letters/*.expected.json`
and whose `to_dict()` adds the body, axis texts, objectives, source spans and problems.
"""

from .errors import ERROR_CODES, ErrorCode, ExtractionError
from .extract import extract_document, extract_letter, extract_letter_path, extract_text
from .reading import DEFAULT_MAX_BYTES, Document, read_document, read_document_path, read_limited
from .records import (
    AXIS_ORDER,
    LOW_CONFIDENCE,
    Axis,
    AxisKey,
    Dispatch,
    Indicator,
    LetterExtraction,
    Objective,
    Problem,
    Programme,
    SourceSpan,
)

__all__ = [
    "AXIS_ORDER",
    "DEFAULT_MAX_BYTES",
    "ERROR_CODES",
    "LOW_CONFIDENCE",
    "Axis",
    "AxisKey",
    "Dispatch",
    "Document",
    "ErrorCode",
    "ExtractionError",
    "Indicator",
    "LetterExtraction",
    "Objective",
    "Problem",
    "Programme",
    "SourceSpan",
    "extract_document",
    "extract_letter",
    "extract_letter_path",
    "extract_text",
    "read_document",
    "read_document_path",
    "read_limited",
]
