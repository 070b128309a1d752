"""Cluster-wide TPS per channel: GCRA in one Lua script, counted in segments, taken in batches.

One key per channel holds the GCRA's theoretical arrival time (TAT, microseconds). A node asks
for up to ``k`` tokens in one EVALSHA and is granted as many as the account allows now; the
answer also says when the next token is due, so the node sleeps instead of polling. The bound
is exact: with emission interval ``I = 1/rate`` and tolerance ``tau = burst * I``, a grant moves
TAT forward by ``I`` per token and never past ``now + tau``, so over any window of ``T`` seconds
the whole cluster is granted at most ``rate * T + burst`` tokens.

**Clock.** By default the script reads Redis's ``TIME``: every node is measured on one clock,
so a node whose clock runs ahead cannot make tokens appear (with node clocks, a skew of ``s``
seconds hands out ``rate * s`` extra tokens). ``TIME`` inside a script is allowed since Redis 5
(scripts replicate their effects, the default from Redis 7). Tests pass ``now`` instead (an
injected clock, in seconds) to check the arithmetic deterministically.

**Shared AIMD.** A small hash per channel (``rate``, ``at`` in Redis time, ``node``, ``epoch``)
holds a cut made after the carrier throttled a node. The GCRA script reads it on every take:
the rate enforced is ``min(configured, shared)``, and each grant carries the shared rate and
its epoch, so every node sees another's cut on its next take, with no extra round trip. A cut
only ever lowers the shared rate (two nodes cutting for the same throttling do not halve it
twice); an increase is compare-and-set on the epoch (two nodes probing upward do not add
twice, and a cut made meanwhile wins).
"""

from __future__ import annotations

import asyncio
import collections
import math
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import msgspec

from ..engine.flow import TokenSource
from ._redis import Script, redis_errors
from .config import ClusterConfig
from .errors import ClusterError

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from smsengine.engine.config import ChannelConfig

__all__ = ["ClusterBucket", "ClusterTps", "Grant", "SharedRate", "TokenBatcher"]

_TAKE = Script("""
local k = tonumber(ARGV[1])
local ceiling = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local now
if ARGV[4] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[4])
end
local shared = redis.call('HMGET', KEYS[2], 'rate', 'epoch')
local rate = ceiling
local sr = tonumber(shared[1])
if sr and sr > 0 and sr < rate then rate = sr end
local interval = 1000000 / rate
local tau = burst * interval
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local n = math.floor((now + tau - tat) / interval)
if n > k then n = k end
if n < 0 then n = 0 end
if n > 0 then
  tat = tat + n * interval
  redis.call('SET', KEYS[1], string.format('%.0f', math.ceil(tat)),
             'PX', math.ceil((tat - now) / 1000) + 60000)
end
local due = tat + interval - tau - now
if due < 0 then due = 0 end
return {n, string.format('%.0f', math.ceil(due)), string.format('%.0f', now),
        string.format('%.6f', rate), shared[2] or '0'}
""")

# ARGV: rate, node, ttl_ms, mode ('cut' | 'raise'), expected epoch (for 'raise')
_SET_RATE = Script("""
local cur = redis.call('HMGET', KEYS[1], 'rate', 'at', 'node', 'epoch')
local new = tonumber(ARGV[1])
local write
if ARGV[4] == 'cut' then
  local cr = tonumber(cur[1])
  write = (cr == nil) or (new < cr)
else
  write = (cur[4] or '0') == ARGV[5]
end
if write then
  local t = redis.call('TIME')
  local at = string.format('%.0f', tonumber(t[1]) * 1000000 + tonumber(t[2]))
  local epoch = redis.call('HINCRBY', KEYS[1], 'epoch', 1)
  redis.call('HSET', KEYS[1], 'rate', ARGV[1], 'at', at, 'node', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {1, ARGV[1], at, ARGV[2], tostring(epoch)}
end
return {0, cur[1] or '', cur[2] or '0', cur[3] or '', cur[4] or '0'}
""")


