"""The demo workspace at /demo/, as README's "Try it without Slack" describes it.

A visitor picks who they are, types `/timeoff` commands in the composer, fills
the form, presses buttons, reads DMs, channels and App Home. The pages are
driven in process through Django's test client: every command, click and form
the page turns into Slack's payload is signed and POSTed to the app's own
`/slack/commands`, `/slack/interactions` and `/slack/events` (routed here to
the app in this process, still signed and still verified), and the app talks
to the suite's fake Slack seeded with the demo company, as `demo_slack` seeds
its own. What a person sees is read back from the demo's pages.
"""

from __future__ import annotations

import re
import time
from datetime import date, timedelta
from html import unescape
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.cache import cache
from django.test import Client

from demo import company
from demo.tests.demo_stack import in_a_browser
from demo import slack_payloads as demo_slack_payloads

ALICE, BOB, HANNAH, CAROL, DAVE = company.ALICE, company.BOB, company.HANNAH, company.CAROL, company.DAVE

# Two years ahead, in September: clear of the demo ledger (which ends a few months ahead) and of holidays.
FIRST_DAY = date(date.today().year + 2, 9, 13)
while FIRST_DAY.weekday() != 0:
    FIRST_DAY += timedelta(days=1)
LAST_DAY = FIRST_DAY + timedelta(days=2)  # Monday to Wednesday: 3 working days


# --- The demo, in process ---------------------------------------------------------------------------


@pytest.fixture
def acme(fake_slack, settings, monkeypatch):
    """The demo as bin/run serves it: DEMO on, the fake Slack seeded with Acme, Acme's configuration loaded."""
    from approvals.config_store import config_apply

    settings.DEMO = True
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "demo"]
    settings.ROOT_URLCONF = "demo.tests.urls_with_demo"
    fake_slack.reset()
    company.seed_workspace(fake_slack.workspace, today=date.today())
    config_apply(config=company.demo_config(date.today()))
    cache.clear()

    app = Client(raise_request_exception=False)  # the app's own error page, as a server sends it
    heard = []

    def send(url, body, *, content_type, signing_secret, timeout=15):
        """The page's signed POST, delivered to the app in this process with Slack's headers."""
        path = urlsplit(url).path
        headers = demo_slack_payloads.signed_headers(body, signing_secret)
        heard.append(path)
        response = app.post(path, data=body, content_type=content_type,
                            headers={**headers, "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)"})
        text = response.content.decode("utf-8", "replace")
        try:
            parsed = response.json() if text.strip() else None
        except ValueError:
            parsed = None
        return demo_slack_payloads.AppAnswer(response.status_code, parsed if isinstance(parsed, dict) else None,
                                             text)

    monkeypatch.setattr(demo_slack_payloads, "send", send)
    fake_slack.heard_by_app = heard
    return fake_slack


class Page(HTMLParser):
    """Text of a page (no markup), and its modal's fields by label."""

    def __init__(self, html: str):
        super().__init__()
        self.html = html
        self.chunks: list[str] = []
        self.labels: dict[str, str] = {}  # element id -> label text
        self._label_for: str | None = None
        self._label_text: list[str] = []
        self.controls: dict[str, dict] = {}  # element id -> {"name", "tag", "type", "options"}
        self._select: str | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "label" and attrs.get("for"):
            self._label_for, self._label_text = attrs["for"], []
        if tag in ("select", "input", "textarea") and attrs.get("id", "").startswith("bk-"):
            self.controls[attrs["id"]] = {"name": attrs.get("name"), "tag": tag, "type": attrs.get("type"),
                                          "options": [], "value": attrs.get("value"), "checked": "checked" in attrs}
            if tag == "select":
                self._select = attrs["id"]
        if tag == "option" and self._select:
            self.controls[self._select]["options"].append(attrs.get("value"))
        if tag in ("br", "div", "p", "li", "article", "section", "h1", "h2", "h3", "header", "footer"):
            self.chunks.append("\n")

    def handle_endtag(self, tag):
        if tag == "label" and self._label_for:
            self.labels[self._label_for] = " ".join("".join(self._label_text).split())
            self._label_for = None
        if tag == "select":
            self._select = None

    def handle_data(self, data):
        self.chunks.append(data)
        if self._label_for:
            self._label_text.append(data)

    @property
    def text(self) -> str:
        return " ".join("".join(self.chunks).split())

    def field(self, label_starts: str) -> str:
        """The form name of the modal's control whose label starts with `label_starts`."""
        for dom_id, label in self.labels.items():
            if label.startswith(label_starts) and dom_id in self.controls:
                return self.controls[dom_id]["name"]
        raise AssertionError(f"no field labelled {label_starts!r} in {self.labels}")


