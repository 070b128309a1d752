"""The message lifecycle, sans-I/O: the one place where a message, or a part of one, changes
state.

A message is cut into parts (segments), one PDU each. Each part moves through

    QUEUED -> SENDING -> SUBMITTED -> DELIVERED | UNDELIVERABLE | EXPIRED | REJECTED | UNKNOWN

with SENDING -> QUEUED for a retry (throttled, a retriable status, nothing reached the carrier)
and SENDING -> FAILED | UNKNOWN when the carrier refuses it or never answers. The message rolls
its parts up: SUBMITTED once no part is left unanswered, then the worst final state of its parts
(:data:`~.model.RANK`) once every part is final. Both tables are data
(:data:`PART_TRANSITIONS`, :data:`MESSAGE_TRANSITIONS`); a move outside them is a bug in the
engine: it raises :class:`IllegalTransition` under ``SMSENGINE_STRICT=1`` (the test suite sets
it) and is otherwise counted in :attr:`Tracker.illegal` and logged, and the state is left as it
was.

What arrives from the carrier and is not a move (an answer for a part that has moved on, a
second receipt for the same id, a receipt for an id nobody sent) is not a bug: it is ignored
and counted.

No asyncio and no clock here: every input carries ``now`` (wall-clock epoch seconds). The
channel's dispatcher (lanes, tokens, binds) calls in:

- :meth:`ChannelTracker.queued` when a message is queued on the channel,
- :meth:`ChannelTracker.on_submitted` when parts are handed to a bind,
- :meth:`ChannelTracker.on_accepted` / :meth:`ChannelTracker.on_response` with the bind's answer
  (classified by the protocol adapter as a :class:`Verdict`); the return value is the decision:
  ``None`` (nothing to send again) or a delay after which the part goes back to its lane,
- :meth:`ChannelTracker.on_failure` with a :class:`Failure` when no answer came,
- :meth:`ChannelTracker.on_receipt` for a delivery receipt,

and the engine calls :meth:`Tracker.expire` (receipt TTLs, early receipts) and
:meth:`Tracker.settle` (stop).

Observers (:meth:`Tracker.observe`) hear every move of a message and of a part as
``(ref, old, new, at, change)``: the engine's event feed is one, and so will be the daemon's
outbox and webhooks. With none registered, a move costs one check for them.

A :class:`Batch` (:attr:`Tracker.batch`, one at most) is for counting (``smsengine.metrics``):
it is never called per move. Where the tracker holds the message anyway it appends one float
to one of the batch's lists when the message is submitted and one when it ends, the list
saying what is counted and the float the span measured; :meth:`Batch.flush`, on every
housekeeping tick (:meth:`Tracker.expire`), lets the batch count them in bulk. An observer,
even one doing nothing, cost 28 % of the engine benchmark's client CPU (five calls and five
:class:`Change` a message); keeping the handles in lists to count them later cost 0.6-0.7 µs a
message (reading each message and part again once out of the CPU's caches); a counter bumped
and a span appended at each point cost about 0.6 µs a message, where one append costs 0.3.

Back-references (the gc=False rule of docs/performance.md): a part refers to its message
(``handle``) and its channel (``sink``), the message to its parts. :meth:`Tracker._finish` cuts
both when the message is final, :meth:`Tracker.settle` when the engine stops; nowhere else.
"""

from __future__ import annotations

import enum
import heapq
import itertools
import logging
import os
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar

import msgspec

from ..smpp import CommandStatus, NotSentError, OutcomeUnknownError
from .ids import IdStyle, normaliser, receipt_id_candidates
from .model import (
    RANK,
    STATE_BY_CODE,
    STATE_CODES,
    DeliveryFailure,
    Message,
    MessageExpiredError,
    MessageHandle,
    MessageState,
    SegmentInfo,
    _untraced,
    new_ref,
)
from .stores import CorrelationRecord, CorrelationStore

__all__ = [
    "MESSAGE_TRANSITIONS",
    "PART_TRANSITIONS",
    "Batch",
    "Change",
    "ChannelTracker",
    "Failure",
    "IllegalTransition",
    "Observer",
    "Part",
    "Recent",
    "Tracker",
    "Verdict",
]

log = logging.getLogger("smsengine.engine.tracker")
_V = TypeVar("_V")

# Raise on an illegal move instead of counting it (tests, and anyone debugging the engine).
STRICT = os.environ.get("SMSENGINE_STRICT") == "1"

