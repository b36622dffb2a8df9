"""The HR console as HR staff use it in a browser: every page named, headed, labelled and usable by
keyboard and on a phone, refusals and expired forms explained in words, and big workspaces served from
the cache.

Hannah (HR) is a superuser unless a test says otherwise; Ivan has an account without staff status; Sam
is staff without model permissions. The browser tests run against the console as production serves it:
DEBUG off, static files collected and served by whitenoise (as test_console_production.py does), so a
missing file or a Content-Security-Policy refusal shows up as a console error here.
"""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.test.testcases import LiveServerThread
from django.utils import timezone

from approvals.config_types import ApproverSource, MemberSource, TeamConfig
from approvals.models import Blackout, CompanyHoliday, LeaveType, Team
from approvals.rules import LedgerEntry
from fake_slack.ledger_seed import seed_ledger
from fake_slack.personas import ALICE, BOB, C_ENG_APPROVALS, DAVE
from test_support.browser import PASSWORD, SKIP_WITHOUT_CHROMIUM, collect_console_errors, sign_in, submit_sign_in
from test_support.flows import install_config, standard_config

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 375, "height": 700}


# --- The console as production serves it -------------------------------------------------------


@pytest.fixture(scope="session")
def collected_static(tmp_path_factory):
    """STATIC_ROOT after the release step's `collectstatic --no-input`."""
    root = tmp_path_factory.mktemp("staticfiles")
    with override_settings(STATIC_ROOT=root):
        call_command("collectstatic", interactive=False, verbosity=0)
    return root


@pytest.fixture
def production_server(collected_static, fake_slack):
    """A live server with DEBUG off that serves static files only through whitenoise."""
    with override_settings(STATIC_ROOT=collected_static, DEBUG=False):
        thread = LiveServerThread("127.0.0.1", static_handler=lambda application: application)
        thread.daemon = True
        thread.start()
        thread.is_ready.wait()
    if thread.error:
        raise thread.error
    yield f"http://127.0.0.1:{thread.port}"
    thread.terminate()


@pytest.fixture
def hannah(django_user_model):
    return django_user_model.objects.create_superuser("hannah", "hannah@example.com", PASSWORD,
                                                      first_name="Hannah", last_name="Hill")


@pytest.fixture
def workspace(fake_slack):
    """The standard configuration, a company holiday and a blackout, and leave in the ledger next week:
    Alice's approved vacation, Dave's sick day and Alice's vacation still waiting for a decision."""
    install_config()
    monday = timezone.localdate() + timedelta(days=7 - timezone.localdate().weekday())
    entries = [
        LedgerEntry(id="alice-vacation", user=ALICE, team="Engineering", leave_type="vacation", start=monday,
                    end=monday + timedelta(days=1), start_half=None, end_half=None, days=Decimal(2),
                    status="approved", decided_by=BOB),
        LedgerEntry(id="dave-sick", user=DAVE, team="Engineering", leave_type="sick", start=monday, end=monday,
                    start_half=None, end_half=None, days=Decimal(1), status="approved", decided_by=BOB),
        LedgerEntry(id="alice-waiting", user=ALICE, team="Engineering", leave_type="vacation",
                    start=monday + timedelta(days=3), end=monday + timedelta(days=3), start_half=None,
                    end_half=None, days=Decimal(1), status="pending"),
    ]
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, entries=entries)
    return {
        "team": Team.objects.get(name="Engineering").pk,
        "leave_type": LeaveType.objects.get(code="vacation").pk,
        "holiday": CompanyHoliday.objects.create(date=date(2031, 1, 2), name="Company day").pk,
        "blackout": Blackout.objects.create(start=date(2031, 12, 22), end=date(2031, 12, 31),
                                            reason="Year-end freeze").pk,
    }


# Every page HR opens, with the navigation entry it belongs under ("" for none).
PAGES = [
    ("/console/", "Teams"),
    ("/console/teams/new", "Teams"),
    ("/console/teams/{team}/", "Teams"),
    ("/console/teams/{team}/delete", "Teams"),
    ("/console/leave-types/", "Leave types"),
    ("/console/leave-types/new", "Leave types"),
    ("/console/leave-types/{leave_type}/", "Leave types"),
    ("/console/leave-types/{leave_type}/delete", "Leave types"),
    ("/console/holidays/", "Holidays"),
    ("/console/holidays/new", "Holidays"),
    ("/console/holidays/{holiday}/", "Holidays"),
    ("/console/holidays/{holiday}/delete", "Holidays"),
    ("/console/blackouts/new", "Holidays"),
    ("/console/blackouts/{blackout}/", "Holidays"),
    ("/console/blackouts/{blackout}/delete", "Holidays"),
    ("/console/policy/", "Who may request"),
    ("/console/search/?q=alice", "People and channels"),
    ("/console/leave/record", "Record leave"),
    ("/console/whos-out/", "Who's out"),
    ("/console/balances/", "Balances"),
    ("/console/balances/adjust", "Balances"),
    ("/console/ledger/", "Ledger CSV"),
    ("/console/setup/", "Setup"),
    ("/console/file/", "Configuration file"),
    ("/console/history/", "History"),
]

