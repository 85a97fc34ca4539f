"""Action planning: a mission's *Contrat Programme* and everything hanging from it.

A `Programme` (one mission × one year, multi-year allowed) holds axes (*volets*, typed by
the configurable `AxisType` list), objectives, dated actions, indicators with their
measurements, achievements with evidence, numbered versions (snapshots), threaded HQ
comments, reporting periods and progress updates.

The permission gate: `Programme.objects.visible_to(user)` decides who reads a plan; every
child model's `visible_to(user)` filters on `programme__in=<its SQL>` (one subquery, `programme_gate`).
"""

from __future__ import annotations

import calendar
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import OuterRef, Q
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from chancery.accounts.access import signed_in
from chancery.accounts.roles import Capability
from chancery.core.db import CompiledStatements, Statement
from chancery.core.gate import RestrictedQuerySet
from chancery.core.locking import version_field
from chancery.core.models import ChoiceLabels, MarkedModel, TimeStampedModel, uncleared_compartment_exists
from chancery.planning.sealed import SealedQuerySetMixin, SealedTexts

if TYPE_CHECKING:
    from chancery.core.types import Viewer

currency_validator = RegexValidator(r"^[A-Z]{3}$", _("An ISO 4217 currency code, e.g. EUR."), code="invalid_currency")
ZERO = Decimal("0")


# --------------------------------------------------------------------------- choices


class ProgrammeStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    APPROVED = "approved", _("Approved")
    IN_EXECUTION = "in_execution", _("In execution")
    # A context of its own: "closed" agrees with "programme" (Clôturé), not with a dispatch (Classée).
    CLOSED = "closed", pgettext_lazy("programme status", "Closed")


class ActionStatus(models.TextChoices):
    PROPOSED = "proposed", _("Proposed")
    # "Approved" agrees with "action" (Approuvée), not with "programme" (Approuvé).
    APPROVED = "approved", pgettext_lazy("action status", "Approved")
    IN_PROGRESS = "in_progress", _("In progress")
    DONE = "done", _("Done")
    POSTPONED = "postponed", _("Postponed")
    CANCELLED = "cancelled", _("Cancelled")


FINISHED_ACTION_STATUSES = (ActionStatus.DONE, ActionStatus.CANCELLED)
# Statuses only headquarters gives (by approving the programme or a revision of it).
HQ_ACTION_STATUSES = (ActionStatus.APPROVED,)


class Priority(models.TextChoices):
    HIGH = "high", _("High")
    MEDIUM = "medium", _("Medium")
    LOW = "low", _("Low")


class Direction(models.TextChoices):
    INCREASE = "increase", _("Increase")
    DECREASE = "decrease", _("Decrease")


class Aggregation(models.TextChoices):
    """How the values of the periods add up to the year's actual, compared with the annual target."""

    SUM = "sum", _("Sum of the periods")
    LAST = "last", _("Latest value")
    AVERAGE = "average", _("Average of the periods")


class PeriodType(models.TextChoices):
    MONTH = "month", _("Month")
    QUARTER = "quarter", _("Quarter")
    YEAR = "year", _("Year")


class AchievementKind(models.TextChoices):
    VISIT = "visit", _("High-level visit")
    AGREEMENT = "agreement", _("Agreement signed")
    PRESS_ARTICLE = "press_article", _("Press article")
    PRESS_INTERVIEW = "press_interview", _("Press interview")
    PRESS_REPORTAGE = "press_reportage", _("Press reportage")
    CULTURAL_EVENT = "cultural_event", _("Cultural event")
    MEETING = "meeting", _("Meeting")
    OTHER = "other", _("Other")


PRESS_KINDS = (AchievementKind.PRESS_ARTICLE, AchievementKind.PRESS_INTERVIEW, AchievementKind.PRESS_REPORTAGE)


class VersionKind(models.TextChoices):
    SUBMITTED = "submitted", _("Submitted")
    BASELINE = "baseline", _("Approved baseline")
    REVISION = "revision", _("Revision")
    FINAL = "final", _("Final (closed)")


