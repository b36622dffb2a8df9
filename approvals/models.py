"""Configuration models: what HR edits in the admin and what `import_config` replaces.

The database stores configuration only (DESIGN §2); leave requests live in
Slack. These tables mirror the configuration file of DESIGN §4, and the Slack
path never reads them directly: it reads the `WorkspaceConfig` snapshot that
`approvals.config_store.current_config()` keeps in the shared cache.

Every value is checked by the same functions that check the file
(`approvals.config_file`), so the admin and `import_config` accept exactly the
same configurations. Lists of Slack ids are JSON lists of strings; "no channel"
is stored as an empty string, as Django does for text.
"""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from approvals import config_file
from approvals.config_file import CHANNEL, USER, USERGROUP, SlackIdKind
from approvals.config_types import MONDAY_TO_FRIDAY

SLACK_ID_LENGTH = config_file.SLACK_ID_MAX_LENGTH


def default_workweek() -> list[int]:
    return list(MONDAY_TO_FRIDAY)


def _check_slack_id(errors: dict, field: str, value: str, kind: SlackIdKind) -> None:
    if value:
        message = kind.error(value)
        if message:
            errors[field] = f"'{value}' {message}."


def _check_slack_ids(errors: dict, field: str, values, kind: SlackIdKind) -> None:
    messages = config_file.slack_id_list_errors(values, kind)
    if messages:
        errors[field] = [f"{message}." for message in messages]


def _check(errors: dict, field: str, message: str | None) -> None:
    if message:
        errors[field] = f"{message[0].upper()}{message[1:]}."


class WorkspacePolicy(models.Model):
    """Who may request leave and who decides when a team has no other approver. One row (id 1)."""

    SINGLETON_ID = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_ID, editable=False)
    requesters_users = models.JSONField(
        default=list,
        blank=True,
        help_text="Slack user ids allowed to request leave. Empty, with no channel: everyone may.",
    )
    requesters_channel = models.CharField(
        max_length=SLACK_ID_LENGTH, blank=True, help_text="Members of this channel may request leave."
    )
    fallback_approvers = models.JSONField(
        default=list,
        blank=True,
        help_text="Slack user ids who decide when nobody else can (e.g. an approver's own leave).",
    )

    class Meta:
        verbose_name = "workspace policy"
        verbose_name_plural = "workspace policy"
        constraints = [models.CheckConstraint(condition=Q(id=1), name="workspace_policy_singleton")]

    def __str__(self):
        return "Workspace policy"

    def clean(self):
        errors = {}
        _check_slack_ids(errors, "requesters_users", self.requesters_users, USER)
        _check_slack_id(errors, "requesters_channel", self.requesters_channel, CHANNEL)
        _check_slack_ids(errors, "fallback_approvers", self.fallback_approvers, USER)
        if errors:
            raise ValidationError(errors)


