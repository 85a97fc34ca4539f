from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "chancery.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from chancery.core import checks, db, receivers  # noqa: F401  (registers checks and signal handlers)
