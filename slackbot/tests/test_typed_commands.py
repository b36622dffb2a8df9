"""What people actually type after `/timeoff`, end to end.

Each input goes in as Slack sends a slash command (signed, form-encoded, `should_escape: true`: a typed
`&`, `<`, `>` arrives as `&amp;`, `&lt;`, `&gt;`, a mention as `<@U…|name>`, `@channel` as `<!channel>`).
The answer must be either the request form pre-filled with what was meant (the views.open call's
initial values), or an ephemeral message that says what IS accepted; never a 500, never a form
pre-filled with something else than what was typed, never typed text that pings.
"""

import re
from datetime import date, timedelta

import pytest

from approvals import block_ids as ids
from slackbot.request_form import parse_prefill
from test_support.flows import (
    ALICE,
    HR,
    install_config,
    open_request_form,
    request_values,
    standard_config,
    submit_request,
)
from test_support.slack_requests import post_command

pytestmark = pytest.mark.django_db

PING = re.compile(r"<(?:!channel|!here|!everyone|@U[A-Z0-9_]+)")


def answer(client, fake_slack, text: str, user: str = ALICE):
    """("form", view) when the form opened, ("said", text) when the command answered with a message."""
    before = len(fake_slack.calls("views.open"))
    response = post_command(client, text, user_id=user)
    assert response.status_code == 200, (text, response.status_code, response.content[:300])
    opened = fake_slack.calls("views.open")[before:]
    if response.content == b"":
        assert len(opened) == 1, text
        return "form", opened[0].params["view"]
    body = response.json()
    assert body.get("response_type", "ephemeral") == "ephemeral", body
    assert opened == [], "a form opened and a message answered"
    assert not PING.search(body["text"]), body["text"]
    return "said", body["text"]


def initial(view: dict) -> dict:
    """The form's pre-filled values: type code, first and last day."""
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    option = blocks[ids.TYPE_BLOCK]["element"].get("initial_option")
    return {
        "type": option["value"] if option else None,
        "start": blocks[ids.START_BLOCK]["element"].get("initial_date"),
        "end": blocks[ids.END_BLOCK]["element"].get("initial_date"),
    }


def says_what_is_accepted(text: str) -> bool:
    return "YYYY-MM-DD" in text and "`vacation`" in text


