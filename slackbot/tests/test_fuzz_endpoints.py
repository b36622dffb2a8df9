"""Thousands of malformed requests at the three Slack endpoints (DESIGN §8).

Signed with the real signing secret, no body — broken form encoding, invalid
JSON, wrong types in any field, missing fields, unknown ids, huge bodies,
non-UTF-8 bytes, buttons and modals of requests that do not exist — may produce a
5xx or an exception: the answer is a 2xx (acknowledged, maybe with a polite
message) or a 4xx. With a bad signature nothing is accepted and nothing reaches
Slack.

Most examples start from a payload shaped like Slack's and break up to three
things anywhere in it (a field deleted, or given a value of another type), so the
handlers behind the parsers are reached too, not only the parsers. The test
client re-raises any exception a view lets escape: "no 5xx" also means "no
stack trace". Tasks run inline (the immediate backend), so what the handlers
enqueue runs too; a task's failure is recorded by the backend, not raised.
"""

import copy
import json
import time
import uuid
from urllib.parse import quote, urlencode

import pytest
from django.conf import settings as django_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fake_slack.personas import ALICE, BOB, C_ARCHIVED, C_ENG, C_ENG_APPROVALS, C_NOBOT, CAROL, DAVE
from approvals import block_ids as ids
from test_support.flows import install_config
from test_support.slack_requests import FORM, signature_headers

pytestmark = [
    pytest.mark.django_db,
    # Odd user and event ids make odd cache keys; only memcached would mind, and we do not use it.
    pytest.mark.filterwarnings("ignore::django.core.cache.backends.base.CacheKeyWarning"),
]

COMMANDS, INTERACTIONS, EVENTS = ENDPOINTS = ("/slack/commands", "/slack/interactions", "/slack/events")
JSON = "application/json"

# The database and the fake Slack are function-scoped and shared by every example of
# a test: state piles up across examples as it would in production, which is fine.
FUZZ = dict(
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    deadline=None,
    database=None,  # no .hypothesis/ example database in the working tree
)


@pytest.fixture
def workspace(fake_slack):
    """The standard configuration against the fake Slack, so handlers take their real paths."""
    install_config()
    return fake_slack


# --- Values -------------------------------------------------------------------------------

USERS = [ALICE, BOB, CAROL, DAVE, "U_NOBODY"]
CHANNELS = [C_ENG, C_ENG_APPROVALS, C_NOBOT, C_ARCHIVED, "C_GONE"]
TRIGGER = "1766000000.4744562912.deadbeefdeadbeef"
TS = st.sampled_from(["1766000000.000100", "1766000000.000200", "0000000000.000000"])

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30))
# Any JSON value: what "a wrong type in a field" may be.
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=10,
)
odd_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "null", "{}", "[]", "0", "-1", "\x00", "🌴", "2031-02-30", "9999-99-99", "1e309",
                     "x" * 3000,
                     "<!channel>", "%ZZ", '{"id": 1}', "U_ALICE\nU_BOB", "../../etc/passwd",
                     "'; DROP TABLE approvals_team; --"]),
)
junk = st.one_of(json_values, odd_text)


class AsJson:
    """A field Slack sends as a JSON string inside the payload (a button value, private_metadata).

    Mutations may break what is inside, or replace the whole string."""

    def __init__(self, value):
        self.value = value


DELETE = object()  # a mutation that removes the field


def finish(node):
    """Turn the tree into plain JSON values, encoding the AsJson fields."""
    if isinstance(node, AsJson):
        return json.dumps(finish(node.value))
    if isinstance(node, dict):
        return {key: finish(value) for key, value in node.items()}
    if isinstance(node, list):
        return [finish(value) for value in node]
    return node


def children_of(node):
    """(container, key) for each field or item directly inside `node`."""
    container = node.value if isinstance(node, AsJson) else node
    if isinstance(container, dict):
        return [(container, key) for key in container]
    if isinstance(container, list):
        return [(container, index) for index in range(len(container))]
    return []


def fields_of(tree) -> list:
    """Every field and item in the tree, at any depth, as (container, key)."""
    found, todo = [], children_of(tree)
    while todo:
        container, key = todo.pop()
        found.append((container, key))
        todo.extend(children_of(container[key]))
    return found


