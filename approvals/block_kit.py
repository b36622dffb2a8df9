"""Block Kit and mrkdwn primitives shared by every message and view we build.

Pure functions over strings. `escape` is the one helper through which text a
person typed enters mrkdwn: Slack reads `<…>` as mentions and links and `&` as
the start of an entity, so typed text must not carry them raw
(https://docs.slack.dev/messaging/formatting-message-text#escaping).
"""

import re
from datetime import datetime, timezone

SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9_]{2,30}$")


def plain(text: str) -> dict:
    return {"type": "plain_text", "text": text, "emoji": True}


def mrkdwn(text: str) -> dict:
    return {"type": "mrkdwn", "text": text}


SECTION_TEXT_MAX = 3000  # Slack refuses a section whose text is longer (invalid_blocks)


def section(text: str, block_id: str | None = None) -> dict:
    block = {"type": "section", "text": mrkdwn(text[:SECTION_TEXT_MAX])}
    if block_id:
        block["block_id"] = block_id
    return block


def sections(lines: list[str], *, limit: int) -> list[dict]:
    """Lines packed into sections of at most 3,000 characters each, never cutting a line in two, and at
    most `limit` sections (a message holds 50 blocks): lines that do not fit are counted in a last
    line ("…and 3 more."), not lost without a word."""
    packed: list[list[str]] = []
    size = 0
    for line in (line[:SECTION_TEXT_MAX] for line in lines):
        if packed and size + 1 + len(line) <= SECTION_TEXT_MAX:
            packed[-1].append(line)
            size += 1 + len(line)
        else:
            packed.append([line])
            size = len(line)
    if len(packed) > limit:
        packed = packed[:limit]
        last, shown = packed[-1], sum(map(len, packed))
        while True:
            more = f"…and {len(lines) - shown} more."
            if not last or sum(map(len, last)) + len(last) + len(more) <= SECTION_TEXT_MAX:
                break
            last.pop()
            shown -= 1
        last.append(more)
    return [section("\n".join(chunk)) for chunk in packed]


def context(text: str, block_id: str | None = None) -> dict:
    block = {"type": "context", "elements": [mrkdwn(text[:3000])]}
    if block_id:
        block["block_id"] = block_id
    return block


def escape(text: str) -> str:
    """Typed text made inert in mrkdwn: no `<!channel>`, no `<@U…>`, no disguised `<url|label>`."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    return text.replace("&gt;", ">").replace("&lt;", "<").replace("&amp;", "&")


def mention(user: str) -> str:
    return f"<@{user}>"


def person(who: str) -> str:
    """A Slack user id as a mention; anything else (a console user's name) as inert text."""
    return mention(who) if SLACK_USER_ID.match(who or "") else escape(who or "")


def mentions(users) -> str:
    return ", ".join(mention(u) for u in sorted(users)) or "nobody"


def slack_date(timestamp: int | None) -> str:
    """A time every reader sees in their own time zone (Slack's date formatting)."""
    if not timestamp:
        return ""
    fallback = datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{timestamp}^{{date_short_pretty}} at {{time}}|{fallback}>"


def days_text(days) -> str:
    number = f"{float(days):g}"
    return f"{number} working day" + ("" if float(days) == 1 else "s")
