"""Letters retyped as registries retype them: the same letter in another shape, for tests and benchmarks.

`vary(text, choices)` reorders the header lines, writes the labels in another case, with other spacing,
punctuation and accents, and numbers the volets in another style; the record read from the letter must
not change. The letters are those of `tests/letters/` (labelled headers closed by a subject line).
"""

from __future__ import annotations

import random
import re
import unicodedata
from typing import Any, Protocol

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
ROMAN = ["I", "II", "III", "IV", "V", "VI", "VII"]
NUMBERING_STYLES = ["{n}. ", "{n}) ", "{r}. ", "{r} – ", "{n} - ", ""]
SEPARATORS = [": ", " : ", " :  ", ":\t", "\u00a0: ", "： "]


def strip_accents(text: str) -> str:
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


class Choices(Protocol):
    """Where a variation takes its choices (hypothesis in the tests, a seeded random in the benchmark)."""

    def choose(self, label: str, options: list[Any]) -> Any: ...

    def order(self, label: str, items: list[Any]) -> list[Any]: ...


class FixedChoices:
    """Always the option at `pick`, and the header in reverse order (to check the generator itself)."""

    def __init__(self, pick: int = 1) -> None:
        self.pick = pick

    def choose(self, label: str, options: list[Any]) -> Any:
        return options[self.pick % len(options)]

    def order(self, label: str, items: list[Any]) -> list[Any]:
        return list(reversed(items))


class RandomChoices:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def choose(self, label: str, options: list[Any]) -> Any:
        return self.rng.choice(options)

    def order(self, label: str, items: list[Any]) -> list[Any]:
        return self.rng.sample(items, len(items))


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
        label = strip_accents(label) if accents else label
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
        lines[i] = markup + style.format(n=number, r=ROMAN[number - 1]) + bare
    varied = "\n".join(lines)
    if choices.choose("blank lines", [False, True]):
        varied = varied.replace("\n\n", "\n\n\n")
    return varied
