"""A daemon as a cluster node (``[cluster]``, issue 20): the engine's channels wired to Redis.

- Each channel's binds are gated on bind-slot leases (:class:`~smsengine.cluster.Leases`): bind
  ``i`` is open only while this node holds slot ``i``, and is closed (nothing more written, then
  unbound) the moment the lease is lost. The slots are spread over the live nodes
  (:class:`~smsengine.cluster.Members`, ``want = ceil(slots / live)``); a node holding more than
  its share hands the extra back, closing the bind first and releasing the lease after.
- Each channel with a TPS takes its tokens from the cluster-wide GCRA too
  (:class:`~smsengine.cluster.ClusterBucket`), counted in segments; its AIMD cuts are shared.
- A receipt that matches nothing here (the carrier delivers receipts on any bind of the
  account) is relayed to the other nodes (:class:`~smsengine.cluster.ReceiptRelay`); the node
  that sent the message matches it.
- ``ready()`` says why the node is not ready: Redis unreachable since when, and the last error.

Without ``[cluster]`` none of this exists: the gateway makes no :class:`ClusterNode`, and the
engine runs exactly as on one node. See docs/scale-out.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING

import msgspec

from ..cluster import (
    ClusterBucket,
    ClusterConfig,
    ClusterError,
    ClusterTps,
    Lease,
    Leases,
    LeaseStore,
    Members,
    ReceiptRelay,
    RelayedReceipt,
    connect,
    fair_share,
)
from ..cluster.caps import SharedCaps
from ..cluster.idempotency import SharedKeys
from ..cluster.suppression import SharedSuppression
from ..engine.model import DeliveryFailure, MessageState
from ..engine.stores import SuppressionStore
from .cluster_state import ClusterKeys, ClusterSuppression

if TYPE_CHECKING:
    from ..engine.channel import Channel

__all__ = ["ClusterNode"]

log = logging.getLogger("smsengine.daemon.cluster")


class _ChannelSlots:
    """One channel's bind-slot leases on this node, and the binds they gate."""

    def __init__(self, node: ClusterNode, channel: Channel) -> None:
        self.node = node
        self.channel = channel
        store = LeaseStore(node.client, node.config, channel.name)
        self.leases = Leases(store, channel.slots, on_lost=self._lost, on_gained=self._gained,
                             want=fair_share(channel.slots, 1))
        self._closing: set[asyncio.Task[None]] = set()

    def _gained(self, lease: Lease) -> None:
        log.info("cluster: channel %s: holding bind slot %d (fencing token %d)",
                 self.channel.name, lease.slot, lease.token)
        self.channel.open_slot(lease.slot)

    def _lost(self, slot: int, why: str) -> None:
        # Nothing more is written on the bind from now (close_slot's synchronous part); it
        # unbinds without waiting for what is in flight, since another node may hold it now.
        log.warning("cluster: channel %s: bind slot %d lost (%s): unbinding",
                    self.channel.name, slot, why)
        self._spawn(self.channel.close_slot(slot, 0.0))

    def _spawn(self, coro: object) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)  # type: ignore[arg-type]
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def rebalance(self, live: int) -> None:
        """Hold this node's share of the slots: more wanted when nodes left (looked for at
        once), the extra handed back when nodes joined: its bind closed first (what is in
        flight gets a second, within the lease), then the lease released."""
        leases = self.leases
        want = fair_share(leases.slots, live)
        if want > leases.want:
            leases.want = want
            leases.poke()
            return
        leases.want = want
        while len(leases.held) > want:
            slot = max(leases.held)
            lease = leases.drop(slot)
            if lease is None:
                break
            log.info("cluster: channel %s: handing bind slot %d back (%d nodes)",
                     self.channel.name, slot, live)
            left = lease.valid_until - leases.store.clock()
            await self.channel.close_slot(slot, max(0.0, min(1.0, left - 0.5)))
            with contextlib.suppress(ClusterError):
                await lease.release()

    async def close(self) -> None:
        """The binds are closed already (the engine stopped): give the slots back."""
        await asyncio.gather(*self._closing, return_exceptions=True)
        await self.leases.close(release=True)


