"""Work hand-off: one Redis Stream per channel, read by the nodes holding its binds.

A node that accepted a message for a channel whose binds are elsewhere appends it (``XADD``,
after its own outbox has it) to ``<prefix>:stream:{<channel>}``. The nodes holding the
channel's bind slots read it through one consumer group (``XREADGROUP``), each entry going to
one of them, and acknowledge it (``XACK``) once the submit's outcome is durable. Entries a dead
consumer left pending are taken over with ``XAUTOCLAIM`` after ``min_idle`` (longer than the
lease TTL: its binds are closed by then).

**Dedup by message id.** An entry can be delivered twice (claimed from a consumer that had
sent it but died before its ``XACK``). Before sending, a consumer claims the message id with
one script (``SET NX PX`` on ``<prefix>:sent:{<channel>}:<id>``): the first claim wins, and a
later one learns who claimed it first. A consumer that finds its own id there sends again only
if it knows it did not send; one that finds another node's marks the message UNKNOWN (the
other may have sent it), which is the counted UNKNOWN of the ledger checks, never a blind
second send.

Layer 4 bookkeeping only: entries are opaque bytes here; what a message is, and what the
daemon does with an entry, is the caller's. Not wired into the daemon yet (docs/scale-out.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
from redis import exceptions as rx

from ._redis import Script, redis_errors
from .config import ClusterConfig

if TYPE_CHECKING:
    import redis.asyncio as aioredis

__all__ = ["HandoffEntry", "HandoffStream"]

GROUP = "senders"

# KEYS: the dedup key. ARGV: node id, ttl ms. -> {1, node} (claimed now) or {0, first holder}
_CLAIM = Script("""
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {1, ARGV[1]} end
return {0, redis.call('GET', KEYS[1])}
""")


class HandoffEntry(msgspec.Struct, frozen=True):
    """One entry: its stream id, the message id it carries, the body (opaque), and how many
    times it was delivered (1 for the first read; more after a claim from a dead consumer)."""

    entry_id: str
    message_id: str
    body: bytes
    deliveries: int = 1


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _entries(raw: Any, deliveries: int = 1) -> list[HandoffEntry]:
    out = []
    for entry_id, fields in raw or ():
        if not fields:  # (trimmed away while pending: nothing to send)
            continue
        out.append(HandoffEntry(_s(entry_id), _s(fields[b"id"]), bytes(fields[b"body"]),
                                deliveries))
    return out


class HandoffStream:
    """The hand-off stream of one channel, seen from this node (a producer, and a consumer
    named by its node id)."""

    def __init__(self, client: aioredis.Redis, config: ClusterConfig, channel: str, *,
                 maxlen: int = 1_000_000, dedup_ttl: float = 86400.0) -> None:
        self.client = client
        self.config = config
        self.channel = channel
        self.key = config.key("stream", f"{{{channel}}}")
        self.maxlen = maxlen
        self.dedup_ttl_ms = round(dedup_ttl * 1000)
        self.consumer = config.node_id
        self._claim = Script(_CLAIM.body)
        self._group_made = False

    def sent_key(self, message_id: str) -> str:
        return self.config.key("sent", f"{{{self.channel}}}", message_id)

    async def append(self, messages: list[tuple[str, bytes]]) -> list[str]:
        """Append ``(message id, body)`` pairs in one pipeline; their entry ids. The stream is
        capped near ``maxlen`` (approximately, as ``XADD MAXLEN ~`` does)."""
        if not messages:
            return []
        async with redis_errors(self.config, f"handoff append {self.channel}"):
            pipe = self.client.pipeline(transaction=False)
            for message_id, body in messages:
                pipe.xadd(self.key, {"id": message_id, "body": body}, maxlen=self.maxlen,
                          approximate=True)
            ids = await pipe.execute()
        return [_s(i) for i in ids]

    async def _group(self) -> None:
        if self._group_made:
            return
        async with redis_errors(self.config, f"handoff group {self.channel}"):
            try:
                await self.client.xgroup_create(self.key, GROUP, id="0", mkstream=True)
            except rx.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
        self._group_made = True

    async def read(self, count: int = 100, block: float | None = None) -> list[HandoffEntry]:
        """Up to ``count`` entries no consumer of the group has had yet, for this node; waits
        up to ``block`` seconds for one (None: does not wait)."""
        await self._group()
        async with redis_errors(self.config, f"handoff read {self.channel}"):
            got: Any = await self.client.xreadgroup(
                GROUP, self.consumer, {self.key: ">"}, count=count,
                block=None if block is None else max(1, round(block * 1000)))
        return [e for _, entries in got or () for e in _entries(entries)]

    async def take_over(self, min_idle: float, count: int = 100) -> list[HandoffEntry]:
        """Entries pending on any consumer for at least ``min_idle`` seconds (a dead one's),
        now this node's (``XAUTOCLAIM``), with their delivery counts."""
        await self._group()
        async with redis_errors(self.config, f"handoff take over {self.channel}"):
            result = await self.client.xautoclaim(
                self.key, GROUP, self.consumer, max(1, round(min_idle * 1000)),
                start_id="0-0", count=count)
            entries = _entries(result[1], 2)
            if not entries:
                return []
            counts: dict[str, int] = {}
            pending = await self.client.xpending_range(
                self.key, GROUP, min=entries[0].entry_id, max=entries[-1].entry_id,
                count=len(entries), consumername=self.consumer)
            for p in pending:
                mid: Any = p["message_id"]
                counts[_s(mid)] = int(p["times_delivered"])
        return [msgspec.structs.replace(e, deliveries=counts.get(e.entry_id, 2))
                for e in entries]

    async def claim(self, message_id: str) -> tuple[bool, str]:
        """Claim the right to send ``message_id``: (True, this node) the first time; else
        (False, the node that claimed it first)."""
        async with redis_errors(self.config, f"handoff claim {self.channel}"):
            won: int
            holder: bytes | None
            won, holder = await self._claim(self.client, (self.sent_key(message_id),),
                                            (self.consumer, self.dedup_ttl_ms))
        return bool(int(won)), _s(holder) if holder is not None else ""

    async def ack(self, entry_ids: list[str]) -> int:
        """The entries' outcome is durable: they leave the pending list."""
        if not entry_ids:
            return 0
        async with redis_errors(self.config, f"handoff ack {self.channel}"):
            return int(await self.client.xack(self.key, GROUP, *entry_ids))

    async def pending(self) -> int:
        """Entries delivered to some consumer and not acknowledged."""
        await self._group()
        async with redis_errors(self.config, f"handoff pending {self.channel}"):
            info = await self.client.xpending(self.key, GROUP)
        return int(info["pending"])

    @property
    def round_trips(self) -> int:
        return self._claim.round_trips
