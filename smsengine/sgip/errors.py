"""Errors of the SGIP codec and of SGIP peers.

Every error carries ``status`` (an SGIP Result code, section 9) and ``retriable``, so callers
branch on the class, ``status`` or ``retriable``, never on message text.

- :class:`InvalidPduError` — *local*: building or encoding an illegal PDU raises it at once,
  naming the field and the limit.
- :class:`PduDecodeError` — *remote*: a peer's PDU could not be decoded; it carries the
  Command ID and Sequence Number from the header and the response to send (Submit_Resp,
  Bind_Resp … with a non-zero Result), when there is one.
- :class:`FramingError` — *remote, fatal*: Message Length out of bounds; it carries the PDUs
  decoded before the bad length, which the caller handles before it closes the connection.
- :class:`SgipResultError` and its registry — a peer answered with a non-zero Result;
  :func:`error_for_result` picks the class callers treat differently.
- :class:`SgipNotSentError` / :class:`SgipOutcomeUnknownError` — a request got no response.
  Being local outcomes with no SGIP wire code, their ``status`` is :data:`NO_STATUS`.

Each class is also the protocol-neutral one of :mod:`smsengine.link` that means the same
(:class:`SgipThrottledError` is a :class:`smsengine.link.ThrottledError`,
:class:`SgipAuthenticationError` a :class:`smsengine.link.AuthenticationError` …), so the binds
and the engine handle every protocol alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from .. import link
from ..link import NO_STATUS
from .constants import ErrorCode, Result

if TYPE_CHECKING:
    from .framer import InvalidPdu
    from .pdu import Pdu, ReportReceipt, Response
    from .sequence import SequenceNumber

__all__ = [
    "NO_STATUS",
    "FramingError",
    "InvalidPduError",
    "PduDecodeError",
    "SgipAuthenticationError",
    "SgipError",
    "SgipNotSentError",
    "SgipOutcomeUnknownError",
    "SgipResultError",
    "SgipThrottledError",
    "error_for_result",
    "is_retriable_result",
    "result_name",
]

def result_name(code: int) -> str:
    """``NODE_BUSY`` for 11, ``UNKNOWN_USER`` for the Report ErrorCode 29, ``RESULT_99`` for
    a value neither table (9.1, 9.2) defines. Result and ErrorCode share one numbering."""
    try:
        return Result(code).name
    except ValueError:
        pass
    try:
        return ErrorCode(code).name
    except ValueError:
        return f"RESULT_{code}"


class SgipError(link.LinkError):
    """Base class of every error the SGIP layer raises.

    ``status`` is the SGIP Result that describes the failure (:data:`NO_STATUS` when there is
    none); ``retriable`` says whether sending the same thing again later can succeed.
    """

    retriable: bool = False


class InvalidPduError(SgipError, ValueError):
    """A PDU (or a Sequence Number) being built or encoded breaks the specification; ``field``
    names the field.

    ``status`` is the Result an SMG would answer for it (6 for a number, 8 for a length, 9 for
    the Sequence Number, 4 for the Login Type; 5 "parameter format error" otherwise).
    """

    def __init__(
        self, message: str, *, field: str, status: int = Result.PARAMETER_FORMAT_ERROR
    ) -> None:
        super().__init__(message, status=status)
        self.field = field


class PduDecodeError(SgipError):
    """A received PDU is malformed.

    ``command_id`` and ``sequence_number`` come from the header so a session can answer or fail
    the matching request (``sequence_number`` is None only when not even a header was there);
    ``field`` names the offending field when there is one; ``response`` is what the receiver
    should send back (None when the bad PDU was a response, or an unknown command).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        command_id: int,
        sequence_number: SequenceNumber | None,
        field: str | None = None,
    ) -> None:
        super().__init__(message, status=status)
        self.command_id = command_id
        self.sequence_number = sequence_number
        self.field = field
        self.response: Response | None = None


class FramingError(SgipError):
    """The stream cannot be split into PDUs any more (Message Length out of bounds): close.

    ``events`` are what the same ``feed`` decoded before the bad Message Length, in order (PDUs,
    :class:`~smsengine.sgip.framer.InvalidPdu` events and, with ``receipts``,
    :class:`~smsengine.sgip.pdu.ReportReceipt` events): a receiver answers or settles each
    of them before it closes, or an accepted Submit would end unknown and a Report go unacked.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int = Result.LENGTH_ERROR,
        events: list[Pdu | InvalidPdu | ReportReceipt] | None = None,
    ) -> None:
        super().__init__(message, status=status)
        self.events: list[Pdu | InvalidPdu | ReportReceipt] = events if events is not None else []


# --- a request that got no response ------------------------------------------------------------


class SgipNotSentError(SgipError, link.NotSentError):
    """The request never reached the SMG (no connection, window full, connection lost before it
    was written): sending it again is safe."""

    retriable = True


class SgipOutcomeUnknownError(SgipError, link.OutcomeUnknownError):
    """The request was written but no response came (connection lost, no response within the
    response timeout, 11.2): the SMG may have it. Resend only with the same Sequence Number and
    bytes (9.3), or not at all."""


# --- errors a peer reports in Result ------------------------------------------------------------

# 11 "node busy (queue full)": the fake SMG injects it with 88 to test back-off (14);
# 33, SMSC queue full in 1.2 and "rate limit exceeded" in 1.3; 88, the vendor flow-control code
# SMSGate resends on (9.2).
_RETRIABLE_RESULTS = frozenset({Result.NODE_BUSY, ErrorCode.SMSC_QUEUE_FULL, Result.FLOW_CONTROL})


def is_retriable_result(code: int) -> bool:
    """Whether the same Submit (same bytes, same Sequence Number, 9.3) can succeed later after a
    back-off: Result 11, 33 and 88. Every other non-zero Result is a final failure."""
    return code in _RETRIABLE_RESULTS


class SgipResultError(SgipError, link.StatusError):
    """A peer answered with a non-zero Result (9.1; Report ErrorCodes share the numbering,
    9.2). Build with :func:`error_for_result`; unknown codes are kept verbatim in ``status``."""

    #: Result codes that map to this class in the registry (subclasses fill it in).
    results: ClassVar[tuple[int, ...]] = ()

    def __init__(self, status: int, message: str | None = None) -> None:
        super().__init__(message or result_name(status), status=status)
        self.retriable = is_retriable_result(status)


class SgipThrottledError(SgipResultError, link.ThrottledError):
    """Result 11 (node busy), 33 (queue full / 1.3 rate limit) or 88 (vendor flow control):
    back off and resend."""

    results = (Result.NODE_BUSY, ErrorCode.SMSC_QUEUE_FULL, Result.FLOW_CONTROL)


class SgipAuthenticationError(SgipResultError, link.AuthenticationError):
    """Bind_Resp Result 1 (illegal login name or password) or 4 (wrong Login Type): check the
    configuration; retrying soon only annoys the operator. (Some gateways answer 2 or 3 for bad
    credentials, section 5: those stay plain :class:`SgipResultError`, a failure all the same.)
    """

    results = (Result.ILLEGAL_LOGIN, Result.WRONG_LOGIN_TYPE)


_RESULT_REGISTRY: dict[int, type[SgipResultError]] = {
    code: cls for cls in (SgipThrottledError, SgipAuthenticationError) for code in cls.results
}


def error_for_result(code: int, message: str | None = None) -> SgipResultError:
    """The exception a non-zero Result stands for, of the class callers branch on."""
    return _RESULT_REGISTRY.get(code, SgipResultError)(code, message)
