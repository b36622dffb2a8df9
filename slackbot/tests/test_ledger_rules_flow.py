"""The rules that need the ledger (overlap, allowance, capacity), through the whole flow.

The ledger is what the fake Slack holds in the approvals channels; the app reads
it back with conversations.history and keeps in-flight requests in the pending set.
"""

import json
import uuid
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from django.core.cache import cache

from approvals.config_types import ApproverSource, MemberSource
from approvals.ledger_format import request_metadata
from approvals.rules import APPROVED, PENDING, LedgerEntry
from fake_slack.personas import C_ENG_APPROVALS, C_OLD_APPROVALS
from approvals import block_ids as ids
from test_support.slack_requests import block_actions_payload, post_interaction
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    ENGINEERING,
    MONDAY,
    VACATION,
    WEDNESDAY,
    click,
    dms_to,
    ephemerals_to,
    install_config,
    metadata_payload,
    open_request_form,
    posted_requests,
    request_time_off,
    request_values,
    standard_config,
    submit_request,
    without_the_whole_ledger,
)

pytestmark = pytest.mark.django_db


def seed_entry(fake_slack, channel=C_ENG_APPROVALS, **fields) -> LedgerEntry:
    """A request already in Slack's history, as an earlier delivery left it."""
    defaults = dict(id=str(uuid.uuid4()), user=ALICE, team="Engineering", leave_type="vacation", start=MONDAY,
                    end=WEDNESDAY, start_half=None, end_half=None, days=Decimal(3), status=APPROVED,
                    decided_by=BOB, decided_at=1_900_000_000)
    entry = LedgerEntry(**{**defaults, **fields})
    fake_slack.workspace.post_message(channel, f"<@{entry.user}> requests leave", metadata=request_metadata(entry))
    return entry


def test_a_request_overlapping_approved_leave_is_refused_in_the_modal(client, fake_slack):
    install_config()
    seed_entry(fake_slack, start=date(2031, 3, 11), end=date(2031, 3, 11), days=Decimal(1))
    view = open_request_form(client, fake_slack, ALICE)  # warms the ledger
    body = submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY)).json()
    assert body["response_action"] == "errors"
    assert body["errors"][ids.START_BLOCK] == "This overlaps your approved leave on Tue 11 Mar 2031"
    assert posted_requests(fake_slack) == []


def test_two_overlapping_submissions_cannot_both_pass(client, fake_slack, settings):
    # The first is accepted but not yet posted (its task is queued): it is in the pending set only.
    install_config()
    view = open_request_form(client, fake_slack, ALICE)  # warms team, time zone and ledger
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}  # tasks wait
    first = submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY), view_id="V_1")
    assert first.content == b""
    second = submit_request(client, ALICE, view, request_values("vacation", WEDNESDAY, WEDNESDAY),
                            view_id="V_2").json()
    assert second["response_action"] == "errors"
    assert second["errors"][ids.START_BLOCK] == "This overlaps your pending leave on Mon 10 Mar 2031 – Wed 12 Mar 2031"


def test_the_allowance_is_counted_from_the_ledger(client, fake_slack):
    install_config()
    # 22 days already approved in 2031, across the old and the current approvals channel.
    seed_entry(fake_slack, channel=C_OLD_APPROVALS, start=date(2031, 1, 6), end=date(2031, 1, 31), days=Decimal(20))
    seed_entry(fake_slack, start=date(2031, 2, 3), end=date(2031, 2, 4), days=Decimal(2))
    engineering = replace(ENGINEERING, past_approvals_channels=(C_OLD_APPROVALS,))
    install_config(standard_config(teams=(engineering,)))
    view = open_request_form(client, fake_slack, ALICE)
    body = submit_request(client, ALICE, view, request_values("vacation", MONDAY, date(2031, 3, 14))).json()
    assert body["errors"][ids.END_BLOCK] == "You have 3 days of Vacation left in 2031; this request needs 5"


def test_the_approval_message_shows_the_balance_and_who_else_is_out(client, fake_slack):
    install_config()
    seed_entry(fake_slack, user=DAVE, start=date(2031, 3, 12), end=date(2031, 3, 13), days=Decimal(2))
    seed_entry(fake_slack, start=date(2031, 1, 6), end=date(2031, 1, 10), days=Decimal(5))
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    rendered = str(posted.params["blocks"])
    assert f"Also out: <@{DAVE}>" in rendered
    assert "After this request: 17 of 25 days of Vacation left in 2031" in rendered


