"""Seal the texts of existing protected programmes (see `chancery.planning.sealed`).

Works on historical models: the columns are read and written directly, the row's texts go
encrypted into `sealed_texts` under the programme's data key (created when missing, through
the key store like every data key, so `chancery rotate-keys` re-wraps it).
"""

from typing import Any

from django.db import migrations

RESTRICTED = 1  # chancery.core.classification.Level.RESTRICTED at the time of writing

SEALED = {
    "programme": ("", ("title", "summary", "revision_reason")),
    "axis": ("programme", ("narrative",)),
    "objective": ("axis__programme", ("title", "description")),
    "action": ("programme", ("title", "description", "risk_note")),
    "indicator": ("programme", ("label", "data_source")),
    "measurement": ("indicator__programme", ("evidence",)),
    "achievement": ("programme", ("title", "description", "outlet", "link")),
    "programmeversion": ("programme", ("reason", "snapshot")),
    "programmecomment": ("programme", ("body",)),
    "progressupdate": ("action__programme", ("note",)),
}


def seal_existing(apps: Any, schema_editor: Any) -> None:
    from chancery.crypto.models import DataKey
    from chancery.crypto.services import new_data_key, unwrap
    from chancery.planning.sealed import seal_rows

    Programme = apps.get_model("planning", "Programme")
    for programme in Programme.objects.filter(classification__gte=RESTRICTED).order_by("pk"):
        if programme.data_key_id is None:
            row, key = new_data_key()
            Programme.objects.filter(pk=programme.pk).update(data_key_id=row.pk)
        else:
            key = unwrap(data_key=DataKey.objects.get(pk=programme.data_key_id))
        for name, (path, fields) in SEALED.items():
            model = apps.get_model("planning", name)
            lookup = {path: programme.pk} if path else {"pk": programme.pk}
            rows = model._base_manager.filter(sealed_texts__isnull=True, **lookup)
            seal_rows(model, list(rows), names=fields, programme_id=programme.pk, key=key)


def unseal_all(apps: Any, schema_editor: Any) -> None:
    """Back to clear columns (before 0007 drops `sealed_texts`)."""
    from chancery.crypto.models import DataKey
    from chancery.crypto.services import unwrap
    from chancery.planning.sealed import unseal

    Programme = apps.get_model("planning", "Programme")
    keys: dict[int, bytes] = {}
    for name, (path, fields) in SEALED.items():
        model = apps.get_model("planning", name)
        pid = f"{path}_id" if path else "pk"
        for pk, programme_id, blob in model._base_manager.filter(sealed_texts__isnull=False).values_list(
            "pk", pid, "sealed_texts"
        ):
            if programme_id not in keys:
                key_id = Programme._base_manager.values_list("data_key_id", flat=True).get(pk=programme_id)
                keys[programme_id] = unwrap(data_key=DataKey.objects.get(pk=key_id))
            texts = unseal(blob, key=keys[programme_id], label=model._meta.label_lower, pk=pk, programme_id=programme_id)
            clear = {f: texts[f] for f in fields if f in texts}
            model._base_manager.filter(pk=pk).update(sealed_texts=None, **clear)


class Migration(migrations.Migration):

    dependencies = [
        ("crypto", "0001_initial"),
        ("planning", "0007_sealed_texts"),
    ]

    operations = [migrations.RunPython(seal_existing, unseal_all)]
