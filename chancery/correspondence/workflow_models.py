"""The registry's working day: validation circuits, per-unit workflow settings, reminders,
declassification reviews, internal notes and reply templates.

Kept apart from `models.py` (imported at its end) so that the dispatch model stays one noun.
Remarks and notes may repeat protected content: they are stored only as AES-256-GCM
ciphertexts under a data key of their own (`protected_text`), never in clear.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from chancery.core.classification import Level

__all__ = [
    "CircuitStep",
    "DeadlineReminder",
    "DeclassificationReview",
    "DispatchNote",
    "Opinion",
    "ReminderKind",
    "ReplyTemplate",
    "ReviewDecision",
    "RoutingReminder",
    "StepKind",
    "StepStatus",
    "UnitWorkflow",
]


class StepKind(models.TextChoices):
    VISA = "visa", _("Visa")  # approves or returns; the last visa signs and sends
    AVIS = "avis", _("Opinion")  # an opinion requested from another unit, given in parallel


class StepStatus(models.TextChoices):
    WAITING = "waiting", _("Waiting")  # not its turn yet
    CURRENT = "current", _("In progress")
    APPROVED = "approved", _("Approved")
    RETURNED = "returned", _("Returned")
    GIVEN = "given", _("Opinion given")
    CANCELLED = "cancelled", _("Cancelled")


class Opinion(models.TextChoices):
    FAVOURABLE = "favourable", _("Favourable")
    RESERVED = "reserved", _("Favourable with reservations")
    UNFAVOURABLE = "unfavourable", _("Unfavourable")


class CircuitStep(models.Model):
    """One step of a draft's validation circuit, for one submission (`round`).

    Steps sharing a `position` run in parallel; the circuit moves on when all of them
    are done. A step is held by `assignee` when named, otherwise by any agent of `unit`
    who may take it (see `circuits.may_act`).
    """

    dispatch = models.ForeignKey("correspondence.Dispatch", on_delete=models.CASCADE, related_name="circuit_steps")
    round = models.PositiveSmallIntegerField(default=1)
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(_("step"), max_length=8, choices=StepKind.choices)
    unit = models.ForeignKey("organisation.Unit", on_delete=models.PROTECT, related_name="+", verbose_name=_("unit"))
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(_("status"), max_length=10, choices=StepStatus.choices, default=StepStatus.WAITING)
    opinion = models.CharField(_("opinion"), max_length=14, choices=Opinion.choices, blank=True)
    comment_ciphertext = models.BinaryField(null=True, blank=True, editable=False)
    data_key = models.ForeignKey(
        "crypto.DataKey", on_delete=models.PROTECT, null=True, blank=True, related_name="+", editable=False
    )
    started_at = models.DateTimeField(null=True, blank=True)
    acted_at = models.DateTimeField(null=True, blank=True)
    acted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The absent agent the actor stood in for (delegation): both names are kept.
    on_behalf_of = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["dispatch", "round", "position", "id"]
        indexes = [
            models.Index(fields=["status", "unit"], name="corr_step_status_unit"),
            models.Index(fields=["status", "assignee"], name="corr_step_status_assignee"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} step {self.position} of dispatch {self.dispatch_id}"

    @property
    def is_open(self) -> bool:
        return self.status in (StepStatus.WAITING, StepStatus.CURRENT)


class UnitWorkflow(models.Model):
    """A unit's default validation circuit and its reminder delays (defaults when absent)."""

    unit = models.OneToOneField("organisation.Unit", on_delete=models.CASCADE, related_name="workflow")
    second_visa_level = models.PositiveSmallIntegerField(
        _("second visa from"),
        choices=Level.choices,
        null=True,
        blank=True,
        default=Level.CONFIDENTIAL,
        help_text=_("From this marking, the head of the parent unit adds a final visa (empty: never)."),
    )
    allow_extra_steps = models.BooleanField(
        _("drafters may add steps"), default=True, help_text=_("Extra visas and opinions chosen per draft.")
    )
    remind_days_before = models.PositiveSmallIntegerField(_("reminder, days before the due date"), default=2)
    remind_days_after = models.PositiveSmallIntegerField(_("reminder, days after the due date"), default=1)
    escalate_days_after = models.PositiveSmallIntegerField(_("escalation, days after the due date"), default=5)

    class Meta:
        verbose_name = _("unit workflow")
        verbose_name_plural = _("unit workflows")
        constraints = [
            models.CheckConstraint(
                condition=Q(escalate_days_after__gte=models.F("remind_days_after")), name="corr_workflow_escalate_after"
            )
        ]

    def __str__(self) -> str:
        return f"workflow of unit {self.unit_id}"


