"""Serve the Slack handlers over Socket Mode (no public URL needed)."""

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode import SocketModeClient

from approvals.slack_clients import background_client
from slackbot.socket_mode import LinkDisabled, listener, serve_until_stopped


def app_token_refused(error: str) -> str:
    """What to do when Slack will not open a connection with SLACK_APP_TOKEN (never the token itself)."""
    advice = {
        "invalid_auth": "it is mistyped or was revoked: create a new app-level token (Basic Information › "
                        "App-Level Tokens) and set it",
        "not_authed": "it is empty or mistyped",
        "not_allowed_token_type": "it must be an app-level token (xapp-…), not a bot or user token",
        "missing_scope": "the app-level token needs the connections:write scope",
        "account_inactive": "the app or its workspace is no longer active",
    }.get(error, "see Slack's error")
    return f"Slack refused SLACK_APP_TOKEN ({error}): {advice}."


class Command(BaseCommand):
    help = ("Connect to Slack over Socket Mode with SLACK_APP_TOKEN and serve /timeoff, buttons and events. "
            "SIGTERM or Ctrl-C stops it once what is in hand is answered.")

    def handle(self, *args, **options):
        if not settings.SLACK_APP_TOKEN:
            raise CommandError("SLACK_APP_TOKEN is not set: create an app-level token with connections:write.")
        client = SocketModeClient(
            app_token=settings.SLACK_APP_TOKEN, web_client=background_client(),
            # Envelopes answered at once: each holds a thread until its handler is done, and one beyond
            # these waits in slack-sdk's queue, past Slack's 3 s if views.open is slow for those before it.
            concurrency=settings.SOCKET_MODE_THREADS,
            # Read in 64 KiB pieces: slack-sdk reads a frame 1 KiB at a time, one recursion per read, and a
            # frame near 1 MB (a large App Home's click) would exceed Python's recursion limit and be lost.
            receive_buffer_size=64 * 1024,
        )
        client.socket_mode_request_listeners.append(listener)
        stopped = threading.Event()
        disabled = LinkDisabled(stopped)
        client.on_message_listeners.append(disabled)
        # A process manager stops us with SIGTERM (a deploy, a scale-down): by default that kills the
        # process at once, acknowledgements of the envelopes in hand with it.
        previous = {signum: signal.signal(signum, lambda *_: stopped.set())
                    for signum in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.stdout.write("Connecting to Slack over Socket Mode. SIGTERM or Ctrl-C stops.")
            serve_until_stopped(client, stopped)
        except SlackApiError as exc:  # apps.connections.open: the app-level token is Slack's to accept
            raise CommandError(app_token_refused(str(exc.response.get("error")))) from None
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        if disabled.seen:
            raise CommandError("Slack turned Socket Mode off for this app (link_disabled): turn it on again under "
                               "Socket Mode in the app's settings at api.slack.com/apps, or serve over HTTP.")
        self.stdout.write("Stopped.")
