"""The dispatches' substring index (`substring_index`): `pg_trgm` GIN indexes on PostgreSQL, an
FTS5 trigram table kept by triggers on SQLite, filled from the dispatches. On PostgreSQL the
extension must be creatable by the migrating role (`pg_trgm` is a trusted extension: the
database's owner may), see docs/deployment.md."""

from django.db import migrations


def install(apps, schema_editor):
    from chancery.correspondence import substring_index

    substring_index.install(using=schema_editor.connection.alias)


def uninstall(apps, schema_editor):
    from chancery.correspondence import substring_index

    substring_index.uninstall(using=schema_editor.connection.alias)


class Migration(migrations.Migration):

    dependencies = [
        ('correspondence', '0012_access_rows_listed'),
    ]

    operations = [
        migrations.RunPython(install, uninstall, elidable=False),
    ]
