"""Configuration files made to hurt: each is refused with a short error naming the problem, never a crash,
a traceback or a message bigger than the file. The console takes uploads from any staff member, and
`import_config` files from anyone who can hand one to an operator."""

import io
import json

import holidays
import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from approvals import config_file
from approvals.config_fields import HOLIDAY_SUBDIVISION_MAX_LENGTH
from approvals.config_file import MAX_ERRORS_SHOWN, ConfigError, config_from_text, config_to_text, parse_config
from approvals.models import Team

TEAM = "{name: Support, approvals_channel: C0SUPPORT, approvers: {users: [U0LEAD]}}"


def yaml_file(*lines: str) -> str:
    """A valid YAML file (one team, no leave types) with `lines` added at the end."""
    return "\n".join(["version: 1", f"teams: [{TEAM}]", "leave_types: []", *lines]) + "\n"


def errors_of(text: str, fmt: str = "yaml") -> list[str]:
    with pytest.raises(ConfigError) as raised:
        config_from_text(text, fmt, source=f"config.{fmt}")
    return raised.value.errors


def alias_bomb(levels: int) -> str:
    """A "billion laughs": each anchor is a list of nine aliases of the one before, so `levels` lines
    stand for 9**levels strings. Six levels are about 430 bytes."""
    lines = ['  a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"  a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return yaml_file("anchors:", *lines, f"fallback_approvers: {{users: *a{levels - 1}}}")


# --- Anchors and aliases -----------------------------------------------------------------------------


def test_a_yaml_alias_bomb_is_refused_in_one_short_error():
    text = alias_bomb(6)

    errors = errors_of(text)

    assert len(errors) == 1
    assert errors[0].startswith("config.yaml: not valid YAML: anchors and aliases (&, *) are not supported")
    assert len(errors[0]) < 500  # it was 3.8 MB for this file of 430 bytes


@pytest.mark.parametrize("line", [
    "fallback_approvers: &hr {users: [U0HR]}",  # an anchor, even one nothing refers to
    "requesters: {users: &people [U01]}\nfallback_approvers: {users: *people}",
])
def test_any_anchor_or_alias_is_refused(line):
    assert errors_of(yaml_file(line))[0].startswith(
        "config.yaml: not valid YAML: anchors and aliases (&, *) are not supported; write each value out in full")


def test_an_export_never_writes_an_alias_so_it_imports_again(monkeypatch):
    approvers = ["U0LEAD"]  # the same list twice: YAML's dumper would write it once, as &id001, then *id001
    data = {"version": 1, "teams": [
        {"name": "Support", "approvals_channel": "C0SUPPORT", "approvers": {"users": approvers}},
        {"name": "Sales", "approvals_channel": "C0SALES", "approvers": {"users": approvers}},
    ], "leave_types": []}
    monkeypatch.setattr(config_file, "config_to_dict", lambda config: data)

    text = config_to_text(parse_config(data), "yaml")

    assert "&" not in text and "*" not in text
    assert config_from_text(text, "yaml") == parse_config(data)


# --- Values shown in errors ------------------------------------------------------------------------


def test_a_list_where_an_id_goes_is_named_not_printed():
    data = {"version": 1, "teams": [], "leave_types": [],
            "fallback_approvers": {"users": [["U0HR"] * 100_000, {"id": "U0HR"}]}}

    errors = errors_of(json.dumps(data), "json")

    assert errors == [
        "fallback_approvers.users[0]: must be a Slack user id like U0123ABCD, not a list",
        "fallback_approvers.users[1]: must be a Slack user id like U0123ABCD, not an object",
    ]


@pytest.mark.parametrize(("key", "expected"), [
    ("name", "teams[0].name: must be a string, not a list"),
    ("approvals_channel", "teams[0].approvals_channel: must be a Slack channel id like C0123ABCD, not a list"),
])
def test_a_list_where_text_goes_is_named_not_printed(key, expected):
    team = {"name": "Support", "approvals_channel": "C0SUPPORT", "approvers": {"users": ["U0LEAD"]}}
    team[key] = ["x"] * 100_000

    assert errors_of(json.dumps({"version": 1, "teams": [team], "leave_types": []}), "json") == [expected]


@pytest.mark.parametrize(("change", "expected"), [
    (lambda team: team.update(approvals_channel="#" + "x" * 100_000),
     "teams[0].approvals_channel: '#" + "x" * 59 + "…' must be a Slack channel id like C0123ABCD"),
    (lambda team: team.update({"x" * 100_000: 1}), "teams[0]." + "x" * 60 + "…: unknown key"),
    (lambda team: team.update(holidays={"country": "X" * 100_000}),
     "teams[0].holidays.country: unknown country code '" + "X" * 60 + "…'"),
])
def test_a_long_value_is_cut_short_in_its_error(change, expected):
    team = {"name": "Support", "approvals_channel": "C0SUPPORT", "approvers": {"users": ["U0LEAD"]}}
    change(team)

    errors = errors_of(json.dumps({"version": 1, "teams": [team], "leave_types": []}), "json")

    assert len(errors) == 1 and errors[0].startswith(expected), errors
    assert len(errors[0]) < 300


def test_at_most_a_hundred_errors_are_listed_and_the_rest_counted():
    data = {"version": 1, "teams": [], "leave_types": [], "fallback_approvers": {"users": ["nobody"] * 1000}}

    with pytest.raises(ConfigError) as raised:
        config_from_text(json.dumps(data), "json")

    assert raised.value.count == 1000
    assert len(raised.value.errors) == MAX_ERRORS_SHOWN + 1
    assert raised.value.errors[-1] == f"... and {1000 - MAX_ERRORS_SHOWN} more errors"


@pytest.mark.django_db
def test_import_config_counts_every_error_though_it_lists_a_hundred(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"version": 1, "teams": [], "leave_types": [],
                                "fallback_approvers": {"users": ["nobody"] * 1000}}))
    stderr = io.StringIO()

    with pytest.raises(CommandError, match="1000 errors; the configuration was not changed"):
        call_command("import_config", str(path), stdout=io.StringIO(), stderr=stderr)

    assert len(stderr.getvalue().splitlines()) == MAX_ERRORS_SHOWN + 1


