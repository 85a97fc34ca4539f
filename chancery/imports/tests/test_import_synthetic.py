"""The letter generator: deterministic, varied, and every letter reads back as the record it was written from."""

from __future__ import annotations

import json
import time
from collections import Counter
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from chancery.imports.extraction import extract_letter
from chancery.imports.synthetic import LetterFactory


def test_same_seed_same_letters(monkeypatch: pytest.MonkeyPatch) -> None:
    first = [(letter.filename, letter.data) for letter in LetterFactory(5).letters(30)]
    # An hour later, the same seed still gives the same bytes (DOCX archives once carried the clock).
    later = time.time() + 3600
    monkeypatch.setattr(time, "time", lambda: later)
    second = [(letter.filename, letter.data) for letter in LetterFactory(5).letters(30)]
    other = [(letter.filename, letter.data) for letter in LetterFactory(6).letters(30)]
    assert first == second and first != other


def test_generated_letters_read_back_as_their_records() -> None:
    letters = list(LetterFactory(11).letters(250))
    formats = Counter(letter.filename.rsplit(".", 1)[1] for letter in letters)
    assert set(formats) == {"txt", "md", "docx", "eml", "html"}
    plans = 0
    for letter in letters:
        got = json.loads(json.dumps(extract_letter(letter.data, letter.filename).to_expected_dict()))
        assert got["dispatch"] == letter.expected["dispatch"], letter.filename
        assert (got["programme"] is None) == (letter.expected["programme"] is None), letter.filename
        if letter.expected["programme"] is not None:
            plans += 1
            assert got["programme"] == letter.expected["programme"], letter.filename
    assert 50 < plans < 150


def test_the_variations_are_there() -> None:
    texts = b"".join(letter.data for letter in LetterFactory(11).letters(1000))
    for variation in (b"Pour Information", b"1er", b"aout", b"<sup>", b"***", b" et "):
        assert variation in texts, variation


def test_generate_letters_command(tmp_path: Path) -> None:
    out = StringIO()
    call_command("generate", "letters", "--count", "12", "--out", str(tmp_path / "l"), "--seed", "3", "--expected",
                 stdout=out)
    assert "12 letter(s) written" in out.getvalue()
    assert len(list((tmp_path / "l").glob("*.expected.json"))) == 12
    assert len([p for p in (tmp_path / "l").iterdir() if not p.name.endswith(".json")]) == 12
