"""The ledger's slices: what the request path reads instead of the whole ledger (DESIGN §10).

A person's view (`ledger_reader.person_view`) must answer every rule exactly as
the whole ledger does, stay current through our own writes, incremental reads
and the pending set, and cost a few small cache reads whatever the ledger's size.
"""

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache

from approvals import ledger_reader, pending_indexes
from approvals.ledger_format import request_metadata
from approvals.ledger_reader import (
    LEDGER_KEY,
    SLICES_META_KEY,
    Ledger,
    cached_ledger,
    pending_add,
    pending_entries,
    pending_remove,
    person_view,
    read_ledger,
    record_adjustment,
    record_entry,
    refresh_if_stale,
    store_ledger,
)
from approvals.rules import APPROVED, CANCELLED, PENDING, Adjustment, LedgerEntry, validate_request, who_is_out
from approvals.slack_clients import background_client
from fake_slack.ledger_seed import ENGINEERING, engineering_holidays, ledger_config, realistic_ledger, \
    seed_realistic_ledger
from fake_slack.personas import ALICE, C_ENG_APPROVALS, C_GENERAL, CAROL, DAVE, HR
from test_support.flows import VACATION

pytestmark = pytest.mark.django_db

TODAY = date.today()
TEAM = replace(ENGINEERING, max_out=3)


@pytest.fixture
def ledger_data(fake_slack):
    data = realistic_ledger(today=TODAY, holiday_dates=engineering_holidays(TODAY))
    return seed_realistic_ledger(fake_slack.workspace, data)


@pytest.fixture
def config():
    return ledger_config(teams=(TEAM,))


def new_entry(**changes) -> LedgerEntry:
    start = TODAY + timedelta(days=60)
    entry = LedgerEntry(id="in-flight-1", user=CAROL, team="Engineering", leave_type="vacation", start=start,
                        end=start + timedelta(days=1), start_half=None, end_half=None, days=Decimal(2),
                        status=PENDING)
    return replace(entry, **changes)


def answers(ledger, user: str, start: date, end: date) -> tuple:
    """What the rules and the preview take from a ledger about one request."""
    request = new_entry(id="the-request", user=user, start=start, end=end)
    violations = validate_request(request, leave_type=VACATION, team=TEAM, holiday_dates=engineering_holidays(TODAY),
                                  blackouts=(), today=TODAY - timedelta(days=800), ledger=ledger.without(request.id),
                                  adjustments=ledger.adjustments_for(user))
    out = [e.id for e in who_is_out(ledger.without(request.id), start, end, exclude_user=user)
           if e.team == TEAM.name]
    return (violations, out, sorted(e.id for e in ledger.for_user(user)),
            sorted(a.id for a in ledger.adjustments_for(user)))


def some_requests(data) -> list[tuple[str, date, date]]:
    """Dates around each of a few people's own leave, and across busy weeks of the team."""
    picked = []
    for user in (ALICE, DAVE, "U_EMP07", "U_EMP12", CAROL):
        for entry in data.entries_of(user)[:4]:
            picked.append((user, entry.start - timedelta(days=2), entry.end + timedelta(days=3)))
        picked.append((user, TODAY - timedelta(days=400), TODAY - timedelta(days=380)))
    return picked


def test_a_person_view_answers_every_rule_as_the_whole_ledger_does(ledger_data, config):
    whole = read_ledger(background_client(), config)

    for user, start, end in some_requests(ledger_data):
        view = person_view(config, user, TEAM.name, start, end)
        assert answers(view, user, start, end) == answers(whole, user, start, end), (user, start, end)


def test_a_view_without_a_team_holds_the_whole_of_a_person(ledger_data, config):
    read_ledger(background_client(), config)

    view = person_view(config, ALICE)

    assert sorted(e.id for e in view.for_user(ALICE)) == sorted(e.id for e in ledger_data.entries_of(ALICE))
    assert sorted(a.id for a in view.adjustments_for(ALICE)) == sorted(a.id for a in ledger_data.adjustments_of(ALICE))
    assert {e.user for e in view.entries.values()} == {ALICE}
    assert view.truncated is False


def test_a_view_is_cold_exactly_when_the_whole_ledger_is(ledger_data, config):
    assert person_view(config, ALICE) is None
    read_ledger(background_client(), config)
    sales = replace(TEAM, name="Sales", approvals_channel="C_SALES_APPROVALS", past_approvals_channels=())

    assert person_view(replace(config, teams=(TEAM, sales)), ALICE) is None
    assert cached_ledger(replace(config, teams=(TEAM, sales))) is None
    assert person_view(config, ALICE) is not None


