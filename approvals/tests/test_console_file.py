"""The configuration file: the diff (pure), `import_config`'s summary and --replace, and the console's
download, upload, preview and apply.

Hannah (HR) is a superuser here: applying a file needs every configuration permission.
Sam is staff without them.
"""

import copy
import io
import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from approvals.config_diff import ADDED, CHANGED, REMOVED, config_diff
from approvals.config_file import parse_config
from approvals.config_store import config_apply, config_from_database
from approvals.models import Blackout, CompanyHoliday, LeaveType, Team

EXAMPLE_PATH = Path(__file__).resolve().parents[2] / "examples" / "config.example.json"
EXAMPLE = json.loads(EXAMPLE_PATH.read_text())


def example(**changes) -> dict:
    data = copy.deepcopy(EXAMPLE)
    data.update(changes)
    return data


# --- The diff (pure) ------------------------------------------------------------------------------


def test_no_changes_between_equal_configurations():
    config = parse_config(EXAMPLE)
    diff = config_diff(config, config)
    assert diff.empty
    assert diff.counts() == "no changes"


def test_it_names_added_changed_and_removed_entries_by_their_file_keys():
    new = example()
    new["teams"][0]["max_out"] = 5
    new["teams"][0]["approvers"]["users"].append("U07NEWLEAD")
    new["teams"][0]["holidays"]["subdivision"] = None
    del new["teams"][2]  # Operations removed
    new["teams"].append({**copy.deepcopy(EXAMPLE["teams"][1]), "name": "Support", "default": False,
                         "approvals_channel": "C0SUPPORTAPPROVE"})
    new["leave_types"] = [t for t in new["leave_types"] if t["code"] != "unpaid"]
    new["fallback_approvers"]["users"] = []
    new["holidays"][0]["name"] = "Company day off"
    diff = config_diff(parse_config(EXAMPLE), parse_config(new))

    by = {(c.kind, c.section, c.name): c for c in diff.changes}
    engineering = by[(CHANGED, "teams", "Engineering")]
    assert [f.key for f in engineering.fields] == ["approvers.users", "max_out", "holidays.subdivision"]
    assert engineering.fields[1].old == 3 and engineering.fields[1].new == 5
    assert (ADDED, "teams", "Support") in by
    assert (REMOVED, "teams", "Operations") in by
    assert (REMOVED, "leave_types", "unpaid") in by
    assert (CHANGED, "workspace", "fallback_approvers.users") in by
    holiday = [c for c in diff.of("holidays") if c.kind == CHANGED]
    assert len(holiday) == 1 and holiday[0].fields[0].key == "name"
    assert {c.name for c in diff.removals} >= {"Operations", "unpaid"}
    assert "1 team added" in diff.counts() and "1 leave type removed" in diff.counts()
    assert "- team Operations" in diff.lines()
    assert "~ team Engineering: approvers.users, max_out, holidays.subdivision" in diff.lines()


def test_a_holiday_moved_to_another_day_is_removed_and_added():
    new = example()
    new["holidays"][0]["date"] = "2026-12-23"
    diff = config_diff(parse_config(EXAMPLE), parse_config(new))
    assert [c.kind for c in diff.of("holidays")] == [ADDED, REMOVED]


def test_a_blackout_extended_is_changed():
    new = example()
    new["blackouts"][0]["end"] = "2027-01-06"
    diff = config_diff(parse_config(EXAMPLE), parse_config(new))
    (change,) = diff.of("blackouts")
    assert change.kind == CHANGED and change.fields[0].key == "end"


def test_a_past_approvals_channel_the_file_leaves_out_is_a_removal():
    """The ledger reads a team's past approvals channels; a file that no longer lists one (an old export,
    one written by hand) would silently stop that history counting, so it is asked about as a removal."""
    [past] = EXAMPLE["teams"][0]["past_approvals_channels"]
    new = example()
    new["teams"][0]["past_approvals_channels"] = []
    diff = config_diff(parse_config(EXAMPLE), parse_config(new))
    assert [(c.kind, c.section, c.name) for c in diff.removals] == [
        (REMOVED, "past_approvals_channels", f"{past} (Engineering)")]
    assert f"- past approvals channel {past} (Engineering)" in diff.lines()
    assert "1 past approvals channel removed" in diff.counts()


def test_a_past_approvals_channel_passed_to_another_team_is_still_read_and_not_a_removal():
    [past] = EXAMPLE["teams"][0]["past_approvals_channels"]
    new = example()
    new["teams"][0]["past_approvals_channels"] = []
    new["teams"][1]["past_approvals_channels"] = [past]
    assert config_diff(parse_config(EXAMPLE), parse_config(new)).removals == ()


