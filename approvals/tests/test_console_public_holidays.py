"""The holidays page lists each team's public holidays for the next 12 months: what the `holidays`
package gives its country and region, so that HR sees what a team's settings mean (a regional day, an
"observed" Monday) before someone's leave is counted against them."""

from datetime import date

import pytest
from django.urls import reverse
from django.utils import timezone

from approvals.config_types import TeamConfig, WorkspaceConfig
from approvals.console_config_selectors import public_holidays_ahead
from approvals.models import Team
from fake_slack.personas import C_ENG, C_ENG_APPROVALS

ENGINEERING = TeamConfig(name="Engineering", approvals_channel="C1", holiday_country="US", holiday_subdivision="CA")
PLATFORM = TeamConfig(name="Platform", approvals_channel="C2", holiday_country="US", holiday_subdivision="CA")
LONDON = TeamConfig(name="London", approvals_channel="C3", holiday_country="GB", holiday_subdivision="ENG")
REMOTE = TeamConfig(name="Remote", approvals_channel="C4")


def test_teams_sharing_a_country_and_region_share_one_calendar_in_matching_order():
    config = WorkspaceConfig(teams=(ENGINEERING, LONDON, REMOTE, PLATFORM))

    calendars, without = public_holidays_ahead(config, today=date(2026, 12, 3))

    assert [(c.country, c.subdivision, c.teams) for c in calendars] == [
        ("US", "CA", ("Engineering", "Platform")), ("GB", "ENG", ("London",))]
    assert without == ["Remote"]
    [us, gb] = calendars
    assert us.days[0] == (date(2026, 12, 25), "Christmas Day")
    assert (date(2027, 7, 5), "Independence Day (observed)") in us.days
    assert all(date(2026, 12, 3) <= day <= date(2027, 12, 2) for day, _ in us.days + gb.days)
    assert (date(2027, 12, 25), "Christmas Day") not in us.days  # a year ahead, not more


def test_a_country_the_package_no_longer_knows_lists_nothing_rather_than_failing():
    gone = TeamConfig(name="Gone", approvals_channel="C5", holiday_country="XX")
    [calendar], _ = public_holidays_ahead(WorkspaceConfig(teams=(gone,)), today=date(2026, 12, 3))
    assert calendar.days == ()


@pytest.mark.django_db
def test_the_holidays_page_shows_each_teams_public_holidays_by_name(admin_client, fake_slack):
    Team.objects.create(name="Engineering", position=0, approvals_channel=C_ENG_APPROVALS, approvers_users=["U1"],
                        holiday_country="US", holiday_subdivision="CA")
    Team.objects.create(name="Sales", position=1, approvals_channel=C_ENG, approvers_users=["U1"])

    page = admin_client.get(reverse("console:holidays")).text

    assert "Public holidays, the next 12 months" in page
    assert "<h3>United States (US), California (CA)</h3>" in page and "For Engineering." in page
    christmas = date(timezone.localdate().year, 12, 25)
    if christmas < timezone.localdate():
        christmas = christmas.replace(year=christmas.year + 1)
    assert (f'<time datetime="{christmas.isoformat()}">{christmas.strftime("%a %-d %b %Y")}</time></td>'
            f"<td>Christmas Day</td>") in page
    assert "No public holidays for Sales: no country is set on that team." in page
