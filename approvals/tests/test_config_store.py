"""The configuration store: applying a configuration, reading it back, model validation, the cached snapshot."""

import dataclasses
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.cache import cache, caches
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from approvals import config_store
from approvals.config_file import ConfigError, parse_config
from approvals.config_store import (
    GENERATION_KEY,
    config_apply,
    config_from_database,
    current_config,
    current_config_with,
    invalidate_config,
    team_change_approvals_channel,
)
from approvals.models import Blackout, CompanyHoliday, LeaveType, Team, WorkspacePolicy

EXAMPLE_PATH = Path(__file__).resolve().parents[2] / "examples" / "config.example.json"

pytestmark = pytest.mark.django_db


def example_config():
    return parse_config(json.loads(EXAMPLE_PATH.read_text()))


def replace_team(config, team_name, **changes):
    teams = tuple(dataclasses.replace(t, **changes) if t.name == team_name else t for t in config.teams)
    return dataclasses.replace(config, teams=teams)


def valid_team(**fields) -> Team:
    values = {"name": "Support", "approvals_channel": "C0SUPPORT", "approvers_users": ["U0LEAD"]}
    values.update(fields)
    return Team(**values)


@pytest.fixture
def local_cache(settings):
    """A cache that answers without SQL, so a warm read can be shown to make no query at all."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "config-store-tests"}
    }
    cache.clear()
    yield cache
    cache.clear()


@pytest.fixture(autouse=True)
def no_snapshot_from_other_tests():
    # A shared cache (Redis in CI) outlives each test's database transaction.
    invalidate_config()


# --- Applying and reading back ----------------------------------------------------------


def test_applied_configuration_reads_back_exactly():
    config = example_config()

    config_apply(config=config)

    assert config_from_database() == config
    assert Team.objects.count() == 3 and LeaveType.objects.count() == 4
    assert CompanyHoliday.objects.get(team__name="Sales").date == date(2026, 12, 31)
    assert Blackout.objects.get().team.name == "Engineering"
    assert WorkspacePolicy.objects.get().fallback_approvers == ["U02HRMAYA7"]


def test_reapplying_keeps_rows_whose_name_or_code_matches():
    config_apply(config=example_config())
    engineering_id = Team.objects.get(name="Engineering").pk
    vacation_id = LeaveType.objects.get(code="vacation").pk
    sales_id = Team.objects.get(name="Sales").pk

    config = example_config()
    config = replace_team(config, "Sales", name="Sales EMEA")
    config = dataclasses.replace(
        config,
        leave_types=config.leave_types[:2],
        holidays=tuple(h for h in config.holidays if h.team != "Sales"),
    )
    config_apply(config=config)

    assert Team.objects.get(name="Engineering").pk == engineering_id
    assert LeaveType.objects.get(code="vacation").pk == vacation_id
    assert Team.objects.get(name="Sales EMEA").pk != sales_id
    assert not Team.objects.filter(name="Sales").exists()
    assert list(LeaveType.objects.values_list("code", flat=True)) == ["vacation", "sick"]
    assert config_from_database() == config


def test_the_default_team_can_move_to_another_team():
    config_apply(config=example_config())
    config = replace_team(example_config(), "Operations", default=False)
    config = replace_team(config, "Engineering", default=True)

    config_apply(config=config)

    assert list(Team.objects.filter(is_default=True).values_list("name", flat=True)) == ["Engineering"]


def test_team_order_follows_the_configuration():
    config = example_config()
    reordered = dataclasses.replace(config, teams=tuple(reversed(config.teams)))

    config_apply(config=reordered)

    assert [team.name for team in current_config().teams] == ["Operations", "Sales", "Engineering"]


def test_an_invalid_configuration_changes_nothing():
    config_apply(config=example_config())
    before = config_from_database()
    bad = replace_team(example_config(), "Sales", approvals_channel="sales-approvals")
    bad = replace_team(bad, "Engineering", max_out=5)

    with pytest.raises(ConfigError) as raised:
        config_apply(config=bad)

    assert raised.value.errors == ["teams[1].approvals_channel: 'sales-approvals' must be a Slack channel id like C0123ABCD"]
    assert config_from_database() == before


def test_a_failure_halfway_through_rolls_everything_back(monkeypatch):
    config_apply(config=example_config())
    before = config_from_database()
    changed = replace_team(example_config(), "Engineering", max_out=9, approvals_channel="C0NEWENG")

    def fail(self, *args, **kwargs):
        raise RuntimeError("database went away")

    # Teams are written before leave types: fail after they have been changed.
    monkeypatch.setattr(LeaveType, "save", fail)
    with pytest.raises(RuntimeError):
        config_apply(config=changed)

    assert config_from_database() == before


# --- Approvals channel history ------------------------------------------------------------


def test_import_moves_a_changed_approvals_channel_to_the_past_list():
    config_apply(config=example_config())

    config_apply(config=replace_team(example_config(), "Sales", approvals_channel="C0NEWSALES"))

    sales = current_config().team_named("Sales")
    assert sales.approvals_channel == "C0NEWSALES"
    assert sales.past_approvals_channels == ("C09SALESAPPROVE",)
    assert sales.ledger_channels == ("C0NEWSALES", "C09SALESAPPROVE")


def without_team(config, name):
    return dataclasses.replace(config, teams=tuple(t for t in config.teams if t.name != name),
                               holidays=tuple(h for h in config.holidays if h.team != name),
                               blackouts=tuple(b for b in config.blackouts if b.team != name))


def test_a_removed_team_leaves_its_approvals_channels_to_the_ledger():
    """DESIGN §5: every approvals channel ever configured is read. Sales removed by a file (or the console,
    or the admin: a signal does it) keeps its channel among the workspace's; its export and the same file
    again change nothing more, and only a file that drops it from the list, asked about, stops it."""
    from approvals.config_diff import config_diff
    from approvals.config_file import config_to_dict
    from approvals.ledger_reader import ledger_channels

    config_apply(config=example_config())
    before = current_config()
    removed = without_team(example_config(), "Sales")
    diff = config_diff(before, removed)
    assert "+ past approvals channel C09SALESAPPROVE (kept from the removed team Sales)" in diff.lines()
    assert not [c for c in diff.removals if c.section == "past_approvals_channels"]

    config_apply(config=removed)

    now = current_config()
    assert now.past_approvals_channels == ("C09SALESAPPROVE",)
    assert "C09SALESAPPROVE" in ledger_channels(now)
    assert config_to_dict(now)["past_approvals_channels"] == ["C09SALESAPPROVE"]
    assert config_diff(now, parse_config(config_to_dict(now))).empty  # the export, imported again
    dropped = config_diff(now, removed)  # the file from before, without the list
    assert [c.line() for c in dropped.removals] == [
        "- past approvals channel C09SALESAPPROVE (of a team removed before)"]


def test_a_team_deleted_in_the_admin_keeps_its_channels_and_a_new_team_on_them_takes_them_back():
    config_apply(config=example_config())
    Team.objects.get(name="Operations").delete()
    assert current_config().past_approvals_channels == ("C0COPSAPPROVE",)

    ops = next(t for t in example_config().teams if t.name == "Operations")
    config_apply(config=dataclasses.replace(current_config(), teams=(*current_config().teams,
                                                                     dataclasses.replace(ops, name="Ops"))))
    assert current_config().past_approvals_channels == ()  # Ops reads it now: it is Ops's, not a removed team's


def test_import_does_not_repeat_an_old_channel_the_file_already_lists():
    config_apply(config=example_config())
    moved = replace_team(
        example_config(),
        "Engineering",
        approvals_channel="C0NEWENG",
        past_approvals_channels=("C01OLDAPPROVE", "C06ENGAPPROVE"),
    )

    config_apply(config=moved)

    assert current_config().team_named("Engineering").past_approvals_channels == ("C01OLDAPPROVE", "C06ENGAPPROVE")


def test_the_service_keeps_the_old_channel_and_drops_the_one_moved_back_to():
    config_apply(config=example_config())
    engineering = Team.objects.get(name="Engineering")

    team_change_approvals_channel(team=engineering, approvals_channel="C0NEWENG")
    assert Team.objects.get(pk=engineering.pk).past_approvals_channels == ["C01OLDAPPROVE", "C06ENGAPPROVE"]

    team_change_approvals_channel(team=engineering, approvals_channel="C01OLDAPPROVE")
    team = Team.objects.get(pk=engineering.pk)
    assert team.approvals_channel == "C01OLDAPPROVE"
    assert team.past_approvals_channels == ["C06ENGAPPROVE", "C0NEWENG"]


def test_the_service_refuses_a_malformed_channel():
    config_apply(config=example_config())
    engineering = Team.objects.get(name="Engineering")

    with pytest.raises(ValidationError) as raised:
        team_change_approvals_channel(team=engineering, approvals_channel="#eng")

    assert "approvals_channel" in raised.value.message_dict
    assert Team.objects.get(pk=engineering.pk).approvals_channel == "C06ENGAPPROVE"


# --- Model validation -------------------------------------------------------------------


def test_a_valid_team_passes_full_clean():
    valid_team(holiday_country="US", holiday_subdivision="NY", timezone="America/New_York").full_clean()


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"members_users": ["U01", "bob"]}, "members_users", "'bob' must be a Slack user id like U0123ABCD."),
        ({"approvals_channel": "#support"}, "approvals_channel", "must be a Slack channel id like C0123ABCD"),
        ({"members_usergroup": "G01"}, "members_usergroup", "must be a Slack user group id"),
        ({"past_approvals_channels": ["C01", "C01"]}, "past_approvals_channels", "'C01' is listed twice."),
        ({"approvers_users": []}, "approvers_users", "A team needs at least one approver"),
        ({"timezone": "Mars/Olympus"}, "timezone", "Unknown time zone 'Mars/Olympus'"),
        ({"holiday_country": "XX"}, "holiday_country", "Unknown country code 'XX'"),
        ({"holiday_country": "US", "holiday_subdivision": "ZZ"}, "holiday_subdivision", "Unknown subdivision 'ZZ'"),
        ({"holiday_subdivision": "CA"}, "holiday_subdivision", "Set a country as well"),
        ({"workweek": []}, "workweek", "Must list at least one working weekday"),
        ({"workweek": [0, 9]}, "workweek", "Must list weekday numbers 0-6"),
        ({"max_out": 0}, "max_out", "Must be a whole number from 1"),
        ({"name": " Support"}, "name", "Must not start or end with spaces."),
    ],
)
def test_team_validation_names_the_field(fields, field, message):
    with pytest.raises(ValidationError) as raised:
        valid_team(**fields).full_clean()

    assert any(message in error for error in raised.value.message_dict[field]), raised.value.message_dict


def test_only_one_team_may_be_the_default():
    valid_team(name="Operations", is_default=True, approvals_channel="C_OPS_APPROVALS").save()

    # The database's constraint says so (Model.validate_constraints), on the field.
    with pytest.raises(ValidationError) as raised:
        valid_team(is_default=True).full_clean()

    assert raised.value.message_dict == {
        "is_default": ["Another team is already the default team; untick it there first."]
    }


def test_the_database_refuses_a_second_default_team_saved_without_validation():
    valid_team(name="Operations", is_default=True).save()

    with pytest.raises(IntegrityError), transaction.atomic():
        valid_team(is_default=True).save()


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"annual_allowance_days": Decimal("2.3")}, "annual_allowance_days", "in steps of 0.5"),
        ({"annual_allowance_days": Decimal("-1")}, "annual_allowance_days", "in steps of 0.5"),
        ({"max_consecutive_days": 0}, "max_consecutive_days", "from 1 to 366"),
        ({"code": "Vacation Days"}, "code", "short lowercase code"),
        ({"emoji": "palm_tree"}, "emoji", "Slack emoji code"),
    ],
)
def test_leave_type_validation_names_the_field(fields, field, message):
    values = {"code": "vacation", "name": "Vacation"}
    values.update(fields)

    with pytest.raises(ValidationError) as raised:
        LeaveType(**values).full_clean()

    assert any(message in error for error in raised.value.message_dict[field]), raised.value.message_dict


def test_a_blackout_may_not_end_before_it_starts():
    with pytest.raises(ValidationError) as raised:
        Blackout(start=date(2026, 12, 14), end=date(2026, 12, 1)).full_clean()

    assert raised.value.message_dict == {"end": ["Must not be before start (2026-12-14)."]}


def test_a_blackout_without_a_start_is_refused_for_that_alone():
    with pytest.raises(ValidationError) as raised:
        Blackout(end=date(2026, 12, 1)).full_clean()

    assert raised.value.message_dict == {"start": ["This field cannot be null."]}


def test_a_missing_team_is_reported_by_its_foreign_key():
    with pytest.raises(ValidationError) as raised:
        Blackout(start=date(2026, 12, 1), end=date(2026, 12, 2), team_id=987654).full_clean()

    assert list(raised.value.message_dict) == ["team"]


def test_the_workspace_policy_checks_its_ids():
    with pytest.raises(ValidationError) as raised:
        WorkspacePolicy(requesters_channel="general", fallback_approvers=["hannah"]).full_clean()

    assert set(raised.value.message_dict) == {"requesters_channel", "fallback_approvers"}


def test_models_read_well():
    config_apply(config=example_config())

    assert str(Team.objects.get(name="Sales")) == "Sales"
    assert str(LeaveType.objects.get(code="vacation")) == ":palm_tree: Vacation"
    assert str(CompanyHoliday.objects.get(team__name="Sales")) == "2026-12-31 Year-end close (Sales)"
    assert str(Blackout.objects.get()) == "2026-12-14 – 2026-12-23 (Engineering): Year-end release freeze"
    assert str(WorkspacePolicy.objects.get()) == "Workspace policy"


# --- The cached snapshot ---------------------------------------------------------------


def test_a_warm_snapshot_is_served_without_a_query(local_cache, django_assert_num_queries):
    config_apply(config=example_config())
    current_config()  # warm up

    with django_assert_num_queries(0):
        config = current_config()

    assert config == example_config()


def test_a_process_that_holds_the_current_generation_reads_only_the_generation(local_cache, monkeypatch):
    config_apply(config=example_config())
    current_config()  # this process now holds the snapshot of the current generation
    reads = []
    monkeypatch.setattr(caches["default"], "get_many", lambda keys, **kw: reads.append(keys) or {})

    assert current_config() == example_config()
    assert reads == []  # the snapshot itself was neither read nor unpickled again


def test_a_new_generation_written_by_another_process_is_seen_at_once(local_cache):
    config_apply(config=example_config())
    assert current_config().team_named("Sales").max_out == 2
    # Another process changes a row without this process's signals, then invalidates as the store does.
    Team.objects.filter(name="Sales").update(max_out=5)
    invalidate_config()

    assert current_config().team_named("Sales").max_out == 5


def test_a_lost_generation_is_never_taken_for_the_one_held(local_cache):
    config_apply(config=example_config())
    current_config()
    Team.objects.filter(name="Sales").update(max_out=6)
    local_cache.clear()  # evicted, flushed, or a restarted Redis: no generation at all

    assert current_config().team_named("Sales").max_out == 6


def test_keys_that_depend_on_the_configuration_are_read_with_the_generation(local_cache, monkeypatch):
    config_apply(config=example_config())
    current_config()  # this process holds the current snapshot
    local_cache.set("sales-key", "value")
    reads = []
    real_get_many = caches["default"].get_many
    monkeypatch.setattr(caches["default"], "get_many", lambda keys, **kw: reads.append(list(keys)) or real_get_many(keys))

    config, found = current_config_with(lambda config: [f"{config.team_named('Sales').name.lower()}-key", "absent"])

    assert config == example_config() and found == {"sales-key": "value"}
    assert reads == [[GENERATION_KEY, "sales-key", "absent"]]  # one round trip


def test_keys_are_named_after_the_new_configuration_once_it_changed(local_cache):
    config_apply(config=example_config())
    current_config()
    local_cache.set("max-out-5", "new")
    Team.objects.filter(name="Sales").update(max_out=5)  # another process's change ...
    invalidate_config()  # ... and its invalidation

    config, found = current_config_with(lambda config: [f"max-out-{config.team_named('Sales').max_out}"])

    assert config.team_named("Sales").max_out == 5 and found == {"max-out-5": "new"}


def test_keys_are_read_after_the_configuration_when_no_snapshot_is_held(local_cache, monkeypatch):
    config_apply(config=example_config())
    monkeypatch.setattr(config_store, "_last_snapshot", None)

    config, found = current_config_with(lambda config: ["some-key"])

    assert config == example_config() and found == {}


def test_the_snapshot_also_works_on_the_configured_cache():
    config_apply(config=example_config())

    assert current_config() == current_config() == example_config()


def test_saving_a_row_invalidates_the_snapshot(local_cache):
    config_apply(config=example_config())
    assert current_config().team_named("Sales").max_out == 2

    sales = Team.objects.get(name="Sales")
    sales.max_out = 4
    sales.save()

    assert current_config().team_named("Sales").max_out == 4


def test_deleting_a_row_invalidates_the_snapshot(local_cache):
    config_apply(config=example_config())
    assert len(current_config().holidays) == 2

    CompanyHoliday.objects.filter(team__isnull=True).delete()  # a bulk delete sends post_delete per row

    assert len(current_config().holidays) == 1


@pytest.mark.parametrize("model", [WorkspacePolicy, Team, LeaveType, CompanyHoliday, Blackout])
def test_every_configuration_model_invalidates_on_save_and_delete(local_cache, model):
    config_apply(config=example_config())
    row = model.objects.first()

    current_config()
    row.save()
    assert local_cache.get(config_store.SNAPSHOT_KEY) is None

    current_config()
    row.delete()
    assert local_cache.get(config_store.SNAPSHOT_KEY) is None


def test_applying_a_configuration_invalidates_the_snapshot(local_cache):
    config_apply(config=example_config())
    current_config()

    config_apply(config=replace_team(example_config(), "Engineering", timezone="America/New_York"))

    assert current_config().team_named("Engineering").timezone == "America/New_York"


def test_a_snapshot_cached_before_a_change_commits_is_not_served_after(
    local_cache, django_capture_on_commit_callbacks, django_assert_num_queries
):
    config_apply(config=example_config())

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            sales = Team.objects.get(name="Sales")
            sales.max_out = 7
            sales.save()
            # A reader elsewhere rebuilds the snapshot while this transaction is
            # still open (here the same connection stands in for it).
            current_config()
            assert local_cache.get(config_store.SNAPSHOT_KEY) is not None

    assert callbacks  # committing ran the second invalidation
    with CaptureQueriesContext(connection) as queries:
        assert current_config().team_named("Sales").max_out == 7
    assert len(queries) > 0  # rebuilt from the database, not served from the mid-transaction snapshot
    with django_assert_num_queries(0):
        current_config()


def test_a_snapshot_read_before_a_commit_and_cached_after_it_is_not_served(local_cache, monkeypatch):
    config_apply(config=example_config())
    read_rows = config_store.config_from_database

    def rows_change_while_this_reader_works():
        snapshot = read_rows()
        # Another process commits a change and invalidates after this reader
        # read the rows but before it caches what it read.
        Team.objects.filter(name="Sales").update(max_out=7)
        invalidate_config()
        return snapshot

    monkeypatch.setattr(config_store, "config_from_database", rows_change_while_this_reader_works)
    assert current_config().team_named("Sales").max_out == 2  # this reader's (already stale) answer
    monkeypatch.undo()

    assert current_config().team_named("Sales").max_out == 7
