"""Base models shared by the domain apps."""

from __future__ import annotations

from typing import Any

from django.core.validators import RegexValidator
from django.db import models
from django.utils.encoding import force_str
from django.utils.hashable import make_hashable
from django.utils.translation import gettext_lazy as _

from chancery.core.classification import Level, Marking


class ChoiceLabels(models.Model):
    """`get_<field>_display()` that translates only the label it returns.

    Django's own builds a dict of every choice on each call, and hashing a lazy label
    translates it: with two or three choice fields per row, a 50-row list made a thousand
    translations, more than its queries cost. Here the value -> label map is built once per
    field (labels kept lazy, so each call still answers in the active language)."""

    class Meta:
        abstract = True

    def _get_FIELD_display(self, field: Any) -> Any:  # overrides Django's (same name)
        labels: dict[Any, Any] | None = field.__dict__.get("_chancery_labels")
        if labels is None:
            labels = {make_hashable(value): label for value, label in field.flatchoices}
            field.__dict__["_chancery_labels"] = labels
        value = getattr(self, field.attname)
        return force_str(labels.get(make_hashable(value), value), strings_only=True)


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


class MarkedModel(ChoiceLabels):
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
