"""Configuration models: what HR edits in the admin and what `import_config` replaces.

The database stores configuration only (DESIGN §2); leave requests live in
Slack. These tables mirror the configuration file of DESIGN §4, and the Slack
path never reads them directly: it reads the `WorkspaceConfig` snapshot that
`approvals.config_store.current_config()` keeps in the shared cache.

Each model names the dataclass that describes its fields (`config_type`, in
`approvals.config_types`), and `clean()` checks every value with the kind that
dataclass gives it, so the admin and `import_config` accept exactly the same
configurations. Checks across rows are database constraints, which Django's
`validate_constraints` reports. Lists of Slack ids are JSON lists of strings;
"no channel" is stored as an empty string, as Django does for text.
"""

from typing import ClassVar

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from simple_history.models import HistoricalRecords

from approvals import config_fields
from approvals.config_fields import (
    CODE_MAX_LENGTH,
    EMOJI_MAX_LENGTH,
    HOLIDAY_SUBDIVISION_MAX_LENGTH,
    LEAVE_TYPES_MAX,
    NAME_MAX_LENGTH,
    REASON_MAX_LENGTH,
    SLACK_ID_MAX_LENGTH as SLACK_ID_LENGTH,
    TIMEZONE_MAX_LENGTH,
)
from approvals.config_types import (
    MONDAY_TO_FRIDAY,
    BlackoutConfig,
    HolidayConfig,
    LeaveTypeConfig,
    TeamConfig,
    WorkspaceConfig,
)


def default_workweek() -> list[int]:
    return list(MONDAY_TO_FRIDAY)


class ConfigModel(models.Model):
    """A configuration row whose fields `config_type` describes."""

    config_type: ClassVar[type]

    class Meta:
        abstract = True

    def clean(self):
        errors = config_fields.row_errors(self, self.config_type)
        if errors:
            raise ValidationError(errors)


class NameUniqueInAnyCase:
    """A model whose name is unique in any upper and lower case, said on the name field.

    Compared in Python (casefold, as the configuration file compares), so "Équipe" and "équipe", or
    "Straße" and "STRASSE", are refused whatever the database's lower() knows of letters beyond ASCII
    (SQLite's knows ASCII only, and no lower() folds ß). The model's constraint on Lower("name") backs it
    against two saves at once; its message (`name_constraint_message`), which Django would put above the
    form, is dropped for the one said beside the field (`name_taken_text`)."""

    name_constraint_message: ClassVar[str]

    def validate_constraints(self, exclude=None):
        errors = {}
        try:
            super().validate_constraints(exclude=exclude)
        except ValidationError as error:
            errors = error.update_error_dict({})
        general = [e for e in errors.pop(NON_FIELD_ERRORS, []) if self.name_constraint_message not in e.messages]
        if general:
            errors[NON_FIELD_ERRORS] = general
        other = self.same_name() if "name" not in (exclude or ()) else None
        if other is not None:
            errors.setdefault("name", []).append(ValidationError(self.name_taken_text(other), code="unique"))
        if errors:
            raise ValidationError(errors)


def same_name_in_any_case(row: models.Model, rows: models.QuerySet) -> models.Model | None:
    """The first of `rows`, other than `row`, whose name is `row`'s in any case."""
    if not isinstance(row.name, str):
        return None
    others = rows.exclude(pk=row.pk) if row.pk is not None else rows
    return next((other for other in others if other.name.casefold() == row.name.casefold()), None)


class WorkspacePolicy(ConfigModel):
    """Who may request leave and who decides when a team has no other approver. One row (id 1)."""

    config_type = WorkspaceConfig
    history = HistoricalRecords()  # who changed what, when: the console's History page
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
    past_approvals_channels = models.JSONField(
        default=list,
        # Also in the database: a release from before this column inserts the row without naming it.
        db_default=[],
        blank=True,
        help_text="Approvals channels of teams removed since. Their requests still count and are still read.",
    )

    class Meta:
        verbose_name = "workspace policy"
        verbose_name_plural = "workspace policy"
        constraints = [models.CheckConstraint(condition=Q(id=1), name="workspace_policy_singleton")]

    def __str__(self):
        return "Workspace policy"


