import django.core.validators
from django.db import migrations, models


def one_group_per_row(apps, schema_editor):
    """Every existing row becomes a group of its own, numbered in today's order, so runs decide as before."""
    StopCondition = apps.get_model("integrations", "StopCondition")
    group, action_id, changed = 0, None, []
    for row in StopCondition.objects.order_by("action_id", "position", "id"):
        if row.action_id != action_id:
            group, action_id = 0, row.action_id
        group += 1
        row.group = group
        changed.append(row)
    StopCondition.objects.bulk_update(changed, ["group"], batch_size=500)


class Migration(migrations.Migration):

    dependencies = [
        ("integrations", "0004_action_safe_to_repeat"),
    ]

    operations = [
        migrations.AddField(
            model_name="stopcondition",
            name="group",
            field=models.PositiveIntegerField(
                blank=True,
                default=0,
                help_text="Rows with the same group number must all match; groups are tried in order. "
                "Blank: a new group of its own.",
                validators=[django.core.validators.MinValueValidator(1)],
            ),
            preserve_default=False,
        ),
        migrations.RunPython(one_group_per_row, migrations.RunPython.noop),
        migrations.AlterModelOptions(
            name="stopcondition",
            options={"ordering": ["group", "position", "id"]},
        ),
    ]
