"""Base models shared by the domain apps."""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from chancery.core.classification import Level, Marking


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        abstract = True


class Compartment(models.Model):
    """A caveat restricting a marking to those cleared for it (e.g. `NATO`, `CRYPTO`)."""

    code = models.CharField(
        _("code"),
        max_length=32,
        unique=True,
        validators=[RegexValidator(r"^[A-Z][A-Z0-9_-]{0,31}$", _("Use capital letters, digits, - or _."))],
    )
    name = models.CharField(_("name"), max_length=120)

    class Meta:
        ordering = ["code"]
        verbose_name = _("compartment")
        verbose_name_plural = _("compartments")

    def __str__(self) -> str:
        return self.code


class MarkedModel(models.Model):
    """An object carrying a classification marking (level + compartments)."""

    classification = models.PositiveSmallIntegerField(
        _("classification"), choices=Level.choices, default=Level.UNCLASSIFIED
    )
    compartments = models.ManyToManyField(Compartment, blank=True, verbose_name=_("compartments"), related_name="+")

    class Meta:
        abstract = True

    @property
    def marking(self) -> Marking:
        codes: list[str] = [c.code for c in self.compartments.all()] if self.pk else []
        return Marking.of(self.classification, codes)
