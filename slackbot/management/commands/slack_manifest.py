"""Print the Slack app manifest with this deployment's public URL filled in."""

from pathlib import Path
from urllib.parse import urlparse

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

MANIFEST = Path(settings.BASE_DIR) / "slack-manifest.yml"
PLACEHOLDER = "https://timeoff.example.com"


class Command(BaseCommand):
    help = "Print the Slack app manifest for the given public base URL (https://your.host)."

    def add_arguments(self, parser):
        parser.add_argument("--url", required=True, help="Public base URL Slack will call, e.g. https://timeoff.acme.com")

    def handle(self, *, url: str, **options):
        parsed = urlparse(url)
        if parsed.scheme != "https" or not parsed.netloc or parsed.path not in ("", "/"):
            raise CommandError("--url must be an https:// base URL without a path, e.g. https://timeoff.acme.com")
        self.stdout.write(MANIFEST.read_text().replace(PLACEHOLDER, url.rstrip("/")), ending="")
