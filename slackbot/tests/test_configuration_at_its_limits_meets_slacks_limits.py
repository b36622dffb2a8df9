"""Configuration HR may enter, at the most its checks accept, against Slack's limits, through the real endpoints.

Each configuration here goes through the file's own check first (`accepted`: what `import_config` and the
console accept), then the flows people use every day: signed requests against the fake Slack, which refuses
what Slack refuses (Block Kit through slack-sdk's models, 40,000 characters of a message's text,
`view_too_large` past 250 kB of a view).

What the checks bound: a name is 100 characters, an emoji code 50, a code 50, a reason 200, a Slack id 32.
What they do not bound: how many teams, approvers, fallback approvers, and how many teams share one channel. `test_longest_text_limits.py` (the longest type name in `/timeoff list` and `balance`, 120 types
in the form) and `test_slack_platform_facts_hold.py` (App Home of 120 types, an approver's 60 pending, the
longest type and note in the request message) are not repeated.

A failure here is a person left without an answer, or told nothing at all, by a configuration that was
accepted. The number of leave types is bounded (config_fields.LEAVE_TYPES_MAX: the form's menu offers them all).
"""

import json
import re
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from approvals import block_ids as ids
from approvals.block_kit import escape
from approvals.config_fields import LEAVE_TYPES_MAX
from approvals.config_file import ConfigError, config_to_dict, parse_config
from approvals.config_types import ApproverSource, LeaveTypeConfig, MemberSource, WorkspaceConfig
from approvals.rules import APPROVED, PENDING, LedgerEntry
from approvals.selectors import local_today
from fake_slack.ledger_seed import seed_ledger
from fake_slack.personas import C_ENG, C_ENG_APPROVALS, C_ENG_LEADS, C_GENERAL, C_OLD_APPROVALS, DAVE
from fake_slack.server import MAX_BLOCKS_TEXT, MAX_MESSAGE_BLOCKS, MAX_TEXT, MAX_VIEW_BLOCKS, blocks_text_length
from test_support.flows import (
    ALICE,
    BOB,
    ENGINEERING,
    HR,
    MEDICAL,
    SICK,
    VACATION,
    buttons_in,
    dms_to,
    install_config,
    open_app_home,
    open_request_form,
    posted_requests,
    reject_in_the_channel,
    request_status,
    request_time_off,
    standard_config,
)
from test_support.home_views import waiting_count
from test_support.job_runs import post_entry, run_jobs
from test_support.slack_requests import (
    event_envelope,
    post_command,
    post_event,
    post_interaction,
    view_block_actions_payload,
    view_submission_payload,
)

pytestmark = pytest.mark.django_db

# The most the checks accept of each piece of text (approvals/config_fields.py), `&` being the character that
# grows most once escaped for mrkdwn (five characters).
LONGEST_NAME = 100
LONGEST_CODE = 50
LONGEST_ID = 32
HEAVY_TYPE = replace(VACATION, name="&" * LONGEST_NAME, emoji=":" + "e" * 48 + ":")
SENDING = ("chat.postMessage", "chat.update", "chat.postEphemeral", "views.open", "views.update", "views.publish")


def accepted(config: WorkspaceConfig) -> WorkspaceConfig:
    """The configuration as the configuration file (import_config, the console's upload) reads it: proof that
    HR can enter it, and what the app then runs on."""
    return parse_config(config_to_dict(config))


def heavy_name(number: int) -> str:
    """A name of its own, as long and as heavy to escape as the longest one (names must differ)."""
    return f"{number:03d}" + "&" * (LONGEST_NAME - 3)


def long_id(prefix: str, number: int) -> str:
    """A Slack id of the longest length the configuration accepts."""
    return f"{prefix}{number:03d}".ljust(LONGEST_ID, "X")


def refused(fake_slack) -> list:
    return [(c.method, c.response.get("error")) for c in fake_slack.calls() if c.method in SENDING
            and not c.response.get("ok")]


def dm_calls(fake_slack, user: str) -> list:
    return [c for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == user]


def as_view(view) -> dict:
    return json.loads(view) if isinstance(view, str) else view


@pytest.fixture(autouse=True)
def exports_elsewhere(settings, tmp_path):
    """The daily ledger watch writes the nightly export: into the test's own folder, not the project's."""
    settings.LEDGER_EXPORT_DIR = tmp_path / "exports"