def see(client, path: str) -> Page:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return Page(response.content.decode())


def dm_path(person) -> str:
    return f"/demo/{person.id}/c/D{person.id[1:]}/"


def channel_path(person, channel_id: str) -> str:
    return f"/demo/{person.id}/c/{channel_id}/"


def type_in(client, person, text: str, *, where: str | None = None):
    """Type `text` in the composer of `where` (a page path; the person's DM by default) and press Enter."""
    where = where or dm_path(person)
    channel = where.rstrip("/").rsplit("/", 1)[-1] if "/c/" in where else ""
    return client.post(f"/demo/{person.id}/command", {"text": text, "channel": channel, "back": where})


def modal_of(response) -> str | None:
    """The view id the page now draws as a modal, from where it sent the browser."""
    assert response.status_code == 302, response.status_code
    return (parse_qs(urlsplit(response["Location"]).query).get("modal") or [None])[0]


def opened_form(client, person, response) -> tuple[str, Page]:
    view_id = modal_of(response)
    assert view_id, f"no modal opened; the page went to {response['Location']}"
    page = see(client, f"{urlsplit(response['Location']).path}?modal={view_id}")
    return view_id, page


def post_modal(client, person, view_id: str, data: dict, *, back: str | None = None):
    return client.post(f"/demo/{person.id}/modal/{view_id}", {"back": back or dm_path(person), **data})


def request_time_off(client, acme, person=ALICE, *, note="Family wedding", first=FIRST_DAY, last=LAST_DAY,
                     leave_type="vacation") -> None:
    """Type /timeoff, fill the form as a person would (each change redraws it), send it."""
    view_id, form = opened_form(client, person, type_in(client, person, "/timeoff"))
    assert "Request time off" in form.text
    values = {}
    for label, value in (("Leave type", leave_type), ("From", first.isoformat()),
                         ("To", last.isoformat())):
        name = form.field(label)
        values[name] = value
        i_j = name[1:]
        post_modal(client, person, view_id, {**values, "_dispatch": i_j})
        form = see(client, f"{dm_path(person)}?modal={view_id}")
    values[form.field("Note")] = note
    sent = post_modal(client, person, view_id, {**values, "_submit": "1"})
    assert sent.status_code == 302 and "modal=" not in sent["Location"], see(
        client, f"{dm_path(person)}?modal={view_id}").text


def request_message(acme, note: str):
    found = [m for m in acme.workspace.messages(company.C_ENG_APPROVALS) if note in str(m.blocks) + m.text]
    assert found, f"no request with {note!r} in #eng-approvals"
    return found[-1]


def button_forms(html: str, label: str, *, after: str = "") -> list[tuple[str, dict]]:
    """(action, fields) of each button form called `label` in `html`, after the text `after` if given."""
    if after:
        assert after in html, f"no {after!r} on the page"
        html = html[html.index(after):]
    found = []
    for action, inner in re.findall(r'<form method="post" action="([^"]+)" class="bk-button-form">(.*?)</form>', html,
                                    re.S):
        if re.search(r"<button[^>]*>" + re.escape(label) + r"</button>", inner):
            fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', inner))
            found.append((unescape(action), {k: unescape(v) for k, v in fields.items()}))
    return found


def message_html(page: Page, message_ts: str) -> str:
    article = re.search(r'<article class="message[^"]*" data-ts="' + re.escape(message_ts) + r'">(.*?)</article>',
                        page.html, re.S)
    assert article, f"no message {message_ts} on the page"
    return article.group(1)


def ephemeral_html(page: Page, containing: str) -> str:
    """The newest "Only visible to you" message on the page that contains `containing`."""
    found = [html for html in re.findall(r'<article class="message ephemeral"[^>]*>(.*?)</article>', page.html, re.S)
             if containing in Page(html).text]
    assert found, f"no ephemeral message with {containing!r}: {page.text[-1500:]}"
    return found[-1]


