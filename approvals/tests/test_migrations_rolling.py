"""Migrations run while the previous release still serves: expand, then contract (README "Upgrades").

`migrate` runs from one machine while every other one still runs the previous
release against the new schema, for minutes; a rollback runs the previous
release against it for longer. So a migration may add (tables, nullable columns,
columns with a database default) but not take away what the previous release
reads or writes; that comes a release later, once no running code uses it.
This test reads every migration and names the operations that would break the
previous release; one that is meant (the contract step, a release after the
code stopped using it) is acknowledged below, with why it is safe.
"""

import pytest
from django.db import migrations
from django.db.migrations.loader import MigrationLoader
from django.db.models import NOT_PROVIDED

from approvals.models import Team

# (app, migration) -> why the previous release is not hurt. Every entry is a decision someone made.
ACKNOWLEDGED = {
    ("approvals", "0013_team_past_names"): (
        "past_names was added NOT NULL with a Python default only; 0016 gives it a database default, so a "
        "release from before it can insert teams again"),
}

REMOVES = (migrations.RemoveField, migrations.DeleteModel, migrations.RenameField, migrations.RenameModel,
           migrations.AlterModelTable)


def breaks_previous_release(operation, app_label: str, state) -> str | None:
    """Why the previous release, running against the schema after `operation`, would fail; None if it would not.
    `state`: the project state just before the operation."""
    if isinstance(operation, REMOVES):
        return f"{type(operation).__name__}: the previous release still reads and writes it (remove it a release later)"
    if isinstance(operation, migrations.AddField):
        field = operation.field
        if not field.null and field.db_default is NOT_PROVIDED and not field.many_to_many:
            return (f"AddField {operation.model_name}.{operation.name}: NOT NULL without db_default: the previous "
                    "release's INSERTs leave it out and fail (Django drops the default it adds the column with)")
    if isinstance(operation, migrations.AlterField):
        model = state.models.get((app_label, operation.model_name_lower))
        old, new = (model.fields.get(operation.name) if model else None), operation.field
        if old is not None:
            if type(old) is not type(new):
                return f"AlterField {operation.model_name}.{operation.name}: another type"
            if old.null and not new.null:
                return f"AlterField {operation.model_name}.{operation.name}: no longer nullable"
            if getattr(old, "max_length", None) and (getattr(new, "max_length", None) or 0) < old.max_length:
                return f"AlterField {operation.model_name}.{operation.name}: shorter"
    return None


def problems() -> list[tuple[tuple[str, str], str]]:
    loader = MigrationLoader(None, ignore_no_migrations=True)  # the files only: no database needed
    found = []
    for key in sorted(node for node in loader.graph.nodes if node[0] == "approvals"):
        state = loader.project_state(key, at_end=False)  # before this migration
        for operation in loader.get_migration(*key).operations:
            why = breaks_previous_release(operation, key[0], state)
            if why:
                found.append((key, why))
            operation.state_forwards(key[0], state)
    return found


def test_no_migration_breaks_the_release_before_it_unless_acknowledged():
    unacknowledged = [(key, why) for key, why in problems() if key not in ACKNOWLEDGED]
    assert unacknowledged == [], (
        "These migrations would break the previous release while a deploy rolls (README \"Upgrades\": expand, "
        "then contract). Give new columns null=True or a db_default; remove things a release after the code "
        "stopped using them, and then acknowledge it in ACKNOWLEDGED with why it is safe.")


def test_the_check_catches_what_it_is_for():
    # 0013 is the one such migration so far: caught, and acknowledged.
    assert [key for key, _ in problems()] == [("approvals", "0013_team_past_names")] * 2


@pytest.mark.django_db
def test_a_release_from_before_past_names_can_still_add_a_team():
    # The Team model as the release before 0013 has it: its INSERT does not name past_names.
    old_apps = MigrationLoader(None).project_state(("approvals", "0012_leave_records_permission")).apps
    OldTeam = old_apps.get_model("approvals", "Team")
    assert "past_names" not in {field.name for field in OldTeam._meta.fields}

    OldTeam.objects.create(name="Support", approvals_channel="C_SUPPORT_APPROVALS", approvers_users=["U_BOB"])

    assert Team.objects.get(name="Support").past_names == []
