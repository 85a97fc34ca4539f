"""Letter imports: one row per file previewed, imported, skipped or failed, and bulk runs.

A `LetterImport` never holds the letter's content in clear: while a preview waits for its
confirmation, the uploaded file is kept encrypted (AES-256-GCM under its own data key, like a
protected dispatch); once imported, the file lives on as the dispatch's attachment and the
row keeps only ids, the content hash and a content-free summary of the extraction (which
fields were found, problem codes, counts). A saved import is unique per content hash: the
same file is never imported twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from chancery.accounts.access import signed_in
from chancery.core.gate import RestrictedQuerySet

if TYPE_CHECKING:
    from chancery.core.types import Viewer


class ImportStatus(models.TextChoices):
    PREVIEWED = "previewed", _("Previewed")
    IMPORTED = "imported", _("Imported")
    FAILED = "failed", _("Failed")
    # A file already imported is skipped: reported (and counted in its batch), never stored again.


class BatchState(models.TextChoices):
    RUNNING = "running", _("Running")
    FINISHED = "finished", _("Finished")


def _own(queryset: Any, user: Viewer | None, field: str) -> Any:
    agent = signed_in(user)
    if agent is None:
        return queryset.none()._mark_gated()
    return queryset.filter(**{field: agent.pk})._mark_gated()


class LetterImportQuerySet(RestrictedQuerySet["LetterImport"]):
    def visible_to(self, user: Viewer | None) -> LetterImportQuerySet:
        """An agent sees the imports they made (the letters themselves are read through the
        dispatch they became, under its own gate)."""
        return _own(self, user, "imported_by_id")


class ImportBatchQuerySet(RestrictedQuerySet["ImportBatch"]):
    def visible_to(self, user: Viewer | None) -> ImportBatchQuerySet:
        return _own(self, user, "started_by_id")


class ImportBatch(models.Model):
    """One bulk run over a folder; a rerun over the same folder by the same agent resumes it."""

    folder = models.CharField(_("folder"), max_length=1000)
    run_key = models.CharField(max_length=64, db_index=True, help_text="sha256 of the folder path and the agent")
    state = models.CharField(_("state"), max_length=10, choices=BatchState.choices, default=BatchState.RUNNING)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    registry_unit = models.ForeignKey(
        "organisation.Unit", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    total = models.PositiveIntegerField(_("files"), default=0)
    imported = models.PositiveIntegerField(_("imported"), default=0)
    skipped = models.PositiveIntegerField(_("skipped"), default=0)
    failed = models.PositiveIntegerField(_("failed"), default=0)
    runs = models.PositiveIntegerField(_("runs"), default=0)
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    objects = ImportBatchQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("import batch")
        verbose_name_plural = _("import batches")

    def __str__(self) -> str:
        return f"import batch {self.pk}"


class LetterImport(models.Model):
    """One letter file through the import, from preview to its dispatch.

    The original file name is sealed (`filename_ciphertext`, AES-GCM under a data key of
    its own, bound to the file's digest; `filename_clear` stays empty): a name often says
    what the letter is about ("visite-secrete-ministre.docx"), and when it is written —
    at preview or at a failure — the marking of the dispatch it will give is not known
    yet, so every name is sealed rather than only those of protected results. Its own key
    (not the dispatch's) keeps it readable whatever the dispatch's marking becomes;
    `chancery rotate-keys` re-wraps it like every data key. Read it as `filename`.
    """

    content_hash = models.CharField(_("SHA-256"), max_length=64, db_index=True)
    filename_clear = models.CharField(_("file name"), max_length=255, blank=True)
    filename_ciphertext = models.BinaryField(null=True, blank=True, editable=False)
    filename_key = models.ForeignKey(
        "crypto.DataKey", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    size = models.PositiveBigIntegerField(_("size"), default=0)
    status = models.CharField(
        _("status"), max_length=10, choices=ImportStatus.choices, default=ImportStatus.PREVIEWED, db_index=True
    )
    # Content-free summary: format, language, fields found, problem codes, counts.
    extraction = models.JSONField(_("extraction summary"), default=dict, blank=True)
    # Warnings of a saved import (unit names left unrouted, programme not created…): no content.
    notes = models.JSONField(_("notes"), default=list, blank=True)
    # The uploaded file while a preview waits for confirmation (always encrypted).
    pending_ciphertext = models.BinaryField(null=True, blank=True, editable=False)
    pending_key = models.ForeignKey(
        "crypto.DataKey", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    registry_unit = models.ForeignKey(
        "organisation.Unit", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    dispatch = models.ForeignKey(
        "correspondence.Dispatch", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    programme = models.ForeignKey(
        "planning.Programme", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    batch = models.ForeignKey(ImportBatch, on_delete=models.SET_NULL, null=True, blank=True, related_name="letters")
    error_code = models.CharField(_("error"), max_length=40, blank=True)
    error_message = models.CharField(_("error message"), max_length=500, blank=True)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    imported_at = models.DateTimeField(_("imported"), null=True, blank=True)

    objects = LetterImportQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("letter import")
        verbose_name_plural = _("letter imports")
        constraints = [
            # One import of a file per importer (a rerun or a double click never makes two
            # dispatches). Not one per file: whether someone else imported it is checked only
            # within what the importer may read (`services.imported_with_hash`).
            models.UniqueConstraint(
                fields=["content_hash", "imported_by"], condition=Q(status="imported"),
                name="imports_letter_unique_imported_hash_per_importer",
            ),
        ]
        indexes = [models.Index(fields=["imported_by", "status", "-created_at"], name="imports_letter_user_status")]

    def __str__(self) -> str:
        return f"letter import {self.pk} ({self.status})"

    def _filename_aad(self) -> bytes:
        from chancery.crypto import envelope

        return envelope.associated_data("imports.filename", self.content_hash, "")

    @property
    def filename(self) -> str:
        """The original file name, unsealed."""
        from chancery.crypto import envelope
        from chancery.crypto.services import unwrap

        if self.filename_ciphertext is None or self.filename_key is None:
            return self.filename_clear
        key = unwrap(data_key=self.filename_key)
        return envelope.decrypt(bytes(self.filename_ciphertext), key, self._filename_aad()).decode("utf-8")

    def store_filename(self, name: str) -> None:
        """Seal the file name on the instance (not saved; `content_hash` must be set)."""
        from chancery.crypto import envelope
        from chancery.crypto.services import new_data_key

        row, key = new_data_key()
        self.filename_key = row
        self.filename_ciphertext = envelope.encrypt(name[:255].encode("utf-8"), key, self._filename_aad())
        self.filename_clear = ""
