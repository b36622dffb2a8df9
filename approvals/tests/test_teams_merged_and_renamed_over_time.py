"""A company reorganises over a year, and its leave history follows its teams.

Acme starts with Engineering (#engineering: Alice, Bob, Dave; Bob approves) and Sales (Carol; Sam Stone
approves, in #sales-approvals). Over the year HR, in the console (Django's test client, signed in as
staff), merges Sales into Engineering (deleting Sales and choosing the team its people join), moves Carol
into Engineering by its members, renames Engineering, moves its approvals channel, and round-trips the
configuration through `export_config` / `import_config`. Leave is asked for and decided through signed
Slack requests, against the fake Slack.

Afterwards we look where people look: Who's out and Balances (and its CSV) in the console, the weekly
digest and "out today" posts (`run_jobs --at`), the `max_out` refusal at submission and at approval,
`/timeoff balance`, the nightly export, and who may decide the merged team's pending requests. Then the
input HR gets wrong: a merge into the team itself or into a team deleted meanwhile, a file whose
`past_names` name another team's current name, a rename to another team's earlier name.
"""

import csv
import io
import json
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from approvals import block_ids as ids
from approvals import ledger_reader, slack_directory
from approvals.config_store import current_config, invalidate_config
from approvals.config_types import ApproverSource, MemberSource, TeamConfig
from approvals.models import Team, WorkspacePolicy
from approvals.rules import LedgerEntry
from approvals.slack_clients import background_client
from fake_slack.ledger_seed import seed_ledger
from fake_slack.personas import C_ENG, C_ENG_APPROVALS, C_GENERAL, CAROL, HR
from test_support.console_pages import errors_of, form_as_opened, page_text
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    ENGINEERING,
    click,
    dms_to,
    ephemerals_to,
    install_config,
    metadata_payload,
    open_request_form,
    request_values,
    standard_config,
    submit_request,
)
from test_support.job_runs import posts_in, run_jobs
from test_support.slack_requests import post_command

pytestmark = pytest.mark.django_db

LA = ZoneInfo("America/Los_Angeles")
SAM = "U_SAM"  # approves for Sales
PAT = "U_PAT"  # in Support
C_SALES = "C_SALES"
C_SALES_APPROVALS = "C_SALES_APPROVALS"
C_SUPPORT_APPROVALS = "C_SUPPORT_APPROVALS"
C_ENG_APPROVALS_NEW = "C_ENG_APPROVALS_2031"

# March 2031: far enough ahead never to be in the past. Monday 10 – Friday 14.
MON, TUE, WED, THU, FRI = (date(2031, 3, d) for d in range(10, 15))
APRIL_MON, APRIL_TUE = date(2031, 4, 7), date(2031, 4, 8)
# Who's out shows the coming weeks from the team's today.
_today = timezone.localdate()
SOON = _today + timedelta(days=7 - _today.weekday())  # next Monday

PASSWORD = "a-long-test-password"

# No public holidays: the dates above stay working days whatever the calendar.
ENG = replace(ENGINEERING, holiday_country=None, holiday_subdivision=None, digest_time=time(9, 0))
SALES = TeamConfig(name="Sales", members=MemberSource(users=(CAROL,)), approvers=ApproverSource(users=(SAM,)),
                   approvals_channel=C_SALES_APPROVALS, announce_channel=C_SALES, timezone="America/Los_Angeles",
                   digest_time=time(9, 0))
SUPPORT = TeamConfig(name="Support", members=MemberSource(users=(PAT,)), approvers=ApproverSource(users=(HR,)),
                     approvals_channel=C_SUPPORT_APPROVALS, timezone="America/Los_Angeles")


# --- The company ----------------------------------------------------------------------------------------


