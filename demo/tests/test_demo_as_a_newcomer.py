"""The demo workspace as someone evaluating the product uses it after `bin/run`.

What they do: type `/timeoff`, fill the form in whatever order comes to mind,
send it, switch to Bob (often in a second tab) to approve, read the outcome,
list and cancel their leave. What must hold throughout: what they typed stays
what they typed, pages refuse forged or broken posts politely (a 4xx, never a
500), every action needs the page's CSRF token, and nothing the app or a person
writes becomes markup.
"""

import random
import time
from datetime import date, timedelta
from html.parser import HTMLParser

import pytest

from demo import company
from demo.tests.demo_stack import in_a_browser
from demo.block_kit_html import Directory, Surface, render_mrkdwn

# --- Shared -------------------------------------------------------------------------------------


@pytest.fixture
def acme(fake_slack, settings):
    """The demo's pages in process, against the suite's fake Slack seeded with the demo company."""
    settings.DEMO = True
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "demo"]
    settings.ROOT_URLCONF = "demo.tests.urls_with_demo"
    fake_slack.reset()
    company.seed_workspace(fake_slack.workspace, today=date.today())
    return fake_slack


def open_a_modal(acme) -> str:
    """A modal the app opened for Alice (its reject form will do), as the fake holds it: its view id."""
    from slack_sdk import WebClient

    from slackbot.modals import reject_modal

    web = WebClient(token=acme.workspace.bot_token, base_url=acme.api_url)
    view = web.views_open(trigger_id=f"{int(time.time())}.2.abc",
                          view=reject_modal(private_metadata={"id": "r"}, requester=company.ALICE.id,
                                            summary="x"))["view"]
    return view["id"]


# --- Bad input to the demo's own endpoints --------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["_dispatch", "_action"])
def test_a_modal_element_index_in_other_digits_is_refused_not_a_crash(client, acme, field):
    # str.isdigit() says yes to "²" and "①", int() says no: the view checks one and calls the other.
    view_id = open_a_modal(acme)
    client.raise_request_exception = False  # what the browser gets: the answer, not the traceback
    response = client.post(f"/demo/{company.ALICE.id}/modal/{view_id}", {field: "².0"})
    assert response.status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("path, data", [
    ("/demo/U_ALICE/click", {}),
    ("/demo/U_ALICE/click", {"block": "one", "element": "0"}),
    ("/demo/U_ALICE/click", {"block": "0", "element": "0", "where": "message", "channel": "C_GENERAL", "ts": "x"}),
    ("/demo/U_ALICE/click", {"block": "0", "element": "0", "where": "ephemeral", "channel": "C_GENERAL",
                             "ts": "1.0"}),
    ("/demo/U_ALICE/click", {"block": "0", "element": "0", "where": "local", "channel": "C_GENERAL", "ts": "1.0"}),
    ("/demo/U_ALICE/click", {"block": "0", "element": "0", "where": "home", "view": "V_NOPE"}),
    ("/demo/U_ALICE/click", {"block": "0", "element": "0", "where": "elsewhere"}),
    ("/demo/U_ALICE/modal/V_NOPE", {"_submit": "1"}),
    ("/demo/U_ALICE/shortcut", {}),
    ("/demo/U_NOBODY/command", {"text": "/timeoff"}),
    ("/demo/U_NOBODY/home/open", {}),
])
def test_broken_or_forged_posts_to_the_demo_are_a_404(client, acme, path, data):
    assert client.post(path, data).status_code == 404


@pytest.mark.django_db
def test_a_modal_post_naming_an_element_that_is_not_there_is_a_404(client, acme):
    view_id = open_a_modal(acme)
    for dispatched in ("x", "0.x", "99.0", "0.0.0", "-1.0"):
        assert client.post(f"/demo/{company.ALICE.id}/modal/{view_id}", {"_dispatch": dispatched}).status_code == 404


@pytest.mark.django_db
def test_every_demo_action_needs_the_pages_csrf_token(acme):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    assert browser.get(f"/demo/{company.ALICE.id}/").status_code == 200  # has its CSRF cookie now
    view_id = open_a_modal(acme)
    for path, data in (
        (f"/demo/{company.ALICE.id}/command", {"text": "/timeoff help"}),
        (f"/demo/{company.ALICE.id}/click", {"block": "0", "element": "0", "where": "home", "view": view_id}),
        (f"/demo/{company.ALICE.id}/shortcut", {"callback_id": "timeoff_request_shortcut"}),
        (f"/demo/{company.ALICE.id}/modal/{view_id}", {"_close": "1"}),
        (f"/demo/{company.ALICE.id}/home/open", {}),
    ):
        assert browser.post(path, data).status_code == 403, path  # another site's form cannot act as Alice


