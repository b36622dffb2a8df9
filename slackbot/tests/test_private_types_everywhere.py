"""Private leave types and requesters' notes, followed through every place the app writes about a request.

DESIGN §5: "Private leave types never show their type or note outside the
approvals channel and the requester's DM", and "the requester's note is shown
in the approvals message text, never put in metadata". Each test drives the
app as Slack and people do (signed payloads against the fake Slack, the daily
jobs through `run_jobs`, the console as users with different permissions) and
then reads everything that left the app: posts, updates, ephemerals, views,
command answers, pages, files and log lines.
"""

import json
import logging
from dataclasses import replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from approvals import block_ids as ids
from approvals.selectors import local_today
from fake_slack.personas import C_ENG, C_ENG_APPROVALS, C_GENERAL, CAROL
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    ENGINEERING,
    HR,
    MEDICAL,
    SICK,
    VACATION,
    click,
    install_config,
    open_app_home,
    open_request_form,
    posted_requests,
    press,
    request_time_off,
    request_values,
    standard_config,
    submit_request,
)
from test_support.job_runs import run_jobs
from test_support.slack_requests import (
    block_actions_payload,
    post_command,
    post_interaction,
    view_submission_payload,
)

pytestmark = pytest.mark.django_db

NOTE = "chemo session at St Mary's"
PRIVATE_WORDS = ("Medical", "medical", ":hospital:", "Sick leave", ":face_with_thermometer:", NOTE, "chemo")
LA = ZoneInfo("America/Los_Angeles")


def strings_in(thing) -> list[str]:
    """Every string in a payload (text, blocks, a view), parsed first when it is JSON text."""
    if isinstance(thing, str):
        try:
            parsed = json.loads(thing)
        except ValueError:
            return [thing]
        return strings_in(parsed) if isinstance(parsed, (dict, list)) else [thing]
    if isinstance(thing, dict):
        return [s for value in thing.values() for s in strings_in(value)]
    if isinstance(thing, list):
        return [s for value in thing for s in strings_in(value)]
    return []


def leaks(thing, about: str = ALICE) -> list[str]:
    """What of `about`'s private leave a payload gives away: the note anywhere, or a private type's name or
    emoji on a line that names them (someone's own balances name every type, which gives nothing away)."""
    found = []
    for text in strings_in(thing):
        for line in text.split("\n"):
            if NOTE in line or "chemo" in line:
                found.append(line)
            elif f"<@{about}>" in line and any(word in line for word in PRIVATE_WORDS):
                found.append(line)
    return found


def dm_channels(fake_slack, user: str) -> set[str]:
    """The ids a user's DM goes by: their user id (posting to it opens the DM) and the D… id Slack answers."""
    found = {user}
    for call in fake_slack.calls("chat.postMessage"):
        if call.params.get("channel") == user and call.response.get("ok"):
            found.add(call.response["channel"])
    return found


def everything_said_outside(fake_slack, *, allowed_channels: set[str], allowed_people: set[str]) -> list[tuple]:
    """(where, what) of every post, update, ephemeral and App Home outside the approvals channel (or the
    other `allowed_channels`) and the ephemerals and App Home of `allowed_people`."""
    said = []
    for method in ("chat.postMessage", "chat.update"):
        for call in fake_slack.calls(method):
            channel = call.params.get("channel")
            if channel in allowed_channels:
                continue
            said.append((f"{method} {channel}", [call.params.get("text"), call.params.get("blocks"),
                                                 call.params.get("attachments")]))
    for call in fake_slack.calls("chat.postEphemeral"):
        if call.params.get("user") not in allowed_people:
            said.append((f"ephemeral to {call.params.get('user')}", call.params.get("text")))
    for call in fake_slack.calls("views.publish"):
        if call.params.get("user_id") not in allowed_people:
            said.append((f"home of {call.params.get('user_id')}", call.params.get("view")))
    return said