# --- Shapes the parsers cannot hold ----------------------------------------------------------------


@pytest.mark.parametrize("key", ["[a, b]", "{a: 1}"])
def test_a_list_or_an_object_as_a_yaml_key_is_refused(key):
    errors = errors_of(yaml_file(f"? {key}", ": 1"))

    assert errors[0].startswith("config.yaml: not valid YAML: while reading a mapping")
    assert "found a list or an object as a key" in errors[0]


@pytest.mark.parametrize(("fmt", "text"), [
    ("yaml", "version: 1\nteams: " + "[" * 5_000 + "]" * 5_000 + "\n"),
    ("json", '{"version": 1, "teams": ' + "[" * 20_000 + "]" * 20_000 + "}"),
])
def test_lists_nested_thousands_deep_are_refused(fmt, text):
    language = fmt.upper()
    assert errors_of(text, fmt) == [f"config.{fmt}: not valid {language}: lists or objects nested too deeply"]


def test_a_time_zone_of_thousands_of_folders_is_a_field_error():
    # zoneinfo recursed once per "/" and raised RecursionError.
    team = {"name": "Support", "approvals_channel": "C0SUPPORT", "approvers": {"users": ["U0LEAD"]},
            "timezone": "/".join(["Europe"] * 5_000)}

    errors = errors_of(json.dumps({"version": 1, "teams": [team], "leave_types": []}), "json")

    assert errors == ["teams[0].timezone: must be at most 64 characters; use an IANA name like Europe/Paris"]


@pytest.mark.parametrize("key", ["digest_time", "date"])
def test_digits_of_other_scripts_are_a_field_error(key):
    # "0٩:30" (an Arabic-Indic nine) matched \d, and time.fromisoformat then raised ValueError.
    text = yaml_file("holidays: [{date: '٢٠٢٦-١٢-٢٤', name: Company day}]") if key == "date" else (
        "version: 1\nteams: [{name: S, approvals_channel: C0S, approvers: {users: [U0L]}, digest_time: '0٩:30'}]\n"
        "leave_types: []\n")

    errors = errors_of(text)

    assert len(errors) == 1 and errors[0].split(": ")[1].startswith("must be a"), errors


@pytest.mark.django_db
def test_import_config_refuses_a_hostile_file_cleanly_and_changes_nothing(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml_file("? [a]", ": 1"))
    stderr = io.StringIO()

    with pytest.raises(CommandError, match="1 error; the configuration was not changed"):
        call_command("import_config", str(path), stdout=io.StringIO(), stderr=stderr)

    assert "found a list or an object as a key" in stderr.getvalue()
    assert not Team.objects.exists()


@pytest.fixture
def hr_client(client, django_user_model, fake_slack):
    hannah = django_user_model.objects.create_superuser("hannah", "hannah@example.com", "a-long-test-password")
    client.force_login(hannah)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(("text", "expected"), [
    (alias_bomb(6), "anchors and aliases (&amp;, *) are not supported"),
    (yaml_file("? [a]", ": 1"), "found a list or an object as a key"),
    ("version: 1\nteams: " + "[" * 5_000 + "]" * 5_000 + "\n", "lists or objects nested too deeply"),
], ids=["alias bomb", "list as a key", "nested deep"])
def test_the_console_refuses_a_hostile_upload_with_a_small_page(hr_client, text, expected):
    hr_client.raise_request_exception = False  # a crash must show as a 500 here, not as the test's exception

    response = hr_client.post(reverse("console:config_upload"), {
        "file": SimpleUploadedFile("config.yaml", text.encode(), content_type="application/yaml")})

    assert response.status_code == 400
    assert expected in response.text
    assert len(response.content) < 100_000
    assert hr_client.get(reverse("console:config_preview")).status_code == 302  # nothing kept


