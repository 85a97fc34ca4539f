"""Text analysis shared by indexing, querying and snippets: one place decides what a "word" is.

Both engines receive tokens already analysed here (folded, stemmed, hashed when protected),
so SQLite and PostgreSQL see exactly the same terms and answer the same query the same way,
and protected words can be hashed before they ever reach the database.

- Folding: lower case, accents removed (`Réunion` → `reunion`, `août` → `aout`); Arabic is
  normalised (diacritics and tatweel dropped, alef forms → ا, ى → ي, ة → ه).
- Stemming: Snowball (PyStemmer) for French, English and Spanish; for Arabic a light
  stemmer (Larkey's "light10": common prefixes and suffixes) applied after normalisation.
- A document is stemmed in its own language; a query word, whose language is unknown, is
  stemmed in every candidate language for its script and the variants are OR-ed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import Stemmer

LATIN_LANGUAGES = ("fr", "en", "es")
LANGUAGES = (*LATIN_LANGUAGES, "ar")
_SNOWBALL = {"fr": "french", "en": "english", "es": "spanish"}

# A word: letters and digits (any script); apostrophes and hyphens split words.
WORD_RE = re.compile(r"[^\W_]+", re.UNICODE)
MAX_WORD = 40  # longer "words" (hashes, base64 in a body) are cut: they are never typed

_ARABIC_DIACRITICS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_ARABIC_CHARS = re.compile("[\u0600-\u06ff]")
_ARABIC_MAP = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ؤ": "و", "ئ": "ي"})
_AR_PREFIXES = ("وال", "بال", "كال", "فال", "لل", "ال", "و")
_AR_SUFFIXES = ("ها", "ان", "ات", "ون", "ين", "يه", "ه", "ي")

STOPWORDS: dict[str, frozenset[str]] = {
    "fr": frozenset(
        [
            "le",
            "la",
            "les",
            "l",
            "un",
            "une",
            "des",
            "du",
            "de",
            "d",
            "et",
            "ou",
            "en",
            "au",
            "aux",
            "a",
            "est",
            "sont",
            "pour",
            "par",
            "sur",
            "dans",
            "avec",
            "ce",
            "cet",
            "cette",
            "ces",
            "qui",
            "que",
            "qu",
            "il",
            "elle",
            "ils",
            "elles",
            "on",
            "nous",
            "vous",
            "se",
            "sa",
            "son",
            "ses",
            "leur",
            "leurs",
            "ne",
            "pas",
            "plus",
            "y",
        ]
    ),
    "en": frozenset(
        [
            "the",
            "a",
            "an",
            "of",
            "and",
            "or",
            "to",
            "in",
            "on",
            "at",
            "for",
            "by",
            "with",
            "is",
            "are",
            "was",
            "were",
            "be",
            "been",
            "this",
            "that",
            "these",
            "those",
            "it",
            "its",
            "as",
            "from",
            "not",
        ]
    ),
    "es": frozenset(
        [
            "el",
            "la",
            "los",
            "las",
            "un",
            "una",
            "unos",
            "unas",
            "de",
            "del",
            "y",
            "o",
            "en",
            "a",
            "al",
            "por",
            "para",
            "con",
            "es",
            "son",
            "que",
            "se",
            "su",
            "sus",
            "lo",
            "no",
        ]
    ),
    "ar": frozenset(
        ["في", "من", "علي", "الي", "عن", "ان", "او", "ثم", "هذا", "هذه", "ذلك", "التي", "الذي", "مع", "كان", "قد"]
    ),
}
ALL_STOPWORDS = frozenset().union(*STOPWORDS.values())


@lru_cache(maxsize=200_000)
def fold(word: str) -> str:
    """Lower-case, accent-free, Arabic-normalised form of one word."""
    word = word.lower()
    if _ARABIC_CHARS.search(word):
        return _ARABIC_DIACRITICS.sub("", word).translate(_ARABIC_MAP)
    if word.isascii():
        return word
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).replace("ß", "ss").replace("œ", "oe")


def is_arabic(word: str) -> bool:
    return bool(_ARABIC_CHARS.search(word))


def arabic_light_stem(word: str) -> str:
    """Larkey's light10 stemmer on a normalised word (keeps at least 2 letters)."""
    for prefix in _AR_PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= 2:
            word = word[len(prefix) :]
            break
    changed = True
    while changed:
        changed = False
        for suffix in _AR_SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= 2:
                word = word[: -len(suffix)]
                changed = True
                break
    return word


