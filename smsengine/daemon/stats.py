"""Delivery statistics: incrementally maintained aggregates in the engine's SQLite file, for
``GET /v1/stats`` (issue 18).

What is kept
    Per (hour, channel, kind) the number of messages that reached each state, the parts billed
    and a histogram of submit -> delivered seconds (table ``stats_hour``, hours in UTC); the same
    sums per (day, channel, kind) (table ``stats_day``, days in the store's ``tz``), so that a
    query over weeks reads a row per day, not 24. 90 days of 3 channels x 3 kinds is 19 440
    hour rows and 810 day rows whatever the number of messages: a query reads aggregates, never
    the messages (``benchmarks/stats.py``: p99 1.5 to 7 ms with 10 million messages stored).
    Its cost grows with the rows it reads: the days of history times the series, plus the
    hours at the range's ends (a year of 9 series is about 3 300 day rows); :meth:`prune`
    forgets old days.

Counting (:meth:`Stats.record`)
    The gateway calls it once when a message is ``submitted`` (it reached the carrier; its
    ``parts`` are what the carrier bills, counted here) and once when it reaches a final state
    (``delivered``, ``undeliverable``, ``expired``, ``rejected``, ``failed``, ``unknown``,
    ``cancelled``). A message counts in the hour of each event: ``submitted`` in the hour of
    ``submitted_at``, a final state in the hour of ``done_at`` (now, when the time is None).
    So ``submitted`` of an hour is not the sum of its final states: a message refused before it
    left (``failed``, ``cancelled``) was never submitted, and one submitted at 10:59 may be
    delivered at 11:00. A ``delivered`` record with both times adds ``done_at - submitted_at``
    to the histogram.

    :meth:`record` only adds to a dict in memory (well under a microsecond); :meth:`flush`
    writes the sums into the file's open transaction, which the outbox's flush commits. A crash
    loses what the outbox loses: the records since the last commit; a commit that fails and
    is rolled back takes the sums written with it, as it takes the states they counted.

Delivery rate
    ``delivered / (delivered + undeliverable + expired + rejected)``: delivered among the
    messages the carrier gave a verdict on (a receipt). ``failed`` (refused at submit, by the
    carrier or the engine), ``unknown`` (no receipt within the TTL) and ``cancelled`` are left
    out; they have their own counts. None when no message had a verdict.

Latency percentiles
    The histogram has :data:`LATENCY_BUCKETS` buckets: [0, 10 ms), then 38 of equal ratio
    (x1.567 each) up to 3 days, then [3 days, inf). p50 and p95 come from the summed buckets
    of a group, interpolated log-linearly inside the bucket holding the rank (linearly in the
    first; the last answers 3 days): within one bucket's ratio of the exact percentile (the
    nearest-rank value of the same messages).

Time
    A query covers the hour buckets that *start* in ``[since, until)``. Hours are UTC; a day is
    the date, in the query's ``tz``, of its hours' start, so in a zone with a half-hour offset
    a "day" is shifted by that half hour. Days in the store's own ``tz`` (the ``Stats(tz=...)``
    of the file, default UTC) are read from ``stats_day``; grouping by day in another zone sums
    hour rows (correct, but 30 days of 9 series take 15-25 ms here, p99 up to 49, against
    2.5 ms from the day rows: give the store the operators' zone). Opening the
    file with another ``tz`` rebuilds ``stats_day`` from the hours once.

Everything here is synchronous and runs on the event loop thread.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Iterable, Sequence
from datetime import date, datetime, tzinfo
from itertools import pairwise
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from ..engine.sqlite import SharedFileStore, StoreError

__all__ = [
    "COUNTED_STATES",
    "GROUPS",
    "LATENCY_BUCKETS",
    "LATENCY_EDGES",
    "Stats",
    "StatsPage",
    "StatsRow",
    "parse_group_by",
]

#: The states :meth:`Stats.record` takes, in the order of the count columns.
COUNTED_STATES: Final = ("submitted", "delivered", "undeliverable", "expired", "rejected",
                         "failed", "unknown", "cancelled")
#: What a query may group by (``day`` and ``hour`` exclude each other).
GROUPS: Final = ("day", "hour", "channel", "kind")

_SUBMITTED, _DELIVERED = 0, 1
_PARTS = len(COUNTED_STATES)  # 8: the parts column
_HIST = _PARTS + 1  # 9: the first histogram column
_COLUMN: Final = {name: i for i, name in enumerate(COUNTED_STATES)}
_VERDICTS = tuple(_COLUMN[s] for s in ("delivered", "undeliverable", "expired", "rejected"))

_LOW = 0.01  # seconds: the top of the first bucket
_HIGH = 3 * 86400.0  # seconds: the bottom of the last bucket
#: Number of histogram buckets: [0, 10 ms), 38 log-scale ones, [3 days, inf).
LATENCY_BUCKETS: Final = 40
_RATIO = (_HIGH / _LOW) ** (1 / (LATENCY_BUCKETS - 2))
_INV_LOG_RATIO = 1 / math.log(_RATIO)
_INV_LOW = 1 / _LOW
_log = math.log
#: The buckets' boundaries in seconds: bucket 0 is [0, EDGES[0]), bucket i is
#: [EDGES[i-1], EDGES[i]), the last is [EDGES[-1], inf).
LATENCY_EDGES: Final = tuple(_LOW * _RATIO ** k for k in range(LATENCY_BUCKETS - 1))
_WIDTH = _HIST + LATENCY_BUCKETS

_NAMES = [*COUNTED_STATES, "parts", *(f"l{i:02d}" for i in range(LATENCY_BUCKETS))]
_COLUMNS_SQL = ",\n    ".join(f"{n} INTEGER NOT NULL DEFAULT 0" for n in _NAMES)
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS stats_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stats_hour (
    hour    INTEGER NOT NULL,  -- unix time // 3600 (UTC)
    channel TEXT NOT NULL,
    kind    TEXT NOT NULL,
    {_COLUMNS_SQL},
    PRIMARY KEY (hour, channel, kind)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stats_day (
    day     INTEGER NOT NULL,  -- days since 1970-01-01 in the tz of stats_meta
    channel TEXT NOT NULL,
    kind    TEXT NOT NULL,
    {_COLUMNS_SQL},
    PRIMARY KEY (day, channel, kind)
) WITHOUT ROWID;
"""


