"""The console's Setup page (issue 10, item 4): is Slack connected and the ledger safe?

Everything Slack must answer (`auth.test`, the granted scopes, each channel's
state) comes from the last report of the `run_setup_checks` task, kept in the
shared cache (`approvals.setup_checks`): the page never waits on Slack. An old
or missing report is shown with a note, and a new one is asked for; *Check
again* asks at once. The ledger's part reads the cached ledger and the ledger
watch's snapshot, never Slack.
"""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.contrib import messages
from django.core.cache import cache
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from approvals import jobs, ledger_reader, setup_checks, slack_directory
from approvals.config_store import current_config
from approvals.console_tasks import ledger_cached_or_warm, ledger_error_cached, warm_soon
from approvals.console_views import staff_required
from approvals.installation import slack_access_lost
from approvals.models import DeliveryProblem, JobRun, LedgerSnapshot
from approvals.slack_manifest import BadBaseUrl, manifest_bot_scopes, manifest_for_url

RECENT_PROBLEMS = 20

# A person's id inside a problem's summary ("U0BOB's approval is in the ledger, but …"): the task that
# wrote it may have had no names at hand, and names change, so the page names people as Slack does now.
PERSON_IN_TEXT = re.compile(r"\b[UW][A-Z0-9_]{2,}\b")


@dataclass(frozen=True)
class RetentionCheck:
    oldest: date | None  # the oldest ledger entry found
    year_start: date  # the start of the current leave year
    truncated: bool  # a channel had more history than one read fetches

    @property
    def warning(self) -> bool:
        return self.oldest is None or self.oldest > self.year_start or self.truncated


@dataclass(frozen=True)
class VanishedRecord:
    id: str
    user: str
    channel: str
    told_at: datetime | None = None  # when the watch told HR; None: seen here, not told yet


def _ts_date(ts: str | None) -> date | None:
    return datetime.fromtimestamp(float(ts), tz=UTC).date() if ts else None


def _when(seconds: float | None):
    return datetime.fromtimestamp(seconds, tz=UTC) if seconds else None


def _manifest(request) -> tuple[str, str, str]:
    """(base URL, manifest text, error) for the URL HR typed, else the one this page was served from."""
    typed = request.GET.get("url", "").strip()[:200]
    base_url = typed or request.build_absolute_uri("/").rstrip("/")
    try:
        return base_url, manifest_for_url(base_url), ""
    except BadBaseUrl as exc:
        reason = str(exc)
        if not typed and base_url.startswith("http://"):
            reason = ("this page was served over http, and Slack calls only https URLs: type the public "
                      "https:// address of this deployment")
        return base_url, "", reason


def _ledger_part(config, directory) -> dict:
    ledger = ledger_cached_or_warm(config)  # when cold, this page shows it on the next visit
    today = timezone.localdate()
    snapshot = LedgerSnapshot.objects.filter(id=LedgerSnapshot.SINGLETON_ID).first()
    vanished, aged_out = [], []
    if snapshot is not None and ledger is not None:
        current = jobs.snapshot_of(ledger.entries.values(), ledger.adjustments.values())
        deleted, gone_old = jobs.vanished_records(snapshot.entries, current,
                                                  channels=set(ledger_reader.ledger_channels(config)),
                                                  oldest_by_channel=ledger.oldest_by_channel or {})
        vanished = [VanishedRecord(g.id, _person(directory, g.user), _channel(directory, g.channel))
                    for g in deleted]
        aged_out = gone_old
    if snapshot is not None:  # what the watch told HR of lately: its own snapshot no longer holds them
        seen = {record.id for record in vanished}
        vanished += [VanishedRecord(record_id, _person(directory, user), _channel(directory, channel),
                                    datetime.fromisoformat(told_at))
                     for record_id, user, channel, _ts, told_at in reversed(snapshot.reported or [])
                     if record_id not in seen]
    return {
        "ledger": ledger,
        "removed_teams_waiting": setup_checks.removed_teams_waiting(config, ledger.entries.values()) if ledger else [],
        "removed_teams_channels": [_channel(directory, channel) for channel in config.past_approvals_channels],
        "ledger_error": ledger_error_cached(ledger),
        "ledger_read_at": _when(ledger.full_read_at) if ledger else None,
        "history_limited_at": _when(cache.get(ledger_reader.LIMITED_AT_KEY)),
        "history_small_pages_at": _when(cache.get(ledger_reader.SMALL_PAGES_AT_KEY)),
        "retention": RetentionCheck(oldest=_ts_date(ledger.oldest_ts), year_start=date(today.year, 1, 1),
                                    truncated=ledger.truncated) if ledger else None,
        "snapshot": snapshot,
        "last_watch": JobRun.objects.filter(job=jobs.LEDGER_WATCH).first(),
        "vanished": vanished,
        "aged_out": len(aged_out),
    }