def test_our_writes_update_the_slices_in_place(ledger_data, config):
    read_ledger(background_client(), config)
    entry = next(e for e in ledger_data.entries_of(ALICE) if e.status == PENDING)
    approved = replace(entry, status=APPROVED, decided_by="U_BOB", decided_at=1766000000)
    posted = new_entry(id="posted-just-now", user=DAVE)

    record_entry(approved)
    record_entry(posted)

    assert person_view(config, ALICE).entries[entry.id] == approved
    assert person_view(config, DAVE).entries["posted-just-now"] == posted
    assert person_view(config, CAROL, TEAM.name, posted.start, posted.end).entries["posted-just-now"] == posted


def test_an_edit_moves_an_entry_out_of_its_old_months(ledger_data, config):
    read_ledger(background_client(), config)
    entry = new_entry(id="to-move", user=DAVE)
    record_entry(entry)
    later = entry.start + timedelta(days=120)
    moved = replace(entry, start=later, end=later + timedelta(days=1))

    record_entry(moved)

    assert "to-move" not in person_view(config, CAROL, TEAM.name, entry.start, entry.end).entries
    assert person_view(config, CAROL, TEAM.name, later, later).entries["to-move"] == moved
    assert [e for e in person_view(config, DAVE).for_user(DAVE) if e.id == "to-move"] == [moved]


def test_an_adjustment_updates_the_person_slice(ledger_data, config):
    read_ledger(background_client(), config)
    adjustment = Adjustment(id="adj-new", user=DAVE, leave_type="vacation", days=Decimal("1.5"), year=TODAY.year,
                            reason="correction", by=HR)

    record_adjustment(adjustment)

    assert adjustment in person_view(config, DAVE).adjustments_for(DAVE)


def open_ids(config, *teams) -> list[str] | None:
    found = ledger_reader.open_requests(config, teams or [TEAM.name])
    return None if found is None else sorted(e.id for e in found)


def test_a_teams_open_requests_are_its_posted_pending_ones(ledger_data, config):
    whole = read_ledger(background_client(), config)

    expected = sorted(e.id for e in whole.entries.values() if e.status == PENDING and e.team == TEAM.name)
    assert expected and open_ids(config) == expected
    assert open_ids(config, "Sales") == []


def test_a_decision_closes_an_open_request_and_a_posted_one_opens(ledger_data, config):
    read_ledger(background_client(), config)
    entry = next(e for e in ledger_data.entries_of(ALICE) if e.status == PENDING)
    posted = new_entry(id="posted-just-now", user=DAVE, channel=C_ENG_APPROVALS, ts="1766000000.000900")

    record_entry(replace(entry, status=APPROVED, decided_by="U_BOB", decided_at=1766000000))
    record_entry(posted)

    assert entry.id not in open_ids(config)
    assert "posted-just-now" in open_ids(config)


def test_an_open_request_moved_to_another_team_is_open_there_only(ledger_data, config):
    sales = replace(TEAM, name="Sales", approvals_channel=C_GENERAL, past_approvals_channels=())
    config = replace(config, teams=(TEAM, sales))
    read_ledger(background_client(), config)
    entry = new_entry(id="moving", user=DAVE)
    record_entry(entry)

    record_entry(replace(entry, team="Sales"))

    assert "moving" not in open_ids(config) and open_ids(config, "Sales") == ["moving"]


def removed_teams_open_ids(config) -> list[str] | None:
    found = ledger_reader.open_requests(config, [], removed_teams=True)
    return None if found is None else sorted(e.id for e in found)


def test_the_open_requests_of_a_team_removed_since_are_found_for_hr(ledger_data, config):
    read_ledger(background_client(), config)
    record_entry(new_entry(id="of-a-removed-team", user=DAVE, team="Platform", channel=C_ENG_APPROVALS,
                           ts="1766000000.000901"))
    assert removed_teams_open_ids(config) == ["of-a-removed-team"]  # not Engineering's: it is configured

    record_entry(replace(new_entry(id="of-a-removed-team", user=DAVE, team="Platform"), status=APPROVED))

    assert removed_teams_open_ids(config) == []


