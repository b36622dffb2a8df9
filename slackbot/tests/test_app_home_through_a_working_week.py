"""App Home through a working week, as employees and approvers use it while Slack has its bad moments.

Monday morning Slack answers views.publish badly for a while (HTTP 429 with Retry-After, a 503, or
`internal_error` at HTTP 200, as the real Slack does); requests come in and are decided meanwhile, in the
approvals channel and from the tab itself. What people expect (README, "Employees" and "Approvers"): the
tab is republished when what it shows changes, for those who look at it; a republish that met a passing
fault is tried again after Slack's Retry-After and shows what is true when it lands, never an older state
over a newer one; Approve on App Home behaves exactly like the channel's button (one rewrite of the
request's message, one DM, one announcement), also when Slack makes the rewrite and loses its answer.

Tasks wait as rows (as in production) and one worker takes them in django-tasks-db's order, never before
their `run_after`, on a simulated clock that also stamps every views.publish Slack receives.
"""

import json
from dataclasses import dataclass
from datetime import timedelta

import pytest

from approvals import block_ids as ids
from approvals.rules import APPROVED, REJECTED
from fake_slack.personas import C_ENG, C_ENG_APPROVALS
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    MONDAY,
    WEDNESDAY,
    buttons_in,
    channel_updates,
    click,
    dms_to,
    install_config,
    open_app_home,
    open_request_form,
    posted_requests,
    reject_in_the_channel,
    request_status,
    request_time_off,
    request_values,
    submit_request,
)
from test_support.home_views import shown_text, waiting_count
from test_support.simulated_time import Clock, work_through_the_queue
from test_support.slack_faults import failing
from test_support.slack_requests import (
    event_envelope,
    post_event,
    post_interaction,
    view_block_actions_payload,
)

pytestmark = pytest.mark.django_db

NEXT_MONDAY = MONDAY + timedelta(days=7)
NEXT_WEDNESDAY = WEDNESDAY + timedelta(days=7)

# How Slack answers a views.publish it will not serve right now, as the real one does.
PUBLISH_FAULTS = {
    "rate_limited_429": (429, {"Retry-After": "30"}, {"ok": False, "error": "ratelimited"}),
    "http_503": (503, {}, {"ok": False, "error": "service_unavailable"}),
    "internal_error_at_200": (200, {}, {"ok": False, "error": "internal_error"}),
}


# --- What Slack receives ------------------------------------------------------------------------------


@dataclass
class Publish:
    at: float  # simulated monotonic seconds
    user: str
    status: int
    error: str | None
    view: dict

    @property
    def accepted(self) -> bool:
        return self.status == 200 and self.error is None


class Publishes:
    """Every views.publish Slack receives, stamped on the simulated clock; while `fault` is set (a key of
    PUBLISH_FAULTS), every one is answered that way."""

    def __init__(self, fake_slack, clock: Clock):
        self.fake_slack, self.clock = fake_slack, clock
        self.calls: list[Publish] = []
        self.fault: str | None = None

    def __enter__(self):
        real_handle = self.fake_slack.handle

        def handle(method, params, headers):
            if method != "views.publish":
                return real_handle(method, params, headers)
            if self.fault is not None:
                status, extra, body = PUBLISH_FAULTS[self.fault]
                extra = dict(extra)
            else:
                status, extra, body = real_handle(method, params, headers)
            view = params.get("view")
            view = json.loads(view) if isinstance(view, str) else view
            self.calls.append(Publish(self.clock.monotonic(), params.get("user_id"), status,
                                      None if body.get("ok") else body.get("error"), view or {}))
            return status, extra, body

        self.fake_slack.handle = handle
        return self

    def __exit__(self, *exc):
        del self.fake_slack.handle

    def mark(self) -> int:
        return len(self.calls)

    def of(self, user: str, since: int = 0) -> list[Publish]:
        return [c for c in self.calls[since:] if c.user == user]

    def last_home(self, user: str) -> dict | None:
        shown = [c.view for c in self.calls if c.user == user and c.accepted]
        return shown[-1] if shown else None


