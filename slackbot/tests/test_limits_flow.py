"""Slack's limits met end to end: thousands of approvers, long lists of leave, a typo for the year.

Signed, Slack-shaped requests against the fake Slack (which refuses a text over 40,000 characters,
as Slack does). The dates are next year's: their messages name their year.
"""

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest

from approvals import block_ids as ids
from approvals.rules import APPROVED, PENDING, LedgerEntry
from approvals.selectors import local_today
from fake_slack.ledger_seed import seed_ledger
from fake_slack.personas import C_ENG_APPROVALS, C_ENG_LEADS
from test_support.flows import (
    ALICE,
    BOB,
    dms_to,
    install_config,
    open_app_home,
    open_request_form,
    posted_requests,
    request_time_off,
    request_values,
    submit_request,
)
from test_support.slack_requests import post_command

pytestmark = pytest.mark.django_db


def next_year_monday(month: int) -> date:
    day = date(local_today("America/Los_Angeles").year + 1, month, 2)  # Alice's time zone
    return day + timedelta(days=-day.weekday() % 7)


def test_a_request_reaches_an_approvers_channel_of_2600_people(client, fake_slack):
    # Every approver was mentioned in the text: 41,708 characters, and Slack refused the post.
    crowd = {f"U{n:010d}" for n in range(2600)}
    fake_slack.workspace.channels[C_ENG_LEADS].members |= crowd
    install_config()
    monday = next_year_monday(3)
    request_time_off(client, fake_slack, ALICE, start=monday, end=monday + timedelta(days=2))

    [posted] = posted_requests(fake_slack)
    assert posted.response["ok"] is True
    text = posted.params["text"]
    assert len(text) <= 4000 and text.endswith(" more")
    assert str(monday.year) in text  # next year's dates name their year
    [receipt] = [dm for dm in dms_to(fake_slack, ALICE) if "is with" in dm]
    assert len(receipt) <= 3000 and receipt.endswith("I'll let you know when they decide.")


def test_a_typo_for_the_year_is_refused_on_the_start_date(client, fake_slack):
    install_config()
    view = open_request_form(client, fake_slack, ALICE, "2062-12-21 2062-12-23 vacation")
    response = submit_request(client, ALICE, view, request_values("vacation", date(2062, 12, 21),
                                                                  date(2062, 12, 23)))
    body = response.json()
    assert body["response_action"] == "errors"
    assert body["errors"][ids.START_BLOCK].startswith("It starts in 2062: time off can be requested at most 5 "
                                                      "years ahead")
    assert posted_requests(fake_slack) == []


def test_hr_cannot_record_leave_in_a_year_typed_wrong_either(admin_client, fake_slack):
    install_config()
    response = admin_client.post("/console/leave/record", {
        "person": "alice@example.com", "leave_type": "vacation", "start": "9999-12-31", "end": "9999-12-31"})
    assert response.status_code == 200
    [error] = response.context["form"].errors["start"]
    assert error.startswith("It starts in 9999:")
    assert posted_requests(fake_slack) == []


def seed_alices_leave(fake_slack, *, pending: int, upcoming: int) -> None:
    def days(count, status, first):
        return [LedgerEntry(id=f"{status}-{n}", user=ALICE, team="Engineering", leave_type="vacation",
                            start=first + timedelta(days=n), end=first + timedelta(days=n), start_half=None,
                            end_half=None, days=Decimal(1), status=status,
                            decided_by=BOB if status == APPROVED else None,
                            decided_at=1790000000 if status == APPROVED else None)
                for n in range(count)]

    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS,
                entries=days(pending, PENDING, next_year_monday(2)) + days(upcoming, APPROVED, next_year_monday(6)))


def answered_blocks(client, fake_slack, word: str) -> list[dict]:
    """The blocks of `/timeoff <word>`: in the answer, or by DM when the ledger was not read yet."""
    response = post_command(client, word, user_id=ALICE)
    assert response.status_code == 200
    blocks = response.json().get("blocks") or []
    if not blocks:
        [sent] = [c for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == ALICE][-1:]
        blocks = sent.params["blocks"]
        blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    return blocks


def headings(blocks) -> list[str]:
    return [b["elements"][0]["text"] for b in blocks if b["type"] == "context"]


def test_thirty_pending_requests_do_not_hide_the_upcoming_leave(client, fake_slack):
    install_config()
    seed_alices_leave(fake_slack, pending=30, upcoming=30)

    for word in ("list", "cancel"):
        blocks = answered_blocks(client, fake_slack, word)
        assert len(blocks) <= 50, word
        shown = headings(blocks)
        assert shown[0] == "*Pending*" and "*Upcoming*" in shown, word
        mores = [text for text in shown if text.startswith("…and ")]
        assert len(mores) == 2 and all("with later dates: they show here" in text for text in mores), word

    home = open_app_home(client, fake_slack, ALICE, "Ev_BIG")
    assert len(home["blocks"]) <= 100
    assert "*Upcoming*" in headings(home["blocks"]) and "Your leave in" in json.dumps(home)