def test_the_open_requests_of_removed_teams_are_cold_in_slices_an_earlier_release_wrote(ledger_data, config):
    read_ledger(background_client(), config)
    meta = cache.get(SLICES_META_KEY)
    cache.delete(ledger_reader._team_key(meta.generation, ledger_reader.EVERY_TEAM, ledger_reader.OPEN))

    record_entry(new_entry(id="of-a-removed-team", user=DAVE, team="Platform"))

    assert removed_teams_open_ids(config) is None  # read from the whole ledger, not half of it from here
    assert open_ids(config) is not None  # a configured team's own slice still serves


def test_open_requests_are_cold_with_slices_cached_before_they_existed(ledger_data, config):
    read_ledger(background_client(), config)
    meta = cache.get(SLICES_META_KEY)
    cache.set(SLICES_META_KEY, replace(meta, open_slices=False))  # a meta key written by the last release

    record_entry(new_entry(id="not-indexed", user=DAVE))

    assert open_ids(config) is None  # App Home reads the whole ledger until the next full read
    assert person_view(config, DAVE).entries["not-indexed"].id == "not-indexed"


def test_writes_to_a_cold_cache_invent_no_slices(config):
    record_entry(new_entry())
    record_adjustment(Adjustment(id="a", user=DAVE, leave_type="vacation", days=Decimal(1), year=2026, reason="r",
                                 by=HR))

    assert cache.get(SLICES_META_KEY) is None
    assert person_view(config, CAROL) is None


def test_pending_requests_are_in_the_view_of_their_person_and_team(ledger_data, config):
    read_ledger(background_client(), config)
    mine, theirs = new_entry(id="mine"), new_entry(id="theirs", user=DAVE)
    far = new_entry(id="far", user=DAVE, start=TODAY + timedelta(days=300), end=TODAY + timedelta(days=301))
    for entry in (mine, theirs, far):
        pending_add(entry)

    view = person_view(config, CAROL, TEAM.name, mine.start, mine.end)

    assert view.entries["mine"] == mine and view.entries["theirs"] == theirs
    assert "far" not in view.entries  # another month: not needed for these dates
    assert {"far", "theirs"} <= {e.id for e in person_view(config, DAVE).for_user(DAVE)}
    assert sorted(e.id for e in pending_entries(["Engineering"])) == ["far", "mine", "theirs"]


def test_a_posted_request_leaves_the_pending_set_and_its_indexes(ledger_data, config):
    read_ledger(background_client(), config)
    in_flight, other = new_entry(), new_entry(id="in-flight-2", user=DAVE)
    pending_add(in_flight)
    pending_add(other)

    record_entry(replace(in_flight, status=APPROVED))
    pending_remove(other.id)

    assert pending_entries(["Engineering"]) == []
    view = person_view(config, CAROL, TEAM.name, in_flight.start, in_flight.end)
    assert view.entries[in_flight.id].status == APPROVED
    assert other.id not in view.entries
    person_index = ledger_reader._pending_person_key(CAROL)
    assert pending_indexes.read([person_index])[0] == {person_index: {}}


def test_the_posted_state_wins_over_the_pending_one_in_a_view(ledger_data, config):
    read_ledger(background_client(), config)
    entry = ledger_data.entries_of(ALICE)[0]

    pending_add(replace(entry, status=PENDING, days=Decimal(99)))

    assert person_view(config, ALICE).entries[entry.id] == entry


def test_an_incremental_read_updates_the_slices(ledger_data, fake_slack, config, monkeypatch):
    client = background_client()
    read_ledger(client, config)
    newer = new_entry(id="posted-elsewhere", user=DAVE, status=APPROVED)
    fake_slack.workspace.post_message(C_ENG_APPROVALS, "a request", metadata=request_metadata(newer))
    monkeypatch.setattr(ledger_reader, "INCREMENTAL_EVERY_SECONDS", 0)
    generation = cache.get(SLICES_META_KEY).generation

    refresh_if_stale(client, config)

    assert cache.get(SLICES_META_KEY).generation == generation  # updated in place, not rewritten
    assert person_view(config, DAVE).entries["posted-elsewhere"] == newer
    assert person_view(config, CAROL, TEAM.name, newer.start, newer.end).entries["posted-elsewhere"] == newer


def test_a_full_read_replaces_the_slices_and_drops_the_old_generation(ledger_data, fake_slack, config):
    client = background_client()
    read_ledger(client, config)
    old = cache.get(SLICES_META_KEY).generation
    gone = ledger_data.entries_of(ALICE)[0]
    workspace = fake_slack.workspace
    with workspace.lock:
        channel = ledger_data.channel_of[gone.id]
        workspace.delete_message(workspace.find_message(channel, ledger_data.ts_of[gone.id]))

    read_ledger(client, config)
    assert cache.get(SLICES_META_KEY).generation != old
    assert gone.id not in person_view(config, ALICE).entries
    # A reader that took the old meta key a moment ago still finds the old slices ...
    assert cache.get(ledger_reader._person_key(old, ALICE)) is not None

    read_ledger(client, config)

    assert cache.get(ledger_reader._person_key(old, ALICE)) is None  # ... until the next generation


