"""The ministry's units: directorates, divisions, services, regions and missions, as a tree."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from chancery.accounts.access import signed_in
from chancery.core.gate import RestrictedQuerySet
from chancery.core.locking import version_field
from chancery.core.models import TimeStampedModel
from chancery.core.validators import reject_bidi_controls

if TYPE_CHECKING:
    from chancery.core.types import Viewer

UNIT_CODE_RE = r"^[A-Z][A-Z0-9]{0,15}(/[A-Z0-9]{1,16}){0,4}$"
unit_code_validator = RegexValidator(
    UNIT_CODE_RE,
    _("A unit code is capital letters and digits, parts separated by /, e.g. SG/4 or DG7/6."),
    code="invalid_unit_code",
)


class UnitKind(models.TextChoices):
    DIRECTORATE = "directorate", _("Directorate")
    DIVISION = "division", _("Division")
    SERVICE = "service", _("Service")
    REGION = "region", _("Region")
    MISSION = "mission", _("Mission")


class UnitFunction(models.TextChoices):
    """What a unit does beyond its place in the tree; grants ministry-wide reading rights."""

    NONE = "", _("—")
    PLANNING = "planning", _("Planning")
    INSPECTION = "inspection", _("Inspection")
    SECURITY = "security", _("Security")
    REGISTRY = "registry", _("Central registry")


class MissionKind(models.TextChoices):
    EMBASSY = "embassy", _("Embassy")
    CONSULATE = "consulate", _("Consulate general")
    PERMANENT_REPRESENTATION = "permanent_representation", _("Permanent representation")


class UnitQuerySet(RestrictedQuerySet["Unit"]):
    def visible_to(self, user: Viewer | None) -> UnitQuerySet:
        # The ministry's directory is open to every signed-in, active agent.
        user = signed_in(user)
        if user is None:
            return self.none()._mark_gated()
        return self._mark_gated()

    def active(self) -> UnitQuerySet:
        return self.filter(is_active=True)

    def subtree(self, unit: Unit) -> UnitQuerySet:
        return self.filter(path__startswith=unit.path)


class Unit(TimeStampedModel):
    code = models.CharField(_("code"), max_length=64, unique=True, validators=[unit_code_validator])
    name = models.CharField(_("name"), max_length=200)
    short_name = models.CharField(_("short name"), max_length=60, blank=True)
    kind = models.CharField(_("kind"), max_length=20, choices=UnitKind.choices)
    function = models.CharField(_("function"), max_length=20, choices=UnitFunction.choices, blank=True, default="")
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children", verbose_name=_("parent")
    )
    # Materialised path of primary keys ("/1/7/42/"): subtree reads are one indexed prefix match.
    path = models.CharField(max_length=255, db_index=True, editable=False, default="")
    mission_kind = models.CharField(_("mission kind"), max_length=30, choices=MissionKind.choices, blank=True)
    country = models.CharField(
        _("country"), max_length=2, blank=True, validators=[RegexValidator(r"^[A-Z]{2}$", _("ISO 3166 code, e.g. SN"))]
    )
    city = models.CharField(_("city"), max_length=100, blank=True)
    hq_desk = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="missions_followed",
        verbose_name=_("headquarters desk"),
        help_text=_("For a mission: the headquarters division that follows it."),
    )
    aliases = models.JSONField(_("aliases"), default=list, blank=True, help_text=_("Other names used in letters."))
    is_active = models.BooleanField(_("active"), default=True)
    lock_version = version_field()

    objects = UnitQuerySet.as_manager()

    class Meta:
        ordering = ["path"]
        verbose_name = _("unit")
        verbose_name_plural = _("units")

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"

    @property
    def depth(self) -> int:
        return max(self.path.count("/") - 2, 0)

    @property
    def is_mission(self) -> bool:
        return self.kind == UnitKind.MISSION

    def ancestor_ids(self) -> list[int]:
        return [int(part) for part in self.path.strip("/").split("/") if part and int(part) != self.pk]

    def clean(self) -> None:
        super().clean()
        reject_bidi_controls(code=self.code, name=self.name, short_name=self.short_name, city=self.city,
                             aliases=" ".join(str(a) for a in self.aliases or []))
        if self.parent_id is not None and self.pk is not None:
            parent = Unit.objects.unrestricted("cycle check").filter(pk=self.parent_id).first()
            if parent is not None and (parent.pk == self.pk or f"/{self.pk}/" in parent.path):
                raise ValidationError({"parent": _("A unit cannot be placed under itself or one of its sub-units.")})
        if self.kind == UnitKind.MISSION and not self.country:
            raise ValidationError({"country": _("A mission needs a country.")})
