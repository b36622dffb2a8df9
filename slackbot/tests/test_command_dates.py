"""`/timeoff [first day] [last day] [type]` takes dates as ASCII YYYY-MM-DD and nothing else.

date.fromisoformat takes more since Python 3.11 (week dates, 20261221, 2026-12):
a word it reads differently from what the person meant must be refused, not
silently turned into another day in the form.
"""

import pytest

from slackbot.request_form import parse_iso_date
from test_support.flows import ALICE, MONDAY, install_config, open_request_form
from test_support.slack_requests import post_command

pytestmark = pytest.mark.django_db


def test_a_day_that_does_not_exist_is_named_as_no_such_date(client, fake_slack):
    install_config()
    response = post_command(client, "2026-02-30 vacation", user_id=ALICE)
    text = response.json()["text"]
    assert text.startswith("There is no such date as `2026-02-30`.")
    assert "expected a date (YYYY-MM-DD" not in text  # it is in that format
    assert fake_slack.calls("views.open") == []


@pytest.mark.parametrize("word", [
    "2031-W11-1",  # an ISO week date: fromisoformat reads Monday 10 March 2031
    "20261221",
    "2026-12",
    "2026-W52",
    "２０２６-１２-２１",  # full-width digits
    "٢٠٢٦-١٢-٢١",  # Arabic-Indic digits
])
def test_other_date_forms_are_not_taken_as_dates(client, fake_slack, word):
    install_config()
    response = post_command(client, word, user_id=ALICE)
    assert f"I didn't understand `{word}`: expected a date (YYYY-MM-DD, " in response.json()["text"]
    assert fake_slack.calls("views.open") == []


def test_a_yyyy_mm_dd_date_still_fills_in_the_form(client, fake_slack):
    install_config()
    view = open_request_form(client, fake_slack, ALICE, MONDAY.isoformat())
    assert view["blocks"][1]["element"]["initial_date"] == MONDAY.isoformat()


@pytest.mark.parametrize("text", ["2031-W11-1", "20310310", "2031-03", "2031-02-29", "２０３１-０３-１０",
                                  "2031-03-10\n", " 2031-03-10", None, 20310310])
def test_the_forms_dates_read_only_real_yyyy_mm_dd_days(text):
    assert parse_iso_date(text) is None


def test_a_real_day_is_read():
    assert parse_iso_date("2031-03-10").isoformat() == "2031-03-10"
