"""Block Kit and mrkdwn to HTML, as Slack's client would show them: pure functions.

Every block and element the app sends is drawn (section, context, header,
divider, actions, input; buttons with or without a confirm dialog, link
buttons, static_select, datepicker, checkboxes, radio_buttons,
plain_text_input), and anything else is drawn as a visible "unsupported
block: …" / "unsupported element: …" box, so a new block in the app shows up
in the demo instead of silently vanishing.

Everything that comes from a view or message is escaped with Django's
`escape`; only markup built here is marked safe. mrkdwn follows
https://docs.slack.dev/messaging/formatting-message-text: `*bold*`,
`_italic_`, `~strike~`, `` `code` ``, ```` ``` ```` blocks, `>` quotes,
`<url|label>` links (http, https and mailto only), `<@U…>` and `<#C…>` shown
by name, `<!subteam^S…>`, `<!here>`, `<!date^…|fallback>` in the reader's
time zone, and the `&lt;` `&gt;` `&amp;` entities shown as the characters.

Interactive elements become form controls named `field_name(block, element)`.
In a modal (`Surface.form`) they are fields of the surrounding form; on a
message or App Home each button is a small form of its own that posts
`block`/`element` indexes (and the surface's hidden fields) to
`Surface.action_url`, so the server can find the button again in the view or
message it re-reads and send Slack's payload for it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

INPUT_ELEMENTS = ("static_select", "datepicker", "checkboxes", "radio_buttons", "plain_text_input")
SAFE_LINK = re.compile(r"^(https?://|mailto:)", re.IGNORECASE)
# The emoji the app writes, and a few people type; others stay as their :shortcode:, as text.
EMOJI = {
    "palm_tree": "🌴", "face_with_thermometer": "🤒", "hospital": "🏥", "hourglass_flowing_sand": "⏳",
    "white_check_mark": "✅", "x": "❌", "no_entry_sign": "🚫", "busts_in_silhouette": "👥", "calendar": "📆",
    "warning": "⚠️", "sunrise": "🌅", "wave": "👋", "leftwards_arrow_with_hook": "↩️", "bar_chart": "📊",
    "+1": "👍", "thumbsup": "👍", "tada": "🎉", "sunny": "☀️", "spiral_calendar_pad": "🗓️", "date": "📅",
    "baby": "👶", "house": "🏠", "airplane": "✈️", "heart": "❤️", "smile": "😄", "memo": "📝",
}


@dataclass(frozen=True)
class Directory:
    """Names for mentions: user id -> display name, channel id -> name, user group id -> handle."""

    users: Mapping[str, str] = field(default_factory=dict)
    channels: Mapping[str, str] = field(default_factory=dict)
    usergroups: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Surface:
    """Where blocks are drawn: who reads them (names, time zone, now) and what clicking does."""

    directory: Directory = field(default_factory=Directory)
    tz: str = "UTC"
    now: datetime | None = None  # for {date_pretty}, {ago}; None: dates are never "Today"
    action_url: str | None = None  # where buttons post; None: buttons are drawn but do nothing
    hidden: tuple[tuple[str, str], ...] = ()  # fields every button form carries (csrf token, where it is)
    form: bool = False  # a modal: elements are fields of the enclosing form
    values: Mapping[str, object] = field(default_factory=dict)  # state_key -> current value (modal state)
    errors: Mapping[str, str] = field(default_factory=dict)  # block_id -> message (response_action: errors)


def field_name(block_index: int, element_index: int = 0) -> str:
    return f"b{block_index}.{element_index}"


def state_key(block: dict, element: dict, block_index: int, element_index: int) -> str:
    """Where a modal's typed value is kept between draws: by block_id and action_id, as Slack keeps an
    input's value across `views.update` while those stay the same, not by position, which changes when
    the app redraws the form with a block more or less (a leave type without half days)."""
    return f"{block_id_of(block, block_index)}/{action_id_of(element, block_index, element_index)}"


def element_slots(blocks) -> Iterator[tuple[int, int, dict, dict]]:
    """(block index, element index, block, element) of every interactive element, in order."""
    for i, block in enumerate(blocks if isinstance(blocks, list) else []):
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "input" and isinstance(block.get("element"), dict):
            yield i, 0, block, block["element"]
        elif kind == "actions":
            for j, element in enumerate(block.get("elements") or []):
                if isinstance(element, dict):
                    yield i, j, block, element
        elif kind == "section" and isinstance(block.get("accessory"), dict):
            yield i, 0, block, block["accessory"]


def block_id_of(block: dict, index: int) -> str:
    """The block's id; Slack makes one up when the app gave none (so do we, stably)."""
    return block.get("block_id") if isinstance(block.get("block_id"), str) else f"demo-{index}"