def mutate_once(draw, tree):
    """Pick any field at any depth (uniformly, so deep ones are hit as often as top-level ones)
    and break it: delete it, or give it a value of another type."""
    fields = fields_of(tree)
    replacement = draw(st.one_of(st.just(DELETE), junk, st.none(), st.builds(dict), st.builds(list)))
    replacement = replacement if replacement is DELETE else copy.deepcopy(replacement)
    if not fields:
        return {} if replacement is DELETE else replacement
    container, key = draw(st.sampled_from(fields))
    if replacement is DELETE:
        del container[key]
    else:
        container[key] = replacement
    return tree


@st.composite
def broken(draw, shapes, max_mutations=3):
    """A Slack-shaped payload from `shapes` with up to `max_mutations` things broken (maybe none)."""
    tree = copy.deepcopy(draw(shapes))  # strategies may share objects (st.just): never mutate theirs
    for _ in range(draw(st.integers(0, max_mutations))):
        tree = mutate_once(draw, tree)
    return finish(tree)


# --- Slack-shaped payloads (for requests and modals that do not exist) ---------------------


def user():
    return st.builds(lambda u: {"id": u, "username": u.lower(), "team_id": "T_ACME"}, st.sampled_from(USERS))


def dates():
    return st.dates().map(lambda d: d.isoformat())


def request_state():
    option = st.sampled_from(["vacation", "sick", "medical", "unpaid"]).map(
        lambda code: {"text": {"type": "plain_text", "text": code}, "value": code})
    half = st.sampled_from([ids.HALF_START_PM, ids.HALF_END_AM, "noon"]).map(lambda v: {"value": v})
    return st.fixed_dictionaries({"values": st.fixed_dictionaries({
        ids.TYPE_BLOCK: st.fixed_dictionaries({ids.TYPE_ACTION: st.fixed_dictionaries(
            {"type": st.just("static_select")}, optional={"selected_option": option})}),
        ids.START_BLOCK: st.fixed_dictionaries({ids.START_ACTION: st.fixed_dictionaries(
            {"type": st.just("datepicker")}, optional={"selected_date": dates()})}),
        ids.END_BLOCK: st.fixed_dictionaries({ids.END_ACTION: st.fixed_dictionaries(
            {"type": st.just("datepicker")}, optional={"selected_date": dates()})}),
        ids.HALF_BLOCK: st.fixed_dictionaries({ids.HALF_ACTION: st.fixed_dictionaries(
            {"type": st.just("checkboxes"), "selected_options": st.lists(half, max_size=3)})}),
        ids.NOTE_BLOCK: st.fixed_dictionaries({ids.NOTE_ACTION: st.fixed_dictionaries(
            {"type": st.just("plain_text_input"), "value": st.one_of(st.none(), st.text(max_size=60))})}),
    })})


def reason_state():
    return st.fixed_dictionaries({"values": st.fixed_dictionaries({ids.REASON_BLOCK: st.fixed_dictionaries({
        ids.REASON_ACTION: st.fixed_dictionaries({"type": st.just("plain_text_input"),
                                                  "value": st.one_of(st.none(), st.text(max_size=60))})})})})


def request_ids():
    return st.one_of(st.uuids().map(str), st.just(str(uuid.UUID(int=0))))


def request_modal_view():
    return st.fixed_dictionaries({
        "id": st.sampled_from(["V_FUZZ1", "V_FUZZ2"]),
        "hash": st.text(alphabet="0123456789.abcdef", min_size=1, max_size=20),
        "type": st.just("modal"),
        "callback_id": st.just(ids.REQUEST_MODAL),
        "private_metadata": st.one_of(st.just(""), st.builds(AsJson, st.fixed_dictionaries({}))),
        "state": request_state(),
    })


def reject_modal_view():
    return st.fixed_dictionaries({
        "id": st.just("V_FUZZ_REJ"),
        "hash": st.just("1766000000.abcdef"),
        "type": st.just("modal"),
        "callback_id": st.just(ids.REJECT_MODAL),
        "private_metadata": st.builds(AsJson, st.fixed_dictionaries({
            "id": request_ids(), "user": st.sampled_from(USERS), "channel": st.sampled_from(CHANNELS), "ts": TS})),
        "state": reason_state(),
    })


