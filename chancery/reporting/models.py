"""Reporting: the year-end execution synthesis of a programme and background report jobs.

A `Synthesis` belongs to one programme (one per programme: two people generating it at once
get the same row). While a draft, it holds the narrative per *volet*; once frozen, it also
holds the snapshot of every figure, achievement and cited dispatch, so later edits of the
programme do not change it. Both are programme texts: they are stored sealed (AES-GCM under
a data key of their own, see `chancery.reporting.sealed`), never as clear JSON.

A `ReportJob` is one long generation run by the background worker (a compilation of
syntheses, or a synthesis file) with its progress; its result file is sealed the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from chancery.accounts.access import signed_in
from chancery.core.gate import RestrictedQuerySet

if TYPE_CHECKING:
    from chancery.accounts.models import User
    from chancery.core.types import Viewer


class SynthesisStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    FROZEN = "frozen", _("Frozen")


class SynthesisQuerySet(RestrictedQuerySet["Synthesis"]):
    def visible_to(self, user: Viewer | None) -> SynthesisQuerySet:
        """A synthesis is visible exactly when its programme is (items inside it are then
        filtered again per reader: see `chancery.reporting.synthesis.report_for`)."""
        from chancery.planning.models import Programme

        user = signed_in(user)
        if user is None:
            return self.none()._mark_gated()
        return self.filter(programme__in=Programme.objects.visible_to(user).values("pk"))._mark_gated()


class Synthesis(models.Model):
    programme = models.OneToOneField(
        "planning.Programme", on_delete=models.CASCADE, related_name="synthesis", verbose_name=_("programme")
    )
    status = models.CharField(
        _("status"), max_length=10, choices=SynthesisStatus.choices, default=SynthesisStatus.DRAFT
    )
    # Sealed JSON {"narratives": {axis id: text}, "snapshot": {...} | null}.
    content_ciphertext = models.BinaryField(null=True, blank=True, editable=False)
    data_key = models.ForeignKey(
        "crypto.DataKey", on_delete=models.PROTECT, null=True, blank=True, related_name="+", editable=False
    )
    # The marking derived from everything the frozen snapshot contains (highest of its items).
    classification = models.PositiveSmallIntegerField(_("classification"), default=0)
    compartment_codes = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    frozen_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    frozen_at = models.DateTimeField(_("frozen"), null=True, blank=True)
    dispatch = models.ForeignKey(
        "correspondence.Dispatch",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("dispatch"),
        help_text=_("The dispatch that carried the synthesis to headquarters."),
    )
    lock_version = models.PositiveIntegerField(default=1, editable=False)

    objects = SynthesisQuerySet.as_manager()

    class Meta:
        verbose_name = _("synthesis")
        verbose_name_plural = _("syntheses")

    def __str__(self) -> str:
        return f"synthesis {self.programme_id}"

    @property
    def is_frozen(self) -> bool:
        return self.status == SynthesisStatus.FROZEN


class JobStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class JobKind(models.TextChoices):
    SYNTHESIS = "synthesis", _("Synthesis")
    COMPILATION = "compilation", _("Compilation")


class ReportJobQuerySet(RestrictedQuerySet["ReportJob"]):
    def visible_to(self, user: Viewer | None) -> ReportJobQuerySet:
        # A job and its file belong to the agent who asked for it (it was built through
        # their gate): nobody else reads it.
        # Its file stays readable only while their clearance still dominates what it contains
        # (a lowered clearance loses the old files too); compartments: see `readable_by`.
        user = signed_in(user)
        if user is None:
            return self.none()._mark_gated()
        return self.filter(owner_id=user.pk, classification__lte=user.clearance.level)._mark_gated()


class ReportJob(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("kind"), max_length=20, choices=JobKind.choices)
    output_format = models.CharField(_("format"), max_length=5, default="pdf")
    parameters = models.JSONField(default=dict, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(_("progress %"), default=0)
    steps_done = models.PositiveIntegerField(default=0)
    steps_total = models.PositiveIntegerField(default=0)
    error = models.CharField(_("error"), max_length=300, blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    filename = models.CharField(_("file name"), max_length=200, blank=True)
    result_ciphertext = models.BinaryField(null=True, blank=True, editable=False)
    data_key = models.ForeignKey(
        "crypto.DataKey", on_delete=models.PROTECT, null=True, blank=True, related_name="+", editable=False
    )
    classification = models.PositiveSmallIntegerField(_("classification"), default=0)
    compartment_codes = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = ReportJobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("report job")
        verbose_name_plural = _("report jobs")

    def __str__(self) -> str:
        return f"report job {self.pk}"

    @property
    def is_finished(self) -> bool:
        return self.status in (JobStatus.DONE, JobStatus.FAILED)

    def readable_by(self, user: User) -> bool:
        """The owner's clearance still dominates the file's marking (level and compartments)."""
        from chancery.core.classification import Marking

        return bool(user.clearance.dominates(Marking.of(self.classification, self.compartment_codes)))
