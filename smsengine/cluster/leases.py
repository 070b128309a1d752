"""Bind-slot leases: the cluster never holds more binds of a channel than it has slots.

Slot ``i`` of channel ``c`` is one key, ``<prefix>:lease:{c}:i``, set with ``SET NX PX`` to
``<node id>|<fencing token>``; the token comes from ``INCR`` on ``<prefix>:fence:{c}``. Only
the holder can extend it (a Lua compare-and-extend) or delete it (compare-and-delete). A holder
that stops renewing (dead, partitioned, paused) loses it when the key expires, and another node
takes the slot then.

**Never more than N holders.** Redis guarantees one key holder per slot. A node's own belief is
bounded by a local deadline: a lease is trusted until ``sent + ttl * (1 - lease_margin)``, where
``sent`` is when the acquire or the last successful renew *left* this node (before Redis set the
expiry), so the belief ends before Redis can give the slot to someone else, as long as this
host's clock does not run more than ``lease_margin`` slower than Redis's. The bind's sender
checks :meth:`Lease.valid` before writing (cheap), and :class:`Leases` calls ``on_lost`` the
moment a renew is refused or the deadline passes, so the bind is closed.

**Fencing.** Tokens strictly increase per channel. The counter is seeded with Redis's time in
microseconds when it is missing (a Redis without persistence that restarted), so tokens issued
after a restart are still larger than those before it (unless more than a million were issued
per second).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ._redis import Script, redis_errors
from .config import ClusterConfig
from .errors import ClusterError

if TYPE_CHECKING:
    import redis.asyncio as aioredis

__all__ = ["Lease", "LeaseStore", "Leases"]

# KEYS: slot key, fence counter. ARGV: node id, ttl ms.
_ACQUIRE = Script("""
local pttl = redis.call('PTTL', KEYS[1])
if pttl ~= -2 then return {0, pttl} end
if redis.call('EXISTS', KEYS[2]) == 0 then
  local t = redis.call('TIME')
  redis.call('SET', KEYS[2], string.format('%.0f', tonumber(t[1]) * 1000000 + tonumber(t[2])))
end
local token = redis.call('INCR', KEYS[2])
if redis.call('SET', KEYS[1], ARGV[1] .. '|' .. string.format('%.0f', token),
                'NX', 'PX', ARGV[2]) then
  return {token, tonumber(ARGV[2])}
