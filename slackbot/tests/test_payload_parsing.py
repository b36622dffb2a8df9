"""parse_interaction_body decodes `payload=<value>` itself, faster than parse_qs,
and must accept and refuse exactly what the parse_qs parse did.

`reference_parse` is that parse as it was. Every body is given to both: the
same dict comes out, or both raise BadPayload with the same message. Slack's
own bodies (urlencode of the JSON, `+` for spaces) must take the fast path;
hostile ones (malformed escapes, invalid UTF-8, literal `=`, `&`, newlines,
non-ASCII) may take either path but must give the same answer.
"""

import json
from datetime import date
from urllib.parse import parse_qs, quote, quote_plus, urlencode

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from slackbot.payloads import BadPayload, _lone_payload_field, check_interaction, parse_interaction_body, parse_json_object
from test_support.flows import request_values
from test_support.slack_requests import view_submission_payload

PROPERTY = dict(deadline=None, database=None)  # no .hypothesis/ example database in the working tree


def reference_parse(body: str) -> dict:
    """parse_interaction_body before the fast path: parse_qs over the whole body."""
    try:
        fields = parse_qs(body, keep_blank_values=True, strict_parsing=bool(body), max_num_fields=100)
    except ValueError as exc:
        raise BadPayload(f"malformed form body: {exc}") from None
    if "payload" not in fields:
        raise BadPayload("interaction without a payload field")
    return check_interaction(parse_json_object(fields["payload"][0], "payload"))


def outcome(parse, body: str):
    try:
        return "parsed", parse(body)
    except BadPayload as exc:
        return "refused", str(exc)


def assert_same_as_reference(body: str):
    result = outcome(parse_interaction_body, body)
    assert result == outcome(reference_parse, body), body
    return result


def assert_same_field(body: str):
    """Where the fast path answers, it gives parse_qs's value of the field."""
    field = _lone_payload_field(body)
    if field is not None:
        assert field == parse_qs(body, keep_blank_values=True, strict_parsing=True)["payload"][0], body
    return field


def slack_body(payload, *, quote_via=quote_plus, ensure_ascii=True) -> str:
    return urlencode({"payload": json.dumps(payload, ensure_ascii=ensure_ascii)}, quote_via=quote_via)


MINIMAL = {"type": "block_actions", "user": {"id": "U_ALICE"}}


def test_a_modal_submission_takes_the_fast_path():
    view = {
        "type": "modal", "callback_id": "timeoff_request", "private_metadata": json.dumps({"channel": "C_GENERAL"}),
        "title": {"type": "plain_text", "text": "Time off ✈️", "emoji": True},
        "blocks": [{"type": "section", "block_id": f"b{i}", "text": {
            "type": "mrkdwn", "text": f"<!channel> 50% + 10% & \"quoted\" Zoë 🌴 a=b\tline {i}\nnext"}} for i in range(15)],
    }
    values = request_values("vacation", date(2031, 3, 10), date(2031, 3, 12), note="Zürich 🇨🇭 +2 %2B\n\"ok\"")
    payload = view_submission_payload(user_id="U_ALICE", view=view, values=values)
    body = slack_body(payload)

    assert assert_same_field(body) is not None
    assert assert_same_as_reference(body) == ("parsed", payload)


@pytest.mark.parametrize("value", [
    "%zz", "%", "%4", "%%", "%%41", "%4%41", "%G1", "%1G", "%%%", "%=", "%=41", "%\n", "%\r\n41", "%\r41\n",
    # Lengths a2b_qp would get right by chance: `=\r` drops all up to a `\n`, and `=41` decodes.
    "%\r%a", "%\r%ab%cd", "%zz=41", "%\n%0",
    "%25", "%2B", "+", "%2b%2B+", "=", "==41", "=41", "a=b", "%3D", "%3d", "%26", "&", "\n", "\r", "\x00", "%00",
    "%C3%A9", "%c3%a9", "é", "%C3é%A9", "😀", "%F0%9F%98%80", "%F0%9F%98", "%C3%28", "%FF", "%C0%AF", "%ED%A0%80",
    "%E2%82", "%E2%82%E2%82%AC", "%80", "_", "%5F",
])
def test_hostile_escapes_inside_a_json_string(value):
    """The escape inside a string of a valid payload, so a wrong decoding shows in the dict."""
    before, after = slack_body({**MINIMAL, "text": "<>"}).split("%3C%3E")
    body = before + value + after
    assert_same_field(body)
    assert_same_as_reference(body)