def decision_click():
    """Approve or Reject on a request message, for a request that does not exist."""
    return st.fixed_dictionaries({
        "type": st.just("block_actions"),
        "user": user(),
        "trigger_id": st.just(TRIGGER),
        "container": st.fixed_dictionaries({"type": st.just("message"), "channel_id": st.sampled_from(CHANNELS),
                                            "message_ts": TS, "is_ephemeral": st.just(False)}),
        "actions": st.lists(st.fixed_dictionaries({
            "action_id": st.sampled_from([ids.APPROVE_ACTION, ids.REJECT_ACTION]),
            "block_id": st.just(ids.DECISION_BLOCK),
            "type": st.just("button"),
            "value": st.builds(AsJson, st.fixed_dictionaries({"id": request_ids(), "user": st.sampled_from(USERS)})),
        }), min_size=1, max_size=2),
    })


def form_change():
    """A date, type or half-day change inside the request modal."""
    return st.fixed_dictionaries({
        "type": st.just("block_actions"),
        "user": user(),
        "trigger_id": st.just(TRIGGER),
        "container": st.fixed_dictionaries({"type": st.just("view"), "view_id": st.just("V_FUZZ1")}),
        "view": request_modal_view(),
        "actions": st.lists(st.fixed_dictionaries({
            "action_id": st.sampled_from([ids.TYPE_ACTION, ids.START_ACTION, ids.END_ACTION, ids.HALF_ACTION,
                                          "nobody_knows"]),
            "block_id": st.sampled_from([ids.TYPE_BLOCK, ids.START_BLOCK, ids.END_BLOCK, ids.HALF_BLOCK]),
            "type": st.sampled_from(["datepicker", "static_select", "checkboxes"]),
            "selected_date": dates(),
        }), min_size=1, max_size=1),
    })


def submission(view):
    return st.fixed_dictionaries({
        "type": st.just("view_submission"),
        "user": user(),
        "team": st.just({"id": "T_ACME"}),
        "trigger_id": st.just(TRIGGER),
        "view": view,
        "response_urls": st.just([]),
    })


def other_interaction():
    return st.fixed_dictionaries({
        "type": st.sampled_from(["view_closed", "shortcut", "message_action", "block_suggestion",
                                 "interactive_message", "workflow_step_edit"]),
        "user": user(),
        "callback_id": st.sampled_from([ids.REQUEST_MODAL, ids.REJECT_MODAL, "nobody_knows"]),
        "view": st.one_of(request_modal_view(), reject_modal_view()),
    })


def interaction():
    return st.one_of(decision_click(), form_change(), submission(request_modal_view()),
                     submission(reject_modal_view()), other_interaction())


def command_text():
    """`/timeoff` arguments: a sub-command (or none) and words that are nearly dates, years or types."""
    word = st.one_of(
        st.sampled_from(["help", "vacation", "sick", "Vacation", "2031-03-10", "2031-03-12", "2031-13-01",
                         "2031-02-29", "0001-01-01", "9999-12-31", "--", "?", "🌴", "0000", "9999", "2027", "٢٠٢٧",
                         "-2027", "+2027", "2027.0", "1e3"]),
        st.dates().map(lambda d: d.isoformat()),
        # Digits of any script: int() accepts the decimal ones (Nd) and refuses superscripts (No).
        st.text(alphabet=st.characters(categories=["Nd", "No"]), min_size=1, max_size=5),
        st.text(min_size=1, max_size=12).filter(lambda w: not w.isspace()),
    )
    subcommand = st.sampled_from(["", "help", "HELP", "balance", "Balance"])
    return st.one_of(
        st.tuples(subcommand, st.lists(word, max_size=3)).map(lambda t: " ".join([t[0], *t[1]]).strip()),
        st.text(max_size=40),
    )


def command():
    return st.fixed_dictionaries({
        "command": st.just("/timeoff"),
        "text": command_text(),
        "user_id": st.sampled_from(USERS),
        "team_id": st.just("T_ACME"),
        "channel_id": st.sampled_from(CHANNELS),
        "trigger_id": st.just(TRIGGER),
        "response_url": st.just("https://hooks.slack.com/commands/T_ACME/1/abc"),
    })