def _upsert(table: str, key: str) -> str:
    names = ", ".join(_NAMES)
    marks = ", ".join("?" * (_WIDTH + 3))
    sets = ", ".join(f"{n} = {n} + excluded.{n}" for n in _NAMES)
    return (f"INSERT INTO {table} ({key}, channel, kind, {names}) VALUES ({marks}) "
            f"ON CONFLICT ({key}, channel, kind) DO UPDATE SET {sets}")


_UPSERT_HOUR = _upsert("stats_hour", "hour")
_UPSERT_DAY = _upsert("stats_day", "day")
_SUMS = ", ".join(f"sum({n})" for n in _NAMES)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_BIAS_DAYS = 1_000_000  # keeps the day expression's division on positive numbers
_UTC = ZoneInfo("UTC")


class StatsRow(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One group of a statistics answer. The group's keys (``day``, ``hour``, ``channel``,
    ``kind``) are present only when grouped by; the figures always are."""

    day: str | None = None
    """The local date, ``YYYY-MM-DD``, in the query's time zone."""
    hour: str | None = None
    """The hour's start, ISO 8601 with the query's time zone's offset."""
    channel: str | None = None
    kind: str | None = None
    submitted: int
    """Messages that reached the carrier in the period."""
    delivered: int
    undeliverable: int
    expired: int
    rejected: int
    failed: int
    unknown: int
    cancelled: int
    delivery_rate: float | None
    """delivered / (delivered + undeliverable + expired + rejected); null without a verdict."""
    parts: int
    """Parts of the messages submitted: what the carrier bills."""
    p50: float | None
    """Median seconds from submitted to delivered (from the histogram); null if none."""
    p95: float | None


class StatsPage(msgspec.Struct, kw_only=True):
    """The answer of ``GET /v1/stats``."""

    since: float
    until: float
    group_by: list[str]
    tz: str
    rows: list[StatsRow]