# What a screen reader or an audit tool reads off a page.
PAGE_FACTS = """() => {
  const labelled = (el) => (el.labels && el.labels.length) || el.getAttribute('aria-label')
                           || el.getAttribute('aria-labelledby');
  return {
    lang: document.documentElement.lang,
    title: document.title,
    h1: [...document.querySelectorAll('h1')].map(h => h.innerText.trim()),
    unlabelled: [...document.querySelectorAll('input, select, textarea')]
      .filter(el => el.type !== 'hidden' && !labelled(el)).map(el => el.name || el.id),
    headers_without_scope: [...document.querySelectorAll('th:not([scope])')].map(th => th.innerText.trim()),
    current: [...document.querySelectorAll('nav [aria-current="page"]')].map(a => a.innerText.trim()),
    not_buttons: [...document.querySelectorAll('[onclick], a[href="#"], a:not([href]), [role=button]')].length,
  };
}"""


def _signed_in_page(browser, server, **page_options):
    page = browser.new_page(**page_options)
    page.console_errors = collect_console_errors(page)
    page.failed = []
    page.on("response", lambda response: page.failed.append(f"{response.status} {response.url}")
            if response.status >= 400 and response.request.resource_type != "document" else None)
    sign_in(page, server, "hannah", wait_for="h1:text('Teams')")
    return page


def _open(page, url: str):
    response = page.goto(url)
    page.wait_for_load_state("load")
    return response


@pytest.mark.browser
@SKIP_WITHOUT_CHROMIUM
def test_every_console_page_is_named_headed_labelled_and_marked_in_the_navigation(
        production_server, hannah, workspace, browser):
    page = _signed_in_page(browser, production_server)
    titles = {}
    for path, nav in PAGES:
        path = path.format(**workspace)
        assert _open(page, production_server + path).status == 200, path
        facts = page.evaluate(PAGE_FACTS)
        assert facts["lang"] == "en", path
        assert len(facts["h1"]) == 1, (path, facts["h1"])
        # The tab's title names the page, not only the product.
        assert facts["title"].endswith(" · Time off") and facts["title"] != "HR console · Time off", path
        titles.setdefault(facts["title"], []).append(path)
        assert facts["unlabelled"] == [], (path, facts["unlabelled"])
        assert facts["headers_without_scope"] == [], (path, facts["headers_without_scope"])
        assert facts["current"] == ([nav] if nav else []), (path, facts["current"])
        assert facts["not_buttons"] == 0, path  # actions are real links and buttons, reachable by Tab
    # Two pages with the same title are the same kind of page about different rows, never two kinds.
    assert len(titles) >= len(PAGES) - 1, titles
    assert page.failed == [], page.failed  # no stylesheet, script or icon missing after collectstatic
    assert page.console_errors == [], page.console_errors  # nor refused by the Content-Security-Policy