_QUEUED = MessageState.QUEUED
_SENDING = MessageState.SENDING
_SUBMITTED = MessageState.SUBMITTED
_DELIVERED = MessageState.DELIVERED
_UNDELIVERABLE = MessageState.UNDELIVERABLE
_EXPIRED = MessageState.EXPIRED
_REJECTED = MessageState.REJECTED
_FAILED = MessageState.FAILED
_UNKNOWN = MessageState.UNKNOWN
_CANCELLED = MessageState.CANCELLED
_RECEIPT_STATES = frozenset({_DELIVERED, _UNDELIVERABLE, _EXPIRED, _REJECTED, _UNKNOWN})
_FINAL = frozenset({_DELIVERED, _UNDELIVERABLE, _EXPIRED, _REJECTED, _FAILED, _UNKNOWN,
                    _CANCELLED})

#: A part's legal moves: old state -> the states it may go to.
PART_TRANSITIONS: dict[MessageState, frozenset[MessageState]] = {
    # handed to a bind; refused locally before it left (opted out while queued); its
    # validity lapsed before it left; cancelled by the caller before any part left
    _QUEUED: frozenset({_SENDING, _FAILED, _EXPIRED, _CANCELLED}),
    # accepted; sent again (throttled, retriable, not sent); refused; never answered
    _SENDING: frozenset({_SUBMITTED, _QUEUED, _FAILED, _UNKNOWN}),
    # its receipt (UNKNOWN also when none came within the TTL)
    _SUBMITTED: _RECEIPT_STATES,
}

#: A message's legal moves. It is SUBMITTED once no part is left unanswered and at least one
#: was accepted; it ends in the worst state of its parts. So from QUEUED it ends only in a
#: state a part reaches without being accepted: refused, unanswered, expired while queued.
MESSAGE_TRANSITIONS: dict[MessageState, frozenset[MessageState]] = {
    _QUEUED: frozenset({_SUBMITTED, _FAILED, _UNKNOWN, _EXPIRED, _CANCELLED}),
    _SUBMITTED: _RECEIPT_STATES | {_FAILED},
}

# Roll-up order: SUBMITTED (a part that asked for no receipt) counts as better than delivered.
_ROLL_UP_RANK = {_SUBMITTED: -1, **RANK}


class Recent(Generic[_V]):
    """A map that keeps the last ``size`` values put in it. The keys wait in a ring, so
    forgetting the oldest costs the same at any size; trimming a dict from its front instead
    (``del d[next(iter(d))]``) rescans the holes it left: 38 µs an entry at 100 000."""

    __slots__ = ("_at", "_keys", "map")

    def __init__(self, size: int) -> None:
        self.map: dict[str, _V] = {}
        self._keys: list[str | None] = [None] * max(0, size)
        self._at = 0

    def put(self, key: str, value: _V) -> None:
        keys = self._keys
        if not keys:
            return
        at = self._at
        oldest = keys[at]
        if oldest is not None:
            self.map.pop(oldest, None)
        keys[at] = key
        self.map[key] = value
        self._at = (at + 1) % len(keys)

    def get(self, key: str) -> _V | None:
        return self.map.get(key)

    def __len__(self) -> int:
        return len(self.map)


class IllegalTransition(RuntimeError):
    """A move outside the transition tables: a bug in the engine, not the carrier's doing."""


class Verdict(enum.Enum):
    """What a protocol adapter makes of a submit's response status."""

    ACCEPTED = "accepted"
    THROTTLED = "throttled"  # send again, slower (ESME_RTHROTTLED, CMPP Result 8)
    RETRIABLE = "retriable"  # send again after a back-off, up to the channel's max_retries
    PERMANENT = "permanent"  # the carrier will not take it: the part FAILED

    __hash__ = object.__hash__


class Failure(enum.Enum):
    """Why a submit got no response."""

    NOT_SENT = "not_sent"  # nothing reached the carrier: sending again is safe
    UNKNOWN = "unknown"  # written, never answered: the carrier may have it

    __hash__ = object.__hash__


class Part(SegmentInfo, gc=False, eq=False):
    """A part as the engine tracks it: its state (SegmentInfo) plus what is needed to send it.

    Untracked by the cyclic collector like SegmentInfo; the back-references ``handle`` and
    ``sink`` are cut by the tracker alone (see the module docstring)."""

    handle: Any = None  # the MessageHandle; None once the message is final
    sink: Any = None  # the channel that hears the bind's answer; None once the engine stopped
    pdu: Any = None  # the encoded request
    sent: float = 0.0  # loop time it was handed to a bind (the flow controller's latency)


class Change(msgspec.Struct, frozen=True, gc=False):
    """What an observer hears with a move, beside ``(ref, old, new, at)``."""

    handle: MessageHandle | None  # None: a message finished after a restart, known by ref only
    part: int | None = None  # the part's index; None for a move of the message itself
    smsc_id: str = ""  # the carrier's id of the part, once it has one
    error: BaseException | None = None
    final: bool = False  # nothing more will happen to the message
    reason: DeliveryFailure | None = None  # what a part's receipt said, if not DELIVERED


class Observer(Protocol):
    def __call__(self, ref: str, old: MessageState | None, new: MessageState, at: float,
                 change: Change, /) -> None: ...


