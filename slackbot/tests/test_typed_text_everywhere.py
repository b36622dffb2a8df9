"""Everything a person typed reaches Slack escaped, in every message and view, in every field.

The text carries what Slack's mrkdwn acts on (`<!channel>`, `<!here>`, a user
mention `<@U…>`, a disguised link `<http://…|label>`, a user group, a bare `&`)
and what it does not but a careless cut or escape could break (an emoji, a
right-to-left override, a zero-width space, a newline). It goes in every field
a person types: a request's note, a reject reason, the note of an edit, the
note of leave HR records (in Slack and in the console), and what HR typed into
the configuration and reaches messages: team, leave-type and holiday names and
a blackout's reason. Then every `text` and every mrkdwn text object of every
message, ephemeral note, view and slash-command answer the app sent is read:
none carries a mention, a link or a bare `&` that came from typed text, the
typed text is shown (escaped once: `&amp;lt;` would show `&lt;`), and nothing
Slack refused (a text too long for it, say) kept a message from its reader.

test_hostile_text covers the same ground for `<!channel>`-style pings; here the
`&` and the invisible characters too, and the fields it does not reach (an
edit's note, HR's recorded leave, the daily jobs' posts, texts longer than the
forms allow).
"""

import json
import re
from dataclasses import replace
from datetime import time as dt_time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import call_command

from approvals import block_ids as ids
from approvals.block_kit import escape
from approvals.config_file import config_to_dict, parse_config
from approvals.config_types import BlackoutConfig, HolidayConfig
from approvals.messages import MAX_NOTE_CHARS, MAX_REASON_CHARS
from fake_slack.personas import C_ENG_APPROVALS
from test_support.flows import (
    ALICE,
    BOB,
    ENGINEERING,
    HR,
    MONDAY,
    SICK,
    VACATION,
    WEDNESDAY,
    dms_to,
    install_config,
    open_request_form,
    posted_requests,
    request_time_off,
    request_values,
    standard_config,
    submit_request,
)
from test_support.slack_requests import (
    block_actions_payload,
    event_envelope,
    post_command,
    post_event,
    post_interaction,
    view_submission_payload,
)

pytestmark = pytest.mark.django_db

# What a person may type: every kind of mrkdwn markup, and characters a cut or an escape could break.
TYPED = ("Q&A <!channel> <@U_EVIL> <http://evil.example|Re-submit here> <!here> <!subteam^S_ENG> 🌴 "
         "\u202eevil\u200b\nsecond line")
# What HR may type into a name (the configuration refuses control and invisible characters, and newlines).
NAMED = "Q&A <!channel> <@U_EVIL> <http://evil.example|y> <!here> 🌴"
# A `<…>` that only typed text could have put there.
FROM_TYPED_TEXT = re.compile(r"<(?:!channel|!here|!everyone|!subteam\^[^>]*|@U_EVIL|http://evil\.example[^>]*)>")
BARE_AMPERSAND = re.compile(r"&(?!amp;|lt;|gt;)")
SENDING = ("chat.postMessage", "chat.update", "chat.postEphemeral", "views.open", "views.update", "views.publish")


def mrkdwn_texts(value):
    """Every text Slack reads as mrkdwn in blocks or a view (not plain_text, which it shows as it is)."""
    if isinstance(value, dict):
        if value.get("type") == "plain_text":
            return
        for key, item in value.items():
            if key == "text" and isinstance(item, str):
                yield item
            else:
                yield from mrkdwn_texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from mrkdwn_texts(item)


def everything_sent(fake_slack, answers=()) -> list[tuple[str, str]]:
    """(where, text) of every mrkdwn text sent: a message's `text`, its blocks, views, and `answers`
    (what the app answered Slack's requests with)."""
    sent = []
    for call in fake_slack.calls():
        if call.method not in SENDING:
            continue
        if isinstance(call.params.get("text"), str):
            sent.append((call.method, call.params["text"]))
        view = call.params.get("view")
        view = json.loads(view) if isinstance(view, str) else view
        for text in mrkdwn_texts((view or {}).get("blocks") or call.params.get("blocks") or []):
            sent.append((call.method, text))
    for answer in answers:
        sent += [("answer", answer.get("text", ""))] + [("answer", t) for t in mrkdwn_texts(answer.get("blocks", []))]
    return sent


