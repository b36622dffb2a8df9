"""The Setup page's delivery problems as HR reads them (README "The HR console" › Setup: "the last 20 delivery
problems (who, what was asked, which channel, Slack's error; people are named as Slack names them now, never
by id …; *Mark resolved* takes a problem HR has dealt with off the list, and the admin keeps it with who
marked it and when)").

The problems are made the way they happen: a request to an approvals channel the bot was taken out of never
reaches its approvers ("Not delivered"); a decision whose follow-ups Slack keeps refusing is recorded as
"<approver>'s approval is in the ledger, but …". People are renamed, deactivated or removed in the fake
Slack, and the console's directory is read from it again, as its background refresh does. HR reads the page
in a browser session (Django's test client) and presses "Mark resolved" as the page's form sends it.

Tasks run at once (TASKS_BACKEND=immediate).
"""

import html
import re
from dataclasses import replace
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from approvals import block_ids as ids
from approvals import slack_directory
from approvals.config_types import ApproverSource, LeaveTypeConfig
from approvals.models import DeliveryProblem
from approvals.slack_clients import background_client
from fake_slack.personas import BOT, C_ENG_APPROVALS
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    ENGINEERING,
    MONDAY,
    VACATION,
    WEDNESDAY,
    click,
    install_config,
    open_request_form,
    posted_requests,
    request_time_off,
    request_values,
    standard_config,
    submit_request,
)
from test_support.setup_page import setup_page
from test_support.slack_requests import event_envelope, post_event

pytestmark = pytest.mark.django_db

METRICS_TOKEN = "metrics-token-for-delivery-problems-0123"
ASKED_FOR = "Vacation, Mon 10 Mar 2031 – Wed 12 Mar 2031"
SETUP = "/console/setup/"


# --- Who is at the keyboard ---------------------------------------------------------------------------


@pytest.fixture
def slack():
    """Slack's side: signed requests to /slack/*, from no browser session."""
    return Client()


@pytest.fixture
def hr(django_user_model, fake_slack, directory):
    """Hannah from HR, a superuser, in a browser of her own."""
    hannah = django_user_model.objects.create_superuser("hannah", "hannah@example.com", "a-long-test-password")
    browser = Client()
    browser.force_login(hannah)
    return browser


def staff_browser(django_user_model, username: str, *permissions: str, csrf: bool = False) -> Client:
    """A staff user with console access and only `permissions` ("approvals.view_deliveryproblem"), signed in."""
    user = django_user_model.objects.create_user(username, f"{username}@example.com", "a-long-test-password",
                                                 is_staff=True)
    for permission in permissions:
        app_label, codename = permission.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    browser = Client(enforce_csrf_checks=csrf)
    browser.force_login(user)
    return browser


# --- What the page shows --------------------------------------------------------------------------------


def text_of(fragment: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", fragment))).strip()


def problems_table(page: str) -> str:
    """The delivery problems' table as served (HTML), or "" when the page lists none."""
    if 'id="delivery-problems"' not in page:
        return ""
    start = page.index('id="delivery-problems"')
    return page[start:page.index("</table>", start)]


def problem_cells(page: str) -> list[list[str]]:
    """Each listed problem's cells as text: when, who, what was asked, team and channel, error, (button)."""
    rows = re.findall(r"<tr><td>(.*?)</tr>", problems_table(page), flags=re.S)
    return [[text_of(cell) for cell in re.findall(r"<td>(.*?)</td>", "<td>" + row, flags=re.S)] for row in rows]


def who_and_what(page: str) -> list[tuple[str, str]]:
    return [(cells[1], cells[2]) for cells in problem_cells(page)]


def problems_section(page: str) -> str:
    start = page.index('id="problems-heading"')
    return page[start:page.index("</section>", start)]


def resolve_url(problem: DeliveryProblem) -> str:
    return reverse("console:setup_problem_resolved", args=[problem.pk])


def mark_resolved(browser, problem: DeliveryProblem):
    """HR presses "Mark resolved" on `problem`'s row."""
    return browser.post(resolve_url(problem))


def directory_read_again():
    """The console's directory read from Slack again, as its background refresh does."""
    return slack_directory.directory_refresh(background_client())


def scrape(browser) -> dict:
    response = browser.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200, response.status_code
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(response.content.decode()) for sample in family.samples}


