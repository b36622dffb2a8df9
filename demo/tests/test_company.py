"""The demo company: a configuration the app accepts and a ledger the app reads as its own."""

from datetime import date

import pytest
from slack_sdk import WebClient

from approvals import block_ids as ids
from approvals.config_store import config_apply, config_from_database
from approvals.ledger_format import adjustment_from_metadata, entry_from_metadata
from approvals.ledger_reader import read_ledger
from approvals.rules import PENDING
from demo import company
from fake_slack.server import block_errors
from fake_slack.workspace import Workspace

TODAY = date(2026, 12, 1)


@pytest.fixture
def seeded():
    workspace = Workspace(bot_token="xoxb-development-placeholder")
    posted = company.seed_workspace(workspace, today=TODAY)
    return workspace, posted


def test_every_channel_and_person_the_configuration_names_exists(seeded):
    workspace, _ = seeded
    config = company.demo_config(TODAY)
    for team in config.teams:
        for channel in (team.approvals_channel, team.announce_channel, team.members.channel, team.approvers.channel,
                        *team.past_approvals_channels):
            assert channel is None or channel in workspace.channels, channel
        assert team.members.usergroup is None or team.members.usergroup in workspace.usergroups
        for user in team.approvers.users:
            assert user in workspace.users
    assert all(user in workspace.users for user in config.fallback_approvers)
    # The bot is in every channel it posts to or reads.
    assert all(workspace.bot_user_id in c.members for c in workspace.channels.values())


def test_the_ledger_is_two_years_of_the_apps_own_messages(seeded):
    workspace, posted = seeded
    assert posted > 200
    config = company.demo_config(TODAY)
    entries, adjustments, pending = [], [], []
    for team in config.teams:
        for channel in team.ledger_channels:
            for message in workspace.messages(channel):
                assert message.bot_id == workspace.bot_id  # the ledger trusts only our bot
                assert block_errors(message.blocks or [], "/blocks", 50) == []
                entry = entry_from_metadata(message.metadata)
                if entry:
                    assert entry.team == team.name
                    entries.append(entry)
                    if entry.status == PENDING:
                        pending.append(entry)
                        buttons = [b for b in message.blocks if b.get("block_id") == ids.DECISION_BLOCK]
                        assert buttons, "a pending request carries Approve / Reject"
                else:
                    adjustments.append(adjustment_from_metadata(message.metadata))
    assert all(adjustments)
    assert min(e.start for e in entries).year <= TODAY.year - 1
    assert pending, "approvers have something waiting"
    assert {e.user for e in entries} >= {company.ALICE.id, company.SAM.id, company.KAI.id}


def test_it_is_the_same_company_every_time():
    one, two = Workspace(), Workspace()
    company.seed_workspace(one, today=TODAY)
    company.seed_workspace(two, today=TODAY)
    ledger = [m.text for m in one.messages(company.C_SALES_APPROVALS)]
    assert ledger == [m.text for m in two.messages(company.C_SALES_APPROVALS)]


@pytest.mark.django_db
def test_the_app_accepts_the_configuration_and_reads_the_ledger(fake_slack):
    fake_slack.reset()
    company.seed_workspace(fake_slack.workspace, today=date.today())
    config = company.demo_config(date.today())
    config_apply(config=config)
    assert config_from_database() == config
    client = WebClient(token=fake_slack.workspace.bot_token, base_url=fake_slack.api_url)
    ledger = read_ledger(client, config)
    assert len(ledger.entries) > 150 and ledger.adjustments
    assert set(ledger.channels) >= {company.C_ENG_APPROVALS, company.C_ENG_APPROVALS_OLD, company.C_SUPPORT_APPROVALS}
    assert ledger.for_user(company.ALICE.id)