# --- The approvals message, the receipt and the reject form: 60 approvers of the longest ids -----------------


SIXTY_APPROVERS = tuple(long_id("U", n) for n in range(60))
SIXTY_HR = tuple(long_id("W", n) for n in range(60))


def named_and_counted(text: str) -> tuple[set[str], int]:
    """The people a text mentions, and the number its "and N more" counts besides."""
    more = re.search(r" and (\d+) more", text)
    return set(re.findall(r"<@([UW][A-Z0-9_]+)>", text)), int(more.group(1)) if more else 0


def test_a_request_to_sixty_approvers_of_the_longest_ids_is_posted_decided_and_told(client, fake_slack):
    """Sixty approvers HR listed by name (each id 32 characters), the team's approvers channel besides, sixty
    fallback approvers; the longest team name and type label, the longest note. The request reaches the
    channel with every approver named or counted, and the last of them rejects it through the reject form
    with the longest reason: every message, update and form along the way is one Slack takes."""
    for user in SIXTY_APPROVERS + SIXTY_HR:
        fake_slack.workspace.add_user(user, user.lower()[:21])
    team = replace(ENGINEERING, name="&" * LONGEST_NAME,
                   approvers=ApproverSource(users=SIXTY_APPROVERS, channel=C_ENG_LEADS))
    install_config(accepted(standard_config(teams=(team,), leave_types=(HEAVY_TYPE, SICK, MEDICAL),
                                            fallback_approvers=SIXTY_HR)))

    request_time_off(client, fake_slack, ALICE, note="&" * 500)

    [posted] = posted_requests(fake_slack)
    assert posted.response["ok"] is True, posted.response
    blocks = posted.params["blocks"]
    assert len(posted.params["text"]) <= 4000  # chat.update rewrites it under 4,000 when it is decided
    assert len(blocks) <= MAX_MESSAGE_BLOCKS and blocks_text_length(blocks) <= MAX_BLOCKS_TEXT
    [approvers_line] = [b["elements"][0]["text"] for b in blocks
                        if b["type"] == "context" and b["elements"][0]["text"].startswith("Approvers: ")]
    named, more = named_and_counted(approvers_line)
    assert named <= {*SIXTY_APPROVERS, BOB, DAVE} and len(named) + more == 62, approvers_line
    assert {ids.APPROVE_ACTION, ids.REJECT_ACTION} <= set(buttons_in(blocks))
    assert [c for c in dm_calls(fake_slack, ALICE) if c.response["ok"] and "is with" in c.params["text"]]

    reject_in_the_channel(client, fake_slack, SIXTY_APPROVERS[-1], posted, "&<>" * 166 + "&&")

    form = as_view(fake_slack.last_call("views.open").params["view"])
    assert all(len(form[name]["text"]) <= 24 for name in ("title", "submit", "close"))
    assert len(form["private_metadata"]) <= 3000
    assert refused(fake_slack) == []
    status = request_status(fake_slack)
    assert status["status"] == "rejected" and status["decided_by"] == SIXTY_APPROVERS[-1]
    assert [text for text in dms_to(fake_slack, ALICE) if "rejected your" in text]


# --- Many leave types: what /timeoff answers --------------------------------------------------------------------


def many_long_types(count: int, letter: str = "n") -> tuple[LeaveTypeConfig, ...]:
    """`count` leave types, each of the longest code and name (each name its own, as the checks require)."""
    return tuple(LeaveTypeConfig(code=f"t{n:04d}".ljust(LONGEST_CODE, "x"),
                                 name=f"{n:04d} ".ljust(LONGEST_NAME, letter), annual_allowance_days=Decimal(10))
                 for n in range(count))


@pytest.mark.parametrize("words", ["help", "balance", "list", "who"])
def test_with_the_most_leave_types_the_everyday_commands_answer_within_slacks_limits(client, fake_slack, words):
    install_config(accepted(standard_config(leave_types=many_long_types(LEAVE_TYPES_MAX))))

    response = post_command(client, words, user_id=ALICE)  # holds the answer to what Slack shows

    assert response.status_code == 200
    assert refused(fake_slack) == []


@pytest.mark.parametrize(("who", "words"), [(ALICE, "vacaton"), (HR, f"for <@{ALICE}|alice> vacaton")],
                         ids=["an-employee", "hr-for-someone"])
