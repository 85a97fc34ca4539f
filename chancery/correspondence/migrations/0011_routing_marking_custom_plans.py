"""The routing-copy triggers' functions planned afresh at each call on PostgreSQL
(`marking_copies._FUNCTION`): re-created, same behaviour. SQLite's triggers are re-created
identical."""

from django.db import migrations


def reinstall(apps, schema_editor):
    from chancery.correspondence import marking_copies

    marking_copies.uninstall(using=schema_editor.connection.alias)
    marking_copies.install(using=schema_editor.connection.alias)


class Migration(migrations.Migration):

    dependencies = [
        ("correspondence", "0010_dispatch_review_index"),
    ]

    operations = [
        migrations.RunPython(reinstall, migrations.RunPython.noop),
    ]