class Batch(Protocol):
    """A counter in bulk (see the module docstring): what the tracker appends to, and
    :meth:`flush`, called on every housekeeping tick. The batch may replace the dicts with
    empty ones whenever it reads them (on the event loop's thread). A span is -1.0 where there
    is none to measure."""

    #: (channel, kind) -> a float for each message that reached SUBMITTED (every part answered,
    #: one accepted): its last part's acceptance (wall clock) minus that part's hand-over
    #: (``Part.sent``, the loop's clock), the submit span plus the two clocks' offset
    submitted: defaultdict[tuple[str, str], list[float]]
    #: channel -> parts accepted beyond one a message submitted (messages of several parts)
    parts: dict[str, int]
    #: (channel, kind, state) -> a float for each message that ended in ``state`` (SUBMITTED:
    #: those that asked for no receipt; channel "": refused before any channel took them): the
    #: seconds from SUBMITTED to its end
    ended: defaultdict[tuple[str, str, MessageState], list[float]]

    def flush(self) -> None: ...


class Tracker:
    """Every message the engine has accepted and not finished, and the moves they make.

    One per engine; each channel works through its :class:`ChannelTracker`
    (:meth:`channel`)."""

    def __init__(self, store: CorrelationStore, *, early_ttl: float = 60.0,
                 max_early: int = 100_000, remembered_references: int = 100_000,
                 recent: int = 0) -> None:
        self.store = store
        self.tracked: dict[str, MessageHandle] = {}
        self.observers: list[Observer] = []
        self.channels: dict[str, ChannelTracker] = {}
        self.early_ttl = early_ttl
        self.max_early = max_early
        self.illegal = 0  # moves refused as bugs (see the module docstring)
        #: The batch counter, if any (the metrics; see the module docstring).
        self.batch: Batch | None = None
        self._by_reference: dict[str, MessageHandle] = {}
        # References of finished messages, the last ones, so a caller retrying a send that
        # already went gets the same handle, not a second message.
        self._finished_references: Recent[MessageHandle] = Recent(remembered_references)
        # (expires_at, seq, handle) of messages with a validity, soonest first; entries of
        # messages finished since are skipped when due, and compacted away past twice the
        # number tracked (see _deadline).
        self._deadlines: list[tuple[float, int, MessageHandle]] = []
        self._deadline_seq = 0
        #: The messages finished lately, by ref, oldest first (for Engine.status), when
        #: ``recent`` asks for them: a plain dict set in _finish, trimmed to the last ``recent``
        #: by expire() on every tick (between ticks it grows by what finishes in one). Off by
        #: default: the insert into a large dict cost ~0.3 µs a message (docs/performance.md).
        self.recent: dict[str, MessageHandle] = {}
        self._recent = recent
        #: True while :meth:`settle` ends what the stopped engine left: those moves are the
        #: engine's bookkeeping at stop, not news from a carrier, and an observer that will
        #: resume the messages in a later run (the daemon's outbox) leaves them out.
        self.settling = False

    def channel(self, name: str, *, error_for: Callable[[int], BaseException],
                counters: dict[str, int] | None = None, id_style: IdStyle = "auto",
                receipt_ttl: float = 86400.0, max_retries: int = 3, retry_delay: float = 1.0,
                resend_unknown: bool = False) -> ChannelTracker:
        track = ChannelTracker(self, name, error_for=error_for, counters=counters,
                               id_style=id_style, receipt_ttl=receipt_ttl,
                               max_retries=max_retries, retry_delay=retry_delay,
                               resend_unknown=resend_unknown)
        self.channels[name] = track
        return track

    # --- observers ----------------------------------------------------------------------------

    def observe(self, observer: Observer) -> None:
        self.observers.append(observer)

    def unobserve(self, observer: Observer) -> None:
        self.observers.remove(observer)

    def _emit(self, ref: str, old: MessageState | None, new: MessageState, at: float,
              change: Change) -> None:
        for observer in list(self.observers):
            try:
                observer(ref, old, new, at, change)
            except Exception:  # an observer's bug must not stop a message's lifecycle
                log.exception("observer %r failed on %s %s -> %s", observer, ref, old, new)

    # --- admission ----------------------------------------------------------------------------

    def known(self, reference: str) -> MessageHandle | None:
        """The message already sent under the caller's ``reference``, if any."""
        return (self._by_reference.get(reference)
                or self._finished_references.map.get(reference))

    def refused(self, message: Message, error: BaseException, now: float) -> MessageHandle:
        """A handle for a message refused before any channel took it: FAILED with ``error``
        (never tracked)."""
        handle = MessageHandle(new_ref(), message)
        self._finish(handle, _FAILED, now, error)
        return handle

    # --- the engine's clock -------------------------------------------------------------------

    def expire(self, now: float) -> None:
        """Housekeeping: parts whose receipt did not come within their TTL end UNKNOWN, and
        early receipts that never found their response are dropped (counted unmatched)."""
        recent = self.recent
        if len(recent) > self._recent:  # (rebuilt, not trimmed from the front: see Recent)
            self.recent = dict(itertools.islice(recent.items(), len(recent) - self._recent,
                                                None))
        channels = self.channels
        deadlines = self._deadlines
        lapsed = 0
        while deadlines and deadlines[0][0] <= now:
            handle = heapq.heappop(deadlines)[2]
            if handle.done_at is None and handle.expires_at is not None:
                track = channels.get(handle.channel)
                if track is not None:
                    track.lapse(handle, now)
                    lapsed += 1
        if lapsed:
            log.info("%d messages expired while queued (their validity lapsed; never sent)",
                     lapsed)
        late: dict[str, int] = {}
        for record in self.store.expire(now):
            track = channels.get(record.channel)
            if track is not None:
                track.receipt_expired(record, now)
                late[record.channel] = late.get(record.channel, 0) + 1
        for name, count in late.items():
            log.info("channel %s: %d parts had no receipt within receipt_ttl: UNKNOWN",
                     name, count)
        for track in channels.values():
            track.expire_early(now)
        if self.batch is not None:
            try:
                self.batch.flush()
            except Exception:  # a counter's bug must not stop the housekeeping
                log.exception("batch counter %r failed", self.batch)

    def settle(self, now: float) -> None:
        """The engine stopped: nothing more happens to a message in it, so whatever is not
        final ends now, saying how far it got, and no ``wait()`` is left hanging. No part with
        the carrier (each one still queued, or refused): FAILED with a NotSentError, safe to
        send again. Some part accepted, or in flight with its outcome unknown: UNKNOWN with an
        OutcomeUnknownError, not to be sent again blindly; a persistent store keeps its
        correlation records, so after a restart its receipts still come, by ref.

        Every part left lets go of its message and its channel (channel -> lanes -> handle ->
        part -> channel would otherwise be a cycle the collector cannot free)."""
        if not self.tracked:
            return
        self.settling = True
        try:
            self._settle(now)
        finally:
            self.settling = False

    def _settle(self, now: float) -> None:
        # One error of each kind for all: a campaign stopped half-way can leave a million.
        not_sent = NotSentError("the engine stopped before the message was sent")
        unknown = OutcomeUnknownError("the engine stopped before the message's outcome was known")
        for handle in list(self.tracked.values()):
            for part in handle.segments:
                part.handle = part.sink = None  # type: ignore[attr-defined]
            if handle.done_at is not None:
                continue
            reached = any(p.state is not _QUEUED and p.state is not _FAILED
                          for p in handle.segments)
            if any(p.state is _SUBMITTED for p in handle.segments):
                # Its receipts may still come, to a restarted engine, which then knows its
                # parts only from the store: the parts already final are written there, so the
                # roll-up can be completed (otherwise it would wait for them for ever).
                for p in handle.segments:
                    if p.state in _FINAL:
                        self.store.set_segment_state(handle.ref, p.index, len(handle.segments),
                                                     STATE_CODES[p.state])
            # (An error already kept, from a refused part, says why better than ours.)
            if reached:
                self._finish(handle, _UNKNOWN, now, unknown if handle.error is None else None)
            else:
                self._finish(handle, _FAILED, now, not_sent if handle.error is None else None)

    # --- moves ----------------------------------------------------------------------------------

    def _deadline(self, handle: MessageHandle, expires_at: float) -> None:
        deadlines = self._deadlines
        self._deadline_seq += 1
        heapq.heappush(deadlines, (expires_at, self._deadline_seq, handle))
        if len(deadlines) > 2 * len(self.tracked) + 1024:
            self._deadlines = [entry for entry in deadlines if entry[2].done_at is None]
            heapq.heapify(self._deadlines)

    def _illegal(self, what: str, ref: str, old: MessageState, new: MessageState) -> None:
        self.illegal += 1
        text = f"illegal {what} move {old.name} -> {new.name} of message {ref}"
        if STRICT:
            raise IllegalTransition(text)
        log.error("%s (a bug in smsengine: the state is left as it was)", text)

    def _message(self, handle: MessageHandle, new: MessageState, at: float) -> bool:
        """A message moves, not to a final state (that is :meth:`_finish`)."""
        old = handle.state
        if new not in MESSAGE_TRANSITIONS.get(old, ()):
            self._illegal("message", handle.ref, old, new)
            return False
        handle.state = new
        if self.observers:
            self._emit(handle.ref, old, new, at, Change(handle))
        return True

    def _finish(self, handle: MessageHandle, state: MessageState, at: float,
                error: BaseException | None = None) -> None:
        """The message is final: in ``state`` (which may be its present one: SUBMITTED for a
        message that asked for no receipt). Its waiters wake, its parts let go of it, and it is
        no longer tracked."""
        old = handle.state
        if state is not old and state not in MESSAGE_TRANSITIONS.get(old, ()):
            self._illegal("message", handle.ref, old, state)
            return
        handle.state = state
        if error is not None:
            handle.error = _untraced(error)  # type: ignore[assignment]
        handle.done_at = at
        batch = self.batch
        if batch is not None:  # (inline, once per message: see the module docstring)
            submitted_at = handle.submitted_at
            batch.ended[handle.channel, handle.message.kind, state].append(
                -1.0 if submitted_at is None else at - submitted_at)
        done = handle._done  # wait()'s future, if anyone waits: woken here
        if done is not None and not done.done():
            done.set_result(state)
        for part in handle.segments:
            # Nothing more can happen to it: it lets go of its message and its channel (a
            # final message has no part in flight; the finished message may be kept a while,
            # for status(), by the tracker, which the channel leads back to).
            part.handle = part.sink = None  # type: ignore[attr-defined]
        ref = handle.ref
        if self._recent:
            self.recent[ref] = handle
        if self.tracked.pop(ref, None) is not None:
            reference = handle.message.reference
            if reference is not None and self._by_reference.pop(reference, None) is not None:
                self._finished_references.put(reference, handle)
        if self.observers:
            self._emit(ref, old, state, at, Change(handle, error=handle.error, final=True))

    def _part(self, handle: MessageHandle, part: SegmentInfo, new: MessageState,
              at: float) -> bool:
        """A part moves (not to a final state: that is :meth:`ChannelTracker._part_final`)."""
        old = part.state
        if new not in PART_TRANSITIONS.get(old, ()):
            self._illegal("part", handle.ref, old, new)
            return False
        part.state = new
        if self.observers:
            self._emit(handle.ref, old, new, at,
                       Change(handle, part.index, part.message_id))
        return True


