"""Block Kit and mrkdwn to HTML: every block and element the app sends, escaped, and honest about the rest."""

from datetime import date, datetime, timezone

import pytest

from approvals import block_ids as ids
from approvals.config_types import LeaveTypeConfig
from approvals.home_view import home_view
from approvals.messages import request_message
from approvals.rules import PENDING, LedgerEntry
from demo.block_kit_html import Directory, Surface, element_slots, render_blocks, render_mrkdwn, state_key
from slackbot.modals import reject_modal, request_modal

NAMES = Directory(users={"U_ALICE": "Alice Adams", "U_BOB": "Bob Brown"}, channels={"C_ENG": "engineering"},
                  usergroups={"S_ENG": "eng"})
SURFACE = Surface(directory=NAMES, tz="Europe/London", now=datetime(2026, 12, 1, 12, tzinfo=timezone.utc))
VACATION = LeaveTypeConfig(code="vacation", name="Vacation", emoji=":palm_tree:", allow_half_days=True)
SICK = LeaveTypeConfig(code="sick", name="Sick leave", requires_approval=False)


def html(text: str, surface: Surface = SURFACE) -> str:
    return str(render_mrkdwn(text, surface))


# --- mrkdwn ---------------------------------------------------------------------------------------


def test_it_renders_bold_italic_strike_and_code():
    assert html("*bold* and _italic_ and ~gone~ and `x < y`") == (
        "<strong>bold</strong> and <em>italic</em> and <del>gone</del> and <code>x &lt; y</code>")


def test_it_leaves_lone_markers_and_words_with_underscores_alone():
    assert html("2 * 3 * 4, snake_case_name, a*b") == "2 * 3 * 4, snake_case_name, a*b"


def test_it_shows_mentions_and_channels_by_name():
    out = html("*<@U_ALICE>* asks <@U_BOB|bob> in <#C_ENG> and <#C_X|elsewhere>, <!subteam^S_ENG> <!here>")
    assert "<strong><span class=\"bk-mention\" data-user=\"U_ALICE\">@Alice Adams</span></strong>" in out
    assert "@Bob Brown" in out and "#engineering" in out and "#elsewhere" in out
    assert "@eng" in out and "@here" in out


def test_an_unknown_user_is_shown_by_label_or_id():
    assert "@U_NOBODY" in html("<@U_NOBODY>")


def test_it_shows_slack_entities_as_the_characters_and_escapes_them_for_html():
    assert html("a &lt;b&gt; &amp; c") == "a &lt;b&gt; &amp; c"
    assert html("&lt;@U_BOB&gt;") == "&lt;@U_BOB&gt;"  # escaped text is not a mention


def test_hostile_text_never_becomes_markup():
    out = html('<script>alert(1)</script> <img src=x onerror=alert(1)> "quoted" \'single\'')
    assert out == ("&lt;script&gt;alert(1)&lt;/script&gt; &lt;img src=x onerror=alert(1)&gt; &quot;quoted&quot; "
                   "&#x27;single&#x27;")
    out = html("<javascript:alert(1)|click me> <http://ok.example/?a=1&amp;b=\"2\"|fine>")
    assert out.startswith("click me ") and "javascript" not in out
    assert '<a href="http://ok.example/?a=1&amp;b=&quot;2&quot;" target="_blank" rel="noopener noreferrer">fine</a>' in out


def test_links_keep_their_label_and_only_safe_schemes_become_links():
    out = html("<https://example.com|the site> <mailto:hr@acme.example|HR> <ftp://x.example|files>")
    assert '<a href="https://example.com" target="_blank" rel="noopener noreferrer">the site</a>' in out
    assert '<a href="mailto:hr@acme.example"' in out
    assert "files" in out and "ftp://" not in out


def test_quotes_and_line_breaks():
    assert html("Note:\n>first line\n&gt; second\nafter") == (
        'Note:<blockquote class="bk-quote">first line<br>second</blockquote>after')


def test_code_blocks_keep_their_text():
    assert html("```*not bold* <@U_BOB>```") == '<pre class="bk-pre">*not bold* &lt;@U_BOB&gt;</pre>'


def test_dates_are_shown_in_the_readers_time_zone():
    # 1766000000 is 2025-12-17 19:33:20 UTC
    out = html("<!date^1766000000^{date_short_pretty} at {time}|2025-12-17 19:33 UTC>")
    assert out == ('<time datetime="2025-12-17T19:33:20+00:00" title="2025-12-17 19:33 UTC">Dec 17, 2025 at 7:33 PM'
                   "</time>")
    tokyo = Surface(directory=NAMES, tz="Asia/Tokyo")
    assert ">Dec 18, 2025 at 4:33 AM<" in html("<!date^1766000000^{date_short_pretty} at {time}|x>", tokyo)
    assert "December 17th, 2025" in html("<!date^1766000000^{date}|x>")
    assert ">2025-12-17<" in html("<!date^1766000000^{date_num}|x>")