@pytest.fixture
def acme(fake_slack):
    """Sam, Pat and the Sales and Support channels in Slack; Engineering and Sales configured."""
    workspace = fake_slack.workspace
    workspace.add_user(SAM, "sam", tz="America/Los_Angeles", email="sam@example.com", real_name="Sam Stone")
    workspace.add_user(PAT, "pat", tz="America/Los_Angeles", email="pat@example.com", real_name="Pat Park")
    workspace.add_channel(C_SALES, "sales", members=[CAROL, SAM])
    workspace.add_channel(C_SALES_APPROVALS, "sales-approvals", members=[SAM, HR], private=True)
    workspace.add_channel(C_SUPPORT_APPROVALS, "support-approvals", members=[HR], private=True)
    workspace.add_channel(C_ENG_APPROVALS_NEW, "eng-approvals-2031", members=[BOB, DAVE, HR], private=True)
    invalidate_config()
    install_config(company())
    slack_directory.directory_refresh(background_client())
    return fake_slack


def company(*teams: TeamConfig, **changes):
    return standard_config(teams=teams or (ENG, SALES), **changes)


@pytest.fixture
def hr(django_user_model, acme):
    """Hannah from HR in her browser, a superuser; a server error comes back as the page she would see."""
    return signed_in(django_user_model, "hannah", "Hannah", "Hill")


def signed_in(django_user_model, username: str, first: str, last: str) -> Client:
    user = django_user_model.objects.create_superuser(username, f"{username}@example.com", PASSWORD,
                                                      first_name=first, last_name=last)
    browser = Client(raise_request_exception=False)
    browser.force_login(user)
    return browser


def team_id(name: str) -> int:
    return Team.objects.get(name=name).pk


# --- What HR does in the console -------------------------------------------------------------------------


def merge(hr, gone: str, into: str):
    """Delete `gone` on its delete page, answering that its people join `into`."""
    url = reverse("console:team_delete", args=[team_id(gone)])
    page = hr.get(url)
    assert page.status_code == 200
    assert f'<option value="{team_id(into)}">{into}</option>' in page.text
    response = hr.post(url, {"merge_into": str(team_id(into))}, follow=True)
    assert response.status_code == 200, page_text(response)[:2000]
    return response


def edit_team(hr, team_name: str, **changes):
    """The team's form, sent as it opened with `changes` typed over it; returns the answer."""
    url = reverse("console:team_edit", args=[team_id(team_name)])
    form = hr.get(url).context["form"]
    data = form_as_opened(form)
    data.update(changes)
    return hr.post(url, data)


def saved(response) -> None:
    assert response.status_code == 302, page_text(response)[:3000]


def carol_joins_engineering(hr, name: str = "Engineering") -> None:
    saved(edit_team(hr, name, members_users="carol@example.com"))


def merge_sales_into_engineering(hr) -> None:
    response = merge(hr, "Sales", "Engineering")
    assert "Sales deleted; its leave now counts as Engineering's." in page_text(response)
    carol_joins_engineering(hr)


# --- What happens in Slack ---------------------------------------------------------------------------------


def ask(client, fake_slack, user, start, end, *, view_id, leave_type="vacation"):
    """`/timeoff`, the form filled in and sent; returns the request's post, or the form's errors."""
    view = open_request_form(client, fake_slack, user)
    response = submit_request(client, user, view, request_values(leave_type, start, end), view_id=view_id,
                              view_hash=f"h-{view_id}")
    assert response.status_code == 200, response.content
    if response.content:
        return response.json()
    return requests_posted(fake_slack)[-1]


def requests_posted(fake_slack) -> list:
    def event_type(metadata):
        metadata = json.loads(metadata) if isinstance(metadata, str) else metadata
        return metadata.get("event_type") if isinstance(metadata, dict) else None

    return [call for call in fake_slack.calls("chat.postMessage") if call.response.get("ok")
            and event_type(call.params.get("metadata")) == "timeoff_request"]


def status_of(fake_slack, posted) -> str:
    channel, ts = posted.response["channel"], posted.response["ts"]
    [message] = [m for m in fake_slack.workspace.messages(channel) if m.ts == ts]
    return message.metadata["event_payload"]["status"]


