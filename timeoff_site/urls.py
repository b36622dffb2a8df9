from django.contrib import admin
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from timeoff_site import health


def favicon(request):
    # Browsers ask for /favicon.ico on every page, the admin's included; without this, a 404 each time.
    return redirect(static("approvals/favicon.svg"), permanent=True)


urlpatterns = [
    path("", RedirectView.as_view(pattern_name="console:home"), name="root"),
    path("favicon.ico", favicon),
    path("slack/", include("slackbot.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("console/", include("approvals.console_urls")),
]
