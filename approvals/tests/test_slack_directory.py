"""The Slack directory for the console (approvals.slack_directory), against the fake Slack.

The personas (fake_slack.personas): Alice Adams, Bob Brown, Carol Chen, Dave Diaz
and Hannah Hill; channels #engineering, #eng-leads (private), #eng-approvals
(private), #general, #no-bot (the bot is not in it), #old-team (archived); the
user group @eng.
"""

import pytest
from slack_sdk.errors import SlackApiError

from approvals import slack_directory
from approvals.slack_clients import background_client, in_request_client
from approvals.slack_directory import (
    Directory,
    NotResolved,
    Person,
    channel_resolve,
    channels_matching,
    people_matching,
    person_resolve,
    usergroup_resolve,
    usergroups_matching,
)

pytestmark = pytest.mark.django_db


def test_it_lists_people_without_bots_or_deleted_users(fake_slack):
    fake_slack.add_user("U_GONE", "gone", email="gone@example.com", deleted=True)
    fake_slack.add_user("U_OTHERBOT", "otherbot", is_bot=True)
    fake_slack.add_user("USLACKBOT", "slackbot")
    directory = slack_directory.directory_refresh(background_client())
    assert [p.id for p in directory.people] == ["U_ALICE", "U_BOB", "U_CAROL", "U_DAVE", "U_HR"]
    alice = directory.person("U_ALICE")
    assert (alice.name, alice.real_name, alice.display_name, alice.email) == (
        "alice", "Alice Adams", "alice", "alice@example.com")
    assert alice.initials == "AA"


def test_it_lists_channels_the_bot_can_see_and_not_archived_ones(directory, fake_slack):
    assert [c.label for c in directory.channels] == [
        "#eng-approvals", "#eng-leads", "#engineering", "#general", "#no-bot", "#old-approvals"]
    assert directory.channel("C_ENG_LEADS").is_private
    assert directory.channel("C_NOBOT").bot_is_member is False
    call = fake_slack.last_call("conversations.list")
    assert call.params["types"] == "public_channel,private_channel"
    assert call.params["exclude_archived"] in ("1", "true", True)


def test_it_lists_user_groups_by_handle(directory):
    assert [(g.id, g.label, g.user_count) for g in directory.usergroups] == [("S_ENG", "@eng", 2)]


def test_it_reads_every_page_of_a_large_workspace(fake_slack):
    for number in range(450):
        fake_slack.add_user(f"U_MANY{number:03d}", f"person{number:03d}", email=f"p{number}@example.com")
    directory = slack_directory.directory_refresh(background_client())
    assert len(directory.people) == 455
    calls = fake_slack.calls("users.list")
    assert len(calls) == 3
    assert all(str(call.params["limit"]) == "200" for call in calls)


def test_a_workspace_of_more_pages_than_a_minute_allows_is_read_to_the_end(fake_slack, monkeypatch):
    # users.list is Tier 2: here 3 calls a minute. Each 429 between pages is waited out (Retry-After) and
    # the read goes on from where it stopped, rather than failing and starting again at the first page.
    clock = [0.0]
    fake_slack.enforce_rate_limits({"users.list": 3}, clock=lambda: clock[0])
    monkeypatch.setattr(slack_directory.time, "sleep", lambda seconds: clock.__setitem__(0, clock[0] + seconds))
    for number in range(1100):
        fake_slack.add_user(f"U_MANY{number:04d}", f"person{number:04d}")

    directory = slack_directory.directory_refresh(background_client())

    assert len(directory.people) == 1105
    answered = [call for call in fake_slack.calls("users.list") if call.status == 200]
    assert len(answered) == 6  # each page once
    assert clock[0] >= 60  # it waited as Slack said


def test_it_is_served_from_the_cache(directory, fake_slack):
    fake_slack.clear_calls()
    assert slack_directory.directory_cached() == directory
    assert slack_directory.directory_current() == directory
    assert people_matching("alice")[0].id == "U_ALICE"
    assert fake_slack.calls() == []


