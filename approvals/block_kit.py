"""Block Kit and mrkdwn primitives shared by every message and view we build.

Pure functions over strings. `escape` is the one helper through which text a
person typed enters mrkdwn: Slack reads `<…>` as mentions and links and `&` as
the start of an entity, so typed text must not carry them raw
(https://docs.slack.dev/messaging/formatting-message-text#escaping).
"""

import re
from datetime import datetime, timezone
from decimal import Decimal

from approvals.rules import format_number

SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9_]{2,30}$")


def plain(text: str) -> dict:
    return {"type": "plain_text", "text": text, "emoji": True}


def mrkdwn(text: str) -> dict:
    return {"type": "mrkdwn", "text": text}


SECTION_TEXT_MAX = 3000  # Slack refuses a section whose text is longer (invalid_blocks)


def fitted(text: str, limit: int) -> str:
    """mrkdwn cut to at most `limit` characters, with "…" where it was cut, never inside an entity (`&amp;`)
    or a `<…>` (a mention, a date, a link), which would show raw: the longest texts (HR's longest type
    name, a 500-character reason full of `&`) are cut at the end, not refused by Slack."""
    if len(text) <= limit:
        return text
    cut = text[:limit - 1]
    entity = cut.rfind("&")
    if entity != -1 and ";" not in cut[entity:]:
        cut = cut[:entity]
    token = cut.rfind("<")
    if token != -1 and ">" not in cut[token:]:
        cut = cut[:token]
    return cut + "…"


def section(text: str, block_id: str | None = None) -> dict:
    block = {"type": "section", "text": mrkdwn(fitted(text, SECTION_TEXT_MAX))}
    if block_id:
        block["block_id"] = block_id
    return block


def sections(lines: list[str], *, limit: int, total: int | None = None) -> list[dict]:
    """Lines packed into sections of at most 3,000 characters each, never cutting a line in two: at most
    `limit` sections (a message holds 50 blocks) and `total` characters in all (Slack refuses a message
    whose blocks hold more than about 12,000: `msg_blocks_too_long`). Lines that do not fit are counted
    in a last line ("…and 3 more."), not lost without a word."""
    lines = [fitted(line, SECTION_TEXT_MAX) for line in lines]
    packed = _packed(lines, limit=limit, total=total)
    if packed is not None:
        return [section("\n".join(chunk)) for chunk in packed]
    # The most lines that fit with the count after them (fewer lines always fit in less room).
    low, high = 0, len(lines) - 1
    while low < high:
        middle = (low + high + 1) // 2
        if _packed(lines[:middle], more=len(lines) - middle, limit=limit, total=total) is None:
            high = middle - 1
        else:
            low = middle
    packed = _packed(lines[:low], more=len(lines) - low, limit=limit, total=total) or [[f"…and {len(lines)} more."]]
    return [section("\n".join(chunk)) for chunk in packed]


def text_length(blocks) -> int:
    """The characters of every text in these blocks (sections, contexts, buttons, fields), added up: what
    Slack's limit on a message's blocks counts."""
    if isinstance(blocks, list):
        return sum(text_length(item) for item in blocks)
    if isinstance(blocks, dict):
        return sum(len(value) if key == "text" and isinstance(value, str) else text_length(value)
                   for key, value in blocks.items())
    return 0


def _packed(lines: list[str], *, limit: int, total: int | None, more: int = 0) -> list[list[str]] | None:
    """`lines` (and the count of `more`) in sections, or None when they need more than allowed."""
    packed: list[list[str]] = []
    size = used = 0
    for line in lines + ([f"…and {more} more."] if more else []):
        if packed and size + 1 + len(line) <= SECTION_TEXT_MAX:
            packed[-1].append(line)
            size += 1 + len(line)
        else:
            packed.append([line])
            size = len(line)
        used += len(line) + 1
    if len(packed) > limit or (total is not None and used - 1 > total):
        return None
    return packed


def context(text: str, block_id: str | None = None) -> dict:
    block = {"type": "context", "elements": [mrkdwn(fitted(text, SECTION_TEXT_MAX))]}
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


def mentions(users, *, room: int | None = None, first=()) -> str:
    """"<@U1>, <@U2>", sorted, those in `first` before the others; "nobody" for none. With `room`
    (characters), as many as fit and a count of the rest ("<@U1>, <@U2> and 41 more"): a cut inside a
    mention would show raw mrkdwn, and a section or context holds 3,000 characters (the members of an
    approvers channel of 200 people do not fit)."""
    names = [mention(u) for u in sorted(users, key=lambda user: (user not in first, user))]
    if not names:
        return "nobody"
    if room is None:
        return ", ".join(names)
    shown: list[str] = []
    for name in names:
        rest = len(names) - len(shown) - 1
        if len(", ".join([*shown, name]) + (f" and {rest} more" if rest else "")) > room:
            break
        shown.append(name)
    rest = len(names) - len(shown)
    if not shown:
        return f"{rest} people"
    return ", ".join(shown) + (f" and {rest} more" if rest else "")


def slack_date(timestamp: int | None) -> str:
    """A time every reader sees in their own time zone (Slack's date formatting)."""
    if not timestamp:
        return ""
    fallback = datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{timestamp}^{{date_short_pretty}} at {{time}}|{fallback}>"


def days_text(days) -> str:
    """"1 working day", "2.5 working days": the number as written, never rounded or in scientific notation."""
    value = Decimal(str(days))
    return f"{format_number(value)} working day" + ("" if value == 1 else "s")