def parse_group_by(text: str | None) -> list[str]:
    """``"day,channel"`` -> ``["day", "channel"]``, checked; ValueError naming the problem."""
    if not text:
        return []
    names = [n.strip() for n in text.split(",") if n.strip()]
    _check_group_by(names)
    return names


def _check_group_by(names: Sequence[str]) -> None:
    for name in names:
        if name not in GROUPS:
            raise ValueError(f"group_by: unknown {name!r} (one of {', '.join(GROUPS)})")
    if len(set(names)) != len(names):
        raise ValueError("group_by: a name appears twice")
    if "day" in names and "hour" in names:
        raise ValueError("group_by: day and hour exclude each other")


def _zone(tz: str | tzinfo | None) -> tzinfo:
    if tz is None:
        return _UTC
    if isinstance(tz, str):
        try:
            return ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"tz: unknown time zone {tz!r}") from exc
    return tz


def _zone_name(tz: tzinfo) -> str:
    return getattr(tz, "key", None) or str(tz)


def _bucket(seconds: float) -> int:
    if seconds < _LOW:  # (also negative: clocks)
        return 0
    if seconds >= _HIGH:
        return LATENCY_BUCKETS - 1
    i = 1 + int(_log(seconds * _INV_LOW) * _INV_LOG_RATIO)
    return i if i < LATENCY_BUCKETS - 1 else LATENCY_BUCKETS - 2


def _percentile(hist: Sequence[int], q: float) -> float | None:
    total = sum(hist)
    if not total:
        return None
    target = q * total
    seen = 0
    for i, n in enumerate(hist):
        if n and seen + n >= target:
            frac = (target - seen) / n
            if i == 0:
                return _LOW * frac
            if i == LATENCY_BUCKETS - 1:
                return _HIGH
            low = LATENCY_EDGES[i - 1]
            return float(low * _RATIO ** frac)
        seen += n
    return _HIGH  # (not reached: the last bucket holding anything answers)


class _Zone:
    """Hour number <-> local day number in one time zone, memoised."""

    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz
        self.name = _zone_name(tz)
        self._days: dict[int, int] = {}

    def day(self, hour: int) -> int:
        """The local date of the hour's start, as days since 1970-01-01."""
        day = self._days.get(hour)
        if day is None:
            if len(self._days) > 4096:
                self._days.clear()
            day = self._days[hour] = (datetime.fromtimestamp(hour * 3600, self.tz).toordinal()
                                      - _EPOCH_ORDINAL)
        return day

    def first_hour(self, day: int) -> int:
        """The first hour whose local date is ``day`` or later."""
        midnight = datetime.combine(date.fromordinal(day + _EPOCH_ORDINAL), datetime.min.time(),
                                    self.tz).timestamp()
        hour = math.ceil(midnight / 3600)
        while self.day(hour - 1) >= day:
            hour -= 1
        while self.day(hour) < day:
            hour += 1
        return hour

    def offset(self, hour: int) -> int:
        off = datetime.fromtimestamp(hour * 3600, self.tz).utcoffset()
        return int(off.total_seconds()) if off is not None else 0

    def day_sql(self, lo: int, hi: int) -> str:
        """An SQL expression of ``hour`` giving its local day, right for hours in [lo, hi): the
        offset is constant between transitions, found by stepping a day at a time and
        bisecting the step where it changes."""
        current = self.offset(lo)
        segments = [(lo, current)]
        hour, last = lo, hi - 1
        while hour < last:
            step = min(hour + 24, last)
            if self.offset(step) == current:
                hour = step
                continue
            a, b = hour, step
            while b - a > 1:
                mid = (a + b) // 2
                if self.offset(mid) == current:
                    a = mid
                else:
                    b = mid
            current = self.offset(b)
            segments.append((b, current))
            hour = b
        if len(segments) == 1:
            offset = str(current)
        else:
            whens = " ".join(f"WHEN hour < {start} THEN {off}"
                             for (_, off), (start, _) in pairwise(segments))
            offset = f"(CASE {whens} ELSE {segments[-1][1]} END)"
        return f"((hour * 3600 + {offset} + {_BIAS_DAYS * 86400}) / 86400 - {_BIAS_DAYS})"


