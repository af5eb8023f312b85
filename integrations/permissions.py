"""API permissions that follow the admin groups: viewers read, Integrations Admins change and run.

Django's model permissions decide, as in the admin: reading needs the
model's view permission, writing its add/change/delete permission.
Starting, refiring and cancelling runs needs runs.change_run, which the
Integrations Admin group has and the viewers have not.
"""

from rest_framework.permissions import DjangoModelPermissions


class ModelPermissions(DjangoModelPermissions):
    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
    }


class CanOperateRuns(DjangoModelPermissions):
    """Start, refire or cancel a run (POST): runs.change_run. Reading: runs.view_run."""

    perms_map = {
        "GET": ["runs.view_run"],
        "HEAD": ["runs.view_run"],
        "OPTIONS": ["runs.view_run"],
        "POST": ["runs.change_run"],
    }

    def _queryset(self, view):
        from runs.models import Run

        return Run.objects.none()


class IntegrationPermissions(ModelPermissions):
    """Integrations are archived, never deleted (as in the admin): DELETE is not one of their methods (405)."""

    perms_map = {method: perms for method, perms in ModelPermissions.perms_map.items() if method != "DELETE"}


class ChangePermissions(ModelPermissions):
    """A POST that changes an existing object (archive, unarchive) needs the change permission, not add."""

    perms_map = {**ModelPermissions.perms_map, "POST": ["%(app_label)s.change_%(model_name)s"]}


class CanImportIntegrations(ModelPermissions):
    """An import creates or replaces an integration and its actions: it needs what the admin needs for that."""

    perms_map = {
        **ModelPermissions.perms_map,
        "POST": [
            "integrations.add_integration",
            "integrations.change_integration",
            "integrations.add_action",
            "integrations.change_action",
            "integrations.delete_action",
        ],
    }
