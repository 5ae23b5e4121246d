from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("consent", "0012_freeze_consent_id"),
    ]

    operations = [
        migrations.AddField(
            model_name="team",
            name="phone",
            field=models.CharField(
                blank=True,
                help_text="Shown to this team's patients. Empty: the hospital's number is shown.",
                max_length=40,
            ),
        ),
        migrations.AddField(
            model_name="team",
            name="email",
            field=models.EmailField(
                blank=True,
                help_text="Shown to this team's patients. Empty: the hospital's address is shown.",
                max_length=254,
            ),
        ),
    ]
