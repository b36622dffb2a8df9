"""App Home when the company is busy and Slack rate-limits, as the real Slack does.

views.publish is Tier 4 (about 100 calls a minute per workspace, docs.slack.dev "Rate limits"): past it
Slack answers HTTP 429 with `Retry-After`; a publish that passes the `hash` of a tab changed since is
refused with `hash_conflict`; a user Slack does not know (or no longer serves) is refused for good.

What people expect (README, "Employees" and "When things go wrong"): the tab is republished when
something it shows changes, for those who opened it in the last 30 days; while one republish of someone's
tab waits in the task queue, further changes add no other; opening the tab again within 5 s of a publish
adds no other; the older of two publishes never stays showing; a retry after a 429 comes no sooner than its
`Retry-After`; Slack's requests to us are answered at once; the tab holds at most 100 blocks and counts
what it cannot show.

Tasks wait as rows (as in production) and one worker takes them in django-tasks-db's order, never before
their `run_after`. Time is simulated: a wait inside a Slack call, and the worker idling until the next
retry is due, move a clock on instead of sleeping; that clock stamps every call Slack receives.
"""

import json
import logging
import time
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal

import pytest
from django.tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from approvals import block_ids as ids
from approvals.config_types import ApproverSource, MemberSource
from approvals.rules import APPROVED, PENDING, LedgerEntry
from fake_slack.ledger_seed import seed_ledger
from fake_slack.personas import C_ENG_APPROVALS
from test_support.simulated_time import Clock, work_through_the_queue
from test_support.flows import (
    ENGINEERING,
    MONDAY,
    buttons_in,
    install_config,
    open_request_form,
    posted_requests,
    press,
    request_values,
    standard_config,
)
from test_support.slack_requests import (
    block_actions_payload,
    event_envelope,
    post_event,
    post_interaction,
    view_submission_payload,
)
from test_support.home_views import shown_text, waiting_count

pytestmark = pytest.mark.django_db

C_STAFF = "C_STAFF"  # the team's members channel
C_LEADS = "C_LEADS"  # the team's approvers channel: 40 approvers
APPROVERS = [f"U_AP{n:02d}" for n in range(40)]
REQUESTERS = [f"U_RQ{n:02d}" for n in range(60)]
# Approvers who look at their App Home (opened it lately); the last five never did.
WATCHING_APPROVERS = APPROVERS[:35]
# Requesters who look at theirs.
WATCHING_REQUESTERS = REQUESTERS[:5]
TEAM = replace(ENGINEERING, members=MemberSource(channel=C_STAFF), approvers=ApproverSource(channel=C_LEADS),
               holiday_country=None, holiday_subdivision=None)
# A Slack request is answered within 3 s, or Slack retries it; one that waited out a 429 would take longer.
QUICK_SECONDS = 2.0


# --- Simulated time and the worker ------------------------------------------------------------------


def waiting_rows(name: str) -> list:
    return [row for row in DBTaskResult.objects.filter(status=TaskResultStatus.READY)
            if row.task_path.endswith(f".{name}")]


# --- What Slack receives ------------------------------------------------------------------------------


@dataclass
class Publish:
    at: float  # simulated monotonic seconds
    user: str
    status: int
    error: str | None
    retry_after: int | None
    view: dict


