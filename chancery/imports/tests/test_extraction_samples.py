"""Every sample letter against its expected record, in every text encoding seen in the wild."""

from __future__ import annotations

import codecs
import json
from pathlib import Path
from typing import Any

import pytest

from chancery.imports.extraction import LetterExtraction, extract_letter

SAMPLES_DIR = Path(__file__).parent / "samples" / "letters"
REPO_ROOT = Path(__file__).resolve().parents[3]
SHARED_DIR = REPO_ROOT.parent / "shared" / "samples" / "letters"
SAMPLE_NAMES = sorted(path.stem for path in SAMPLES_DIR.glob("*.txt"))


def sample_text(name: str) -> str:
    return (SAMPLES_DIR / f"{name}.txt").read_text(encoding="utf-8")


def expected(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SAMPLES_DIR / f"{name}.expected.json").read_text(encoding="utf-8"))
    return data


def assert_matches(result: LetterExtraction, wanted: dict[str, Any]) -> None:
    """Compare every field the expected file lists (extra fields in the result are fine)."""
    got = json.loads(json.dumps(result.to_expected_dict()))
    for name, value in wanted["dispatch"].items():
        assert got["dispatch"][name] == value, f"dispatch.{name}"
    if wanted.get("programme") is None:
        assert got["programme"] is None
        return
    assert got["programme"] is not None, "programme not detected"
    for name, value in wanted["programme"].items():
        assert got["programme"][name] == value, f"programme.{name}"


def test_there_are_enough_samples() -> None:
    assert len(SAMPLE_NAMES) >= 10
    for name in SAMPLE_NAMES:
        assert (SAMPLES_DIR / f"{name}.expected.json").is_file(), name


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_sample_matches_expected(name: str) -> None:
    data = (SAMPLES_DIR / f"{name}.txt").read_bytes()
    assert_matches(extract_letter(data, f"{name}.txt"), expected(name))


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_result_is_json_ready_and_spans_point_into_the_text(name: str) -> None:
    result = extract_letter((SAMPLES_DIR / f"{name}.txt").read_bytes(), f"{name}.txt")
    json.dumps(result.to_dict())
    spans = list(result.dispatch.sources.values())
    if result.programme:
        spans += [axis.span for axis in result.programme.axes]
        spans += [item.span for item in result.programme.indicators]
        spans += [item.span for item in result.programme.objectives]
    for span in spans:
        assert result.text[span.start : span.end] == span.text
        assert result.text.split("\n")[span.first_line - 1] in span.text


def test_copies_of_the_shared_samples_are_current() -> None:
    if not SHARED_DIR.is_dir():
        pytest.skip(f"{SHARED_DIR} is absent")
    shared = sorted(path.name for path in SHARED_DIR.iterdir() if path.is_file())
    assert shared, "shared samples folder is empty"
    for filename in shared:
        assert (SAMPLES_DIR / filename).read_bytes() == (SHARED_DIR / filename).read_bytes(), filename


def _encoded(text: str, encoding: str) -> bytes:
    if encoding == "utf-16-be-bom":
        return codecs.BOM_UTF16_BE + text.encode("utf-16-be")
    if encoding == "utf-16-le-bom":
        return codecs.BOM_UTF16_LE + text.encode("utf-16-le")
    if encoding == "crlf":
        return text.replace("\n", "\r\n").encode("utf-8")
    return text.encode(encoding)


@pytest.mark.parametrize(
    "encoding", ["utf-8-sig", "utf-16-le-bom", "utf-16-be-bom", "utf-32", "latin-1", "cp1252", "crlf"]
)
@pytest.mark.parametrize("name", ["fr-plan-2022-dakar", "fr-note-2022-nouakchott", "es-plan-2024-lima"])
def test_encodings(name: str, encoding: str) -> None:
    result = extract_letter(_encoded(sample_text(name), encoding), f"{name}.txt")
    assert_matches(result, expected(name))
    guessed = any(problem.code == "encoding_guess" for problem in result.problems)
    assert guessed == (encoding in ("latin-1", "cp1252"))


def test_windows_1252_punctuation() -> None:
    # curly apostrophes, dash and "œ" exist in Windows-1252 but not in Latin-1
    name = "fr-plan-2025-abidjan"
    data = sample_text(name).encode("cp1252")
    assert any(0x80 <= byte <= 0x9F for byte in data)
    result = extract_letter(data, "lettre.txt")
    assert result.encoding == "windows-1252"
    assert_matches(result, expected(name))
    assert "œuvre" in result.body


def test_latin1_file_is_read_as_latin1() -> None:
    result = extract_letter(sample_text("fr-note-2022-nouakchott").encode("latin-1"), "note.txt")
    assert result.encoding == "iso-8859-1"
    assert result.dispatch.information[-1] == "Service du protocole et des privilèges"
    problem = next(p for p in result.problems if p.code == "encoding_guess")
    assert "iso-8859-1" in problem.message_fr and problem.message_en


def test_utf16_without_bom() -> None:
    name = "fr-plan-2022-dakar"
    result = extract_letter(sample_text(name).encode("utf-16-le"), f"{name}.txt")
    assert_matches(result, expected(name))


def test_utf8_with_a_stray_windows_1252_byte() -> None:
    text = sample_text("fr-plan-2022-dakar").replace("Ce programme s'appuie", "Ce programme s\x92appuie")
    data = text.encode("utf-8").replace("\x92".encode(), b"\x92")
    result = extract_letter(data, "lettre.txt")
    assert result.encoding == "utf-8"
    assert "s’appuie" in result.body and "Référence" in result.text
    assert_matches(result, expected("fr-plan-2022-dakar"))


def test_markdown_extension_is_read_as_markdown() -> None:
    result = extract_letter(sample_text("fr-plan-2023-rabat-markdown").encode(), "plan.md")
    assert result.source_format == "markdown"
    assert_matches(result, expected("fr-plan-2023-rabat-markdown"))
