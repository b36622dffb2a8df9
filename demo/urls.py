"""/demo/: included by timeoff_site/urls.py only when settings.DEMO is on."""

from django.urls import path

from demo import views

app_name = "demo"

urlpatterns = [
    path("", views.welcome, name="welcome"),
    path("poll", views.poll, name="poll"),
    path("<str:user_id>/", views.channel, name="channel"),
    path("<str:user_id>/c/<str:channel_id>/", views.channel, name="channel-in"),
    path("<str:user_id>/home/", views.app_home, name="home"),
    path("<str:user_id>/home/open", views.open_home, name="open-home"),
    path("<str:user_id>/command", views.command, name="command"),
    path("<str:user_id>/click", views.click, name="click"),
    path("<str:user_id>/shortcut", views.shortcut, name="shortcut"),
    path("<str:user_id>/modal/<str:view_id>", views.modal, name="modal"),
]
