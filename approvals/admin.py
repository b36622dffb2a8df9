"""Django admin for the configuration: what HR edits in the browser.

Lists of Slack ids are edited as text ("U01ABC, U02DEF"), each malformed id
reported on its own. Saving anything here invalidates the cached configuration
snapshot through the receivers in `approvals.config_store`.
"""

import re

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from approvals.config_file import CHANNEL, USER, SlackIdKind
from approvals.config_store import past_approvals_channels_after_change
from approvals.models import Blackout, CompanyHoliday, DeliveryProblem, LeaveType, Team, WorkspacePolicy

WEEKDAY_CHOICES = [
    (0, "Monday"),
    (1, "Tuesday"),
    (2, "Wednesday"),
    (3, "Thursday"),
    (4, "Friday"),
    (5, "Saturday"),
    (6, "Sunday"),
]


class SlackIdListField(forms.Field):
    """A list of Slack ids typed as comma- or space-separated text: "U01ABC, U02DEF" -> ["U01ABC", "U02DEF"]."""

    widget = forms.TextInput

    def __init__(self, *, kind: SlackIdKind, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.TextInput(attrs={"size": 80}))
        super().__init__(**kwargs)
        self.kind = kind

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
        errors = []
        seen = set()
        for item in value:
            message = self.kind.error(item)
            if message:
                errors.append(ValidationError(f"'{item}' {message}.", code="invalid_slack_id"))
            elif item in seen:
                errors.append(ValidationError(f"'{item}' is listed twice.", code="duplicate_slack_id"))
            seen.add(item)
        if errors:
            raise ValidationError(errors)


class WorkspacePolicyForm(forms.ModelForm):
    requesters_users = SlackIdListField(
        kind=USER, help_text=WorkspacePolicy._meta.get_field("requesters_users").help_text
    )
    fallback_approvers = SlackIdListField(
        kind=USER, help_text=WorkspacePolicy._meta.get_field("fallback_approvers").help_text
    )

    class Meta:
        model = WorkspacePolicy
        fields = ("requesters_users", "requesters_channel", "fallback_approvers")


class TeamForm(forms.ModelForm):
    members_users = SlackIdListField(kind=USER, help_text=Team._meta.get_field("members_users").help_text)
    approvers_users = SlackIdListField(kind=USER, help_text=Team._meta.get_field("approvers_users").help_text)
    past_approvals_channels = SlackIdListField(
        kind=CHANNEL, help_text=Team._meta.get_field("past_approvals_channels").help_text
    )
    workweek = forms.TypedMultipleChoiceField(
        choices=WEEKDAY_CHOICES, coerce=int, widget=forms.CheckboxSelectMultiple, help_text="Working weekdays."
    )

    class Meta:
        model = Team
        fields = "__all__"

    def clean_workweek(self):
        return sorted(self.cleaned_data["workweek"])

    def clean(self):
        cleaned_data = super().clean()
        # Requests already posted live in the old approvals channel: keep reading
        # it (DESIGN §4). Done here, before the model is validated and saved, so
        # the resulting list is checked like any other value.
        if (
            self.instance.pk is not None
            and "approvals_channel" in self.changed_data
            and "approvals_channel" in cleaned_data
            and "past_approvals_channels" in cleaned_data
        ):
            cleaned_data["past_approvals_channels"] = past_approvals_channels_after_change(
                past=cleaned_data["past_approvals_channels"],
                old=self.initial["approvals_channel"],
                new=cleaned_data["approvals_channel"],
            )
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
class WorkspacePolicyAdmin(admin.ModelAdmin):
    form = WorkspacePolicyForm
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
class TeamAdmin(admin.ModelAdmin):
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
        (None, {"fields": ("name", "position", "is_default")}),
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

    @admin.display(description="Approvers")
    def approvers(self, team):
        return ", ".join([*team.approvers_users, *([team.approvers_channel] if team.approvers_channel else [])])


@admin.register(LeaveType)
class LeaveTypeAdmin(admin.ModelAdmin):
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
class CompanyHolidayAdmin(admin.ModelAdmin):
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
class BlackoutAdmin(admin.ModelAdmin):
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
class DeliveryProblemAdmin(admin.ModelAdmin):
    """Requests Slack refused to deliver, newest first: written by the delivery task, read by HR.

    Read-only: the record is what happened. HR may delete a row once the setup is fixed.
    """

    list_display = ("created_at", "user", "team", "channel", "error", "summary")
    list_filter = ("error", "team")
    search_fields = ("user", "request_id", "channel", "summary")
    date_hierarchy = "created_at"
    readonly_fields = ("created_at", "request_id", "user", "team", "channel", "error", "summary")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# The console is HR's, not a developer's: name it after the product.
admin.site.site_header = "Time off — HR console"
admin.site.site_title = "Time off"
admin.site.index_title = "Teams, approvers, leave types and balances"

import approvals.admin_adjustments  # noqa: E402,F401  the "Adjust a balance" admin page
