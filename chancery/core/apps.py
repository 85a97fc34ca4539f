from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "chancery.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from chancery.core import checks, db, expressions, receivers  # noqa: F401  (registers checks and signal handlers)

        expressions.install()

        # post_migrate is sent once per app after all migrations ran: one sender is enough.
        post_migrate.connect(db.analyse_after_migrate, sender=self, dispatch_uid="chancery.core.db.analyse")
