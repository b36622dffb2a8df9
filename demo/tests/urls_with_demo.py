"""The site's URLs with the demo's, as timeoff_site/urls.py has them when DEMO is on at start-up."""

from django.test.utils import override_settings
from django.urls import include, path

# Imported here first (a demo test run alone), the site's URLs would read DEMO on and keep the demo's
# routes for every later test of the run, those that check /demo/ is absent without DEMO included.
with override_settings(DEMO=False):
    from timeoff_site.urls import urlpatterns as site_urlpatterns

urlpatterns = [*site_urlpatterns, path("demo/", include("demo.urls"))]