def test_pretty_dates_say_today_and_a_bad_date_shows_its_fallback():
    now = datetime(2025, 12, 17, 20, tzinfo=timezone.utc)
    assert ">Today at 7:33 PM<" in html("<!date^1766000000^{date_short_pretty} at {time}|x>",
                                        Surface(directory=NAMES, now=now))
    assert html("<!date^soon^{date}|next week>") == "next week"


def test_emoji_shortcodes_the_app_uses_are_drawn():
    assert html(":palm_tree: :white_check_mark: :not_an_emoji: 10:30:45") == "🌴 ✅ :not_an_emoji: 10:30:45"


# --- Blocks ---------------------------------------------------------------------------------------


def entry(**changes) -> LedgerEntry:
    values = dict(id="r1", user="U_ALICE", team="Engineering", leave_type="vacation", start=date(2031, 3, 10),
                  end=date(2031, 3, 12), start_half=None, end_half=None, days=3, status=PENDING)
    return LedgerEntry(**values | changes)


def test_the_approvals_message_with_its_buttons():
    _, blocks = request_message(entry=entry(), leave_type=VACATION, note="See you <soon> & bye",
                                approvers={"U_BOB"})
    surface = Surface(directory=NAMES, action_url="/demo/U_BOB/click", hidden=(("csrfmiddlewaretoken", "tok"),))
    out = str(render_blocks(blocks, surface))
    assert "@Alice Adams" in out and "3 working days" in out
    assert '<blockquote class="bk-quote">See you &lt;soon&gt; &amp; bye</blockquote>' in out
    assert out.count('<form method="post" action="/demo/U_BOB/click"') == 2
    assert '<button type="submit" class="bk-button bk-primary">Approve</button>' in out
    assert '<button type="submit" class="bk-button bk-danger">Reject</button>' in out
    assert '<input type="hidden" name="csrfmiddlewaretoken" value="tok">' in out
    assert "unsupported" not in out


def test_buttons_without_a_target_are_drawn_inert():
    _, blocks = request_message(entry=entry(), leave_type=VACATION, note="", approvers={"U_BOB"})
    out = str(render_blocks(blocks, Surface(directory=NAMES)))
    assert '<span class="bk-button bk-primary">Approve</span>' in out and "<form" not in out


def test_the_request_modal_as_a_form():
    view = request_modal(leave_types=(VACATION, SICK), selected_type="vacation", start=date(2031, 3, 10),
                         half_values=("end_am",), preview="*3 working days*: Mon 10 Mar")
    out = str(render_blocks(view["blocks"], Surface(directory=NAMES, form=True)))
    assert '<select class="bk-select" id="bk-0-0" name="b0.0" data-dispatch="0.0" required>' in out
    assert '<option value="vacation" selected>🌴 Vacation</option>' in out
    assert '<input type="date" class="bk-datepicker" value="2031-03-10"' in out
    assert 'name="b1.0" data-dispatch="1.0" required>' in out
    assert 'value="end_am" id="bk-3-0-1" name="b3.0" data-dispatch="3.0" checked>' in out
    assert 'value="start_pm" id="bk-3-0-0" name="b3.0" data-dispatch="3.0">' in out
    assert '<textarea class="bk-textarea" rows="3" placeholder="" id="bk-4-0" name="b4.0" maxlength="500">' in out
    assert "(optional)" in out
    assert '<div class="bk-context"><span><strong>3 working days</strong>: Mon 10 Mar</span></div>' in out
    assert "unsupported" not in out


def test_current_values_and_errors_win_over_the_initial_ones():
    view = request_modal(leave_types=(VACATION,), selected_type="vacation", start=date(2031, 3, 10))
    slots = {block.get("block_id"): state_key(block, element, i, j)
             for i, j, block, element in element_slots(view["blocks"])}
    surface = Surface(directory=NAMES, form=True, values={slots[ids.TYPE_BLOCK]: "", slots[ids.START_BLOCK]: "2031-04-01",
                                                          slots[ids.NOTE_BLOCK]: "typed <b>"},
                      errors={"start": "Pick a <working> day."})
    out = str(render_blocks(view["blocks"], surface))
    assert 'value="2031-04-01"' in out and "2031-03-10" not in out
    assert '<option value="vacation">' in out  # deselected
    assert '<div class="bk-error" role="alert">Pick a &lt;working&gt; day.</div>' in out
    assert 'class="bk-input bk-has-error" data-block-id="start"' in out
    assert ">typed &lt;b&gt;</textarea>" in out


def test_the_reject_modal_requires_a_reason_of_two_characters():
    view = reject_modal(private_metadata={"id": "r1"}, requester="U_ALICE", summary="they will be told.")
    out = str(render_blocks(view["blocks"], Surface(directory=NAMES, form=True)))
    assert 'Rejecting <span class="bk-mention" data-user="U_ALICE">@Alice Adams</span>' in out
    assert 'required minlength="2" maxlength="500">' in out


