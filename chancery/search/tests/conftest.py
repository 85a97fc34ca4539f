"""A shared corpus for the search tests, built through the real services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from chancery.correspondence.models import Dispatch
from chancery.correspondence.tests.domain_helpers import draft, sent
from chancery.search.indexing import reindex


@dataclass
class Corpus:
    clear: Dispatch  # DAKAR → DAB/1, unclassified, French
    protected: Dispatch  # DAKAR → DAB/1, confidential, encrypted at rest
    spanish: Dispatch
    english: Dispatch
    arabic: Dispatch
    draft: Dispatch  # a draft of DAKAR: only DAKAR's members see it


def build_corpus(ministry: Any) -> Corpus:
    corpus = Corpus(
        clear=sent(
            ministry,
            subject="Réunion de coopération culturelle en août",
            body="<p>Les visites officielles du ministre sont prévues pour la semaine culturelle.</p>",
            tags=["CULTURE"],
        ),
        protected=sent(
            ministry,
            subject="Négociations secrètes sur le gazoduc",
            body="<p>Le gazoduc transsaharien et les pourparlers discrets avec Abuja.</p>",
            classification=2,
            author="hom.dakar",
            tags=["ENERGY"],
        ),
        spanish=sent(
            ministry,
            subject="Reuniones bilaterales sobre acuerdos comerciales",
            body="<p>Las negociaciones comerciales avanzan con visitas técnicas.</p>",
            tags=["TRADE"],
        ),
        english=sent(
            ministry,
            subject="Agreements on fisheries",
            body="<p>The meetings about fishing agreements were constructive.</p>",
        ),
        arabic=sent(
            ministry,
            subject="الاجتماعات الثنائية حول التعاون الثقافي",
            body="<p>زيارة الوزير إلى المدرسة الوطنية</p>",
        ),
        draft=draft(ministry, subject="Brouillon sur le gazoduc", body="<p>Texte provisoire gazoduc.</p>"),
    )
    reindex()
    return corpus


def sent_out_of_scope(ministry: Any, **fields: Any) -> Dispatch:
    """A dispatch between two units other than DAKAR's (LIMA → DAM/1): out of the scope of
    DAKAR's and DAB's agents, whatever it says."""
    return sent(
        ministry, author="counsellor.lima", head="hom.lima", unit="LIMA", routings=[("DAM/1", "action")], **fields
    )


@pytest.fixture
def corpus(ministry: Any) -> Corpus:
    return build_corpus(ministry)
