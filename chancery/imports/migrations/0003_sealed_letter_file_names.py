"""Letter-import file names are sealed: AES-GCM under a data key of their own, bound to the
file's digest (as `LetterImport.store_filename`); the clear column stays empty."""

import django.db.models.deletion
from django.db import migrations, models


def _aad(digest):
    from chancery.crypto import envelope

    return envelope.associated_data("imports.filename", digest, "")


def seal_names(apps, schema_editor):
    from chancery.crypto import envelope
    from chancery.crypto.services import new_data_key

    LetterImport = apps.get_model("imports", "LetterImport")
    # a list, not .iterator(): SQLite gives no isolation between a cursor and writes to its table
    for row in list(LetterImport.objects.filter(filename_ciphertext__isnull=True).exclude(filename_clear="")):
        data_key, key = new_data_key()
        row.filename_key_id = data_key.pk
        row.filename_ciphertext = envelope.encrypt(row.filename_clear.encode("utf-8"), key, _aad(row.content_hash))
        row.filename_clear = ""
        row.save(update_fields=["filename_key", "filename_ciphertext", "filename_clear"])


def unseal_names(apps, schema_editor):
    from chancery.crypto import envelope
    from chancery.crypto.services import unwrap

    LetterImport = apps.get_model("imports", "LetterImport")
    DataKey = apps.get_model("crypto", "DataKey")
    for row in list(LetterImport.objects.filter(filename_ciphertext__isnull=False, filename_key__isnull=False)):
        key = unwrap(data_key=DataKey.objects.get(pk=row.filename_key_id))
        row.filename_clear = envelope.decrypt(bytes(row.filename_ciphertext), key, _aad(row.content_hash)).decode()
        row.filename_ciphertext, row.filename_key_id = None, None
        row.save(update_fields=["filename_key", "filename_ciphertext", "filename_clear"])


class Migration(migrations.Migration):
    dependencies = [
        ("crypto", "0001_initial"),
        ("imports", "0002_letter_duplicates_per_importer"),
    ]

    operations = [
        migrations.RenameField(model_name="letterimport", old_name="filename", new_name="filename_clear"),
        migrations.AlterField(
            model_name="letterimport",
            name="filename_clear",
            field=models.CharField(blank=True, max_length=255, verbose_name="file name"),
        ),
        migrations.AddField(
            model_name="letterimport",
            name="filename_ciphertext",
            field=models.BinaryField(blank=True, null=True, editable=False),
        ),
        migrations.AddField(
            model_name="letterimport",
            name="filename_key",
            field=models.ForeignKey(
                blank=True,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="crypto.datakey",
            ),
        ),
        migrations.RunPython(seal_names, unseal_names),
    ]
