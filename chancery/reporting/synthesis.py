"""The execution synthesis: its snapshot, and the report a given reader may see.

`build_snapshot(user, programme)` reads everything through `user`'s gate and returns plain
JSON (decimals as strings): volets with completion and budget, the indicator table with
status, achievements with their evidence files and cited dispatches, budget execution,
revisions, and the dispatches cited. Freezing stores it (sealed); until then the report is
built live and says it is provisional.

`report_for(user, programme)` is what every output (page, PDF, DOCX, XLSX, API) renders:
the snapshot restricted to what the reader may see today, with the marking derived from
what it contains and a notice when items were left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.urls import reverse
from django.utils import timezone

from chancery.core.classification import Level, Marking
from chancery.correspondence import content as dispatch_content
from chancery.correspondence.models import Dispatch
from chancery.planning.models import (
    Achievement,
    AchievementEvidence,
    Action,
    ActionStatus,
    Axis,
    Indicator,
    Programme,
    ProgrammeVersion,
    VersionKind,
)
from chancery.reporting import figures, sealed, texts
from chancery.reporting.models import Synthesis
from chancery.reporting.selectors import action_figures

if TYPE_CHECKING:
    from chancery.accounts.models import User

SNAPSHOT_VERSION = 1


def _money(value: Any) -> str:
    return str(Decimal(value or 0).quantize(Decimal("0.01")))


def _num(value: Any) -> str | None:
    """A decimal as plain text without trailing zeros ("20", "12.5"), never "2E+1"."""
    return None if value is None else format(Decimal(value).normalize(), "f")


def _budgets(entry: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {cur: {k: _money(v) for k, v in b.items()} for cur, b in sorted(entry.get("budgets", {}).items())}


def build_snapshot(user: User, programme: Programme, *, today: date | None = None) -> dict[str, Any]:
    """Everything the synthesis states, read through `user`'s gate (see module doc)."""
    today = today or timezone.localdate()
    gated_programme = Programme.objects.visible_to(user).filter(pk=programme.pk)
    acts = Action.objects.visible_to(user).filter(programme__in=gated_programme).exclude(status=ActionStatus.CANCELLED)
    axes = list(
        Axis.objects.visible_to(user)
        .filter(programme__in=gated_programme)
        .select_related("axis_type")
        .order_by("position", "pk")
    )
    by_axis = action_figures(acts, "axis_id")
    total = action_figures(acts, None).get(None, {})
    expected = figures.expected_share(programme.year, today)
    indicators = list(
        figures.with_status(Indicator.objects.visible_to(user).filter(programme__in=gated_programme), expected=expected)
        .select_related("axis__axis_type")
        .order_by("position", "pk")
    )
    measurement_files = dict(
        _measurements_with_files([i.actual_measurement_id for i in indicators if i.actual_measurement_id])
    )
    achievements = list(
        Achievement.objects.visible_to(user).filter(programme__in=gated_programme).order_by("date", "pk")
    )
    evidence: dict[int, list[dict[str, Any]]] = {}
    for ev in AchievementEvidence.objects.visible_to(user).filter(achievement__in=achievements).order_by("pk"):
        evidence.setdefault(ev.achievement_id, []).append({"id": ev.pk, "filename": ev.filename})
    cited_by_achievement: dict[int, list[int]] = {}
    for aid, did in Achievement.dispatches.through.objects.filter(achievement__in=achievements).values_list(
        "achievement_id", "dispatch_id"
    ):
        cited_by_achievement.setdefault(aid, []).append(did)
    action_cites = set(
        Action.dispatches.through.objects.filter(action__in=acts.values("pk")).values_list("dispatch_id", flat=True)
    )
    wanted = action_cites | {d for ds in cited_by_achievement.values() for d in ds}
    if programme.submission_dispatch_id:
        wanted.add(programme.submission_dispatch_id)
    dispatches = _dispatch_entries(user, wanted)
    seen = {d["id"] for d in dispatches}
    revisions = [
        {
            "number": v.number,
            "kind": v.kind,
            "reason": texts.version_reason(v),
            "date": v.created_at.date().isoformat(),
        }
        for v in ProgrammeVersion.objects.visible_to(user)
        .filter(programme__in=gated_programme, kind__in=[VersionKind.BASELINE, VersionKind.REVISION, VersionKind.FINAL])
        .defer("snapshot")
        .order_by("number")
    ]
    levels = [Marking.of(programme.classification, [c.code for c in programme.compartments.all()])]
    levels += [Marking.of(d["classification"], d["compartments"]) for d in dispatches]
    marking = derive_marking(levels)
    return {
        "version": SNAPSHOT_VERSION,
        "taken_at": timezone.now().isoformat(),
        "expected_share": str(expected),
        "programme": {
            "id": programme.pk,
            "title": texts.programme_title(programme),
            "summary": texts.programme_summary(programme),
            "year": programme.year,
            "status": programme.status,
            "mission_code": programme.mission.code,
            "mission_name": programme.mission.name,
            "classification": programme.classification,
            "compartments": sorted(levels[0].compartments),
        },
        "axes": [
            {
                "id": axis.pk,
                "key": axis.axis_type.key,
                "names": {lang: getattr(axis.axis_type, f"name_{lang}") for lang in ("fr", "en", "ar", "es")},
                "plan_narrative": texts.axis_narrative(axis),
                "actions": {k: by_axis.get(axis.pk, {}).get(k, 0) for k in ("total", *figures.ACTION_BUCKETS)},
                "budgets": _budgets(by_axis.get(axis.pk, {})),
            }
            for axis in axes
        ],
        "actions": {k: total.get(k, 0) for k in ("total", *figures.ACTION_BUCKETS)},
        "budgets": _budgets(total),
        "indicators": [
            {
                "id": ind.pk,
                "label": texts.indicator_label(ind),
                "unit": ind.unit,
                "axis_id": ind.axis_id,
                "direction": ind.direction,
                "baseline": _num(ind.baseline_value),
                "baseline_year": ind.baseline_year,
                "approved_target": _num(ind.approved_target),
                "revised_target": _num(ind.revised_target),
                "actual": _num(ind.actual),
                "gap": _num(ind.actual - ind.target) if ind.actual is not None and ind.target is not None else None,
                "status": ind.status,
                "measurement_id": ind.actual_measurement_id,
                "evidence_file_id": measurement_files.get(ind.actual_measurement_id),
            }
            for ind in indicators
        ],
        "achievements": [
            {
                "id": a.pk,
                "kind": a.kind,
                "date": a.date.isoformat(),
                "title": texts.achievement_title(a),
                "description": texts.achievement_description(a),
                "outlet": a.outlet,
                "link": a.link,
                "evidence": evidence.get(a.pk, []),
                "dispatch_ids": sorted(d for d in cited_by_achievement.get(a.pk, []) if d in seen),
            }
            for a in achievements
        ],
        "revisions": revisions,
        "dispatches": dispatches,
        "marking": {"level": marking.level, "compartments": sorted(marking.compartments)},
    }


