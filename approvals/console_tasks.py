"""Background tasks of the HR console: what its pages need from Slack, read off the request path.

The pages read the shared cache only, so they never wait on Slack; these tasks
fill it. `run_setup_checks` is a plain task, not a retrying one: it records
Slack's errors in its report for HR to read (an expired token included, which
stops the retrying tasks), and the page asks again when the report is old.
"""

import logging
import time

from django.core.cache import cache
from django.tasks import task

from approvals import directory, ledger_reader, setup_checks, slack_directory
from approvals.config_store import current_config
from approvals.ledger import BOT_UNKNOWN, LedgerUnavailable
from approvals.slack_clients import background_client
from approvals.task_queue import retrying_task

logger = logging.getLogger(__name__)

# (channel, Slack's error, when): v1 held text written for Slack, v2 no time.
LEDGER_ERROR_KEY = "console:v3:ledger_error"
LEDGER_ERROR_SECONDS = 10 * 60
WARM_REQUESTED_KEY = "console:v1:warm_requested"
WARM_REQUEST_EVERY_SECONDS = 30


def warm_soon(*, force: bool = False) -> None:
    """Enqueue one warm-up unless one was asked for moments ago (`force`: HR asked, or a channel came back)."""
    if force:
        cache.delete(WARM_REQUESTED_KEY)
    if cache.add(WARM_REQUESTED_KEY, True, WARM_REQUEST_EVERY_SECONDS):
        warm_console_ledger.enqueue()


def ledger_cached_or_warm(config):
    """The cached ledger, or None after asking for it in the background."""
    ledger = ledger_reader.cached_ledger(config)
    if ledger is None:
        warm_soon()
        ledger = ledger_reader.cached_ledger(config)  # an immediate task backend has read it already
    return ledger


def ledger_error_cached(ledger=None) -> str | None:
    """Why the console cannot read the ledger, in words for a web page (the channel by its name, and
    what to do), or None. `ledger`: the cached ledger the page shows; an error from before it was read
    (the bot invited back since, and a balance or a job has read it) is over."""
    found = cache.get(LEDGER_ERROR_KEY)
    if not (isinstance(found, tuple) and len(found) == 3):
        return None
    channel, error, when = found
    if ledger is not None and getattr(ledger, "read_at", 0) > when:
        return None
    names = slack_directory.directory_current()
    name = names.channel_label(channel) if names is not None else channel
    if error == "missing_scope":
        return (f"the app may not read the history of {name} (missing_scope): paste the manifest on the Setup page "
                "into the app's App Manifest page and reinstall the app")
    if error in ("not_in_channel", "channel_not_found"):
        return (f"the bot cannot read {name} ({error}): type /invite @Time off in that channel (a past approvals "
                "channel too: the ledger reads them all)")
    if error == BOT_UNKNOWN:
        return f"Slack will not say who the bot is ({error}), so no message in {name} can be trusted as the app's"
    return f"Slack refuses the history of {name} ({error})"


@task(priority=-5)
def run_setup_checks() -> None:
    report = setup_checks.setup_check(background_client(), current_config())
    setup_checks.setup_report_store(report)
    # The check read each configured channel (conversations.info): the console's names follow at once a
    # channel archived or unarchived since (the Setup page is checked again on Slack's events for them).
    slack_directory.directory_channels_seen([
        (slack_directory.Channel(id=check.channel, name=check.name, is_private=check.private,
                                 bot_is_member=check.bot_is_member), check.archived)
        for check in report.channels if check.found])
    logger.info("setup checks done connection=%s channels=%s", report.connection.error or "ok", len(report.channels))


@retrying_task(priority=-10)
def warm_console_ledger() -> None:
    """The ledger and the teams' memberships, for the who's-out calendar, the CSV and the balances table."""
    client, config = background_client(), current_config()
    try:
        ledger_reader.current_ledger(client, config)
    except LedgerUnavailable as exc:  # permanent (the bot left a channel, a scope is missing): the page says so
        cache.set(LEDGER_ERROR_KEY, (exc.channel, exc.error, time.time()), LEDGER_ERROR_SECONDS)
        logger.error("console: the ledger is unavailable error=%s", exc)
    else:
        cache.delete(LEDGER_ERROR_KEY)
    for team in config.teams:
        if team.members.channel:
            directory.fetch_channel_members(client, team.members.channel)
        if team.members.usergroup:
            directory.fetch_usergroup_members(client, team.members.usergroup)
