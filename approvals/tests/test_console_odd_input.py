"""The HR console (and the Django admin) with bad, empty, huge, duplicate and hostile values.

Every form answers a bad value with a clear error on the form and saves nothing, never with a 500;
every console address, typed with odd parameters, is answered below 500; only staff see any page and
every POST needs the CSRF token; an uploaded configuration file, however odd, is either taken or
refused with its problems listed; team names that would read as one team, a leave-type code `/timeoff`
would read as a date and time zone names that are no IANA place are refused; and what the console
saves downloads as a file that uploads again unchanged.
"""

import datetime
import json
import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from approvals.models import Blackout, CompanyHoliday, LeaveType, Team
from fake_slack.personas import ALICE, BOB, C_ENG, C_ENG_APPROVALS
from test_support.flows import MONDAY, WEDNESDAY, install_config
from test_support.console_pages import errors_of, team_post

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-test-password"


@pytest.fixture
def hr_client(client, django_user_model, directory):
    hannah = django_user_model.objects.create_superuser("hannah", "hannah@example.com", PASSWORD)
    client.force_login(hannah)
    client.raise_request_exception = True
    return client


@pytest.fixture
def engineering():
    return Team.objects.create(name="Engineering", position=0, approvals_channel=C_ENG_APPROVALS,
                               approvers_users=[BOB], members_channel=C_ENG, members_users=[ALICE])


def shows_an_error(response) -> bool:
    """A refused form says why: the error summary at its top, or an error listed on the form."""
    return bool(re.search(r'<div class="error-summary"|<ul class="errorlist[^"]*"[^>]*>\s*<li>', response.text))


# --- Team form ----------------------------------------------------------------------------------

TEAM_VARIANTS = [
    {"name": "R&D / Ops"}, {"name": "<script>alert(1)</script>"}, {"name": "Ingeniería 工程 👩‍💻"},
    {"name": "x" * 1000}, {"name": "  Spaces  "}, {"name": "a\u202eb"}, {"name": "a\x00b"},
    {"max_out": "-1"}, {"max_out": "99999999999999999999999"}, {"max_out": "1.5"}, {"max_out": "nan"},
    {"nudge_after_hours": "0"}, {"nudge_after_hours": "9" * 30}, {"nudge_after_hours": "-5"},
    {"timezone": "Mars/Olympus"}, {"timezone": "America"}, {"timezone": ""}, {"timezone": "UTC\x00"},
    {"timezone": "../../etc/passwd"}, {"timezone": "+05:00"},
    {"digest_time": "25:00"}, {"digest_time": "9"}, {"digest_time": "-1:00"}, {"digest_time": "x" * 5000},
    {"workweek": None}, {"workweek": ["7"]}, {"workweek": ["-1"]}, {"workweek": ["0", "0"]}, {"workweek": ["a"]},
    {"holiday_country": "ZZ"}, {"holiday_country": "x" * 100}, {"holiday_country": "us"},
    {"holiday_country": "", "holiday_subdivision": ""}, {"holiday_subdivision": "\x00"},
    {"members_users": ",,,;;;\n\n"}, {"members_users": "x" * 10000}, {"members_channel": "#" * 500},
    {"members_usergroup": "@@@"}, {"approvals_channel": ""}, {"approvals_channel": "C_ENG_APPROVALS"},
    {"announce_channel": "<!channel>"}, {"is_default": "garbage"}, {"version": "x" * 10000},
]


@pytest.mark.parametrize("changes", TEAM_VARIANTS, ids=[repr(v)[:40] for v in TEAM_VARIANTS])
def test_team_add_never_500(hr_client, changes):
    response = hr_client.post(reverse("console:team_add"), team_post(**changes))
    assert response.status_code in (200, 302)
    if response.status_code == 200:
        assert shows_an_error(response)
        assert not Team.objects.exists()


