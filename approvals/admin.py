"""Django admin for the configuration: what HR edits in the browser.

Lists of Slack ids are edited as text ("U01ABC, U02DEF"), lists of names one a
line, each malformed id or name reported on its own. Saving anything here
invalidates the cached configuration snapshot through the receivers in
`approvals.config_store`.
"""

import re

from django import forms
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import ValidationError
from django.utils.text import capfirst
from django_tasks_db.admin import DBTaskResultAdmin
from django_tasks_db.models import DBTaskResult

from approvals import config_fields
from approvals.config_fields import Invalid, SlackIdKind
from approvals.config_store import past_after_change, team_name_refusal
from approvals.models import Blackout, CompanyHoliday, DeliveryProblem, LeaveType, Team, WorkspacePolicy
from approvals.sign_in_throttle import AdminSignInForm

WEEKDAY_CHOICES = list(enumerate(("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")))


class SlackIdListField(forms.Field):
    """A list of Slack ids typed as comma- or space-separated text: "U01ABC, U02DEF" -> ["U01ABC", "U02DEF"]."""

    widget = forms.TextInput

    def __init__(self, *, kind: SlackIdKind, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.TextInput(attrs={"size": 80}))
        super().__init__(**kwargs)
        self.ids = config_fields.SlackIds(ids=kind)

    def prepare_value(self, value):
        if isinstance(value, (list, tuple)):
            return ", ".join(str(item) for item in value)
        return value

    def to_python(self, value) -> list[str]:
        if isinstance(value, (list, tuple)):
            return list(value)
        if not value:
            return []
        return [item for item in re.split(r"[\s,]+", value) if item]

    def validate(self, value):
        super().validate(value)
        try:
            self.ids.read(value)  # the file's check, each malformed id reported on its own
        except Invalid as invalid:
            raise ValidationError([f"{message}." for _, message in invalid.problems]) from None


class NameListField(forms.Field):
    """A list of names typed one a line (a name may hold commas and spaces: "R&D, Europe")."""

    def __init__(self, *, kind: config_fields.Names, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 3, "cols": 60}))
        super().__init__(**kwargs)
        self.kind = kind

    def prepare_value(self, value):
        if isinstance(value, (list, tuple)):
            return "\n".join(str(item) for item in value)
        return value

    def to_python(self, value) -> list[str]:
        if isinstance(value, (list, tuple)):
            return list(value)
        return [line.strip() for line in (value or "").splitlines() if line.strip()]

    def validate(self, value):
        super().validate(value)
        try:
            self.kind.read(value)  # the file's check, each bad name reported on its own
        except Invalid as invalid:
            # "[2]: must not be empty" in the file is the third line here.
            raise ValidationError([f"Line {int(under.strip('[]')) + 1}: {message}." if under else f"{message}."
                                   for under, message in invalid.problems]) from None


class WeekdaysField(forms.TypedMultipleChoiceField):
    """Working weekdays as checkboxes, stored sorted."""

    def __init__(self, **kwargs):
        super().__init__(choices=WEEKDAY_CHOICES, coerce=int, widget=forms.CheckboxSelectMultiple, **kwargs)

    def clean(self, value):
        return sorted(super().clean(value))


class DateDrillDownChecked:
    """A ModelAdmin whose date_hierarchy takes any year in its address: Django computes the end of the
    year (or month, or day) asked for outside its own checks, so `?date__year=9999` raised ValueError
    or OverflowError (a 500). It is a bad lookup like any other: Django sends the page back with `?e=1`."""

    def get_changelist_instance(self, request):
        try:
            return super().get_changelist_instance(request)
        except (ValueError, OverflowError) as error:
            raise IncorrectLookupParameters(error) from error


