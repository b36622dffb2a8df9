"""Connecting a Slack workspace as README's "Endpoints" and "Connect a Slack workspace" describe it: the three
endpoints as Slack calls them (signed, Slack's content types and sizes), the install order (the events URL is
verified, and events arrive, before any configuration is loaded), what each subscribed event does, the private
approvals channel warning, and Socket Mode's log lines and metrics for each envelope."""

import json
import logging
import time
from dataclasses import replace
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.tasks import TaskResultStatus
from slack_sdk.socket_mode.request import SocketModeRequest

from approvals import block_ids as ids
from approvals.config_types import ApproverSource, MemberSource
from fake_slack.personas import BOT, C_ENG, C_ENG_APPROVALS, C_ENG_LEADS, C_GENERAL, CAROL, S_ENG
from slackbot.socket_mode import listener
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    ENGINEERING,
    HR,
    MONDAY,
    WEDNESDAY,
    dms_to,
    install_config,
    open_request_form,
    posted_requests,
    request_time_off,
    request_values,
    standard_config,
    submit_request,
)
from test_support.slack_requests import (
    SLACK_TEAM,
    command_fields,
    event_envelope,
    post_command,
    post_event,
    post_signed,
)
from timeoff_site.log_format import JsonFormatter

pytestmark = pytest.mark.django_db

ONE_MIB = 1024 * 1024


def event_ts() -> str:
    return f"{time.time():.6f}"


def user_change(fake_slack, user: str) -> dict:
    """user_change as Slack sends it: the whole user object, as Slack has it now."""
    return {"type": "user_change", "user": fake_slack.workspace.users[user].to_api(),
            "cache_ts": int(time.time()), "event_ts": event_ts()}


def failed(attempts) -> list:
    return [a for a in attempts if a[2] != TaskResultStatus.SUCCESSFUL]


# --- The endpoints: sizes --------------------------------------------------------------------------------


def view_closed_body(size: int) -> bytes:
    """A view_closed interaction, form-encoded as Slack sends it, padded (in the view's private_metadata)
    to exactly `size` bytes."""
    payload = {"type": "view_closed", "team": {"id": SLACK_TEAM, "domain": "acme"},
               "user": {"id": ALICE, "username": "alice", "name": "alice", "team_id": SLACK_TEAM},
               "api_app_id": "A_TIMEOFF", "token": "verification-token-unused", "is_cleared": False,
               "view": {"id": "V_CLOSED", "type": "modal", "callback_id": ids.REQUEST_MODAL,
                        "private_metadata": "", "hash": "1766000000.abc", "state": {"values": {}}}}
    base = len(urlencode({"payload": json.dumps(payload)}).encode())
    payload["view"]["private_metadata"] = "x" * (size - base)
    body = urlencode({"payload": json.dumps(payload)}).encode()
    assert len(body) == size
    return body


def test_an_interaction_of_exactly_one_mebibyte_is_accepted(client, fake_slack):
    response = post_signed(client, "/slack/interactions", view_closed_body(ONE_MIB))
    assert response.status_code == 200, response.content


def test_an_interaction_one_byte_over_a_mebibyte_is_refused_for_good(client, fake_slack):
    response = post_signed(client, "/slack/interactions", view_closed_body(ONE_MIB + 1))
    assert response.status_code == 413
    assert response["X-Slack-No-Retry"] == "1"


