from django.conf import settings
from django.contrib import admin
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from timeoff_site import health, metrics_view


def favicon(request):
    # Browsers ask for /favicon.ico on every page, the admin's included; without this, a 404 each time.
    return redirect(static("approvals/favicon.svg"), permanent=True)


urlpatterns = [
    path("", RedirectView.as_view(pattern_name="console:home"), name="root"),
    path("favicon.ico", favicon),
    path("slack/", include("slackbot.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("console/", include("approvals.console_urls")),
]

if settings.DEMO:  # the local demo workspace: DEBUG on and no real Slack token (timeoff_site/settings.py)
    urlpatterns.append(path("demo/", include("demo.urls")))
    urlpatterns.insert(0, path("", RedirectView.as_view(pattern_name="demo:welcome"), name="demo-root"))
