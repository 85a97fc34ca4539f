from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0003_object_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="audithead",
            name="previous_hash",
            field=models.CharField(default="0000000000000000000000000000000000000000000000000000000000000000",
                                   max_length=64),
        ),
    ]
