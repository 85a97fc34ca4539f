"""Demo correspondence: a realistic year of dispatches across the demo ministry.

Missions write to their headquarters desk (copies to thematic divisions), desks write
back, the central registry and the missions' clerks register incoming letters, units
answer what was attributed to them (threads), acknowledge, assign and close. Every
marking appears; protected dispatches are encrypted at rest and every sent dispatch is
signed by its unit's key exactly as the services do (`chancery verify-dispatch` accepts
them). Subjects are generic and neutral.

Rows are written in bulk (a few thousand dispatches in seconds); the content, the
encryption, the numbering and the signatures follow the same rules as the services.
`generate_correspondence` is also used by `chancery generate` for large volumes.
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from chancery.accounts.models import User
from chancery.accounts.roles import Capability
from chancery.audit.services import record_event
from chancery.core.bulk import Row, insert_rows, new_row, take_ids, update_rows
from chancery.core.classification import Level
from chancery.core.models import Compartment
from chancery.correspondence import content, storage
from chancery.correspondence.models import (
    Attachment,
    Citation,
    Direction,
    Dispatch,
    DispatchKind,
    DispatchStatus,
    NumberCounter,
    Routing,
    RoutingKind,
    RoutingStatus,
    Transmission,
    marking_text,
)
from chancery.correspondence.numbering import format_reference
from chancery.correspondence.signatures import build_canonical
from chancery.crypto import envelope, keyed, keystore
from chancery.crypto.models import DataKey
from chancery.crypto.services import signer_for
from chancery.crypto.signing import canonical_bytes
from chancery.organisation.models import Unit, UnitKind

DEFAULT_COUNT = 2500
# When the drafter set a dispatch's marking to be reviewed (`declassify_on`), in days after its
# date: Confidentiel after ten years, Secret after twenty-five. Days rather than years, so that
# every engine and Python compute the same date (a 29 February has no twin ten years on).
REVIEW_AFTER_DAYS: dict[int, int] = {Level.CONFIDENTIAL: 3652, Level.SECRET: 9131}

QUARTERS = ["premier trimestre", "deuxième trimestre", "troisième trimestre", "quatrième trimestre"]

# theme tag → subject templates ({city}, {country}, {quarter}, {year})
SUBJECTS: dict[str, list[str]] = {
    "ECO": [
        "Foire commerciale internationale de {city}",
        "Mission d'entreprises : préparation du programme",
        "Statistiques des échanges commerciaux — {quarter}",
        "Forum de l'investissement : participation nationale",
        "Salon de l'agroalimentaire : stand national",
    ],
    "CULT": [
        "Semaine culturelle à {city}",
        "Festival du film : programmation",
        "Bourses d'études : campagne {year}",
        "Exposition itinérante : calendrier",
        "Journées du patrimoine : partenariats",
    ],
    "CONS": [
        "Statistiques consulaires du {quarter}",
        "Tournée consulaire dans la circonscription",
        "Délivrance des visas : point d'étape",
        "Registre des ressortissants : mise à jour",
    ],
    "POL": [
        "Préparation de la visite du ministre",
        "Consultations politiques bilatérales",
        "Compte rendu d'entretien avec les autorités locales",
        "Session de la commission mixte",
        "Réunion régionale des chefs de poste",
    ],
    "COM": [
        "Plan de communication du poste",
        "Revue de presse hebdomadaire",
        "Interview du chef de poste : préparation",
        "Réseaux sociaux du poste : bilan du {quarter}",
    ],
    "ADM": [
        "Programme d'action annuel : proposition",
        "Rapport d'exécution — {quarter}",
        "Calendrier des congés et des intérims",
        "Formation des agents : session {year}",
    ],
}
THEMATIC_DIVISIONS = {"ECO": "DG3/1", "CULT": "DG7/1", "COM": "DCP/5", "POL": "DG2/1", "ADM": "SG/4"}

SENTENCES = [
    "Le poste a l'honneur de rendre compte des démarches engagées au cours de la période.",
    "Les services concernés ont été associés à la préparation et un calendrier a été arrêté.",
    "Les interlocuteurs locaux ont marqué leur intérêt et proposé plusieurs dates.",
    "Un budget prévisionnel est joint ; il reste dans l'enveloppe notifiée en début d'année.",
    "Le Département voudra bien faire connaître ses observations avant la date indiquée.",
    "Les partenaires culturels et économiques seront réunis lors d'une réunion de suivi.",
    "La presse locale a relayé l'événement ; une revue est jointe pour information.",
    "Les indicateurs du programme d'action seront mis à jour à l'issue de l'opération.",
    "Les modalités logistiques sont en cours de finalisation avec les autorités.",
    "Le poste se tient à la disposition du Département pour tout complément.",
]
REPLY_SENTENCES = [
    "Le Département accuse réception et remercie le poste pour ces éléments.",
    "Les propositions sont approuvées sous réserve des observations ci-dessous.",
    "Il conviendra de transmettre le bilan de l'opération dans les délais habituels.",
    "Les services compétents ont été saisis et feront part de leurs remarques.",
]
EXTERNAL_SENDERS = [
    "Chambre de commerce et d'industrie",
    "Agence nationale de promotion des investissements",
    "Institut culturel national",
    "Université nationale — service des relations internationales",
    "Office du tourisme",
    "Association des ressortissants",
    "Ministère du commerce",
    "Organisation internationale — secrétariat",
]
LOCAL_SENDERS = [
    "Ministère des affaires étrangères du pays hôte",
    "Municipalité",
    "Chambre de commerce locale",
    "Université locale",
    "Centre culturel",
]


@dataclass
class RoutingSpec:
    unit: Unit
    kind: str
    due_date: date | None = None
    status: str = ""
    acknowledged_by: User | None = None
    acknowledged_at: datetime | None = None
    assigned_to: User | None = None
    assigned_at: datetime | None = None
    answer: DispatchSpec | None = None
    answered_at: datetime | None = None
    closed_by: User | None = None
    closed_at: datetime | None = None
    read_by: User | None = None
    read_at: datetime | None = None


@dataclass
class DispatchSpec:
    index: int
    direction: str
    kind: str
    unit: Unit
    author: User
    head: User
    when: datetime
    level: int
    transmission: str
    subject: str
    body: str
    tags: list[str]
    status: str = DispatchStatus.SENT
    compartments: list[str] = field(default_factory=list)
    routings: list[RoutingSpec] = field(default_factory=list)
    cites: list[DispatchSpec] = field(default_factory=list)
    external_refs: list[str] = field(default_factory=list)
    in_reply_to: DispatchSpec | None = None
    attachments: list[tuple[str, str, bytes]] = field(default_factory=list)  # name, type, data
    sender_name: str = ""
    external_reference: str = ""
    dated: date | None = None
    place: str = ""
    # filled when written
    obj: Dispatch | None = None
    reference: str | None = None
    year: int | None = None
    number: int | None = None


def _slug(code: str) -> str:
    return code.lower().replace("/", "")


class _Cast:
    """Who writes and who validates for each unit of the demo ministry."""

    def __init__(self, units: dict[str, Unit], users: dict[str, User]) -> None:
        self.units = units
        self.users = users
        self.missions = sorted((u for u in units.values() if u.kind == UnitKind.MISSION), key=lambda u: u.code)
        self.desks = sorted({m.hq_desk for m in self.missions if m.hq_desk is not None}, key=lambda u: u.code)

    def writer(self, unit: Unit, level: int, rng: random.Random) -> tuple[User, User] | None:
        """(author, head) able to write and validate at `level` for `unit`, or None."""
        slug = _slug(unit.code)
        if unit.kind == UnitKind.MISSION:
            authors = [self.users.get(f"counsellor.{slug}"), self.users.get(f"counsellor2.{slug}")]
            head = self.users.get(f"hom.{slug}")
        elif unit.code == "SG":
            authors, head = [self.users.get("sg")], self.users.get("sg")
        elif unit.code == "SG/4":
            authors, head = [self.users.get("plan.sg4")], self.users.get("sg")
        else:
            authors, head = [self.users.get(f"desk.{slug}")], self.users.get(f"head.{slug}")
        if head is None:
            return None
        able = [a for a in authors if a is not None and a.clearance_level >= level]
        if head.clearance_level < level:
            return None
        return (rng.choice(able) if able else head), head

    def handler(self, unit: Unit) -> User | None:
        slug = _slug(unit.code)
        for name in (f"desk.{slug}", f"counsellor.{slug}", f"head.{slug}", f"hom.{slug}", f"clerk.{slug}"):
            if name in self.users:
                return self.users[name]
        return None


def _level(rng: random.Random) -> int:
    roll = rng.random()
    if roll < 0.60:
        return Level.UNCLASSIFIED
    if roll < 0.86:
        return Level.RESTRICTED
    if roll < 0.97:
        return Level.CONFIDENTIAL
    return Level.SECRET


def _body(rng: random.Random, sentences: list[str], n: int) -> str:
    paragraphs = []
    for _ in range(n):
        paragraphs.append("<p>" + " ".join(rng.sample(sentences, k=min(2, len(sentences)))) + "</p>")
    return "".join(paragraphs)


def _subject(rng: random.Random, theme: str, city: str, when: datetime) -> str:
    template = rng.choice(SUBJECTS[theme])
    return template.format(city=city or "la capitale", quarter=QUARTERS[(when.month - 1) // 3], year=when.year)


def _attachments(rng: random.Random, theme: str, when: datetime) -> list[tuple[str, str, bytes]]:
    files = []
    if rng.random() < 0.25:
        text = "\n".join(rng.sample(SENTENCES, k=4)) + "\n"
        files.append(("annexe-1.txt", "text/plain", text.encode()))
        if rng.random() < 0.4:
            rows = ["mois;valeur"] + [f"{m:02d}/{when.year};{rng.randint(10, 500)}" for m in range(1, 7)]
            files.append((f"donnees-{theme.lower()}.csv", "text/csv", ("\n".join(rows) + "\n").encode()))
    return files


def generate_correspondence(
    *,
    units: dict[str, Unit],
    users: dict[str, User],
    count: int,
    seed: int,
    end: datetime | None = None,
    days: float = 365,
    now: datetime | None = None,
) -> Iterator[DispatchSpec]:
    """Dispatch specs in chronological order (pure Python, nothing written), from `days` before
    `end` until `end`; statuses (drafts, answers, closures) as they stand `now` (default: `end`)."""
    rng = random.Random(seed)
    cast = _Cast(units, users)
    end = end or timezone.now()
    now = now or end
    start = end - timedelta(days=days)
    span = (end - start).total_seconds()
    answerable: list[tuple[DispatchSpec, RoutingSpec]] = []
    registry = units.get("SG/BO")
    for index in range(count):
        when = start + timedelta(seconds=span * (index + rng.random()) / max(count, 1))
        roll = rng.random()
        spec: DispatchSpec | None = None
        if roll < 0.16 and answerable:
            spec = _reply(rng, cast, index, when, answerable)
        elif roll < 0.24 and registry is not None:
            spec = _incoming(rng, cast, index, when, registry)
        elif roll < 0.29:
            spec = _incoming(rng, cast, index, when, rng.choice(cast.missions))
        elif roll < 0.30 and "SG" in units and "SG/SEC" in units:
            spec = _security_circular(rng, cast, index, when)
        elif roll < 0.62:
            spec = _from_hq(rng, cast, index, when)
        if spec is None:
            spec = _from_mission(rng, cast, index, when)
        if spec is None:
            continue
        seen: set[int] = set()
        spec.routings = [r for r in spec.routings if not (r.unit.pk in seen or seen.add(r.unit.pk))]  # type: ignore[func-returns-value]
        if now - when < timedelta(days=20) and spec.direction != Direction.INCOMING and spec.in_reply_to is None:
            draft_roll = rng.random()
            if draft_roll < 0.06:
                spec.status = DispatchStatus.DRAFT
            elif draft_roll < 0.09:
                spec.status = DispatchStatus.VALIDATED
        _settle_routings(rng, cast, spec, now)
        if spec.status == DispatchStatus.SENT:
            for routing in spec.routings:
                if routing.kind == RoutingKind.ACTION and routing.status in (
                    RoutingStatus.PENDING,
                    RoutingStatus.ACKNOWLEDGED,
                    RoutingStatus.ASSIGNED,
                ):
                    answerable.append((spec, routing))
            if len(answerable) > 400:
                del answerable[:100]
        yield spec


def _from_mission(rng: random.Random, cast: _Cast, index: int, when: datetime) -> DispatchSpec | None:
    mission = rng.choice(cast.missions)
    if mission.hq_desk is None:
        return None
    level = _level(rng)
    people = cast.writer(mission, level, rng) or cast.writer(mission, Level.UNCLASSIFIED, rng)
    if people is None:
        return None
    if people[1].clearance_level < level:
        level = Level.UNCLASSIFIED
    author, head = people
    theme = rng.choice(list(SUBJECTS))
    routings = [
        RoutingSpec(
            unit=mission.hq_desk,
            kind=RoutingKind.ACTION,
            due_date=(when + timedelta(days=rng.randint(10, 30))).date() if rng.random() < 0.4 else None,
        )
    ]
    thematic = cast.units.get(THEMATIC_DIVISIONS.get(theme, ""))
    if thematic is not None and rng.random() < 0.5:
        routings.append(RoutingSpec(unit=thematic, kind=RoutingKind.INFO))
    return DispatchSpec(
        index=index,
        direction=Direction.OUTGOING,
        kind=rng.choice([DispatchKind.DISPATCH, DispatchKind.DISPATCH, DispatchKind.TELEGRAM, DispatchKind.NOTE]),
        unit=mission,
        author=author,
        head=head,
        when=when,
        level=level,
        transmission=Transmission.ENCRYPTED
        if level >= Level.CONFIDENTIAL or rng.random() < 0.15
        else Transmission.CLEAR,
        subject=_subject(rng, theme, mission.city, when),
        body=_body(rng, SENTENCES, rng.randint(2, 4)),
        tags=[mission.country, theme],
        routings=routings,
        attachments=_attachments(rng, theme, when),
        place=mission.city,
    )


def _from_hq(rng: random.Random, cast: _Cast, index: int, when: datetime) -> DispatchSpec | None:
    desk = rng.choice(cast.desks)
    followed = [m for m in cast.missions if m.hq_desk_id == desk.pk]
    if not followed:
        return None
    level = _level(rng)
    people = cast.writer(desk, level, rng)
    if people is None:
        level = Level.RESTRICTED if level > Level.RESTRICTED else level
        people = cast.writer(desk, level, rng)
    if people is None:
        return None
    author, head = people
    theme = rng.choice(list(SUBJECTS))
    targets = rng.sample(followed, k=1 if rng.random() < 0.8 else min(len(followed), rng.randint(2, 4)))
    routings = [
        RoutingSpec(
            unit=t,
            kind=RoutingKind.ACTION,
            due_date=(when + timedelta(days=rng.randint(7, 30))).date() if rng.random() < 0.5 else None,
        )
        for t in targets
    ]
    return DispatchSpec(
        index=index,
        direction=Direction.OUTGOING,
        kind=rng.choice([DispatchKind.DISPATCH, DispatchKind.TELEGRAM]),
        unit=desk,
        author=author,
        head=head,
        when=when,
        level=level,
        transmission=Transmission.ENCRYPTED if level >= Level.CONFIDENTIAL else Transmission.CLEAR,
        subject=_subject(rng, theme, targets[0].city, when),
        body=_body(rng, SENTENCES, rng.randint(1, 3)),
        tags=[*sorted({t.country for t in targets}), theme],
        routings=routings,
        attachments=_attachments(rng, theme, when),
        place="Département",
    )


def _incoming(rng: random.Random, cast: _Cast, index: int, when: datetime, unit: Unit) -> DispatchSpec | None:
    slug = _slug(unit.code)
    level = Level.UNCLASSIFIED if rng.random() < 0.8 else Level.RESTRICTED
    clerks = [u for name, u in cast.users.items() if name.startswith("clerk") and name.endswith(f".{slug}")]
    clerks = [c for c in clerks if c.clearance_level >= level]
    if not clerks:
        return None
    clerk = rng.choice(clerks)
    theme = rng.choice(["ECO", "CULT", "CONS", "POL"])
    if unit.kind == UnitKind.MISSION:
        target = unit
        sender = rng.choice(LOCAL_SENDERS)
        tags = [unit.country, theme]
    else:
        target = cast.units.get(THEMATIC_DIVISIONS.get(theme, "")) or rng.choice(cast.desks)
        sender = rng.choice(EXTERNAL_SENDERS)
        tags = [theme]
    routings = [
        RoutingSpec(
            unit=target,
            kind=RoutingKind.ACTION,
            due_date=(when + timedelta(days=rng.randint(10, 20))).date() if rng.random() < 0.5 else None,
        )
    ]
    if unit.kind != UnitKind.MISSION and rng.random() < 0.4:
        other = rng.choice(cast.desks)
        if other.pk != target.pk:
            routings.append(RoutingSpec(unit=other, kind=RoutingKind.INFO))
    letter_date = (when - timedelta(days=rng.randint(1, 10))).date()
    initials = "".join(w[0] for w in sender.split() if w[0].isupper())[:4] or "EXT"
    return DispatchSpec(
        index=index,
        direction=Direction.INCOMING,
        kind=DispatchKind.LETTER,
        unit=unit,
        author=clerk,
        head=clerk,
        when=when,
        level=level,
        transmission=Transmission.CLEAR,
        subject=_subject(rng, theme, unit.city, when).replace("préparation", "invitation"),
        body=_body(rng, SENTENCES, rng.randint(1, 2)),
        tags=tags,
        routings=routings,
        sender_name=sender,
        external_reference=f"{initials}/{letter_date.year}/{rng.randint(1, 900)}",
        dated=letter_date,
        attachments=[("courrier.txt", "text/plain", f"Courrier de : {sender}\n".encode())],
    )


def _security_circular(rng: random.Random, cast: _Cast, index: int, when: datetime) -> DispatchSpec | None:
    people = cast.writer(cast.units["SG"], Level.CONFIDENTIAL, rng)
    if people is None:
        return None
    author, head = people
    return DispatchSpec(
        index=index,
        direction=Direction.INTERNAL,
        kind=DispatchKind.NOTE,
        unit=cast.units["SG"],
        author=author,
        head=head,
        when=when,
        level=Level.CONFIDENTIAL,
        transmission=Transmission.ENCRYPTED,
        subject="Renouvellement périodique du matériel de chiffrement",
        body=_body(rng, SENTENCES, 2),
        tags=["SEC"],
        compartments=["CRYPTO"],
        routings=[RoutingSpec(unit=cast.units["SG/SEC"], kind=RoutingKind.ACTION)],
        place="Département",
    )


def _reply(
    rng: random.Random, cast: _Cast, index: int, when: datetime, answerable: list[tuple[DispatchSpec, RoutingSpec]]
) -> DispatchSpec | None:
    for _attempt in range(5):
        position = rng.randrange(len(answerable))
        original, routing = answerable[position]
        if when - original.when < timedelta(days=2):
            continue
        people = cast.writer(routing.unit, original.level, rng)
        if people is None:
            continue
        del answerable[position]
        author, head = people
        routings = (
            [RoutingSpec(unit=original.unit, kind=RoutingKind.ACTION)]
            if original.unit.pk != routing.unit.pk and original.direction != Direction.INCOMING
            else [RoutingSpec(unit=routing.unit, kind=RoutingKind.INFO)]
        )
        if original.direction == Direction.INCOMING:
            routings = [RoutingSpec(unit=original.unit, kind=RoutingKind.INFO)]
        subject = original.subject if original.subject.startswith("Re: ") else f"Re: {original.subject}"
        spec = DispatchSpec(
            index=index,
            direction=Direction.OUTGOING,
            kind=DispatchKind.LETTER if original.direction == Direction.INCOMING else original.kind,
            unit=routing.unit,
            author=author,
            head=head,
            when=when,
            level=original.level,
            transmission=original.transmission,
            subject=subject[:500],
            body=_body(rng, REPLY_SENTENCES, rng.randint(1, 2)),
            tags=list(original.tags),
            compartments=list(original.compartments),
            routings=routings,
            cites=[original],
            in_reply_to=original,
            place=routing.unit.city or "Département",
        )
        routing.answer = spec
        routing.answered_at = when
        routing.status = RoutingStatus.ANSWERED
        if routing.acknowledged_at is None:
            routing.acknowledged_at = when
            routing.acknowledged_by = author
        return spec
    return None


def _settle_routings(rng: random.Random, cast: _Cast, spec: DispatchSpec, now: datetime) -> None:
    """Statuses of the routings as they stand `now` (acknowledged, assigned, closed, read)."""
    for routing in spec.routings:
        if routing.kind == RoutingKind.INFO:
            routing.status = RoutingStatus.UNREAD
            if spec.status == DispatchStatus.SENT and now - spec.when > timedelta(days=3) and rng.random() < 0.75:
                routing.status = RoutingStatus.READ
                routing.read_by = cast.handler(routing.unit)
                routing.read_at = spec.when + timedelta(days=rng.randint(1, 3))
            continue
        routing.status = RoutingStatus.PENDING
        if spec.status != DispatchStatus.SENT:
            continue
        age = now - spec.when
        handler = cast.handler(routing.unit)
        if (age > timedelta(days=7) and rng.random() < 0.85) or (age > timedelta(days=1) and rng.random() < 0.5):
            routing.status = RoutingStatus.ACKNOWLEDGED
            routing.acknowledged_by = handler
            routing.acknowledged_at = spec.when + timedelta(hours=rng.randint(2, 48))
            if rng.random() < 0.5 and handler is not None:
                routing.status = RoutingStatus.ASSIGNED
                routing.assigned_to = handler
                routing.assigned_at = routing.acknowledged_at + timedelta(hours=rng.randint(1, 24))
            if age > timedelta(days=30) and rng.random() < 0.35:
                routing.status = RoutingStatus.CLOSED
                routing.closed_by = handler
                routing.closed_at = spec.when + timedelta(days=rng.randint(5, 25))


# --- writing -----------------------------------------------------------------------------


def _is_protected(spec: DispatchSpec) -> bool:
    return spec.level >= Level.RESTRICTED or spec.transmission == Transmission.ENCRYPTED


class _Writer:
    """Writes specs in batches: rows in bulk, content encrypted, dispatches signed."""

    def __init__(self) -> None:
        self.counters: dict[tuple[int, int], int] = {}
        for counter in NumberCounter.objects.all():
            self.counters[(counter.unit_id, counter.year)] = counter.last_number
        self.compartments = {c.code: c for c in Compartment.objects.all()}
        self.kek = keystore.current_kek()
        self.open_routings: list[tuple[int, RoutingSpec]] = []
        self.signers: dict[str, Callable[[bytes], tuple[int, bytes]]] = {}
        self.written = 0
        self.attachments = 0
        self.protected = 0

    def sign(self, owner: str, message: bytes) -> tuple[int, bytes]:
        """Like `crypto.services.sign_for`, the private key unwrapped once per unit (bulk loading)."""
        if owner not in self.signers:
            self.signers[owner] = signer_for(owner=owner)
        return self.signers[owner](message)

    def number(self, spec: DispatchSpec) -> None:
        if spec.status != DispatchStatus.SENT:
            return
        year = timezone.localtime(spec.when).year
        key = (spec.unit.pk, year)
        self.counters[key] = self.counters.get(key, 0) + 1
        spec.year, spec.number = year, self.counters[key]
        spec.reference = format_reference(unit_code=spec.unit.code, year=year, number=spec.number)

    def write(self, specs: list[DispatchSpec]) -> None:
        """One batch: every row built complete in Python (primary keys handed out first, so the
        encryption's associated data and the signatures are computed before the one INSERT of
        each table), then inserted with `insert_rows`."""
        for spec in specs:
            self.number(spec)
            if spec.status == DispatchStatus.SENT and spec.unit.code not in self.signers:
                # a unit's first signature creates its key (and a data key row): before any ids are taken
                self.signers[spec.unit.code] = signer_for(owner=spec.unit.code)
        # protected tags as keyed tokens, each distinct tag sealed once per batch; like the
        # signing keys, the hash keys and sealed terms are written before any ids are taken
        tokens = keyed.seal_terms(content.TAG_PURPOSE, [t for s in specs if _is_protected(s) for t in s.tags])
        hash_key = keyed.hash_key(content.ATTACHMENT_PURPOSE) if any(map(_is_protected, specs)) else None
        rows = []
        dispatch_ids = take_ids(Dispatch, len(specs))
        for spec, pk in zip(specs, dispatch_ids, strict=True):
            protected = _is_protected(spec)
            sent = spec.status == DispatchStatus.SENT
            row = Dispatch(
                pk=pk,
                direction=spec.direction,
                kind=spec.kind,
                status=spec.status,
                sending_unit_id=spec.unit.pk,
                author_id=spec.author.pk,
                reference=spec.reference,
                year=spec.year,
                number=spec.number,
                dated=(dated := spec.dated or timezone.localtime(spec.when).date()),
                declassify_on=dated + timedelta(days=REVIEW_AFTER_DAYS[spec.level])
                if spec.level in REVIEW_AFTER_DAYS
                else None,
                place="" if protected else spec.place[:100],
                external_reference=spec.external_reference,
                sender_name=spec.sender_name,
                transmission=spec.transmission,
                classification=spec.level,
                subject="" if protected else spec.subject,
                body="" if protected else spec.body,
                tags=[] if protected else spec.tags,
                tag_index=content.tag_index(spec.tags, protected=False)
                if not protected
                else ("|" + "|".join(tokens[t] for t in spec.tags) + "|" if spec.tags else ""),
                validated_by_id=spec.head.pk if spec.status != DispatchStatus.DRAFT else None,
                validated_at=spec.when if spec.status != DispatchStatus.DRAFT else None,
                sent_by_id=spec.head.pk if sent else None,
                sent_at=spec.when if sent else None,
                in_reply_to_id=spec.in_reply_to.obj.pk
                if spec.in_reply_to is not None and spec.in_reply_to.obj is not None
                else None,
            )
            rows.append(row)
            spec.obj = row
        through = Dispatch.compartments.through
        compartment_rows = [
            new_row(through, dispatch_id=spec.obj.pk, compartment_id=self.compartments[code].pk)
            for spec in specs
            if spec.obj is not None
            for code in spec.compartments
            if code in self.compartments
        ]
        for marked, pk in zip(compartment_rows, take_ids(through, len(compartment_rows)), strict=True):
            marked.pk = pk
        # one data key per protected dispatch
        protected_specs = [s for s in specs if s.obj is not None and s.obj.needs_encryption]
        key_rows: list[Row] = []
        plain_keys: dict[int, bytes] = {}
        for spec, key_pk in zip(protected_specs, take_ids(DataKey, len(protected_specs)), strict=True):
            assert spec.obj is not None
            plain = envelope.generate_data_key()
            key_row = new_row(DataKey, id=key_pk, wrapped_key=envelope.wrap_key(plain, self.kek), kek_id=self.kek.id)
            key_rows.append(key_row)
            spec.obj.data_key_id = key_pk
            plain_keys[spec.obj.pk] = plain
        self.protected += len(protected_specs)

        routing_rows, citation_rows = self._routings_and_citations(specs, plain_keys)
        attachment_rows, attachment_entries = self._attachments(specs, plain_keys, hash_key)
        for spec in specs:
            obj = spec.obj
            assert obj is not None
            marking = marking_text(spec.level, spec.compartments)
            if obj.pk in plain_keys:
                key = plain_keys[obj.pk]
                meta = content.DispatchMeta(place=spec.place[:100], tags=list(spec.tags))
                obj.meta_ciphertext = content.encrypt_meta(obj.pk, meta, key, marking)
                obj.subject_ciphertext = envelope.encrypt(
                    spec.subject.encode(), key, content.field_aad(obj.pk, "subject", marking)
                )
                obj.body_ciphertext = envelope.encrypt(
                    spec.body.encode(), key, content.field_aad(obj.pk, "body", marking)
                )
            if spec.status == DispatchStatus.SENT:
                canonical = build_canonical(
                    obj,
                    sending_unit=spec.unit.code,
                    author=spec.author.get_username(),
                    sent_by=spec.head.get_username(),
                    place=spec.place[:100],
                    tags=list(spec.tags),
                    marking={"level": int(spec.level), "compartments": sorted(spec.compartments)},
                    subject=spec.subject,
                    body=spec.body,
                    in_reply_to=spec.in_reply_to.reference if spec.in_reply_to else None,
                    citations=[(c.reference, "") for c in spec.cites] + [(None, e) for e in spec.external_refs],
                    routings=[(r.unit.code, r.kind, r.due_date) for r in spec.routings],
                    attachments=attachment_entries.get(obj.pk, []),
                )
                message = canonical_bytes(canonical)
                key_id, signature = self.sign(spec.unit.code, message)
                obj.signing_key_id = key_id
                obj.signature = signature
                obj.content_hash = hashlib.sha256(message).hexdigest()
        # Parents first (the foreign keys are checked at commit anyway).
        insert_rows(DataKey, key_rows)
        insert_rows(Dispatch, rows)
        insert_rows(through, compartment_rows)
        insert_rows(Routing, [row for row, _r in routing_rows])
        insert_rows(Citation, citation_rows)
        insert_rows(Attachment, attachment_rows)
        self.attachments += len(attachment_rows)
        # attributions still open may be answered by a reply written in a later batch
        self.open_routings.extend(
            (row.pk, r)
            for row, r in routing_rows
            if r.kind == RoutingKind.ACTION and row.answer_id is None and r.status != RoutingStatus.CLOSED
        )
        self.written += len(specs)

    def _routings_and_citations(
        self, specs: list[DispatchSpec], plain_keys: dict[int, bytes]
    ) -> tuple[list[tuple[Row, RoutingSpec]], list[Row]]:
        """The rows (with their primary keys) of the routings and citations of a batch."""
        rows: list[tuple[Row, RoutingSpec]] = []
        citations: list[Row] = []
        for spec in specs:
            assert spec.obj is not None
            for r in spec.routings:
                answer = r.answer.obj if r.answer is not None else None
                open_rank, due_key = Routing.sort_keys(r.kind, r.status, r.due_date)
                row = new_row(
                    Routing,
                    dispatch_id=spec.obj.pk,
                    unit_id=r.unit.pk,
                    kind=r.kind,
                    due_date=r.due_date,
                    status=r.status,
                    open_rank=open_rank,
                    due_key=due_key,
                    sent_at=spec.obj.sent_at,
                    acknowledged_by_id=_pk(r.acknowledged_by),
                    acknowledged_at=r.acknowledged_at,
                    assigned_to_id=_pk(r.assigned_to),
                    assigned_at=r.assigned_at,
                    closed_by_id=_pk(r.closed_by),
                    closed_at=r.closed_at,
                    read_by_id=_pk(r.read_by),
                    read_at=r.read_at,
                    answer_id=_pk(answer),
                    answered_at=r.answered_at if answer is not None else None,
                )
                rows.append((row, r))
            for cited in spec.cites:
                if cited.obj is not None:
                    citations.append(new_row(Citation, citing_id=spec.obj.pk, cited_id=cited.obj.pk))
            key = plain_keys.get(spec.obj.pk)
            if key is None:
                citations += [new_row(Citation, citing_id=spec.obj.pk, external_reference=ref) for ref in spec.external_refs]
            else:
                aad = content.citation_aad(spec.obj.pk, marking_text(spec.level, spec.compartments))
                citations += [
                    new_row(Citation, citing_id=spec.obj.pk, external_ciphertext=envelope.encrypt(ref.encode(), key, aad))
                    for ref in spec.external_refs
                ]
            actions = [r for r in spec.routings if r.kind == RoutingKind.ACTION]
            if spec.status == DispatchStatus.SENT and actions and all(r.closed_at for r in actions):
                spec.obj.closed_at = max(r.closed_at for r in actions if r.closed_at)
                spec.obj.status = DispatchStatus.CLOSED
        for (row, _r), pk in zip(rows, take_ids(Routing, len(rows)), strict=True):
            row.pk = pk
        for citation, pk in zip(citations, take_ids(Citation, len(citations)), strict=True):
            citation.pk = pk
        return rows, citations

    def link_answers(self) -> None:
        """Routings answered by a reply written since they were: record the answer."""
        updates = []
        still = []
        for pk, r in self.open_routings:
            if r.answer is not None and r.answer.obj is not None:
                routing = Routing(
                    pk=pk,
                    answer_id=r.answer.obj.pk,
                    answered_at=r.answered_at,
                    status=r.status,
                    kind=r.kind,
                    due_date=r.due_date,
                    acknowledged_at=r.acknowledged_at,
                    acknowledged_by=r.acknowledged_by,
                )
                routing.fill_sort_keys()
                updates.append(routing)
            else:
                still.append((pk, r))
        update_rows(
            Routing,
            updates,
            ["answer", "answered_at", "status", "acknowledged_at", "acknowledged_by", "open_rank", "due_key"],
        )
        self.open_routings = still

    def _attachments(
        self, specs: list[DispatchSpec], plain_keys: dict[int, bytes], hash_key: bytes | None
    ) -> tuple[list[Row], dict[int, list[dict[str, Any]]]]:
        """Files written (encrypted under the dispatch's key when protected) and their rows."""
        rows = []
        entries: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for spec in specs:
            obj = spec.obj
            assert obj is not None
            marking = marking_text(spec.level, spec.compartments)
            for position, (filename, content_type, data) in enumerate(spec.attachments, start=1):
                name = storage.new_name(obj.pk)
                key = plain_keys.get(obj.pk)
                storage.write(
                    name, data, data_key=key, aad=content.attachment_aad(name, marking) if key else None, durable=False
                )
                digest = hashlib.sha256(data).hexdigest()
                rows.append(
                    new_row(
                        Attachment,
                        dispatch_id=obj.pk,
                        position=position,
                        # the name follows the file: encrypted under the dispatch's key when protected
                        filename_clear="" if key else filename,
                        filename_ciphertext=envelope.encrypt(
                            filename.encode("utf-8"), key, content.filename_aad(obj.pk, position, marking)
                        )
                        if key
                        else None,
                        content_type=content_type,
                        size=len(data),
                        # keyed for a protected dispatch: the signed entry keeps the plain digest
                        sha256=content.file_digest(data, protected=True, key=hash_key)[0] if key else digest,
                        hash_keyed=key is not None,
                        storage_name=name,
                        encrypted=key is not None,
                        uploaded_by_id=spec.author.pk,
                        uploaded_at=spec.when,
                    )
                )
                entries[obj.pk].append({"n": position, "filename": filename, "size": len(data), "sha256": digest})
        for row, pk in zip(rows, take_ids(Attachment, len(rows)), strict=True):
            row.pk = pk
        return rows, entries

    def save_counters(self) -> None:
        existing = {(c.unit_id, c.year): c for c in NumberCounter.objects.all()}
        new = []
        for (unit_id, year), last in self.counters.items():
            row = existing.get((unit_id, year))
            if row is None:
                new.append(NumberCounter(unit_id=unit_id, year=year, last_number=last))
            elif row.last_number != last:
                NumberCounter.objects.filter(pk=row.pk).update(last_number=last)
        NumberCounter.objects.bulk_create(new)


def _pk(obj: Any) -> Any:
    return obj.pk if obj is not None else None


def write_correspondence(
    *,
    units: dict[str, Unit],
    users: dict[str, User],
    count: int,
    seed: int,
    batch: int = 2000,
    days: float = 365,
    progress: Any = None,
    end: datetime | None = None,
    now: datetime | None = None,
) -> dict[str, int]:
    """Generate and write `count` dispatches; returns counts. Runs in the caller's transaction."""
    writer = _Writer()
    buffer: list[DispatchSpec] = []
    for spec in generate_correspondence(
        units=units, users=users, count=count, seed=seed, days=days, end=end, now=now
    ):
        buffer.append(spec)
        if len(buffer) >= batch:
            _flush(writer, buffer, progress)
            buffer = []
    if buffer:
        _flush(writer, buffer, progress)
    writer.link_answers()
    writer.save_counters()
    return {"dispatches": writer.written, "attachments": writer.attachments, "protected": writer.protected}


def _flush(writer: _Writer, buffer: list[DispatchSpec], progress: Any) -> None:
    from chancery.correspondence.access_index import sync_dispatches

    writer.write(buffer)
    writer.link_answers()
    # Bulk rows send no signals: index the batch's dispatches (their status is final here).
    sync_dispatches(spec.obj.pk for spec in buffer if spec.obj is not None)
    if progress is not None:
        progress(writer.written)


def _remark_a_few(units: dict[str, Unit], users: dict[str, User], rng: random.Random) -> int:
    """A few authorised downgrades through the services (grant to the security officer)."""
    from chancery.correspondence import services

    security = users.get("security")
    if security is None:
        return 0
    done = 0
    candidates = list(
        Dispatch.objects.unrestricted("demo")
        .filter(
            status=DispatchStatus.SENT,
            classification=Level.CONFIDENTIAL,
            sending_unit__kind=UnitKind.MISSION,
            compartments__isnull=True,
        )
        .select_related("sending_unit")
        .order_by("sent_at")[:40]
    )
    rng.shuffle(candidates)
    for dispatch in candidates[:4]:
        head = users.get(f"hom.{_slug(dispatch.sending_unit.code)}")
        if head is None or not head.has_capability(Capability.VALIDATE_DISPATCH, unit=dispatch.sending_unit):
            continue
        services.grant_access(actor=head, dispatch=dispatch, user=security, reason="Review of the marking")
        services.change_marking(
            actor=security,
            dispatch=dispatch,
            classification=Level.RESTRICTED,
            reason="The event has taken place; the content no longer needs Confidentiel.",
        )
        done += 1
    return done


def populate(*, ministry: Any, seed: int, stdout: Any, count: int = DEFAULT_COUNT) -> None:
    """`chancery demo`: a year of correspondence (`count` dispatches) for the demo ministry."""
    started = timezone.now()
    with transaction.atomic():
        counts = write_correspondence(units=ministry.units, users=ministry.users, count=count, seed=seed)
        remarked = _remark_a_few(ministry.units, ministry.users, random.Random(seed + 1))
        record_event(
            action="correspondence.demo_loaded",
            details={**counts, "remarked": remarked, "seed": seed},
        )
    seconds = (timezone.now() - started).total_seconds()
    stdout.write(
        f"Demo correspondence: {counts['dispatches']} dispatches ({counts['protected']} encrypted at rest), "
        f"{counts['attachments']} attachments, in {seconds:.1f} s."
    )
