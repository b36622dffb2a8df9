"""`import_config` and `export_config`: whole-file validation, atomic import, exact round trips."""

import io
import json
from pathlib import Path

import pytest
import yaml
from django.core.cache import cache
from django.core.management import CommandError, call_command

from approvals.config_file import parse_config
from approvals.config_store import config_from_database, current_config, invalidate_config
from approvals.models import LeaveType, Team

EXAMPLE_PATH = Path(__file__).resolve().parents[2] / "examples" / "config.example.json"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_snapshot_from_other_tests():
    invalidate_config()


def run(*args) -> tuple[str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command(*args, stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


def write_json(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data))
    return path


def test_it_imports_the_example_file():
    out, _ = run("import_config", str(EXAMPLE_PATH))

    assert out.endswith("Imported 3 teams, 4 leave types, 2 holidays, 1 blackout\n")
    assert config_from_database() == parse_config(json.loads(EXAMPLE_PATH.read_text()))


def test_it_imports_yaml(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(json.loads(EXAMPLE_PATH.read_text()), sort_keys=False))

    run("import_config", str(path))

    assert [team.name for team in config_from_database().teams] == ["Engineering", "Sales", "Operations"]


def test_an_invalid_file_prints_every_error_and_changes_nothing(tmp_path):
    run("import_config", str(EXAMPLE_PATH))
    before = config_from_database()
    data = json.loads(EXAMPLE_PATH.read_text())
    data["teams"][0]["max_out"] = 10  # a valid change that must not be applied either
    data["teams"][1]["approvals_channel"] = "#sales-approvals"
    data["teams"][2]["approvers"] = None
    data["leave_types"][1]["code"] = "vacation"

    stderr = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("import_config", str(write_json(tmp_path / "bad.json", data)), stderr=stderr)

    assert stderr.getvalue().splitlines() == [
        "teams[1].approvals_channel: '#sales-approvals' must be a Slack channel id like C0123ABCD",
        "teams[2].approvers: a team needs at least one approver: list users or set a channel",
        "leave_types[1].code: duplicate code 'vacation' (also leave_types[0])",
    ]
    assert "3 errors; the configuration was not changed" in str(raised.value)
    assert config_from_database() == before


def test_a_file_that_is_not_json_is_refused(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("{not json")
    stderr = io.StringIO()

    with pytest.raises(CommandError):
        call_command("import_config", str(path), stderr=stderr)

    assert "not valid JSON" in stderr.getvalue()
    assert not Team.objects.exists()


def test_a_missing_file_is_refused(tmp_path):
    stderr = io.StringIO()

    with pytest.raises(CommandError):
        call_command("import_config", str(tmp_path / "missing.json"), stderr=stderr)

    assert "cannot read the file" in stderr.getvalue()


def test_import_changes_an_approvals_channel_and_keeps_the_old_one(tmp_path):
    run("import_config", str(EXAMPLE_PATH))
    export, _ = run("export_config")
    data = json.loads(export)
    data["teams"][1]["approvals_channel"] = "C0NEWSALES"

    run("import_config", str(write_json(tmp_path / "moved.json", data)))

    sales = Team.objects.get(name="Sales")
    assert sales.approvals_channel == "C0NEWSALES"
    assert sales.past_approvals_channels == ["C09SALESAPPROVE"]
    exported_again = json.loads(run("export_config")[0])
    assert exported_again["teams"][1]["past_approvals_channels"] == ["C09SALESAPPROVE"]


@pytest.fixture
def local_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "cmd"}}
    cache.clear()
    yield cache
    cache.clear()