@pytest.mark.parametrize("changes", TEAM_VARIANTS, ids=[repr(v)[:40] for v in TEAM_VARIANTS])
def test_team_edit_never_500(hr_client, engineering, changes):
    response = hr_client.post(reverse("console:team_edit", args=[engineering.pk]),
                              team_post(**{"name": "Engineering", "version": "", **changes}))
    assert response.status_code in (200, 302)
    if response.status_code == 200:
        assert shows_an_error(response)


# --- Leave types ----------------------------------------------------------------------------------

def lt_post(**changes):
    data = {"name": "Sick leave", "code": "sick", "emoji": ":face_with_thermometer:", "allow_past_days": "3",
            "annual_allowance_days": "10.5", "max_consecutive_days": "10"}
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


LT_VARIANTS = [
    {"code": "list"}, {"code": "help"}, {"code": "who"}, {"code": "LIST"}, {"code": "balance"}, {"code": "today"},
    {"code": "x" * 1000}, {"code": ""}, {"code": "a b"}, {"code": "ça"}, {"code": "-a"}, {"code": "a--b"},
    {"emoji": "::"}, {"emoji": ":<!channel>:"}, {"emoji": "x" * 1000}, {"emoji": "é" * 8}, {"emoji": "\u202e"},
    {"annual_allowance_days": "-1"}, {"annual_allowance_days": "0.25"}, {"annual_allowance_days": "NaN"},
    {"annual_allowance_days": "inf"}, {"annual_allowance_days": "1e400"}, {"annual_allowance_days": "9" * 50},
    {"annual_allowance_days": "366.5"}, {"annual_allowance_days": "1e2"}, {"annual_allowance_days": "-0"},
    {"annual_allowance_days": "sNaN"}, {"annual_allowance_days": "1E-5"}, {"annual_allowance_days": "0.50"},
    {"max_consecutive_days": "0"}, {"max_consecutive_days": "367"}, {"max_consecutive_days": "9" * 40},
    {"allow_past_days": ""}, {"allow_past_days": "-1"}, {"allow_past_days": "9" * 40},
    {"name": ""}, {"name": "x" * 1000}, {"name": "<b>x</b>"}, {"name": " Sick "}, {"name": "a\nb"},
]


@pytest.mark.parametrize("changes", LT_VARIANTS, ids=[repr(v)[:40] for v in LT_VARIANTS])
def test_leave_type_add_never_500(hr_client, changes):
    response = hr_client.post(reverse("console:leave_type_add"), lt_post(**changes))
    assert response.status_code in (200, 302)
    if response.status_code == 200:
        assert shows_an_error(response)
        assert not LeaveType.objects.exists()


# --- Holidays, blackouts --------------------------------------------------------------------------

HOLIDAY_VARIANTS = [
    {"date": "0001-01-01"}, {"date": "9999-12-31"}, {"date": "10000-01-01"}, {"date": "2031-02-30"},
    {"date": ""}, {"date": "x"}, {"date": "1/2/3"}, {"team": "abc"}, {"team": "999999"},
    {"team": "9" * 30}, {"team": "-1"}, {"team": "1.5"}, {"name": "x" * 1000}, {"name": "a\x07"},
]


@pytest.mark.parametrize("changes", HOLIDAY_VARIANTS, ids=[repr(v)[:40] for v in HOLIDAY_VARIANTS])
def test_holiday_add_never_500(hr_client, engineering, changes):
    data = {"date": "2031-12-24", "name": "Eve", "team": ""}
    data.update(changes)
    response = hr_client.post(reverse("console:holiday_add"), data)
    assert response.status_code in (200, 302)
    if response.status_code == 200:
        assert shows_an_error(response)
        assert not CompanyHoliday.objects.exists()


BLACKOUT_VARIANTS = [
    {"start": "2031-12-20", "end": "2031-12-10"}, {"start": "0001-01-01"}, {"end": "9999-12-31"},
    {"start": "", "end": ""}, {"start": "2031-12-20", "end": ""}, {"reason": "x" * 1000},
    {"reason": "a\x1b[31m"}, {"team": "9" * 30}, {"start": "2000-01-01", "end": "2100-12-31"},
]


