import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def build_index(apps, schema_editor):
    from chancery.correspondence.access_index import rebuild_access_index

    rebuild_access_index(using=schema_editor.connection.alias, models=apps)


class Migration(migrations.Migration):
    dependencies = [
        ("correspondence", "0005_protected_place_tags_citations_reasons_keyed_hashes"),
        ("organisation", "0002_lock_version"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="DispatchAccess",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("oversee", models.BooleanField(default=False)),
                (
                    "dispatch",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.DO_NOTHING, related_name="+", to="correspondence.dispatch"
                    ),
                ),
                (
                    "unit",
                    models.ForeignKey(
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="organisation.unit",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(fields=["dispatch", "unit", "oversee"], name="corr_access_dispatch"),
                    models.Index(fields=["unit", "dispatch"], name="corr_access_unit"),
                    models.Index(fields=["user", "dispatch"], name="corr_access_user"),
                ],
            },
        ),
        migrations.RunPython(build_index, migrations.RunPython.noop),
    ]
