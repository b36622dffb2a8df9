"""`/timeoff who [team]`: who in my team (or the team named) is out today and in the next 7 days, end to end against the fake Slack.

Warm: answered from the cache (the team's slices), with no Slack call. Cold: a
task reads Slack and DMs the answer. Private types show as "away"; pending
requests are not "out".
"""

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from approvals import directory
from approvals.config_store import current_config
from approvals.ledger_format import request_metadata
from approvals.ledger_reader import read_ledger
from approvals.config_types import ApproverSource, MemberSource, TeamConfig
from approvals.rules import LedgerEntry
from approvals.selectors import local_today
from approvals.slack_clients import background_client
from approvals.team_out_services import CHECKING_TEXT
from fake_slack.personas import C_ENG, C_ENG_APPROVALS, CAROL, HR
from test_support.flows import ALICE, BOB, DAVE, ENGINEERING, dms_to, install_config, standard_config
from test_support.slack_requests import post_command

pytestmark = pytest.mark.django_db

LA = "America/Los_Angeles"  # the team's time zone (test_support.flows.ENGINEERING): its today counts


def seed(fake_slack, user: str, leave_type: str, status: str, *, starts_in: int = 0, days: int = 6) -> None:
    start = local_today(LA) + timedelta(days=starts_in)
    entry = LedgerEntry(id=f"{user}-{leave_type}", user=user, team="Engineering", leave_type=leave_type,
                        start=start, end=start + timedelta(days=days), start_half=None, end_half=None,
                        days=Decimal(5), status=status, decided_by=BOB if status == "approved" else None)
    fake_slack.workspace.post_message(C_ENG_APPROVALS, f"<@{user}> requests time off",
                                      metadata=request_metadata(entry))


@pytest.fixture
def team_out(fake_slack):
    install_config()
    seed(fake_slack, ALICE, "vacation", "approved")
    seed(fake_slack, DAVE, "sick", "approved")  # a private type
    seed(fake_slack, BOB, "vacation", "pending")  # asked for, not out
    seed(fake_slack, BOB, "medical", "approved", starts_in=20)  # out, but not this week


def who(client, user: str, text: str = "who") -> dict:
    response = post_command(client, text, user_id=user)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["response_type"] == "ephemeral"
    return body


def test_a_warm_cache_answers_at_once_without_calling_slack(client, fake_slack, team_out):
    read_ledger(background_client(), current_config())
    directory.fetch_channel_members(background_client(), C_ENG)
    fake_slack.clear_calls()

    body = who(client, ALICE)

    assert fake_slack.calls() == []
    shown = body["text"] + str(body["blocks"])
    assert "Who's out" in body["text"] and "(Engineering)" in str(body["blocks"])
    assert f"<@{ALICE}>: :palm_tree: Vacation" in shown
    assert f"<@{DAVE}>: :calendar: away" in shown and "Sick" not in shown  # private: no type
    assert f"<@{BOB}>" not in shown  # pending now; out only in three weeks


def test_a_cold_cache_answers_by_dm(client, fake_slack, team_out):
    body = who(client, DAVE)

    assert body["text"] == CHECKING_TEXT
    [dm] = dms_to(fake_slack, DAVE)
    assert "Who's out" in dm and f"<@{ALICE}>" in dm and f"<@{BOB}>" not in dm


def test_someone_in_no_team_is_told_so(client, fake_slack, team_out):
    directory.fetch_channel_members(background_client(), C_ENG)  # Carol is known to be in no team's channel

    assert who(client, CAROL)["text"].startswith("No team is configured for you")


def test_nobody_out_says_so(client, fake_slack):
    install_config()
    read_ledger(background_client(), current_config())
    directory.fetch_channel_members(background_client(), C_ENG)

    assert "Nobody in Engineering is out" in who(client, ALICE)["text"]


# --- Another team: `/timeoff who <team>` ----------------------------------------------------------

DESIGN = TeamConfig(name="Design & Research", members=MemberSource(channel="C_DESIGN"),
                    approvers=ApproverSource(users=(HR,)), approvals_channel="C_DESIGN_APPROVALS",
                    announce_channel="C_DESIGN_NEWS", timezone="Europe/Paris")


@pytest.fixture
def two_teams(fake_slack, team_out):
    fake_slack.workspace.add_channel("C_DESIGN", "design", members=[CAROL])
    fake_slack.workspace.add_channel("C_DESIGN_NEWS", "design-news", members=[CAROL])
    fake_slack.workspace.add_channel("C_DESIGN_APPROVALS", "design-approvals", private=True)
    install_config(standard_config(teams=(ENGINEERING, DESIGN)))
    start = local_today("Europe/Paris")
    entry = LedgerEntry(id="carol-1", user=CAROL, team=DESIGN.name, leave_type="vacation", start=start,
                        end=start + timedelta(days=2), start_half=None, end_half=None, days=Decimal(3),
                        status="approved", decided_by=HR)
    fake_slack.workspace.post_message("C_DESIGN_APPROVALS", f"<@{CAROL}> requests time off",
                                      metadata=request_metadata(entry))


