"""Where the engine keeps what must outlive one message's trip: receipt correlation and the
opt-out suppression list. In-memory implementations here; SQLite ones in :mod:`.sqlite`.

Correlation: every submitted segment leaves a :class:`CorrelationRecord` under its channel and
normalised SMSC message id until its receipt comes or its TTL ends. Segment results are kept
per message so a multi-part message's receipts roll up into one status even across a restart.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from typing import Protocol, TypeAlias

import msgspec

__all__ = [
    "CorrelationRecord",
    "CorrelationStore",
    "MemoryCorrelationStore",
    "MemorySuppressionStore",
    "SuppressionStore",
]


class CorrelationRecord(msgspec.Struct, frozen=True, gc=False):
    """One submitted segment waiting for its receipt."""

    channel: str
    message_id: str  # the SMSC's id, normalised (see engine.ids.normalise_id)
    message_ref: str  # the engine's id of the whole message
    segment: int  # 0-based
    segments: int
    submitted_at: float  # wall-clock seconds
    expires_at: float  # wall-clock seconds; no receipt by then -> UNKNOWN


class CorrelationStore(Protocol):
    """Receipt correlation storage. Implementations must be safe to call from the event loop
    (fast, no blocking I/O longer than a local write)."""

    def put(self, record: CorrelationRecord) -> None:
        """Remember a submitted segment (replaces one with the same channel and id)."""

    def pop(self, channel: str, message_id: str) -> CorrelationRecord | None:
        """Take the record for a receipt; None if unknown (or already taken)."""

    def expire(self, now: float, limit: int = 10_000) -> list[CorrelationRecord]:
        """Remove and return up to ``limit`` records whose ``expires_at`` <= ``now``."""

    def set_segment_state(self, message_ref: str, segment: int, segments: int,
                          state: int) -> dict[int, int]:
        """Record a segment's final state; return every known segment state of the message."""

    def forget(self, message_ref: str) -> None:
        """Drop the segment states of a message that has its final status."""

    def __len__(self) -> int:
        """Records waiting for a receipt."""

    def flush(self) -> None:
        """Make everything so far durable (no-op for memory)."""

    def close(self) -> None:
        """Release resources."""


_Entry: TypeAlias = tuple[float, int, CorrelationRecord]  # (expires_at, seq, record)


class MemoryCorrelationStore:
    """A dict with a size cap: past ``max_records`` the oldest record is dropped (counted in
    ``evicted``; its message ends UNKNOWN like an expired one, via :meth:`expire`).

    Expiry order comes from a heap of ``(expires_at, seq, record)`` entries, not from insertion
    order: channels have different TTLs, so a long-lived record put first must not hold back
    short-lived ones behind it. The dict maps each key to its live heap entry; entries left in
    the heap by :meth:`pop` or a replacing :meth:`put` are recognised by identity, skipped, and
    compacted away once they outnumber the live ones (so the heap stays within twice the cap).
    """

    def __init__(self, max_records: int = 2_000_000) -> None:
        if max_records < 1:
            raise ValueError("max_records must be >= 1")
        self.max_records = max_records
        # key -> its heap entry; dict order is put order (a replacing put moves to the end).
        self._records: dict[tuple[str, str], _Entry] = {}
        self._heap: list[_Entry] = []
        self._seq = 0  # ties on expires_at go in put order, as the SQLite store's rowid does
        self._segments: dict[str, dict[int, int]] = {}
        self._evicted: list[CorrelationRecord] = []
        self.evicted = 0

    def put(self, record: CorrelationRecord) -> None:
        records = self._records
        key = (record.channel, record.message_id)
        self._seq += 1
        entry = (record.expires_at, self._seq, record)
        records.pop(key, None)
        records[key] = entry
        heap = self._heap
        heapq.heappush(heap, entry)
        if len(records) > self.max_records:
            oldest = next(iter(records))
            self._evicted.append(records.pop(oldest)[2])
            self.evicted += 1
        if len(heap) > 2 * len(records) + 64:
            self._heap = list(records.values())
            heapq.heapify(self._heap)

    def pop(self, channel: str, message_id: str) -> CorrelationRecord | None:
        entry = self._records.pop((channel, message_id), None)
        return None if entry is None else entry[2]

    def expire(self, now: float, limit: int = 10_000) -> list[CorrelationRecord]:
        if limit <= 0:
            return []
        out = self._evicted[:limit]
        del self._evicted[:limit]
        records = self._records
        heap = self._heap
        while heap and len(out) < limit and heap[0][0] <= now:
            entry = heapq.heappop(heap)
            record = entry[2]
            key = (record.channel, record.message_id)
            if records.get(key) is entry:  # else popped or replaced since: a stale entry
                del records[key]
                out.append(record)
        return out

    def set_segment_state(self, message_ref: str, segment: int, segments: int,
                          state: int) -> dict[int, int]:
        states = self._segments.setdefault(message_ref, {})
        states[segment] = state
        return dict(states)  # a copy: the caller's roll-up must not alias the store

    def forget(self, message_ref: str) -> None:
        self._segments.pop(message_ref, None)

    def __len__(self) -> int:
        return len(self._records)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None


class SuppressionStore(Protocol):
    """Numbers that opted out of marketing."""

    def add(self, number: str, reason: str, at: float) -> None: ...

    def remove(self, number: str) -> None: ...

    def __contains__(self, number: object) -> bool: ...

    def __len__(self) -> int: ...

    def close(self) -> None: ...


class MemorySuppressionStore:
    """Opt-outs in memory (bounded: the oldest go first past ``max_numbers``)."""

    def __init__(self, max_numbers: int = 10_000_000) -> None:
        self.max_numbers = max_numbers
        self._numbers: OrderedDict[str, tuple[str, float]] = OrderedDict()

    def add(self, number: str, reason: str, at: float) -> None:
        self._numbers[number] = (reason, at)
        self._numbers.move_to_end(number)
        if len(self._numbers) > self.max_numbers:
            self._numbers.popitem(last=False)

    def remove(self, number: str) -> None:
        self._numbers.pop(number, None)

    def __contains__(self, number: object) -> bool:
        return number in self._numbers

    def __len__(self) -> int:
        return len(self._numbers)

    def close(self) -> None:
        return None
