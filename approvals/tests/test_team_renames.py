"""Renaming a team keeps its leave: a team remembers its earlier names (`past_names`), and the ledger's
entries recorded under one count as the team's, wherever the team's leave is counted.

Each ledger entry names its team as it was called when the request was sent (DESIGN §5). Engineering
(members: #engineering — Alice, Bob, Dave) has leave in the fake Slack under that name; HR renames it.
The ledger is read, and cached, before the rename: the cache holds the names Slack has.
"""

import io
import json
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from approvals import console_services, ledger_reader
from approvals.config_diff import config_diff
from approvals.config_file import ConfigError, config_to_dict, parse_config
from approvals.config_store import config_from_database, current_config, invalidate_config, past_after_change
from approvals.config_types import TeamConfig, TeamNameUnclear
from approvals.models import Blackout, JobRun, Team
from approvals.rules import LedgerEntry
from approvals.slack_clients import background_client
from approvals.tests.test_config_commands import EXAMPLE_PATH, write_json
from fake_slack.ledger_seed import seed_ledger
from fake_slack.personas import ALICE, BOB, C_ENG, C_ENG_APPROVALS, C_OLD_APPROVALS, DAVE
from test_support.flows import (
    ENGINEERING,
    dms_to,
    install_config,
    metadata_payload,
    posted_requests,
    request_time_off,
    standard_config,
)
from test_support.job_runs import posts_in, run_jobs

LA = ZoneInfo("America/Los_Angeles")
MONDAY, TUESDAY = date(2031, 3, 10), date(2031, 3, 11)
SOON = timezone.localdate() + timedelta(days=7 - timezone.localdate().weekday())  # next Monday: on Who's out


def team(name: str, *past_names: str, channel: str = C_ENG_APPROVALS) -> TeamConfig:
    return replace(ENGINEERING, name=name, past_names=past_names, approvals_channel=channel)


def entry(entry_id: str, user: str = ALICE, team_name: str = "Engineering", status: str = "approved",
          start: date = MONDAY, end: date = TUESDAY) -> LedgerEntry:
    return LedgerEntry(id=entry_id, user=user, team=team_name, leave_type="vacation", start=start, end=end,
                       start_half=None, end_half=None, days=Decimal((end - start).days + 1), status=status,
                       decided_by=BOB if status != "pending" else None)


# --- Which team an entry is (pure) -----------------------------------------------------------------


def test_an_entry_under_an_earlier_name_is_the_renamed_teams():
    config = standard_config(teams=(team("Software", "R&D", "Engineering"),))

    assert config.team_recorded_as("Engineering").name == "Software"
    assert config.team_recorded_as("R&D").name == "Software"
    assert config.team_recorded_as("Software").name == "Software"
    assert config.team_recorded_as("Sales") is None  # a team deleted: its entries are no team's
    assert config.renamed_teams == {"R&D": "Software", "Engineering": "Software"}
    assert config.names_recorded_for("Software") == ("Software", "R&D", "Engineering")


def test_a_name_in_use_wins_over_the_team_that_had_it_before():
    # Engineering was renamed Software, then HR called a new team Engineering.
    config = standard_config(teams=(team("Software", "Engineering"), team("Engineering", channel=C_OLD_APPROVALS)))

    assert config.team_recorded_as("Engineering").approvals_channel == C_OLD_APPROVALS
    assert config.renamed_teams == {}
    assert config.names_recorded_for("Software") == ("Software",)
    assert config.names_recorded_for("Engineering") == ("Engineering",)


def test_two_teams_that_had_one_name_the_first_in_matching_order_has_its_entries():
    config = standard_config(teams=(team("Platform", "Core"), team("Software", "Core", channel=C_OLD_APPROVALS)))

    assert config.team_recorded_as("Core").name == "Platform"
    assert config.names_recorded_for("Platform") == ("Platform", "Core")
    assert config.names_recorded_for("Software") == ("Software",)  # never counted twice