def next_monday(*, working: bool = False):
    """The team's next Monday: inside `/timeoff who`'s window (today and the next 7 days). `working`: the
    first Monday from then that is no US/CA public holiday (a one-day request on it takes a working day,
    and the daily jobs run on it)."""
    import holidays

    today = local_today("America/Los_Angeles")
    monday = today + timedelta(days=7 - today.weekday())
    days_off = holidays.country_holidays("US", subdiv="CA", years=range(monday.year, monday.year + 2))
    while working and monday in days_off:
        monday += timedelta(days=7)
    return monday


@pytest.fixture(autouse=True)
def exports_elsewhere(settings, tmp_path):
    settings.LEDGER_EXPORT_DIR = tmp_path / "exports"
    return settings.LEDGER_EXPORT_DIR


def private_config(**team_changes):
    team = replace(ENGINEERING, digest_time=time(9, 0), nudge_after_hours=1, **team_changes)
    return standard_config(teams=(team,), leave_types=(VACATION, SICK, MEDICAL))


def approve(client, fake_slack, posted):
    response = click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    assert response.status_code == 200, response.content


def preview_for(client, fake_slack, user: str, leave_type: str, start, end) -> str:
    """`user` opens the form and picks dates: the text of the live preview under it."""
    open_request_form(client, fake_slack, user)  # warms their team and time zone
    view = open_request_form(client, fake_slack, user)
    opened = fake_slack.last_call("views.open").response["view"]
    state_view = {**view, "id": opened["id"], "hash": opened["hash"],
                  "state": {"values": request_values(leave_type, start, end)}}
    payload = block_actions_payload(user_id=user, action_id=ids.END_ACTION, value="", block_id=ids.END_BLOCK)
    payload["container"] = {"type": "view", "view_id": opened["id"]}
    payload["view"] = state_view
    payload["actions"][0].update({"type": "datepicker", "selected_date": end.isoformat()})
    assert post_interaction(client, payload).status_code == 200
    updated = fake_slack.last_call("views.update")
    [preview] = [b for b in updated.params["view"]["blocks"] if b.get("block_id") == ids.PREVIEW_BLOCK]
    return json.dumps(preview)


# --- A private request, end to end -------------------------------------------------------------------


def test_a_private_request_and_its_note_stay_in_the_approvals_channel_and_the_requesters_dm(client, fake_slack):
    install_config(private_config())
    monday = next_monday()
    request_time_off(client, fake_slack, ALICE, leave_type="medical", note=NOTE, start=monday,
                     end=monday + timedelta(days=2))
    [posted] = posted_requests(fake_slack)
    assert NOTE in json.dumps(posted.params["blocks"])  # shown to the approvers
    assert NOTE not in json.dumps(posted.params["metadata"])  # never in metadata
    approve(client, fake_slack, posted)

    # Others look: Dave (same team) asks who's out and opens the form for the same days; Carol (no team)
    # asks about Engineering; both open App Home.
    who = post_command(client, "who", user_id=DAVE, channel_id=C_ENG).json()
    other_team = post_command(client, "who Engineering", user_id=CAROL, channel_id=C_GENERAL).json()
    preview = preview_for(client, fake_slack, DAVE, "vacation", monday, monday + timedelta(days=2))
    open_app_home(client, fake_slack, DAVE, "Ev_dave_home")
    open_app_home(client, fake_slack, CAROL, "Ev_carol_home")
    # The daily jobs from the Friday before to the Wednesday: reminder, weekly digest, out-today posts.
    for offset in range(-3, 3):
        day = monday + timedelta(days=offset)
        run_jobs(datetime.combine(day, time(10, 0), tzinfo=LA))

    assert leaks(who) == [] and leaks(other_team) == []
    assert f"<@{ALICE}>" in json.dumps(other_team) and "away" in json.dumps(other_team)
    assert f"<@{ALICE}>" in preview and leaks(preview) == []
    announce = [call.params for call in fake_slack.calls("chat.postMessage") if call.params.get("channel") == C_ENG]
    assert len(announce) >= 3  # the announcement, the weekly digest, an out-today post
    outside = everything_said_outside(
        fake_slack, allowed_channels={C_ENG_APPROVALS} | dm_channels(fake_slack, ALICE), allowed_people={ALICE})
    assert [(where, leaks(text)) for where, text in outside if leaks(text)] == []
    # No metadata anywhere holds the note.
    for call in fake_slack.calls():
        assert NOTE not in json.dumps(call.params.get("metadata") or {}), call.method