@pytest.mark.parametrize("changes", BLACKOUT_VARIANTS, ids=[repr(v)[:40] for v in BLACKOUT_VARIANTS])
def test_blackout_add_never_500(hr_client, engineering, changes):
    data = {"start": "2031-12-10", "end": "2031-12-20", "team": "", "reason": "Freeze"}
    data.update(changes)
    response = hr_client.post(reverse("console:blackout_add"), data)
    assert response.status_code in (200, 302)
    if response.status_code == 200:
        assert shows_an_error(response)
        assert not Blackout.objects.exists()


# --- URLs and query strings -----------------------------------------------------------------------

GET_URLS = [
    "/console/", "/console/teams/new", "/console/teams/0/", "/console/teams/99999999999999999999999/",
    "/console/teams/abc/", "/console/teams/-1/", "/console/teams/99999999999999999999999/delete",
    "/console/leave-types/99999999999999999999999/", "/console/holidays/99999999999999999999999/",
    "/console/blackouts/99999999999999999999999/delete", "/console/teams/subdivisions?country=",
    "/console/teams/subdivisions?country=%00", "/console/teams/subdivisions?country=US&country=GB",
    "/console/whos-out/?team=", "/console/whos-out/?team=%00", "/console/whos-out/?weeks=abc",
    "/console/whos-out/?weeks=-1", "/console/whos-out/?weeks=" + "9" * 5000, "/console/whos-out/?team=" + "x" * 5000,
    "/console/balances/?year=abc", "/console/balances/?year=99999", "/console/balances/?year=-1",
    "/console/balances/?team=nope", "/console/balances/?team=nope&download=1", "/console/balances/?download",
    "/console/balances/?year=" + "9" * 5000,
    "/console/ledger/?download=1", "/console/ledger/?download=1&year=abc", "/console/ledger/?download=1&year=99999",
    "/console/ledger/?download=1&year=1", "/console/ledger/?download=1&start=0001-01-01&end=0001-12-31",
    "/console/ledger/?download=1&start=9999-12-01&end=9999-12-31", "/console/ledger/?download=1&start=2031-01-01",
    "/console/ledger/?download&start=x&end=y", "/console/ledger/?download=0", "/console/ledger/?page=-1",
    "/console/search/?q=" + "x" * 5000, "/console/search/?q=%00&kind=nope", "/console/search/?q=a@b",
    "/console/search/suggest?q=%00", "/console/setup/?url=javascript:alert(1)", "/console/setup/?url=" + "x" * 5000,
    "/console/file/", "/console/file/download?format=xml", "/console/file/download?format=yaml",
    "/console/file/preview", "/console/history/", "/console/history/?page=-1", "/console/balances/adjust?user=%00",
    "/console/balances/adjust?user=" + "x" * 5000, "/console/leave/record", "/console/policy/",
]


@pytest.mark.parametrize("url", GET_URLS, ids=[u[:70] for u in GET_URLS])
def test_get_never_500(hr_client, engineering, url):
    response = hr_client.get(url)
    assert response.status_code < 500, url


# --- Who may see what: anonymous and non-staff on every console URL, CSRF on every POST ----------