class CommentTarget(models.TextChoices):
    PROGRAMME = "programme", _("Programme")
    AXIS = "axis", _("Axis")
    ACTION = "action", _("Action")


# --------------------------------------------------------------------------- axis types


class AxisType(models.Model):
    """One entry of the configurable list of *volets* (political, economic, …).

    Not protected: the list is configuration, readable by every agent.
    """

    key = models.SlugField(_("key"), max_length=40, unique=True)
    name_fr = models.CharField(_("name (French)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100)
    name_ar = models.CharField(_("name (Arabic)"), max_length=100, blank=True)
    name_es = models.CharField(_("name (Spanish)"), max_length=100, blank=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["position", "key"]
        verbose_name = _("axis type")
        verbose_name_plural = _("axis types")

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        """The name in the active language (falls back to French, then English)."""
        lang = (translation.get_language() or "fr")[:2]
        value = getattr(self, f"name_{lang}", "") if lang in ("fr", "en", "ar", "es") else ""
        return str(value or self.name_fr or self.name_en or self.key)


# --------------------------------------------------------------------------- the gate


def partner_units_prefetch(lookup: str = "partner_units") -> models.Prefetch:
    """Prefetch an action's partner units: unit names are open to every agent (the units
    directory is not protected), so this needs no per-user gate."""
    from chancery.organisation.models import Unit

    return models.Prefetch(lookup, queryset=Unit.objects.unrestricted("the units directory is open to every agent"))


# The plan gate's condition compiled to SQL, by the rights it reads, in this process. Built as a
# queryset (scope, clearance, compartments), compiling it cost about a millisecond of every
# query it gates: five of them on a home page, one per query on the planning pages. The key
# (`programme_gate_key`) holds everything the condition is made of.
_GATE_SQL: CompiledStatements[Statement] = CompiledStatements()


def programme_gate_key(user: Any) -> tuple[Any, ...] | None:
    """Everything the plan gate's condition for `user` (signed in) is written from, or None when
    they may read no plan: two agents with the same key read through the same SQL."""
    memberships = user.active_memberships()
    if not memberships:
        return None
    read_all = bool(user.units_with(Capability.READ_ALL_PROGRAMMES))
    unit_ids = () if read_all else tuple(sorted({m.unit_id for m in memberships}))
    paths = () if read_all else tuple(sorted({u.path for u in user.units_with(Capability.OVERSEE_SUBTREE)}))
    return (read_all, unit_ids, paths, int(user.clearance.level), tuple(user.clearance_compartment_ids))


def programme_gate(user: Any) -> models.expressions.RawSQL | None:
    """SQL selecting the ids of the plans `user` (signed in) may read, standalone (a subquery that
    names its own tables), or None when they may read none.

    Scope (any of): member of the mission; member of the mission's HQ desk; holder of
    `OVERSEE_SUBTREE` in an ancestor of the mission (its region) or of its HQ desk (the
    desk's directorate); holder of `READ_ALL_PROGRAMMES` (planning, inspection). And the
    user's clearance must dominate the programme's marking."""
    key = programme_gate_key(user)
    if key is None:
        return None

    def compile_condition() -> tuple[str, tuple[Any, ...]]:
        read_all, unit_ids, paths, level, _cleared = key
        scope = Q()
        if not read_all:
            scope = Q(mission_id__in=unit_ids) | Q(mission__hq_desk_id__in=unit_ids)
            for path in paths:
                scope |= Q(mission__path__startswith=path) | Q(mission__hq_desk__path__startswith=path)
        rows = Programme.compartments.through.objects.filter(programme_id=OuterRef("pk"))
        condition = (
            Programme.objects.unrestricted("the plan gate's own condition, compiled")
            .filter(scope, classification__lte=level)
            .exclude(uncleared_compartment_exists(rows, user))
            .order_by()  # a set of ids: the model's default order would be sorted for nothing
            .values("pk")
        )
        sql, params = condition.query.sql_with_params()
        return sql, tuple(params)

    sql, params = _GATE_SQL.get(key, compile_condition)
    return models.expressions.RawSQL(sql, params)  # noqa: S611 - compiled by the ORM, values as parameters


class ProgrammeQuerySet(SealedQuerySetMixin, RestrictedQuerySet["Programme"]):
    def gate_key(self, user: Viewer | None) -> tuple[Any, ...] | None:
        """What `visible_to(user)` is written from (`programme_gate_key`); None: nothing visible."""
        user = signed_in(user)
        return programme_gate_key(user) if user is not None else None

    def visible_to(self, user: Viewer | None) -> ProgrammeQuerySet:
        """Plans visible to `user` (`programme_gate`); deny by default."""
        user = signed_in(user)
        gate = programme_gate(user) if user is not None else None
        if gate is None:
            return self.none()._mark_gated()
        return self.filter(pk__in=gate)._mark_gated()

    def for_mission(self, mission: Any) -> ProgrammeQuerySet:
        return self.filter(mission=mission)


class ProgrammeChildQuerySet(SealedQuerySetMixin, RestrictedQuerySet[Any]):
    """Objects belonging to a programme: visible exactly when their programme is."""

    programme_path = "programme"

    def visible_to(self, user: Viewer | None) -> Any:
        user = signed_in(user)
        gate = programme_gate(user) if user is not None else None
        if gate is None:
            return self.none()._mark_gated()
        return self.filter(**{f"{self.programme_path}__in": gate})._mark_gated()


class AxisQuerySet(ProgrammeChildQuerySet):
    pass


class ObjectiveQuerySet(ProgrammeChildQuerySet):
    programme_path = "axis__programme"


class ActionQuerySet(ProgrammeChildQuerySet):
    def open(self) -> ActionQuerySet:
        return self.exclude(status__in=FINISHED_ACTION_STATUSES)


class IndicatorQuerySet(ProgrammeChildQuerySet):
    pass


class MeasurementQuerySet(ProgrammeChildQuerySet):
    programme_path = "indicator__programme"


class AchievementQuerySet(ProgrammeChildQuerySet):
    pass


class AchievementEvidenceQuerySet(ProgrammeChildQuerySet):
    programme_path = "achievement__programme"


class EvidenceFileQuerySet(ProgrammeChildQuerySet):
    pass


class VersionQuerySet(ProgrammeChildQuerySet):
    pass


class CommentQuerySet(ProgrammeChildQuerySet):
    pass


class PeriodQuerySet(ProgrammeChildQuerySet):
    pass


class ProgressUpdateQuerySet(ProgrammeChildQuerySet):
    programme_path = "period__programme"


# --------------------------------------------------------------------------- programme


class Programme(TimeStampedModel, MarkedModel, SealedTexts):
    """A mission's *Contrat Programme* for a year (or several: `year`..`end_year`)."""

    sealed_fields = ("title", "summary", "revision_reason")
    programme_path = ""

    mission = models.ForeignKey(
        "organisation.Unit", on_delete=models.PROTECT, related_name="programmes", verbose_name=_("mission")
    )
    year = models.PositiveSmallIntegerField(_("year"), validators=[MinValueValidator(2000), MaxValueValidator(2100)])
    end_year = models.PositiveSmallIntegerField(
        _("last year"),
        blank=True,
        validators=[MinValueValidator(2000), MaxValueValidator(2100)],
        help_text=_("For a multi-year programme; defaults to the first year."),
    )
    title = models.CharField(_("title"), max_length=300)
    summary = models.TextField(_("summary"), blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=ProgrammeStatus.choices, default=ProgrammeStatus.DRAFT, db_index=True
    )
    current_version = models.PositiveIntegerField(_("current version"), default=0, editable=False)
    baseline_version = models.ForeignKey(
        "ProgrammeVersion",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("baseline"),
        editable=False,
    )
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True, editable=False)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    approved_at = models.DateTimeField(_("approved"), null=True, blank=True, editable=False)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    execution_started_at = models.DateTimeField(_("execution started"), null=True, blank=True, editable=False)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True, editable=False)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    # A revision of an approved programme proposed by the mission, awaiting headquarters'
    # decision (the content is frozen meanwhile, so that what is approved is what was proposed).
    revision_reason = models.TextField(_("reason of the proposed revision"), blank=True, editable=False)
    revision_proposed_at = models.DateTimeField(_("revision proposed"), null=True, blank=True, editable=False)
    revision_proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    carried_over_from = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="carried_over_to",
        verbose_name=_("carried over from"),
    )
    submission_dispatch = models.ForeignKey(
        "correspondence.Dispatch",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("submission dispatch"),
        help_text=_("The dispatch that carried the plan."),
    )
    lock_version = models.PositiveIntegerField(default=1, editable=False)
    # The key of the programme's encrypted evidence files (see `chancery.planning.storage`),
    # created on first need; `chancery rotate-keys` re-wraps it.
    data_key = models.ForeignKey(
        "crypto.DataKey", on_delete=models.PROTECT, null=True, blank=True, related_name="+", editable=False
    )

    objects = ProgrammeQuerySet.as_manager()

    class Meta:
        ordering = ["-year", "mission__code"]
        verbose_name = _("programme")
        verbose_name_plural = _("programmes")
        constraints = [
            models.UniqueConstraint(fields=["mission", "year"], name="programme_unique_mission_year"),
            models.CheckConstraint(condition=Q(end_year__gte=models.F("year")), name="programme_end_year_after_year"),
        ]

    def __str__(self) -> str:
        return self.title or f"{self.mission_id} {self.year}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.end_year is None and self.year is not None:
            self.end_year = self.year
        if not self._state.adding and kwargs.get("update_fields") is None and not kwargs.get("force_insert"):
            # `data_key` is only ever set by `planning.storage` (a conditional update): a
            # full save of an instance read before the key existed must not erase it.
            kwargs["update_fields"] = [
                f.name for f in self._meta.concrete_fields if not f.primary_key and f.name != "data_key"
            ]
        super().save(*args, **kwargs)

    @property
    def last_year(self) -> int:
        return int(self.end_year or self.year)

    @property
    def is_multi_year(self) -> bool:
        return self.last_year > self.year

    @property
    def period_start(self) -> date:
        return date(self.year, 1, 1)

    @property
    def period_end(self) -> date:
        return date(self.last_year, 12, 31)

    @property
    def is_editable(self) -> bool:
        """Content may change in every state but closed ("the plan is not frozen")."""
        return self.status != ProgrammeStatus.CLOSED

    @property
    def is_approved(self) -> bool:
        return self.status in (ProgrammeStatus.APPROVED, ProgrammeStatus.IN_EXECUTION, ProgrammeStatus.CLOSED)

    @property
    def revision_pending(self) -> bool:
        return self.revision_proposed_at is not None