# --- What the command documents ------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("2026-12-21", {"type": None, "start": "2026-12-21", "end": "2026-12-21"}),
    ("2026-12-21 2026-12-23", {"type": None, "start": "2026-12-21", "end": "2026-12-23"}),
    ("2026-12-21 2026-12-23 vacation", {"type": "vacation", "start": "2026-12-21", "end": "2026-12-23"}),
    ("vacation 2026-12-21", {"type": "vacation", "start": "2026-12-21", "end": "2026-12-21"}),
    ("2026-12-21 Vacation", {"type": "vacation", "start": "2026-12-21", "end": "2026-12-21"}),
    ("2026-12-21 VACATION", {"type": "vacation", "start": "2026-12-21", "end": "2026-12-21"}),
    ("sick", {"type": "sick", "start": None, "end": None}),
    ("SICK", {"type": "sick", "start": None, "end": None}),
    ("", {"type": None, "start": None, "end": None}),
    ("     ", {"type": None, "start": None, "end": None}),
    ("2026-12-21\n2026-12-23\nvacation", {"type": "vacation", "start": "2026-12-21", "end": "2026-12-23"}),
    ("2026-12-21\t2026-12-23", {"type": None, "start": "2026-12-21", "end": "2026-12-23"}),
    ("2026-12-21\u00a02026-12-23", {"type": None, "start": "2026-12-21", "end": "2026-12-23"}),  # NBSP
    ("  2026-12-21   vacation  ", {"type": "vacation", "start": "2026-12-21", "end": "2026-12-21"}),
    ("2029-06-01 2029-06-05", {"type": None, "start": "2029-06-01", "end": "2029-06-05"}),  # years ahead
    # A range written as people write one, and as our own messages write it (pasted back).
    ("2026-12-21 to 2026-12-23", {"type": None, "start": "2026-12-21", "end": "2026-12-23"}),
    ("2026-12-21 - 2026-12-23", {"type": None, "start": "2026-12-21", "end": "2026-12-23"}),
    ("2026-12-21 – 2026-12-23", {"type": None, "start": "2026-12-21", "end": "2026-12-23"}),
    ("2026-12-21–2026-12-23", {"type": None, "start": "2026-12-21", "end": "2026-12-23"}),
    ("2026-12-21..2026-12-23 vacation", {"type": "vacation", "start": "2026-12-21", "end": "2026-12-23"}),
    ("2026-12-21, 2026-12-23.", {"type": None, "start": "2026-12-21", "end": "2026-12-23"}),
    ("vacation, 2026-12-21!", {"type": "vacation", "start": "2026-12-21", "end": "2026-12-21"}),
    ("2026-12-21\u200b", {"type": None, "start": "2026-12-21", "end": "2026-12-21"}),  # a zero-width space
    # A leave type by its name (any case, several words) or its emoji, as well as by its code.
    ("Sick leave", {"type": "sick", "start": None, "end": None}),
    ("sick LEAVE 2026-12-21", {"type": "sick", "start": "2026-12-21", "end": "2026-12-21"}),
    ("2026-12-21 medical appointment", {"type": "medical", "start": "2026-12-21", "end": "2026-12-21"}),
    (":palm_tree: 2026-12-21", {"type": "vacation", "start": "2026-12-21", "end": "2026-12-21"}),
    ("vacation 2026-12-21 Vacation", {"type": "vacation", "start": "2026-12-21", "end": "2026-12-21"}),
])
def test_documented_forms_prefill_the_form(client, fake_slack, text, expected):
    install_config()
    kind, view = answer(client, fake_slack, text)
    assert kind == "form", view
    assert initial(view) == expected


# --- What people type that is not documented: either understood rightly, or refused clearly ----------

COMMON = [
    "tomorrow", "today", "next monday", "21 dec", "Dec 21-23", "12/21", "21/12/2026", "12/21/2026",
    "21.12.2026", "2026/12/21", "2026-12-21 to 2026-12-23", "2026-12-21 - 2026-12-23",
    "2026-12-21–2026-12-23", "2026-12-21 — 2026-12-23", "2026-12-21..2026-12-23",
    "2026-12-21, 2026-12-23", "2026-12-21.", "vacation,", ":palm_tree: 2026-12-21", "Sick leave",
    "sick leave 2026-12-21", "２０２６-１２-２１", "٢٠٢٦-١٢-٢١", "ｖａｃａｔｉｏｎ", "2026-12-21\u200b",
    "2026‐12‐21",  # U+2010 hyphens, as some keyboards and autocorrect type
    "2026-12-21T09:00", "Dec 21", "december 21 2026", "mon", "21-12-2026",
]


@pytest.mark.parametrize("text", COMMON)
def test_common_typing_is_understood_or_refused_clearly(client, fake_slack, text):
    install_config()
    kind, said = answer(client, fake_slack, text)
    if kind == "form":
        # Only acceptable if it means exactly 21 Dec 2026 (no guessed order of day and month).
        values = initial(said)
        assert values["start"] in (None, "2026-12-21"), (text, values)
    else:
        assert says_what_is_accepted(said), said


# --- Silent wrong pre-fills ---------------------------------------------------------------------

def test_two_leave_types_are_not_silently_resolved_to_the_last(client, fake_slack):
    """`/timeoff vacation 2026-12-21 sick`: which did they mean? The form must not silently pick one."""
    install_config()
    kind, said = answer(client, fake_slack, "vacation 2026-12-21 sick")
    assert kind == "said", f"form opened pre-filled with {initial(said)}"
    assert "Give one leave type: `vacation` or `sick`." in said