def test_a_word_the_command_does_not_know_is_answered_with_the_most_leave_types(client, fake_slack, who, words):
    # A word /timeoff does not know is answered with the leave types' codes: the first 30 of them and how many
    # more, not all (800 types of 50-character codes once made 44,000 characters, past what Slack shows).
    install_config(accepted(standard_config(leave_types=many_long_types(LEAVE_TYPES_MAX))))

    response = post_command(client, words, user_id=who)  # asserts Slack would show the answer

    assert response.status_code == 200
    text = response.json()["text"]
    assert "vacaton" in text and f"and {LEAVE_TYPES_MAX - 30} more" in text, text


def test_the_request_form_opens_with_the_most_leave_types_of_the_heaviest_names(client, fake_slack):
    # The form's menu holds every leave type, and Slack refuses a view over 250 kB (view_too_large). With as
    # many types as the checks allow, of the longest codes and of names written in letters that are sent
    # escaped, the form still opens.
    install_config(accepted(standard_config(leave_types=many_long_types(LEAVE_TYPES_MAX, letter="名"))))

    response = post_command(client, "", user_id=ALICE)

    assert response.status_code == 200
    opened = fake_slack.last_call("views.open")
    assert opened is not None and opened.response["ok"] is True, opened and opened.response.get("error")
    assert response.content == b""


def test_a_file_with_more_leave_types_than_a_form_can_offer_is_refused_naming_the_limit():
    with pytest.raises(ConfigError) as refused_file:
        accepted(standard_config(leave_types=many_long_types(LEAVE_TYPES_MAX + 1)))
    assert f"leave_types: at most {LEAVE_TYPES_MAX} leave types, not {LEAVE_TYPES_MAX + 1}" in str(refused_file.value)


def test_two_leave_types_the_checks_accept_read_alike_in_the_forms_menu(client, fake_slack):
    # A name may have 100 characters, and two types may not share one; but a menu option shows 75. These two
    # differ only past the 75th character: the menu must still tell them apart (modals.leave_type_option ends a
    # cut label with the type's code), or the person cannot tell which they ask for.
    first = LeaveTypeConfig(code="parental_first", name="Parental leave for the birth parent, statutory part paid in "
                                                         "full by the company: weeks 1 to 12")
    second = LeaveTypeConfig(code="parental_second", name="Parental leave for the birth parent, statutory part paid "
                                                          "in full by the company: weeks 13 to 26")
    assert max(len(first.name), len(second.name)) <= LONGEST_NAME
    install_config(accepted(standard_config(leave_types=(VACATION, first, second))))

    view = open_request_form(client, fake_slack, ALICE)

    [select] = [b["element"] for b in view["blocks"] if b.get("block_id") == ids.TYPE_BLOCK]
    shown = [option["text"]["text"] for option in select["options"]]
    assert len(set(shown)) == len(shown), shown


# --- Removed teams: HR's App Home and HR's daily word about their waiting requests -------------------------------


WATCH = datetime(2031, 3, 10, 2, 30, tzinfo=timezone.utc)  # the daily ledger watch: after 02:00 UTC


def removed_teams_request(team: str, number: int, user: str, leave_type: str = "vacation") -> LedgerEntry:
    start = date(2031, 4, 1) + timedelta(days=number % 20)
    return LedgerEntry(id=f"{team[:3]}-{number:03d}", user=user, team=team, leave_type=leave_type, start=start,
                       end=start + timedelta(days=1), start_half=None, end_half=None, days=Decimal(2), status=PENDING)


