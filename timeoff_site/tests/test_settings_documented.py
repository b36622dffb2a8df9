"""Every setting is documented where README says: its Settings table, and `.env.example` ("lists them all").

A variable the code reads but nobody can find is a setting nobody sets; one README documents but
`.env.example` leaves out is one an operator copying the example never sees.
"""

import re
from pathlib import Path

from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)
# Documented outside the table: bin/run sets it for the demo (README, "Try it without Slack").
DOCUMENTED_ELSEWHERE = {"DEMO"}


def variables_the_code_reads() -> set[str]:
    settings_py = (BASE_DIR / "timeoff_site" / "settings.py").read_text()
    gunicorn_conf = (BASE_DIR / "gunicorn.conf.py").read_text()
    return (set(re.findall(r'\benv(?:\.\w+)?\(\s*"([A-Z][A-Z0-9_]*)"', settings_py))
            | set(re.findall(r'os\.environ\.get\(\s*["\']([A-Z][A-Z0-9_]*)["\']', gunicorn_conf)))


def readme_settings_table() -> set[str]:
    readme = (BASE_DIR / "README.md").read_text()
    section = readme.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    first_cells = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    return {name for cell in first_cells for name in re.findall(r"`([A-Z][A-Z0-9_]*)`", cell)}


def test_the_settings_read_variables_at_all():
    assert {"SECRET_KEY", "SLACK_BOT_TOKEN", "DATABASE_HEALTH_CHECKS", "WEB_CONCURRENCY"} <= variables_the_code_reads()


def test_every_variable_the_code_reads_is_in_readme_s_settings_table():
    missing = variables_the_code_reads() - readme_settings_table() - DOCUMENTED_ELSEWHERE
    assert not missing, f"add to README's Settings table: {sorted(missing)}"


def test_env_example_names_every_variable_readme_s_settings_table_lists():
    example = (BASE_DIR / ".env.example").read_text()
    named = set(re.findall(r"\b[A-Z][A-Z0-9_]*\b", example))
    missing = (readme_settings_table() | DOCUMENTED_ELSEWHERE) - named
    assert not missing, f"add to .env.example (a commented line will do): {sorted(missing)}"
