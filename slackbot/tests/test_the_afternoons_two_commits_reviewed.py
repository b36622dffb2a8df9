"""Two of today's commits reviewed at their edges, through the real endpoints and the fake Slack.

67d72f0 (configuration at its limits): a leave type's menu option cut at 75 characters and ended with its code
(modals.leave_type_option), the 300 leave types a configuration holds (import, console, admin), the removed
teams' daily word kept to one message (job_services._within_one_message).

da7f6d4 (a worker killed at each step): the "maybe rewritten" mark now written before every rewrite of a
request's message (change_services.rewrite), the settle claim a lease until its task is queued
(request_services.settle_queued), a problem for HR not recorded twice while it waits unresolved
(models.DeliveryProblem.record).
"""

import json
import re
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from approvals import block_ids as ids
from approvals.block_kit import escape
from approvals.config_fields import LEAVE_TYPES_MAX
from approvals.config_file import config_to_dict, parse_config
from approvals.config_store import current_config
from approvals.config_types import LeaveTypeConfig, WorkspaceConfig
from approvals.models import DeliveryProblem, LeaveType
from approvals.rules import PENDING, LedgerEntry
from fake_slack.personas import C_ENG_APPROVALS, C_GENERAL
from test_support.flows import (
    ALICE,
    BOB,
    HR,
    MONDAY,
    SICK,
    VACATION,
    buttons_in,
    click,
    install_config,
    open_request_form,
    posted_requests,
    request_time_off,
    request_values,
    standard_config,
)
from test_support.half_down_slack import HalfDownSlack, dm_texts, the_entry, thread
from test_support.job_runs import post_entry, run_jobs
from test_support.person_steps import ephemerals, list_press, listed, receipt_press, send
from test_support.simulated_time import work_through_the_queue
from test_support.slack_requests import block_actions_payload, post_interaction, view_submission_payload

pytestmark = pytest.mark.django_db

CHANGE_GIVES_UP_WITHIN = 170  # the change task's six attempts and their backoff, and a little more
COULD_NOT_CONFIRM = "could not confirm"
FRIDAY = MONDAY + timedelta(days=4)


def accepted(config: WorkspaceConfig) -> WorkspaceConfig:
    """The configuration as import_config and the console's upload read it."""
    return parse_config(config_to_dict(config))


def as_view(view) -> dict:
    return json.loads(view) if isinstance(view, str) else view


def type_select(view: dict) -> dict:
    [select] = [b["element"] for b in view["blocks"] if b.get("block_id") == ids.TYPE_BLOCK]
    return select


def offered(select: dict) -> list[dict]:
    return list(select.get("options") or []) + [o for g in select.get("option_groups") or [] for o in g["options"]]


# --- 67d72f0: a leave type's option in the form's menu ---------------------------------------------------------


LONGEST_CODE = "parental_leave_for_the_birth_parent_weeks_13_to_26"  # 50 characters, the most a code has
assert len(LONGEST_CODE) == 50


def test_a_long_type_with_an_emoji_and_the_longest_code_shows_its_emoji_whole_and_the_start_of_its_name(
        client, fake_slack):
    # The label is "<emoji> <name>"; cut to 75 - len("… (<code>)") = 21 characters, an emoji code of 27 is
    # cut in half: the menu shows ":face_with_hand_over_… (parental_…)": half an emoji code, none of the name.
    parental = LeaveTypeConfig(code=LONGEST_CODE, emoji=":face_with_hand_over_mouth:",
                               name="Parental leave for the birth parent, statutory part paid in full by the "
                                    "company: weeks 13 to 26")
    install_config(accepted(standard_config(leave_types=(VACATION, SICK, parental))))

    view = open_request_form(client, fake_slack, ALICE)

    [option] = [o for o in offered(type_select(view)) if o["value"] == LONGEST_CODE]
    text = option["text"]["text"]
    assert len(text) <= 75, text
    assert text.endswith(f"({LONGEST_CODE})"), text
    # No emoji code cut in half: whatever is left of the label is whole emoji codes and the name's start.
    shown = text[:text.rindex("…")]
    assert re.fullmatch(r"(:[a-z0-9_+-]+: )?Paren.*", shown), text


def multi_byte_types() -> tuple[LeaveTypeConfig, ...]:
    """Two names of 100 characters alike in their first 80, of letters written in several bytes (Japanese,
    an emoji outside the basic plane, an accented letter), each with a code of 50 characters."""
    common = ("育児休暇🌴é" * 20)[:80]
    return (LeaveTypeConfig(code="a" * 49 + "1", name=(common + "第一" * 20)[:100]),
            LeaveTypeConfig(code="a" * 49 + "2", name=(common + "第二" * 20)[:100]))


