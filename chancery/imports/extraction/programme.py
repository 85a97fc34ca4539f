"""Action plans: is the letter one, for which year, its *volets*, objectives and indicators."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .header import parse_labelled_line
from .quantities import YEAR_RE, Quantity, find_counts, find_quantities, find_years
from .records import Axis, AxisKey, Dispatch, Indicator, Objective, Problem, Programme, Role, SourceSpan
from .text import JoinedLines, LineIndex, clean_inline, fold, plain_line, split_sentences, strip_list_marker, trim_block

# subjects are folded (lower case, no accents, straight apostrophes) before matching
_PLAN_RE = re.compile(
    r"\b(?:planification des actions|programmes? (?:d'|des |de )actions?|plans? d'actions?|contrat[- ]programme"
    r"|programmes? de travail|plans? de travail|action plans?|action programmes?|plans? of action"
    r"|programmes? of actions?|annual (?:work )?plan|work ?plans?|work programmes?|programmes? of work"
    r"|plan(?:es)? de accion(?:es)?|programas? de acciones?|programas? de trabajo|planes? de trabajo)\b"
    r"|(?:برنامج|خطة|مخطط) (?:ال)?عمل|برنامج (?:ال)?انشطة"
)
# "Actions du Consulat général pour l'année 2025", "الأنشطة المبرمجة … لسنة 2025": the actions of a year are
# its plan, though the subject does not say "plan" (read with less certainty)
_ACTIONS_OF_YEAR_RE = re.compile(
    r"\b(?:actions|acciones|activities|activites|actividades)\b[^.;]{0,80}?"
    r"\b(?:pour|for|para|au titre de|en)\s+(?:l'annee|the year|el ano|l'exercice|year)?\s*(?:19|20)\d{2}\b"
    r"|(?:ال)?انشطة المبرمجة"
)
# a report on a past plan mentions the plan but does not announce one
_NOT_A_PLAN_RE = re.compile(
    r"\b(?:synthese|bilan|rapport d'execution|execution du|compte rendu|implementation report|report on"
    r"|informe de ejecucion|balance de)\b"
)
_YEAR_RANGE_RE = re.compile(r"\b((?:19|20)\d{2})\s*(?:-|/|a|au|to|al)\s*((?:19|20)\d{2})\b")
_YEAR_CUE_RE = re.compile(
    r"(?:pour|for|au titre de|annee|year|para|ano|exercice|de|en|in|لسنة|سنة|لعام|عام|برسم)\s*(?:l'annee\s*)?$"
)

_AXIS_PATTERNS: tuple[tuple[AxisKey, re.Pattern[str]], ...] = (
    ("political", re.compile(r"\bpoliti|سياسي")),
    ("economic", re.compile(r"\b(?:econom|commerc|comerc|trade\b)|اقتصادي|تجاري")),
    ("cultural", re.compile(r"\bcultur|ثقافي")),
    (
        "communication",
        re.compile(
            r"\b(?:communic|comunicac|press|prensa|media|diplomatie publique|public diplomacy)|اعلامي|الاعلام|التواصل"
        ),
    ),
    ("consular", re.compile(r"\bconsul(?:aire|ar|ares|aires)?\b|قنصلي")),
    ("security", re.compile(r"\b(?:securit|segurid|defen[cs]e|defensa)|امني|الامن|دفاع")),
    ("other", re.compile(r"\b(?:autres?|others?|otros?|divers|miscellaneous|varios)\b|اخرى|متفرقات")),
)
_AXIS_PREFIX_RE = re.compile(
    r"^(?:volet|axe|axis|eje|domaine|domain|area|pillar|pilier|secteur|sector|ambito|المحور|محور|المجال|مجال"
    r"|الجانب)(?![^\W\d_])\.?\s*(?:n[o°]?\s*)?(?:\d+|[ivx]+\b)?\s*[:.\-]?\s*(?P<rest>.*)$"
)
# numbering before a volet heading (folded): "1.", "1er", "2ᵉ —", "1.º –", "III –", "Premier", "Primer", "أولا:"
_NUMBERING_RE = re.compile(
    r"^(?:\d{1,2}\s*\.?\s*(?:ere|er|re|eme|e|nd|st|rd|th|o|a|°)?\.?|[ivxlc]{1,5}"
    r"|premier|premiere|deuxieme|second|seconde|troisieme|quatrieme|cinquieme|sixieme|septieme"
    r"|first|third|fourth|fifth|sixth|seventh|primer|primero|primera|segundo|segunda|tercer|tercero|tercera"
    r"|cuarto|cuarta|quinto|quinta|sexto|sexta|اولا|ثانيا|ثالثا|رابعا|خامسا|سادسا|سابعا)"
    r"(?:\s*[-:.)]\s*|\s+)(?=\S)"
)
_AXIS_SUFFIX_RE = re.compile(r"^(?P<rest>.+?)\s+(?:axis|pillar|track|area|volet)$")
_HEADING_FILLER = frozenset(
    [
        *("affaires", "affairs", "cooperation", "diplomatie", "diplomacy", "diplomacia", "relations"),
        *("relaciones", "asuntos", "and", "et", "y", "&", "de", "la", "le", "les", "des", "du", "d'", "del"),
        *("el", "los", "las", "the", "public", "publique", "publica", "presse", "press", "bilaterale"),
        *("bilateral", "questions", "issues", "matters", "domaine", "area", "volet", "l'", "relations"),
        *("section", "seccion", "affairs", "work", "travail", "trabajo"),
    ]
)
_CLOSING_RE = re.compile(
    r"^(?:(?:tres )?haute consideration|(?:with )?(?:my )?(?:the )?highest consideration|(?:muy )?alta consideracion"
    r"|veuillez agreer|je vous prie d'agreer|please accept|atentamente|cordialement|respectueusement"
    r"|yours (?:sincerely|faithfully)|le chef de (?:la )?mission|l'ambassadeur|l'ambassadrice|the ambassador"
    r"|el embajador|la embajadora|وتفضلوا|تفضلوا|السفير|القنصل العام)(?![^\W\d_])"
)
_LONG_CLOSINGS = ("veuillez", "je vous prie", "please accept")
_OBJECTIVE_RE = re.compile(
    r"\b(?:objectifs?|objectives?|aims?|goals?|objetivos?)\b(?:\s+[\w']+){0,4}?\s*"
    r"(?::|\b(?:sera|seront|est|sont|serait|consiste|vise|is|are|will|was|es|son|consiste|seran)\b)"
)
# words that announce a figure the plan aims at (when no plan year tells baseline from target)
_TARGET_CUE_RE = re.compile(
    r"\b(?:porter a|atteindre|objectif|cible|viser|visons|vise|target|aim|goal|reach|raise|increase to|expect"
    r"|objetivo|meta|alcanzar|llegar a|llevar a|prevision|preve)|الهدف|بلوغ|رفع|نطمح|نعتزم|تعتزم"
)


@dataclass(frozen=True)
class BodyLayout:
    narrative_end: int  # first line after the volets (observations, closing formula or end of body)
    observations: tuple[int, int] | None  # line range [first, last) of the observations
    analysed_end: int  # objectives and indicators are read up to here


def plan_years(subject: str | None) -> tuple[int | None, int | None] | None:
    """None if the subject does not announce a plan, else (year, end year) as written in it."""
    if not subject:
        return None
    folded = fold(subject)
    if not (_PLAN_RE.search(folded) or _ACTIONS_OF_YEAR_RE.search(folded)) or _NOT_A_PLAN_RE.search(folded):
        return None
    ranged = _YEAR_RANGE_RE.search(folded)
    if ranged:
        return int(ranged.group(1)), int(ranged.group(2))
    years = list(YEAR_RE.finditer(folded))
    if not years:
        return None, None
    cued = [m for m in years if _YEAR_CUE_RE.search(folded[max(0, m.start() - 30) : m.start()])]
    return int((cued or years)[0].group(0)), None


def axis_key(text: str) -> AxisKey | None:
    """The canonical axis named in `text` (folded), the first one written if several."""
    hits = [(match.start(), key) for key, pattern in _AXIS_PATTERNS if (match := pattern.search(text))]
    return min(hits)[1] if hits else None


@dataclass(frozen=True)
class AxisHeading:
    key: AxisKey
    heading: str  # as written, without markup or numbering
    rest_start: int | None  # "Political: text…": where the narrative starts on the heading line (cleaned text)
    confidence: float


def axis_heading(line: str, after_blank: bool) -> tuple[AxisKey, str] | None:
    """'- ***Volet Politique***', 'Eje económico', 'Economic' alone -> (key, heading as written)."""
    found = find_axis_heading(line, after_blank)
    return (found.key, found.heading) if found and found.rest_start is None else None


def find_axis_heading(line: str, after_blank: bool) -> AxisHeading | None:
    """A volet heading alone on its line (numbered, bold, 'Volet x', 'Eje x', upper case…) or opening a
    paragraph ('Political: prepare…', '2. ECONOMIC: …')."""
    if len(line) > 2000:
        return None
    cleaned = clean_inline(line).strip()
    whole = _heading(cleaned, after_blank) if len(cleaned) <= 300 else None
    if whole is not None:
        return AxisHeading(whole[0], whole[1], None, whole[2])
    if not after_blank:
        return None
    # "x: paragraph": a heading before a colon (or before a full stop when it is written in capitals)
    paragraph, _ = strip_list_marker(cleaned)
    offset = len(cleaned) - len(paragraph)
    split = re.match(r"^(?P<head>[^:\uff1a.]{2,60}?)\s*[:\uff1a]\s+(?=\S)", paragraph) or re.match(
        r"^(?P<head>[^\W\d_a-z][^:.a-z]{1,58}?)\.\s+(?=\S)", paragraph
    )
    if split is None:
        return None
    head = _heading(split.group("head"), after_blank)
    if head is None:
        return None
    return AxisHeading(head[0], head[1], offset + split.end(), min(head[2], 0.8))


def _heading(cleaned: str, after_blank: bool) -> tuple[AxisKey, str, float] | None:
    raw, is_item = strip_list_marker(cleaned)
    heading = " ".join(raw.split()).rstrip(" :\uff1a")
    numbering = _NUMBERING_RE.match(fold(heading)) if heading else None
    if numbering and len(heading) > numbering.end():
        heading, is_item = heading[numbering.end() :].lstrip(), True
    folded = fold(heading)
    words = folded.split()
    if not words or len(heading) > 60 or len(words) > 6 or heading[-1] in ".;,!?" or not heading[0].isalpha():
        return None
    prefixed = _AXIS_PREFIX_RE.match(folded) or _AXIS_SUFFIX_RE.match(folded)
    if prefixed:
        rest = prefixed.group("rest").strip()
        return ((axis_key(rest) or "other"), heading, 0.95) if rest else None
    key = axis_key(folded)
    if key is None or len(words) > 4 or not (after_blank or is_item):
        return None
    meaningful = [word for word in words if word not in _HEADING_FILLER]
    # "Economic", "Security and defence", "Economic and trade": every word names the same volet
    if len(meaningful) > 3 or any(axis_key(word) != key for word in meaningful):
        return None
    return key, heading, 0.85


def layout_body(lines: list[str], start: int, end: int, observations_line: int | None) -> BodyLayout:
    closing = next((i for i in range(start, end) if _is_closing(lines[i])), None)
    analysed_end = closing if closing is not None else end
    if observations_line is not None and start <= observations_line < analysed_end:
        return BodyLayout(observations_line, (observations_line, analysed_end), analysed_end)
    return BodyLayout(analysed_end, None, analysed_end)


def _is_closing(line: str) -> bool:
    if len(line) > 300:
        return False
    folded = fold(plain_line(line))
    if not _CLOSING_RE.match(folded):
        return False
    return len(folded.split()) <= 8 or folded.startswith(_LONG_CLOSINGS)


def observations_text(lines: list[str], layout: BodyLayout) -> str | None:
    if layout.observations is None:
        return None
    first, last = layout.observations
    labelled = parse_labelled_line(lines[first])
    opening = [labelled[0][1]] if labelled and labelled[0][1] else []
    text = trim_block([*opening, *(clean_inline(line) for line in lines[first + 1 : last])])
    return text or None


def parse_programme(
    index: LineIndex,
    dispatch: Dispatch,
    layout: BodyLayout,
    body_start: int,
    language: str,
) -> tuple[Programme | None, list[Problem]]:
    years = plan_years(dispatch.subject)
    if years is None:
        return None, []
    year, end_year = years
    programme = Programme(year=year, end_year=end_year)
    problems: list[Problem] = []
    subject_span = dispatch.sources.get("subject")
    if subject_span is not None:
        programme.sources["year"] = subject_span
    if year is None:
        problems.append(Problem.make("programme.year", "missing", subject_span))

    programme.confidence["programme"] = 0.95 if _PLAN_RE.search(fold(dispatch.subject or "")) else 0.75
    if year is not None:
        programme.confidence["year"] = programme.confidence["programme"]

    programme.axes, headings = _axes(index, body_start, layout.narrative_end)
    if not programme.axes:
        problems.append(Problem.make("programme.axes", "missing"))
    else:
        programme.confidence["axes"] = min(heading.confidence for heading in headings.values())
    for paragraph in _paragraphs(index.lines, body_start, layout.analysed_end, headings, layout):
        axis = _axis_at(programme.axes, paragraph.line_numbers[0])
        text = paragraph.text
        for start, end in split_sentences(text):
            sentence = text[start:end]
            span = index.span(paragraph.line_at(start), paragraph.line_at(max(start, end - 1)))
            if _OBJECTIVE_RE.search(fold(sentence)):
                programme.objectives.append(Objective(sentence, axis, span))
            programme.indicators.extend(_indicators(sentence, year, axis, span, language))
    programme.indicators = _distinct(programme.indicators)
    if programme.indicators:
        programme.confidence["indicators"] = min(indicator.confidence for indicator in programme.indicators)
    return programme, problems


def _axes(index: LineIndex, start: int, end: int) -> tuple[list[Axis], dict[int, AxisHeading]]:
    """The volets in document order, and the heading found on each heading line."""
    lines = index.lines
    found: dict[int, AxisHeading] = {}
    for i in range(start, end):
        after_blank = i == start or not lines[i - 1].strip()
        detected = find_axis_heading(lines[i], after_blank) if lines[i].strip() else None
        if detected:
            found[i] = detected
    axes: list[Axis] = []
    starts = sorted(found)
    for number, line in enumerate(starts):
        heading = found[line]
        stop = starts[number + 1] if number + 1 < len(starts) else end
        last = max([line, *(k for k in range(line + 1, stop) if lines[k].strip())])
        opening = [clean_inline(lines[line]).strip()[heading.rest_start :]] if heading.rest_start is not None else []
        text = trim_block([*opening, *(clean_inline(raw) for raw in lines[line + 1 : stop])])
        axes.append(Axis(heading.key, heading.heading, text, index.span(line, last)))
    return axes, found


def _axis_at(axes: list[Axis], line: int) -> AxisKey | None:
    for axis in axes:
        if axis.span.first_line - 1 <= line <= axis.span.last_line - 1:
            return axis.key
    return None


def _paragraphs(
    lines: list[str], start: int, end: int, headings: dict[int, AxisHeading], layout: BodyLayout
) -> list[JoinedLines]:
    paragraphs: list[JoinedLines] = []
    current: JoinedLines | None = None
    for i in range(start, end):
        heading = headings.get(i)
        if (heading is not None and heading.rest_start is None) or not lines[i].strip():
            current = None
            continue
        text, is_item = strip_list_marker(clean_inline(lines[i]))
        if heading is not None and heading.rest_start is not None:  # "Political: text…" opens a paragraph
            text, is_item = clean_inline(lines[i]).strip()[heading.rest_start :], True
        if layout.observations and i == layout.observations[0]:
            labelled = parse_labelled_line(lines[i])
            text, is_item = (labelled[0][1] if labelled else text), True
        if current is None or is_item:
            current = JoinedLines()
            paragraphs.append(current)
        current.add(i, text)
    return [paragraph for paragraph in paragraphs if paragraph.text]


def _indicators(
    sentence: str, plan_year: int | None, axis: AxisKey | None, span: SourceSpan, language: str
) -> list[Indicator]:
    found: list[Indicator] = []
    for clause in re.split(r"[;\u061b]", sentence):
        quantities = find_quantities(clause, language)
        quantities = sorted([*quantities, *find_counts(clause, language, quantities)], key=lambda q: q.start)
        if not quantities:
            continue
        years = find_years(clause, quantities)
        for number, quantity in enumerate(quantities):
            placed = _year_for(quantities, number, years)
            if placed is None:
                continue
            year, after = placed
            if quantity.count and not after:
                continue  # "… in 2025, with 12 workshops": a count is dated only by a year written after it
            role, by_year = _role(clause[: quantity.start], year, plan_year)
            confidence = 0.75 if quantity.count else 0.9
            if not after:
                confidence -= 0.05  # the year written before the figure
            if not by_year:
                confidence = min(confidence, 0.6)  # baseline or target told by the words alone
            found.append(
                Indicator(quantity.value, quantity.unit, year, role, axis, clause.strip(), span, round(confidence, 2))
            )
    return found


def _year_for(quantities: list[Quantity], number: int, years: list[tuple[int, int]]) -> tuple[int, bool] | None:
    """The year written after the figure (before the next figure), else the one just before it; and whether
    it was after."""
    quantity = quantities[number]
    next_start = quantities[number + 1].start if number + 1 < len(quantities) else None
    previous_end = quantities[number - 1].end if number else 0
    after = [year for offset, year in years if offset >= quantity.end and (next_start is None or offset < next_start)]
    if after:
        return after[0], True
    before = [year for offset, year in years if previous_end <= offset < quantity.start]
    return (before[-1], False) if before else None


def _role(before: str, year: int, plan_year: int | None) -> tuple[Role, bool]:
    """Baseline or target: by the year against the plan's year, else by the words before the figure; and
    whether the year told."""
    if plan_year is not None:
        return ("baseline" if year < plan_year else "target"), True
    return ("target" if _TARGET_CUE_RE.search(fold(before)) else "baseline"), False


def _distinct(indicators: list[Indicator]) -> list[Indicator]:
    seen: set[tuple[object, ...]] = set()
    out: list[Indicator] = []
    for indicator in indicators:
        key = (indicator.value, indicator.unit, indicator.year, indicator.role)
        if key not in seen:
            seen.add(key)
            out.append(indicator)
    return out
