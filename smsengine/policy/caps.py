"""Frequency caps per destination (issue 19): the defence against SMS pumping, where bots
request codes to premium numbers and the shop pays.

A rule is "at most ``limit`` messages in any ``window`` seconds"; each kind has its rules
(:data:`DEFAULT_RULES`: ``otp`` 1 a minute, 5 an hour, 10 a day, Alibaba Cloud's defaults), and
a kind without rules is not capped. :class:`FrequencyCaps` applies them to one *scope*: the
destination number by default, or an API key or a source IP, the same mechanism under a
different key. :meth:`FrequencyCaps.check` says whether a message may go now and, when not,
which rule refuses it and when the subject frees (:class:`CapRefusal`);
:meth:`FrequencyCaps.record` counts a message that was accepted.

**How it counts: a sliding log of the last sends.** For each subject (scope, kind, number) the
store keeps the times of its last ``L`` sends inside the longest window, where ``L`` is the
largest limit of the kind's rules (10 for the defaults): at most 80 bytes. A rule
``(window, limit)`` allows a send at ``now`` iff fewer than ``limit`` of those times lie in
``(now - window, now]``, that is iff the ``limit``-th most recent is at or before
``now - window``; it frees exactly when that one leaves the window. Checking reads one row
and looks at one entry per rule; recording writes one row: O(1) per message in the traffic
(the work grows with the configured limit, never with what was sent), and never a scan of
sent messages. Why not the alternatives:

- *fixed windows* (a counter per calendar minute, hour, day) let twice the limit through
  across a boundary: two codes a second apart at 12:00:59 and 12:01:00 under "1 a minute";
- a *sliding-window counter* (the previous window's count weighted by overlap) is an
  estimate that assumes even spacing, and can also pass more than the limit;
- a *token bucket* with burst ``limit`` refilled at ``limit / window`` passes up to twice the
  limit in one window.

The log is exact (no window of any position ever holds more than ``limit``, which a
hypothesis test checks), gives an exact ``retry_after``, and is small for the limits caps use.
:data:`MAX_LIMIT` bounds a rule's limit so that a row stays small.

Counters survive restarts in :class:`SqliteCounterStore` (the engine's file, table
``cap_counter``; writes join the file's open transaction, so a counted message commits
with the message's own row, and a row is pruned once its last send has left every window).
:class:`MemoryCounterStore` is the same in a dict, bounded by ``max_keys``.

The caller normalises the number first (the engine's form of it): ``+8613800000000`` and
``8613800000000`` are different subjects here. Everything is synchronous, and time is an
argument: ``now`` in seconds (the daemon's clock, an injected one in tests).
"""

from __future__ import annotations

import heapq
import math
import struct
from bisect import insort
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final, Protocol

import msgspec

from ..engine.sqlite import SharedFileStore

__all__ = [
    "DEFAULT_RULES",
    "MAX_LIMIT",
    "CapRefusal",
    "CapRule",
    "CounterStore",
    "FrequencyCaps",
    "MemoryCounterStore",
    "SqliteCounterStore",
    "check_all",
]

#: The largest limit a rule may have: the log keeps that many send times per subject.
MAX_LIMIT: Final = 1000


class CapRule(msgspec.Struct, frozen=True, array_like=True):
    """At most ``limit`` messages in any ``window`` seconds. Written ``[60, 1]`` in JSON/TOML."""

    window: float
    limit: int

    def __post_init__(self) -> None:
        if not (math.isfinite(self.window) and self.window > 0):
            raise ValueError("a cap's window must be a positive number of seconds")
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValueError(f"a cap's limit must be 1..{MAX_LIMIT}")

    @property
    def per(self) -> str:
        """The window in words: ``minute``, ``hour``, ``day``, ``week``, else ``90 s``."""
        return _UNITS.get(self.window) or f"{self.window:g} s"

    def describe(self) -> str:
        """``1 per minute``, ``5 per hour``, ``10 per day``, ``3 per 90 s``."""
        return f"{self.limit} per {self.per}"


_UNITS: Final = {60.0: "minute", 3600.0: "hour", 86400.0: "day", 604800.0: "week"}

#: Alibaba Cloud's defaults for codes: 1 a minute, 5 an hour, 10 a day per number.
DEFAULT_RULES: Final[Mapping[str, tuple[CapRule, ...]]] = {
    "otp": (CapRule(60, 1), CapRule(3600, 5), CapRule(86400, 10)),
}