def test_renaming_back_takes_the_name_out_of_the_past_ones():
    assert past_after_change(past=[], old="Engineering", new="Software") == ["Engineering"]
    assert past_after_change(past=["Engineering"], old="Software", new="Engineering") == ["Software"]
    assert past_after_change(past=["Engineering"], old="Software", new="Software") == ["Engineering"]


def test_past_names_are_optional_in_the_file_and_checked_like_names():
    data = config_to_dict(standard_config())
    del data["teams"][0]["past_names"]
    assert parse_config(data).teams[0].past_names == ()

    data["teams"][0]["past_names"] = ["R&D", "", "R&D", 7, " Core", "x" * 101]
    with pytest.raises(ConfigError) as raised:
        parse_config(data)
    assert raised.value.errors == [
        "teams[0].past_names[1]: must not be empty",
        "teams[0].past_names[2]: 'R&D' is listed twice",
        "teams[0].past_names[3]: must be a string, not a number",
        "teams[0].past_names[4]: must not start or end with spaces",
        "teams[0].past_names[5]: must be at most 100 characters",
    ]
    data["teams"][0]["past_names"] = "R&D"
    with pytest.raises(ConfigError) as raised:
        parse_config(data)
    assert raised.value.errors == ["teams[0].past_names: must be a list of names, not a string"]


def test_a_team_may_have_had_the_name_another_team_has_now_or_had():
    # The console makes both (a new team takes an old name; two teams each had it): an export of them
    # must import again.
    config = standard_config(teams=(team("Software", "Engineering", "Core"), team("Engineering", "Core",
                                                                                   channel=C_OLD_APPROVALS)))
    assert parse_config(config_to_dict(config)) == config


# --- Through the cache and the console (the database, the fake Slack) ----------------------------


@pytest.fixture
def engineering(fake_slack, db):
    invalidate_config()
    install_config()
    return Team.objects.get(name="Engineering")


def warm_ledger() -> None:
    """The whole ledger and its slices read from Slack and cached, entries as Slack has them."""
    ledger_reader.current_ledger(background_client(), current_config())


def rename(row: Team, name: str) -> Team:
    return console_services.team_update(team_id=row.pk, name=name)


def teams_of_entries() -> dict[str, str]:
    return {e.id: e.team for e in ledger_reader.cached_ledger(current_config()).entries.values()}


def test_the_digest_and_out_today_of_a_renamed_team_list_its_leave_from_before(fake_slack, db, settings, tmp_path):
    settings.LEDGER_EXPORT_DIR = tmp_path
    invalidate_config()
    install_config(standard_config(teams=(replace(ENGINEERING, digest_time=time(9, 0)),)))
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, entries=[entry("alice-vacation")])
    warm_ledger()

    rename(Team.objects.get(name="Engineering"), "Software")

    assert "weekly_digest Software" in run_jobs(datetime(2031, 3, 10, 9, 0, tzinfo=LA), "--team", "Software")
    assert "out_today Software 2031-03-11: 1 out" in run_jobs(datetime(2031, 3, 11, 9, 0, tzinfo=LA),
                                                              "--team", "Software")
    digest, out_today = posts_in(fake_slack, C_ENG)
    assert f"<@{ALICE}>" in str(digest["blocks"]) and f"<@{ALICE}>" in str(out_today["blocks"])


def test_approvers_of_a_renamed_team_are_nudged_about_its_requests_from_before(fake_slack, db, settings):
    invalidate_config()
    install_config(standard_config(teams=(replace(ENGINEERING, nudge_after_hours=48),)))
    sent = datetime(2031, 3, 7, 9, 0, tzinfo=LA).timestamp()
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, entries=[entry("alice-waiting", status="pending")],
                posted_at={"alice-waiting": sent})
    warm_ledger()

    rename(Team.objects.get(name="Engineering"), "Software")

    assert "1 waiting" in run_jobs(datetime(2031, 3, 10, 10, 0, tzinfo=LA), "--team", "Software")
    assert any("waiting" in text for text in dms_to(fake_slack, BOB))