def showing(fake_slack, user: str) -> dict:
    """The tab Slack shows `user` now."""
    workspace = fake_slack.workspace
    return workspace.views[workspace.home_views[user]]


# --- What people do -------------------------------------------------------------------------------------


def opens_home(client, user: str, event_id: str) -> None:
    """`user` opens the app's Home tab, as Slack sends it."""
    envelope = event_envelope({"type": "app_home_opened", "user": user, "channel": "D_HOME", "tab": "home",
                               "event_ts": "1766000000.000300"}, event_id=event_id)
    assert post_event(client, envelope).status_code == 200


def request_of(fake_slack, user: str):
    [posted] = [p for p in posted_requests(fake_slack) if _payload(p)["user"] == user]
    return posted


def _payload(call) -> dict:
    metadata = call.params["metadata"]
    metadata = json.loads(metadata) if isinstance(metadata, str) else metadata
    return metadata["event_payload"]


def press_on_home(client, user: str, home: dict, action_id: str):
    """A click on `action_id` of an App Home, as Slack sends it (a view container: no channel, no message)."""
    block_id, value = buttons_in(home["blocks"])[action_id]
    response = post_interaction(client, view_block_actions_payload(user_id=user, action_id=action_id, value=value,
                                                                   block_id=block_id, view=home))
    assert response.status_code == 200, response.content
    return response


def announcements(fake_slack) -> list[str]:
    return [c.params["text"] for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == C_ENG]


def thread_replies(fake_slack) -> list[str]:
    return [c.params["text"] for c in fake_slack.calls("chat.postMessage")
            if c.params.get("channel") == C_ENG_APPROVALS and c.params.get("thread_ts")]


def decision_dms(fake_slack, user: str) -> list[str]:
    return [t for t in dms_to(fake_slack, user) if "approved your" in t and "approved your request for" not in t]


# --- Monday: Slack answers views.publish badly for a while -----------------------------------------------


@pytest.mark.parametrize("fault", list(PUBLISH_FAULTS))
def test_a_republish_that_met_a_passing_fault_shows_the_decision_made_while_it_waited(client, fake_slack, clock,
                                                                                     fault):
    # Bob looks at his tab. Alice asks for time off; the republish of Bob's tab meets Slack's trouble and
    # waits for its retry. Meanwhile Dave approves her request in the channel. When the retry lands it
    # shows what is true then (nothing waits for Bob), once; a tab with Approve / Reject on a request
    # already approved is never what Slack is left showing, and a 429 is not tried again before its
    # Retry-After.
    install_config()
    with Publishes(fake_slack, clock) as slack:
        opens_home(client, BOB, "Ev_MON_BOB_OPENS")
        work_through_the_queue(clock)
        assert [c.accepted for c in slack.of(BOB)] == [True]
        clock.move_on(60)
        mark = slack.mark()

        slack.fault = fault
        request_time_off(client, fake_slack, ALICE)
        work_through_the_queue(clock, until=clock.monotonic() + 2)  # the delivery, and the first try of Bob's tab
        assert posted_requests(fake_slack), "the request was not posted"
        tried = slack.of(BOB, mark)
        assert tried and not any(c.accepted for c in tried), [(c.status, c.error) for c in tried]

        click(client, fake_slack, DAVE, ids.APPROVE_ACTION, request_of(fake_slack, ALICE))
        slack.fault = None  # Slack answers again
        work_through_the_queue(clock)

        assert request_status(fake_slack)["status"] == APPROVED
        accepted = [c for c in slack.of(BOB, mark) if c.accepted]
        assert len(accepted) == 1, [(c.status, c.error) for c in slack.of(BOB, mark)]
        assert ids.APPROVE_ACTION not in buttons_in(accepted[0].view["blocks"]), shown_text(accepted[0].view)
        assert ids.APPROVE_ACTION not in buttons_in(showing(fake_slack, BOB)["blocks"])
        if fault == "rate_limited_429":
            assert accepted[0].at >= tried[-1].at + 30 - 0.01, (accepted[0].at, tried[-1].at)