def test_an_event_one_byte_over_a_mebibyte_is_refused_so_slack_does_not_send_it_three_more_times(client, fake_slack):
    envelope = event_envelope({"type": "app_home_opened", "user": ALICE, "channel": "D_HOME", "tab": "home",
                               "event_ts": event_ts(), "pad": ""}, event_id="Ev_BIG")
    base = len(json.dumps(envelope).encode())
    envelope["event"]["pad"] = "x" * (ONE_MIB + 1 - base)
    body = json.dumps(envelope).encode()
    assert len(body) == ONE_MIB + 1
    response = post_signed(client, "/slack/events", body, content_type="application/json",
                           headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    assert response.status_code == 413
    assert response["X-Slack-No-Retry"] == "1"
    assert fake_slack.calls("views.publish") == []


# --- The install order: Slack calls before any configuration is loaded -------------------------------------


def test_the_events_url_passes_slacks_check_before_any_configuration_is_loaded(client, fake_slack):
    # Step 4 comes before step 6 (load the configuration): the challenge must be answered on an empty database.
    envelope = {"token": "verification-token-unused", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                "type": "url_verification"}
    response = post_signed(client, "/slack/events", json.dumps(envelope), content_type="application/json")
    assert response.status_code == 200
    assert response.json() == {"challenge": envelope["challenge"]}
    assert response["Content-Type"].startswith("application/json")


def test_events_that_arrive_before_any_configuration_is_loaded_are_acknowledged_and_fail_nothing(
        client, fake_slack, attempts):
    # Between step 4 (events on) and step 6 (configuration loaded) Slack already sends what happens in the
    # workspace: the bot invited to channels (step 5), people opening the Home tab, profiles changing.
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[CAROL].deleted = True
    events = [
        {"type": "member_joined_channel", "user": BOT, "channel": C_ENG_APPROVALS, "channel_type": "G",
         "team": SLACK_TEAM, "inviter": HR, "event_ts": event_ts()},
        {"type": "member_joined_channel", "user": ALICE, "channel": C_ENG, "channel_type": "C",
         "team": SLACK_TEAM, "event_ts": event_ts()},
        {"type": "member_left_channel", "user": DAVE, "channel": C_ENG_LEADS, "channel_type": "G",
         "team": SLACK_TEAM},
        {"type": "subteam_members_changed", "subteam_id": S_ENG, "team_id": SLACK_TEAM, "added_users": [CAROL],
         "added_users_count": "1", "removed_users": [], "removed_users_count": "0"},
        user_change(fake_slack, CAROL),
        {"type": "channel_archive", "channel": C_GENERAL, "user": HR, "event_ts": event_ts()},
        {"type": "group_left", "channel": C_ENG_LEADS, "actor_id": HR, "event_ts": event_ts()},
        {"type": "channel_unarchive", "channel": C_GENERAL, "user": HR, "event_ts": event_ts()},
        {"type": "app_home_opened", "user": ALICE, "channel": "D_HOME", "tab": "home", "event_ts": event_ts()},
    ]
    for number, event in enumerate(events):
        response = post_event(client, event_envelope(event, event_id=f"Ev_EARLY{number}"))
        assert response.status_code == 200, (event["type"], response.content)
    assert failed(attempts) == []
    assert dms_to(fake_slack, HR) == []  # nothing is configured yet: nobody to tell about anything


def test_app_home_opened_before_any_configuration_is_loaded_shows_a_home_tab(client, fake_slack, attempts):
    response = post_event(client, event_envelope({"type": "app_home_opened", "user": ALICE, "channel": "D_HOME",
                                                  "tab": "home", "event_ts": event_ts()}, event_id="Ev_EARLY_HOME"))
    assert response.status_code == 200
    assert failed(attempts) == []
    [published] = fake_slack.calls("views.publish")
    view = published.params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["type"] == "home" and view["blocks"]


def test_timeoff_typed_before_any_configuration_is_loaded_says_it_is_not_set_up_yet(client, fake_slack):
    response = post_command(client, "", user_id=ALICE)
    assert response.status_code == 200
    answer = response.json()
    assert answer["response_type"] == "ephemeral"
    assert "isn't set up yet" in answer["text"]
    assert fake_slack.calls("views.open") == []  # no form that could only be refused


def test_the_home_tab_before_any_configuration_is_loaded_says_what_timeoff_says(client, fake_slack):
    # /timeoff answers "Time off isn't set up yet"; the Home tab opened at the same moment should not offer a
    # request button and tell the person to ask HR to add them to a team that cannot exist yet.
    post_event(client, event_envelope({"type": "app_home_opened", "user": ALICE, "channel": "D_HOME", "tab": "home",
                                       "event_ts": event_ts()}, event_id="Ev_EARLY_HOME2"))
    [published] = fake_slack.calls("views.publish")
    view = published.params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    shown = json.dumps(view["blocks"])
    assert "isn't set up yet" in shown, shown
    assert ids.NEW_REQUEST_ACTION not in shown, "a Request time off button on an app with nothing configured"


# --- Channel events: what HR is told, and how -------------------------------------------------------------


def channel_event(kind: str, channel: str) -> dict:
    shaped = {"type": kind, "channel": channel, "event_ts": event_ts()}
    if kind.endswith("_left"):
        shaped["actor_id"] = "U_ADMIN"
    elif kind in ("channel_archive", "channel_unarchive"):
        shaped["user"] = "U_ADMIN"
    return shaped


def test_a_deleted_channel_tells_hr_what_to_do_in_plain_words_without_repeating_itself(client, fake_slack):
    install_config()
    assert post_event(client, event_envelope(channel_event("group_deleted", C_ENG_APPROVALS),
                                             event_id="Ev_DEL")).status_code == 200
    [told] = dms_to(fake_slack, HR)
    assert f"<#{C_ENG_APPROVALS}> was deleted" in told
    assert told.lower().count("choose another channel") == 1, told


def test_a_deleted_members_channel_is_told_to_hr_since_nobody_can_tell_who_is_in_the_team(client, fake_slack):
    install_config()
    assert post_event(client, event_envelope(channel_event("channel_deleted", C_ENG),
                                             event_id="Ev_DEL_MEMBERS")).status_code == 200
    [told] = dms_to(fake_slack, HR)
    assert f"<#{C_ENG}> was deleted" in told
    assert "members channel" in told


def test_hr_told_the_bot_left_a_private_approvers_channel_hears_what_breaks_there(client, fake_slack):
    # An approvers channel holds no requests, announcements or leave history: what fails is knowing who
    # approves for the team. HR should read that, not that requests posted there fail.
    install_config()
    assert post_event(client, event_envelope(channel_event("group_left", C_ENG_LEADS),
                                             event_id="Ev_LEFT_LEADS")).status_code == 200
    [told] = dms_to(fake_slack, HR)
    assert "• Engineering: approvers channel" in told
    consequence = told.split("approvers channel", 1)[1]
    assert "leave history kept there" not in consequence, told
    assert "approv" in consequence.lower(), told


def test_hr_is_told_by_a_dm_posted_to_their_own_id_without_opening_a_conversation(client, fake_slack):
    # README, chat:write: DMs are posted to the user's id; im:write (conversations.open) is only for looking
    # for a DM whose first try Slack answered too late.
    install_config()
    post_event(client, event_envelope(channel_event("channel_archive", C_ENG), event_id="Ev_ARCH_ANNOUNCE"))
    [dm] = [c for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == HR]
    assert "was archived" in dm.params["text"] and "Unarchive it" in dm.params["text"]
    assert fake_slack.calls("conversations.open") == []


# --- People events ------------------------------------------------------------------------------------------


def test_two_user_change_events_for_one_deactivation_tell_hr_once(client, fake_slack):
    # Slack sends user_change for every change to a profile: a deactivation followed by an admin's edit of the
    # deactivated profile are two events (two event ids), both with `deleted: true`.
    install_config()
    request_time_off(client, fake_slack, ALICE)
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[ALICE].deleted = True
    assert post_event(client, event_envelope(user_change(fake_slack, ALICE), event_id="Ev_GONE_A")).status_code == 200
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[ALICE].real_name = "Alice Adams (left)"
    assert post_event(client, event_envelope(user_change(fake_slack, ALICE), event_id="Ev_GONE_B")).status_code == 200
    assert len([dm for dm in dms_to(fake_slack, HR) if "deactivated" in dm]) == 1, dms_to(fake_slack, HR)


def test_someone_removed_from_the_teams_user_group_can_no_longer_request_at_once(client, fake_slack):
    install_config(standard_config(teams=(replace(ENGINEERING, members=MemberSource(usergroup=S_ENG)),)))
    assert post_command(client, "", user_id=DAVE).content == b""  # the form opens; the group's members cached
    with fake_slack.workspace.lock:
        fake_slack.workspace.usergroups[S_ENG].users.remove(DAVE)
    post_event(client, event_envelope({"type": "subteam_members_changed", "subteam_id": S_ENG, "team_id": SLACK_TEAM,
                                       "date_previous_update": int(time.time()) - 60,
                                       "date_update": int(time.time()), "added_users": [],
                                       "added_users_count": "0", "removed_users": [DAVE],
                                       "removed_users_count": "1"}, event_id="Ev_SUB_REMOVED"))
    fake_slack.clear_calls()
    answer = post_command(client, "", user_id=DAVE)
    assert answer.status_code == 200
    if answer.content == b"":  # the form opened (the group's members not cached): the submission is checked
        view = fake_slack.last_call("views.open").params["view"]
        submit_request(client, DAVE, view, request_values("vacation", MONDAY, WEDNESDAY), view_id="V_DAVE")
        assert any("no team" in dm for dm in dms_to(fake_slack, DAVE)), dms_to(fake_slack, DAVE)
    else:
        assert "no team is configured" in answer.json()["text"]
    assert posted_requests(fake_slack) == []  # nothing reaches Engineering's approvers


# --- Private approvals channels ----------------------------------------------------------------------------


def private_channel_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno == logging.WARNING and "is private and approvers who are not in it" in r.getMessage()]