def test_a_new_approvals_channel_keeps_the_old_one_and_asks_about_nothing():
    """config_apply keeps the approvals channel a team leaves among its past ones, and a renamed team's
    history goes with it: neither is a removal."""
    new = example()
    new["teams"][0]["approvals_channel"] = "C0NEWAPPROVE"
    new["teams"][0]["name"] = "Platform"
    new["teams"][0]["past_names"] = ["Engineering", *EXAMPLE["teams"][0]["past_names"]]
    for entry in (*new["holidays"], *new["blackouts"]):
        entry["team"] = "Platform" if entry["team"] == "Engineering" else entry["team"]
    diff = config_diff(parse_config(EXAMPLE), parse_config(new))
    assert diff.removals == ()


def test_reordering_teams_is_a_change():
    new = example()
    new["teams"] = list(reversed(new["teams"]))
    diff = config_diff(parse_config(EXAMPLE), parse_config(new))
    assert diff.teams_reordered and not diff.changes
    assert diff.counts() == "teams reordered"


# --- import_config ------------------------------------------------------------------------------


def run(*args) -> str:
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command(*args, stdout=stdout, stderr=stderr)
    return stdout.getvalue()


def write_json(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data))
    return path


@pytest.mark.django_db
def test_import_prints_what_changes(tmp_path):
    run("import_config", str(EXAMPLE_PATH))
    new = example()
    new["teams"][0]["max_out"] = 5
    out = run("import_config", str(write_json(tmp_path / "c.json", new)))
    assert "Changes: 1 team changed" in out
    assert "  ~ team Engineering: max_out" in out
    assert Team.objects.get(name="Engineering").max_out == 5


@pytest.mark.django_db
def test_import_refuses_to_remove_a_team_made_in_the_admin_without_replace(tmp_path):
    """Issue 10: import_config silently replaced the team just made in the admin."""
    run("import_config", str(EXAMPLE_PATH))
    Team.objects.create(name="Made in the admin", approvals_channel="C0MADE", approvers_users=["U0MADE"],
                        position=9)
    with pytest.raises(CommandError, match="would remove 1 entry.*--replace"):
        run("import_config", "--no-input", str(EXAMPLE_PATH))
    assert Team.objects.filter(name="Made in the admin").exists()

    out = run("import_config", "--replace", str(EXAMPLE_PATH))
    assert "  - team Made in the admin" in out
    assert not Team.objects.filter(name="Made in the admin").exists()


@pytest.mark.django_db
def test_import_keeps_a_past_approvals_channel_without_replace(tmp_path):
    run("import_config", str(EXAMPLE_PATH))
    [past] = EXAMPLE["teams"][0]["past_approvals_channels"]
    new = example()
    new["teams"][0]["past_approvals_channels"] = []
    path = write_json(tmp_path / "c.json", new)
    with pytest.raises(CommandError, match="would remove 1 entry.*--replace"):
        run("import_config", "--no-input", str(path))
    assert Team.objects.get(name="Engineering").past_approvals_channels == [past]

    out = run("import_config", "--replace", str(path))
    assert f"  - past approvals channel {past} (Engineering)" in out
    assert Team.objects.get(name="Engineering").past_approvals_channels == []


@pytest.mark.django_db
def test_import_asks_before_removing_when_run_in_a_terminal(tmp_path, monkeypatch):
    run("import_config", str(EXAMPLE_PATH))
    smaller = example(blackouts=[])
    path = write_json(tmp_path / "c.json", smaller)
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    with pytest.raises(CommandError):
        run("import_config", str(path))
    assert Blackout.objects.count() == 1
    monkeypatch.setattr("builtins.input", lambda prompt: "yes")
    run("import_config", str(path))
    assert Blackout.objects.count() == 0


@pytest.mark.django_db
def test_import_dry_run_changes_nothing(tmp_path):
    out = run("import_config", "--dry-run", str(EXAMPLE_PATH))
    assert "Changes: 1 workspace setting changed, 3 teams added, 4 leave types added, 2 company holidays added, 1 blackout added" in out
    assert "Dry run: nothing was changed." in out
    assert not Team.objects.exists()


# --- The console ----------------------------------------------------------------------------------