def test_the_preview_of_a_busy_team_names_ten_and_counts_the_others_it_did_not_read(client, fake_slack):
    from approvals import ledger_reader
    from approvals.selectors import PREVIEW_OTHERS_READ

    install_config()
    open_request_form(client, fake_slack, ALICE)  # warms team, time zone and ledger
    busy = PREVIEW_OTHERS_READ + 70
    for n in range(busy):  # a big team's requests in flight on these very days
        ledger_reader.pending_add(LedgerEntry(id=f"busy-{n}", user=f"U0BUSY{n:03d}", team="Engineering",
                                              leave_type="vacation", start=MONDAY, end=WEDNESDAY, start_half=None,
                                              end_half=None, days=Decimal(3), status=PENDING))
    # Alice's own request in flight counts in her balance, however many others there are.
    ledger_reader.pending_add(LedgerEntry(id="alice-january", user=ALICE, team="Engineering", leave_type="vacation",
                                          start=date(2031, 1, 6), end=date(2031, 1, 10), start_half=None,
                                          end_half=None, days=Decimal(5), status=PENDING))

    view = open_request_form(client, fake_slack, ALICE, f"{MONDAY} {WEDNESDAY} vacation")

    preview = str(view["blocks"])
    assert preview.count("<@U0BUSY") == 10
    assert f"and {busy - 10} more" in preview
    assert "17 of 25 days of Vacation left in 2031" in preview


def test_the_preview_shows_the_balance_after_the_request(client, fake_slack):
    from slackbot.request_form import FormValues
    from approvals.selectors import request_preview_cached
    from approvals.config_store import current_config

    install_config()
    seed_entry(fake_slack, start=date(2031, 1, 6), end=date(2031, 1, 10), days=Decimal(5))
    open_request_form(client, fake_slack, ALICE)  # warms team, time zone and ledger
    text = request_preview_cached(current_config(), ALICE, FormValues("vacation", MONDAY, WEDNESDAY).draft)
    assert "3 working days" in text
    assert "17 of 25 days of Vacation left in 2031" in text


def test_a_cold_ledger_is_checked_in_the_task_and_a_refusal_is_dmed(client, fake_slack):
    install_config()
    seed_entry(fake_slack, start=date(2031, 3, 11), end=date(2031, 3, 11), days=Decimal(1))
    view = open_request_form(client, fake_slack, ALICE)
    cache.clear()  # everything went cold before the submission
    response = submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY))
    assert response.content == b""  # accepted inside Slack's 3 seconds
    assert posted_requests(fake_slack) == []
    [dm] = dms_to(fake_slack, ALICE)
    assert "overlaps your approved leave on Tue 11 Mar" in dm
    assert "Vacation" in dm and "Mon 10 Mar" in dm  # what they asked for, shown back


def test_approvals_cannot_together_exceed_max_out(client, fake_slack):
    carol_team = replace(ENGINEERING, max_out=1, members=MemberSource(users=(ALICE, DAVE)),
                         approvers=ApproverSource(users=(BOB,)))
    install_config(standard_config(teams=(carol_team,)))
    # Both requests were sent while the other was pending (each alone is within max_out at submission).
    alice = seed_entry(fake_slack, user=ALICE, status=PENDING, decided_by=None, decided_at=None)
    dave = seed_entry(fake_slack, user=DAVE, status=PENDING, decided_by=None, decided_at=None)
    messages = {m.metadata["event_payload"]["id"]: m for m in fake_slack.workspace.messages(C_ENG_APPROVALS)}

    def press(entry):
        from test_support.slack_requests import block_actions_payload, post_interaction
        import json

        value = json.dumps({"id": entry.id, "user": entry.user})
        payload = block_actions_payload(user_id=BOB, action_id=ids.APPROVE_ACTION, value=value,
                                        message_ts=messages[entry.id].ts)
        return post_interaction(client, payload)

    press(alice)
    press(dave)
    statuses = {m.metadata["event_payload"]["user"]: m.metadata["event_payload"]["status"]
                for m in fake_slack.workspace.messages(C_ENG_APPROVALS)}
    assert statuses == {ALICE: "approved", DAVE: "pending"}
    [refusal] = ephemerals_to(fake_slack, BOB)
    assert "can't approve this yet" in refusal and "at most 1 can be out at once" in refusal


def test_a_warm_delivery_reads_the_slices_for_who_else_is_out(client, fake_slack, monkeypatch):
    install_config()
    seed_entry(fake_slack, user=DAVE)  # approved leave on the same days
    open_request_form(client, fake_slack, ALICE)  # warms the ledger and its slices
    without_the_whole_ledger(monkeypatch)

    response = request_time_off(client, fake_slack, ALICE)

    assert response.content == b"", response.content
    [posted] = posted_requests(fake_slack)
    assert metadata_payload(posted)["user"] == ALICE
    assert "<@U_DAVE>" in json.dumps(posted.params["blocks"])  # who else on the team is out then


