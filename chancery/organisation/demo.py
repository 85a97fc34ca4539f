"""The demo ministry: HQ directorates and divisions, regions, ~40 missions in real capitals,
and ~170 agents across every role and clearance. Deterministic for a given seed; neutral,
fictional people."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from chancery.accounts.models import Membership, User
from chancery.accounts.roles import Role
from chancery.core.classification import Level
from chancery.core.models import Compartment
from chancery.organisation.models import MissionKind, Unit, UnitFunction, UnitKind
from chancery.organisation.services import create_unit

DEMO_PASSWORD = "Chancery-demo-2026"  # noqa: S105 - the published demo password

COMPARTMENTS = [("CRYPTO", "Cryptographic material"), ("PERSONNEL", "Personnel matters")]

# (code, name, function, divisions [(code, name, function)])
HQ = [
    ("SG", "Secrétariat général", "", [
        ("SG/4", "Division de la planification et du suivi", UnitFunction.PLANNING),
        ("SG/5", "Inspection générale des postes", UnitFunction.INSPECTION),
        ("SG/SEC", "Service de la sécurité", UnitFunction.SECURITY),
        ("SG/BO", "Bureau d'ordre central", UnitFunction.REGISTRY),
        ("SG/DSI", "Service des systèmes d'information", ""),
    ]),
    ("DG2", "Direction générale des affaires politiques", "", [
        ("DG2/1", "Division des affaires multilatérales", ""),
        ("DG2/4", "Division des affaires stratégiques", ""),
    ]),
    ("DG3", "Direction générale des affaires économiques", "", [
        ("DG3/1", "Division du commerce extérieur", ""),
        ("DG3/2", "Division de l'investissement", ""),
    ]),
    ("DG7", "Direction générale de la coopération culturelle", "", [
        ("DG7/1", "Division des échanges culturels", ""),
        ("DG7/6", "Division de la diplomatie publique", ""),
    ]),
    ("DCP", "Direction de la communication et de la presse", "", [
        ("DCP/5", "Bureau de presse", ""),
    ]),
    ("DAB", "Direction de l'Afrique", "", [("DAB/1", "Afrique de l'Ouest", ""), ("DAB/2", "Afrique centrale et orientale", "")]),
    ("DAM", "Direction des Amériques", "", [("DAM/1", "Amérique du Nord", ""), ("DAM/2", "Amérique latine", "")]),
    ("DEU", "Direction de l'Europe", "", [("DEU/1", "Europe occidentale", ""), ("DEU/2", "Europe centrale et du Nord", "")]),
    ("DAS", "Direction de l'Asie et de l'Océanie", "", [("DAS/1", "Asie de l'Est", ""), ("DAS/2", "Asie du Sud et Océanie", "")]),
    ("DMO", "Direction du Moyen-Orient", "", [("DMO/1", "Proche-Orient", ""), ("DMO/2", "Golfe", "")]),
]

# region code, name, missions: (code, city, country, desk, kind)
REGIONS = [
    ("RAFR", "Région Afrique", [
        ("DAKAR", "Dakar", "SN", "DAB/1", MissionKind.EMBASSY), ("ABIDJAN", "Abidjan", "CI", "DAB/1", MissionKind.EMBASSY),
        ("ACCRA", "Accra", "GH", "DAB/1", MissionKind.EMBASSY), ("ABUJA", "Abuja", "NG", "DAB/1", MissionKind.EMBASSY),
        ("RABAT", "Rabat", "MA", "DAB/1", MissionKind.EMBASSY), ("TUNIS", "Tunis", "TN", "DAB/1", MissionKind.EMBASSY),
        ("YAOUNDE", "Yaoundé", "CM", "DAB/2", MissionKind.EMBASSY), ("NAIROBI", "Nairobi", "KE", "DAB/2", MissionKind.EMBASSY),
        ("ADDIS", "Addis-Abeba", "ET", "DAB/2", MissionKind.EMBASSY), ("PRETORIA", "Pretoria", "ZA", "DAB/2", MissionKind.EMBASSY),
    ]),
    ("RAME", "Région Amériques", [
        ("OTT", "Ottawa", "CA", "DAM/1", MissionKind.EMBASSY), ("MONTREAL", "Montréal", "CA", "DAM/1", MissionKind.CONSULATE),
        ("WASH", "Washington", "US", "DAM/1", MissionKind.EMBASSY), ("NYPR", "New York", "US", "DG2/1", MissionKind.PERMANENT_REPRESENTATION),
        ("MEXICO", "Mexico", "MX", "DAM/2", MissionKind.EMBASSY), ("BRASILIA", "Brasília", "BR", "DAM/2", MissionKind.EMBASSY),
        ("BAIRES", "Buenos Aires", "AR", "DAM/2", MissionKind.EMBASSY), ("LIMA", "Lima", "PE", "DAM/2", MissionKind.EMBASSY),
        ("SANTIAGO", "Santiago", "CL", "DAM/2", MissionKind.EMBASSY), ("BOGOTA", "Bogotá", "CO", "DAM/2", MissionKind.EMBASSY),
    ]),
    ("REUR", "Région Europe", [
        ("PARIS", "Paris", "FR", "DEU/1", MissionKind.EMBASSY), ("MADRID", "Madrid", "ES", "DEU/1", MissionKind.EMBASSY),
        ("ROME", "Rome", "IT", "DEU/1", MissionKind.EMBASSY), ("BRUXELLES", "Bruxelles", "BE", "DEU/1", MissionKind.EMBASSY),
        ("LONDRES", "Londres", "GB", "DEU/1", MissionKind.EMBASSY), ("LISBONNE", "Lisbonne", "PT", "DEU/1", MissionKind.EMBASSY),
        ("BERLIN", "Berlin", "DE", "DEU/2", MissionKind.EMBASSY), ("VIENNE", "Vienne", "AT", "DEU/2", MissionKind.EMBASSY),
        ("VARSOVIE", "Varsovie", "PL", "DEU/2", MissionKind.EMBASSY), ("STOCKHOLM", "Stockholm", "SE", "DEU/2", MissionKind.EMBASSY),
        ("GENEVEPR", "Genève", "CH", "DG2/1", MissionKind.PERMANENT_REPRESENTATION),
    ]),
    ("RASI", "Région Asie-Océanie", [
        ("TOKYO", "Tokyo", "JP", "DAS/1", MissionKind.EMBASSY), ("PEKIN", "Pékin", "CN", "DAS/1", MissionKind.EMBASSY),
        ("SEOUL", "Séoul", "KR", "DAS/1", MissionKind.EMBASSY), ("NEWDELHI", "New Delhi", "IN", "DAS/2", MissionKind.EMBASSY),
        ("JAKARTA", "Jakarta", "ID", "DAS/2", MissionKind.EMBASSY), ("CANBERRA", "Canberra", "AU", "DAS/2", MissionKind.EMBASSY),
    ]),
    ("RMOA", "Région Moyen-Orient", [
        ("LECAIRE", "Le Caire", "EG", "DMO/1", MissionKind.EMBASSY), ("AMMAN", "Amman", "JO", "DMO/1", MissionKind.EMBASSY),
        ("RIYAD", "Riyad", "SA", "DMO/2", MissionKind.EMBASSY), ("DOHA", "Doha", "QA", "DMO/2", MissionKind.EMBASSY),
    ]),
]

ALIASES = {
    "DCP/5": ["Press Office", "Bureau de presse", "Service de presse"],
    "SG/4": ["Planification", "Planning Division"],
    "SG/BO": ["Bureau d'ordre", "Central Registry"],
}

FIRST_NAMES = ["Amina", "Bruno", "Carmen", "David", "Elena", "Farid", "Grace", "Hugo", "Inès", "Jonas", "Karim",
               "Léa", "Marta", "Nadia", "Omar", "Paula", "Quentin", "Rania", "Samuel", "Tariq", "Ursula",
               "Victor", "Wafa", "Yasmine", "Zoé", "Aurélien", "Béatrice", "Chloé", "Driss", "Emma"]
LAST_NAMES = ["Martin", "Benali", "García", "Dupont", "Haddad", "Moreau", "Ndiaye", "Rossi", "Schmidt", "Tanaka",
              "Lefebvre", "Mansour", "Silva", "Petit", "Kowalski", "Diallo", "Laurent", "Nakamura", "Roux",
              "Fontaine", "Okafor", "Mercier", "Santos", "Girard", "Bernard", "Chevalier", "Lambert", "Faure"]


@dataclass
class DemoMinistry:
    units: dict[str, Unit] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)

    @property
    def missions(self) -> list[Unit]:
        return [u for u in self.units.values() if u.kind == UnitKind.MISSION]


def build_ministry(*, seed: int) -> DemoMinistry:
    rng = random.Random(seed)
    ministry = DemoMinistry()
    for code, name in COMPARTMENTS:
        Compartment.objects.get_or_create(code=code, defaults={"name": name})

    def unit(code: str, name: str, kind: str, parent: Unit | None, **extra: Any) -> Unit:
        created = create_unit(actor=None, parent=parent, code=code, name=name, kind=kind,
                              aliases=ALIASES.get(code, []), **extra)
        ministry.units[code] = created
        return created

    for code, name, function, divisions in HQ:
        directorate = unit(code, name, UnitKind.DIRECTORATE, None, function=function)
        for div_code, div_name, div_function in divisions:
            unit(div_code, div_name, UnitKind.DIVISION, directorate, function=div_function)
    for region_code, region_name, missions in REGIONS:
        region = unit(region_code, region_name, UnitKind.REGION, None)
        for code, city, country, desk, kind in missions:
            label = {"embassy": "Ambassade à", "consulate": "Consulat général à",
                     "permanent_representation": "Représentation permanente à"}[kind]
            unit(code, f"{label} {city}", UnitKind.MISSION, region, mission_kind=kind, country=country, city=city,
                 hq_desk=ministry.units[desk])

    password_hash = _demo_password_hash()
    names = [(first, last) for first in FIRST_NAMES for last in LAST_NAMES]
    rng.shuffle(names)
    name_iter = iter(names)

    def agent(username: str, unit_code: str, role: str, level: int, compartments: tuple[str, ...] = (),
              superuser: bool = False) -> User:
        first, last = next(name_iter)
        user = User.objects.create(
            username=username, first_name=first, last_name=last, email=f"{username}@ministry.invalid",
            clearance_level=level, password=password_hash, is_superuser=superuser, is_staff=superuser,
        )
        if compartments:
            user.clearance_compartments.set(Compartment.objects.filter(code__in=compartments))
        Membership.objects.create(user=user, unit=ministry.units[unit_code], role=role)
        ministry.users[username] = user
        return user

    # Headquarters.
    agent("admin", "SG/DSI", Role.ADMINISTRATOR, Level.RESTRICTED, superuser=True)
    agent("admin.dsi", "SG/DSI", Role.ADMINISTRATOR, Level.RESTRICTED)
    agent("sg", "SG", Role.DIRECTOR, Level.SECRET, ("CRYPTO", "PERSONNEL"))
    agent("plan.sg4", "SG/4", Role.PLANNING_OFFICER, Level.CONFIDENTIAL)
    agent("plan2.sg4", "SG/4", Role.PLANNING_OFFICER, Level.RESTRICTED)
    agent("inspect.sg5", "SG/5", Role.INSPECTION_OFFICER, Level.CONFIDENTIAL)
    agent("inspect2.sg5", "SG/5", Role.INSPECTION_OFFICER, Level.SECRET)
    agent("security", "SG/SEC", Role.SECURITY_OFFICER, Level.SECRET, ("CRYPTO", "PERSONNEL"))
    agent("security2", "SG/SEC", Role.SECURITY_OFFICER, Level.SECRET, ("CRYPTO",))
    agent("clerk.sgbo", "SG/BO", Role.REGISTRY_CLERK, Level.RESTRICTED)
    agent("clerk2.sgbo", "SG/BO", Role.REGISTRY_CLERK, Level.CONFIDENTIAL)
    agent("auditor", "SG", Role.AUDITOR, Level.RESTRICTED)
    for code, _name, _function, divisions in HQ:
        if code != "SG":
            agent(f"director.{_slug(code)}", code, Role.DIRECTOR, Level.SECRET)
        for div_code, _div_name, div_function in divisions:
            if div_function or div_code == "SG/DSI":
                continue
            agent(f"head.{_slug(div_code)}", div_code, Role.DIRECTOR, Level.CONFIDENTIAL)
            agent(f"desk.{_slug(div_code)}", div_code, Role.DESK_OFFICER, Level.CONFIDENTIAL)
    # Missions: a head, one or two counsellors, a registry clerk.
    for mission in ministry.missions:
        slug = _slug(mission.code)
        agent(f"hom.{slug}", mission.code, Role.HEAD_OF_MISSION, rng.choice([Level.CONFIDENTIAL, Level.SECRET]))
        agent(f"counsellor.{slug}", mission.code, Role.COUNSELLOR,
              rng.choice([Level.RESTRICTED, Level.RESTRICTED, Level.CONFIDENTIAL]))
        if rng.random() < 0.3:
            agent(f"counsellor2.{slug}", mission.code, Role.COUNSELLOR, Level.RESTRICTED)
        agent(f"clerk.{slug}", mission.code, Role.REGISTRY_CLERK, Level.RESTRICTED)
    return ministry


def add_missions(ministry: DemoMinistry, *, total: int, seed: int) -> int:
    """Grow the ministry to `total` missions (`chancery generate dispatches --missions 200`): more
    embassies, spread over the regions and followed by their regions' desks, each with a head, a
    counsellor and a registry clerk, as the demo's own. Returns how many were added."""
    rng = random.Random(seed * 7 + 3)
    missions = sorted(ministry.missions, key=lambda u: u.code)
    regions = sorted((u for u in ministry.units.values() if u.kind == UnitKind.REGION), key=lambda u: u.code)
    desks_of = {
        region.pk: sorted({m.hq_desk for m in missions if m.parent_id == region.pk and m.hq_desk}, key=lambda u: u.code)
        for region in regions
    }
    regions = [r for r in regions if desks_of[r.pk]]
    if not regions:
        return 0
    password_hash = User.objects.unrestricted("demo").exclude(password="").values_list("password", flat=True).first()
    names = [(first, last) for first in FIRST_NAMES for last in LAST_NAMES]
    added = 0
    number = 0
    while len(missions) + added < total:
        number += 1
        code = f"POSTE{number:03d}"
        if code in ministry.units:
            continue
        region = regions[number % len(regions)]
        city = f"Ville {number:03d}"
        unit = create_unit(actor=None, parent=region, code=code, name=f"Ambassade à {city}", kind=UnitKind.MISSION,
                           mission_kind=MissionKind.EMBASSY, country="X" + chr(ord("A") + number % 26), city=city,
                           hq_desk=rng.choice(desks_of[region.pk]))
        ministry.units[code] = unit
        slug = _slug(code)
        for username, role, level in (
            (f"hom.{slug}", Role.HEAD_OF_MISSION, rng.choice([Level.CONFIDENTIAL, Level.SECRET])),
            (f"counsellor.{slug}", Role.COUNSELLOR, rng.choice([Level.RESTRICTED, Level.CONFIDENTIAL])),
            (f"clerk.{slug}", Role.REGISTRY_CLERK, Level.RESTRICTED),
        ):
            first, last = rng.choice(names)
            user = User.objects.create(
                username=username, first_name=first, last_name=last, email=f"{username}@ministry.invalid",
                clearance_level=level, password=password_hash or "!",
            )
            Membership.objects.create(user=user, unit=unit, role=role)
            ministry.users[username] = user
        added += 1
    return added


def _slug(code: str) -> str:
    return code.lower().replace("/", "")


def _demo_password_hash() -> str:
    from django.contrib.auth.hashers import make_password

    # One Argon2 hash shared by every demo agent: hashing 170 times would take most of a minute.
    return make_password(DEMO_PASSWORD)


DEMO_LOGINS = [
    ("admin", "super-administrator and administrator (SG/DSI)"),
    ("hom.dakar", "head of mission, Dakar (second factor set up at first sign-in)"),
    ("counsellor.dakar", "counsellor, Dakar"),
    ("clerk.sgbo", "registry clerk, central registry"),
    ("desk.dab1", "headquarters desk officer, West Africa (DAB/1)"),
    ("director.dab", "director, Africa (DAB)"),
    ("plan.sg4", "planning officer (SG/4)"),
    ("inspect.sg5", "inspection officer (SG/5)"),
    ("security", "security officer"),
    ("auditor", "auditor"),
]


def load_ministry() -> DemoMinistry:
    """The demo ministry already in the database (as built by build_ministry)."""
    ministry = DemoMinistry()
    ministry.units = {u.code: u for u in Unit.objects.unrestricted("demo").all()}
    ministry.users = {u.username: u for u in User.objects.unrestricted("demo").all()}
    return ministry
