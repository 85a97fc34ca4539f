"""Dates written the way letters write them, in French, English, Spanish and Arabic."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from .text import fold

# folded (lower-case, accent-free) month names and abbreviations
MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    (
        "janvier janv january jan enero ene",
        "fevrier fevr fev february feb febrero",
        "mars march mar marzo",
        "avril avr april apr abril abr",
        "mai may mayo",
        "juin june jun junio",
        "juillet juil july jul julio",
        "aout august aug agosto ago",
        "septembre sept september sep septiembre setiembre",
        "octobre october oct octubre",
        "novembre november nov noviembre",
        "decembre december dec diciembre dic",
    ),
    start=1,
):
    for _name in _names.split():
        MONTHS[_name] = _number
# Arabic month names (folded: no hamza), Maghreb, Egyptian and Levantine usage
for _number, _names in enumerate(
    (
        "يناير|كانون الثاني",
        "فبراير|شباط",
        "مارس|اذار",
        "ابريل|نيسان",
        "ماي|مايو|ايار",
        "يونيو|يونيه|حزيران",
        "يوليوز|يوليو|يوليه|تموز",
        "غشت|اغسطس|اب",
        "شتنبر|سبتمبر|ايلول",
        "اكتوبر|تشرين الاول",
        "نونبر|نوفمبر|تشرين الثاني",
        "دجنبر|ديسمبر|كانون الاول",
    ),
    start=1,
):
    for _name in _names.split("|"):
        MONTHS[_name] = _number

_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_DATE_RE = re.compile(
    rf"(?<!\d)(?P<d1>\d{{1,2}})\s*(?:er|re|st|nd|rd|th|o|°)?\.?\s+(?:de\s+)?(?P<m1>{_MONTH})(?![^\W\d_])\.?,?"
    rf"\s+(?:de\s+|del\s+)?(?P<y1>\d{{4}})(?!\d)"
    rf"|(?<![^\W\d_])(?P<m2>{_MONTH})(?![^\W\d_])\.?\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y2>\d{{4}})(?!\d)"
    r"|(?<!\d)(?P<d3>\d{1,2})[./](?P<m3>\d{1,2})[./](?P<y3>\d{4})(?!\d)"
    r"|(?<!\d)(?P<y4>\d{4})-(?P<m4>\d{2})-(?P<d4>\d{2})(?!\d)"
)
_WEEKDAYS = (
    "lundi mardi mercredi jeudi vendredi samedi dimanche "
    "monday tuesday wednesday thursday friday saturday sunday "
    "lunes martes miercoles jueves viernes sabado domingo"
)
# "في" (on), "بتاريخ" (dated), "يوم" (the day of) before an Arabic date
_BEFORE_DATE_RE = re.compile(
    rf"(?:[\s,]|\b(?:le|the|el|a|on|ce|this|dated|en fecha|في|بتاريخ|يوم|{'|'.join(_WEEKDAYS.split())})\b)+$"
)
_SIGNED_AT_RE = re.compile(r"^(?:fait|done|signed|hecho|dado)\s+(?:a|at|in|en)\s+")
_PLACE_CONNECTORS = frozenset(
    ["de", "del", "la", "le", "les", "du", "des", "do", "da", "dos", "el", "of", "y", "sur", "en", "d'", "al"]
)


@dataclass(frozen=True)
class DateLine:
    place: str | None
    date: dt.date | None  # None when the written date is impossible (31 février)
    date_text: str


def _match_date(match: re.Match[str]) -> dt.date | None:
    groups = match.groupdict()
    for suffix in "1234":
        if groups.get(f"y{suffix}"):
            month_text = groups[f"m{suffix}"]
            month = int(month_text) if month_text.isdigit() else MONTHS[month_text]
            try:
                return dt.date(int(groups[f"y{suffix}"]), month, int(groups[f"d{suffix}"]))
            except ValueError:
                return None
    return None


def parse_date(text: str) -> dt.date | None:
    """The first date written anywhere in `text`."""
    match = _DATE_RE.search(fold(text))
    return _match_date(match) if match else None


def valid_place(place: str) -> bool:
    words = place.replace("-", " ").split()
    if not words or len(place) > 60 or len(words) > 6 or any(ch.isdigit() or ch in ":;/\uff1a" for ch in place):
        return False
    if not _capitalised(place):
        return False
    return all(_capitalised(word) or fold(word) in _PLACE_CONNECTORS for word in words)


def _capitalised(word: str) -> bool:
    """Starts with a capital, or is written in a script without capitals (Arabic)."""
    first = word[0]
    return first.isupper() or (first.isalpha() and first.lower() == first.upper())


def display_place(place: str) -> str:
    """A place as a reader writes it: 'CIUDAD DE MÉXICO' (telegram capitals) -> 'Ciudad de México'."""
    if not place.isupper():
        return place
    words = [word.lower() if fold(word) in _PLACE_CONNECTORS else word.capitalize() for word in place.split(" ")]
    return " ".join(words)


def parse_date_line(line: str) -> DateLine | None:
    """'Dakar, le 14 septembre 2021' -> place and date, if the whole (plain) line is place + date."""
    folded = fold(line)
    match = None
    for candidate in _DATE_RE.finditer(folded):
        if not folded[candidate.end() :].strip(" .;"):
            match = candidate
    if match is None:
        return None
    before = _BEFORE_DATE_RE.search(folded[: match.start()])
    cut = before.start() if before else match.start()
    signed = _SIGNED_AT_RE.match(folded[:cut])
    place = line[signed.end() if signed else 0 : cut].strip(" ,;-\u060c")
    if place and not valid_place(place):
        return None
    return DateLine(display_place(place) if place else None, _match_date(match), line[match.start() : match.end()])
