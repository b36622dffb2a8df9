"""The configuration as plain, immutable data: what the Slack path and the pure rules see.

They are also the one description of the configuration's fields. Each field's
`spec` gives its kind of value and, where they differ from its name, its key in
the configuration file of DESIGN §4 and its model field. The file's reader and
writer, the conversion to and from model rows, the models' `clean()` and the
admin's form fields all follow from it (`approvals.config_fields`). Fields are
in file order; `problems()` checks across a record's fields.

They import nothing from Django or Slack, so the rules can be tested without a
database, and a snapshot can be pickled into the shared cache.
"""

import datetime
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal

from approvals import config_fields as kind
from approvals.config_fields import entries, nested, spec

ALL_WEEKDAYS = (0, 1, 2, 3, 4, 5, 6)  # Monday is 0, as in date.weekday()
MONDAY_TO_FRIDAY = (0, 1, 2, 3, 4)


@dataclass(frozen=True)
class MemberSource:
    """Who belongs to a team: explicit users, members of a channel, members of a user group."""

    users: tuple[str, ...] = spec(kind.USER_IDS, default=())
    channel: str | None = spec(kind.CHANNEL_ID, default=None)
    usergroup: str | None = spec(kind.USERGROUP_ID, default=None)


@dataclass(frozen=True)
class ApproverSource:
    """Who approves for a team: explicit users plus members of a channel."""

    users: tuple[str, ...] = spec(kind.USER_IDS, default=())
    channel: str | None = spec(kind.CHANNEL_ID, default=None)


@dataclass(frozen=True, kw_only=True)
class TeamConfig:
    name: str = spec(kind.NAME)
    members: MemberSource = nested(MemberSource)
    approvers: ApproverSource = nested(ApproverSource)
    approvals_channel: str = spec(kind.CHANNEL_ID)
    announce_channel: str | None = spec(kind.CHANNEL_ID, default=None)
    default: bool = spec(kind.BOOLEAN, default=False, model="is_default")
    max_out: int | None = spec(kind.Integer(1, 10_000), default=None)  # bounds keep numbers sane (and in an int column)
    holiday_country: str | None = spec(
        kind.HOLIDAY_COUNTRY, default=None, file="holidays.country", required_in_group=True
    )
    holiday_subdivision: str | None = spec(kind.HOLIDAY_SUBDIVISION, default=None, file="holidays.subdivision")
    workweek: tuple[int, ...] = spec(kind.WEEKDAYS, default=MONDAY_TO_FRIDAY)
    timezone: str = spec(kind.TIMEZONE, default="UTC")
    digest_time: time | None = spec(kind.CLOCK_TIME, default=None)
    nudge_after_hours: int | None = spec(kind.Integer(1, 24 * 366), default=None)
    past_approvals_channels: tuple[str, ...] = spec(kind.CHANNEL_IDS, default=())
    # Each ledger entry names its team as it was called then (DESIGN §5): renaming a team adds its old
    # name here, so the requests already in Slack under that name stay this team's leave.
    past_names: tuple[str, ...] = spec(kind.NAMES, default=())

    @property
    def ledger_channels(self) -> tuple[str, ...]:
        """Every approvals channel this team has ever used, current first."""
        return (self.approvals_channel, *(c for c in self.past_approvals_channels if c != self.approvals_channel))

    def problems(self) -> Iterator[tuple[str, str]]:
        """(field, message) for what is wrong across this team's fields; the file and the admin both ask."""
        if not self.approvers.users and self.approvers.channel is None:
            yield "approvers", "a team needs at least one approver: list users or set a channel"
        if self.holiday_subdivision is not None:
            if self.holiday_country is None:
                yield "holiday_subdivision", "set a country as well, or leave the subdivision empty"
            elif message := kind.holiday_subdivision_error(self.holiday_country, self.holiday_subdivision):
                yield "holiday_subdivision", message