class PublishLog:
    """Every views.publish Slack receives, stamped on the simulated clock; while `limited_until` lasts,
    each is answered 429 with the seconds left as `Retry-After`, as Slack does past Tier 4."""

    def __init__(self, fake_slack, clock: Clock):
        self.fake_slack, self.clock = fake_slack, clock
        self.calls: list[Publish] = []
        self.limited_until = float("-inf")
        self.refused: dict[str, str] = {}  # user -> the error Slack answers every publish of their tab with

    def __enter__(self):
        real_handle = self.fake_slack.handle

        def handle(method, params, headers):
            if method != "views.publish":
                return real_handle(method, params, headers)
            now = self.clock.monotonic()
            wait = None
            if params.get("user_id") in self.refused:
                status, extra, body = 200, {}, {"ok": False, "error": self.refused[params["user_id"]]}
            elif now < self.limited_until:
                wait = max(1, int(self.limited_until - now + 0.999))
                status, extra, body = 429, {"Retry-After": str(wait)}, {"ok": False, "error": "ratelimited"}
            else:
                status, extra, body = real_handle(method, params, headers)
            view = params.get("view")
            view = json.loads(view) if isinstance(view, str) else view
            self.calls.append(Publish(now, params.get("user_id"), status, None if body.get("ok") else body.get("error"),
                                      wait, view or {}))
            return status, extra, body

        self.fake_slack.handle = handle
        return self

    def __exit__(self, *exc):
        del self.fake_slack.handle

    def limit_for(self, seconds: float) -> None:
        self.limited_until = self.clock.monotonic() + seconds

    def mark(self) -> int:
        return len(self.calls)

    def since(self, mark: int) -> list[Publish]:
        return self.calls[mark:]

    def accepted_since(self, mark: int) -> list[Publish]:
        return [c for c in self.since(mark) if c.status == 200 and c.error is None]

    def last_home(self, user: str) -> dict | None:
        shown = [c.view for c in self.calls if c.user == user and c.status == 200 and c.error is None]
        return shown[-1] if shown else None


