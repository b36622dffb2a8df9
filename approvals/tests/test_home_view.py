"""The App Home tab: a pure builder, tested on what it returns (Slack allows 100 blocks in a view)."""

from datetime import date, timedelta
from decimal import Decimal

from approvals import block_ids as ids
from approvals.config_types import WorkspaceConfig
from approvals.home_view import MAX_BLOCKS, holidays_ahead_blocks, home_view
from approvals.rules import LedgerEntry
from approvals.selectors import MyLeave
from test_support.flows import ENGINEERING, VACATION

CONFIG = WorkspaceConfig(leave_types=(VACATION,), teams=(ENGINEERING,))


def days_off(count: int, status: str, first: date, user="U_ALICE") -> list[LedgerEntry]:
    return [LedgerEntry(id=f"{user}-{status}{n}", user=user, team="Engineering", leave_type="vacation",
                        start=first + timedelta(days=n), end=first + timedelta(days=n), start_half=None,
                        end_half=None, days=Decimal(1), status=status, channel="C_ENG_APPROVALS",
                        ts=f"1796000{n:03d}.000100", decided_by=None if status == "pending" else "U_BOB")
            for n in range(count)]


def texts(view) -> str:
    return str([block.get("text") or block.get("elements") for block in view["blocks"]])


def test_a_busy_approver_with_a_long_list_of_their_own_sees_every_part_within_100_blocks():
    # The list came first and was cut at 100 blocks: "Upcoming", the waiting requests and the HR
    # console vanished without a word.
    leave = MyLeave(pending=days_off(30, "pending", date(2031, 1, 6)),
                    upcoming=days_off(30, "approved", date(2031, 6, 2)),
                    ongoing=days_off(1, "approved", date(2031, 1, 2)),
                    recent=days_off(3, "rejected", date(2030, 12, 1)))
    view = home_view(config=CONFIG, leave=leave, balances_text="*Your leave in 2031*\n• Vacation: *25 days left*",
                     waiting=days_off(20, "pending", date(2031, 2, 2), user="U_DAN"), is_hr=True,
                     console_url="https://hr.example/console/", note="Some of your history is still being read.",
                     today=date(2031, 1, 5))
    blocks = view["blocks"]
    assert len(blocks) <= MAX_BLOCKS
    shown = texts(view)
    for part in ("*Pending*", "*Upcoming*", "*Out now*", "*Recently decided*", "Your leave in 2031",
                 "*Waiting for your decision* (20)", "and 5 more in the approvals channels."):
        assert part in shown, part
    assert blocks[-1]["block_id"] == "home_hr"  # the HR console's button, last, not cut off
    assert "…and" in shown and "more, with later dates" in shown
    assert "2030" in shown and "Mon 6 Jan (" in shown  # last year's dates say so; this year's need not


def test_a_short_list_is_shown_whole_above_the_rest():
    leave = MyLeave(pending=days_off(2, "pending", date(2031, 1, 6)), upcoming=[], ongoing=[], recent=[])
    view = home_view(config=CONFIG, leave=leave, balances_text=None, waiting=[], is_hr=False, console_url=None)
    assert [b["type"] for b in view["blocks"]] == ["header", "actions", "section", "context",
                                                  "section", "actions", "section", "actions"]
    assert view["blocks"][1]["elements"][0]["action_id"] == ids.NEW_REQUEST_ACTION
    assert "more" not in texts(view)


def test_the_next_three_holidays_within_ninety_days_in_one_line_names_escaped():
    today = date(2026, 12, 3)
    holidays = {date(2026, 12, 2): "Yesterday's", date(2026, 12, 25): "Christmas Day",
                date(2026, 12, 24): "Company <day> & more", date(2027, 1, 1): "New Year's Day",
                date(2027, 1, 18): "Martin Luther King Jr. Day", date(2027, 3, 31): "Too far"}

    [block] = holidays_ahead_blocks("R&D", holidays, today)

    assert block["type"] == "context"
    assert block["elements"][0]["text"] == (
        ":calendar: Holidays coming up (R&amp;D): Thu 24 Dec, Company &lt;day&gt; &amp; more · "
        "Fri 25 Dec, Christmas Day · Fri 1 Jan 2027, New Year's Day")
    assert holidays_ahead_blocks("R&D", {date(2027, 3, 31): "Too far"}, today) == []


def test_the_holidays_line_sits_under_the_rest_and_the_list_still_fits():
    today = date(2031, 3, 3)
    leave = MyLeave(today=today, pending=days_off(120, "pending", today + timedelta(days=1)), upcoming=[],
                    ongoing=[], recent=[])
    holidays = holidays_ahead_blocks("Engineering", {date(2031, 3, 10): "Offsite"}, today)

    view = home_view(config=CONFIG, leave=leave, balances_text="*Your leave in 2031*", waiting=[], is_hr=False,
                     console_url=None, holidays_ahead=holidays)

    assert len(view["blocks"]) <= MAX_BLOCKS
    assert view["blocks"][-1] == holidays[0]


def test_before_any_team_or_leave_type_is_configured_there_is_no_request_button():
    """The form would refuse (`/timeoff` says time off isn't set up yet): no button that leads there."""
    for config in (WorkspaceConfig(leave_types=(VACATION,)), WorkspaceConfig(teams=(ENGINEERING,))):
        view = home_view(config=config, leave=None, balances_text=None, waiting=[], is_hr=False, console_url=None,
                         note="Time off isn't set up yet: HR has not configured any teams or leave types.")
        assert ids.NEW_REQUEST_ACTION not in str(view["blocks"])
        assert "isn't set up yet" in texts(view)