def press(client, html: str, label: str, *, after: str = ""):
    """Press the first button called `label` in `html` (after `after`), as the page's button form does."""
    forms = button_forms(html, label, after=after)
    assert forms, f"no {label!r} button in: {Page(html).text[:2000]}"
    action, fields = forms[0]
    return client.post(action, fields)


def click_button(client, person, channel_id: str, message_ts: str, label: str, *, page: Page | None = None):
    """Press the button called `label` on the message at `message_ts` in the channel."""
    page = page or see(client, channel_path(person, channel_id))
    return press(client, message_html(page, message_ts), label)


# --- Who you are --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_start_page_offers_alice_bob_and_hannah_first_with_the_roles_the_readme_gives_them(client, acme):
    """README: "Pick who you are (Alice is an employee, Bob approves for Engineering, Hannah is HR)"; the
    company's FEATURED are "the order the demo's picker offers them in: the three roles first"."""
    page = see(client, "/demo/")
    names = re.findall(r'data-user="(U_[A-Z]+)"', page.html)
    assert names[:3] == [ALICE.id, BOB.id, HANNAH.id]
    assert set(names) == {p.id for p in company.PEOPLE}
    assert "Employee" in page.text and "Approver, Engineering" in page.text and "HR" in page.text
    assert 'href="/console/"' in page.html  # the console link, for HR


@pytest.mark.django_db
def test_acme_has_three_teams_in_their_cities_with_hannah_as_the_fallback_and_carol_in_no_team(client, acme):
    from approvals.config_store import config_from_database

    config = config_from_database()
    teams = {t.name: t.timezone for t in config.teams}
    assert teams == {"Engineering": "America/Los_Angeles", "Sales": "Europe/London", "Support": "Europe/Berlin"}
    assert config.fallback_approvers == (HANNAH.id,)
    # Carol's sidebar has #general and her DM, no team channel
    page = see(client, f"/demo/{CAROL.id}/")
    assert "# general" in page.text
    for team_channel in ("# engineering", "# sales", "# support"):
        assert team_channel not in page.text


@pytest.mark.django_db
def test_two_years_of_time_off_are_in_the_ledger(client, acme):
    from approvals.ledger_format import REQUEST_EVENT_TYPE

    days = []
    for channel in (company.C_ENG_APPROVALS, company.C_ENG_APPROVALS_OLD, company.C_SALES_APPROVALS,
                    company.C_SUPPORT_APPROVALS):
        for m in acme.workspace.messages(channel):
            if (m.metadata or {}).get("event_type") == REQUEST_EVENT_TYPE:
                days.append(date.fromisoformat(m.metadata["event_payload"]["start"]))
    assert min(days) <= date.today() - timedelta(days=365 + 300)
    assert max(days) >= date.today()


# --- Alice asks, Bob decides, Alice reads --------------------------------------------------------------


@pytest.mark.django_db
def test_alice_sends_a_request_bob_approves_it_and_alice_reads_the_outcome_in_her_dm(client, acme):
    request_time_off(client, acme, note="Family wedding in Porto")
    assert "/slack/commands" in acme.heard_by_app and "/slack/interactions" in acme.heard_by_app

    bob_sees = see(client, channel_path(BOB, company.C_ENG_APPROVALS))
    assert "Family wedding in Porto" in bob_sees.text and "Alice Adams" in bob_sees.text
    message = request_message(acme, "Family wedding in Porto")
    clicked = click_button(client, BOB, company.C_ENG_APPROVALS, message.ts, "Approve", page=bob_sees)
    assert clicked.status_code == 302

    dm = see(client, dm_path(ALICE)).text
    assert re.search(r"Bob Brown\s+approved your", dm), dm
    engineering = see(client, channel_path(ALICE, company.C_ENG)).text
    assert "Alice Adams will be out" in engineering


def opened_modal(client, response) -> tuple[str, Page]:
    """The modal the page draws after `response` sent the browser on: its view id and the page."""
    view_id = modal_of(response)
    assert view_id, f"no modal opened; the page went to {response['Location']}"
    return view_id, see(client, response["Location"])


