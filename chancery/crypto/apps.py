from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CryptoConfig(AppConfig):
    name = "chancery.crypto"
    label = "crypto"
    verbose_name = _("Cryptography")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from chancery.crypto import checks  # noqa: F401  (registers the key-store checks)
