"""Line-level text helpers shared by the header and programme parsers."""

from __future__ import annotations

import html
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Sequence

from .records import SourceSpan

_SPACES = {"\u00a0", "\u202f", "\u2007", "\u2009", "\u200a", "\u3000"}
_FOLD_EXTRA = {"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u2013": "-", "\u2014": "-"}
# Arabic-Indic and Eastern Arabic-Indic digits read as the digits they are; Arabic comma and semicolon as theirs
_FOLD_EXTRA.update({chr(0x0660 + n): str(n) for n in range(10)})
_FOLD_EXTRA.update({chr(0x06F0 + n): str(n) for n in range(10)})
_FOLD_EXTRA.update({"\u060c": ",", "\u061b": ";"})


class _FoldTable(dict[int, str]):
    """`str.translate` table filled on first sight of each character."""

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        if ch in _SPACES:
            folded = " "
        elif ch in _FOLD_EXTRA:
            folded = _FOLD_EXTRA[ch]
        else:
            base = unicodedata.normalize("NFKD", ch)[:1] or ch
            folded = base.lower()[:1] or base
        if len(self) < 65536:
            self[code] = folded
        return folded


_FOLD_TABLE = _FoldTable()
_SPACE_TABLE = {ord(ch): " " for ch in _SPACES}


def fold(text: str) -> str:
    """Lower-case, accent-free copy of `text` with the same length, so offsets carry over."""
    return text.lower() if text.isascii() else text.translate(_FOLD_TABLE)


_TAG_RE = re.compile(r"</?(?:sup|sub|b|i|u|em|strong|span|font|small|mark|a|s|del|ins)\b[^>]*>", re.I)
_BR_RE = re.compile(r"<br\s*/?>", re.I)
_LINK_RE = re.compile(r"\[([^\]\n]+)\]\([^)\n]*\)")
# emphasis markers touching a word on one side only: **x**, ***x***, _x_, ~~x~~
_EMPHASIS_RE = re.compile(r"(?<![\w*~])(?:[*_]{1,3}|~~)(?=\S)|(?<=\S)(?:[*_]{1,3}|~~)(?![\w*~])")


def clean_inline(line: str) -> str:
    """Drop inline markup (markdown emphasis, `<sup>` and similar tags, entities, odd spaces)."""
    text = line
    if "<" in text:
        text = _TAG_RE.sub("", _BR_RE.sub(" ", text))
    if "&" in text:
        text = html.unescape(text)
    if "](" in text:
        text = _LINK_RE.sub(r"\1", text)
    if "*" in text or "_" in text or "~" in text:
        text = _EMPHASIS_RE.sub("", text)
    return text.replace("`", "").translate(_SPACE_TABLE)


_MARKER_RE = re.compile(
    r"^\s*(?:#{1,6}\s+|>\s*)*(?:(?:[-*+\u2022\u00b7\u25aa\u2013\u2014]|\(?\d{1,2}[.)]|[a-hA-H][.)]|[IVX]{1,4}[.)])\s+)?"
)


def strip_list_marker(text: str) -> tuple[str, bool]:
    """Remove a leading list/heading marker (`- `, `* `, `1.`, `a)`, `## `); say whether one was there."""
    match = _MARKER_RE.match(text)
    if not match or not match.group(0):
        return text, False
    return text[match.end() :], bool(match.group(0).strip())


def squash(text: str) -> str:
    """Collapse runs of white space to one space and strip."""
    return " ".join(text.split())


def plain_line(line: str) -> str:
    """A line as a reader sees it: markup and list marker removed, spaces collapsed."""
    return squash(strip_list_marker(clean_inline(line))[0])