class Stats(SharedFileStore):
    """See the module docstring. ``tz`` is the zone of the stored day rows: the one queries
    by day are fastest in (default UTC)."""

    def __init__(self, path: str | Path, *, tz: str | tzinfo | None = None) -> None:
        zone = _zone(tz)
        super().__init__(path)
        self._zone = _Zone(zone)
        self._zones: dict[str, _Zone] = {self._zone.name: self._zone}
        #: Counts not yet flushed: (hour, channel, kind) -> the row's columns.
        self._pending: dict[tuple[int, str, str], list[int]] = {}
        # Counts written into the open transaction, kept until it commits (rolled back: they
        # go back to _pending, so a failed commit loses none).
        self._staged: list[dict[tuple[int, str, str], list[int]]] = []
        db = self._open()
        conn = db.conn
        try:
            db.commit()
            conn.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            row = conn.execute("SELECT value FROM stats_meta WHERE key = 'tz'").fetchone()
            if row is None or row[0] != self._zone.name:
                self._rebuild_days(conn)
                conn.execute("INSERT OR REPLACE INTO stats_meta VALUES ('tz', ?)",
                             (self._zone.name,))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.rollback()
            self.close()
            raise StoreError(str(path), f"cannot hold the statistics ({exc})") from exc

    @property
    def tz(self) -> str:
        """The zone of the stored days."""
        return self._zone.name

    def _rebuild_days(self, conn: sqlite3.Connection) -> None:
        conn.execute("DELETE FROM stats_day")
        lo, hi = conn.execute("SELECT min(hour), max(hour) FROM stats_hour").fetchone()
        if lo is None:
            return
        names = ", ".join(_NAMES)
        conn.execute(f"INSERT INTO stats_day (day, channel, kind, {names}) "
                     f"SELECT {self._zone.day_sql(lo, hi + 1)}, channel, kind, {_SUMS} "
                     f"FROM stats_hour GROUP BY 1, 2, 3")

    # --- counting ------------------------------------------------------------------------------

    def record(self, *, channel: str, kind: str, state: str, parts: int,
               submitted_at: float | None, done_at: float | None) -> None:
        """Count one event of a message (see the module docstring); ValueError for a state
        that is not counted. Memory only: :meth:`flush` writes."""
        column = _COLUMN.get(state)
        if column is None:
            raise ValueError(f"not a counted state: {state!r} (one of "
                             f"{', '.join(COUNTED_STATES)})")
        at = submitted_at if column == 0 else done_at
        if at is None:
            at = time.time()
        key = (int(at // 3600), channel, kind)
        row = self._pending.get(key)
        if row is None:
            row = self._pending[key] = [0] * _WIDTH
        row[column] += 1
        if column == 0:  # submitted
            row[_PARTS] += parts
        elif column == 1 and submitted_at is not None and at is done_at:  # delivered, timed
            seconds = at - submitted_at
            if seconds < _LOW:
                row[_HIST] += 1
            elif seconds >= _HIGH:
                row[_WIDTH - 1] += 1
            else:  # (inlined _bucket: this is the hot path)
                i = 1 + int(_log(seconds * _INV_LOW) * _INV_LOG_RATIO)
                row[_HIST + (i if i < LATENCY_BUCKETS - 1 else LATENCY_BUCKETS - 2)] += 1

    @property
    def dirty(self) -> bool:
        return bool(self._pending)

    def flush(self) -> None:
        """Add the counts recorded since the last flush to the tables, inside the file's open
        transaction, without committing (the outbox's flush commits). All of them or none: on
        an SQLite error they are kept for the next flush and StoreError is raised."""
        pending = self._pending
        if not pending:
            return
        db = self._open()
        self._pending = {}
        self._staged.append(pending)  # (until the outbox's commit says they are in)
        days: dict[tuple[int, str, str], list[int]] = {}
        day_of = self._zone.day
        for (hour, channel, kind), counts in pending.items():
            key = (day_of(hour), channel, kind)
            total = days.get(key)
            if total is None:
                days[key] = counts[:]
            else:
                for i, n in enumerate(counts):
                    if n:
                        total[i] += n
        conn = db.begin()
        try:
            conn.execute("SAVEPOINT stats")
            try:
                conn.executemany(_UPSERT_HOUR, [(*k, *v) for k, v in pending.items()])
                conn.executemany(_UPSERT_DAY, [(*k, *v) for k, v in days.items()])
            except sqlite3.Error:
                if conn.in_transaction:
                    conn.execute("ROLLBACK TO stats")
                    conn.execute("RELEASE stats")
                raise
            conn.execute("RELEASE stats")
        except sqlite3.Error as exc:
            self.rolled_back()
            raise StoreError(self.path, f"statistics not written ({exc})") from exc

    def committed(self) -> None:
        """The transaction they were written into committed."""
        self._staged = []

    def rolled_back(self) -> None:
        """The transaction they were written into was rolled back: they go in next time."""
        staged, self._staged = self._staged, []
        for counts in staged:
            self._merge(counts)

    def _merge(self, counts: dict[tuple[int, str, str], list[int]]) -> None:
        for key, row in counts.items():
            mine = self._pending.get(key)
            if mine is None:
                self._pending[key] = row
            else:
                for i, n in enumerate(row):
                    mine[i] += n

    def commit(self) -> None:
        """Flush and commit: for use without an outbox (tests, tools)."""
        self.flush()
        self._open().commit()
        self.committed()

    def close(self) -> None:
        """Flush and close (the close commits)."""
        if self._db is not None:
            try:
                self.flush()
            finally:
                super().close()

    def prune(self, before: float) -> int:
        """Forget the days (of the store's zone) before the one holding ``before``: their hour
        and day rows alike. Returns the hour rows deleted. Joins the open transaction."""
        self.flush()
        day = self._zone.day(math.floor(before / 3600))
        first = self._zone.first_hour(day)
        conn = self._open().begin()
        gone = conn.execute("DELETE FROM stats_hour WHERE hour < ?", (first,)).rowcount
        conn.execute("DELETE FROM stats_day WHERE day < ?", (day,))
        return int(gone)

    # --- queries -------------------------------------------------------------------------------

    def query(self, *, since: float, until: float, group_by: Sequence[str] = (),
              tz: str | tzinfo | None = None) -> list[dict[str, Any]]:
        """The figures per group over the hours starting in ``[since, until)`` (unix seconds),
        as dicts (:class:`StatsRow`'s fields; a group's keys only when grouped by). Sorted by
        time, channel, kind. Without ``group_by``, one row (zeros when nothing was counted);
        with, a row per group that counted something. ``tz`` (default: the store's) places
        day boundaries and writes ``day`` and ``hour``. Flushes first, so the answer includes
        every record so far, committed or not."""
        return [msgspec.to_builtins(r) for r in self.rows(since=since, until=until,
                                                          group_by=group_by, tz=tz)]

    def page(self, *, since: float, until: float, group_by: Sequence[str] = (),
             tz: str | tzinfo | None = None) -> StatsPage:
        """:meth:`query` as the API's answer."""
        zone = self._zone_for(tz)
        rows = self.rows(since=since, until=until, group_by=group_by, tz=zone.tz)
        return StatsPage(since=since, until=until, group_by=list(group_by), tz=zone.name,
                         rows=rows)

    def _zone_for(self, tz: str | tzinfo | None) -> _Zone:
        if tz is None:
            return self._zone
        zone = _zone(tz)
        name = _zone_name(zone)
        found = self._zones.get(name)
        if found is None:
            if len(self._zones) > 64:
                self._zones = {self._zone.name: self._zone}
            found = self._zones[name] = _Zone(zone)
        return found

    def rows(self, *, since: float, until: float, group_by: Sequence[str] = (),
             tz: str | tzinfo | None = None) -> list[StatsRow]:
        """:meth:`query` as :class:`StatsRow` structs."""
        _check_group_by(group_by)
        if math.isnan(since) or math.isnan(until):
            raise ValueError("since and until must be numbers")
        if until < since:
            raise ValueError("until is before since")
        zone = self._zone_for(tz)
        self.flush()
        conn = self._open().conn
        sums: dict[tuple[Any, ...], list[int]] = {}
        for piece in self._pieces(conn, since, until, group_by, zone):
            for row in piece:
                key = row[:-_WIDTH]
                total = sums.get(key)
                if total is None:
                    sums[key] = list(row[-_WIDTH:])
                else:
                    for i, n in enumerate(row[-_WIDTH:]):
                        total[i] += n
        if not group_by and not sums:
            sums[()] = [0] * _WIDTH
        wanted = [g for g in GROUPS if g in group_by]
        out = []
        for key in sorted(sums):
            counts = sums[key]
            labels: dict[str, str] = {}
            for name, value in zip(wanted, key, strict=True):
                if name == "day":
                    labels["day"] = date.fromordinal(value + _EPOCH_ORDINAL).isoformat()
                elif name == "hour":
                    labels["hour"] = datetime.fromtimestamp(value * 3600, zone.tz).isoformat()
                else:
                    labels[name] = value
            verdicts = sum(counts[i] for i in _VERDICTS)
            hist = counts[_HIST:]
            out.append(StatsRow(
                **labels,
                submitted=counts[0], delivered=counts[1], undeliverable=counts[2],
                expired=counts[3], rejected=counts[4], failed=counts[5], unknown=counts[6],
                cancelled=counts[7], parts=counts[_PARTS],
                delivery_rate=counts[_DELIVERED] / verdicts if verdicts else None,
                p50=_percentile(hist, 0.50), p95=_percentile(hist, 0.95)))
        return out

    def _pieces(self, conn: sqlite3.Connection, since: float, until: float,
                group_by: Sequence[str], zone: _Zone) -> Iterable[list[tuple[Any, ...]]]:
        """The sums per group, as row sets from ``stats_hour`` and ``stats_day`` (the whole days
        of the store's zone in the range from the day rows, the hours at the ends from the hour
        rows), each row the group's keys then the columns; the caller adds them up."""
        first, last = conn.execute("SELECT (SELECT min(hour) FROM stats_hour), "
                                   "(SELECT max(hour) FROM stats_hour)").fetchone()
        if first is None or since > last * 3600 or until <= first * 3600:
            return
        lo = first if since <= first * 3600 else math.ceil(since / 3600)
        hi = last + 1 if until > last * 3600 else math.ceil(until / 3600)
        if lo >= hi:
            return
        own = self._zone
        if "hour" in group_by or ("day" in group_by and zone.name != own.name):
            yield self._hours(conn, lo, hi, group_by, zone)
            return
        day_lo = own.day(lo)
        if own.first_hour(day_lo) < lo:
            day_lo += 1
        day_hi = own.day(hi)  # the day of hour hi: whole days end before it
        start, end = own.first_hour(day_lo), own.first_hour(day_hi)
        if day_lo >= day_hi or end > hi:
            yield self._hours(conn, lo, hi, group_by, zone)
            return
        if lo < start:
            yield self._hours(conn, lo, start, group_by, zone)
        keys = [k for k in ("day", "channel", "kind") if k in group_by]
        select = "".join(f"{k}, " for k in keys)
        grouping = f" GROUP BY {', '.join(keys)}" if keys else ""
        yield _present(conn.execute(f"SELECT {select}{_SUMS} FROM stats_day "
                                    f"WHERE day >= ? AND day < ?{grouping}",
                                    (day_lo, day_hi)).fetchall())
        if end < hi:
            yield self._hours(conn, end, hi, group_by, zone)

    def _hours(self, conn: sqlite3.Connection, lo: int, hi: int, group_by: Sequence[str],
               zone: _Zone) -> list[tuple[Any, ...]]:
        exprs = []
        for name in GROUPS:
            if name in group_by:
                exprs.append(zone.day_sql(lo, hi) if name == "day" else name)
        select = "".join(f"{e}, " for e in exprs)
        grouping = f" GROUP BY {', '.join(str(i + 1) for i in range(len(exprs)))}" if exprs else ""
        return _present(conn.execute(f"SELECT {select}{_SUMS} FROM stats_hour "
                                     f"WHERE hour >= ? AND hour < ?{grouping}",
                                     (lo, hi)).fetchall())


def _present(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Without GROUP BY, sums over no row are one row of NULLs: none."""
    return [r for r in rows if r[-1] is not None]
