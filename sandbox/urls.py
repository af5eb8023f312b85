"""The sandbox's endpoints, served under /sandbox/ while INTEGRATIONS_SANDBOX is on."""

from django.urls import path

from . import views

app_name = "sandbox"
urlpatterns = [
    path("", views.index, name="index"),
    path("jobs/", views.create_job, name="jobs"),
    path("jobs/<str:token>/", views.job_status, name="job"),
    path("jobs/<str:token>/cancel/", views.cancel_job, name="cancel"),
    path("jobs/<str:token>/report/", views.job_report, name="report"),
    path("uploads/", views.receive_upload, name="uploads"),
]