def test_reversed_dates_are_not_a_silent_wrong_prefill(client, fake_slack):
    """`/timeoff 2026-12-23 2026-12-21`: the first and last day typed back to front. Swapping them would
    be kinder; opening them as typed is sound as long as the form says so at once (its preview)."""
    install_config()
    kind, view = answer(client, fake_slack, "2026-12-23 2026-12-21")
    assert kind == "form"
    values = initial(view)
    if values["start"] > values["end"]:
        preview = next(b for b in view["blocks"] if b.get("block_id") == ids.PREVIEW_BLOCK)
        assert "before the first" in preview["elements"][0]["text"], preview


def test_a_day_that_does_not_exist_is_named(client, fake_slack):
    install_config()
    kind, said = answer(client, fake_slack, "2026-02-30")
    assert kind == "said" and "no such date" in said and "2026-02-30" in said


@pytest.mark.parametrize("text", ["9999-12-31", "9999-12-30 9999-12-31", "0001-01-01", "0001-01-01 0001-01-03",
                                  "0000-01-01", "2126-12-21", "2026-12-21 2126-12-21"])
def test_absurd_years_do_not_break_the_command(client, fake_slack, text):
    """A typo for the year reaches the form (whose submission refuses it) or a message; never a 500."""
    install_config()
    kind, said = answer(client, fake_slack, text)
    assert kind in ("form", "said")


@pytest.mark.parametrize("text", ["9999-12-31", "0001-01-01"])
def test_absurd_years_do_not_break_the_command_on_a_warm_cache(client, fake_slack, text):
    """The same once the requester's team and ledger are in the cache (the preview then counts days
    over the team's holidays of the years around it)."""
    install_config()
    open_request_form(client, fake_slack, ALICE)  # warms the requester's team, zone and ledger
    kind, said = answer(client, fake_slack, text)
    assert kind in ("form", "said")


# --- Mentions, pings, long and odd text ----------------------------------------------------------

def test_for_someone_by_a_non_hr_person_is_refused_plainly(client, fake_slack):
    install_config()
    kind, said = answer(client, fake_slack, "for <@U_BOB|bob> 2026-12-21 vacation")
    assert kind == "said" and "Only HR" in said


def test_hr_for_someone_prefills_the_record_form(client, fake_slack):
    install_config()
    kind, view = answer(client, fake_slack, f"FOR <@{ALICE}|alice> 2026-12-21 2026-12-23 Vacation", user=HR)
    assert kind == "form"
    assert initial(view) == {"type": "vacation", "start": "2026-12-21", "end": "2026-12-23"}
    assert f"<@{ALICE}>" in view["blocks"][0]["text"]["text"]


@pytest.mark.parametrize("text", [
    "<!channel> 2026-12-21", "2026-12-21 <!here>", "<@U_BOB|bob> 2026-12-21", "<!subteam^S_ENG|@eng>",
    "&lt;!channel&gt;", "<https://evil.example|Re-submit here>", "<#C_GENERAL|general>", "`<!channel>`", "```<!channel>```",
])
def test_typed_pings_are_refused_without_pinging(client, fake_slack, text):
    install_config()
    kind, said = answer(client, fake_slack, text)
    assert kind == "said"
    assert "<!" not in said and "<@U_BOB" not in said and "<https://evil" not in said, said
    assert says_what_is_accepted(said), said


def test_five_thousand_characters_get_a_short_clear_answer(client, fake_slack):
    install_config()
    kind, said = answer(client, fake_slack, "x" * 5000)
    assert kind == "said" and says_what_is_accepted(said)
    assert len(said) < 3000


def test_five_thousand_characters_of_words_get_a_short_clear_answer(client, fake_slack):
    install_config()
    kind, said = answer(client, fake_slack, "2026-12-21 " + "please " * 700)
    assert kind == "said" and says_what_is_accepted(said)
    assert len(said) < 3000


