"""The staff groups' permissions on webhooks: Integrations Admins manage subscriptions and redeliver, Viewers
look."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GRANTS = {
    "Integrations Admin": {"subscription": ["add", "change", "delete", "view"], "delivery": ["change", "view"]},
    "Integrations Viewer": {"subscription": ["view"], "delivery": ["view"]},
}


def grant(apps, schema_editor):
    app_config = apps.get_app_config("webhooks")
    app_config.models_module = True  # see integrations/migrations/0002_groups.py
    create_permissions(app_config, verbosity=0, using=schema_editor.connection.alias, apps=apps)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, models in GRANTS.items():
        group = Group.objects.filter(name=name).first()
        if group is None:
            continue
        for model, actions in models.items():
            for action in actions:
                group.permissions.add(Permission.objects.get(content_type__app_label="webhooks",
                                                             codename=f"{action}_{model}"))


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0001_initial"),
        ("integrations", "0002_groups"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