def counted(samples: dict, name: str, **labels) -> float:
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


# --- How problems happen -----------------------------------------------------------------------------


def bot_removed(fake_slack, channel: str) -> None:
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[channel].members.discard(BOT)


def undelivered(slack, fake_slack, user: str, *, leave_type: str = "vacation", view_id: str = "V_REQ1") -> None:
    """`user` sends a request to an approvals channel the bot was taken out of: Slack refuses it for good."""
    bot_removed(fake_slack, C_ENG_APPROVALS)
    before = DeliveryProblem.objects.count()
    view = open_request_form(slack, fake_slack, user)
    response = submit_request(slack, user, view, request_values(leave_type, MONDAY, WEDNESDAY),
                              view_id=view_id, view_hash=f"h_{view_id}")
    assert response.status_code == 200, response.content
    assert DeliveryProblem.objects.count() == before + 1


def approved_but_follow_ups_fail(slack, fake_slack, requester: str, approver: str, *, view_id: str) -> None:
    """`requester` sends a request; `approver` approves it while Slack answers every post with a 500: the
    approval is in the ledger, its thread reply, DMs and announcement are not sent."""
    view = open_request_form(slack, fake_slack, requester)
    response = submit_request(slack, requester, view, request_values("vacation", MONDAY, WEDNESDAY),
                              view_id=view_id, view_hash=f"h_{view_id}")
    assert response.status_code == 200, response.content
    [posted] = [call for call in posted_requests(fake_slack) if call.params.get("metadata")
                and requester in str(call.params["metadata"])]
    before = DeliveryProblem.objects.count()
    fake_slack.server_error("chat.postMessage", status=500, times=None)
    try:
        click(slack, fake_slack, approver, ids.APPROVE_ACTION, posted)
    finally:
        fake_slack.clear_faults()
    assert DeliveryProblem.objects.count() == before + 1


def the_problem_of(approver: str) -> DeliveryProblem:
    return DeliveryProblem.objects.get(user=approver, undelivered=False)


def deactivated_in_slack(slack, fake_slack, user: str, event_id: str) -> None:
    """An admin deactivates `user`; Slack sends user_change with the whole profile."""
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[user].deleted = True
        profile = fake_slack.workspace.users[user].to_api()
    response = post_event(slack, event_envelope({"type": "user_change", "user": profile,
                                                 "event_ts": "1766000000.000400"}, event_id=event_id))
    assert response.status_code == 200, response.content


def renamed_in_slack(fake_slack, user: str, real_name: str) -> None:
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[user].real_name = real_name


def problems_made_directly(count: int) -> list[DeliveryProblem]:
    """`count` undelivered requests, oldest first, one a minute apart (more than a real flow makes cheaply)."""
    now = timezone.now()
    made = []
    for number in range(count):
        problem = DeliveryProblem.objects.create(
            request_id=f"req-{number:02d}", user=ALICE, team="Engineering", channel=C_ENG_APPROVALS,
            error="not_in_channel", summary=f"Vacation, request number {number:02d}", undelivered=True)
        DeliveryProblem.objects.filter(pk=problem.pk).update(created_at=now - timedelta(minutes=count - number))
        made.append(problem)
    return made


def numbers_listed(page: str) -> list[int]:
    return [int(number) for number in re.findall(r"request number (\d+)", problems_table(page))]


# --- People named, as Slack names them now ---------------------------------------------------------------


def test_it_names_the_approver_of_a_decision_whose_follow_ups_failed(slack, hr, fake_slack, no_backoff):
    install_config()
    approved_but_follow_ups_fail(slack, fake_slack, ALICE, BOB, view_id="V_ALICE")
    assert the_problem_of(BOB).summary.startswith(f"{BOB}'s approval is in the ledger, but")  # as recorded

    [(who, what)] = who_and_what(setup_page(hr))

    assert who == "Bob Brown"
    assert what.startswith("Bob Brown's approval is in the ledger, but not all of its follow-ups"), what
    assert BOB not in problems_table(setup_page(hr))


def test_it_shows_an_approver_deactivated_since_as_deactivated_not_by_id(slack, hr, fake_slack, no_backoff):
    install_config()
    approved_but_follow_ups_fail(slack, fake_slack, ALICE, BOB, view_id="V_ALICE")
    deactivated_in_slack(slack, fake_slack, BOB, "Ev_BOB_GONE")
    directory_read_again()

    [(_who, what)] = who_and_what(setup_page(hr))

    assert what.startswith("Bob Brown (deactivated)'s approval is in the ledger"), what
    assert BOB not in what


