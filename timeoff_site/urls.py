from django.contrib import admin
from django.urls import include, path

from timeoff_site import health

urlpatterns = [
    path("slack/", include("slackbot.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
]