# --- Approvers who cannot see the approvals channel ------------------------------------------------


def test_an_approver_outside_the_private_approvals_channel_is_not_shown_a_private_type_on_app_home(
        client, fake_slack):
    # Carol approves for Engineering by name but is not in #eng-approvals, which is private: she cannot
    # read the request there. Her nudge says "away"; App Home, outside the channel too, must say no more.
    install_config(private_config(approvers=replace(ENGINEERING.approvers, users=(BOB, CAROL))))
    monday = next_monday(working=True)
    request_time_off(client, fake_slack, ALICE, leave_type="medical", note=NOTE, start=monday,
                     end=monday + timedelta(days=2))
    assert CAROL not in fake_slack.workspace.channels[C_ENG_APPROVALS].members

    home = open_app_home(client, fake_slack, CAROL, "Ev_carol_waiting")
    run_jobs(datetime.combine(monday, time(10, 0), tzinfo=LA), "--team", "Engineering")  # it has waited: a nudge
    nudges = [call.params["text"] for call in fake_slack.calls("chat.postMessage") if call.params["channel"] == CAROL]

    waiting = [text for text in strings_in(home) if f"<@{ALICE}>" in text]
    assert waiting, "Carol's App Home lists Alice's request for her decision"
    assert nudges and "away" in nudges[0] and leaks(nudges) == []
    assert leaks(home) == [], "App Home names Alice's private leave type to someone outside the approvals channel"


# --- Changes: an edit into a private type, a cancellation ------------------------------------------


def receipt_of(fake_slack, user=ALICE):
    return [c for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == user
            and any(b.get("type") == "actions" for b in c.params.get("blocks") or [])][-1]


def current_blocks(fake_slack, receipt) -> list[dict]:
    updates = [c for c in fake_slack.calls("chat.update") if c.params["channel"] == receipt.response["channel"]
               and c.params["ts"] == receipt.response["ts"]]
    return (updates[-1].params if updates else receipt.params)["blocks"]


def test_a_request_edited_into_private_sick_leave_and_then_cancelled_never_names_it_outside(client, fake_slack):
    install_config(private_config())
    monday = next_monday(working=True)
    request_time_off(client, fake_slack, ALICE, leave_type="vacation", start=monday, end=monday)
    receipt = receipt_of(fake_slack)
    press(client, ALICE, receipt.params["blocks"], ids.EDIT_ACTION, channel=receipt.response["channel"],
          ts=receipt.response["ts"])
    form = fake_slack.last_call("views.open").params["view"]
    response = post_interaction(client, view_submission_payload(
        user_id=ALICE, view=form, values=request_values("sick", monday, monday, note=NOTE), view_id="V_EDIT_SICK"))
    assert response.status_code == 200 and response.content == b"", response.content
    announced = [c.params["text"] for c in fake_slack.calls("chat.postMessage") if c.params["channel"] == C_ENG]
    assert announced and f"<@{ALICE}>" in announced[-1]  # sick leave needs no approval: recorded and announced

    press(client, ALICE, current_blocks(fake_slack, receipt), ids.CANCEL_ACTION,
          channel=receipt.response["channel"], ts=receipt.response["ts"])

    corrections = [c.params["text"] for c in fake_slack.calls("chat.postMessage") if c.params["channel"] == C_ENG]
    assert len(corrections) == 2 and "will not be out" in corrections[-1]
    outside = everything_said_outside(
        fake_slack, allowed_channels={C_ENG_APPROVALS} | dm_channels(fake_slack, ALICE), allowed_people={ALICE})
    assert [(where, leaks(text)) for where, text in outside if leaks(text)] == []
    assert [c.method for c in fake_slack.calls() if NOTE in json.dumps(c.params.get("metadata") or {})] == []


# --- The console, for staff who may not see leave records ------------------------------------------


