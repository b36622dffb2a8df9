"""The console's See pages (issue 10, item 6): who's out, the ledger as CSV, balances, adjustments.

They read the cached ledger and the cached Slack directory only: a page never
waits on Slack. When the ledger (or a team's membership) is not in the cache
yet, the page asks for it in the background (`console_tasks.warm_console_ledger`)
and says so. Recording an adjustment is the one write; it needs the
`approvals.record_adjustment` permission, as in the admin.
"""

import csv
from datetime import date
from typing import ClassVar

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods

from approvals import setup_checks, slack_directory
from approvals.adjustments import AdjustmentError
from approvals.admin_adjustments import PERMISSION as ADJUST_PERMISSION
from approvals.admin_adjustments import AdjustmentForm, signed_days
from approvals.config_fields import FIRST_DAY, LAST_DAY
from approvals.config_store import current_config
from approvals.console_forms import PeopleField, names_asked_for_if_unread
from approvals.console_see_selectors import (
    MAX_WEEKS,
    balance_cell,
    balance_csv_rows,
    balance_table,
    ledger_csv,
    person_label,
    team_calendar,
    team_chosen,
    waiting_for_decision,
)
from approvals.console_tasks import ledger_cached_or_warm, ledger_error_cached, warm_soon
from approvals.console_views import console_permission, staff_required
from approvals.jobs import local_date
from approvals.selectors import cached_lookups

DEFAULT_WEEKS = 4
BALANCES_PER_PAGE = 100
MAX_CSV_DAYS = 3 * 366


def _int(value, default: int, low: int, high: int) -> int:
    try:
        return max(low, min(high, int(value)))
    except (TypeError, ValueError):
        return default


def _team(request, config, *, otherwise: str):
    """The team `?team=` names (a team's earlier name finds it too); HR is told how the name was read, and
    what the page shows (`otherwise`) when it names no team, or several."""
    choice = team_chosen(config, request.GET.get("team", ""))
    if choice.team is not None and choice.note:
        messages.info(request, choice.note)
    elif choice.note:
        messages.warning(request, f"{choice.note} {otherwise}".strip())
    return choice.team


@require_GET
@staff_required
def whos_out(request):
    config = current_config()
    weeks = _int(request.GET.get("weeks"), DEFAULT_WEEKS, 1, MAX_WEEKS)
    chosen = _team(request, config, otherwise="Showing every team.")
    ledger = ledger_cached_or_warm(config)
    directory = slack_directory.directory_current()
    calendars, waiting, more_waiting = [], [], 0
    if ledger is not None:
        # Each team's own "today", as its digests and `/timeoff who` count it: the server's UTC day is
        # still last Sunday on a Monday morning in Tokyo, and would show last week.
        now = timezone.now()
        calendars = [team_calendar(config=config, team=team, ledger=ledger, directory=directory,
                                   today=local_date(team, now), weeks=weeks)
                     for team in ([chosen] if chosen else config.teams)]
        report = setup_checks.setup_report_cached()  # Slack's address of the workspace, once checked
        waiting, more_waiting = waiting_for_decision(
            config=config, ledger=ledger, directory=directory, team=chosen, today=timezone.localdate(),
            workspace_url=report.connection.workspace_url if report else "")
    return render(request, "approvals/console/see/whos_out.html", {
        "nav": "whos_out",
        "teams": [team.name for team in config.teams],
        "chosen": chosen.name if chosen else "",
        "weeks": weeks,
        "week_choices": (1, 2, 4, 8, 12),
        "calendars": calendars,
        "waiting": waiting,
        "more_waiting": more_waiting,
        "ledger": ledger,
        "ledger_error": ledger_error_cached(ledger),
    })


class LedgerExportForm(forms.Form):
    year = forms.IntegerField(required=False, min_value=FIRST_DAY.year, max_value=LAST_DAY.year)
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="From")
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="To (inclusive)")

    def clean(self):
        data = super().clean()
        start, end, year = data.get("start"), data.get("end"), data.get("year")
        if start or end:
            if not (start and end):
                self.add_error("end" if start else "start", "Give both dates of the range, or a year instead.")
            elif end < start:
                self.add_error("end", "The end is before the start.")
            elif (end - start).days > MAX_CSV_DAYS:
                self.add_error("end", "At most three years at once.")
        elif not year and not self.errors.get("year"):
            self.add_error("year", "Give a year, or a date range.")
        return data

    def period(self) -> tuple[date, date]:
        data = self.cleaned_data
        if data.get("start") and data.get("end"):
            return data["start"], data["end"]
        return date(data["year"], 1, 1), date(data["year"], 12, 31)


# The ledger CSV and the balances show private leave types (sick, medical) by name, for everyone.
RECORDS_PERMISSION = "approvals.view_leave_records"


