"""Delivery statistics on a real SQLite file: the sums against a hand count, percentiles
against the exact ones, restarts, time zones, and the transaction they share."""

from __future__ import annotations

import math
import sqlite3
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smsengine.daemon.stats import (
    COUNTED_STATES,
    LATENCY_EDGES,
    Stats,
    StatsPage,
    parse_group_by,
)
from smsengine.engine.sqlite import SharedFileStore, StoreError

ZONES = ["UTC", "Asia/Shanghai", "America/New_York", "Asia/Kolkata"]
# 2026-03-01 00:00 UTC: the 20 days after it hold New York's switch to summer time (03-08).
BASE = datetime(2026, 3, 1, tzinfo=UTC).timestamp()
SPAN = 20 * 86400.0
RATIO = LATENCY_EDGES[1] / LATENCY_EDGES[0]
FIGURES = [*COUNTED_STATES, "parts"]


def _at(day: int, hour: int, minute: int = 0, tz: str = "UTC") -> float:
    return datetime(2026, 1, day, hour, minute, tzinfo=ZoneInfo(tz)).timestamp()


def _delivered(stats: Stats, at: float, latency: float = 1.0, channel: str = "c1",
               kind: str = "otp") -> None:
    stats.record(channel=channel, kind=kind, state="submitted", parts=1,
                 submitted_at=at - latency, done_at=None)
    stats.record(channel=channel, kind=kind, state="delivered", parts=1,
                 submitted_at=at - latency, done_at=at)


# --- the sums against a hand count ---------------------------------------------------------------

_event = st.tuples(
    st.sampled_from(["c1", "c2", "c3"]),
    st.sampled_from(["otp", "marketing"]),
    st.sampled_from(COUNTED_STATES),
    st.integers(1, 5),
    st.floats(0, SPAN),  # when submitted, after BASE
    st.floats(0, 3 * 86400),  # then done after this long
    st.booleans(),  # flush after this record
)


def _expected(events: list[tuple[Any, ...]], since: float, until: float, group_by: list[str],
              tz: str) -> dict[tuple[Any, ...], Counter[str]]:
    zone = ZoneInfo(tz)
    out: dict[tuple[Any, ...], Counter[str]] = defaultdict(Counter)
    for channel, kind, state, parts, sub, wait, _ in events:
        submitted_at = BASE + sub
        at = submitted_at if state == "submitted" else submitted_at + wait
        start = math.floor(at / 3600) * 3600
        if not since <= start < until:
            continue
        local = datetime.fromtimestamp(start, zone)
        key = []
        for name in ("day", "hour", "channel", "kind"):
            if name in group_by:
                key.append({"day": local.date().isoformat(), "hour": local.isoformat(),
                            "channel": channel, "kind": kind}[name])
        counts = out[tuple(key)]
        counts[state] += 1
        if state == "submitted":
            counts["parts"] += parts
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=st.lists(_event, max_size=80),
       store_tz=st.sampled_from(ZONES), query_tz=st.sampled_from(ZONES),
       group_by=st.sampled_from([[], ["day"], ["hour"], ["channel"], ["kind"],
                                 ["day", "channel"], ["hour", "kind"],
                                 ["kind", "channel", "day"]]),
       window=st.tuples(st.floats(-86400, SPAN + 4 * 86400), st.floats(0, SPAN + 4 * 86400)))
def test_the_sums_are_the_hand_count(tmp_path_factory: pytest.TempPathFactory,
                                     events: list[tuple[Any, ...]], store_tz: str, query_tz: str,
                                     group_by: list[str], window: tuple[float, float]) -> None:
    since = BASE + window[0]
    until = since + window[1]
    path = tmp_path_factory.mktemp("stats") / "s.db"
    with Stats(path, tz=store_tz) as stats:
        for channel, kind, state, parts, sub, wait, flush in events:
            submitted_at = BASE + sub
            stats.record(channel=channel, kind=kind, state=state, parts=parts,
                         submitted_at=submitted_at,
                         done_at=None if state == "submitted" else submitted_at + wait)
            if flush:
                stats.flush()
        rows = stats.query(since=since, until=until, group_by=group_by, tz=query_tz)
        everything = stats.query(since=0, until=1e12)[0]
    expected = _expected(events, since, until, group_by, query_tz)
    names = [n for n in ("day", "hour", "channel", "kind") if n in group_by]
    got = {tuple(row[n] for n in names): Counter({f: row[f] for f in FIGURES if row[f]})
           for row in rows}
    if not group_by and not expected:
        expected[()] = Counter()
    assert got == expected
    assert list(got) == sorted(got)  # (in time, channel, kind order)
    totals = Counter(e[2] for e in events)
    assert {f: everything[f] for f in COUNTED_STATES} == {f: totals[f] for f in COUNTED_STATES}
    assert everything["parts"] == sum(e[3] for e in events if e[2] == "submitted")


