"""The directory caches answers only (DESIGN §8, "transient is not permanent").

A permanent refusal (the channel is gone or hidden, the group does not exist, a
scope is missing) is remembered as "no members" for ten minutes. A passing fault
(`ratelimited` after the client's retries, `internal_error`, `fatal_error`, a
5xx, a timeout) is raised so the task retries, and nothing is cached: the
request path goes on treating the membership as unknown.
"""

import pytest
from django.core.cache import cache
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from approvals import directory
from approvals.task_queue import transient
from fake_slack.personas import ALICE, BOB, BOT, C_ENG, C_ENG_LEADS, C_NOBOT, DAVE, S_ENG

pytestmark = pytest.mark.django_db

PASSING = ["ratelimited", "internal_error", "fatal_error", "service_unavailable"]


@pytest.fixture
def client(fake_slack):
    """No retry handlers: each injected fault reaches the code under test as it is."""
    return WebClient(token=fake_slack.workspace.bot_token, base_url=fake_slack.api_url, retry_handlers=[],
                     timeout=0.5)


def inject(fake_slack, method: str, fault: str) -> None:
    if fault == "ratelimited":
        fake_slack.rate_limit(method, retry_after=1)
    elif fault == "http_503":
        fake_slack.server_error(method, status=503)
    elif fault == "timeout":
        fake_slack.delay(method, 1.0, times=1)
    else:
        fake_slack.fail(method, fault)


@pytest.mark.parametrize("fault", [*PASSING, "http_503", "timeout"])
def test_a_passing_fault_reading_channel_members_is_raised_and_not_cached(fake_slack, client, fault):
    inject(fake_slack, "conversations.members", fault)

    with pytest.raises((SlackApiError, TimeoutError)) as raised:
        directory.fetch_channel_members(client, C_ENG)

    assert transient(raised.value)  # the task retries it
    assert directory.cached_channel_members(C_ENG) is None  # still unknown, not "nobody"
    assert directory.fetch_channel_members(client, C_ENG) == {ALICE, BOB, DAVE}  # the next try asks Slack


@pytest.mark.parametrize("fault", [*PASSING, "http_503"])
def test_a_passing_fault_reading_a_user_group_is_raised_and_not_cached(fake_slack, client, fault):
    inject(fake_slack, "usergroups.users.list", fault)

    with pytest.raises(SlackApiError) as raised:
        directory.fetch_usergroup_members(client, S_ENG)

    assert transient(raised.value)
    assert directory.cached_usergroup_members(S_ENG) is None
    assert directory.fetch_usergroup_members(client, S_ENG) == {ALICE, DAVE}


@pytest.mark.parametrize(("channel", "injected"), [
    ("C_GONE", None),  # channel_not_found, from the fake itself
    (C_ENG, "is_archived"),
    (C_ENG, "missing_scope"),
    (C_ENG, "not_in_channel"),
])
def test_a_permanent_refusal_is_remembered_as_no_members(fake_slack, client, channel, injected):
    if injected:
        fake_slack.fail("conversations.members", injected)

    assert directory.fetch_channel_members(client, channel) == frozenset()

    assert directory.cached_channel_members(channel) == frozenset()
    fake_slack.clear_calls()
    assert directory.fetch_channel_members(client, channel) == frozenset()
    assert fake_slack.calls("conversations.members") == []  # remembered


def test_an_unknown_user_group_is_remembered_as_empty(fake_slack, client):
    assert directory.fetch_usergroup_members(client, "S_GONE") == frozenset()  # no_such_subteam
    assert directory.cached_usergroup_members("S_GONE") == frozenset()


def test_a_refusal_is_remembered_with_slacks_error(fake_slack, client):
    """So that someone it leaves in no team can be told which list could not be read, and why."""
    directory.fetch_channel_members(client, "C_GONE")
    directory.fetch_usergroup_members(client, "S_GONE")

    # Read back through the cache (pickled), as another process would.
    assert directory.cached_channel_members("C_GONE").error == "channel_not_found"
    assert directory.cached_usergroup_members("S_GONE").error == "no_such_subteam"
    read = directory.fetch_channel_members(client, C_ENG)
    assert read and type(directory.cached_channel_members(C_ENG)) is frozenset  # a list read is just its members


def test_members_are_cached_without_our_bot(fake_slack, client):
    assert directory.fetch_channel_members(client, C_ENG_LEADS) == {BOB, DAVE}
    assert BOT in fake_slack.workspace.channels[C_ENG_LEADS].members
    assert directory.cached_channel_members(C_ENG_LEADS) == {BOB, DAVE}
    # A public channel the bot is not in still lists its members.
    assert ALICE in directory.fetch_channel_members(client, C_NOBOT)


@pytest.mark.parametrize("fault", [*PASSING, "http_503"])
def test_a_passing_fault_asking_who_we_are_is_raised_and_not_cached(fake_slack, client, fault):
    inject(fake_slack, "auth.test", fault)

    with pytest.raises(SlackApiError):
        directory.fetch_bot_user_id(client)

    assert directory.fetch_bot_user_id(client) == BOT


def test_a_permanent_auth_test_refusal_means_unknown_and_is_not_cached(fake_slack, client):
    fake_slack.fail("auth.test", "invalid_auth")

    assert directory.fetch_bot_user_id(client) is None  # unknown, never "anyone"
    assert directory.fetch_bot_user_id(client) == BOT  # asked again next time


