"""The console's configuration pages: teams, leave types, company holidays, blackouts, who may request
(issue 10, items 2 and 3).

Thin views: a Django form turns what HR typed (people, channels and user groups
by name) into the ids the database stores, a service in
`approvals.console_services` validates and saves, and a selector in
`approvals.console_config_selectors` reads. Each page needs a staff user (as
every console page) and the model's permission for what it does: `view` (or
`change`) to list, `add` to create, `change` to edit, `delete` to delete.
A staff user without it gets 403, with a page that names the permission.
"""

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from approvals import console_services, slack_directory
from approvals.config_store import current_config
from approvals.config_types import teams_that_had
from approvals.console_config_selectors import (
    blackouts_in_order,
    holidays_in_order,
    leave_types_in_order,
    public_holidays_ahead,
    past_channel_labels,
    team_dependents,
    team_setup_of,
    team_warnings,
    teams_formerly_named,
    workspace_policy_current,
    workspace_policy_view,
)
from approvals.console_forms import (
    BlackoutForm,
    HolidayForm,
    LeaveTypeForm,
    TeamForm,
    WorkspacePolicyForm,
    holiday_country_choices,
    holiday_subdivision_choices,
)
from approvals.console_see_selectors import leave_in_new_blackout, leave_on_new_company_day
from approvals.console_tasks import ledger_cached_or_warm
from approvals.console_views import console_permission, staff_required
from approvals.models import Blackout, CompanyHoliday, LeaveType, Team
from approvals.rules import format_day

TEMPLATES = "approvals/console/config/"




# --- Teams -----------------------------------------------------------------------------------


def renamed_team_text(old: str, new: str) -> str:
    """Each request in Slack names its team (the ledger's `team`), and those already there keep the old
    name; the team keeps that name too (`past_names`), so they stay its leave: said at the rename, so that
    HR need not wonder whether the team's past leave was lost."""
    return (f"Renamed from {old}. Requests already in Slack under the name {old} still count as {new}'s: "
            f"Who's out, the digests, nudges and the most-people-out limit include them.")


def name_taken_over_text(name: str, others: list[str]) -> str:
    """A name another team had before: the requests recorded under it are the team's that uses it now."""
    return (f"{' and '.join(others)} used to be called {name}: the requests in Slack recorded under {name} "
            f"now count as this team's.")


def _team_page(request, *, team: Team | None):
    directory = slack_directory.directory_current()
    if request.method == "POST":
        named = team.name if team is not None else None  # the form's cleaning writes the new one into `team`
        form = TeamForm(request.POST, instance=team or Team())
        if "_refresh" in request.POST:
            # Without JavaScript, "Show its states and regions" re-renders the form with the
            # chosen country's subdivisions: nothing is checked or saved yet.
            form.redisplay_unchecked()
        elif form.is_valid():
            try:
                if team is None:
                    saved = console_services.team_create(**form.saved_fields())
                else:
                    saved = console_services.team_update(team_id=team.pk, version=form.version(),
                                                         **form.saved_fields())
            except console_services.TeamNotFound:
                messages.error(request, "That team no longer exists.")
                return redirect("console:home")
            except console_services.ConfigRowChanged as changed:
                form.stale("team", changed.version)
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                warnings = team_warnings(team_setup_of(saved), directory=directory, private_types=private_types())
                messages.success(request, f"{saved.name} saved." + (" Check the warnings below." if warnings else ""))
                if named is not None and named != saved.name:
                    messages.info(request, renamed_team_text(named, saved.name))
                if named != saved.name and (others := teams_formerly_named(saved.name, other_than=saved.pk)):
                    messages.warning(request, name_taken_over_text(saved.name, others))
                if request.user.has_perm("approvals.change_team"):
                    return redirect("console:team_edit", team_id=saved.pk)
                return redirect("console:home")
    else:
        form = TeamForm(instance=team)
    form.warnings = team_warnings(team_setup_of(form.instance), directory=directory, private_types=private_types())
    return render(request, TEMPLATES + "team_form.html", {
        "nav": "teams",
        "form": form,
        "team": team,
        "past_channels": past_channel_labels(team, directory=directory) if team else [],
        "past_names": team.past_names if team else [],
        "directory": directory,
        "directory_error": slack_directory.directory_error_cached(),
    })