def test_five_thousand_escaped_angle_brackets_are_cut_cleanly(client, fake_slack):
    install_config()
    kind, said = answer(client, fake_slack, "&lt;" * 1250)
    assert kind == "said"
    assert re.search(r"`(&lt;)+`", said), said[:300]  # cut on a whole character, not inside `&lt;`


def test_many_dates_are_refused_with_what_is_accepted(client, fake_slack):
    install_config()
    kind, said = answer(client, fake_slack, "2026-12-21 2026-12-22 2026-12-23")
    assert kind == "said" and "at most two dates" in said


# --- The modal's own validation ------------------------------------------------------------------

START = date(2026, 12, 21)  # a Monday, ahead of the test run's today


def submitted(client, fake_slack, values, user=ALICE, text=""):
    view = open_request_form(client, fake_slack, user, text)
    response = submit_request(client, user, view, values)
    assert response.status_code == 200, response.content[:300]
    return response.json() if response.content else None


def test_end_before_start_is_refused_under_the_last_day(client, fake_slack):
    install_config()
    body = submitted(client, fake_slack, request_values("vacation", START + timedelta(days=2), START))
    assert body and body["response_action"] == "errors", body
    assert "before" in body["errors"][ids.END_BLOCK]


def test_more_than_a_year_is_refused_under_the_last_day(client, fake_slack):
    install_config()
    body = submitted(client, fake_slack, request_values("vacation", START, START + timedelta(days=400)))
    assert body and body["response_action"] == "errors", body
    assert "at most a year" in body["errors"][ids.END_BLOCK]


def test_one_day_marked_both_morning_and_afternoon_is_refused_under_half_days(client, fake_slack):
    install_config()
    body = submitted(client, fake_slack, request_values("vacation", START, START,
                                                        halves=(ids.HALF_START_PM, ids.HALF_END_AM)))
    assert body and body["response_action"] == "errors", body
    assert "not both" in body["errors"][ids.HALF_BLOCK]


def test_a_note_at_the_forms_limit_is_sent_whole(client, fake_slack):
    from approvals.messages import MAX_NOTE_CHARS
    from test_support.flows import posted_requests

    install_config()
    view = open_request_form(client, fake_slack, ALICE)
    [note_block] = [b for b in view["blocks"] if b.get("block_id") == ids.NOTE_BLOCK]
    assert note_block["element"]["max_length"] == MAX_NOTE_CHARS
    note = "n" * (MAX_NOTE_CHARS - 1) + "!"
    response = submit_request(client, ALICE, view, request_values("vacation", START, START, note=note))
    assert response.status_code == 200 and response.content == b"", response.content[:300]
    [posted] = posted_requests(fake_slack)
    assert note in str(posted.params["blocks"]) + posted.params.get("text", "")


def test_a_note_past_the_forms_limit_is_cut_not_a_500(client, fake_slack):
    """Slack's plain_text_input allows at most 3000; the form asks 500 of Slack, so only a forged or a
    future client's payload is longer: it is cut, never refused with a 500."""
    install_config()
    body = submitted(client, fake_slack, request_values("vacation", START, START, note="n" * 3000))
    assert body is None


@pytest.mark.parametrize("start, end", [(date(9999, 12, 31), date(9999, 12, 31)), (date(1, 1, 1), date(1, 1, 1)),
                                        (date(9999, 12, 30), date(9999, 12, 31)), (date(1, 1, 1), date(1, 1, 3))])
def test_absurd_years_are_refused_by_the_form_not_a_500(client, fake_slack, start, end):
    install_config()
    body = submitted(client, fake_slack, request_values("vacation", start, end))
    assert body and body["response_action"] == "errors", body


@pytest.mark.parametrize("start, end", [(date(9999, 12, 31), date(9999, 12, 31)), (date(1, 1, 1), date(1, 1, 1))])
def test_absurd_years_recorded_by_hr_are_refused_not_a_500(client, fake_slack, start, end):
    install_config()
    body = submitted(client, fake_slack, request_values("vacation", start, end), user=HR,
                     text=f"for <@{ALICE}|alice>")
    assert body and body["response_action"] == "errors", body


