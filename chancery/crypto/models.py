"""Wrapped data keys, key rotations and signing keys.

No row holds a usable secret: data keys are wrapped by a KEK that lives outside the
database, and signing private keys are encrypted with a data key.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class DataKey(models.Model):
    """A per-object AES-256 key, stored wrapped by the KEK named in `kek_id`."""

    id = models.BigAutoField(primary_key=True)
    wrapped_key = models.BinaryField(_("wrapped key"))
    kek_id = models.CharField(_("key-encryption key"), max_length=32, db_index=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("data key")
        verbose_name_plural = _("data keys")

    def __str__(self) -> str:
        return f"data key {self.pk} (KEK {self.kek_id})"


class KeyRotation(models.Model):
    """One run of rotate_keys, recorded so that an interrupted run can be resumed."""

    class State(models.TextChoices):
        RUNNING = "running", _("running")
        FINISHED = "finished", _("finished")
        SUPERSEDED = "superseded", _("superseded")

    id = models.BigAutoField(primary_key=True)
    target_kek_id = models.CharField(_("target key-encryption key"), max_length=32)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.RUNNING)
    rewrapped = models.PositiveBigIntegerField(_("data keys re-wrapped"), default=0)
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("key rotation")
        verbose_name_plural = _("key rotations")
        constraints = [
            # Two rotations towards different KEKs at once would chase each other.
            models.UniqueConstraint(
                fields=["state"], condition=Q(state="running"), name="crypto_one_running_rotation"
            ),
        ]

    def __str__(self) -> str:
        return f"rotation {self.pk} to KEK {self.target_kek_id} ({self.state})"


class SigningKey(models.Model):
    """An Ed25519 key pair of an owner (a unit code); the private half is encrypted."""

    id = models.BigAutoField(primary_key=True)
    owner = models.CharField(_("owner"), max_length=64, db_index=True)
    public_key = models.BinaryField(_("public key"), max_length=32)
    encrypted_private_key = models.BinaryField(_("encrypted private key"))
    data_key = models.ForeignKey(
        DataKey, on_delete=models.PROTECT, related_name="signing_keys", verbose_name=_("data key")
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    retired_at = models.DateTimeField(_("retired at"), null=True, blank=True)

    class Meta:
        verbose_name = _("signing key")
        verbose_name_plural = _("signing keys")
        constraints = [
            models.UniqueConstraint(
                fields=["owner"], condition=Q(retired_at__isnull=True), name="crypto_one_active_signing_key"
            ),
        ]

    def __str__(self) -> str:
        return f"signing key {self.pk} of {self.owner}"


class HashKey(models.Model):
    """The key of one kind of keyed hash (`purpose`: "tag", "attachment"): a `DataKey`,
    wrapped by the KEK like every data key, so `chancery rotate-keys` re-wraps it."""

    purpose = models.CharField(max_length=40, unique=True)
    data_key = models.ForeignKey(DataKey, on_delete=models.PROTECT, related_name="+")

    def __str__(self) -> str:
        return f"hash key {self.purpose}"


class SealedTerm(models.Model):
    """A word known only by its keyed hash (`token`), sealed under the same hash key so that
    the application — never the database alone — can name a token it shows (tag facets)."""

    purpose = models.CharField(max_length=40)
    token = models.CharField(max_length=40)
    ciphertext = models.BinaryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["purpose", "token"], name="crypto_sealed_term_unique")]

    def __str__(self) -> str:
        return f"sealed term {self.pk}"