def waiting_and_weeks(page: str) -> tuple[str, str]:
    """Who's out's two parts: the requests waiting for a decision, then the weeks."""
    waiting, weeks = page.split('id="waiting"')[1].split("</section>", 1)
    return waiting, weeks


def test_whos_out_after_renaming_a_team_back_counts_each_request_once(admin_client, client, engineering, fake_slack):
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, entries=[entry("alice-vacation", start=SOON,
                                                                              end=SOON + timedelta(days=2))])
    warm_ledger()
    software = rename(engineering, "Software")
    request_time_off(client, fake_slack, DAVE, start=SOON, end=SOON + timedelta(days=2))  # sent as Software's
    [dave] = [metadata_payload(call) for call in posted_requests(fake_slack)]
    assert dave["team"] == "Software"

    back = rename(software, "Engineering")

    assert back.past_names == ["Software"]
    assert teams_of_entries() == {"alice-vacation": "Engineering", dave["id"]: "Engineering"}
    page = admin_client.get(reverse("console:whos_out"), {"weeks": "2", "team": "Engineering"}).text
    waiting, weeks = waiting_and_weeks(page)
    assert weeks.count("Alice Adams") == 1 and weeks.count("Dave Diaz") == 1
    assert waiting.count("Dave Diaz") == 1  # pending, once (Alice's is approved)


def test_two_teams_cannot_swap_names_in_the_console_so_neither_takes_the_others_leave(admin_client, client,
                                                                                       fake_slack, db):
    invalidate_config()
    install_config(standard_config(teams=(ENGINEERING, team("Sales", channel=C_OLD_APPROVALS))))
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, entries=[entry("alice-vacation", start=SOON,
                                                                              end=SOON)])
    seed_ledger(fake_slack.workspace, channel=C_OLD_APPROVALS, entries=[entry("sales-vacation", "U_SALES", "Sales",
                                                                              start=SOON, end=SOON)])
    warm_ledger()
    engineering, sales = Team.objects.get(name="Engineering"), Team.objects.get(name="Sales")
    # In one change: names are unique.
    with pytest.raises(ValidationError) as at_once:
        rename(engineering, "Sales")
    assert "name" in at_once.value.message_dict

    # Through a third name: Sales may not take the name whose requests are Interim's.
    rename(engineering, "Interim")
    request_time_off(client, fake_slack, DAVE, start=SOON, end=SOON)  # sent as Interim's
    [dave] = [metadata_payload(call) for call in posted_requests(fake_slack)]
    with pytest.raises(ValidationError) as refused:
        rename(sales, "Engineering")
    assert refused.value.message_dict["name"] == [
        "Interim used to be called Engineering, and the requests in Slack recorded under Engineering are its "
        "leave: this team, renamed Engineering, would take them. Give it a name no other team had."]
    from test_support.console_pages import errors_of, team_post

    page = admin_client.post(reverse("console:team_edit", args=[sales.pk]),
                             team_post(name="Engineering"))
    assert errors_of(page, "name") == [
        "Interim used to be called Engineering, and the requests in Slack recorded under Engineering are its "
        "leave: this team, renamed Engineering, would take them. Give it a name no other team had."]

    assert sorted(Team.objects.values_list("name", flat=True)) == ["Interim", "Sales"]
    assert teams_of_entries() == {"alice-vacation": "Interim", "sales-vacation": "Sales", dave["id"]: "Interim"}
    page = admin_client.get(reverse("console:whos_out"), {"weeks": "2"})
    waiting, weeks = waiting_and_weeks(page.text)
    assert weeks.count("Dave Diaz") == 1 and weeks.count("Alice Adams") == 1 and waiting.count("Dave Diaz") == 1


