import copy, json, time as _t
from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from approvals import block_ids as ids
from approvals.ledger_format import request_metadata, adjustment_metadata
from approvals.rules import LedgerEntry, Adjustment
from fake_slack.personas import C_ENG, C_ENG_APPROVALS
from test_support.flows import ALICE, BOB, DAVE, ENGINEERING, HR, install_config, open_app_home, standard_config, dms_to, ephemerals_to
from test_support.job_runs import run_jobs, posts_in
from test_support.slack_requests import post_command, post_interaction, block_actions_payload
from test_support.request_form import open_form

pytestmark = pytest.mark.django_db
LA = ZoneInfo("America/Los_Angeles")
ENG = replace(ENGINEERING, digest_time=time(9, 0), nudge_after_hours=48)

@pytest.fixture(autouse=True)
def export_dir(settings, tmp_path):
    settings.LEDGER_EXPORT_DIR = tmp_path / "exports"
    return settings.LEDGER_EXPORT_DIR

def payload(**kw):
    base = {"v": 1, "id": "x", "user": ALICE, "team": "Engineering", "type": "vacation", "start": "2031-04-07",
            "end": "2031-04-08", "days": 2, "status": "approved", "decided_by": BOB, "decided_at": 1790000000}
    base.update(kw)
    return {k: v for k, v in base.items() if v is not None}

def put(fake_slack, p, event_type="timeoff_request", text="a request"):
    return fake_slack.workspace.post_message(C_ENG_APPROVALS, text, metadata={"event_type": event_type, "event_payload": p})

ODD = {
 "str_days": payload(id="s", days="2.5"),
 "time_date": payload(id="t", start="2031-04-07T09:00:00"),
 "PM": payload(id="p", start_half="PM"),
 "status": payload(id="st", status="on_hold"),
 "neg": payload(id="n", days=-3),
 "backwards": payload(id="b", start="2031-04-09", end="2031-04-07"),
 "v2": payload(id="v2", v=2, extra={"a": 1}),
}

def test_explore(client, fake_slack, hr_client, export_dir):
    install_config(standard_config(teams=(ENG,)))
    for p in ODD.values():
        put(fake_slack, p)
    put(fake_slack, payload(id="old", start="2030-12-30", end="2031-01-03", days=4))  # older release
    put(fake_slack, payload(id="flt", start="2031-05-05", end="2031-05-07", days=2.5, end_half="am"))
    put(fake_slack, payload(id="century", start="1990-01-01", end="2089-12-29", days=26000))
    put(fake_slack, payload(id="gone-type", type="sabbatical", start="2031-06-02", end="2031-06-03"))
    put(fake_slack, payload(id="gone-type-p", type="sabbatical", start="2031-06-09", end="2031-06-10", status="pending", decided_by=None, decided_at=None))
    put(fake_slack, payload(id="left", user="U_LEFT", start="2031-03-10", end="2031-03-11"))
    put(fake_slack, payload(id="left-p", user="U_LEFT", start="2031-03-17", end="2031-03-18", status="pending", decided_by=None, decided_at=None))
    put(fake_slack, payload(id="platform", team="Platform", start="2031-03-10", end="2031-03-11", user=DAVE))
    put(fake_slack, payload(id="platform-p", team="Platform", start="2031-03-24", end="2031-03-25", user=DAVE, status="pending", decided_by=None, decided_at=None))
    put(fake_slack, {"v":1,"id":"adj1","user":ALICE,"type":"vacation","days":1e15,"year":2031,"reason":"x","by":"hr"}, "timeoff_adjustment")
    put(fake_slack, {"v":1,"id":"adj2","user":ALICE,"type":"vacation","days":3,"year":"2031","reason":"x","by":"hr"}, "timeoff_adjustment")
    for cmd in ("list", "balance 2031", "balance 2030"):
        r = post_command(client, cmd, user_id=ALICE)
        print(cmd, r.status_code, r.content[:3000])
    for u in (ALICE, BOB, DAVE, HR):
        h = open_app_home(client, fake_slack, u, f"Ev-{u}")
        print("HOME", u, json.dumps(h)[:3000])
    for m in (datetime(2031,3,7,15,30,tzinfo=LA), datetime(2031,3,10,9,0,tzinfo=LA), datetime(2031,3,12,2,tzinfo=timezone.utc)):
        print("JOBS", run_jobs(m))
    for u in (ALICE, BOB, DAVE, HR):
        print("DMS", u, dms_to(fake_slack, u))
    print("ENG posts", posts_in(fake_slack, C_ENG))
    print("APPR posts", posts_in(fake_slack, C_ENG_APPROVALS))
    for f in export_dir.rglob("*"):
        print("EXPORT", f, f.read_text()[:3000] if f.is_file() else "")
    for name in ("console:whos_out", "console:balances", "console:setup"):
        r = hr_client.get(reverse(name))
        print(name, r.status_code)
        open(f"/tmp/explore/{name.split(':')[1]}.html", "w").write(r.text)
    assert 0
