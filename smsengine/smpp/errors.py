"""Errors of the SMPP codec and of SMPP peers.

Every error carries the SMPP command_status that describes it and whether retrying can help, so
callers branch on ``status`` / ``retriable`` / the class, never on message text.

- :class:`InvalidPduError` — *local*: building an illegal PDU raises it at once.
- :class:`PduDecodeError` — *remote*: a peer's PDU could not be decoded; it carries the response
  the receiver should send (the PDU's ``*_resp`` or ``generic_nack``).
- :class:`FramingError` — *remote, fatal*: the byte stream cannot be framed any more
  (command_length out of bounds); it carries the PDUs decoded before the bad length, which the
  caller handles before it closes the connection.
- :class:`CommandStatusError` and its registry — a peer answered a request with a non-zero
  command_status; :func:`error_for_status` picks the class callers treat differently.

Each class is also the protocol-neutral one of :mod:`smsengine.link` that means the same
(:class:`NotSentError` is a :class:`smsengine.link.NotSentError`, :class:`ThrottledError` a
:class:`smsengine.link.ThrottledError` …), so the binds and the engine branch on those.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from .. import link
from .constants import CommandStatus

if TYPE_CHECKING:
    from .framer import InvalidPdu
    from .pdu import Pdu, ReceiptTlvs, Response

__all__ = [
    "AlreadyBoundError",
    "AuthenticationError",
    "CommandStatusError",
    "FramingError",
    "InvalidPduError",
    "MessageQueueFullError",
    "NotSentError",
    "OutcomeUnknownError",
    "PduDecodeError",
    "SessionStateError",
    "SmppError",
    "ThrottledError",
    "error_for_status",
    "is_retriable_status",
    "status_name",
]


def status_name(status: int) -> str:
    """``ESME_RTHROTTLED`` for 0x58; ``0x00000401`` for a vendor-specific value."""
    try:
        return CommandStatus(status).name
    except ValueError:
        return f"0x{status:08X}"


class SmppError(link.LinkError):
    """Base class of every error the SMPP layer raises.

    ``status`` is the SMPP command_status that describes the failure (an int; a
    :class:`CommandStatus` when it is a standard one); ``retriable`` says whether sending the same
    thing again later can succeed.
    """

    def __init__(self, message: str, *, status: int = CommandStatus.ESME_RUNKNOWNERR) -> None:
        super().__init__(message, status=status)


class InvalidPduError(SmppError, ValueError):
    """A PDU (or TLV) being built breaks the specification: names the field and the limit."""

    def __init__(self, message: str, *, field: str, status: int) -> None:
        super().__init__(message, status=status)
        self.field = field


class PduDecodeError(SmppError):
    """A received PDU is malformed.

    ``command_id`` and ``sequence_number`` come from the header, so a session can fail the
    matching pending request; ``field`` names the offending field when there is one.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        command_id: int,
        sequence_number: int,
        field: str | None = None,
    ) -> None:
        super().__init__(message, status=status)
        self.command_id = command_id
        self.sequence_number = sequence_number
        self.field = field
        #: What the receiver should send back: the PDU's *_resp or generic_nack with
        #: ``status``; None when the bad PDU was a response (answering it risks a nack loop).
        self.response: Response | None = None


class FramingError(SmppError):
    """The stream cannot be split into PDUs any more; close the connection.

    ``events`` are what the same ``feed`` decoded before the bad command_length, in order (the
    PDUs and :class:`~smsengine.smpp.framer.InvalidPdu` events it would have returned): a
    receiver answers or settles each of them before it closes, or an accepted submit_sm would
    end unknown and a deliver_sm go unacked.
    """

    def __init__(self, message: str, *, status: int = CommandStatus.ESME_RINVCMDLEN,
                 events: list[Pdu | InvalidPdu | ReceiptTlvs] | None = None) -> None:
        super().__init__(message, status=status)
        self.events: list[Pdu | InvalidPdu | ReceiptTlvs] = events if events is not None else []


# --- outcomes of a request that got no response ------------------------------------------------


class NotSentError(SmppError, link.NotSentError):
    """The request never left this process (no bind, window closed, connection lost before it
    was written): nothing reached the SMSC, so sending it again is safe."""

    def __init__(self, message: str, *, status: int = CommandStatus.ESME_RSYSERR) -> None:
        super().__init__(message, status=status)


class OutcomeUnknownError(SmppError, link.OutcomeUnknownError):
    """The request was written but no response came (connection lost, response timeout): the
    SMSC may or may not have accepted it. Resending blindly can deliver it twice."""

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message, status=CommandStatus.ESME_RUNKNOWNERR)
        self.timed_out = timed_out


class SessionStateError(NotSentError, link.SessionStateError):
    """The request is not allowed in the session's current state (e.g. submit_sm before the
    bind completed, or on a receiver bind)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=CommandStatus.ESME_RINVBNDSTS)


# --- errors a peer reports in command_status -------------------------------------------------

_RETRIABLE = frozenset(
    {
        CommandStatus.ESME_RTHROTTLED,
        CommandStatus.ESME_RMSGQFUL,
        CommandStatus.ESME_RSYSERR,
        CommandStatus.ESME_RX_T_APPN,
        CommandStatus.ESME_RSUBMITFAIL,
        CommandStatus.ESME_RBINDFAIL,
    }
)


def is_retriable_status(status: int) -> bool:
    """Whether the same request can succeed later (throttling, queue full, transient failure)."""
    return status in _RETRIABLE


class CommandStatusError(SmppError, link.StatusError):
    """A peer answered with a non-zero command_status. Use :func:`error_for_status` to build."""

    #: Statuses that map to this class in the registry (subclasses fill it in).
    statuses: ClassVar[tuple[int, ...]] = ()

    def __init__(self, status: int, message: str | None = None) -> None:
        super().__init__(message or status_name(status), status=status)
        self.retriable = is_retriable_status(status)


class ThrottledError(CommandStatusError, link.ThrottledError):
    """ESME_RTHROTTLED: the carrier wants us slower; flow control should act on it."""

    statuses = (CommandStatus.ESME_RTHROTTLED,)


class MessageQueueFullError(CommandStatusError, link.ThrottledError):
    """ESME_RMSGQFUL: the SMSC's queue is full; back off like throttling."""

    statuses = (CommandStatus.ESME_RMSGQFUL,)


class AuthenticationError(CommandStatusError, link.AuthenticationError):
    """Wrong system_id or password: retrying soon only annoys the carrier."""

    statuses = (CommandStatus.ESME_RINVPASWD, CommandStatus.ESME_RINVSYSID)


class AlreadyBoundError(CommandStatusError, link.AlreadyBoundError):
    """ESME_RALYBND: wait for the carrier to release the old bind."""

    statuses = (CommandStatus.ESME_RALYBND,)


_REGISTRY: dict[int, type[CommandStatusError]] = {
    status: cls
    for cls in (ThrottledError, MessageQueueFullError, AuthenticationError, AlreadyBoundError)
    for status in cls.statuses
}


def error_for_status(status: int, message: str | None = None) -> CommandStatusError:
    """The exception a non-zero command_status stands for, of the class callers branch on."""
    return _REGISTRY.get(status, CommandStatusError)(status, message)
