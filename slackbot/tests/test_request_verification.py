"""Every Slack endpoint verifies Slack's signature over the raw body before anything else."""

import json
import re
import time
from urllib.parse import urlencode

import pytest
from slack_sdk.signature import Clock, SignatureVerifier

from test_support.slack_requests import command_fields, post_signed, signature_headers

ENDPOINTS = ["/slack/commands", "/slack/interactions", "/slack/events"]
HELP_BODY = urlencode(command_fields("help", user_id="U_ALICE"))

pytestmark = pytest.mark.django_db


def test_our_signing_helper_matches_slacks_known_vector(settings):
    # The vector from slack-sdk's own tests (SLACK.md): if our helper agrees, our
    # tests sign exactly as Slack does.
    class At(Clock):
        def now(self):
            return 1531420618

    body = (
        "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
        "&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
        "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        "&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    headers = signature_headers(body.encode(), secret="8f742231b10e8888abcd99yyyzzz85a5", timestamp=1531420618)
    assert headers["X-Slack-Signature"] == "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    assert SignatureVerifier("8f742231b10e8888abcd99yyyzzz85a5", clock=At()).is_valid_request(body, headers)


def test_it_accepts_a_valid_signature(client):
    response = post_signed(client, "/slack/commands", HELP_BODY)
    assert response.status_code == 200
    assert response.json()["response_type"] == "ephemeral"


@pytest.mark.parametrize("path", ENDPOINTS)
def test_it_rejects_missing_headers(client, path):
    response = client.post(path, data=HELP_BODY, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 401


@pytest.mark.parametrize("path", ENDPOINTS)
def test_it_rejects_a_stale_timestamp(client, path):
    response = post_signed(client, path, HELP_BODY, timestamp=int(time.time()) - 301)
    assert response.status_code == 401


def test_it_rejects_a_timestamp_from_the_future(client):
    response = post_signed(client, "/slack/commands", HELP_BODY, timestamp=int(time.time()) + 301)
    assert response.status_code == 401


@pytest.mark.parametrize("path", ENDPOINTS)
def test_it_rejects_a_tampered_body(client, path):
    headers = signature_headers(HELP_BODY.encode())
    tampered = HELP_BODY.replace("U_ALICE", "U_BOB")
    response = client.post(path, data=tampered, content_type="application/x-www-form-urlencoded", headers=headers)
    assert response.status_code == 401


@pytest.mark.parametrize("path", ENDPOINTS)
def test_it_rejects_the_wrong_secret(client, path):
    response = post_signed(client, path, HELP_BODY, secret="another-apps-signing-secret-000000")
    assert response.status_code == 401


@pytest.mark.parametrize(
    "timestamp, signature",
    [("not-a-number", "v0=abc"), ("", "v0=abc"), (str(int(time.time())), "v0=ünïcode"), (str(int(time.time())), "")],
)
def test_it_rejects_malformed_signature_headers(client, timestamp, signature):
    headers = {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}
    response = client.post("/slack/commands", data=HELP_BODY, content_type="application/x-www-form-urlencoded",
                           headers=headers)
    assert response.status_code == 401


@pytest.mark.parametrize("path", ENDPOINTS)
def test_a_non_utf8_body_is_refused_without_crashing(client, path):
    body = b"text=\xff\xfe\x80&user_id=U_ALICE"
    response = post_signed(client, path, body)  # signed over the raw bytes
    assert response.status_code == 401
    unsigned = client.post(path, data=body, content_type="application/x-www-form-urlencoded")
    assert unsigned.status_code == 401


def test_a_click_on_a_large_app_home_of_non_ascii_text_is_not_refused_as_too_large(client, fake_slack):
    from test_support.slack_requests import view_block_actions_payload

    # 50 blocks of 1,000 Japanese characters: 9 bytes each once Slack percent-encodes the payload.
    home = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "休" * 1000}}] * 50}
    payload = view_block_actions_payload(user_id="U_ALICE", action_id="no_such_action", value="{}",
                                         block_id="b", view=home)
    body = urlencode({"payload": json.dumps(payload, ensure_ascii=False)})  # as Slack sends it: UTF-8
    assert len(body) > 256 * 1024

    response = post_signed(client, "/slack/interactions", body)

    assert response.status_code == 200


@pytest.mark.parametrize("path", ENDPOINTS)
def test_it_refuses_bodies_over_the_limit_before_verifying(client, settings, path):
    body = "text=" + "x" * (settings.SLACK_MAX_BODY_BYTES + 1)
    response = post_signed(client, path, body)
    assert response.status_code == 413
    assert response.headers["X-Slack-No-Retry"] == "1"  # the same body is refused again: no retries


@pytest.mark.parametrize("path", ENDPOINTS)
def test_a_bad_signature_leaves_slack_free_to_retry(client, path):
    """A signing secret being rotated fails every request for a while: Slack's retries of an event
    within its five minutes are what carries that event over once the new secret is in place."""
    response = post_signed(client, path, HELP_BODY, timestamp=int(time.time()) - 301)
    assert response.status_code == 401
    assert "X-Slack-No-Retry" not in response.headers