TEAM_NAME_TAKEN = "Another team has this name, but for upper and lower case."


class Team(NameUniqueInAnyCase, ConfigModel):
    """A group of people with its approvers, channels, holidays and working week.

    Teams are matched in `position` order: a user belongs to the first team whose
    members include them, else to the default team.
    """

    config_type = TeamConfig
    history = HistoricalRecords()  # who changed what, when: the console's History page

    name = models.CharField(max_length=NAME_MAX_LENGTH, unique=True)
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
        max_length=HOLIDAY_SUBDIVISION_MAX_LENGTH, blank=True,
        help_text="State or region for public holidays (e.g. CA). Empty: national only."
    )
    workweek = models.JSONField(
        default=default_workweek, help_text="Working weekdays: 0 = Monday … 6 = Sunday."
    )
    timezone = models.CharField(max_length=TIMEZONE_MAX_LENGTH, default="UTC",
                                help_text="IANA time zone, e.g. Europe/Paris.")
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
    past_names = models.JSONField(
        default=list,
        # Also in the database (migration 0016): a release from before this column (0013) still serving
        # during a rolling deploy, or rolled back to, inserts teams without naming it (README "Upgrades").
        db_default=[],
        blank=True,
        help_text="Earlier names of this team. Requests in Slack recorded under them count as this team's leave.",
    )

    class Meta:
        ordering = ("position", "name")
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=Q(is_default=True),
                name="team_at_most_one_default",
                # "unique" on a one-field constraint: Model.validate_constraints reports it on that field.
                violation_error_code="unique",
                violation_error_message="Another team is already the default team; untick it there first.",
            ),
            # "Engineering" and "engineering" would read as one team and be two.
            models.UniqueConstraint(
                Lower("name"),
                name="team_name_unique_ignoring_case",
                violation_error_message=TEAM_NAME_TAKEN,
            ),
        ]

    def __str__(self):
        return self.name

    name_constraint_message = TEAM_NAME_TAKEN

    def name_taken_text(self, other: "Team") -> str:
        return TEAM_NAME_TAKEN

    def same_name(self) -> "Team | None":
        """Another team of this name in other upper and lower case (the same name exactly is the name
        field's own uniqueness, said by Django)."""
        return same_name_in_any_case(self, Team.objects.exclude(name=self.name).only("name"))


LEAVE_TYPE_NAME_TAKEN = "Another leave type has this name, perhaps in other upper and lower case."


class LeaveType(NameUniqueInAnyCase, ConfigModel):
    """A kind of leave (vacation, sick, ...). `code` is what the ledger records, so keep it stable."""

    config_type = LeaveTypeConfig
    history = HistoricalRecords()  # who changed what, when: the console's History page

    code = models.SlugField(
        max_length=CODE_MAX_LENGTH,
        unique=True,
        help_text="Short lowercase code stored in every request (e.g. vacation). Changing it orphans history.",
    )
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    emoji = models.CharField(max_length=EMOJI_MAX_LENGTH, blank=True, help_text="e.g. :palm_tree:")
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

    def clean(self):
        super().clean()
        if self._state.adding and LeaveType.objects.count() >= LEAVE_TYPES_MAX:
            raise ValidationError(f"There are {LEAVE_TYPES_MAX} leave types already, as many as the request "
                                  "form's menu can offer (Slack refuses a larger form): remove one first.")

    class Meta:
        ordering = ("position", "code")
        constraints = [
            # /timeoff's list, balances and exports show a type by its name: two called "Vacation" (or
            # "Vacation" and "vacation") would be two labels nobody can tell apart.
            models.UniqueConstraint(
                Lower("name"),
                name="leave_type_name_unique_ignoring_case",
                violation_error_message=LEAVE_TYPE_NAME_TAKEN,
            ),
        ]

    def __str__(self):
        return f"{self.emoji} {self.name}".strip()

    name_constraint_message = LEAVE_TYPE_NAME_TAKEN

    def name_taken_text(self, other: "LeaveType") -> str:
        return (f"Another leave type ({other.code}) is already called {other.name}: give each its own name, "
                "or people cannot tell them apart.")

    def same_name(self) -> "LeaveType | None":
        """Another leave type of this name, in any case."""
        return same_name_in_any_case(self, LeaveType.objects.only("code", "name"))