class ReminderKind(models.TextChoices):
    BEFORE = "before", _("Reminder before the due date")
    OVERDUE = "overdue", _("Reminder after the due date")
    ESCALATED = "escalated", _("Escalated to the head of unit")


class RoutingReminder(models.Model):
    """A reminder sent about one attribution (at most one of each kind)."""

    routing = models.ForeignKey("correspondence.Routing", on_delete=models.CASCADE, related_name="reminders")
    kind = models.CharField(max_length=10, choices=ReminderKind.choices)
    sent_on = models.DateField()
    recipients = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["sent_on", "id"]
        constraints = [models.UniqueConstraint(fields=["routing", "kind"], name="corr_reminder_once")]

    def __str__(self) -> str:
        return f"{self.kind} reminder of routing {self.routing_id}"


class DeadlineReminder(models.Model):
    """A reminder sent about another deadline (a programme's progress updates, next year's
    programme), at most one of each kind per `subject` (e.g. `period:42`, `programme:7:2027`)."""

    subject = models.CharField(max_length=64)
    kind = models.CharField(max_length=10, choices=ReminderKind.choices)
    sent_on = models.DateField()
    recipients = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["sent_on", "id"]
        constraints = [models.UniqueConstraint(fields=["subject", "kind"], name="corr_deadline_reminder_once")]

    def __str__(self) -> str:
        return f"{self.kind} reminder of {self.subject}"


class ReviewDecision(models.TextChoices):
    CONFIRM = "confirm", _("Confirm the change of marking")
    POSTPONE = "postpone", _("Postpone the review")
    REFUSE = "refuse", _("Refuse: keep the marking")


class DeclassificationReview(models.Model):
    """A security officer's decision on a dispatch whose declassification date has come."""

    dispatch = models.ForeignKey("correspondence.Dispatch", on_delete=models.CASCADE, related_name="reviews")
    due_on = models.DateField()
    decision = models.CharField(_("decision"), max_length=10, choices=ReviewDecision.choices)
    reason = models.TextField(_("reason"))
    postponed_to = models.DateField(_("new review date"), null=True, blank=True)
    marking_change = models.ForeignKey(
        "correspondence.MarkingChange", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    on_behalf_of = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["decided_at", "id"]

    def __str__(self) -> str:
        return f"review {self.pk} of dispatch {self.dispatch_id}"


class DispatchNote(models.Model):
    """An internal note on a dispatch, for the agents of `unit` who see the dispatch.
    Not part of the signed content; its text is stored encrypted."""

    dispatch = models.ForeignKey("correspondence.Dispatch", on_delete=models.CASCADE, related_name="notes")
    unit = models.ForeignKey("organisation.Unit", on_delete=models.PROTECT, related_name="+")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text_ciphertext = models.BinaryField(editable=False)
    data_key = models.ForeignKey("crypto.DataKey", on_delete=models.PROTECT, related_name="+", editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"note {self.pk} on dispatch {self.dispatch_id}"


class ReplyTemplate(models.Model):
    """A unit's reusable reply text (unclassified boilerplate; the reply inherits the marking)."""

    unit = models.ForeignKey("organisation.Unit", on_delete=models.CASCADE, related_name="reply_templates")
    name = models.CharField(_("name"), max_length=100)
    body = models.TextField(_("text"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["unit", "name"]
        verbose_name = _("reply template")
        verbose_name_plural = _("reply templates")
        constraints = [models.UniqueConstraint(fields=["unit", "name"], name="corr_reply_template_name")]

    def __str__(self) -> str:
        return self.name
