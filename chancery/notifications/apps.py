from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "chancery.notifications"
    label = "notifications"
    verbose_name = _("Notifications")

    def ready(self) -> None:
        from chancery.notifications import receivers

        receivers.connect()