def test_a_team_given_another_teams_earlier_name_is_told_it_takes_that_teams_requests(admin_client, engineering):
    rename(engineering, "Software")
    page = admin_client.get(reverse("console:team_edit", args=[engineering.pk]))
    assert "Earlier names, whose requests in Slack still count as this team's: Engineering." in page.text

    from test_support.console_pages import team_post

    response = admin_client.post(reverse("console:team_add"), team_post(name="Engineering"), follow=True)

    assert response.status_code == 200
    assert ("Software used to be called Engineering: the requests in Slack recorded under Engineering now count "
            "as this team&#x27;s.") in response.text
    assert current_config().team_recorded_as("Engineering").name == "Engineering"


# --- The configuration file ------------------------------------------------------------------------


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.mark.django_db
def test_export_and_import_keep_a_teams_earlier_names(tmp_path):
    invalidate_config()
    run("import_config", str(EXAMPLE_PATH))
    rename(Team.objects.get(name="Sales"), "Revenue")
    exported = json.loads(run("export_config"))
    assert exported["teams"][1]["name"] == "Revenue" and exported["teams"][1]["past_names"] == ["Sales"]

    Team.objects.filter(name="Revenue").update(past_names=[])
    out = run("import_config", str(write_json(tmp_path / "exported.json", exported)))

    assert "~ team Revenue: past_names" in out
    assert Team.objects.get(name="Revenue").past_names == ["Sales"]
    assert json.loads(run("export_config")) == exported


@pytest.mark.django_db
def test_a_file_renaming_a_team_keeps_its_row_and_its_blackouts(tmp_path):
    invalidate_config()
    run("import_config", str(EXAMPLE_PATH))
    before = Team.objects.get(name="Engineering")
    data = json.loads(EXAMPLE_PATH.read_text())
    data["teams"][0]["name"] = "Software"
    data["teams"][0]["past_names"] = ["R&D", "Engineering"]
    for blackout in data["blackouts"]:
        blackout["team"] = "Software" if blackout["team"] == "Engineering" else blackout["team"]
    blackouts = list(Blackout.objects.values_list("id", flat=True))

    diff = config_diff(config_from_database(), parse_config(data))
    out = run("import_config", str(write_json(tmp_path / "renamed.json", data)), "--no-input")

    assert diff.lines() == ["~ team Software: name, past_names"] and not diff.removals
    assert "~ team Software: name, past_names" in out
    assert Team.objects.get(name="Software").pk == before.pk
    assert list(Blackout.objects.values_list("id", flat=True)) == blackouts
    assert current_config().team_recorded_as("Engineering").name == "Software"


def test_a_new_team_listing_a_name_still_in_use_is_a_new_team():
    old = standard_config(teams=(ENGINEERING,))
    new = standard_config(teams=(ENGINEERING, team("Software", "Engineering", channel=C_OLD_APPROVALS)))

    assert new.renamed_from(t.name for t in old.teams) == {}
    assert config_diff(old, new).lines() == ["+ team Software"]



def test_a_rename_never_makes_two_rows_whose_names_differ_only_by_case(db):
    invalidate_config()
    install_config()
    # A new team "engineering" while the Engineering row becomes Software: the row cannot keep its
    # name until it is renamed (names are unique ignoring case), so it is removed and Software added.
    clash = standard_config(teams=(team("engineering", channel=C_OLD_APPROVALS), team("Software", "Engineering")))
    assert clash.renamed_from(["Engineering"]) == {}
    install_config(clash)
    assert sorted(Team.objects.values_list("name", flat=True)) == ["Software", "engineering"]
    # Only the case changes: the same row, renamed.
    case_only = standard_config(teams=(team("SOFTWARE", "Software"),))
    software = Team.objects.get(name="Software")
    assert case_only.renamed_from(["Software", "engineering"]) == {"SOFTWARE": "Software"}
    install_config(case_only)
    assert Team.objects.get().pk == software.pk


# --- The daily jobs of the day of a rename -----------------------------------------------------------


