"""Helpers for schedule tests: the staff groups' schedule permissions, and schedules made quickly."""

from importlib import import_module

from runs.models import Schedule


def grant_group_permissions():
    """Give the staff groups their schedule permissions, as runs' 0013 migration does (a transactional test's
    flush leaves groups made again by the `groups` fixture without them)."""
    from django.contrib.auth.models import Group, Permission

    for name, models in import_module("runs.migrations.0013_schedules").GRANTS.items():
        group = Group.objects.get(name=name)
        for model, actions in models.items():
            group.permissions.add(*Permission.objects.filter(
                content_type__app_label="runs", codename__in=[f"{action}_{model}" for action in actions]))


def schedule(action, **fields):
    """A saved schedule of ``action`` (every second by default), checked as a form checks it."""
    made = Schedule(action=action, name=fields.pop("name", "Every second"),
                    kind=fields.pop("kind", "interval"), **{"every_seconds": 1, **fields})
    made.full_clean()
    made.save()
    return made