ALL_URLS = [
    ("get", "/console/"), ("post", "/console/teams/{team}/move"), ("get", "/console/teams/new"),
    ("post", "/console/teams/new"), ("get", "/console/teams/{team}/"), ("post", "/console/teams/{team}/"),
    ("get", "/console/teams/{team}/delete"), ("post", "/console/teams/{team}/delete"),
    ("get", "/console/teams/subdivisions?country=US"), ("get", "/console/leave-types/"),
    ("get", "/console/leave-types/new"), ("post", "/console/leave-types/new"),
    ("get", "/console/holidays/"), ("get", "/console/holidays/new"), ("post", "/console/holidays/new"),
    ("get", "/console/blackouts/new"), ("post", "/console/blackouts/new"), ("get", "/console/policy/"),
    ("post", "/console/policy/"), ("get", "/console/search/?q=alice"), ("get", "/console/search/suggest?q=alice"),
    ("get", "/console/leave/record"), ("post", "/console/leave/record"), ("get", "/console/setup/"),
    ("post", "/console/setup/check"), ("get", "/console/file/"), ("get", "/console/file/download"),
    ("post", "/console/file/upload"), ("get", "/console/file/preview"), ("post", "/console/file/apply"),
    ("post", "/console/file/discard"), ("get", "/console/whos-out/"), ("get", "/console/ledger/?download=1&year=2031"),
    ("get", "/console/balances/"), ("get", "/console/balances/?download=1"), ("get", "/console/balances/adjust"),
    ("post", "/console/balances/adjust"), ("get", "/console/history/"),
]


@pytest.mark.parametrize("method,url", ALL_URLS)
def test_anonymous_is_sent_to_sign_in(client, engineering, method, url):
    response = getattr(client, method)(url.format(team=engineering.pk))
    assert response.status_code == 302 and response["Location"].startswith("/console/login/"), response.status_code


@pytest.mark.parametrize("method,url", ALL_URLS)
def test_non_staff_gets_403(client, django_user_model, engineering, method, url):
    user = django_user_model.objects.create_user("eve", "eve@example.com", PASSWORD)
    client.force_login(user)
    response = getattr(client, method)(url.format(team=engineering.pk))
    assert response.status_code == 403
    assert b"Engineering" not in response.content


@pytest.mark.parametrize("url", [u for m, u in ALL_URLS if m == "post"])
def test_every_post_needs_the_csrf_token(django_user_model, directory, engineering, url):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(django_user_model.objects.create_superuser("hr", "hr@example.com", PASSWORD))
    assert strict.post(url.format(team=engineering.pk), {"direction": "up"}).status_code == 403


# --- Configuration file upload ------------------------------------------------------------------

EXAMPLE_TEXT = (Path(__file__).resolve().parents[2] / "examples" / "config.example.json").read_text()

UPLOADS = [
    ("bom.json", b"\xef\xbb\xbf" + EXAMPLE_TEXT.encode()),
    ("latin1.json", "{\"version\": 1, \"x\": \"caf\xe9\"}".encode("latin-1")),
    ("big.json", b" " * (10 * 1024 * 1024) + b"{}"),
    ("v999.json", b'{"version": 999}'),
    ("v999.yaml", b"version: 999\n"),
    ("vstr.json", b'{"version": "1", "teams": [], "leave_types": []}'),
    ("list.json", b"[]"), ("null.json", b"null"), ("empty.json", b""), ("empty.yaml", b""),
    ("nan.json", EXAMPLE_TEXT.replace('"annual_allowance_days": 25', '"annual_allowance_days": NaN').encode()),
    ("merge.yaml", b"<<: {version: 1}\nteams: []\nleave_types: []\n"),
    ("tag.yaml", b"version: !!python/object:os.system [ls]\n"),
    ("set.yaml", b"version: 1\nteams: !!set {a, b}\nleave_types: []\n"),
    ("float.yaml", b"version: 1.0\nteams: []\nleave_types: []\n"),
    ("nul.json", b'{"version": 1\x00}'),
    ("deep.json", b"[" * 100000),
    ("intkey.yaml", b"version: 1\n1: 2\nteams: []\nleave_types: []\n"),
    ("bigint.json", b'{"version": 1' + b"0" * 5000 + b"}"),
    ("noext", EXAMPLE_TEXT.encode()),
    ("../../evil.yaml", b"version: 1\n"),
    ("types.json", json.dumps({"version": 1, "teams": "x", "leave_types": {"a": 1}, "holidays": 5,
                               "blackouts": [None, 1, "x"], "requesters": [], "fallback_approvers": "U1"}).encode()),
]


