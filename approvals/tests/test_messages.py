"""The texts and blocks posted to channels and DMs: pure functions, no database."""

import re
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from approvals import messages
from approvals.block_kit import mentions
from approvals.config_types import WorkspaceConfig
from approvals.rules import LedgerEntry
from approvals.team_routing import UnlistedSource
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
        "Your request for :palm_tree: Vacation, Mon 10 Mar 2031 – Wed 12 Mar 2031 (3 working days) is with <@U_BOB> "
        "(Engineering). I'll let you know when they decide.")


# --- Texts stay within Slack's limits, however many people they name ----------------------------

LONG_TYPE = replace(VACATION, name="&" * 100, emoji=":" + "e" * 48 + ":")  # the longest label HR can type


def named_whole(text: str) -> int:
    """How many mentions `text` holds, after checking none is cut in two."""
    named = re.findall(r"<@[UW][A-Z0-9_]+>", text)
    assert text.count("<") == text.count(">") == len(named)
    return len(named)


def test_the_request_text_notifies_as_many_approvers_as_4000_characters_hold():
    # An approvers channel of 2,600 members made a text of 41,708 characters: Slack refused the post.
    for leave_type in (VACATION, LONG_TYPE):
        text, blocks = messages.request_message(entry=pending(), leave_type=leave_type, note="",
                                                approvers=crowd(2600))
        assert len(text) <= messages.TEXT_MAX
        named = named_whole(text) - 1  # the requester is named first
        assert 100 < named < 2600 and text.endswith(f" and {2600 - named} more")
        assert all(len(block["text"]["text"]) <= 3000 for block in blocks if block["type"] == "section")


def test_a_change_tells_as_many_approvers_as_its_text_holds():
    edited = replace(pending(), start=date(2031, 3, 11))
    for entry, previous in ((edited, pending()), (replace(pending(), status="cancelled"), pending()),
                            (replace(pending(), status="cancelled"), replace(pending(), status="approved"))):
        text = messages.change_thread_text(entry, by="U_ALICE", previous=previous, approvers=crowd(2600))
        assert len(text) <= messages.TEXT_MAX and named_whole(text) > 100 and text.endswith(" more")
    in_2031 = replace(edited, ts="1930000000.000100")  # its message, dated 2031: no year needed
    assert messages.change_thread_text(in_2031, by="U_ALICE", previous=pending()) == (
        "Edited by <@U_ALICE>: now vacation, Tue 11 Mar – Wed 12 Mar (3 working days) (was Mon 10 Mar – Wed 12 Mar).")


def test_the_receipt_fits_its_section_with_a_long_team_name_and_thousands_of_approvers():
    text = messages.receipt_text(replace(pending(), team="&" * 100), LONG_TYPE, crowd(2600))
    assert len(text) <= 3000 and text.endswith(" more (" + "&amp;" * 100 + "). I'll let you know when they decide.")
    named_whole(text)


def test_hr_named_as_contacts_are_bounded_too():
    config = WorkspaceConfig(fallback_approvers=tuple(sorted(crowd(2600))))
    for text in (messages.not_allowed_text(config), messages.no_team_text(config)):
        assert len(text) <= 3000 and named_whole(text) > 100
    assert messages.no_team_text(config, plain=True).endswith("ask HR to add you to a team")


def test_a_team_whose_members_cannot_be_read_is_named_as_mrkdwn_or_as_plain_text():
    config = WorkspaceConfig(fallback_approvers=("U_HR",))
    cause = UnlistedSource(team_name="R&D <ops>", source="C_SECRET", is_channel=True, error="not_in_channel")
    assert messages.no_team_text(config, cause=cause) == (
        "I couldn't read who is in <#C_SECRET> (Slack said not_in_channel), which decides who is in "
        "R&amp;D &lt;ops&gt;; ask <@U_HR> to invite the app to that channel or fix the team's settings")
    # A form's field error is plain text: no mention or channel link (shown raw), nothing escaped.
    assert messages.no_team_text(config, plain=True, cause=cause) == (
        "I couldn't read who is in the channel C_SECRET (Slack said not_in_channel), which decides who is in "
        "R&D <ops>; ask HR to invite the app to that channel or fix the team's settings")


def test_a_members_list_refused_for_a_scope_is_not_advised_as_an_invitation():
    config = WorkspaceConfig(fallback_approvers=("U_HR",))
    for is_channel, source in ((True, "C_ENG"), (False, "S_ENG")):
        cause = UnlistedSource(team_name="Eng", source=source, is_channel=is_channel, error="missing_scope")
        for text in (messages.no_team_text(config, cause=cause), messages.person_no_team_text(cause)):
            assert "give the app the scopes the console's setup page lists" in text
            assert "invite" not in text


def test_who_else_is_out_names_ten_and_counts_the_rest():
    others = [replace(pending(f"U{n:010d}"), id=f"r{n}") for n in range(500)]
    line = messages.others_out_line(others, unread=40)
    assert len(line) <= 3000 and named_whole(line) == 10 and line.endswith(" and 530 more")