def test_an_approver_outside_a_private_approvals_channel_is_named_in_one_warning_a_day(client, fake_slack, caplog):
    # C_ENG_APPROVALS is private (Bob, Dave and HR are in it); Carol approves too, but is not in it.
    install_config(standard_config(teams=(replace(ENGINEERING, approvers=ApproverSource(users=(BOB, CAROL),
                                                                                        channel=C_ENG_LEADS)),)))
    caplog.set_level(logging.INFO)
    request_time_off(client, fake_slack, ALICE)
    later = WEDNESDAY + timedelta(days=7)
    view = open_request_form(client, fake_slack, ALICE)
    submit_request(client, ALICE, view, request_values("vacation", later, later), view_id="V_REQ2", view_hash="h2")
    assert len(posted_requests(fake_slack)) == 2
    [warning] = private_channel_warnings(caplog)
    assert f"approvals channel={C_ENG_APPROVALS}" in warning and "team=Engineering" in warning
    assert warning.endswith(f"missing={CAROL}")


def test_approvers_who_are_all_in_the_private_approvals_channel_raise_no_warning(client, fake_slack, caplog):
    install_config(standard_config(teams=(replace(ENGINEERING, approvers=ApproverSource(channel=C_ENG_APPROVALS)),)))
    caplog.set_level(logging.INFO)
    request_time_off(client, fake_slack, ALICE)
    assert len(posted_requests(fake_slack)) == 1
    assert private_channel_warnings(caplog) == []