def assert_typed_text_inert(fake_slack, answers=()) -> list[tuple[str, str]]:
    sent = everything_sent(fake_slack, answers)
    assert sent
    for where, text in sent:
        assert not FROM_TYPED_TEXT.search(text), (where, text)
        assert not BARE_AMPERSAND.search(text), (where, text)
        assert "&amp;amp;" not in text and "&amp;lt;" not in text, (where, text)  # escaped once
    refused = [(c.method, c.response.get("error")) for c in fake_slack.calls() if c.method in SENDING
               and not c.response.get("ok")]
    assert not refused, refused  # nothing too long, nothing malformed: every message reached its reader
    return sent


def block_text(blocks) -> str:
    return "\n".join(mrkdwn_texts(blocks))


def shown(typed: str) -> list[str]:
    """How each line of `typed` reads once escaped (a note is quoted line by line)."""
    return [escape(line.strip()) for line in typed.strip().split("\n")]


def accepted(config):
    """`config` as import_config and the console accept it."""
    return parse_config({**config_to_dict(config), "version": 1})


def buttons(blocks) -> dict:
    return {element["action_id"]: (block["block_id"], element.get("value", ""))
            for block in blocks if block.get("type") == "actions" for element in block["elements"]}


def press(client, user, message, action_id):
    block_id, value = buttons(message.blocks)[action_id]
    response = post_interaction(client, block_actions_payload(user_id=user, action_id=action_id, value=value,
                                                              block_id=block_id, channel_id=message.channel,
                                                              message_ts=message.ts))
    assert response.status_code == 200, response.content


def the_request(fake_slack):
    [message] = [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS) if m.metadata]
    return message


def reject(client, fake_slack, reason: str) -> None:
    press(client, BOB, the_request(fake_slack), ids.REJECT_ACTION)
    form = fake_slack.last_call("views.open").params["view"]
    values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": reason}}}
    response = post_interaction(client, view_submission_payload(user_id=BOB, view=form, values=values,
                                                                view_id="V_REASON"))
    assert response.status_code == 200 and response.content == b""


def test_a_note_and_a_reject_reason_are_escaped_in_every_message_they_reach(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE, note=TYPED)
    listed = post_command(client, "list", user_id=ALICE).json()
    reject(client, fake_slack, TYPED)
    post_event(client, event_envelope({"type": "app_home_opened", "user": ALICE, "tab": "home"}, event_id="EvTyped1"))

    sent = assert_typed_text_inert(fake_slack, [listed])
    request = the_request(fake_slack)
    assert all(line in block_text(request.blocks) for line in shown(TYPED))  # the note, shown
    reason = escape(TYPED.strip())
    assert request.metadata["event_payload"]["reason"] == TYPED.strip()  # the record keeps what was typed
    assert reason in block_text(request.blocks)  # the status line
    [reply] = [m.text for m in fake_slack.workspace.replies(C_ENG_APPROVALS, request.ts) if m.ts != request.ts]
    assert reply == f"Rejected by <@{BOB}>: {reason}"
    assert any(reason in text for where, text in sent if where == "chat.postMessage" and "rejected your" in text)


def test_the_note_of_an_edit_is_escaped_in_the_rewritten_request(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE, note="Ski week")
    [receipt] = [m for m in fake_slack.workspace.messages(ALICE) if "is with" in m.text]
    press(client, ALICE, receipt, ids.EDIT_ACTION)
    form = fake_slack.last_call("views.open").params["view"]
    response = submit_request(client, ALICE, form, request_values("vacation", MONDAY, MONDAY, note=TYPED),
                              view_id="V_EDIT")
    assert response.status_code == 200 and response.content == b""

    assert_typed_text_inert(fake_slack)
    request = the_request(fake_slack)
    assert request.metadata["event_payload"]["end"] == MONDAY.isoformat()  # the edit was made
    assert all(line in block_text(request.blocks) for line in shown(TYPED))
    assert "Ski week" not in block_text(request.blocks)  # the new note replaced the old


@pytest.mark.parametrize("where", ["slack", "console"])
def test_the_note_of_leave_hr_records_is_escaped(client, admin_client, fake_slack, where):
    install_config()
    if where == "slack":
        post_command(client, f"for <@{ALICE}|alice> {MONDAY.isoformat()}", user_id=HR)
        form = fake_slack.last_call("views.open").params["view"]
        submit_request(client, HR, form, request_values("vacation", MONDAY, WEDNESDAY, note=TYPED), view_id="V_HR")
    else:
        response = admin_client.post("/console/leave/record", {
            "person": "alice@example.com", "leave_type": "vacation", "start": MONDAY.isoformat(),
            "end": WEDNESDAY.isoformat(), "note": TYPED})
        assert response.status_code == 302

    assert_typed_text_inert(fake_slack)
    request = the_request(fake_slack)
    assert request.metadata["event_payload"]["status"] == "approved"  # recorded by HR: approved at once
    assert all(line in block_text(request.blocks) for line in shown(TYPED))
    assert any("recorded time off for you" in text for text in dms_to(fake_slack, ALICE))


