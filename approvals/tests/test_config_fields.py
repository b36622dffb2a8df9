"""The one description of the configuration's fields: a spec makes a field read, written, stored and checked."""

from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from approvals.config_fields import (
    BOOLEAN,
    NAME,
    Integer,
    model_kinds,
    nested,
    read_record,
    record_from_row,
    row_errors,
    row_values,
    shape,
    spec,
    write_record,
)
from approvals.config_types import MemberSource
from approvals.models import Blackout, CompanyHoliday, LeaveType, Team, WorkspacePolicy


@dataclass(frozen=True, kw_only=True)
class Gadget:
    """A record as a new configuration type would declare it."""

    name: str = spec(NAME)
    members: MemberSource = nested(MemberSource)
    quota: int | None = spec(Integer(1, 9), default=None, file="limits.quota", required_in_group=True)
    enabled: bool = spec(BOOLEAN, default=False, model="is_enabled")

    def problems(self):
        if self.enabled and self.quota is None:
            yield "enabled", "needs a quota"


def read(data) -> tuple[Gadget | None, list[str]]:
    errors = []
    return read_record(Gadget, data, "gadgets[0]", errors), errors


@pytest.mark.parametrize("model", [WorkspacePolicy, Team, LeaveType, CompanyHoliday, Blackout])
def test_every_model_field_is_described_and_every_description_is_stored(model):
    stored = {field.name for field in model._meta.concrete_fields if not field.primary_key} - {"position"}

    assert set(model_kinds(model.config_type)) == stored


def test_a_field_described_once_is_read_written_stored_and_checked():
    gadget, errors = read({"name": "Lamp", "limits": {"quota": 3}})

    assert errors == []
    assert gadget == Gadget(name="Lamp", quota=3)
    assert write_record(gadget) == {
        "name": "Lamp",
        "members": {"users": [], "channel": None, "usergroup": None},
        "limits": {"quota": 3},
        "enabled": False,
    }
    row = SimpleNamespace(**row_values(gadget))
    assert vars(row) == {
        "name": "Lamp",
        "members_users": [],
        "members_channel": "",
        "members_usergroup": "",
        "quota": 3,
        "is_enabled": False,
    }
    assert record_from_row(Gadget, row) == gadget
    row.quota = 12
    assert row_errors(row, Gadget) == {"quota": ["Must be a whole number from 1 to 9."]}


def test_a_group_without_its_required_key_is_written_as_null_and_reads_back():
    written = write_record(Gadget(name="Lamp"))

    assert written["limits"] is None
    assert read(written) == (Gadget(name="Lamp"), [])


def test_each_problem_is_reported_with_its_path():
    _, errors = read({"name": 7, "colour": "red", "members": {"users": ["bob", "U01", "U01"]}, "limits": {}})

    assert errors == [
        "gadgets[0].colour: unknown key (expected one of: name, members, limits, enabled)",
        "gadgets[0].name: must be a string, not a number",
        "gadgets[0].members.users[0]: 'bob' must be a Slack user id like U0123ABCD",
        "gadgets[0].members.users[2]: 'U01' is listed twice",
        "gadgets[0].limits.quota: required",
    ]


def test_checks_across_fields_run_once_each_field_is_fine_in_the_file_and_on_the_row():
    assert read({"name": "Lamp", "enabled": True})[1] == ["gadgets[0].enabled: needs a quota"]
    assert read({"name": " Lamp", "enabled": True})[1] == ["gadgets[0].name: must not start or end with spaces"]

    row = SimpleNamespace(**row_values(Gadget(name="Lamp", enabled=True)))
    assert row_errors(row, Gadget) == {"is_enabled": ["Needs a quota."]}


def test_the_shape_that_names_the_cached_snapshot_changes_with_the_fields():
    @dataclass(frozen=True, kw_only=True)
    class Bigger(Gadget):
        colour: str | None = spec(NAME, default=None)

    assert shape(Gadget) == shape(Gadget)
    assert shape(Bigger) != shape(Gadget)


def test_a_field_without_a_description_is_refused():
    @dataclass(frozen=True)
    class Careless:
        name: str = "x"

    with pytest.raises(TypeError, match="Careless.name: describe it with spec"):
        write_record(Careless())