def test_who_else_is_out_names_each_person_once_and_counts_people():
    # Dave has two requests on these dates, Erin one: two people are out, however many requests.
    dave_first = replace(pending("U_DAVE"), id="d1", start=date(2031, 3, 10), end=date(2031, 3, 10))
    dave_second = replace(pending("U_DAVE"), id="d2", start=date(2031, 3, 12), end=date(2031, 3, 12))
    erin = replace(pending("U_ERIN"), id="e1")
    line = messages.others_out_line([dave_first, erin, dave_second], today=date(2031, 3, 1))
    assert line.count("<@U_DAVE>") == 1 and line.count("<@U_ERIN>") == 1, line
    assert "<@U_DAVE> (Mon 10 Mar, pending; Wed 12 Mar, pending)" in line, line
    many = [replace(pending(f"U{n % 12:010d}"), id=f"r{n}") for n in range(36)]  # 12 people, 3 requests each
    assert messages.others_out_line(many).endswith(" and 2 more")


# --- Dates name their year when it is not the reader's ------------------------------------------


def test_a_request_for_another_year_names_the_year():
    posted_on = date(2026, 12, 2)
    text, blocks = messages.request_message(entry=pending(), leave_type=VACATION, note="", approvers={"U_BOB"},
                                            today=posted_on)
    assert "Mon 10 Mar 2031 – Wed 12 Mar 2031" in text and "Mon 10 Mar 2031 – Wed 12 Mar 2031" in str(blocks)
    text, _ = messages.request_message(entry=pending(), leave_type=VACATION, note="", approvers={"U_BOB"},
                                       today=date(2031, 1, 5))
    assert "Mon 10 Mar – Wed 12 Mar (" in text


def test_a_posted_or_decided_request_is_dated_from_its_message():
    # No `today` passed: the day its message was posted (its ts) or it was decided is the reader's.
    posted_2026 = replace(pending(), ts="1796000000.000100")  # 2026-11-30
    assert "Mon 10 Mar 2031 – Wed 12 Mar 2031" in messages.receipt_text(posted_2026, VACATION, {"U_BOB"})
    decided_2031 = replace(pending(), status="approved", decided_by="U_BOB", decided_at=1930000000)  # 2031-02-28
    assert messages.announcement_text(decided_2031, VACATION) == (
        ":palm_tree: <@U_ALICE> will be out Mon 10 Mar – Wed 12 Mar (Vacation).")
    assert "Mon 10 Mar 2031" in messages.cancelled_announcement_text(replace(posted_2026, status="cancelled"))
    # No day known (not posted yet, no `today`): the year is named rather than guessed.
    assert "Mon 10 Mar 2031 – Wed 12 Mar 2031" in messages.receipt_text(replace(pending(), ts="x"), VACATION, {"U_B"})


# --- A person's list: every group shows, within 50 blocks -----------------------------------------


def leave(n: int, status: str, first: date, **changes) -> list[LedgerEntry]:
    return [replace(pending(), id=f"{status}{i}", status=status, start=first + timedelta(days=i),
                    end=first + timedelta(days=i), days=Decimal(1), **changes) for i in range(n)]


def groups_of(blocks) -> dict[str, list[str]]:
    """Heading -> the lines under it (sections and the "…and N more" context), in order."""
    groups, heading = {}, None
    for block in blocks[1:]:
        text = block["text"]["text"] if block["type"] == "section" else (
            block["elements"][0]["text"] if block["type"] == "context" else None)
        if block["type"] == "context" and text.startswith("*"):
            heading = text.strip("*")
            groups[heading] = []
        elif text is not None:
            groups[heading].append(text)
    return groups


def test_thirty_pending_requests_leave_room_for_every_other_group():
    decided = {"decided_by": "U_BOB", "decided_at": 1796000000}
    blocks = messages.leave_list_blocks(
        config=WorkspaceConfig(leave_types=(VACATION,)), pending=leave(30, "pending", date(2031, 1, 6)),
        upcoming=leave(30, "approved", date(2031, 6, 2), **decided),
        ongoing=leave(1, "approved", date(2031, 1, 2), **decided),
        recent=leave(3, "rejected", date(2030, 12, 1), **decided))
    assert len(blocks) <= 50
    groups = groups_of(blocks)
    assert list(groups) == ["Pending", "Upcoming", "Out now", "Recently decided"]
    for heading, total in (("Pending", 30), ("Upcoming", 30)):
        *lines, more = groups[heading]
        assert len(lines) > 5 and more.startswith(f"…and {total - len(lines)} more, with later dates: they show here")
    assert "Mon 6 Jan" in groups["Pending"][0] and "Tue 7 Jan" in groups["Pending"][1]  # the soonest first
    assert len(groups["Out now"]) == 1 and len(groups["Recently decided"]) == 3  # shown whole, no "more"


