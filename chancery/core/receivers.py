"""Signal handlers every Chancery model shares."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models.signals import pre_save
from django.dispatch import receiver

from chancery.core.validators import check_model_bounds


@receiver(pre_save, dispatch_uid="chancery.core.bounded_dates")
def bounded_dates(sender: type[models.Model], instance: models.Model, raw: bool = False, **kwargs: Any) -> None:
    """The last line behind every form, API schema and importer: no out-of-range date is saved."""
    if raw or not sender.__module__.startswith("chancery."):
        return
    check_model_bounds(instance)