def action_id_of(element: dict, block_index: int, element_index: int) -> str:
    action_id = element.get("action_id")
    return action_id if isinstance(action_id, str) else f"demo-{block_index}-{element_index}"


# --- Blocks -------------------------------------------------------------------------------------


def render_blocks(blocks, surface: Surface) -> SafeString:
    if not isinstance(blocks, list):
        return unsupported("blocks", type(blocks).__name__)
    return mark_safe("".join(render_block(block, i, surface) for i, block in enumerate(blocks)))


def render_block(block, index: int, surface: Surface) -> SafeString:
    kind = block.get("type") if isinstance(block, dict) else None
    renderer = BLOCKS.get(kind) if isinstance(kind, str) else None
    if renderer is None:
        return unsupported("block", kind)
    return renderer(block, index, surface)


def unsupported(what: str, kind) -> SafeString:
    return format_html('<div class="bk-unsupported" role="note">unsupported {}: {}</div>', what, str(kind))


def _section(block, i, surface):
    parts = []
    if block.get("text"):
        parts.append(format_html('<div class="bk-section-text">{}</div>', render_text(block["text"], surface)))
    fields = block.get("fields") or []
    if fields:
        parts.append(format_html('<div class="bk-fields">{}</div>', format_html_join(
            "", '<div class="bk-field">{}</div>', ((render_text(f, surface),) for f in fields))))
    body = mark_safe("".join(parts))
    accessory = block.get("accessory")
    if isinstance(accessory, dict):
        return format_html('<div class="bk-section bk-with-accessory"><div class="bk-section-body">{}</div>'
                           '<div class="bk-accessory">{}</div></div>', body,
                           render_element(accessory, i, 0, block, surface))
    return format_html('<div class="bk-section">{}</div>', body)


def _context(block, i, surface):
    items = []
    for element in block.get("elements") or []:
        kind = element.get("type") if isinstance(element, dict) else None
        if kind in ("mrkdwn", "plain_text"):
            items.append(format_html("<span>{}</span>", render_text(element, surface)))
        elif kind == "image":
            items.append(format_html('<span class="bk-image">[{}]</span>', element.get("alt_text") or "image"))
        else:
            items.append(unsupported("element", kind))
    return format_html('<div class="bk-context">{}</div>', mark_safe("".join(items)))


def _header(block, i, surface):
    return format_html('<h3 class="bk-header">{}</h3>', render_text(block.get("text") or {}, surface))


def _divider(block, i, surface):
    return mark_safe('<hr class="bk-divider">')


def _actions(block, i, surface):
    elements = [render_element(e, i, j, block, surface) for j, e in enumerate(block.get("elements") or [])]
    return format_html('<div class="bk-actions">{}</div>', mark_safe("".join(elements)))