@pytest.mark.parametrize("body", [
    "", "payload", "payload=", "payload=%", "payload==", "payload=%7B%7D", "payload=[]", "payload=null",
    "Payload=" + quote_plus(json.dumps(MINIMAL)),
    "p%61yload=" + quote_plus(json.dumps(MINIMAL)),
    "payload=" + quote_plus(json.dumps(MINIMAL)) + "&",
    "payload=" + quote_plus(json.dumps(MINIMAL)) + "&payload=x",
    "x=1&payload=" + quote_plus(json.dumps(MINIMAL)),
    "payload=" + json.dumps(MINIMAL),  # not encoded at all
    "payload=" + quote_plus(json.dumps(MINIMAL)) + "\n",
    "payload=" + quote_plus(json.dumps(MINIMAL)).replace("%22", "%22=\n"),
    "payload=" + quote_plus(json.dumps(MINIMAL)).replace("%7B", "%7B%20%0A", 1),
    "payload=" + quote_plus(json.dumps({**MINIMAL, "t": "é"}, ensure_ascii=False), safe="é"),
    "payload=" + quote_plus(json.dumps("[" * 5000 + "]" * 5000)),
])
def test_hostile_bodies(body):
    assert_same_field(body)
    assert_same_as_reference(body)


def test_invalid_utf8_becomes_replacement_characters_as_with_parse_qs():
    before, after = slack_body({**MINIMAL, "text": "<>"}).split("%3C%3E")
    body = before + "%C3%28%FF%ED%A0%80%F0%9F%98" + after
    assert _lone_payload_field(body) is not None
    status, payload = assert_same_as_reference(body)
    assert status == "parsed" and "\ufffd" in payload["text"]


def test_malformed_escapes_fall_back_to_parse_qs():
    before, after = slack_body(MINIMAL).split("%22", 1)
    for bad in ("%zz", "%4", "%%", "%"):
        assert _lone_payload_field(before + bad + "%22" + after) is None


# Any text: the characters that mean something in a form or to a2b_qp are drawn often.
texts = st.text(st.one_of(st.characters(exclude_categories=["Cs"]), st.sampled_from("%+&=;\n\r\t\"\\<>!_ ")))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=25,
)
payloads = st.builds(
    lambda required, extra: extra | required,
    st.fixed_dictionaries({"type": texts, "user": st.fixed_dictionaries({"id": texts}, optional={"name": texts})}),
    st.dictionaries(texts, json_values, max_size=6),
)


@settings(max_examples=500, **PROPERTY)
@given(payload=payloads, quote_via=st.sampled_from([quote_plus, quote]), ensure_ascii=st.booleans())
@example(payload={"type": "x", "user": {"id": "U"}, "t": "100%+ & = \n😀"}, quote_via=quote_plus, ensure_ascii=False)
def test_slack_encoded_payloads_parse_as_with_parse_qs(payload, quote_via, ensure_ascii):
    body = slack_body(payload, quote_via=quote_via, ensure_ascii=ensure_ascii)
    assert assert_same_field(body) is not None  # what urlencode makes always takes the fast path
    status, parsed = assert_same_as_reference(body)
    if payload["type"] and payload["user"]["id"]:
        assert (status, parsed) == ("parsed", payload)


hostile_alphabet = st.sampled_from("%%%%++==&0123456789abcdefABCDEFGgz{}[]\":,\\ \n\r\x00é😀_")
prefixes = st.sampled_from(["payload=", "payload=", "payload=", "", "payload", "Payload=", "payload==", "a=1&payload="])


@settings(max_examples=1000, **PROPERTY)
@given(prefix=prefixes, rest=st.text(hostile_alphabet, max_size=60))
@example(prefix="payload=", rest="%")
@example(prefix="payload=", rest="%%41")
@example(prefix="payload=", rest="%\n41")
@example(prefix="payload=", rest="%\r%a")
def test_hostile_bodies_parse_as_with_parse_qs(prefix, rest):
    body = prefix + rest
    assert_same_field(body)
    assert_same_as_reference(body)


fragments = st.one_of(
    st.sampled_from(["%", "%z", "%4", "%%", "%%4", "%C3", "%FF", "%ED%A0%80", "%F0%9F", "+", "%2B", "=", "&", "\n",
                     "\r", "é", "😀", "%0A", "%0", "%00", "%22", "%5C", "%7B"]),
    st.text(hostile_alphabet, max_size=6),
)


@settings(max_examples=600, **PROPERTY)
@given(payload=payloads, edits=st.lists(st.tuples(st.floats(0, 1), fragments), min_size=1, max_size=4))
def test_slack_bodies_with_hostile_insertions_parse_as_with_parse_qs(payload, edits):
    """A Slack body with fragments inserted anywhere: often still valid JSON, so the dicts are compared."""
    body = slack_body(payload)
    for where, fragment in edits:
        at = int(where * len(body))
        body = body[:at] + fragment + body[at:]
    assert_same_field(body)
    assert_same_as_reference(body)