@pytest.mark.parametrize("name,content", UPLOADS, ids=[u[0] for u in UPLOADS])
def test_upload_never_500(hr_client, name, content):
    response = hr_client.post(reverse("console:config_upload"), {"file": SimpleUploadedFile(name, content)})
    assert response.status_code in (302, 400)
    if response.status_code == 400:
        listed = re.search(r'<div class="notice notice-error" role="alert" id="upload-errors">(.*?)</div>',
                           response.text, re.DOTALL)
        assert listed and re.findall(r"<li>(.*?)</li>", listed[1], re.DOTALL), name


# --- Record leave, adjust a balance, policy ----------------------------------------------------

def record_form(**changes):
    return {"person": "alice@example.com", "leave_type": "vacation", "start": MONDAY.isoformat(),
            "end": WEDNESDAY.isoformat(), "note": "", **changes}


RECORD_VARIANTS = [
    {"start": "0001-01-01", "end": "0001-01-02"}, {"start": "9999-12-30", "end": "9999-12-31"},
    {"start": "9999-12-31", "end": "9999-12-31"}, {"start": "2031-03-10", "end": "9999-12-31"},
    {"start": "0001-01-01", "end": "0001-01-01"}, {"start": "", "end": ""}, {"start": "x", "end": "y"},
    {"leave_type": "list"}, {"leave_type": ""}, {"person": ""}, {"person": "alice@example.com, @bob"},
    {"person": "x" * 5000}, {"note": "x" * 501}, {"note": "<!channel> <@U_BOB> <http://evil|x>"},
    {"note": "a\x00b"}, {"start_pm": "on", "end_am": "on", "start": "2031-03-10", "end": "2031-03-10"},
]


@pytest.mark.parametrize("changes", RECORD_VARIANTS, ids=[repr(v)[:50] for v in RECORD_VARIANTS])
def test_record_leave_never_500(admin_client, fake_slack, changes):
    install_config()
    admin_client.raise_request_exception = True
    response = admin_client.post("/console/leave/record", record_form(**changes))
    assert response.status_code in (200, 302)
    if response.status_code == 200:
        assert shows_an_error(response)


ADJUST_VARIANTS = [
    {"year": "0"}, {"year": "-1"}, {"year": "99999"}, {"year": "9" * 30}, {"year": "abc"},
    {"days": "NaN"}, {"days": "inf"}, {"days": "1e400"}, {"days": "0"}, {"days": "-0.5"}, {"days": "9999"},
    {"days": "0.25"}, {"days": "-400"}, {"reason": "x" * 201}, {"reason": "   "}, {"reason": "a\x1bb"},
    {"user": ""}, {"user": "x" * 5000}, {"user": "alice@example.com, bob@example.com"}, {"leave_type": "nope"},
]


@pytest.mark.parametrize("changes", ADJUST_VARIANTS, ids=[repr(v)[:50] for v in ADJUST_VARIANTS])
def test_adjust_never_500(admin_client, fake_slack, changes):
    install_config()
    admin_client.raise_request_exception = True
    data = {"user": "alice@example.com", "leave_type": "vacation", "days": "2", "year": str(MONDAY.year),
            "reason": "opening balance", **changes}
    response = admin_client.post("/console/balances/adjust", data)
    assert response.status_code in (200, 302)
    if response.status_code == 200:
        assert shows_an_error(response)


POLICY_VARIANTS = [
    {"requesters_users": "x" * 5000}, {"requesters_channel": "<script>"}, {"fallback_approvers": ",,,"},
    {"requesters_users": "alice@example.com, alice@example.com, @alice"}, {"version": "bogus"},
    {"requesters_channel": "#engineering", "requesters_users": ""},
]