def event_envelope():
    callback = st.fixed_dictionaries({
        "type": st.just("event_callback"),
        "team_id": st.just("T_ACME"),
        "event_id": st.text(alphabet="Ev0123456789ABCDEF", min_size=3, max_size=12),
        "event_time": st.integers(0, 2**31),
        "event": st.fixed_dictionaries({
            "type": st.sampled_from(["app_home_opened", "member_joined_channel", "message", "app_uninstalled",
                                     "tokens_revoked"]),
            "user": st.sampled_from(USERS),
            "channel": st.sampled_from(CHANNELS),
        }),
    })
    verification = st.fixed_dictionaries({"type": st.just("url_verification"), "token": st.just("unused"),
                                          "challenge": st.text(min_size=1, max_size=60)})
    return st.one_of(callback, verification, st.just({"type": "app_rate_limited", "minute_rate_limited": 1}))


def form_encode(fields) -> bytes:
    """Form-encode a dict whose values may be of any type (a confused sender's str() of each)."""
    if not isinstance(fields, dict):
        return json.dumps(fields).encode()
    return urlencode({str(key): value if isinstance(value, str) else json.dumps(value)
                      for key, value in fields.items()}).encode()


def interaction_body(payload) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


# Bodies that are not what the endpoint expects at all.
raw_bodies = st.one_of(
    st.binary(max_size=300),  # includes non-UTF-8 bytes
    st.text(max_size=200).map(str.encode),
    st.sampled_from([b"%", b"%%", b"%zz", b"a=%ff%fe", b"payload=%ff", b"payload", b"&&&", b"=", b"a==b",
                     b"\xff\xfe\x00", b"payload=" + quote("\udcff", errors="surrogatepass").encode(),
                     b"{", b'{"type": "event_callback"', b"[" * 3000, b"null", b'"string"', b"1e999",
                     b'{"type": "url_verification", "challenge": NaN}', b"\xef\xbb\xbf{}",
                     b"payload=" + b"%5B" * 3000, b"payload=%7B%22type%22%3A%22block_actions%22",
                     b"command=%2Ftimeoff&user_id=U_ALICE&team_id=T_ACME&text=%E9%E9"]),
)


# --- Sending ------------------------------------------------------------------------------


def send(client, path: str, body: bytes, *, content_type: str = FORM, headers: dict | None = None):
    """POST `body`, signed with the real secret unless `headers` replace the signature."""
    all_headers = signature_headers(body) | (headers or {})
    return client.post(path, data=body, content_type=content_type, headers=all_headers)


def assert_handled(response, body: bytes):
    assert response.status_code < 500, (response.status_code, body[:1000])


# --- Valid signatures: never a 5xx --------------------------------------------------------


@settings(max_examples=300, **FUZZ)
@given(path=st.sampled_from(ENDPOINTS), body=raw_bodies, content_type=st.sampled_from([FORM, JSON, "text/plain"]))
def test_it_survives_any_bytes(client, workspace, path, body, content_type):
    assert_handled(send(client, path, body, content_type=content_type), body)


@settings(max_examples=400, **FUZZ)
@given(fields=broken(command()))
def test_it_survives_slash_commands_with_wrong_or_missing_fields(client, workspace, fields):
    body = form_encode(fields)
    assert_handled(send(client, COMMANDS, body), body)


@settings(max_examples=200, **FUZZ)
@given(payload=st.one_of(odd_text, junk.map(json.dumps), st.text(max_size=200)))
def test_it_survives_interaction_payloads_that_are_not_json_objects(client, workspace, payload):
    body = urlencode({"payload": payload}).encode()
    assert_handled(send(client, INTERACTIONS, body), body)


@settings(max_examples=700, **FUZZ)
@given(payload=broken(st.one_of(decision_click(), form_change())))
def test_it_survives_buttons_and_form_changes_for_requests_that_do_not_exist(client, workspace, payload):
    body = interaction_body(payload)
    assert_handled(send(client, INTERACTIONS, body), body)


@settings(max_examples=700, **FUZZ)
@given(payload=broken(st.one_of(submission(request_modal_view()), submission(reject_modal_view()))))
def test_it_survives_modal_submissions_with_any_state_and_metadata(client, workspace, payload):
    body = interaction_body(payload)
    assert_handled(send(client, INTERACTIONS, body), body)


