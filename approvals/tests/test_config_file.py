"""The configuration file: validation with path-named errors, and exact round trips. No database."""

import copy
import json
from datetime import date, time
from decimal import Decimal
from pathlib import Path

import pytest

from approvals.config_file import (
    ConfigError,
    config_from_text,
    config_to_dict,
    config_to_text,
    dump_config_file,
    load_config_file,
    parse_config,
)
from approvals.config_types import MONDAY_TO_FRIDAY, TeamConfig, WorkspaceConfig

EXAMPLE_PATH = Path(__file__).resolve().parents[2] / "examples" / "config.example.json"


def example() -> dict:
    return json.loads(EXAMPLE_PATH.read_text())


def minimal() -> dict:
    """The least a valid file needs: everything else takes its default."""
    return {
        "version": 1,
        "teams": [{"name": "Support", "approvals_channel": "C0SUPPORT", "approvers": {"users": ["U0LEAD"]}}],
        "leave_types": [{"code": "vacation", "name": "Vacation"}],
    }


def errors_of(data) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        parse_config(data)
    return raised.value.errors


def test_it_parses_the_example_file():
    config = parse_config(example())

    assert [team.name for team in config.teams] == ["Engineering", "Sales", "Operations"]
    engineering = config.team_named("Engineering")
    assert engineering.members.channel == "C03ENGINEER"
    assert engineering.members.usergroup == "S04ENGTEAM"
    assert engineering.approvers.users == ("U05ENGLEAD", "U05CTOANNA")
    assert engineering.holiday_country == "US" and engineering.holiday_subdivision == "CA"
    assert engineering.digest_time == time(9, 0)
    assert engineering.ledger_channels == ("C06ENGAPPROVE", "C01OLDAPPROVE")
    assert config.default_team.name == "Operations"
    assert config.leave_type("vacation").annual_allowance_days == Decimal(25)
    assert config.leave_type("personal").annual_allowance_days == Decimal("2.5")
    assert config.leave_type("sick").annual_allowance_days is None
    assert config.fallback_approvers == ("U02HRMAYA7",)
    assert config.holidays_for("Sales")[1].date == date(2026, 12, 31)
    assert config.blackouts_for("Engineering")[0].end == date(2026, 12, 23)


def test_omitted_and_null_values_take_the_design_defaults():
    config = parse_config(minimal())

    team = config.teams[0]
    assert team == TeamConfig(
        name="Support",
        approvals_channel="C0SUPPORT",
        approvers=team.approvers,
        workweek=MONDAY_TO_FRIDAY,
        timezone="UTC",
    )
    assert team.members.users == () and team.members.channel is None
    assert team.announce_channel is None and team.max_out is None and team.digest_time is None
    leave_type = config.leave_types[0]
    assert leave_type.requires_approval is True
    assert leave_type.annual_allowance_days is None and leave_type.max_consecutive_days is None
    assert leave_type.allow_past_days == 0 and leave_type.emoji == ""
    assert config.requesters_users == () and config.fallback_approvers == ()
    assert config.holidays == () and config.blackouts == ()

    with_nulls = minimal()
    with_nulls.update(requesters=None, fallback_approvers=None, holidays=None, blackouts=None)
    with_nulls["teams"][0].update(
        members=None, announce_channel=None, max_out=None, holidays=None, workweek=None, timezone=None,
        digest_time=None, nudge_after_hours=None, past_approvals_channels=None, default=None,
    )
    with_nulls["leave_types"][0].update(
        emoji=None, requires_approval=None, annual_allowance_days=None, allow_half_days=None,
        max_consecutive_days=None, private=None, allow_past_days=None,
    )
    assert parse_config(with_nulls) == config


def change(path: str, value):
    """A mutation of the example file: set `value` at a dotted path like 'teams.1.approvals_channel'."""

    def mutate(data):
        *parents, last = path.split(".")
        target = data
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value
        return data

    return mutate


def delete(path: str):
    def mutate(data):
        *parents, last = path.split(".")
        target = data
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        del target[last]
        return data

    return mutate


