"""Folding and stemming per language: a table of word pairs that must meet, and of pairs
that must not (so that a stemmer that merged everything would fail)."""

from __future__ import annotations

import pytest

from chancery.search.analysis import detect_language, fold, query_stems, stem

# (language of the document, word in the document, word typed in a query)
SAME = [
    ("fr", "Réunion", "reunion"),
    ("fr", "août", "aout"),
    ("fr", "visites", "visite"),
    ("fr", "coopération", "cooperation"),
    ("fr", "ÉCONOMIQUES", "économique"),
    ("fr", "négociations", "negociation"),
    ("fr", "ambassadeurs", "ambassadeur"),
    ("en", "meetings", "meeting"),
    ("en", "visiting", "visits"),
    ("en", "agreements", "agreement"),
    ("en", "Fisheries", "fishery"),
    ("es", "reuniones", "reunión"),
    ("es", "acuerdos", "acuerdo"),
    ("es", "cooperación", "cooperacion"),
    ("es", "visitas", "visita"),
    ("es", "embajadas", "embajada"),
    ("ar", "الاجتماعات", "اجتماع"),  # definite article + plural ات
    ("ar", "المدرسة", "مدرسه"),  # ta marbuta ة ≡ ه
    ("ar", "أحمد", "احمد"),  # hamza on alef
    ("ar", "إتفاقية", "اتفاقيه"),
    ("ar", "مُسْتَشَار", "مستشار"),  # diacritics
    ("ar", "مصطفى", "مصطفي"),  # alef maqsura ى ≡ ي
    ("ar", "والسفير", "سفير"),  # conjunction + article
]

DIFFERENT = [
    ("fr", "visite", "vision"),
    ("fr", "réunion", "union"),
    ("en", "meeting", "melting"),
    ("es", "acuerdo", "acero"),
    ("ar", "سفير", "سفر"),
]


def _meets(language: str, indexed: str, typed: str) -> bool:
    return stem(fold(indexed), language) in query_stems(fold(typed))


@pytest.mark.parametrize(("language", "indexed", "typed"), SAME)
def test_word_pairs_meet(language: str, indexed: str, typed: str) -> None:
    assert _meets(language, indexed, typed), (indexed, typed)


@pytest.mark.parametrize(("language", "indexed", "typed"), DIFFERENT)
def test_different_words_stay_apart(language: str, indexed: str, typed: str) -> None:
    assert not _meets(language, indexed, typed), (indexed, typed)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("La réunion de la commission mixte sur les échanges et la coopération", "fr"),
        ("The meeting of the joint commission on trade and the agreements", "en"),
        ("La reunión de los embajadores para la cooperación y el comercio", "es"),
        ("الاجتماع الثنائي حول التعاون الثقافي بين البلدين", "ar"),
    ],
)
def test_language_detected(text: str, language: str) -> None:
    assert detect_language(text) == language
