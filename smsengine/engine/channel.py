"""A channel: one carrier account — its binds, its send rate, its queue, its receipts.

The dispatcher is one task per channel. It takes the next message from the priority lanes, waits
for segment tokens (a token bucket whose rate the AIMD controller moves) and for a bind with
window room, and hands each segment to the bind with :meth:`SmppBind.send_callback`; results come
back through callbacks on the receive path, with no task or future per message.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any, cast

from ..bind import BindEvent, BindKeeper, BindMode, SessionConfig
from ..cmpp import CmppError
from ..smpp import (
    CommandStatus,
    DataSm,
    DeliverSm,
    NotSentError,
    OutcomeUnknownError,
    ReceiptParseError,
    Request,
    Response,
    SmppError,
    SubmitSmTemplate,
    Tag,
    Tlv,
    error_for_status,
    is_retriable_status,
    parse_receipt,
)
from ..smpp import MessageState as SmppState
from ..text import (
    DEFAULT_ENCODINGS,
    Encoding,
    Reassembled,
    Reassembler,
    ReferenceCounter,
    Split,
    SplitMethod,
    TextError,
    decode,
    encoding_for_data_coding,
    parse_udh,
    single_part,
    split,
)
from .config import ChannelConfig
from .flow import AimdRate, TokenBucket
from .ids import normalise_id, receipt_id_candidates
from .lanes import Lanes
from .model import (
    FROM_SMPP,
    RANK,
    STATE_BY_CODE,
    STATE_CODES,
    Message,
    MessageHandle,
    MessageRefusedError,
    MessageState,
    SegmentInfo,
    _untraced,
)
from .stores import CorrelationRecord, CorrelationStore

__all__ = ["Channel", "MoMessage"]

_THROTTLE = frozenset({CommandStatus.ESME_RTHROTTLED, CommandStatus.ESME_RMSGQFUL})
_MAX_TEMPLATES = 1024  # senders whose submit_sm template is kept
_PAYLOAD = SplitMethod.PAYLOAD
_METHOD = {"udh8": SplitMethod.UDH8, "udh16": SplitMethod.UDH16, "sar": SplitMethod.SAR,
           "payload": SplitMethod.PAYLOAD}
_STAT_STATE = {
    "DELIVRD": SmppState.DELIVERED, "DELIVERED": SmppState.DELIVERED,
    "EXPIRED": SmppState.EXPIRED, "DELETED": SmppState.DELETED,
    "UNDELIV": SmppState.UNDELIVERABLE, "UNDELIVERABLE": SmppState.UNDELIVERABLE,
    "ACCEPTD": SmppState.ACCEPTED, "ACCEPTED": SmppState.ACCEPTED,
    "UNKNOWN": SmppState.UNKNOWN, "REJECTD": SmppState.REJECTED, "REJECTED": SmppState.REJECTED,
    "ENROUTE": SmppState.ENROUTE,
}


# Enum members as module globals: ``MessageState.QUEUED`` is a ~75 ns class lookup in
# Python 3.11, and the per-message paths below make a dozen of them.
_QUEUED = MessageState.QUEUED
_SUBMITTED = MessageState.SUBMITTED
_FAILED = MessageState.FAILED
_UNKNOWN = MessageState.UNKNOWN


class MoMessage:
    """A mobile-originated message, reassembled."""

    __slots__ = ("channel", "complete", "destination", "received_at", "source", "text")

    def __init__(self, channel: str, source: str, destination: str, text: str,
                 complete: bool = True) -> None:
        self.channel = channel
        self.source = source
        self.destination = destination
        self.text = text
        self.complete = complete
        self.received_at = time.time()

    def __repr__(self) -> str:
        return (f"MoMessage(channel={self.channel!r}, source={self.source!r}, "
                f"destination={self.destination!r}, text={self.text!r})")


class _Segment(SegmentInfo, gc=False, eq=False):
    """A segment with what the channel needs to send it; also the bind's result callback, so
    nothing else (no closure, no future) is allocated per segment in flight. Untracked by the
    cyclic collector like SegmentInfo: its ``handle`` (which holds it) is dropped when the
    message is final, and ``channel`` outlives it."""

    channel: Any = None
    handle: Any = None
    pdu: Any = None
    sent: float = 0.0

    def __call__(self, resp: Response | None, error: SmppError | None) -> None:
        channel = self.channel
        if self.handle is None:
            if channel is not None:  # (None: the engine has stopped)
                channel.in_flight -= 1  # (the message is final: nothing can change it now)
            return
        if resp is not None and resp.command_status == 0:
            channel._accepted(self, getattr(resp, "message_id", ""))
        else:
            channel._result(self, resp, error)


class Channel:
    def __init__(self, config: ChannelConfig, *, store: CorrelationStore,
                 lanes: list[str], lane_capacity: int, lane_min_share: float,
                 refs: ReferenceCounter, notify: Callable[[MessageHandle], None],
                 on_mo: Callable[[MoMessage], None],
                 on_event: Callable[[BindEvent], None],
                 early_ttl: float = 60.0, max_early: int = 100_000) -> None:
        self.config = config
        self.name = config.name
        self.store = store
        self.lanes: Lanes[Any] = Lanes(lanes, capacity=lane_capacity, min_share=lane_min_share)
        self._refs = refs
        self._notify = notify
        self._on_mo = on_mo
        self._on_event = on_event
        self._loop = asyncio.get_running_loop()
        now = self._loop.time()
        ceiling = config.tps or 0.0
        self.flow = AimdRate(ceiling or 1e9, now, latency_limit=config.latency_limit)
        burst = config.burst or max(config.tps, 1.0)
        self.bucket = TokenBucket(config.tps, burst, now)
        encodings = tuple(Encoding(e) for e in config.encoding_names)
        # The text layer's default list, by identity, takes its one-search fast path.
        self._encodings = DEFAULT_ENCODINGS if encodings == tuple(DEFAULT_ENCODINGS) else encodings
        self._method = _METHOD[config.split]
        self._keepers: list[BindKeeper] = []
        self._senders: list[BindKeeper] = []
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
        # submit_sm templates by sender (the fields every message from it shares, checked once).
        self._templates: dict[str, SubmitSmTemplate] = {}
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._running = False
        # normalised id -> (smpp state, at, every id the receipt may stand for): one entry
        # under each reading of the id, all dropped together when one of them is claimed.
        self._early: dict[str, tuple[int, float, tuple[str, ...]]] = {}
        self._early_ttl = early_ttl
        self._max_early = max_early
        self._reassembler = Reassembler()
        self.alarm = False
        self.in_flight = 0
        self.counters: dict[str, int] = dict.fromkeys(
            ("submitted", "segments", "throttled", "retried", "failed", "unknown",
             "receipts_matched", "receipts_unmatched", "receipts_early", "mo"), 0)

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        cfg = self.config
        modes = ([BindMode.TRANSMITTER] * cfg.transmitters + [BindMode.RECEIVER] * cfg.receivers
                 + [BindMode.TRANSCEIVER] * cfg.transceivers)
        for i, mode in enumerate(modes):
            keeper = self._new_keeper(i, mode)
            self._keepers.append(keeper)
            if mode is not BindMode.RECEIVER:
                self._senders.append(keeper)
            keeper.start()
        self._running = True
        self._task = self._loop.create_task(self._dispatch(), name=f"dispatch {self.name}")

    # --- what differs per protocol (SMPP here; CMPP in .cmpp_channel) ----------------------------

    _throttle: frozenset[int] = _THROTTLE

    def _new_keeper(self, i: int, mode: BindMode) -> Any:
        cfg = self.config
        session = SessionConfig(
            cfg.system_id, cfg.password, mode, system_type=cfg.system_type,
            window=cfg.window_size, response_timeout=cfg.response_timeout,
            enquire_link_interval=cfg.enquire_link_interval, receipt_tlvs=True,
        )
        # receipt_tlvs: the usual receipt comes as its two ids, straight to _receipt_found.
        return BindKeeper(cfg.host, cfg.port, session, name=f"{self.name}#{i}",
                          on_event=self._bind_event, on_message=self._incoming,
                          on_receipt=self._receipt_found)

    def _retriable(self, status: int) -> bool:
        return is_retriable_status(status)

    def _error_for(self, status: int) -> SmppError | CmppError:
        return error_for_status(status)

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
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # What is still in flight has the rest of the drain time, not each bind's own.
        left = max(0.0, deadline - self._loop.time())
        await asyncio.gather(*(k.stop(left) for k in self._keepers), return_exceptions=True)

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
            "awaiting_receipts": len(self.store),
            **self.counters,
        }

    # --- building PDUs --------------------------------------------------------------------------

    def _split(self, msg: Message) -> Split:
        """The message encoded and cut into parts by the channel's rules (raises
        MessageRefusedError when it cannot be: too long, not encodable)."""
        method = self._method
        destination = msg.destination
        refs = self._refs
        bits = 16 if method is SplitMethod.UDH16 else 8
        try:
            return split(
                msg.text if msg.text is not None else msg.data,  # type: ignore[arg-type]
                allowed=self._encodings, method=method,
                # Only a message of several parts takes a reference from the counter.
                ref=lambda: refs.next(destination, bits=bits),
            )
        except TextError as exc:
            raise MessageRefusedError(str(exc), status=CommandStatus.ESME_RINVMSGLEN) from None

    def _template(self, source: str) -> SubmitSmTemplate:
        """The submit_sm template of one sender (raises InvalidPduError for a sender the
        protocol cannot carry); a bounded cache."""
        template = self._templates.get(source)
        if template is None:
            cfg = self.config
            numeric = source.isdigit()
            template = SubmitSmTemplate(
                source_addr_ton=1 if numeric else cfg.source_ton,
                source_addr_npi=1 if numeric else cfg.source_npi,
                source_addr=source, dest_addr_ton=cfg.dest_ton, dest_addr_npi=cfg.dest_npi,
            )
            if len(self._templates) >= _MAX_TEMPLATES:
                self._templates.clear()
            self._templates[source] = template
        return template

    def build(self, handle: MessageHandle) -> list[Any]:
        """Encode and split a message into submit_sm requests (raises MessageRefusedError, or
        InvalidPduError naming a field the protocol cannot carry)."""
        msg = handle.message
        source = msg.source if msg.source is not None else self.config.default_source
        registered = 1 if msg.registered_delivery else 0
        text = msg.text
        if (text is not None and msg.validity is None and msg.schedule_at is None
                and self._method is not _PAYLOAD):
            # The usual message: one part in the default encodings, no TLVs.
            one = single_part(text, self._encodings)
            if one is not None:
                template = self._templates.get(source) or self._template(source)
                return [template.simple(msg.destination, one[1], registered, one[0])]
        method = self._method
        destination = msg.destination
        parts = self._split(msg)
        template = self._template(source)
        validity = _relative(msg.validity) if msg.validity is not None else ""
        schedule = _absolute(msg.schedule_at) if msg.schedule_at is not None else ""
        data_coding = parts.data_coding or 0
        total = len(parts.parts)
        pdus = []
        tlvs: tuple[Tlv, ...]
        for part in parts.parts:
            if method is _PAYLOAD:
                short, esm, tlvs = b"", 0, (Tlv(Tag.message_payload, part.user_data),)
            elif method is SplitMethod.SAR and total > 1:
                short, esm, tlvs = part.user_data, 0, (
                    Tlv(Tag.sar_msg_ref_num, part.ref or 0),
                    Tlv(Tag.sar_total_segments, total),
                    Tlv(Tag.sar_segment_seqnum, part.seqnum or 1),
                )
            else:
                short, esm, tlvs = part.user_data, 0x40 if part.udhi else 0, ()
            pdus.append(template.request(
                destination, short, esm_class=esm, registered_delivery=registered,
                data_coding=data_coding, validity_period=validity,
                schedule_delivery_time=schedule, tlvs=tlvs,
            ))
        return pdus

    def enqueue(self, handle: MessageHandle, pdus: list[Any], *, front: bool = False) -> None:
        """Queue a message built by :meth:`build` (raises LaneFull, leaving the handle as it
        was)."""
        segments: tuple[SegmentInfo, ...] = (
            (_Segment(0, "", _QUEUED, None, None, self, handle, pdus[0]),) if len(pdus) == 1
            else tuple([_Segment(i, "", _QUEUED, None, None, self, handle, pdu)
                        for i, pdu in enumerate(pdus)])
        )
        self.lanes.push(handle.message.kind, handle, front=front)
        handle.channel = self.name
        handle.segments = segments
        handle._next = 0
        handle._unsubmitted = handle._open = len(segments)
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
        return self.lanes.extract(lambda item: type(item) is MessageHandle and item._next == 0)

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
            if type(item) is MessageHandle:
                if (item._next == 0 and item.message.kind in self._suppressed_kinds
                        and self._refused_now(item)):
                    lanes.pop()
                    continue
                tokens = len(item.segments) - item._next
            else:
                tokens = 1
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
        requests: list[Any] = []
        batch: list[_Segment] = []
        sent = 0
        for i, item in enumerate(items):
            if type(item) is MessageHandle and item._next == 0:
                if item.message.kind in refuse and self._refused_now(item):
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

    @staticmethod
    def _send_batch(bind: Any, requests: list[Any], batch: list[_Segment], now: float) -> int:
        """One-part messages to ``bind`` in one call; how many it took."""
        try:
            queued: int = bind.send_callbacks(requests, batch)
        except NotSentError:
            return 0
        for k in range(queued):
            segment = batch[k]
            segment.sent = now
            segment.handle._next = 1
        return queued

    def _push_back(self, items: list[Any]) -> None:
        """Items taken from the lanes and not sent: back to the head of their lanes, in
        order."""
        self.lanes.push_back([
            (item.message.kind if type(item) is MessageHandle else item.handle.message.kind, item)
            for item in items
        ])

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
            segment = segments[index]
            try:
                bind.send_callback(segment.pdu, segment)  # type: ignore[attr-defined]
            except NotSentError:
                bind = None
                continue
            segment.sent = now  # type: ignore[attr-defined]
            index += 1
            handle._next = index
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
            segment.sent = now
            return 1

    def _result(self, segment: _Segment, resp: Response | None, error: SmppError | None) -> None:
        self.in_flight -= 1
        if self._idle:
            self._wake.set()  # a window slot is free
        now = self._loop.time()
        handle = segment.handle
        if resp is not None:
            status = resp.command_status
            if status == 0:
                if self._limited:
                    self.flow.on_response(now - segment.sent, now)
                self._submitted(handle, segment, getattr(resp, "message_id", ""))
                return
            if status in self._throttle:
                self.counters["throttled"] += 1
                if self.config.tps > 0:
                    self.flow.on_throttled(now)
                else:
                    self._self_paced_throttle(now)
                self._retry(segment, delay=min(1.0, 1.0 / max(self.flow.rate, 1.0)))
                return
            if self._retriable(status) and handle.attempts < self.config.max_retries:
                handle.attempts += 1
                self.counters["retried"] += 1
                self._retry(segment, delay=self.config.retry_delay * 2 ** (handle.attempts - 1))
                return
            self._segment_final(handle, segment, _FAILED, self._error_for(status))
            return
        if isinstance(error, NotSentError):
            self._retry(segment, delay=0.0)  # nothing reached the carrier
            return
        if (isinstance(error, OutcomeUnknownError) and self.config.resend_unknown
                and handle.attempts < self.config.max_retries):
            handle.attempts += 1
            self.counters["retried"] += 1
            self._retry(segment, delay=0.0)
            return
        segment.message_id = ""
        self._segment_final(handle, segment, _UNKNOWN, error)

    def _accepted(self, segment: _Segment, raw_id: str) -> None:
        """A submit answered with success: :meth:`_result`'s usual case, with
        :meth:`_submitted`'s usual case inline (this runs once per segment sent)."""
        self.in_flight -= 1
        if self._idle:
            self._wake.set()  # a window slot is free
        if self._limited:  # (the AIMD rate paces only a channel with a TPS limit)
            now = self._loop.time()
            self.flow.on_response(now - segment.sent, now)
        handle = segment.handle
        if (segment.state is not _QUEUED or len(handle.segments) != 1
                or not handle.message.registered_delivery or handle.state is not _QUEUED):
            self._submitted(handle, segment, raw_id)
            return
        wall = time.time()
        segment.message_id = raw_id
        segment.submitted_at = wall
        segment.state = _SUBMITTED
        handle._unsubmitted = 0
        handle.state = _SUBMITTED
        handle.submitted_at = wall
        self.counters["submitted"] += 1
        if self.watched:
            self._notify(handle)
        style = self.config.id_style
        norm = (raw_id.strip().rstrip("\0").lower().lstrip("0") or "0" if style == "auto"
                else normalise_id(raw_id, style))
        if self._early:
            early = self._early.pop(norm, None)
            if early is not None:
                for key in early[2]:
                    self._early.pop(key, None)  # its other readings: claimed, not strangers
                self.counters["receipts_early"] += 1
                final = _FROM_SMPP.get(early[0], _UNKNOWN)
                if final is _UNKNOWN:
                    self._receipt_state(handle.ref, 0, 1, early[0], handle)
                    return
                # The receipt was here first (another bind was faster): _receipt_found's
                # one-part case, inline. Nothing was stored for it, so nothing to forget.
                segment.state = final
                segment.done_at = wall
                handle._open = 0
                handle._finish(final, at=wall)
                segment.handle = None  # (_release, one segment)
                self._notify(handle)
                return
        self.store.put(CorrelationRecord(self.name, norm, handle.ref, 0, 1, wall,
                                         wall + self.config.receipt_ttl))

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
        the windows allow): the token bucket paces the channel from then on. Each cut (at most
        one a second) goes to half the rate, or to what the carrier took over the last second
        if that is less, so the rate gets to what the carrier takes within a cut or two rather
        than halving its way down; the ceiling becomes twice the new rate, so the additive
        climb back (5 % of the ceiling a second) probes gently, and pacing ends only after the
        rate has stayed at that ceiling, unthrottled, for PACING_RELEASE seconds (tick)."""
        flow = self.flow
        at, sent, answered = self._marks[0]
        elapsed = now - at
        started = not self._limited
        if started:
            sending = (self.counters["segments"] - sent) / elapsed if elapsed > 0 else 0.0
            flow.reset(max(sending, 10.0), now)
        if not flow.on_throttled(now):
            return  # (within the cooldown of the last cut)
        # (Over at least a quarter second: just after a tick, a low guess, which the climb
        # back corrects.)
        took = (self._answered() - answered) / max(elapsed, 0.25)
        flow.rate = max(flow.floor, min(flow.rate, took))
        flow.ceiling = max(2.0 * flow.rate, 10.0)
        if started:
            self.bucket.reset(flow.rate, self.config.burst or flow.rate, now)
            self._limited = True
            self._on_event(BindEvent("pacing", self.name,
                                     f"throttled: paced at {flow.rate:.0f}/s"))

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

    def _submitted(self, handle: MessageHandle, segment: SegmentInfo, raw_id: str) -> None:
        if segment.state is not _QUEUED:
            return  # (a late duplicate answer: the segment has moved on)
        wall = time.time()
        segment.message_id = raw_id
        segment.submitted_at = wall
        segment.state = _SUBMITTED
        receipt = handle.message.registered_delivery
        unsubmitted = handle._unsubmitted = handle._unsubmitted - 1
        if not receipt:
            handle._open -= 1  # without a receipt asked for, SUBMITTED is as far as it gets
        if unsubmitted == 0 and handle.state is _QUEUED:
            handle.state = _SUBMITTED
            handle.submitted_at = wall
            self.counters["submitted"] += 1
            if not receipt and handle._open == 0 and handle.error is None:
                # Nothing more will be known. Finished before the notification, so the engine
                # stops tracking it and wait() returns.
                handle._finish(_SUBMITTED)
                self._release(handle)
                return
            self._notify(handle)
        if not receipt:
            self._roll_up(handle)  # (when another segment was refused: the message FAILED)
            return
        norm = normalise_id(raw_id, self.config.id_style)
        early = self._early.pop(norm, None) if self._early else None
        if early is not None:
            for key in early[2]:
                self._early.pop(key, None)  # its other readings: claimed, not strangers
            self.counters["receipts_early"] += 1
            self._receipt_state(handle.ref, segment.index, len(handle.segments), early[0], handle)
            return
        self.store.put(CorrelationRecord(self.name, norm, handle.ref, segment.index,
                                         len(handle.segments), wall,
                                         wall + self.config.receipt_ttl))

    def _segment_final(self, handle: MessageHandle, segment: SegmentInfo, state: MessageState,
                       error: SmppError | CmppError | None) -> None:
        before = segment.state
        if before in _FINAL:
            return  # already settled (e.g. a receipt after the TTL made it UNKNOWN)
        segment.state = state
        segment.done_at = now = time.time()
        if before is _QUEUED:
            handle._unsubmitted -= 1
        if before is not _SUBMITTED or handle.message.registered_delivery:
            handle._open -= 1
        if error is not None and handle.error is None:
            handle.error = _untraced(error)
        if state is _FAILED:
            self.counters["failed"] += 1
        elif state is _UNKNOWN:
            self.counters["unknown"] += 1
        if not handle._open and handle.done_at is None:
            self._roll_up(handle, now)

    def _roll_up(self, handle: MessageHandle, now: float | None = None) -> None:
        if handle._open or handle.done_at is not None:  # (done_at: final, see _finish)
            return
        segments = handle.segments
        if len(segments) == 1:
            worst = segments[0].state
        else:
            worst = max((s.state for s in segments), key=_ROLL_UP_RANK.__getitem__)
        handle._finish(worst, at=now)
        self._release(handle)

    def _release(self, handle: MessageHandle) -> None:
        """A message is final: its segments let go of it (they are not tracked by the cyclic
        collector, so the message and its segments must not refer to each other once nothing
        more can happen), and the engine hears of it (and stops tracking it)."""
        for segment in handle.segments:
            segment.handle = None  # type: ignore[attr-defined]
        self._notify(handle)

    # --- receipts and MO --------------------------------------------------------------------------

    _tracked: dict[str, MessageHandle]

    def _refused_now(self, handle: MessageHandle) -> bool:
        """A message queued before its number opted out must still not go: checked again
        here, before its first segment leaves."""
        suppressed = self._suppressed
        if suppressed is None or handle.state is not _QUEUED:
            return False
        if not suppressed(handle.message):
            return False
        for segment in handle.segments:
            segment.state = _FAILED
        handle._open = handle._unsubmitted = 0
        handle._finish(_FAILED, MessageRefusedError(
            f"{handle.message.destination} opted out of {handle.message.kind} messages "
            "while it was queued", status=CommandStatus.ESME_RX_R_APPN))
        self._release(handle)  # (the engine stops tracking it there)
        return True

    _suppressed: Callable[[Any], bool] | None = None
    #: Someone iterates Engine.events(): report every state change, not only final ones.
    watched = False
    _suppressed_kinds: frozenset[str] = frozenset()  # the kinds _suppressed may refuse

    def attach(self, tracked: dict[str, MessageHandle],
               finished: Callable[[str, MessageState], None]) -> None:
        """Share the engine's table of handles awaiting receipts, and its callback for messages
        that finish without a handle (after a restart)."""
        self._tracked = tracked
        self._finished_without_handle = finished

    def _incoming(self, pdu: Request) -> None:
        kind = type(pdu)
        if kind is not DeliverSm and kind is not DataSm:
            return
        esm = pdu.esm_class & 0x3C  # type: ignore[attr-defined]
        if esm != 0x04 and esm != 0x20:  # (not DeliverSm.is_receipt, without the property)
            self._mo(pdu)  # type: ignore[arg-type]
            return
        raw_id = state = None
        for tlv in pdu.tlvs:  # both TLVs in one pass; the first of each counts, as pdu.tlv()
            tag = tlv.tag
            if tag == _RECEIPTED_ID:
                if raw_id is None:
                    raw_id = tlv.value
            elif tag == _MESSAGE_STATE and state is None:
                state = tlv.value
        if type(raw_id) is str and type(state) is int:
            self._receipt_found(raw_id, state)
        else:
            self._receipt(pdu, raw_id, state)  # type: ignore[arg-type]

    def _receipt(self, pdu: DeliverSm | DataSm, raw_id: Any, state: Any) -> None:
        """A receipt without both TLVs (or with odd values in them): the text says the rest."""
        if raw_id is None or state is None:
            try:
                parsed = parse_receipt(pdu.message)
            except ReceiptParseError:
                self.counters["receipts_unmatched"] += 1
                return
            raw_id = raw_id or parsed.id
            if state is None:
                state = _STAT_STATE.get(parsed.stat.upper(), SmppState.UNKNOWN)
        self._receipt_found(str(raw_id), int(state))

    def _receipt_found(self, raw: str, state: int) -> None:
        """A receipt for the SMSC id ``raw`` with an SMPP ``message_state``: find its segment
        (or keep it until the submit response arrives)."""
        if state in _INTERMEDIATE:
            return  # intermediate: the final receipt will follow
        style = self.config.id_style
        # The id as the submit_sm_resp would have had it is the likely one: try it before
        # working out the other readings.
        store = self.store
        record = store.pop(self.name, raw.strip().rstrip("\0").lower().lstrip("0") or "0"
                           if style == "auto" else normalise_id(raw, style))
        if record is not None:
            self.counters["receipts_matched"] += 1
            ref = record.message_ref
            handle = self._tracked.get(ref)
            if handle is None:
                self._receipt_state(ref, record.segment, record.segments, state, None)
                return
            final = _FROM_SMPP.get(state, _UNKNOWN)
            segments = handle.segments
            segment = segments[record.segment]
            if (len(segments) == 1 and segment.state is _SUBMITTED and handle.done_at is None
                    and final is not _UNKNOWN):
                # _segment_final and _roll_up's usual case, inline: a one-part message
                # delivered (or not).
                wall = time.time()
                segment.state = final
                segment.done_at = wall
                handle._open -= 1  # (a record exists: a receipt was asked for)
                if not handle._open:
                    handle._finish(final, at=wall)
                    segment.handle = None  # type: ignore[attr-defined]  # (_release, one segment)
                    self._notify(handle)
                    store.forget(ref)
                return
            self._segment_final(handle, segment, final, None)
            if handle.done_at is not None:
                store.forget(ref)
            return
        candidates = receipt_id_candidates(raw, style)
        for candidate in candidates[1:]:
            record = self.store.pop(self.name, candidate)
            if record is not None:
                self.counters["receipts_matched"] += 1
                self._receipt_state(record.message_ref, record.segment, record.segments,
                                    int(state), self._tracked.get(record.message_ref))
                return
        # No submit_sm_resp for it yet (receipt before response), or a stranger.
        early = self._early
        if len(early) >= self._max_early:
            for key in early[next(iter(early))][2]:
                early.pop(key, None)
            self.counters["receipts_unmatched"] += 1
        entry = (int(state), self._loop.time(), candidates)
        for candidate in candidates:
            early[candidate] = entry

    def _receipt_state(self, ref: str, index: int, segments: int, smpp_state: int,
                       handle: MessageHandle | None) -> None:
        state = FROM_SMPP.get(smpp_state, _UNKNOWN)
        if handle is not None:
            self._segment_final(handle, handle.segments[index], state, None)
            if handle.final:
                self.store.forget(ref)
            return
        # After a restart: only the store knows the other segments.
        states = self.store.set_segment_state(ref, index, segments, STATE_CODES[state])
        if len(states) == segments:
            worst = max((STATE_BY_CODE[s] for s in states.values()), key=RANK.__getitem__)
            self.store.forget(ref)
            self._finished_without_handle(ref, worst)

    def receipt_expired(self, record: CorrelationRecord) -> None:
        """No receipt within the TTL: the segment ends UNKNOWN."""
        self._receipt_state(record.message_ref, record.segment, record.segments,
                            SmppState.UNKNOWN, self._tracked.get(record.message_ref))

    def expire_early(self, now_loop: float) -> None:
        """Early receipts that never found their submit_sm_resp go, counted as unmatched."""
        cutoff = now_loop - self._early_ttl
        early = self._early
        stale = [k for k, (_, at, _) in early.items() if at < cutoff]
        gone = 0
        for key in stale:
            entry = early.pop(key, None)
            if entry is None:
                continue  # removed already as another reading of the same receipt
            gone += 1
            for alias in entry[2]:
                early.pop(alias, None)
        self.counters["receipts_unmatched"] += gone

    def _mo(self, pdu: DeliverSm | DataSm) -> None:
        sar = None
        if not pdu.esm_class & 0x40 and pdu.tlv(Tag.sar_msg_ref_num) is not None:
            sar = (pdu.tlv(Tag.sar_msg_ref_num), pdu.tlv(Tag.sar_total_segments, 1),
                   pdu.tlv(Tag.sar_segment_seqnum, 1))
        self._mo_part(pdu.source_addr, pdu.destination_addr, pdu.message,
                      encoding_for_data_coding(pdu.data_coding), bool(pdu.esm_class & 0x40), sar)

    def _mo_part(self, source: str, destination: str, payload: bytes, encoding: Encoding,
                 udhi: bool, sar: tuple[int, int, int] | None = None) -> None:
        """One inbound message or part of one: reassembled, then handed to the engine."""
        self.counters["mo"] += 1
        now = self._loop.time()
        key = (source, destination)
        done: Reassembled | None = None
        try:
            if udhi and payload:
                header, rest = parse_udh(payload)
                concat = header.concat
                if concat is None:
                    self._on_mo(MoMessage(self.name, source, destination, _decode(rest, encoding)))
                    return
                done = self._reassembler.add(key, concat.ref, concat.total, concat.seqnum, rest,
                                             now, encoding=encoding)
            elif sar is not None:
                done = self._reassembler.add(key, sar[0], sar[1], sar[2], payload, now,
                                             encoding=encoding)
            else:
                self._on_mo(MoMessage(self.name, source, destination, _decode(payload, encoding)))
                return
        except (TextError, ValueError):
            self._on_mo(MoMessage(self.name, source, destination,
                                  _decode(payload, Encoding.BINARY)))
            return
        if done is not None:
            self._on_mo(MoMessage(self.name, source, destination, done.text, done.complete))
        for partial in self._reassembler.expire(now):
            # Timed out with parts missing: surfaced as incomplete rather than lost.
            ends = partial.key if isinstance(partial.key, tuple) else ("", "")
            self._on_mo(MoMessage(self.name, str(ends[0]), str(ends[1]), partial.text, False))

    def _bind_event(self, event: BindEvent) -> None:
        if event.kind == "alarm":
            self.alarm = True
        elif event.kind == "bound":
            self.alarm = False
            self._wake.set()
        self._on_event(event)


_INTERMEDIATE = frozenset({int(SmppState.ENROUTE), int(SmppState.ACCEPTED)})
_FROM_SMPP = {int(k): v for k, v in FROM_SMPP.items()}
_RECEIPTED_ID = int(Tag.receipted_message_id)
_MESSAGE_STATE = int(Tag.message_state)
_FINAL = frozenset({MessageState.DELIVERED, MessageState.UNDELIVERABLE, MessageState.EXPIRED,
                    MessageState.REJECTED, _FAILED, _UNKNOWN})
_ROLL_UP_RANK = {_SUBMITTED: -1, **RANK}


def _decode(payload: bytes, encoding: Encoding) -> str:
    try:
        return decode(payload, encoding, errors="replace")
    except (TextError, ValueError):
        return payload.decode("latin-1")


def _relative(seconds: float) -> str:
    """SMPP relative time (section 7.1.1.2): YYMMDDhhmmss000R."""
    total = int(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"0000{days:02d}{hours:02d}{minutes:02d}{secs:02d}000R"


def _absolute(epoch: float) -> str:
    """SMPP absolute time in UTC (section 7.1.1.1): YYMMDDhhmmss000+."""
    return time.strftime("%y%m%d%H%M%S", time.gmtime(epoch)) + "000+"