def test_names_of_multi_byte_letters_near_the_cut_read_apart_and_an_edit_form_opens_on_them(client, fake_slack):
    first, second = multi_byte_types()
    install_config(accepted(standard_config(leave_types=(VACATION, first, second))))
    request_time_off(client, fake_slack, ALICE, leave_type=second.code)
    [posted] = posted_requests(fake_slack)
    assert posted.response["ok"] is True

    view = open_request_form(client, fake_slack, ALICE)
    options = offered(type_select(view))
    shown = [o["text"]["text"] for o in options]
    assert len(set(shown)) == len(shown) and all(len(text) <= 75 for text in shown), shown
    assert [o["value"] for o in options] == ["vacation", first.code, second.code]  # values as they were

    # Alice presses Edit on her receipt: the form opens on her request's type, one of the options exactly.
    [receipt] = [m for m in fake_slack.workspace.messages(ALICE) if ids.EDIT_ACTION in buttons_in(m.blocks)]
    block_id, value = buttons_in(receipt.blocks)[ids.EDIT_ACTION]
    response = post_interaction(client, block_actions_payload(
        user_id=ALICE, action_id=ids.EDIT_ACTION, value=value, block_id=block_id, channel_id=receipt.channel,
        message_ts=receipt.ts))
    assert response.status_code == 200
    opened = fake_slack.last_call("views.open")
    assert opened.response["ok"] is True, opened.response
    select = type_select(as_view(opened.params["view"]))
    assert select["initial_option"] in offered(select) and select["initial_option"]["value"] == second.code


def test_an_edit_form_opened_on_the_last_of_three_hundred_long_types_names_an_option_of_its_groups(
        client, fake_slack):
    many = tuple(LeaveTypeConfig(code=f"t{n:04d}".ljust(50, "x"), name=f"{n:04d} ".ljust(100, "名"))
                 for n in range(LEAVE_TYPES_MAX))
    install_config(accepted(standard_config(leave_types=many)))
    last = many[-1]
    request_time_off(client, fake_slack, ALICE, leave_type=last.code)

    [receipt] = [m for m in fake_slack.workspace.messages(ALICE) if ids.EDIT_ACTION in buttons_in(m.blocks)]
    block_id, value = buttons_in(receipt.blocks)[ids.EDIT_ACTION]
    post_interaction(client, block_actions_payload(user_id=ALICE, action_id=ids.EDIT_ACTION, value=value,
                                                   block_id=block_id, channel_id=receipt.channel,
                                                   message_ts=receipt.ts))

    opened = fake_slack.last_call("views.open")
    assert opened.response["ok"] is True, opened.response
    select = type_select(as_view(opened.params["view"]))
    assert select["initial_option"] in offered(select)
    assert select["initial_option"]["value"] == last.code
    assert select["initial_option"]["text"]["text"].endswith(f"({last.code})")


# --- 67d72f0: the 300 leave types: console, import, admin -------------------------------------------------------


def three_hundred_types_in_the_database() -> None:
    LeaveType.objects.bulk_create(LeaveType(code=f"type{n}", name=f"Type {n}", position=n)
                                  for n in range(LEAVE_TYPES_MAX))


@pytest.fixture
def hannah(django_user_model, fake_slack):
    """HR's console, signed in as a superuser (Slack is the fake)."""
    browser = Client()
    browser.force_login(django_user_model.objects.create_superuser("hannah", "hannah@example.com",
                                                                   "a-long-test-password"))
    return browser


def test_with_three_hundred_types_the_console_still_edits_one_of_them(hannah):
    three_hundred_types_in_the_database()
    existing = LeaveType.objects.get(code="type7")

    response = hannah.post(reverse("console:leave_type_edit", args=[existing.pk]),
                           {"name": "Type seven, renamed", "code": "type7", "emoji": "", "allow_past_days": "0"})

    assert response.status_code == 302, response.content.decode()[:2000]
    assert LeaveType.objects.get(pk=existing.pk).name == "Type seven, renamed"
    assert LeaveType.objects.count() == LEAVE_TYPES_MAX


def test_with_three_hundred_types_the_console_refuses_a_three_hundred_and_first(hannah):
    three_hundred_types_in_the_database()

    response = hannah.post(reverse("console:leave_type_add"), {"name": "One more", "code": "one_more",
                                                                "allow_past_days": "0"})

    assert response.status_code == 200
    assert f"There are {LEAVE_TYPES_MAX} leave types already" in response.content.decode()
    assert not LeaveType.objects.filter(code="one_more").exists()


