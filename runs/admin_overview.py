"""The admin's landing page: the overview of runs (runs.overview), with the stock app list below it."""

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.template.response import TemplateResponse

from . import overview as figures

PRODUCT_APPS = ("integrations", "runs")
REFIRE_ACTION = "refire_selected"


def overview(site, request, extra_context=None):
    """The site's index: what needs attention now; the plumbing (users, tokens, queues) under Administration."""
    app_list = site.get_app_list(request)
    within = request.GET.get("within", "24h")
    context = {
        **site.each_context(request),
        "title": site.index_title,
        "subtitle": None,
        "overview": figures.overview(within),
        "windows": figures.WITHIN,
        "product_apps": [app for app in app_list if app["app_label"] in PRODUCT_APPS],
        "app_list": [app for app in app_list if app["app_label"] not in PRODUCT_APPS],
        "may_refire": request.user.has_perm("runs.change_run"),
        "refire_action": REFIRE_ACTION,
        "selected_field": ACTION_CHECKBOX_NAME,
        **(extra_context or {}),
    }
    request.current_app = site.name
    return TemplateResponse(request, "admin/overview.html", context)
