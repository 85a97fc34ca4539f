"""The append-only, hash-chained audit log.

Each event stores the SHA-256 of its predecessor's hash and its own canonical content,
so editing, deleting, reordering or truncating events breaks the chain (see verify).
Details hold ids and field names, never protected content.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from chancery.accounts.access import signed_in
from chancery.core.gate import RestrictedQuerySet

if TYPE_CHECKING:
    from chancery.core.types import Viewer


class AuditEventQuerySet(RestrictedQuerySet["AuditEvent"]):
    def visible_to(self, user: Viewer | None) -> AuditEventQuerySet:
        from chancery.accounts.roles import Capability

        user = signed_in(user)
        if user is None:
            return self.none()._mark_gated()
        if user.is_superuser or user.has_capability(Capability.READ_AUDIT):
            return self._mark_gated()
        # Everyone may see what they themselves did.
        return self.filter(actor=user)._mark_gated()


class AuditEvent(models.Model):
    sequence = models.BigIntegerField(unique=True)
    created_at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=64, db_index=True)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)
    previous_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["sequence"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        # A dispatch's history tab reads its events in order: one index range, whatever the log's size.
        indexes = [models.Index(fields=["object_type", "object_id", "sequence"], name="audit_object_sequence")]


class AuditHead(models.Model):
    """A single row locked while appending, so that concurrent writers chain in order."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    sequence = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="0" * 64)
    # The hash the newest append moved from: PostgreSQL's one-statement append sets it with the
    # head (`previous_hash = hash`) and returns it as the new event's (an UPDATE's RETURNING
    # gives only the new values). Nothing reads it otherwise.
    previous_hash = models.CharField(max_length=64, default="0" * 64)


class AuditCheckpoint(models.Model):
    """A signed statement of the chain head at one moment (periodic, at each backup, or on demand).

    Kept in the database *and* exportable (`chancery audit-checkpoint --out FILE`): a copy kept
    elsewhere is what proves a truncation that also rewrote the head and these rows.
    """

    sequence = models.BigIntegerField(_("sequence"), db_index=True)
    hash = models.CharField(_("hash"), max_length=64)
    created_at = models.DateTimeField(_("created at"))
    reason = models.CharField(_("reason"), max_length=32)
    signing_key_id = models.BigIntegerField(_("signing key"))
    signature = models.BinaryField(_("signature"))

    class Meta:
        ordering = ["sequence", "id"]
        verbose_name = _("audit checkpoint")
        verbose_name_plural = _("audit checkpoints")