def test_it_names_a_deactivated_person_in_the_who_column_too(slack, hr, fake_slack, no_backoff):
    # README: "people are named as Slack names them now, never by id". The approver's own column is the
    # first place HR looks; the summary beside it already says "(deactivated)".
    install_config()
    approved_but_follow_ups_fail(slack, fake_slack, ALICE, BOB, view_id="V_ALICE")
    deactivated_in_slack(slack, fake_slack, BOB, "Ev_BOB_GONE_WHO")
    directory_read_again()

    [(who, _what)] = who_and_what(setup_page(hr))

    assert who == "Bob Brown (deactivated)", who


def test_it_names_a_requester_who_left_with_a_request_pending(slack, hr, fake_slack):
    # Alice's account is deactivated while her request waits: HR is asked to decide or withdraw it.
    install_config()
    request_time_off(slack, fake_slack, ALICE)
    deactivated_in_slack(slack, fake_slack, ALICE, "Ev_ALICE_GONE")
    directory_read_again()
    assert DeliveryProblem.objects.get().error == "user_deactivated"

    [(who, what)] = who_and_what(setup_page(hr))

    assert "decide or withdraw it" in what
    assert who == "Alice Adams (deactivated)", who


def test_it_leaves_the_id_of_someone_slack_does_not_list_and_invents_no_name(slack, hr, fake_slack, no_backoff):
    install_config()
    approved_but_follow_ups_fail(slack, fake_slack, ALICE, BOB, view_id="V_ALICE")
    with fake_slack.workspace.lock:
        del fake_slack.workspace.users[BOB]  # gone from users.list altogether (another workspace's guest, say)
    directory_read_again()

    [(who, what)] = who_and_what(setup_page(hr))

    assert what.startswith(f"{BOB}'s approval is in the ledger"), what
    assert who == BOB
    assert "Bob" not in what.replace(BOB, "")


def test_it_names_enterprise_grid_people_whose_ids_start_with_w(slack, hr, fake_slack, no_backoff):
    liam = "W0LIAM0001"
    fake_slack.workspace.add_user(liam, "liam", tz="Europe/Dublin", email="liam@example.com", real_name="Liam Lee")
    install_config(standard_config(teams=(replace(ENGINEERING, approvers=ApproverSource(users=(liam,))),)))
    directory_read_again()
    approved_but_follow_ups_fail(slack, fake_slack, ALICE, liam, view_id="V_ALICE")
    assert the_problem_of(liam).summary.startswith(f"{liam}'s approval")

    [(who, what)] = who_and_what(setup_page(hr))

    assert what.startswith("Liam Lee's approval is in the ledger"), what
    assert who == "Liam Lee"


@pytest.mark.parametrize("type_name", ["USA TRIP", "WFH", "UK WORK VISA", "WORK_FROM_HOME", "Unpaid (UNPAID)",
                                       "W2 UPDATE DAY"])
def test_it_leaves_a_leave_type_named_in_capitals_as_hr_named_it(slack, hr, fake_slack, type_name):
    leave_type = LeaveTypeConfig(code="special", name=type_name, emoji=":airplane:", requires_approval=True)
    install_config(standard_config(leave_types=(VACATION, leave_type)))
    undelivered(slack, fake_slack, ALICE, leave_type="special")
    assert DeliveryProblem.objects.get().summary.startswith(f":airplane: {type_name}, ")

    [(who, what)] = who_and_what(setup_page(hr))

    assert who == "Alice Adams"
    assert what == f"Not delivered: :airplane: {type_name}, Mon 10 Mar 2031 – Wed 12 Mar 2031", what


@pytest.fixture
def two_alex_kims(fake_slack):
    """Two approvers Slack names alike, each with an email of their own."""
    fake_slack.workspace.add_user("U_ALEX1", "alex", email="alex.kim@example.com", real_name="Alex Kim")
    fake_slack.workspace.add_user("U_ALEX2", "alexk", email="alex.kim2@example.com", real_name="Alex Kim")
    install_config(standard_config(teams=(replace(ENGINEERING, approvers=ApproverSource(
        users=("U_ALEX1", "U_ALEX2"))),)))
    directory_read_again()
    return "U_ALEX1", "U_ALEX2"