def test_a_view_reads_the_new_slices_once_their_generation_has_moved(ledger_data, fake_slack, config):
    # Each process reads the slices named after the generation it saw last, with the meta key; when
    # a full read has made a new one since, it must answer from the new one, not the old one it guessed.
    client = background_client()
    read_ledger(client, config)
    gone = ledger_data.entries_of(ALICE)[0]
    assert gone.id in person_view(config, ALICE).entries
    workspace = fake_slack.workspace
    with workspace.lock:
        workspace.delete_message(workspace.find_message(ledger_data.channel_of[gone.id], ledger_data.ts_of[gone.id]))

    read_ledger(client, config)

    assert ledger_reader._slices_generation_seen != cache.get(SLICES_META_KEY).generation
    assert gone.id not in person_view(config, ALICE).entries
    assert ledger_reader._slices_generation_seen == cache.get(SLICES_META_KEY).generation


def test_lost_slices_are_rebuilt_from_the_cached_ledger_without_calling_slack(ledger_data, fake_slack, config):
    client = background_client()
    read_ledger(client, config)
    cache.delete(SLICES_META_KEY)
    assert person_view(config, ALICE) is None
    fake_slack.clear_calls()

    refresh_if_stale(client, config)

    assert fake_slack.calls("conversations.history") == []
    assert sorted(e.id for e in person_view(config, ALICE).for_user(ALICE)) == sorted(
        e.id for e in ledger_data.entries_of(ALICE))


def test_a_view_of_more_than_a_year_is_answered_by_the_whole_ledger(ledger_data, config):
    read_ledger(background_client(), config)

    view = person_view(config, ALICE, TEAM.name, TODAY - timedelta(days=700), TODAY)

    assert isinstance(view, Ledger)


def test_a_long_entry_is_in_every_view_of_its_team(config):
    store_ledger(Ledger(channels=ledger_reader.ledger_channels(config), read_at=1.0, full_read_at=1.0))
    decade = new_entry(id="sabbatical", user=DAVE, start=date(2030, 1, 1), end=date(2034, 12, 31), status=APPROVED)
    record_entry(decade)

    assert person_view(config, CAROL, TEAM.name, date(2032, 5, 3), date(2032, 5, 4)).entries["sabbatical"] == decade


def test_a_view_that_reads_few_others_counts_those_it_left_unread(config):
    store_ledger(Ledger(channels=ledger_reader.ledger_channels(config), read_at=1.0, full_read_at=1.0))
    day = TODAY + timedelta(days=30)
    for n in range(40):
        pending_add(new_entry(id=f"other-{n}", user=f"U_OTHER{n:02d}", start=day, end=day))
    for n in range(3):
        pending_add(new_entry(id=f"own-{n}", user=CAROL, start=day + timedelta(days=100 + n),
                              end=day + timedelta(days=100 + n)))

    view = person_view(config, CAROL, TEAM.name, day, day, others_max=10)

    assert {f"own-{n}" for n in range(3)} <= set(view.entries)  # the person's own: every one
    assert len([e for e in view.entries.values() if e.user != CAROL]) == 10
    assert view.unread_others == 30
    whole = person_view(config, CAROL, TEAM.name, day, day)
    assert len(whole.entries) == 43 and whole.unread_others == 0