def test_a_stale_directory_is_served_and_refreshed_in_the_background(directory, fake_slack):
    fake_slack.add_user("U_NEW", "nina", real_name="Nina New")
    later = directory.fetched_at + slack_directory.FRESH_SECONDS + 1
    refreshed = slack_directory.directory_current(now=later)  # the immediate task backend refreshes at once
    assert refreshed.person("U_NEW") is not None


def test_a_transient_fault_raises_and_keeps_the_old_directory(directory, fake_slack):
    fake_slack.fail("users.list", "ratelimited")
    with pytest.raises(SlackApiError):
        slack_directory.directory_refresh(in_request_client())
    assert slack_directory.directory_cached() == directory
    assert slack_directory.directory_error_cached() is None


def test_a_permanent_fault_is_remembered_for_the_console(directory, fake_slack):
    fake_slack.fail("conversations.list", "missing_scope")
    assert slack_directory.directory_refresh(background_client()) is None
    assert slack_directory.directory_error_cached() == "missing_scope"
    assert slack_directory.directory_cached() == directory  # the last good one stays
    slack_directory.directory_refresh(background_client())
    assert slack_directory.directory_error_cached() is None


def test_the_task_refreshes_the_directory(fake_slack):
    from approvals.tasks import refresh_slack_directory

    refresh_slack_directory.enqueue()
    assert slack_directory.directory_cached().person("U_BOB").real_name == "Bob Brown"


def test_people_match_on_handle_real_name_display_name_and_email_ignoring_case(directory):
    assert [p.id for p in people_matching("ALICE")] == ["U_ALICE"]
    assert [p.id for p in people_matching("@bob")] == ["U_BOB"]
    assert [p.id for p in people_matching("chen")] == ["U_CAROL"]
    assert [p.id for p in people_matching("dave@EXAMPLE.com")] == ["U_DAVE"]
    assert {p.id for p in people_matching("example.com")} == {"U_ALICE", "U_BOB", "U_CAROL", "U_DAVE", "U_HR"}
    assert people_matching("") == [] and people_matching("  @ ") == []


def test_best_matches_come_first():
    directory = Directory(people=(
        Person("U1", "annabel", "Annabel Smith"),
        Person("U2", "jo", "Jo Ann"),
        Person("U3", "ann", "Ann Lee"),
        Person("U4", "joanne", "Joanne Park"),
    ))
    assert [p.id for p in people_matching("ann", directory=directory)] == ["U3", "U1", "U2", "U4"]
    assert len(people_matching("a", directory=directory, limit=2)) == 2


def test_channels_match_with_or_without_the_hash(directory):
    assert [c.id for c in channels_matching("#eng-")] == ["C_ENG_APPROVALS", "C_ENG_LEADS"]
    assert [c.id for c in channels_matching("GENERAL")] == ["C_GENERAL"]
    assert channels_matching("old-team") == []  # archived


def test_user_groups_match_by_handle(directory):
    assert [g.id for g in usergroups_matching("@eng")] == ["S_ENG"]
    assert usergroups_matching("nope") == []


def test_nothing_matches_before_the_directory_is_read(fake_slack):
    assert people_matching("alice") == []
    assert channels_matching("general") == []


def test_an_exact_email_is_looked_up(fake_slack):
    person = slack_directory.person_by_email(in_request_client(), "hannah@example.com")
    assert (person.id, person.label) == ("U_HR", "Hannah Hill")
    assert slack_directory.person_by_email(in_request_client(), "nobody@example.com") is None
    assert slack_directory.person_by_email(in_request_client(), "not an email") is None


def test_an_email_lookup_that_fails_raises_rather_than_saying_nobody(fake_slack):
    fake_slack.fail("users.lookupByEmail", "ratelimited")
    with pytest.raises(SlackApiError):
        slack_directory.person_by_email(in_request_client(), "hannah@example.com")


def test_initials_cope_with_odd_names():
    assert Person("U1", "x", "").initials == "X"
    assert Person("U1", "", "", "").initials == "?"
    assert Person("U1", "j.doe", "").initials == "JD"
    assert Person("U1", "z", "Émile Zola Jr").initials == "ÉZ"