@require_http_methods(["GET", "POST"])
@console_permission("approvals.add_team")
def team_add(request):
    return _team_page(request, team=None)


@require_http_methods(["GET", "POST"])
@console_permission("approvals.change_team")
def team_edit(request, team_id: int):
    return _team_page(request, team=get_object_or_404(Team, pk=team_id))


@require_http_methods(["GET", "POST"])
@console_permission("approvals.delete_team")
def team_delete(request, team_id: int):
    team = get_object_or_404(Team, pk=team_id)
    others = list(Team.objects.exclude(pk=team.pk))
    if request.method == "POST":
        merge_into = request.POST.get("merge_into", "")
        into = next((other for other in others if str(other.pk) == merge_into), None)
        if merge_into == str(team.pk):  # not offered by the page: a hand-made form
            messages.error(request, "A team cannot take over its own leave; choose another team, or none.")
            return redirect("console:team_delete", team_id=team.pk)
        if merge_into and into is None:
            messages.error(request, "The team chosen to take over its leave no longer exists; choose again.")
            return redirect("console:team_delete", team_id=team.pk)
        try:
            name = console_services.team_delete(team_id=team.pk, merge_into=into.pk if into else None)
        except console_services.TeamNotFound:
            if into is not None and Team.objects.filter(pk=team.pk).exists():  # the other was deleted meanwhile
                messages.error(request, "The team chosen to take over its leave no longer exists; choose again.")
                return redirect("console:team_delete", team_id=team.pk)
            messages.error(request, "That team no longer exists.")
        else:
            messages.success(request, f"{name} deleted." if into is None else
                             f"{name} deleted; its leave now counts as {into.name}'s.")
        return redirect("console:home")
    return render(request, TEMPLATES + "confirm_delete.html", {
        "nav": "teams",
        "what": f"the team {team.name}",
        "cancel_url": reverse("console:team_edit", args=[team.pk]),
        "consequences": _team_delete_consequences(team),
        "merge_choices": others,
    })


def _team_delete_consequences(team: Team) -> list[str]:
    dependents = team_dependents(team)
    consequences = ["Its members will belong to the next team that matches them, or to the default team.",
                    "Requests already made stay in Slack, in its approvals channel, which is still read: its "
                    "people's leave still counts, and its pending requests are HR's (the fallback approvers') to "
                    "decide."]
    if heirs := teams_that_had(team.name, Team.objects.exclude(pk=team.pk).order_by("position", "name")):
        # team_recorded_as: once no team is called so, the requests under the name are the team's that had it.
        consequences[1] = (f"Requests already made stay in Slack, in its approvals channel, which is still read: "
                           f"they count as {heirs[0].name}'s, which was called {team.name} before, and its "
                           f"approvers decide its pending requests (unless its people join another team below).")
    if dependents["holidays"] or dependents["blackouts"]:
        consequences.append(f"Its own {dependents['holidays']} company holiday(s) and {dependents['blackouts']} "
                            "blackout(s) are deleted with it.")
    return consequences


@require_GET
@staff_required
def holiday_subdivisions(request):
    """A country's states and regions for the team form's select (console.js), as JSON."""
    choices = holiday_subdivision_choices(request.GET.get("country", ""))  # none for an unknown country
    return JsonResponse({"subdivisions": [{"value": code, "label": label} for code, label in choices]})


# --- Leave types, company holidays, blackouts: list, add, edit, delete -----------------------


@dataclass(frozen=True)
class Editable:
    """How the console edits one kind of configuration row."""

    model: type
    form: type
    noun: str  # "leave type"
    list_url: str  # URL name of the page that lists them
    nav: str
    create: Any
    update: Any  # update(<id_keyword>=pk, **fields)
    delete: Any  # delete(<id_keyword>=pk) -> label
    id_keyword: str
    url_prefix: str  # console:<prefix>_edit / _delete
    label: Any = str  # how a saved row is named in the message
    after_save: Any = None  # after_save(request, saved row): more to tell HR

    def perm(self, action: str) -> str:
        return f"approvals.{action}_{self.model._meta.model_name}"


LEAVE_TYPES = Editable(LeaveType, LeaveTypeForm, "leave type", "console:leave_types", "leave_types",
                       console_services.leave_type_create, console_services.leave_type_update,
                       console_services.leave_type_delete, "leave_type_id", "leave_type",
                       label=lambda leave_type: leave_type.name)