# --- Socket Mode: one log line and the metrics for each envelope ------------------------------------------


class RecordingClient:
    """Where the listener sends its acknowledgements (slack-sdk's SocketModeClient, as far as it is used)."""

    def __init__(self):
        self.sent = []

    def send_socket_mode_response(self, response):
        self.sent.append(response)


@pytest.fixture
def socket_listener(monkeypatch):
    """The Socket Mode listener, run on this thread: it closes stale connections around each envelope (it
    runs on slack-sdk's threads), which here would close the test's own transaction."""
    monkeypatch.setattr("slackbot.socket_mode.close_old_connections", lambda: None)
    client = RecordingClient()

    def deliver(request: SocketModeRequest):
        listener(client, request)
        return client.sent[-1] if client.sent else None

    deliver.client = client
    return deliver


class JsonLines(logging.Handler):
    """Log lines as the deployment writes them (LOG_FORMAT=json), formatted as each is emitted."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.setFormatter(JsonFormatter())
        self.lines: list[dict] = []

    def emit(self, record):
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def json_lines():
    handler = JsonLines()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield handler.lines
    root.removeHandler(handler)
    root.setLevel(previous)


def envelope_lines(lines: list[dict], envelope_id: str) -> list[dict]:
    return [line for line in lines if line.get("event") == "socket_mode_envelope"
            and line.get("envelope_id") == envelope_id]


def test_each_socket_mode_envelope_gets_one_log_line_saying_what_it_was(fake_slack, socket_listener, json_lines):
    ack = socket_listener(SocketModeRequest("slash_commands", "env-log-1", command_fields("help", user_id=ALICE)))
    assert ack.envelope_id == "env-log-1" and ack.payload["response_type"] == "ephemeral"
    [line] = envelope_lines(json_lines, "env-log-1")
    assert line["envelope_type"] == "slash_commands"
    assert line["outcome"] == "acked"
    assert line["slack_kind"] == "command" and line["slack_name"]
    assert isinstance(line["duration_ms"], (int, float)) and line["duration_ms"] >= 0
    assert line["request_id"]


def test_the_slack_calls_an_envelope_made_carry_its_request_id(fake_slack, socket_listener, json_lines):
    install_config()
    socket_listener(SocketModeRequest("slash_commands", "env-log-2", command_fields("", user_id=ALICE)))
    assert fake_slack.calls("views.open")
    [line] = envelope_lines(json_lines, "env-log-2")
    [opened] = [c for c in json_lines if c.get("event") == "slack_api_call" and c.get("slack_method") == "views.open"]
    assert opened["request_id"] == line["request_id"]


def test_a_retry_socket_mode_sends_while_the_first_is_in_hand_is_logged_as_not_acknowledged(
        fake_slack, socket_listener, json_lines):
    from slackbot import events

    install_config()
    assert events.first_delivery("Ev_SOCK_BUSY")  # the first delivery, still being handled elsewhere
    envelope = event_envelope({"type": "member_joined_channel", "user": CAROL, "channel": C_ENG, "channel_type": "C",
                               "team": SLACK_TEAM, "event_ts": event_ts()}, event_id="Ev_SOCK_BUSY")
    assert socket_listener(SocketModeRequest("events_api", "env-log-3", envelope, retry_attempt=1)) is None
    [line] = envelope_lines(json_lines, "env-log-3")
    assert line["outcome"] == "not_acked"
    assert line["envelope_type"] == "events_api"
    assert line["slack_kind"] == "event" and line["slack_name"] == "member_joined_channel"
    assert line["retry_attempt"] == 1


def metric_value(text: str, name: str, **labels) -> float:
    total = 0.0
    for row in text.splitlines():
        if not row.startswith(name + "{"):
            continue
        label_text = row[len(name) + 1:row.index("}")]
        found = dict(pair.split("=", 1) for pair in label_text.split(","))
        found = {key: value.strip('"') for key, value in found.items()}
        if all(found.get(key) == value for key, value in labels.items()):
            total += float(row.rsplit(" ", 1)[1])
    return total


def scrape(client, settings) -> str:
    settings.METRICS_TOKEN = "metrics-token-for-the-test"
    response = client.get("/metrics", headers={"Authorization": "Bearer metrics-token-for-the-test"})
    assert response.status_code == 200
    return response.content.decode()


def test_socket_mode_envelopes_are_counted_and_timed_in_the_metrics(client, settings, fake_slack, socket_listener):
    labels = {"envelope_type": "slash_commands", "slack_kind": "command", "outcome": "acked"}
    before = scrape(client, settings)
    socket_listener(SocketModeRequest("slash_commands", "env-metric-1", command_fields("help", user_id=ALICE)))
    socket_listener(SocketModeRequest("slash_commands", "env-metric-2", command_fields("help", user_id=ALICE)))
    after = scrape(client, settings)
    counted = (metric_value(after, "timeoff_socket_mode_envelopes_total", **labels)
               - metric_value(before, "timeoff_socket_mode_envelopes_total", **labels))
    assert counted == 2
    timed = (metric_value(after, "timeoff_socket_mode_envelope_duration_seconds_count",
                          envelope_type="slash_commands", slack_kind="command")
             - metric_value(before, "timeoff_socket_mode_envelope_duration_seconds_count",
                            envelope_type="slash_commands", slack_kind="command"))
    assert timed == 2


def test_a_socket_mode_handler_that_fails_is_logged_as_an_error_and_counted(
        client, settings, fake_slack, socket_listener, json_lines, monkeypatch):
    from slackbot import routing

    def broken(command):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(routing, "dispatch_command", broken)
    labels = {"envelope_type": "slash_commands", "outcome": "error"}
    before = metric_value(scrape(client, settings), "timeoff_socket_mode_envelopes_total", **labels)
    with pytest.raises(RuntimeError):
        socket_listener(SocketModeRequest("slash_commands", "env-err-1", command_fields("help", user_id=ALICE)))
    assert socket_listener.client.sent == []  # not acknowledged
    [line] = envelope_lines(json_lines, "env-err-1")
    assert line["outcome"] == "error" and line["level"] == "ERROR"
    after = metric_value(scrape(client, settings), "timeoff_socket_mode_envelopes_total", **labels)
    assert after - before == 1


def test_an_http_retry_while_the_first_delivery_is_in_hand_leaves_slack_free_to_send_it_again(client, fake_slack):
    from slackbot import events

    install_config()
    assert events.first_delivery("Ev_HTTP_BUSY")
    envelope = event_envelope({"type": "member_joined_channel", "user": CAROL, "channel": C_ENG, "channel_type": "C",
                               "team": SLACK_TEAM, "event_ts": event_ts()}, event_id="Ev_HTTP_BUSY")
    response = post_event(client, envelope, retry_num=1)
    assert response.status_code == 503
    assert "X-Slack-No-Retry" not in response
