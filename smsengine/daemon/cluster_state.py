"""A cluster node's shared state (``[cluster]``, issue 20): the suppression list,
idempotency keys (:class:`ClusterKeys`) and frequency caps (:func:`take_caps`).

:class:`ClusterSuppression` is the engine's suppression store on a node: the node's own store
(SQLite) stays what every check reads, with no Redis round trip per message; what is added or
removed here also goes to the cluster's list (:class:`~smsengine.cluster.SharedSuppression`) in
the background, and what other nodes add or remove comes back by polling the list's change log
every ``POLL`` seconds. When Redis is first reached, and again after it was unreachable, the
two lists are merged: changes made here meanwhile are pushed first, then numbers on the
cluster's list are added here, removals made elsewhere later than this node's opt-out are
applied here, and numbers only this node has are pushed (after a Redis restart, the nodes
rebuild the cluster's list from their stores).

While the node is not in step with the cluster's list (:attr:`ClusterSuppression.synced` is
false), :meth:`ClusterSuppression.require` raises
:class:`~smsengine.cluster.ClusterUnavailable`, and the gateway answers a request to send a
suppressed kind (marketing) 503 with Retry-After: a number that opted out on another node
might be messaged otherwise.

Without ``[cluster]`` none of this exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Sequence
from typing import Protocol

from ..cluster import ClusterError, ClusterUnavailable
from ..cluster.caps import SharedCaps
from ..cluster.idempotency import SharedKeys
from ..cluster.suppression import Change, SharedSuppression
from ..engine.stores import SuppressionStore
from ..policy.caps import CapRefusal, CapRule, FrequencyCaps

__all__ = ["ClusterKeys", "ClusterSuppression", "KeyInFlight", "take_caps"]

log = logging.getLogger("smsengine.daemon.cluster")


class _Listed(Protocol):
    def entries(self) -> list[tuple[str, str, float]]: ...


class ClusterSuppression:
    """The engine's :class:`~smsengine.engine.SuppressionStore` on a cluster node; see the
    module docstring."""

    POLL = 0.1  # seconds between reads of the change log: an opt-out elsewhere is seen within
    MAX_PENDING = 100_000  # changes kept for Redis while it is away (past it: a full merge)

    def __init__(self, local: SuppressionStore, shared: SharedSuppression) -> None:
        self.local = local
        self.shared = shared
        self.synced = False
        self.down_since: float | None = None
        self.last_error: ClusterError | None = None
        self.pushed = self.applied = 0
        self._pending: deque[Change] = deque()
        self._overflow = False
        self._after = "0-0"
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.closed = False

    # --- the engine's SuppressionStore ---------------------------------------------------------

    def add(self, number: str, reason: str, at: float) -> None:
        self.local.add(number, reason, at)
        self._queue(Change("a", number, at, reason))

    def remove(self, number: str) -> None:
        self.local.remove(number)
        self._queue(Change("r", number, time.time()))

    def __contains__(self, number: object) -> bool:
        return number in self.local

    def __len__(self) -> int:
        return len(self.local)

    def close(self) -> None:
        # (the engine stops: nothing more is applied to the local store, which closes now;
        # what is pending is pushed by stop())
        self.closed = True
        if self._task is not None:
            self._task.cancel()
        self.local.close()

    def _queue(self, change: Change) -> None:
        if len(self._pending) >= self.MAX_PENDING:
            # (an addition is in the local store and the next merge pushes it; a removal
            # dropped here leaves the number suppressed on the other nodes: the safe side)
            self._pending.clear()
            self._overflow = True
            self.synced = False
        self._pending.append(change)
        self._wake.set()

    # --- the sync ------------------------------------------------------------------------------

    def require(self) -> None:
        """Raise ClusterUnavailable unless this node is in step with the cluster's list."""
        if not self.synced:
            error = self.last_error
            raise ClusterUnavailable(
                "the cluster's suppression list is not reachable (Redis"
                + (f": {error}" if error is not None else ": not reached yet")
                + "): a number that opted out on another node could be messaged",
                retry_after=self.shared.config.retry_after)

    async def sync_once(self) -> None:
        """Push what is pending, merge if not in step, read the change log once. Raises
        ClusterError (and is then not in step) when Redis fails."""
        try:
            await self._push()
            if not self.synced:
                await self._merge()
            await self._read()
        except ClusterError as exc:
            if self.down_since is None:
                self.down_since = time.time()
                log.error("cluster: suppression list: %s", exc)
            self.last_error = exc
            self.synced = False
            raise
        if self.down_since is not None:
            log.info("cluster: suppression list in step again after %.1f s",
                     time.time() - self.down_since)
        self.down_since = None
        self.last_error = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="cluster-optout")

    async def _run(self) -> None:
        # (ends on `closed` too, not only on cancel: Python 3.11's wait_for can lose a cancel
        # that lands as its timeout fires, and stop() would then wait for ever)
        while not self.closed:
            try:
                await self.sync_once()
                wait = self.POLL
            except ClusterError as exc:
                retry = exc.retry_after if isinstance(exc, ClusterUnavailable) else 1.0
                wait = min(1.0, retry)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    async def stop(self) -> None:
        """Cancel the loop, then one last try to push what is pending."""
        self.closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task}, timeout=self.shared.config.command_timeout + 1.0)
        with contextlib.suppress(ClusterError):
            await self._push()

    async def _push(self) -> None:
        pending = list(self._pending)
        if not pending:
            return
        await self.shared.apply(pending)
        for _ in pending:  # (what was queued meanwhile stays)
            self._pending.popleft()
        self.pushed += len(pending)

    async def _merge(self) -> None:
        if self.closed:
            return
        after = await self.shared.last_id()
        added, removed = await self.shared.snapshot()
        if self.closed:
            return
        listed: _Listed | None = self.local if hasattr(self.local, "entries") else None  # type: ignore[assignment]
        mine = {n: (r, a) for n, r, a in listed.entries()} if listed is not None else {}
        push: list[Change] = []
        for number, (reason, at) in added.items():
            if number not in mine:
                self.local.add(number, reason, at)
        for number, at in removed.items():
            here = mine.get(number)
            if here is not None and here[1] <= at:
                self.local.remove(number)
        for number, (reason, at) in mine.items():
            if number not in added and not (number in removed and removed[number] >= at):
                push.append(Change("a", number, at, reason))
        if push:
            await self.shared.apply(push)
        self._after = after
        self._overflow = False
        self.synced = True
        log.info("cluster: suppression list merged: %d on the cluster's list, %d removals, "
                 "%d pushed from here", len(added), len(removed), len(push))

    async def _read(self) -> None:
        while True:
            if self.closed:
                return
            self._after, changes = await self.shared.read(self._after)
            if self.closed:
                return
            me = self.shared.node
            for change in changes:
                if change.node == me or any(p.number == change.number
                                            for p in self._pending):
                    continue  # (a change made here and not pushed yet is the later one)
                if change.op == "a":
                    self.local.add(change.number, change.reason, change.at)
                else:
                    self.local.remove(change.number)
                self.applied += 1
            if len(changes) < 1000:
                return


