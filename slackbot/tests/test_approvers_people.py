"""Approvers as real workspaces have them: other apps' bots and Slackbot in the approvers channel,
deactivated accounts, and a team whose only approver asks for leave themselves.

A request must reach someone who can click: bots and deactivated accounts are no approvers, a team left
with none falls back to HR, and a request nobody at all could approve is refused with the reason.
"""

from dataclasses import replace

import pytest

from approvals import block_ids as ids
from approvals.config_types import ApproverSource, MemberSource
from approvals.tests.test_job_runs import ENG, FRIDAY, TUESDAY, at, entry, post_entry, run_jobs
from fake_slack.personas import C_ENG, C_ENG_APPROVALS, C_ENG_LEADS
from test_support.flows import (
    ALICE,
    BOB,
    ENGINEERING,
    HR,
    click,
    dms_to,
    ephemerals_to,
    install_config,
    posted_requests,
    request_time_off,
    standard_config,
)
from test_support.slack_requests import post_command

pytestmark = pytest.mark.django_db

OTHER_BOT = "U_JIRABOT"  # another app's bot user
GONE = "U_GONE"  # a deactivated account
C_BOTS_ONLY = "C_BOTS_ONLY"


@pytest.fixture
def people(fake_slack):
    workspace = fake_slack.workspace
    workspace.add_user(OTHER_BOT, "jira", real_name="Jira Cloud", is_bot=True, bot_id="B_JIRA")
    workspace.add_user(GONE, "gone", real_name="Gone Person", deleted=True)
    workspace.add_channel(C_BOTS_ONLY, "leads-bots", members=[OTHER_BOT, "USLACKBOT"], private=True)
    return workspace


def posted_text(fake_slack) -> tuple:
    [posted] = posted_requests(fake_slack)
    return posted, posted.params["text"] + str(posted.params["blocks"])


def test_bots_in_the_approvers_channel_are_not_mentioned_as_approvers(client, fake_slack, people):
    with people.lock:
        people.channels[C_ENG_LEADS].members.update({OTHER_BOT, "USLACKBOT", GONE})
    install_config()

    request_time_off(client, fake_slack, ALICE)

    _, text = posted_text(fake_slack)
    assert f"<@{BOB}>" in text
    assert f"<@{OTHER_BOT}>" not in text and "<@USLACKBOT>" not in text and f"<@{GONE}>" not in text


@pytest.mark.parametrize("approvers", [ApproverSource(channel=C_BOTS_ONLY), ApproverSource(users=(GONE,))],
                         ids=["only-bots", "only-a-deactivated-account"])
def test_a_team_whose_approvers_cannot_click_falls_back_to_hr_who_may_decide(client, fake_slack, people,
                                                                             approvers):
    install_config(standard_config(teams=(replace(ENGINEERING, approvers=approvers),)))
    request_time_off(client, fake_slack, ALICE)
    posted, text = posted_text(fake_slack)
    assert f"<@{HR}>" in text and f"<@{OTHER_BOT}>" not in text and f"<@{GONE}>" not in text

    click(client, fake_slack, HR, ids.APPROVE_ACTION, posted)

    assert not [t for t in ephemerals_to(fake_slack, HR) if "not an approver" in t]
    [message] = [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS) if m.metadata]
    assert message.metadata["event_payload"]["status"] == "approved"


def test_hr_is_still_refused_where_the_team_has_approvers_who_can_click(client, fake_slack, people):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    posted, _ = posted_text(fake_slack)

    click(client, fake_slack, HR, ids.APPROVE_ACTION, posted)

    assert [t for t in ephemerals_to(fake_slack, HR) if "not an approver for Engineering" in t]
    [message] = [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS) if m.metadata]
    assert message.metadata["event_payload"]["status"] == "pending"


@pytest.mark.parametrize("fallback", [(HR,), ()], ids=["hr-is-the-fallback", "no-fallback"])
def test_a_request_nobody_could_approve_is_refused_with_the_reason_and_not_posted(client, fake_slack, fallback):
    # HR is the team's only approver (and the only fallback, or there is none): nobody approves their own.
    team = replace(ENGINEERING, members=MemberSource(users=(HR,), channel=C_ENG),
                   approvers=ApproverSource(users=(HR,)))
    install_config(standard_config(teams=(team,), fallback_approvers=fallback))

    request_time_off(client, fake_slack, HR)

    assert posted_requests(fake_slack) == []
    [dm] = dms_to(fake_slack, HR)
    assert "nobody could approve it: Engineering has no approver but you" in dm
    assert "vacation" in dm.lower()  # what they asked for is shown back
    # Not left in flight either: it would read as pending, and refuse their next request as overlapping.
    assert post_command(client, "list", user_id=HR).json()["text"] == "Your time off: 0 pending, 0 coming up."


def test_nudges_go_to_people_only_and_count_those_sent(fake_slack, people):
    with people.lock:
        people.channels[C_ENG_LEADS].members.update({OTHER_BOT, GONE})
    install_config(standard_config(teams=(ENG,)))
    now = at(TUESDAY, 10, 0)
    post_entry(fake_slack, entry(status="pending"), ts=f"{now.timestamp() - 72 * 3600:.6f}")

    out = run_jobs(now, "--team", "Engineering")

    assert [t for t in dms_to(fake_slack, BOB) if "waiting for a decision" in t]
    assert dms_to(fake_slack, OTHER_BOT) == [] and dms_to(fake_slack, GONE) == []
    nudged = {c.params["channel"] for c in fake_slack.calls("chat.postMessage")}
    assert f"1 waiting, {len(nudged)} approver(s) nudged" in out


def test_a_reminder_skipped_for_a_deactivated_account_is_not_counted(fake_slack, people):
    install_config(standard_config(teams=(replace(ENG, members=MemberSource(users=(GONE,), channel=C_ENG)),)))
    post_entry(fake_slack, entry(user=GONE))

    out = run_jobs(at(FRIDAY, 15, 0), "--team", "Engineering")

    assert dms_to(fake_slack, GONE) == []
    assert "0 reminder(s)" in out


def test_the_approvers_hr_named_are_mentioned_first_in_an_approvers_channel_of_hundreds(client, fake_slack):
    # Mentions were sorted by id: with 400 channel members whose ids sort before Bob's, the text
    # named as many of them as fit and Bob, the lead HR listed by name, fell into "and N more"
    # (not notified).
    crowd = [f"U_AA{n:04d}" for n in range(400)]
    workspace = fake_slack.workspace
    for user in crowd:
        workspace.add_user(user, user.lower(), real_name=user)
    with workspace.lock:
        workspace.channels[C_ENG_LEADS].members.update(crowd)
    install_config()

    request_time_off(client, fake_slack, ALICE)

    posted, _ = posted_text(fake_slack)
    assert posted.params["text"].split(" — for ")[1].startswith(f"<@{BOB}>, <@U_AA0000>")
    assert " more" in posted.params["text"]  # not all 401 fit: the named one is among those that did
    [approvers] = [b for b in posted.params["blocks"] if "Approvers:" in str(b)]
    assert approvers["elements"][0]["text"].startswith(f"Approvers: <@{BOB}>, ")
