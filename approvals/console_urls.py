"""The HR console's URLs, mounted at /console/ by timeoff_site.urls."""

from django.urls import path

from approvals import console_views

app_name = "console"

urlpatterns = [
    path("", console_views.home, name="home"),
    path("teams/<int:team_id>/move", console_views.team_reorder, name="team_reorder"),
    path("search/", console_views.search, name="search"),
    path("search/suggest", console_views.suggest, name="suggest"),
]
