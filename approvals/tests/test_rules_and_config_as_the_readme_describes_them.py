"""README "Rules" and "Configuration file", taken at their word.

The configuration is written to real files and read by `import_config` / written by `export_config`; what
the rules refuse is seen where people see it: the `/timeoff` form's errors (signed view_submission requests,
answered against the fake Slack), or, for a rule alone, the pure functions with `today` passed in.
"""

import io
import itertools
import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import holidays
import pytest
import yaml
from django.core.management import CommandError, call_command

from approvals import block_ids as ids
from approvals.config_store import config_from_database, invalidate_config
from approvals.config_types import BlackoutConfig, LeaveTypeConfig, TeamConfig
from approvals.rules import Adjustment, LeaveRequest, validate_request
from approvals.selectors import local_today
from fake_slack.personas import ALICE, BOB, C_ENG, C_ENG_APPROVALS, C_ENG_LEADS, DAVE, HR
from test_support.flows import (
    dms_to,
    metadata_payload,
    open_request_form,
    posted_requests,
    request_values,
    submit_request,
)

pytestmark = pytest.mark.django_db

C_SALES_APPROVALS = "C_SALES_APPROVALS"
_forms = itertools.count(1)


@pytest.fixture(autouse=True)
def no_snapshot_from_other_tests():
    invalidate_config()


