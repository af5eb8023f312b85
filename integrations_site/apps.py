from django.contrib.admin.apps import AdminConfig


class IntegrationsAdminConfig(AdminConfig):
    """django.contrib.admin with our site as the default one (Django's "Overriding the default admin site")."""

    default_site = "integrations_site.admin_site.IntegrationsAdminSite"
