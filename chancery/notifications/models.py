"""In-application notifications: one row per recipient and event, read only by its recipient.

A notification names its target by type and id and carries the link to open; its verb is
one of a fixed, neutral list — never a subject, body or reference of protected content.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.conf import settings
from django.db import models
from django.db.models import Case, Exists, OuterRef, Q, When
from django.db.models.functions import Cast
from django.db.models.lookups import Regex
from django.utils.translation import gettext_lazy as _

from chancery.accounts.access import signed_in
from chancery.core.gate import RestrictedQuerySet
from chancery.core.models import ChoiceLabels

if TYPE_CHECKING:
    from chancery.core.types import Viewer


class Verb(models.TextChoices):
    DISPATCH_ATTRIBUTED = "dispatch_attributed", _("A dispatch was sent to your unit for action.")
    DISPATCH_FOR_INFORMATION = "dispatch_for_information", _("A dispatch was sent to your unit for information.")
    DISPATCH_ASSIGNED = "dispatch_assigned", _("A dispatch was assigned to you.")
    DISPATCH_ANSWERED = "dispatch_answered", _("A dispatch you sent received an answer.")
    DISPATCH_TO_VALIDATE = "dispatch_to_validate", _("A draft dispatch awaits your validation.")
    DISPATCH_OVERDUE = "dispatch_overdue", _("A dispatch attributed to your unit is overdue.")
    ACCESS_GRANTED = "access_granted", _("You were given access to a dispatch.")
    DISPATCH_RETURNED = "dispatch_returned", _("A draft dispatch was returned to you with a remark.")
    OPINION_REQUESTED = "opinion_requested", _("Your opinion is requested on a draft dispatch.")
    DISPATCH_DUE_SOON = "dispatch_due_soon", _("A dispatch attributed to your unit is due soon.")
    DISPATCH_ESCALATED = "dispatch_escalated", _("An attribution of your unit is overdue and was escalated to you.")
    PROGRESS_UPDATES_DUE = "progress_updates_due", _("Progress updates of your unit's programme are due.")
    PROGRAMME_DUE = "programme_due", _("Your unit's action programme for next year is due.")
    PROGRAMME_ESCALATED = "programme_escalated", _(
        "A programme deadline of your unit has passed and was escalated to you."
    )
    DELEGATION_BLOCKED = "delegation_blocked", _(
        "An item for an absent agent could not go to their deputy (clearance); it waits for the agent."
    )
    PROGRAMME_SUBMITTED = "programme_submitted", _("An action programme was submitted for review.")
    PROGRAMME_RETURNED = "programme_returned", _("An action programme was returned to the mission for changes.")
    PROGRAMME_APPROVED = "programme_approved", _("An action programme was approved.")
    PROGRAMME_REVISION_PROPOSED = "programme_revision_proposed", _(
        "A revision of an approved action programme awaits approval."
    )
    PROGRAMME_REVISION_DECIDED = "programme_revision_decided", _("Headquarters decided on a proposed revision.")
    SAVED_SEARCH_MATCH = "saved_search_match", _("A new document matches one of your saved searches.")
    OTHER = "other", _("Something needs your attention.")


# Notifications about these objects count only while their recipient may still read the
# object: one that left the agent's scope (membership ended, clearance lowered) leaves no trace.
GATED_TARGETS = ("correspondence.dispatch", "planning.programme")


class NotificationQuerySet(RestrictedQuerySet["Notification"]):
    def visible_to(self, user: Viewer | None) -> NotificationQuerySet:
        # Each agent sees only their own notifications, about objects they may still read.
        user = signed_in(user)
        if user is None:
            return self.none()._mark_gated()
        own = self.filter(recipient_id=user.pk)
        # The target's key as a number (NULL if it is not one: the cast is never tried on other text).
        key = OuterRef("target_id")
        target_pk = Case(When(Regex(key, r"^[0-9]{1,18}$"), then=Cast(key, models.BigIntegerField())))
        for label in GATED_TARGETS:
            target_model = apps.get_model(label)
            # One probe of the target's gate by primary key per notification (an uncorrelated
            # `IN (every readable target)` listed a desk officer's whole scope: 2 s at a million).
            readable = Exists(target_model._default_manager.visible_to(user).filter(pk=target_pk))
            own = own.exclude(Q(target_type=label) & ~Q(readable))
        return own._mark_gated()

    def gate_key(self, user: Viewer | None) -> tuple[Any, ...] | None:
        """Everything `visible_to(user)` is written from (the recipient and each gated target's
        own `gate_key`), or None when nothing is visible."""
        user = signed_in(user)
        if user is None:
            return None
        return (user.pk, *(apps.get_model(label)._default_manager.gate_key(user) for label in GATED_TARGETS))

    def unread(self) -> NotificationQuerySet:
        return self.filter(read_at__isnull=True)


class Notification(ChoiceLabels):
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications", verbose_name=_("recipient")
    )
    verb = models.CharField(_("event"), max_length=40, choices=Verb.choices)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    url = models.CharField(_("link"), max_length=500)
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [models.Index(fields=["recipient", "read_at"], name="notification_unread")]

    def __str__(self) -> str:
        return f"{self.get_verb_display()} ({self.target_type}:{self.target_id})"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None
