"""The admin site: its index is the overview of runs (runs.admin_overview), with the stock app list below it."""

from django.contrib import admin

from .throttling import ThrottledAuthenticationForm


class IntegrationsAdminSite(admin.AdminSite):
    site_header = "Integrations"
    site_title = "Integrations"
    index_title = "Overview"
    # Failed sign-ins are limited per address and username (integrations_site/throttling.py).
    login_form = ThrottledAuthenticationForm

    def index(self, request, extra_context=None):
        from runs.admin_overview import overview

        return overview(self, request, extra_context)