def told(fake_slack, user) -> str:
    return "\n".join(ephemerals_to(fake_slack, user) + dms_to(fake_slack, user))


def carol_in_sales_with_leave(client, fake_slack):
    """Carol (Sales) asks for Mon 10 – Wed 12 March, which Sam approves, and Mon 7 – Tue 8 April, waiting."""
    march = ask(client, fake_slack, CAROL, MON, WED, view_id="V_C1")
    april = ask(client, fake_slack, CAROL, APRIL_MON, APRIL_TUE, view_id="V_C2")
    assert march.params["channel"] == C_SALES_APPROVALS and metadata_payload(march)["team"] == "Sales"
    click(client, fake_slack, SAM, ids.APPROVE_ACTION, march)
    assert (status_of(fake_slack, march), status_of(fake_slack, april)) == ("approved", "pending")
    return march, april


def warm_ledger() -> None:
    ledger_reader.current_ledger(background_client(), current_config())


def answered(client, text: str, user) -> str:
    """`/timeoff <text>` answered from a warm cache (asked twice: the first warms it)."""
    post_command(client, text, user_id=user)
    response = post_command(client, text, user_id=user)
    assert response.status_code == 200, response.content
    body = response.json()
    return body.get("text", "") + json.dumps(body.get("blocks", []), ensure_ascii=False)


def line_of(text: str, word: str) -> str:
    [line] = [line for line in text.splitlines() if word in line]
    return line


def csv_rows(response) -> list[dict]:
    assert response.status_code == 200, response.content[:500]
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def entry(entry_id: str, user: str, team: str, start: date, end: date, status: str = "approved") -> LedgerEntry:
    return LedgerEntry(id=entry_id, user=user, team=team, leave_type="vacation", start=start, end=end,
                       start_half=None, end_half=None, days=Decimal(sum(
                           1 for n in range((end - start).days + 1) if (start + timedelta(days=n)).weekday() < 5)),
                       status=status, decided_by=None if status == "pending" else BOB)


def whos_out(hr, **params):
    return hr.get(reverse("console:whos_out"), {"weeks": "2", **params})


def waiting_and_weeks(text: str) -> tuple[str, str]:
    waiting, weeks = text.split('id="waiting"')[1].split("</section>", 1)
    return waiting, weeks


def calendar_of(page: str, team: str) -> str:
    """The part of Who's out under one team's heading."""
    start = page.index(f">{team}</h2>")
    end = page.find("</h2>", start + len(team) + 6)
    return page[start:end if end != -1 else len(page)]


# --- A merge, seen in the console ------------------------------------------------------------------------


def test_after_sales_merges_into_engineering_whos_out_shows_carols_leave_under_engineering(hr, acme):
    seed_ledger(acme.workspace, channel=C_SALES_APPROVALS, entries=[
        entry("carol-soon", CAROL, "Sales", SOON + timedelta(days=1), SOON + timedelta(days=2)),
        entry("carol-waiting", CAROL, "Sales", SOON + timedelta(days=3), SOON + timedelta(days=3), "pending")])
    warm_ledger()
    before = whos_out(hr).text
    assert ">Sales</h2>" in before and "Carol Chen" in calendar_of(before, "Sales")

    merge_sales_into_engineering(hr)

    page = whos_out(hr).text
    assert ">Sales</h2>" not in page
    engineering = calendar_of(page, "Engineering")
    assert engineering.count("Carol Chen") == 1, engineering
    waiting, _ = waiting_and_weeks(page)
    assert waiting.count("Carol Chen") == 1
    # A bookmark from before the merge shows the team that took Sales's leave, and says so.
    old_link = page_text(whos_out(hr, team="Sales"))
    assert "Engineering was called Sales before: showing Engineering." in old_link
    assert "Carol Chen" in old_link