def _measurements_with_files(ids: list[int]) -> list[tuple[int, int]]:
    from chancery.planning.models import Measurement

    if not ids:
        return []
    return list(
        Measurement.objects.unrestricted("measurements of indicators read through the gate")
        .filter(pk__in=ids, evidence_file__isnull=False)
        .values_list("pk", "evidence_file_id")
    )


def _dispatch_entries(user: User, ids: set[int]) -> list[dict[str, Any]]:
    """The cited dispatches `user` may read (never one out of their scope, not even its reference)."""
    if not ids:
        return []
    rows = list(
        Dispatch.objects.visible_to(user)
        .filter(pk__in=sorted(ids))
        .order_by("dated", "pk")
        .values("pk", "reference", "dated", "classification", "status")
    )
    compartments: dict[int, list[str]] = {}
    for did, code in Dispatch.compartments.through.objects.filter(dispatch_id__in=[r["pk"] for r in rows]).values_list(
        "dispatch_id", "compartment__code"
    ):
        compartments.setdefault(did, []).append(code)
    return [
        {
            "id": r["pk"],
            "reference": r["reference"] or "",
            "dated": r["dated"].isoformat(),
            "classification": r["classification"],
            "compartments": sorted(compartments.get(r["pk"], [])),
        }
        for r in rows
    ]


def derive_marking(markings: list[Marking]) -> Marking:
    """The marking of a report: the highest level of its items and all their compartments."""
    level = max((m.level for m in markings), default=int(Level.UNCLASSIFIED))
    codes: set[str] = set()
    for m in markings:
        codes |= set(m.compartments)
    return Marking.of(level, codes)


# --------------------------------------------------------------------------- stored content


def read_content(synthesis: Synthesis) -> dict[str, Any]:
    """{"narratives": {axis id (str): text}, "snapshot": dict | None}."""
    if synthesis.content_ciphertext is None or synthesis.data_key is None:
        return {"narratives": {}, "snapshot": None}
    value = sealed.unseal_json(
        kind="synthesis", object_id=synthesis.pk, ciphertext=synthesis.content_ciphertext, data_key=synthesis.data_key
    )
    return {"narratives": value.get("narratives") or {}, "snapshot": value.get("snapshot")}


def write_content(synthesis: Synthesis, *, narratives: dict[str, str], snapshot: dict[str, Any] | None) -> None:
    """Seal the content onto the instance (not saved)."""
    data_key, ciphertext = sealed.seal_json(
        kind="synthesis",
        object_id=synthesis.pk,
        value={"narratives": narratives, "snapshot": snapshot},
        data_key=synthesis.data_key,
    )
    synthesis.data_key = data_key
    synthesis.content_ciphertext = ciphertext