def _input(block, i, surface):
    element = block.get("element") if isinstance(block.get("element"), dict) else {}
    label = render_text(block.get("label") or {}, surface)
    optional = mark_safe(' <span class="bk-optional">(optional)</span>') if block.get("optional") else ""
    hint = format_html('<div class="bk-hint">{}</div>', render_text(block["hint"], surface)) \
        if block.get("hint") else ""
    error = surface.errors.get(block_id_of(block, i))
    error_html = format_html('<div class="bk-error" role="alert">{}</div>', error) if error else ""
    tag = "fieldset" if element.get("type") in ("checkboxes", "radio_buttons") else "div"
    legend = (format_html('<legend class="bk-label">{}{}</legend>', label, optional) if tag == "fieldset" else
              format_html('<label class="bk-label" for="{}">{}{}</label>', element_dom_id(i, 0), label, optional))
    return format_html('<{} class="bk-input{}" data-block-id="{}">{}{}{}{}</{}>', tag, " bk-has-error" if error else "",
                       block_id_of(block, i), legend, render_element(element, i, 0, block, surface), hint,
                       error_html, tag)


BLOCKS = {"section": _section, "context": _context, "header": _header, "divider": _divider, "actions": _actions,
          "input": _input}


# --- Elements ------------------------------------------------------------------------------------


def element_dom_id(i: int, j: int) -> str:
    return f"bk-{i}-{j}"


def render_element(element, i: int, j: int, block: dict, surface: Surface) -> SafeString:
    kind = element.get("type") if isinstance(element, dict) else None
    if kind == "button":
        return _button(element, i, j, surface)
    if kind in INPUT_ELEMENTS:
        return ELEMENTS[kind](element, i, j, block, surface)
    if kind == "image":
        return format_html('<span class="bk-image">[{}]</span>', element.get("alt_text") or "image")
    return unsupported("element", kind)


def _dispatches(block: dict) -> bool:
    """Slack sends block_actions when this element changes: always in an actions block, on request in an input."""
    return block.get("type") in ("actions", "section") or bool(block.get("dispatch_action"))


def _control_attrs(element, i, j, block, surface) -> SafeString:
    attrs = format_html(' id="{}" name="{}"', element_dom_id(i, j), field_name(i, j))
    if surface.form and _dispatches(block):
        attrs += format_html(' data-dispatch="{}"', f"{i}.{j}")
    if not surface.form:
        attrs += mark_safe(" disabled")
    elif block.get("type") == "input" and not block.get("optional") and element.get("type") != "checkboxes":
        attrs += mark_safe(" required")
    return attrs


def _current(surface: Surface, block: dict, element: dict, i: int, j: int, default):
    return surface.values.get(state_key(block, element, i, j), default)


def _options(element) -> list[dict]:
    options = [o for o in element.get("options") or [] if isinstance(o, dict)]
    for group in element.get("option_groups") or []:
        options += [o for o in (group.get("options") or []) if isinstance(o, dict)]
    return options


def _static_select(element, i, j, block, surface):
    initial = (element.get("initial_option") or {}).get("value")
    current = _current(surface, block, element, i, j, initial)
    placeholder = plain_text(element.get("placeholder")) or "Select an option"
    options = [format_html('<option value="">{}</option>', placeholder)]
    for option in _options(element):
        value = str(option.get("value", ""))
        options.append(format_html('<option value="{}"{}>{}</option>', value,
                                   mark_safe(" selected") if value == current else "",
                                   render_text(option.get("text") or {}, surface, inline=True)))
    return format_html('<select class="bk-select"{}>{}</select>', _control_attrs(element, i, j, block, surface),
                       mark_safe("".join(options)))


def _datepicker(element, i, j, block, surface):
    current = _current(surface, block, element, i, j, element.get("initial_date") or "")
    return format_html('<input type="date" class="bk-datepicker" value="{}" placeholder="{}"{}>', current or "",
                       plain_text(element.get("placeholder")), _control_attrs(element, i, j, block, surface))