class Team(models.Model):
    """A group of people with its approvers, channels, holidays and working week.

    Teams are matched in `position` order: a user belongs to the first team whose
    members include them, else to the default team.
    """

    name = models.CharField(max_length=config_file.NAME_MAX_LENGTH, unique=True)
    position = models.PositiveIntegerField(default=0, help_text="Teams are matched in this order, lowest first.")

    members_users = models.JSONField(default=list, blank=True, help_text="Slack user ids of members.")
    members_channel = models.CharField(
        max_length=SLACK_ID_LENGTH, blank=True, help_text="Everyone in this channel is a member."
    )
    members_usergroup = models.CharField(
        max_length=SLACK_ID_LENGTH, blank=True, help_text="Everyone in this user group (S…) is a member."
    )
    approvers_users = models.JSONField(default=list, blank=True, help_text="Slack user ids of approvers.")
    approvers_channel = models.CharField(
        max_length=SLACK_ID_LENGTH, blank=True, help_text="Everyone in this channel approves."
    )

    approvals_channel = models.CharField(
        max_length=SLACK_ID_LENGTH, help_text="Requests are posted here; this channel is the team's leave ledger."
    )
    announce_channel = models.CharField(
        max_length=SLACK_ID_LENGTH, blank=True, help_text="Approved leave is announced here. Empty: no announcements."
    )
    is_default = models.BooleanField(
        "default team", default=False, help_text="People who match no team belong to this one. At most one team."
    )
    max_out = models.PositiveIntegerField(
        null=True, blank=True, help_text="Most people out on the same day. Empty: no limit."
    )
    holiday_country = models.CharField(
        max_length=8, blank=True, help_text="Public holidays of this country (ISO code, e.g. US). Empty: none."
    )
    holiday_subdivision = models.CharField(
        max_length=16, blank=True, help_text="State or region for public holidays (e.g. CA). Empty: national only."
    )
    workweek = models.JSONField(
        default=default_workweek, help_text="Working weekdays: 0 = Monday … 6 = Sunday."
    )
    timezone = models.CharField(max_length=64, default="UTC", help_text="IANA time zone, e.g. Europe/Paris.")
    digest_time = models.TimeField(
        null=True, blank=True, help_text="Local time of the daily who's-out digest. Empty: no digest."
    )
    nudge_after_hours = models.PositiveIntegerField(
        null=True, blank=True, help_text="Remind approvers of requests pending this long. Empty: no reminders."
    )
    past_approvals_channels = models.JSONField(
        default=list,
        blank=True,
        help_text="Earlier approvals channels. Their history still counts towards balances.",
    )

    class Meta:
        ordering = ("position", "name")
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=Q(is_default=True),
                name="team_at_most_one_default",
                violation_error_message="Another team is already the default team.",
            )
        ]

    def __str__(self):
        return self.name

    def clean(self):
        errors = {}
        _check(errors, "name", config_file.name_error(self.name))
        _check_slack_ids(errors, "members_users", self.members_users, USER)
        _check_slack_id(errors, "members_channel", self.members_channel, CHANNEL)
        _check_slack_id(errors, "members_usergroup", self.members_usergroup, USERGROUP)
        _check_slack_ids(errors, "approvers_users", self.approvers_users, USER)
        _check_slack_id(errors, "approvers_channel", self.approvers_channel, CHANNEL)
        _check_slack_id(errors, "approvals_channel", self.approvals_channel, CHANNEL)
        _check_slack_id(errors, "announce_channel", self.announce_channel, CHANNEL)
        _check_slack_ids(errors, "past_approvals_channels", self.past_approvals_channels, CHANNEL)
        if not self.approvers_users and not self.approvers_channel and "approvers_users" not in errors:
            errors["approvers_users"] = "A team needs at least one approver: list users or set an approvers channel."

        if self.is_default:
            other = Team.objects.filter(is_default=True).exclude(pk=self.pk).first()
            if other is not None:
                errors["is_default"] = f"Only one team may be the default; {other.name} already is."

        if self.holiday_country:
            _check(errors, "holiday_country", config_file.holiday_country_error(self.holiday_country))
            if self.holiday_subdivision and "holiday_country" not in errors:
                _check(
                    errors,
                    "holiday_subdivision",
                    config_file.holiday_subdivision_error(self.holiday_country, self.holiday_subdivision),
                )
        elif self.holiday_subdivision:
            errors["holiday_subdivision"] = "Set a country as well, or leave the subdivision empty."

        _check(errors, "workweek", config_file.workweek_error(self.workweek))
        _check(errors, "timezone", config_file.timezone_error(self.timezone))
        if self.max_out is not None:
            _check(errors, "max_out", config_file.integer_range_error(self.max_out, 1, config_file.MAX_OUT_LIMIT))
        if self.nudge_after_hours is not None:
            _check(
                errors,
                "nudge_after_hours",
                config_file.integer_range_error(self.nudge_after_hours, 1, config_file.NUDGE_HOURS_LIMIT),
            )
        if errors:
            raise ValidationError(errors)


