"""`manage.py adjust_balance USER TYPE DAYS --year YEAR --reason TEXT [--by USER]`.

Records an opening balance, a carry-over or a correction as a
`timeoff_adjustment` ledger entry in the user's team approvals channel
(DESIGN §5). DAYS may be negative ("-2" takes two days away).
"""

import getpass

from django.core.management.base import BaseCommand, CommandError

from approvals.adjustments import AdjustmentError, adjustment_record, parse_days
from approvals.config_store import current_config
from approvals.slack_clients import background_client


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in some containers
        return "adjust_balance"


class Command(BaseCommand):
    help = (
        "Add DAYS (negative to remove) to USER's yearly allowance of leave TYPE, recorded as a balance "
        "adjustment in their team's approvals channel."
    )

    def add_arguments(self, parser):
        parser.add_argument("user", help="Slack user id, e.g. U0123ABCD")
        parser.add_argument("type", help="leave type code, e.g. vacation")
        parser.add_argument("days", help="days to add, in steps of 0.5; negative to remove, e.g. -2")
        parser.add_argument("--year", type=int, required=True, help="the leave year it applies to")
        parser.add_argument("--reason", required=True, help="e.g. 'carry-over', 'opening balance', 'correction'")
        parser.add_argument("--by", default=None,
                            help="who made the adjustment: a Slack user id or a name (default: your login name)")

    def handle(self, *args, **options):
        try:
            adjustment = adjustment_record(
                client=background_client(),
                config=current_config(),
                user=options["user"],
                leave_type=options["type"],
                days=parse_days(options["days"]),
                year=options["year"],
                reason=options["reason"],
                by=options["by"] or _login_name(),
            )
        except AdjustmentError as error:
            raise CommandError(f"Balance not adjusted: {error}.") from error
        self.stdout.write(
            f"Recorded adjustment {adjustment.id}: {adjustment.days:+} days of {adjustment.leave_type} "
            f"for {adjustment.user} in {adjustment.year} ({adjustment.reason})."
        )
