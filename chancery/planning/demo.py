"""Demo programmes: for every demo mission, the last two years and the current one, in all
states, with axes, objectives, actions, indicators and measurements, achievements,
revisions and HQ comments. Generic, neutral wording; deterministic for a given seed.

`populate` writes in bulk (no per-row services) to keep `chancery demo` fast.
`sample_programme` builds a small programme through the services (used by tests).
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from chancery.accounts.models import Membership, User
from chancery.accounts.roles import Role
from chancery.audit.services import record_event
from chancery.core.classification import Level
from chancery.planning import services
from chancery.planning.models import (
    Achievement,
    AchievementKind,
    Action,
    ActionStatus,
    Axis,
    AxisType,
    CommentTarget,
    Direction,
    Indicator,
    Measurement,
    Objective,
    PeriodType,
    Priority,
    Programme,
    ProgrammeComment,
    ProgrammeStatus,
    ProgrammeVersion,
    ProgressUpdate,
    ReportingPeriod,
    VersionKind,
)
from chancery.planning.versions import assemble

# The demo reads as a francophone ministry's data would: French, except where a mission would
# write otherwise (its action titles in English in English-speaking countries, in Arabic in
# Arab countries). The lists of titles have the same length in every language, so that the
# seeded choices, and the rest of the demo, do not depend on the language.
#
# axis key → (objectives, action titles, indicators (label, unit, baseline, target))
CONTENT: dict[str, dict[str, list[Any]]] = {
    "political": {
        "objectives": ["Approfondir le dialogue politique bilatéral", "Soutenir la coopération multilatérale"],
        "actions": [
            "Préparer les consultations politiques annuelles",
            "Organiser la visite d'une délégation parlementaire",
            "Tenir des réunions régulières avec le ministère des affaires étrangères",
            "Coordonner les positions en vue du sommet régional",
            "Informer l'administration centrale du calendrier électoral",
            "Suivre la ratification des accords en instance",
        ],
        "indicators": [("Visites de haut niveau", "visites", 2, 4), ("Accords signés", "accords", 1, 3)],
    },
    "economic": {
        "objectives": ["Accroître les échanges commerciaux bilatéraux", "Attirer les investissements"],
        "actions": [
            "Organiser un forum d'affaires",
            "Accompagner une mission commerciale d'entreprises nationales",
            "Recenser les opportunités d'investissement dans les secteurs clés",
            "Tenir la commission mixte économique",
            "Publier un bulletin économique trimestriel",
            "Rencontrer la chambre de commerce",
        ],
        "indicators": [
            ("Volume des échanges bilatéraux", "millions USD", 60, 75),
            ("Entreprises accompagnées", "entreprises", 10, 25),
        ],
    },
    "cultural": {
        "objectives": ["Promouvoir les échanges culturels", "Développer la coopération universitaire"],
        "actions": [
            "Organiser la semaine culturelle nationale",
            "Soutenir une projection dans un festival de cinéma",
            "Lancer une campagne d'information sur les bourses",
            "Signer un partenariat universitaire",
            "Tenir un stand au salon du livre",
        ],
        "indicators": [("Manifestations culturelles", "manifestations", 3, 6), ("Bourses attribuées", "étudiants", 15, 25)],
    },
    "communication": {
        "objectives": ["Améliorer la visibilité de la mission"],
        "actions": [
            "Publier chaque mois sur le site de la mission",
            "Accorder des entretiens aux médias locaux",
            "Organiser un point de presse pour la fête nationale",
            "Réaliser une courte vidéo de présentation",
        ],
        "indicators": [("Articles de presse", "articles", 12, 20), ("Visites du site", "milliers de visites", 8, 12)],
    },
    "consular": {
        "objectives": ["Améliorer les services aux ressortissants à l'étranger"],
        "actions": [
            "Tenir une journée consulaire itinérante",
            "Réduire les délais de délivrance des passeports",
            "Mettre à jour le registre des ressortissants",
            "Animer une séance d'information sur l'état civil",
        ],
        "indicators": [("Délai moyen de délivrance des passeports", "jours", 30, 20)],
    },
    "security": {
        "objectives": ["Renforcer la coopération en matière de sécurité"],
        "actions": ["Mettre à jour le plan de sûreté de la mission", "Conduire un exercice avec les services du pays hôte"],
        "indicators": [],
    },
}

# Action titles as missions in English-speaking countries write them.
ACTIONS_EN: dict[str, list[str]] = {
    "political": [
        "Prepare the annual political consultations",
        "Organise a visit by a parliamentary delegation",
        "Hold regular meetings with the foreign ministry",
        "Coordinate positions ahead of the regional summit",
        "Brief headquarters on the electoral calendar",
        "Follow the ratification of pending agreements",
    ],
    "economic": [
        "Organise a business forum",
        "Support a trade mission of national companies",
        "Map investment opportunities in key sectors",
        "Hold the joint economic commission",
        "Publish a quarterly economic bulletin",
        "Meet the chamber of commerce",
    ],
    "cultural": [
        "Organise the national cultural week",
        "Support a film festival screening",
        "Launch a scholarship information campaign",
        "Sign a university partnership",
        "Host a book fair stand",
    ],
    "communication": [
        "Publish monthly posts on the mission's website",
        "Give interviews to local media",
        "Organise a press briefing on national day",
        "Produce a short presentation video",
    ],
    "consular": [
        "Hold a mobile consular day",
        "Reduce passport processing times",
        "Update the register of nationals",
        "Run an information session on civil registration",
    ],
    "security": ["Update the mission's security plan", "Hold an exercise with the host services"],
}

# Action titles as missions in Arab countries write them.
ACTIONS_AR: dict[str, list[str]] = {
    "political": [
        "التحضير للمشاورات السياسية السنوية",
        "تنظيم زيارة وفد برلماني",
        "عقد اجتماعات منتظمة مع وزارة الخارجية",
        "تنسيق المواقف استعدادًا للقمة الإقليمية",
        "إطلاع الإدارة المركزية على الجدول الانتخابي",
        "متابعة المصادقة على الاتفاقيات المعلّقة",
    ],
    "economic": [
        "تنظيم منتدى أعمال",
        "مرافقة بعثة تجارية لشركات وطنية",
        "حصر فرص الاستثمار في القطاعات الرئيسية",
        "عقد اللجنة الاقتصادية المشتركة",
        "إصدار نشرة اقتصادية فصلية",
        "لقاء غرفة التجارة",
    ],
    "cultural": [
        "تنظيم الأسبوع الثقافي الوطني",
        "دعم عرض في مهرجان سينمائي",
        "إطلاق حملة إعلامية حول المنح الدراسية",
        "توقيع شراكة جامعية",
        "المشاركة بجناح في معرض الكتاب",
    ],
    "communication": [
        "النشر الشهري على موقع البعثة",
        "إجراء مقابلات مع وسائل الإعلام المحلية",
        "تنظيم لقاء صحفي بمناسبة العيد الوطني",
        "إنتاج شريط فيديو تعريفي قصير",
    ],
    "consular": [
        "تنظيم يوم قنصلي متنقل",
        "تقليص آجال إصدار جوازات السفر",
        "تحديث سجل المواطنين",
        "تنظيم جلسة إعلامية حول الحالة المدنية",
    ],
    "security": ["تحديث خطة أمن البعثة", "إجراء تمرين مع أجهزة البلد المضيف"],
}
ENGLISH_SPEAKING = {"AU", "GB", "GH", "IN", "KE", "NG", "US", "ZA"}
ARABIC_SPEAKING = {"EG", "JO", "QA", "SA"}


def _action_titles(mission: Any, axis_key: str) -> list[str]:
    """The action titles a mission would write for a volet: French, English or Arabic by its country."""
    if mission.country in ENGLISH_SPEAKING:
        return ACTIONS_EN[axis_key]
    if mission.country in ARABIC_SPEAKING:
        return ACTIONS_AR[axis_key]
    return list(CONTENT[axis_key]["actions"])


ACHIEVEMENTS = [
    (AchievementKind.VISIT, "Visite d'une délégation ministérielle", ""),
    (AchievementKind.AGREEMENT, "Signature d'un accord de coopération", ""),
    (AchievementKind.PRESS_ARTICLE, "Article sur la relation bilatérale", "Quotidien national"),
    (AchievementKind.PRESS_INTERVIEW, "Entretien du chef de mission", "Radio nationale"),
    (AchievementKind.PRESS_REPORTAGE, "Reportage télévisé sur la semaine culturelle", "Télévision publique"),
    (AchievementKind.CULTURAL_EVENT, "Concert pour la fête nationale", ""),
    (AchievementKind.MEETING, "Rencontre avec la communauté d'affaires", ""),
    (AchievementKind.OTHER, "Lancement du réseau des anciens boursiers", ""),
]

COMMENTS = [
    "Merci de préciser le budget prévu pour cette action.",
    "Envisager d'aligner le calendrier sur celui du sommet régional.",
    "Les indicateurs pourraient être plus précis.",
    "Bonne cohérence d'ensemble ; voir les remarques sur le volet économique.",
    "La mission pourrait-elle ajouter une cible pour la couverture de presse ?",
]
REPLIES = ["Bien noté ; le tableau a été mis à jour.", "L'estimation budgétaire suivra dans la prochaine version."]
REVISION_REASONS = [
    "Calendrier ajusté après le report des élections dans le pays hôte.",
    "Budget réparti à nouveau entre les volets économique et culturel.",
    "Action ajoutée à la suite de la visite annoncée par l'administration centrale.",
]

DEFAULT_AXES = ["political", "economic", "cultural", "communication", "consular"]


# Words only protected (Diffusion restreinte) programmes carry: what makes them protected.
PROTECTED_SUMMARIES = [
    "Volet réservé : accompagnement discret de la médiation entre les factions rivales du nord, "
    "sécurité des interlocuteurs et calendrier des rencontres officieuses.",
    "Priorités réservées : soutien à la négociation sur la libération des otages détenus "
    "dans la région frontalière, sous couvert de coopération humanitaire.",
    "Orientations réservées : suivi de l'influence étrangère dans les ministères régaliens "
    "et préparation d'une démarche conjointe avec les partenaires européens.",
]
PROTECTED_RISKS = [
    "Interlocuteur exposé à des représailles si la démarche est ébruitée.",
    "Contact ministériel réticent ; discrétion impérative sur la filière diplomatique.",
    "Échéance tributaire d'un émissaire officieux ; aucune communication publique.",
]


def _risk_note(protected: bool, index: int, noted: bool) -> str:
    if protected:
        return PROTECTED_RISKS[index % len(PROTECTED_RISKS)]
    return "Dépend du calendrier du pays hôte." if noted else ""


def _d(value: float) -> Decimal:
    return Decimal(str(round(value, 2)))


def _people(ministry: Any, mission: Any) -> dict[str, list[User]]:
    staff: dict[str, list[User]] = {"hom": [], "staff": []}
    for membership in Membership.objects.filter(unit=mission).select_related("user"):
        if membership.role == Role.HEAD_OF_MISSION:
            staff["hom"].append(membership.user)
        if membership.role in (Role.HEAD_OF_MISSION, Role.COUNSELLOR, Role.AGENT):
            staff["staff"].append(membership.user)
    return staff


def _desk_officer(mission: Any) -> User | None:
    if mission.hq_desk_id is None:
        return None
    membership = (
        Membership.objects.filter(unit_id=mission.hq_desk_id, role=Role.DESK_OFFICER).select_related("user").first()
    )
    return membership.user if membership else None


def _planner() -> User | None:
    membership = (
        Membership.objects.filter(role=Role.PLANNING_OFFICER, unit__function="planning")
        .select_related("user")
        .order_by("user__username")
        .first()
    )
    return membership.user if membership else None


def _sent_dispatches(mission: Any) -> list[tuple[int, date]]:
    """Dispatches the mission sent (from the correspondence demo), to cite in achievements."""
    try:
        from chancery.correspondence.models import RELEASED_STATUSES, Dispatch
    except ImportError:  # pragma: no cover - correspondence is optional for the demo
        return []
    return list(
        Dispatch.objects.unrestricted("demo data")
        .filter(sending_unit=mission, status__in=RELEASED_STATUSES)
        .order_by("pk")
        .values_list("pk", "dated")[:200]
    )


def _state_plan(rng: random.Random, mission_code: str, years: list[int]) -> dict[int, str]:
    """The state of each year's programme: older years closed, the current one spread over
    every state (Dakar: in execution, so the main demo agents see a full plan)."""
    first, middle, current = years
    if mission_code == "DAKAR":
        return {first: ProgrammeStatus.CLOSED, middle: ProgrammeStatus.CLOSED, current: ProgrammeStatus.IN_EXECUTION}
    if mission_code == "LIMA":
        return {first: ProgrammeStatus.CLOSED, middle: ProgrammeStatus.CLOSED, current: ProgrammeStatus.SUBMITTED}
    if mission_code == "ABIDJAN":
        return {first: ProgrammeStatus.CLOSED, middle: ProgrammeStatus.IN_EXECUTION, current: ProgrammeStatus.DRAFT}
    if mission_code == "ACCRA":
        return {first: ProgrammeStatus.CLOSED, middle: ProgrammeStatus.CLOSED, current: ProgrammeStatus.APPROVED}
    states = [
        ProgrammeStatus.DRAFT,
        ProgrammeStatus.SUBMITTED,
        ProgrammeStatus.APPROVED,
        ProgrammeStatus.IN_EXECUTION,
        ProgrammeStatus.IN_EXECUTION,
    ]
    return {
        first: ProgrammeStatus.CLOSED,
        middle: rng.choice([ProgrammeStatus.CLOSED, ProgrammeStatus.CLOSED, ProgrammeStatus.IN_EXECUTION]),
        current: rng.choice(states),
    }


def populate(*, ministry: Any, seed: int, stdout: Any = None) -> dict[str, int]:
    """Programmes for every demo mission, for the current year and the two before."""
    rng = random.Random(seed * 31 + 4)
    today = timezone.localdate()
    years = [today.year - 2, today.year - 1, today.year]
    axis_types = {t.key: t for t in AxisType.objects.all()}
    planner = _planner()
    counts = {"programmes": 0, "actions": 0, "indicators": 0, "measurements": 0, "achievements": 0, "versions": 0}
    missions = sorted(ministry.missions, key=lambda u: u.code)
    with transaction.atomic():
        for mission in missions:
            people = _people(ministry, mission)
            dispatch_pool = _sent_dispatches(mission)
            desk = _desk_officer(mission)
            states = _state_plan(rng, mission.code, years)
            previous: Programme | None = None
            for year in years:
                programme = _build(
                    rng=rng,
                    mission=mission,
                    year=year,
                    status=states[year],
                    today=today,
                    people=people,
                    desk=desk,
                    planner=planner,
                    axis_types=axis_types,
                    carried_from=previous,
                    counts=counts,
                    dispatch_pool=[d for d in dispatch_pool if d[1].year == year],
                )
                previous = programme
        record_event(action="planning.demo_loaded", details=counts)
    if stdout is not None:
        stdout.write(
            "Demo programmes: {programmes} programmes, {actions} actions, {indicators} indicators, "
            "{measurements} measurements, {achievements} achievements, {versions} versions.".format(**counts)
        )
    return counts


def _build(
    *,
    rng: random.Random,
    mission: Any,
    year: int,
    status: str,
    today: date,
    people: dict[str, list[User]],
    desk: User | None,
    planner: User | None,
    axis_types: dict[str, AxisType],
    carried_from: Programme | None,
    counts: dict[str, int],
    dispatch_pool: list[tuple[int, date]] | None = None,
) -> Programme:
    hom = people["hom"][0] if people["hom"] else None
    staff = people["staff"] or ([hom] if hom else [])
    keys = list(DEFAULT_AXES)
    if rng.random() < 0.25:
        keys.append("security")
    if rng.random() < 0.3:
        keys.remove(rng.choice(["consular", "communication"]))
    approved = status in (ProgrammeStatus.APPROVED, ProgrammeStatus.IN_EXECUTION, ProgrammeStatus.CLOSED)
    classification = Level.RESTRICTED if rng.random() < 0.2 else Level.UNCLASSIFIED
    protected = classification >= Level.RESTRICTED
    moment = timezone.make_aware(datetime(year, 1, 20, 10, 0)) if year < today.year else timezone.now()
    programme = Programme.objects.create(
        mission=mission,
        year=year,
        end_year=year,
        title=f"Programme d'action {year} — {mission.city or mission.code}",
        summary=PROTECTED_SUMMARIES[(mission.pk + year) % len(PROTECTED_SUMMARIES)]
        if protected
        else "Programme annuel de la mission : priorités par volet, actions, indicateurs et résultats attendus.",
        status=status,
        classification=classification,
        carried_over_from=carried_from,
        submitted_at=moment if status != ProgrammeStatus.DRAFT else None,
        submitted_by=hom if status != ProgrammeStatus.DRAFT else None,
        approved_at=moment if approved else None,
        approved_by=planner if approved else None,
        execution_started_at=moment if status in (ProgrammeStatus.IN_EXECUTION, ProgrammeStatus.CLOSED) else None,
        closed_at=moment if status == ProgrammeStatus.CLOSED else None,
        closed_by=hom if status == ProgrammeStatus.CLOSED else None,
    )
    counts["programmes"] += 1
    axes = Axis.objects.bulk_create(
        [
            Axis(
                programme=programme,
                axis_type=axis_types[k],
                position=(i + 1) * 10,
                narrative=f"Priorités du volet {axis_types[k].name_fr.lower()} pour {year}.",
            )
            for i, k in enumerate(keys)
            if k in axis_types
        ]
    )
    objectives: list[Objective] = []
    for axis in axes:
        for j, title in enumerate(CONTENT[axis.axis_type.key]["objectives"]):
            objectives.append(Objective(axis=axis, title=title, position=(j + 1) * 10))
    objectives = Objective.objects.bulk_create(objectives)
    by_axis: dict[int, list[Objective]] = {}
    for o in objectives:
        by_axis.setdefault(o.axis_id, []).append(o)

    # Actions: status follows the programme's life and today's date.
    actions: list[Action] = []
    year_start, year_end = date(year, 1, 1), date(year, 12, 31)
    for axis in axes:
        titles = _action_titles(mission, axis.axis_type.key)
        for j, title in enumerate(rng.sample(titles, k=min(len(titles), rng.randint(2, 4)))):
            start = year_start + timedelta(days=rng.randint(0, 250))
            end = min(start + timedelta(days=rng.randint(10, 120)), year_end)
            requested = Decimal(rng.choice([0, 2000, 5000, 8000, 12000, 20000, 35000]))
            if status == ProgrammeStatus.DRAFT or status == ProgrammeStatus.SUBMITTED:
                a_status, progress = ActionStatus.PROPOSED, 0
            elif end < today:
                a_status = rng.choice([ActionStatus.DONE] * 5 + [ActionStatus.POSTPONED, ActionStatus.CANCELLED])
                progress = 100 if a_status == ActionStatus.DONE else rng.choice([0, 20, 40])
            elif start <= today:
                a_status, progress = ActionStatus.IN_PROGRESS, rng.choice([10, 25, 40, 60, 75])
            else:
                a_status, progress = ActionStatus.APPROVED, 0
            approved_budget = (requested * Decimal(rng.choice(["1", "1", "0.8", "0.5"]))).quantize(Decimal("1"))
            spent = (approved_budget * progress / 100).quantize(Decimal("1")) if approved else Decimal(0)
            axis_objectives = by_axis.get(axis.pk, [])
            target = end if rng.random() < 0.7 else None
            actions.append(
                Action(
                    programme=programme,
                    axis=axis,
                    objective=rng.choice(axis_objectives) if axis_objectives else None,
                    title=title,
                    description=f"{title} — en lien avec les partenaires concernés du pays hôte.",
                    lead=rng.choice(staff) if staff else None,
                    start_date=start,
                    end_date=end,
                    target_date=target,
                    priority=rng.choice([Priority.HIGH, Priority.MEDIUM, Priority.MEDIUM, Priority.LOW]),
                    budget_requested=requested,
                    budget_approved=approved_budget if approved else Decimal(0),
                    budget_spent=spent,
                    currency="EUR",
                    status=a_status,
                    progress=progress,
                    risk_note=_risk_note(protected, j, rng.random() < 0.3),
                    position=(j + 1) * 10,
                )
            )
    actions = Action.objects.bulk_create(actions)
    counts["actions"] += len(actions)
    partner_codes: dict[int, list[str]] = {}
    if mission.hq_desk is not None:
        through = Action.partner_units.through
        links = [through(action_id=a.pk, unit_id=mission.hq_desk.pk) for a in actions if rng.random() < 0.3]
        through.objects.bulk_create(links)
        partner_codes = {link.action_id: [mission.hq_desk.code] for link in links}

    indicators: list[Indicator] = []
    for axis in axes:
        for j, (label, unit, base, target) in enumerate(CONTENT[axis.axis_type.key]["indicators"]):
            indicators.append(
                Indicator(
                    programme=programme,
                    axis=axis,
                    objective=next(iter(by_axis.get(axis.pk, [])), None),
                    label=label,
                    unit=unit,
                    direction=Direction.DECREASE if "time" in label.lower() else Direction.INCREASE,
                    data_source="Données de la mission" if j % 2 else "Statistiques du pays hôte",
                    baseline_value=Decimal(base),
                    baseline_year=year - 1,
                    approved_target=Decimal(target) if approved else None,
                    target_year=year,
                    position=(len(indicators) + 1) * 10,
                )
            )
    indicators = Indicator.objects.bulk_create(indicators)
    counts["indicators"] += len(indicators)

    # Reporting periods (quarters) and, for approved programmes, measurements and progress.
    periods = []
    if approved:
        for q in range(1, 5):
            start, end = ReportingPeriod.bounds(PeriodType.QUARTER, year, q)
            deadline = end + timedelta(days=15)
            periods.append(
                ReportingPeriod(
                    programme=programme,
                    period_type=PeriodType.QUARTER,
                    start=start,
                    end=end,
                    deadline=deadline,
                    closed=status == ProgrammeStatus.CLOSED or deadline < today - timedelta(days=30),
                )
            )
        periods = ReportingPeriod.objects.bulk_create(periods)
    past = [p for p in periods if p.end < today]
    measurements = []
    for ind in indicators:
        base = float(ind.baseline_value or 0)
        goal = float(ind.approved_target or base)
        for k, p in enumerate(past):
            value = base + (goal - base) * (k + 1) / 4 * rng.uniform(0.7, 1.2)
            measurements.append(
                Measurement(
                    indicator=ind,
                    period_type=PeriodType.QUARTER,
                    period_start=p.start,
                    period_end=p.end,
                    value=_d(value),
                    evidence="Figures from the mission's quarterly report.",
                    recorded_by=staff[0] if staff else None,
                )
            )
    Measurement.objects.bulk_create(measurements)
    counts["measurements"] += len(measurements)
    updates = []
    for p in past:
        # The latest past period is left partly unreported, so overdue updates show up.
        for a in actions:
            if a.start_date and a.start_date > p.end:
                continue
            if p is past[-1] and status == ProgrammeStatus.IN_EXECUTION and rng.random() < 0.4:
                continue
            updates.append(
                ProgressUpdate(
                    action=a,
                    period=p,
                    progress=min(a.progress, 25 * (past.index(p) + 1)),
                    status=a.status,
                    note="Conforme au calendrier." if a.status != ActionStatus.POSTPONED else "Reportée à la demande du pays hôte.",
                    recorded_by=a.lead,
                )
            )
    ProgressUpdate.objects.bulk_create(updates)

    # Achievements.
    achievements = []
    if approved:
        done = [a for a in actions if a.status in (ActionStatus.DONE, ActionStatus.IN_PROGRESS)]
        for kind, title, outlet in rng.sample(ACHIEVEMENTS, k=rng.randint(2, 5)):
            when = year_start + timedelta(days=rng.randint(15, 340))
            if when > today:
                when = today - timedelta(days=rng.randint(1, 20))
            achievements.append(
                Achievement(
                    programme=programme,
                    kind=kind,
                    date=when,
                    title=title,
                    description="Compte rendu adressé à l'administration centrale par dépêche.",
                    outlet=outlet,
                    link="https://example.org/press" if outlet else "",
                    created_by=staff[0] if staff else None,
                )
            )
        achievements = Achievement.objects.bulk_create(achievements)
        achievement_links = Achievement.actions.through
        achievement_links.objects.bulk_create(
            [achievement_links(achievement_id=ach.pk, action_id=rng.choice(done).pk) for ach in achievements if done]
        )
        if dispatch_pool:
            # Achievements cite the dispatch that reported them (sent by the mission that year).
            cited = Achievement.dispatches.through
            cited.objects.bulk_create(
                [cited(achievement_id=ach.pk, dispatch_id=rng.choice(dispatch_pool)[0]) for ach in achievements]
            )
    counts["achievements"] += len(achievements)

    # Versions: submitted, baseline, revisions, final.
    numbers = 0
    version_rows: list[ProgrammeVersion] = []

    def version(kind: str, reason: str = "", author: User | None = None) -> ProgrammeVersion:
        nonlocal numbers
        numbers += 1
        row = ProgrammeVersion(
            programme=programme,
            number=numbers,
            kind=kind,
            reason=reason,
            snapshot=assemble(programme, axes, objectives, actions, indicators, partners=partner_codes, dispatches={}),
            created_by=author,
        )
        version_rows.append(row)
        return row

    baseline = None
    if status != ProgrammeStatus.DRAFT:
        version(VersionKind.SUBMITTED, author=hom)
    if approved:
        baseline = version(VersionKind.BASELINE, author=planner)
        for r in range(rng.randint(0, 2) if status != ProgrammeStatus.APPROVED else 0):
            _revise_in_place(rng, programme, actions, indicators, staff)
            version(VersionKind.REVISION, reason=REVISION_REASONS[r % len(REVISION_REASONS)], author=hom)
        if status == ProgrammeStatus.CLOSED:
            version(VersionKind.FINAL, author=hom)
    ProgrammeVersion.objects.bulk_create(version_rows)
    counts["versions"] += len(version_rows)
    if baseline is not None:
        baseline_pk = ProgrammeVersion.objects.unrestricted("demo").get(programme=programme, number=baseline.number).pk
        Programme.objects.unrestricted("demo").filter(pk=programme.pk).update(
            baseline_version_id=baseline_pk, current_version=numbers
        )
    elif numbers:
        Programme.objects.unrestricted("demo").filter(pk=programme.pk).update(current_version=numbers)

    # HQ comments (threaded) on submitted programmes.
    if desk is not None and status != ProgrammeStatus.DRAFT:
        root = ProgrammeComment.objects.create(programme=programme, author=desk, body=rng.choice(COMMENTS))
        if hom is not None and rng.random() < 0.6:
            ProgrammeComment.objects.create(programme=programme, author=hom, parent=root, body=rng.choice(REPLIES))
        if actions:
            commented = rng.choice(actions)
            ProgrammeComment.objects.create(
                programme=programme,
                author=desk,
                target_type=CommentTarget.ACTION,
                target_id=commented.pk,
                body=rng.choice(COMMENTS),
            )
    return programme


def _revise_in_place(
    rng: random.Random, programme: Programme, actions: list[Action], indicators: list[Indicator], staff: list[User]
) -> None:
    """Change a few things after approval: re-date, re-budget, add an action, revise a target."""
    if actions:
        moved = rng.choice(actions)
        if moved.end_date:
            moved.end_date = min(moved.end_date + timedelta(days=30), date(programme.year, 12, 31))
            if moved.target_date:
                moved.target_date = moved.end_date
            Action.objects.filter(pk=moved.pk).update(end_date=moved.end_date, target_date=moved.target_date)
        budget = rng.choice(actions)
        budget.budget_approved = budget.budget_approved + Decimal(1500)
        Action.objects.filter(pk=budget.pk).update(budget_approved=budget.budget_approved)
        base = actions[0]
        added = Action.objects.create(
            programme=programme,
            axis_id=base.axis_id,
            objective_id=base.objective_id,
            title="Action supplémentaire décidée en cours d'année",
            description="Ajoutée par révision.",
            lead=rng.choice(staff) if staff else None,
            start_date=date(programme.year, 9, 1),
            end_date=date(programme.year, 11, 30),
            status=ActionStatus.APPROVED,
            budget_requested=Decimal(3000),
            budget_approved=Decimal(3000),
            position=999,
        )
        actions.append(added)
    if indicators:
        ind = rng.choice(indicators)
        if ind.approved_target is not None:
            ind.revised_target = (ind.approved_target * Decimal("1.1")).quantize(Decimal("0.01"))
            Indicator.objects.filter(pk=ind.pk).update(revised_target=ind.revised_target)


# --------------------------------------------------------------------------- for tests


def sample_programme(
    *,
    mission: Any,
    year: int,
    user: User,
    axes: tuple[str, ...] = ("political", "economic", "cultural"),
    actions_per_axis: int = 2,
    indicators: int = 2,
) -> Programme:
    """A small draft programme built through the services (as `user`, mission staff)."""
    programme = services.create_programme(user=user, mission=mission, year=year, axis_types=list(axes))
    axis_rows = list(Axis.objects.unrestricted("test data").filter(programme=programme).order_by("position"))
    for axis in axis_rows:
        objective = services.create_objective(user=user, axis=axis, title=f"Objective of {axis.axis_type.key}")
        for n in range(actions_per_axis):
            services.create_action(
                user=user,
                programme=programme,
                axis=axis,
                objective=objective,
                title=f"{axis.axis_type.key.title()} action {n + 1}",
                description="Generic test action.",
                lead=user,
                start_date=date(year, 2 + n, 1),
                end_date=date(year, 3 + n, 15),
                target_date=date(year, 3 + n, 15),
                priority=Priority.HIGH if n == 0 else Priority.MEDIUM,
                budget_requested=Decimal(1000 * (n + 1)),
                currency="EUR",
            )
    for n in range(indicators):
        services.create_indicator(
            user=user,
            programme=programme,
            label=f"Indicator {n + 1}",
            axis=axis_rows[n % len(axis_rows)],
            unit="million USD" if n == 0 else "events",
            baseline_value=Decimal(60 + n),
            baseline_year=year - 1,
            approved_target=Decimal(75 + n),
            target_year=year,
        )
    programme.refresh_from_db()
    return programme