class ChannelTracker:
    """The tracker as one channel sees it: its receipt correlation (under the channel's name
    in the shared store), its early-receipt table, its retry policy and its counters."""

    def __init__(self, tracker: Tracker, name: str, *,
                 error_for: Callable[[int], BaseException], counters: dict[str, int] | None,
                 id_style: IdStyle, receipt_ttl: float, max_retries: int, retry_delay: float,
                 resend_unknown: bool) -> None:
        self.tracker = tracker
        self.name = name
        self.store = tracker.store
        self._tracked = tracker.tracked
        self._error_for = error_for
        self.counters = counters if counters is not None else {}
        for key in ("submitted", "failed", "unknown", "retried", "receipts_matched",
                    "receipts_unmatched", "receipts_early", "receipts_expired",
                    "late_answers"):
            self.counters.setdefault(key, 0)
        self.id_style = id_style
        self._normalise = normaliser(id_style)
        # The auto and text styles' normal form (the same: ids.normaliser) is written inline
        # where a part is accepted and where its receipt comes (ids._normalise_text, a call
        # each way: 1.6 % of the engine benchmark's CPU in a py-spy profile; text is SGIP's and
        # SMGP's default). tests/engine/test_tracker.py holds it to normalise_id.
        self._auto = id_style == "auto" or id_style == "text"
        self.receipt_ttl = receipt_ttl
        self.max_retries = max_retries
        self.retry_delay = retry_delay
        self.resend_unknown = resend_unknown
        # normalised id -> (state, at, reason, every id the receipt may stand for): one entry
        # under each reading of the id, all dropped together when one of them is claimed.
        self.early: dict[str, tuple[MessageState, float, DeliveryFailure | None,
                                    tuple[str, ...]]] = {}
        #: Told of a receipt no part here matches (before it is kept as early): a cluster
        #: node relays it to the node that sent the message (the carrier may deliver a
        #: receipt on any bind of the account).
        self.stranger: Callable[[str, MessageState, float, DeliveryFailure | None],
                                None] | None = None

    # --- down: queued, handed to a bind -------------------------------------------------------

    def queued(self, handle: MessageHandle, parts: tuple[Part, ...]) -> None:
        """``handle`` is queued on this channel as ``parts`` (all QUEUED), and tracked from
        now on. Also for a message moved here from another channel before any of it left: it
        starts again."""
        handle.channel = self.name
        handle.segments = parts
        handle._next = 0
        handle._unsubmitted = handle._open = len(parts)
        self._tracked[handle.ref] = handle
        reference = handle.message.reference
        if reference is not None:
            self.tracker._by_reference[reference] = handle
        if handle.expires_at is not None:
            self.tracker._deadline(handle, handle.expires_at)

    def on_submitted(self, parts: Sequence[Part], count: int, now: float, at: float) -> None:
        """The first ``count`` of ``parts`` were handed to a bind (``now`` in loop time, for
        the flow controller; ``at`` wall-clock, for observers)."""
        tracker = self.tracker
        for k in range(count):
            part = parts[k]
            if part.state is not _QUEUED:
                tracker._illegal("part", part.handle.ref, part.state, _SENDING)
                continue
            part.state = _SENDING
            part.sent = now
            handle = part.handle
            if part.index >= handle._next:  # (a retry of an earlier part leaves it be)
                handle._next = part.index + 1
        if tracker.observers:
            for k in range(count):
                part = parts[k]
                tracker._emit(part.handle.ref, _QUEUED, _SENDING, at,
                              Change(part.handle, part.index))

    # --- up: answers --------------------------------------------------------------------------

    def on_accepted(self, part: Part, smsc_id: str, now: float) -> None:
        """The carrier accepted the part and gave it ``smsc_id``. Runs once per part sent."""
        handle = part.handle
        if part.state is not _SENDING:
            self.counters["late_answers"] += 1  # a duplicate answer: the part has moved on
            return
        part.state = _SUBMITTED
        part.message_id = smsc_id
        part.submitted_at = now
        tracker = self.tracker
        if tracker.observers:
            tracker._emit(handle.ref, _SENDING, _SUBMITTED, now,
                          Change(handle, part.index, smsc_id))
        receipt = handle.message.registered_delivery
        unsubmitted = handle._unsubmitted = handle._unsubmitted - 1
        if not receipt:
            handle._open -= 1  # without a receipt asked for, SUBMITTED is as far as it gets
        if unsubmitted == 0 and handle.state is _QUEUED:
            handle.submitted_at = now
            self.counters["submitted"] += 1
            batch = tracker.batch
            if batch is not None:  # (inline, once per message: see the module docstring)
                batch.submitted[self.name, handle.message.kind].append(now - part.sent)
                if handle._next > 1:  # (every part has been handed: _next is their number)
                    self._count_parts(batch, handle)
            if not receipt and handle._open == 0 and handle.error is None:
                tracker._finish(handle, _SUBMITTED, now)  # nothing more will be known
                return
            # QUEUED -> SUBMITTED (a row of MESSAGE_TRANSITIONS; _message's check is the
            # ``is _QUEUED`` above), set here: this runs once per message sent.
            handle.state = _SUBMITTED
            if tracker.observers:
                tracker._emit(handle.ref, _QUEUED, _SUBMITTED, now, Change(handle))
        if not receipt:
            if not handle._open:
                self._roll_up(handle, now)  # (another part was refused: the message FAILED)
            return
        norm = (smsc_id.strip().rstrip("\0").lower().lstrip("0") or "0" if self._auto
                else self._normalise(smsc_id))
        early = self.early
        if early:
            entry = early.pop(norm, None)
            if entry is not None:
                for key in entry[3]:
                    early.pop(key, None)  # its other readings: claimed, not strangers
                self.counters["receipts_early"] += 1
                if entry[2] is not None and handle.reason is None:
                    handle.reason = entry[2]
                if len(handle.segments) == 1:
                    self._receipt_one(handle, part, entry[0], now)
                else:
                    self._part_final(handle, part, entry[0], now)
                return
        self.store.put(CorrelationRecord(self.name, norm, handle.ref, part.index,
                                         len(handle.segments), now, now + self.receipt_ttl))

    def _count_parts(self, batch: Batch, handle: MessageHandle) -> None:
        """A message of several parts is submitted: its accepted parts beyond the one its
        entry in ``batch.submitted`` counts."""
        extra = sum(1 for p in handle.segments if p.submitted_at is not None) - 1
        batch.parts[self.name] = batch.parts.get(self.name, 0) + extra

    def on_response(self, part: Part, verdict: Verdict, status: int, now: float,
                    throttle_delay: float = 0.0) -> float | None:
        """An answer other than acceptance, as the adapter classified it. Returns the delay
        after which the part is to be sent again, or None."""
        handle = part.handle
        if part.state is not _SENDING:
            self.counters["late_answers"] += 1
            return None
        if verdict is Verdict.THROTTLED:
            self._requeued(handle, part, now)
            return throttle_delay
        if verdict is Verdict.RETRIABLE and self._retry(handle, part, now):
            return float(self.retry_delay * 2 ** (handle.attempts - 1))
        self._part_final(handle, part, _FAILED, now, self._error_for(status))
        return None

    def on_failure(self, part: Part, failure: Failure, error: BaseException | None,
                   now: float) -> float | None:
        """No answer: ``failure`` says whether the part reached the carrier. Returns the delay
        after which it is to be sent again, or None."""
        handle = part.handle
        if part.state is not _SENDING:
            self.counters["late_answers"] += 1
            return None
        if failure is Failure.NOT_SENT:
            self._requeued(handle, part, now)
            return 0.0
        if self.resend_unknown and self._retry(handle, part, now):
            return 0.0
        self._part_final(handle, part, _UNKNOWN, now, error)
        return None

    def _requeued(self, handle: MessageHandle, part: Part, now: float) -> None:
        """The part goes back to QUEUED, to be sent again. Its message's deadline is armed
        again: it may have passed while the part was with the carrier, and with the link down
        the dispatcher would not come to it (the next expire() ends it EXPIRED)."""
        self.tracker._part(handle, part, _QUEUED, now)
        if handle.expires_at is not None:
            self.tracker._deadline(handle, handle.expires_at)

    def _retry(self, handle: MessageHandle, part: Part, now: float) -> bool:
        """Whether the message may try once more (``max_retries`` attempts in all); if so the
        attempt is counted and the part is QUEUED again."""
        if handle.attempts >= self.max_retries:
            return False
        handle.attempts += 1
        self.counters["retried"] += 1
        self._requeued(handle, part, now)
        return True

    def refuse(self, handle: MessageHandle, error: BaseException, now: float) -> None:
        """A queued message none of which has left is refused here (its number opted out
        while it waited): every part and the message end FAILED."""
        tracker = self.tracker
        for part in handle.segments:
            tracker._part(handle, part, _FAILED, now)
        handle._open = handle._unsubmitted = 0
        tracker._finish(handle, _FAILED, now, error)

    def cancel(self, handle: MessageHandle, now: float) -> bool:
        """The caller cancels a queued message: it ends CANCELLED, with every part, if none of
        them has left yet (True); a message with a part handed to a bind, or already final,
        is left as it is (False). The dispatcher drops it when it comes to it in its lane."""
        if handle.done_at is not None or handle._next or any(
                part.state is not _QUEUED for part in handle.segments):
            return False
        tracker = self.tracker
        for part in handle.segments:
            tracker._part(handle, part, _CANCELLED, now)
        handle._open = handle._unsubmitted = 0
        tracker._finish(handle, _CANCELLED, now)
        return True

    def lapse(self, handle: MessageHandle, now: float) -> None:
        """The message's validity lapsed before all of it left: every part still queued ends
        EXPIRED, never sent (parts with the carrier go on: their answers and receipts say
        how they end)."""
        validity = handle.message.validity
        what = (f"its validity ({validity:g} s)" if validity is not None
                else f"the {handle.message.kind} lane's default validity")
        error = MessageExpiredError(f"{what} lapsed before it was sent",
                                    status=CommandStatus.ESME_RSUBMITFAIL)
        for part in handle.segments:
            if part.state is _QUEUED and handle.done_at is None:
                self._part_final(handle, part, _EXPIRED, now, error)

    # --- up: receipts -------------------------------------------------------------------------

    def on_receipt(self, smsc_id: str, state: MessageState | None, now: float,
                   reason: DeliveryFailure | None = None, *, relayed: bool = False) -> None:
        """A delivery receipt for the carrier's id ``smsc_id`` saying ``state`` (None: an
        intermediate one, ENROUTE or ACCEPTED, after which the final one follows), with the
        ``reason`` a receipt not saying DELIVERED gave. Finds its part, or keeps it until the
        submit's response comes (the receipt was faster). ``relayed``: another node of a
        cluster got it and matched nothing; unmatched here too, it is kept as early (this
        node's response may be late) but not relayed again."""
        if state is None:
            return
        store = self.store
        record = store.pop(self.name, smsc_id.strip().rstrip("\0").lower().lstrip("0") or "0"
                           if self._auto else self._normalise(smsc_id))
        candidates: tuple[str, ...] = ()
        if record is None:
            candidates = receipt_id_candidates(smsc_id, self.id_style)
            for candidate in candidates[1:]:
                record = store.pop(self.name, candidate)
                if record is not None:
                    break
        if record is not None:
            self.counters["receipts_matched"] += 1
            handle = self._tracked.get(record.message_ref)
            if reason is not None and handle is not None and handle.reason is None:
                handle.reason = reason
            if handle is not None and len(handle.segments) == 1:
                part = handle.segments[0]
                if part.state is _SUBMITTED:
                    self._receipt_one(handle, part, state, now)
                    store.forget(handle.ref)
                    return
            self._receipt(record, state, now, reason)
            return
        if self.stranger is not None and not relayed:
            self.stranger(smsc_id, state, now, reason)
        self._keep_early(candidates, state, now, reason)

    def _receipt_one(self, handle: MessageHandle, part: SegmentInfo, state: MessageState,
                     now: float) -> None:
        """The usual receipt: for a one-part message, its SUBMITTED part. _part_final and
        _roll_up's work without their calls or their general cases (a quarter of receipts
        beat their response, so on_accepted takes this too): the part's move is a row of
        PART_TRANSITIONS (SUBMITTED -> any receipt state), and the message's worst part is
        this one. Two calls fewer a receipt (docs/performance.md); test_tracker.py's
        scenarios and its 3-part roll-up cover both paths."""
        part.state = state
        part.done_at = now
        handle._open = 0
        if state is _UNKNOWN:
            self.counters["unknown"] += 1
        tracker = self.tracker
        if tracker.observers:
            tracker._emit(handle.ref, _SUBMITTED, state, now, Change(handle, 0, part.message_id))
        tracker._finish(handle, state, now)

    def _keep_early(self, candidates: tuple[str, ...], state: MessageState, now: float,
                    reason: DeliveryFailure | None) -> None:
        """No response for this receipt yet (it was faster), or a stranger: kept a while."""
        early = self.early
        if len(early) >= self.tracker.max_early:
            for key in early[next(iter(early))][3]:
                early.pop(key, None)
            self.counters["receipts_unmatched"] += 1
        entry = (state, now, reason, candidates)
        for candidate in candidates:
            early[candidate] = entry

    def receipt_expired(self, record: CorrelationRecord, now: float) -> None:
        """No receipt within the TTL: the part ends UNKNOWN."""
        self.counters["receipts_expired"] += 1
        self._receipt(record, _UNKNOWN, now)

    def expire_early(self, now: float) -> None:
        """Early receipts that never found their response go, counted as unmatched."""
        cutoff = now - self.tracker.early_ttl
        early = self.early
        stale = [k for k, (_, at, _, _) in early.items() if at < cutoff]
        gone = 0
        for key in stale:
            entry = early.pop(key, None)
            if entry is None:
                continue  # removed already as another reading of the same receipt
            gone += 1
            for alias in entry[3]:
                early.pop(alias, None)
        self.counters["receipts_unmatched"] += gone

    def _receipt(self, record: CorrelationRecord, state: MessageState, now: float,
                 reason: DeliveryFailure | None = None) -> None:
        ref = record.message_ref
        handle = self._tracked.get(ref)
        if handle is not None:
            self._part_final(handle, handle.segments[record.segment], state, now)
            if handle.done_at is not None:
                self.store.forget(ref)
            return
        # A message of an earlier run (after a restart): only the store knows its other parts.
        store = self.store
        states = store.set_segment_state(ref, record.segment, record.segments,
                                         STATE_CODES[state])
        tracker = self.tracker
        if tracker.observers:
            tracker._emit(ref, _SUBMITTED, state, now, Change(None, record.segment,
                                                               record.message_id, reason=reason))
        if len(states) == record.segments:
            worst = max((STATE_BY_CODE[s] for s in states.values()), key=RANK.__getitem__)
            if tracker.observers:  # (heard, so recorded, before the store lets go of it)
                tracker._emit(ref, _SUBMITTED, worst, now, Change(None, final=True))
            store.forget(ref)

    # --- the roll-up ----------------------------------------------------------------------------

    def _part_final(self, handle: MessageHandle, part: SegmentInfo, state: MessageState,
                    now: float, error: BaseException | None = None) -> None:
        before = part.state
        if before in _FINAL:
            return  # settled already (a receipt after the TTL made it UNKNOWN, a duplicate)
        if state not in PART_TRANSITIONS.get(before, ()):
            self.tracker._illegal("part", handle.ref, before, state)
            return
        part.state = state
        part.done_at = now
        if before is not _SUBMITTED:
            handle._unsubmitted -= 1
        if before is not _SUBMITTED or handle.message.registered_delivery:
            handle._open -= 1
        if error is not None and handle.error is None:
            handle.error = _untraced(error)  # type: ignore[assignment]
        if state is _FAILED:
            self.counters["failed"] += 1
        elif state is _UNKNOWN:
            self.counters["unknown"] += 1
        tracker = self.tracker
        if tracker.observers:
            tracker._emit(handle.ref, before, state, now,
                          Change(handle, part.index, part.message_id, error))
        if (before is not _SUBMITTED and not handle._unsubmitted and handle.state is _QUEUED
                and any(p.submitted_at is not None for p in handle.segments)):
            # The last part left unanswered closed without being accepted, but others were:
            # the message is with the carrier, SUBMITTED (as on_accepted would have made it).
            handle.submitted_at = now
            batch = tracker.batch
            if batch is not None:
                batch.submitted[self.name, handle.message.kind].append(-1.0)
                self._count_parts(batch, handle)
            tracker._message(handle, _SUBMITTED, now)
        if not handle._open and handle.done_at is None:
            self._roll_up(handle, now)

    def _roll_up(self, handle: MessageHandle, now: float) -> None:
        parts = handle.segments
        if len(parts) == 1:
            worst = parts[0].state
        else:
            worst = max((p.state for p in parts), key=_ROLL_UP_RANK.__getitem__)
        self.tracker._finish(handle, worst, now)
