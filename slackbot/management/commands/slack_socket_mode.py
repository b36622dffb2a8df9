"""Serve the Slack handlers over Socket Mode (no public URL needed)."""

import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from slack_sdk.socket_mode import SocketModeClient

from approvals.slack_clients import background_client
from slackbot.socket_mode import listener


class Command(BaseCommand):
    help = "Connect to Slack over Socket Mode with SLACK_APP_TOKEN and serve /timeoff, buttons and events."

    def handle(self, *args, **options):
        if not settings.SLACK_APP_TOKEN:
            raise CommandError("SLACK_APP_TOKEN is not set: create an app-level token with connections:write.")
        client = SocketModeClient(app_token=settings.SLACK_APP_TOKEN, web_client=background_client())
        client.socket_mode_request_listeners.append(listener)
        client.connect()
        self.stdout.write("Connected to Slack over Socket Mode. Ctrl-C stops.")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            client.close()