class KeyInFlight(Exception):
    """Another node is answering a request with this Idempotency-Key now (409, retry soon)."""

    retriable = True

    def __init__(self, node: str) -> None:
        super().__init__(f"a request with this Idempotency-Key is being answered by node "
                         f"{node}; retry to get its answer")
        self.node = node


class ClusterKeys:
    """Idempotency keys across nodes, around the node's own (its outbox, checked first): the
    first node to claim a key in Redis answers it and stores its answer there; another node
    answers with that answer, or :class:`KeyInFlight` while it is being made. Redis
    unreachable: :class:`~smsengine.cluster.ClusterUnavailable` (503), since this node cannot
    know whether another sent it."""

    RETRY = 1.0  # seconds between tries to store an answer Redis did not take

    def __init__(self, shared: SharedKeys) -> None:
        self.shared = shared
        self._retrying: set[asyncio.Task[None]] = set()

    async def first(self, principal: str, key: str,
                    fingerprint: bytes) -> tuple[bytes, int, bytes] | None:
        """None: this node claimed the key and answers; else the first answer
        (fingerprint, code, body). Raises KeyInFlight or ClusterUnavailable."""
        claim = await self.shared.claim(principal, key, fingerprint)
        if claim.claimed:
            return None
        if claim.code is None:
            if claim.fingerprint != fingerprint:
                # (a different body under the key: the 409 the caller gives once answered)
                return claim.fingerprint, 0, b""
            raise KeyInFlight(claim.node)
        return claim.fingerprint, claim.code, claim.body

    async def answered(self, principal: str, key: str, code: int, body: bytes) -> None:
        """Store this node's answer (committed here already); if Redis does not take it now,
        it is tried again every second while the claim lasts (until then other nodes answer
        409 in flight, never send it again)."""
        try:
            await self.shared.answer(principal, key, code, body)
        except ClusterError as exc:
            log.warning("cluster: idempotency answer not stored (tried again): %s", exc)
            task = asyncio.get_running_loop().create_task(
                self._retry(principal, key, code, body))
            self._retrying.add(task)
            task.add_done_callback(self._retrying.discard)

    async def _retry(self, principal: str, key: str, code: int, body: bytes) -> None:
        deadline = time.monotonic() + self.shared.claim_ttl_ms / 1000
        while time.monotonic() < deadline:
            await asyncio.sleep(self.RETRY)
            with contextlib.suppress(ClusterError):
                await self.shared.answer(principal, key, code, body)
                return

    async def failed(self, principal: str, key: str) -> None:
        """The request failed before anything was kept: drop the claim (a retry may send)."""
        with contextlib.suppress(ClusterError):
            await self.shared.release(principal, key)

    async def close(self) -> None:
        for task in list(self._retrying):
            task.cancel()
        await asyncio.gather(*self._retrying, return_exceptions=True)


async def take_caps(shared: SharedCaps, checks: Sequence[tuple[FrequencyCaps, str]],
                    kind: str, now: float) -> CapRefusal | None:
    """The frequency caps of one message across the cluster: ``checks`` as
    :func:`~smsengine.policy.check_all` takes them, checked and recorded in Redis in one
    script (on Redis's clock). Raises ClusterUnavailable when Redis is not there."""
    kind = kind.lower()
    subjects: list[tuple[str, list[tuple[float, int]]]] = []
    used: list[FrequencyCaps] = []
    for caps, subject in checks:
        rules = caps.rules.get(kind)
        if rules:
            subjects.append((shared.key(caps.scope, kind, subject),
                             [(r.window, r.limit) for r in rules]))
            used.append(caps)
    refused = await shared.take(subjects)
    if refused is None:
        return None
    retry = max(0.0, refused.frees_at - refused.now)
    return CapRefusal(scope=used[refused.index].scope, kind=kind,
                      rule=CapRule(refused.window, refused.limit), frees_at=now + retry,
                      retry_after=retry)