class LeaveType(models.Model):
    """A kind of leave (vacation, sick, ...). `code` is what the ledger records, so keep it stable."""

    code = models.SlugField(
        max_length=config_file.CODE_MAX_LENGTH,
        unique=True,
        help_text="Short lowercase code stored in every request (e.g. vacation). Changing it orphans history.",
    )
    name = models.CharField(max_length=config_file.NAME_MAX_LENGTH)
    emoji = models.CharField(max_length=config_file.EMOJI_MAX_LENGTH, blank=True, help_text="e.g. :palm_tree:")
    requires_approval = models.BooleanField(default=True)
    annual_allowance_days = models.DecimalField(
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
        help_text="Days per year, in steps of 0.5. Empty: no limit.",
    )
    allow_half_days = models.BooleanField(default=False)
    max_consecutive_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Longest single request in working days. Empty: no limit."
    )
    private = models.BooleanField(
        default=False, help_text="Never show the type or note outside the approvals channel and the requester's DM."
    )
    allow_past_days = models.PositiveIntegerField(
        default=0, help_text="How many days back a request may start (0: no past dates)."
    )
    position = models.PositiveIntegerField(default=0, help_text="Display order in the request form.")

    class Meta:
        ordering = ("position", "code")

    def __str__(self):
        return f"{self.emoji} {self.name}".strip()

    def clean(self):
        errors = {}
        _check(errors, "code", config_file.leave_code_error(self.code))
        _check(errors, "name", config_file.name_error(self.name))
        _check(errors, "emoji", config_file.emoji_error(self.emoji))
        if self.annual_allowance_days is not None:
            _check(errors, "annual_allowance_days", config_file.allowance_error(self.annual_allowance_days))
        if self.max_consecutive_days is not None:
            _check(
                errors,
                "max_consecutive_days",
                config_file.integer_range_error(self.max_consecutive_days, 1, config_file.MAX_DAYS),
            )
        if self.allow_past_days is not None:
            _check(
                errors,
                "allow_past_days",
                config_file.integer_range_error(self.allow_past_days, 0, config_file.MAX_DAYS),
            )
        if errors:
            raise ValidationError(errors)


class CompanyHoliday(models.Model):
    """A company day off on top of public holidays, for one team or (no team) for everyone."""

    date = models.DateField()
    name = models.CharField(max_length=config_file.NAME_MAX_LENGTH)
    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="company_holidays",
        help_text="Empty: every team.",
    )

    class Meta:
        ordering = ("date", "name")

    def __str__(self):
        scope = f" ({self.team})" if self.team_id else ""
        return f"{self.date.isoformat()} {self.name}{scope}"

    def clean(self):
        errors = {}
        _check(errors, "name", config_file.name_error(self.name))
        if errors:
            raise ValidationError(errors)


class Blackout(models.Model):
    """Days on which no leave may be requested, for one team or (no team) for everyone."""

    start = models.DateField()
    end = models.DateField(help_text="Last day of the blackout (inclusive).")
    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="blackouts",
        help_text="Empty: every team.",
    )
    reason = models.CharField(max_length=config_file.REASON_MAX_LENGTH, blank=True)

    class Meta:
        ordering = ("start", "end")
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gte=F("start")),
                name="blackout_end_not_before_start",
                violation_error_message="The end must not be before the start.",
            )
        ]

    def __str__(self):
        scope = f" ({self.team})" if self.team_id else ""
        reason = f": {self.reason}" if self.reason else ""
        return f"{self.start.isoformat()} – {self.end.isoformat()}{scope}{reason}"

    def clean(self):
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValidationError({"end": "The end must not be before the start."})


class DeliveryProblem(models.Model):
    """A request that never reached its approvers: Slack refused the post for good (the bot was
    removed from the approvals channel, the channel was archived or deleted, the token was revoked).

    Not configuration: a record for HR, written by the delivery task and read in the admin. The
    requester has been told by DM (when Slack still let us); HR fixes the setup and asks them to
    send the request again.
    """

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    request_id = models.CharField(max_length=64, help_text="The request id in the ledger message metadata.")
    user = models.CharField(max_length=SLACK_ID_LENGTH, help_text="The requester's Slack user id.")
    team = models.CharField(max_length=config_file.NAME_MAX_LENGTH, blank=True)
    channel = models.CharField(max_length=SLACK_ID_LENGTH, blank=True, help_text="The approvals channel.")
    error = models.CharField(max_length=100, help_text="Slack's error code, e.g. not_in_channel.")
    summary = models.TextField(help_text="What was asked for: leave type and dates.")

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self):
        return f"{self.user}: {self.summary} ({self.error})"