def _choices(element, i, j, block, surface, *, kind: str):
    if kind == "checkbox":
        initial = [o.get("value") for o in element.get("initial_options") or [] if isinstance(o, dict)]
        chosen = set(_current(surface, block, element, i, j, initial) or [])
    else:
        chosen = {_current(surface, block, element, i, j, (element.get("initial_option") or {}).get("value"))}
    attrs = format_html(' name="{}"', field_name(i, j))
    if surface.form and _dispatches(block):
        attrs += format_html(' data-dispatch="{}"', f"{i}.{j}")
    if not surface.form:
        attrs += mark_safe(" disabled")
    items = []
    for n, option in enumerate(_options(element)):
        value = str(option.get("value", ""))
        description = ""
        if option.get("description"):
            description = format_html('<span class="bk-description">{}</span>',
                                      render_text(option["description"], surface))
        items.append(format_html(
            '<label class="bk-choice"><input type="{}" value="{}" id="{}"{}{}> <span>{}</span>{}</label>',
            kind, value, f"{element_dom_id(i, j)}-{n}", attrs, mark_safe(" checked") if value in chosen else "",
            render_text(option.get("text") or {}, surface, inline=True), description))
    return format_html('<div class="bk-choices" id="{}">{}</div>', element_dom_id(i, j), mark_safe("".join(items)))


def _checkboxes(element, i, j, block, surface):
    return _choices(element, i, j, block, surface, kind="checkbox")


def _radio_buttons(element, i, j, block, surface):
    return _choices(element, i, j, block, surface, kind="radio")


def _plain_text_input(element, i, j, block, surface):
    current = _current(surface, block, element, i, j, element.get("initial_value") or "")
    attrs = _control_attrs(element, i, j, block, surface)
    for name, attr in (("min_length", "minlength"), ("max_length", "maxlength")):
        if isinstance(element.get(name), int):
            attrs += format_html(' {}="{}"', attr, element[name])
    placeholder = plain_text(element.get("placeholder"))
    if element.get("multiline"):
        return format_html('<textarea class="bk-textarea" rows="3" placeholder="{}"{}>{}</textarea>', placeholder,
                           attrs, current)
    return format_html('<input type="text" class="bk-text" placeholder="{}" value="{}"{}>', placeholder, current, attrs)


ELEMENTS = {"static_select": _static_select, "datepicker": _datepicker, "checkboxes": _checkboxes,
            "radio_buttons": _radio_buttons, "plain_text_input": _plain_text_input}


def _button(element, i, j, surface):
    text = render_text(element.get("text") or {}, surface, inline=True)
    style = element.get("style") if element.get("style") in ("primary", "danger") else "default"
    classes = f"bk-button bk-{style}"
    url = element.get("url")
    if isinstance(url, str):
        if SAFE_LINK.match(url):
            return format_html('<a class="{}" href="{}" target="_blank" rel="noopener noreferrer">{}</a>', classes,
                               url, text)
        return format_html('<span class="{}">{}</span>', classes, text)
    confirm = element.get("confirm") if isinstance(element.get("confirm"), dict) else None
    if confirm:
        # A confirm dialog without script: the button opens the dialog, whose own button sends the click.
        yes = render_text(confirm.get("confirm") or {"type": "plain_text", "text": "Yes"}, surface, inline=True)
        no = render_text(confirm.get("deny") or {"type": "plain_text", "text": "Cancel"}, surface, inline=True)
        sender = _button_sender(i, j, surface, yes, f"bk-button bk-{confirm.get('style') or 'primary'}")
        return format_html(
            '<details class="bk-confirm"><summary class="{}">{}</summary><div class="bk-confirm-box" role="dialog">'
            '<strong class="bk-confirm-title">{}</strong><div class="bk-confirm-text">{}</div>'
            '<div class="bk-confirm-actions">{}<span class="bk-confirm-deny">{}</span></div></div></details>',
            classes, text, render_text(confirm.get("title") or {}, surface, inline=True),
            render_text(confirm.get("text") or {}, surface), sender, no)
    return _button_sender(i, j, surface, text, classes)


