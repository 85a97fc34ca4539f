"""File -> `LetterExtraction`: reading, header, body, programme."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from .errors import ExtractionError
from .header import parse_header
from .programme import layout_body, observations_text, parse_programme
from .reading import DEFAULT_MAX_BYTES, Document, normalise_newlines, read_document, read_document_path
from .records import LetterExtraction, Problem
from .text import LineIndex, clean_inline, detect_language, trim_block


def extract_letter(data: bytes, filename: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> LetterExtraction:
    """Read an uploaded letter; raises `ExtractionError` when it cannot be read as a letter."""
    return extract_document(read_document(data, filename, max_bytes=max_bytes))


def extract_letter_path(path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> LetterExtraction:
    """Same for a file on disk; its size is checked before it is opened."""
    return extract_document(read_document_path(Path(path), max_bytes=max_bytes))


def extract_text(text: str, *, source_format: str = "text") -> LetterExtraction:
    """Same for text already in memory (pasted into a form, say)."""
    return extract_document(Document(normalise_newlines(text), source_format))


def extract_document(document: Document) -> LetterExtraction:
    index = LineIndex(document.text)
    header = parse_header(index, document.metadata)
    if not header.found_any:
        attached = _from_attachments(document)
        if attached is None:
            raise ExtractionError("no_header")
        return attached
    lines = index.lines
    layout = layout_body(lines, header.body_start, header.body_end, header.observations_line)
    language = detect_language(document.text)
    programme, programme_problems = parse_programme(index, header.dispatch, layout, header.body_start, language)
    problems: list[Problem] = []
    if document.encoding_guessed:
        problems.append(Problem.make("text", "encoding_guess", value=document.encoding or "?"))
    problems += header.problems + programme_problems
    body = trim_block([clean_inline(line) for line in lines[header.body_start : header.body_end]])
    return LetterExtraction(
        dispatch=header.dispatch,
        programme=programme,
        body=body,
        observations=observations_text(lines, layout),
        text=document.text,
        source_format=document.format,
        encoding=document.encoding,
        language=language,
        problems=problems,
    )


def _from_attachments(document: Document) -> LetterExtraction | None:
    """An e-mail whose body only says "please find attached": read the attached letter."""
    for name, data in document.embedded:
        try:
            inner = read_document(data, name)
            if inner.embedded:
                continue
            return extract_document(
                replace(inner, metadata=document.metadata, format=f"{document.format}/{inner.format}")
            )
        except ExtractionError:
            continue
    return None