def test_it_tells_apart_two_people_of_the_same_name_in_what_happened(slack, hr, fake_slack, no_backoff,
                                                                     two_alex_kims):
    first, second = two_alex_kims
    approved_but_follow_ups_fail(slack, fake_slack, ALICE, first, view_id="V_ALICE")
    approved_but_follow_ups_fail(slack, fake_slack, DAVE, second, view_id="V_DAVE")
    # As the console's other pages name them (the directory's label for a shared name).
    directory = slack_directory.directory_cached()
    assert directory.person_label(first) == "Alex Kim (alex.kim@example.com)"

    whats = [what for _who, what in who_and_what(setup_page(hr))]

    assert sorted(w.split("'s approval")[0] for w in whats) == [
        "Alex Kim (alex.kim2@example.com)", "Alex Kim (alex.kim@example.com)"], whats


def test_it_tells_apart_two_people_of_the_same_name_in_the_who_column(slack, hr, fake_slack, no_backoff,
                                                                      two_alex_kims):
    first, second = two_alex_kims
    approved_but_follow_ups_fail(slack, fake_slack, ALICE, first, view_id="V_ALICE")
    approved_but_follow_ups_fail(slack, fake_slack, DAVE, second, view_id="V_DAVE")

    whos = [who for who, _what in who_and_what(setup_page(hr))]

    assert len(set(whos)) == 2, whos  # two rows by two people: not "Alex Kim" twice
    assert sorted(whos) == ["Alex Kim (alex.kim2@example.com)", "Alex Kim (alex.kim@example.com)"], whos


@pytest.mark.parametrize("hostile_name", ['<script>alert("x")</script>', "<!channel> & friends",
                                          '<img src=x onerror="alert(1)">', "Tom & Jerry <@U_HR>"])
def test_it_escapes_names_people_gave_themselves(slack, hr, fake_slack, no_backoff, hostile_name):
    install_config()
    renamed_in_slack(fake_slack, BOB, hostile_name)
    directory_read_again()
    approved_but_follow_ups_fail(slack, fake_slack, ALICE, BOB, view_id="V_ALICE")

    page = setup_page(hr)
    table = problems_table(page)

    assert hostile_name not in page  # never served as markup
    assert html.escape(hostile_name, quote=False) in table or html.escape(hostile_name) in table
    [(who, what)] = who_and_what(page)
    assert who == hostile_name  # shown as typed, as text
    assert what.startswith(f"{hostile_name}'s approval is in the ledger"), what
    assert "Hannah Hill" not in what  # an id inside a name is not named in turn


# --- Mark resolved ---------------------------------------------------------------------------------


def test_marking_one_of_two_problems_resolved_leaves_the_other_listed_and_records_who_and_when(
        slack, hr, fake_slack):
    install_config()
    undelivered(slack, fake_slack, ALICE, view_id="V_ALICE")
    undelivered(slack, fake_slack, DAVE, view_id="V_DAVE")
    alices = DeliveryProblem.objects.get(user=ALICE)
    page = setup_page(hr)
    assert sorted(who for who, _ in who_and_what(page)) == ["Alice Adams", "Dave Diaz"]
    assert 'aria-label="Mark resolved: Alice Adams, ' in page
    assert "marked resolved" not in problems_section(page)

    before = timezone.now()
    response = mark_resolved(hr, alices)

    assert response.status_code == 302
    assert response["Location"] == f"{SETUP}#problems-heading"
    alices.refresh_from_db()
    assert alices.resolved_by == "hannah"
    assert before <= alices.resolved_at <= timezone.now()
    assert DeliveryProblem.objects.get(user=DAVE).resolved_at is None
    page = hr.get(response["Location"]).text
    assert "Marked resolved" in page  # the message after the redirect
    assert [who for who, _ in who_and_what(page)] == ["Dave Diaz"]
    [(_who, what)] = who_and_what(page)
    assert what.startswith("Not delivered:") and what.endswith(ASKED_FOR), what
    assert "1 problem marked resolved" in text_of(problems_section(page))