def test_the_request_path_never_reads_the_whole_ledger_and_reads_few_keys(config, monkeypatch):
    # 3,000 entries of 150 people: what a view reads does not depend on them.
    people = [f"U_P{i:04d}" for i in range(150)]
    entries = {}
    for i in range(3000):
        start = TODAY + timedelta(days=i % 300)
        entry = new_entry(id=f"e{i}", user=people[i % len(people)], start=start, end=start, status=APPROVED)
        entries[entry.id] = entry
    store_ledger(Ledger(entries=entries, channels=ledger_reader.ledger_channels(config), read_at=1.0,
                        full_read_at=1.0))
    for i in range(200):
        day = TODAY + timedelta(days=i % 300)
        pending_add(new_entry(id=f"p{i}", user=people[i % len(people)], start=day, end=day))
    # A first view in this process learns the slices' generation; later ones read their slices with the meta key.
    person_view(config, people[8], TEAM.name, TODAY, TODAY)
    read = []
    real_get_many, real_get = cache.get_many, cache.get
    monkeypatch.setattr(cache, "get_many", lambda keys, *a, **k: read.extend(keys) or real_get_many(keys, *a, **k))
    monkeypatch.setattr(cache, "get", lambda key, *a, **k: read.append(key) or real_get(key, *a, **k))

    view = person_view(config, people[7], TEAM.name, TODAY + timedelta(days=10), TODAY + timedelta(days=12))

    assert LEDGER_KEY not in read
    start, end = TODAY + timedelta(days=10), TODAY + timedelta(days=12)
    months = {(d.year, d.month) for d in (start, end)}
    met = {e.id for e in view.entries.values() if e.user != people[7]}
    assert all({(e.start.year, e.start.month), (e.end.year, e.end.month)} & months for e in view.entries.values()
               if e.id in met)  # someone else's entry only when it meets these months
    in_flight = [e for e in view.entries.values() if e.status == PENDING]
    # The meta key, the person's version and index, the team's index of each day (and its long one);
    # the person's slice, the team's slices (each month and the long one), each request in flight met.
    days = (end - start).days + 1
    assert len(read) <= 3 + (days + 1) + 1 + (len(months) + 1) + len(in_flight)


# --- The whole ledger, for the background: our writes laid over it, folded in now and then -----------


def test_a_write_does_not_rewrite_or_reload_the_whole_ledger(ledger_data, config, monkeypatch):
    read_ledger(background_client(), config)
    cached_ledger(config)  # this process has it
    touched = []
    real_get, real_set_many = cache.get, cache.set_many
    monkeypatch.setattr(cache, "get", lambda key, *a, **k: touched.append(key) or real_get(key, *a, **k))
    monkeypatch.setattr(cache, "set_many", lambda values, *a, **k: touched.extend(values) or real_set_many(
        values, *a, **k))
    decided = replace(next(e for e in ledger_data.entries_of(ALICE) if e.status == PENDING), status=APPROVED)

    record_entry(decided)
    ledger = cached_ledger(config)

    assert LEDGER_KEY not in touched
    assert ledger.entries[decided.id] == decided
    assert len(ledger.entries) == len(ledger_data.entries)


def test_writes_are_folded_into_the_stored_ledger_after_a_while(ledger_data, config, monkeypatch):
    monkeypatch.setattr(ledger_reader, "COMPACT_AFTER_WRITES", 3)
    read_ledger(background_client(), config)
    posted = [new_entry(id=f"posted-{n}", user=DAVE) for n in range(3)]

    for entry in posted:
        record_entry(entry)

    stored = cache.get(LEDGER_KEY)
    assert all(stored.entries[entry.id] == entry for entry in posted)
    assert cached_ledger(config).entries["posted-2"] == posted[2]
    record_entry(replace(posted[0], status=CANCELLED))  # laid over the folded ledger again
    assert cached_ledger(config).entries["posted-0"].status == CANCELLED


def test_an_incremental_read_folds_in_the_writes_its_ledger_lacked(ledger_data, fake_slack, config, monkeypatch):
    client = background_client()
    read_ledger(client, config)
    decided = replace(next(e for e in ledger_data.entries if e.status == PENDING), status=APPROVED)
    record_entry(decided)
    fake_slack.workspace.post_message(C_ENG_APPROVALS, "a request", metadata=request_metadata(new_entry(id="new")))
    monkeypatch.setattr(ledger_reader, "INCREMENTAL_EVERY_SECONDS", 0)

    refresh_if_stale(client, config)

    assert cache.get(LEDGER_KEY).entries[decided.id] == decided
    assert "new" in cached_ledger(config).entries


def test_a_pending_request_reads_back_exactly_as_it_was_added(config):
    full = new_entry(id="every-field", start_half="pm", end_half="am", days=Decimal("1.5"), recorded_by="U_HR",
                     decided_by="U_HR", decided_at=1_766_000_000, reason="a <reason> & more")
    pending_add(full)

    [read_back] = pending_entries(["Engineering"])
    assert read_back == full


def test_a_pending_entry_kept_in_another_shape_counts_as_missing(config):
    pending_add(new_entry(id="odd"))
    cache.set(ledger_reader._pending_entry_key("odd"), ("too", "short"), 60)  # say, written by another version

    assert pending_entries(["Engineering"]) == []