def per_user(publishes: list[Publish]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for publish in publishes:
        counts[publish.user] = counts.get(publish.user, 0) + 1
    return counts


# --- The company ------------------------------------------------------------------------------------


def busy_company(fake_slack) -> None:
    """A team of 60 whose approvers channel holds 40 approvers; the app installed with it."""
    workspace = fake_slack.workspace
    for user in APPROVERS + REQUESTERS:
        workspace.add_user(user, user.lower(), tz="America/Los_Angeles", email=f"{user.lower()}@example.com",
                           real_name=user)
    workspace.add_channel(C_STAFF, "staff", members=REQUESTERS)
    workspace.add_channel(C_LEADS, "staff-leads", members=APPROVERS, private=True)
    workspace.channels[C_ENG_APPROVALS].members.update(APPROVERS)
    install_config(standard_config(teams=(TEAM,)))


def open_home(client, user: str, event_id: str, *, retry_num: int | None = None):
    """`user` opens the app's Home tab, as Slack sends it; the answer to Slack's request."""
    envelope = event_envelope({"type": "app_home_opened", "user": user, "channel": "D_HOME", "tab": "home",
                               "event_ts": f"{time.time():.6f}"}, event_id=event_id)
    return post_event(client, envelope, retry_num=retry_num)


def everyone_watching_opens_their_home(client, clock) -> None:
    for user in WATCHING_APPROVERS + WATCHING_REQUESTERS:
        assert open_home(client, user, f"Ev_OPEN_{user}").status_code == 200
    work_through_the_queue(clock)
    clock.move_on(60)  # a minute later: Slack's budget for views.publish is whole again


def send_request(client, fake_slack, user: str, number: int) -> float:
    """`user` asks for a day off (a Monday, some weeks ahead: `number` picks it); returns how long the
    submission took."""
    day = MONDAY + timedelta(days=7 * (number % 40))
    form = open_request_form(client, fake_slack, user)
    began = time.monotonic()
    response = post_interaction(client, view_submission_payload(
        user_id=user, view=form, values=request_values("vacation", day, day), view_id=f"V_REQ_{user}"))
    took = time.monotonic() - began
    assert response.status_code == 200 and response.content == b"", response.content
    return took


def approve(client, approver: str, posted) -> float:
    """`approver` presses Approve on the request message `posted`; returns how long the answer took."""
    message_ts, channel = posted.response["ts"], posted.response["channel"]
    blocks = posted.params["blocks"]
    block_id, value = buttons_in(blocks)[ids.APPROVE_ACTION]
    began = time.monotonic()
    response = post_interaction(client, block_actions_payload(user_id=approver, action_id=ids.APPROVE_ACTION,
                                                              value=value, channel_id=channel, message_ts=message_ts,
                                                              block_id=block_id))
    assert response.status_code == 200, response.content
    return time.monotonic() - began


def request_of(fake_slack, user: str):
    [posted] = [p for p in posted_requests(fake_slack) if _payload(p)["user"] == user]
    return posted


def _payload(call) -> dict:
    metadata = call.params["metadata"]
    metadata = json.loads(metadata) if isinstance(metadata, str) else metadata
    return metadata["event_payload"]


def receipt_of(fake_slack, user: str):
    """The receipt DM of `user`'s request (the first DM to them carrying buttons)."""
    return [c for c in fake_slack.calls("chat.postMessage")
            if c.params.get("channel") == user and buttons_in(c.params.get("blocks"))][0]


# --- Whose homes a change republishes ----------------------------------------------------------------


def test_a_burst_of_sixty_requests_republishes_each_watchers_home_once_not_forty_times_each(client, fake_slack,
                                                                                          clock):
    # Sixty people ask for time off within the same minute. Each request changes what the 40 approvers'
    # tabs show; one publish per approver per request would be 2,400 views.publish, 24 minutes of
    # Slack's Tier 4 budget. While a republish of an approver's tab waits, further requests add no other.
    busy_company(fake_slack)
    with PublishLog(fake_slack, clock) as slack:
        everyone_watching_opens_their_home(client, clock)
        mark = slack.mark()

        slowest = max(send_request(client, fake_slack, user, n) for n, user in enumerate(REQUESTERS))
        work_through_the_queue(clock)

        assert len(posted_requests(fake_slack)) == 60
        publishes = slack.since(mark)
        counts = per_user(publishes)
        assert set(counts) == set(WATCHING_APPROVERS + WATCHING_REQUESTERS), sorted(counts)
        assert max(counts.values()) == 1, {user: n for user, n in counts.items() if n > 1}
        for approver in WATCHING_APPROVERS:
            assert waiting_count(slack.last_home(approver)) == 60, approver
        for requester in WATCHING_REQUESTERS:
            assert ids.WITHDRAW_ACTION in buttons_in(slack.last_home(requester)["blocks"]), requester
        assert slowest < QUICK_SECONDS


def test_each_change_one_at_a_time_republishes_the_watching_approvers_and_the_requester_once_each(
        client, fake_slack, clock):
    # README: a change republishes the tab of everyone it concerns who opened theirs in the last 30 days:
    # the requester and the team's approvers (their "Waiting for your decision"). Nobody else, and
    # nobody twice; approvers who never open the tab cost nothing.
    busy_company(fake_slack)
    with PublishLog(fake_slack, clock) as slack:
        everyone_watching_opens_their_home(client, clock)
        for n, user in enumerate(REQUESTERS[:6]):
            send_request(client, fake_slack, user, n)
        work_through_the_queue(clock)
        concerned = set(WATCHING_APPROVERS)

        # A new request (from someone who looks at their tab).
        mark = slack.mark()
        send_request(client, fake_slack, REQUESTERS[10], 10)
        work_through_the_queue(clock)
        assert per_user(slack.since(mark)) == dict.fromkeys(concerned, 1)  # REQUESTERS[10] does not watch
        assert {waiting_count(slack.last_home(a)) for a in WATCHING_APPROVERS} == {7}

        # A decision on a watcher's request.
        mark = slack.mark()
        approve(client, APPROVERS[0], request_of(fake_slack, REQUESTERS[0]))
        work_through_the_queue(clock)
        assert per_user(slack.since(mark)) == dict.fromkeys(concerned | {REQUESTERS[0]}, 1)
        assert {waiting_count(slack.last_home(a)) for a in WATCHING_APPROVERS} == {6}
        assert ids.CANCEL_ACTION in buttons_in(slack.last_home(REQUESTERS[0])["blocks"])

        # A withdrawal from the receipt.
        mark = slack.mark()
        receipt = receipt_of(fake_slack, REQUESTERS[1])
        press(client, REQUESTERS[1], receipt.params["blocks"], ids.WITHDRAW_ACTION, channel=receipt.response["channel"],
              ts=receipt.response["ts"])
        work_through_the_queue(clock)
        assert per_user(slack.since(mark)) == dict.fromkeys(concerned | {REQUESTERS[1]}, 1)
        assert {waiting_count(slack.last_home(a)) for a in WATCHING_APPROVERS} == {5}
        assert ids.WITHDRAW_ACTION not in buttons_in(slack.last_home(REQUESTERS[1])["blocks"])

        # An edit from the receipt (new dates): the approvers' tabs show the new dates.
        mark = slack.mark()
        receipt = receipt_of(fake_slack, REQUESTERS[2])
        press(client, REQUESTERS[2], receipt.params["blocks"], ids.EDIT_ACTION, channel=receipt.response["channel"],
              ts=receipt.response["ts"])
        form = fake_slack.last_call("views.open").params["view"]
        form = json.loads(form) if isinstance(form, str) else form
        new_day = MONDAY + timedelta(days=7 * 30 + 1)
        response = post_interaction(client, view_submission_payload(
            user_id=REQUESTERS[2], view=form, values=request_values("vacation", new_day, new_day),
            view_id="V_EDIT_RQ02", view_hash="V_EDIT_RQ02.hash"))
        assert response.status_code == 200, response.content
        work_through_the_queue(clock)
        assert per_user(slack.since(mark)) == dict.fromkeys(concerned | {REQUESTERS[2]}, 1)
        assert all(new_day.strftime("%a %-d %b") in shown_text(slack.last_home(a)) for a in WATCHING_APPROVERS)


def test_ten_approvals_pressed_at_once_republish_each_watchers_home_once(client, fake_slack, clock):
    # Ten approvers clear the queue together: ten decisions, but each approver's tab needs drawing once
    # after them, and each watching requester's once.
    busy_company(fake_slack)
    with PublishLog(fake_slack, clock) as slack:
        everyone_watching_opens_their_home(client, clock)
        for n, user in enumerate(REQUESTERS[:20]):
            send_request(client, fake_slack, user, n)
        work_through_the_queue(clock)
        mark = slack.mark()

        slowest = max(approve(client, APPROVERS[n], request_of(fake_slack, REQUESTERS[n])) for n in range(10))
        work_through_the_queue(clock)

        assert all(_payload(request_of(fake_slack, REQUESTERS[n]))["status"] in (PENDING, APPROVED)
                   for n in range(10))
        statuses = [m.metadata["event_payload"]["status"] for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
                    if m.metadata and m.metadata["event_payload"].get("user") in REQUESTERS[:10]]
        assert statuses == [APPROVED] * 10
        counts = per_user(slack.since(mark))
        assert counts == dict.fromkeys(set(WATCHING_APPROVERS) | set(WATCHING_REQUESTERS), 1), counts
        assert {waiting_count(slack.last_home(a)) for a in WATCHING_APPROVERS} == {10}
        assert slowest < QUICK_SECONDS


# --- views.publish rate-limited for a while -------------------------------------------------------------


def test_homes_that_meet_a_rate_limit_are_published_after_it_and_no_sooner_though_changes_keep_coming(
        client, fake_slack, clock):
    # For two and a half minutes Slack answers every views.publish with 429 and the seconds left as
    # Retry-After. Meanwhile approvers keep approving and people keep asking. Every watcher's tab must
    # show the truth once Slack lets publishes through again (nothing lost); no tab is published again
    # before Slack said it could be (a retry waits out Retry-After, and while one republish of a tab
    # waits in the queue further changes add no other); Slack's requests to us are answered at once.
    busy_company(fake_slack)
    with PublishLog(fake_slack, clock) as slack:
        everyone_watching_opens_their_home(client, clock)
        for n, user in enumerate(REQUESTERS[:6]):
            send_request(client, fake_slack, user, n)
        work_through_the_queue(clock)
        mark = slack.mark()
        start = clock.monotonic()
        slack.limit_for(150)

        took = [approve(client, APPROVERS[0], request_of(fake_slack, REQUESTERS[0]))]
        work_through_the_queue(clock, until=start + 20)
        took.append(approve(client, APPROVERS[1], request_of(fake_slack, REQUESTERS[1])))
        took.append(send_request(client, fake_slack, REQUESTERS[30], 30))
        work_through_the_queue(clock, until=start + 70)
        took.append(approve(client, APPROVERS[2], request_of(fake_slack, REQUESTERS[2])))
        work_through_the_queue(clock)

        calls = slack.since(mark)
        assert any(c.status == 429 for c in calls), "the rate limit was never met"
        # Nothing lost: each approver who watches sees the four requests still waiting, each requester
        # their own request as it stands.
        for approver in WATCHING_APPROVERS:
            assert waiting_count(slack.last_home(approver)) == 4, approver
        for requester in REQUESTERS[:3]:
            assert ids.CANCEL_ACTION in buttons_in(slack.last_home(requester)["blocks"]), requester
        # Never sooner than Slack said: after a 429 for a tab, the next publish of that tab waits out its
        # Retry-After.
        too_soon = []
        for user in {c.user for c in calls}:
            mine = [c for c in calls if c.user == user]
            for before, after in zip(mine, mine[1:]):
                if before.status == 429 and after.at < before.at + before.retry_after - 0.01:
                    too_soon.append((user, round(after.at - before.at, 1), before.retry_after))
        assert not too_soon, f"{len(too_soon)} publishes came before Retry-After, e.g. {too_soon[:3]}"
        # And once through, each tab is published once, not once per change that queued behind the limit.
        after_limit = per_user([c for c in calls if c.at >= start + 150 and c.status == 200])
        assert max(after_limit.values()) == 1, {u: n for u, n in after_limit.items() if n > 1}
        assert max(took) < QUICK_SECONDS


def test_a_short_retry_after_is_waited_out_in_the_background_and_the_tab_still_arrives(client, fake_slack, clock):
    # A Retry-After of a few seconds (up to 10) is waited out inside the call, on the worker: the open
    # of the tab is answered at once, and the tab is published as soon as Slack allows.
    busy_company(fake_slack)
    user = WATCHING_APPROVERS[0]
    with PublishLog(fake_slack, clock) as slack:
        send_request(client, fake_slack, REQUESTERS[0], 0)
        work_through_the_queue(clock)
        start = clock.monotonic()
        slack.limit_for(8)

        began = time.monotonic()
        assert open_home(client, user, "Ev_OPEN_SHORT_LIMIT").status_code == 200
        assert time.monotonic() - began < QUICK_SECONDS
        work_through_the_queue(clock)

        mine = [c for c in slack.calls if c.user == user]
        assert [c.status for c in mine] == [429, 200], [(c.status, c.retry_after) for c in mine]
        assert mine[1].at >= start + 8
        assert waiting_count(slack.last_home(user)) == 1


# --- app_home_opened, again and again --------------------------------------------------------------


def test_opening_the_tab_over_and_over_and_slacks_retries_publish_once_per_real_change(client, fake_slack, clock):
    # An approver clicks the Home tab eight times in a row; Slack, which got our answer to the first open
    # late, sends that event again three times (X-Slack-Retry-Num 1 to 3, the last ones after the tab
    # was published). One publish. Then a request is approved: one more publish for that change, and
    # her opening the tab again just after it adds none.
    busy_company(fake_slack)
    user = WATCHING_APPROVERS[0]
    with PublishLog(fake_slack, clock) as slack:
        for n, requester in enumerate(REQUESTERS[:3]):
            send_request(client, fake_slack, requester, n)
        work_through_the_queue(clock)

        answers = [open_home(client, user, "Ev_FIRST_OPEN"), open_home(client, user, "Ev_FIRST_OPEN", retry_num=1)]
        answers += [open_home(client, user, f"Ev_CLICK_{n}") for n in range(8)]
        work_through_the_queue(clock)
        answers += [open_home(client, user, "Ev_FIRST_OPEN", retry_num=retry) for retry in (2, 3)]
        work_through_the_queue(clock)
        assert [a.status_code for a in answers] == [200] * len(answers)
        assert len([c for c in slack.calls if c.user == user]) == 1
        assert waiting_count(slack.last_home(user)) == 3

        approve(client, APPROVERS[1], request_of(fake_slack, REQUESTERS[0]))
        work_through_the_queue(clock)
        for n in range(5):
            assert open_home(client, user, f"Ev_AFTER_CHANGE_{n}").status_code == 200
        work_through_the_queue(clock)

        mine = [c for c in slack.calls if c.user == user]
        assert len(mine) == 2, len(mine)
        assert waiting_count(slack.last_home(user)) == 2


# --- hash_conflict: the newer publish wins ----------------------------------------------------------------


def test_a_first_open_racing_a_decisions_republish_does_not_leave_the_older_tab_showing(client, fake_slack,
                                                                                       monkeypatch):
    # Bob opens App Home for the first time: his open's publish reads the ledger (Alice's request
    # waiting, with Approve / Reject) and, while it draws, Dave approves it on another worker. Bob looks
    # at his tab now, so the decision republishes it: that publish lands first, showing nothing
    # waiting. The open's publish lands last. README: two publishes of one tab at once cannot leave
    # the older one showing. No hash was known yet for Bob's tab, so nothing stops the older one.
    from approvals import home_services
    from test_support.flows import ALICE, BOB, DAVE, click, open_app_home, request_time_off

    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    built = home_services.home_view
    decided = []

    def decision_while_drawing(**kwargs):
        view = built(**kwargs)  # what the open read: the request waiting for Bob
        if not decided:
            decided.append(True)
            click(client, fake_slack, DAVE, ids.APPROVE_ACTION, posted)  # meanwhile, on another worker
        return view

    monkeypatch.setattr(home_services, "home_view", decision_while_drawing)

    open_app_home(client, fake_slack, BOB, "Ev_BOB_FIRST_OPEN")

    status = [m.metadata["event_payload"]["status"] for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
              if m.metadata]
    assert status == [APPROVED]
    workspace = fake_slack.workspace
    showing = workspace.views[workspace.home_views[BOB]]  # what Slack shows Bob now
    assert ids.APPROVE_ACTION not in buttons_in(showing["blocks"]), shown_text(showing)


def test_a_tab_refused_for_a_stale_hash_is_drawn_again_and_shows_the_latest_state(client, fake_slack, clock):
    # Another worker published the approver's tab after this one read its hash (the fake's tab changed,
    # our cache not yet): Slack refuses with hash_conflict, and the publish reads everything again and
    # shows what is true now, once, with the hash Slack gave it kept for the next.
    from django.core.cache import cache

    busy_company(fake_slack)
    user = WATCHING_APPROVERS[0]
    with PublishLog(fake_slack, clock) as slack:
        assert open_home(client, user, "Ev_HASH_OPEN").status_code == 200
        work_through_the_queue(clock)
        kept = cache.get(f"home:hash:{user}")
        assert kept
        # Another publish of the tab landed that our cache never heard of (its worker died before storing).
        workspace = fake_slack.workspace
        workspace.views[workspace.home_views[user]]["hash"] = "1766000001.0ther"
        send_request(client, fake_slack, REQUESTERS[0], 0)
        work_through_the_queue(clock)

        mine = [c for c in slack.calls if c.user == user]
        assert [c.error or "ok" for c in mine] == ["ok", "hash_conflict", "ok"], [c.error for c in mine]
        assert waiting_count(slack.last_home(user)) == 1
        assert cache.get(f"home:hash:{user}") == workspace.views[workspace.home_views[user]]["hash"]


# --- A tab Slack will not publish -------------------------------------------------------------------------


@pytest.mark.parametrize("error", ["user_not_found", "invalid_arguments"])
def test_a_tab_slack_refuses_for_good_is_tried_once_logged_once_and_others_get_theirs(client, fake_slack, clock,
                                                                                       caplog, error):
    # An approver who opened the tab has since been deactivated (or is an id Slack no longer knows):
    # Slack refuses every publish of their tab. A change tries it once, logs it once, never retries it,
    # and every other watcher's tab is published as usual.
    busy_company(fake_slack)
    gone = WATCHING_APPROVERS[3]
    with PublishLog(fake_slack, clock) as slack:
        everyone_watching_opens_their_home(client, clock)
        slack.refused[gone] = error
        with fake_slack.workspace.lock:
            fake_slack.workspace.users[gone].deleted = True
        mark = slack.mark()
        caplog.clear()

        with caplog.at_level(logging.INFO):
            send_request(client, fake_slack, REQUESTERS[10], 10)
            work_through_the_queue(clock)
            clock.move_on(3600)  # an hour later: nothing was left to retry
            work_through_the_queue(clock)

        calls = slack.since(mark)
        assert [c.error for c in calls if c.user == gone] == [error]
        others = per_user([c for c in calls if c.user != gone and c.error is None])
        assert others == dict.fromkeys(set(WATCHING_APPROVERS) - {gone}, 1)
        assert not waiting_rows("publish_home")
        # The app's own error line (Django's task framework adds its "state=FAILED" line for any failed task).
        failures = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("approvals")
                    and "publish_home" in r.getMessage()]
        assert len(failures) == 1, [r.getMessage() for r in failures]

        # The next change does not try their tab again: it would meet the same refusal.
        mark = slack.mark()
        send_request(client, fake_slack, REQUESTERS[11], 11)
        work_through_the_queue(clock)
        assert [c for c in slack.since(mark) if c.user == gone] == []