@pytest.mark.parametrize("path", ENDPOINTS)
def test_only_post_is_allowed(client, path):
    assert client.get(path).status_code == 405


def test_slack_endpoints_are_csrf_exempt(settings):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    response = post_signed(csrf_client, "/slack/commands", HELP_BODY)
    assert response.status_code == 200


def test_a_refusal_logs_a_line_without_the_secret(client, settings, caplog):
    caplog.set_level("WARNING")
    post_signed(client, "/slack/commands", HELP_BODY, secret="wrong-secret-0000000000000000")
    assert "bad_signature" in caplog.text
    assert settings.SLACK_SIGNING_SECRET not in caplog.text


# --- Hostile headers: refused with a 401 and a log line before anything is verified ------

NOW = str(int(time.time()))
GOOD_SIGNATURE = "v0=" + "0" * 64


@pytest.mark.parametrize(
    "timestamp",
    [
        "9" * 5000,  # int() refuses more than 4300 digits (CPython's limit): this was a 500
        "1" * 13,  # Slack's timestamps are ten digits; thirteen is no clock we share
        "0" + NOW,  # leading zeros: the same number, another string to sign
        "-" + NOW,
        "+" + NOW,
        " " + NOW,
        NOW + ".5",
        "1e10",
        "١٥٣١٤٢٠٦١٨",  # Arabic-Indic digits: str.isdigit() says yes, Slack never sends them
        "²⁰²⁷",
        "0x5B4A",
    ],
    ids=["5000-digits", "13-digits", "leading-zero", "negative", "plus", "space", "fraction", "exponent",
         "arabic-digits", "superscript", "hex"],
)
@pytest.mark.parametrize("path", ENDPOINTS)
def test_it_refuses_a_hostile_timestamp_before_verifying(client, caplog, path, timestamp):
    caplog.set_level("WARNING")
    body = HELP_BODY.encode()
    headers = {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": GOOD_SIGNATURE}
    response = client.post(path, data=body, content_type="application/x-www-form-urlencoded", headers=headers)
    assert response.status_code == 401
    assert "reason=bad_timestamp" in caplog.text
    assert len(caplog.text) < 1000  # the log line does not echo the header back


@pytest.mark.parametrize(
    "signature",
    [
        "v0=" + "a" * 10_000,
        "v0=" + "a" * 63,
        "v0=" + "a" * 65,
        "v0=" + "A" * 64,  # Slack's hex is lower-case
        "v0=" + "g" * 64,
        "v1=" + "a" * 64,
        "a" * 67,
        "v0= " + "a" * 63,
        "v0=" + "a" * 64 + "\t",
    ],
    ids=["10k-chars", "short", "long", "upper-case", "not-hex", "other-scheme", "no-scheme", "space", "tab"],
)
def test_it_refuses_an_ill_formed_signature_before_verifying(client, caplog, signature):
    caplog.set_level("WARNING")
    headers = {"X-Slack-Request-Timestamp": NOW, "X-Slack-Signature": signature}
    response = client.post("/slack/commands", data=HELP_BODY, content_type="application/x-www-form-urlencoded",
                           headers=headers)
    assert response.status_code == 401
    assert "reason=bad_signature_header" in caplog.text
    assert len(caplog.text) < 1000


def test_a_well_formed_but_wrong_signature_is_still_checked_and_refused(client, caplog):
    caplog.set_level("WARNING")
    headers = {"X-Slack-Request-Timestamp": NOW, "X-Slack-Signature": GOOD_SIGNATURE}
    response = client.post("/slack/commands", data=HELP_BODY, content_type="application/x-www-form-urlencoded",
                           headers=headers)
    assert response.status_code == 401
    assert re.search(r"reason=bad_signature\b(?!_)", caplog.text)


def test_hostile_headers_never_reach_the_verifier(client, monkeypatch):
    """The shape is checked first: SignatureVerifier (and its int()) never sees a hostile header."""
    from slack_sdk.signature import SignatureVerifier as Verifier

    def explode(*args, **kwargs):
        raise AssertionError("verified a header that should have been refused")

    monkeypatch.setattr(Verifier, "is_valid", explode)
    for timestamp, signature in [("9" * 5000, GOOD_SIGNATURE), (NOW, "v0=" + "a" * 10_000), ("", GOOD_SIGNATURE)]:
        headers = {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}
        response = client.post("/slack/commands", data=HELP_BODY, content_type="application/x-www-form-urlencoded",
                               headers=headers)
        assert response.status_code == 401


@pytest.mark.parametrize("missing", ["X-Slack-Request-Timestamp", "X-Slack-Signature"])
def test_a_missing_header_is_logged_as_such(client, caplog, missing):
    caplog.set_level("WARNING")
    headers = {"X-Slack-Request-Timestamp": NOW, "X-Slack-Signature": GOOD_SIGNATURE}
    del headers[missing]
    response = client.post("/slack/commands", data=HELP_BODY, content_type="application/x-www-form-urlencoded",
                           headers=headers)
    assert response.status_code == 401
    assert "reason=missing_headers" in caplog.text