@pytest.mark.django_db
def test_the_form_preview_follows_the_dates_and_names_the_team_that_decides(client, acme):
    view_id, form = opened_form(client, ALICE, type_in(client, ALICE, "/timeoff"))
    kind, first, last = form.field("Leave type"), form.field("From"), form.field("To")
    values = {kind: "vacation", first: FIRST_DAY.isoformat(), last: LAST_DAY.isoformat()}
    post_modal(client, ALICE, view_id, {**values, "_dispatch": last[1:]})
    shown = see(client, f"{dm_path(ALICE)}?modal={view_id}").text
    assert "3 working days" in shown and "Engineering" in shown, shown

    values[last] = (FIRST_DAY + timedelta(days=4)).isoformat()  # Monday to Friday
    post_modal(client, ALICE, view_id, {**values, "_dispatch": last[1:]})
    shown = see(client, f"{dm_path(ALICE)}?modal={view_id}").text
    assert "5 working days" in shown and "3 working days" not in shown, shown


@pytest.mark.django_db
def test_dates_and_note_typed_first_stay_when_a_leave_type_without_half_days_redraws_the_form(client, acme):
    view_id, form = opened_form(client, ALICE, type_in(client, ALICE, "/timeoff"))
    assert "Half days" in form.text
    kind, first, last, note = form.field("Leave type"), form.field("From"), form.field("To"), form.field("Note")
    values = {first: FIRST_DAY.isoformat(), last: LAST_DAY.isoformat(), note: "Dentist, then a day off",
              kind: "medical"}
    post_modal(client, ALICE, view_id, {**values, "_dispatch": kind[1:]})
    redrawn = see(client, f"{dm_path(ALICE)}?modal={view_id}")
    assert "Half days" not in redrawn.text  # Medical appointment has none: the app dropped that block
    dates = {c["value"] for c in redrawn.controls.values() if c["type"] == "date"}
    assert dates == {FIRST_DAY.isoformat(), LAST_DAY.isoformat()}
    assert ">Dentist, then a day off</textarea>" in redrawn.html
    assert re.search(r'<option value="medical" selected>', redrawn.html)


@pytest.mark.django_db
def test_a_new_request_reaches_eng_approvals_with_buttons_and_alice_gets_a_receipt(client, acme):
    request_time_off(client, acme, note="Moving flats")
    bob_sees = see(client, channel_path(BOB, company.C_ENG_APPROVALS))
    html = message_html(bob_sees, request_message(acme, "Moving flats").ts)
    assert button_forms(html, "Approve") and button_forms(html, "Reject")
    assert "timeoff_request · pending" in Page(html).text  # the ledger's metadata, as the page shows it
    receipt = see(client, dm_path(ALICE)).text
    assert "Your request for" in receipt and "3 working days" in receipt and "Bob Brown" in receipt


@pytest.mark.django_db
def test_bob_rejects_with_a_reason_and_alice_reads_the_reason_in_her_dm(client, acme):
    request_time_off(client, acme, note="Ski trip")
    message = request_message(acme, "Ski trip")
    view_id, form = opened_modal(client, click_button(client, BOB, company.C_ENG_APPROVALS, message.ts, "Reject"))
    assert "Reject request" in form.text
    back = channel_path(BOB, company.C_ENG_APPROVALS)
    reason = form.field("Reason")
    unsent = post_modal(client, BOB, view_id, {"_submit": "1"}, back=back)
    assert modal_of(unsent) == view_id  # a required field left empty: Slack's client does not send it
    assert "Please complete this required field." in see(client, unsent["Location"]).text
    assert request_message(acme, "Ski trip").metadata["event_payload"]["status"] == "pending"

    sent = post_modal(client, BOB, view_id, {reason: "Team offsite that week", "_submit": "1"}, back=back)
    assert modal_of(sent) is None
    assert request_message(acme, "Ski trip").metadata["event_payload"]["status"] == "rejected"
    dm = see(client, dm_path(ALICE)).text
    assert re.search(r"Bob Brown\s+rejected your", dm) and "Team offsite that week" in dm, dm


