"""Priority lanes, sans-I/O: which queued message a channel sends next.

Lanes are ordered by priority (``otp`` > ``notification`` > ``marketing`` by default). The
highest non-empty lane goes first — a queued campaign never delays a verification code — except
that every lane is owed a minimum share of picks (``min_share``), so lower lanes keep moving when
the higher ones never empty (no starvation). Bounded: each lane has a capacity.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["LaneFull", "Lanes"]

T = TypeVar("T")


class LaneFull(Exception):
    """The lane's queue is at capacity."""


class Lanes(Generic[T]):
    def __init__(self, names: list[str], *, capacity: int = 1_000_000,
                 min_share: float = 0.05) -> None:
        if not names:
            raise ValueError("at least one lane")
        self.names = list(names)
        self.capacity = capacity
        self._queues: dict[str, deque[T]] = {n: deque() for n in names}
        self._order = [self._queues[n] for n in names]
        # Credit per lane: grows by min_share per pick; a lane with a full credit goes next.
        self._share = min_share
        self._credit = [0.0] * len(names)
        self._len = 0

    def lane_of(self, kind: str) -> str:
        return kind if kind in self._queues else self.names[-1]

    def push(self, kind: str, item: T, *, front: bool = False) -> None:
        queue = self._queues.get(kind)
        if queue is None:
            queue = self._order[-1]
        if len(queue) >= self.capacity and not front:
            raise LaneFull(f"lane {self.lane_of(kind)!r} holds {self.capacity} messages")
        if front:
            queue.appendleft(item)  # a retry keeps its place at the head
        else:
            queue.append(item)
        self._len += 1

    def pop(self) -> T | None:
        """The next item to send, or None."""
        if not self._len:
            return None
        order = self._order
        credit = self._credit
        share = self._share
        first = -1
        for i, queue in enumerate(order):
            if queue:
                if first < 0:
                    first = i
                elif credit[i] >= 1.0:
                    # A lower lane has waited its share: its turn.
                    credit[i] -= 1.0
                    self._len -= 1
                    return queue.popleft()
        for i, queue in enumerate(order):
            if queue and i != first:
                credit[i] += share
        self._len -= 1
        return order[first].popleft()

    def pop_many(self, n: int) -> list[T]:
        """Up to ``n`` items: the ones ``n`` calls of :meth:`pop` would return, in that order.
        With one lane holding items (the usual case) they come off it in one go."""
        if n <= 0 or not self._len:
            return []
        busy = [queue for queue in self._order if queue]
        if len(busy) == 1:
            # pop() credits only lanes other than the one it takes from: nothing changes.
            queue = busy[0]
            if n >= len(queue):
                out = list(queue)
                queue.clear()
            else:
                popleft = queue.popleft
                out = [popleft() for _ in range(n)]
            self._len -= len(out)
            return out
        out = []
        for _ in range(n):
            item = self.pop()
            if item is None:
                break
            out.append(item)
        return out

    def push_back(self, kinds_and_items: list[tuple[str, T]]) -> None:
        """Undo :meth:`pop_many` for the items not used: each goes back to the head of its
        lane, in the order given (never refused for capacity: they were queued already).
        The min_share credits of the picks are not given back; a lane's turn may come one
        pick early after this, which it is owed soon anyway."""
        for kind, item in reversed(kinds_and_items):
            self.push(kind, item, front=True)

    def peek(self) -> T | None:
        """The item :meth:`pop` returns next, changing nothing. The same choice as ``pop``,
        min_share turns included: a dispatcher sizes its token wait on the peeked item, then
        pops and sends it (a different item would be sent twice, the popped one lost)."""
        first: deque[T] | None = None
        for queue, credit in zip(self._order, self._credit, strict=True):
            if queue:
                if first is None:
                    first = queue
                elif credit >= 1.0:
                    return queue[0]
        return first[0] if first is not None else None

    def __len__(self) -> int:
        return self._len

    def room(self, kind: str) -> int:
        """How many more items the lane of ``kind`` takes before it is full."""
        return self.capacity - len(self._queues.get(kind, self._order[-1]))

    def depth(self) -> dict[str, int]:
        return {n: len(q) for n, q in self._queues.items()}

    def extract(self, take: Callable[[T], bool]) -> list[T]:
        """Remove and return the items ``take`` picks, highest lane first and in queue order;
        the others keep their places."""
        out: list[T] = []
        for queue in self._order:
            kept = [item for item in queue if not take(item)]
            if len(kept) != len(queue):
                out.extend(item for item in queue if take(item))
                queue.clear()
                queue.extend(kept)
        self._len -= len(out)
        return out

    def drain(self) -> list[T]:
        out: list[T] = []
        for queue in self._order:
            out.extend(queue)
            queue.clear()
        self._len = 0
        return out