def test_the_merged_teams_pending_request_is_decided_by_the_kept_teams_approver_not_by_the_old_one(
        client, hr, acme):
    _, april = carol_in_sales_with_leave(client, acme)
    merge_sales_into_engineering(hr)
    acme.clear_calls()

    click(client, acme, SAM, ids.APPROVE_ACTION, april)  # Sales's approver, whose team is gone
    assert status_of(acme, april) == "pending"
    assert told(acme, SAM), "Sam's click changed nothing and nobody told him why"
    assert not [text for text in dms_to(acme, CAROL) if "approved" in text.lower()]

    click(client, acme, BOB, ids.APPROVE_ACTION, april)  # Engineering's approver
    assert status_of(acme, april) == "approved", told(acme, BOB)
    assert any("approved" in text.lower() for text in dms_to(acme, CAROL))
    # Who will be out is heard in Engineering's channel now; Sales's channel hears nothing more.
    assert any(f"<@{CAROL}>" in post["text"] for post in posts_in(acme, C_ENG))
    assert posts_in(acme, C_SALES) == []


def test_an_approver_of_the_merged_team_may_not_decide_the_kept_teams_requests(client, hr, acme):
    alice = ask(client, acme, ALICE, APRIL_MON, APRIL_MON, view_id="V_A1")
    merge_sales_into_engineering(hr)

    click(client, acme, SAM, ids.APPROVE_ACTION, alice)

    assert status_of(acme, alice) == "pending"


def test_max_out_at_submission_counts_leave_merged_in_even_after_the_kept_team_is_renamed(client, hr, acme):
    Team.objects.filter(name="Engineering").update(max_out=1)
    invalidate_config()
    carol_in_sales_with_leave(client, acme)  # Mon 10 – Wed 12 March, approved
    merge_sales_into_engineering(hr)
    saved(edit_team(hr, "Engineering", name="Product"))
    assert Team.objects.get(name="Product").past_names == ["Sales", "Engineering"]

    refused = ask(client, acme, ALICE, WED, WED, view_id="V_A_WED")

    assert refused.get("response_action") == "errors", refused
    assert "full for Product" in json.dumps(refused["errors"]), refused
    accepted = ask(client, acme, ALICE, THU, THU, view_id="V_A_THU")
    assert metadata_payload(accepted)["team"] == "Product"


def test_max_out_at_approval_counts_leave_merged_in(client, hr, acme):
    # Alice asks for Wed 12 March while Sales and Engineering are apart: Carol's leave is not Engineering's.
    Team.objects.filter(name="Engineering").update(max_out=1)
    invalidate_config()
    carol_in_sales_with_leave(client, acme)
    alice = ask(client, acme, ALICE, WED, WED, view_id="V_A_WED")
    assert metadata_payload(alice)["team"] == "Engineering"

    merge_sales_into_engineering(hr)
    acme.clear_calls()
    click(client, acme, BOB, ids.APPROVE_ACTION, alice)

    assert status_of(acme, alice) == "pending"
    assert "full for Engineering" in told(acme, BOB), told(acme, BOB)


def test_the_digest_and_out_today_of_the_kept_team_name_the_merged_teams_people(client, hr, acme, settings, tmp_path):
    settings.LEDGER_EXPORT_DIR = tmp_path
    carol_in_sales_with_leave(client, acme)
    merge_sales_into_engineering(hr)
    saved(edit_team(hr, "Engineering", name="Product"))
    acme.clear_calls()

    ran = run_jobs(datetime(2031, 3, 10, 9, 0, tzinfo=LA), "--team", "Product")
    assert "weekly_digest Product 2031-W11: 1 out" in ran, ran
    ran = run_jobs(datetime(2031, 3, 11, 9, 0, tzinfo=LA), "--team", "Product")
    assert "out_today Product 2031-03-11: 1 out" in ran, ran

    posts = posts_in(acme, C_ENG)
    assert len(posts) == 2 and all(f"<@{CAROL}>" in json.dumps(post.get("blocks")) + post["text"] for post in posts)
    assert posts_in(acme, C_SALES) == []
    # The clock's tick for every team runs nothing more for Sales, which is gone.
    assert "Sales" not in run_jobs(datetime(2031, 3, 11, 9, 5, tzinfo=LA))