def _tell_who_has_leave_then(request, holiday: CompanyHoliday) -> None:
    """A company day added over leave already asked for: the requests keep the days counted when they were
    sent, so HR hears whose they are, to give the day back with an adjustment if that is the policy."""
    _name_people_with_leave(
        request, lambda config, ledger, directory: leave_on_new_company_day(
            config=config, ledger=ledger, day=holiday.date, team_name=holiday.team.name if holiday.team else None,
            directory=directory),
        unknown="Who has leave on that day", where=f"on {format_day(holiday.date, with_year=True)}",
        advice="Their requests keep the days counted when they were sent; to give the day back, record an "
               "adjustment of 1 day (0.5 for a half day) for each on the Balances page.")


def _tell_who_has_leave_in_blackout(request, blackout: Blackout) -> None:
    """A blackout added over leave already asked for: it refuses new requests only, so HR hears whose leave
    stands inside it (to approve, reject or talk to them)."""
    _name_people_with_leave(
        request, lambda config, ledger, directory: leave_in_new_blackout(
            config=config, ledger=ledger, start=blackout.start, end=blackout.end,
            team_name=blackout.team.name if blackout.team else None, directory=directory),
        unknown="Whose leave falls in the blackout", where="in the blackout",
        advice="A blackout refuses new requests only: their leave stands, and pending requests can still be "
               "approved or rejected.")


def _name_people_with_leave(request, find, *, unknown: str, where: str, advice: str) -> None:
    """After a company day or blackout is saved: whose leave already asked for it meets (`find(config,
    ledger, directory)`, names), at most ten by name, and what HR may do (`advice`)."""
    config = current_config()
    ledger = ledger_cached_or_warm(config)
    if ledger is None:
        messages.info(request, f"{unknown} is not known yet (the ledger is being read): see Who's out in a moment.")
        return
    people = find(config, ledger, slack_directory.directory_current())
    if not people:
        return
    shown = ", ".join(people[:10]) + (f" and {len(people) - 10} more" if len(people) > 10 else "")
    messages.warning(request, f"{len(people)} {'person has' if len(people) == 1 else 'people have'} leave "
                              f"{where}: {shown}. {advice}")


def private_types() -> bool:
    return any(leave_type.private for leave_type in current_config().leave_types)


HOLIDAYS = Editable(CompanyHoliday, HolidayForm, "company holiday", "console:holidays", "holidays",
                    console_services.holiday_create, console_services.holiday_update,
                    console_services.holiday_delete, "holiday_id", "holiday",
                    after_save=_tell_who_has_leave_then)
BLACKOUTS = Editable(Blackout, BlackoutForm, "blackout", "console:holidays", "holidays",
                     console_services.blackout_create, console_services.blackout_update,
                     console_services.blackout_delete, "blackout_id", "blackout",
                     after_save=_tell_who_has_leave_in_blackout)


def _form_page(request, editable: Editable, row=None):
    if request.method == "POST":
        form = editable.form(request.POST, instance=row or editable.model())
        if form.is_valid():
            try:
                if row is None:
                    saved = editable.create(**form.saved_fields())
                else:
                    saved = editable.update(**{editable.id_keyword: row.pk}, version=form.version(),
                                            **form.saved_fields())
            except console_services.ConfigRowNotFound:
                messages.error(request, f"That {editable.noun} no longer exists.")
                return redirect(editable.list_url)
            except console_services.ConfigRowChanged as changed:
                form.stale(editable.noun, changed.version)
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, f"{editable.label(saved)} saved.")
                if editable.after_save:
                    editable.after_save(request, saved)
                return redirect(editable.list_url)
    else:
        form = editable.form(instance=row)
    return render(request, TEMPLATES + "form.html", {
        "nav": editable.nav,
        "form": form,
        "title": f"Edit {editable.noun}" if row else f"Add a {editable.noun}",
        "row": row,
        "cancel_url": reverse(editable.list_url),
        "delete_url": reverse(f"console:{editable.url_prefix}_delete", args=[row.pk])
        if row and request.user.has_perm(editable.perm("delete")) else None,
    })