def test_a_team_renamed_after_its_jobs_ran_does_not_run_them_again_that_day(fake_slack, db, settings, tmp_path):
    settings.LEDGER_EXPORT_DIR = tmp_path
    invalidate_config()
    install_config(standard_config(teams=(replace(ENGINEERING, digest_time=time(9, 0), nudge_after_hours=48),)))
    sent = datetime(2031, 3, 7, 9, 0, tzinfo=LA).timestamp()
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS,
                entries=[entry("alice-vacation", start=TUESDAY, end=TUESDAY),
                         entry("dave-waiting", DAVE, status="pending", start=date(2031, 3, 20),
                               end=date(2031, 3, 20))],
                posted_at={"alice-vacation": sent, "dave-waiting": sent})
    tuesday_afternoon = datetime(2031, 3, 11, 16, 0, tzinfo=LA)
    ran = run_jobs(tuesday_afternoon, "--team", "Engineering")
    assert "out_today Engineering 2031-03-11: 1 out" in ran and "nudges Engineering" in ran and "reminders" in ran
    posts, dms = len(posts_in(fake_slack, C_ENG)), len(fake_slack.calls("chat.postMessage"))

    rename(Team.objects.get(name="Engineering"), "Software")

    assert "Nothing due" in run_jobs(tuesday_afternoon + timedelta(minutes=30), "--team", "Software")
    assert "Software" not in run_jobs(tuesday_afternoon + timedelta(minutes=31))  # the clock's tick: every team
    assert len(posts_in(fake_slack, C_ENG)) == posts == 1
    assert len(fake_slack.calls("chat.postMessage")) == dms
    assert not JobRun.objects.filter(team="Software").exists()
    # The next day is the renamed team's, under its name now.
    assert "out_today Software 2031-03-12" in run_jobs(datetime(2031, 3, 12, 16, 0, tzinfo=LA), "--team", "Software")


def test_a_job_claimed_before_a_rename_is_finished_for_the_renamed_team_under_its_claim(fake_slack, db, settings,
                                                                                      tmp_path):
    # The clock claimed Tuesday's out-today as Engineering and died; HR renamed the team before another tick.
    settings.LEDGER_EXPORT_DIR = tmp_path
    invalidate_config()
    install_config(standard_config(teams=(replace(ENGINEERING, digest_time=time(9, 0)),)))
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, entries=[entry("alice-vacation", start=TUESDAY,
                                                                              end=TUESDAY)])
    JobRun.objects.create(job="out_today", team="Engineering", period="2031-03-11",
                          claimed_at=timezone.now() - timedelta(seconds=settings.JOB_RUN_STALE_SECONDS + 1))

    rename(Team.objects.get(name="Engineering"), "Software")

    assert "out_today Engineering 2031-03-11: 1 out" in run_jobs(datetime(2031, 3, 11, 9, 30, tzinfo=LA),
                                                                 "--team", "Software")
    run = JobRun.objects.get(job="out_today")
    assert run.attempts == 2 and run.finished_at is not None
    [post] = posts_in(fake_slack, C_ENG)
    assert f"<@{ALICE}>" in str(post["blocks"])


# --- Asking for a team by an earlier name ------------------------------------------------------------


def test_a_team_is_found_by_an_earlier_name_unless_another_team_is_called_so_now():
    config = standard_config(teams=(team("Software", "R&D", "Engineering"), team("Platform", "Core"),
                                    team("Operations", "Core", channel=C_OLD_APPROVALS)))

    assert config.team_called("Software").name == "Software"
    assert config.team_called("R&D").name == "Software"
    assert config.team_called("r&d", any_case=True).name == "Software"
    with pytest.raises(TeamNameUnclear) as unknown:
        config.team_called("r&d")  # exactly, unless asked otherwise
    assert unknown.value.teams == () and not unknown.value.ambiguous
    with pytest.raises(TeamNameUnclear) as several:
        config.team_called("Core")  # which one is a person's guess, whoever has its requests
    assert several.value.teams == ("Platform", "Operations") and several.value.ambiguous

    taken = standard_config(teams=(team("Software", "Engineering"), team("Engineering", channel=C_OLD_APPROVALS)))
    assert taken.team_called("Engineering").approvals_channel == C_OLD_APPROVALS  # a name in use wins