def test_hrs_app_home_with_the_requests_of_twenty_removed_teams_fits_and_hr_rejects_from_it(client, fake_slack):
    """Twenty teams removed since, each with requests still pending (the longest names, a private type and a
    type no longer configured among them): HR's App Home lists them within a view's limits, and HR rejects one
    from there through the reject form."""
    install_config(accepted(standard_config(leave_types=(HEAVY_TYPE, SICK, MEDICAL))))
    for n in range(60):
        fake_slack.workspace.add_user(long_id("U", n), f"person{n:03d}")
    entries = [removed_teams_request(heavy_name(team), team * 3 + n, long_id("U", team * 3 + n),
                                     ("vacation", "medical", "retired")[n])
               for team in range(20) for n in range(3)]
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, entries=entries)

    open_app_home(client, fake_slack, HR, "Ev_HR_HOME_1")
    home = open_app_home(client, fake_slack, HR, "Ev_HR_HOME_2")  # once the ledger is read

    assert waiting_count(home) == 60
    assert len(home["blocks"]) <= MAX_VIEW_BLOCKS
    block_id, value = buttons_in(home["blocks"])[ids.REJECT_ACTION]
    assert post_interaction(client, view_block_actions_payload(user_id=HR, action_id=ids.REJECT_ACTION, value=value,
                                                               block_id=block_id, view=home)).status_code == 200
    form = as_view(fake_slack.last_call("views.open").params["view"])
    assert form["callback_id"] == ids.REJECT_MODAL and len(form["private_metadata"]) <= 3000
    values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": "&" * 500}}}
    response = post_interaction(client, view_submission_payload(user_id=HR, view=form, values=values,
                                                                view_id="V_REJECT_HOME"))
    assert response.status_code == 200 and response.content == b"", response.content
    rejected = json.loads(value)["id"]
    [message] = [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
                 if m.metadata and m.metadata["event_payload"].get("id") == rejected]
    assert message.metadata["event_payload"]["status"] == "rejected"
    assert refused(fake_slack) == []


@pytest.mark.parametrize("teams,per_team,name,user,leave_types", [
    (2, 60, heavy_name, lambda n: long_id("U", n), (HEAVY_TYPE, SICK)),
    (6, 51, lambda t: f"Regional sales team {t}", lambda n: f"U{n:010d}", (VACATION, SICK)),
], ids=["two-of-the-longest-names", "six-of-everyday-names"])
def test_hr_hears_of_the_waiting_requests_of_removed_teams(fake_slack, teams, per_team, name, user, leave_types):
    # HR's daily word about removed teams' requests waiting two days (job_services._removed_teams_nudge) is one
    # DM: each team's list is bounded (50 lines), their number is not. Two removed teams of the longest names
    # once made 73,000 characters, and six teams of everyday names with fifty waiting each 50,000 (a
    # reorganisation removes several teams at once): Slack refused the DM and HR never heard of any of them.
    # The DM holds the teams' lists that fit, and names the teams left out.
    install_config(accepted(standard_config(leave_types=leave_types)))
    names = [name(team) for team in range(teams)]
    for team, team_name in enumerate(names):
        for n in range(per_team):
            record = removed_teams_request(team_name, n, user(team * per_team + n))
            post_entry(fake_slack, replace(record, id=f"removed-{team}-{n}"),
                       ts=f"{(WATCH - timedelta(hours=72 + n, minutes=team)).timestamp():.6f}")

    run_jobs(WATCH)

    told = dm_calls(fake_slack, HR)
    assert told and all(c.response["ok"] for c in told), [c.response.get("error") for c in told]
    said = "\n".join(c.params["text"] for c in told)
    assert all(escape(team_name) in said for team_name in names)


# --- Many teams sharing one channel: what HR is told when it changes ------------------------------------------------


def ninety_teams_sharing_channels() -> WorkspaceConfig:
    """Ninety teams of the longest names, all approved through #eng-leads and announced in #general (the
    company's managers' channel and its one announcements channel). Alice is in the first, whose requests go
    to #eng-approvals; the others' go to one channel of their own (ninety approvals channels would only make
    every ledger read slower: the app paces its history reads)."""
    teams = []
    for n in range(90):
        channel = C_ENG_APPROVALS if n == 0 else C_OLD_APPROVALS
        teams.append(replace(ENGINEERING, name=heavy_name(n), approvals_channel=channel, announce_channel=C_GENERAL,
                             members=MemberSource(channel=C_ENG) if n == 0 else MemberSource(users=(long_id("U", n),)),
                             approvers=ApproverSource(channel=C_ENG_LEADS)))
    return accepted(standard_config(teams=tuple(teams)))