@pytest.mark.parametrize("start, end", [(date(9999, 12, 31), date(9999, 12, 31)), (date(1, 1, 1), date(1, 1, 2)),
                                        (date(2032, 1, 5), date(2032, 1, 6))])
def test_absurd_years_on_a_cold_cache_are_refused_not_a_500(client, fake_slack, attempts, start, end):
    from django.core.cache import cache

    install_config()
    view = open_request_form(client, fake_slack, ALICE)
    cache.clear()
    response = submit_request(client, ALICE, view, request_values("vacation", start, end))
    assert response.status_code == 200, response.content[:300]
    assert response.content and response.json()["response_action"] == "errors", response.content[:300]
    assert all(status != "FAILED" for _, _, status in attempts), attempts


def test_more_than_five_years_ahead_is_refused_naming_the_limit(client, fake_slack):
    install_config()
    body = submitted(client, fake_slack, request_values("vacation", date(2032, 1, 5), date(2032, 1, 6)))
    assert body and "at most 5 years ahead" in body["errors"][ids.START_BLOCK], body


def test_half_day_on_a_type_without_half_days_is_refused_under_half_days(client, fake_slack):
    install_config()
    body = submitted(client, fake_slack, request_values("medical", START, START, halves=(ids.HALF_START_PM,)))
    assert body and "half days" in body["errors"][ids.HALF_BLOCK], body


@pytest.mark.parametrize("text", ["2026-12-21 pm", "2026-12-21 half", "2026-12-21 am vacation", "2026-12-21 1/2"])
def test_half_day_words_are_refused_clearly(client, fake_slack, text):
    install_config()
    kind, said = answer(client, fake_slack, text)
    assert kind == "said" and says_what_is_accepted(said), said


@pytest.mark.parametrize("text", ["Help", "HELP", "List", "BALANCE", "Who", "Cancel"])
def test_sub_commands_in_any_case(client, fake_slack, text):
    install_config()
    kind, said = answer(client, fake_slack, text)
    assert kind == "said" and "I didn't understand" not in said, said


@pytest.mark.parametrize("text", ["help?", "help.", "list,", "balance!", "?", "-h", "--help"])
def test_sub_commands_with_punctuation_are_answered_with_help(client, fake_slack, text):
    install_config()
    kind, said = answer(client, fake_slack, text)
    assert kind == "said" and "/timeoff balance" in said, said


def test_for_in_plain_words_by_an_employee(client, fake_slack):
    """`/timeoff for vacation 2026-12-21` (plain English, no mention) by an employee: told only HR may
    record for someone else, though nobody was named. A clear answer, if not the kindest (see report)."""
    install_config()
    kind, said = answer(client, fake_slack, "for vacation 2026-12-21")
    assert kind == "said" and "Only HR" in said


def test_a_mention_without_for_by_hr(client, fake_slack):
    install_config()
    kind, said = answer(client, fake_slack, f"<@{ALICE}|alice> 2026-12-21", user=HR)
    assert kind == "said" and f"<@{ALICE}" not in said and says_what_is_accepted(said), said


def test_today_and_tomorrow_are_the_persons_own_days(client, fake_slack):
    from datetime import timedelta

    from django.core.cache import cache

    from approvals import directory
    from approvals.selectors import local_today

    install_config()
    cache.set(directory.timezone_key(ALICE), "Pacific/Kiritimati", 3600)  # her zone, as the cache knows it
    today = local_today("Pacific/Kiritimati")

    kind, view = answer(client, fake_slack, "tomorrow vacation")
    assert kind == "form" and initial(view) == {"type": "vacation", "start": (today + timedelta(days=1)).isoformat(),
                                                "end": (today + timedelta(days=1)).isoformat()}
    kind, view = answer(client, fake_slack, "today to tomorrow")
    assert initial(view)["start"] == today.isoformat() and initial(view)["end"] == (today + timedelta(days=1)).isoformat()