@pytest.mark.django_db
def test_the_decision_is_told_in_the_request_messages_thread(client, acme):
    request_time_off(client, acme, note="Long weekend")
    message = request_message(acme, "Long weekend")
    click_button(client, BOB, company.C_ENG_APPROVALS, message.ts, "Approve")
    channel = see(client, channel_path(BOB, company.C_ENG_APPROVALS))
    assert re.search(r'<a class="replies" href="\?thread=' + re.escape(message.ts) + '">1 reply</a>',
                     message_html(channel, message.ts))
    thread = see(client, f"{channel_path(BOB, company.C_ENG_APPROVALS)}?thread={message.ts}")
    assert "Approved by @Bob Brown" in thread.text


# --- The other commands, as in Slack -------------------------------------------------------------------


@pytest.mark.django_db
def test_timeoff_list_shows_alices_requests_and_withdraw_on_it_withdraws_the_request(client, acme):
    request_time_off(client, acme, note="School holidays")
    type_in(client, ALICE, "/timeoff list")
    dm = see(client, dm_path(ALICE))
    day = f"{FIRST_DAY.day} Sep {FIRST_DAY.year}"
    assert "Your time off" in dm.text and day in dm.text
    listed = ephemeral_html(dm, "Your time off")
    pressed = press(client, listed, "Withdraw", after=day)  # the confirm dialog's own Withdraw button
    assert pressed.status_code == 302
    assert request_message(acme, "School holidays").metadata["event_payload"]["status"] == "cancelled"
    bob_sees = see(client, channel_path(BOB, company.C_ENG_APPROVALS))
    assert not button_forms(message_html(bob_sees, request_message(acme, "School holidays").ts), "Approve")
    # Answered where it was pressed, privately: "Withdrawn: your … `/timeoff list` shows it now"
    assert re.search(r"Withdrawn: your .*/timeoff list shows it now", see(client, dm_path(ALICE)).text)


@pytest.mark.django_db
def test_edit_on_the_list_opens_the_form_filled_in_with_the_request(client, acme):
    request_time_off(client, acme, note="Visiting my parents")
    type_in(client, ALICE, "/timeoff list")
    dm = see(client, dm_path(ALICE))
    listed = ephemeral_html(dm, "Your time off")
    view_id, form = opened_modal(client, press(client, listed, "Edit", after=f"{FIRST_DAY.day} Sep {FIRST_DAY.year}"))
    dates = {c["value"] for c in form.controls.values() if c["type"] == "date"}
    assert dates == {FIRST_DAY.isoformat(), LAST_DAY.isoformat()}
    assert re.search(r'<option value="vacation" selected>', form.html)


@pytest.mark.django_db
def test_timeoff_balance_who_and_help_answer_only_the_person_who_typed_them(client, acme):
    general = channel_path(ALICE, company.C_GENERAL)
    for command in ("/timeoff balance", "/timeoff who", "/timeoff help"):
        assert type_in(client, ALICE, command, where=general).status_code == 302
    alice = see(client, general).text
    balance = alice + see(client, dm_path(ALICE)).text  # at once, or "I'll DM you in a moment" and a DM
    assert f"Your leave in {date.today().year} (Engineering)" in balance and "allowance 25" in balance
    assert "Who's out" in alice and "(Engineering)" in alice
    assert "/timeoff list" in alice and "/timeoff cancel" in alice
    assert alice.count("Only visible to you") == 3

    bob = see(client, channel_path(BOB, company.C_GENERAL)).text
    assert "Your leave in" not in bob and "Who's out" not in bob and "Only visible to you" not in bob


@pytest.mark.django_db
def test_timeoff_cancel_offers_the_pending_request_and_approved_leave(client, acme):
    request_time_off(client, acme, note="Conference")
    type_in(client, ALICE, "/timeoff cancel")
    dm = see(client, dm_path(ALICE))
    assert "Which request do you want to change?" in dm.text
    listed = ephemeral_html(dm, "Which request do you want to change?")
    assert button_forms(listed, "Withdraw", after=f"{FIRST_DAY.day} Sep {FIRST_DAY.year}")
    assert "Recently decided" not in Page(listed).text  # only what can still change