@pytest.fixture
def hr_client(client, django_user_model, fake_slack):
    hannah = django_user_model.objects.create_superuser("hannah", "hannah@example.com", "a-long-test-password")
    client.force_login(hannah)
    return client


def upload(client, data, name="config.json"):
    text = data if isinstance(data, str) else json.dumps(data)
    return client.post(reverse("console:config_upload"),
                       {"file": SimpleUploadedFile(name, text.encode(), content_type="application/json")})


@pytest.mark.django_db
def test_download_is_the_export_config_file(hr_client):
    config_apply(config=parse_config(EXAMPLE))
    response = hr_client.get(reverse("console:config_download"))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="timeoff-config-')
    assert json.loads(response.content) == EXAMPLE
    yaml_response = hr_client.get(reverse("console:config_download"), {"format": "yaml"})
    assert yaml_response["Content-Disposition"].endswith('.yaml"')


@pytest.mark.django_db
def test_upload_shows_the_preview_and_apply_applies_it(hr_client):
    config_apply(config=parse_config(EXAMPLE))
    new = example()
    new["teams"][1]["max_out"] = 7
    new["leave_types"].append({"code": "parental", "name": "Parental leave"})
    response = upload(hr_client, new)
    assert response.status_code == 302 and response["Location"] == reverse("console:config_preview")

    preview = hr_client.get(reverse("console:config_preview"))
    assert "1 team changed, 1 leave type added" in preview.text
    assert "<code>max_out</code></td><td>2</td><td>7</td>" in preview.text
    assert "parental" in preview.text
    assert Team.objects.get(name="Sales").max_out == 2  # nothing applied yet

    fingerprint = preview.context["fingerprint"]
    response = hr_client.post(reverse("console:config_apply"), {"fingerprint": fingerprint}, follow=True)
    assert "Applied config.json: 1 team changed, 1 leave type added." in response.text
    assert Team.objects.get(name="Sales").max_out == 7
    assert LeaveType.objects.filter(code="parental").exists()
    assert hr_client.get(reverse("console:config_preview")).status_code == 302  # the upload is gone


@pytest.mark.django_db
def test_a_file_too_large_is_refused_and_never_spooled_to_disk(hr_client, monkeypatch):
    from django.core.files.uploadhandler import TemporaryFileUploadHandler

    spooled = []
    original = TemporaryFileUploadHandler.receive_data_chunk

    def counting(self, raw_data, start):
        spooled.append(len(raw_data))
        return original(self, raw_data, start)

    monkeypatch.setattr(TemporaryFileUploadHandler, "receive_data_chunk", counting)
    big = "x" * (5 * 1024 * 1024)  # more than Django keeps in memory: it would go to a temporary file
    response = upload(hr_client, big, name="huge.json")
    assert response.status_code == 400
    assert "huge.json: the file is larger than 1024 KB; is it a configuration file?" in response.text
    assert sum(spooled) <= 1024 * 1024, sum(spooled)  # at most the limit reached the disk, not 5 MB
    # A file just under the limit is read as usual (and refused for what it holds).
    response = upload(hr_client, "x" * (1024 * 1024 - 10), name="almost.json")
    assert response.status_code == 400 and "larger than" not in response.text


@pytest.mark.django_db
def test_removing_needs_the_box_ticked(hr_client):
    config_apply(config=parse_config(EXAMPLE))
    upload(hr_client, example(holidays=[]))
    preview = hr_client.get(reverse("console:config_preview"))
    assert "2 company holidays removed" in preview.text
    assert 'name="confirm_removals"' in preview.text
    response = hr_client.post(reverse("console:config_apply"), {"fingerprint": preview.context["fingerprint"]})
    assert response.status_code == 400
    assert "Tick the box" in response.text
    assert CompanyHoliday.objects.count() == 2
    hr_client.post(reverse("console:config_apply"), {"fingerprint": preview.context["fingerprint"],
                                                     "confirm_removals": "yes"})
    assert CompanyHoliday.objects.count() == 0
    assert "stop counting towards balances" not in preview.text  # no channel dropped


@pytest.mark.django_db
def test_dropping_a_past_approvals_channel_says_what_it_costs_before_the_box_is_ticked(hr_client):
    config_apply(config=parse_config(EXAMPLE))
    [past] = EXAMPLE["teams"][0]["past_approvals_channels"]
    new = example()
    new["teams"][0]["past_approvals_channels"] = []
    upload(hr_client, new)
    preview = hr_client.get(reverse("console:config_preview"))
    assert "1 past approvals channel removed" in preview.text
    assert "requests in a dropped past approvals channel stop counting towards balances" in preview.text
    response = hr_client.post(reverse("console:config_apply"), {"fingerprint": preview.context["fingerprint"]})
    assert response.status_code == 400
    assert Team.objects.get(name="Engineering").past_approvals_channels == [past]