@pytest.mark.parametrize("words", ["Design & Research", "design &amp; research", "DESIGN & RESEARCH",
                                   "<#C_DESIGN_NEWS|design-news>", "<#C_DESIGN>"])
def test_another_team_by_its_name_or_channel(client, fake_slack, two_teams, words):
    # Slack sends `&` as `&amp;` in a command's text; a channel typed as #design-news comes as <#C…|name>.
    read_ledger(background_client(), current_config())
    fake_slack.clear_calls()

    body = who(client, ALICE, f"who {words}")

    shown = body["text"] + str(body["blocks"])
    assert "(Design &amp; Research)" in shown and f"<@{CAROL}>: :palm_tree: Vacation" in shown
    assert f"<@{ALICE}>" not in shown  # Engineering's leave is not Design's
    assert fake_slack.calls() == []  # from the cache: nobody's team needed asking


def test_another_team_with_a_cold_cache_comes_by_dm(client, fake_slack, two_teams):
    body = who(client, ALICE, "who design & research")

    assert body["text"] == CHECKING_TEXT
    [dm] = dms_to(fake_slack, ALICE)
    assert "Design &amp; Research" in dm and f"<@{CAROL}>" in dm and f"<@{DAVE}>" not in dm


def test_a_name_that_is_no_team_lists_the_teams_and_is_escaped(client, fake_slack, two_teams):
    text = who(client, ALICE, "who <!channel> marketing")["text"]

    assert text.startswith("No team is called “&lt;!channel&gt; marketing”.")
    assert "*Engineering*, *Design &amp; Research*" in text and "<!channel>" not in text
    assert fake_slack.calls("chat.postMessage") == []


def home_of(client, fake_slack, user: str, event_id: str) -> str:
    from test_support.slack_requests import event_envelope, post_event

    post_event(client, event_envelope({"type": "app_home_opened", "user": user, "channel": "D_HOME", "tab": "home",
                                       "event_ts": "1766000000.000300"}, event_id=event_id))
    [call] = [c for c in fake_slack.calls("views.publish") if c.params["user_id"] == user][-1:]
    return str(call.params["view"])


def test_app_home_shows_who_in_my_team_is_out_this_week(client, fake_slack, team_out):
    shown = home_of(client, fake_slack, ALICE, "Ev_HOME_WEEK")

    assert "Who's out" in shown and "(Engineering)" in shown
    week = shown[shown.index("Who's out"):]  # above it, Alice's own balances name every type
    assert f"<@{DAVE}>: :calendar: away" in week and "Sick" not in week  # private: no type
    assert f"<@{ALICE}>: :palm_tree: Vacation" in week
    assert f"<@{BOB}>" not in week  # pending now; out only in three weeks


def test_app_home_of_someone_in_no_team_has_no_week(client, fake_slack, team_out):
    shown = home_of(client, fake_slack, CAROL, "Ev_HOME_NOTEAM")
    assert "Who's out" not in shown and "No team is configured for you" in shown


def test_app_home_of_a_team_with_many_out_stays_within_its_blocks(client, fake_slack, team_out):
    for number in range(300):
        user = f"U_OUT{number:04d}"
        fake_slack.workspace.add_user(user, user.lower(), real_name=user)
        seed(fake_slack, user, "vacation", "approved")
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG].members.update(f"U_OUT{number:04d}" for number in range(300))

    shown = home_of(client, fake_slack, ALICE, "Ev_HOME_MANY")

    week = shown[shown.index("Who's out"):]
    assert "more." in week  # those that did not fit are counted
    [call] = [c for c in fake_slack.calls("views.publish") if c.params["user_id"] == ALICE][-1:]
    assert len(call.params["view"]["blocks"]) <= 100


# --- A team's earlier name ------------------------------------------------------------------------


@pytest.mark.parametrize("words", ["Design & Research", "design &amp; research"])
def test_a_teams_earlier_name_finds_the_team(client, fake_slack, two_teams, words):
    # HR renamed Design & Research; people keep asking by the old name. Carol's leave was recorded under it.
    install_config(standard_config(teams=(ENGINEERING, replace(DESIGN, name="Studio",
                                                               past_names=("Design & Research",)))))
    read_ledger(background_client(), current_config())
    fake_slack.clear_calls()

    body = who(client, ALICE, f"who {words}")

    shown = body["text"] + str(body["blocks"])
    assert "(Studio)" in shown and f"<@{CAROL}>: :palm_tree: Vacation" in shown
    assert fake_slack.calls() == []


def test_a_name_several_teams_had_before_asks_which_and_a_name_in_use_wins(client, fake_slack, two_teams):
    install_config(standard_config(teams=(replace(ENGINEERING, past_names=("Core", "Studio")),
                                          replace(DESIGN, name="Studio", past_names=("Core",)))))

    text = who(client, ALICE, "who core")["text"]

    assert text == ("No team is called “core” now; *Engineering* and *Studio* were called so before. "
                    "Ask for one of them: `/timeoff who Engineering`, say.")
    read_ledger(background_client(), current_config())
    assert "(Studio)" in str(who(client, ALICE, "who studio")["blocks"])  # Engineering's earlier name, Studio's now
