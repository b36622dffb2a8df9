"""`manage.py demo_slack`: the demo workspace's Slack, for bin/run.

Serves the fake Slack Web API (fake_slack) on SLACK_API_URL (127.0.0.1:8765 in
bin/run), seeded with the demo company (demo/company.py), and loads the
company's configuration into the database, so the web process and the task
worker, both pointed at it, behave as if installed in a real workspace. The
workspace lives in this process's memory: it starts fresh each time.

It refuses to run with real Slack credentials, with DEBUG off, or when the
database holds another workspace's configuration (unless --replace-config).
"""

import signal
import time
from datetime import date
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from approvals.config_store import config_apply, config_from_database
from approvals.models import Team
from demo.checks import demo_problems
from demo.company import FEATURED, demo_channel_ids, demo_config, seed_workspace
from fake_slack import FakeSlack

CALL_LOG_SECONDS = 300  # the fake records every call; the demo needs only the last few (views opened)


class Command(BaseCommand):
    help = "Run the demo workspace's fake Slack on SLACK_API_URL, seeded with a small company."

    def add_arguments(self, parser):
        parser.add_argument("--replace-config", action="store_true",
                            help="replace a configuration that is not the demo's (teams, leave types, ...)")

    def handle(self, *args, replace_config=False, **options):
        problems = demo_problems()
        if problems or not settings.DEMO:
            raise CommandError("Refusing to start the demo workspace: " + " ".join(
                problems or ["DEMO is not set (bin/run sets DEMO=true when .env holds the placeholder token)."]))
        url = urlsplit(settings.SLACK_API_URL)
        today = date.today()

        current = config_from_database()
        foreign = sorted({t.approvals_channel for t in current.teams} - demo_channel_ids())
        if foreign and not replace_config:
            # The command exists only with DEMO=true and serves only on a loopback SLACK_API_URL, both of
            # which bin/run sets for its own processes: the advice names them, so it works as typed.
            raise CommandError(
                f"The database holds another workspace's configuration (approvals channels {', '.join(foreign)}); "
                "the demo would replace it. To replace it, run once "
                f"`DEMO=true SLACK_API_URL={settings.SLACK_API_URL} .venv/bin/python manage.py demo_slack "
                "--replace-config`, stop it with Ctrl-C once it says the workspace is up, and run bin/run again; "
                "or keep the demo apart: DATABASE_URL=sqlite:///demo.sqlite3 bin/run.")
        with transaction.atomic():
            if foreign:
                # Replacing another workspace: its teams go whole. Applied over them, a team of the same
                # name would keep that workspace's approvals channel among its past ones (as a team that
                # changes channel does), and its ledger reads would ask the demo's Slack for a channel
                # it does not have.
                Team.objects.all().delete()
            config_apply(config=demo_config(today))
        # Caches from an earlier run describe a workspace that no longer exists (it lived in memory):
        # the ledger, the directory, de-duplication keys. Only transient state lives there.
        cache.clear()

        fake = FakeSlack(bot_token=settings.SLACK_BOT_TOKEN)
        posted = seed_workspace(fake.workspace, today=today)
        try:
            fake.start(port=url.port)
        except OSError as exc:
            raise CommandError(f"Cannot serve the demo's Slack on 127.0.0.1:{url.port}: {exc}. Is another "
                               "demo running?") from None
        self.stdout.write(f"Demo Slack workspace on {fake.api_url}: {len(fake.workspace.users) - 1} people, "
                          f"{posted} ledger entries. Open /demo/ and be {', '.join(p.real_name for p in FEATURED)}.",
                          self.style.SUCCESS)

        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        try:
            while not stopping:
                time.sleep(1)
                trim_call_log(fake)
        except KeyboardInterrupt:
            pass
        finally:
            fake.stop()


def trim_call_log(fake: FakeSlack) -> None:
    """Keep the fake's call log short: the demo only looks up views opened a moment ago."""
    fake.forget_calls_before(time.time() - CALL_LOG_SECONDS)