# --------------------------------------------------------------------------- the reader's report


@dataclass
class Report:
    programme: Programme
    synthesis: Synthesis | None
    snapshot: dict[str, Any]
    narratives: dict[str, str]
    frozen: bool
    marking: Marking
    dispatches: list[dict[str, Any]]
    left_out: int
    language: str = "fr"
    charts: dict[str, Any] = field(default_factory=dict)

    @property
    def partial(self) -> bool:
        return self.left_out > 0

    @property
    def is_empty(self) -> bool:
        s = self.snapshot
        return not (s["indicators"] or s["achievements"] or s["actions"].get("total"))

    @property
    def taken_at(self) -> datetime:
        return datetime.fromisoformat(self.snapshot["taken_at"])

    @property
    def title(self) -> str:
        return str(self.snapshot["programme"]["title"])

    def axis_name(self, axis: dict[str, Any]) -> str:
        names = axis.get("names") or {}
        return str(names.get(self.language) or names.get("fr") or names.get("en") or axis.get("key", ""))

    @property
    def axes(self) -> list[dict[str, Any]]:
        return [
            {**a, "name": self.axis_name(a), "narrative": self.narratives.get(str(a["id"]), "")}
            for a in self.snapshot["axes"]
        ]

    @property
    def axis_names(self) -> dict[int, str]:
        return {a["id"]: self.axis_name(a) for a in self.snapshot["axes"]}

    @property
    def indicators(self) -> list[dict[str, Any]]:
        pid = self.programme.pk
        names = self.axis_names
        rows = []
        for ind in self.snapshot["indicators"]:
            evidence_url = (
                reverse("planning:evidence_file_download", args=[pid, ind["evidence_file_id"]])
                if ind.get("evidence_file_id")
                else reverse("planning:measurement_create", args=[pid, ind["id"]])
                + (f"#measurement-{ind['measurement_id']}" if ind.get("measurement_id") else "")
            )
            rows.append(
                {
                    **ind,
                    "axis": names.get(ind.get("axis_id"), ""),
                    "evidence_url": evidence_url,
                    "status_label": figures.INDICATOR_STATUSES.get(ind["status"], ind["status"]),
                }
            )
        return rows

    @property
    def achievements(self) -> list[dict[str, Any]]:
        pid = self.programme.pk
        by_id = {d["id"]: d for d in self.dispatches}
        rows = []
        for a in self.snapshot["achievements"]:
            rows.append(
                {
                    **a,
                    "url": reverse("planning:achievement_edit", args=[pid, a["id"]]),
                    "evidence": [
                        {**e, "url": reverse("planning:evidence_download", args=[pid, e["id"]])} for e in a["evidence"]
                    ],
                    "dispatches": [by_id[d] for d in a["dispatch_ids"] if d in by_id],
                }
            )
        return rows


def report_for(user: User, programme: Programme, *, language: str = "fr") -> Report:
    """The synthesis of `programme` as `user` may read it (the caller read the programme
    through the gate). Frozen: from the snapshot; otherwise built live (provisional)."""
    synthesis = Synthesis.objects.visible_to(user).filter(programme=programme).select_related("data_key").first()
    stored = read_content(synthesis) if synthesis is not None else {"narratives": {}, "snapshot": None}
    frozen = synthesis is not None and synthesis.is_frozen and stored["snapshot"] is not None
    snapshot = stored["snapshot"] if frozen else build_snapshot(user, programme)
    listed = snapshot["dispatches"]
    readable = {
        pk: dispatch
        for dispatch in Dispatch.objects.visible_to(user).filter(pk__in=[d["id"] for d in listed])
        for pk in [dispatch.pk]
    }
    dispatches = []
    for entry in listed:
        dispatch = readable.get(entry["id"])
        if dispatch is None:
            continue
        dispatches.append(
            {
                **entry,
                "subject": dispatch_content.read_field(dispatch, "subject"),
                "url": reverse("correspondence:detail", args=[dispatch.pk]),
                "marking": Marking.of(entry["classification"], entry["compartments"]),
            }
        )
    left_out = len(listed) - len(dispatches)
    p = snapshot["programme"]
    marking = derive_marking(
        [Marking.of(p["classification"], p.get("compartments", []))]
        + [Marking.of(d["classification"], d["compartments"]) for d in dispatches]
    )
    return Report(
        programme=programme,
        synthesis=synthesis,
        snapshot=snapshot,
        narratives=stored["narratives"],
        frozen=frozen,
        marking=marking,
        dispatches=dispatches,
        left_out=left_out,
        language=language[:2],
    )