@pytest.mark.django_db
def test_hannah_records_time_off_for_alice_with_timeoff_for_at_alice(client, acme):
    general = channel_path(HANNAH, company.C_GENERAL)
    view_id, form = opened_modal(client, type_in(client, HANNAH, "/timeoff for @alice", where=general))
    assert "Record time off" in form.text and "@Alice Adams" in form.text
    values = {form.field("Leave type"): "vacation", form.field("From"): FIRST_DAY.isoformat(),
              form.field("To"): LAST_DAY.isoformat(), form.field("Note"): "Recorded by HR"}
    post_modal(client, HANNAH, view_id, {**values, "_dispatch": form.field("To")[1:]}, back=general)
    sent = post_modal(client, HANNAH, view_id, {**values, "_submit": "1"}, back=general)
    assert modal_of(sent) is None, see(client, sent["Location"]).text
    recorded = request_message(acme, "Recorded by HR").metadata["event_payload"]
    assert recorded["user"] == ALICE.id and recorded["status"] == "approved"
    assert f"{FIRST_DAY.day} Sep" in see(client, dm_path(ALICE)).text  # Alice is told


@pytest.mark.django_db
def test_hannah_lists_alices_time_off_and_balance_with_timeoff_for_at_alice(client, acme):
    general = channel_path(HANNAH, company.C_GENERAL)
    type_in(client, HANNAH, "/timeoff for @alice list", where=general)
    assert "@Alice Adams's time off" in see(client, general).text
    type_in(client, HANNAH, "/timeoff for @alice balance", where=general)
    told = see(client, general).text + see(client, dm_path(HANNAH)).text  # at once, or by DM a moment later
    assert "allowance 25" in told and "Alice Adams" in told


@pytest.mark.django_db
def test_another_command_is_answered_as_slack_answers_it_and_the_app_never_hears_of_it(client, acme):
    type_in(client, ALICE, "/timeoffs list")
    assert acme.heard_by_app == []
    assert "/timeoffs is not a valid command" in see(client, dm_path(ALICE)).text


def carol_fills_the_form(client) -> tuple[str, dict]:
    """Carol types /timeoff (the first time the app has not looked her up yet: the form opens) and picks dates."""
    view_id, form = opened_form(client, CAROL, type_in(client, CAROL, "/timeoff"))
    values = {form.field("Leave type"): "vacation", form.field("From"): FIRST_DAY.isoformat(),
              form.field("To"): LAST_DAY.isoformat()}
    post_modal(client, CAROL, view_id, {**values, "_dispatch": form.field("To")[1:]})
    return view_id, values


@pytest.mark.django_db
def test_carol_in_no_team_is_told_so_when_she_sends_the_form_and_nothing_is_posted(client, acme):
    view_id, values = carol_fills_the_form(client)
    before = {c: len(acme.workspace.messages(c)) for c in (company.C_ENG_APPROVALS, company.C_SALES_APPROVALS,
                                                            company.C_SUPPORT_APPROVALS)}
    sent = post_modal(client, CAROL, view_id, {**values, "_submit": "1"})
    assert modal_of(sent) == view_id  # the form stays open, saying why
    assert "no team is configured for you" in see(client, sent["Location"]).text
    assert before == {c: len(acme.workspace.messages(c)) for c in before}
    # Now the app knows: the next /timeoff is answered at once.
    assert modal_of(type_in(client, CAROL, "/timeoff")) is None
    assert "no team is configured for you" in see(client, dm_path(CAROL)).text


@pytest.mark.django_db
def test_the_preview_for_someone_in_no_team_does_not_say_their_team_is_still_being_looked_up(client, acme):
    view_id, values = carol_fills_the_form(client)
    preview = see(client, f"{dm_path(CAROL)}?modal={view_id}").text
    assert "No team is configured for you" in preview
    assert "until your team is known" not in preview, preview[preview.index("3 working days"):]


@pytest.mark.django_db
def test_carol_pressing_the_shortcut_is_told_why_in_a_small_window(client, acme):
    carol_fills_the_form(client)  # the app has looked her up since
    response = client.post(f"/demo/{CAROL.id}/shortcut", {"callback_id": "timeoff_request_shortcut",
                                                          "back": f"/demo/{CAROL.id}/"})
    view_id, window = opened_modal(client, response)
    assert "no team is configured for you" in window.text
    assert 'id="modal-submit"' not in window.html  # nothing to send: only Close