def _button_sender(i, j, surface, text, classes):
    if surface.form:
        return format_html('<button type="submit" class="{}" name="_action" value="{}" formnovalidate>{}</button>',
                           classes, f"{i}.{j}", text)
    if surface.action_url is None:
        return format_html('<span class="{}">{}</span>', classes, text)
    hidden = format_html_join("", '<input type="hidden" name="{}" value="{}">', surface.hidden)
    return format_html('<form method="post" action="{}" class="bk-button-form">{}<input type="hidden" name="block" '
                       'value="{}"><input type="hidden" name="element" value="{}"><button type="submit" class="{}">'
                       '{}</button></form>', surface.action_url, hidden, i, j, classes, text)


# --- Text ----------------------------------------------------------------------------------------


def plain_text(text_object) -> str:
    """The raw string of a text object (for attributes), or ""."""
    return str(text_object.get("text", "")) if isinstance(text_object, dict) else ""


def render_text(text_object, surface: Surface, *, inline: bool = False) -> SafeString:
    if not isinstance(text_object, dict):
        return escape("")
    text = str(text_object.get("text", ""))
    if text_object.get("type") == "mrkdwn" and not text_object.get("verbatim"):
        return render_mrkdwn(text, surface, inline=inline)
    html = str(escape(text))
    if text_object.get("type") == "mrkdwn" or text_object.get("emoji", True):
        html = _emoji(html)
    return mark_safe(html if inline else html.replace("\n", "<br>"))


PLACEHOLDER = re.compile("\x00(\\d+)\x00")
PRE = re.compile(r"```(.+?)```", re.DOTALL)
CODE = re.compile(r"`([^`\n]+)`")
SPECIAL = re.compile(r"<([^<>\n]*)>")
BOLD = re.compile(r"(?<![\w*])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![\w*])")
ITALIC = re.compile(r"(?<![\w_])_(?!\s)([^_\n]+?)(?<!\s)_(?![\w_])")
STRIKE = re.compile(r"(?<![\w~])~(?!\s)([^~\n]+?)(?<!\s)~(?![\w~])")
SHORTCODE = re.compile(r":([a-z0-9_+-]+):")
QUOTE = re.compile(r"^(?:>|&gt;) ?")


