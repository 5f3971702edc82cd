from django.db import migrations

from forms_intake.definitions import DEFAULT_FORMS


def load_forms(apps, schema_editor):
    FormDefinition = apps.get_model("forms_intake", "FormDefinition")
    for values in DEFAULT_FORMS:
        FormDefinition.objects.get_or_create(form_type=values["form_type"], defaults=values)


class Migration(migrations.Migration):
    dependencies = [("forms_intake", "0001_initial")]

    operations = [migrations.RunPython(load_forms, migrations.RunPython.noop)]
