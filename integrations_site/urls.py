from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from runs import views as run_views

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/callbacks/<slug:token>/", run_views.CallbackView.as_view(), name="callback"),
    path("api/", include("integrations_site.api_urls")),
    path("health/", run_views.health_view, name="health"),
    path("health/web/", run_views.health_view, {"workers": False}, name="health-web"),
    path("metrics", run_views.metrics_view, name="metrics"),
]

if settings.INTEGRATIONS_SANDBOX:
    urlpatterns.append(path("sandbox/", include("sandbox.urls")))
