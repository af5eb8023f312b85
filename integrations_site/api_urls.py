"""The REST API under /api/: one router for both apps, the OpenAPI schema and its docs page."""

from django.http import JsonResponse
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from integrations import api as integrations_api
from runs import api as runs_api
from webhooks import api as webhooks_api

router = DefaultRouter()
integrations_api.register(router)
runs_api.register(router)
webhooks_api.register(router)


@csrf_exempt  # what is not there needs no CSRF check; it would answer 403 in HTML to a POST
def not_found(request):
    """Any other URL under /api/ is a 404 in JSON too, as clients of the API expect (not Django's HTML page)."""
    return JsonResponse({"detail": "Not found."}, status=404)


urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file of its own (docs/?script), not inline,
    # so the page runs under the site's Content-Security-Policy; Swagger UI itself comes from our static files.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema", template_name="api/swagger_ui.html"),
         name="api-docs"),
    path("", include(router.urls)),
    # Only URLs that end in a slash: one without it still gets Django's redirect to the URL with it.
    re_path(r"^[\s\S]*/$", not_found),  # [\s\S]: a newline in a path too
]