class CompanyHoliday(ConfigModel):
    """A company day off on top of public holidays, for one team or (no team) for everyone."""

    config_type = HolidayConfig
    history = HistoricalRecords()  # who changed what, when: the console's History page

    date = models.DateField()
    name = models.CharField(max_length=NAME_MAX_LENGTH)
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
        super().clean()
        # A second company day on one date for the same teams adds nothing but a second name.
        same = CompanyHoliday.objects.filter(date=self.date, team_id=self.team_id).exclude(pk=self.pk).first()
        if self.date and same is not None:
            raise ValidationError({"date": f"{self.date.isoformat()} is already a company day for "
                                           f"{self.team or 'every team'}: {same.name}."})


class Blackout(ConfigModel):
    """Days on which no leave may be requested, for one team or (no team) for everyone."""

    config_type = BlackoutConfig
    history = HistoricalRecords()  # who changed what, when: the console's History page

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
    reason = models.CharField(max_length=REASON_MAX_LENGTH, blank=True)

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
        super().clean()
        same = Blackout.objects.filter(start=self.start, end=self.end, team_id=self.team_id).exclude(pk=self.pk)
        if self.start and self.end and same.exists():
            raise ValidationError({"start": f"There is already a blackout from {self.start.isoformat()} to "
                                            f"{self.end.isoformat()} for {self.team or 'every team'}."})


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
    team = models.CharField(max_length=NAME_MAX_LENGTH, blank=True)
    channel = models.CharField(max_length=SLACK_ID_LENGTH, blank=True, help_text="The approvals channel.")
    error = models.CharField(max_length=100, help_text="Slack's error code, e.g. not_in_channel.")
    summary = models.TextField(help_text="What was asked for: leave type and dates.")
    # The request itself never reached its approvers (to be sent again once fixed); False: what Slack refused
    # is a follow-up, a decision or a change of a request that is in the ledger. A column with a database
    # default: the release before inserts rows without it (README "Upgrades").
    undelivered = models.BooleanField(default=False, db_default=False,
                                      help_text="The request never reached its approvers.")
    # HR marks a problem resolved once it is dealt with (the channel fixed, the person asked to send again):
    # the Setup page then lists it no more among those to look at. Nullable: the release before inserts
    # rows without it.
    resolved_at = models.DateTimeField(null=True, blank=True, help_text="When HR marked it resolved.")
    resolved_by = models.CharField(max_length=150, blank=True, default="", db_default="",
                                   help_text="The console user who marked it resolved.")

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self):
        return f"{self.user}: {self.summary} ({self.error})"

    @classmethod
    def record(cls, *, request_id: str, user: str, team: str = "", channel: str = "", error: str, summary: str,
               undelivered: bool = False) -> None:
        """A row for HR, cut to the columns' lengths; none when the same problem waits unresolved already: a
        task run again after its worker was killed between this row and its done mark (`notifications.once`)
        must not show HR the problem twice."""
        fields = {"request_id": request_id[:64], "user": user[:SLACK_ID_LENGTH], "team": team[:NAME_MAX_LENGTH],
                  "channel": channel[:SLACK_ID_LENGTH], "error": error[:100], "summary": summary,
                  "undelivered": undelivered}
        if not cls.objects.filter(resolved_at__isnull=True, **fields).exists():
            cls.objects.create(**fields)