def test_today_with_the_persons_zone_not_known_leaves_the_dates_to_the_form(client, fake_slack):
    from django.core.cache import cache

    from approvals import directory

    install_config()
    cache.delete(directory.timezone_key(ALICE))

    kind, view = answer(client, fake_slack, "tomorrow vacation")

    assert kind == "form" and initial(view) == {"type": "vacation", "start": None, "end": None}


def test_dates_with_month_names_and_weekdays_prefill_the_form(client, fake_slack):
    """`/timeoff Mon 21 Dec – Wed 23 Dec vacation`, as our messages write a range, pasted back; a weekday
    is the next one after the person's today."""
    from django.core.cache import cache

    from approvals import directory
    from approvals.selectors import local_today
    from slackbot.typed_dates import next_weekday

    install_config()
    cache.set(directory.timezone_key(ALICE), "Europe/Paris", 3600)
    today = local_today("Europe/Paris")

    kind, view = answer(client, fake_slack, "Mon 21 Dec 2026 – Wed 23 Dec 2026 vacation")
    assert kind == "form" and initial(view) == {"type": "vacation", "start": "2026-12-21", "end": "2026-12-23"}
    kind, view = answer(client, fake_slack, "December 21st 2026 sick")
    assert kind == "form" and initial(view) == {"type": "sick", "start": "2026-12-21", "end": "2026-12-21"}
    kind, view = answer(client, fake_slack, "next friday")
    friday = next_weekday(today, 4).isoformat()
    assert kind == "form" and initial(view) == {"type": None, "start": friday, "end": friday}


def test_a_range_without_years_across_the_year_end_runs_forwards(client, fake_slack):
    install_config()
    kind, view = answer(client, fake_slack, "Dec 28 to Jan 2 vacation")
    values = initial(view)
    assert kind == "form" and values["start"][5:] == "12-28" and values["end"][5:] == "01-02"
    assert int(values["end"][:4]) == int(values["start"][:4]) + 1


def test_a_weekday_that_is_not_the_dates_is_refused(client, fake_slack):
    install_config()
    kind, said = answer(client, fake_slack, "Tue 21 Dec 2026 vacation")
    assert kind == "said" and said.startswith("Mon 21 Dec 2026 is a Monday, not a Tuesday."), said


def test_a_counted_day_with_the_zone_unknown_leaves_both_dates_to_the_form(client, fake_slack):
    """`tomorrow to 2026-12-23` while her zone is not known: not 23 Dec as both the first and last day."""
    from django.core.cache import cache

    from approvals import directory

    install_config()
    cache.delete(directory.timezone_key(ALICE))
    kind, view = answer(client, fake_slack, "tomorrow to 2026-12-23 vacation")
    assert kind == "form" and initial(view) == {"type": "vacation", "start": None, "end": None}
    kind, said = answer(client, fake_slack, "today tomorrow friday")
    assert kind == "said" and "at most two dates" in said


@pytest.mark.parametrize("typed, expected", [
    ("Dec 21 - 23", (date(2026, 12, 21), date(2026, 12, 23))),
    ("21 Dec to 23", (date(2026, 12, 21), date(2026, 12, 23))),
    ("2026-12-21 until 23 vacation", (date(2026, 12, 21), date(2026, 12, 23))),
])
def test_a_bare_day_after_a_date_is_of_the_same_month(typed, expected):
    found = parse_prefill(typed.split(), standard_config(), today=date(2026, 12, 4))
    assert (found.start, found.end) == expected


@pytest.mark.parametrize("typed, message", [
    ("Dec 28 to 2", "`2` comes before Mon 28 Dec: give the last day with its month (`Dec 28 to Jan 2`)."),
    ("Feb 27 to 30", "There is no such date as `30` in February."),
])
def test_a_bare_day_that_cannot_be_of_the_same_month_says_what_to_type(typed, message):
    assert parse_prefill(typed.split(), standard_config(), today=date(2026, 12, 4)) == message