def staff(django_user_model, username: str, *permissions: str):
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user(username, password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=permissions))
    return user


def test_console_pages_open_to_any_staff_show_private_leave_only_as_away(client, fake_slack, django_user_model):
    from django.test import Client

    install_config(private_config())
    monday = next_monday(working=True)
    request_time_off(client, fake_slack, ALICE, leave_type="medical", note=NOTE, start=monday,
                     end=monday + timedelta(days=2))  # pending
    # HR with the permission to record leave, but not to read everyone's records, records Dave's sick leave.
    recorder = Client()
    recorder.force_login(staff(django_user_model, "rita", "record_leave_for_others"))
    recorded = recorder.post("/console/leave/record", {
        "person": "dave@example.com", "leave_type": "sick", "start": monday.isoformat(), "end": monday.isoformat(),
        "note": NOTE}, follow=True)
    assert recorded.status_code == 200 and "Recorded" in recorded.content.decode()
    assert len(posted_requests(fake_slack)) == 2

    sam = Client()
    sam.force_login(staff(django_user_model, "sam"))
    pages = {}
    for url in ("/console/", "/console/whos-out/", "/console/whos-out/?team=Engineering", "/console/setup/",
                "/console/history/", "/console/search/?q=alice", "/console/search/?q=dave",
                "/console/leave/record", "/console/ledger/", "/console/balances/", "/console/balances/adjust"):
        response = sam.get(url)
        pages[url] = (response.status_code, response.content.decode())

    whos_out = pages["/console/whos-out/"][1]
    assert pages["/console/whos-out/"][0] == 200 and "Alice Adams" in whos_out and "Dave Diaz" in whos_out
    assert "away" in whos_out
    assert [url for url, (_, html) in pages.items() if NOTE in html or "chemo" in html] == []
    assert [url for url, (status, html) in pages.items()
            if "Medical appointment" in html or "Sick leave" in html] == [], "a private type named to staff"
    assert {url: pages[url][0] for url in ("/console/ledger/", "/console/balances/", "/console/leave/record")} == {
        "/console/ledger/": 403, "/console/balances/": 403, "/console/leave/record": 403}
    # What Slack heard of Dave's sick leave outside the approvals channel and his DM: no type, no note.
    outside = everything_said_outside(
        fake_slack, allowed_channels={C_ENG_APPROVALS} | dm_channels(fake_slack, ALICE) | dm_channels(fake_slack, DAVE),
        allowed_people={ALICE, DAVE})
    assert [(where, leaks(text, DAVE)) for where, text in outside if leaks(text, DAVE)] == []


# --- Logs, the nightly export ------------------------------------------------------------------------


def test_no_log_line_or_metric_holds_a_note_or_names_a_private_type(client, fake_slack, caplog, exports_elsewhere,
                                                                    settings):
    settings.METRICS_TOKEN = "metrics-token"
    install_config(private_config())
    monday = next_monday(working=True)
    with caplog.at_level(logging.DEBUG):
        request_time_off(client, fake_slack, ALICE, leave_type="medical", note=NOTE, start=monday,
                         end=monday + timedelta(days=2))
        [posted] = posted_requests(fake_slack)
        response = click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
        assert response.status_code == 200
        thursday = monday + timedelta(days=3)
        submit_request(client, ALICE, open_request_form(client, fake_slack, ALICE),
                       request_values("sick", thursday, thursday, note=NOTE), view_id="V_SICK", view_hash="h2")
        assert len(posted_requests(fake_slack)) == 2
        post_command(client, "list", user_id=ALICE)
        open_app_home(client, fake_slack, BOB, "Ev_bob_home")
        for offset in range(-3, 1):
            run_jobs(datetime.combine(monday + timedelta(days=offset), time(10, 0), tzinfo=LA))

    logged = [(record.name, record.levelname, record.getMessage(), json.dumps(record.__dict__, default=str))
              for record in caplog.records if record.levelno >= logging.INFO]
    assert logged
    assert [line[:3] for line in logged if NOTE in line[3] or "chemo" in line[3]] == []
    assert [line[:3] for line in logged if "Medical appointment" in line[3] or "Sick leave" in line[3]] == []
    metrics = client.get("/metrics", headers={"Authorization": "Bearer metrics-token"})
    assert metrics.status_code == 200 and "timeoff_slack_api_calls_total" in metrics.content.decode()
    assert [line for line in metrics.content.decode().splitlines()
            if "medical" in line.lower() or "sick" in line.lower() or "chemo" in line] == []
    # HR's copy outside Slack names the type (HR needs it) but holds no note: the ledger has none.
    exported = "".join(path.read_text(encoding="utf-8-sig") for path in exports_elsewhere.glob("*.csv"))
    assert "sick" in exported and NOTE not in exported


