"""Attachment file names of protected dispatches move from a clear column to AES-GCM
ciphertext under the dispatch's data key (associated data: kind "attachment.filename",
"<dispatch id>/<position>", the marking — as `content.filename_aad`)."""

from django.db import migrations, models
from django.db.models import Q


def _marking_text(level, codes):
    codes = sorted(codes)
    return f"{int(level)}:{','.join(codes)}" if codes else str(int(level))


def _aad(dispatch_id, position, marking):
    from chancery.crypto import envelope

    return envelope.associated_data("attachment.filename", f"{int(dispatch_id)}/{int(position)}", marking)


def _protected_attachments(apps):
    Attachment = apps.get_model("correspondence", "Attachment")
    protected = Q(dispatch__classification__gte=1) | Q(dispatch__transmission="encrypted")
    return (
        Attachment.objects.filter(protected, dispatch__data_key__isnull=False)
        .select_related("dispatch__data_key")
        .order_by("dispatch_id", "position")
    )


def _key_and_marking(dispatch, cache):
    from chancery.crypto.services import unwrap

    if dispatch.pk not in cache:
        codes = dispatch.compartments.values_list("code", flat=True)
        cache.clear()  # attachments come ordered by dispatch: keep one key in memory
        cache[dispatch.pk] = (unwrap(data_key=dispatch.data_key), _marking_text(dispatch.classification, codes))
    return cache[dispatch.pk]


def encrypt_existing_names(apps, schema_editor):
    from chancery.crypto import envelope

    cache = {}
    # a list, not .iterator(): SQLite gives no isolation between a cursor and writes to its table
    for attachment in list(_protected_attachments(apps).filter(filename_ciphertext__isnull=True)):
        key, marking = _key_and_marking(attachment.dispatch, cache)
        aad = _aad(attachment.dispatch_id, attachment.position, marking)
        attachment.filename_ciphertext = envelope.encrypt(attachment.filename_clear.encode("utf-8"), key, aad)
        attachment.filename_clear = ""
        attachment.save(update_fields=["filename_ciphertext", "filename_clear"])


def decrypt_names(apps, schema_editor):
    from chancery.crypto import envelope

    cache = {}
    for attachment in list(_protected_attachments(apps).filter(filename_ciphertext__isnull=False)):
        key, marking = _key_and_marking(attachment.dispatch, cache)
        aad = _aad(attachment.dispatch_id, attachment.position, marking)
        attachment.filename_clear = envelope.decrypt(bytes(attachment.filename_ciphertext), key, aad).decode("utf-8")
        attachment.filename_ciphertext = None
        attachment.save(update_fields=["filename_ciphertext", "filename_clear"])


class Migration(migrations.Migration):
    dependencies = [
        ("correspondence", "0002_transmission_label"),
        ("crypto", "0001_initial"),
    ]

    operations = [
        migrations.RenameField(
            model_name="attachment",
            old_name="filename",
            new_name="filename_clear",
        ),
        migrations.AlterField(
            model_name="attachment",
            name="filename_clear",
            field=models.CharField(blank=True, max_length=255, verbose_name="file name"),
        ),
        migrations.AddField(
            model_name="attachment",
            name="filename_ciphertext",
            field=models.BinaryField(blank=True, null=True),
        ),
        migrations.RunPython(encrypt_existing_names, decrypt_names),
    ]
