"""The letter header: place and date, reference, routing, markings, cited letters, subject, PJ."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from .dates import DateLine, parse_date, parse_date_line
from .records import Classification, Dispatch, Problem, Transmission
from .text import LineIndex, clean_inline, fold, plain_line, squash, strip_list_marker

FieldName = Literal[
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
    "observations",
]

# folded label (dots dropped, spaces collapsed) -> field
LABELS: dict[str, FieldName] = {}
for _field, _labels in (
    ("reference", "reference|notre reference|our reference|our ref|referencia|nuestra referencia|n/ref|n/reference"),
    ("attribution", "pour attribution|attribution|for action|action|para accion|para atribucion|accion"),
    (
        "information",
        "pour information|information|info|for information|copie|copie pour information|copy|cc|"
        "para informacion|informacion|copia",
    ),
    ("transmission", "transmission|transmision|mode de transmission|mode of transmission"),
    (
        "classification",
        "diffusion|distribution|difusion|classification|clasificacion|classement|security classification|"
        "niveau de protection|protection|marking",
    ),
    ("cites", "ref|refs|v/ref|vref|v/reference|votre ref|vos ref|your ref|su ref|s/ref|references|referencias"),
    ("subject", "objet|subject|asunto|sujet|concerne|re"),
    (
        "attachments",
        "pj|pieces jointes|piece jointe|pj jointes|annexe|annexes|attachments|attachment|enclosure|"
        "enclosures|encl|anexos|anexo|adjuntos|adjunto",
    ),
    ("date", "date|fecha"),
    ("place", "lieu|lugar"),
    ("observations", "observations|observation|remarques|remarks|comments|commentaires|observaciones"),
):
    for _label in _labels.split("|"):
        LABELS[_label] = _field  # type: ignore[assignment]

_LIST_FIELDS: frozenset[str] = frozenset({"attribution", "information", "cites", "attachments"})
# fields whose absence is worth a word to the person checking the import
_EXPECTED_FIELDS: tuple[str, ...] = (
    "place",
    "date",
    "reference",
    "attribution",
    "transmission",
    "classification",
    "subject",
)
_WIDE_GAP_RE = re.compile(r"\t|\s{3,}")
_MAX_LINES_AFTER_PJ = 12  # signature, address, footer
_LABEL_RE = re.compile(r"^\s*(?P<label>[^:\uff1a]{1,40}?)\s*[:\uff1a]\s*(?P<value>.*)$")
# a second "Label :" on the same line, after a clear separator (tab, wide gap, " - ", "|", ";", ", ")
_INLINE_LABEL_RE = re.compile(
    r"(?:\t|\s{3,}|\s[-|]\s|;\s*|,\s+)(?P<label>"
    + "|".join(re.escape(label).replace(r"\ ", r"\s+") for label in sorted(LABELS, key=len, reverse=True))
    + r")\.?\s*[:\uff1a]"
)

_NIL_RE = re.compile(r"^(?:neant|none|nil|n/?a|aucune?s?|ninguno|ninguna|nada|sans objet|-+|/)\.?$")
_CLASSIFICATION_LINE_RE = re.compile(
    r"^(?:diffusion restreinte|confidentiel(?: defense)?|(?:tres |top )?secret(?: defense)?|non protege|restricted"
    r"|confidential|unclassified|restringid[ao]|confidencial|secreto|sin clasificar)$"
)
_TRANSMISSION_LINE_RE = re.compile(r"^(?:transmission |transmision )?(?:cryptee|chiffree|encrypted|cifrada)$")
_TRANSMISSION: tuple[tuple[str, Transmission], ...] = (
    ("crypt", "encrypted"),
    ("chiffr", "encrypted"),
    ("cifrad", "encrypted"),
    ("encrypted", "encrypted"),
    ("en clair", "clear"),
    ("clair", "clear"),
    ("clear", "clear"),
    ("en claro", "clear"),
    ("claro", "clear"),
)
_CLASSIFICATION: tuple[tuple[str, Classification], ...] = (
    ("non protege", "unclassified"),
    ("unclassified", "unclassified"),
    ("sin clasificar", "unclassified"),
    ("no clasificad", "unclassified"),
    ("normal", "unclassified"),
    ("ordinaire", "unclassified"),
    ("public", "unclassified"),
    ("secret", "secret"),  # also "très secret", "secreto", "top secret"
    ("confiden", "confidential"),
    ("restrein", "restricted"),
    ("restrict", "restricted"),
    ("restring", "restricted"),
    ("reservad", "restricted"),
)


def _label_key(label: str) -> str:
    return squash(fold(label).replace(".", " ").replace(" /", "/").replace("/ ", "/")).replace("p j", "pj")


def parse_labelled_line(line: str) -> list[tuple[FieldName, str]]:
    """'Transmission : Cryptée - Diffusion : Restreinte' -> [(transmission, Cryptée), (classification, ...)]."""
    if not any(mark in line for mark in (":", "\uff1a", "\t", "|")):
        return []
    text, _ = strip_list_marker(clean_inline(line))
    match = _LABEL_RE.match(text)
    first = LABELS.get(_label_key(match.group("label"))) if match else None
    if first is None or match is None:
        return _table_row(text)
    found: list[tuple[FieldName, str]] = []
    current, value = first, match.group("value")
    while True:
        nxt = _INLINE_LABEL_RE.search(fold(value))
        if nxt is None:
            break
        found.append((current, value[: nxt.start()]))
        current = LABELS[_label_key(value[nxt.start("label") : nxt.end("label")])]
        value = value[nxt.end() :]
    found.append((current, value))
    return [(name, squash(val)) for name, val in found]


def _table_row(text: str) -> list[tuple[FieldName, str]]:
    """'| Référence | ABC |' or 'Référence<TAB>ABC' (header laid out as a table, without colons)."""
    stripped = text.strip()
    if stripped.startswith("|"):
        cells = stripped.strip("|").split("|")
    elif "\t" in stripped:
        cells = stripped.split("\t")
    else:
        return []
    cells = [cell.strip() for cell in cells if cell.strip()]
    name = LABELS.get(_label_key(cells[0].rstrip(" :\uff1a"))) if len(cells) >= 2 else None
    return [(name, squash(" ".join(cells[1:])))] if name else []


def _marking_line(line: str) -> list[tuple[FieldName, str]]:
    """A marking alone on its line, as telegrams print it: 'DIFFUSION RESTREINTE', 'CRYPTÉE'."""
    if len(line) > 60:
        return []
    text = plain_line(line)
    folded = fold(text).strip(" .")
    if _CLASSIFICATION_LINE_RE.match(folded):
        return [("classification", text)]
    if _TRANSMISSION_LINE_RE.match(folded):
        return [("transmission", text)]
    return []


def is_nil(value: str) -> bool:
    """'Néant', 'None', 'N/A', '-': the field is there but says there is nothing."""
    return bool(_NIL_RE.match(fold(value).strip()))


def split_units(value: str) -> list[str]:
    """'DG3/1 - DCP/5', 'A, B et C', 'A; B' -> units; 'Press Office' and 'DG3/1' stay whole."""
    parts = [part for part in re.split(r"\s*[;,]\s*|\s+[-\u2013\u2014]\s+", value) if part.strip()]
    units: list[str] = []
    for part in parts:
        units.extend(_split_conjunction(part.strip()))
    return [unit.strip(" .") for unit in units if unit.strip(" .")]


def _looks_like_code(text: str) -> bool:
    return bool(re.search(r"\d|/", text)) or (text.isupper() and len(text) > 1)


def _split_conjunction(part: str) -> list[str]:
    # "DG2/5 et Service du protocole" splits, "Service du protocole et des privilèges" does not
    pieces: list[str] = []
    rest = part
    while True:
        match = re.search(r"\s+(?:et|and|y|&)\s+", rest)
        if match is None:
            break
        left, right = rest[: match.start()], rest[match.end() :]
        last_word = left.split()[-1] if left.split() else ""
        first_word = right.split()[0] if right.split() else ""
        if (right[:1].isupper() or right[:1].isdigit()) and (
            _looks_like_code(last_word) or _looks_like_code(first_word)
        ):
            pieces.append(left)
            rest = right
            continue
        # keep the conjunction inside this unit name and look further right
        nxt = _split_conjunction(right)
        pieces.append(f"{left}{match.group(0)}{nxt[0]}")
        pieces.extend(nxt[1:])
        return pieces
    pieces.append(rest)
    return pieces


def split_items(value: str) -> list[str]:
    """Attachment items: on ';' (or on ',' when there is no ';'); leading numbering dropped."""
    separator = ";" if ";" in value else ","
    items = [re.sub(r"^\(?(?:\d{1,2}|[a-z])[.)]\s*", "", item.strip()) for item in value.split(separator)]
    return [item.strip(" .") for item in items if item.strip(" .")]


def normalise_transmission(value: str) -> Transmission | None:
    folded = fold(value)
    return next((norm for needle, norm in _TRANSMISSION if needle in folded), None)


def normalise_classification(value: str) -> Classification | None:
    folded = fold(value)
    return next((norm for needle, norm in _CLASSIFICATION if needle in folded), None)


@dataclass
class HeaderResult:
    dispatch: Dispatch
    problems: list[Problem]
    found_any: bool
    body_start: int  # first line of the body (0-based)
    body_end: int  # line after the body (the PJ line, or the end of the text)
    observations_line: int | None = None


@dataclass
class _Line:
    kind: Literal["blank", "field", "date", "other"]
    fields: list[tuple[FieldName, str]]
    date: DateLine | None = None


def _classify(lines: list[str]) -> list[_Line]:
    out: list[_Line] = []
    for line in lines:
        if not line.strip():
            out.append(_Line("blank", []))
            continue
        date_line, rest = _date_in_line(line)
        fields = (parse_labelled_line(rest) or _marking_line(rest)) if rest else []
        if fields:
            out.append(_Line("field", fields, date_line))
        else:
            out.append(_Line("date", [], date_line) if date_line else _Line("other", []))
    return out


def _date_in_line(line: str) -> tuple[DateLine | None, str]:
    """The date line, whole or beside other text past a wide gap (PDF layout); and what is left."""
    if len(line) > 200:  # a date line is short; the cap also keeps the date regexes linear
        return None, line
    whole = parse_date_line(plain_line(line))
    if whole is not None:
        return whole, ""
    segments = _WIDE_GAP_RE.split(line.strip())
    for number, segment in enumerate(segments if len(segments) > 1 else []):
        found = parse_date_line(plain_line(segment))
        if found is not None:
            return found, "   ".join(segments[:number] + segments[number + 1 :])
    return None, line


def _continuation(lines: list[str], kinds: list[_Line], index: int, name: FieldName, empty: bool) -> list[int]:
    """Following lines that continue a field: list items, indented lines, a wrapped subject."""
    taken: list[int] = []
    j = index + 1
    if empty and j < len(lines) and kinds[j].kind == "blank":
        j += 1  # "PJ :" then a blank line then the list
    while j < len(lines) and len(taken) < 20 and kinds[j].kind == "other":
        raw = clean_inline(lines[j])
        _, is_item = strip_list_marker(raw)
        indented = raw[:1].isspace()
        if name in _LIST_FIELDS:
            ok = empty or is_item or indented
        elif name == "subject":
            ok = (empty or indented or raw.strip()[:1].islower()) and not is_item
        else:
            ok = empty and not taken
        if not ok:
            break
        taken.append(j)
        j += 1
    return taken


def _header_end(lines: list[str], kinds: list[_Line], subject_index: int | None, consumed: set[int]) -> int:
    n = len(kinds)
    if subject_index is not None:
        j = subject_index + 1
        while j < n and (j in consumed or kinds[j].kind in ("blank", "field", "date")):
            j += 1
        return j
    # without a subject: the header ends after its last field, before the first paragraph of prose
    last = -1
    for i, kind in enumerate(kinds[:200]):
        if kind.kind == "date" or any(name not in ("attachments", "observations") for name, _ in kind.fields):
            last = i
        elif kind.kind == "other" and last >= 0 and i not in consumed and len(plain_line(lines[i])) >= 80:
            break
    j = last + 1
    while j < n and (j in consumed or kinds[j].kind == "blank"):
        j += 1
    return j


def parse_header(index: LineIndex, metadata: Mapping[str, str] | None = None) -> HeaderResult:
    lines = index.lines
    kinds = _classify(lines)
    subject_index = next((i for i, k in enumerate(kinds[:200]) if any(name == "subject" for name, _ in k.fields)), None)
    consumed: set[int] = set()
    values: dict[str, tuple[str, list[str], int, int]] = {}  # field -> (text, items, first, last line)
    duplicates: dict[str, int] = {}
    nil: set[str] = set()

    def record(name: FieldName, value: str, first: int, extra: list[int]) -> None:
        consumed.update(extra)
        extra_values = [item for item in (plain_line(lines[k]) for k in extra) if not is_nil(item)]
        if is_nil(value):
            value = ""
            nil.add(name)
        if name in values:
            if values[name][0] != value:
                duplicates.setdefault(name, first)
            return
        last = extra[-1] if extra else first
        if name in _LIST_FIELDS:
            values[name] = (value, [value, *extra_values] if value else extra_values, first, last)
        else:
            values[name] = (squash(" ".join([value, *extra_values])), [], first, last)

    preliminary_end = _header_end(lines, kinds, subject_index, consumed)
    for i in range(min(preliminary_end, len(kinds))):
        kind = kinds[i]
        for position, (name, value) in enumerate(kind.fields):
            last_on_line = position == len(kind.fields) - 1
            extra = _continuation(lines, kinds, i, name, not value) if last_on_line else []
            if name != "attachments":
                record(name, value, i, extra)
    header_end = _header_end(lines, kinds, subject_index, consumed)
    observations_line = next(
        (i for i in range(header_end, len(kinds)) if any(n == "observations" for n, _ in kinds[i].fields)), None
    )

    body_end = len(lines)
    for i, kind in enumerate(kinds):
        for name, value in kind.fields:
            if name != "attachments" or "attachments" in values:
                continue
            extra = _continuation(lines, kinds, i, name, not value)
            after = sum(1 for k in range(max([i, *extra]) + 1, len(lines)) if kinds[k].kind != "blank")
            # "Annexe : ..." in the middle of the body is a mention, not the PJ line of the letter
            if i < header_end or after <= _MAX_LINES_AFTER_PJ:
                record(name, value, i, extra)
                body_end = i if i >= header_end else body_end

    dispatch = Dispatch()
    problems: list[Problem] = []
    _fill_fields(dispatch, values, index, problems, nil)
    _fill_date(dispatch, kinds, header_end, values, index, problems)
    # judged before e-mail headers fill gaps: a bare "Subject:" does not make a letter
    found_any = any(
        getattr(dispatch, name) not in (None, []) for name in ("date", "reference", "subject", "attribution")
    )
    _apply_metadata(dispatch, metadata or {}, problems)
    for duplicate, line in duplicates.items():
        problems.append(Problem.make(duplicate, "duplicate", index.span(line)))
    for expected in _EXPECTED_FIELDS:
        if getattr(dispatch, expected) in (None, []) and not any(p.field == expected for p in problems):
            problems.append(Problem.make(expected, "missing"))
    return HeaderResult(
        dispatch=dispatch,
        problems=problems,
        found_any=found_any,
        body_start=header_end,
        body_end=max(body_end, header_end),
        observations_line=observations_line,
    )


def _fill_fields(
    dispatch: Dispatch,
    values: dict[str, tuple[str, list[str], int, int]],
    index: LineIndex,
    problems: list[Problem],
    nil: set[str],
) -> None:
    for name, (value, items, first, last) in values.items():
        span = index.span(first, last)
        if name in ("date", "place", "observations"):
            continue
        if not value and not items:
            if name not in nil:
                problems.append(Problem.make(name, "unreadable", span, value=""))
            continue
        if name == "transmission":
            dispatch.transmission = normalise_transmission(value)
            if dispatch.transmission is None:
                problems.append(Problem.make(name, "unreadable", span, value=value))
        elif name == "classification":
            dispatch.classification = normalise_classification(value)
            if dispatch.classification is None:
                problems.append(Problem.make(name, "unreadable", span, value=value))
        elif name in ("attribution", "information"):
            setattr(dispatch, name, [unit for item in items for unit in split_units(item)])
        elif name == "cites":
            dispatch.cites = [c.strip() for item in items for c in item.split(";") if c.strip()]
        elif name == "attachments":
            dispatch.attachments = _attachments(items)
        elif name == "reference":
            dispatch.reference = value
            if re.search(r"^[/-]|[/-]$|//|\.\.\.|x{3,}", value, re.I):
                problems.append(Problem.make(name, "incomplete", span, value=value))
        elif name == "subject":
            dispatch.subject = value
        dispatch.sources[name] = span


def _attachments(items: list[str]) -> list[str]:
    if len(items) == 1 and re.fullmatch(r"\d+(?:\s*\(.*\))?", items[0]):
        return []  # "PJ : 2" gives a count, not the documents
    if len(items) == 1:
        return split_items(items[0])
    return [item for raw in items for item in split_items(raw)]


def _fill_date(
    dispatch: Dispatch,
    kinds: list[_Line],
    header_end: int,
    values: dict[str, tuple[str, list[str], int, int]],
    index: LineIndex,
    problems: list[Problem],
) -> None:
    candidates = [i for i in range(min(header_end, len(kinds))) if kinds[i].date is not None]
    # "Fait à Dakar, le ..." above the signature, when the header has no date line
    tail_start = max(header_end, len(kinds) - 25)
    candidates += [i for i in range(tail_start, len(kinds)) if kinds[i].date is not None]
    if candidates:
        line = candidates[0]
        found = kinds[line].date
        assert found is not None
        span = index.span(line)
        dispatch.date = found.date
        dispatch.sources["date"] = span
        if found.place:
            dispatch.place = found.place
            dispatch.sources["place"] = span
        if found.date is None:
            problems.append(Problem.make("date", "unreadable", span, value=found.date_text))
    if dispatch.date is None and "date" in values:
        value, _, first, last = values["date"]
        dispatch.date = parse_date(value)
        if dispatch.date is None:
            problems.append(Problem.make("date", "unreadable", index.span(first, last), value=value))
        else:
            dispatch.sources["date"] = index.span(first, last)
    if dispatch.place is None and "place" in values and values["place"][0]:
        dispatch.place = values["place"][0]
        dispatch.sources["place"] = index.span(values["place"][2])


def _apply_metadata(dispatch: Dispatch, metadata: Mapping[str, str], problems: list[Problem]) -> None:
    """E-mail headers fill gaps only: the letter's own header wins."""
    if dispatch.subject is None and metadata.get("subject"):
        dispatch.subject = squash(metadata["subject"])
        problems.append(Problem.make("subject", "from_email"))
    if dispatch.date is None and not any(p.field == "date" for p in problems) and metadata.get("date"):
        dispatch.date = parse_date(metadata["date"])
        if dispatch.date is not None:
            problems.append(Problem.make("date", "from_email"))