# --- YAML's own reading of values ------------------------------------------------------------------


def test_a_yaml_error_is_never_called_json():
    # A number of 5,000 digits is more than Python converts: YAML's reader raises ValueError.
    text = yaml_file("fallback_approvers: {users: [" + "9" * 5_000 + "]}")

    assert errors_of(text)[0].startswith("config.yaml: not valid YAML: Exceeds the limit")


@pytest.mark.parametrize(("line", "expected"), [
    ("holidays: [{date: 2027-02-29, name: Leap day}]", "holidays[0].date: '2027-02-29' is not a real date"),
    ("blackouts: [{start: 2026-12-14, end: 2026-13-01}]", "blackouts[0].end: '2026-13-01' is not a real date"),
    ("holidays: [{date: 2026-12-24 10:00, name: Company day}]", "holidays[0].date: must be a date like 2026-12-24"),
])
def test_an_unquoted_yaml_date_is_checked_by_its_field(line, expected):
    # YAML read these as dates itself, and refused the whole file with "not valid JSON: day is out of
    # range for month", naming no field; a date with a time was a datetime, "must be a date".
    assert errors_of(yaml_file(line)) == [expected]


def test_unquoted_yaml_dates_still_import_and_a_name_that_looks_like_one_is_text():
    config = config_from_text(yaml_file(
        "holidays: [{date: 2026-12-24, name: 2026-12-24}]",
        "blackouts: [{start: 2026-12-14, end: 2026-12-31}]",
    ), "yaml")

    assert config.holidays[0].date.isoformat() == "2026-12-24"
    assert config.holidays[0].name == "2026-12-24"
    assert (config.blackouts[0].start.isoformat(), config.blackouts[0].end.isoformat()) == ("2026-12-14", "2026-12-31")


def test_an_explicitly_tagged_yaml_date_still_reads():
    assert config_from_text(yaml_file("holidays: [{date: !!timestamp 2026-12-24, name: Company day}]"),
                            "yaml").holidays[0].date.isoformat() == "2026-12-24"
    assert errors_of(yaml_file("holidays: [{date: !!timestamp 2027-02-29, name: Leap day}]"))[0].startswith(
        "config.yaml: not valid YAML:")


# --- Holiday subdivisions fit the database ---------------------------------------------------------


def test_every_subdivision_the_holidays_package_knows_fits_the_column():
    longest = max((code for codes in holidays.list_supported_countries().values() for code in codes), key=len)

    assert len(longest) <= HOLIDAY_SUBDIVISION_MAX_LENGTH
    assert Team._meta.get_field("holiday_subdivision").max_length == HOLIDAY_SUBDIVISION_MAX_LENGTH
    assert len("São Paulo Capital") == 17  # BR's: the column was 16, and PostgreSQL refused it


def test_a_subdivision_longer_than_the_column_is_a_field_error(monkeypatch):
    # Should a newer holidays package know a longer code, the file check refuses it, not the database.
    too_long = "S" * (HOLIDAY_SUBDIVISION_MAX_LENGTH + 1)
    supported = holidays.list_supported_countries()
    monkeypatch.setattr(holidays, "list_supported_countries",
                        lambda: {**supported, "BR": [*supported["BR"], too_long]})
    team = {"name": "Support", "approvals_channel": "C0SUPPORT", "approvers": {"users": ["U0LEAD"]},
            "holidays": {"country": "BR", "subdivision": too_long}}

    errors = errors_of(json.dumps({"version": 1, "teams": [team], "leave_types": []}), "json")

    assert errors == [f"teams[0].holidays.subdivision: must be at most {HOLIDAY_SUBDIVISION_MAX_LENGTH} characters"]


@pytest.mark.django_db
def test_import_config_stores_the_longest_subdivision(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "leave_types": [], "teams": [
        {"name": "São Paulo", "approvals_channel": "C0SP", "approvers": {"users": ["U0LEAD"]},
         "holidays": {"country": "BR", "subdivision": "São Paulo Capital"}}]}, allow_unicode=True))

    call_command("import_config", str(path), stdout=io.StringIO(), stderr=io.StringIO())

    team = Team.objects.get(name="São Paulo")
    assert team.holiday_subdivision == "São Paulo Capital"
    team.full_clean()  # the model's length check agrees with the file's