INVALID = [
    # wrong types
    (change("teams.0.max_out", "3"), "teams[0].max_out: must be a whole number from 1 to 10000"),
    (change("teams.0.max_out", 0), "teams[0].max_out: must be a whole number from 1 to 10000"),
    (change("teams.0.default", "yes"), "teams[0].default: must be true or false"),
    (change("teams", {}), "teams: must be a list"),
    (change("teams.1", "Sales"), "teams[1]: must be an object with keys name, approvals_channel"),
    (change("teams.0.name", 7), "teams[0].name: must be a string, not a number"),
    (change("teams.0.holidays.country", False), "teams[0].holidays.country: must be a string (in YAML, quote"),
    (change("leave_types.0.requires_approval", 1), "leave_types[0].requires_approval: must be true or false"),
    (change("leave_types.0.annual_allowance_days", "25"), "leave_types[0].annual_allowance_days: must be a number"),
    (change("leave_types.0.annual_allowance_days", 2.25), "leave_types[0].annual_allowance_days: must be a number of days from 0 to 366 in steps of 0.5"),
    (change("leave_types.0.annual_allowance_days", -1), "leave_types[0].annual_allowance_days: must be a number"),
    (change("leave_types.0.max_consecutive_days", 0), "leave_types[0].max_consecutive_days: must be a whole number from 1 to 366"),
    (change("leave_types.0.allow_past_days", -1), "leave_types[0].allow_past_days: must be a whole number from 0 to 366"),
    (change("holidays.0.date", "24/12/2026"), "holidays[0].date: must be a date like 2026-12-24"),
    (change("holidays.0.date", "2026-02-30"), "holidays[0].date: '2026-02-30' is not a real date"),
    (change("holidays.0.date", "2027-02-29"), "holidays[0].date: '2027-02-29' is not a real date"),
    # A year out of all reason is a typo (9999, 2999, 1900), and near the calendar's end dates break.
    (change("holidays.0.date", "9999-12-24"),
     "holidays[0].date: '9999-12-24' is not between 2000 and 2100; check the year"),
    (change("blackouts.0.start", "1900-12-14"),
     "blackouts[0].start: '1900-12-14' is not between 2000 and 2100; check the year"),
    (change("blackouts.0.end", "2999-12-23"),
     "blackouts[0].end: '2999-12-23' is not between 2000 and 2100; check the year"),
    # Slack ids
    (change("teams.1.approvals_channel", "#sales"), "teams[1].approvals_channel: '#sales' must be a Slack channel id like C0123ABCD"),
    (change("teams.0.announce_channel", "U05ENGLEAD"), "teams[0].announce_channel: 'U05ENGLEAD' must be a Slack channel id like C0123ABCD"),
    (change("teams.0.approvers.users.1", "anna"), "teams[0].approvers.users[1]: 'anna' must be a Slack user id like U0123ABCD"),
    (change("teams.0.members.usergroup", "C03ENGINEER"), "teams[0].members.usergroup: 'C03ENGINEER' must be a Slack user group id like S0123ABCD"),
    (change("teams.0.past_approvals_channels.0", "c01old"), "teams[0].past_approvals_channels[0]: 'c01old' must be a Slack channel id"),
    (change("fallback_approvers.users.0", "hannah"), "fallback_approvers.users[0]: 'hannah' must be a Slack user id like U0123ABCD"),
    (change("requesters.channel", "general"), "requesters.channel: 'general' must be a Slack channel id like C0123ABCD"),
    (change("teams.1.members.users.2", "U07BENSALES"), "teams[1].members.users[2]: 'U07BENSALES' is listed twice"),
    # duplicates and references
    (change("teams.2.name", "Engineering"), "teams[2].name: duplicate name 'Engineering' (also teams[0])"),
    (change("teams.2.name", "ENGINEERING"),
     "teams[2].name: 'ENGINEERING' differs only by case (or by how its letters are encoded) from teams[0]'s 'Engineering'"),
    (change("leave_types.3.code", "vacation"), "leave_types[3].code: duplicate code 'vacation' (also leave_types[0])"),
    # Two leave types of one name would show as two identical labels in /timeoff, balances and exports.
    (change("leave_types.3.name", "Vacation"),
     "leave_types[3].name: another leave type is already called 'Vacation' (leave_types[0], code 'vacation'); "
     "give each its own name, or people cannot tell them apart"),
    (change("leave_types.3.name", "VACATION"),
     "leave_types[3].name: another leave type is already called 'Vacation' (leave_types[0], code 'vacation')"),
    (change("blackouts.0.team", "Marketing"), "blackouts[0].team: no team named 'Marketing' in this file"),
    (change("holidays.1.team", "sales"), "holidays[1].team: no team named 'sales' in this file"),
    (change("teams.0.default", True), "teams[2].default: only one team may be the default; teams[0] already is"),
    # values
    (change("blackouts.0.end", "2026-12-01"), "blackouts[0].end: must not be before start (2026-12-14)"),
    (change("teams.1.timezone", "Europe/Londn"), "teams[1].timezone: unknown time zone 'Europe/Londn'"),
    (change("teams.1.holidays.country", "XX"), "teams[1].holidays.country: unknown country code 'XX'"),
    (change("teams.1.holidays.subdivision", "ZZ"), "teams[1].holidays.subdivision: unknown subdivision 'ZZ' for GB; one of: ENG, NIR, SCT, WLS"),
    (change("teams.0.workweek", []), "teams[0].workweek: must list at least one working weekday"),
    (change("teams.0.workweek", [0, 7]), "teams[0].workweek: must list weekday numbers 0-6"),
    (change("teams.0.workweek", [1, 1]), "teams[0].workweek: lists a weekday twice"),
    (change("teams.0.digest_time", "9am"), 'teams[0].digest_time: must be a time like "09:00"'),
    (change("teams.0.digest_time", "24:00"), 'teams[0].digest_time: must be a time like "09:00"'),
    (change("teams.0.digest_time", 630), 'teams[0].digest_time: must be a time like "09:00" (in YAML, put it in quotes)'),
    (change("teams.0.name", " Engineering"), "teams[0].name: must not start or end with spaces"),
    (change("leave_types.0.code", "Vacation Days"), "leave_types[0].code: must be a short lowercase code"),
    (change("leave_types.0.code", "list"), "leave_types[0].code: 'list' is a /timeoff command (/timeoff list)"),
    (change("leave_types.0.emoji", "palm_tree"), "leave_types[0].emoji: must be a Slack emoji code like :palm_tree:"),
    # structure
    (change("teams.1.approvers", {"users": [], "channel": None}), "teams[1].approvers: a team needs at least one approver"),
    (delete("teams.2.approvers"), "teams[2].approvers: a team needs at least one approver"),
    (delete("teams.0.approvals_channel"), "teams[0].approvals_channel: required"),
    (change("teams.0.approvals_channel", None), "teams[0].approvals_channel: required"),
    (delete("leave_types"), "leave_types: required"),
    (delete("version"), "version: required"),
    (change("version", 0), "version: must be 1"),
    (change("version", "1"), "version: must be 1"),
    (change("teams.0.aprovers", {"users": ["U05ENGLEAD"]}), "teams[0].aprovers: unknown key (did you mean 'approvers'?)"),
    (change("leave_types.1.color", "red"), "leave_types[1].color: unknown key"),
    (change("teams.0.holidays.region", "CA"), "teams[0].holidays.region: unknown key"),
    (change("settings", {}), "settings: unknown key"),
    (change("teams.0.holidays", {"subdivision": "CA"}), "teams[0].holidays.country: required"),
]