class BalanceAdjustment(models.Model):
    """No table: balance adjustments live in Slack (DESIGN §5). This model only carries the
    permission to record them, which staff status alone does not give: an adjustment can take
    days away from anyone."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("record_adjustment", "Can record balance adjustments"),
                       ("record_leave_for_others", "Can record leave for others"),
                       # The ledger CSV and the balances name every leave type, the private ones (sick,
                       # medical) too, for everyone: more than staff status should show.
                       ("view_leave_records", "Can see everyone's leave records, private types included")]


class JobRun(models.Model):
    """One daily or hourly job (approvals.jobs) for one team and one period: machinery, not a record.

    A clock claims a job by inserting its row; the unique constraint lets exactly
    one insert win, however many clocks run (DESIGN §4). `finished_at` is set when
    the job's work is done. A claim left unfinished for JOB_RUN_STALE_SECONDS (its
    clock died before enqueuing) may be taken over within its period, and so may one
    whose attempt failed on a passing fault once `retry_at` has come; the maintenance
    job deletes rows after JOB_RUN_KEEP_DAYS.
    """

    job = models.CharField(max_length=50)
    team = models.CharField(max_length=NAME_MAX_LENGTH, blank=True, help_text="Empty: a workspace-wide job.")
    period = models.CharField(max_length=50, help_text="The team's day (2027-01-04), week (2027-W01) or hour.")
    # A week's digest is due on the week's first working day as the calendar says then: which day it was
    # claimed for tells, when the calendar has changed since, that the week already had its digest.
    day = models.DateField(null=True, blank=True, help_text="The team's day the job was claimed for.")
    claimed_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=1, help_text="How many times the job was claimed.")
    error = models.CharField(max_length=200, blank=True, help_text="The last attempt's error, if it failed.")
    retry_at = models.DateTimeField(null=True, blank=True,
                                    help_text="Its last attempt failed on a passing fault: taken over from then.")

    class Meta:
        ordering = ("-claimed_at", "-id")
        constraints = [models.UniqueConstraint(fields=["job", "team", "period"], name="job_run_once_per_period")]

    def __str__(self):
        scope = f" {self.team}" if self.team else ""
        return f"{self.job}{scope} {self.period}"


class LedgerSnapshot(models.Model):
    """The ledger's record ids as the ledger watch last saw them, to notice deleted request messages.

    One row (id 1). `entries` maps each id to [user, channel, ts] (and, for a request, its
    status): enough to tell HR whose record vanished, to tell a deletion from history that aged
    out, and to notice a decided request that reads as pending again (its decided copy deleted). Not the
    record of any leave (DESIGN §2): the ledger in Slack and the nightly export are.
    """

    SINGLETON_ID = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_ID, editable=False)
    taken_at = models.DateTimeField()
    entries = models.JSONField(default=dict)
    # What the watch told HR had vanished, [id, user, channel, ts, told at (ISO)], kept REPORTED_DAYS for
    # the Setup page: the next snapshot no longer holds them, so comparing it with the ledger shows none.
    reported = models.JSONField(null=True, blank=True, help_text="Records the watch reported deleted, lately.")

    REPORTED_DAYS = 30

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="ledger_snapshot_singleton")]

    def __str__(self):
        return f"Ledger snapshot of {self.taken_at:%Y-%m-%d %H:%M} ({len(self.entries)} ids)"


class TaskHeartbeat(models.Model):
    """A worker's sign of life for the task it is running: machinery, not a record (approvals.task_queue).

    A task RUNNING past TASK_STUCK_AFTER_SECONDS is requeued only when no heartbeat of it is that recent:
    its worker died. A task that runs longer than that (a full ledger read under Slack's rate limits, the
    directory of a large workspace) is still beaten for by its live worker, and is not run a second time
    beside itself. `beat_at` is the database's clock, so hosts whose clocks differ agree on it.
    """

    task_id = models.UUIDField(primary_key=True, help_text="The django-tasks-db result's id.")
    beat_at = models.DateTimeField(db_index=True)

    def __str__(self):
        return f"task {self.task_id} alive at {self.beat_at:%Y-%m-%d %H:%M:%S}"
