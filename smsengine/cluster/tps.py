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
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import msgspec

from ._redis import Script, redis_errors
from .config import ClusterConfig

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from smsengine.engine.config import ChannelConfig

__all__ = ["ClusterTps", "Grant", "SharedRate", "TokenBatcher"]

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