class ConfigAdmin(DateDrillDownChecked, admin.ModelAdmin):
    """The form field for each configuration field follows from its kind (approvals/config_types.py)."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        kind = config_fields.model_kinds(self.model.config_type).get(db_field.name)
        options = {"label": capfirst(db_field.verbose_name), "help_text": db_field.help_text}
        if isinstance(kind, config_fields.SlackIds):
            return SlackIdListField(kind=kind.ids, **options)
        if isinstance(kind, config_fields.Names):
            return NameListField(kind=kind, **options)
        if isinstance(kind, config_fields.Weekdays):
            return WeekdaysField(required=not db_field.blank, **options)
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class TeamForm(forms.ModelForm):
    class Meta:
        model = Team
        fields = "__all__"

    def clean(self):
        cleaned_data = super().clean()
        # Requests already posted live in the old approvals channel, and name the team by its old
        # name: keep reading that channel, and keep counting those requests as this team's (DESIGN
        # §4, §5). Done here, before the model is validated and saved, so the resulting list is
        # checked like any other value.
        for field, history in (("approvals_channel", "past_approvals_channels"), ("name", "past_names")):
            if (
                self.instance.pk is not None
                and field in self.changed_data
                and field in cleaned_data
                and history in cleaned_data
            ):
                cleaned_data[history] = past_after_change(
                    past=cleaned_data[history], old=self.initial[field], new=cleaned_data[field]
                )
        # As in the console: not renamed to a name another team had, nor swapping names with another team.
        if {"name", "past_names"} & set(self.changed_data) and "name" in cleaned_data and "past_names" in cleaned_data:
            refusal = team_name_refusal(team_id=self.instance.pk, name=cleaned_data["name"],
                                        old_name=self.initial.get("name") if self.instance.pk else None,
                                        past_names=cleaned_data["past_names"])
            if refusal:
                self.add_error("name", f"{refusal}.")
        return cleaned_data


class CompanyHolidayInline(admin.TabularInline):
    model = CompanyHoliday
    extra = 0
    fields = ("date", "name")


class BlackoutInline(admin.TabularInline):
    model = Blackout
    extra = 0
    fields = ("start", "end", "reason")


@admin.register(WorkspacePolicy)
class WorkspacePolicyAdmin(ConfigAdmin):
    list_display = ("__str__", "requesters", "fallback")

    @admin.display(description="Who may request")
    def requesters(self, policy):
        parts = [*policy.requesters_users, *([policy.requesters_channel] if policy.requesters_channel else [])]
        return ", ".join(parts) or "Everyone"

    @admin.display(description="Fallback approvers")
    def fallback(self, policy):
        return ", ".join(policy.fallback_approvers) or "None"

    # One row only: it can be edited, never added twice or deleted.
    def has_add_permission(self, request):
        return super().has_add_permission(request) and not WorkspacePolicy.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Team)
class TeamAdmin(ConfigAdmin):
    form = TeamForm
    list_display = (
        "name",
        "position",
        "approvals_channel",
        "approvers",
        "announce_channel",
        "is_default",
        "timezone",
        "max_out",
    )
    list_display_links = ("name",)
    # Teams are matched in position order; HR reorders them from the list.
    list_editable = ("position",)
    list_filter = ("is_default", "holiday_country", "timezone")
    search_fields = (
        "name",
        "approvals_channel",
        "members_channel",
        "approvers_channel",
        "members_users",
        "approvers_users",
    )
    ordering = ("position", "name")
    inlines = (CompanyHolidayInline, BlackoutInline)
    fieldsets = (
        (None, {"fields": ("name", "past_names", "position", "is_default")}),
        ("Members", {"fields": ("members_users", "members_channel", "members_usergroup")}),
        ("Approvers", {"fields": ("approvers_users", "approvers_channel")}),
        ("Channels", {"fields": ("approvals_channel", "announce_channel", "past_approvals_channels")}),
        (
            "Calendar and reminders",
            {
                "fields": (
                    "workweek",
                    "timezone",
                    "holiday_country",
                    "holiday_subdivision",
                    "max_out",
                    "digest_time",
                    "nudge_after_hours",
                )
            },
        ),
    )

    def get_fieldsets(self, request, obj=None):
        # A field added to the team but not placed in a section above still shows, last.
        fieldsets = super().get_fieldsets(request, obj)
        placed = set(flatten_fieldsets(fieldsets))
        unplaced = [name for name in config_fields.model_kinds(Team.config_type) if name not in placed]
        return (*fieldsets, ("More", {"fields": unplaced})) if unplaced else fieldsets

    @admin.display(description="Approvers")
    def approvers(self, team):
        return ", ".join([*team.approvers_users, *([team.approvers_channel] if team.approvers_channel else [])])


@admin.register(LeaveType)
class LeaveTypeAdmin(ConfigAdmin):
    list_display = (
        "code",
        "name",
        "emoji",
        "position",
        "requires_approval",
        "annual_allowance_days",
        "allow_half_days",
        "max_consecutive_days",
        "private",
        "allow_past_days",
    )
    list_display_links = ("code",)
    list_editable = ("position",)
    list_filter = ("requires_approval", "allow_half_days", "private")
    search_fields = ("code", "name")
    ordering = ("position", "code")


@admin.register(CompanyHoliday)
class CompanyHolidayAdmin(ConfigAdmin):
    list_display = ("date", "name", "scope")
    list_filter = ("team",)
    list_select_related = ("team",)
    search_fields = ("name", "team__name")
    date_hierarchy = "date"
    ordering = ("date", "name")

    @admin.display(description="Team", ordering="team__name")
    def scope(self, holiday):
        return holiday.team.name if holiday.team else "All teams"


@admin.register(Blackout)
class BlackoutAdmin(ConfigAdmin):
    list_display = ("start", "end", "scope", "reason")
    list_filter = ("team",)
    list_select_related = ("team",)
    search_fields = ("reason", "team__name")
    date_hierarchy = "start"
    ordering = ("start", "end")

    @admin.display(description="Team", ordering="team__name")
    def scope(self, blackout):
        return blackout.team.name if blackout.team else "All teams"


@admin.register(DeliveryProblem)
class DeliveryProblemAdmin(DateDrillDownChecked, admin.ModelAdmin):
    """Requests Slack refused to deliver, newest first: written by the delivery task, read by HR.

    Read-only: the record is what happened. HR may delete a row once the setup is fixed.
    """

    list_display = ("created_at", "user", "team", "channel", "error", "summary", "resolved_at", "resolved_by")
    list_filter = ("error", "team", ("resolved_at", admin.EmptyFieldListFilter))
    search_fields = ("user", "request_id", "channel", "summary")
    date_hierarchy = "created_at"
    readonly_fields = ("created_at", "request_id", "user", "team", "channel", "error", "summary", "undelivered",
                       "resolved_at", "resolved_by")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# The console is HR's, not a developer's: name it after the product.
admin.site.site_header = "Time off — HR console"
admin.site.site_title = "Time off"
admin.site.index_title = "Teams, approvers, leave types and balances"
admin.site.login_form = AdminSignInForm  # wrong passwords are throttled per account (approvals.sign_in_throttle)

import approvals.admin_adjustments  # noqa: E402,F401  the "Adjust a balance" admin page


class TaskResultAdmin(DBTaskResultAdmin):
    """django-tasks-db's page of the task queue, for whoever watches it. A task's arguments and result
    carry what it works on (a delivery: the request, its note and its type, private ones too): shown only
    to those who may read everyone's leave records, as the console's Balances and Ledger CSV."""

    LEAVE_FIELDS = ("args_kwargs", "return_value")

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        if request.user.has_perm("approvals.view_leave_records"):
            return fields
        return [field for field in fields if field not in self.LEAVE_FIELDS]


admin.site.unregister(DBTaskResult)  # registered by importing django_tasks_db.admin above
admin.site.register(DBTaskResult, TaskResultAdmin)