class CapRefusal(msgspec.Struct, frozen=True, kw_only=True):
    """A message the caps refuse: ``rule`` is the one that refuses it (of several, the one that
    frees last), ``frees_at`` when the subject may be sent to again, ``retry_after`` the
    seconds until then (the daemon's ``Retry-After``, rounded up)."""

    scope: str
    kind: str
    rule: CapRule
    frees_at: float
    retry_after: float

    def describe(self) -> str:
        """``at most 1 otp message per minute to this number; frees in 42 s``."""
        rule = self.rule
        plural = "" if rule.limit == 1 else "s"
        return (f"at most {rule.limit} {self.kind} message{plural} per {rule.per} to this "
                f"{self.scope.replace('_', ' ')}; frees in {math.ceil(self.retry_after)} s")


class CounterStore(Protocol):
    """Where the send logs live: for each key, the times of its last sends, oldest first."""

    def times(self, key: str) -> tuple[float, ...]:
        """The times kept for ``key`` (empty when none)."""
        ...

    def put(self, key: str, times: tuple[float, ...], until: float) -> None:
        """Keep ``times`` for ``key``, until ``until`` (when none of them counts any more)."""
        ...

    def prune(self, now: float, limit: int = 10_000) -> int:
        """Drop up to ``limit`` keys kept until ``now`` or before; how many went."""
        ...