# A week of runs: a post refused every day shows each day, one refused once drops off once it works again.
JOBS_REFUSED_DAYS = 7
JOBS_REFUSED_SHOWN = 20


def _jobs_refused() -> list[tuple[str, JobRun]]:
    """(what the job is called, its run) of the scheduled jobs closed on a refusal for good lately (Slack would
    not take out today's post in a channel whose posting is restricted, say): not retried, so HR must see them.
    A job left undone because its day was over (`expired`) is no refusal."""
    since = timezone.now() - timedelta(days=JOBS_REFUSED_DAYS)
    runs = (JobRun.objects.filter(finished_at__gte=since).exclude(error="")
            .exclude(error=jobs.EXPIRED)[:JOBS_REFUSED_SHOWN])
    return [(jobs.JOB_LABELS.get(run.job, run.job), run) for run in runs]


def _person(directory, user: str) -> str:
    """A person as the console names them (told apart from namesakes; "(deactivated)" once they left);
    their id when the directory is not read yet or Slack does not list them."""
    return directory.person_label(user) if directory else user


def _with_names(directory, text: str) -> str:
    """`text` with each id of someone the directory knows replaced by their name; other words stay."""
    if not directory:
        return text
    return PERSON_IN_TEXT.sub(lambda found: directory.person_label(found.group()), text)


def _channel(directory, channel: str | None) -> str:
    return directory.channel_label(channel) if directory and channel else channel or ""


@require_GET
@staff_required
def setup(request):
    config = current_config()
    directory = slack_directory.directory_current()
    report = setup_checks.setup_report_cached()
    now = timezone.now().timestamp()
    if report is None or not report.fresh(now):
        setup_checks.setup_check_soon()
        report = setup_checks.setup_report_cached() or report
    checking = setup_checks.setup_check_requested() and (report is None or not report.fresh(now))
    base_url, manifest, manifest_error = _manifest(request)
    problems = list(DeliveryProblem.objects.filter(resolved_at__isnull=True)[:RECENT_PROBLEMS])
    return render(request, "approvals/console/setup/setup.html", {
        "nav": "setup",
        "report": report,
        "checked_at": _when(report.checked_at) if report else None,
        "checking": checking,
        "needed_scopes": manifest_bot_scopes(),
        "base_url": base_url,
        "manifest": manifest,
        "manifest_error": manifest_error,
        "problems": [(problem, _person(directory, problem.user), _with_names(directory, problem.summary),
                      _channel(directory, problem.channel)) for problem in problems],
        "any_undelivered": any(problem.undelivered for problem in problems),
        "resolved_problems": DeliveryProblem.objects.filter(resolved_at__isnull=False).count(),
        "teams_configured": bool(config.teams),
        "access_lost": slack_access_lost(),
        # A channel Slack could not describe just now (a passing fault) is no problem to fix: its row says so.
        "channels_with_problems": [check for check in report.channels if check.problems and not check.passing]
        if report else [],
        "teams_nobody_approves": setup_checks.teams_nobody_approves(config, report) if report else [],
        "deciders_who_cannot": setup_checks.named_deciders_who_cannot(config, directory),
        "member_groups_not_listed": setup_checks.member_groups_not_listed(config),
        "jobs_refused": _jobs_refused(),
        **_ledger_part(config, directory),
    })


@require_POST
@staff_required
def setup_check_again(request):
    setup_checks.setup_check_soon(force=True)
    if ledger_error_cached(None):
        warm_soon(force=True)  # the ledger too: HR may just have fixed what kept it from being read
    messages.success(request, "Checking Slack again: the results appear below in a few seconds.")
    return redirect("console:setup")


@require_POST
@staff_required
def problem_resolved(request, pk: int):
    """HR has dealt with a delivery problem: it leaves the Setup page's list (the admin keeps it, and who
    marked it when). Marking it twice keeps the first mark."""
    problem = get_object_or_404(DeliveryProblem, pk=pk)
    if problem.resolved_at is None:
        problem.resolved_at = timezone.now()
        problem.resolved_by = request.user.get_username()
        problem.save(update_fields=["resolved_at", "resolved_by"])
    messages.success(request, "Marked resolved: the problem is no longer listed here (the admin keeps it).")
    return redirect(f"{reverse('console:setup')}#problems-heading")
