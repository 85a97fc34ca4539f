"""The corpus of issue #15 (`tests/letters/`): letters as registries really receive them, in four languages.

Each letter against its hand-written expected record; what the preview and `--json` say about how sure each
reading is; generated variations of the letters (property-based) that must not change the record; and the
whole corpus registered in the database (SQLite and PostgreSQL: run with DATABASE_URL).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chancery.imports.extraction import LOW_CONFIDENCE, LetterExtraction, extract_letter, extract_text
from chancery.imports.variations import NUMBERING_STYLES, ROMAN, FixedChoices, strip_accents, vary

LETTERS_DIR = Path(__file__).parent / "letters"
LETTER_NAMES = sorted(path.stem for path in LETTERS_DIR.glob("*.txt"))


def letter_text(name: str) -> str:
    return (LETTERS_DIR / f"{name}.txt").read_text(encoding="utf-8")


def expected_record(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((LETTERS_DIR / f"{name}.expected.json").read_text(encoding="utf-8"))
    return data


def record_of(result: LetterExtraction) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(result.to_expected_dict()))
    return data


def assert_record(got: dict[str, Any], wanted: dict[str, Any], name: str) -> None:
    """Every field of the expected record, exactly: a field absent from the letter must come out null / []."""
    assert set(got["dispatch"]) == set(wanted["dispatch"]), name
    for field, value in wanted["dispatch"].items():
        assert got["dispatch"][field] == value, f"{name}: dispatch.{field}"
    if wanted["programme"] is None:
        assert got["programme"] is None, f"{name}: a programme was invented"
        return
    assert got["programme"] is not None, f"{name}: programme not detected"
    for field, value in wanted["programme"].items():
        assert got["programme"][field] == value, f"{name}: programme.{field}"


def test_the_corpus_covers_the_four_languages() -> None:
    assert len(LETTER_NAMES) >= 60
    languages = Counter(name.split("-")[0] for name in LETTER_NAMES)
    assert set(languages) == {"fr", "en", "es", "ar"} and min(languages.values()) >= 12, languages
    for name in LETTER_NAMES:
        assert (LETTERS_DIR / f"{name}.expected.json").is_file(), name
    plans = sum(1 for name in LETTER_NAMES if expected_record(name)["programme"] is not None)
    assert 25 <= plans <= len(LETTER_NAMES) - 15  # plans and plain letters both


@pytest.mark.parametrize("name", LETTER_NAMES)
def test_letter_matches_its_expected_record(name: str) -> None:
    result = extract_letter((LETTERS_DIR / f"{name}.txt").read_bytes(), f"{name}.txt")
    assert_record(record_of(result), expected_record(name), name)
    assert result.language == name.split("-")[0]


@pytest.mark.parametrize("name", LETTER_NAMES)
def test_every_field_says_how_sure_it_is_and_where_it_was_read(name: str) -> None:
    result = extract_letter((LETTERS_DIR / f"{name}.txt").read_bytes(), f"{name}.txt")
    lines = result.text.split("\n")
    report = result.field_report()
    for field, entry in report.items():
        found = entry["value"] not in (None, [])
        if not found:  # nothing invented, so nothing to be sure about
            assert entry["confidence"] is None and entry["line"] is None and entry["check"] is False, field
            continue
        assert 0 < entry["confidence"] <= 1, field
        assert entry["check"] == (entry["confidence"] < LOW_CONFIDENCE), field
        assert entry["source"] == lines[entry["line"] - 1], field
    assert json.loads(json.dumps(result.to_dict()))["fields"] == json.loads(json.dumps(report))


def test_how_a_field_was_found_sets_its_confidence() -> None:
    def report(name: str) -> dict[str, Any]:
        return extract_letter((LETTERS_DIR / f"{name}.txt").read_bytes(), f"{name}.txt").field_report()

    # the place under the signature: read, but to check
    signed = report("fr-17-signature-consulat")["place"]
    assert (signed["value"], signed["check"], signed["source"]) == ("Bordeaux", True, "Consulat général à Bordeaux")
    assert report("en-10-signature-place")["place"]["check"] is True
    # the sender line above the date is surer than a signature, less than a date line
    sender = report("fr-02-nref-vref-expediteur")["place"]
    dated = report("fr-01-numero-ordinaux")["place"]
    assert signed["confidence"] < sender["confidence"] < dated["confidence"]
    assert sender["source"] == "AMBASSADE À NIAMEY"
    # "N° …" at the top is most likely our reference, but less sure than a field named "Référence"
    numbered = report("fr-01-numero-ordinaux")["reference"]
    named = report("fr-04-romain-majuscules")["reference"]
    assert numbered["source"] == "N° 0234/AMB/NKC/2024" and numbered["confidence"] < named["confidence"]
    # a plan named by "the actions for the year" rather than "programme" or "plan"
    actions = report("fr-17-signature-consulat")["programme"]
    plan = report("fr-01-numero-ordinaux")["programme"]
    assert actions["confidence"] < plan["confidence"]
    # counts of things are less sure than amounts of money
    counts = report("fr-09-paragraphes-deux-points")["programme.indicators"]
    money = report("fr-04-romain-majuscules")["programme.indicators"]
    assert counts["confidence"] < money["confidence"]


def test_incomplete_reference_is_read_with_low_confidence() -> None:
    text = letter_text("fr-04-romain-majuscules").replace("LBV/2024/0201", "LBV/2024/")
    entry = extract_text(text).field_report()["reference"]
    assert entry["value"] == "LBV/2024/" and entry["check"] is True


def test_a_label_without_colon_is_read_in_the_header_only() -> None:
    """"Pour attribution - DAM/2" in the header is a field; "Annexe. Le calendrier…" at the foot is prose."""
    text = letter_text("fr-13-note-minimale").replace(
        "Haute considération.", "Annexe. Le calendrier sera complété en juin.\n\nHaute considération."
    )
    assert extract_text(text).dispatch.attachments == []
    header = text.replace("Objet :", "Pour attribution - DAM/2\nObjet :")
    assert extract_text(header).dispatch.attribution == ["DAM/2"]


def test_found_by_the_variations() -> None:
    """Two shapes the generated variations found: a line with an unread label after a list, a full-width colon."""
    cable = letter_text("en-01-cable-upper-case")
    moved = cable.replace("TO: MINISTRY OF FOREIGN AFFAIRS\n", "").replace("SUBJECT:", "TO: MINISTRY\nSUBJECT:")
    assert extract_text(moved).dispatch.cites == expected_record("en-01-cable-upper-case")["dispatch"]["cites"]
    wide = cable.replace("DATE: 14", "DATE\uff1a 14")
    assert (extract_text(wide).dispatch.place, str(extract_text(wide).dispatch.date)) == ("Nairobi", "2025-01-14")


def test_a_letter_without_volets_has_no_invented_axes() -> None:
    text = re.sub(r"\n(?:I|II|III) – VOLET [A-ZÉ]+\n", "\n", letter_text("fr-04-romain-majuscules"))
    programme = extract_text(text).to_expected_dict()["programme"]
    assert programme is not None and programme["axes"] == []
    assert "programme.axes" not in extract_text(text).programme.confidence  # type: ignore[union-attr]


# --- generated variations: what a registry changes when it retypes a header must not change the record ----


class HypothesisChoices:
    def __init__(self, data: st.DataObject) -> None:
        self.data = data

    def choose(self, label: str, options: list[Any]) -> Any:
        return self.data.draw(st.sampled_from(options), label=label)

    def order(self, label: str, items: list[Any]) -> list[Any]:
        return list(self.data.draw(st.permutations(items), label=label))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(LETTER_NAMES), data=st.data())
def test_variations_do_not_change_the_record(name: str, data: st.DataObject) -> None:
    varied = vary(letter_text(name), HypothesisChoices(data))
    assert_record(record_of(extract_text(varied)), expected_record(name), name)


@pytest.mark.parametrize("pick", [1, 2, 3])
def test_the_generator_varies_what_it_claims(pick: int) -> None:
    """A check on the test itself: fixed choices give the letter in another shape, and the same record."""
    original = letter_text("fr-04-romain-majuscules")
    varied = vary(original, FixedChoices(pick=pick))
    lines = varied.split("\n")
    labelled = re.compile(r"(?i)^(?:reference|référence|pour|transmission|diffusion)[^:]*:")
    header = [line for line in lines if labelled.match(line)]
    assert len(header) == 5
    case = ["as is", "upper", "lower", "title"][pick]
    assert header[0].startswith({"upper": "DIFFUSION", "lower": "diffusion", "title": "Diffusion"}[case])
    reference = {"upper": "REFERENCE", "lower": "référence", "title": "Référence"}[case]
    assert header[-1].startswith(strip_accents(reference) if pick % 2 else reference)
    assert header[0].lower().startswith("diffusion") and header[-1].lower().startswith(("reference", "référence"))
    style = NUMBERING_STYLES[pick]
    headings = [line for line in lines if "VOLET" in line]
    assert headings == [style.format(n=n, r=ROMAN[n - 1]) + f"VOLET {word}" for n, word in
                        ((1, "POLITIQUE"), (2, "ÉCONOMIQUE"), (3, "SÉCURITAIRE"))]
    assert varied != original
    assert_record(record_of(extract_text(varied)), expected_record("fr-04-romain-majuscules"), "varied")
