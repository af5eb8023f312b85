"""The REST API under /api/: one router for both apps, the OpenAPI schema and its docs pages.

Every URL is served with its trailing slash or without it (a POST without it was
a 500 page with DEBUG on: Django cannot redirect a POST), and any other URL under
/api/ is a 404 in the API's error shape.
"""

from csp.decorators import csp_update
from django.urls import Resolver404, include, path, re_path, resolve
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from integrations import api as integrations_api
from integrations.api_errors import error_json
from runs import api as runs_api
from webhooks import api as webhooks_api

router = DefaultRouter()
integrations_api.register(router)
runs_api.register(router)
webhooks_api.register(router)


@csrf_exempt  # what is not there needs no CSRF check; it would answer 403 in HTML to a POST
def elsewhere(request):
    """A URL of the API without its trailing slash is served as the URL with it (a redirect would turn a
    POST into a GET, and Django refuses to); any other URL under /api/ is a 404 in the API's error shape,
    as its clients expect (not Django's HTML page). The URLs the API gives all end in a slash."""
    if not request.path_info.endswith("/"):
        try:
            match = resolve(request.path_info + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not elsewhere:
            return match.func(request, *match.args, **match.kwargs)
    return error_json(404, "Not found.", "not_found")


# ReDoc styles its page with <style> elements it writes itself: allowed on this page only (styles run no
# code; scripts stay limited to this site's files). Its search index is built in a worker from a blob: URL.
redoc = csp_update({"style-src": ["'unsafe-inline'"], "worker-src": ["blob:"]})(
    SpectacularRedocView.as_view(url_name="api-schema", template_name="api/redoc.html")
)

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file of its own (docs/?script), not inline,
    # so the page runs under the site's Content-Security-Policy; Swagger UI itself comes from our static files.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema", template_name="api/swagger_ui.html"),
         name="api-docs"),
    path("redoc/", redoc, name="api-redoc"),
    path("", include(router.urls)),
    re_path(r"^[\s\S]*$", elsewhere),  # [\s\S]: a newline in a path too
]
