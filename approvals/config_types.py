"""The configuration as plain, immutable data: what the Slack path and the pure rules see.

These dataclasses mirror the configuration file of DESIGN §4 one to one. They
import nothing from Django or Slack, so the rules can be tested without a
database, and a snapshot can be pickled into the shared cache.
"""

from dataclasses import dataclass, field
from datetime import date, time
from decimal import Decimal

ALL_WEEKDAYS = (0, 1, 2, 3, 4, 5, 6)  # Monday is 0, as in date.weekday()
MONDAY_TO_FRIDAY = (0, 1, 2, 3, 4)


@dataclass(frozen=True)
class MemberSource:
    """Who belongs to a team: explicit users, members of a channel, members of a user group."""

    users: tuple[str, ...] = ()
    channel: str | None = None
    usergroup: str | None = None


@dataclass(frozen=True)
class ApproverSource:
    """Who approves for a team: explicit users plus members of a channel."""

    users: tuple[str, ...] = ()
    channel: str | None = None


@dataclass(frozen=True)
class TeamConfig:
    name: str
    approvals_channel: str
    members: MemberSource = field(default_factory=MemberSource)
    approvers: ApproverSource = field(default_factory=ApproverSource)
    announce_channel: str | None = None
    default: bool = False
    max_out: int | None = None
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    workweek: tuple[int, ...] = MONDAY_TO_FRIDAY
    timezone: str = "UTC"
    digest_time: time | None = None
    nudge_after_hours: int | None = None
    past_approvals_channels: tuple[str, ...] = ()

    @property
    def ledger_channels(self) -> tuple[str, ...]:
        """Every approvals channel this team has ever used, current first."""
        return (self.approvals_channel, *(c for c in self.past_approvals_channels if c != self.approvals_channel))


@dataclass(frozen=True)
class LeaveTypeConfig:
    code: str
    name: str
    emoji: str = ""
    requires_approval: bool = True
    annual_allowance_days: Decimal | None = None
    allow_half_days: bool = False
    max_consecutive_days: int | None = None
    private: bool = False
    allow_past_days: int = 0

    @property
    def label(self) -> str:
        return f"{self.emoji} {self.name}".strip()


@dataclass(frozen=True)
class HolidayConfig:
    date: date
    name: str
    team: str | None = None  # None: every team


@dataclass(frozen=True)
class BlackoutConfig:
    start: date
    end: date
    reason: str = ""
    team: str | None = None  # None: every team


@dataclass(frozen=True)
class WorkspaceConfig:
    requesters_users: tuple[str, ...] = ()
    requesters_channel: str | None = None
    fallback_approvers: tuple[str, ...] = ()
    teams: tuple[TeamConfig, ...] = ()  # in matching order
    leave_types: tuple[LeaveTypeConfig, ...] = ()  # in display order
    holidays: tuple[HolidayConfig, ...] = ()
    blackouts: tuple[BlackoutConfig, ...] = ()

    def team_named(self, name: str) -> TeamConfig | None:
        return next((team for team in self.teams if team.name == name), None)

    def leave_type(self, code: str) -> LeaveTypeConfig | None:
        return next((leave_type for leave_type in self.leave_types if leave_type.code == code), None)

    @property
    def default_team(self) -> TeamConfig | None:
        return next((team for team in self.teams if team.default), None)

    def holidays_for(self, team_name: str) -> tuple[HolidayConfig, ...]:
        return tuple(h for h in self.holidays if h.team in (None, team_name))

    def blackouts_for(self, team_name: str) -> tuple[BlackoutConfig, ...]:
        return tuple(b for b in self.blackouts if b.team in (None, team_name))