# --------------------------------------------------------------------------- structure


class Axis(SealedTexts):
    """A *volet* of a programme (one per axis type)."""

    sealed_fields = ("narrative",)

    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="axes")
    axis_type = models.ForeignKey(AxisType, on_delete=models.PROTECT, related_name="axes", verbose_name=_("axis"))
    narrative = models.TextField(_("narrative"), blank=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    objects = AxisQuerySet.as_manager()

    class Meta:
        ordering = ["programme", "position", "id"]
        verbose_name = _("axis")
        verbose_name_plural = _("axes")
        constraints = [models.UniqueConstraint(fields=["programme", "axis_type"], name="axis_unique_type")]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.axis_type.name


class Objective(SealedTexts):
    sealed_fields = ("title", "description")
    programme_path = "axis.programme"

    axis = models.ForeignKey(Axis, on_delete=models.CASCADE, related_name="objectives", verbose_name=_("axis"))
    title = models.CharField(_("title"), max_length=300)
    description = models.TextField(_("description"), blank=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    objects = ObjectiveQuerySet.as_manager()

    class Meta:
        ordering = ["axis", "position", "id"]
        verbose_name = _("objective")
        verbose_name_plural = _("objectives")

    def __str__(self) -> str:
        return self.title


class Action(ChoiceLabels, TimeStampedModel, SealedTexts):
    sealed_fields = ("title", "description", "risk_note")

    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="actions")
    axis = models.ForeignKey(Axis, on_delete=models.CASCADE, related_name="actions", verbose_name=_("axis"))
    objective = models.ForeignKey(
        Objective,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="actions",
        verbose_name=_("objective"),
    )
    title = models.CharField(_("title"), max_length=300)
    description = models.TextField(_("description"), blank=True)
    lead = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="led_actions",
        verbose_name=_("lead"),
    )
    partner_units = models.ManyToManyField(
        "organisation.Unit", blank=True, related_name="partner_actions", verbose_name=_("partner units")
    )
    start_date = models.DateField(_("start"), null=True, blank=True)
    end_date = models.DateField(_("end"), null=True, blank=True)
    target_date = models.DateField(_("target date"), null=True, blank=True)
    priority = models.CharField(_("priority"), max_length=10, choices=Priority.choices, default=Priority.MEDIUM)
    budget_requested = models.DecimalField(
        _("budget requested"), max_digits=14, decimal_places=2, default=ZERO, validators=[MinValueValidator(ZERO)]
    )
    budget_approved = models.DecimalField(
        _("budget approved"), max_digits=14, decimal_places=2, default=ZERO, validators=[MinValueValidator(ZERO)]
    )
    budget_spent = models.DecimalField(
        _("budget spent"), max_digits=14, decimal_places=2, default=ZERO, validators=[MinValueValidator(ZERO)]
    )
    currency = models.CharField(_("currency"), max_length=3, default="EUR", validators=[currency_validator])
    status = models.CharField(
        _("status"), max_length=20, choices=ActionStatus.choices, default=ActionStatus.PROPOSED, db_index=True
    )
    progress = models.PositiveSmallIntegerField(
        _("progress %"), default=0, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    risk_note = models.TextField(_("risks"), blank=True)
    dispatches = models.ManyToManyField(
        "correspondence.Dispatch", blank=True, related_name="planning_actions", verbose_name=_("dispatches")
    )
    lock_version = models.PositiveIntegerField(default=1, editable=False)
    position = models.PositiveIntegerField(_("position"), default=0)

    objects = ActionQuerySet.as_manager()

    class Meta:
        ordering = ["programme", "axis__position", "position", "id"]
        verbose_name = _("action")
        verbose_name_plural = _("actions")
        constraints = [
            models.CheckConstraint(condition=Q(progress__lte=100), name="action_progress_max_100"),
            models.CheckConstraint(
                condition=Q(budget_requested__gte=0) & Q(budget_approved__gte=0) & Q(budget_spent__gte=0),
                name="action_budgets_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(start_date__isnull=True)
                | Q(end_date__isnull=True)
                | Q(end_date__gte=models.F("start_date")),
                name="action_end_after_start",
            ),
        ]
        indexes = [models.Index(fields=["lead", "target_date"], name="action_lead_target")]

    def __str__(self) -> str:
        return self.title

    @property
    def key_date(self) -> date | None:
        """The date shown in calendars: the target date, else the end, else the start."""
        return self.target_date or self.end_date or self.start_date

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_ACTION_STATUSES

    def date_warnings(self) -> list[str]:
        """Non-blocking remarks: dates outside the programme's year(s) (allowed, e.g. multi-year)."""
        programme = self.programme
        first, last = programme.period_start, programme.period_end
        warnings = []
        for name, label in (("start_date", _("start")), ("end_date", _("end")), ("target_date", _("target date"))):
            value = getattr(self, name)
            if value is not None and not (first <= value <= last):
                warnings.append(
                    str(_("The %(field)s (%(date)s) is outside the programme period (%(first)s–%(last)s)."))
                    % {"field": label, "date": value.isoformat(), "first": programme.year, "last": programme.last_year}
                )
        return warnings


# --------------------------------------------------------------------------- indicators


class Indicator(SealedTexts):
    """A measured quantity: baseline → approved target / revised target → actuals."""

    sealed_fields = ("label", "data_source")

    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="indicators")
    axis = models.ForeignKey(
        Axis, on_delete=models.SET_NULL, null=True, blank=True, related_name="indicators", verbose_name=_("axis")
    )
    objective = models.ForeignKey(
        Objective,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="indicators",
        verbose_name=_("objective"),
    )
    label = models.CharField(_("label"), max_length=300)
    unit = models.CharField(_("unit"), max_length=60, blank=True, help_text=_("e.g. million USD, visits, articles"))
    direction = models.CharField(_("direction"), max_length=10, choices=Direction.choices, default=Direction.INCREASE)
    data_source = models.CharField(_("data source"), max_length=300, blank=True)
    baseline_value = models.DecimalField(_("baseline"), max_digits=18, decimal_places=4, null=True, blank=True)
    baseline_year = models.PositiveSmallIntegerField(_("baseline year"), null=True, blank=True)
    approved_target = models.DecimalField(_("approved target"), max_digits=18, decimal_places=4, null=True, blank=True)
    revised_target = models.DecimalField(_("revised target"), max_digits=18, decimal_places=4, null=True, blank=True)
    target_year = models.PositiveSmallIntegerField(_("target year"), null=True, blank=True)
    aggregation = models.CharField(
        _("periods add up as"),
        max_length=10,
        choices=Aggregation.choices,
        default=Aggregation.LAST,
        help_text=_("How the monthly or quarterly values compare with the annual target."),
    )
    position = models.PositiveIntegerField(_("position"), default=0)

    lock_version = version_field()

    objects = IndicatorQuerySet.as_manager()

    class Meta:
        ordering = ["programme", "position", "id"]
        verbose_name = _("indicator")
        verbose_name_plural = _("indicators")

    def __str__(self) -> str:
        return self.label

    @property
    def current_target(self) -> Decimal | None:
        """The revised target when there is one, else the approved target."""
        return self.revised_target if self.revised_target is not None else self.approved_target

    def actual(self, measurements: list[Measurement]) -> Decimal | None:
        """The actual to compare with the target, from `measurements` (this indicator's, any order).

        The yearly values when there are some, else the quarterly ones, else the monthly ones (one
        kind only, so that a quarter is not counted again through its months), added up as
        `aggregation` says: summed, averaged, or the latest one taken (yearly values are never summed)."""
        if not measurements:
            return None
        yearly = [m for m in measurements if m.period_type == PeriodType.YEAR]
        chosen = yearly or [m for m in measurements if m.period_type == PeriodType.QUARTER] or list(measurements)
        chosen.sort(key=lambda m: m.period_start)
        values = [m.value for m in chosen]
        if self.aggregation == Aggregation.SUM and not yearly:
            return sum(values, Decimal(0))
        if self.aggregation == Aggregation.AVERAGE:
            return sum(values, Decimal(0)) / len(values)
        return values[-1]