@settings(max_examples=200, **FUZZ)
@given(payload=broken(other_interaction()))
def test_it_survives_interaction_types_it_does_not_handle(client, workspace, payload):
    body = interaction_body(payload)
    assert_handled(send(client, INTERACTIONS, body), body)


@settings(max_examples=400, **FUZZ)
@given(envelope=broken(event_envelope()), retry=st.sampled_from([None, "1", "2", "x"]))
def test_it_survives_event_bodies_with_wrong_or_missing_fields(client, workspace, envelope, retry):
    body = json.dumps(envelope).encode()
    headers = {"X-Slack-Retry-Num": retry} if retry else {}
    assert_handled(send(client, EVENTS, body, content_type=JSON, headers=headers), body)


@settings(max_examples=20, **FUZZ)
@given(path=st.sampled_from(ENDPOINTS), extra=st.integers(1, 3 * 256 * 1024), filler=st.sampled_from([b"a", b"\xff"]))
def test_it_refuses_huge_bodies_before_parsing(client, workspace, path, extra, filler):
    body = filler * (django_settings.SLACK_MAX_BODY_BYTES + extra)
    before = len(workspace.calls())
    assert send(client, path, body).status_code == 413
    assert len(workspace.calls()) == before


# --- What the properties found, pinned ------------------------------------------------------


def _click(action_id: str, value) -> dict:
    return {"type": "block_actions", "user": {"id": BOB}, "trigger_id": TRIGGER,
            "container": {"type": "message", "channel_id": C_ENG_APPROVALS, "message_ts": "1766000000.000100"},
            "actions": [{"action_id": action_id, "block_id": ids.DECISION_BLOCK, "type": "button", "value": value}]}


def _preview(view_changes: dict) -> dict:
    view = {"id": "V_FUZZ1", "hash": "1", "type": "modal", "callback_id": ids.REQUEST_MODAL, "private_metadata": "",
            "state": {"values": {}}, **view_changes}
    return {"type": "block_actions", "user": {"id": ALICE}, "trigger_id": TRIGGER, "view": view,
            "container": {"type": "view", "view_id": "V_FUZZ1"},
            "actions": [{"action_id": ids.END_ACTION, "block_id": ids.END_BLOCK, "type": "datepicker"}]}


def _submission(callback_id: str, view_changes: dict) -> dict:
    metadata = {"id": "no-such-request", "user": ALICE, "channel": C_ENG_APPROVALS, "ts": "1766000000.000100"}
    view = {"id": "V_FUZZ1", "hash": "1", "type": "modal", "callback_id": callback_id,
            "private_metadata": json.dumps(metadata), "state": {"values": {}}, **view_changes}
    return {"type": "view_submission", "user": {"id": ALICE}, "trigger_id": TRIGGER, "view": view}


@pytest.mark.parametrize(
    "payload, status",
    [
        (_click(ids.APPROVE_ACTION, 5), 400),
        (_click(ids.APPROVE_ACTION, {"id": "x", "user": ALICE}), 400),  # an object, not its JSON
        (_click(ids.REJECT_ACTION, ["x"]), 400),
        (_click(ids.APPROVE_ACTION, "[" * 5000 + "]" * 5000), 400),
        (_preview({"private_metadata": "{not json"}), 200),
        (_preview({"private_metadata": True}), 200),
        (_preview({"private_metadata": "[" * 5000 + "]" * 5000}), 200),
        (_preview({"state": "x"}), 200),
        (_preview({"state": {"values": {ids.TYPE_BLOCK: {ids.TYPE_ACTION: {"selected_option": {"value": []}}}}}}),
         200),
        (_submission(ids.REQUEST_MODAL, {"state": ["x"]}), 200),  # answered with "choose a type" errors
        (_submission(ids.REQUEST_MODAL, {"state": {"values": {ids.HALF_BLOCK: {ids.HALF_ACTION: {
            "selected_options": [{"value": {}}]}}}}}), 200),
        (_submission(ids.REJECT_MODAL, {"state": []}), 200),  # asked for a reason
        (_submission(ids.REJECT_MODAL, {"state": {"values": {ids.REASON_BLOCK: "x"}}}), 200),
        (_submission(ids.REJECT_MODAL, {"private_metadata": json.dumps({"id": 1, "channel": [], "ts": {}})}), 400),
    ],
    ids=["button-number", "button-object", "button-list", "button-deep", "preview-metadata-not-json",
         "preview-metadata-bool", "preview-metadata-deep", "preview-state-string", "preview-type-list",
         "request-state-list", "request-half-object", "reject-state-list", "reject-block-string",
         "reject-metadata-types"],
)
def test_malformed_interactions_found_by_the_properties(client, workspace, payload, status):
    response = send(client, INTERACTIONS, interaction_body(payload))
    assert response.status_code == status, response.content