# --- The admin's task results ------------------------------------------------------------------------


def test_the_task_queue_pages_of_the_admin_do_not_show_a_note_to_staff_who_may_not_see_leave_records(
        client, fake_slack, settings, django_user_model):
    # Someone who watches the task queue (django-tasks-db's admin pages: stuck or failed tasks) is given
    # "Can view DB Task Result", not "Can see everyone's leave records". A delivered request's row stays a
    # day (a failed one 30 days: README, task_worker), holding what Alice typed.
    from django.test import Client
    from django_tasks_db.models import DBTaskResult

    from test_support.task_rows import run_queued_tasks

    settings.TASKS = {"default": {"BACKEND": "approvals.task_backend.DatabaseBackend"}}  # rows, as in production
    install_config(private_config())
    monday = next_monday(working=True)
    view = open_request_form(client, fake_slack, ALICE)
    run_queued_tasks()
    assert submit_request(client, ALICE, view, request_values("medical", monday, monday, note=NOTE)).status_code == 200
    run_queued_tasks()
    assert len(posted_requests(fake_slack)) == 1
    rows = [row for row in DBTaskResult.objects.all() if NOTE in json.dumps(row.args_kwargs)]
    assert rows, "the delivery's row holds the note (it is how the task gets it)"

    ops = Client()
    ops.force_login(staff(django_user_model, "olga", "view_dbtaskresult"))
    pages = [ops.get(f"/admin/django_tasks_database/dbtaskresult/{row.pk}/change/") for row in rows]
    assert [page.status_code for page in pages] == [200] * len(rows)  # the queue is hers to watch
    shown = {f"{row.task_path.rsplit('.', 1)[-1]} ({row.status})": page.content.decode()
             for row, page in zip(rows, pages)}
    assert [row for row, html in shown.items() if "chemo" in html] == [], "the note is shown to the queue's watcher"


# --- Where the approvals channel itself is public ----------------------------------------------------


def test_a_public_approvals_channel_is_flagged_while_leave_types_are_private(client, fake_slack, django_user_model):
    # Private types are shown in full in the approvals channel (DESIGN §5). When HR points a team at a
    # public channel, everyone in the workspace can read (and search) every sick note there, and the
    # console's own words ("Only the approvers and the requester see the type and the note") are untrue.
    # The setup page flags a public approvers channel; a public approvals channel must be flagged too.
    from django.test import Client

    fake_slack.workspace.add_channel("C_PUB_APPROVALS", "eng-approvals-public", members=[BOB, DAVE, HR])
    install_config(private_config(approvals_channel="C_PUB_APPROVALS"))
    monday = next_monday(working=True)
    request_time_off(client, fake_slack, ALICE, leave_type="medical", note=NOTE, start=monday, end=monday)
    [posted] = posted_requests(fake_slack, "C_PUB_APPROVALS")
    assert NOTE in json.dumps(posted.params["blocks"])  # for anyone in the workspace to read

    hr = Client()
    hr.force_login(django_user_model.objects.create_user("hannah", password="pw", is_staff=True))
    page = hr.get("/console/setup/").content.decode()
    table = page[page.index('id="channels"'):]
    table = table[:table.index("</table>")]
    [row] = [row for row in table.split("<tr")[1:] if "#eng-approvals-public" in row]
    assert "approvals channel" in row
    assert "state-bad" in row, "a public approvals channel, with private leave types, is shown as OK"