@pytest.mark.parametrize("tz", ["UTC", "Asia/Shanghai", "America/New_York", "Asia/Kolkata"])
def test_every_range_edge_reads_each_hour_once(tz: str) -> None:
    """One message an hour for 8 days; every [since, until) whose ends fall on or around the
    hours of two days: the whole days come from the day rows, the ends from the hour rows."""
    zone = ZoneInfo(tz)
    first = int(BASE // 3600) + 24 * 4  # (New York's switch is in these days)
    hours = range(first, first + 24 * 8)
    with Stats(":memory:", tz=tz) as stats:
        for hour in hours:
            stats.record(channel="c", kind="otp", state="submitted", parts=1,
                         submitted_at=hour * 3600 + 1800.0, done_at=None)
        for start in range(first + 20, first + 52):
            for length in (1, 23, 24, 25, 47, 48, 49, 71, 72, 100):
                for since, until in (((start) * 3600.0, (start + length) * 3600.0),
                                     ((start - 0.5) * 3600, (start + length - 0.5) * 3600)):
                    inside = [h for h in hours if since <= h * 3600 < until]
                    [total] = stats.query(since=since, until=until)
                    assert total["submitted"] == len(inside), (since, until)
                    days = Counter(datetime.fromtimestamp(h * 3600, zone).date().isoformat()
                                   for h in inside)
                    got = {r["day"]: r["submitted"]
                           for r in stats.query(since=since, until=until, group_by=["day"])}
                    assert got == days, (since, until)


def test_delivery_rate_counts_the_carriers_verdicts_only(tmp_path: Path) -> None:
    at = _at(1, 12)
    with Stats(tmp_path / "s.db") as stats:
        for state, n in [("delivered", 6), ("undeliverable", 1), ("expired", 1),
                         ("rejected", 0), ("failed", 5), ("unknown", 4), ("cancelled", 3)]:
            for _ in range(n):
                stats.record(channel="c", kind="otp", state=state, parts=1, submitted_at=at,
                             done_at=at + 1)
        row = stats.query(since=0, until=1e12)[0]
        assert row["delivery_rate"] == 6 / 8
        stats.record(channel="d", kind="otp", state="failed", parts=1, submitted_at=None,
                     done_at=at)
        only_failed = stats.query(since=0, until=1e12, group_by=["channel"])[1]
        assert only_failed["channel"] == "d" and only_failed["delivery_rate"] is None
        assert only_failed["p50"] is None and only_failed["p95"] is None


# --- percentiles ---------------------------------------------------------------------------------


def _within_a_bucket(estimate: float, exact: float) -> bool:
    if exact < LATENCY_EDGES[0]:
        return estimate <= LATENCY_EDGES[0]
    return exact / RATIO * (1 - 1e-9) <= estimate <= exact * RATIO * (1 + 1e-9)


@settings(max_examples=100, deadline=None)
@given(latencies=st.lists(st.floats(0, 2.5 * 86400), min_size=1, max_size=300))
def test_percentiles_are_within_a_bucket_of_the_exact_ones(latencies: list[float]) -> None:
    with Stats(":memory:") as stats:
        at = _at(10, 12)
        for latency in latencies:
            stats.record(channel="c", kind="otp", state="delivered", parts=1,
                         submitted_at=at - latency, done_at=at)
        row = stats.query(since=0, until=1e12)[0]
    ordered = sorted(latencies)
    for q, name in ((0.50, "p50"), (0.95, "p95")):
        exact = ordered[math.ceil(q * len(ordered)) - 1]  # nearest rank
        assert _within_a_bucket(row[name], exact), (name, row[name], exact)


def test_percentiles_of_a_known_spread(tmp_path: Path) -> None:
    at = _at(2, 8)
    with Stats(tmp_path / "s.db") as stats:
        for i in range(1, 1001):  # 1..1000 s, spread over two channels and two hours
            _delivered(stats, at + (i % 2) * 3600, latency=float(i), channel=f"c{i % 2}")
        stats.flush()
        row = stats.query(since=0, until=1e12)[0]
        assert _within_a_bucket(row["p50"], 500) and _within_a_bucket(row["p95"], 950)


# --- restarts, the shared transaction, failures --------------------------------------------------


def test_counts_survive_a_restart_and_keep_adding_up(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Stats(path) as stats:
        _delivered(stats, _at(3, 10, 30), channel="a")
        stats.flush()
        _delivered(stats, _at(3, 11, 30), channel="a")  # (never flushed: close writes it)
    with Stats(path) as stats:
        [row] = stats.query(since=0, until=1e12, group_by=["channel"])
        assert (row["channel"], row["submitted"], row["delivered"]) == ("a", 2, 2)
        _delivered(stats, _at(3, 10, 45), channel="a")
        stats.commit()
    with Stats(path) as stats:
        hours = stats.query(since=_at(3, 0), until=_at(4, 0), group_by=["hour"], tz="UTC")
        assert [(r["hour"], r["delivered"]) for r in hours] == [
            ("2026-01-03T10:00:00+00:00", 2), ("2026-01-03T11:00:00+00:00", 1)]


def test_flush_joins_the_open_transaction_and_commits_nothing(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Stats(path) as stats, SharedFileStore(path) as other:
        _delivered(stats, _at(5, 10, 30))
        stats.flush()
        reader = sqlite3.connect(path)
        try:
            assert reader.execute("SELECT count(*) FROM stats_hour").fetchone() == (0,)
            other.flush()  # (the outbox's commit, here the base store's)
            assert reader.execute("SELECT count(*) FROM stats_hour").fetchone() == (1,)
        finally:
            reader.close()


def test_a_failed_flush_writes_nothing_and_keeps_the_counts(tmp_path: Path) -> None:
    with Stats(tmp_path / "s.db") as stats:
        _delivered(stats, _at(6, 10, 30))
        conn = stats._open().conn
        conn.execute("ALTER TABLE stats_day RENAME TO stats_day_away")  # (the 2nd write fails)
        with pytest.raises(StoreError, match="statistics not written"):
            stats.flush()
        assert stats.dirty
        assert conn.execute("SELECT count(*) FROM stats_hour").fetchone() == (0,)  # rolled back
        conn.execute("ALTER TABLE stats_day_away RENAME TO stats_day")
        _delivered(stats, _at(6, 10, 35))
        stats.flush()
        row = stats.query(since=0, until=1e12)[0]
        assert (row["submitted"], row["delivered"]) == (2, 2)  # once each, nothing twice


def test_prune_forgets_whole_days_before(tmp_path: Path) -> None:
    with Stats(tmp_path / "s.db", tz="Asia/Shanghai") as stats:
        for day in (1, 2, 3):
            _delivered(stats, _at(day, 12, 30, tz="Asia/Shanghai"))
        assert stats.prune(_at(2, 15, tz="Asia/Shanghai")) == 1  # day 1's one hour row
        rows = stats.query(since=0, until=1e12, group_by=["day"])
        assert [r["day"] for r in rows] == ["2026-01-02", "2026-01-03"]
        assert stats.query(since=0, until=1e12)[0]["delivered"] == 2


# --- time zones ----------------------------------------------------------------------------------


@pytest.mark.parametrize("store_tz", ["UTC", "Asia/Shanghai", "America/New_York"])
def test_day_grouping_follows_the_time_zone(tmp_path: Path, store_tz: str) -> None:
    path = tmp_path / "s.db"
    with Stats(path, tz=store_tz) as stats:
        _delivered(stats, _at(1, 15, 30))  # Shanghai: 1 Jan 23:30; New York: 1 Jan 10:30
        _delivered(stats, _at(1, 16, 30))  # Shanghai: 2 Jan 00:30
        _delivered(stats, _at(2, 4, 30))  # New York: 1 Jan 23:30
        _delivered(stats, _at(2, 5, 30))  # New York: 2 Jan 00:30
        for _ in range(30):  # (enough days around them to read day rows, not only hours)
            _delivered(stats, _at(20, 12))
        by_zone = {tz: [(r["day"], r["delivered"]) for r in stats.query(
            since=_at(1, 0) - 86400, until=_at(19, 0), group_by=["day"], tz=tz)]
            for tz in ("UTC", "Asia/Shanghai", "America/New_York")}
    assert by_zone == {
        "UTC": [("2026-01-01", 2), ("2026-01-02", 2)],
        "Asia/Shanghai": [("2026-01-01", 1), ("2026-01-02", 3)],
        "America/New_York": [("2026-01-01", 3), ("2026-01-02", 1)],
    }
    with Stats(path, tz="Asia/Kolkata") as stats:  # (another zone: the day rows are rebuilt)
        assert stats.tz == "Asia/Kolkata"
        rows = stats.query(since=0, until=1e12, group_by=["day"])
        # Kolkata is +05:30: each hour counts on the local date of its start.
        assert [(r["day"], r["delivered"]) for r in rows] == [
            ("2026-01-01", 2), ("2026-01-02", 2), ("2026-01-20", 30)]
        assert sum(r["delivered"] for r in stats.query(
            since=_at(1, 0), until=_at(21, 0), group_by=["kind"])) == 34


def test_hours_are_written_in_the_querys_zone(tmp_path: Path) -> None:
    with Stats(tmp_path / "s.db") as stats:
        _delivered(stats, _at(1, 15, 30))
        [row] = stats.query(since=0, until=1e12, group_by=["hour"], tz="Asia/Shanghai")
        assert row["hour"] == "2026-01-01T23:00:00+08:00"


# --- the API's side ------------------------------------------------------------------------------


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with Stats(tmp_path / "s.db") as stats:
        with pytest.raises(ValueError, match="not a counted state"):
            stats.record(channel="c", kind="otp", state="queued", parts=1, submitted_at=None,
                         done_at=None)
        with pytest.raises(ValueError, match="exclude each other"):
            stats.query(since=0, until=1, group_by=["day", "hour"])
        with pytest.raises(ValueError, match="unknown 'week'"):
            stats.query(since=0, until=1, group_by=["week"])
        assert stats.query(since=-math.inf, until=math.inf)[0]["submitted"] == 0
        _delivered(stats, _at(1, 9, 30))
        assert stats.query(since=-math.inf, until=math.inf)[0]["delivered"] == 1
        assert stats.query(since=math.inf, until=math.inf)[0]["delivered"] == 0
        with pytest.raises(ValueError, match="must be numbers"):
            stats.query(since=math.nan, until=1)
        with pytest.raises(ValueError, match="before since"):
            stats.query(since=1, until=0)
        with pytest.raises(ValueError, match="time zone"):
            stats.query(since=0, until=1, tz="Mars/Olympus")
        with pytest.raises(ValueError, match="unknown time zone"):
            Stats(tmp_path / "t.db", tz="Nowhere/Land")
    assert parse_group_by("day, channel") == ["day", "channel"]
    assert parse_group_by("") == [] and parse_group_by(None) == []
    with pytest.raises(ValueError, match="appears twice"):
        parse_group_by("kind,kind")


def test_the_page_encodes_and_has_a_schema(tmp_path: Path) -> None:
    with Stats(tmp_path / "s.db") as stats:
        _delivered(stats, _at(1, 9, 30))
        page = stats.page(since=0, until=2e9, group_by=["day", "kind"])
        empty = stats.page(since=0, until=1)
    decoded = msgspec.json.decode(msgspec.json.encode(page))
    assert decoded["tz"] == "UTC" and decoded["group_by"] == ["day", "kind"]
    [row] = decoded["rows"]
    assert row["day"] == "2026-01-01" and row["kind"] == "otp"
    assert "channel" not in row and "hour" not in row and row["delivery_rate"] == 1.0
    assert [r.submitted for r in empty.rows] == [0]  # (ungrouped: one row, zeros)
    schema = msgspec.json.schema(StatsPage)
    assert "StatsRow" in schema["$defs"]


def test_counts_of_a_commit_that_failed_go_in_with_the_next(tmp_path: Path) -> None:
    """The outbox's commit fails after the statistics were written into its transaction:
    rolled back, they are counted again by the next flush, once."""
    path = tmp_path / "s.db"
    with Stats(path) as stats:
        _delivered(stats, _at(3, 10, 30), channel="a")
        stats.flush()
        stats._open().conn.rollback()  # (the commit failed: nothing of it is in the file)
        stats.rolled_back()
        _delivered(stats, _at(3, 10, 40), channel="a")
        stats.commit()
        stats.rolled_back()  # (a late call after a commit changes nothing)
        stats.commit()
        [row] = stats.query(since=0, until=1e12, group_by=["channel"])
        assert (row["submitted"], row["delivered"]) == (2, 2)