def csv_response(filename: str) -> HttpResponse:
    """A CSV download: UTF-8 with a byte order mark, without which Excel reads a double-clicked file in the
    PC's code page ("Núñez" as "NÃºÃ±ez")."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.write("\ufeff")
    return response


@require_GET
@console_permission(RECORDS_PERMISSION)
def ledger_export(request):
    """The export form; with `download`, the CSV itself."""
    config = current_config()
    wants_file = "download" in request.GET
    form = LedgerExportForm(request.GET if wants_file else None,
                            initial={"year": timezone.localdate().year})
    ledger = ledger_cached_or_warm(config)
    if wants_file and form.is_valid() and ledger is not None:
        start, end = form.period()
        rows = ledger_csv(config=config, ledger=ledger, start=start, end=end,
                          directory=slack_directory.directory_current())
        name = (f"ledger-{start.year}.csv" if (start, end) == (date(start.year, 1, 1), date(start.year, 12, 31))
                else f"ledger-{start.isoformat()}-to-{end.isoformat()}.csv")
        response = csv_response(name)
        csv.writer(response).writerows(rows)
        return response
    return render(request, "approvals/console/see/ledger_export.html", {
        "nav": "ledger",
        "form": form,
        "ledger": ledger,
        "ledger_error": ledger_error_cached(ledger),
    }, status=400 if wants_file and form.is_bound and form.errors else 200)


@require_GET
@console_permission(RECORDS_PERMISSION)
def balances(request):
    config = current_config()
    first = config.teams[0] if config.teams else None
    chosen = _team(request, config, otherwise=f"Showing {first.name}." if first else "") or first
    # The team's own year (its zone: 1 January in Auckland is still 31 December in UTC), as /timeoff balance.
    this_year = local_date(chosen, timezone.now()).year if chosen else timezone.localdate().year
    year = _int(request.GET.get("year"), this_year, FIRST_DAY.year, LAST_DAY.year)
    ledger = ledger_cached_or_warm(config)
    directory = slack_directory.directory_current()
    table = None
    if ledger is not None and chosen is not None:
        channel_members, usergroup_members = cached_lookups()
        table = balance_table(config=config, team=chosen, year=year, ledger=ledger, directory=directory,
                              channel_members=channel_members, usergroup_members=usergroup_members)
        if table.membership_unknown:
            warm_soon()
    wants_file = "download" in request.GET
    if wants_file and table is not None and not table.membership_unknown:
        name = slugify(chosen.name) or "team"  # a header holds ASCII only; the team's name is in each row
        response = csv_response(f"balances-{name}-{year}.csv")
        csv.writer(response).writerows(balance_csv_rows(table, config))
        return response
    # A page of people at a time: a company's largest team is thousands of rows (the CSV holds them all).
    page = Paginator(table.rows if table else (), BALANCES_PER_PAGE).get_page(request.GET.get("page"))
    rows = [(row, [balance_cell(balance) for balance in row.balances]) for row in page]
    return render(request, "approvals/console/see/balances.html", {
        "page": page,
        "download_waits": wants_file,  # asked for the file while the ledger or memberships are still read
        "nav": "balances",
        "teams": [team.name for team in config.teams],
        "chosen": chosen.name if chosen else "",
        "year": year,
        "table": table,
        "rows": rows,
        "ledger": ledger,
        "ledger_error": ledger_error_cached(ledger),
        "may_adjust": request.user.has_perm(ADJUST_PERMISSION),
    })


class PersonField(PeopleField):
    """One person, by name, @handle or email; cleans to their user id."""

    multiple = False
    default_error_messages: ClassVar[dict] = {"required": "Choose a person."}

    def to_python(self, value):
        ids = super().to_python(value)
        if len(ids) > 1:
            raise forms.ValidationError("Choose one person only.")
        return ids[0] if ids else ""


class ConsoleAdjustmentForm(AdjustmentForm):
    """The admin's form, with the person chosen by name instead of a Slack id."""

    user = PersonField(label="Person", help_text="Name, @handle or email address.")


@require_http_methods(["GET", "POST"])
@staff_required
def adjust(request):
    # Staff status alone is not enough: an adjustment can take days away from anyone.
    if not request.user.has_perm(ADJUST_PERMISSION):
        return render(request, "approvals/console/see/adjust_denied.html", {"nav": "balances"}, status=403)
    config = current_config()
    initial = {"user": [request.GET["user"]]} if request.GET.get("user") else None
    form = ConsoleAdjustmentForm(request.POST or None, initial=initial, config=config)
    if request.method == "POST" and form.is_valid():
        try:
            adjustment = form.record(by=request.user.get_username())
        except AdjustmentError as error:
            # Slack may have made it and lost its answer: never "not adjusted" then.
            messages.error(request, f"{'Not confirmed' if error.maybe_recorded else 'Balance not adjusted'}: {error}.")
        else:
            leave_type = config.leave_type(adjustment.leave_type)
            messages.success(request, f"Recorded {signed_days(adjustment.days)} of "
                                      f"{leave_type.name if leave_type else adjustment.leave_type} for "
                                      f"{person_label(slack_directory.directory_cached(), adjustment.user)} "
                                      f"in {adjustment.year} ({adjustment.reason}).")
            return redirect("console:adjust")  # a reload must not post it twice
    if request.method == "POST":
        names_asked_for_if_unread()
    return render(request, "approvals/console/see/adjust.html", {
        "nav": "balances",
        "form": form,
        "leave_types_configured": bool(config.leave_types),
    })
