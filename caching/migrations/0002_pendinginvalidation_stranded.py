from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("caching", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="pendinginvalidation",
            name="stranded",
            field=models.BooleanField(
                default=False,
                help_text="its writer could not reach Redis: anyone applies it",
            ),
        ),
    ]
