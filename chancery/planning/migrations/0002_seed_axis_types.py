from django.db import migrations

AXIS_TYPES = [
    ("political", "Politique", "Political", "سياسي", "Político"),
    ("economic", "Économique", "Economic", "اقتصادي", "Económico"),
    ("cultural", "Culturel", "Cultural", "ثقافي", "Cultural"),
    ("communication", "Communication", "Communication", "تواصل", "Comunicación"),
    ("consular", "Consulaire", "Consular", "قنصلي", "Consular"),
    ("security", "Sécurité", "Security", "أمني", "Seguridad"),
    ("other", "Autre", "Other", "أخرى", "Otro"),
]


def seed(apps, schema_editor):
    AxisType = apps.get_model("planning", "AxisType")
    for position, (key, fr, en, ar, es) in enumerate(AXIS_TYPES, start=1):
        AxisType.objects.update_or_create(
            key=key,
            defaults={"name_fr": fr, "name_en": en, "name_ar": ar, "name_es": es, "position": position * 10},
        )


def unseed(apps, schema_editor):
    apps.get_model("planning", "AxisType").objects.filter(key__in=[row[0] for row in AXIS_TYPES]).delete()


class Migration(migrations.Migration):
    dependencies = [("planning", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