def test_a_time_zone_slack_will_not_give_is_utc_this_once(fake_slack, client):
    fake_slack.fail("users.info", "missing_scope")

    assert directory.fetch_timezone(client, ALICE) == "UTC"

    assert directory.cached_timezone(ALICE) is None  # not cached: asked again next time
    assert directory.fetch_timezone(client, ALICE) == "America/Los_Angeles"
    assert directory.cached_timezone(ALICE) == "America/Los_Angeles"


@pytest.mark.parametrize("error", ["user_not_found", "user_not_visible"])
def test_an_id_that_names_nobody_is_remembered_for_ten_minutes(fake_slack, client, error):
    fake_slack.fail("users.info", error)

    assert directory.fetch_user(client, "U_NOBODY") is None
    assert directory.fetch_timezone(client, "U_NOBODY") == "UTC"
    assert directory.is_deactivated(client, "U_NOBODY") is False  # its DM is tried, and its failure told to HR
    assert len(fake_slack.calls("users.info")) == 1  # asked once

    cache.delete("directory:user:U_NOBODY")  # ten minutes later
    assert directory.fetch_user(client, "U_NOBODY") is None and len(fake_slack.calls("users.info")) == 2


@pytest.mark.parametrize("fault", [*PASSING, "http_503"])
def test_a_passing_fault_reading_a_time_zone_is_raised_not_taken_as_utc(fake_slack, client, fault):
    # UTC's today is already tomorrow on a California evening: leave starting today would be "in the past".
    inject(fake_slack, "users.info", fault)

    with pytest.raises(SlackApiError) as raised:
        directory.fetch_timezone(client, ALICE)

    assert transient(raised.value) and directory.cached_timezone(ALICE) is None
    assert directory.fetch_timezone(client, ALICE) == "America/Los_Angeles"
    assert directory.fetch_user(client, DAVE) is not None  # elsewhere a look-up that fails is None, as before


@pytest.mark.parametrize("error", ["invalid_auth", "token_revoked", "account_inactive"])
def test_a_dead_token_is_not_remembered_as_no_members(fake_slack, client, error):
    fake_slack.fail("conversations.members", error)
    fake_slack.fail("usergroups.users.list", error)

    with pytest.raises(SlackApiError):
        directory.fetch_channel_members(client, C_ENG)
    with pytest.raises(SlackApiError):
        directory.fetch_usergroup_members(client, S_ENG)

    assert directory.cached_channel_members(C_ENG) is None and directory.cached_usergroup_members(S_ENG) is None
    assert ALICE in directory.fetch_channel_members(client, C_ENG)  # a new token, or the same one working again


def test_a_channel_of_many_pages_is_read_to_its_last_member(fake_slack, client):
    with fake_slack.workspace.lock:
        before = fake_slack.workspace.channels[C_ENG].members - {BOT}
        fake_slack.workspace.channels[C_ENG].members |= {f"U{n:08d}" for n in range(450)}

    members = directory.fetch_channel_members(client, C_ENG)

    assert len(members) == 450 + len(before) and {ALICE, "U00000449"} <= members and BOT not in members
    calls = fake_slack.calls("conversations.members")
    assert len(calls) == 3  # 200 a page
    assert calls[1].params["cursor"] == calls[0].response["response_metadata"]["next_cursor"]


@pytest.mark.parametrize("info, zone", [
    ({"tz": "Asia/Tokyo", "tz_offset": 32400}, "Asia/Tokyo"),
    ({"tz": None, "tz_offset": 32400}, "Etc/GMT-9"),  # UTC+9: the POSIX sign is the other way round
    ({"tz_offset": -28800}, "Etc/GMT+8"),
    ({"tz_offset": 50400}, "Etc/GMT-14"),  # Kiritimati
    ({"tz_offset": 0}, "Etc/UTC"),
    ({"tz_offset": 19800}, "Asia/Kolkata"),  # India's half hour: no Etc/ zone, a zone that keeps it all year
    ({"tz_offset": 20700}, "Asia/Kathmandu"),
    ({"tz_offset": -12600}, "America/St_Johns"),
    ({"tz_offset": 1800}, "UTC"),  # no zone keeps +0:30
    ({"tz": "", "tz_offset": None}, "UTC"),
    ({}, "UTC"),
])
def test_a_profile_with_an_offset_but_no_zone_gets_the_fixed_zone_of_that_offset(info, zone):
    from approvals.directory import _zone_of

    assert _zone_of(info) == zone


@pytest.mark.parametrize("offset", [37800, 34200, -12600, -9000, 45900, 49500, 19800])
def test_a_part_hour_offset_maps_to_a_zone_at_that_offset_now(offset):
    """+10:30 is Adelaide's summer and Lord Howe's winter: whichever season it is, the zone chosen is at the
    offset Slack gave, now (an offset out of its season, as -2:30 in Newfoundland's winter, keeps its zone)."""
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo

    from approvals.directory import ZONES_OF_PART_HOUR_OFFSETS, _zone_of

    zone = _zone_of({"tz_offset": offset})
    now = datetime.now(timezone.utc)
    in_season = [z for z in ZONES_OF_PART_HOUR_OFFSETS[offset]
                 if now.astimezone(ZoneInfo(z)).utcoffset().total_seconds() == offset]
    assert zone == (in_season[0] if in_season else ZONES_OF_PART_HOUR_OFFSETS[offset][0])
    if offset == 37800:  # one of Adelaide and Lord Howe is always at +10:30
        assert now.astimezone(ZoneInfo(zone)).utcoffset().total_seconds() == 37800