@pytest.fixture
def renamed_beside_sales(fake_slack, db):
    """Engineering renamed Software, beside Sales; Alice's leave was recorded under Engineering."""
    invalidate_config()
    install_config(standard_config(teams=(ENGINEERING, team("Sales", channel=C_OLD_APPROVALS))))
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, entries=[entry("alice-vacation", start=SOON,
                                                                              end=SOON)])
    warm_ledger()
    return rename(Team.objects.get(name="Engineering"), "Software")


def test_the_consoles_team_filter_finds_a_team_by_an_earlier_name(admin_client, renamed_beside_sales):
    page = admin_client.get(reverse("console:whos_out"), {"weeks": "2", "team": "Engineering"}).text

    assert "Software was called Engineering before: showing Software." in page
    assert ">Software</h2>" in page and ">Sales</h2>" not in page and page.count("Alice Adams") == 1
    assert '<option value="Software" selected>' in page
    response = admin_client.get(reverse("console:balances"), {"team": "Engineering"})
    balances = response.text
    assert "Software was called Engineering before" in balances
    assert '<option value="Software" selected>' in balances and response.context["table"].team == "Software"


def test_the_consoles_team_filter_says_when_a_name_is_no_teams_or_several_teams(admin_client,
                                                                               renamed_beside_sales):
    Team.objects.filter(name="Sales").update(past_names=["Engineering"])
    invalidate_config()

    page = admin_client.get(reverse("console:whos_out"), {"weeks": "2", "team": "Engineering"}).text
    assert ("No team is called Engineering now; Software and Sales were called so before: choose one of them. "
            "Showing every team.") in page
    assert ">Software</h2>" in page and ">Sales</h2>" in page
    page = admin_client.get(reverse("console:balances"), {"team": "Marketing"}).text
    assert "No team is called Marketing, now or before. Showing Software." in page


def test_run_jobs_finds_a_team_by_an_earlier_name(renamed_beside_sales, settings, tmp_path):
    settings.LEDGER_EXPORT_DIR = tmp_path
    assert "reminders Software 2031-03-11" in run_jobs(datetime(2031, 3, 11, 16, 0, tzinfo=LA), "--team", "Engineering")

    Team.objects.filter(name="Sales").update(past_names=["Engineering"])
    invalidate_config()
    with pytest.raises(CommandError, match="no team is named 'Engineering' now; 'Software' and 'Sales' were named"):
        run_jobs(datetime(2031, 3, 12, 16, 0, tzinfo=LA), "--team", "Engineering")
    with pytest.raises(CommandError, match="no team is named 'Marketing', now or before"):
        run_jobs(datetime(2031, 3, 12, 16, 0, tzinfo=LA), "--team", "Marketing")


# --- Two teams swapping names, by file ------------------------------------------------------------


def test_a_file_in_which_two_teams_swap_names_is_refused_naming_the_field():
    config = standard_config(teams=(team("Sales", "Engineering"), team("Engineering", "Sales",
                                                                       channel=C_OLD_APPROVALS)))
    with pytest.raises(ConfigError) as raised:
        parse_config(config_to_dict(config))
    assert raised.value.errors == [
        "teams[1].name: 'Sales' (teams[0]) used to be called 'Engineering', and this team used to be called "
        "'Sales': two teams that swap names would swap their past leave (each request in Slack names its team "
        "by name). Give one of them a name neither had"]


@pytest.fixture
def engineering_and_sales_with_leave(fake_slack, db):
    invalidate_config()
    install_config(standard_config(teams=(ENGINEERING, team("Sales", channel=C_OLD_APPROVALS))))
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, entries=[entry("alice-vacation", start=SOON,
                                                                              end=SOON)])
    seed_ledger(fake_slack.workspace, channel=C_OLD_APPROVALS, entries=[entry("sales-vacation", "U_SALES", "Sales",
                                                                              start=SOON, end=SOON)])
    warm_ledger()
    return config_to_dict(config_from_database())