class LineIndex:
    """Maps line numbers of a text to character offsets, to build `SourceSpan`s."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines: list[str] = text.split("\n")
        self.offsets: list[int] = []
        position = 0
        for line in self.lines:
            self.offsets.append(position)
            position += len(line) + 1

    def __len__(self) -> int:
        return len(self.lines)

    def span(self, first: int, last: int | None = None) -> SourceSpan:
        """Span of lines `first`..`last` (0-based, inclusive)."""
        last = first if last is None else last
        start = self.offsets[first]
        end = self.offsets[last] + len(self.lines[last])
        return SourceSpan(first + 1, last + 1, start, end, self.text[start:end])


class JoinedLines:
    """Several source lines joined into one string, remembering which line each character came from."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.starts: list[int] = []  # offset in `text` where each joined line starts
        self.line_numbers: list[int] = []
        self._length = 0

    def add(self, line_number: int, piece: str) -> None:
        piece = piece.strip()
        if not piece:
            return
        if self.parts:
            previous = self.parts[-1]
            # a word hyphenated across a line break (PDF layout) is glued back together
            if previous.endswith("-") and piece[:1].islower() and previous[-2:-1].isalpha():
                self.parts[-1] = previous[:-1]
                self._length -= 1
            else:
                self.parts.append(" ")
                self._length += 1
        self.starts.append(self._length)
        self.line_numbers.append(line_number)
        self.parts.append(piece)
        self._length += len(piece)

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def line_at(self, offset: int) -> int:
        return self.line_numbers[max(0, bisect_right(self.starts, offset) - 1)]


_ABBREVIATIONS = {"m", "mm", "mme", "mr", "mrs", "ms", "dr", "st", "no", "n", "nos", "art", "p", "cf", "s.e", "etc"}


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of `text`; decimal points and abbreviations don't split."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in re.finditer(r"[.!?]+(?=\s+[\"«“(]?[A-ZÀ-ÖØ-Þ0-9])", text):
        word = re.search(r"([\w.]+)$", text[max(start, match.start() - 12) : match.start()])
        if word and word.group(1).lower().rstrip(".") in _ABBREVIATIONS:
            continue
        spans.append((start, match.end()))
        start = match.end()
        while start < len(text) and text[start].isspace():
            start += 1
    if text[start:].strip():
        spans.append((start, len(text.rstrip())))
    return spans


_STOPWORDS: dict[str, frozenset[str]] = {
    "fr": frozenset(
        [
            *("le", "la", "les", "des", "du", "est", "et", "une", "un", "au", "aux", "pour", "dans", "sur"),
            *("avec", "cette", "nous", "vous", "sera", "ont"),
        ]
    ),
    "en": frozenset(
        ["the", "of", "and", "is", "to", "for", "in", "on", "with", "this", "that", "we", "you", "be", "will"]
    ),
    "es": frozenset(
        ["el", "los", "las", "del", "es", "y", "una", "un", "para", "en", "con", "esta", "se", "por", "al"]
    ),
}


_ARABIC_LETTER_RE = re.compile(r"[\u0621-\u064a]")
_LATIN_LETTER_RE = re.compile(r"[A-Za-z\u00c0-\u024f]")


def detect_language(text: str) -> str:
    """'ar' for a letter written mostly in Arabic script, else 'fr', 'en' or 'es' from stop-word counts
    (French when unsure)."""
    sample = text[:20000]
    if len(_ARABIC_LETTER_RE.findall(sample)) > len(_LATIN_LETTER_RE.findall(sample)):
        return "ar"
    words = re.findall(r"[a-z]+", fold(sample))
    scores = {lang: sum(1 for word in words if word in stop) for lang, stop in _STOPWORDS.items()}
    best = max(scores, key=lambda lang: (scores[lang], lang == "fr"))
    return best if scores[best] else "fr"


def trim_block(lines: Sequence[str]) -> str:
    """Join lines, dropping leading/trailing blank lines and collapsing runs of blank lines."""
    out: list[str] = []
    for line in lines:
        line = line.rstrip()
        if not line and (not out or not out[-1]):
            continue
        out.append(line)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)
