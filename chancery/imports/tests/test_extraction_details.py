"""Header, date, quantity and programme rules, source spans and problems, one case at a time."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from chancery.imports.extraction import extract_text
from chancery.imports.extraction.dates import parse_date, parse_date_line
from chancery.imports.extraction.header import (
    normalise_classification,
    normalise_transmission,
    parse_labelled_line,
    split_items,
    split_units,
)
from chancery.imports.extraction.programme import axis_heading, plan_years
from chancery.imports.extraction.quantities import find_quantities, parse_number
from chancery.imports.extraction.text import plain_line

from .test_extraction_samples import sample_text


@pytest.mark.parametrize(
    ("line", "place", "date"),
    [
        ("Dakar, le 14 septembre 2021", "Dakar", dt.date(2021, 9, 14)),
        ("Ottawa, 3 March 2023", "Ottawa", dt.date(2023, 3, 3)),
        ("Ottawa, March 3, 2023", "Ottawa", dt.date(2023, 3, 3)),
        ("Madrid, 5 de marzo de 2023", "Madrid", dt.date(2023, 3, 5)),
        ("Nouakchott, le 1er aout 2022", "Nouakchott", dt.date(2022, 8, 1)),
        ("**Paris, le 1<sup>er</sup> février 2022**  ", "Paris", dt.date(2022, 2, 1)),
        ("Le 3 fevrier 2022", None, dt.date(2022, 2, 3)),
        ("Fait à Addis-Abeba, le 2 decembre 2021", "Addis-Abeba", dt.date(2021, 12, 2)),
        ("Buenos Aires, lunes 4 de marzo de 2024", "Buenos Aires", dt.date(2024, 3, 4)),
        ("Rio de Janeiro, 07/06/2024", "Rio de Janeiro", dt.date(2024, 6, 7)),
        ("Le Caire, 2024-01-31", "Le Caire", dt.date(2024, 1, 31)),
    ],
)
def test_date_lines(line: str, place: str | None, date: dt.date) -> None:
    found = parse_date_line(plain_line(line))
    assert found is not None
    assert (found.place, found.date) == (place, date)


@pytest.mark.parametrize(
    "line", ["La visite aura lieu le 3 mars 2023", "Référence : 12 mars 2023", "Objectif 2023", "Dakar"]
)
def test_not_date_lines(line: str) -> None:
    assert parse_date_line(plain_line(line)) is None


def test_impossible_date_is_reported_not_invented() -> None:
    found = parse_date_line("Dakar, le 31 fevrier 2021")
    assert found is not None and found.place == "Dakar" and found.date is None
    result = extract_text("Dakar, le 31 fevrier 2021\n\nObjet : Essai\n\nTexte.\n")
    assert result.dispatch.date is None
    assert any(p.field == "date" and p.code == "unreadable" for p in result.problems)
    assert parse_date("Tue, 14 Sep 2021 10:00:00 +0000") == dt.date(2021, 9, 14)


@pytest.mark.parametrize(
    ("line", "fields"),
    [
        ("**Objet :** Programme 2022", [("subject", "Programme 2022")]),
        ("***Objet*** : Programme", [("subject", "Programme")]),
        ("- Référence : ABC/2021/1  ", [("reference", "ABC/2021/1")]),
        ("Référence\u00a0: ABC", [("reference", "ABC")]),
        ("Pour Information : DG3/1", [("information", "DG3/1")]),
        ("POUR ATTRIBUTION: DAB/2", [("attribution", "DAB/2")]),
        ("For action: DAM/1", [("attribution", "DAM/1")]),
        ("Para acción: DGA/3", [("attribution", "DGA/3")]),
        ("Para información: DG1/2", [("information", "DG1/2")]),
        ("Transmisión: Cifrada", [("transmission", "Cifrada")]),
        ("Difusión: Restringida", [("classification", "Restringida")]),
        ("Distribution: Confidential", [("classification", "Confidential")]),
        ("Réf. : n° 12", [("cites", "n° 12")]),
        ("Ref: DAM/1 No. 88", [("cites", "DAM/1 No. 88")]),
        ("Asunto: Visita", [("subject", "Visita")]),
        ("P.J. : a ; b", [("attachments", "a ; b")]),
        ("Pièces jointes : a", [("attachments", "a")]),
        ("Anexos: a", [("attachments", "a")]),
        (
            "Transmission : Cryptée - Diffusion : Restreinte",
            [("transmission", "Cryptée"), ("classification", "Restreinte")],
        ),
        ("Transmission : En clair\tDiffusion : Normale", [("transmission", "En clair"), ("classification", "Normale")]),
        ("Transmission : Clair, Diffusion : Secret", [("transmission", "Clair"), ("classification", "Secret")]),
        ("Ce programme : rien", []),
        ("10:30 réunion", []),
    ],
)
def test_labelled_lines(line: str, fields: list[tuple[str, str]]) -> None:
    assert parse_labelled_line(line) == fields


@pytest.mark.parametrize(
    ("value", "units"),
    [
        ("DG3/1 - DCP/5", ["DG3/1", "DCP/5"]),
        ("DG2/4, Press Office", ["DG2/4", "Press Office"]),
        ("DG5/2 ; SG/4", ["DG5/2", "SG/4"]),
        ("DG1/3, DG2/5 et DCP/5", ["DG1/3", "DG2/5", "DCP/5"]),
        ("DAO/2 and DG4/1", ["DAO/2", "DG4/1"]),
        ("DG1/2 y Gabinete de Prensa", ["DG1/2", "Gabinete de Prensa"]),
        ("Service du protocole et des privilèges", ["Service du protocole et des privilèges"]),
        ("Press and Information Office", ["Press and Information Office"]),
        ("DG3/1", ["DG3/1"]),
    ],
)
def test_split_units(value: str, units: list[str]) -> None:
    assert split_units(value) == units


def test_split_items() -> None:
    assert split_items("Tableau des actions 2022 ; Calendrier prévisionnel") == [
        "Tableau des actions 2022",
        "Calendrier prévisionnel",
    ]
    assert split_items("Programme, Liste") == ["Programme", "Liste"]
    assert split_items("1) Programme, détaillé ; 2) Liste") == ["Programme, détaillé", "Liste"]


@pytest.mark.parametrize(
    ("value", "norm"),
    [("Cryptée", "encrypted"), ("Chiffrée", "encrypted"), ("Encrypted", "encrypted"), ("Cifrada", "encrypted"),
     ("En clair", "clear"), ("Clair", "clear"), ("Clear", "clear"), ("En claro", "clear"), ("Télépathie", None)],
)  # fmt: skip
def test_transmission_values(value: str, norm: str | None) -> None:
    assert normalise_transmission(value) == norm


@pytest.mark.parametrize(
    ("value", "norm"),
    [("Normale", "unclassified"), ("Non protégé", "unclassified"), ("Unclassified", "unclassified"),
     ("Sin clasificar", "unclassified"), ("Restreinte", "restricted"), ("Diffusion restreinte", "restricted"),
     ("Restricted", "restricted"), ("Restringida", "restricted"), ("Confidentiel", "confidential"),
     ("Confidential", "confidential"), ("Confidencial", "confidential"), ("Secret", "secret"),
     ("Secreto", "secret"), ("Très secret", "secret"), ("Limitée ?", None), ("Reservado", "secret"),
     ("Difusión limitada", "restricted"), ("محدود", "restricted"), ("سري", "confidential"),
     ("سري للغاية", "secret"), ("غير مصنف", "unclassified")],
)  # fmt: skip
def test_classification_values(value: str, norm: str | None) -> None:
    assert normalise_classification(value) == norm


@pytest.mark.parametrize(
    ("text", "language", "found"),
    [
        ("ont atteint 42,5 millions EUR en 2020", "fr", [("42.5", "million EUR")]),
        ("stood at USD 310 million in 2022", "en", [("310", "million USD")]),
        ("about €42m", "en", [("42", "million EUR")]),
        ("1.250 millones de dólares", "es", [("1250", "million USD")]),
        ("12 milliards FCFA", "fr", [("12", "billion FCFA")]),
        ("1 250 000 euros", "fr", [("1250000", "EUR")]),
        ("USD 1,250,000", "en", [("1250000", "USD")]),
        ("un taux de 62,5 % en 2022", "fr", [("62.5", "%")]),
        ("12 articles et 3 expositions en 2022", "fr", []),
        ("la 3ème session, le 2 juillet 2021", "fr", []),
        ("Contrat Programme 2021", "fr", []),
    ],
)
def test_quantities(text: str, language: str, found: list[tuple[str, str]]) -> None:
    assert [(str(q.value), q.unit) for q in find_quantities(text, language)] == found


def test_parse_number() -> None:
    assert parse_number("42,5") == Decimal("42.5")
    assert parse_number("1,250", "en") == Decimal(1250)
    assert parse_number("1,250", "fr") == Decimal("1.25")
    assert parse_number("1.250", "es") == Decimal(1250)
    assert parse_number("1.5", "en") == Decimal("1.5")
    assert parse_number("1.250,75", "fr") == Decimal("1250.75")


@pytest.mark.parametrize(
    ("subject", "years"),
    [
        ("Programme d'actions de l'Ambassade au titre de l'année 2022", (2022, None)),
        ("Action plan of the Embassy for 2023 - first revision", (2023, None)),
        ("Planification des actions 2023", (2023, None)),
        ("Plan d'actions 2022-2024", (2022, 2024)),
        ("Programa de acciones para 2026", (2026, None)),
        ("Plan de acción 2025", (2025, None)),
        ("Suite à votre lettre du 3 mars 2021 : plan d'action pour 2022", (2022, None)),
        ("Plan d'action de l'Ambassade", (None, None)),
        ("Synthèse de l'exécution du programme d'actions 2021", None),
        ("Visite d'une délégation parlementaire", None),
        (None, None),
    ],
)
def test_plan_subjects(subject: str | None, years: tuple[int | None, int | None] | None) -> None:
    assert plan_years(subject) == years


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("- ***Volet Politique***", "political"),
        ("Volet économique :", "economic"),
        ("## 3. Volet consulaire", "consular"),
        ("Eje político", "political"),
        ("Economic", "economic"),
        ("- Political", "political"),
        ("Public diplomacy", "communication"),
        ("Volet coopération technique", "other"),
        ("Axe 2 : sécurité", "security"),
        ("Political axis", "political"),
        ("Autres", "other"),
        ("dans les domaines politique, économique, culturel et de la communication.", None),
        ("Consultations politiques annuelles", None),
        ("Volet", None),
        ("1<sup>er</sup> volet – politique", "political"),
        ("2ᵉ — Volet économique", "economic"),
        ("Premier volet : politique", "political"),
        ("III – VOLET SÉCURITAIRE", "security"),
        ("1.º – Eje político", "political"),
        ("Primer eje – cultural", "cultural"),
        ("5. Security and defence", "security"),
        ("Economic and trade", "economic"),
        ("أولا: المحور السياسي", "political"),
        ("2 - المحور الاقتصادي", "economic"),
        ("Political and economic", None),
        ("Civil society", None),
    ],
)
def test_axis_headings(line: str, key: str | None) -> None:
    found = axis_heading(line, after_blank=True)
    assert (found[0] if found else None) == key


def test_bare_keyword_inside_a_paragraph_is_not_a_heading() -> None:
    assert axis_heading("Economic", after_blank=False) is None
    assert axis_heading("- Economic", after_blank=False) is not None


def test_sources_show_the_line_each_field_came_from() -> None:
    result = extract_text(sample_text("fr-plan-2022-dakar"))
    sources = result.dispatch.sources
    assert sources["date"].first_line == 4 and sources["date"].text == "Dakar, le 14 septembre 2021"
    assert sources["reference"].text.startswith("Référence")
    assert sources["subject"].text.startswith("**Objet :**")
    assert "PJ" in sources["attachments"].text
    assert set(sources) == {
        "place", "date", "reference", "attribution", "information", "transmission",
        "classification", "cites", "subject", "attachments",
    }  # fmt: skip


def test_axes_objectives_and_indicators_keep_their_context() -> None:
    result = extract_text(sample_text("fr-plan-2022-dakar"))
    programme = result.programme
    assert programme is not None
    political = programme.axes[0]
    assert political.heading == "Volet Politique"
    assert political.text.startswith("Poursuivre les consultations politiques annuelles, dont la 3ème session")
    assert "mémorandum d'entente" in political.text
    assert [(o.axis, " ".join(o.text.split()[:3])) for o in programme.objectives] == [
        ("political", "L'objectif sera d'obtenir"),
        ("economic", "L'objectif est de"),
    ]
    baseline, target = programme.indicators
    assert baseline.axis == target.axis == "economic"
    assert "42,5 millions EUR en 2020" in baseline.span.text
    assert target.text.startswith("L'objectif est de les porter à 50 millions EUR en 2022")
    assert programme.sources["year"] == result.dispatch.sources["subject"]


def test_body_and_observations() -> None:
    result = extract_text(sample_text("fr-plan-2022-dakar"))
    assert result.body.startswith("Comme suite à votre message")
    assert "Volet Politique" in result.body and "**" not in result.body and "<sup>" not in result.body
    assert result.body.rstrip().endswith("Haute Considération")
    assert "PJ" not in result.body
    assert result.observations == (
        "- Ce programme n'est pas figé et sera actualisé au vu de la synthèse de l'exécution du Contrat Programme 2021."
    )


def test_problems_for_missing_and_doubtful_fields() -> None:
    result = extract_text(sample_text("fr-plan-noyear-bamako-missing"))
    problems = {(p.field, p.code) for p in result.problems}
    assert problems == {
        ("place", "missing"),
        ("reference", "missing"),
        ("transmission", "missing"),
        ("classification", "missing"),
        ("programme.year", "missing"),
    }
    missing = next(p for p in result.problems if p.field == "reference")
    assert missing.message_fr == "Référence : introuvable dans la lettre."
    assert missing.message_en == "Reference: not found in the letter."
    assert missing.message("ar") and missing.message("es")
    dakar = extract_text(sample_text("fr-plan-2022-dakar"))
    incomplete = [p for p in dakar.problems if p.code == "incomplete"]
    assert [p.field for p in incomplete] == ["reference"] and incomplete[0].span is not None


def test_unknown_marking_is_a_problem_not_a_guess() -> None:
    text = "Ottawa, 3 March 2023\n\nTransmission: Pigeon\nDistribution: Whatever\n\nSubject: Test\n\nBody.\n"
    result = extract_text(text)
    assert result.dispatch.transmission is None and result.dispatch.classification is None
    codes = {(p.field, p.code) for p in result.problems}
    assert {("transmission", "unreadable"), ("classification", "unreadable")} <= codes
    message = next(p for p in result.problems if p.field == "transmission").message_fr
    assert "Pigeon" in message


def test_duplicate_field_keeps_the_first_value() -> None:
    text = "Référence : A/1\nRéférence : B/2\n\nObjet : Test\n\nTexte.\n"
    result = extract_text(text)
    assert result.dispatch.reference == "A/1"
    assert any(p.field == "reference" and p.code == "duplicate" for p in result.problems)


def test_fields_after_an_address_block_and_multiline_lists() -> None:
    text = (
        "AMBASSADE DE LA RÉPUBLIQUE\nà Accra\n\nLe Chef de Mission\n\n"
        "Accra, le 5 juin 2024\n\n"
        "Pour attribution :\n- DAO/1\n- DAO/2\n"
        "Réf :\n- Votre message n° 12 du 3 mai 2024\n- Notre lettre n° 9 du 2 avril 2024\n"
        "Objet : Programme d'actions\n    pour 2025\n\n"
        "Volet politique\n\nUne visite.\n\n"
        "Pièces jointes : 2\n"
    )
    result = extract_text(text)
    dispatch = result.dispatch
    assert (dispatch.place, str(dispatch.date)) == ("Accra", "2024-06-05")
    assert dispatch.attribution == ["DAO/1", "DAO/2"]
    assert len(dispatch.cites) == 2
    assert dispatch.subject == "Programme d'actions pour 2025"
    assert dispatch.attachments == []  # a count of attachments, not their names
    assert result.programme is not None and result.programme.year == 2025


def test_signature_date_when_the_header_has_none() -> None:
    text = "Objet : Note de synthèse\n\nTexte de la note.\n\nFait à Dakar, le 2 decembre 2021\n\nL'Ambassadeur\n"
    result = extract_text(text)
    assert (result.dispatch.place, str(result.dispatch.date)) == ("Dakar", "2021-12-02")


def test_axis_keys_are_in_canonical_order() -> None:
    result = extract_text(sample_text("en-plan-2024-nairobi"))
    assert result.programme is not None
    assert [axis.key for axis in result.programme.axes] == [
        "economic", "security", "consular", "communication", "other",
    ]  # fmt: skip
    assert result.programme.axis_keys == ["economic", "communication", "consular", "security", "other"]
    goal = result.programme.objectives[0]
    assert goal.axis == "economic" and goal.text.startswith("Our main goal")


def test_plan_without_year_target_cues() -> None:
    text = (
        "Objet : Plan d'action\n\nVolet économique\n\n"
        "Les exportations ont atteint 5 millions EUR en 2021 ; l'objectif est de les porter à 7 millions EUR en 2024.\n"
    )
    programme = extract_text(text).programme
    assert programme is not None and programme.year is None
    assert [(i.year, i.role) for i in programme.indicators] == [(2021, "baseline"), (2024, "target")]


def test_language_detection() -> None:
    assert extract_text(sample_text("es-plan-2024-lima")).language == "es"
    assert extract_text(sample_text("en-cable-2023-ottawa")).language == "en"
    assert extract_text(sample_text("fr-plan-2022-dakar")).language == "fr"


def test_nil_values_are_empty_not_items() -> None:
    text = (
        "Référence : Néant\nPour attribution : DAB/2\nPour information : néant\nRéf : -\n\n"
        "Objet : Essai\n\nTexte.\n\nPJ : Aucune\n"
    )
    result = extract_text(text)
    dispatch = result.dispatch
    assert (dispatch.reference, dispatch.information, dispatch.cites, dispatch.attachments) == (None, [], [], [])
    assert not any(p.code == "unreadable" for p in result.problems)
    assert any(p.field == "reference" and p.code == "missing" for p in result.problems)


def test_header_laid_out_as_a_table() -> None:
    text = (
        "| | |\n|---|---|\n| **Référence** | RBT/2023/0001 |\n| Pour attribution | DAN/1 |\n"
        "Transmission\tCryptée\n\nObjet : Essai\n\nTexte.\n"
    )
    dispatch = extract_text(text).dispatch
    assert (dispatch.reference, dispatch.attribution, dispatch.transmission) == (
        "RBT/2023/0001",
        ["DAN/1"],
        "encrypted",
    )


def test_large_input_stays_fast() -> None:
    import time

    filler = ("Les échanges ont atteint 4,5 millions EUR en 2020 ; " * 20 + "\n") * 1000
    text = sample_text("fr-plan-2022-dakar").replace("- ***Volet culturel***", filler + "- ***Volet culturel***")
    text += ("x" * 5000 + " 14 septembre 2021\n") * 50 + " " * 100_000 + "le 1er mars 2023\n"
    started = time.monotonic()
    result = extract_text(text)
    assert time.monotonic() - started < 20
    assert result.programme is not None and len(result.programme.indicators) == 3


def test_markings_alone_on_their_line() -> None:
    text = "DIFFUSION RESTREINTE\nCRYPTÉE\n\nBamako, le 2 mai 2024\n\nObjet : Essai\n\nTexte.\n\nSecret\n"
    dispatch = extract_text(text).dispatch
    assert (dispatch.classification, dispatch.transmission) == ("restricted", "encrypted")
    assert dispatch.sources["classification"].first_line == 1


def test_an_annex_mentioned_mid_body_does_not_cut_the_letter() -> None:
    text = (
        "Objet : Plan d'action 2024\n\nIntroduction.\n\nVolet politique\n\nAnnexe : calendrier des visites\n\n"
        "Deux visites.\n\nVolet culturel\n\nUne exposition.\n" + "Ligne.\n" * 15 + "\nPJ : Calendrier\n"
    )
    result = extract_text(text)
    assert result.dispatch.attachments == ["Calendrier"]
    assert result.programme is not None and result.programme.axis_keys == ["political", "cultural"]
    assert "Annexe : calendrier" in result.body and "PJ" not in result.body


def test_date_beside_a_field_in_a_pdf_layout() -> None:
    text = (
        "Référence : DKR/2021/0001                         Dakar, le 14 septembre 2021\n"
        "Pour attribution : DAB/2            Transmission : En clair\n\nObjet : Essai\n\nTexte.\n"
    )
    dispatch = extract_text(text).dispatch
    assert (dispatch.reference, dispatch.place, str(dispatch.date)) == ("DKR/2021/0001", "Dakar", "2021-09-14")
    assert (dispatch.attribution, dispatch.transmission) == (["DAB/2"], "clear")