@pytest.mark.parametrize(("mutate", "expected"), INVALID, ids=[expected.split(":")[0] for _, expected in INVALID])
def test_each_invalid_value_is_reported_with_its_path(mutate, expected):
    errors = errors_of(mutate(example()))

    assert any(error.startswith(expected) for error in errors), errors


def test_a_newer_version_is_refused_outright():
    data = example()
    data["version"] = 3
    data["teams"][0]["pto_policy"] = "something new"  # a newer file may well have keys we do not know

    assert errors_of(data) == ["version: this file is version 3; this app reads version 1 — upgrade the app"]


def test_all_errors_are_reported_at_once():
    data = example()
    data["teams"][0]["timezone"] = "Nowhere/Land"
    data["teams"][1]["approvals_channel"] = "sales-approvals"
    data["leave_types"][2]["code"] = "vacation"
    data["blackouts"][0]["team"] = "Marketing"

    errors = errors_of(data)

    assert len(errors) == 4
    assert [error.split(":")[0] for error in errors] == [
        "teams[0].timezone",
        "teams[1].approvals_channel",
        "leave_types[2].code",
        "blackouts[0].team",
    ]


def test_the_top_level_must_be_an_object():
    assert errors_of([1, 2])[0].startswith("(top level): must be an object")


def test_parse_then_write_gives_back_an_exported_file_exactly():
    data = example()

    assert config_to_dict(parse_config(data)) == data
    assert parse_config(config_to_dict(parse_config(data))) == parse_config(data)


def test_written_numbers_dates_and_times_have_their_file_shape():
    written = config_to_dict(parse_config(example()))

    assert written["leave_types"][0]["annual_allowance_days"] == 25
    assert type(written["leave_types"][0]["annual_allowance_days"]) is int
    assert written["leave_types"][2]["annual_allowance_days"] == 2.5
    assert written["teams"][1]["digest_time"] == "08:30"
    assert written["holidays"][0]["date"] == "2026-12-24"