@pytest.mark.parametrize("changes", POLICY_VARIANTS, ids=[repr(v)[:50] for v in POLICY_VARIANTS])
def test_policy_never_500(hr_client, changes):
    response = hr_client.post(reverse("console:policy"), {"requesters_users": "", "requesters_channel": "",
                                                          "fallback_approvers": "hannah@example.com", **changes})
    assert response.status_code in (200, 302)
    if response.status_code == 200:
        assert shows_an_error(response)


# --- Names, codes and time zones the console refuses -----------------------------------------------

@pytest.mark.parametrize("first,second", [("Équipe", "équipe"), ("Straße", "STRASSE")])
def test_team_names_differing_only_by_non_ascii_case_are_refused(hr_client, first, second):
    """README: "Engineering" and "engineering" would read as one team and be two; the file refuses such
    names (casefold), and so does the console, for teams as for leave types, whatever the alphabet."""
    assert hr_client.post(reverse("console:team_add"), team_post(name=first)).status_code == 302
    response = hr_client.post(reverse("console:team_add"), team_post(name=second, approvals_channel="#general"))
    assert response.status_code == 200, "the console saved a second team whose name differs only by case"
    assert errors_of(response, "name")
    assert Team.objects.count() == 1


def test_a_leave_type_code_that_reads_as_a_date_in_timeoff_is_refused(hr_client):
    """A code that `/timeoff` reads as a date could never be typed as a type (as "list" could not): it is
    refused on the code field, like the command words."""
    response = hr_client.post(reverse("console:leave_type_add"), lt_post(code="2031-12-24"))
    assert response.status_code == 200 and errors_of(response, "code")
    assert not LeaveType.objects.exists()


@pytest.mark.parametrize("name", ["localtime", "posixrules", "Factory", "right/UTC", "posix/Europe/Paris"])
def test_a_time_zone_that_is_not_an_iana_name_is_refused(hr_client, name):
    """A team's time zone is an IANA name (config_fields.time_zone_names). "localtime" is the server's own
    zone, "posixrules" an old default rule, "Factory" the database's "zone not set" placeholder, and
    `right/…` and `posix/…` are copies of the database that some servers have and others do not."""
    response = hr_client.post(reverse("console:team_add"), team_post(timezone=name))
    assert response.status_code == 200 and errors_of(response, "timezone"), name
    assert not Team.objects.exists()


# --- What the console saves downloads as a file that uploads again ---------------------------------

def test_a_configuration_the_console_saved_downloads_as_a_file_that_uploads_again(hr_client):
    assert hr_client.post(reverse("console:team_add"), team_post(name="Équipe")).status_code == 302
    hr_client.post(reverse("console:team_add"), team_post(name="équipe", approvals_channel="#general"))
    text = hr_client.get(reverse("console:config_download")).content
    response = hr_client.post(reverse("console:config_upload"),
                              {"file": SimpleUploadedFile("timeoff-config.json", text)})
    assert response.status_code == 302, re.findall(r"<code>(.*?)</code>", response.text)


