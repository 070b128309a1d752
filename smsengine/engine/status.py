"""What became of a message, asked after the fact: ``engine.status(ref)`` and
``engine.status_by_reference(reference)``.

A :class:`MessageStatus` is a plain value (state, parts with their SMSC ids, the error, the
timestamps), made from a live handle by :func:`status_of` or read back from a
:class:`StatusStore`. The engine answers from what it tracks, then from its recent finished
messages if ``[status] recent`` keeps some (in memory, bounded; by reference, the last
100 000 with a reference are kept anyway), then from its status store: with the SQLite store
(:class:`~.sqlite.SqliteStatusStore`), every message's state from SUBMITTED on is kept there,
final states for a retention (default 7 days, bounded in rows too), including states reached
after a restart, by receipts for messages an earlier run submitted.
"""

from __future__ import annotations

from typing import Protocol

import msgspec

from .model import DeliveryFailure, MessageHandle, MessageState

__all__ = ["ErrorInfo", "MessageStatus", "PartStatus", "StatusStore", "status_of"]


class PartStatus(msgspec.Struct, frozen=True, kw_only=True):
    """One part of a message on the wire."""

    index: int
    smsc_id: str = ""  # the carrier's id, from the submit's response
    state: MessageState = MessageState.QUEUED
    submitted_at: float | None = None  # accepted by the carrier (wall clock)
    done_at: float | None = None  # final (its receipt, or a refusal)


class ErrorInfo(msgspec.Struct, frozen=True, kw_only=True):
    """Why a message failed, expired or is unknown, as its error said it."""

    type: str  # the error's class: MessageRefusedError, MessageExpiredError, NotSentError, …
    status: int  # the protocol status (SMPP command_status, or CMPP Result)
    name: str  # the status's name (ESME_RTHROTTLED, …)
    retriable: bool  # whether sending it again can help
    message: str


class MessageStatus(msgspec.Struct, frozen=True, kw_only=True):
    """A message's state and history, as far as the engine knows it."""

    ref: str
    reference: str | None = None  # the caller's
    channel: str = ""
    destination: str = ""
    kind: str = ""
    state: MessageState
    final: bool  # nothing more will happen to it
    parts: tuple[PartStatus, ...] = ()
    error: ErrorInfo | None = None
    reason: DeliveryFailure | None = None  # what its receipt said, if not delivered
    queued_at: float | None = None
    submitted_at: float | None = None
    done_at: float | None = None


def status_of(handle: MessageHandle) -> MessageStatus:
    """A handle's status now."""
    error = handle.error
    info = None
    if error is not None:
        info = ErrorInfo(type=type(error).__name__, status=error.status,
                         name=handle.status_name or "",
                         retriable=bool(getattr(error, "retriable", False)),
                         message=str(error))
    message = handle.message
    return MessageStatus(
        ref=handle.ref, reference=message.reference, channel=handle.channel,
        destination=message.destination, kind=message.kind, state=handle.state,
        final=handle.final, error=info, reason=handle.reason, queued_at=handle.queued_at,
        submitted_at=handle.submitted_at, done_at=handle.done_at,
        parts=tuple(PartStatus(index=p.index, smsc_id=p.message_id, state=p.state,
                               submitted_at=p.submitted_at, done_at=p.done_at)
                    for p in handle.segments),
    )


class StatusStore(Protocol):
    """Where statuses outlive the process (the SQLite store).

    A store may set ``self_recording = True`` (the daemon's outbox does): it hears the
    tracker itself, and the engine only reads from it (``Engine.status``), never writes,
    flushes, prunes or closes it (one tracker observer less per move)."""

    def record(self, status: MessageStatus) -> None:
        """Keep (or replace) a message's status."""

    def update_part(self, ref: str, index: int, state: MessageState, smsc_id: str,
                    at: float, reason: DeliveryFailure | None = None) -> None:
        """A part of a message known only by ref (submitted by an earlier run) moved; a
        failed receipt's ``reason`` is kept as the message's if it has none yet."""

    def finish(self, ref: str, state: MessageState, at: float) -> None:
        """A message known only by ref reached its final state."""

    def get(self, ref: str) -> MessageStatus | None: ...

    def by_reference(self, reference: str) -> MessageStatus | None:
        """The latest message sent under the caller's reference."""

    def prune(self, now: float) -> int:
        """Drop final statuses past the retention (and the oldest past the row cap); how
        many went."""

    def flush(self) -> None: ...

    def close(self) -> None: ...