def test_import_invalidates_the_cached_snapshot(local_cache, tmp_path):
    run("import_config", str(EXAMPLE_PATH))
    assert current_config().leave_type("vacation").annual_allowance_days == 25
    data = json.loads(EXAMPLE_PATH.read_text())
    data["leave_types"][0]["annual_allowance_days"] = 30

    run("import_config", str(write_json(tmp_path / "more.json", data)))

    assert current_config().leave_type("vacation").annual_allowance_days == 30


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_export_to_stdout_in_either_format(fmt):
    run("import_config", str(EXAMPLE_PATH))

    out, _ = run("export_config", "--format", fmt)

    data = json.loads(out) if fmt == "json" else yaml.safe_load(out)
    assert data == json.loads(EXAMPLE_PATH.read_text())


def test_export_defaults_to_json_and_matches_the_example_byte_for_byte():
    run("import_config", str(EXAMPLE_PATH))

    out, _ = run("export_config")

    assert out == EXAMPLE_PATH.read_text()


def test_export_to_a_file_whose_extension_names_no_format_asks_for_one_and_writes_nothing(tmp_path):
    run("import_config", str(EXAMPLE_PATH))
    target = tmp_path / "config.toml"

    with pytest.raises(CommandError, match=r"config.toml: name a .json, .yml or .yaml file, or give --format"):
        run("export_config", str(target))
    assert not target.exists()

    run("export_config", str(target), "--format", "yaml")
    assert yaml.safe_load(target.read_text()) == json.loads(EXAMPLE_PATH.read_text())


@pytest.mark.parametrize("name", ["config.json", "config.yaml", "config.yml"])
def test_export_import_export_is_identical(tmp_path, name):
    run("import_config", str(EXAMPLE_PATH))
    first = tmp_path / f"first-{name}"
    second = tmp_path / f"second-{name}"

    out, _ = run("export_config", str(first))
    assert out == f"Exported the configuration to {first}\n"
    # Wipe and re-import from the export: nothing may be lost or reshaped.
    Team.objects.all().delete()
    LeaveType.objects.all().delete()
    run("import_config", str(first))
    run("export_config", str(second))

    assert second.read_text() == first.read_text()
    if name.endswith("json"):
        assert first.read_text() == EXAMPLE_PATH.read_text()
    else:
        assert yaml.safe_load(first.read_text()) == json.loads(EXAMPLE_PATH.read_text())


def test_export_of_an_empty_database_imports_cleanly(tmp_path):
    path = tmp_path / "empty.json"

    run("export_config", str(path))
    out, _ = run("import_config", str(path))

    assert out == "No changes: the configuration already matches the file.\n"


def test_a_file_with_two_leave_types_of_one_name_or_a_typo_for_a_year_is_refused(tmp_path):
    run("import_config", str(EXAMPLE_PATH))
    before = config_from_database()
    data = json.loads(EXAMPLE_PATH.read_text())
    data["leave_types"].append({"code": "vac2", "name": "vacation"})
    data["holidays"][0]["date"] = "9999-12-24"

    stderr = io.StringIO()
    with pytest.raises(CommandError) as refused:
        call_command("import_config", str(write_json(tmp_path / "bad.json", data)), stdout=io.StringIO(),
                     stderr=stderr)

    assert "2 errors; the configuration was not changed" in str(refused.value)
    assert stderr.getvalue().splitlines() == [
        "holidays[0].date: '9999-12-24' is not between 2000 and 2100; check the year",
        "leave_types[4].name: another leave type is already called 'Vacation' (leave_types[0], code 'vacation'); "
        "give each its own name, or people cannot tell them apart",
    ]
    assert config_from_database() == before


def test_leave_types_may_swap_names_in_one_import(tmp_path):
    # Each row is saved in turn: while Vacation is renamed Personal day, Personal day is still called so.
    run("import_config", str(EXAMPLE_PATH))
    data = json.loads(EXAMPLE_PATH.read_text())
    data["leave_types"][0]["name"], data["leave_types"][2]["name"] = "Personal day", "Vacation"

    run("import_config", str(write_json(tmp_path / "swapped.json", data)))

    assert dict(LeaveType.objects.values_list("code", "name")) == {
        "vacation": "Personal day", "sick": "Sick leave", "personal": "Vacation", "unpaid": "Unpaid leave"}