def test_hr_hears_when_the_last_approver_leaves_the_approvers_channel_ninety_teams_share(client, fake_slack):
    # When the last approver leaves a team's approvers channel, HR is told which requests now wait on them
    # (people_services.approver_left_flag). The DM names the teams approved through that channel: all ninety
    # of the longest names once made 45,000 characters, and Slack refused it. It names the first twenty.
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG_LEADS].members.discard(DAVE)  # Bob is its last approver
    install_config(ninety_teams_sharing_channels())
    request_time_off(client, fake_slack, ALICE)
    assert [c for c in posted_requests(fake_slack) if c.response["ok"]]
    fake_slack.clear_calls()

    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG_LEADS].members.discard(BOB)
    post_event(client, event_envelope({"type": "member_left_channel", "user": BOB, "channel": C_ENG_LEADS,
                                       "channel_type": "G", "team": "T_ACME"}, event_id="Ev_BOB_LEFT_LEADS"))

    told = dm_calls(fake_slack, HR)
    assert told and all(c.response["ok"] for c in told), [c.response.get("error") for c in told]
    assert [c for c in told if f"left <#{C_ENG_LEADS}>" in c.params["text"] and "now wait on you" in c.params["text"]]


def test_hr_hears_when_the_announce_channel_ninety_teams_share_is_archived(client, fake_slack):
    # When a channel the configuration uses is archived, HR is told what it was used for
    # (messages.channel_lost_text). #general announcing for ninety teams of the longest names once made 46,000
    # characters, and Slack refused the DM. It lists the first twenty uses and says the Setup page has them all.
    install_config(ninety_teams_sharing_channels())

    response = post_event(client, event_envelope({"type": "channel_archive", "channel": C_GENERAL, "user": "U_ADMIN",
                                                  "event_ts": "1766000000.000500"}, event_id="Ev_GENERAL_ARCHIVED"))

    assert response.status_code == 200
    told = dm_calls(fake_slack, HR)
    assert told and all(c.response["ok"] for c in told), [c.response.get("error") for c in told]
    assert [c for c in told if f"<#{C_GENERAL}> was archived" in c.params["text"]]


# --- Who's out: HR asks about a team of seventy away; a channel of the longest id ------------------------------------


def test_hr_asks_who_is_out_in_a_team_of_seventy_away_with_the_longest_names(client, fake_slack):
    """HR (in no team) asks `/timeoff who <team>` by the longest, heaviest name: seventy people away this week
    with the longest type label. The answer, at once or by DM, is one Slack shows, naming or counting all."""
    team = replace(ENGINEERING, name="&" * LONGEST_NAME)
    install_config(accepted(standard_config(teams=(team,), leave_types=(HEAVY_TYPE, SICK, MEDICAL))))
    today = local_today(team.timezone)
    for n in range(70):
        post_entry(fake_slack, LedgerEntry(id=f"away-{n:03d}", user=long_id("U", n), team=team.name,
                                           leave_type="vacation", start=today - timedelta(days=1),
                                           end=today + timedelta(days=9), start_half=None, end_half=None,
                                           days=Decimal(8), status=APPROVED))

    # Slack sends a command's `&` as `&amp;`
    response = post_command(client, "who " + escape(team.name), user_id=HR)  # holds the answer to Slack's limits

    assert response.status_code == 200
    assert refused(fake_slack) == []
    answers = [response.json()] + [c.params for c in dm_calls(fake_slack, HR)]
    answer = answers[-1]
    assert answer.get("blocks"), answers
    assert len(answer["text"]) <= MAX_TEXT and blocks_text_length(answer["blocks"]) <= MAX_BLOCKS_TEXT
    shown = "\n".join(b["text"]["text"] for b in answer["blocks"] if b["type"] == "section")
    more = re.search(r"…and (\d+) more", shown)
    assert shown.count("• <@") + (int(more.group(1)) if more else 0) == 70


def test_who_is_out_by_a_channel_whose_id_the_configuration_accepts(client, fake_slack):
    # The configuration takes a channel id of up to 32 characters (config_fields.CHANNEL), and so must
    # `/timeoff who #channel` (team_out_command.CHANNEL_REFERENCE read 31 at most: the team was "no team").
    channel = long_id("C", 1)
    fake_slack.workspace.add_channel(channel, "x" * 80, members=[ALICE, BOB, DAVE])  # Slack's longest channel name
    install_config(accepted(standard_config(teams=(replace(ENGINEERING, announce_channel=channel),))))

    response = post_command(client, f"who <#{channel}|{'x' * 80}>", user_id=ALICE)

    assert response.status_code == 200
    assert "No team is called" not in response.json()["text"], response.json()["text"]