def refused_import(path) -> str:
    err = io.StringIO()
    with pytest.raises(CommandError, match="the configuration was not changed"):
        call_command("import_config", str(path), "--no-input", stdout=io.StringIO(), stderr=err)
    return err.getvalue()


def test_importing_two_teams_swapping_names_changes_nothing(engineering_and_sales_with_leave, tmp_path):
    data = engineering_and_sales_with_leave
    data["teams"][0]["name"], data["teams"][0]["past_names"] = "Sales", ["Engineering"]
    data["teams"][1]["name"], data["teams"][1]["past_names"] = "Engineering", ["Sales"]
    rows = {team.pk: (team.name, team.approvals_channel) for team in Team.objects.all()}

    err = refused_import(write_json(tmp_path / "swapped.json", data))

    assert err.startswith("teams[1].name: 'Sales' (teams[0]) used to be called 'Engineering'")
    assert {team.pk: (team.name, team.approvals_channel) for team in Team.objects.all()} == rows
    assert teams_of_entries() == {"alice-vacation": "Engineering", "sales-vacation": "Sales"}


def test_a_file_may_not_rename_a_team_to_a_name_another_team_had(engineering_and_sales_with_leave, tmp_path):
    rename(Team.objects.get(name="Engineering"), "Interim")
    data = config_to_dict(config_from_database())
    data["teams"][1]["name"], data["teams"][1]["past_names"] = "Engineering", ["Sales"]  # Sales renamed

    err = refused_import(write_json(tmp_path / "taken.json", data))

    assert err == ("teams[1].name: renames 'Sales'; 'Interim' (teams[0]) used to be called 'Engineering', and the "
                   "requests in Slack recorded under 'Engineering' are its leave: this team, renamed 'Engineering', "
                   "would take them. Give it a name no other team had\n")
    assert sorted(Team.objects.values_list("name", flat=True)) == ["Interim", "Sales"]
    assert teams_of_entries() == {"alice-vacation": "Interim", "sales-vacation": "Sales"}


def test_uploading_two_teams_swapping_names_in_the_console_is_refused(admin_client, engineering_and_sales_with_leave):
    from approvals.tests.test_console_file import upload

    data = engineering_and_sales_with_leave
    data["teams"][0]["name"], data["teams"][0]["past_names"] = "Sales", ["Engineering"]
    data["teams"][1]["name"], data["teams"][1]["past_names"] = "Engineering", ["Sales"]

    response = upload(admin_client, data)

    assert response.status_code == 400
    assert ("teams[1].name: &#x27;Sales&#x27; (teams[0]) used to be called &#x27;Engineering&#x27;, and this team "
            "used to be called &#x27;Sales&#x27;: two teams that swap names would swap their past leave"
            ) in response.text
    assert teams_of_entries() == {"alice-vacation": "Engineering", "sales-vacation": "Sales"}


def test_uploading_a_rename_to_a_name_another_team_had_is_refused_before_the_preview(
        admin_client, engineering_and_sales_with_leave):
    # Refused on upload, as by import_config: the preview never offers what applying would refuse.
    from approvals.tests.test_console_file import upload

    rename(Team.objects.get(name="Engineering"), "Interim")
    data = config_to_dict(config_from_database())
    data["teams"][1]["name"], data["teams"][1]["past_names"] = "Engineering", ["Sales"]  # Sales renamed

    response = upload(admin_client, data)

    assert response.status_code == 400
    assert ("teams[1].name: renames &#x27;Sales&#x27;; &#x27;Interim&#x27; (teams[0]) used to be called "
            "&#x27;Engineering&#x27;") in response.text
    assert admin_client.get(reverse("console:config_preview")).status_code == 302  # nothing kept to preview
    assert sorted(Team.objects.values_list("name", flat=True)) == ["Interim", "Sales"]
