import secrets

from django.db import migrations, models

import bookings.models


def fill_intake_references(apps, schema_editor):
    Booking = apps.get_model("bookings", "Booking")
    for booking in Booking.objects.filter(intake_reference="").only("pk").iterator():
        Booking.objects.filter(pk=booking.pk).update(intake_reference=secrets.token_urlsafe(16))


class Migration(migrations.Migration):
    dependencies = [("bookings", "0003_medirecords_sync")]

    operations = [
        migrations.AddField(
            model_name="booking",
            name="intake_reference",
            field=models.CharField(default="", editable=False, max_length=32),
            preserve_default=False,
        ),
        migrations.RunPython(fill_intake_references, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="booking",
            name="intake_reference",
            field=models.CharField(
                default=bookings.models.intake_reference_new,
                editable=False,
                help_text="Carried in the intake form links, so a submission finds its booking.",
                max_length=32,
                unique=True,
            ),
        ),
    ]
