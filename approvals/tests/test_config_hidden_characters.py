"""Names, reasons and emoji in the configuration hold no control or invisible characters.

A NUL cannot be stored in PostgreSQL (run this file against it too:
DATABASE_URL=postgres://…); an interior newline or escape breaks the messages a
name is shown in; U+202E (right-to-left override) or U+200B (zero-width space)
make a name read other than it is. `import_config` names the field and changes
nothing (DESIGN §4); the console's forms clean through the same kinds.
"""

import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from approvals.config_file import ConfigError, parse_config
from approvals.config_store import config_from_database, invalidate_config
from approvals.models import LeaveType

EXAMPLE_PATH = Path(__file__).resolve().parents[2] / "examples" / "config.example.json"

pytestmark = pytest.mark.django_db


def example() -> dict:
    return json.loads(EXAMPLE_PATH.read_text())


def import_errors(tmp_path, data: dict) -> list[str]:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))  # "\u0000", "\ud800": JSON escapes, as a file would hold them
    stderr = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_config", str(path), "--replace", stdout=io.StringIO(), stderr=stderr)
    return stderr.getvalue().splitlines()


@pytest.fixture(autouse=True)
def no_snapshot_from_other_tests():
    invalidate_config()


@pytest.mark.parametrize(("text", "found"), [
    ("Engi\x00neering", "U+0000"),
    ("Engi\nneering", "U+000A"),
    ("Engi\x1b[2Jneering", "U+001B"),
    ("Engi\x85neering", "U+0085"),  # a C1 control
    ("Engi\u202eneering", "U+202E"),
    ("Engi\u200bneering", "U+200B"),
    ("Engi\ud800neering", "U+D800"),  # an unpaired surrogate, which no database stores either
])
def test_import_refuses_a_team_name_with_a_hidden_character_naming_the_field(tmp_path, text, found):
    call_command("import_config", str(EXAMPLE_PATH), stdout=io.StringIO())
    before = config_from_database()
    data = example()
    data["teams"][0]["name"] = text
    data["blackouts"][0]["team"] = text  # still refers to the team
    problem = f"must not contain control or invisible characters (found {found})"
    assert import_errors(tmp_path, data) == [f"teams[0].name: {problem}", f"blackouts[0].team: {problem}"]
    assert config_from_database() == before


@pytest.mark.parametrize(("entries", "key", "text", "found"), [
    ("leave_types", "name", "Vaca\ttion", "U+0009"),
    ("holidays", "name", "Company\x00day", "U+0000"),
    ("blackouts", "reason", "Year-end\nfreeze", "U+000A"),
    ("leave_types", "emoji", "\u202e", "U+202E"),
    ("leave_types", "emoji", "\u200b", "U+200B"),
    ("leave_types", "emoji", "🌴\x00", "U+0000"),
])
def test_every_name_reason_and_emoji_refuses_them(entries, key, text, found):
    data = example()
    data[entries][0][key] = text
    with pytest.raises(ConfigError) as raised:
        parse_config(data)
    assert raised.value.errors == [f"{entries}[0].{key}: must not contain control or invisible characters "
                                   f"(found {found})"]


@pytest.mark.parametrize("emoji", [":palm_tree:", "🌴", "👩\u200d💻", "❤️", "🇫🇷"])
def test_emoji_and_their_joiners_are_still_accepted(emoji):
    data = example()
    data["leave_types"][0]["emoji"] = emoji
    data["leave_types"][0]["name"] = "Remote 👩\u200d💻"
    assert parse_config(data).leave_types[0].emoji == emoji


def test_the_consoles_forms_refuse_them_on_the_field():
    from approvals.console_forms import LeaveTypeForm

    form = LeaveTypeForm({"code": "wfh", "name": "Remote\u202e", "emoji": "\u200b", "allow_past_days": 0})
    assert not form.is_valid()
    assert form.errors["name"] == ["Must not contain control or invisible characters (found U+202E)."]
    assert form.errors["emoji"] == ["Must not contain control or invisible characters (found U+200B)."]
    assert not LeaveType.objects.filter(code="wfh").exists()