def test_names_hr_typed_are_escaped_in_every_message_and_view_and_the_daily_posts(client, fake_slack):
    holiday, blackout = MONDAY + timedelta(days=7), MONDAY + timedelta(days=14)
    team = replace(ENGINEERING, name=f"Team {NAMED}", digest_time=dt_time(9, 0), nudge_after_hours=1)
    install_config(accepted(standard_config(
        teams=(team,), leave_types=(replace(VACATION, name=f"Vacation {NAMED}"), SICK),
        holidays=(HolidayConfig(date=holiday, name=f"Day {NAMED}"),),
        blackouts=(BlackoutConfig(start=blackout, end=blackout + timedelta(days=1), reason=f"Freeze {NAMED}"),))))
    request_time_off(client, fake_slack, ALICE)
    press(client, BOB, the_request(fake_slack), ids.APPROVE_ACTION)
    answers = [post_command(client, words, user_id=ALICE).json()
               for words in ("list", f"balance {MONDAY.year}", "who", "help")]
    for event_id, user in (("EvNames1", ALICE), ("EvNames2", BOB)):
        post_event(client, event_envelope({"type": "app_home_opened", "user": user, "tab": "home"}, event_id=event_id))
    # A request over the holiday and the blackout, on a cold cache: refused by its task, by DM, naming both.
    form = open_request_form(client, fake_slack, ALICE)
    cache.clear()
    submit_request(client, ALICE, form, request_values("vacation", holiday, blackout + timedelta(days=1)),
                   view_id="V_REFUSED")
    # The daily posts: the reminder the day before, "out today", the weekly digest.
    for day in (MONDAY - timedelta(days=3), MONDAY):
        call_command("run_jobs", "--at", f"{day.isoformat()}T09:05:00-07:00", "--team", team.name, stdout=StringIO())

    sent = assert_typed_text_inert(fake_slack, answers)
    everything = json.dumps(sent, ensure_ascii=False)
    for name in (team.name, f"Vacation {NAMED}", f"Day {NAMED}", f"Freeze {NAMED}"):
        assert escape(name) in everything, name
    [refused] = [text for text in dms_to(fake_slack, ALICE) if "couldn't send" in text]
    assert escape(f"Day {NAMED}") in refused or escape(f"Freeze {NAMED}") in refused
    assert len(posted_requests(fake_slack)) == 1


# --- Longer than the forms allow ---------------------------------------------------------------
# Slack's forms hold at most MAX_NOTE_CHARS and MAX_REASON_CHARS (their max_length); a payload that carries
# more is cut to that, so what it reaches stays within what Slack takes (40,000 characters of `text`).


def test_a_note_longer_than_the_form_allows_is_cut_and_its_refusal_still_told(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    form = open_request_form(client, fake_slack, ALICE)
    cache.clear()  # cold: the overlapping request is refused by its task, by DM, showing the note back
    long_note = "<&>" * 5000  # 15,000 characters, 45,000 once escaped
    submit_request(client, ALICE, form, request_values("vacation", MONDAY, WEDNESDAY, note=long_note),
                   view_id="V_LONG")

    assert_typed_text_inert(fake_slack)
    [refused] = [text for text in dms_to(fake_slack, ALICE) if "couldn't send" in text]
    assert f'"{escape(long_note[:MAX_NOTE_CHARS])}"' in refused  # shown back, escaped, as far as the form holds
    assert len(posted_requests(fake_slack)) == 1


def test_a_reject_reason_longer_than_the_form_allows_is_cut_and_the_rejection_told(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    reject(client, fake_slack, "<!channel> & " * 4000)  # 52,000 characters, 100,000 once escaped

    assert_typed_text_inert(fake_slack)  # the thread reply, the DM and the receipt: none refused as too long
    request = the_request(fake_slack)
    reason = request.metadata["event_payload"]["reason"]
    assert request.metadata["event_payload"]["status"] == "rejected" and len(reason) <= MAX_REASON_CHARS
    [told] = [text for text in dms_to(fake_slack, ALICE) if "rejected your" in text]
    assert escape(reason) in told
    [reply] = [m.text for m in fake_slack.workspace.replies(C_ENG_APPROVALS, request.ts) if m.ts != request.ts]
    assert reply == f"Rejected by <@{BOB}>: {escape(reason)}"
