"""This release beside the release before it (a61622e) during a rolling deploy: each change that both
releases meet (task payloads, cache keys and values, the ledger slices, a new column) works either way.

The release before is simulated as the existing rolling-deploy tests do, and, where its code matters,
by running that release's own code: its module's source at a61622e (git show), executed beside this
release's modules, with its classes bound to this release's (the ledger's cached shape did not change
between the two: same schema tag, so both releases share the slices' keys).
"""

import dataclasses
import json
import subprocess
import types
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from approvals import block_ids as ids
from approvals import (console_tasks, directory, home_services, jobs, ledger_reader, notifications, people_services,
                       request_services, tasks)
from approvals.cache_lock import claim
from approvals.config_store import current_config
from approvals.ledger_reader import SLICES_META_KEY, read_ledger, record_entry
from approvals.models import LedgerSnapshot
from approvals.request_services import Decision
from approvals.rules import APPROVED, PENDING, LedgerEntry
from approvals.slack_clients import background_client
from approvals.task_queue import task_unknown_here
from fake_slack.ledger_seed import ENGINEERING, engineering_holidays, ledger_config, realistic_ledger, \
    seed_realistic_ledger
from fake_slack.personas import ALICE, BOB, C_ENG_APPROVALS, CAROL, DAVE, HR
from test_support.flows import click, dms_to, install_config, metadata_payload, posted_requests, request_status, \
    request_time_off
from test_support.slack_requests import block_actions_payload, post_interaction

pytestmark = pytest.mark.django_db

BEFORE = "a61622e"
ROOT = Path(__file__).resolve().parents[2]
TODAY = date.today()


def release_before(path: str, name: str, *, bind: dict | None = None) -> types.ModuleType:
    """The module at `path` as the release before has it, run beside this release's (its imports are
    this release's modules); `bind`: names to point at this release's objects (classes pickled in the
    shared cache must be the ones pickle finds by name)."""
    shown = subprocess.run(["git", "-C", str(ROOT), "show", f"{BEFORE}:{path}"], capture_output=True, text=True)
    if shown.returncode != 0:  # an archive, or a shallow clone: no history to run the release before from
        pytest.skip(f"the release before ({BEFORE}) is not in this checkout's git history")
    source = shown.stdout
    module = types.ModuleType(name)
    module.__file__ = f"{BEFORE}:{path}"
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    for key, value in (bind or {}).items():
        setattr(module, key, value)
    return module


def old_ledger_reader() -> types.ModuleType:
    old = release_before("approvals/ledger_reader.py", "approvals.ledger_reader",
                         bind={name: getattr(ledger_reader, name)
                               for name in ("Ledger", "ChannelMark", "_SlicesMeta", "SliceLedger")})
    assert old.SLICES_PREFIX == ledger_reader.SLICES_PREFIX  # one shape: both releases share these keys
    assert old.SLICES_META_KEY == SLICES_META_KEY
    assert not hasattr(old, "EVERY_TEAM")  # the release before keeps no such slice
    return old


# --- The ledger slices' new EVERY_TEAM open slice ------------------------------------------------------


@pytest.fixture
def ledger_data(fake_slack):
    data = realistic_ledger(today=TODAY, holiday_dates=engineering_holidays(TODAY))
    return seed_realistic_ledger(fake_slack.workspace, data)


def a_request(**changes) -> LedgerEntry:
    start = TODAY + timedelta(days=60)
    entry = LedgerEntry(id="of-platform", user=DAVE, team="Platform", leave_type="vacation", start=start,
                        end=start + timedelta(days=1), start_half=None, end_half=None, days=Decimal(2),
                        status=PENDING, channel=C_ENG_APPROVALS, ts="1766000000.000901")
    return replace(entry, **changes)


def hr_waiting_ids(config) -> list[str] | None:
    """What HR's App Home lists as waiting for them among removed teams' requests (home_ledger's read)."""
    found = ledger_reader.open_requests(config, [], removed_teams=True)
    if found is None:
        return None  # cold: home_ledger reads the whole ledger
    return sorted(e.id for e in home_services.waiting_for(config, found, HR, channel_members=lambda channel: None))


def test_every_team_slice_is_not_left_holding_a_request_the_release_before_decided(ledger_data):
    """A removed team's request (HR's to decide), posted while the new release ran: in the EVERY_TEAM slice.
    HR approves it from the channel; the task lands on a worker of the release before (a deploy rolling,
    or rolled back), whose record_entry updates the slices in place but knows nothing of EVERY_TEAM."""
    config = ledger_config(teams=(ENGINEERING,))  # Platform: removed since
    read_ledger(background_client(), config)  # this release's full read: a generation with EVERY_TEAM
    record_entry(a_request())
    assert hr_waiting_ids(config) == ["of-platform"]

    old_ledger_reader().record_entry(a_request(status=APPROVED, decided_by=HR, decided_at=1766000100))

    # No longer pending: HR's App Home must not list it with Approve / Reject (until the next full read,
    # up to a day later, it does: the slice is taken as whole and never corrected by an incremental read).
    assert hr_waiting_ids(config) in (None, [])


