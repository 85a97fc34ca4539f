"""The letter header: place and date, reference, routing, markings, cited letters, subject, PJ."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from .dates import DateLine, display_place, parse_date, parse_date_line, valid_place
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
    "sender",  # "FROM: EMBASSY NAIROBI": gives the place
    "number",  # "N° 0234/AMB/2024" alone at the top: the reference when no field names it
    "recipient",  # "TO: MINISTRY OF FOREIGN AFFAIRS": read so that it is not taken for something else
]

# How sure a reading is, by the way it was found (the preview asks the clerk to check below LOW_CONFIDENCE).
CONFIDENCE: dict[str, float] = {
    "label": 0.95,  # "Référence : …", a known label and a colon
    "table": 0.9,  # a header laid out as a table
    "loose_label": 0.8,  # "Pour attribution - …", "Transmission. …": a known label, a dash or a full stop
    "marking": 0.85,  # "CONFIDENTIEL" alone on its line
    "number": 0.75,  # "N° 0234/AMB" alone: most likely our reference, but not named so
    "date_line": 0.95,  # "Dakar, le 14 septembre 2021"
    "signed_at": 0.85,  # "Fait à Cotonou, le …" above the signature
    "sender": 0.8,  # "AMBASSADE À NIAMEY", "FROM: EMBASSY NAIROBI"
    "signature": 0.65,  # "Embassy in Accra" under the signature
    "email": 0.6,  # taken from the e-mail's own headers
    "late_attachments": 0.85,  # the PJ line at the foot of the letter
    "problem": 0.4,  # read, but something about it is wrong or unclear
}


def _label_key(label: str) -> str:
    return squash(fold(label).replace(".", " ").replace(" /", "/").replace("/ ", "/")).replace("p j", "pj")


# The header vocabulary, per field, in French, English, Spanish and Arabic (any case, accents, dots).
_VOCABULARY: tuple[tuple[FieldName, str], ...] = (
    (
        "reference",
        "référence|notre référence|notre réf|nos réf|n/réf|n/référence|our reference|our ref|reference|ref no|"
        "reference number|referencia|nuestra referencia|nuestra ref|n/referencia|المرجع|مرجعنا|الرقم المرجعي",
    ),
    (
        "attribution",
        "pour attribution|attribution|pour action|for action|action|para acción|para atribución|acción|"
        "للإجراء|للتنفيذ|للاختصاص",
    ),
    (
        "information",
        "pour information|information|info|for information|copie|copie pour information|copy|cc|"
        "para información|información|copia|للعلم|للإطلاع|للاطلاع|نسخة|نسخة للعلم",
    ),
    (
        "transmission",
        "transmission|transmisión|mode de transmission|mode of transmission|طريقة الإرسال|الإرسال|وسيلة الإرسال",
    ),
    (
        "classification",
        "diffusion|distribution|difusión|classification|clasificación|classement|security classification|"
        "clasificación de seguridad|niveau de protection|protection|marking|markings|marquage|"
        "درجة السرية|السرية|التصنيف|درجة التصنيف",
    ),
    (
        "cites",
        "réf|refs|v/réf|vréf|v/référence|votre réf|votre référence|vos réf|your ref|your reference|su ref|"
        "su referencia|s/ref|s/referencia|v/referencia|références|referencias|مرجعكم|إشارة|الإشارة|المراجع",
    ),
    ("subject", "objet|subject|subj|asunto|sujet|concerne|re|الموضوع"),
    (
        "attachments",
        "pj|pièces jointes|pièce jointe|pj jointes|annexe|annexes|attachments|attachment|enclosure|"
        "enclosures|encl|anexos|anexo|adjuntos|adjunto|المرفقات|المرفق|مرفقات",
    ),
    ("date", "date|fecha|التاريخ"),
    ("place", "lieu|lugar|المكان"),
    ("observations", "observations|observation|remarques|remarks|comments|commentaires|observaciones|ملاحظات"),
    ("sender", "from|sender|de|expéditeur|émetteur|remitente|المرسل|من"),
    ("recipient", "to|à|a|destinataire|destinataires|para|destinatario|destinatarios|إلى|الى|المرسل إليه"),
)
# folded label (dots dropped, spaces collapsed) -> field
LABELS: dict[str, FieldName] = {
    _label_key(label): name for name, labels in _VOCABULARY for label in labels.split("|")
}

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
_SIGNATURE_LINES = 8  # where a sender line under the signature is looked for
_LABEL_RE = re.compile(r"^\s*(?P<label>[^:\uff1a]{1,40}?)\s*[:\uff1a]\s*(?P<value>.*)$")
# "Pour attribution - DAM/2", "Transmission. En clair": a known label, then a dash or a full stop
_LOOSE_LABEL_RE = re.compile(r"^\s*(?P<label>[^\-\u2013\u2014.:]{1,40}?)\s*(?:[-\u2013\u2014]|\.)\s+(?P<value>\S.*)$")
# a second "Label :" on the same line, after a clear separator (tab, wide gap, " - ", "|", ";", ", ")
_INLINE_LABEL_RE = re.compile(
    r"(?:\t|\s{3,}|\s[-|]\s|;\s*|,\s+)(?P<label>"
    + "|".join(re.escape(label).replace(r"\ ", r"\s+") for label in sorted(LABELS, key=len, reverse=True))
    + r")\.?\s*[:\uff1a]"
)

# a header line with a label of its own ("Copie à : …", "Ref. int. : …"), even one we do not read
_OTHER_LABEL_RE = re.compile(r"^\s*[^\W\d_][^\W\d_ .'/]*(?:[ .'/][^\W\d_]+){0,3}\.?\s*[:\uff1a]\s")
_NIL_RE = re.compile(
    r"^(?:neant|none|nil|n/?a|aucune?s?|ninguno|ninguna|nada|sans objet|-+|/|لا شيء|لا يوجد)\.?$"
)
# markings alone on their line, as telegrams print them (folded)
_CLASSIFICATION_LINE_RE = re.compile(
    r"^(?:diffusion restreinte|confidentiel(?: defense)?|(?:tres |top )?secret(?: defense)?|non protege|restricted"
    r"|confidential|unclassified|restringid[ao]|confidencial|secreto|reservado|difusion limitada|sin clasificar"
    r"|سري(?: للغاية| جدا)?|محدود(?: التداول)?|مقيد|مكتوم|غير مصنف)$"
)
_TRANSMISSION_LINE_RE = re.compile(
    r"^(?:transmission |transmision )?(?:cryptee|chiffree|encrypted|cifrad[ao]|encriptad[ao]|مشفرة?|مرمزة?)$"
)
# value -> normalised; the first needle found wins, so negations come before what they negate
_TRANSMISSION: tuple[tuple[str, Transmission], ...] = (
    ("غير مشفر", "clear"),
    ("غير مرمز", "clear"),
    ("مشفر", "encrypted"),
    ("مرمز", "encrypted"),
    ("crypt", "encrypted"),
    ("chiffr", "encrypted"),
    ("cifrad", "encrypted"),
    ("encript", "encrypted"),
    ("encrypted", "encrypted"),
    ("en clair", "clear"),
    ("clair", "clear"),
    ("clear", "clear"),
    ("en claro", "clear"),
    ("claro", "clear"),
    ("عادي", "clear"),
    ("واضح", "clear"),
)
_CLASSIFICATION: tuple[tuple[str, Classification], ...] = (
    ("non protege", "unclassified"),
    ("unclassified", "unclassified"),
    ("sin clasificar", "unclassified"),
    ("no clasificad", "unclassified"),
    ("normal", "unclassified"),
    ("ordinaire", "unclassified"),
    ("public", "unclassified"),
    ("غير مصنف", "unclassified"),
    ("غير سري", "unclassified"),
    ("عادي", "unclassified"),
    ("secret", "secret"),  # also "très secret", "secreto", "top secret"
    # Spain's "Reservado" sits above "Confidencial" (EU SECRET in the equivalence table of Council Decision
    # 2013/488/EU): read as secret, never below what the sender meant
    ("reservad", "secret"),
    ("سري للغاية", "secret"),
    ("سري جدا", "secret"),
    ("confiden", "confidential"),
    ("سري", "confidential"),
    ("مكتوم", "confidential"),
    ("restrein", "restricted"),
    ("restrict", "restricted"),
    ("restring", "restricted"),
    ("limitad", "restricted"),  # "Difusión limitada"
    ("محدود", "restricted"),
    ("مقيد", "restricted"),
)
# "N° 0234/AMB/2024", "No. 0456", "N.º 123/EMB", "رقم: 145/س/2024" alone on a line (folded)
_NUMBER_LINE_RE = re.compile(
    r"^(?:n\s?[o°]\.?|n\.\s?[o°]\.?|nr\.?|num\.?|numero|number|رقم|عدد)\s*[:.]?\s*(?P<value>[^\s:]*\d[^\s]*)$"
)
_SENDER_RE = re.compile(
    r"^(?:l'|la |el |the )?(?:ambassade|consulat(?: general)?|haute commission|mission permanente"
    r"|representation permanente|embassy|consulate(?: general)?|high commission|permanent mission|embajada"
    r"|consulado(?: general)?|mision permanente|السفارة|سفارة|القنصلية العامة|القنصلية|قنصلية|البعثة الدائمة)"
    r"(?![^\W\d_])(?P<rest>.*)$"
)
_SENDER_PLACE_RE = re.compile(r"^.*\s(?:a|au|aux|in|at|en|في)\s+(?P<place>[^,;]+?)\s*$")
_SENDER_OF_RE = re.compile(r"^\s*(?:of|de|du|des|d'|del|de la|de los|to)\b")


def _label_field(label: str) -> FieldName | None:
    return LABELS.get(_label_key(label))


def _labelled(line: str) -> tuple[list[tuple[FieldName, str]], float]:
    """The fields a header line names, and how sure the reading is."""
    text, _ = strip_list_marker(clean_inline(line))
    match = _LABEL_RE.match(text) if (":" in text or "\uff1a" in text) else None
    first = _label_field(match.group("label")) if match else None
    if first is None or match is None:
        row = _table_row(text)
        if row:
            return row, CONFIDENCE["table"]
        loose = _LOOSE_LABEL_RE.match(text) if len(text) <= 160 else None
        name = _label_field(loose.group("label")) if loose else None
        if loose is None or name is None:
            return [], 0.0
        return [(name, squash(loose.group("value")))], CONFIDENCE["loose_label"]
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
    return [(name, squash(val)) for name, val in found], CONFIDENCE["label"]


def parse_labelled_line(line: str) -> list[tuple[FieldName, str]]:
    """'Transmission : Cryptée - Diffusion : Restreinte' -> [(transmission, Cryptée), (classification, ...)]."""
    return _labelled(line)[0]


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
    name = _label_field(cells[0].rstrip(" :\uff1a")) if len(cells) >= 2 else None
    return [(name, squash(" ".join(cells[1:])))] if name else []


def _marking_line(line: str) -> list[tuple[FieldName, str]]:
    """A marking alone on its line, as telegrams print it: 'DIFFUSION RESTREINTE', 'CRYPTÉE', 'سري'."""
    if len(line) > 60:
        return []
    text = plain_line(line)
    folded = fold(text).strip(" .")
    if _CLASSIFICATION_LINE_RE.match(folded):
        return [("classification", text)]
    if _TRANSMISSION_LINE_RE.match(folded):
        return [("transmission", text)]
    return []


def _number_line(line: str) -> list[tuple[FieldName, str]]:
    """'N° 0234/AMB/NKC/2024' alone on its line."""
    if len(line) > 80:
        return []
    text = plain_line(line)
    match = _NUMBER_LINE_RE.match(fold(text))
    return [("number", text[match.start("value") :])] if match else []


def sender_place(text: str) -> str | None:
    """'AMBASSADE À NIAMEY', 'Embassy in Accra', 'EMBASSY NAIROBI', 'سفارة المملكة في بيروت' -> the place."""
    plain = plain_line(text)
    if len(plain) > 80:
        return None
    match = _SENDER_RE.match(fold(plain))
    if match is None:
        return None
    rest_start = match.start("rest")
    rest = fold(plain)[rest_start:]
    located = _SENDER_PLACE_RE.match(rest)
    if located:
        place = plain[rest_start + located.start("place") : rest_start + located.end("place")]
    elif rest.strip() and not _SENDER_OF_RE.match(rest):
        place = plain[rest_start:]
    else:
        return None
    place = place.strip(" ,;.-")
    return display_place(place) if place and valid_place(place) else None


def is_nil(value: str) -> bool:
    """'Néant', 'None', 'N/A', '-': the field is there but says there is nothing."""
    return bool(_NIL_RE.match(fold(value).strip()))


def split_units(value: str) -> list[str]:
    """'DG3/1 - DCP/5', 'A, B et C', 'A; B' -> units; 'Press Office' and 'DG3/1' stay whole."""
    parts = [part for part in re.split(r"\s*[;,\u061b\u060c]\s*|\s+[-\u2013\u2014]\s+", value) if part.strip()]
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
    value = value.replace("\u061b", ";").replace("\u060c", ",")  # Arabic semicolon and comma
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
    confidence: float = 0.0  # of the fields' reading


def _classify(lines: list[str]) -> list[_Line]:
    out: list[_Line] = []
    for line in lines:
        if not line.strip():
            out.append(_Line("blank", []))
            continue
        date_line, rest = _date_in_line(line)
        fields, confidence = _labelled(rest) if rest else ([], 0.0)
        if not fields and rest:
            fields, confidence = _marking_line(rest), CONFIDENCE["marking"]
        if not fields and rest:
            fields, confidence = _number_line(rest), CONFIDENCE["number"]
        if fields:
            out.append(_Line("field", fields, date_line, confidence))
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
        if name in _LIST_FIELDS and not is_item and _OTHER_LABEL_RE.match(raw):
            break  # "TO: MINISTRY …" after "REFS:" and its items: another header line, with a label we do not read
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


@dataclass
class _Found:
    """A header field as read: its text (or items), the lines it spans, and how sure the reading is."""

    value: str
    items: list[str]
    first: int
    last: int
    confidence: float


def parse_header(index: LineIndex, metadata: Mapping[str, str] | None = None) -> HeaderResult:
    lines = index.lines
    kinds = _classify(lines)
    subject_index = next((i for i, k in enumerate(kinds[:200]) if any(name == "subject" for name, _ in k.fields)), None)
    consumed: set[int] = set()
    values: dict[str, _Found] = {}
    duplicates: dict[str, int] = {}
    nil: set[str] = set()

    def record(name: FieldName, value: str, first: int, extra: list[int], confidence: float) -> None:
        consumed.update(extra)
        extra_values = [item for item in (plain_line(lines[k]) for k in extra) if not is_nil(item)]
        if is_nil(value):
            value = ""
            nil.add(name)
        if name in values:
            if values[name].value != value:
                duplicates.setdefault(name, first)
            return
        last = extra[-1] if extra else first
        if name in _LIST_FIELDS:
            values[name] = _Found(value, [value, *extra_values] if value else extra_values, first, last, confidence)
        else:
            values[name] = _Found(squash(" ".join([value, *extra_values])), [], first, last, confidence)

    preliminary_end = _header_end(lines, kinds, subject_index, consumed)
    for i in range(min(preliminary_end, len(kinds))):
        kind = kinds[i]
        for position, (name, value) in enumerate(kind.fields):
            last_on_line = position == len(kind.fields) - 1
            extra = _continuation(lines, kinds, i, name, not value) if last_on_line else []
            if name != "attachments":
                record(name, value, i, extra, kind.confidence)
    header_end = _header_end(lines, kinds, subject_index, consumed)
    # in the body, only a label with a colon opens the observations or the PJ line: "Annexe. Le tableau…" is prose
    labelled_in_body = [i for i in range(header_end, len(kinds)) if kinds[i].confidence != CONFIDENCE["loose_label"]]
    observations_line = next(
        (i for i in labelled_in_body if any(name == "observations" for name, _ in kinds[i].fields)), None
    )

    body_end = len(lines)
    for i, kind in enumerate(kinds):
        for name, value in kind.fields:
            if name != "attachments" or "attachments" in values:
                continue
            if i >= header_end and kinds[i].confidence == CONFIDENCE["loose_label"]:
                continue
            extra = _continuation(lines, kinds, i, name, not value)
            after = sum(1 for k in range(max([i, *extra]) + 1, len(lines)) if kinds[k].kind != "blank")
            # "Annexe : ..." in the middle of the body is a mention, not the PJ line of the letter
            if i < header_end or after <= _MAX_LINES_AFTER_PJ:
                confidence = kind.confidence if i < header_end else min(kind.confidence, CONFIDENCE["late_attachments"])
                record(name, value, i, extra, confidence)
                body_end = i if i >= header_end else body_end

    dispatch = Dispatch()
    problems: list[Problem] = []
    _fill_fields(dispatch, values, index, problems, nil)
    _fill_date(dispatch, kinds, header_end, values, index, problems)
    _fill_place(dispatch, kinds, header_end, values, index)
    # judged before e-mail headers fill gaps: a bare "Subject:" does not make a letter
    found_any = any(
        getattr(dispatch, name) not in (None, []) for name in ("date", "reference", "subject", "attribution")
    )
    _apply_metadata(dispatch, metadata or {}, problems)
    for duplicate, line in duplicates.items():
        problems.append(Problem.make(duplicate, "duplicate", index.span(line)))
    for problem in problems:
        if problem.field in dispatch.confidence:
            dispatch.confidence[problem.field] = min(dispatch.confidence[problem.field], CONFIDENCE["problem"])
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
    values: dict[str, _Found],
    index: LineIndex,
    problems: list[Problem],
    nil: set[str],
) -> None:
    if "reference" not in values and "number" in values:
        values["reference"] = values["number"]  # "N° …" at the top: our reference, unless a field names it
    for name, found in values.items():
        value, items = found.value, found.items
        span = index.span(found.first, found.last)
        if name in ("date", "place", "observations", "sender", "number", "recipient"):
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
            dispatch.cites = [c.strip() for item in items for c in re.split(r"[;\u061b]", item) if c.strip()]
        elif name == "attachments":
            dispatch.attachments = _attachments(items)
        elif name == "reference":
            dispatch.reference = value
            if re.search(r"^[/-]|[/-]$|//|\.\.\.|x{3,}", value, re.I):
                problems.append(Problem.make(name, "incomplete", span, value=value))
        elif name == "subject":
            dispatch.subject = value
        dispatch.sources[name] = span
        dispatch.confidence[name] = found.confidence


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
    values: dict[str, _Found],
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
        confidence = CONFIDENCE["date_line"] if line < header_end else CONFIDENCE["signed_at"]
        dispatch.date = found.date
        dispatch.sources["date"] = span
        dispatch.confidence["date"] = confidence
        if found.place:
            dispatch.place = found.place
            dispatch.sources["place"] = span
            dispatch.confidence["place"] = confidence
        if found.date is None:
            problems.append(Problem.make("date", "unreadable", span, value=found.date_text))
    if dispatch.date is None and "date" in values:
        labelled = values["date"]
        dispatch.date = parse_date(labelled.value)
        if dispatch.date is None:
            problems.append(
                Problem.make("date", "unreadable", index.span(labelled.first, labelled.last), value=labelled.value)
            )
        else:
            dispatch.sources["date"] = index.span(labelled.first, labelled.last)
            dispatch.confidence["date"] = labelled.confidence


def _fill_place(
    dispatch: Dispatch, kinds: list[_Line], header_end: int, values: dict[str, _Found], index: LineIndex
) -> None:
    """When the date line names no place: a 'Lieu' field, the sender line, a 'Fait à' line, the signature."""
    if dispatch.place is not None:
        return
    lines = index.lines
    found: tuple[str, int, float] | None = None
    if "place" in values and values["place"].value:
        found = (values["place"].value, values["place"].first, values["place"].confidence)
    if found is None and "sender" in values:
        place = sender_place(values["sender"].value)
        found = (place, values["sender"].first, CONFIDENCE["sender"]) if place else None
    header_lines = range(min(header_end, len(lines)))
    header_senders = ((sender_place(lines[i]), i) for i in header_lines if kinds[i].kind == "other")
    if found is None:
        found = next(((place, i, CONFIDENCE["sender"]) for place, i in header_senders if place), None)
    tail = range(max(header_end, len(lines) - 25), len(lines))
    if found is None:
        signed = [(i, date_line.place) for i in tail if (date_line := kinds[i].date) is not None and date_line.place]
        if signed:
            found = (signed[0][1], signed[0][0], CONFIDENCE["signed_at"])
    if found is None:
        last_lines = range(max(header_end, len(lines) - _SIGNATURE_LINES), len(lines))
        signatures = ((sender_place(lines[i]), i) for i in last_lines)
        found = next(((place, i, CONFIDENCE["signature"]) for place, i in signatures if place), None)
    if found is not None:
        dispatch.place = found[0]
        dispatch.sources["place"] = index.span(found[1])
        dispatch.confidence["place"] = found[2]


def _apply_metadata(dispatch: Dispatch, metadata: Mapping[str, str], problems: list[Problem]) -> None:
    """E-mail headers fill gaps only: the letter's own header wins."""
    if dispatch.subject is None and metadata.get("subject"):
        dispatch.subject = squash(metadata["subject"])
        dispatch.confidence["subject"] = CONFIDENCE["email"]
        problems.append(Problem.make("subject", "from_email"))
    if dispatch.date is None and not any(p.field == "date" for p in problems) and metadata.get("date"):
        dispatch.date = parse_date(metadata["date"])
        if dispatch.date is not None:
            dispatch.confidence["date"] = CONFIDENCE["email"]
            problems.append(Problem.make("date", "from_email"))