# --- From what HR typed to an id ------------------------------------------------------


def test_a_person_is_named_by_email_handle_display_or_real_name(directory):
    for typed in ("alice@example.com", "ALICE@Example.com", "@alice", "alice", "Alice Adams", " alice adams "):
        assert person_resolve(typed).id == "U_ALICE", typed


def test_a_user_id_or_mention_still_works(directory):
    assert person_resolve("U_BOB").label == "Bob Brown"
    assert person_resolve("<@U_BOB>").id == "U_BOB"
    assert person_resolve("U_SOMEONE_NEW").id == "U_SOMEONE_NEW"  # not listed yet: kept as typed


def test_an_unknown_name_says_so_and_suggests(directory):
    with pytest.raises(NotResolved, match=r"No one in this Slack workspace is called ali\. Did you mean alice@example\.com\?"):
        person_resolve("ali")
    with pytest.raises(NotResolved, match="Type a name"):
        person_resolve("@")


def test_two_people_with_one_name_must_be_told_apart(fake_slack):
    fake_slack.add_user("U_ALICE2", "alice.b", email="alice.b@example.com", real_name="Alice Adams")
    slack_directory.directory_refresh(background_client())
    with pytest.raises(NotResolved, match="Several people are called Alice Adams.*alice.b@example.com"):
        person_resolve("Alice Adams")
    assert person_resolve("alice.b@example.com").id == "U_ALICE2"


def test_an_email_the_cache_does_not_know_is_asked_of_slack(directory, fake_slack):
    fake_slack.add_user("U_NEW", "nina", email="nina@example.com", real_name="Nina New")
    with pytest.raises(NotResolved, match="No one in this Slack workspace has the email address nina@example.com"):
        person_resolve("nina@example.com")
    assert person_resolve("nina@example.com", client=in_request_client()).id == "U_NEW"


def test_a_channel_is_named_with_or_without_its_hash(directory):
    assert channel_resolve("#engineering").id == "C_ENG"
    assert channel_resolve("Engineering").id == "C_ENG"
    assert channel_resolve("C_ENG_LEADS").label == "#eng-leads"
    assert channel_resolve("<#C_GENERAL|general>").id == "C_GENERAL"


def test_a_channel_the_bot_cannot_see_says_how_to_fix_it(directory):
    with pytest.raises(NotResolved, match=r"No channel #secret-plans .*invited"):
        channel_resolve("#secret-plans")
    with pytest.raises(NotResolved, match=r"archived.*Did you mean #eng-approvals, #eng-leads, #engineering\?"):
        channel_resolve("#eng")


def test_a_user_group_is_named_by_handle(directory):
    assert usergroup_resolve("@eng").id == "S_ENG"
    assert usergroup_resolve("eng").id == "S_ENG"
    assert usergroup_resolve("S_ENG").label == "@eng"
    assert usergroup_resolve("<!subteam^S_ENG|@eng>").id == "S_ENG"
    with pytest.raises(NotResolved, match=r"No user group @design"):
        usergroup_resolve("@design")


def test_names_wait_for_the_directory_but_ids_and_emails_do_not(fake_slack):
    with pytest.raises(NotResolved, match="still loading"):
        person_resolve("alice")
    with pytest.raises(NotResolved, match="still loading"):
        channel_resolve("#general")
    with pytest.raises(NotResolved, match="still loading"):
        usergroup_resolve("@eng")
    assert person_resolve("U_ALICE").id == "U_ALICE"
    assert person_resolve("alice@example.com", client=in_request_client()).id == "U_ALICE"


def test_names_that_look_like_ids_are_names_when_someone_has_them(fake_slack):
    fake_slack.add_user("U_WALT", "WALTER", real_name="Walter White")
    fake_slack.add_channel("C_CAREERS", "CAREERS")
    slack_directory.directory_refresh(background_client())
    assert person_resolve("WALTER").id == "U_WALT"
    assert channel_resolve("CAREERS").id == "C_CAREERS"
    assert person_resolve("U_ALICE").id == "U_ALICE"
