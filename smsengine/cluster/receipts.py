"""Receipts relayed between nodes: a carrier delivers a receipt on any bind of the account, so
node B gets receipts for messages node A sent.

A receipt that matches nothing on the node that got it is appended (``RPUSH``) to the inbox
list of every other node the cluster knows (``<prefix>:known``, the node ids that have beaten
within ``known_ttl``), in one pipeline per loop tick. Each node reads its own inbox
(``LRANGE`` of up to ``batch``, then ``LTRIM`` of what it read, polled every 20 ms when empty)
and tries each receipt against what it sent:
the node that sent the message matches it; the others keep it as an early receipt (the
sender's submit response may not have been read yet), until the engine's
``early_receipt_ttl`` drops it (counted ``receipts_unmatched``). A node that was down (kill -9)
finds the receipts that came meanwhile in its inbox when it comes back *with the same
``node_id``*; each inbox expires ``inbox_ttl`` after its last write and holds at most
``inbox_max`` entries.

**Before the carrier hears the receipt was taken.** :meth:`ReceiptRelay.flush_now` is a
write barrier (the engine's ``before_write`` hook): what this tick relays is in Redis before
the bind writes its deliver_sm_resp, so a node killed after acknowledging a receipt has relayed
it. It blocks the loop for one round trip, only on a tick with a receipt to relay; while Redis
is unreachable it does not block (the relay is then dropped, counted, as is anything relayed
then: the carrier was told it was taken, so a receipt can be lost while Redis is down).

This costs nothing per message sent, nothing for a receipt that came back on the bind that
sent it, and ``nodes - 1`` list entries for one that did not. (The alternative, a record
smsc id -> node written per submit, costs a write per message, and needs a read per relayed
receipt.)
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

from ._redis import connect_sync, map_error, redis_errors
from .config import ClusterConfig
from .errors import ClusterError

if TYPE_CHECKING:
    import redis.asyncio as aioredis

__all__ = ["ReceiptRelay", "RelayedReceipt"]


class RelayedReceipt(msgspec.Struct, array_like=True, frozen=True):
    """A receipt as it travels: channel, carrier id, state (the engine's MessageState value),
    when it came (wall seconds) and its failure reason's fields, if any."""

    channel: str
    smsc_id: str
    state: str
    at: float
    reason: dict[str, Any] | None = None


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(RelayedReceipt).decode


class ReceiptRelay:
    """This node's inbox and its sending side; ``deliver`` gets each receipt popped here."""

    #: Seconds before what the write barrier has not sent is sent in the background.
    FALLBACK = 0.05

    def __init__(self, client: aioredis.Redis, config: ClusterConfig,
                 deliver: Callable[[RelayedReceipt], None], *, batch: int = 500,
                 inbox_ttl: float = 86400.0, inbox_max: int = 1_000_000) -> None:
        self.client = client
        self.config = config
        self.deliver = deliver
        self.batch = batch
        self.inbox_ttl_ms = round(inbox_ttl * 1000)
        self.inbox_max = inbox_max
        self.known_key = config.key("known")
        self.inbox = self.inbox_key(config.node_id)
        self.others: list[str] = []  # inbox keys of the other known nodes
        self._out: list[bytes] = []
        self._flush: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._reader: asyncio.Task[None] | None = None
        self.sent = 0
        self.received = 0
        self.dropped = 0  # not relayed: Redis unreachable
        self.round_trips = 0
        self.last_error: ClusterError | None = None
        self._sync = connect_sync(config)
        self._sync_failed_at = -1e18

    def inbox_key(self, node: str) -> str:
        return self.config.key("inbox", node)

    async def refresh(self) -> None:
        """Who else there is (after each heartbeat): every node seen within the TTL of the
        known set, this one added."""
        async with redis_errors(self.config, "receipts known"):
            pipe = self.client.pipeline(transaction=False)
            pipe.sadd(self.known_key, self.config.node_id)
            pipe.pexpire(self.known_key, self.inbox_ttl_ms)
            pipe.smembers(self.known_key)
            *_, members = await pipe.execute()
        self.round_trips += 1
        mine = self.config.node_id
        self.others = sorted(self.inbox_key(m.decode() if isinstance(m, bytes) else str(m))
                             for m in members if (m.decode() if isinstance(m, bytes) else m)
                             != mine)

    def relay(self, receipt: RelayedReceipt) -> None:
        """Send ``receipt`` to every other node, with whatever else this loop tick relays."""
        if not self.others:
            self.dropped += 1
            return
        self._out.append(_encode(receipt))
        if self._flush is None:
            # Usually flush_now (the write barrier, before the receipt is acknowledged) sends
            # it first; this is for when it did not run or could not reach Redis.
            self._flush = asyncio.get_running_loop().call_later(self.FALLBACK,
                                                                 self._spawn_flush)

    def flush_now(self) -> None:
        """The write barrier: what was relayed so far is in Redis when this returns (one
        blocking round trip), unless Redis failed within ``retry_after``, when it is left to
        the background flush."""
        if not self._out or not self.others:
            return
        if time.monotonic() - self._sync_failed_at < self.config.retry_after:
            return
        out, self._out = self._out, []
        try:
            pipe = self._sync.pipeline(transaction=False)
            for key in self.others:
                pipe.rpush(key, *out)
                pipe.ltrim(key, -self.inbox_max, -1)
                pipe.pexpire(key, self.inbox_ttl_ms)
            pipe.execute()
        except Exception as exc:
            self._sync_failed_at = time.monotonic()
            self.last_error = map_error(self.config, "receipts relay", exc)
            self._out[:0] = out  # (the background flush tries again)
            return
        self.round_trips += 1
        self.sent += len(out)

    def _spawn_flush(self) -> None:
        self._flush = None
        out, self._out = self._out, []
        if not out:
            return
        task = asyncio.get_running_loop().create_task(self._send(out))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, out: list[bytes]) -> None:
        try:
            async with redis_errors(self.config, "receipts relay"):
                pipe = self.client.pipeline(transaction=False)
                for key in self.others:
                    pipe.rpush(key, *out)
                    pipe.ltrim(key, -self.inbox_max, -1)
                    pipe.pexpire(key, self.inbox_ttl_ms)
                await pipe.execute()
            self.round_trips += 1
            self.sent += len(out)
        except ClusterError as exc:
            self.last_error = exc
            self.dropped += len(out)

    def start(self) -> None:
        if self._reader is None:
            self._reader = asyncio.get_running_loop().create_task(self._read(),
                                                                  name="receipt inbox")

    #: Seconds between looks at an empty inbox.
    IDLE = 0.02

    async def _read(self) -> None:
        # Read, then trim what was read: a reply lost to a timeout (a loaded machine, a slow
        # Redis) loses nothing, where a pop's loses what it popped (the suspected cause of a
        # receipt lost in a few runs of the three-node test, with BLPOP under a 1 s socket
        # timeout on a machine at load 7-9). What is read twice (the trim failed) is
        # harmless: a receipt for a message already final matches nothing. (Only this node
        # takes from the head; a sender's LTRIM to inbox_max could shift it, past 10^6.)
        while True:
            try:
                async with redis_errors(self.config, "receipts inbox"):
                    items = await self.client.lrange(self.inbox, 0, self.batch - 1)
                self.round_trips += 1
            except ClusterError as exc:
                self.last_error = exc
                await asyncio.sleep(min(1.0, self.config.retry_after))
                continue
            if not items:
                await asyncio.sleep(self.IDLE)
                continue
            for raw in items:
                try:
                    receipt = _decode(raw)
                except msgspec.DecodeError:
                    continue
                self.received += 1
                self.deliver(receipt)
            try:
                async with redis_errors(self.config, "receipts inbox trim"):
                    await self.client.ltrim(self.inbox, len(items), -1)
                self.round_trips += 1
            except ClusterError as exc:
                self.last_error = exc

    async def close(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        if self._flush is not None:
            self._flush.cancel()
            self._spawn_flush()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._sync.close()