# --- Shortcuts and App Home ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_shortcut_opens_the_request_form_and_sending_it_reaches_the_approvers(client, acme):
    response = client.post(f"/demo/{DAVE.id}/shortcut", {"callback_id": "timeoff_request_shortcut",
                                                         "back": f"/demo/{DAVE.id}/"})
    view_id, form = opened_modal(client, response)
    assert "Request time off" in form.text
    back = f"/demo/{DAVE.id}/"
    values = {form.field("Leave type"): "vacation", form.field("From"): FIRST_DAY.isoformat(),
              form.field("To"): LAST_DAY.isoformat(), form.field("Note"): "Sent from the shortcut"}
    sent = post_modal(client, DAVE, view_id, {**values, "_submit": "1"}, back=back)
    assert modal_of(sent) is None, see(client, sent["Location"]).text
    assert request_message(acme, "Sent from the shortcut").metadata["event_payload"]["user"] == DAVE.id


@pytest.mark.django_db
def test_bob_approves_from_his_app_home_and_alice_is_told(client, acme):
    request_time_off(client, acme, note="Approved from Home")
    opened = client.post(f"/demo/{BOB.id}/home/open")
    assert opened.status_code == 302 and "/slack/events" in acme.heard_by_app
    home = see(client, f"/demo/{BOB.id}/home/")
    assert "Waiting for your decision" in home.text
    mine = f"{FIRST_DAY.day} Sep {FIRST_DAY.year}"
    pressed = press(client, home.html, "Approve", after=mine)
    assert pressed.status_code == 302
    assert request_message(acme, "Approved from Home").metadata["event_payload"]["status"] == "approved"
    assert re.search(r"Bob Brown\s+approved your", see(client, dm_path(ALICE)).text)


@pytest.mark.django_db
def test_app_homes_request_time_off_button_opens_the_form_over_home(client, acme):
    client.post(f"/demo/{ALICE.id}/home/open")
    home = see(client, f"/demo/{ALICE.id}/home/")
    response = press(client, home.html, "Request time off")
    view_id, form = opened_modal(client, response)
    assert urlsplit(response["Location"]).path == f"/demo/{ALICE.id}/home/"
    assert "Request time off" in form.text and "Leave type" in form.text


# --- What the page cannot draw, and an app that fails ------------------------------------------------------


@pytest.mark.django_db
def test_a_block_the_page_cannot_draw_shows_as_an_unsupported_block_box(client, acme):
    acme.workspace.post_message(company.C_GENERAL, "a table", user=BOB.id, blocks=[
        {"type": "rich_text", "elements": [{"type": "rich_text_section",
                                            "elements": [{"type": "text", "text": "hello"}]}]}])
    page = see(client, channel_path(ALICE, company.C_GENERAL))
    assert '<div class="bk-unsupported" role="note">unsupported block: rich_text</div>' in page.html


@pytest.mark.django_db
def test_a_command_the_app_fails_on_reads_as_slack_says_it_never_as_the_error_pages_markup(client, acme,
                                                                                          monkeypatch):
    from slackbot import routing

    def broken(command):
        raise RuntimeError("the app fell over")

    monkeypatch.setattr(routing, "dispatch_command", broken)
    client.raise_request_exception = False  # the app's failure is its own request's, not the page's
    type_in(client, ALICE, "/timeoff list")
    page = see(client, dm_path(ALICE))
    assert "The app answered HTTP 500; its log (the terminal running bin/run) says why." in page.text
    assert "Server Error" not in page.text and "&lt;html" not in page.html and "&lt;!DOCTYPE" not in page.html


@pytest.mark.django_db
def test_a_form_the_app_fails_on_stays_open_with_what_was_typed_and_says_why(client, acme, monkeypatch):
    from slackbot import routing

    view_id, form = opened_form(client, ALICE, type_in(client, ALICE, "/timeoff"))
    values = {form.field("Leave type"): "vacation", form.field("From"): FIRST_DAY.isoformat(),
              form.field("To"): LAST_DAY.isoformat(), form.field("Note"): "Kept when it fails"}

    def broken(payload):
        raise RuntimeError("the app fell over")

    monkeypatch.setattr(routing, "dispatch_interaction", broken)
    client.raise_request_exception = False  # the app's failure is its own request's, not the page's
    sent = post_modal(client, ALICE, view_id, {**values, "_submit": "1"})
    assert modal_of(sent) == view_id
    page = see(client, sent["Location"])
    assert "The app answered HTTP 500" in page.text
    assert ">Kept when it fails</textarea>" in page.html