@pytest.mark.parametrize("who", ["not staff", "signed out"])
def test_only_staff_may_mark_a_problem_resolved(slack, hr, fake_slack, django_user_model, who):
    install_config()
    undelivered(slack, fake_slack, ALICE)
    problem = DeliveryProblem.objects.get()
    browser = Client()
    if who == "not staff":
        browser.force_login(django_user_model.objects.create_user("sam", "sam@example.com", "a-long-test-password"))

    response = mark_resolved(browser, problem)

    if who == "not staff":
        assert response.status_code == 403
    else:
        assert response.status_code == 302 and "login" in response["Location"]
    problem.refresh_from_db()
    assert (problem.resolved_at, problem.resolved_by) == (None, "")
    assert [who for who, _ in who_and_what(setup_page(hr))] == ["Alice Adams"]


def test_a_get_does_not_mark_a_problem_resolved(slack, hr, fake_slack):
    install_config()
    undelivered(slack, fake_slack, ALICE)
    problem = DeliveryProblem.objects.get()

    response = hr.get(resolve_url(problem))  # a link followed, a prefetch: no change

    assert response.status_code == 405
    problem.refresh_from_db()
    assert problem.resolved_at is None
    assert len(who_and_what(setup_page(hr))) == 1


def test_marking_resolved_needs_the_pages_csrf_token(slack, hr, fake_slack, django_user_model):
    install_config()
    undelivered(slack, fake_slack, ALICE)
    problem = DeliveryProblem.objects.get()
    browser = staff_browser(django_user_model, "hugo", csrf=True)

    forged = mark_resolved(browser, problem)  # another site's form, posting with Hugo's session

    assert forged.status_code == 403
    problem.refresh_from_db()
    assert problem.resolved_at is None

    page = setup_page(browser)
    form = re.search(rf'<form method="post" action="{re.escape(resolve_url(problem))}">(.*?)</form>', page, re.S)
    assert form, problems_table(page)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form[1])[1]
    response = browser.post(resolve_url(problem), {"csrfmiddlewaretoken": token})

    assert response.status_code == 302
    problem.refresh_from_db()
    assert problem.resolved_by == "hugo" and problem.resolved_at is not None


def test_marking_a_problem_resolved_twice_keeps_the_first_mark(slack, hr, fake_slack, django_user_model):
    install_config()
    undelivered(slack, fake_slack, ALICE)
    problem = DeliveryProblem.objects.get()
    mark_resolved(hr, problem)
    problem.refresh_from_db()
    first = (problem.resolved_at, problem.resolved_by)

    again = mark_resolved(staff_browser(django_user_model, "hugo"), problem)  # a second tab, a colleague

    assert again.status_code == 302
    problem.refresh_from_db()
    assert (problem.resolved_at, problem.resolved_by) == first


def test_a_problem_that_does_not_exist_is_not_found(hr):
    response = hr.post(reverse("console:setup_problem_resolved", args=[999999]))
    assert response.status_code == 404
    assert not DeliveryProblem.objects.exists()


def test_resolving_some_of_more_than_twenty_brings_older_ones_into_the_list(hr):
    made = problems_made_directly(25)
    page = setup_page(hr)
    assert numbers_listed(page) == list(range(24, 4, -1))  # the 20 newest, newest first

    for problem in made[-3:]:
        assert mark_resolved(hr, problem).status_code == 302

    page = setup_page(hr)
    assert numbers_listed(page) == list(range(21, 1, -1))  # three older ones come up
    assert "3 problems marked resolved" in text_of(problems_section(page))


def test_the_count_and_the_admin_link_appear_only_once_something_is_resolved(slack, hr, fake_slack):
    install_config()
    undelivered(slack, fake_slack, ALICE)
    admin_list = reverse("admin:approvals_deliveryproblem_changelist")
    page = setup_page(hr)
    assert "marked resolved" not in text_of(problems_section(page)).replace("Mark resolved", "")
    assert admin_list not in problems_section(page)

    mark_resolved(hr, DeliveryProblem.objects.get())
    section = problems_section(setup_page(hr))

    assert f'href="{admin_list}"' in section
    assert "1 problem marked resolved (see them in the admin)." in text_of(section)
    assert "No delivery problems left to look at." in text_of(section)
    assert "No delivery problems recorded" not in section