def test_balances_of_someone_whose_team_was_merged_count_all_their_leave(client, hr, acme):
    _, april = carol_in_sales_with_leave(client, acme)  # 3 days taken, 2 waiting
    merge_sales_into_engineering(hr)

    balance = line_of(answered(client, "balance 2031", CAROL), "Vacation")
    assert "taken 3, pending 2" in balance, balance

    page = hr.get(reverse("console:balances"), {"team": "Engineering", "year": 2031})
    assert "Carol Chen" in page_text(page)
    rows = csv_rows(hr.get(reverse("console:balances"), {"team": "Engineering", "year": 2031, "download": "1"}))
    [carol] = [row for row in rows if row["user_id"] == CAROL and row["leave_type"] == "vacation"]
    assert (carol["team"], carol["taken"], carol["pending"], carol["left"]) == ("Engineering", "3", "2", "20")
    old_link = page_text(hr.get(reverse("console:balances"), {"team": "Sales", "year": 2031}))
    assert "Engineering was called Sales before" in old_link and "Carol Chen" in old_link


def test_the_nightly_export_and_the_ledger_csv_name_merged_requests_by_the_team_now(client, hr, acme, settings,
                                                                                   tmp_path):
    settings.LEDGER_EXPORT_DIR = tmp_path
    march, april = carol_in_sales_with_leave(client, acme)
    merge_sales_into_engineering(hr)
    saved(edit_team(hr, "Engineering", name="Product"))

    run_jobs(datetime(2031, 3, 11, 2, 0, tzinfo=ZoneInfo("UTC")))

    with (tmp_path / "ledger-2031-03-11.csv").open(newline="", encoding="utf-8-sig") as stream:
        nightly = list(csv.DictReader(stream))
    carols = {row["id"]: row for row in nightly if row["user"] == CAROL}
    assert {row["team"] for row in carols.values()} == {"Product"}, carols
    assert {row["channel"] for row in carols.values()} == {C_SALES_APPROVALS}
    assert len(carols) == 2
    console = csv_rows(hr.get(reverse("console:ledger_export"), {"year": 2031, "download": "1"}))
    assert {row["team"] for row in console if row["user"] == CAROL} == {"Product"}


# --- Moving the approvals channel, renaming, and the configuration file -----------------------------------


def test_a_new_approvals_channel_keeps_the_old_ones_requests_decidable_and_counted(client, hr, acme):
    waiting = ask(client, acme, ALICE, MON, TUE, view_id="V_A1")
    approved = ask(client, acme, ALICE, THU, THU, view_id="V_A2")
    click(client, acme, BOB, ids.APPROVE_ACTION, approved)

    saved(edit_team(hr, "Engineering", approvals_channel="#eng-approvals-2031"))
    page = page_text(hr.get(reverse("console:team_edit", args=[team_id("Engineering")])))
    assert "Earlier approvals channels, still read for balances and history: #eng-approvals." in page

    newer = ask(client, acme, ALICE, APRIL_MON, APRIL_MON, view_id="V_A3")
    assert newer.params["channel"] == C_ENG_APPROVALS_NEW
    click(client, acme, BOB, ids.APPROVE_ACTION, waiting)  # in the old channel
    assert status_of(acme, waiting) == "approved"
    balance = line_of(answered(client, "balance 2031", ALICE), "Vacation")
    assert "taken 3, pending 1" in balance, balance
    assert json.loads(export())["teams"][0]["past_approvals_channels"] == [C_ENG_APPROVALS]


def export() -> str:
    out = io.StringIO()
    call_command("export_config", stdout=out)
    return out.getvalue()