def test_a_warm_capacity_check_at_approval_reads_the_slices(client, fake_slack, monkeypatch):
    team = replace(ENGINEERING, max_out=1, members=MemberSource(users=(ALICE, DAVE)),
                   approvers=ApproverSource(users=(BOB,)))
    install_config(standard_config(teams=(team,)))
    entries = [seed_entry(fake_slack, user=user, status=PENDING, decided_by=None, decided_at=None)
               for user in (ALICE, DAVE)]
    open_request_form(client, fake_slack, ALICE)  # warms the ledger and its slices
    without_the_whole_ledger(monkeypatch)
    messages = {m.metadata["event_payload"]["id"]: m for m in fake_slack.workspace.messages(C_ENG_APPROVALS)}

    for entry in entries:
        post_interaction(client, block_actions_payload(user_id=BOB, action_id=ids.APPROVE_ACTION,
                                                       value=json.dumps({"id": entry.id, "user": entry.user}),
                                                       message_ts=messages[entry.id].ts))

    statuses = {m.metadata["event_payload"]["user"]: m.metadata["event_payload"]["status"]
                for m in fake_slack.workspace.messages(C_ENG_APPROVALS)}
    assert statuses == {ALICE: "approved", DAVE: "pending"}
    [refusal] = ephemerals_to(fake_slack, BOB)
    assert "at most 1 can be out at once" in refusal


def rename_engineering(name: str) -> None:
    """HR renames the team in the console, after the ledger and its slices were cached under the old name."""
    from approvals.console_services import team_update
    from approvals.models import Team

    team_update(team_id=Team.objects.get(name="Engineering").pk, name=name)


def test_a_renamed_teams_leave_from_before_counts_towards_max_out_at_submission(client, fake_slack):
    install_config(standard_config(teams=(replace(ENGINEERING, max_out=1),)))
    seed_entry(fake_slack, user=DAVE)  # approved, Monday to Wednesday, recorded as Engineering's
    view = open_request_form(client, fake_slack, ALICE)  # warms the ledger and its slices

    rename_engineering("Software")
    body = submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY)).json()

    assert body["response_action"] == "errors"
    assert "is full for Software: 1 person is already out" in body["errors"][ids.START_BLOCK]
    assert posted_requests(fake_slack) == []


def test_a_renamed_teams_leave_from_before_counts_towards_max_out_at_approval(client, fake_slack, monkeypatch):
    team = replace(ENGINEERING, max_out=1, members=MemberSource(users=(ALICE, DAVE)),
                   approvers=ApproverSource(users=(BOB,)))
    install_config(standard_config(teams=(team,)))
    seed_entry(fake_slack, user=DAVE)  # approved, recorded as Engineering's
    alice = seed_entry(fake_slack, user=ALICE, status=PENDING, decided_by=None, decided_at=None)
    open_request_form(client, fake_slack, ALICE)  # warms the ledger and its slices
    without_the_whole_ledger(monkeypatch)
    [message] = [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
                 if m.metadata and m.metadata["event_payload"]["id"] == alice.id]

    rename_engineering("Software")
    post_interaction(client, block_actions_payload(user_id=BOB, action_id=ids.APPROVE_ACTION,
                                                   value=json.dumps({"id": alice.id, "user": ALICE}),
                                                   message_ts=message.ts))

    status = fake_slack.workspace.find_message(C_ENG_APPROVALS, message.ts).metadata["event_payload"]["status"]
    assert status == PENDING
    [refusal] = ephemerals_to(fake_slack, BOB)
    assert "full for Software" in refusal and "at most 1 can be out at once" in refusal


def test_history_unavailable_tells_the_requester(client, fake_slack):
    install_config()
    view = open_request_form(client, fake_slack, ALICE)
    cache.clear()
    fake_slack.fail("conversations.history", "channel_not_found", times=None)
    submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY))
    [dm] = dms_to(fake_slack, ALICE)
    assert "couldn't read the leave history" in dm
    assert posted_requests(fake_slack) == []


def test_a_decision_updates_the_cached_ledger(client, fake_slack):
    from approvals import ledger_reader
    from approvals.config_store import current_config

    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    request_id = metadata_payload(posted)["id"]
    assert ledger_reader.cached_ledger(current_config()).entries[request_id].status == PENDING
    fake_slack.clear_calls()
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    assert ledger_reader.cached_ledger(current_config()).entries[request_id].status == APPROVED
    assert VACATION.code == "vacation"


def test_two_overlapping_submissions_on_a_cold_cache_cannot_both_pass(client, fake_slack):
    install_config()
    view = open_request_form(client, fake_slack, ALICE)
    cache.clear()
    submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY), view_id="V_A")
    cache.clear()
    submit_request(client, ALICE, view, request_values("vacation", WEDNESDAY, WEDNESDAY), view_id="V_B")
    assert len(posted_requests(fake_slack)) == 1
    refusal = [dm for dm in dms_to(fake_slack, ALICE) if "couldn't send" in dm]
    assert len(refusal) == 1 and "overlaps your pending leave on Mon 10 Mar 2031 – Wed 12 Mar 2031" in refusal[0]