@pytest.mark.django_db
def test_the_console_shows_the_demo_companys_configuration_by_name(acme, admin_client):
    page = Page(admin_client.get("/console/").content.decode()).text
    for team, approvals in (("Engineering", "#eng-approvals"), ("Sales", "#sales-approvals"),
                            ("Support", "#support-approvals")):
        assert team in page and approvals in page
    assert "Bob Brown, everyone in #eng-leads" in page and "C_ENG" not in page


# --- In a browser, against the demo as bin/run starts it ---------------------------------------------------

def tab(browser, demo, person):
    """A browser of its own (its own session), where the visitor picked `person` on the start page."""
    page = browser.new_context(viewport={"width": 1300, "height": 900}).new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{demo.url}/demo/")
    page.click(f"a:has-text('{person.real_name}')")
    page.wait_for_selector("#composer")
    return page


def send_prefilled_request(page, note: str) -> None:
    page.click("nav.sidebar a:has-text('Time Off')")
    page.wait_for_selector(".channel-title")
    page.fill("#composer", f"/timeoff {FIRST_DAY.isoformat()} {LAST_DAY.isoformat()} vacation")
    page.press("#composer", "Enter")
    page.wait_for_selector("form.modal")
    page.fill("form.modal textarea", note)
    page.click("#modal-submit")
    page.wait_for_selector("form.modal", state="detached")


def eventually(page, check, seconds: float = 30, reload: bool = True):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        page.wait_for_timeout(500)
        if reload:
            page.reload()
    raise AssertionError(f"not seen after {seconds} s:\n{page.inner_text('main')}")


@in_a_browser
def test_bobs_open_channel_shows_alices_new_request_without_him_reloading(demo, browser):
    bob = tab(browser, demo, BOB)
    bob.click("nav.sidebar a:has-text('eng-approvals')")
    bob.wait_for_selector(".channel-title")
    alice = tab(browser, demo, ALICE)
    send_prefilled_request(alice, "Seen without reloading")
    request = bob.locator("article.message", has_text="Seen without reloading")
    eventually(bob, lambda: request.count() == 1, reload=False)  # the page notices the change by itself
    assert request.locator("button", has_text="Approve").count() == 1


@in_a_browser
def test_withdrawing_from_the_list_through_its_confirm_dialog_and_switching_to_bob(demo, browser):
    alice = tab(browser, demo, ALICE)
    send_prefilled_request(alice, "Withdrawn from the list")
    eventually(alice, lambda: alice.locator("article.message", has_text="Your request for").count() > 0)
    alice.fill("#composer", "/timeoff list")
    alice.press("#composer", "Enter")
    listed = alice.locator("article.message.ephemeral", has_text="Your time off").last
    listed.wait_for()
    day = f"{FIRST_DAY.day} Sep {FIRST_DAY.year}"
    # This request's line, then its buttons: Edit, and Withdraw behind a confirm dialog.
    confirm = listed.locator(".bk-section", has_text=day).first.locator(
        "xpath=following::details[contains(@class, 'bk-confirm')][1]")
    confirm.locator("summary", has_text="Withdraw").click()
    dialog = confirm.locator(".bk-confirm-box")
    assert "Withdraw request?" in dialog.inner_text()
    dialog.locator("button", has_text="Withdraw").click()
    eventually(alice, lambda: alice.locator("article.message", has_text="Withdrawn: your").count() > 0)

    alice.wait_for_load_state("load")  # the switch listens once the page's deferred script ran
    alice.select_option("#whoami", label="Bob Brown")  # "You are": be Bob
    alice.wait_for_url(f"{demo.url}/demo/{BOB.id}/")
    alice.click("nav.sidebar a:has-text('eng-approvals')")
    request = alice.locator("article.message", has_text="Withdrawn from the list")
    eventually(alice, lambda: request.count() == 1 and request.locator("button", has_text="Approve").count() == 0)
