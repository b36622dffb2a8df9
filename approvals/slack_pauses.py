"""Slack's Retry-After, kept for the whole app.

Slack's rate limits are per method, for the whole app in a workspace
(https://docs.slack.dev/apis/web-api/rate-limits): when one call of
`chat.update` is answered 429 with `Retry-After: 3`, every other call of
that method in the next 3 s would be answered 429 too, whichever task or
process makes it. `chat.postMessage` is limited per channel instead (about one
message a second in each): its pause holds only posts to the channel (the DM)
Slack named, and a post answered elsewhere does not end it. So a 429 is
written to the shared cache, and the background clients
(slack_clients.PatientWebClient) read it before each call: a short wait
is waited out, as the call's own 429 would be. A longer one is left to Slack
and the task queue: the call is made, meets its 429, and its task's next
attempt comes when Slack said.

Calls made inside one of Slack's requests (`views.open`) never wait here: the
answer is due in 3 s. Methods whose readers keep their own pace are left to
them: `conversations.history` (the ledger's budget and pause, ledger_reader)
and the directory's paged reads (slack_directory).

The pause is advice, never a reason to fail: when the cache cannot be read or
written, calls go on as if there were no pause (Slack answers 429 again if so).
"""

import logging
import math
import threading
import time

from django.core.cache import cache

# Paced by their own readers: ledger_reader.PAUSED_KEY, slack_directory._pages.
PACED_ELSEWHERE = frozenset({"conversations.history", "users.list", "conversations.list"})
# Limited per channel ("chat.postMessage has special rate limiting conditions", docs.slack.dev/reference/
# methods/chat.postMessage): a pause of theirs is kept per channel.
PER_CHANNEL = frozenset({"chat.postMessage"})
# slack_sdk's handler waits about a second after a 429 without Retry-After; Slack always sends one.
DEFAULT_SECONDS = 1

logger = logging.getLogger(__name__)
_this_thread = threading.local()  # how many 429s this thread has met, for `met_since`


def _key(method: str) -> str:
    return f"slack:paused-until:{method}"


def place(method: str, channel: object = None) -> str:
    """What a pause of `method` holds: the method, or for a per-channel method the method in that channel.
    It is what `note`, `seconds_left` and `ended` take, and `calling` names for the call under way."""
    if method in PER_CHANNEL and isinstance(channel, str) and channel:
        return f"{method}:{channel}"
    return method


def calling(where: str | None) -> None:
    """The place of the call this thread is making now (None: done), so that its 429 is noted there."""
    _this_thread.place = where


def noted_place(method: str) -> str:
    """Where a 429 of `method` met by this thread is kept: the place of the call under way, when it is one
    of `method`'s (a client that names none, or an older caller: the whole method)."""
    where = getattr(_this_thread, "place", None)
    return where if where is not None and where.split(":", 1)[0] == method else method


def note(method: str, retry_after: int | None) -> None:
    """Slack answered `method` 429: no call of it before `retry_after` seconds, anywhere in the app."""
    _this_thread.met = getattr(_this_thread, "met", 0) + 1
    if method.split(":", 1)[0] in PACED_ELSEWHERE:
        return
    seconds = retry_after if retry_after and retry_after > 0 else DEFAULT_SECONDS
    try:
        cache.set(_key(method), time.time() + seconds, math.ceil(seconds) + 1)
    except Exception:  # noqa: BLE001 - the pause is advice; Slack says 429 again if we call too soon
        logger.warning("slack pause for %s not stored: the cache did not answer", method, exc_info=True)


def seconds_left(method: str) -> float:
    """How long Slack asked the app to wait before calling `method` again: 0 when it may call now."""
    if method.split(":", 1)[0] in PACED_ELSEWHERE:
        return 0.0
    try:
        until = cache.get(_key(method))
    except Exception:  # noqa: BLE001 - as in `note`
        logger.warning("slack pause for %s not read: the cache did not answer", method, exc_info=True)
        return 0.0
    if not isinstance(until, (int, float)):
        return 0.0  # none (or not ours: a value no release writes)
    return max(until - time.time(), 0.0)


def met_in_this_thread() -> int:
    """A count of the 429s this thread has met: compare before and after a call to learn whether it met one."""
    return getattr(_this_thread, "met", 0)


def ended(method: str) -> None:
    """Slack answered `method` after a pause: calls of it may go on at once everywhere."""
    try:
        cache.delete(_key(method))
    except Exception:  # noqa: BLE001 - as in `note`; the pause then ends by itself
        logger.warning("slack pause for %s not ended: the cache did not answer", method, exc_info=True)


def wait(seconds: float) -> None:
    """Wait out a short pause (tests move a simulated clock instead)."""
    time.sleep(seconds)
