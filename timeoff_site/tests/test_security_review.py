"""A security review of what a company installs: the console's own sign-in page, the pages a staff user
without a permission can reach, what HR and Slack type reaching a page as markup, and the headers and
cookies under production settings (DEBUG off, behind a TLS-terminating load balancer)."""

import re
from dataclasses import replace
from datetime import date
from decimal import Decimal
from urllib.parse import urlencode, urlsplit

import pytest
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from approvals.config_file import config_to_text
from approvals.config_types import BlackoutConfig, HolidayConfig, LeaveTypeConfig
from approvals.models import Blackout, CompanyHoliday, DeliveryProblem, LeaveType, Team
from fake_slack.personas import ALICE
from test_support import flows
from test_support.flows import install_config, request_time_off

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
HTTPS = {"HTTP_X_FORWARDED_PROTO": "https", "secure": True, "HTTP_REFERER": "https://testserver/console/login/"}


@pytest.fixture
def staff_without_permissions(django_user_model):
    return django_user_model.objects.create_user("sam", password=PASSWORD, is_staff=True)


@pytest.fixture
def employee(django_user_model):
    return django_user_model.objects.create_user("mallory", password=PASSWORD)


def sign_in(username: str, *, next_url: str | None = None) -> tuple[Client, object]:
    client = Client(enforce_csrf_checks=True)
    page = client.get(reverse("console:login"), **HTTPS)
    token = page.cookies["csrftoken"].value
    data = {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token}
    url = reverse("console:login")
    if next_url is not None:
        data["next"] = next_url
        url += "?" + urlencode({"next": next_url})
    response = client.post(url, data, **HTTPS)
    return client, response


# --- The console's sign-in page -----------------------------------------------------------------


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example",
                                    "\\\\evil.example", "https:evil.example", "javascript:alert(1)",
                                    " //evil.example", "/%5Cevil.example", "http://testserver@evil.example/"])
def test_console_sign_in_never_redirects_off_site(staff_without_permissions, target):
    client, response = sign_in("sam", next_url=target)
    assert response.status_code == 302
    location = response["Location"]
    # A path on this site (a percent-encoded backslash is part of a path, not a way off the site).
    assert location.startswith("/") and not location.startswith(("//", "/\\")), location
    assert urlsplit(location).netloc == "" and urlsplit(location).scheme == ""


def test_console_sign_in_goes_where_it_was_sent_on_the_site(staff_without_permissions):
    client, response = sign_in("sam", next_url=reverse("console:whos_out") + "?team=Engineering")
    assert response["Location"] == reverse("console:whos_out") + "?team=Engineering"


def test_the_sign_in_page_puts_an_off_site_next_nowhere_in_its_form(client):
    html = client.get(reverse("console:login"), {"next": "https://evil.example/"}).content.decode()
    assert "evil.example" not in html
    html = client.get(reverse("console:login"), {"next": '"><script>alert(1)</script>'}).content.decode()
    assert "<script>alert(1)" not in html


def test_console_sign_in_without_a_csrf_token_signs_nobody_in(staff_without_permissions):
    # Login CSRF: a page elsewhere must not sign a browser into an account of its choosing.
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("console:login"), {"username": "sam", "password": PASSWORD}, **HTTPS)
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_console_sign_in_gives_a_new_session_key(staff_without_permissions):
    # Session fixation: a session id planted before sign-in must not become the signed-in session.
    client = Client()
    client.get(reverse("console:login"), **HTTPS)
    client.session.save()
    planted = client.session.session_key
    client.cookies["sessionid"] = planted
    response = client.post(reverse("console:login"), {"username": "sam", "password": PASSWORD}, **HTTPS)
    assert response.status_code == 302
    assert client.cookies["sessionid"].value != planted


def test_the_session_cookie_is_secure_httponly_and_samesite_in_production(staff_without_permissions):
    client, response = sign_in("sam")
    cookie = response.cookies["sessionid"]
    assert cookie["secure"] is True
    assert cookie["httponly"] is True
    assert cookie["samesite"].lower() in ("lax", "strict")
    csrf = response.cookies.get("csrftoken") or client.cookies["csrftoken"]
    assert csrf["secure"] is True