def test_a_tab_whose_publishes_slack_failed_until_they_gave_up_is_republished_by_the_next_change(client,
                                                                                                 fake_slack, clock):
    # Slack answers every views.publish with internal_error for a few minutes: Bob's tab, republished for
    # Alice's request, is tried until the task gives up. Slack recovers; a minute later Dave asks for time
    # off. Bob looks at his tab, and a request waiting for his decision changed: his tab is republished
    # and shows both requests. Nothing waits to republish it any more, so nothing may hold the change's
    # republish back.
    install_config()
    with Publishes(fake_slack, clock) as slack:
        opens_home(client, BOB, "Ev_MON_BOB_LOOKS")
        work_through_the_queue(clock)
        assert waiting_count(slack.last_home(BOB)) == 0

        slack.fault = "internal_error_at_200"
        mark = slack.mark()
        request_time_off(client, fake_slack, ALICE)
        work_through_the_queue(clock)  # every try of Bob's tab fails, and the task gives up
        failed = slack.of(BOB, mark)
        assert len(failed) >= 2 and not any(c.accepted for c in failed), [(c.status, c.error) for c in failed]

        slack.fault = None
        clock.move_on(60)
        mark = slack.mark()
        form = open_request_form(client, fake_slack, DAVE)
        sent = submit_request(client, DAVE, form, request_values("vacation", NEXT_MONDAY, NEXT_WEDNESDAY),
                              view_id="V_REQ_DAVE", view_hash="V_REQ_DAVE.hash")
        assert sent.status_code == 200 and sent.content == b"", sent.content
        work_through_the_queue(clock)

        assert len(posted_requests(fake_slack)) == 2
        republished = [c for c in slack.of(BOB, mark) if c.accepted]
        assert republished, "Bob's tab was not republished after Dave's request"
        assert waiting_count(showing(fake_slack, BOB)) == 2, shown_text(showing(fake_slack, BOB))


def test_an_employees_tab_whose_publishes_slack_failed_shows_her_approval_once_slack_recovers(client, fake_slack,
                                                                                             clock):
    # The same from Alice's side: she looks at her tab, sends a request while Slack fails every publish
    # (her tab never shows it), Slack recovers, and Bob approves it. Her tab shows her leave approved, with
    # Cancel leave, without her opening it again.
    install_config()
    with Publishes(fake_slack, clock) as slack:
        opens_home(client, ALICE, "Ev_MON_ALICE_LOOKS")
        work_through_the_queue(clock)
        slack.fault = "internal_error_at_200"
        request_time_off(client, fake_slack, ALICE)
        work_through_the_queue(clock)
        assert ids.WITHDRAW_ACTION not in buttons_in(showing(fake_slack, ALICE)["blocks"])

        slack.fault = None
        clock.move_on(60)
        click(client, fake_slack, BOB, ids.APPROVE_ACTION, request_of(fake_slack, ALICE))
        work_through_the_queue(clock)

        assert request_status(fake_slack)["status"] == APPROVED
        assert ids.CANCEL_ACTION in buttons_in(showing(fake_slack, ALICE)["blocks"]), \
            shown_text(showing(fake_slack, ALICE))


# --- Tuesday: decisions from the tab and from the channel -------------------------------------------------


