"""The routing-copy triggers' functions planned afresh at each call on PostgreSQL
(`routing_marking._FUNCTION`): re-created, same behaviour. SQLite's triggers are re-created
identical."""

from django.db import migrations


def reinstall(apps, schema_editor):
    from chancery.correspondence import routing_marking

    routing_marking.uninstall(using=schema_editor.connection.alias)
    routing_marking.install(using=schema_editor.connection.alias)


class Migration(migrations.Migration):

    dependencies = [
        ("correspondence", "0010_dispatch_review_index"),
    ]

    operations = [
        migrations.RunPython(reinstall, migrations.RunPython.noop),
    ]