def test_an_event_whose_type_is_not_a_string_is_acknowledged(client, workspace):
    body = json.dumps({"type": "event_callback", "event_id": "Ev_LIST", "event": {"type": ["app_home_opened"]}})
    assert send(client, EVENTS, body.encode(), content_type=JSON).status_code == 200


def test_absurd_date_ranges_open_the_form_in_time(client, workspace):
    """Counting days and holidays over eight millennia took ~5 s: longer than a trigger_id lives."""
    send(client, COMMANDS, form_encode({"command": "/timeoff", "user_id": ALICE, "team_id": "T_ACME",
                                        "trigger_id": "1.2.warm"}))  # warms Alice's team
    started = time.perf_counter()
    response = send(client, COMMANDS, form_encode({"command": "/timeoff", "text": "0001-01-01 9999-12-31",
                                                   "user_id": ALICE, "team_id": "T_ACME", "trigger_id": "1.2.x"}))
    assert response.status_code == 200
    assert time.perf_counter() - started < 1.5
    preview = workspace.last_call("views.open").params["view"]["blocks"][-1]["elements"][0]["text"]
    assert "at most a year" in preview


def test_balance_with_superscript_digits_is_not_a_server_error(client, workspace):
    """'²⁰²⁷'.isdigit() is True, and int('²⁰²⁷') raises."""
    body = form_encode({"command": "/timeoff", "text": "balance ²⁰²⁷", "user_id": ALICE, "team_id": "T_ACME"})
    assert send(client, COMMANDS, body).status_code < 500


@pytest.mark.parametrize(
    "path, body, content_type",
    [
        (COMMANDS, form_encode({"command": "/timeoff", "text": "help", "user_id": ALICE, "team_id": "T_ACME"}), FORM),
        (INTERACTIONS, interaction_body({"type": "view_closed", "user": {"id": ALICE}, "view": {"id": "V1"}}), FORM),
        (EVENTS, json.dumps({"type": "url_verification", "challenge": "abc"}).encode(), JSON),
    ],
    ids=["commands", "interactions", "events"],
)
def test_the_unbroken_shapes_are_accepted(client, workspace, path, body, content_type):
    """A guard on the properties above: were every request refused, they would prove little."""
    assert send(client, path, body, content_type=content_type).status_code == 200


@settings(max_examples=100, **FUZZ)
@given(payload=broken(interaction(), max_mutations=0))
def test_unbroken_interactions_reach_the_handlers(client, workspace, payload):
    """The generated Slack-shaped payloads pass the parsers: 2xx, handled by a route, not a 400."""
    response = send(client, INTERACTIONS, interaction_body(payload))
    assert response.status_code == 200, response.content


# --- Bad signatures: never accepted, never reaching Slack ---------------------------------


def signable_bodies():
    return st.one_of(
        raw_bodies,
        broken(command(), max_mutations=1).map(form_encode),
        broken(interaction(), max_mutations=1).map(interaction_body),
        broken(event_envelope(), max_mutations=1).map(lambda e: json.dumps(e).encode()),
    )


HEADER_TEXT = st.text(max_size=80).filter(lambda s: "\n" not in s and "\r" not in s)
LONG_DIGITS = st.one_of(st.integers(13, 10_000).map(lambda n: "9" * n),
                        st.text(alphabet="0123456789", min_size=13, max_size=200))
LONG_HEX = st.one_of(st.integers(1, 10_000).map(lambda n: "a" * n), st.text(alphabet="0123456789abcdef", min_size=1))