@pytest.mark.django_db
def test_a_command_other_than_timeoff_is_not_sent_to_the_app_as_timeoff(client, acme, monkeypatch):
    # Slack answers "/timeoffs is not a valid command" itself; the app never hears of it. The demo sends
    # it to the app as `/timeoff` with the text "s list", and the app says "I didn't understand s list".
    from demo import views

    sent = []
    monkeypatch.setattr(views.slack, "send", lambda url, body, **kwargs: sent.append(body) or
                        views.slack.AppAnswer(200, None, ""))
    client.post(f"/demo/{company.ALICE.id}/command", {"text": "/timeoffs list", "channel": "D_ALICE"})
    assert sent == []
    page = client.get(f"/demo/{company.ALICE.id}/c/D_ALICE/").content.decode()
    assert "/timeoffs" in page  # named back, as Slack does, rather than treated as /timeoff


# --- Hostile text, drawn ---------------------------------------------------------------------------

ALLOWED_TAGS = {"strong", "em", "del", "code", "pre", "blockquote", "br", "a", "span", "time"}
ATOMS = ["<", ">", "&", "&lt;", "&gt;", "&amp;", "|", "*", "_", "~", "`", "```", "\n", "&gt; ", "<@U_1>",
         "<#C_1>", "<!date^1700000000^{date}|when>", "<!date^", "<!subteam^S_1|@x>", "http://x.example",
         "javascript:alert(1)", "JaVaScRiPt:", "data:text/html,", "mailto:", '"', "'", " onerror=alert(1) ",
         "<script>", "</a>", "<img src=x>", ":x:", ":palm_tree:", "\x00", "0", "^", "{", "}", " ", "a", "=",
         "<http://x.example|", "<javascript:alert(1)|", "<mailto:a@x|", "&#x27;", "&quot;", "<!channel>"]


class _Markup(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refused = []

    def handle_starttag(self, tag, attrs):
        if tag not in ALLOWED_TAGS:
            self.refused.append((tag, attrs))
        for name, value in attrs:
            if name.startswith("on") or name in ("style", "src"):
                self.refused.append((tag, attrs))
            if name == "href" and not value.lower().startswith(("http://", "https://", "mailto:")):
                self.refused.append((tag, attrs))


def test_no_mrkdwn_however_hostile_becomes_markup_or_a_script_link():
    names = Directory(users={"U_1": '<b onclick="x">Eve</b>'}, channels={"C_1": 'c"h'}, usergroups={"S_1": "<g>"})
    surface = Surface(directory=names, tz="Europe/London")
    rng = random.Random(2026)
    for _ in range(5000):
        text = "".join(rng.choice(ATOMS) for _ in range(rng.randint(1, 12)))
        html = str(render_mrkdwn(text, surface))
        parser = _Markup()
        parser.feed(html)
        assert parser.refused == [] and "\x00" not in html, (text, html)


# --- In a browser, against the demo as bin/run starts it -------------------------------------------

FIRST_DAY = date(date.today().year + 2, 9, 13)
while FIRST_DAY.weekday() != 0:
    FIRST_DAY += timedelta(days=1)

def new_tab(context, errors: list):
    page = context.new_page()
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.set_default_timeout(20_000)
    return page


def type_command(page, text: str) -> None:
    page.fill("#composer", text)
    page.press("#composer", "Enter")


def change(page, selector: str, **how) -> None:
    """Change a form element that tells the app (block_actions): the page comes back redrawn."""
    # The page's script (deferred) listens for the change only once the page has loaded; the form can
    # be on screen a moment before that, and a change made then goes nowhere.
    page.wait_for_load_state("load")
    with page.expect_navigation():
        if "value" in how:
            page.select_option(selector, how["value"])
        else:
            page.fill(selector, how["text"])


@in_a_browser
def test_a_note_typed_first_survives_choosing_a_leave_type_without_half_days(demo, browser):
    # The form's fields are remembered by position; Medical appointment has no half days, so the app
    # redraws the form without that block, and the note moves up one place: it comes back as "[]"
    # (the empty half-day boxes), and what was typed is gone.
    errors = []
    page = new_tab(browser.new_context(), errors)
    page.goto(f"{demo.url}/demo/{company.ALICE.id}/c/D_ALICE/")
    type_command(page, "/timeoff")
    page.wait_for_selector("form.modal")
    page.fill("form.modal textarea", "Dentist at 10, back by lunch")
    change(page, "form.modal select", value="medical")
    page.wait_for_selector("form.modal")
    assert page.locator("form.modal input[type=checkbox]").count() == 0  # the half-day boxes went
    assert page.input_value("form.modal textarea") == "Dentist at 10, back by lunch"


@in_a_browser
def test_a_note_survives_switching_from_medical_to_vacation(demo, browser):
    errors = []
    page = new_tab(browser.new_context(), errors)
    page.goto(f"{demo.url}/demo/{company.ALICE.id}/c/D_ALICE/")
    type_command(page, "/timeoff")
    page.wait_for_selector("form.modal")
    change(page, "form.modal select", value="medical")
    page.fill("form.modal textarea", "Check-up, then a day off")
    change(page, "form.modal select", value="vacation")
    page.wait_for_selector("form.modal input[type=checkbox]")  # the half-day boxes are back
    assert page.input_value("form.modal textarea") == "Check-up, then a day off"
    assert page.locator("form.modal input[type=checkbox]:checked").count() == 0
