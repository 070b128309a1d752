"""Messages as the engine sees them: what the user asks to send, and what became of it.

Lifecycle: QUEUED → SUBMITTED → DELIVERED | UNDELIVERABLE | EXPIRED | REJECTED | FAILED |
UNKNOWN (a part also passes through SENDING: handed to a bind, not yet answered). The moves and
who may make them are in :mod:`.tracker`, the only code that changes a state.

FAILED means the carrier (or the engine) refused it: ``error`` says why, with the
protocol status and whether retrying can help. UNKNOWN means nobody can tell: no receipt within
the TTL, or the submit's outcome was unknown (written, never answered) and resending was not
allowed.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import os
import time
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec

from ..cmpp import CmppError, CmppResultError, result_name
from ..smpp import CommandStatus, SmppError, status_name

__all__ = [
    "FINAL_STATES",
    "DeliveryFailure",
    "Message",
    "MessageEvent",
    "MessageExpiredError",
    "MessageHandle",
    "MessageRefusedError",
    "MessageState",
    "SegmentInfo",
]


class MessageState(enum.Enum):
    QUEUED = "queued"
    SUBMITTED = "submitted"
    DELIVERED = "delivered"
    UNDELIVERABLE = "undeliverable"
    EXPIRED = "expired"
    REJECTED = "rejected"
    FAILED = "failed"
    UNKNOWN = "unknown"
    # Parts only: handed to a bind, not yet answered. Last, so that the stored codes of the
    # states before it (STATE_CODES, kept in SQLite) did not change when it was added.
    SENDING = "sending"
    # Cancelled by the caller before any part left (Engine.cancel). Appended for the same
    # reason as SENDING.
    CANCELLED = "cancelled"

    __hash__ = object.__hash__

    @property
    def final(self) -> bool:
        return self in FINAL_STATES


FINAL_STATES = frozenset({
    MessageState.DELIVERED, MessageState.UNDELIVERABLE, MessageState.EXPIRED,
    MessageState.REJECTED, MessageState.FAILED, MessageState.UNKNOWN, MessageState.CANCELLED,
})

# When segments end differently, the message takes the worst (highest rank).
RANK: dict[MessageState, int] = {
    MessageState.DELIVERED: 0,
    MessageState.UNKNOWN: 1,
    MessageState.EXPIRED: 2,
    MessageState.UNDELIVERABLE: 3,
    MessageState.REJECTED: 4,
    MessageState.FAILED: 5,
    MessageState.CANCELLED: 6,
}
STATE_CODES = {s: i for i, s in enumerate(MessageState)}
STATE_BY_CODE = dict(enumerate(MessageState))


class MessageRefusedError(SmppError):
    """The engine would not send this message (suppressed number, no route, too long…).
    ``status`` is the SMPP status that describes it; nothing reached a carrier. ``field``
    names the :class:`Message` field at fault (``destination``, ``text``, ``kind``,
    ``source``, ``channel``), or None when it is none of them (the queue is full)."""

    retriable = False

    def __init__(self, message: str, *, status: int = CommandStatus.ESME_RSUBMITFAIL,
                 retriable: bool = False, field: str | None = None) -> None:
        super().__init__(message, status=status)
        self.retriable = retriable
        self.field = field


class MessageExpiredError(MessageRefusedError):
    """The message's validity lapsed before it could leave (the link was down, the channel
    throttled, the queue long): it ended EXPIRED and was never sent. Not retriable: a code that
    is late is worth nothing."""


class Message(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """What to send. ``text`` (encoded by the channel's rules) or ``data`` (binary)."""

    destination: str
    text: str | None = None
    data: bytes | None = None
    source: str | None = None  # None: the channel's default sender
    kind: str = "notification"  # a priority lane: otp, notification, marketing, …
    registered_delivery: bool = True
    validity: float | None = None  # seconds
    schedule_at: float | None = None  # wall-clock epoch seconds; None = now
    reference: str | None = None  # the caller's idempotency key
    # None rather than an empty dict per message: a dict is one more object for the garbage
    # collector to scan, per queued message.
    metadata: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if (self.text is None) == (self.data is None):
            raise ValueError("give exactly one of text or data")
        if not self.destination or len(self.destination) > 20:
            raise ValueError(f"destination must be 1..20 characters, got {self.destination!r}")
        if self.validity is not None and not 0 < self.validity <= 7 * 86400:
            raise ValueError("validity must be in (0, 7 days]")


class DeliveryFailure(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """Why the carrier says a message was not delivered, from its receipt: UNDELIVERABLE,
    EXPIRED, REJECTED or UNKNOWN with what the receipt carried. The codes are the carrier's
    and the network's, given as they came (their meanings vary by carrier)."""

    stat: str  # the receipt's stat (SMPP Appendix B: UNDELIV, EXPIRED, REJECTD, …; CMPP Stat)
    err: str = ""  # the receipt text's err: field (SMPP), a carrier-specific code
    # network_error_code (SMPP 5.3.2.31): (network type, error code); the type says whose
    # code it is: 1 ANSI-136, 2 IS-95, 3 GSM, 4 ANSI-41, 5 reserved…
    network_type: int | None = None
    network_code: int | None = None


class SegmentInfo(msgspec.Struct, gc=False, eq=False):
    """One part of a message on the wire."""

    # A struct the cyclic garbage collector does not track (gc=False): one of these lives per
    # segment, millions during a campaign, and a tracked object per segment is one more for
    # every collection to walk. Nothing it holds can lead back to it: the engine's subclass
    # refers to its message, which refers to it, and drops that reference once the message is
    # final (see engine.tracker).

    index: int
    message_id: str = ""  # the SMSC's, from submit_sm_resp
    state: MessageState = MessageState.QUEUED
    submitted_at: float | None = None
    done_at: float | None = None

    def __repr__(self) -> str:
        return (f"SegmentInfo(index={self.index}, message_id={self.message_id!r}, "
                f"state={self.state}, submitted_at={self.submitted_at}, done_at={self.done_at})")


_ids = itertools.count(1)
_prefix = f"{os.getpid():x}{int(time.time()) & 0xFFFFF:05x}"


def new_ref() -> str:
    return f"{_prefix}-{next(_ids):x}"


class MessageHandle(msgspec.Struct, gc=False, eq=False):
    """What the engine knows about one message; ``await handle.wait()`` for its final state."""

    # Not tracked by the cyclic garbage collector (gc=False), like SegmentInfo: a campaign keeps
    # hundreds of thousands of these alive, and every full collection would walk them all. So
    # nothing a handle holds may lead back to it: its segments drop their reference to it when
    # the message is final or the engine stops (both in engine.tracker, the only place), and a
    # stored error carries no traceback (see _untraced), whose frames could hold the handle.

    ref: str
    message: Message
    channel: str = ""
    state: MessageState = MessageState.QUEUED
    segments: tuple[SegmentInfo, ...] = ()
    error: SmppError | CmppError | None = None
    # What the receipt of the first part not delivered said (UNDELIVERABLE, EXPIRED, …).
    reason: DeliveryFailure | None = None
    attempts: int = 0
    queued_at: float = msgspec.field(default_factory=time.time)
    # When it must have left by (wall clock): its validity, or its lane's default, counted
    # from its schedule_at or from when it was queued. None: no limit.
    expires_at: float | None = None
    submitted_at: float | None = None
    done_at: float | None = None
    _done: asyncio.Future[MessageState] | None = None
    # The next segment to hand to a bind (the dispatcher's cursor); segments not yet answered
    # with success and segments not yet final (the tracker's roll-up counters, instead of
    # scanning ``segments``).
    _next: int = 0
    _unsubmitted: int = 0
    _open: int = 0

    def __repr__(self) -> str:
        return (f"MessageHandle(ref={self.ref!r}, state={self.state}, channel={self.channel!r}, "
                f"segments={len(self.segments)}, error={self.error!r})")

    @property
    def final(self) -> bool:
        """Nothing more will happen to it: a final state, or SUBMITTED for a message that
        asked for no receipt (the tracker finishes those too)."""
        return self.state in FINAL_STATES or self.done_at is not None

    @property
    def status(self) -> int | None:
        """The protocol status of the failure, if any."""
        return self.error.status if self.error is not None else None

    @property
    def status_name(self) -> str | None:
        error = self.error
        if error is None:
            return None
        if isinstance(error, CmppResultError):  # a CMPP Result code, not an SMPP status
            return result_name(error.status)
        return status_name(error.status)

    async def wait(self, timeout: float | None = None) -> MessageState:
        """The final state (DELIVERED, FAILED, UNKNOWN, …)."""
        if self.final:
            return self.state
        if self._done is None:
            self._done = asyncio.get_running_loop().create_future()
        return await asyncio.wait_for(asyncio.shield(self._done), timeout)


_E = TypeVar("_E", bound=BaseException)


def _untraced(error: _E) -> _E:
    """``error`` without its traceback and its links to the exceptions it was raised from or
    during: a traceback's frames may refer to the handle that will hold the error, a cycle
    through an object the collector does not track (MessageHandle), so one it could never free.
    What the error says stays: its message, protocol status and whether retrying can help. The
    linked exceptions are let go of, not changed (one may still be in flight in the caller)."""
    error.__traceback__ = None
    error.__cause__ = error.__context__ = None
    return error


@dataclass(frozen=True)
class MessageEvent:
    """A message changed state (also for messages finished after a restart, from the store:
    then ``handle`` is None and only ``ref`` is known)."""

    ref: str
    state: MessageState
    handle: MessageHandle | None = None
    detail: str = ""
    reference: str | None = None  # the caller's (Message.reference), also after a restart