def slack_unescape(text: str) -> str:
    """Slack's three entities back to characters (they are escaped again, for HTML, afterwards)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def render_mrkdwn(text: str, surface: Surface, *, inline: bool = False) -> SafeString:
    pieces: list[str] = []  # rendered HTML, referred to from the text by placeholders

    def hold(html) -> str:
        pieces.append(str(html))
        return f"\x00{len(pieces) - 1}\x00"

    text = text.replace("\x00", "")
    text = PRE.sub(lambda m: hold(format_html('<pre class="bk-pre">{}</pre>', slack_unescape(m.group(1).strip("\n")))),
                   text)
    lines, quoted = [], []
    for line in text.split("\n"):
        is_quote = bool(QUOTE.match(line))
        lines.append(_inline(QUOTE.sub("", line, count=1) if is_quote else line, surface, hold))
        quoted.append(is_quote)
    html, index = [], 0
    while index < len(lines):
        if quoted[index]:
            group = []
            while index < len(lines) and quoted[index]:
                group.append(lines[index])
                index += 1
            html.append('<blockquote class="bk-quote">' + "<br>".join(group) + "</blockquote>")
        else:
            html.append(lines[index] + ("" if index + 1 == len(lines) or quoted[index + 1] else "<br>"))
            index += 1
    joined = "".join(html)
    for _ in range(3):  # placeholders inside held pieces (none today, but cheap to allow)
        joined = PLACEHOLDER.sub(lambda m: pieces[int(m.group(1))], joined)
    return mark_safe(joined)


def _inline(line: str, surface: Surface, hold) -> str:
    line = CODE.sub(lambda m: hold(format_html('<code>{}</code>', slack_unescape(m.group(1)))), line)
    line = SPECIAL.sub(lambda m: hold(_special(m.group(1), surface)), line)
    html = str(escape(slack_unescape(line)))
    html = BOLD.sub(r"<strong>\1</strong>", html)
    html = ITALIC.sub(r"<em>\1</em>", html)
    html = STRIKE.sub(r"<del>\1</del>", html)
    return _emoji(html)


def _emoji(html: str) -> str:
    return SHORTCODE.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), html)


def _special(inner: str, surface: Surface) -> SafeString:
    """One `<…>` of mrkdwn: a mention, a channel, a special mention, a date or a link."""
    target, _, label = inner.partition("|")
    label = slack_unescape(label)
    names = surface.directory
    if target.startswith("@"):
        user = target[1:]
        return format_html('<span class="bk-mention" data-user="{}">@{}</span>', user,
                           names.users.get(user) or label or user)
    if target.startswith("#"):
        channel = target[1:]
        return format_html('<span class="bk-channel">#{}</span>', names.channels.get(channel) or label or channel)
    if target.startswith("!subteam^"):
        group = target[len("!subteam^"):]
        handle = names.usergroups.get(group) or label.lstrip("@") or group
        return format_html('<span class="bk-mention">@{}</span>', handle)
    if target in ("!here", "!channel", "!everyone"):
        return format_html('<span class="bk-mention">@{}</span>', target[1:])
    if target.startswith("!date^"):
        return _date(target, label, surface)
    url = slack_unescape(target)
    if SAFE_LINK.match(url):
        shown = label or url.removeprefix("mailto:")
        return format_html('<a href="{}" target="_blank" rel="noopener noreferrer">{}</a>', url, shown)
    return format_html("{}", label or f"<{slack_unescape(inner)}>")


def _date(target: str, fallback: str, surface: Surface) -> SafeString:
    parts = target.split("^")
    try:
        moment = datetime.fromtimestamp(int(parts[1]), tz=timezone.utc)
        tz = ZoneInfo(surface.tz)
    except (IndexError, ValueError, OverflowError, OSError, ZoneInfoNotFoundError):
        return format_html("{}", fallback)
    local = moment.astimezone(tz)
    template = parts[2] if len(parts) > 2 else "{date_num} {time}"
    shown = DATE_TOKEN.sub(lambda m: _date_token(m.group(1), local, surface, tz), template)
    return format_html('<time datetime="{}" title="{}">{}</time>', moment.isoformat(), fallback, shown)


DATE_TOKEN = re.compile(r"\{(\w+)\}")


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _date_token(token: str, local: datetime, surface: Surface, tz) -> str:
    day = local.date()
    formats = {
        "date_num": day.isoformat(),
        "date": f"{local:%B} {_ordinal(day.day)}, {day.year}",
        "date_short": f"{local:%b} {day.day}, {day.year}",
        "date_long": f"{local:%A}, {local:%B} {_ordinal(day.day)}, {day.year}",
        "time": local.strftime("%I:%M %p").lstrip("0"),
        "time_secs": local.strftime("%I:%M:%S %p").lstrip("0"),
    }
    if token in formats:
        return formats[token]
    if token.endswith("_pretty") and token.removesuffix("_pretty") in formats:
        relative = _relative_day(day, surface, tz)
        return relative or formats[token.removesuffix("_pretty")]
    if token == "ago":
        if surface.now is None:
            return formats["date_short"]
        return _ago(surface.now - local)
    return "{" + token + "}"


def _relative_day(day: date, surface: Surface, tz) -> str | None:
    if surface.now is None:
        return None
    today = surface.now.astimezone(tz).date()
    return {today: "Today", today - timedelta(days=1): "Yesterday", today + timedelta(days=1): "Tomorrow"}.get(day)


def _ago(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if abs(seconds) >= size:
            count = abs(seconds) // size
            text = f"{count} {unit}{'' if count == 1 else 's'}"
            return f"{text} ago" if seconds > 0 else f"in {text}"
    return "just now"