@lru_cache(maxsize=8)
def _stemmer(language: str) -> Stemmer.Stemmer:
    stemmer = Stemmer.Stemmer(_SNOWBALL[language])
    stemmer.maxCacheSize = 50_000
    return stemmer


def stem(word: str, language: str) -> str:
    """The stem of an already folded word in `language`."""
    if is_arabic(word):
        return arabic_light_stem(word)
    if language not in _SNOWBALL:
        language = "fr"
    return str(_stemmer(language).stemWord(word))


def query_stems(word: str) -> list[str]:
    """Every stem a folded query word may have in a document (one per candidate language)."""
    if is_arabic(word):
        return [arabic_light_stem(word)]
    return sorted({stem(word, lang) for lang in LATIN_LANGUAGES})


@dataclass(frozen=True)
class Token:
    text: str  # the word as written
    folded: str
    start: int  # character offsets in the source text
    end: int


def tokens(text: str) -> Iterator[Token]:
    for match in WORD_RE.finditer(text):
        word = match.group()
        yield Token(word, fold(word)[:MAX_WORD], match.start(), match.end())


def is_stopword(folded: str) -> bool:
    return folded in ALL_STOPWORDS


# Stop word -> the languages it belongs to (one dict probe per word of the sample).
_STOPWORD_LANGUAGES: dict[str, tuple[str, ...]] = {
    word: tuple(lang for lang in LATIN_LANGUAGES if word in STOPWORDS[lang])
    for word in frozenset().union(*(STOPWORDS[lang] for lang in LATIN_LANGUAGES))
}


def detect_language(text: str) -> str:
    """'ar' for mostly Arabic script, else 'fr', 'en' or 'es' from stop-word counts."""
    sample = text[:20_000]
    arabic = len(_ARABIC_CHARS.findall(sample))
    if arabic:
        letters = sum(1 for ch in sample if ch.isalpha()) or 1
        if arabic / letters > 0.3:
            return "ar"
    scores = dict.fromkeys(LATIN_LANGUAGES, 0)
    for word in WORD_RE.findall(sample.lower()):
        for lang in _STOPWORD_LANGUAGES.get(word, ()):
            scores[lang] += 1
    best = max(LATIN_LANGUAGES, key=lambda lang: (scores[lang], lang == "fr"))
    return best if scores[best] else "fr"


@dataclass(frozen=True)
class Analysed:
    """A document's indexable forms: `terms` (stems, in order, stop words dropped: phrase
    positions count only these) and `words` (distinct folded words, for prefix queries)."""

    terms: list[str]
    words: list[str]


MAX_TERMS = 16_000  # PostgreSQL keeps positions up to 16383: both engines index the same prefix


@lru_cache(maxsize=400_000)
def _indexed_form(word: str, language: str) -> tuple[str, str] | None:
    """(folded word, stem) of one word as written, or None for a stop word: the per-word
    work of `analyse`, cached because a corpus repeats its vocabulary (bulk indexing)."""
    folded = fold(word)[:MAX_WORD]
    if folded in ALL_STOPWORDS:
        return None
    return folded, stem(folded, language)


def analyse(text: str, language: str) -> Analysed:
    terms: list[str] = []
    words: dict[str, None] = {}
    for word in WORD_RE.findall(text):
        form = _indexed_form(word, language)
        if form is None:
            continue
        terms.append(form[1])
        words[form[0]] = None
        if len(terms) >= MAX_TERMS:
            break
    return Analysed(terms, list(words))
