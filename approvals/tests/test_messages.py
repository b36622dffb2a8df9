"""The texts and blocks posted to channels and DMs: pure functions, no database."""

import re
from datetime import date
from decimal import Decimal

from approvals import messages
from approvals.block_kit import mentions
from approvals.rules import LedgerEntry
from test_support.flows import VACATION

MENTION = re.compile(r"<@U\d{10}>")


def pending(user="U_ALICE") -> LedgerEntry:
    return LedgerEntry(id="r1", user=user, team="Engineering", leave_type="vacation", start=date(2031, 3, 10),
                       end=date(2031, 3, 12), start_half=None, end_half=None, days=Decimal(3), status="pending")


def crowd(size: int) -> set[str]:
    return {f"U{n:010d}" for n in range(size)}


def test_mentions_name_everyone_who_fits_and_count_the_rest():
    assert mentions(set()) == "nobody"
    assert mentions({"U2", "U1"}) == "<@U1>, <@U2>"
    assert mentions({"U2", "U1"}, room=100) == "<@U1>, <@U2>"
    assert mentions({"U1", "U2", "U3"}, room=len("<@U1> and 2 more")) == "<@U1> and 2 more"
    assert mentions({"U1", "U2", "U3"}, room=5) == "3 people"


def test_an_approvers_channel_of_hundreds_fits_its_context_block_without_a_broken_mention():
    _, blocks = messages.request_message(entry=pending(), leave_type=VACATION, note="", approvers=crowd(300))
    [approvers] = [b for b in blocks if b["type"] == "context" and "Approvers:" in b["elements"][0]["text"]]
    text = approvers["elements"][0]["text"]
    assert len(text) <= 3000
    named = MENTION.findall(text)
    assert 100 < len(named) < 300 and text.endswith(f" and {300 - len(named)} more")
    assert text.count("<") == text.count(">") == len(named)  # no mention cut in two


def test_the_receipt_names_the_approvers_who_fit_and_counts_the_rest():
    text = messages.receipt_text(pending(), VACATION, crowd(300))
    assert len(text) <= 3000 and " more (Engineering)" in text
    assert text.count("<") == text.count(">")
    assert messages.receipt_text(pending(), VACATION, {"U_BOB"}) == (
        "Your request for :palm_tree: Vacation, Mon 10 Mar – Wed 12 Mar (3 working days) is with <@U_BOB> "
        "(Engineering). I'll let you know when they decide.")