@st.composite
def bad_signature_headers(draw, body: bytes):
    """Headers that do not prove Slack sent `body` in the last five minutes."""
    now = int(time.time())
    good = signature_headers(body)
    kind = draw(st.sampled_from(["wrong_secret", "stale", "future", "missing_signature", "missing_timestamp",
                                 "no_headers", "other_body", "garbage_signature", "garbage_timestamp",
                                 "other_scheme", "uppercase_hex", "truncated", "timestamp_mismatch",
                                 "long_timestamp", "long_signature", "padded_timestamp"]))
    if kind == "wrong_secret":
        # Non-blank: slack_sdk's SignatureVerifier refuses a secret that is only whitespace.
        secret = draw(st.text(min_size=1, max_size=40).filter(
            lambda s: s.strip() and s != django_settings.SLACK_SIGNING_SECRET))
        return signature_headers(body, secret=secret)
    if kind == "stale":
        return signature_headers(body, timestamp=now - draw(st.integers(5 * 60 + 5, 10**9)))
    if kind == "future":
        return signature_headers(body, timestamp=now + draw(st.integers(5 * 60 + 5, 10**9)))
    if kind == "missing_signature":
        return {"X-Slack-Request-Timestamp": good["X-Slack-Request-Timestamp"]}
    if kind == "missing_timestamp":
        return {"X-Slack-Signature": good["X-Slack-Signature"]}
    if kind == "no_headers":
        return {}
    if kind == "other_body":
        return signature_headers(body + draw(st.binary(min_size=1, max_size=10)))
    if kind == "garbage_signature":
        return {**good, "X-Slack-Signature": draw(HEADER_TEXT.filter(lambda s: s != good["X-Slack-Signature"]))}
    if kind == "garbage_timestamp":
        return {**good, "X-Slack-Request-Timestamp": draw(HEADER_TEXT.filter(lambda s: not s.isdigit()))}
    if kind == "other_scheme":
        return {**good, "X-Slack-Signature": "v1=" + good["X-Slack-Signature"][3:]}
    if kind == "uppercase_hex":
        return {**good, "X-Slack-Signature": "v0=" + good["X-Slack-Signature"][3:].upper()}
    if kind == "timestamp_mismatch":  # a valid signature, replayed with another (fresh) timestamp
        return {**good, "X-Slack-Request-Timestamp": str(now - draw(st.integers(1, 200)))}
    if kind == "long_timestamp":  # thousands of digits once reached int() and answered 500
        return {**good, "X-Slack-Request-Timestamp": draw(LONG_DIGITS)}
    if kind == "long_signature":
        return {**good, "X-Slack-Signature": good["X-Slack-Signature"] + draw(LONG_HEX)}
    if kind == "padded_timestamp":  # the same number spelled another way is not the signed string
        return {**good, "X-Slack-Request-Timestamp": draw(st.sampled_from(["0", " ", "+"]))
                + good["X-Slack-Request-Timestamp"]}
    return {**good, "X-Slack-Signature": good["X-Slack-Signature"][:-1]}


@settings(max_examples=500, **FUZZ)
@given(data=st.data(), path=st.sampled_from(ENDPOINTS), body=signable_bodies(),
       content_type=st.sampled_from([FORM, JSON]))
def test_it_never_accepts_a_bad_signature(client, workspace, data, path, body, content_type):
    headers = data.draw(bad_signature_headers(body))
    before = len(workspace.calls())
    response = client.post(path, data=body, content_type=content_type, headers=headers)
    assert not 200 <= response.status_code < 300, (response.status_code, headers)
    assert response.status_code == 401
    assert len(workspace.calls()) == before  # refused before any handler ran


@settings(max_examples=300, **FUZZ)
@given(path=st.sampled_from(ENDPOINTS),
       timestamp=st.one_of(LONG_DIGITS, HEADER_TEXT, st.integers().map(str), st.floats().map(str)),
       signature=st.one_of(LONG_HEX.map(lambda h: "v0=" + h), HEADER_TEXT))
def test_hostile_signature_headers_are_refused_without_a_server_error(client, workspace, path, timestamp, signature):
    """Any header text, of any length: a 401, never a 5xx or a stack trace, and nothing reaches Slack."""
    body = form_encode({"command": "/timeoff", "text": "help", "user_id": ALICE, "team_id": "T_ACME"})
    before = len(workspace.calls())
    headers = {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}
    response = client.post(path, data=body, content_type=FORM, headers=headers)
    assert response.status_code == 401, (response.status_code, timestamp[:50], signature[:50])
    assert len(workspace.calls()) == before