@pytest.mark.browser
@SKIP_WITHOUT_CHROMIUM
def test_no_console_page_scrolls_sideways_on_a_phone(production_server, hannah, workspace, browser):
    """At 375 px nothing may be wider than the screen: wide tables scroll inside their own box. A
    visually hidden label inside such a box must not escape it (an absolutely positioned element whose
    scrolling box is not positioned is laid out against the page instead)."""
    page = _signed_in_page(browser, production_server, viewport=PHONE)
    _open(page, production_server + "/console/whos-out/")  # (once read, the ledger is in the cache)
    page.wait_for_selector("#waiting table")  # Alice's request waits: the table with "Open in Slack"
    too_wide = {}
    for path, _ in PAGES:
        path = path.format(**workspace)
        _open(page, production_server + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            too_wide[path] = width
    assert too_wide == {}, too_wide


def _contrast(first: str, second: str) -> float:
    def luminance(css: str) -> float:
        red, green, blue = (int(part) / 255 for part in css[css.index("(") + 1:css.index(")")].split(",")[:3])
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (red, green, blue)]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    lighter, darker = sorted((luminance(first), luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


@pytest.mark.browser
@SKIP_WITHOUT_CHROMIUM
def test_the_keyboard_focus_ring_stands_out_from_the_page_behind_it(production_server, hannah, workspace, browser):
    """WCAG 2.2 (1.4.11, 2.4.13): a focus indicator needs 3:1 contrast against the colours next to it.
    The console's ring is a pale yellow (#ffbf47) that shows well on the purple header but is barely
    visible on the near-white content area, where HR spends their time tabbing through forms."""
    page = _signed_in_page(browser, production_server)
    _open(page, production_server + "/console/leave-types/new")
    page.focus("#id_name")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")  # focused by the keyboard: :focus-visible applies
    ring = page.evaluate("""() => {
      const el = document.activeElement;
      let behind = el.parentElement;
      while (behind && ['rgba(0, 0, 0, 0)', 'transparent'].includes(getComputedStyle(behind).backgroundColor)) {
        behind = behind.parentElement;
      }
      const style = getComputedStyle(el);
      return {id: el.id, outline: style.outlineColor, width: style.outlineWidth, style: style.outlineStyle,
              shadow: style.boxShadow, behind: getComputedStyle(behind || document.body).backgroundColor};
    }""")
    assert ring["id"] == "id_name"
    assert ring["style"] != "none" and ring["width"] != "0px", ring
    # A second, dark ring (GOV.UK's yellow-and-black focus style) would do instead of a darker colour.
    dark_companion = ring["shadow"] != "none" and _contrast(ring["shadow"], ring["behind"]) >= 3
    assert _contrast(ring["outline"], ring["behind"]) >= 3 or dark_companion, ring


@pytest.mark.browser
@SKIP_WITHOUT_CHROMIUM
def test_someone_without_staff_status_who_signs_in_is_told_the_console_is_not_for_their_account(
        production_server, django_user_model, browser):
    """HR creates an account for a colleague in the admin and forgets "Staff status". The colleague opens
    the console, is asked to sign in, and types the right password: they must learn that their account
    lacks access (the console's own 403 page says so, and who to ask), not be told to type "the correct
    username and password" again, which sends them to reset a password that is not wrong."""
    django_user_model.objects.create_user("ivan", "ivan@example.com", PASSWORD)
    page = browser.new_page()
    page.goto(f"{production_server}/console/")
    page.wait_for_selector("#id_username")
    submit_sign_in(page, "ivan")
    page.wait_for_load_state("load")
    text = page.inner_text("body")
    assert "correct username and password" not in text, text
    assert "not an HR console account" in text, text
    assert page.url.count("/login/") <= 1  # and no loop between the console and the login page


def test_staff_without_the_record_leave_permission_are_told_which_permission_they_lack(client, django_user_model,
                                                                                         fake_slack):
    """Sam is staff, so the console is for his account; what he lacks is one permission. The page must
    say that (as the console's other refusals do: config/forbidden.html, see/adjust_denied.html), not
    that his account is "not an HR console account" and needs staff access, which he has."""
    install_config()
    sam = django_user_model.objects.create_user("sam", "sam@example.com", PASSWORD, is_staff=True)
    client.force_login(sam)
    response = client.get("/console/leave/record")
    assert response.status_code == 403
    assert "not an HR console account" not in response.text
    assert "record leave for others" in response.text.lower()


@pytest.mark.browser
@SKIP_WITHOUT_CHROMIUM
def test_a_form_sent_after_signing_in_again_in_another_tab_is_explained_inside_the_console(
        production_server, hannah, workspace, browser):
    """Hannah edits a team in one tab, signs out and in again in another (which renews her CSRF token),
    and then saves the first tab. Saving must fail (it does), but on a console page that says what
    happened and that nothing was saved, with a way back: not Django's bare "CSRF verification failed.
    Request aborted. More information is available with DEBUG=True.", whose inline style our own
    Content-Security-Policy refuses."""
    context = browser.new_context()
    editing = context.new_page()
    errors = collect_console_errors(editing)
    sign_in(editing, production_server, "hannah", wait_for="h1:text('Teams')")
    _open(editing, f"{production_server}/console/teams/{workspace['team']}/")
    editing.fill("#id_name", "Platform")

    other_tab = context.new_page()
    _open(other_tab, f"{production_server}/console/")
    other_tab.click("text=Sign out")
    other_tab.wait_for_load_state("load")
    sign_in(other_tab, production_server, "hannah", wait_for="h1:text('Teams')")

    with editing.expect_navigation() as sent:
        editing.click(".form-actions button[type=submit]")
    editing.wait_for_load_state("load")
    assert sent.value.status == 403
    assert Team.objects.get(pk=workspace["team"]).name == "Engineering"  # nothing was saved
    text = editing.inner_text("body")
    assert "DEBUG=True" not in text and "CSRF" not in text, text
    assert editing.locator(".site-header").count() == 1  # the console's own layout, with its navigation
    assert "nothing was saved" in text.lower() or "not saved" in text.lower(), text
    refused = [error for error in errors if "Content Security Policy" in error]  # (the 403 itself is logged too)
    assert refused == [], refused


def test_a_team_deleted_meanwhile_is_explained_inside_the_console(client, django_user_model, fake_slack):
    """A colleague deleted the team; Hannah follows her bookmark or the list she loaded earlier. She
    should land on a console page that says the team is gone and leads back to the teams, not on a
    bare "Not Found. The requested resource was not found on this server." with no way back."""
    install_config()
    client.force_login(django_user_model.objects.create_superuser("hannah", "hannah@example.com", PASSWORD))
    gone = Team.objects.get(name="Engineering").pk
    Team.objects.filter(pk=gone).delete()
    response = client.get(f"/console/teams/{gone}/")
    assert response.status_code == 404
    assert 'href="/console/"' in response.text, response.text  # a way back to the console
    assert "<title>Not Found</title>" not in response.text


@pytest.mark.browser
@SKIP_WITHOUT_CHROMIUM
def test_a_form_sent_after_the_session_ended_saves_nothing_and_returns_to_the_form_after_signing_in(
        production_server, hannah, workspace, browser):
    context = browser.new_context()
    page = context.new_page()
    errors = collect_console_errors(page)
    sign_in(page, production_server, "hannah", wait_for="h1:text('Teams')")
    team_url = f"{production_server}/console/teams/{workspace['team']}/"
    _open(page, team_url)
    page.fill("#id_name", "Platform")
    page.fill("#id_approvers_users", "")
    # The session ends while the form is open (it expired, or was cleared on the server).
    context.clear_cookies(name="sessionid")
    page.click(".form-actions button[type=submit]")
    page.wait_for_selector("#id_username")
    assert "/console/login/" in page.url and "next=/console/teams/" in page.url
    assert Team.objects.get(pk=workspace["team"]).name == "Engineering"
    assert Team.objects.get(pk=workspace["team"]).approvers_users == [BOB]

    submit_sign_in(page, "hannah", wait_for="h1:text('Engineering')")
    assert page.url == team_url  # back on the form, as it is saved
    assert page.input_value("#id_name") == "Engineering"
    assert errors == [], errors


def test_opening_any_console_address_never_changes_anything(client, django_user_model, fake_slack):
    """A GET (a link, a prefetch, a reload, a crawler behind a shared login) changes nothing: deletes
    ask for confirmation first, moving teams, checking Slack again and applying a file take a POST."""
    install_config(standard_config(teams=(
        TeamConfig(name="Engineering", members=MemberSource(users=(ALICE,)), approvers=ApproverSource(users=(BOB,)),
                   approvals_channel=C_ENG_APPROVALS),
        TeamConfig(name="Support", members=MemberSource(users=(DAVE,)), approvers=ApproverSource(users=(BOB,)),
                   approvals_channel=C_ENG_APPROVALS, default=True))))
    client.force_login(django_user_model.objects.create_superuser("hannah", "hannah@example.com", PASSWORD))
    holiday = CompanyHoliday.objects.create(date=date(2031, 1, 2), name="Company day")
    blackout = Blackout.objects.create(start=date(2031, 12, 22), end=date(2031, 12, 31), reason="Freeze")
    engineering, support = Team.objects.get(name="Engineering"), Team.objects.get(name="Support")
    vacation = LeaveType.objects.get(code="vacation")

    def state():
        return (list(Team.objects.order_by("position").values_list("name", "position")),
                list(LeaveType.objects.values_list("code", flat=True)),
                list(CompanyHoliday.objects.values_list("pk", flat=True)),
                list(Blackout.objects.values_list("pk", flat=True)))

    before = state()
    for url in (f"/console/teams/{support.pk}/move?direction=up", f"/console/teams/{engineering.pk}/delete",
                f"/console/leave-types/{vacation.pk}/delete", f"/console/holidays/{holiday.pk}/delete",
                f"/console/blackouts/{blackout.pk}/delete", "/console/setup/check", "/console/file/apply",
                "/console/file/discard"):
        response = client.get(url)
        assert response.status_code in (200, 405), (url, response.status_code)
        if response.status_code == 200:  # a delete: a page that asks, with the consequences
            assert '<button type="submit" class="danger">Delete</button>' in response.text, url
    assert state() == before


def test_a_hundred_teams_and_a_team_of_five_hundred_are_listed_from_the_cache(client, django_user_model,
                                                                               fake_slack):
    """A large company: 100 teams on the team list and 500 people in one team's balances. Once the
    directory and the ledger are cached, a page makes no Slack call at all (none per team or person),
    and every team and person is on it."""
    workspace = fake_slack.workspace
    people = [f"U_P{number:03d}" for number in range(500)]
    for number, user in enumerate(people):
        workspace.add_user(user, f"person{number}", email=f"person{number}@example.com",
                           real_name=f"Person {number:03d}")
    workspace.add_channel("C_EVERYONE", "everyone", members=people)
    teams = [TeamConfig(name="Everyone", members=MemberSource(channel="C_EVERYONE"),
                        approvers=ApproverSource(users=(BOB,)), approvals_channel=C_ENG_APPROVALS)]
    teams += [TeamConfig(name=f"Team {number:03d}", members=MemberSource(users=(people[number],)),
                         approvers=ApproverSource(users=(BOB,)), approvals_channel=C_ENG_APPROVALS)
              for number in range(99)]
    install_config(standard_config(teams=tuple(teams)))
    client.force_login(django_user_model.objects.create_superuser("hannah", "hannah@example.com", PASSWORD))

    for url in ("/console/", "/console/balances/?team=Everyone", "/console/whos-out/"):
        assert client.get(url).status_code == 200  # the first visit reads Slack (the immediate task backend)
    fake_slack.clear_calls()
    home = client.get("/console/")
    balances = client.get("/console/balances/?team=Everyone")
    last_page = client.get("/console/balances/?team=Everyone&page=5")
    whos_out = client.get("/console/whos-out/")
    assert [call.method for call in fake_slack.calls()] == []
    assert home.text.count('class="team-name"') == 100
    # 100 people a page: the first page and the fifth, all 500 counted.
    assert "Person 000" in balances.text and "Person 499" in last_page.text
    assert balances.text.count("<th scope=\"row\">Person ") == 100 and "People 1–100 of 500." in balances.text
    assert whos_out.status_code == 200 and "Team 098" in whos_out.text


@pytest.mark.browser
@SKIP_WITHOUT_CHROMIUM
def test_hr_adds_a_leave_type_with_the_keyboard_alone(production_server, hannah, workspace, browser):
    """Tab starts at "Skip to the content", which lands in the page; Tab then walks the form in the order
    it reads; Enter in a text box sends the form; a mistake is announced and its link leads to the field."""
    page = _signed_in_page(browser, production_server)
    _open(page, production_server + "/console/leave-types/new")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.innerText") == "Skip to the content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    order = []
    for _ in range(4):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id || document.activeElement.innerText"))
    assert order == ["Back to the list", "id_name", "id_code", "id_emoji"], order

    # Enter with a field missing: nothing saved, the summary is announced and leads to the field.
    page.focus("#id_name")
    page.keyboard.type("Parental leave")
    page.keyboard.press("Enter")
    page.wait_for_selector(".error-summary[role=alert]")
    assert page.get_attribute("#id_code", "aria-invalid") == "true"
    assert "id_code_error" in page.get_attribute("#id_code", "aria-describedby")
    page.click(".error-summary a[href='#id_code']")
    assert page.evaluate("document.activeElement.id") == "id_code"
    page.keyboard.type("parental")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Parental leave saved.")
    assert LeaveType.objects.filter(code="parental", name="Parental leave").exists()
    assert page.console_errors == [], page.console_errors



def test_a_ledger_export_that_cannot_be_made_announces_why(client, django_user_model, fake_slack):
    """HR asks for the CSV with a range that ends before it starts. No file comes; the page comes back
    instead, and, as on every other console form (the error summary, role=alert), a screen reader must
    hear that something is wrong: a user waiting for a download otherwise hears nothing at all."""
    install_config()
    client.force_login(django_user_model.objects.create_superuser("hannah", "hannah@example.com", PASSWORD))
    response = client.get("/console/ledger/", {"download": "1", "start": "2031-03-10", "end": "2031-03-01"})
    assert response.status_code == 400
    assert 'id="id_end_error"' in response.text and 'aria-invalid="true"' in response.text  # tied to its field
    assert 'role="alert"' in response.text  # and announced
