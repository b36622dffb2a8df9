"""The site's URLs with the demo's, as timeoff_site/urls.py has them when DEMO is on at start-up."""

from django.urls import include, path

from timeoff_site.urls import urlpatterns as site_urlpatterns

urlpatterns = [*site_urlpatterns, path("demo/", include("demo.urls"))]
