"""Amounts of money, percentages and counts of things written in running text, normalised.

A count ("12 visites", "3,400 files", "12 زيارة") takes the noun written after the figure as its unit,
so that it can be compared from one year to the next; counts written in words ("two agreements") and
figures followed by no noun are not read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from .text import fold

_NUM = r"(?P<num>\d{1,3}(?:[ \u00a0\u202f.,']\d{3})+(?:[.,]\d+)?|\d+(?:[.,]\d+)?)"
_SCALE = (
    r"(?P<scale>mil\s+millones|milliards?|billions?|millions?|millones|mill[oó]n|mille|thousand|"
    r"mds?|mrds?|bn|mn|k|m|مليارات|مليار|ملايين|مليون|آلاف|الاف|ألف|الف)(?![a-zA-Z])\.?"
)
_CURRENCY = (
    r"(?P<cur>EUR|USD|CAD|GBP|CHF|JPY|CNY|XOF|XAF|MAD|DZD|TND|F\s?CFA|US\s?\$|CA\s?\$|\$|€|£|"
    # other ISO 4217 codes, in capitals only (several are also words: "try", "pen", "cop")
    r"(?-i:AUD|NZD|INR|BRL|ZAR|KES|NGN|EGP|SAR|AED|QAR|KWD|OMR|BHD|JOD|LBP|MXN|ARS|CLP|COP|PEN|UYU|BOB|PYG|SEK"
    r"|NOK|DKK|PLN|CZK|HUF|RUB|TRY|KRW|SGD|HKD|IDR|MYR|THB|VND|PHP|PKR|BDT|ETB|GHS|UGX|TZS|RWF|XPF)|"
    r"euros?|dollars?(?:\s+(?:US|am[ée]ricains?|canadiens?))?|d[oó]lares(?:\s+(?:estadounidenses|canadienses))?|"
    r"francs?\s+CFA|livres?\s+sterling|pounds?(?:\s+sterling)?|دولار|يورو|درهم)(?![a-zA-Z])"
)
_AMOUNT_RE = re.compile(
    rf"(?<![\w.,]){_NUM}\s*(?:{_SCALE}\s*)?(?:de\s+|d['’]\s*)?{_CURRENCY}"
    + "|(?<![a-zA-Z])"
    + _CURRENCY.replace("<cur>", "<cur2>")
    + r"\s*"
    + _NUM.replace("<num>", "<num2>")
    + rf"(?:\s*{_SCALE.replace('<scale>', '<scale2>')})?",
    re.IGNORECASE,
)
_PERCENT_RE = re.compile(
    rf"(?<![\w.,]){_NUM}\s*(?:%|pour\s*cent|percent|per\s+cent|por\s+ciento)(?![a-zA-Z])", re.IGNORECASE
)
YEAR_RE = re.compile(r"(?<![\d.,/])(?:19|20)\d{2}(?![\d])")

_SCALES = {
    "mil millones": "billion",
    "مليار": "billion",
    "مليارات": "billion",
    "مليون": "million",
    "ملايين": "million",
    "الف": "thousand",
    "الاف": "thousand",
    "milliard": "billion",
    "billion": "billion",
    "md": "billion",
    "mrd": "billion",
    "bn": "billion",
    "million": "million",
    "millones": "million",
    "millon": "million",
    "mn": "million",
    "m": "million",
    "mille": "thousand",
    "thousand": "thousand",
    "k": "thousand",
}
_CURRENCIES = (
    ("eur", "EUR"),
    ("€", "EUR"),
    ("ca$", "CAD"),
    ("canad", "CAD"),
    ("cad", "CAD"),
    ("$", "USD"),
    ("dollar", "USD"),
    ("dolar", "USD"),
    ("usd", "USD"),
    ("cfa", "FCFA"),
    ("£", "GBP"),
    ("livre", "GBP"),
    ("pound", "GBP"),
    ("gbp", "GBP"),
    ("دولار", "USD"),
    ("يورو", "EUR"),
    ("درهم", "MAD"),
)


@dataclass(frozen=True)
class Quantity:
    start: int
    end: int
    value: Decimal
    unit: str  # "million EUR", "USD", "%", "visites" (a count)
    count: bool = False


def parse_number(text: str, language: str = "fr") -> Decimal | None:
    """'42,5' -> 42.5, '1 250' -> 1250, '1,250' (English) -> 1250, '1.250' (French/Spanish) -> 1250."""
    digits = re.sub(r"[\s\u00a0\u202f']", "", text)
    if "," in digits and "." in digits:
        decimal_mark = "," if digits.rfind(",") > digits.rfind(".") else "."
        digits = digits.replace("." if decimal_mark == "," else ",", "").replace(",", ".")
    elif "," in digits:
        thousands = re.fullmatch(r"\d{1,3}(?:,\d{3})+", digits) and (language == "en" or digits.count(",") > 1)
        digits = digits.replace(",", "" if thousands else ".")
    elif "." in digits:
        thousands = re.fullmatch(r"\d{1,3}(?:\.\d{3})+", digits) and (language != "en" or digits.count(".") > 1)
        if thousands:
            digits = digits.replace(".", "")
    try:
        return Decimal(digits)
    except InvalidOperation:
        return None


def _unit(scale: str | None, currency: str) -> str:
    code = fold(re.sub(r"\s+", "", currency))
    iso = currency.upper()
    for needle, normalised in _CURRENCIES:
        if needle in code:
            iso = normalised
            break
    if not scale:
        return iso
    key = fold(re.sub(r"\s+", " ", scale)).rstrip(".")
    key = key if key in _SCALES else key.rstrip("s")
    return f"{_SCALES.get(key, key)} {iso}"


def find_quantities(text: str, language: str = "fr") -> list[Quantity]:
    """Amounts with a currency and percentages in `text`, left to right, without overlaps."""
    found: list[Quantity] = []
    for match in _AMOUNT_RE.finditer(text):
        number = match.group("num") or match.group("num2")
        value = parse_number(number, language)
        if value is not None:
            unit = _unit(match.group("scale") or match.group("scale2"), match.group("cur") or match.group("cur2"))
            found.append(Quantity(match.start(), match.end(), value, unit))
    for match in _PERCENT_RE.finditer(text):
        value = parse_number(match.group("num"), language)
        if value is not None and not any(q.start < match.end() and match.start() < q.end for q in found):
            found.append(Quantity(match.start(), match.end(), value, "%"))
    return sorted(found, key=lambda quantity: quantity.start)


def find_years(text: str, exclude: list[Quantity]) -> list[tuple[int, int]]:
    """(offset, year) of the years written in `text`, outside the given quantities."""
    return [
        (match.start(), int(match.group(0)))
        for match in YEAR_RE.finditer(text)
        if not any(q.start <= match.start() < q.end for q in exclude)
    ]


# A count: a figure, then its noun (and a second word when it is no stop word: "visitas oficiales").
_COUNT_RE = re.compile(
    rf"(?<![\w.,/\u00b0\u00ba#-]){_NUM}\s+(?P<noun>[^\W\d_][^\W\d_'’-]*)(?:\s+(?P<noun2>[^\W\d_]+)(?![\w'’]))?"
)
# words after a figure that are no things counted (folded): connectors, months, durations, scales, ordinals
_NOT_COUNTED = frozenset(
    """
    a à au aux de du des d la le les l en et ou par pour sur sous dans avec sans entre vers contre chez
    the of and or to in on at by for from with into per than as between
    el los las del y o al con sin por para entre hasta desde sobre
    في من إلى الى على عن مع خلال سنة عام سنوات أعوام شهر اشهر أشهر يوم ايام أيام و او أو برسم
    janvier fevrier mars avril mai juin juillet aout septembre octobre novembre decembre
    january february march april may june july august september october november december
    enero febrero marzo abril mayo junio julio agosto septiembre setiembre octubre noviembre diciembre
    jan feb mar apr jun jul aug sep sept oct nov dec
    ans an annees annee jours jour mois semaines semaine heures heure minutes
    years year months month days day weeks week hours hour minutes
    anos ano meses mes dias dia semanas semana horas hora
    millions million milliards milliard billion billions thousand mille millones millon mil
    er e eme nd st rd th o
    """.split()  # noqa: SIM905 (a list of words by language reads better as text)
)


def find_counts(text: str, language: str = "fr", exclude: list[Quantity] | None = None) -> list[Quantity]:
    """Counts of things in `text` ('12 visites officielles' -> 12, 'visites officielles'), outside `exclude`."""
    found: list[Quantity] = []
    for match in _COUNT_RE.finditer(text):
        if any(q.start < match.end("noun") and match.start() < q.end for q in exclude or []):
            continue
        number = match.group("num")
        if YEAR_RE.fullmatch(number) or re.search(r"\b(?:n|no|nr|art|p|pp)\.?\s*$", fold(text[: match.start()])):
            continue  # a year, or a number of something ("n° 12", "art. 3")
        noun = match.group("noun")
        if fold(noun) in _NOT_COUNTED or fold(noun).strip("'") in _NOT_COUNTED or len(noun) < 2:
            continue
        words, end = [noun], match.end("noun")
        second = match.group("noun2")
        if second and fold(second) not in _NOT_COUNTED and second[0].islower() == noun[0].islower():
            words.append(second)
            end = match.end("noun2")
        value = parse_number(number, language)
        if value is not None:
            found.append(Quantity(match.start(), end, value, " ".join(words).lower(), count=True))
    return found
