"""Serve the Slack handlers over Socket Mode (no public URL needed)."""

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from slack_sdk.socket_mode import SocketModeClient

from approvals.slack_clients import background_client
from slackbot.socket_mode import listener, serve_until_stopped


class Command(BaseCommand):
    help = ("Connect to Slack over Socket Mode with SLACK_APP_TOKEN and serve /timeoff, buttons and events. "
            "SIGTERM or Ctrl-C stops it once what is in hand is answered.")

    def handle(self, *args, **options):
        if not settings.SLACK_APP_TOKEN:
            raise CommandError("SLACK_APP_TOKEN is not set: create an app-level token with connections:write.")
        client = SocketModeClient(app_token=settings.SLACK_APP_TOKEN, web_client=background_client())
        client.socket_mode_request_listeners.append(listener)
        stopped = threading.Event()
        # A process manager stops us with SIGTERM (a deploy, a scale-down): by default that kills the
        # process at once, acknowledgements of the envelopes in hand with it.
        previous = {signum: signal.signal(signum, lambda *_: stopped.set())
                    for signum in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.stdout.write("Connecting to Slack over Socket Mode. SIGTERM or Ctrl-C stops.")
            serve_until_stopped(client, stopped)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        self.stdout.write("Stopped.")
