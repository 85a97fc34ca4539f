from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CorrespondenceConfig(AppConfig):
    name = "chancery.correspondence"
    label = "correspondence"
    verbose_name = _("Correspondence")

    def ready(self) -> None:
        from chancery.correspondence import access_index

        access_index.connect()