def test_app_home_with_header_divider_and_link_button():
    from approvals.config_types import WorkspaceConfig

    view = home_view(config=WorkspaceConfig(leave_types=(VACATION,)), leave=None, balances_text="*Vacation*: 20",
                     waiting=[entry(channel="C_ENG", ts="1.0")], is_hr=True, console_url="https://hr.acme.example/c/")
    out = str(render_blocks(view["blocks"], Surface(directory=NAMES, action_url="/click")))
    assert '<h3 class="bk-header">Time off</h3>' in out
    assert '<hr class="bk-divider">' in out
    assert ('<a class="bk-button bk-default" href="https://hr.acme.example/c/" target="_blank" '
            'rel="noopener noreferrer">Open the HR console</a>') in out
    assert "Waiting for your decision" in out and out.count(">Approve</button>") == 1


def test_a_link_button_with_an_unsafe_url_is_not_a_link():
    out = str(render_blocks([{"type": "actions", "elements": [
        {"type": "button", "text": {"type": "plain_text", "text": "x"}, "url": "javascript:alert(1)"}]}], SURFACE))
    assert "href" not in out and "javascript" not in out


def test_a_confirm_dialog_needs_a_second_click():
    blocks = [{"type": "actions", "elements": [{
        "type": "button", "action_id": "withdraw", "style": "danger", "text": {"type": "plain_text", "text": "Withdraw"},
        "confirm": {"title": {"type": "plain_text", "text": "Withdraw it?"},
                    "text": {"type": "mrkdwn", "text": "Your *request* goes."},
                    "confirm": {"type": "plain_text", "text": "Yes, withdraw"},
                    "deny": {"type": "plain_text", "text": "Keep it"}, "style": "danger"}}]}]
    out = str(render_blocks(blocks, Surface(directory=NAMES, action_url="/click")))
    assert '<details class="bk-confirm"><summary class="bk-button bk-danger">Withdraw</summary>' in out
    assert "Withdraw it?" in out and "Your <strong>request</strong> goes." in out
    assert '<button type="submit" class="bk-button bk-danger">Yes, withdraw</button>' in out
    assert "Keep it" in out


def test_sections_with_fields_and_an_accessory():
    blocks = [{"type": "section", "fields": [{"type": "mrkdwn", "text": "*Type*"}, {"type": "plain_text", "text": "a<b"}],
               "accessory": {"type": "button", "text": {"type": "plain_text", "text": "Go"}, "action_id": "go"}}]
    out = str(render_blocks(blocks, Surface(directory=NAMES, action_url="/click")))
    assert '<div class="bk-field"><strong>Type</strong></div><div class="bk-field">a&lt;b</div>' in out
    assert '<div class="bk-accessory"><form' in out


def test_radio_buttons_and_single_line_inputs():
    blocks = [
        {"type": "input", "block_id": "r", "label": {"type": "plain_text", "text": "Pick"}, "element": {
            "type": "radio_buttons", "action_id": "a", "initial_option": {"text": {"type": "plain_text", "text": "B"},
                                                                          "value": "b"},
            "options": [{"text": {"type": "plain_text", "text": "A"}, "value": "a"},
                        {"text": {"type": "plain_text", "text": "B"}, "value": "b",
                         "description": {"type": "plain_text", "text": "the second"}}]}},
        {"type": "input", "block_id": "t", "optional": True, "label": {"type": "plain_text", "text": "Say"},
         "hint": {"type": "plain_text", "text": "short"},
         "element": {"type": "plain_text_input", "action_id": "t", "initial_value": "hi \"there\""}},
    ]
    out = str(render_blocks(blocks, Surface(directory=NAMES, form=True)))
    assert '<input type="radio" value="b" id="bk-0-0-1" name="b0.0" checked>' in out
    assert "the second" in out
    assert 'value="hi &quot;there&quot;"' in out and '<div class="bk-hint">short</div>' in out


@pytest.mark.parametrize("block", [
    {"type": "image", "image_url": "https://x.example/a.png", "alt_text": "a"},
    {"type": "rich_text", "elements": []},
    {"type": "<b>bold</b>"},
    {"no": "type"},
    "not a block",
])
def test_it_says_plainly_when_it_meets_a_block_it_does_not_know(block):
    out = str(render_blocks([block], SURFACE))
    assert out.startswith('<div class="bk-unsupported" role="note">unsupported block: ')
    assert "<b>" not in out


def test_it_says_plainly_when_it_meets_an_element_it_does_not_know():
    out = str(render_blocks([{"type": "actions", "elements": [{"type": "users_select", "action_id": "u"}]},
                             {"type": "context", "elements": [{"type": "rich_text"}]}], SURFACE))
    assert "unsupported element: users_select" in out and "unsupported element: rich_text" in out