def run(*args) -> tuple[str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command(*args, stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


def refused(*args) -> str:
    """Run a command that must refuse; what it said (stderr, and the error's own line)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command(*args, stdout=stdout, stderr=stderr)
    return stderr.getvalue() + "\n" + str(raised.value)


def engineering(**changes) -> dict:
    team = {
        "name": "Engineering",
        "members": {"users": [], "channel": C_ENG, "usergroup": None},
        "approvers": {"users": [BOB], "channel": C_ENG_LEADS},
        "approvals_channel": C_ENG_APPROVALS,
        "announce_channel": C_ENG,
        "default": False,
        "max_out": None,
        "holidays": {"country": "US", "subdivision": "CA"},
        "workweek": [0, 1, 2, 3, 4],
        "timezone": "America/Los_Angeles",
        "digest_time": None,
        "nudge_after_hours": None,
        "past_approvals_channels": [],
        "past_names": [],
    }
    return {**team, **changes}


def vacation(**changes) -> dict:
    kind = {"code": "vacation", "name": "Vacation", "emoji": ":palm_tree:", "requires_approval": True,
            "annual_allowance_days": 25, "allow_half_days": True, "max_consecutive_days": 20, "private": False,
            "allow_past_days": 0}
    return {**kind, **changes}


def sick(**changes) -> dict:
    kind = {"code": "sick", "name": "Sick leave", "emoji": ":face_with_thermometer:", "requires_approval": False,
            "annual_allowance_days": None, "allow_half_days": True, "max_consecutive_days": None, "private": True,
            "allow_past_days": 3}
    return {**kind, **changes}


def config_file(*, teams=None, leave_types=None, holidays=(), blackouts=()) -> dict:
    return {
        "version": 1,
        "requesters": {"users": [], "channel": None},
        "fallback_approvers": {"users": [HR]},
        "teams": list(teams) if teams is not None else [engineering()],
        "leave_types": list(leave_types) if leave_types is not None else [vacation(), sick()],
        "holidays": list(holidays),
        "blackouts": list(blackouts),
    }


def write(path: Path, data: dict) -> Path:
    if path.suffix in (".yaml", ".yml"):
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    else:
        path.write_text(json.dumps(data, indent=2))
    return path


def imported(tmp_path, data: dict, name="config.json", *more) -> str:
    out, _ = run("import_config", str(write(tmp_path / name, data)), *more)
    return out


def next_year_monday(month: int, day: int = 2) -> date:
    """A Monday of next year (in Alice's time zone): never in the past, its messages name its year."""
    first = date(local_today("America/Los_Angeles").year + 1, month, day)
    return first + timedelta(days=-first.weekday() % 7)


def shown(day: date) -> str:
    """A date as messages show it outside the year they are read in: "Mon 8 Mar 2027"."""
    return f"{day:%a} {day.day} {day:%b} {day.year}"


def form_errors(client, fake_slack, user, leave_type, start, end, *, halves=()) -> dict:
    """What the `/timeoff` form answers when `user` sends it: its errors by block ({} when it is sent)."""
    view = open_request_form(client, fake_slack, user)
    response = submit_request(client, user, view, request_values(leave_type, start, end, halves=halves),
                              view_id=f"V_FORM{next(_forms)}")
    assert response.status_code == 200, response.content
    if not response.content:
        return {}
    body = response.json()
    assert body["response_action"] == "errors", body
    return body["errors"]


# --- Configuration file: formats, versions, fields ---------------------------------------------------------


def test_import_config_reads_yaml_from_a_file_of_another_extension_when_told_with_format(tmp_path):
    """README: "`.yaml` or `.yml` is YAML, any other JSON; `--format` says otherwise" — HR saved the export
    as config.txt and tells import_config it is YAML."""
    path = tmp_path / "config.txt"
    path.write_text(yaml.safe_dump(config_file(), sort_keys=False))

    run("import_config", str(path), "--format", "yaml")

    assert [team.name for team in config_from_database().teams] == ["Engineering"]


def test_export_config_writes_yaml_to_any_file_name_when_told_with_format(tmp_path):
    imported(tmp_path, config_file())
    target = tmp_path / "backup.json"

    run("export_config", str(target), "--format", "yaml")

    text = target.read_text()
    assert not text.lstrip().startswith("{")
    assert yaml.safe_load(text)["teams"][0]["name"] == "Engineering"


def test_exporting_over_an_existing_backup_keeps_who_may_read_it(tmp_path):
    """HR's backup.yaml, readable by the team that keeps the backups, stays readable after the nightly
    `export_config backup.yaml` replaces it (as `export_config > backup.yaml` would leave it)."""
    imported(tmp_path, config_file())
    target = tmp_path / "backup.yaml"
    target.write_text("old\n")
    target.chmod(0o644)

    run("export_config", str(target))

    assert yaml.safe_load(target.read_text())["teams"][0]["name"] == "Engineering"
    assert oct(target.stat().st_mode & 0o777) == oct(0o644)


def test_a_file_of_a_newer_version_is_refused_saying_so_and_nothing_changes(tmp_path):
    imported(tmp_path, config_file())
    newer = config_file(teams=[engineering(max_out=2)])
    newer["version"] = 2

    said = refused("import_config", str(write(tmp_path / "newer.json", newer)))

    assert "version: this file is version 2; this app reads version 1" in said, said
    assert "the configuration was not changed" in said
    assert config_from_database().teams[0].max_out is None


@pytest.mark.parametrize("zone", ["localtime", "posixrules", "posix/Europe/Paris", "right/UTC", "Factory"])
def test_a_time_zone_that_is_no_place_is_refused_naming_the_teams_field(tmp_path, zone):
    """README: an IANA name, "not `localtime` or `posixrules`, which name the server's own setting, nor
    `posix/…` and `right/…`"."""
    data = config_file(teams=[engineering(timezone=zone)])

    said = refused("import_config", str(write(tmp_path / "config.json", data)))

    assert f"teams[0].timezone: unknown time zone '{zone}'" in said, said
    assert list(config_from_database().teams) == []


@pytest.mark.parametrize(("code", "expected"), [
    ("who", "leave_types[0].code: 'who' is a /timeoff command (/timeoff who); choose another code"),
    ("for", "leave_types[0].code: 'for' is a /timeoff command (/timeoff for); choose another code"),
    ("2031-12-24", "leave_types[0].code: '2031-12-24' reads as a date in /timeoff; choose a code with letters"),
])
def test_a_leave_type_code_that_could_not_be_typed_first_is_refused(tmp_path, code, expected):
    data = config_file(leave_types=[vacation(code=code)])

    said = refused("import_config", str(write(tmp_path / "config.json", data)))

    assert expected in said, said


def test_team_names_that_differ_only_in_how_an_accent_is_encoded_are_refused(tmp_path):
    """README: "Café" with one é and "Café" with e and a combining accent are one name."""
    composed, decomposed = "Caf\u00e9", "Cafe\u0301"
    data = config_file(teams=[engineering(name=composed),
                              engineering(name=decomposed, approvals_channel="C_OTHER_APPROVALS",
                                          members={"users": [DAVE], "channel": None, "usergroup": None})])

    said = refused("import_config", str(write(tmp_path / "config.json", data)))

    assert "teams[1].name:" in said and "differs only by case" in said, said
    assert list(config_from_database().teams) == []


def test_leave_type_names_alike_in_any_case_and_accent_encoding_are_refused(tmp_path):
    data = config_file(leave_types=[vacation(name="Cong\u00e9"), sick(name="CONGE\u0301")])

    said = refused("import_config", str(write(tmp_path / "config.json", data)))

    assert "leave_types[1].name: another leave type is already called" in said, said


def test_an_unknown_key_is_refused_with_a_suggestion_and_nothing_changes(tmp_path):
    imported(tmp_path, config_file())
    team = engineering(max_out=2)
    team["aprovers"] = team.pop("approvers")

    said = refused("import_config", str(write(tmp_path / "typo.json", config_file(teams=[team]))))

    assert "teams[0].aprovers: unknown key (did you mean 'approvers'?)" in said, said
    assert config_from_database().teams[0].max_out is None
    assert config_from_database().teams[0].approvers.users == (BOB,)


def test_what_a_file_leaves_out_takes_the_defaults_the_readme_lists(tmp_path):
    minimal = {
        "version": 1,
        "teams": [{"name": "Engineering", "approvers": {"users": [BOB]}, "approvals_channel": C_ENG_APPROVALS}],
        "leave_types": [{"code": "vacation", "name": "Vacation"}],
        "holidays": [{"date": "2031-12-24", "name": "Company day"}],
        "blackouts": [{"start": "2031-12-15", "end": "2031-12-31"}],
    }
    imported(tmp_path, minimal)

    out, _ = run("export_config")
    data = json.loads(out)

    assert data["requesters"] == {"users": [], "channel": None}
    assert data["fallback_approvers"] == {"users": []}
    [team] = data["teams"]
    assert team["members"] == {"users": [], "channel": None, "usergroup": None}
    assert team["approvers"] == {"users": [BOB], "channel": None}
    assert team["announce_channel"] is None and team["max_out"] is None and team["holidays"] is None
    assert team["workweek"] == [0, 1, 2, 3, 4] and team["timezone"] == "UTC"
    assert team["digest_time"] is None and team["nudge_after_hours"] is None
    assert team["past_approvals_channels"] == [] and team["past_names"] == [] and team["default"] is False
    [kind] = data["leave_types"]
    assert kind["annual_allowance_days"] is None and kind["max_consecutive_days"] is None
    assert kind["allow_past_days"] == 0
    assert data["holidays"][0]["team"] is None and data["blackouts"][0]["team"] is None


def test_a_team_without_any_approver_source_is_refused_naming_it(tmp_path):
    data = config_file(teams=[engineering(approvers={"users": [], "channel": None})])

    said = refused("import_config", str(write(tmp_path / "config.json", data)))

    assert "teams[0].approvers: a team needs at least one approver" in said, said


def test_a_company_day_given_twice_for_every_team_is_refused_as_a_slip(tmp_path):
    data = config_file(holidays=[{"date": "2031-12-24", "name": "Company day", "team": None},
                                 {"date": "2031-12-24", "name": "Christmas Eve", "team": None}])

    said = refused("import_config", str(write(tmp_path / "config.json", data)))

    assert "holidays[1]" in said and "2031-12-24" in said, said
    assert config_from_database().holidays == ()


# --- Team order, through a real request --------------------------------------------------------------------


def sales(**changes) -> dict:
    return engineering(**{"name": "Sales", "members": {"users": [ALICE], "channel": None, "usergroup": None},
                          "approvers": {"users": [HR], "channel": None}, "approvals_channel": C_SALES_APPROVALS,
                          "announce_channel": None, **changes})


def test_a_person_in_two_teams_belongs_to_the_first_in_file_order(client, fake_slack, tmp_path):
    """Alice is a member of Engineering (its channel) and of Sales (listed by name): the file's order
    decides where her request goes, and reordering the file moves her."""
    fake_slack.workspace.add_channel(C_SALES_APPROVALS, "sales-approvals", members=[HR], private=True)
    imported(tmp_path, config_file(teams=[sales(), engineering()]))
    monday = next_year_monday(3)

    assert form_errors(client, fake_slack, ALICE, "vacation", monday, monday) == {}
    assert len(posted_requests(fake_slack, C_SALES_APPROVALS)) == 1
    assert posted_requests(fake_slack, C_ENG_APPROVALS) == []
    assert metadata_payload(posted_requests(fake_slack, C_SALES_APPROVALS)[0])["team"] == "Sales"

    out = imported(tmp_path, config_file(teams=[engineering(), sales()]), "reordered.json")
    assert "~ the order teams are matched in" in out, out
    wednesday = monday + timedelta(days=2)
    assert form_errors(client, fake_slack, ALICE, "vacation", wednesday, wednesday) == {}
    [posted] = posted_requests(fake_slack, C_ENG_APPROVALS)
    assert metadata_payload(posted)["team"] == "Engineering"


# --- The rules, where people meet them ---------------------------------------------------------------------


def test_a_company_day_from_the_file_is_no_working_day_for_its_team_only(client, fake_slack, tmp_path):
    fake_slack.workspace.add_channel(C_SALES_APPROVALS, "sales-approvals", members=[HR], private=True)
    day = next_year_monday(6, 8) + timedelta(days=1)  # a Tuesday in June, no US/CA public holiday
    imported(tmp_path, config_file(
        teams=[sales(members={"users": [DAVE], "channel": None, "usergroup": None}), engineering()],
        holidays=[{"date": day.isoformat(), "name": "Offsite", "team": "Engineering"}]))

    errors = form_errors(client, fake_slack, ALICE, "vacation", day, day)

    assert errors == {ids.END_BLOCK: f"{shown(day)} is not a working day for Engineering (Offsite)"}
    assert posted_requests(fake_slack) == []
    assert form_errors(client, fake_slack, DAVE, "vacation", day, day) == {}  # Sales works that day
    [posted] = posted_requests(fake_slack, C_SALES_APPROVALS)
    assert metadata_payload(posted)["days"] == 1


def test_a_blackout_from_the_file_refuses_a_request_with_its_reason(client, fake_slack, tmp_path):
    start = next_year_monday(12, 14)
    end = start + timedelta(days=17)
    imported(tmp_path, config_file(blackouts=[
        {"start": start.isoformat(), "end": end.isoformat(), "team": "Engineering", "reason": "Year-end freeze"}]))

    errors = form_errors(client, fake_slack, ALICE, "vacation", start + timedelta(days=2), start + timedelta(days=3))

    assert errors == {ids.START_BLOCK: f"{shown(start)} – {shown(end)} is a blackout for Engineering: Year-end "
                                       "freeze"}
    assert posted_requests(fake_slack) == []


def test_leave_across_new_year_short_in_both_years_names_both_years_at_once(client, fake_slack, tmp_path):
    """README: "every year short is named at once, so leave across New Year short in both is not refused
    twice" — on the holidays of both years (New Year's Day takes nothing)."""
    imported(tmp_path, config_file(leave_types=[vacation(annual_allowance_days=0.5), sick()]))
    year = local_today("America/Los_Angeles").year + 1
    start = date(year, 12, 28)
    end = date(year + 1, 1, 4)
    public = holidays.country_holidays("US", subdiv="CA", years=[year, year + 1])

    def working(first, last):
        days = (first + timedelta(days=n) for n in range((last - first).days + 1))
        return sum(1 for day in days if day.weekday() < 5 and day not in public)

    needs_first, needs_second = working(start, date(year, 12, 31)), working(date(year + 1, 1, 1), end)
    assert needs_first > 0.5 and needs_second > 0.5

    errors = form_errors(client, fake_slack, ALICE, "vacation", start, end)

    assert errors[ids.END_BLOCK] == (f"You have 0.5 days of Vacation left in {year}; this request needs {needs_first}. "
                                     f"You have 0.5 days of Vacation left in {year + 1}; this request needs "
                                     f"{needs_second}"), errors


def test_sick_leave_may_start_as_far_back_as_its_type_allows_and_no_further(client, fake_slack, tmp_path):
    """`allow_past_days` counted in the requester's Slack time zone (Alice: Los Angeles)."""
    imported(tmp_path, config_file())
    today = local_today("America/Los_Angeles")

    too_early = form_errors(client, fake_slack, ALICE, "sick", today - timedelta(days=4), today + timedelta(days=7))
    assert too_early == {ids.START_BLOCK: "Sick leave can start at most 3 days in the past"}, too_early

    vacation_yesterday = form_errors(client, fake_slack, ALICE, "vacation", today - timedelta(days=1),
                                     today + timedelta(days=7))
    assert vacation_yesterday == {ids.START_BLOCK: "Vacation can't start in the past"}, vacation_yesterday

    allowed = form_errors(client, fake_slack, ALICE, "sick", today - timedelta(days=3), today + timedelta(days=7))
    assert allowed == {}
    [posted] = posted_requests(fake_slack)
    assert metadata_payload(posted)["start"] == (today - timedelta(days=3)).isoformat()


def test_a_half_day_end_on_a_company_day_is_not_recorded_nor_said(client, fake_slack, tmp_path):
    """README: "a half-day flag on a day that is not a working day ... takes nothing and is not recorded,
    so no message says "(ends at noon)" of a holiday"."""
    monday = next_year_monday(6, 8)
    friday = monday + timedelta(days=4)
    imported(tmp_path, config_file(holidays=[{"date": friday.isoformat(), "name": "Summer day", "team": None}]))

    errors = form_errors(client, fake_slack, ALICE, "vacation", monday, friday, halves=("end_am",))

    assert errors == {}
    [posted] = posted_requests(fake_slack)
    record = metadata_payload(posted)
    assert record.get("end_half") is None and record["days"] == 4, record
    said = " ".join([posted.params["text"], *dms_to(fake_slack, ALICE)])
    assert "noon" not in said, said


# --- The rules alone --------------------------------------------------------------------------------------


def test_a_blackout_with_no_working_day_in_the_request_does_not_refuse_it():
    """A blackout is about working days taken: one over a weekend does not refuse leave that only
    brackets it."""
    team = TeamConfig(name="Engineering", approvals_channel=C_ENG_APPROVALS)
    kind = LeaveTypeConfig(code="vacation", name="Vacation")
    friday, monday = date(2031, 3, 14), date(2031, 3, 17)
    weekend = BlackoutConfig(start=date(2031, 3, 15), end=date(2031, 3, 16), team=None, reason="Move")

    assert validate_request(LeaveRequest(ALICE, "vacation", friday, monday), leave_type=kind, team=team,
                            holiday_dates={}, blackouts=[weekend], today=date(2031, 1, 6)) == []
    inside = BlackoutConfig(start=date(2031, 3, 17), end=date(2031, 3, 17), team=None, reason="Move")
    [violation] = validate_request(LeaveRequest(ALICE, "vacation", friday, monday), leave_type=kind, team=team,
                                   holiday_dates={}, blackouts=[inside], today=date(2031, 1, 6))
    assert violation.message == "Mon 17 Mar is a blackout for Engineering: Move"


def test_allowance_counts_adjustments_of_that_year_only():
    team = TeamConfig(name="Engineering", approvals_channel=C_ENG_APPROVALS)
    kind = LeaveTypeConfig(code="vacation", name="Vacation", annual_allowance_days=Decimal(2))
    carried = [Adjustment("a1", ALICE, "vacation", Decimal(3), 2031, "carry-over", HR),
               Adjustment("a2", ALICE, "vacation", Decimal(10), 2030, "last year", HR)]
    week = LeaveRequest(ALICE, "vacation", date(2031, 3, 10), date(2031, 3, 14))

    assert validate_request(week, leave_type=kind, team=team, holiday_dates={}, blackouts=[], today=date(2031, 1, 6),
                            ledger=[], adjustments=carried) == []
    [violation] = validate_request(week, leave_type=kind, team=team, holiday_dates={}, blackouts=[],
                                   today=date(2031, 1, 6), ledger=[], adjustments=carried[1:])
    assert violation.message == "You have 2 days of Vacation left in 2031; this request needs 5"