def test_what_the_console_saves_downloads_and_uploads_again_unchanged(hr_client, engineering):
    """Odd but valid values (a name to escape, seconds in the digest time, a weekend workweek, an accented
    emoji, -0 days, a company day for every team and one for a team on the same date, a blackout over
    every allowed year), in JSON and in YAML: the preview of the downloaded file says it changes nothing.
    (The same company day or blackout twice is refused: test_console_config.)"""
    steps = [
        (reverse("console:team_edit", args=[engineering.pk]), team_post(
            name="R&D / Ops <x>", digest_time="09:00:30", workweek=["5", "6"], timezone="Etc/UTC",
            version="")),
        (reverse("console:leave_type_add"), lt_post(code="a-b", emoji="éééééééé", annual_allowance_days="-0")),
        (reverse("console:holiday_add"), {"date": "2031-12-24", "name": "A", "team": ""}),
        (reverse("console:holiday_add"), {"date": "2031-12-24", "name": "B", "team": str(engineering.pk)}),
        (reverse("console:blackout_add"), {"start": "2000-01-01", "end": "2100-12-31", "team": "", "reason": ""}),
    ]
    for url, data in steps:
        response = hr_client.post(url, data)
        assert response.status_code == 302, (url, re.findall(r'<ul class="errorlist"[^>]*>(.*?)</ul>',
                                                             response.text, re.DOTALL))
    for fmt in ("json", "yaml"):
        text = hr_client.get(reverse("console:config_download"), {"format": fmt}).content
        response = hr_client.post(reverse("console:config_upload"),
                                  {"file": SimpleUploadedFile(f"c.{fmt}", text)})
        assert response.status_code == 302, re.findall(r"<code>(.*?)</code>", response.text)
        preview = hr_client.get(reverse("console:config_preview"))
        summary = re.search(r'<p class="lead" id="diff-summary">(.*?)</p>', preview.text, re.DOTALL)
        assert summary and summary[1] == "No changes: the configuration already matches this file.", (
            fmt, summary and summary[1])


def test_an_exported_json_file_saved_with_a_utf8_bom_uploads(hr_client, engineering):
    """Windows editors (Notepad before 2019, Excel's "CSV UTF-8"-style saves) put a BOM before the text;
    the upload reads a JSON file as if the BOM were not there, as it does a YAML one."""
    text = hr_client.get(reverse("console:config_download")).content
    response = hr_client.post(reverse("console:config_upload"),
                              {"file": SimpleUploadedFile("timeoff-config.json", b"\xef\xbb\xbf" + text)})
    assert response.status_code == 302, re.findall(r"<code>(.*?)</code>", response.text)


# --- The Django admin with odd addresses -----------------------------------------------------------

ADMIN_URLS = [
    "/admin/approvals/team/?o=99", "/admin/approvals/team/?o=abc", "/admin/approvals/team/?q=%00",
    "/admin/approvals/team/?timezone=x", "/admin/approvals/team/abc/change/", "/admin/approvals/team/999999/change/",
    "/admin/approvals/companyholiday/?date__year=abc", "/admin/approvals/companyholiday/?date__year=99999",
    "/admin/approvals/companyholiday/?date__year=2031&date__month=13",
    "/admin/approvals/companyholiday/?date__year=2031&date__month=12&date__day=99",
    "/admin/approvals/blackout/?team__id__exact=abc",
    "/admin/approvals/leavetype/?p=-1", "/admin/approvals/leavetype/?p=abc", "/admin/approvals/team/history/",
    "/admin/approvals/adjust-balance/",
]


@pytest.mark.parametrize("url", ADMIN_URLS)
def test_admin_get_never_500(hr_client, engineering, url):
    CompanyHoliday.objects.create(date=datetime.date(2031, 12, 24), name="Eve")
    Blackout.objects.create(start=datetime.date(2031, 12, 1), end=datetime.date(2031, 12, 2))
    assert hr_client.get(url).status_code < 500


@pytest.mark.parametrize("query", ["year=9999", "year=9999&{f}__month=12", "year=9999&{f}__month=12&{f}__day=31"],
                         ids=["year", "year-month", "year-month-day"])
@pytest.mark.parametrize("model,field", [("companyholiday", "date"), ("blackout", "start"),
                                         ("deliveryproblem", "created_at")])
def test_the_admin_date_drill_down_with_the_last_year_is_a_bad_lookup(hr_client, model, field, query):
    """Django's date_hierarchy works out the end of the year, month or day asked for, which for the last
    ones is past 9999-12-31; the admin answers that as any bad drill-down parameter: back to the list
    with `?e=1`."""
    url = f"/admin/approvals/{model}/?{field}__" + query.format(f=field)
    response = hr_client.get(url)
    assert response.status_code == 302, (url, response.status_code)
    assert response["Location"] == f"/admin/approvals/{model}/?e=1"