class Grant(msgspec.Struct, frozen=True):
    """What one take gave: ``granted`` tokens (0..k), ``wait`` seconds until the next one is
    due, ``now`` the script's time (Redis's, or the injected one) in seconds, ``rate`` the rate
    enforced (configured, or lower after a shared cut) and ``epoch`` the shared rate's version."""

    granted: int
    wait: float
    now: float
    rate: float
    epoch: int


class SharedRate(msgspec.Struct, frozen=True):
    """The shared AIMD rate of a channel: set by ``node`` at ``at`` (Redis time, seconds)."""

    rate: float
    at: float
    node: str
    epoch: int


def _s(value: bytes | str | int) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class ClusterTps:
    """The cluster-wide rate of one channel: ``rate`` segments per second, ``burst`` at most
    at once (both as the channel's ``tps`` / ``burst``; burst 0 = one second's worth)."""

    def __init__(self, client: aioredis.Redis, config: ClusterConfig, channel: str,
                 rate: float, burst: float = 0.0) -> None:
        if not (rate > 0 and math.isfinite(rate)):
            raise ValueError(f"{channel}: a cluster-wide rate needs tps > 0, not {rate!r}")
        self.client = client
        self.config = config
        self.channel = channel
        self.rate = float(rate)
        self.burst = float(burst) if burst > 0 else max(1.0, self.rate)
        if self.burst < 1:
            raise ValueError(f"{channel}: burst {burst!r} is below one segment")
        # {channel} is a hash tag: both keys of a channel live on one Redis Cluster slot.
        self.tat_key = config.key("tps", f"{{{channel}}}")
        self.aimd_key = config.key("aimd", f"{{{channel}}}")
        self._take = Script(_TAKE.body)
        self._set_rate = Script(_SET_RATE.body)

    @classmethod
    def for_channel(cls, client: aioredis.Redis, config: ClusterConfig,
                    channel: ChannelConfig) -> ClusterTps:
        return cls(client, config, channel.name, channel.tps, channel.burst)

    @property
    def round_trips(self) -> int:
        """Requests sent to Redis so far by this object."""
        return self._take.round_trips + self._set_rate.round_trips

    async def take(self, k: int, now: float | None = None) -> Grant:
        """Ask for up to ``k`` tokens (segments) at once. ``now`` (seconds) is for tests; None
        = Redis's clock. Raises ClusterUnavailable when Redis cannot be reached."""
        if k < 1:
            raise ValueError(f"take needs k >= 1, not {k}")
        when = "" if now is None else f"{now * 1e6:.0f}"
        async with redis_errors(self.config, f"tps take {self.channel}"):
            n, due, at, rate, epoch = await self._take(
                self.client, (self.tat_key, self.aimd_key),
                (k, repr(self.rate), repr(self.burst), when))
        return Grant(int(n), int(_s(due)) / 1e6, int(_s(at)) / 1e6, float(_s(rate)),
                     int(_s(epoch)))

    async def _write(self, rate: float, mode: str, epoch: int) -> tuple[bool, SharedRate | None]:
        async with redis_errors(self.config, f"tps {mode} {self.channel}"):
            ok, r, at, node, ep = await self._set_rate(
                self.client, (self.aimd_key,),
                (repr(float(rate)), self.config.node_id,
                 math.ceil(self.config.aimd_ttl * 1000), mode, str(epoch)))
        shared = None if not _s(r) else SharedRate(float(_s(r)), int(_s(at)) / 1e6, _s(node),
                                                   int(_s(ep)))
        return bool(ok), shared

    async def cut(self, rate: float) -> tuple[bool, SharedRate | None]:
        """Share a cut to ``rate`` (after the carrier throttled this node). Written only if it is
        below the shared rate; returns (written, the shared rate now)."""
        if not rate > 0:
            raise ValueError(f"a cut needs rate > 0, not {rate!r}")
        return await self._write(rate, "cut", 0)

    async def increase(self, rate: float, epoch: int) -> tuple[bool, SharedRate | None]:
        """Raise the shared rate to ``rate`` if it is still at ``epoch`` (the one this node
        last saw): returns (written, the shared rate now)."""
        if not rate > 0:
            raise ValueError(f"an increase needs rate > 0, not {rate!r}")
        return await self._write(rate, "raise", epoch)

    async def shared(self) -> SharedRate | None:
        """The shared AIMD rate, or None (no cut: the configured rate applies)."""
        async with redis_errors(self.config, f"tps shared {self.channel}"):
            h = await self.client.hgetall(self.aimd_key)
        if not h or b"rate" not in h:
            return None
        return SharedRate(float(h[b"rate"]), int(h[b"at"]) / 1e6, _s(h[b"node"]),
                          int(h[b"epoch"]))

    async def clear(self) -> None:
        """Forget the channel's TPS state and shared rate (tests, a channel removed)."""
        async with redis_errors(self.config, f"tps clear {self.channel}"):
            await self.client.delete(self.tat_key, self.aimd_key)


