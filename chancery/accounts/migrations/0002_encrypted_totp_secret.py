"""TOTP secrets move from a clear column to AES-GCM ciphertext under a per-agent data key."""

import django.db.models.deletion
from django.db import migrations, models


def encrypt_existing_secrets(apps, schema_editor):
    from chancery.crypto import envelope
    from chancery.crypto.services import new_data_key

    User = apps.get_model("accounts", "User")
    DataKey = apps.get_model("crypto", "DataKey")
    for user in User.objects.exclude(totp_secret="").only("pk", "totp_secret"):
        row, key = new_data_key()
        user.totp_data_key = DataKey.objects.get(pk=row.pk)
        aad = envelope.associated_data("user.totp_secret", user.pk, "")
        user.totp_secret_ciphertext = envelope.encrypt(user.totp_secret.encode(), key, aad)
        user.save(update_fields=["totp_data_key", "totp_secret_ciphertext"])


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0001_initial'),
        ('crypto', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='user',
            name='totp_data_key',
            field=models.ForeignKey(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='crypto.datakey'),
        ),
        migrations.AddField(
            model_name='user',
            name='totp_secret_ciphertext',
            field=models.BinaryField(blank=True, default=b''),
        ),
        migrations.RunPython(encrypt_existing_secrets, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name='user',
            name='totp_secret',
        ),
    ]
