"""Migration 0014 adds "one leave type per name, in any case": a database that already holds two types of
one name (which the admin allowed) has the later one renamed first, so the upgrade never fails."""

import importlib

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from approvals.models import LeaveType

migration = importlib.import_module("approvals.migrations.0014_leave_type_name_unique_ignoring_case")


def test_later_types_of_a_name_taken_are_renamed_after_their_code():
    assert migration.distinct_names([("vacation", "Vacation"), ("vac2", "vacation"), ("sick", "Sick leave"),
                                     ("vac3", "VACATION")]) == {"vac2": "vacation (vac2)", "vac3": "VACATION (vac3)"}


def test_a_new_name_never_meets_another_and_stays_within_the_names_length():
    assert migration.distinct_names([("a", "Vacation"), ("b", "Vacation (b)"), ("b2", "vacation")]) == {
        "b2": "vacation (b2)"}
    assert migration.distinct_names([("a", "Leave"), ("b", "Leave (c)"), ("c", "leave")]) == {"c": "leave (c 2)"}
    long = "x" * 100
    [(code, renamed)] = migration.distinct_names([("a", long), ("code", long.upper())]).items()
    assert (code, len(renamed), renamed.endswith(" (code)")) == ("code", 100, True)


@pytest.mark.django_db(transaction=True)
def test_the_upgrade_renames_duplicates_then_refuses_new_ones():
    executor = MigrationExecutor(connection)
    before = [("approvals", "0013_team_past_names")]
    executor.migrate(before)
    old = executor.loader.project_state(before).apps.get_model("approvals", "LeaveType")
    old.objects.create(code="vacation", name="Vacation", position=0)
    old.objects.create(code="vac2", name="Vacation", position=1)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert dict(LeaveType.objects.values_list("code", "name")) == {"vacation": "Vacation", "vac2": "Vacation (vac2)"}