class TokenBatcher:
    """A node's local stash of granted tokens, refilled ``batch`` at a time.

    ``acquire(n)`` returns once ``n`` tokens are this node's to spend. When the stash is short
    it asks Redis for a batch; when fewer are granted it sleeps until a full batch is due
    (``wait + (batch - 1) / rate``), so one round trip buys up to ``batch`` tokens. Granted
    tokens not spent within ``hold`` seconds are dropped, never saved up: on the wire the
    cluster then sends at most ``rate * (T + hold) + burst`` in any ``T`` seconds. A batch
    larger than the burst is never granted whole; keep ``batch <= burst``.
    """

    def __init__(self, tps: ClusterTps, batch: int | None = None, hold: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.tps = tps
        self.batch = max(1, min(batch or tps.config.tps_batch, int(tps.burst)))
        self.hold = tps.config.tps_hold if hold is None else hold
        self.clock = clock
        self.stash = 0
        self.expires = 0.0
        self.not_before = 0.0
        self.dropped = 0

    async def acquire(self, n: int = 1) -> None:
        """Wait until ``n`` tokens (1..burst) are this node's, and spend them."""
        if not 1 <= n <= self.tps.burst:
            raise ValueError(f"acquire needs 1 <= n <= burst ({self.tps.burst:g}), not {n}")
        while True:
            now = self.clock()
            if self.stash and now >= self.expires:
                self.dropped += self.stash
                self.stash = 0
            if self.stash >= n:
                self.stash -= n
                return
            if now < self.not_before:  # the account was drained: let a batch accrue
                await asyncio.sleep(self.not_before - now)
                continue
            want = max(self.batch, n - self.stash)
            grant = await self.tps.take(want)
            if grant.granted:
                if not self.stash:
                    self.expires = self.clock() + self.hold
                self.stash += grant.granted
            if grant.granted < want:
                full = max(self.batch, n)  # when a whole batch (or n) will have accrued
                self.not_before = self.clock() + grant.wait + (full - 1) / grant.rate


class _Held:
    """Tokens of one grant not spent yet, and when they must be dropped."""

    __slots__ = ("count", "expires")

    def __init__(self, expires: float, count: int) -> None:
        self.expires = expires
        self.count = count


class ClusterBucket:
    """A channel's token source on a cluster node: the engine's local bucket (the node's AIMD
    pace) *and* tokens granted by the cluster-wide GCRA, in batches.

    It has the local bucket's synchronous interface (``wait_time`` / ``take`` on the loop's
    clock), so the engine's dispatcher is the same code with or without a cluster. When the
    stash falls below half a batch, ``wait_time`` starts one refill (one EVALSHA for up to
    ``batch`` tokens) in the background, so a node sending steadily rarely waits for Redis;
    when the stash is empty it answers a short poll, and when the account is drained the time
    until a whole batch is due. ``batch`` is ``tps_batch``, or a quarter of what the rate
    grants in ``hold`` if that is more, never more than half the burst. Each grant's tokens not
    spent within ``hold`` are dropped, as in :class:`TokenBatcher`. Redis unreachable: nothing
    is granted (this node cannot know what the others send), ``last_error`` says why, and a
    refill is tried again after ``retry``.

    AIMD: a local cut (``set_rate`` lower, after the carrier throttled this node) is written to
    the shared rate, which the script enforces for every node on its next take; a local
    recovery above a shared cut raises it, compare-and-set on the epoch last seen."""

    #: Seconds the dispatcher sleeps while a refill is in flight (one round trip is ~0.2 ms).
    POLL = 0.001

    def __init__(self, tps: ClusterTps, local: TokenSource, *, batch: int | None = None,
                 hold: float | None = None, retry: float = 0.5) -> None:
        self.tps = tps
        self.local = local
        self.burst = max(1, int(tps.burst))
        self.hold = tps.config.tps_hold if hold is None else hold
        wanted = batch or max(tps.config.tps_batch, math.ceil(tps.rate * self.hold / 4))
        # At most half the burst: a batch is then granted whole without a full bucket.
        self.batch = max(1, min(wanted, self.burst // 2 or 1))
        self.low = self.batch // 2
        self.retry = retry
        self.stash = 0
        self._held: collections.deque[_Held] = collections.deque()
        self.not_before = 0.0
        self.granted = 0
        self.dropped = 0
        self.shared_rate = tps.rate  # as the last grant said
        self.epoch = 0
        self.last_error: ClusterError | None = None
        self._refill_task: asyncio.Task[None] | None = None
        self._share_tasks: set[asyncio.Task[None]] = set()

    @property
    def rate(self) -> float:
        return self.local.rate

    def _expire(self, now: float) -> None:
        held = self._held
        while held and held[0].expires <= now:
            gone = held.popleft().count
            self.stash -= gone
            self.dropped += gone

    def wait_time(self, n: float, now: float) -> float:
        wait = self.local.wait_time(n, now)
        if wait > 0:
            return wait
        need = min(int(n), self.burst)
        if self._held and self._held[0].expires <= now:
            self._expire(now)
        if self.stash >= need:
            if (self.stash - need < self.low and self._refill_task is None
                    and now >= self.not_before):
                self._start(self.batch, need)  # ahead of time: no wait for the round trip
            return 0.0
        if self._refill_task is None:
            if now < self.not_before:  # the account was drained: let a batch accrue
                return self.not_before - now
            self._start(max(self.batch, need - self.stash), need)
        return self.POLL

    def _start(self, want: int, need: int) -> None:
        self._refill_task = asyncio.get_running_loop().create_task(
            self._refill(want, need), name=f"tps refill {self.tps.channel}")

    def take(self, n: float, now: float) -> bool:
        self.local.take(n, now)
        k = min(int(n), self.burst)
        self.stash -= k
        held = self._held
        while k and held:
            first = held[0]
            if first.count > k:
                first.count -= k
                break
            k -= first.count
            held.popleft()
        return True

    def set_rate(self, rate: float, now: float) -> None:
        old = self.local.rate
        self.local.set_rate(rate, now)
        if rate < old and rate < self.shared_rate:
            self._share(self.tps.cut(rate))
        elif rate > old and self.shared_rate < min(rate, self.tps.rate):
            self._share(self.tps.increase(min(rate, self.tps.rate), self.epoch))

    def reset(self, rate: float, burst: float, now: float) -> None:
        self.local.reset(rate, burst, now)

    async def _refill(self, want: int, need: int) -> None:
        loop = asyncio.get_running_loop()
        try:
            grant = await self.tps.take(want)
        except ClusterError as exc:
            self.last_error = exc
            self.not_before = loop.time() + self.retry
            return
        finally:
            self._refill_task = None
        self.last_error = None
        self.shared_rate, self.epoch = grant.rate, grant.epoch
        now = loop.time()
        if grant.granted:
            self._held.append(_Held(now + self.hold, grant.granted))
            self.stash += grant.granted
            self.granted += grant.granted
        if grant.granted < want:
            full = max(self.batch, need)  # when a whole batch (or the message) will have accrued
            self.not_before = now + grant.wait + (full - 1) / grant.rate

    def _share(self, write: Coroutine[Any, Any, tuple[bool, SharedRate | None]]) -> None:
        async def run() -> None:
            try:
                _, shared = await write
            except ClusterError as exc:
                self.last_error = exc
                return
            if shared is not None:
                self.shared_rate, self.epoch = shared.rate, shared.epoch

        task = asyncio.get_running_loop().create_task(run())
        self._share_tasks.add(task)
        task.add_done_callback(self._share_tasks.discard)

    async def close(self) -> None:
        tasks = [t for t in (self._refill_task, *self._share_tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