# --- Slack's 100 blocks ----------------------------------------------------------------------------


def test_an_approver_with_150_requests_waiting_sees_a_tab_within_100_blocks_that_counts_the_rest(client,
                                                                                                fake_slack):
    # A busy season: 150 requests of the team wait, all of them for the same approver, who also has
    # plenty of their own leave. Slack takes at most 100 blocks in a tab: it shows the soonest, says how
    # many more there are and where, and still has room for the rest of the tab.
    from approvals.selectors import local_today as today_of

    busy_company(fake_slack)
    approver = APPROVERS[0]
    today = today_of(TEAM.timezone)
    waiting = []
    for n in range(150):
        start = MONDAY + timedelta(days=n % 200)
        while start.weekday() >= 5:
            start += timedelta(days=1)
        waiting.append(LedgerEntry(
            id=f"wait-{n:03d}", user=REQUESTERS[n % len(REQUESTERS)], team=TEAM.name, leave_type="vacation",
            start=start, end=start, start_half=None, end_half=None, days=Decimal(1), status=PENDING,
            decided_by=None, decided_at=None))
    own = [LedgerEntry(id=f"own-{n:02d}", user=approver, team=TEAM.name, leave_type="vacation",
                       start=today + timedelta(days=30 + n), end=today + timedelta(days=30 + n), start_half=None,
                       end_half=None, days=Decimal(1), status=PENDING, decided_by=None, decided_at=None)
           for n in range(40)]
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, entries=[*reversed(waiting), *own], noise_every=0)

    envelope = event_envelope({"type": "app_home_opened", "user": approver, "channel": "D_HOME", "tab": "home",
                               "event_ts": "1766000000.000300"}, event_id="Ev_150_WAITING")
    assert post_event(client, envelope).status_code == 200

    [publish] = [c for c in fake_slack.calls("views.publish") if c.params["user_id"] == approver]
    assert publish.response.get("ok"), publish.response  # Slack took it
    home = publish.params["view"]
    home = json.loads(home) if isinstance(home, str) else home
    assert len(home["blocks"]) <= 100
    shown = shown_text(home)
    assert waiting_count(home) == 150
    assert "and 135 more in the approvals channels" in shown, shown[-2000:]
    decide = [b["block_id"] for b in home["blocks"] if b.get("block_id", "").startswith("decide:")]
    soonest = sorted(waiting, key=lambda e: (e.start, e.id))[:len(decide)]
    assert decide == [f"decide:{e.id}" for e in soonest]
    assert "*Pending*" in shown and "more, with later dates" in shown  # their own list, counted too
