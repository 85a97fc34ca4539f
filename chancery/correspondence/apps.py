from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _repair_marking_copies(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    from chancery.correspondence import marking_copies, substring_index

    marking_copies.ensure_installed(using=using)
    substring_index.ensure_installed(using=using)


class CorrespondenceConfig(AppConfig):
    name = "chancery.correspondence"
    label = "correspondence"
    verbose_name = _("Correspondence")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from chancery.correspondence import access_index, checks  # noqa: F401  (registers the checks)

        access_index.connect()
        post_migrate.connect(_repair_marking_copies, sender=self, dispatch_uid="marking_copies.repair")