def test_approve_on_app_home_whose_rewrite_slack_made_and_lost_the_answer_to_is_decided_once(client, fake_slack,
                                                                                             no_sleeping):
    # Bob approves from his tab; Slack rewrites the request's message but its answer is lost (a 500).
    # Exactly as from the channel: the message says approved, Alice gets one decision DM, the team hears
    # once, the thread is told once, and Bob is not told that his approval failed. His tab no longer
    # offers the request.
    install_config()
    request_time_off(client, fake_slack, ALICE)
    bobs = open_app_home(client, fake_slack, BOB, "Ev_TUE_BOB")
    assert waiting_count(bobs) == 1
    fake_slack.clear_calls()

    rewrite = lambda method, params: method == "chat.update" and params.get("channel") == C_ENG_APPROVALS  # noqa: E731
    with failing(fake_slack, rewrite, "answer_lost") as met:
        press_on_home(client, BOB, bobs, ids.APPROVE_ACTION)

    assert len(met) == 1
    payload = request_status(fake_slack)
    assert (payload["status"], payload["decided_by"]) == (APPROVED, BOB)
    assert len(decision_dms(fake_slack, ALICE)) == 1, dms_to(fake_slack, ALICE)
    assert len(announcements(fake_slack)) == 1, announcements(fake_slack)
    assert len([t for t in thread_replies(fake_slack) if "Approved by" in t]) == 1, thread_replies(fake_slack)
    told_bob = dms_to(fake_slack, BOB) + [c.params["text"] for c in fake_slack.calls("chat.postEphemeral")]
    assert not [t for t in told_bob if "could not" in t or "couldn't" in t or "Sorry" in t], told_bob
    assert ids.APPROVE_ACTION not in buttons_in(showing(fake_slack, BOB)["blocks"])


def test_approve_pressed_twice_on_app_home_rewrites_the_request_once_and_tells_alice_once(client, fake_slack):
    # A double click on the tab's Approve (Slack sends each click): one decision, one rewrite of the
    # request's message, one DM to Alice, one announcement.
    install_config()
    request_time_off(client, fake_slack, ALICE)
    bobs = open_app_home(client, fake_slack, BOB, "Ev_TUE_DOUBLE")
    fake_slack.clear_calls()

    press_on_home(client, BOB, bobs, ids.APPROVE_ACTION)
    press_on_home(client, BOB, bobs, ids.APPROVE_ACTION)

    assert request_status(fake_slack)["status"] == APPROVED
    rewrites = [c for c in channel_updates(fake_slack) if c.params.get("channel") == C_ENG_APPROVALS]
    assert len(rewrites) == 1, len(rewrites)
    assert len(decision_dms(fake_slack, ALICE)) == 1
    assert len(announcements(fake_slack)) == 1
    assert [c.params["channel"] for c in fake_slack.calls("chat.postEphemeral")] == []  # no channel on the tab


def test_a_request_rejected_in_the_channel_leaves_every_approvers_tab_and_shows_its_reason_on_the_requesters(
        client, fake_slack):
    # Bob and Dave look at their tabs, where Alice's request waits. Dave rejects it in the channel, with a
    # reason. Neither approver's tab offers it any more (without them opening it again); Alice's shows it
    # rejected, with the reason, and no button to change it.
    install_config()
    for user in (ALICE, BOB, DAVE):
        open_app_home(client, fake_slack, user, f"Ev_TUE_WATCH_{user}")
    request_time_off(client, fake_slack, ALICE)
    assert waiting_count(showing(fake_slack, BOB)) == 1 and waiting_count(showing(fake_slack, DAVE)) == 1

    reject_in_the_channel(client, fake_slack, DAVE, request_of(fake_slack, ALICE), "Release week & demo day")

    assert request_status(fake_slack)["status"] == REJECTED
    for approver in (BOB, DAVE):
        tab = showing(fake_slack, approver)
        assert waiting_count(tab) == 0 and ids.APPROVE_ACTION not in buttons_in(tab["blocks"]), approver
    alices = showing(fake_slack, ALICE)
    shown = shown_text(alices)
    assert "Release week &amp; demo day" in shown, shown
    assert not {ids.WITHDRAW_ACTION, ids.EDIT_ACTION, ids.CANCEL_ACTION} & set(buttons_in(alices["blocks"])), shown
