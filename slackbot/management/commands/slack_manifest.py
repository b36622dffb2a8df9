"""Print the Slack app manifest with this deployment's public URL filled in.

Slack verifies the events request URL the moment it is saved, with a request
signed by the app's own signing secret, which exists only once the app does. So
an install goes in two steps (README, "Connect a Slack workspace"): create the
app from `--without-events`, deploy with its signing secret, then paste the full
manifest into the app's *App Manifest* page; the URL then verifies at once.
"""

from django.core.management.base import BaseCommand, CommandError

from approvals.slack_manifest import BadBaseUrl, manifest_for_url


class Command(BaseCommand):
    help = "Print the Slack app manifest for the given public base URL (https://your.host)."

    def add_arguments(self, parser):
        parser.add_argument("--url", required=True, help="Public base URL Slack will call, e.g. https://timeoff.acme.com")
        parser.add_argument(
            "--without-events", action="store_true",
            help="Leave out the event subscriptions: create the app from this, deploy with its signing secret, "
                 "then paste the full manifest into the app's App Manifest page.",
        )

    def handle(self, *, url: str, without_events: bool = False, **options):
        try:
            text = manifest_for_url(url, without_events=without_events)
        except BadBaseUrl:
            raise CommandError("--url must be an https:// base URL without a path, e.g. https://timeoff.acme.com") \
                from None
        self.stdout.write(text, ending="")