@dataclass(frozen=True)
class LeaveTypeConfig:
    code: str = spec(kind.LEAVE_CODE)
    name: str = spec(kind.NAME)
    emoji: str = spec(kind.EMOJI, default="")
    requires_approval: bool = spec(kind.BOOLEAN, default=True)
    annual_allowance_days: Decimal | None = spec(kind.DAYS, default=None)
    allow_half_days: bool = spec(kind.BOOLEAN, default=False)
    max_consecutive_days: int | None = spec(kind.Integer(1, kind.MAX_DAYS), default=None)
    private: bool = spec(kind.BOOLEAN, default=False)
    allow_past_days: int = spec(kind.Integer(0, kind.MAX_DAYS), default=0)

    @property
    def label(self) -> str:
        return f"{self.emoji} {self.name}".strip()


@dataclass(frozen=True)
class HolidayConfig:
    date: datetime.date = spec(kind.DATE)  # not `date`: in a class body, a field's name shadows the module's
    name: str = spec(kind.NAME)
    team: str | None = spec(kind.TEAM_NAME, default=None)  # None: every team


@dataclass(frozen=True, kw_only=True)
class BlackoutConfig:
    start: date = spec(kind.DATE)
    end: date = spec(kind.DATE)
    team: str | None = spec(kind.TEAM_NAME, default=None)  # None: every team
    reason: str = spec(kind.REASON, default="")

    def problems(self) -> Iterator[tuple[str, str]]:
        if self.end < self.start:
            yield "end", f"must not be before start ({self.start.isoformat()})"


# --- Names that would move leave between teams ----------------------------------------------------
#
# Each request in Slack names its team as it was called then (DESIGN §5), and a name in use wins
# (`WorkspaceConfig.team_recorded_as`): the requests recorded under a name count as the leave of the team
# called so now. So a team renamed to a name another team had before would take that team's past leave,
# and two teams that swap names would swap theirs. Nothing tells which team a request meant (it carries
# the day it was sent, but a past name does not say when it was left), so such renames are refused, not
# guessed at. `others` are teams (TeamConfig, or
# Team rows: anything with `name` and `past_names`) other than the one being checked.


def teams_that_had(name: str, others: Iterable) -> list:
    """The teams among `others` that were called `name` before: the requests recorded under it are theirs."""
    return [other for other in others if name in (other.past_names or ())]


def swapped_with(name: str, past_names: Iterable[str], others: Iterable):
    """The team among `others` called now by one of `past_names` that was itself called `name` before: the
    two swapped names (directly or through other names), or None."""
    earlier = set(past_names or ())
    return next((other for other in others if other.name in earlier and name in (other.past_names or ())), None)


def takes_leave_text(name: str, holders: list[str]) -> str:
    """Why a team may not be renamed `name`, which the teams `holders` (their names) had before."""
    whose = "its" if len(holders) == 1 else "their"
    return (f"{' and '.join(holders)} used to be called {name}, and the requests in Slack recorded under {name} "
            f"are {whose} leave: this team, renamed {name}, would take them. Give it a name no other team had")


def swap_text(name: str, other: str, where: str = "") -> str:
    """Why a team called `name` may not have been called `other`, the name of a team (at `where`, in a
    file) that was called `name`."""
    at = f" ({where})" if where else ""
    return (f"{other}{at} used to be called {name}, and this team used to be called {other}: two teams that "
            "swap names would swap their past leave (each request in Slack names its team by name). Give one "
            "of them a name neither had")


class TeamNameUnclear(LookupError):
    """A team name that is no team's now and was no team's before (`teams` empty), or that several teams
    had before (`teams`: their names now)."""

    def __init__(self, name: str, teams: tuple[str, ...] = ()):
        super().__init__(name)
        self.name = name
        self.teams = teams

    @property
    def ambiguous(self) -> bool:
        return len(self.teams) > 1