def test_import_config_takes_a_file_of_exactly_three_hundred_types_over_a_database_of_three_hundred_others(
        tmp_path, fake_slack):
    three_hundred_types_in_the_database()
    wanted = tuple(LeaveTypeConfig(code=f"imported{n}", name=f"Imported {n}") for n in range(LEAVE_TYPES_MAX))
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config_to_dict(standard_config(leave_types=wanted))))

    call_command("import_config", str(path), "--replace", "--no-input")

    assert LeaveType.objects.count() == LEAVE_TYPES_MAX
    assert {t.code for t in current_config().leave_types} == {t.code for t in wanted}


def admin_leave_type_data(**changes) -> dict:
    data = {"code": "one_more", "name": "One more", "emoji": "", "requires_approval": "on",
            "annual_allowance_days": "", "max_consecutive_days": "", "allow_past_days": "0", "position": "0"}
    return data | changes


def test_with_three_hundred_types_the_admins_add_form_refuses_one_more_and_its_change_form_still_saves(admin_client):
    three_hundred_types_in_the_database()

    refused = admin_client.post(reverse("admin:approvals_leavetype_add"), admin_leave_type_data())

    assert refused.status_code == 200
    assert f"There are {LEAVE_TYPES_MAX} leave types already" in refused.content.decode()
    assert not LeaveType.objects.filter(code="one_more").exists()

    existing = LeaveType.objects.get(code="type3")
    changed = admin_client.post(reverse("admin:approvals_leavetype_change", args=[existing.pk]),
                                admin_leave_type_data(code="type3", name="Type three, renamed", position="3"))
    assert changed.status_code == 302, changed.content.decode()[:2000]
    assert LeaveType.objects.get(pk=existing.pk).name == "Type three, renamed"


# --- 67d72f0: the removed teams' daily word to HR ---------------------------------------------------------------


WATCH = datetime(2031, 3, 10, 2, 30, tzinfo=timezone.utc)  # the daily ledger watch: after 02:00 UTC
HEAVY_TYPE = replace(VACATION, name="&" * 100, emoji=":" + "e" * 48 + ":")


@pytest.fixture(autouse=True)
def exports_elsewhere(settings, tmp_path):
    settings.LEDGER_EXPORT_DIR = tmp_path / "exports"


def post_removed_teams_requests(fake_slack, names: list[str], per_team: int) -> None:
    for team, name in enumerate(names):
        for n in range(per_team):
            start = date(2031, 4, 1) + timedelta(days=n % 20)
            user = f"U{team:02d}{n:03d}".ljust(32, "X")
            post_entry(fake_slack, LedgerEntry(id=f"removed-{team}-{n}", user=user, team=name, leave_type="vacation",
                                               start=start, end=start + timedelta(days=1), start_half=None,
                                               end_half=None, days=Decimal(2), status=PENDING),
                       ts=f"{(WATCH - timedelta(hours=72 + n, minutes=team)).timestamp():.6f}")


def hr_dms(fake_slack) -> list:
    return [c for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == HR]


def test_one_removed_team_of_the_heaviest_requests_is_one_dm_slack_takes(fake_slack):
    install_config(accepted(standard_config(leave_types=(HEAVY_TYPE, SICK))))
    post_removed_teams_requests(fake_slack, ["&" * 100], per_team=60)

    run_jobs(WATCH)

    told = hr_dms(fake_slack)
    assert len(told) == 1 and told[0].response["ok"], [c.response.get("error") for c in told]
    assert len(told[0].params["text"]) <= 40_000
    assert "and 10 more, newer" in told[0].params["text"]


def test_removed_teams_named_with_mrkdwn_characters_are_escaped_once_in_and_out_of_the_dm_which_is_sent_once_a_day(
        fake_slack):
    install_config(accepted(standard_config(leave_types=(HEAVY_TYPE, SICK))))
    names = ["R&D <ops> *one*", "Sales & <Marketing> _two_", "Q&A > three ~"]
    post_removed_teams_requests(fake_slack, names, per_team=50)

    run_jobs(WATCH)
    run_jobs(WATCH + timedelta(hours=3))  # later the same day

    told = hr_dms(fake_slack)
    assert len(told) == 1 and told[0].response["ok"], [c.response.get("error") for c in told]
    text = told[0].params["text"]
    assert "as long in" in text, text[-500:]  # some teams' lists left out, and named
    for name in names:
        assert escape(name) in text, name
        assert escape(escape(name)) not in text, name
    assert "<ops>" not in text and "<Marketing>" not in text


# --- da7f6d4: the "maybe rewritten" mark, now left by every rewrite -------------------------------------------