@pytest.mark.django_db
def test_a_change_made_meanwhile_shows_the_new_preview_instead_of_applying(hr_client):
    config_apply(config=parse_config(EXAMPLE))
    new = example()
    new["teams"][0]["max_out"] = 9
    upload(hr_client, new)
    fingerprint = hr_client.get(reverse("console:config_preview")).context["fingerprint"]
    Team.objects.filter(name="Sales").update(nudge_after_hours=12)  # someone edits the admin
    response = hr_client.post(reverse("console:config_apply"), {"fingerprint": fingerprint})
    assert response.status_code == 409
    assert "changed since this preview" in response.text
    assert Team.objects.get(name="Engineering").max_out == 3


@pytest.mark.django_db
def test_errors_name_the_field_and_nothing_is_kept(hr_client):
    bad = example()
    bad["teams"][1]["approvals_channel"] = "#sales"
    bad["leave_types"][0]["annual_allowance_days"] = "lots"
    response = upload(hr_client, bad)
    assert response.status_code == 400
    assert "teams[1].approvals_channel" in response.text
    assert "leave_types[0].annual_allowance_days" in response.text
    assert hr_client.get(reverse("console:config_preview")).status_code == 302


@pytest.mark.django_db
def test_not_json_and_no_file_are_refused_politely(hr_client):
    response = upload(hr_client, "{not json", name="broken.json")
    assert response.status_code == 400
    assert "broken.json: not valid JSON" in response.text
    response = hr_client.post(reverse("console:config_upload"))
    assert response.status_code == 400
    assert "Choose a configuration file" in response.text


@pytest.mark.django_db
def test_yaml_uploads_are_read_as_yaml(hr_client):
    import yaml

    response = upload(hr_client, yaml.safe_dump(EXAMPLE), name="config.yaml")
    assert response.status_code == 302
    assert "3 teams added" in hr_client.get(reverse("console:config_preview")).text


@pytest.mark.django_db
def test_staff_without_permissions_may_preview_but_not_apply(client, django_user_model, fake_slack):
    sam = django_user_model.objects.create_user("sam", "sam@example.com", "a-long-test-password", is_staff=True)
    client.force_login(sam)
    upload(client, EXAMPLE)
    preview = client.get(reverse("console:config_preview"))
    assert preview.status_code == 200
    assert "Apply these changes" not in preview.text
    response = client.post(reverse("console:config_apply"), {"fingerprint": preview.context["fingerprint"]})
    assert response.status_code == 403
    assert not Team.objects.exists()


def test_downloading_the_configuration_needs_the_permissions_to_view_it(client, django_user_model, fake_slack):
    from django.contrib.auth.models import Permission

    sam = django_user_model.objects.create_user("sam", "sam@example.com", "a-long-test-password", is_staff=True)
    client.force_login(sam)
    refused = client.get(reverse("console:config_download"))
    assert refused.status_code == 403 and "approvals.view_team" in refused.text
    sam.user_permissions.add(*Permission.objects.filter(codename__in=[
        "view_team", "view_leavetype", "view_companyholiday", "view_blackout", "view_workspacepolicy"]))
    assert client.get(reverse("console:config_download")).status_code == 200


@pytest.mark.django_db
def test_the_preview_shows_people_and_channels_by_name(hr_client):
    from fake_slack.personas import BOB, C_ENG_APPROVALS

    config_apply(config=parse_config(EXAMPLE))
    new = example()
    new["teams"][0]["approvers"]["users"] = [BOB]
    new["teams"][0]["approvals_channel"] = C_ENG_APPROVALS
    hr_client.get(reverse("console:search"), {"q": "bob"})  # reads the directory (immediate tasks)
    upload(hr_client, new)
    preview = hr_client.get(reverse("console:config_preview"))
    assert "Bob Brown" in preview.text
    assert "#eng-approvals" in preview.text


@pytest.mark.django_db
def test_the_applied_file_matches_the_database(hr_client):
    upload(hr_client, EXAMPLE)
    fingerprint = hr_client.get(reverse("console:config_preview")).context["fingerprint"]
    hr_client.post(reverse("console:config_apply"), {"fingerprint": fingerprint})
    assert config_from_database() == parse_config(EXAMPLE)
