"""The corpus of issue #15 (`tests/letters/`): letters as registries really receive them, in four languages.

Each letter against its hand-written expected record; what the preview and `--json` say about how sure each
reading is; generated variations of the letters (property-based) that must not change the record; and the
whole corpus registered in the database (SQLite and PostgreSQL: run with DATABASE_URL).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chancery.imports.extraction import LOW_CONFIDENCE, LetterExtraction, extract_letter, extract_text

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

# a header line "Label : value": the label is letters, spaces, dots and slashes, the value anything
_HEADER_LINE_RE = re.compile(
    r"^(?P<bold>\*\*)?(?P<label>[^\W\d_][\w .'/]{0,38}?)\s*(?P<sep>[:：])\s*(?:\*\*)?\s*(?P<value>.*)$"
)
# a volet heading alone on its line, and the numbering it may carry
_HEADING_WORDS_RE = re.compile(
    r"politi|[eé]con[oó]m|cultur|consul|communic|comunic|s[ée]curit|segurid|other|autres|سياسي|اقتصادي|ثقافي|قنصلي"
    r"|إعلامي|أمني",
    re.IGNORECASE,
)
_NUMBERING_RE = re.compile(
    r"^(?:(?:\d+(?:<sup>\w+</sup>|[ᵉʳ]+|\.º)?|[IVX]+|[A-C])\s*[.):–—-]\s*"
    r"|(?:\d+(?:<sup>\w+</sup>|[ᵉʳ]+)?|[IVX]+|Premier|Deuxième|Troisième|Primer|Segundo|Tercer|أولا|ثانيا|ثالثا)\s+)"
)
_ROMAN = ["I", "II", "III", "IV", "V", "VI", "VII"]
NUMBERING_STYLES = ["{n}. ", "{n}) ", "{r}. ", "{r} – ", "{n} - ", ""]
SEPARATORS = [": ", " : ", " :  ", ":\t", "\u00a0: ", "： "]


def _strip_accents(text: str) -> str:
    # Latin accents; for Arabic, the hamza seats that typists often leave out
    text = "".join(ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", text).replace("أ", "ا").replace("إ", "ا")


def _header_blocks(lines: list[str]) -> tuple[int, int]:
    """The run of "Label : value" lines (with their continuation lines) above the subject."""
    subject_re = re.compile(r"^(?:\*\*)?(?:objet|subject|asunto|الموضوع)", re.I)
    subject = next(i for i, line in enumerate(lines) if subject_re.match(line))
    end = subject
    while end > 0 and not lines[end - 1].strip():
        end -= 1
    start = end
    while start > 0 and (_HEADER_LINE_RE.match(lines[start - 1]) or re.match(r"^[A-C]\. ", lines[start - 1])):
        start -= 1
    return start, end


class Choices:
    """Where a variation takes its choices: from hypothesis, or fixed (to check the generator itself)."""

    def __init__(self, data: st.DataObject | None = None, pick: int = 1) -> None:
        self.data, self.pick = data, pick

    def choose(self, label: str, options: list[Any]) -> Any:
        if self.data is None:
            return options[self.pick % len(options)]
        return self.data.draw(st.sampled_from(options), label=label)

    def order(self, label: str, items: list[Any]) -> list[Any]:
        if self.data is None:
            return list(reversed(items))
        return list(self.data.draw(st.permutations(items), label=label))


def vary(text: str, choices: Choices) -> str:
    """A variation of the letter: header lines reordered, labels in another case, spacing, punctuation and
    accents, volets numbered in another style."""
    lines = text.split("\n")
    start, subject = _header_blocks(lines)
    blocks: list[list[str]] = []
    for line in lines[start:subject]:
        if _HEADER_LINE_RE.match(line) or not blocks:
            blocks.append([line])
        else:
            blocks[-1].append(line)  # "REFS:" then its items stay together
    blocks = choices.order("header order", blocks)
    case = choices.choose("label case", ["as is", "upper", "lower", "title"])
    accents = choices.choose("drop accents in labels", [False, True])
    header: list[str] = []
    for block in blocks:
        match = _HEADER_LINE_RE.match(block[0])
        if match is None or "\t" in block[0]:
            header.extend(block)
            continue
        label = match.group("label")
        label = {"upper": label.upper(), "lower": label.lower(), "title": label.title()}.get(case, label)
        label = _strip_accents(label) if accents else label
        separator = choices.choose("separator", SEPARATORS)
        trailing = choices.choose("trailing spaces", ["", " ", "  "])
        header.append(f"{label}{separator}{match.group('value')}{trailing}")
        header.extend(block[1:])
    lines[start:subject] = header
    style = choices.choose("volet numbering", NUMBERING_STYLES)
    number = 0
    for i in range(subject + 1, len(lines)):
        line = lines[i]
        if not (0 < len(line) <= 45 and not lines[i - 1].strip() and _HEADING_WORDS_RE.search(line)):
            continue
        if ":" in line[:-1] or line.rstrip().endswith((".", ",")):
            continue  # "Political: text" opens a paragraph: left as written
        number += 1
        markup = re.match(r"^(?:#{1,6} |\*{1,3}|_)?", line).group(0)  # type: ignore[union-attr]
        bare = _NUMBERING_RE.sub("", line[len(markup) :], count=1)
        lines[i] = markup + style.format(n=number, r=_ROMAN[number - 1]) + bare
    varied = "\n".join(lines)
    if choices.choose("blank lines", [False, True]):
        varied = varied.replace("\n\n", "\n\n\n")
    return varied


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(LETTER_NAMES), data=st.data())
def test_variations_do_not_change_the_record(name: str, data: st.DataObject) -> None:
    varied = vary(letter_text(name), Choices(data))
    assert_record(record_of(extract_text(varied)), expected_record(name), name)


@pytest.mark.parametrize("pick", [1, 2, 3])
def test_the_generator_varies_what_it_claims(pick: int) -> None:
    """A check on the test itself: fixed choices give the letter in another shape, and the same record."""
    original = letter_text("fr-04-romain-majuscules")
    varied = vary(original, Choices(pick=pick))
    lines = varied.split("\n")
    labelled = re.compile(r"(?i)^(?:reference|référence|pour|transmission|diffusion)[^:]*:")
    header = [line for line in lines if labelled.match(line)]
    assert len(header) == 5
    case = ["as is", "upper", "lower", "title"][pick]
    assert header[0].startswith({"upper": "DIFFUSION", "lower": "diffusion", "title": "Diffusion"}[case])
    reference = {"upper": "REFERENCE", "lower": "référence", "title": "Référence"}[case]
    assert header[-1].startswith(_strip_accents(reference) if pick % 2 else reference)
    assert header[0].lower().startswith("diffusion") and header[-1].lower().startswith(("reference", "référence"))
    style = NUMBERING_STYLES[pick]
    headings = [line for line in lines if "VOLET" in line]
    assert headings == [style.format(n=n, r=_ROMAN[n - 1]) + f"VOLET {word}" for n, word in
                        ((1, "POLITIQUE"), (2, "ÉCONOMIQUE"), (3, "SÉCURITAIRE"))]
    assert varied != original
    assert_record(record_of(extract_text(varied)), expected_record("fr-04-romain-majuscules"), "varied")