# --- Decision's new optional `seen` key in the task payload ----------------------------------------------


@dataclasses.dataclass(frozen=True)
class Decision_a61622e:
    """request_services.Decision as the release before has it (git show a61622e:approvals/request_services.py)."""

    request_id: str
    channel: str
    ts: str
    approver: str
    status: str
    reason: str | None = None
    told_in: str | None = None


def old_decision_fields() -> set[str]:
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{BEFORE}:approvals/request_services.py"],
                            check=True, capture_output=True, text=True).stdout
    block = source.split("class Decision:", 1)[1].split("def as_task_data", 1)[0]
    return {line.split(":", 1)[0].strip() for line in block.splitlines()
            if line.startswith("    ") and not line.strip().startswith("#") and ":" in line
            and line.split(":", 1)[0].strip().isidentifier()}


def test_an_approval_clicked_on_this_releases_message_can_be_run_by_a_worker_of_the_release_before(
        client, fake_slack, settings, monkeypatch):
    """Workers go first, so a forward deploy never meets this; a rollback does (README: "Roll back the same
    way"): the workers are back on a61622e while the web still runs this release, which puts `seen` in
    nearly every approval (every message it posted carries "v"). No worker left can run such a row: it is
    handed back until TASK_HANDOVER_MAX_SECONDS, then failed: the approval is lost, nobody is told."""
    install_config()
    request_time_off(client, fake_slack, ALICE)  # posted by this release: its buttons carry "v"
    [posted] = posted_requests(fake_slack)
    settings.TASKS = {"default": {"BACKEND": "approvals.task_backend.DatabaseBackend"}}

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)  # this release's web process enqueues it

    row = DBTaskResult.objects.get(task_path=tasks.decide_request.module_path)
    data = row.args_kwargs["args"][0]
    assert set(Decision_a61622e.__dataclass_fields__) == old_decision_fields()
    # The worker of the release before checks the payload against its own Decision.
    monkeypatch.setattr("approvals.request_services.Decision", Decision_a61622e)
    assert task_unknown_here(row) is None, f"an a61622e worker hands it over: {sorted(data)}"


# --- LedgerSnapshot.reported (migration 0018) --------------------------------------------------------


def test_the_release_befores_update_of_the_snapshot_keeps_what_the_watch_reported():
    told = [["r-gone", ALICE, C_ENG_APPROVALS, "1766000000.000100", timezone.now().isoformat()]]
    LedgerSnapshot.objects.create(taken_at=timezone.now(), entries={"r1": [ALICE, C_ENG_APPROVALS, "1.2", PENDING]},
                                  reported=told)
    # The model as the release before has it (the state before 0018), doing what its ledger_watch does.
    old_apps = MigrationLoader(None).project_state(("approvals", "0017_job_run_day")).apps
    OldSnapshot = old_apps.get_model("approvals", "LedgerSnapshot")
    assert "reported" not in {f.name for f in OldSnapshot._meta.fields}

    OldSnapshot.objects.update_or_create(id=LedgerSnapshot.SINGLETON_ID,
                                         defaults={"taken_at": timezone.now(), "entries": {"r2": [BOB, "C", "3.4"]}})

    snapshot = LedgerSnapshot.objects.get()
    assert snapshot.reported == told and snapshot.entries == {"r2": [BOB, "C", "3.4"]}

    LedgerSnapshot.objects.all().delete()
    OldSnapshot.objects.update_or_create(id=LedgerSnapshot.SINGLETON_ID,
                                         defaults={"taken_at": timezone.now(), "entries": {}})
    assert LedgerSnapshot.objects.get().reported is None  # an INSERT of the release before: NULL, allowed


def test_the_release_before_reads_a_snapshot_this_release_took():
    old_jobs = release_before("approvals/jobs.py", "approvals.jobs")
    entry = LedgerEntry(id="r1", user=ALICE, team="Engineering", leave_type="vacation", start=TODAY, end=TODAY,
                        start_half=None, end_half=None, days=Decimal(1), status=APPROVED, channel=C_ENG_APPROVALS,
                        ts="1766000000.000100")
    previous = jobs.snapshot_of([entry])  # this release's: [user, channel, ts, status]
    assert previous["r1"] == [ALICE, C_ENG_APPROVALS, "1766000000.000100", APPROVED]

    deleted, aged_out = old_jobs.vanished_records(previous, {}, channels={C_ENG_APPROVALS},
                                                  oldest_by_channel={C_ENG_APPROVALS: "1700000000.000000"})
    assert [(g.id, g.user, g.channel, g.ts) for g in deleted] == [("r1", ALICE, C_ENG_APPROVALS,
                                                                   "1766000000.000100")]
    # And this release reads one the release before took (no status): nothing is said of its status.
    old = old_jobs.snapshot_of([entry])
    assert jobs.vanished_records(old, jobs.snapshot_of([replace(entry, status=PENDING)]), channels={C_ENG_APPROVALS},
                                 oldest_by_channel={}) == ([], [])