class StoredFile(models.Model):
    """A file under `CHANCERY_DATA_DIR/evidence/` (see `chancery.planning.storage`): named
    `storage_name`, encrypted with the programme's data key when `encrypted`; rows with an
    empty `storage_name` point at an older content-addressed clear file."""

    file_kind = "file"  # bound into the associated data of encrypted files

    filename = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("type"), max_length=100, blank=True)
    size = models.PositiveBigIntegerField(_("size"))
    sha256 = models.CharField(max_length=64, db_index=True)
    storage_name = models.CharField(max_length=200, blank=True, default="", editable=False)
    encrypted = models.BooleanField(default=False, editable=False)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    uploaded_at = models.DateTimeField(_("uploaded"), auto_now_add=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.filename

    @staticmethod
    def storage_root() -> Path:
        return Path(settings.CHANCERY_DATA_DIR) / "evidence"

    @property
    def storage_path(self) -> Path:
        from chancery.planning import storage

        return storage.path_for(self)

    @property
    def programme_pk(self) -> int:
        raise NotImplementedError

    def read_bytes(self) -> bytes:
        """The plain content (decrypted when stored encrypted)."""
        from chancery.planning import storage

        return storage.read_file(self)


class EvidenceFile(StoredFile):
    """A file supporting a measurement (or any other programme fact)."""

    file_kind = "evidence_file"

    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="evidence_files")

    objects = EvidenceFileQuerySet.as_manager()

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        verbose_name = _("evidence file")
        verbose_name_plural = _("evidence files")

    @property
    def programme_pk(self) -> int:
        return int(self.programme_id)


