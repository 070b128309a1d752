"""A channel: one carrier account — its binds, its send rate, its queue — as a dispatcher.

The dispatcher is one task per channel. It takes the next message from the priority lanes, waits
for segment tokens (a token bucket whose rate the AIMD controller moves) and for a bind with
window room, and hands each segment to the bind with :meth:`SmppBind.send_callback`; answers
come back through callbacks on the receive path, with no task or future per message. Picking
what to send where is plain bookkeeping (``_burst``, ``_send``); the one await per round is in
``_dispatch``.

What a protocol means is the channel's :class:`~.adapter.ProtocolAdapter`'s (building PDUs,
classifying a status, reading an inbound PDU); what becomes of a message is its
:class:`~.tracker.ChannelTracker`'s (the channel only reports what happened); MO parts are
put together by :class:`~.mo.MoAssembler`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any, cast

from ..bind import BindEvent, BindKeeper, BindMode
from ..bind.base import WriteBarrier
from ..link import LinkError, NotSentError
from ..smpp import CommandStatus, Response
from .adapter import MoPart, ProtocolAdapter, Receipt
from .config import ChannelConfig
from .flow import AimdRate, TokenBucket, TokenSource
from .lanes import Lanes
from .mo import MoAssembler, MoMessage
from .model import DeliveryFailure, Message, MessageHandle, MessageRefusedError, MessageState
from .tracker import Failure, Part, Tracker, Verdict

__all__ = ["Channel", "MoMessage"]

_QUEUED = MessageState.QUEUED
_UNKNOWN = MessageState.UNKNOWN
_THROTTLED = Verdict.THROTTLED


class _Segment(Part, gc=False, eq=False):
    """A part as the channel sends it: also the bind's result callback, so nothing else (no
    closure, no future) is allocated per part in flight."""

    def __call__(self, resp: Response | None, error: LinkError | None) -> None:
        channel = self.sink
        if self.handle is None:
            if channel is not None:  # (None: the engine has stopped)
                channel.in_flight -= 1  # (the message is final: nothing can change it now)
            return
        channel._answer(self, resp, error)


class Channel:
    def __init__(self, config: ChannelConfig, adapter: ProtocolAdapter, tracker: Tracker, *,
                 lanes: list[str], lane_capacity: int, lane_min_share: float,
                 on_mo: Callable[[MoMessage], None],
                 on_event: Callable[[BindEvent], None],
                 suppressed: Callable[[Message], bool] | None = None,
                 suppressed_kinds: frozenset[str] = frozenset(),
                 on_handover: WriteBarrier | None = None) -> None:
        self.config = config
        self.name = config.name
        self.adapter = adapter
        #: The message's requests, one per part (ProtocolAdapter.build, bound here rather than
        #: wrapped: one call less per message).
        self.build: Callable[[MessageHandle], list[Any]] = adapter.build
        self.lanes: Lanes[Any] = Lanes(lanes, capacity=lane_capacity, min_share=lane_min_share)
        self.max_parts = config.max_parts
        self._on_mo = on_mo
        self._on_event = on_event
        # Called by each bind before it writes anything: a durable outbox commits there what
        # it heard so far (parts handed over, receipts), Engine.before_write.
        self._on_handover = on_handover
        # Opt-outs are checked again when a message leaves its lane (one queued before its
        # number opted out must still not go): for these kinds, with this predicate.
        self._suppressed = suppressed
        self._suppressed_kinds = suppressed_kinds if suppressed is not None else frozenset()
        self._loop = asyncio.get_running_loop()
        now = self._loop.time()
        # The floor a throttle cannot cut below: 10 % of the TPS. A channel without one paces
        # itself against a ceiling it found (twice the rate the carrier took): a share of that
        # would be no floor, so it has only the absolute one.
        self.flow = AimdRate(config.tps or 1e9, now, latency_limit=config.latency_limit,
                             floor_share=0.1 if config.tps > 0 else 0.0)
        burst = config.burst or max(config.tps, 1.0)
        # Replaceable before start (a cluster node's takes from the cluster-wide rate too).
        self.bucket: TokenSource = TokenBucket(config.tps, burst, now)
        self._keepers: list[BindKeeper] = []
        self._senders: list[BindKeeper] = []
        # Gated (set before start by a cluster node): no bind opens until open_slot(i), the
        # bind-slot lease i is held.
        self.gated = False
        self._modes: list[BindMode] = []
        self._rr = 0
        self._wake = asyncio.Event()
        # True while the dispatcher waits on _wake: the hot paths set the event only then.
        self._idle = False
        # Paced by the token bucket and the AIMD rate: always with a TPS limit; without one,
        # from the first throttled response until the rate has been back at its ceiling for
        # PACING_RELEASE seconds (see _self_paced_throttle, tick).
        self._limited = config.tps > 0
        # (loop time, segments sent, segments answered without a throttle) at the last two
        # ticks, the older first: rates since the older one cover the last half to whole second.
        self._marks = ((now, 0, 0), (now, 0, 0))
        self._task: asyncio.Task[None] | None = None
        self._running = False
        self._mo = MoAssembler(self.name)
        self._receipt_states = adapter.receipt_states
        self.alarm = False
        self.in_flight = 0
        self.counters: dict[str, int] = dict.fromkeys(
            ("submitted", "segments", "throttled", "retried", "failed", "unknown",
             "receipts_matched", "receipts_unmatched", "receipts_early", "mo"), 0)
        self._track = tracker.channel(
            self.name, error_for=adapter.error_for, counters=self.counters,
            id_style=config.id_style, receipt_ttl=config.receipt_ttl,
            max_retries=config.max_retries, retry_delay=config.retry_delay,
            resend_unknown=config.resend_unknown,
        )

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        cfg = self.config
        modes = ([BindMode.TRANSMITTER] * cfg.transmitters + [BindMode.RECEIVER] * cfg.receivers
                 + [BindMode.TRANSCEIVER] * cfg.transceivers)
        self._modes = modes
        for i, mode in enumerate(modes):
            keeper = self.adapter.new_keeper(i, mode, on_event=self._bind_event,
                                             on_message=self._incoming,
                                             on_receipt=self._receipt_code)
            # Every write of the bind comes after the engine's hook (Engine.before_write): a
            # receipt's deliver_sm_resp, too, leaves only once the receipt is kept.
            keeper.before_write = self._on_handover
            self._keepers.append(keeper)
            if self.gated:
                continue
            if mode is not BindMode.RECEIVER:
                self._senders.append(keeper)
            keeper.start()
        self._running = True
        self._task = self._loop.create_task(self._dispatch(), name=f"dispatch {self.name}")

    async def stop(self, drain_timeout: float = 5.0) -> None:
        self._running = False
        self._wake.set()
        deadline = self._loop.time() + drain_timeout
        while self.in_flight and self._loop.time() < deadline:
            await asyncio.sleep(0.01)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        # What is still in flight has the rest of the drain time, not each bind's own.
        left = max(0.0, deadline - self._loop.time())
        await asyncio.gather(*(k.stop(left) for k in self._keepers), return_exceptions=True)

    @property
    def slots(self) -> int:
        """Binds configured (transmitters, receivers, transceivers): a gated channel's slots."""
        cfg = self.config
        return cfg.transmitters + cfg.receivers + cfg.transceivers

    def open_slot(self, slot: int) -> None:
        """A gated channel: open bind ``slot`` (its lease is held). Not once the channel is
        stopping: a keeper started after stop() stopped the keepers would bind and never be
        stopped (a lease gained during the drain hung the daemon's shutdown)."""
        if not self._running:
            return
        keeper = self._keepers[slot]
        if self._modes[slot] is not BindMode.RECEIVER and keeper not in self._senders:
            self._senders.append(keeper)
        keeper.start()

    async def close_slot(self, slot: int, drain_timeout: float = 0.0) -> None:
        """A gated channel: nothing more is written on bind ``slot`` from now on (its lease
        is lost or handed back); it unbinds after ``drain_timeout`` for what is in flight."""
        keeper = self._keepers[slot]
        if keeper in self._senders:
            self._senders.remove(keeper)
        await keeper.stop(drain_timeout)

    @property
    def bound(self) -> bool:
        return any(k.is_bound for k in self._senders)

    @property
    def healthy(self) -> bool:
        """Up, or at least not refusing us: a channel in alarm (credentials refused) is
        skipped by routing."""
        return not self.alarm

    def snapshot(self) -> dict[str, Any]:
        return {
            "bound": sum(k.is_bound for k in self._keepers),
            "binds": len(self._keepers),
            "rate": round(self.flow.rate, 1) if self._limited else None,
            "flow": self.flow.state,
            "pacing": self.pacing,
            "queued": len(self.lanes),
            "lanes": self.lanes.depth(),
            "in_flight": self.in_flight,
            "awaiting_receipts": len(self._track.store),
            **self.counters,
        }

    # --- queueing -------------------------------------------------------------------------------

    def enqueue(self, handle: MessageHandle, pdus: list[Any], *, front: bool = False) -> None:
        """Queue a message built by :meth:`build` (raises LaneFull, or MessageRefusedError
        for more parts than the channel's max_parts, leaving the handle as it was)."""
        parts: tuple[_Segment, ...]
        if len(pdus) == 1:
            parts = (_Segment(0, "", _QUEUED, None, None, handle, self, pdus[0]),)
        elif len(pdus) <= self.max_parts:
            parts = tuple([_Segment(i, "", _QUEUED, None, None, handle, self, pdu)
                           for i, pdu in enumerate(pdus)])
        else:
            raise MessageRefusedError(
                f"the text takes {len(pdus)} parts on channel {self.name!r}, which sends at "
                f"most {self.max_parts} (max_parts)", status=CommandStatus.ESME_RINVMSGLEN,
                field="text")
        self.lanes.push(handle.message.kind, handle, front=front)
        self._track.queued(handle, parts)
        if self._idle:
            self._wake.set()

    def requeue(self, handles: list[MessageHandle]) -> None:
        """Put back handles taken with :meth:`take_queue`, at the head of their lanes and in
        the order they were taken (they had waited longest)."""
        for handle in reversed(handles):
            self.lanes.push(handle.message.kind, handle, front=True)
        self._wake.set()

    def take_queue(self) -> list[MessageHandle]:
        """Queued messages none of whose segments has left yet, in queue order (for re-routing
        when this channel is refused). Retries of single segments and messages partly sent
        stay where they are: their other segments went here."""
        return self.lanes.extract(lambda item: type(item) is MessageHandle and item._next == 0
                                  and item.done_at is None)

    def _skip(self, item: Any, now: float) -> bool:
        """Whether an item taken from the lanes is not to be sent after all: its message is
        final already (it expired or was refused while it waited), its validity has lapsed
        (it ends EXPIRED now), or its number opted out while it was queued (one queued before
        the opt-out must still not go; checked before its first part leaves)."""
        handle = item if type(item) is MessageHandle else item.handle
        if handle is None or handle.done_at is not None:
            return True
        expires = handle.expires_at
        if expires is not None and expires <= now:
            self._track.lapse(handle, now)
            return True
        suppressed = self._suppressed
        if (suppressed is None or handle._next or handle.message.kind not in self._suppressed_kinds
                or not suppressed(handle.message)):
            return False
        self._track.refuse(handle, MessageRefusedError(
            f"{handle.message.destination} opted out of {handle.message.kind} messages "
            "while it was queued", status=CommandStatus.ESME_RX_R_APPN), now)
        return True

    # --- dispatch -------------------------------------------------------------------------------

    def _pick(self) -> Any:
        senders = self._senders
        n = len(senders)
        for _ in range(n):
            self._rr = (self._rr + 1) % n
            keeper = senders[self._rr]
            bind = keeper.bind
            if bind is not None and bind.is_bound and bind.session.window_free > 0:
                return bind
        return None

    async def _sleep(self, timeout: float | None) -> None:
        """Wait for :attr:`_wake` (a message queued, a window slot freed, a bind up), at most
        ``timeout`` seconds."""
        self._idle = True
        self._wake.clear()
        try:
            if timeout is None:
                await self._wake.wait()
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
        finally:
            self._idle = False

    async def _dispatch(self) -> None:
        loop = self._loop
        lanes = self.lanes
        bucket = self.bucket
        batch = 0
        while self._running:
            if not lanes:
                await self._sleep(None)
                continue
            bind = self._pick()
            if bind is None:
                # No bound bind with window room: wait for a result or a (re)bind.
                await self._sleep(0.05)
                continue
            now = loop.time()
            if not self._limited:
                # No TPS to keep to: fill the bind's window in one go. It leaves in one write
                # when we yield, and the responses get their turn.
                self._burst(bind, now)
                await asyncio.sleep(0)
                continue
            item = lanes.peek()
            assert item is not None
            if self._skip(item, time.time()):
                lanes.pop()
                continue
            tokens = len(item.segments) - item._next if type(item) is MessageHandle else 1
            if self.flow.rate != bucket.rate:
                bucket.set_rate(self.flow.rate, now)  # (never above the ceiling: tps or found)
            wait = bucket.wait_time(tokens, now)
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            bucket.take(tokens, now)
            lanes.pop()
            if type(item) is MessageHandle:
                sent = self._send(item, bind, now)
                if item._next < len(item.segments):
                    # Out of window mid-message: the rest goes back to the head of its lane.
                    lanes.push(item.message.kind, item, front=True)
            else:
                segment = cast(_Segment, item)
                sent = self._send_segment(segment, bind, now)
                if not sent:
                    lanes.push(segment.handle.message.kind, segment, front=True)
            self.in_flight += sent
            self.counters["segments"] += sent
            batch += 1
            if batch >= 256 or not lanes or bind.session.window_free <= 0:
                # Yield now and then so results get processed and others get the loop.
                batch = 0
                await asyncio.sleep(0)

    def _burst(self, bind: Any, now: float) -> None:
        """Hand ``bind`` as many queued items as its window takes, in lane order. Runs of
        one-part messages go to the bind as one batch."""
        items = self.lanes.pop_many(bind.session.window_free)
        refuse = self._suppressed_kinds
        wall = time.time()
        requests: list[Any] = []
        batch: list[_Segment] = []
        sent = 0
        for i, item in enumerate(items):
            if type(item) is MessageHandle and item._next == 0:
                # A message can have ended while queued only if cancelled (done_at set), or
                # with a validity (lapsed) or a kind that opt-outs stop (refused).
                if item.done_at is not None or (
                        (item.expires_at is not None or item.message.kind in refuse)
                        and self._skip(item, wall)):
                    continue
                segments = item.segments
                if len(segments) == 1:  # the usual message
                    segment: Any = segments[0]
                    requests.append(segment.pdu)
                    batch.append(segment)
                    continue
            # Anything else (a message of several parts, a retry) goes on its own, after the
            # batch before it.
            if batch:
                queued = self._send_batch(bind, requests, batch, now)
                sent += queued
                if queued < len(batch):
                    self._push_back([s.handle for s in batch[queued:]] + items[i:])
                    break
                requests.clear()
                batch.clear()
            if self._skip(item, wall):
                continue
            if type(item) is MessageHandle:
                sent += self._send(item, bind, now)
                if item._next < len(item.segments):
                    self._push_back(items[i:])
                    break
            elif self._send_segment(cast(_Segment, item), bind, now):
                sent += 1
            else:
                self._push_back(items[i:])
                break
        else:
            if batch:
                queued = self._send_batch(bind, requests, batch, now)
                sent += queued
                if queued < len(batch):
                    self._push_back([s.handle for s in batch[queued:]])
        self.in_flight += sent
        self.counters["segments"] += sent

    def _send_batch(self, bind: Any, requests: list[Any], batch: list[_Segment],
                    now: float) -> int:
        """One-part messages to ``bind`` in one call; how many it took."""
        try:
            queued: int = bind.send_callbacks(requests, batch)
        except NotSentError:
            return 0
        self._track.on_submitted(batch, queued, now, time.time())
        return queued

    def _push_back(self, items: list[Any]) -> None:
        """Items taken from the lanes and not sent: back to the head of their lanes, in
        order. A retry whose message ended meanwhile (expired while it waited) is dropped."""
        back = []
        for item in items:
            handle = item if type(item) is MessageHandle else item.handle
            if handle is not None and handle.done_at is None:
                back.append((handle.message.kind, item))
        self.lanes.push_back(back)

    def _send(self, handle: MessageHandle, bind: Any, now: float) -> int:
        """Hand the message's next segments to binds with window room; the number handed.
        The caller puts a message not fully sent back in its lane."""
        segments = handle.segments
        total = len(segments)
        index = handle._next
        sent = 0
        while index < total:
            if bind is None or bind.session.window_free <= 0:
                bind = self._pick()
                if bind is None:
                    break
            segment = cast(_Segment, segments[index])
            try:
                bind.send_callback(segment.pdu, segment)
            except NotSentError:
                bind = None
                continue
            self._track.on_submitted((segment,), 1, now, time.time())
            index += 1
            sent += 1
        return sent

    def _send_segment(self, segment: _Segment, bind: Any, now: float) -> int:
        """A retry of one segment: 1 when a bind took it, 0 when none had room (the caller
        puts it back)."""
        while True:
            if bind is None or bind.session.window_free <= 0:
                bind = self._pick()
                if bind is None:
                    return 0
            try:
                bind.send_callback(segment.pdu, segment)
            except NotSentError:
                bind = None
                continue
            self._track.on_submitted((segment,), 1, now, time.time())
            return 1

    # --- answers, receipts, MO: reported to the tracker -----------------------------------------

    def _answer(self, segment: _Segment, resp: Response | None, error: LinkError | None) -> None:
        """The bind's answer for a part: the window and the flow controller hear of it here;
        what it means for the message is the tracker's."""
        self.in_flight -= 1
        if self._idle:
            self._wake.set()  # a window slot is free
        track = self._track
        if resp is not None:
            status = resp.command_status
            if status == 0:  # (success is 0 in every protocol here: no classify() call)
                if self._limited:  # (the AIMD rate paces only a limited channel)
                    now = self._loop.time()
                    self.flow.on_response(now - segment.sent, now)
                track.on_accepted(segment, getattr(resp, "message_id", ""), time.time())
                return
            verdict = self.adapter.classify(status)
            if verdict is _THROTTLED:
                now = self._loop.time()
                self.counters["throttled"] += 1
                if self.config.tps > 0:
                    self.flow.on_throttled(now)
                else:
                    self._self_paced_throttle(now)
                delay = track.on_response(segment, verdict, status, time.time(),
                                          min(1.0, 1.0 / max(self.flow.rate, 1.0)))
            else:
                delay = track.on_response(segment, verdict, status, time.time())
        else:
            failure = Failure.NOT_SENT if isinstance(error, NotSentError) else Failure.UNKNOWN
            delay = track.on_failure(segment, failure, error, time.time())
        if delay is not None:
            self._retry(segment, delay)

    def on_stranger_receipt(
            self, relay: Callable[[str, MessageState, float, DeliveryFailure | None], None],
    ) -> None:
        """Call ``relay`` with each receipt no message here matches (a cluster node sends it
        on to the others: the carrier may deliver a receipt on any bind of the account)."""
        self._track.stranger = relay

    def relayed_receipt(self, smsc_id: str, state: MessageState, at: float,
                        reason: DeliveryFailure | None = None) -> None:
        """A receipt another node got for a message it did not send: matched here, or kept
        a while as an early receipt (the submit's response may be late here)."""
        self._track.on_receipt(smsc_id, state, at, reason, relayed=True)

    def _receipt_code(self, smsc_id: str, code: int) -> None:
        """The bind's fast receipt path: a receipt as its id and the protocol's state code."""
        self._track.on_receipt(smsc_id, self._receipt_states.get(code, _UNKNOWN), time.time())

    def _incoming(self, pdu: Any) -> None:
        """An inbound request the bind has answered: a receipt or an MO part, per the
        adapter."""
        read = self.adapter.read(pdu)
        if read is None:
            return
        if type(read) is Receipt:
            if not read.smsc_id:
                self.counters["receipts_unmatched"] += 1  # (unreadable)
                return
            self._track.on_receipt(read.smsc_id, read.state, time.time(), read.reason)
            return
        self.counters["mo"] += 1
        for mo in self._mo.add(cast(MoPart, read), self._loop.time()):
            self._on_mo(mo)

    def _bind_event(self, event: BindEvent) -> None:
        if event.kind == "alarm":
            self.alarm = True
        elif event.kind == "bound":
            self.alarm = False
            self._wake.set()
        self._on_event(event)

    # --- pacing without a TPS limit ------------------------------------------------------------

    #: Seconds a self-paced channel's rate must stay at its ceiling, unthrottled, before it
    #: goes back to sending as fast as its windows allow.
    PACING_RELEASE = 10.0

    @property
    def pacing(self) -> str:
        """``tps`` (a TPS limit), ``adaptive`` (none, but throttled lately: paced at the rate it
        found) or ``off``."""
        if self.config.tps > 0:
            return "tps"
        return "adaptive" if self._limited else "off"

    def _answered(self) -> int:
        """Segments answered other than with a throttle: near enough, those accepted."""
        counters = self.counters
        return counters["segments"] - self.in_flight - counters["throttled"]

    def _self_paced_throttle(self, now: float) -> None:
        """A throttled response on a channel without a TPS limit. The first one starts pacing
        (otherwise each refused submit would be resent at once and refused again, as fast as
        the windows allow): the token bucket paces the channel from then on, from what the
        carrier took over the last second (measured here: the flow controller counts only
        while pacing), so the rate gets there at once rather than halving its way down; the
        ceiling becomes twice that rate, so the additive climb back (5 % of the ceiling a
        second) probes gently, and pacing ends only after the rate has stayed at that ceiling,
        unthrottled, for PACING_RELEASE seconds (tick). Later cuts are the flow controller's
        own (AimdRate.on_throttled: to what the carrier takes, or undone if the refusals do not
        depend on the rate)."""
        flow = self.flow
        if self._limited:
            flow.on_throttled(now)
            return
        at, sent, answered = self._marks[0]
        elapsed = now - at
        sending = (self.counters["segments"] - sent) / elapsed if elapsed > 0 else 0.0
        flow.reset(max(sending, 10.0), now)
        # (Over at least a quarter second: just after a tick, a low guess, which the climb
        # back corrects.)
        took = (self._answered() - answered) / max(elapsed, 0.25)
        flow.on_throttled(now, took)
        flow.ceiling = max(2.0 * flow.rate, 10.0)
        self.bucket.reset(flow.rate, self.config.burst or flow.rate, now)
        self._limited = True
        self._on_event(BindEvent("pacing", self.name, f"throttled: paced at {flow.rate:.0f}/s"))

    def tick(self, now: float) -> None:
        """Housekeeping (twice a second): the AIMD recovery, the measured send rate, and the
        end of self-pacing once the rate has been back at its ceiling long enough."""
        flow = self.flow
        flow.recover(now)
        self._marks = (self._marks[1], (now, self.counters["segments"], self._answered()))
        if (self._limited and self.config.tps <= 0 and flow.rate >= flow.ceiling
                and now - flow.last_cut >= self.PACING_RELEASE):
            self._limited = False
            flow.reset(1e9, now)
            self.bucket.reset(0.0, 1.0, now)
            self._on_event(BindEvent("pacing", self.name, "unthrottled: pacing off"))
            self._wake.set()

    def _retry(self, segment: _Segment, delay: float) -> None:
        kind = segment.handle.message.kind
        if delay <= 0:
            self.lanes.push(kind, segment, front=True)
            self._wake.set()
            return

        def later() -> None:
            self.lanes.push(kind, segment, front=True)
            self._wake.set()

        self._loop.call_later(delay, later)