def test_the_sign_in_page_sends_the_security_headers_over_https(client):
    response = client.get(reverse("console:login"), **HTTPS)
    assert response.status_code == 200
    assert "max-age=" in response["Strict-Transport-Security"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert "no-cache" in response.get("Cache-Control", "") or "private" in response.get("Cache-Control", "")


def test_a_wrong_password_says_nothing_of_whether_the_account_exists(staff_without_permissions):
    client = Client()
    known = client.post(reverse("console:login"), {"username": "sam", "password": "wrong"}, **HTTPS)
    unknown = client.post(reverse("console:login"), {"username": "nobody-here", "password": "wrong"}, **HTTPS)
    assert known.status_code == unknown.status_code == 200

    def error_text(response):
        return re.sub(r"\s+", " ", re.search(r'role="alert".*?</div>', response.content.decode(), re.S)[0])

    assert error_text(known) == error_text(unknown)


# --- An account that is not staff ---------------------------------------------------------------


def console_urls() -> list[str]:
    team, leave_type = Team.objects.first(), LeaveType.objects.first()
    holiday, blackout = CompanyHoliday.objects.first(), Blackout.objects.first()
    return [
        reverse("console:home"), reverse("console:team_add"), reverse("console:team_edit", args=[team.pk]),
        reverse("console:team_delete", args=[team.pk]), reverse("console:holiday_subdivisions") + "?country=US",
        reverse("console:leave_types"), reverse("console:leave_type_add"),
        reverse("console:leave_type_edit", args=[leave_type.pk]),
        reverse("console:leave_type_delete", args=[leave_type.pk]), reverse("console:holidays"),
        reverse("console:holiday_add"), reverse("console:holiday_edit", args=[holiday.pk]),
        reverse("console:holiday_delete", args=[holiday.pk]), reverse("console:blackout_add"),
        reverse("console:blackout_edit", args=[blackout.pk]), reverse("console:blackout_delete", args=[blackout.pk]),
        reverse("console:policy"), reverse("console:search") + "?q=alice", reverse("console:suggest") + "?q=alice",
        reverse("console:record_leave"), reverse("console:setup"), reverse("console:config_file"),
        reverse("console:config_download"), reverse("console:config_preview"), reverse("console:whos_out"),
        reverse("console:ledger_export"), reverse("console:balances"), reverse("console:adjust"),
        reverse("console:history"),
    ]


POST_ONLY = ["console:setup_check", "console:config_upload", "console:config_apply", "console:config_discard"]

SECRET_NAMES = {
    "team": "Project Nightjar",
    "leave_type": "Garden leave before dismissal",
    "holiday": "Merger announcement day",
    "blackout": "Layoffs under way",
}


def secret_config():
    team = replace(flows.ENGINEERING, name=SECRET_NAMES["team"])
    leave = LeaveTypeConfig(code="garden", name=SECRET_NAMES["leave_type"], emoji=":seedling:")
    return flows.standard_config(
        teams=(team,), leave_types=(*flows.standard_config().leave_types, leave),
        holidays=(HolidayConfig(date=date(2031, 6, 2), name=SECRET_NAMES["holiday"]),),
        blackouts=(BlackoutConfig(start=date(2031, 7, 1), end=date(2031, 7, 4), reason=SECRET_NAMES["blackout"]),))


def test_an_account_without_staff_status_sees_nothing_of_the_configuration(fake_slack, employee):
    install_config(secret_config())
    client, response = sign_in("mallory")
    assert response.status_code == 302
    for url in console_urls():
        page = client.get(url, **HTTPS)
        assert page.status_code in (302, 403), (url, page.status_code)
        text = page.content.decode()
        for name in SECRET_NAMES.values():
            assert name not in text, (url, name)
    for name in POST_ONLY:
        page = client.post(reverse(name), {}, **HTTPS)
        assert page.status_code in (302, 403), (name, page.status_code)
    assert client.get(reverse("admin:index"), **HTTPS).status_code == 302
    assert client.get(reverse("admin:approvals_team_changelist"), **HTTPS).status_code == 302


def test_an_account_without_staff_status_cannot_delete_or_change_anything(fake_slack, employee):
    install_config(secret_config())
    client, _ = sign_in("mallory")
    token = client.cookies["csrftoken"].value
    team, leave_type = Team.objects.get(), LeaveType.objects.get(code="garden")
    for url in (reverse("console:team_delete", args=[team.pk]), reverse("console:leave_type_delete",
                                                                         args=[leave_type.pk])):
        client.post(url, {"csrfmiddlewaretoken": token}, **HTTPS)
    client.post(reverse("console:team_reorder", args=[team.pk]), {"direction": "up",
                                                                    "csrfmiddlewaretoken": token}, **HTTPS)
    assert Team.objects.filter(pk=team.pk).exists()
    assert LeaveType.objects.filter(pk=leave_type.pk).exists()


# --- A staff user without a model's permissions ---------------------------------------------------


def test_staff_without_permissions_cannot_delete_or_edit_by_id(fake_slack, staff_without_permissions):
    install_config(secret_config())
    client, _ = sign_in("sam")
    token = client.cookies["csrftoken"].value
    team, leave_type = Team.objects.get(), LeaveType.objects.get(code="garden")
    holiday, blackout = CompanyHoliday.objects.get(), Blackout.objects.get()
    deletes = [reverse("console:team_delete", args=[team.pk]),
               reverse("console:leave_type_delete", args=[leave_type.pk]),
               reverse("console:holiday_delete", args=[holiday.pk]),
               reverse("console:blackout_delete", args=[blackout.pk])]
    for url in deletes:
        assert client.post(url, {"csrfmiddlewaretoken": token}, **HTTPS).status_code == 403, url
    edit = client.post(reverse("console:leave_type_edit", args=[leave_type.pk]),
                       {"csrfmiddlewaretoken": token, "code": "garden", "name": "Renamed", "emoji": ""}, **HTTPS)
    assert edit.status_code == 403
    assert client.post(reverse("console:team_reorder", args=[team.pk]),
                       {"direction": "up", "csrfmiddlewaretoken": token}, **HTTPS).status_code == 403
    recorded = client.post(reverse("console:record_leave"), {
        "csrfmiddlewaretoken": token, "person": "alice@example.com", "leave_type": "vacation",
        "start": flows.MONDAY.isoformat(), "end": flows.WEDNESDAY.isoformat()}, **HTTPS)
    assert recorded.status_code == 403
    assert not flows.posted_requests(fake_slack)
    assert Team.objects.filter(pk=team.pk).exists() and CompanyHoliday.objects.exists() and Blackout.objects.exists()
    assert LeaveType.objects.get(pk=leave_type.pk).name == SECRET_NAMES["leave_type"]


def test_staff_without_view_permissions_cannot_read_leave_types_holidays_or_blackouts_from_the_history(
        fake_slack, staff_without_permissions):
    """README, "Permissions": each page needs the model's view (or change) permission to list it. History
    (staff status only) lists every leave type, holiday and blackout created, with its fields."""
    install_config(secret_config())
    client, _ = sign_in("sam")
    # The pages that list them are refused...
    for url in (reverse("console:leave_types"), reverse("console:holidays"), reverse("console:config_download")):
        assert client.get(url, **HTTPS).status_code == 403, url
    # ... so the history of their changes must not show them either.
    history = client.get(reverse("console:history"), **HTTPS)
    text = history.content.decode()
    leaked = [name for key, name in SECRET_NAMES.items() if key != "team" and name in text]
    assert history.status_code == 403 or not leaked, leaked


def test_staff_without_view_permissions_cannot_read_the_configuration_through_an_upload_preview(
        fake_slack, staff_without_permissions):
    """Downloading the configuration needs the view permissions of every model (README); any staff user
    may upload and preview a file, and the preview's "Removed" entries and "Now" column are the
    configuration as it is: the download, by another door."""
    install_config(secret_config())
    client, _ = sign_in("sam")
    assert client.get(reverse("console:config_download"), **HTTPS).status_code == 403
    token = client.cookies["csrftoken"].value
    # Any valid file: its preview lists everything it would remove, that is, the configuration now.
    text = config_to_text(flows.standard_config(leave_types=(flows.VACATION,)), "json").encode()
    upload = SimpleUploadedFile("mine.json", text, content_type="application/json")
    sent = client.post(reverse("console:config_upload"), {"file": upload, "csrfmiddlewaretoken": token}, **HTTPS)
    assert sent.status_code == 302, sent.content.decode()
    preview = client.get(reverse("console:config_preview"), **HTTPS)
    text = preview.content.decode()
    leaked = [name for key, name in SECRET_NAMES.items() if key != "team" and name in text]
    assert preview.status_code == 403 or not leaked, leaked


# --- What HR types, shown on every page as text ------------------------------------------------------

HOSTILE = {
    "team": "<img src=x onerror=alert(1)>",
    "leave_type": "<svg onload=alert(2)>",
    "holiday": "<script>alert(3)</script>",
    "blackout": '"><iframe src=javascript:alert(4)>',
    "adjustment": "<b onmouseover=alert(5)>carry</b>",
}
RAW = ("<img src=x", "<svg onload", "<script>alert(3)", "<iframe src=javascript", "<b onmouseover")


def hostile_config():
    team = replace(flows.ENGINEERING, name=HOSTILE["team"])
    leave = LeaveTypeConfig(code="odd", name=HOSTILE["leave_type"], emoji=":seedling:",
                            annual_allowance_days=Decimal(10))
    return flows.standard_config(
        teams=(team,), leave_types=(*flows.standard_config().leave_types, leave),
        holidays=(HolidayConfig(date=date(2031, 3, 24), name=HOSTILE["holiday"],
                                team=HOSTILE["team"]),),
        blackouts=(BlackoutConfig(start=date(2031, 7, 1), end=date(2031, 7, 4), reason=HOSTILE["blackout"],
                                  team=HOSTILE["team"]),))


@pytest.fixture
def superuser_client(django_user_model):
    user = django_user_model.objects.create_user("root", password=PASSWORD, is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(user)
    return client


def test_what_hr_types_is_shown_as_text_on_every_console_and_admin_page(fake_slack, superuser_client):
    install_config(hostile_config())
    request_time_off(superuser_client, fake_slack, ALICE, leave_type="odd", note="<a href=javascript:alert(6)>x</a>")
    team, leave_type = Team.objects.get(), LeaveType.objects.get(code="odd")
    holiday, blackout = CompanyHoliday.objects.get(), Blackout.objects.get()
    adjusted = superuser_client.post(reverse("console:adjust"), {
        "user": "alice@example.com", "leave_type": "odd", "year": "2027", "days": "1",
        "reason": HOSTILE["adjustment"]})
    assert adjusted.status_code == 302, adjusted.content.decode()[-2000:]
    pages = [
        reverse("console:home"), reverse("console:team_edit", args=[team.pk]),
        reverse("console:team_delete", args=[team.pk]), reverse("console:leave_types"),
        reverse("console:leave_type_edit", args=[leave_type.pk]),
        reverse("console:leave_type_delete", args=[leave_type.pk]), reverse("console:holidays"),
        reverse("console:holiday_edit", args=[holiday.pk]), reverse("console:holiday_delete", args=[holiday.pk]),
        reverse("console:blackout_edit", args=[blackout.pk]), reverse("console:blackout_delete", args=[blackout.pk]),
        reverse("console:whos_out") + "?weeks=12",
        reverse("console:whos_out") + "?" + urlencode({"team": HOSTILE["team"]}),
        reverse("console:balances") + "?year=2027", reverse("console:balances") + "?" + urlencode(
            {"team": HOSTILE["team"], "year": "2027"}),
        reverse("console:history"), reverse("console:setup"), reverse("console:config_file"),
        reverse("console:record_leave"), reverse("console:adjust"), reverse("console:policy"),
        reverse("console:ledger_export"),
        reverse("admin:index"), reverse("admin:approvals_team_changelist"),
        reverse("admin:approvals_team_change", args=[team.pk]), reverse("admin:approvals_team_history", args=[team.pk]),
        reverse("admin:approvals_team_delete", args=[team.pk]), reverse("admin:approvals_leavetype_changelist"),
        reverse("admin:approvals_leavetype_change", args=[leave_type.pk]),
        reverse("admin:approvals_companyholiday_changelist"), reverse("admin:approvals_blackout_changelist"),
        reverse("admin:approvals_blackout_change", args=[blackout.pk]),
    ]
    shown = set()
    for page in pages:
        response = superuser_client.get(page)
        assert response.status_code == 200, page
        html = response.content.decode()
        for raw in RAW:
            assert raw not in html, (page, raw)
        if "&lt;img src=x" in html or "&lt;svg onload" in html or "&lt;script&gt;alert(3)" in html:
            shown.add(page)
    assert reverse("console:home") in shown and reverse("console:leave_types") in shown
    # The preview of an uploaded file: its name and every value it would change.
    changed = replace(hostile_config(), holidays=(HolidayConfig(date=date(2031, 6, 3), name=HOSTILE["holiday"] + "!"),))
    upload = SimpleUploadedFile('<img src=x onerror=alert(7)>.json', config_to_text(changed, "json").encode())
    assert superuser_client.post(reverse("console:config_upload"), {"file": upload}).status_code == 302
    preview = superuser_client.get(reverse("console:config_preview")).content.decode()
    assert "&lt;script&gt;alert(3)&lt;/script&gt;!" in preview and "&lt;img src=x onerror=alert(7)&gt;" in preview
    for raw in RAW:
        assert raw not in preview, raw


def test_the_setup_page_shows_a_private_leave_type_only_to_whoever_may_see_leave_records(
        fake_slack, staff_without_permissions):
    # README, "Permissions": private types (sick, medical) are named only to users with
    # approvals.view_leave_records; staff status alone shows them as "away" (Who's out).
    install_config()
    fake_slack.fail("chat.postMessage", "channel_not_found", times=None)  # the approvals channel is gone
    request_time_off(Client(), fake_slack, ALICE, leave_type="medical")
    assert DeliveryProblem.objects.exists()
    client, _ = sign_in("sam")
    assert client.get(reverse("console:balances"), **HTTPS).status_code == 403  # private types: not for sam
    setup = client.get(reverse("console:setup"), **HTTPS)
    assert setup.status_code == 200
    html = setup.content.decode()
    assert "channel_not_found" in html  # the delivery problem is listed (its person and channel are HR's to fix)
    assert "Medical appointment" not in html


def test_staff_without_permissions_get_nothing_from_the_admin(fake_slack, staff_without_permissions):
    install_config(secret_config())
    fake_slack.fail("chat.postMessage", "channel_not_found", times=None)
    request_time_off(Client(), fake_slack, ALICE, leave_type="medical")
    client, _ = sign_in("sam")
    token = client.cookies["csrftoken"].value
    refused = []
    for model in admin.site._registry:
        info = (model._meta.app_label, model._meta.model_name)
        row = model._default_manager.first()
        urls = [reverse("admin:%s_%s_changelist" % info), reverse("admin:%s_%s_add" % info)]
        if row is not None:
            urls += [reverse("admin:%s_%s_%s" % (*info, view), args=[row.pk])
                     for view in ("change", "delete", "history")]
        for url in urls:
            page = client.get(url, **HTTPS)
            text = page.content.decode()
            if page.status_code not in (302, 403) or any(name in text for name in SECRET_NAMES.values()):
                refused.append((url, page.status_code))
        if row is not None:
            client.post(reverse("admin:%s_%s_delete" % info, args=[row.pk]), {"post": "yes",
                                                                          "csrfmiddlewaretoken": token}, **HTTPS)
            assert model._default_manager.filter(pk=row.pk).exists(), info
    adjust = client.post(reverse("admin:approvals_adjust_balance"), {
        "user": ALICE, "leave_type": "vacation", "year": "2027", "days": "-25", "reason": "x",
        "csrfmiddlewaretoken": token}, **HTTPS)
    assert adjust.status_code == 403
    console_adjust = client.post(reverse("console:adjust"), {
        "user": "alice@example.com", "leave_type": "vacation", "year": "2027", "days": "-25", "reason": "x",
        "csrfmiddlewaretoken": token}, **HTTPS)
    assert console_adjust.status_code == 403
    assert not [c for c in fake_slack.calls("chat.postMessage")
                if "timeoff_adjustment" in str(c.params.get("metadata"))]
    assert refused == []


@pytest.mark.parametrize("target", ["/console/\r\nSet-Cookie: planted=1", "/console/\x00", "/console/%0d%0aX: y",
                                    "/\t/evil.example", "\x01//evil.example", "/console/" + "x" * 5000])
def test_console_sign_in_with_an_odd_next_is_a_plain_redirect_on_the_site(staff_without_permissions, target):
    client, response = sign_in("sam", next_url=target)
    assert response.status_code == 302
    location = response["Location"]
    assert "\r" not in location and "\n" not in location and "planted" not in response.cookies
    assert location.startswith("/") and not location.startswith(("//", "/\\")), location
    assert urlsplit(location).netloc == ""