class Measurement(SealedTexts):
    """An actual value of an indicator for one period."""

    sealed_fields = ("evidence",)
    programme_path = "indicator.programme"

    indicator = models.ForeignKey(Indicator, on_delete=models.CASCADE, related_name="measurements")
    period_type = models.CharField(_("period"), max_length=10, choices=PeriodType.choices, default=PeriodType.YEAR)
    period_start = models.DateField(_("period start"))
    period_end = models.DateField(_("period end"))
    value = models.DecimalField(_("value"), max_digits=18, decimal_places=4)
    evidence = models.TextField(_("evidence"), blank=True, help_text=_("A note or a link."))
    evidence_file = models.ForeignKey(
        EvidenceFile, on_delete=models.SET_NULL, null=True, blank=True, related_name="measurements"
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    recorded_at = models.DateTimeField(_("recorded"), auto_now_add=True)

    objects = MeasurementQuerySet.as_manager()

    class Meta:
        ordering = ["indicator", "period_start", "id"]
        verbose_name = _("measurement")
        verbose_name_plural = _("measurements")
        constraints = [
            models.UniqueConstraint(fields=["indicator", "period_type", "period_start"], name="measurement_unique"),
            models.CheckConstraint(
                condition=Q(period_end__gte=models.F("period_start")), name="measurement_end_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.indicator_id} {self.period_start}: {self.value}"


# --------------------------------------------------------------------------- achievements


class Achievement(TimeStampedModel, SealedTexts):
    """A *réalisation*: what the mission achieved, with evidence and the dispatches reporting it."""

    sealed_fields = ("title", "description", "outlet", "link")

    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="achievements")
    kind = models.CharField(_("kind"), max_length=20, choices=AchievementKind.choices, default=AchievementKind.OTHER)
    date = models.DateField(_("date"))
    title = models.CharField(_("title"), max_length=300)
    description = models.TextField(_("description"), blank=True)
    outlet = models.CharField(
        _("outlet"), max_length=200, blank=True, help_text=_("For press: the newspaper, channel…")
    )
    link = models.URLField(_("link"), max_length=500, blank=True)
    actions = models.ManyToManyField(Action, blank=True, related_name="achievements", verbose_name=_("actions"))
    dispatches = models.ManyToManyField(
        "correspondence.Dispatch", blank=True, related_name="planning_achievements", verbose_name=_("dispatches")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = AchievementQuerySet.as_manager()

    class Meta:
        ordering = ["programme", "-date", "-id"]
        verbose_name = _("achievement")
        verbose_name_plural = _("achievements")

    def __str__(self) -> str:
        return self.title

    @property
    def is_press(self) -> bool:
        return self.kind in PRESS_KINDS


class AchievementEvidence(StoredFile):
    file_kind = "achievement_evidence"

    achievement = models.ForeignKey(Achievement, on_delete=models.CASCADE, related_name="evidence")

    objects = AchievementEvidenceQuerySet.as_manager()

    class Meta:
        ordering = ["achievement", "id"]
        verbose_name = _("evidence")
        verbose_name_plural = _("evidence")

    @property
    def programme_pk(self) -> int:
        # FK access (base manager): only for a row already read through the gate.
        return int(self.achievement.programme_id)


# --------------------------------------------------------------------------- versions and comments


class ProgrammeVersion(SealedTexts):
    """A numbered, immutable snapshot of the whole programme (see `planning.versions`)."""

    sealed_fields = ("reason", "snapshot")

    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("number"))
    kind = models.CharField(_("kind"), max_length=20, choices=VersionKind.choices)
    reason = models.TextField(_("reason"), blank=True)
    snapshot = models.JSONField(_("snapshot"), default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = VersionQuerySet.as_manager()

    class Meta:
        ordering = ["programme", "number"]
        verbose_name = _("programme version")
        verbose_name_plural = _("programme versions")
        constraints = [models.UniqueConstraint(fields=["programme", "number"], name="version_unique_number")]

    def __str__(self) -> str:
        return f"v{self.number} ({self.kind})"


class ProgrammeComment(SealedTexts):
    """A threaded comment (HQ review or mission reply) on the programme, one of its axes or actions."""

    sealed_fields = ("body",)

    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="comments")
    target_type = models.CharField(
        _("on"), max_length=20, choices=CommentTarget.choices, default=CommentTarget.PROGRAMME
    )
    target_id = models.PositiveIntegerField(null=True, blank=True)
    parent = models.ForeignKey("self", on_delete=models.CASCADE, null=True, blank=True, related_name="replies")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("author")
    )
    body = models.TextField(_("comment"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = CommentQuerySet.as_manager()

    class Meta:
        ordering = ["programme", "created_at", "id"]
        verbose_name = _("comment")
        verbose_name_plural = _("comments")
        indexes = [models.Index(fields=["programme", "target_type", "target_id"], name="comment_target")]

    def __str__(self) -> str:
        return f"{self.target_type}:{self.target_id or self.programme_id}"


# --------------------------------------------------------------------------- periodic progress


class ReportingPeriod(models.Model):
    """A reporting period of a programme: progress updates are due by its deadline."""

    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="periods")
    period_type = models.CharField(_("period"), max_length=10, choices=PeriodType.choices, default=PeriodType.QUARTER)
    start = models.DateField(_("start"))
    end = models.DateField(_("end"))
    deadline = models.DateField(_("deadline"))
    closed = models.BooleanField(_("closed"), default=False)

    objects = PeriodQuerySet.as_manager()

    class Meta:
        ordering = ["programme", "start"]
        verbose_name = _("reporting period")
        verbose_name_plural = _("reporting periods")
        constraints = [
            models.UniqueConstraint(fields=["programme", "period_type", "start"], name="period_unique_start"),
            models.CheckConstraint(condition=Q(end__gte=models.F("start")), name="period_end_after_start"),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        if self.period_type == PeriodType.YEAR:
            return str(self.start.year)
        if self.period_type == PeriodType.QUARTER:
            return f"{self.start.year} Q{(self.start.month - 1) // 3 + 1}"
        return f"{self.start.year}-{self.start.month:02d}"

    @staticmethod
    def bounds(period_type: str, year: int, index: int) -> tuple[date, date]:
        """Start and end of the `index`-th (1-based) month/quarter of `year`, or the year."""
        if period_type == PeriodType.MONTH:
            return date(year, index, 1), date(year, index, calendar.monthrange(year, index)[1])
        if period_type == PeriodType.QUARTER:
            first = 3 * (index - 1) + 1
            return date(year, first, 1), date(year, first + 2, calendar.monthrange(year, first + 2)[1])
        return date(year, 1, 1), date(year, 12, 31)


class ProgressUpdate(SealedTexts):
    sealed_fields = ("note",)
    programme_path = "action.programme"

    action = models.ForeignKey(Action, on_delete=models.CASCADE, related_name="progress_updates")
    period = models.ForeignKey(ReportingPeriod, on_delete=models.CASCADE, related_name="updates")
    progress = models.PositiveSmallIntegerField(
        _("progress %"), validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    status = models.CharField(_("status"), max_length=20, choices=ActionStatus.choices)
    note = models.TextField(_("note"), blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    recorded_at = models.DateTimeField(_("recorded"), auto_now=True)

    objects = ProgressUpdateQuerySet.as_manager()

    class Meta:
        ordering = ["period", "action"]
        verbose_name = _("progress update")
        verbose_name_plural = _("progress updates")
        constraints = [
            models.UniqueConstraint(fields=["action", "period"], name="progress_update_unique"),
            models.CheckConstraint(condition=Q(progress__lte=100), name="progress_update_max_100"),
        ]

    def __str__(self) -> str:
        return f"{self.action_id}@{self.period_id}: {self.progress}%"