class MemoryCounterStore:
    """:class:`CounterStore` in a dict. At most ``max_keys`` keys: past it, the key that would
    be pruned soonest goes first (forgetting a count errs towards sending, so size it for a
    day's distinct numbers; the SQLite store has no cap, its rows leave by :meth:`prune`)."""

    def __init__(self, *, max_keys: int = 1_000_000) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be >= 1")
        self.max_keys = max_keys
        self._logs: dict[str, tuple[tuple[float, ...], float]] = {}
        self._heap: list[tuple[float, str]] = []  # (until, key); stale entries skipped

    def times(self, key: str) -> tuple[float, ...]:
        entry = self._logs.get(key)
        return entry[0] if entry else ()

    def put(self, key: str, times: tuple[float, ...], until: float) -> None:
        self._logs[key] = (times, until)
        heapq.heappush(self._heap, (until, key))
        if len(self._heap) > 2 * len(self._logs) + 1024:  # drop the stale entries
            self._heap = [(u, k) for k, (_, u) in self._logs.items()]
            heapq.heapify(self._heap)
        while len(self._logs) > self.max_keys:
            self._pop_first()

    def _pop_first(self) -> bool:
        heap = self._heap
        while heap:
            until, key = heapq.heappop(heap)
            entry = self._logs.get(key)
            if entry is not None and entry[1] == until:
                del self._logs[key]
                return True
        return False

    def prune(self, now: float, limit: int = 10_000) -> int:
        gone = 0
        heap = self._heap
        while gone < limit and heap and heap[0][0] <= now:
            until, key = heapq.heappop(heap)
            entry = self._logs.get(key)
            if entry is not None and entry[1] == until:
                del self._logs[key]
                gone += 1
        return gone

    def __len__(self) -> int:
        return len(self._logs)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS cap_counter (
    key   TEXT PRIMARY KEY,   -- scope, kind and subject, space-separated
    times BLOB NOT NULL,      -- the last send times, oldest first, little-endian float64s
    until REAL NOT NULL       -- when none of them counts any more: prunable from then
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS cap_counter_until ON cap_counter (until);
"""
_GET = "SELECT times FROM cap_counter WHERE key = ?"
_PUT = "INSERT OR REPLACE INTO cap_counter VALUES (?, ?, ?)"
_PRUNE = ("DELETE FROM cap_counter WHERE key IN (SELECT key FROM cap_counter "
          "WHERE until <= ? ORDER BY until LIMIT ?)")


class SqliteCounterStore(SharedFileStore):
    """:class:`CounterStore` in the engine's SQLite file (table ``cap_counter``). A put joins
    the file's open transaction and never commits by itself: the engine's housekeeping flush,
    the daemon's per-tick commit (which then holds the message and its count together), or
    :meth:`flush` / :meth:`close` do. :meth:`prune` (from housekeeping) commits."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        self._create_tables(_SCHEMA, "the frequency caps")

    def times(self, key: str) -> tuple[float, ...]:
        row = self._open().conn.execute(_GET, (key,)).fetchone()
        if row is None:
            return ()
        blob: bytes = row[0]
        return struct.unpack(f"<{len(blob) // 8}d", blob)

    def put(self, key: str, times: tuple[float, ...], until: float) -> None:
        db = self._open()
        db.begin().execute(_PUT, (key, struct.pack(f"<{len(times)}d", *times), until))
        db.pending += 1

    def prune(self, now: float, limit: int = 10_000) -> int:
        if limit <= 0:
            return 0
        db = self._open()
        gone = int(db.begin().execute(_PRUNE, (now, limit)).rowcount)
        db.commit()
        return gone

    def __len__(self) -> int:
        return int(self._open().conn.execute("SELECT count(*) FROM cap_counter").fetchone()[0])


RulesIn = Mapping[str, Iterable[CapRule | tuple[float, int] | Sequence[float]]]


class FrequencyCaps:
    """Caps for one scope (``number``, ``api_key``, ``source_ip``, …) over a counter store.

    ``rules`` maps a kind to its rules, e.g. ``{"otp": [(60, 1), (3600, 5), (86400, 10)]}``;
    kinds are folded to lower case, and a kind not in it is never capped. The usual call is
    :meth:`take`; with several scopes, :func:`check_all` then :meth:`record` on each, so that a
    refusal by one does not use the others' quota."""

    def __init__(self, rules: RulesIn = DEFAULT_RULES, store: CounterStore | None = None, *,
                 scope: str = "number") -> None:
        if not scope or " " in scope:
            raise ValueError("scope must be a word")
        self.scope = scope
        self.store: CounterStore = store if store is not None else MemoryCounterStore()
        self.rules: dict[str, tuple[CapRule, ...]] = {}
        for kind, given in rules.items():
            parsed = tuple(sorted((r if isinstance(r, CapRule) else CapRule(float(r[0]), int(r[1]))
                                   for r in given), key=lambda r: (r.window, r.limit)))
            if parsed:
                self.rules[kind.lower()] = parsed
        # Per kind: the longest window and the largest limit (how much of the log to keep).
        self._keep = {kind: (max(r.window for r in rs), max(r.limit for r in rs))
                      for kind, rs in self.rules.items()}

    def _key(self, subject: str, kind: str) -> str:
        return f"{self.scope} {kind} {subject}"

    def check(self, subject: str, kind: str, now: float) -> CapRefusal | None:
        """None if a message of ``kind`` to ``subject`` may go at ``now``, else the refusal."""
        kind = kind.lower()
        rules = self.rules.get(kind)
        if rules is None:
            return None
        times = self.store.times(self._key(subject, kind))
        if not times:
            return None
        refusing: CapRule | None = None
        frees_at = now
        n = len(times)
        for rule in rules:
            if n >= rule.limit:
                free = times[n - rule.limit] + rule.window
                if free > now and free >= frees_at:
                    refusing, frees_at = rule, free
        if refusing is None:
            return None
        return CapRefusal(scope=self.scope, kind=kind, rule=refusing, frees_at=frees_at,
                          retry_after=frees_at - now)

    def record(self, subject: str, kind: str, now: float) -> None:
        """Count a message of ``kind`` to ``subject`` sent (accepted) at ``now``."""
        kind = kind.lower()
        keep = self._keep.get(kind)
        if keep is None:
            return
        longest, largest = keep
        key = self._key(subject, kind)
        times = list(self.store.times(key))
        insort(times, now)  # a clock that stepped back still keeps the log in order
        start = max(len(times) - largest, 0)
        # (t + window <= now, never t <= now - window: the same sum check() does, so float
        # rounding cannot drop a send check() would still count)
        while start < len(times) and times[start] + longest <= now:
            start += 1
        kept = tuple(times[start:])
        self.store.put(key, kept, kept[-1] + longest)

    def take(self, subject: str, kind: str, now: float) -> CapRefusal | None:
        """:meth:`check`, and :meth:`record` when it allows."""
        refusal = self.check(subject, kind, now)
        if refusal is None:
            self.record(subject, kind, now)
        return refusal

    def prune(self, now: float, limit: int = 10_000) -> int:
        """Forget subjects whose sends have left every window (the store's prune)."""
        return self.store.prune(now, limit)


def check_all(checks: Iterable[tuple[FrequencyCaps, str]], kind: str,
              now: float) -> CapRefusal | None:
    """The first refusal among ``(caps, subject)`` pairs (the number's, the API key's, the
    source IP's), or None when all allow; the caller then records on each."""
    for caps, subject in checks:
        refusal = caps.check(subject, kind, now)
        if refusal is not None:
            return refusal
    return None


if TYPE_CHECKING:  # mypy checks that the classes satisfy the protocol
    def _conforms(m: MemoryCounterStore, s: SqliteCounterStore) -> tuple[CounterStore,
                                                                         CounterStore]:
        return m, s
