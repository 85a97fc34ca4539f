"""Synthetic letters for benchmarks and tests: varied, deterministic for a seed, neutral content.

Each letter is written from a record (the shape of `samples/letters/*.expected.json`), with
the variations the extraction handles: French, English or Spanish headers; TXT, Markdown,
DOCX, HTML and e-mail files; blank lines at the top, markdown emphasis and list markers,
`<sup>` ordinals, `Pour Information` capitalised, month names without accents, `1er`, days
with a leading zero, several units on one line with ` - `, `,`, `;` or ` et `, optional
fields left out. Units and missions are those of the demo ministry, so the letters route.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import random
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from io import BytesIO
from pathlib import Path
from typing import Any

from chancery.organisation.demo import ALIASES, HQ, REGIONS

MONTHS = {
    "fr": ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
           "novembre", "décembre"],
    "en": ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"],
    "es": ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
           "noviembre", "diciembre"],
}
UNACCENTED = {"février": "fevrier", "août": "aout", "décembre": "decembre"}

HEADERS = {
    "fr": {"reference": "Référence", "action": "Pour attribution", "info": "Pour information",
           "transmission": "Transmission", "classification": "Diffusion", "cites": "Réf", "subject": "Objet",
           "attachments": "PJ", "observations": "Observations"},
    "en": {"reference": "Reference", "action": "For action", "info": "For information",
           "transmission": "Transmission", "classification": "Distribution", "cites": "Ref", "subject": "Subject",
           "attachments": "Attachments", "observations": "Observations"},
    "es": {"reference": "Referencia", "action": "Para acción", "info": "Para información",
           "transmission": "Transmisión", "classification": "Difusión", "cites": "Ref.", "subject": "Asunto",
           "attachments": "Anexos", "observations": "Observaciones"},
}
TRANSMISSION_WORDS = {
    "fr": {"encrypted": ["Cryptée", "Chiffrée"], "clear": ["En clair", "Clair"]},
    "en": {"encrypted": ["Encrypted"], "clear": ["Clear"]},
    "es": {"encrypted": ["Cifrada"], "clear": ["En claro"]},
}
CLASSIFICATION_WORDS = {
    "fr": {"unclassified": ["Normale", "Non protégé"], "restricted": ["Restreinte", "Diffusion restreinte"],
           "confidential": ["Confidentiel"]},
    "en": {"unclassified": ["Unclassified"], "restricted": ["Restricted"], "confidential": ["Confidential"]},
    "es": {"unclassified": ["Normal"], "restricted": ["Restringida"], "confidential": ["Confidencial"]},
}
SEPARATORS = {"fr": [" - ", ", ", " ; ", " et "], "en": [", ", "; ", " and "], "es": [", ", "; ", " y "]}
VOLETS = {
    "fr": {"political": "Volet politique", "economic": "Volet économique", "cultural": "Volet culturel",
           "communication": "Volet communication", "consular": "Volet consulaire"},
    "en": {"political": "Political", "economic": "Economic", "cultural": "Cultural",
           "communication": "Communication", "consular": "Consular"},
    "es": {"political": "Eje político", "economic": "Eje económico", "cultural": "Eje cultural",
           "communication": "Eje de comunicación", "consular": "Eje consular"},
}
PLAN_SUBJECTS = {
    "fr": ["Programme d'actions de l'Ambassade au titre de l'année {year}",
           "Planification des actions de l'Ambassade au titre de l'année {year}",
           "Plan d'action de l'Ambassade pour {year}"],
    "en": ["Action plan of the Embassy for {year}", "Annual action plan of the Embassy for {year}"],
    "es": ["Plan de acción de la Embajada para {year}"],
}
NOTE_SUBJECTS = {
    "fr": ["Visite d'une délégation parlementaire", "Préparation de la commission mixte",
           "Semaine culturelle", "Réunion consulaire régionale", "Demande de documentation"],
    "en": ["Parliamentary delegation visit", "Preparation of the joint commission", "Regional consular meeting"],
    "es": ["Visita de una delegación parlamentaria", "Reunión consular regional"],
}
SENTENCES = {
    "fr": ["Poursuivre les consultations régulières avec les autorités locales.",
           "Organisation d'une rencontre avec les représentants de la société civile.",
           "Suivi des dossiers bilatéraux en cours et préparation des prochaines échéances.",
           "Participation aux réunions de coordination avec les partenaires."],
    "en": ["Continue the regular consultations with the local authorities.",
           "Organise a meeting with representatives of civil society.",
           "Follow the bilateral files under way and prepare the next deadlines."],
    "es": ["Continuar las consultas periódicas con las autoridades locales.",
           "Organizar un encuentro con representantes de la sociedad civil."],
}
OBJECTIVES = {
    "fr": "L'objectif sera de conclure un accord de coopération avant la fin de l'année.",
    "en": "The objective is to conclude a cooperation agreement before the end of the year.",
    "es": "El objetivo es concluir un acuerdo de cooperación antes de fin de año.",
}
ATTACHMENT_NAMES = {
    "fr": ["Tableau des actions {year}", "Calendrier prévisionnel", "Liste des participants"],
    "en": ["Action table {year}", "Provisional calendar", "List of participants"],
    "es": ["Cuadro de acciones {year}", "Calendario provisional"],
}
FORMATS = [("txt", 60), ("md", 20), ("docx", 8), ("eml", 6), ("html", 6)]

MISSIONS: list[tuple[str, str]] = [(code, city) for _r, _n, missions in REGIONS for code, city, *_ in missions]
DIVISIONS: list[str] = [code for code, _n, _f, divisions in HQ for code, _dn, function in divisions if not function]
DIVISIONS = [code for code in DIVISIONS if code != "SG/DSI"]
ALIAS_NAMES: list[str] = [name for names in ALIASES.values() for name in names]


@dataclass
class GeneratedLetter:
    filename: str
    data: bytes
    expected: dict[str, Any]


def _date_text(rng: random.Random, lang: str, year: int, month: int, day: int, *, markdown: bool) -> str:
    name = MONTHS[lang][month - 1]
    if lang == "fr":
        if name in UNACCENTED and rng.random() < 0.5:
            name = UNACCENTED[name]
        if day == 1:
            first = "1<sup>er</sup>" if markdown and rng.random() < 0.5 else "1er"
            return f"le {first} {name} {year}"
        return f"le {day:02d} {name} {year}" if rng.random() < 0.3 else f"le {day} {name} {year}"
    if lang == "en":
        return f"{day} {name} {year}"
    return f"{day} de {name} de {year}"


def _amount(rng: random.Random) -> tuple[str, float, str]:
    """A figure as written, its value and the normalised unit ("42,5 millions EUR" → 42.5, "million EUR")."""
    whole = rng.randint(2, 400)
    tenth = rng.randint(0, 9)
    currency = rng.choice(["EUR", "USD"])
    if tenth:
        return f"{whole},{tenth}", float(f"{whole}.{tenth}"), currency
    return str(whole), float(whole), currency


class LetterFactory:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        pairs = [(code, year) for year in range(2001, 2100) for code, _city in MISSIONS]
        self.rng.shuffle(pairs)
        self.plan_slots = pairs
        self.plans = 0

    def letters(self, count: int) -> Iterator[GeneratedLetter]:
        for number in range(1, count + 1):
            yield self.letter(number)

    def letter(self, number: int) -> GeneratedLetter:
        rng = self.rng
        lang = rng.choices(["fr", "en", "es"], weights=[70, 20, 10])[0]
        is_plan = rng.random() < 0.35
        if is_plan:
            mission, plan_year = self.plan_slots[self.plans % len(self.plan_slots)]
            self.plans += 1
            year = plan_year - 1
        else:
            mission, _city = rng.choice(MISSIONS)
            plan_year = None
            year = rng.randint(2001, 2099)
        city = dict(MISSIONS)[mission]
        month, day = rng.randint(1, 12), rng.choice([1, *range(2, 29)])
        fmt = rng.choices([f for f, _w in FORMATS], weights=[w for _f, w in FORMATS])[0]
        markdown = fmt == "md"
        h = HEADERS[lang]
        reference = f"{mission}/{year}/{rng.randint(1, 9999):04d}"
        action = rng.sample(DIVISIONS, rng.choice([1, 1, 1, 2]))
        info_pool = [c for c in DIVISIONS if c not in action]
        info = rng.sample(info_pool, rng.randint(0, 2))
        if rng.random() < 0.25:
            info.append(rng.choice(ALIAS_NAMES))
        transmission = rng.choice(["clear", "clear", "encrypted"]) if rng.random() < 0.9 else None
        classification = rng.choices(["unclassified", "restricted", "confidential"], weights=[55, 35, 10])[0]
        if rng.random() < 0.05:
            classification_key: str | None = None
        else:
            classification_key = classification
        cites: list[str] = []
        if lang == "fr" and rng.random() < 0.5:
            cites = [f"{action[0]} n° {rng.randint(1, 2000)} du 3 mars {year}"]
        if lang == "en" and rng.random() < 0.5:
            cites = [f"{action[0]} No. {rng.randint(1, 2000)} of 3 March {year}"]
        attachments = [name.format(year=plan_year or year) for name in rng.sample(ATTACHMENT_NAMES[lang],
                                                                                 rng.randint(0, 2))]
        subject = rng.choice(PLAN_SUBJECTS[lang]).format(year=plan_year) if is_plan else rng.choice(NOTE_SUBJECTS[lang])

        lines: list[str] = [""] * rng.choice([0, 0, 1, 3])
        date_text = _date_text(rng, lang, year, month, day, markdown=markdown)
        lines += [f"**{city}, {date_text}**" if markdown else f"{city}, {date_text}", ""]

        def header(label: str, value: str) -> str:
            return f"**{label} :** {value}  " if markdown and lang == "fr" else (
                f"**{label}:** {value}" if markdown else (f"{label} : {value}" if lang == "fr" else f"{label}: {value}")
            )

        info_label = h["info"]
        if lang == "fr" and rng.random() < 0.3:
            info_label = "Pour Information"
        lines.append(header(h["reference"], reference))
        lines.append(header(h["action"], rng.choice(SEPARATORS[lang][:2]).join(action)))
        if info:
            lines.append(header(info_label, rng.choice(SEPARATORS[lang]).join(info)))
        if transmission:
            lines.append(header(h["transmission"], rng.choice(TRANSMISSION_WORDS[lang][transmission])))
        if classification_key:
            lines.append(header(h["classification"], rng.choice(CLASSIFICATION_WORDS[lang][classification_key])))
        if cites:
            lines.append(header(h["cites"], cites[0]))
        lines.append("")
        lines.append(f"**{h['subject']} :** {subject}" if markdown and lang == "fr" else header(h["subject"], subject))
        lines.append("")
        lines.append(rng.choice(SENTENCES[lang]))
        lines.append("")

        axes: list[str] = []
        indicators: list[dict[str, Any]] = []
        if is_plan:
            assert plan_year is not None
            keys = [k for k in VOLETS[lang] if rng.random() < 0.6] or ["political"]
            for key in keys:
                heading = VOLETS[lang][key]
                if markdown:
                    heading = rng.choice([f"- ***{heading}***", f"## **{heading}**", f"**{heading}**"])
                lines += [heading, ""]
                if key == "economic" and rng.random() < 0.8:
                    written, value, currency = _amount(rng)
                    target_written, target, _c = _amount(rng)
                    if lang == "fr":
                        text = (f"Les échanges commerciaux ont atteint {written} millions {currency} en {year}. "
                                f"L'objectif est de les porter à {target_written} millions {currency} en {plan_year}.")
                    elif lang == "en":
                        text = (f"Bilateral trade stood at {currency} {written.replace(',', '.')} million in {year}. "
                                f"The objective is to raise it to {currency} {target_written.replace(',', '.')} "
                                f"million in {plan_year}.")
                    else:
                        text = (f"El comercio bilateral alcanzó {written} millones {currency} en {year}. "
                                f"El objetivo es llevarlo a {target_written} millones {currency} en {plan_year}.")
                    lines += [text, ""]
                    indicators += [
                        {"value": _number(value), "unit": f"million {currency}", "year": year, "role": "baseline"},
                        {"value": _number(target), "unit": f"million {currency}", "year": plan_year, "role": "target"},
                    ]
                else:
                    lines += [rng.choice(SENTENCES[lang]), ""]
                    if key == "political" and lang == "fr" and rng.random() < 0.5:
                        ordinal = f"{rng.randint(2, 9)}<sup>e</sup>" if markdown else f"{rng.randint(2, 9)}ème"
                        lines += [f"Tenue de la {ordinal} session des consultations politiques.", ""]
                    if key == "political" and rng.random() < 0.5:
                        lines += [OBJECTIVES[lang], ""]
                axes.append(key)
        if attachments:
            label = h["attachments"]
            joined = " ; ".join(attachments) if lang == "fr" else "; ".join(attachments)
            lines.append(f"**{label} :** {joined}" if markdown and lang == "fr" else header(label, joined))
        text = "\n".join(lines) + "\n"
        expected = {
            "dispatch": {
                "place": city,
                "date": f"{year:04d}-{month:02d}-{day:02d}",
                "reference": reference,
                "attribution": action,
                "information": info,
                "transmission": transmission,
                "classification": classification_key,
                "cites": cites,
                "subject": subject,
                "attachments": attachments,
            },
            "programme": None
            if not is_plan
            else {"year": plan_year, "axes": [k for k in ("political", "economic", "cultural", "communication",
                                                          "consular") if k in axes], "indicators": indicators},
        }
        stem = f"letter-{number:05d}-{mission.lower()}"
        return GeneratedLetter(f"{stem}.{fmt}", _encode(fmt, text, subject, rng), expected)


def _number(value: float) -> int | float:
    return int(value) if value == int(value) else value


def _encode(fmt: str, text: str, subject: str, rng: random.Random) -> bytes:
    if fmt in ("txt", "md"):
        return text.encode("utf-8")
    if fmt == "html":
        body = "".join(f"<p>{html.escape(line)}</p>" if line else "" for line in text.split("\n"))
        return f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{html.escape(subject)}</title></head>" \
               f"<body>{body}</body></html>".encode()
    if fmt == "eml":
        message = EmailMessage()
        message["From"] = "chancery@mission.invalid"
        message["To"] = "registry@ministry.invalid"
        message["Subject"] = subject
        message["Date"] = format_datetime(dt.datetime(2020, 1, rng.randint(1, 28), 9, 0))
        message.set_content(text)
        return bytes(message)
    return _docx(text)


def _zip_entry(name: str) -> zipfile.ZipInfo:
    # A fixed timestamp: the same seed must give the same bytes, whatever the clock says.
    entry = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    entry.compress_type = zipfile.ZIP_DEFLATED
    entry.external_attr = 0o600 << 16
    return entry


def _docx(text: str) -> bytes:
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    paragraphs = "".join(
        f'<w:p><w:r><w:t xml:space="preserve">{html.escape(line)}</w:t></w:r></w:p>' for line in text.split("\n")
    )
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            _zip_entry("[Content_Types].xml"),
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.'
            'wordprocessingml.document.main+xml"/></Types>',
        )
        archive.writestr(
            _zip_entry("word/document.xml"),
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="{w}"><w:body>'
            f"{paragraphs}</w:body></w:document>",
        )
    return buffer.getvalue()


def write_letters(count: int, out_dir: str | Path, *, seed: int = 2026, expected: bool = False) -> list[Path]:
    """Write `count` letters into `out_dir` (created); with `expected`, each letter's record beside it."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for letter in LetterFactory(seed).letters(count):
        path = folder / letter.filename
        path.write_bytes(letter.data)
        if expected:
            (folder / (path.stem + ".expected.json")).write_text(
                json.dumps(letter.expected, ensure_ascii=False, indent=2), encoding="utf-8"
            )
        written.append(path)
    return written
