"""The bookkeeping every session does for its own requests: sequence numbers, the window of
outstanding requests with their deadlines, the output queued for the transport, and which of it
was written.

A session numbers a request with :meth:`Window.next_seq`, encodes it, and hands both to
:meth:`Window.add`; the caller writes :meth:`Window.data_to_send` (which is what marks queued
requests as *written*); a response takes its request out again (:meth:`Window.take`); the timer
expires requests past their deadline (:meth:`Window.expire`) and a lost connection fails the
rest (:meth:`Window.fail_all`), each as a :class:`~smsengine.link.RequestFailed` whose error
says *not sent* or *outcome unknown*.

The hot paths (SMPP's ``send_requests`` and ``receive_data``) read and write the fields
directly rather than through these methods — ``pending``, ``in_window``, ``out``, ``seq``,
``generation`` are public for that — keeping the per-message cost what it was when each
session had its own copy of them.

- Pending requests are one insertion-ordered dict: with one response timeout per session,
  insertion order is deadline order, so the next deadline is the first entry.
- "Written" is a generation counter that :meth:`Window.data_to_send` bumps. A request queued in
  an earlier generation reached the transport; on connection loss that decides *outcome
  unknown* versus *not sent* at no per-request cost.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from .errors import NotSentError, OutcomeUnknownError
from .events import ConnectionDead, RequestFailed, SessionEvent

__all__ = ["BLOCKED", "Pending", "Window"]


class Pending(msgspec.Struct, gc=False):
    """An outstanding request (a struct: built in C, no Python ``__init__`` per request).

    Not tracked by the cyclic collector (gc=False): thousands are in flight at a time, each
    lives a round trip, long enough to be promoted to the oldest generation, where every one
    of them would make the next full collection come sooner. A cycle through one (its token
    can lead back to the adapter that owns the session) lasts only while the request is
    outstanding: the session drops it on the response, the timeout or connection_lost.
    """

    request: Any
    token: Any
    deadline: float
    generation: int  # written once data_to_send() moved past it
    counts: bool  # toward the window (the application's requests; not login/keepalive/logout)


#: What :meth:`Window.expire` returns when the first due request was never written.
BLOCKED: Final = Pending(None, None, 0.0, 0, False)


class Window:
    """One session's own requests and output; see the module docstring.

    ``size`` requests of the application's may be outstanding at once, each for ``timeout``
    seconds; sequence numbers run 1..``max_sequence`` and wrap, never reusing one still in
    flight (nor ``reserved``: a request the session keeps outside ``pending``). ``not_sent`` and
    ``unknown`` are the protocol's error classes; ``peer`` and ``resp`` word the errors
    ("no CMPP_SUBMIT_RESP within 60s: the ISMG is not reading").
    """

    __slots__ = ("generation", "in_window", "max_sequence", "not_sent", "out", "peer", "pending",
                 "reserved", "resp", "seq", "size", "timeout", "unknown")

    def __init__(
        self,
        size: int,
        timeout: float,
        max_sequence: int,
        *,
        not_sent: type[NotSentError] = NotSentError,
        unknown: type[OutcomeUnknownError] = OutcomeUnknownError,
        peer: str = "the peer",
        resp: str = "_resp",
    ) -> None:
        if size < 1:
            raise ValueError(f"window must be >= 1, got {size}")
        self.size = size
        self.timeout = timeout
        self.max_sequence = max_sequence
        self.not_sent = not_sent
        self.unknown = unknown
        self.peer = peer
        self.resp = resp
        self.pending: dict[int, Pending] = {}  # insertion (= deadline) order
        self.in_window = 0  # how many of ``pending`` count toward the window
        self.seq = 0  # the last sequence number given
        self.reserved: int | None = None
        self.out: list[bytes] = []
        self.generation = 0  # bumped by data_to_send(): requests queued before are written

    # --- requests -------------------------------------------------------------------------------

    @property
    def free(self) -> int:
        """How many more of the application's requests fit now."""
        return self.size - self.in_window

    def next_seq(self) -> int:
        """The next sequence number (after a wrap, never one still in flight)."""
        seq = self.seq
        pending = self.pending
        top = self.max_sequence
        while True:
            seq = seq + 1 if seq < top else 1
            if seq not in pending and seq != self.reserved:
                self.seq = seq
                return seq

    def check_room(self) -> None:
        """Raise the protocol's NotSentError when the window is full."""
        if self.in_window >= self.size:
            raise self.not_sent(f"window of {self.size} requests is full")

    def add(self, seq: int, request: Any, data: bytes, now: float, token: Any, *,
            counts: bool) -> int:
        """Queue ``data``, the encoded ``request`` numbered ``seq``, until its response or its
        deadline; ``counts``: toward the window. Returns ``seq``."""
        self.out.append(data)
        self.pending[seq] = Pending(request, token, now + self.timeout, self.generation, counts)
        if counts:
            self.in_window += 1
        return seq

    def take(self, seq: int) -> Pending | None:
        """The request ``seq`` answers, taken out (None: none is outstanding)."""
        entry = self.pending.pop(seq, None)
        if entry is not None and entry.counts:
            self.in_window -= 1
        return entry

    # --- output -------------------------------------------------------------------------------

    def data_to_send(self) -> bytes:
        """Everything queued since the last call, as one write. Requests in it count as
        written from now on: if the connection drops, their outcome is unknown."""
        out = self.out
        if not out:
            return b""
        self.generation += 1
        data = b"".join(out) if len(out) > 1 else out[0]
        out.clear()
        return data

    def cut(self, mark: int) -> bytes:
        """What was queued from ``len(out) == mark`` on, taken out of the output."""
        out = self.out
        data = b"".join(out[mark:])
        del out[mark:]
        return data

    # --- time and loss ------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """The deadline of the oldest outstanding request (None: there is none)."""
        if self.pending:
            return next(iter(self.pending.values())).deadline
        return None

    def written(self, generation: int) -> bool:
        """Whether what was queued in ``generation`` has gone to the transport."""
        return generation < self.generation

    def expire(self, now: float, events: list[SessionEvent]) -> Pending | None:
        """Fail the application's requests past their deadline (oldest first) into ``events``,
        each as outcome unknown, timed out. Stops at the first due request that is the
        session's own (login, keepalive, logout) and returns it, taken out, for the session to
        settle; returns None when nothing more is due, and :data:`BLOCKED` (with a
        ConnectionDead in ``events``) when the first due request was never written."""
        pending = self.pending
        while pending:
            seq, entry = next(iter(pending.items()))
            if entry.deadline > now:
                return None
            if entry.generation >= self.generation:
                # Due but never written: output has been blocked (the transport paused, the
                # peer not reading) for a whole response timeout. Its bytes are still queued,
                # so it cannot be expired on its own; and leaving it would have the caller's
                # timer fire again and again for this deadline. The peer is as good as dead.
                events.append(ConnectionDead(
                    f"could not write for {self.timeout:g}s: {self.peer} is not reading"))
                return BLOCKED
            del pending[seq]
            if not entry.counts:
                return entry
            self.in_window -= 1
            request = entry.request
            events.append(RequestFailed(request, self.unknown(
                f"no {request.command_name}{self.resp} within {self.timeout:g}s",
                timed_out=True), entry.token))
        return None

    def fail_all(self, reason: str, events: list[SessionEvent]) -> None:
        """The transport is gone: every outstanding request of the application's ends in
        ``events``, written ones as outcome unknown, the rest as not sent; the output and the
        session's own requests are dropped."""
        generation = self.generation
        not_sent = self.not_sent
        unknown = self.unknown
        for entry in self.pending.values():
            if not entry.counts:
                continue  # login / keepalive / logout: internal, nobody waits on them
            name = entry.request.command_name
            error = (unknown(f"{reason} after {name} was written")
                     if entry.generation < generation
                     else not_sent(f"{reason} before {name} was written"))
            events.append(RequestFailed(entry.request, error, entry.token))
        self.pending.clear()
        self.in_window = 0
        self.out.clear()