class ClusterNode:
    """This daemon's part in the cluster; see the module docstring."""

    def __init__(self, config: ClusterConfig) -> None:
        self.config = config
        self.client = connect(config)
        self.members = Members(self.client, config)
        self.slots: dict[str, _ChannelSlots] = {}
        self.buckets: dict[str, ClusterBucket] = {}
        self._channels: list[Channel] = []
        self._by_name: dict[str, Channel] = {}
        self.relay = ReceiptRelay(self.client, config, self._relayed)
        self.suppression: ClusterSuppression | None = None
        self.keys: ClusterKeys | None = None
        self.caps = SharedCaps(self.client, config)  # (frequency caps: see take_caps)
        self._task: asyncio.Task[None] | None = None
        self.down_since: float | None = None  # wall time Redis was first found unreachable
        self.last_error: ClusterError | None = None

    def setup_channel(self, channel: Channel) -> None:
        """The engine's ``channel_setup`` hook: before the channel starts, gate its binds on
        leases and give it the cluster-wide rate (a channel with a TPS)."""
        channel.gated = True
        self._channels.append(channel)
        self._by_name[channel.name] = channel
        name = channel.name

        def stranger(smsc_id: str, state: MessageState, at: float,
                     reason: DeliveryFailure | None) -> None:
            self.relay.relay(RelayedReceipt(
                name, smsc_id, state.value, at,
                msgspec.structs.asdict(reason) if reason is not None else None))

        channel.on_stranger_receipt(stranger)
        if channel.config.tps > 0:
            tps = ClusterTps.for_channel(self.client, self.config, channel.config)
            bucket = ClusterBucket(tps, channel.bucket)
            channel.bucket = bucket
            self.buckets[channel.name] = bucket

    def share_suppression(self, local: SuppressionStore) -> ClusterSuppression:
        """The engine's suppression store shared with the cluster (before :meth:`start`)."""
        self.suppression = ClusterSuppression(local, SharedSuppression(self.client, self.config))
        return self.suppression

    def share_keys(self, ttl: float) -> ClusterKeys:
        """Idempotency keys claimed across the cluster, answers kept ``ttl`` seconds."""
        if self.keys is None:
            self.keys = ClusterKeys(SharedKeys(self.client, self.config, ttl=ttl))
        return self.keys

    def _relayed(self, receipt: RelayedReceipt) -> None:
        channel = self._by_name.get(receipt.channel)
        if channel is None:
            return
        try:
            state = MessageState(receipt.state)
            reason = DeliveryFailure(**receipt.reason) if receipt.reason else None
        except (ValueError, TypeError):
            return  # (from a node of another version: not ours to read)
        channel.relayed_receipt(receipt.smsc_id, state, receipt.at, reason)

    async def start(self) -> None:
        """After the engine started: join (a heartbeat), then hold leases. Redis unreachable
        is not fatal: the node accepts into its outbox, says so in ``ready()``, and keeps
        trying."""
        await self._beat()
        if self.suppression is not None:
            # Merged before any bind opens (the leases start below), so nothing queued here
            # goes to a number that opted out elsewhere.
            with contextlib.suppress(ClusterError):
                await self.suppression.sync_once()
            self.suppression.start()
        if self.down_since is None:
            log.info("cluster: node %s joined (%d live) at %r", self.config.node_id,
                     self.members.live, self.config)
        self.relay.start()
        for channel in self._channels:
            slots = self.slots[channel.name] = _ChannelSlots(self, channel)
            slots.leases.want = fair_share(channel.slots, self.members.live)
            slots.leases.start()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="cluster")

    async def _beat(self) -> None:
        try:
            await self.members.beat()
            await self.relay.refresh()
        except ClusterError as exc:
            if self.down_since is None:
                self.down_since = time.time()
                log.error("cluster: %s", exc)
            self.last_error = exc
            return
        if self.down_since is not None:
            log.info("cluster: Redis reachable again after %.1f s",
                     time.time() - self.down_since)
        self.down_since = None
        self.last_error = None

    async def _run(self) -> None:
        # Often enough that a node's share follows the live count within a second of a change
        # (a dead node counts for one lease TTL after its last heartbeat).
        interval = min(1.0, self.config.renew_interval)
        while True:
            await asyncio.sleep(interval)
            await self._beat()
            if self.down_since is None:
                for slots in self.slots.values():
                    await slots.rebalance(self.members.live)

    async def close(self) -> None:
        """After the engine stopped (its binds are closed): release the slots, leave."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.gather(*(s.close() for s in self.slots.values()), return_exceptions=True)
        await self.relay.close()
        if self.suppression is not None:
            await self.suppression.stop()
        if self.keys is not None:
            await self.keys.close()
        await asyncio.gather(*(b.close() for b in self.buckets.values()), return_exceptions=True)
        with contextlib.suppress(ClusterError):
            await self.members.leave()
        await self.client.aclose()

    def before_write(self) -> None:
        """The engine's write barrier: receipts this tick relays are in Redis before the
        carrier is told they were taken."""
        self.relay.flush_now()

    def holds(self, channel: str) -> bool:
        """Whether this node holds any bind slot of ``channel`` now."""
        slots = self.slots.get(channel)
        return slots is not None and bool(slots.leases.holding())

    def ready(self) -> dict[str, str]:
        """What is not ready (empty: ready)."""
        problems: dict[str, str] = {}
        task = self._task
        if task is not None and task.done() and not task.cancelled():
            problems["cluster"] = f"the node's loop stopped: {task.exception()!r}"
            return problems
        error = self.last_error
        if self.down_since is None:
            for name, bucket in self.buckets.items():
                if bucket.last_error is not None:
                    error = bucket.last_error
                    problems[f"cluster tps {name}"] = str(bucket.last_error)
        if self.down_since is not None and error is not None:
            since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.down_since))
            problems["cluster"] = f"Redis unavailable since {since}: {error}"
        shared = self.suppression
        if shared is not None and not shared.synced:
            problems["cluster suppression"] = (
                "the suppression list is not in step with the cluster's: "
                + str(shared.last_error or "not merged yet"))
        return problems

    def snapshot(self) -> dict[str, object]:
        """Diagnostics: live nodes, slots held per channel, Redis round trips."""
        return {
            "node": self.config.node_id,
            "live": self.members.live,
            "slots": {n: sorted(s.leases.held) for n, s in self.slots.items()},
            "round_trips": self.round_trips,
            "receipts_relayed": {"sent": self.relay.sent, "received": self.relay.received,
                                 "dropped": self.relay.dropped},
            **({"suppression": {"synced": self.suppression.synced,
                                "pushed": self.suppression.pushed,
                                "applied": self.suppression.applied}}
               if self.suppression is not None else {}),
        }

    @property
    def round_trips(self) -> int:
        return (self.members.round_trips + self.relay.round_trips
                + (self.suppression.shared.round_trips if self.suppression is not None else 0)
                + (self.keys.shared.round_trips if self.keys is not None else 0)
                + self.caps.round_trips
                + sum(s.leases.store.round_trips for s in self.slots.values())
                + sum(b.tps.round_trips for b in self.buckets.values()))