# --- Plain cache values under keys both releases know --------------------------------------------------


def test_the_console_ledger_error_of_either_release_is_no_error_on_this_releases_page(fake_slack):
    cache.set("console:v1:ledger_error", "the bot is not in <#C1> (not_in_channel)", 600)  # the release before
    assert console_tasks.ledger_error_cached() is None
    cache.set(console_tasks.LEDGER_ERROR_KEY, "text, as v1 held it", 600)
    assert console_tasks.ledger_error_cached() is None
    cache.set("console:v2:ledger_error", (C_ENG_APPROVALS, "not_in_channel"), 600)  # v2, without its time
    assert console_tasks.ledger_error_cached() is None
    cache.set(console_tasks.LEDGER_ERROR_KEY, (C_ENG_APPROVALS, "not_in_channel", 1.0), 600)
    assert "not_in_channel" in console_tasks.ledger_error_cached()


def test_a_bot_id_cached_by_the_release_before_leaves_the_workspace_unknown():
    cache.set(directory.BOT_ID_KEY, "U_BOT", 3600)  # the release before caches only the bot's id
    assert directory.cached_bot_identity() == ("U_BOT", None)  # an uninstall event is then taken as ours


def test_hr_told_of_a_deactivation_by_the_release_before_is_not_told_again(fake_slack, monkeypatch):
    """The release before claimed `departed-dm:{user}:{hr}`; this release claims
    `departed-dm:{user}:{hr}:{digest of the pending ids}`: a second user_change (deleted) for the same person
    and the same pending requests, handled by a worker of this release, DMs HR again. Claims kept 30 days."""
    install_config()
    pending = a_request(user=CAROL, team="Engineering")

    class Whole:
        def for_user(self, user):
            return [pending] if user == CAROL else []

    monkeypatch.setattr(ledger_reader, "current_ledger", lambda client, config: Whole())
    assert claim(f"done:departed-dm:{CAROL}:{HR}", notifications.ONCE_MARK_SECONDS)  # the release before's DM

    people_services.departed_user_flag(background_client(), CAROL)

    assert not [text for text in dms_to(fake_slack, HR) if "deactivated" in text]


# --- The decision buttons' new "v" ---------------------------------------------------------------------


def approve_value(posted) -> str:
    buttons = [b for b in posted.params["blocks"] if b.get("type") == "actions"][0]["elements"]
    return next(b["value"] for b in buttons if b["action_id"] == ids.APPROVE_ACTION)


def test_a_button_of_the_release_before_without_v_approves_on_this_releases_web(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    value = json.loads(approve_value(posted))
    assert "v" in value
    del value["v"]  # as the release before drew the button

    response = post_interaction(client, block_actions_payload(
        user_id=BOB, action_id=ids.APPROVE_ACTION, value=json.dumps(value), channel_id=posted.response["channel"],
        message_ts=posted.response["ts"], block_id=ids.DECISION_BLOCK))

    assert response.status_code == 200
    assert request_status(fake_slack)["status"] == APPROVED


def test_this_releases_button_clicked_on_the_release_befores_web_approves(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    old_handlers = release_before("slackbot/decision_handlers.py", "slackbot.decision_handlers")
    payload = block_actions_payload(user_id=BOB, action_id=ids.APPROVE_ACTION, value=approve_value(posted),
                                    channel_id=posted.response["channel"], message_ts=posted.response["ts"],
                                    block_id=ids.DECISION_BLOCK)

    old_handlers.action_approve(payload, payload["actions"][0])  # its Decision has no `seen`: as before

    assert request_status(fake_slack)["status"] == APPROVED


# --- ledger:shown marks: a write of the release before leaves the mark of an earlier one ---------------


def test_followups_of_a_decision_the_release_before_wrote_are_sent_by_this_releases_retry(client, fake_slack,
                                                                                         monkeypatch):
    """This release posted the request (its mark: pending). A worker of the release before approves it
    (no mark) and dies before the follow-ups; the task's retry runs on this release's worker: the mark it
    finds is stale, and must not hold back the decision DM."""
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    decision = Decision(request_id=metadata_payload(posted)["id"], channel=posted.response["channel"],
                        ts=posted.response["ts"], approver=BOB, status=APPROVED)
    with monkeypatch.context() as old:
        old.setattr(ledger_reader, "mark_shown", lambda entry: None)  # record_entry of the release before
        assert request_services.write_decision(background_client(), current_config(), decision) is not None
    stale = cache.get(f"{ledger_reader.SHOWN_PREFIX}{decision.request_id}")
    assert stale is not None and stale[0] == PENDING  # this release's mark from the post, not the approval
    assert request_status(fake_slack)["status"] == APPROVED and not [t for t in dms_to(fake_slack, ALICE)
                                                                     if "approved your" in t]

    request_services.request_decide(background_client(), decision)  # the retry, on this release

    assert [t for t in dms_to(fake_slack, ALICE) if "approved your" in t]