@pytest.fixture
def slack(fake_slack, clock):
    half_down = HalfDownSlack(fake_slack, clock)
    fake_slack.handle = half_down.handle
    yield half_down
    del fake_slack.handle


def alices_request(client, fake_slack, clock, *, approved: bool = False) -> tuple[str, str]:
    install_config()
    request_time_off(client, fake_slack, ALICE)
    work_through_the_queue(clock)
    [receipt] = fake_slack.workspace.messages(ALICE)
    if approved:
        [posted] = posted_requests(fake_slack)
        assert click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted).status_code == 200
        work_through_the_queue(clock)
        assert the_entry(fake_slack)["status"] == "approved"
    return receipt.channel, receipt.ts




def edit_to_friday(client, fake_slack, receipt_at: tuple[str, str], view_id: str = "V_EDIT") -> None:
    before = len(fake_slack.calls("views.open"))
    send(client, receipt_press(fake_slack, receipt_at, ids.EDIT_ACTION))
    [opened] = fake_slack.calls("views.open")[before:]
    payload = view_submission_payload(user_id=ALICE, view=as_view(opened.params["view"]),
                                      values=request_values("vacation", MONDAY, FRIDAY), view_id=view_id,
                                      view_hash=f"1766000000.{view_id}")
    assert send(client, payload).content == b""





def settle_rows() -> list:
    """The settle tasks queued by a give-up (not their own retries, each a row of its own)."""
    return [row for row in DBTaskResult.objects.all() if row.task_path.endswith((".settle_change", ".settle_edit"))
            and not (row.args_kwargs.get("kwargs") or {}).get("previous_attempt")]


def test_a_withdrawal_that_never_reached_the_message_after_an_earlier_edit_is_told_unchanged_not_unconfirmed(
        client, fake_slack, clock, slack, no_backoff):
    # Alice's edit was written and answered: nothing about it is unsure. Her withdrawal the next hour never
    # gets as far as a write (Slack will not show the approvals channel): the app knows the message is as it
    # was. Before da7f6d4 she heard "I could not withdraw … It is unchanged"; the edit's rewrite now leaves
    # the "maybe rewritten" mark for a day, so the withdrawal's give-up looks at the channel once more
    # (rewrite_maybe_made), is refused that look too, and tells her it "may be done or not".
    receipt_at = alices_request(client, fake_slack, clock)
    edit_to_friday(client, fake_slack, receipt_at)
    work_through_the_queue(clock)
    assert the_entry(fake_slack)["end"] == FRIDAY.isoformat()
    clock.move_on(3600)

    slack.unreadable = True
    send(client, receipt_press(fake_slack, receipt_at, ids.WITHDRAW_ACTION))
    work_through_the_queue(clock, until=clock.monotonic() + CHANGE_GIVES_UP_WITHIN)

    assert slack.tried == []  # no rewrite was ever tried
    assert the_entry(fake_slack)["status"] == "pending"
    said = dm_texts(fake_slack, ALICE)
    assert [t for t in said if COULD_NOT_CONFIRM in t] == [], said
    assert [t for t in said if "could not withdraw" in t and "It is unchanged" in t], said
    assert settle_rows() == []


def test_a_stale_withdraw_press_after_alice_cancelled_her_approved_leave_is_not_told_withdrawn(
        client, fake_slack, clock, slack, no_backoff):
    # Her `/timeoff list` while the request was pending offered Withdraw (an ephemeral list: Slack keeps it as
    # sent). Bob approves it, she cancels it from her receipt, then presses that old Withdraw. The request is
    # cancelled by her, and change_written_key knows nothing of a withdrawal; but the cancellation's rewrite
    # left the "maybe rewritten" mark, so write_change takes the press for its own withdrawal already made
    # (was = pending) and she is told ":white_check_mark: Withdrawn: your …", which she never did.
    install_config()
    request_time_off(client, fake_slack, ALICE)
    work_through_the_queue(clock)
    old_list = listed(client, fake_slack, clock, "list", ALICE)
    [receipt] = fake_slack.workspace.messages(ALICE)
    [posted] = posted_requests(fake_slack)
    assert click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted).status_code == 200
    work_through_the_queue(clock)
    send(client, receipt_press(fake_slack, (receipt.channel, receipt.ts), ids.CANCEL_ACTION))
    work_through_the_queue(clock)
    entry = the_entry(fake_slack)
    assert (entry["status"], entry["decided_by"]) == ("cancelled", ALICE)
    replies_before = thread(fake_slack)
    clock.move_on(600)

    send(client, list_press(old_list, ids.WITHDRAW_ACTION, ALICE, pressed_at="1766000600.000300"))
    work_through_the_queue(clock)

    told = ephemerals(fake_slack, ALICE, C_GENERAL) + dm_texts(fake_slack, ALICE)
    assert [t for t in told if t.startswith(":white_check_mark: Withdrawn")] == [], told
    assert thread(fake_slack) == replies_before