def _delete_page(request, editable: Editable, row, consequences: list[str]):
    if request.method == "POST":
        try:
            label = editable.delete(**{editable.id_keyword: row.pk})
        except console_services.ConfigRowNotFound:
            messages.error(request, f"That {editable.noun} no longer exists.")
        else:
            messages.success(request, f"{label} deleted.")
        return redirect(editable.list_url)
    return render(request, TEMPLATES + "confirm_delete.html", {
        "nav": editable.nav,
        "what": f"the {editable.noun} {row}",
        "cancel_url": reverse(editable.list_url),
        "consequences": consequences,
    })


def _crud_views(editable: Editable, consequences=lambda row: []):
    """add, edit and delete views for `editable`, each behind its own permission."""

    @require_http_methods(["GET", "POST"])
    @console_permission(editable.perm("add"))
    def add(request):
        return _form_page(request, editable)

    @require_http_methods(["GET", "POST"])
    @console_permission(editable.perm("change"))
    def edit(request, pk: int):
        return _form_page(request, editable, get_object_or_404(editable.model, pk=pk))

    @require_http_methods(["GET", "POST"])
    @console_permission(editable.perm("delete"))
    def delete(request, pk: int):
        row = get_object_or_404(editable.model, pk=pk)
        return _delete_page(request, editable, row, consequences(row))

    return add, edit, delete


leave_type_add, leave_type_edit, leave_type_delete = _crud_views(LEAVE_TYPES, lambda leave_type: [
    (f"Requests already made with the code {leave_type.code} stay in Slack, but no longer count towards a "
    "balance, and nobody can request this type any more.")])
holiday_add, holiday_edit, holiday_delete = _crud_views(HOLIDAYS)
blackout_add, blackout_edit, blackout_delete = _crud_views(BLACKOUTS)


@require_GET
@console_permission("approvals.view_leavetype", "approvals.change_leavetype", any_of=True)
def leave_types(request):
    return render(request, TEMPLATES + "leave_types.html", {"nav": "leave_types",
                                                           "leave_types": leave_types_in_order()})


@require_GET
@console_permission("approvals.view_companyholiday", "approvals.change_companyholiday",
                    "approvals.view_blackout", "approvals.change_blackout", any_of=True)
def holidays_and_blackouts(request):
    user = request.user
    can_see_holidays = user.has_perm("approvals.view_companyholiday") or user.has_perm(
        "approvals.change_companyholiday")
    can_see_blackouts = user.has_perm("approvals.view_blackout") or user.has_perm("approvals.change_blackout")
    calendars, no_public_holidays = public_holidays_ahead(current_config(), today=timezone.localdate())
    return render(request, TEMPLATES + "holidays.html", {
        "nav": "holidays",
        "holidays": holidays_in_order() if can_see_holidays else None,
        "blackouts": blackouts_in_order() if can_see_blackouts else None,
        "public_holidays": [(calendar_label(c.country, c.subdivision), c) for c in calendars],
        "no_public_holidays": no_public_holidays,
    })


def calendar_label(country: str, subdivision: str) -> str:
    """"United States (US), California (CA)", as the team form names them."""
    label = dict(holiday_country_choices()).get(country, country)
    if subdivision:
        label += ", " + dict(holiday_subdivision_choices(country)).get(subdivision, subdivision)
    return label


# --- Who may request, fallback approvers ----------------------------------------------------


@require_http_methods(["GET", "POST"])
@console_permission("approvals.change_workspacepolicy")
def policy(request):
    directory = slack_directory.directory_current()
    current = workspace_policy_current()
    if request.method == "POST":
        form = WorkspacePolicyForm(request.POST, instance=current)
        if form.is_valid():
            try:
                console_services.workspace_policy_update(version=form.version(), **form.saved_fields())
            except console_services.ConfigRowChanged as changed:
                form.stale("policy", changed.version)
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, "Who may request and the fallback approvers saved.")
                return redirect("console:policy")
    else:
        form = WorkspacePolicyForm(instance=current)
    form.warnings = {} if current.fallback_approvers else {
        "fallback_approvers": [("Nobody decides for a team that has no other approver (an approver's own leave, "
                               "say): such requests wait.")]}
    return render(request, TEMPLATES + "policy.html", {
        "nav": "policy",
        "form": form,
        "summary": workspace_policy_view(workspace_policy_current(), directory=directory),
    })
