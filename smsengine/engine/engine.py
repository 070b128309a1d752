"""The engine: what applications import.

    async with Engine(config) as engine:
        handle = await engine.send(Message(destination="8613800138000", text="Code: 402113",
                                           kind="otp"))
        state = await handle.wait()          # DELIVERED, UNDELIVERABLE, …, FAILED, UNKNOWN

Routing picks a channel per message (prefix/pattern/kind; failover or weighted lists; channels
in alarm are skipped); the channel's lanes put ``otp`` first; receipts finish the handles; MO
messages go to handlers and to :meth:`Engine.mo`; opt-out keywords put the sender on the
suppression list, and ``marketing`` to a suppressed number is refused before any carrier sees it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

import msgspec

from ..bind import BindEvent
from ..bind.base import WriteBarrier
from ..cmpp import InvalidPduError as CmppInvalidPduError
from ..smpp import CommandStatus, InvalidPduError, status_name
from ..text import ReferenceCounter
from .adapter import ProtocolAdapter
from .channel import Channel
from .config import ChannelConfig, EngineConfig, RouteConfig
from .lanes import LaneFull
from .mo import MoMessage, OptOutKeywords
from .model import (
    Message,
    MessageEvent,
    MessageHandle,
    MessageRefusedError,
    MessageState,
    new_ref,
)
from .smpp_channel import SmppAdapter
from .sqlite import StoreError
from .status import MessageStatus, StatusStore, status_of
from .stores import (
    CorrelationStore,
    MemoryCorrelationStore,
    MemorySuppressionStore,
    SuppressionStore,
)
from .tracker import Change, Tracker

__all__ = ["Engine"]

log = logging.getLogger("smsengine.engine")

MoHandler = Callable[[MoMessage], Any]
_NO_LANE = -1.0  # (not a validity: what _lanes.get gives for a kind that is not a lane)


# A PDU field the protocol could not carry -> the Message field it came from (SMPP, CMPP).
_PDU_FIELDS = {
    "destination_addr": "destination", "Dest_terminal_Id": "destination",
    "source_addr": "source", "Src_Id": "source",
    "short_message": "text", "message_payload": "text", "Msg_Content": "text",
}


def _number(number: str) -> str:
    """A number as the opt-out list keeps it: without a leading ``+`` (a reply's source and a
    message's destination may each be written either way)."""
    return number[1:] if number.startswith("+") else number


def _check_destination(destination: str) -> None:
    """Refuse a destination that is not a phone number: ASCII digits, with one optional
    leading ``+`` (each channel writes a ``+`` as its ``plus`` setting says)."""
    digits = destination[1:] if destination.startswith("+") else destination
    if not (digits.isdigit() and digits.isascii()):
        raise MessageRefusedError(
            f"destination {destination!r} is not a phone number: digits, with an optional "
            "leading +", status=CommandStatus.ESME_RINVDSTADR, field="destination")


def _adapter_class(protocol: str) -> Callable[[ChannelConfig, ReferenceCounter],
                                                ProtocolAdapter]:
    """The adapter of a channel's protocol. Only SMPP's is imported up front: a protocol's
    package is loaded when a channel speaks it."""
    if protocol == "smpp":
        return SmppAdapter
    if protocol == "cmpp":
        from .cmpp_channel import CmppAdapter

        return CmppAdapter
    if protocol == "sgip":
        from .sgip_channel import SgipAdapter  # type: ignore[import-not-found,unused-ignore]

        return SgipAdapter  # type: ignore[no-any-return,unused-ignore]
    if protocol == "smgp":
        from .smgp_channel import SmgpAdapter

        return SmgpAdapter
    raise ValueError(f"no adapter for protocol {protocol!r}")


class _Route:
    def __init__(self, config: RouteConfig, channels: dict[str, Channel],
                 lanes: dict[str, str]) -> None:
        self.config = config
        self.channels = [channels[n] for n in config.channels]
        self.prefixes = tuple(config.prefixes)
        self.national = tuple(config.national_prefixes)  # (for a number written without "+")
        self.pattern = re.compile(config.pattern) if config.pattern else None
        # (lanes: a kind case folded -> its lane, as messages' kinds are named by then)
        self.kinds = frozenset(lanes[kind.strip().casefold()] for kind in config.kinds)
        self.weights = list(config.weights) if config.weights else [1.0] * len(self.channels)

    def matches(self, message: Message) -> bool:
        if self.kinds and message.kind not in self.kinds:
            return False
        written = message.destination
        destination = written.lstrip("+")  # (prefixes and patterns are digits)
        if (self.prefixes or self.national) and not (
                destination.startswith(self.prefixes)
                or (written[:1] != "+" and destination.startswith(self.national))):
            return False
        return not (self.pattern and not self.pattern.search(destination))

    def choose(self, exclude: Channel | None = None) -> Channel | None:
        if len(self.channels) == 1:  # the common case, without building lists
            only = self.channels[0]
            return only if only.healthy and only is not exclude else None
        usable = [c for c in self.channels if c.healthy and c is not exclude]
        if not usable:
            return None
        if self.config.mode == "failover":
            bound = [c for c in usable if c.bound]
            return (bound or usable)[0]
        pairs = [(c, w) for c, w in zip(self.channels, self.weights, strict=True)
                 if c in usable and w > 0]
        if not pairs:
            return usable[0]
        return random.choices([c for c, _ in pairs], [w for _, w in pairs])[0]


class Engine:
    """See the module docstring. ``store``/``suppression`` override the configured stores;
    ``statuses`` is where statuses are kept instead of the engine's own SQLite status store
    (the daemon's outbox is one)."""

    def __init__(self, config: EngineConfig, *, store: CorrelationStore | None = None,
                 suppression: SuppressionStore | None = None,
                 statuses: StatusStore | None = None) -> None:
        self.config = config
        self._store_arg = store
        self._suppression_arg = suppression
        self._statuses_arg = statuses
        self._self_recording = False
        self._write_hooks: list[WriteBarrier] = []
        self.channels: dict[str, Channel] = {}
        #: Called with each channel after it is made and before it starts: a cluster node
        #: replaces its token source and gates its binds on leases there.
        self.channel_setup: Callable[[Channel], None] | None = None
        self._routes: list[_Route] = []
        self._only: Channel | None = None
        # Made here, not at start, so events() and mo() may be entered before start().
        self._events: asyncio.Queue[MessageEvent | MoMessage | BindEvent] = asyncio.Queue(
            config.event_queue)
        self._mo_queue: asyncio.Queue[MoMessage] = asyncio.Queue(config.event_queue)
        self._mo_handlers: list[MoHandler] = []
        self._keywords = OptOutKeywords(config.optout.keywords)
        # The lanes are the kinds: a kind as given -> its lane, case folded and trimmed; and
        # each lane -> its default validity (None: none).
        self._folded = {lane.casefold(): lane for lane in config.lanes}
        validity = {self._folded[k.strip().casefold()]: v for k, v in config.validity.items()}
        self._lanes: dict[str, float | None] = {lane: validity.get(lane) for lane in config.lanes}
        self._suppressed_kinds = frozenset(self._folded[k.strip().casefold()]
                                           for k in config.optout.suppressed_kinds)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._started = False
        self._stopping = False
        self._refused: set[str] = set()  # binds whose credentials were refused (for the log)
        self.events_dropped = 0
        self._listeners = 0  # running events() iterators
        # (is not None: an empty store is falsy, having a __len__)
        self.store: CorrelationStore = store if store is not None else MemoryCorrelationStore()
        self.suppression: SuppressionStore = (suppression if suppression is not None
                                              else MemorySuppressionStore())
        #: Statuses that outlive the process (with the SQLite store), else None.
        self.statuses: StatusStore | None = statuses
        self.tracker = self._new_tracker()
        self._pruned = 0.0

    def _new_tracker(self) -> Tracker:
        receipts = self.config.receipts
        return Tracker(self.store, early_ttl=receipts.early_receipt_ttl,
                       max_early=receipts.max_early_receipts,
                       recent=self.config.status.recent)

    # --- lifecycle ------------------------------------------------------------------------------

    async def __aenter__(self) -> Engine:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        if self._started:
            return
        cfg = self.config
        from .sqlite import SqliteCorrelationStore, SqliteStatusStore, SqliteSuppressionStore

        if cfg.store and self._store_arg is None:
            self.store = SqliteCorrelationStore(cfg.store)
            if self._suppression_arg is None:
                self.suppression = SqliteSuppressionStore(cfg.store)
        if self._statuses_arg is not None:
            self.statuses = self._statuses_arg
            # A store that hears the tracker itself (the daemon's outbox): the engine reads
            # statuses from it but neither writes, flushes, prunes nor closes it.
            self._self_recording = bool(getattr(self.statuses, "self_recording", False))
        elif isinstance(self.store, SqliteCorrelationStore):
            # (also for one passed in: its file keeps the statuses, so a final state reached
            # after a restart is recorded whether anyone listens or not)
            self.statuses = SqliteStatusStore(self.store.path, retention=cfg.status.retention,
                                              max_rows=cfg.status.max_rows)
        # A fresh tracker per run, over the store this run uses: a restarted engine tracks
        # nothing of the last run (its receipts still come, by ref, from the store). A batch
        # counter (the metrics) counts across runs.
        batch = self.tracker.batch
        self.tracker = tracker = self._new_tracker()
        tracker.batch = batch
        self._sync_observer()
        refs = ReferenceCounter()
        for ch_cfg in cfg.channels:
            adapter: ProtocolAdapter = _adapter_class(ch_cfg.protocol)(ch_cfg, refs)
            self.channels[ch_cfg.name] = Channel(
                ch_cfg, adapter, tracker, lanes=cfg.lanes, lane_capacity=cfg.lane_capacity,
                lane_min_share=cfg.lane_min_share, on_mo=self._mo, on_event=self._bind_event,
                suppressed=self._is_suppressed, suppressed_kinds=self._suppressed_kinds,
                on_handover=self._handed_over,
            )
        self._routes = [_Route(r, self.channels, self._folded) for r in cfg.routes]
        if not self._routes:
            self._routes = [_Route(RouteConfig(channels=[c.name for c in cfg.channels]),
                                   self.channels, self._folded)]
        first = self._routes[0]
        # One route for every message to one channel (the usual small setup): no matching.
        self._only = (
            first.channels[0] if len(self._routes) == 1 and len(first.channels) == 1
            and not (first.kinds or first.prefixes or first.national or first.pattern)
            else None
        )
        for channel in self.channels.values():
            if self.channel_setup is not None:
                self.channel_setup(channel)
            channel.start()
        self._spawn(self._housekeeping())
        self._started = True

    async def stop(self, drain_timeout: float = 5.0) -> None:
        """Let in-flight submits finish (bounded), unbind everything, flush the store."""
        if not self._started:
            return
        self._stopping = True
        await asyncio.gather(*(c.stop(drain_timeout) for c in self.channels.values()))
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.tracker.settle(time.time())
        self.store.flush()
        if self.statuses is not None and not self._self_recording:
            self.statuses.close()
        self.store.close()
        self.suppression.close()
        self._started = False
        self._stopping = False

    async def wait_ready(self, timeout: float = 10.0) -> None:
        """Until every channel has at least one bound sender (TimeoutError otherwise)."""
        deadline = time.monotonic() + timeout
        while not all(c.bound for c in self.channels.values()):
            if time.monotonic() > deadline:
                down = [n for n, c in self.channels.items() if not c.bound]
                raise TimeoutError(f"channels not bound after {timeout}s: {', '.join(down)}")
            await asyncio.sleep(0.01)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- sending --------------------------------------------------------------------------------

    def before_write(self, hook: WriteBarrier) -> None:
        """Call ``hook()`` before any bind writes anything: what observers heard up to then
        (parts moving to SENDING, receipts) is made durable first. A durable outbox commits
        there, so that after a crash it knows which messages may have reached a carrier
        (never to be sent again blindly) and which cannot have (to be sent), and a receipt is
        acknowledged to the carrier only once it is kept. ``hook()`` returns False when that
        could not be done: the bind then writes nothing and asks again shortly (see
        :data:`~smsengine.bind.base.WriteBarrier`). Called whenever a bind flushes (about
        once per loop tick with output, every 0.1 s while held): keep it cheap when there is
        nothing to do."""
        self._write_hooks.append(hook)

    def _handed_over(self) -> bool:
        held = False
        for hook in self._write_hooks:
            try:
                if hook() is False:
                    held = True
            except Exception:  # a hook's failure must not stop the dispatcher
                log.exception("before_write hook %r failed", hook)
        return not held

    def cancel(self, ref: str) -> bool:
        """Cancel the message ``ref`` if none of it has left yet: it ends CANCELLED (True).
        False when the engine does not track it, it is final, or a part is with a carrier."""
        handle = self.tracker.tracked.get(ref)
        if handle is None:
            return False
        track = self.tracker.channels.get(handle.channel)
        return track is not None and track.cancel(handle, time.time())

    def submit(self, message: Message, *, ref: str | None = None,
               channel: str | None = None) -> MessageHandle:
        """Queue a message now (no awaiting); raises MessageRefusedError when it cannot go.
        ``ref`` names the message (its handle's ref) instead of a generated one: the daemon
        gives its outbox ids, so that receipts after a restart come back under them.
        ``channel`` sends it on that channel, bypassing the routes."""
        if not self._started:
            raise MessageRefusedError("the engine is not started",
                                      status=CommandStatus.ESME_RSYSERR, retriable=True)
        tracker = self.tracker
        if message.reference is not None:
            known = tracker.known(message.reference)
            if known is not None:
                return known  # idempotent: the same reference is the same message
        if len(tracker.tracked) >= self.config.max_tracked:
            raise MessageRefusedError(
                f"{len(tracker.tracked)} messages in flight (max_tracked)",
                status=CommandStatus.ESME_RMSGQFUL, retriable=True)
        handle, target, pdus = self._prepare(message, ref, channel)
        try:
            target.enqueue(handle, pdus)
        except LaneFull as exc:
            raise MessageRefusedError(str(exc), status=CommandStatus.ESME_RMSGQFUL,
                                      retriable=True) from None
        return handle

    def check(self, message: Message, *, channel: str | None = None) -> int:
        """Whether ``message`` could be sent now, as :meth:`submit` would judge it, without
        queueing it: the number of parts it takes on the channel its route picks, or
        MessageRefusedError naming what is wrong (the kind, the number, the text, the
        route, an opt-out). The daemon answers a request with this before the message waits
        in its outbox."""
        if not self._started:
            raise MessageRefusedError("the engine is not started",
                                      status=CommandStatus.ESME_RSYSERR, retriable=True)
        _, target, pdus = self._prepare(message, None, channel)
        if len(pdus) > target.max_parts:
            raise MessageRefusedError(
                f"the text takes {len(pdus)} parts on channel {target.name!r}, which sends at "
                f"most {target.max_parts} (max_parts)", status=CommandStatus.ESME_RINVMSGLEN,
                field="text")
        return len(pdus)

    def lane_of(self, kind: str) -> str:
        """The lane a kind goes in (kinds are named as their lanes are, case folded), or
        MessageRefusedError for an unknown kind."""
        lane = self._folded.get(kind.strip().casefold())
        if lane is None:
            raise MessageRefusedError(
                f"unknown kind {kind!r}: the kinds are {', '.join(self._lanes)}",
                status=CommandStatus.ESME_RSUBMITFAIL, field="kind")
        return lane

    def default_validity(self, kind: str) -> float | None:
        """The seconds a message of ``kind`` may wait when it gives no validity ([validity])."""
        return self._lanes.get(self.lane_of(kind))

    def room(self, kind: str, channel: str | None = None) -> int:
        """How many more messages the lane of ``kind`` takes on every channel (or on
        ``channel``): what the daemon's outbox feeds by."""
        lane = self.lane_of(kind)
        channels = (list(self.channels.values()) if channel is None
                    else [self.channels[channel]] if channel in self.channels else [])
        return min((c.lanes.room(lane) for c in channels), default=0)

    def _prepare(self, message: Message, ref: str | None,
                 channel: str | None) -> tuple[MessageHandle, Channel, list[Any]]:
        """The checks :meth:`submit` and :meth:`check` share, the route, and the PDUs."""
        # One lookup checks the kind and gives its lane's default validity.
        default = self._lanes.get(message.kind, _NO_LANE)
        if default is _NO_LANE:
            message = self._with_lane(message)
            default = self._lanes[message.kind]
        destination = message.destination
        if not (destination.isdigit() and destination.isascii()):
            _check_destination(destination)
        if not (message.text or message.data):
            raise MessageRefusedError("the message is empty: give text or data",
                                      status=CommandStatus.ESME_RINVMSGLEN, field="text")
        if message.kind in self._suppressed_kinds and _number(destination) in self.suppression:
            raise MessageRefusedError(
                f"{message.destination} opted out of {message.kind} messages",
                status=CommandStatus.ESME_RX_R_APPN, field="destination")
        if channel is not None:
            target = self.channels.get(channel)
            if target is None:
                raise MessageRefusedError(
                    f"unknown channel {channel!r}: the channels are {', '.join(self.channels)}",
                    status=CommandStatus.ESME_RSUBMITFAIL, field="channel")
        else:
            target = self._only
            if target is None or target.alarm:
                target = self._route(message)
        handle = MessageHandle(new_ref() if ref is None else ref, message)
        validity = message.validity
        if validity is None:
            validity = default
        if validity is not None:
            start = message.schedule_at
            handle.expires_at = (handle.queued_at if start is None else start) + validity
        try:
            pdus = target.build(handle)
        except (InvalidPduError, CmppInvalidPduError) as exc:
            # A field the protocol cannot carry (a non-ASCII number, a source too long for
            # the channel): refused with the field named, like any other refusal, so a
            # campaign's send_many goes on past it.
            status = (exc.status if isinstance(exc, InvalidPduError)
                      else CommandStatus.ESME_RSUBMITFAIL)
            raise MessageRefusedError(f"{target.name}: {exc}", status=status,
                                      field=_PDU_FIELDS.get(exc.field)) from None
        return handle, target, pdus

    def _with_lane(self, message: Message) -> Message:
        """``message`` with its kind named as its lane is (``OTP`` is ``otp``); an unknown kind
        is refused, never sent in some default lane (where it would also escape the opt-out
        policy of the kind it meant)."""
        return msgspec.structs.replace(message, kind=self.lane_of(message.kind))

    async def send(self, message: Message | None = None, /, **fields: Any) -> MessageHandle:
        """Queue one message: ``send(Message(...))`` or ``send(destination=…, text=…)``."""
        return self.submit(message if message is not None else Message(**fields))

    async def send_many(self, messages: Iterable[Message]) -> list[MessageHandle]:
        """Queue many. A refused message (opted out, no route, too long) comes back as a FAILED
        handle carrying the reason, so one bad number does not stop a campaign."""
        out = []
        for i, message in enumerate(messages):
            try:
                out.append(self.submit(message))
            except MessageRefusedError as exc:
                out.append(self.tracker.refused(message, exc, time.time()))
            if i % 1000 == 999:
                await asyncio.sleep(0)  # let the dispatchers start while we queue
        return out

    def _route(self, message: Message, exclude: Channel | None = None) -> Channel:
        for route in self._routes:
            if route.matches(message):
                channel = route.choose(exclude)
                if channel is not None:
                    return channel
                raise MessageRefusedError(
                    f"every channel of the route for {message.destination} is refusing us",
                    status=CommandStatus.ESME_RSYSERR, retriable=True)
        raise MessageRefusedError(f"no route for {message.destination} ({message.kind})",
                                  status=CommandStatus.ESME_RINVDSTADR, field="destination")

    # --- results --------------------------------------------------------------------------------

    def _sync_observer(self) -> None:
        """The engine observes the tracker while it has a status store to write or someone
        iterates :meth:`events`, and not otherwise: with no observer a move costs one check."""
        wanted = ((self.statuses is not None and not self._self_recording)
                  or self._listeners > 0)
        observing = self._observe in self.tracker.observers
        if wanted and not observing:
            self.tracker.observe(self._observe)
        elif observing and not wanted:
            self.tracker.unobserve(self._observe)

    def _observe(self, ref: str, old: MessageState | None, new: MessageState, at: float,
                 change: Change) -> None:
        """The tracker's observer: a message's moves into the status store (from SUBMITTED
        on, and its parts' moves for a message of an earlier run) and, as MessageEvents, to
        events(). A message finished after a restart is told even with nobody iterating yet:
        those events wait in the (bounded) queue for the first iterator."""
        statuses = self.statuses if not self._self_recording else None
        handle = change.handle
        if change.part is not None:
            if handle is None and statuses is not None:
                statuses.update_part(ref, change.part, new, change.smsc_id, at, change.reason)
            return
        if handle is None:  # (after a restart: only the store knew it)
            reference = None
            if statuses is not None:
                if change.final:
                    statuses.finish(ref, new, at)
                known = statuses.get(ref)
                reference = known.reference if known is not None else None
            if change.final:
                self._publish(MessageEvent(ref, new, None, "finished after a restart",
                                           reference=reference), keep=True)
            return
        if statuses is not None and new is not MessageState.QUEUED:
            statuses.record(status_of(handle))
        if self._listeners:
            self._publish(MessageEvent(ref, new, handle, reference=handle.message.reference))

    def _publish(self, event: MessageEvent | MoMessage | BindEvent, *,
                 keep: bool = False) -> None:
        queue = self._events
        if not self._listeners and not keep:
            return  # nobody iterates events(): skip the queue work on the hot path
        try:
            queue.put_nowait(event)
        except asyncio.QueueFull:
            # Bounded: a consumer that does not read loses the oldest events, counted.
            queue.get_nowait()
            queue.put_nowait(event)
            self.events_dropped += 1

    async def events(self) -> AsyncIterator[MessageEvent | MoMessage | BindEvent]:
        """State changes, MO messages and bind events from the moment iteration starts (events
        with no iterator running are not kept, except messages of an earlier run finished by
        receipts after a restart: those wait for the first iterator). May be entered before
        :meth:`start`."""
        self._listeners += 1
        self._sync_observer()
        try:
            while True:
                yield await self._events.get()
        finally:
            self._listeners -= 1
            self._sync_observer()

    # --- MO and opt-out ------------------------------------------------------------------------

    def on_mo(self, handler: MoHandler) -> None:
        """Call ``handler(mo)`` for every inbound message (after opt-out handling)."""
        self._mo_handlers.append(handler)

    async def mo(self) -> AsyncIterator[MoMessage]:
        while True:
            yield await self._mo_queue.get()

    def _mo(self, mo: MoMessage) -> None:
        if mo.text in self._keywords:
            self.suppression.add(_number(mo.source), f"replied {mo.text.strip()!r}", time.time())
        for handler in self._mo_handlers:
            result = handler(mo)
            if asyncio.iscoroutine(result):
                self._spawn(result)
        queue = self._mo_queue
        if queue.full():
            queue.get_nowait()
        queue.put_nowait(mo)
        self._publish(mo)

    def _is_suppressed(self, message: Message) -> bool:
        return (message.kind in self._suppressed_kinds
                and _number(message.destination) in self.suppression)

    def suppress(self, number: str, reason: str = "manual") -> None:
        """Put ``number`` on the opt-out list (written with or without its ``+``)."""
        self.suppression.add(_number(number), reason, time.time())

    def unsuppress(self, number: str) -> None:
        self.suppression.remove(_number(number))

    # --- housekeeping --------------------------------------------------------------------------

    def _bind_event(self, event: BindEvent) -> None:
        self._publish(event)
        self._log_bind_event(event)
        if event.kind == "alarm":
            # Credentials refused: move that channel's queue to the other channels of each
            # message's route, if any.
            name = event.name.split("#", 1)[0]
            channel = self.channels.get(name)
            if channel is not None:
                self._reroute(channel)

    def _log_bind_event(self, event: BindEvent) -> None:
        """Bind and channel events in the log (``smsengine.engine``): up, down, refused
        credentials with their status and the wait before the next try, alarms, pacing; what
        is routine (connecting, our own unbinds at stop) at DEBUG or INFO. A detail never
        holds a secret: the binds put no password in one."""
        kind, name = event.kind, event.name
        status = f" ({status_name(event.status)})" if event.status is not None else ""
        if kind == "bound":
            self._refused.discard(name)
            log.info("bind %s up", name)
        elif kind in ("unbound", "disconnected"):
            log.log(logging.INFO if self._stopping else logging.WARNING,
                    "bind %s down: %s%s", name, event.detail or kind, status)
        elif kind == "alarm":
            self._refused.add(name)
            log.error("bind %s: %s%s; its channel is skipped by routing until it binds again",
                      name, event.detail, status)
        elif kind == "bind_failed":
            log.warning("bind %s failed: %s%s", name, event.detail, status)
        elif kind == "reconnect_scheduled":
            # After refused credentials, the long wait is news; after a drop, routine.
            log.log(logging.WARNING if name in self._refused else logging.DEBUG,
                    "bind %s: trying again in %.1f s (%s)", name, event.delay or 0.0,
                    event.detail)
        elif kind == "pacing":
            log.info("channel %s: %s", name, event.detail)
        elif kind in ("timeout", "protocol_error"):
            log.warning("bind %s: %s %s%s", name, kind, event.detail, status)
        else:
            log.debug("bind %s: %s %s%s", name, kind, event.detail, status)

    def _reroute(self, channel: Channel) -> None:
        """Move what ``channel`` has queued to another channel of each message's route. A
        message with nowhere else to go, or that the other channel cannot take (too long in
        its encoding, a lane full), stays queued here, in its order: nothing is dropped."""
        stay: list[MessageHandle] = []
        taken = channel.take_queue()
        for handle in taken:
            try:
                target = self._route(handle.message, exclude=channel)
                if target is channel:
                    stay.append(handle)
                    continue
                target.enqueue(handle, target.build(handle))
            except (MessageRefusedError, InvalidPduError, CmppInvalidPduError, LaneFull):
                stay.append(handle)
        channel.requeue(stay)
        if moved := len(taken) - len(stay):
            log.warning("channel %s refuses us: %d queued messages moved to other channels of "
                        "their routes, %d stay", channel.name, moved, len(stay))
        elif stay:
            log.warning("channel %s refuses us: its %d queued messages have no other channel "
                        "and wait for it", channel.name, len(stay))

    async def _housekeeping(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(0.5)
            try:
                self._tick(loop.time())
            except (sqlite3.Error, StoreError, OSError) as exc:
                # The store failed (disk full, file gone, locked): said, and tried again next
                # tick; the engine goes on, and what the store missed is in the log.
                log.error("store error in housekeeping: %s: %s", type(exc).__name__, exc)

    def _tick(self, now_loop: float) -> None:
        self.tracker.expire(time.time())
        for channel in self.channels.values():
            channel.tick(now_loop)
        statuses = self.statuses
        if statuses is not None and not self._self_recording:
            now = time.time()
            if now - self._pruned >= 60.0:
                self._pruned = now
                if gone := statuses.prune(now):
                    log.info("status store: %d final statuses past their retention pruned", gone)
            statuses.flush()
        self.store.flush()

    # --- status ------------------------------------------------------------------------------

    def status(self, ref: str) -> MessageStatus | None:
        """What became of the message ``ref`` (its handle's ``ref``): live, recently finished,
        or from the status store (SQLite: kept for the configured retention, across
        restarts). None if the engine knows nothing of it."""
        tracker = self.tracker
        handle = tracker.tracked.get(ref) or tracker.recent.get(ref)
        if handle is not None:
            return status_of(handle)
        return self.statuses.get(ref) if self.statuses is not None else None

    def status_by_reference(self, reference: str) -> MessageStatus | None:
        """The latest message sent with the caller's ``reference`` (Message.reference)."""
        handle = self.tracker.known(reference)
        if handle is not None:
            return status_of(handle)
        return self.statuses.by_reference(reference) if self.statuses is not None else None

    def stats(self) -> dict[str, Any]:
        return {
            "tracked": len(self.tracker.tracked),
            "suppressed": len(self.suppression),
            "events_dropped": self.events_dropped,
            "channels": {n: c.snapshot() for n, c in self.channels.items()},
        }