def test_someone_with_many_upcoming_days_sees_the_soonest_and_how_to_reach_the_rest():
    blocks = messages.leave_list_blocks(config=WorkspaceConfig(leave_types=(VACATION,)), pending=[],
                                        upcoming=leave(40, "approved", date(2031, 1, 6), decided_by="U_BOB"),
                                        ongoing=[], recent=[], title="Which request do you want to change?")
    assert len(blocks) <= 50
    [upcoming] = groups_of(blocks).values()
    *lines, more = upcoming
    assert len(lines) == 23 and more == ("…and 17 more, with later dates: they show here as these start or are "
                                         "cancelled.")
    cancels = [b for b in blocks if b["type"] == "actions"]
    assert len(cancels) == 23 and cancels[0]["block_id"].endswith("approved0")


def test_a_list_that_fits_is_shown_whole():
    blocks = messages.leave_list_blocks(config=WorkspaceConfig(leave_types=(VACATION,)),
                                        pending=leave(24, "pending", date(2031, 1, 6)), upcoming=[], ongoing=[],
                                        recent=[])
    assert len(blocks) == 50 and "more" not in str(groups_of(blocks))


def test_who_else_is_out_names_the_year_as_read_today():
    from approvals.messages import others_out_line

    in_flight = LedgerEntry(id="r1", user="U_DAVE", team="Engineering", leave_type="vacation", start=date(2026, 12, 21),
                            end=date(2026, 12, 23), start_half=None, end_half=None, days=Decimal(3), status="pending")
    assert "Mon 21 Dec – Wed 23 Dec, pending" in others_out_line([in_flight], today=date(2026, 12, 2))
    assert "Mon 21 Dec 2026 – Wed 23 Dec 2026, pending" in others_out_line([in_flight], today=date(2027, 1, 4))


def test_mentions_name_those_asked_first_before_the_others():
    assert mentions({"U1", "U2", "U3"}, first={"U3"}) == "<@U3>, <@U1>, <@U2>"
    assert mentions({"U1", "U2", "U3"}, room=len("<@U3> and 2 more"), first={"U3", "U9"}) == "<@U3> and 2 more"


def test_the_approvers_hr_named_come_first_in_a_request_and_its_thread():
    lead = "U9999999999"  # sorts after every member of the crowd
    text, _ = messages.request_message(entry=pending(), leave_type=VACATION, note="",
                                       approvers=crowd(300) | {lead}, named_first={lead})
    assert text.split(" — for ")[1].startswith(f"<@{lead}>, <@U0000000000>")
    thread = messages.change_thread_text(pending(), by="U_ALICE", approvers=crowd(300) | {lead}, named_first={lead})
    assert thread.startswith(f"Withdrawn by <@U_ALICE>. <@{lead}>, ")


def test_a_text_too_long_for_its_section_is_cut_with_an_ellipsis_never_inside_an_entity_or_a_mention():
    from approvals.block_kit import context, fitted, section

    assert fitted("short", 3000) == "short"
    for tail in ("&amp;&amp;&amp;", "<@U0123456789> and more", "&lt;b&gt;" * 3):
        for room in range(2990, 3000):
            text = "x" * room + tail
            shown = section(text)["text"]["text"]
            assert len(shown) <= 3000 and shown.endswith("…")
            body = shown[:-1]
            assert body.count("<") == body.count(">")  # no mention cut in two
            last = body.rfind("&")
            assert last == -1 or ";" in body[last:]  # no "&am" shown raw
    assert context("y" * 5000)["elements"][0]["text"] == "y" * 2999 + "…"


def test_a_rejected_receipt_with_the_longest_type_name_and_reason_fits_its_section():
    reason = "&" * 500
    entry = replace(pending(), status="rejected", decided_by="U_BOB", reason=reason)
    blocks = messages.receipt_blocks(entry, LONG_TYPE, {"U_BOB"})
    text = blocks[0]["text"]["text"]
    assert len(text) <= 3000 and text.endswith("&amp;…")


def test_a_message_posted_around_new_year_names_every_dates_year():
    """At 20:00 on 31 December in Los Angeles it is already 1 January in UTC, and in Tokyo too: a message
    sent around then is read in both years, so its dates say which they are."""
    leave = replace(pending(), start=date(2027, 1, 4), end=date(2027, 1, 5))
    la_new_years_eve = replace(leave, status="approved", decided_by="U_BOB", decided_at=1798776000)  # 04:00 UTC 1 Jan
    assert "Mon 4 Jan 2027 – Tue 5 Jan 2027" in messages.announcement_text(la_new_years_eve, VACATION)
    tokyo_new_years_day = replace(leave, ts="1798729200.000100")  # 15:00 UTC 31 Dec: 00:00 1 Jan in Tokyo
    assert "Mon 4 Jan 2027" in messages.receipt_text(tokyo_new_years_day, VACATION, {"U_BOB"})
    mid_january = replace(la_new_years_eve, decided_at=1799000000)  # 2027-01-03 18:13 UTC
    assert "Mon 4 Jan – Tue 5 Jan" in messages.announcement_text(mid_january, VACATION)
    mid_december = replace(leave, ts="1797000000.000100")  # 2026-12-11
    assert "Mon 4 Jan 2027 – Tue 5 Jan 2027" in messages.receipt_text(mid_december, VACATION, {"U_BOB"})
