"""App Home names the person's team's next holidays (public and the company's), from the configuration:
an opening of the tab, as Slack sends it, and the view the app publishes to the fake Slack."""

from dataclasses import replace
from datetime import timedelta

import pytest

from approvals.config_types import HolidayConfig
from approvals.rules import format_day
from approvals.selectors import local_today
from fake_slack.personas import ALICE, CAROL
from test_support.flows import ENGINEERING, install_config, open_app_home, standard_config

pytestmark = pytest.mark.django_db


def published_text(client, fake_slack, user: str) -> str:
    """Every text of the App Home view the app published for `user`, one per line."""
    blocks = open_app_home(client, fake_slack, user, f"Ev_HOLIDAYS_{user}")["blocks"]
    return "\n".join(text["text"] for block in blocks
                     for text in [block.get("text") or {}, *block.get("elements", [])] if isinstance(text, dict)
                     and isinstance(text.get("text"), str))


def test_app_home_names_the_teams_next_company_and_public_holidays(client, fake_slack):
    today = local_today(ENGINEERING.timezone)
    days = [today + timedelta(days=n) for n in (5, 20, 40, 100)]
    install_config(standard_config(
        teams=(replace(ENGINEERING, holiday_country=None, holiday_subdivision=None),),  # only the company's
        holidays=(HolidayConfig(date=days[0], name="Offsite"), HolidayConfig(date=days[1], name="Founders' day"),
                  HolidayConfig(date=days[2], name="Summit", team="Engineering"),
                  HolidayConfig(date=days[3], name="Too far ahead"))))

    text = published_text(client, fake_slack, ALICE)

    shown = [f"{format_day(day, with_year=day.year != today.year)}, {name}"
             for day, name in zip(days, ("Offsite", "Founders' day", "Summit"))]
    assert f":calendar: Holidays coming up (Engineering): {' · '.join(shown)}" in text.splitlines()
    assert "Too far ahead" not in text


def test_someone_in_no_team_sees_no_holidays_line(client, fake_slack):
    install_config()
    assert "Holidays coming up" not in published_text(client, fake_slack, CAROL)
