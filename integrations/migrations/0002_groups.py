"""The two staff groups: "Integrations Admin" edits and archives, "Integrations Viewer" only looks."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ADMIN = "Integrations Admin"
VIEWER = "Integrations Viewer"

DEFINITIONS = ["secret", "action", "actioninput", "stopcondition", "continuecondition", "responsemapping"]

# (app label, model) -> the actions each group may take.
GROUPS = {
    ADMIN: {
        # Integrations are archived, never deleted, by this group.
        ("integrations", "integration"): ["add", "change", "view"],
        **{("integrations", model): ["add", "change", "delete", "view"] for model in DEFINITIONS},
        ("runs", "run"): ["change", "view"],
        ("runs", "exchange"): ["view"],
    },
    VIEWER: {
        ("integrations", "integration"): ["view"],
        **{("integrations", model): ["view"] for model in DEFINITIONS},
        ("runs", "run"): ["view"],
        ("runs", "exchange"): ["view"],
    },
}


def create_missing_permissions(apps, schema_editor):
    # On a fresh database permissions are made by post_migrate, after every
    # migration: too late for the groups below.
    for label in ("integrations", "runs"):
        app_config = apps.get_app_config(label)
        app_config.models_module = True  # historical apps have none; create_permissions skips those
        create_permissions(app_config, verbosity=0, using=schema_editor.connection.alias, apps=apps)
        app_config.models_module = None


def create_groups(apps, schema_editor):
    """Create (or complete) both groups from the permissions that already exist."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, grants in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        for (app_label, model), actions in grants.items():
            for action in actions:
                group.permissions.add(
                    Permission.objects.get(content_type__app_label=app_label, codename=f"{action}_{model}")
                )


def delete_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0001_initial"),
        ("runs", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(create_missing_permissions, migrations.RunPython.noop),
        migrations.RunPython(create_groups, delete_groups),
    ]