def test_staff_with_console_access_only_can_resolve_and_are_not_sent_to_an_admin_page_they_cannot_open(
        slack, hr, fake_slack, django_user_model):
    # The page shows the button to every staff user, so pressing it works for them; the admin list of
    # resolved problems is linked only for those who may view it there.
    install_config()
    undelivered(slack, fake_slack, ALICE)
    problem = DeliveryProblem.objects.get()
    hugo = staff_browser(django_user_model, "hugo")
    admin_list = reverse("admin:approvals_deliveryproblem_changelist")
    assert hugo.get(admin_list).status_code == 403  # what the link would lead him to
    assert 'aria-label="Mark resolved: Alice Adams, ' in setup_page(hugo)

    response = mark_resolved(hugo, problem)

    assert response.status_code == 302
    problem.refresh_from_db()
    assert problem.resolved_by == "hugo"
    section = problems_section(setup_page(hugo))
    assert admin_list not in section
    assert "1 problem marked resolved (kept in the admin)." in text_of(section)


def test_staff_who_may_view_problems_in_the_admin_get_the_link_and_it_opens(slack, hr, fake_slack,
                                                                           django_user_model):
    install_config()
    undelivered(slack, fake_slack, ALICE)
    mark_resolved(hr, DeliveryProblem.objects.get())
    viewer = staff_browser(django_user_model, "vera", "approvals.view_deliveryproblem")
    admin_list = reverse("admin:approvals_deliveryproblem_changelist")

    section = problems_section(setup_page(viewer))

    assert f'href="{admin_list}"' in section
    listed = viewer.get(admin_list)
    assert listed.status_code == 200
    assert "hannah" in text_of(listed.text)


def test_the_admin_keeps_resolved_problems_with_who_and_when_and_filters_by_them(slack, hr, fake_slack):
    install_config()
    undelivered(slack, fake_slack, ALICE, view_id="V_ALICE")
    undelivered(slack, fake_slack, DAVE, view_id="V_DAVE")
    mark_resolved(hr, DeliveryProblem.objects.get(user=ALICE))
    admin_list = reverse("admin:approvals_deliveryproblem_changelist")

    everything = hr.get(admin_list)
    assert everything.status_code == 200
    headers = text_of(everything.text[everything.text.index('id="result_list"'):])
    assert "Resolved at" in headers and "Resolved by" in headers
    rows = re.findall(r'<tr>(?:(?!</tr>).)*?(?:U_ALICE|U_DAVE).*?</tr>', everything.text, flags=re.S)
    assert len(rows) == 2
    [alice_row] = [text_of(row) for row in rows if ALICE in row]
    assert "hannah" in alice_row

    resolved = hr.get(admin_list, {"resolved_at__isempty": "0"})
    unresolved = hr.get(admin_list, {"resolved_at__isempty": "1"})

    assert resolved.status_code == unresolved.status_code == 200
    resolved_list = resolved.text[resolved.text.index('id="result_list"'):]
    unresolved_list = unresolved.text[unresolved.text.index('id="result_list"'):]
    assert ALICE in resolved_list and DAVE not in resolved_list
    assert DAVE in unresolved_list and ALICE not in unresolved_list
    assert "resolved at" in text_of(everything.text).casefold()  # the filter is offered by name


def test_a_page_with_no_problems_says_none_were_recorded(hr):
    section = text_of(problems_section(setup_page(hr)))

    assert "No delivery problems recorded." in section
    assert "marked resolved" not in section
    assert not problem_cells(setup_page(hr))


# --- The metric --------------------------------------------------------------------------------


def test_the_metric_counts_a_problem_once_and_not_again_when_it_is_resolved(slack, hr, fake_slack, settings):
    settings.METRICS_TOKEN = METRICS_TOKEN
    install_config()
    before = scrape(slack)
    undelivered(slack, fake_slack, ALICE)
    problem = DeliveryProblem.objects.get()
    made = scrape(slack)
    assert counted(made, "timeoff_delivery_problems_total", error=problem.error) - counted(
        before, "timeoff_delivery_problems_total", error=problem.error) == 1

    mark_resolved(hr, problem)
    mark_resolved(hr, problem)  # and pressed again from a stale tab
    setup_page(hr)
    after = scrape(slack)

    assert counted(after, "timeoff_delivery_problems_total") == counted(made, "timeoff_delivery_problems_total")
    problem.refresh_from_db()
    assert problem.resolved_at is not None