def test_the_example_file_is_exactly_what_export_writes():
    assert config_to_text(parse_config(example()), "json") == EXAMPLE_PATH.read_text()


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_text_round_trip_is_exact(fmt):
    data = example()
    # Values YAML would misread if they were written unquoted: Norway, base-60 times.
    data["teams"][1]["holidays"] = {"country": "NO", "subdivision": None}
    data["teams"][1]["digest_time"] = "10:30"
    config = parse_config(data)

    text = config_to_text(config, fmt)

    assert config_from_text(text, fmt) == config
    assert config_to_text(config_from_text(text, fmt), fmt) == text


def test_holidays_and_blackouts_take_leap_days_and_the_whole_window_of_years():
    data = example()
    data["holidays"][0]["date"] = "2028-02-29"
    data["blackouts"][0].update(start="2000-01-01", end="2100-12-31")
    config = parse_config(data)
    assert config.holidays[0].date == date(2028, 2, 29)
    assert (config.blackouts[0].start, config.blackouts[0].end) == (date(2000, 1, 1), date(2100, 12, 31))


def test_leave_types_may_share_words_but_not_a_name():
    data = example()
    data["leave_types"][3]["name"] = "Vacation (unpaid)"
    assert parse_config(data).leave_type("unpaid").name == "Vacation (unpaid)"


def test_hand_written_yaml_with_unquoted_dates_is_accepted():
    text = """
version: 1
teams:
  - name: Support
    approvals_channel: C0SUPPORT
    approvers: {users: [U0LEAD]}
    digest_time: "09:15"
leave_types:
  - {code: vacation, name: Vacation, annual_allowance_days: 20}
holidays:
  - {date: 2026-12-24, name: Company day}
"""
    config = config_from_text(text, "yaml")

    assert config.holidays[0].date == date(2026, 12, 24)
    assert config.teams[0].digest_time == time(9, 15)


def test_unquoted_yaml_time_gets_a_hint():
    text = "version: 1\nteams:\n- {name: S, approvals_channel: C0S, approvers: {users: [U0L]}, digest_time: 10:30}\nleave_types: []\n"

    with pytest.raises(ConfigError) as raised:
        config_from_text(text, "yaml")

    assert raised.value.errors == ['teams[0].digest_time: must be a time like "09:00" (in YAML, put it in quotes)']


@pytest.mark.parametrize(
    ("fmt", "text", "expected"),
    [
        ("json", '{"version": 1, "version": 1}', "config.json: not valid JSON: duplicate key 'version'"),
        ("json", '{"version": 1,', "config.json: not valid JSON:"),
        ("json", '{"version": NaN}', "config.json: not valid JSON: NaN is not a number"),
        ("yaml", "version: 1\nversion: 1\n", "config.json: not valid YAML:"),
        ("yaml", "teams: [\n", "config.json: not valid YAML:"),
    ],
)
def test_undecodable_text_is_a_config_error(fmt, text, expected):
    with pytest.raises(ConfigError) as raised:
        config_from_text(text, fmt, source="config.json")

    assert raised.value.errors[0].startswith(expected)


@pytest.mark.parametrize("name", ["config.json", "config.yaml", "config.yml"])
def test_files_round_trip_by_extension(tmp_path, name):
    config = parse_config(example())
    path = tmp_path / name

    dump_config_file(config, path)

    assert load_config_file(path) == config
    if name.endswith("json"):
        assert json.loads(path.read_text()) == example()
    else:
        assert path.read_text().startswith("version: 1\n")
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_a_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError) as raised:
        load_config_file(tmp_path / "nope.json")

    assert "cannot read the file" in raised.value.errors[0]


def test_an_empty_configuration_round_trips():
    config = WorkspaceConfig()
    data = config_to_dict(config)

    assert parse_config(copy.deepcopy(data)) == config
    assert config_to_dict(parse_config(data)) == data


def test_a_company_day_or_a_blackout_given_twice_is_refused_naming_both():
    data = minimal()
    data["holidays"] = [{"date": "2031-12-24", "name": "Company day"}, {"date": "2031-12-24", "name": "Eve"},
                        {"date": "2031-12-24", "name": "Support's day", "team": "Support"}]
    data["blackouts"] = [{"start": "2031-12-14", "end": "2031-12-31", "team": "Support"},
                         {"start": "2031-12-14", "end": "2031-12-31", "team": "Support", "reason": "Again"},
                         {"start": "2031-12-14", "end": "2031-12-31"}]
    assert errors_of(data) == [
        "holidays[1]: the same date 2031-12-24, team every team as holidays[0]",
        "blackouts[1]: the same start 2031-12-14, end 2031-12-31, team Support as blackouts[0]",
    ]