@dataclass(frozen=True)
class WorkspaceConfig:
    requesters_users: tuple[str, ...] = spec(kind.USER_IDS, default=(), file="requesters.users")
    requesters_channel: str | None = spec(kind.CHANNEL_ID, default=None, file="requesters.channel")
    fallback_approvers: tuple[str, ...] = spec(kind.USER_IDS, default=(), file="fallback_approvers.users")
    # The approvals channels of teams removed since: their requests stay in the ledger (DESIGN §5: every
    # approvals channel ever configured is read), HR's to decide when pending. Deleting a team adds its own.
    past_approvals_channels: tuple[str, ...] = spec(kind.CHANNEL_IDS, default=())
    teams: tuple[TeamConfig, ...] = entries(TeamConfig, required=True)  # in matching order
    leave_types: tuple[LeaveTypeConfig, ...] = entries(LeaveTypeConfig, required=True)  # in display order
    holidays: tuple[HolidayConfig, ...] = entries(HolidayConfig)
    blackouts: tuple[BlackoutConfig, ...] = entries(BlackoutConfig)

    def team_named(self, name: str) -> TeamConfig | None:
        return next((team for team in self.teams if team.name == name), None)

    def team_recorded_as(self, name: str) -> TeamConfig | None:
        """The team whose leave a ledger entry recorded under the team name `name` is.

        The team called `name` now; else the first team, in matching order, that was called so
        before (`past_names`). A name in use wins: when HR gives a new team a name another team
        had, the requests recorded under that name are the new team's.
        """
        return self.team_named(name) or next((team for team in self.teams if name in team.past_names), None)

    def team_called(self, name: str, *, any_case: bool = False) -> TeamConfig:
        """The team a person means by `name` (`/timeoff who`, the console's filters, `run_jobs --team`):
        the team called so now; else the one team that was called so before (`past_names`), as people
        keep using a team's old name for a while after a rename. `any_case`: "engineering" is Engineering.
        Runs of spaces of any kind are one space: "Sales  EMEA" or "Sales\u00a0EMEA" (a no-break space) is
        "Sales EMEA", as a command's words, split and joined again, would only ever give the latter.

        A name in use wins, as in `team_recorded_as`. Raises TeamNameUnclear when no team is or was called
        so, or when several were called so before and none is now: which one is meant is a person's guess,
        not the first in matching order (which is only the ledger's rule for whose leave it is).
        """
        def same(a: str, b: str) -> bool:
            a, b = " ".join(a.split()), " ".join(b.split())
            return a == b or (any_case and a.casefold() == b.casefold())

        now = self.team_named(name) or next((team for team in self.teams if same(team.name, name)), None)
        if now is not None:
            return now
        before = [team for team in self.teams if any(same(past, name) for past in team.past_names)]
        if len(before) == 1:
            return before[0]
        raise TeamNameUnclear(name, tuple(team.name for team in before))

    @property
    def renamed_teams(self) -> dict[str, str]:
        """Earlier name -> name now, for each earlier name no team uses now (as `team_recorded_as`)."""
        current = {team.name for team in self.teams}
        renamed: dict[str, str] = {}
        for team in self.teams:
            for past in team.past_names:
                if past not in current:
                    renamed.setdefault(past, team.name)
        return renamed

    def names_recorded_for(self, name: str) -> tuple[str, ...]:
        """The team names the ledger entries of the team called `name` may carry: its name, and its
        earlier names that are its by `team_recorded_as`."""
        return (name, *(past for past, now in self.renamed_teams.items() if now == name))

    def renamed_from(self, names: Iterable[str]) -> dict[str, str]:
        """Name now -> name before, for the teams of this configuration that are teams called otherwise
        in the configuration it replaces (whose team names are `names`): a team whose name is not
        among `names` but one of its `past_names` is (the latest), unless another team here is called
        that now. Import keeps those teams' rows, renamed, rather than removing one and adding another."""
        before = set(names)
        # Names are unique ignoring case in the database: a row keeps an old name only until it is renamed,
        # so none may be renamed whose old name another team of this configuration has, in any case.
        taken = {team.name.casefold() for team in self.teams}
        renamed: dict[str, str] = {}
        for team in self.teams:
            if team.name in before:
                continue
            old = next((past for past in reversed(team.past_names)
                        if past in before and past not in renamed.values()
                        and (past.casefold() not in taken or past.casefold() == team.name.casefold())), None)
            if old is not None:
                renamed[team.name] = old
        return renamed

    def leave_type(self, code: str) -> LeaveTypeConfig | None:
        return next((leave_type for leave_type in self.leave_types if leave_type.code == code), None)

    @property
    def default_team(self) -> TeamConfig | None:
        return next((team for team in self.teams if team.default), None)

    def holidays_for(self, team_name: str) -> tuple[HolidayConfig, ...]:
        return tuple(h for h in self.holidays if h.team in (None, team_name))

    def blackouts_for(self, team_name: str) -> tuple[BlackoutConfig, ...]:
        return tuple(b for b in self.blackouts if b.team in (None, team_name))