# --- da7f6d4: the settle claim and the person told ---------------------------------------------------------------


def test_a_withdrawal_made_unconfirmed_whose_dm_slack_refuses_for_good_is_still_settled_once_slack_recovers(
        client, fake_slack, clock, slack, no_backoff):
    receipt_at = alices_request(client, fake_slack, clock)
    dm_channel = receipt_at[0]
    slack.rewrites = "made"
    half_down = fake_slack.handle

    def dms_to_alice_refused(name, params, headers):
        if name == "chat.postMessage" and params.get("channel") in (ALICE, dm_channel):
            return 200, {}, {"ok": False, "error": "restricted_action"}
        return half_down(name, params, headers)

    fake_slack.handle = dms_to_alice_refused
    send(client, receipt_press(fake_slack, receipt_at, ids.WITHDRAW_ACTION))
    work_through_the_queue(clock, until=clock.monotonic() + CHANGE_GIVES_UP_WITHIN)

    assert slack.tried and the_entry(fake_slack)["status"] == "cancelled"
    assert len(settle_rows()) == 1  # the tell Slack refused did not keep the settle from being queued

    fake_slack.handle = half_down
    slack.back_up()
    work_through_the_queue(clock)

    assert len([t for t in thread(fake_slack) if t.startswith(f"Withdrawn by <@{ALICE}>")]) == 1, thread(fake_slack)
    assert len([t for t in dm_texts(fake_slack, ALICE) if "was recorded after all" in t]) == 1, dm_texts(
        fake_slack, ALICE)


def test_a_double_click_of_withdraw_both_giving_up_queues_one_settle_and_tells_unconfirmed_once(
        client, fake_slack, clock, slack, no_backoff):
    receipt_at = alices_request(client, fake_slack, clock)
    slack.rewrites = "made"
    payload = receipt_press(fake_slack, receipt_at, ids.WITHDRAW_ACTION)
    second = dict(payload, actions=[dict(payload["actions"][0],
                                         action_ts=f"{float(payload['actions'][0]['action_ts']) + 1:.6f}")])

    send(client, payload)
    send(client, second)
    work_through_the_queue(clock, until=clock.monotonic() + CHANGE_GIVES_UP_WITHIN)

    assert len(settle_rows()) == 1
    assert len([t for t in dm_texts(fake_slack, ALICE) if COULD_NOT_CONFIRM in t]) == 1, dm_texts(fake_slack, ALICE)


# --- da7f6d4: a problem for HR recorded once while it waits ------------------------------------------------------


def test_the_same_refusal_on_a_second_press_an_hour_after_hr_resolved_the_first_is_shown_to_hr_again(
        client, fake_slack, clock, no_backoff, django_user_model):
    receipt_at = alices_request(client, fake_slack, clock)
    real = fake_slack.handle

    def rewrites_refused(name, params, headers):
        if name == "chat.update" and params.get("channel") == C_ENG_APPROVALS:
            return 200, {}, {"ok": False, "error": "cant_update_message"}
        return real(name, params, headers)

    fake_slack.handle = rewrites_refused
    try:
        send(client, receipt_press(fake_slack, receipt_at, ids.WITHDRAW_ACTION))
        work_through_the_queue(clock, until=clock.monotonic() + CHANGE_GIVES_UP_WITHIN)
        [first] = DeliveryProblem.objects.all()

        hr = Client()
        hr.force_login(django_user_model.objects.create_user("hannah", "h@example.com", "a-long-test-password",
                                                             is_staff=True))
        assert hr.post(reverse("console:setup_problem_resolved", args=[first.pk])).status_code == 302
        first.refresh_from_db()
        assert first.resolved_at is not None

        clock.move_on(3600)
        later = receipt_press(fake_slack, receipt_at, ids.WITHDRAW_ACTION)
        later["actions"][0]["action_ts"] = f"{float(later['actions'][0]['action_ts']) + 3600:.6f}"
        send(client, later)
        work_through_the_queue(clock, until=clock.monotonic() + CHANGE_GIVES_UP_WITHIN)
    finally:
        del fake_slack.handle

    assert the_entry(fake_slack)["status"] == "pending"
    assert DeliveryProblem.objects.count() == 2
    assert DeliveryProblem.objects.filter(resolved_at__isnull=True).count() == 1
