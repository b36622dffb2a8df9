from django.urls import path

from slackbot import views

urlpatterns = [
    path("commands", views.commands, name="slack-commands"),
    path("interactions", views.interactions, name="slack-interactions"),
    path("events", views.events, name="slack-events"),
]
