"""Who is in the cluster: a heartbeat per node in one sorted set, on Redis's clock.

Each node ``ZADD``s its id with Redis's ``TIME`` (milliseconds) every renew interval and drops
the entries older than the lease TTL in the same script, which answers how many are left. A
node killed with ``kill -9`` therefore stops counting one lease TTL after its last heartbeat,
which is when its bind-slot leases expire too: the survivors then want, and take, its slots.
The count is what spreads a channel's slots over the nodes (``want = ceil(slots / live)``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ._redis import Script, redis_errors
from .config import ClusterConfig

if TYPE_CHECKING:
    import redis.asyncio as aioredis

__all__ = ["Members", "fair_share"]

# KEYS: the set. ARGV: node id, ttl ms. Returns the live count, this node included.
_BEAT = Script("""
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[2]))
return redis.call('ZCARD', KEYS[1])
""")


def fair_share(slots: int, live: int) -> int:
    """How many of ``slots`` one of ``live`` nodes should hold: the ceiling of the share, so
    the slots are all wanted by someone (a node never wants fewer than one)."""
    return max(1, min(slots, math.ceil(slots / max(1, live))))


class Members:
    """This node's heartbeat and the live count it last heard."""

    def __init__(self, client: aioredis.Redis, config: ClusterConfig) -> None:
        self.client = client
        self.config = config
        self.key = config.key("nodes")
        self.ttl_ms = max(1, round(config.lease_ttl * 1000))
        self.live = 1
        self._beat = Script(_BEAT.body)

    async def beat(self) -> int:
        """Say this node is alive; the number of live nodes (ClusterUnavailable if Redis is
        not there)."""
        async with redis_errors(self.config, "members beat"):
            self.live = int(await self._beat(self.client, (self.key,),
                                             (self.config.node_id, self.ttl_ms)))
        return self.live

    async def leave(self) -> None:
        """A graceful exit: the others stop counting this node at once."""
        async with redis_errors(self.config, "members leave"):
            await self.client.zrem(self.key, self.config.node_id)

    @property
    def round_trips(self) -> int:
        return self._beat.round_trips