end
return {0, redis.call('PTTL', KEYS[1])}
""")
_RENEW = Script("""
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
""")
_RELEASE = Script("""
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
""")


class Lease:
    """Slot ``slot`` of a channel, held by this node with fencing ``token`` until (locally)
    ``valid_until`` on ``clock``."""

    __slots__ = ("slot", "store", "token", "valid_until", "value")

    def __init__(self, store: LeaseStore, slot: int, token: int, valid_until: float) -> None:
        self.store = store
        self.slot = slot
        self.token = token
        self.value = f"{store.config.node_id}|{token}"
        self.valid_until = valid_until

    def valid(self, now: float | None = None) -> bool:
        """Whether this node may still act on the lease (send on the bind)."""
        return (self.store.clock() if now is None else now) < self.valid_until

    async def renew(self) -> bool:
        """Extend by the TTL if this node still holds it (False: it was lost; close the bind)."""
        return await self.store.renew(self)

    async def release(self) -> bool:
        """Give it up (delete the key if it is still ours)."""
        return await self.store.release(self)

    def __repr__(self) -> str:
        return f"Lease({self.store.channel!r}, slot={self.slot}, token={self.token})"


class LeaseStore:
    """The slot leases of one channel, seen from this node."""

    def __init__(self, client: aioredis.Redis, config: ClusterConfig, channel: str,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.config = config
        self.channel = channel
        self.clock = clock
        self.ttl_ms = max(1, round(config.lease_ttl * 1000))
        self.trust = config.lease_ttl * (1 - config.lease_margin)
        self.fence_key = config.key("fence", f"{{{channel}}}")
        self._acquire = Script(_ACQUIRE.body)
        self._renew = Script(_RENEW.body)
        self._release = Script(_RELEASE.body)

    def slot_key(self, slot: int) -> str:
        return self.config.key("lease", f"{{{self.channel}}}", str(slot))

    async def acquire(self, slot: int) -> Lease | float:
        """Take slot ``slot`` if it is free: the Lease, or (held by someone) the seconds until
        its key expires unless renewed."""
        sent = self.clock()
        async with redis_errors(self.config, f"lease acquire {self.channel}/{slot}"):
            token, pttl = await self._acquire(
                self.client, (self.slot_key(slot), self.fence_key),
                (self.config.node_id, self.ttl_ms))
        if int(token):
            return Lease(self, slot, int(token), sent + self.trust)
        return max(0.0, int(pttl) / 1000)

    async def renew(self, lease: Lease) -> bool:
        sent = self.clock()
        async with redis_errors(self.config, f"lease renew {self.channel}/{lease.slot}"):
            ok = await self._renew(self.client, (self.slot_key(lease.slot),),
                                   (lease.value, self.ttl_ms))
        if int(ok):
            lease.valid_until = max(lease.valid_until, sent + self.trust)
            return True
        lease.valid_until = min(lease.valid_until, sent)
        return False

    async def release(self, lease: Lease) -> bool:
        lease.valid_until = min(lease.valid_until, self.clock())
        async with redis_errors(self.config, f"lease release {self.channel}/{lease.slot}"):
            gone = await self._release(self.client, (self.slot_key(lease.slot),),
                                       (lease.value,))
        return bool(int(gone))

    async def holders(self, slots: int) -> dict[int, str]:
        """slot → "node|token" as Redis has it now (diagnostics, tests)."""
        async with redis_errors(self.config, f"lease holders {self.channel}"):
            values = await self.client.mget([self.slot_key(i) for i in range(slots)])
        return {i: v.decode() if isinstance(v, bytes) else str(v)
                for i, v in enumerate(values) if v is not None}

    @property
    def round_trips(self) -> int:
        return self._acquire.round_trips + self._renew.round_trips + self._release.round_trips


LostCallback = Callable[[int, str], None]
GainedCallback = Callable[[Lease], None]


class Leases:
    """Holds up to ``want`` (default all ``slots``) of a channel's slots for this node.

    Renews what it holds every ``renew_interval`` (TTL/3); a refused renew calls
    ``on_lost(slot, "taken")`` at once, a deadline passed without a successful renew (Redis
    unreachable, the loop starved) ``on_lost(slot, "expired")``. A slot held elsewhere is tried
    again the moment its key would expire, so a dead node's slots are taken within the TTL.
    Callbacks run in the manager's task and must not block.
    """

    def __init__(self, store: LeaseStore, slots: int, *, on_lost: LostCallback,
                 on_gained: GainedCallback | None = None, want: int | None = None) -> None:
        if slots < 1:
            raise ValueError(f"{store.channel}: slots must be >= 1, not {slots}")
        self.store = store
        self.slots = slots
        self.want = slots if want is None else max(0, min(want, slots))
        self.on_lost = on_lost
        self.on_gained = on_gained
        self.held: dict[int, Lease] = {}
        self.next_try: dict[int, float] = {}
        self.last_error: ClusterError | None = None
        self._task: asyncio.Task[None] | None = None
        self._stale: list[Lease] = []
        self._poke = asyncio.Event()

    def holding(self, now: float | None = None) -> dict[int, Lease]:
        """The leases this node may act on now (its deadline not passed)."""
        now = self.store.clock() if now is None else now
        return {s: lease for s, lease in self.held.items() if lease.valid(now)}

    def poke(self) -> None:
        """Look again now (``want`` was raised: a node left, so free slots are wanted)."""
        self._poke.set()

    def drop(self, slot: int) -> Lease | None:
        """Stop renewing ``slot`` and forget it, without calling ``on_lost`` (the caller gives
        it back itself, once its bind is closed: a rebalance). None if it is not held."""
        return self.held.pop(slot, None)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"leases-{self.store.channel}")

    async def close(self, *, release: bool = True) -> None:
        """Stop. ``release``: give the slots back (a graceful shutdown) so others take them at
        once; without it they are held until they expire (what a dead node leaves)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if release:
            leases, self.held = list(self.held.values()), {}
            for lease in leases:
                with contextlib.suppress(ClusterError):
                    await lease.release()

    def _lose(self, slot: int, why: str) -> None:
        lease = self.held.pop(slot, None)
        if lease is not None:
            self.on_lost(slot, why)

    def _expire(self, now: float) -> None:
        for slot, lease in list(self.held.items()):
            if not lease.valid(now):
                self._stale.append(lease)  # may still be ours in Redis: give it back
                self._lose(slot, "expired")

    async def _renew_all(self, now: float) -> None:
        if not self.held:
            return
        leases = list(self.held.values())
        deadline = min(lease.valid_until for lease in leases)
        try:
            async with asyncio.timeout(max(0.001, deadline - now)):
                results = await asyncio.gather(*(lease.renew() for lease in leases),
                                               return_exceptions=True)
        except TimeoutError:
            return  # the deadline check below drops what is no longer trusted
        for lease, ok in zip(leases, results, strict=True):
            if isinstance(ok, ClusterError):
                self.last_error = ok
            elif isinstance(ok, BaseException):
                raise ok
            elif not ok and self.held.get(lease.slot) is lease:
                self._lose(lease.slot, "taken")

    async def _acquire_free(self, now: float) -> None:
        free = [s for s in range(self.slots)
                if s not in self.held and self.next_try.get(s, 0.0) <= now]
        room = self.want - len(self.held)
        if room <= 0 or not free:
            return
        results = await asyncio.gather(*(self.store.acquire(s) for s in free),
                                       return_exceptions=True)
        interval = self.store.config.renew_interval
        for slot, got in zip(free, results, strict=True):
            if isinstance(got, ClusterError):
                self.last_error = got
                self.next_try[slot] = now + interval
            elif isinstance(got, BaseException):
                raise got
            elif isinstance(got, Lease):
                if len(self.held) < self.want:
                    self.held[slot] = got
                    self.next_try.pop(slot, None)
                    if self.on_gained is not None:
                        self.on_gained(got)
                else:  # won more than wanted (tried several at once): hand it back
                    self._stale.append(got)
            else:  # held elsewhere: try again when it would expire
                self.next_try[slot] = now + min(got + 0.002, interval)

    async def _run(self) -> None:
        try:
            await self._loop()
        except Exception:
            # A bug, not Redis (those are ClusterErrors, handled in the loop): nothing renews
            # any more, so every bind is closed now rather than at its deadline.
            for slot in list(self.held):
                self._lose(slot, "error")
            raise

    async def _loop(self) -> None:
        clock = self.store.clock
        interval = self.store.config.renew_interval
        next_renew = clock()
        while True:
            now = clock()
            self._expire(now)
            if self._stale:
                stale, self._stale = self._stale, []
                for lease in stale:
                    with contextlib.suppress(ClusterError):
                        await lease.release()
            if now >= next_renew:
                next_renew = now + interval
                await self._renew_all(now)
                self._expire(clock())
            await self._acquire_free(clock())
            now = clock()
            wake = next_renew
            if self.held:
                wake = min(wake, min(lease.valid_until for lease in self.held.values()))
            if len(self.held) < self.want:
                tries = [self.next_try.get(s, now) for s in range(self.slots)
                         if s not in self.held]
                wake = min([wake, *tries])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poke.wait(), max(0.001, wake - now))
            self._poke.clear()