def import_file(path, *args) -> str:
    out = io.StringIO()
    call_command("import_config", str(path), *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def refused_import(path) -> str:
    err = io.StringIO()
    with pytest.raises(CommandError, match="the configuration was not changed"):
        call_command("import_config", str(path), "--no-input", stdout=io.StringIO(), stderr=err)
    return err.getvalue()


def a_year_of_changes(client, hr, acme):
    """Sales merged into Engineering, Engineering renamed Product, then moved to a new approvals channel.
    Carol's April request (sent as Sales's) still waits."""
    _, april = carol_in_sales_with_leave(client, acme)
    merge_sales_into_engineering(hr)
    saved(edit_team(hr, "Engineering", name="Product"))
    saved(edit_team(hr, "Product", approvals_channel="#eng-approvals-2031"))
    return april


def test_export_then_import_into_an_empty_install_keeps_every_earlier_name_and_channel(client, hr, acme, tmp_path):
    april = a_year_of_changes(client, hr, acme)
    exported = export()
    product = json.loads(exported)["teams"][0]
    assert product["name"] == "Product"
    assert product["past_names"] == ["Sales", "Engineering"]
    assert product["past_approvals_channels"] == [C_ENG_APPROVALS]
    assert C_SALES_APPROVALS in json.loads(exported)["past_approvals_channels"]

    # A new install: the rows are gone, the file is all there is.
    Team.objects.all().delete()
    WorkspacePolicy.objects.all().delete()
    path = tmp_path / "acme.json"
    path.write_text(exported)
    import_file(path, "--no-input")

    assert json.loads(export()) == json.loads(exported)
    assert Team.objects.get(name="Product").past_names == ["Sales", "Engineering"]
    # Carol's request sent as Sales's is Product's approvers' to decide, and counts in her balance.
    acme.clear_calls()
    click(client, acme, SAM, ids.APPROVE_ACTION, april)
    assert status_of(acme, april) == "pending"
    click(client, acme, BOB, ids.APPROVE_ACTION, april)
    assert status_of(acme, april) == "approved", told(acme, BOB)
    assert "taken 5, pending 0" in line_of(answered(client, "balance 2031", CAROL), "Vacation")


def test_importing_the_same_export_again_changes_nothing(client, hr, acme, tmp_path):
    a_year_of_changes(client, hr, acme)
    exported = export()
    path = tmp_path / "acme.json"
    path.write_text(exported)

    out = import_file(path, "--no-input")

    assert "no changes" in out.lower(), out
    assert json.loads(export()) == json.loads(exported)


def test_an_export_edited_to_keep_a_merge_makes_the_same_team_with_its_history(client, hr, acme, tmp_path):
    # Sales merged by file instead: Sales removed, Carol added, Sales kept among Engineering's earlier names.
    _, april = carol_in_sales_with_leave(client, acme)
    data = json.loads(export())
    data["teams"] = [team for team in data["teams"] if team["name"] != "Sales"]
    data["teams"][0]["members"]["users"] = [CAROL]
    data["teams"][0]["past_names"] = ["Sales"]
    path = tmp_path / "merged.json"
    path.write_text(json.dumps(data))

    out = import_file(path, "--no-input", "--replace")

    assert "- team Sales" in out, out
    assert C_SALES_APPROVALS in json.loads(export())["past_approvals_channels"]
    click(client, acme, BOB, ids.APPROVE_ACTION, april)
    assert status_of(acme, april) == "approved", told(acme, BOB)


# --- Input HR gets wrong --------------------------------------------------------------------------------------


def test_merging_a_team_into_itself_deletes_nothing(hr, acme):
    sales = team_id("Sales")
    page = hr.get(reverse("console:team_delete", args=[sales])).text
    assert f'<option value="{sales}">' not in page  # not offered

    response = hr.post(reverse("console:team_delete", args=[sales]), {"merge_into": str(sales)}, follow=True)

    assert response.status_code == 200
    assert "deleted" not in page_text(response)
    assert "A team cannot take over its own leave; choose another team, or none." in page_text(response)
    assert Team.objects.filter(pk=sales).exists()
    assert Team.objects.get(name="Engineering").past_names == []


def test_deleting_a_team_whose_name_another_team_had_before_says_whose_leave_it_becomes(hr, acme):
    # Support was called Ops once; HR made a new Ops team since. Deleted without a merge, the requests
    # recorded under "Ops" become Support's again (the first team that had the name), and the page says so.
    install_config(company(ENG, replace(SUPPORT, past_names=("Ops",)), replace(SALES, name="Ops")))

    page = page_text(hr.get(reverse("console:team_delete", args=[team_id("Ops")])))

    assert "they count as Support's, which was called Ops before" in page, page
    assert "HR's (the fallback approvers') to decide" not in page


def test_merging_into_a_team_a_colleague_deleted_meanwhile_deletes_nothing(hr, acme, django_user_model):
    harry = signed_in(django_user_model, "harry", "Harry", "Hart")
    install_config(company(ENG, SALES, SUPPORT))
    sales, engineering = team_id("Sales"), team_id("Engineering")
    url = reverse("console:team_delete", args=[sales])
    assert f'<option value="{engineering}">Engineering</option>' in hr.get(url).text  # Hannah's page

    assert harry.post(reverse("console:team_delete", args=[engineering]), {"merge_into": ""}).status_code == 302
    response = hr.post(url, {"merge_into": str(engineering)}, follow=True)

    assert "The team chosen to take over its leave no longer exists; choose again." in page_text(response)
    assert Team.objects.filter(pk=sales).exists()
    assert Team.objects.get(name="Support").past_names == []
    again = hr.get(url).text
    assert f'value="{engineering}"' not in again and f'<option value="{team_id("Support")}">Support</option>' in again


def test_renaming_a_team_to_a_name_merged_into_another_team_is_refused(hr, acme):
    install_config(company(ENG, SALES, SUPPORT))
    merge(hr, "Sales", "Engineering")

    response = edit_team(hr, "Support", name="Sales")

    assert response.status_code == 200
    assert errors_of(response, "name") == [
        "Engineering used to be called Sales, and the requests in Slack recorded under Sales are its leave: this "
        "team, renamed Sales, would take them. Give it a name no other team had."]
    assert sorted(Team.objects.values_list("name", flat=True)) == ["Engineering", "Support"]


def test_a_file_renaming_a_team_to_a_name_merged_into_another_team_is_refused(hr, acme, tmp_path):
    install_config(company(ENG, SALES, SUPPORT))
    merge(hr, "Sales", "Engineering")
    data = json.loads(export())
    support = next(team for team in data["teams"] if team["name"] == "Support")
    support["name"], support["past_names"] = "Sales", ["Support"]
    path = tmp_path / "renamed.json"
    path.write_text(json.dumps(data))

    err = refused_import(path)

    assert "renames 'Support'; 'Engineering' (teams[0]) used to be called 'Sales'" in err, err
    assert sorted(Team.objects.values_list("name", flat=True)) == ["Engineering", "Support"]


def test_a_file_listing_another_teams_current_name_among_past_names_leaves_that_teams_leave_alone(
        client, hr, acme, tmp_path):
    # The README allows it (a name in use wins): Sales's requests stay Sales's.
    seed_ledger(acme.workspace, channel=C_SALES_APPROVALS,
                entries=[entry("carol-soon", CAROL, "Sales", SOON + timedelta(days=1), SOON + timedelta(days=1))])
    Team.objects.filter(name="Engineering").update(max_out=1)
    invalidate_config()
    carol_in_sales_with_leave(client, acme)
    data = json.loads(export())
    data["teams"][0]["past_names"] = ["Sales"]
    path = tmp_path / "collide.json"
    path.write_text(json.dumps(data))

    out = import_file(path, "--no-input")

    assert "~ team Engineering: past_names" in out, out
    accepted = ask(client, acme, ALICE, WED, WED, view_id="V_A_WED")  # Carol's leave is not Engineering's
    assert metadata_payload(accepted)["team"] == "Engineering"
    page = whos_out(hr).text
    assert "Carol Chen" in calendar_of(page, "Sales") and "Carol Chen" not in calendar_of(page, "Engineering")


def test_teams_that_merge_and_reuse_names_over_a_year_still_export_a_file_that_imports(hr, acme, tmp_path):
    # Core is folded into Sales; a new Core team starts; Mobile is folded into it; a new Mobile team starts
    # and later Sales is folded into it. Every step is one the console offers.
    install_config(company(ENG, SALES, replace(SUPPORT, name="Core"),
                           replace(SUPPORT, name="Mobile", members=MemberSource(users=(DAVE,)),
                                   approvals_channel=C_GENERAL)))
    merge(hr, "Core", "Sales")
    saved(hr.post(reverse("console:team_add"), new_team_form("Core")))
    merge(hr, "Mobile", "Core")
    saved(hr.post(reverse("console:team_add"), new_team_form("Mobile")))
    merge(hr, "Sales", "Mobile")

    exported = export()
    path = tmp_path / "acme.json"
    path.write_text(exported)
    out = import_file(path, "--no-input")  # the file HR keeps in version control must import again

    assert "no changes" in out.lower(), out


def new_team_form(name: str) -> dict:
    return {"name": name, "approvers_users": "hannah@example.com", "approvals_channel": "#support-approvals",
            "workweek": ["0", "1", "2", "3", "4"], "timezone": "America/Los_Angeles"}


def test_a_merged_team_whose_name_another_team_had_before_still_gives_its_leave_to_the_team_chosen(hr, acme):
    # Support (first in matching order) used to be called Ops; later HR started a new Ops team (the console
    # warns that the requests recorded under Ops are now the new team's); then Ops is merged into Engineering.
    install_config(company(replace(SUPPORT, past_names=("Ops",)), ENG, SALES))
    saved(hr.post(reverse("console:team_add"), {**new_team_form("Ops"), "members_users": "carol@example.com"}))
    seed_ledger(acme.workspace, channel=C_SUPPORT_APPROVALS, entries=[
        entry("new-ops-soon", CAROL, "Ops", SOON + timedelta(days=1), SOON + timedelta(days=1))])
    warm_ledger()
    assert "Carol Chen" in calendar_of(whos_out(hr).text, "Ops")

    response = merge(hr, "Ops", "Engineering")
    assert "Ops deleted; its leave now counts as Engineering's." in page_text(response)

    page = whos_out(hr).text
    assert "Carol Chen" in calendar_of(page, "Engineering"), "the merged team's leave is not Engineering's"
    assert "Carol Chen" not in calendar_of(page, "Support")


# --- Someone moved between teams by membership ------------------------------------------------------------


def test_someone_moved_to_another_team_asks_as_its_member_and_their_earlier_request_stays_with_the_old_team(
        client, hr, acme):
    install_config(company(ENG, SALES, SUPPORT))
    earlier = ask(client, acme, DAVE, APRIL_MON, APRIL_MON, view_id="V_D1")
    assert metadata_payload(earlier)["team"] == "Engineering"

    # Dave joins Support: named among its members, and Support moved above Engineering (he is in #engineering).
    saved(edit_team(hr, "Support", members_users="pat@example.com, dave@example.com"))
    for _ in range(2):
        order = ",".join(str(pk) for pk in Team.objects.order_by("position", "name").values_list("pk", flat=True))
        assert hr.post(reverse("console:team_reorder", args=[team_id("Support")]),
                       {"direction": "up", "order": order}).status_code == 302
    assert [t.name for t in current_config().teams][0] == "Support"

    later = ask(client, acme, DAVE, THU, THU, view_id="V_D2")
    assert later.params["channel"] == C_SUPPORT_APPROVALS and metadata_payload(later)["team"] == "Support"
    click(client, acme, HR, ids.APPROVE_ACTION, later)  # Support's approver
    assert status_of(acme, later) == "approved"
    click(client, acme, BOB, ids.APPROVE_ACTION, earlier)  # the request recorded as Engineering's
    assert status_of(acme, earlier) == "approved", told(acme, BOB)
    balance = line_of(answered(client, "balance 2031", DAVE), "Vacation")
    assert "taken 2, pending 0" in balance, balance
