"""Errors of the CMPP codec and of CMPP peers.

Every error carries ``status`` (a CMPP Result / Status code, section 9) and ``retriable``, so
callers branch on the class, ``status`` or ``retriable``, never on message text.

- :class:`InvalidPduError` — *local*: building or encoding an illegal PDU raises it at once,
  naming the field and the limit.
- :class:`PduDecodeError` — *remote*: a peer's PDU could not be decoded; it carries the
  ``sequence_id`` and Command_Id from the header and the response to send (SUBMIT_RESP /
  DELIVER_RESP Result 1 and so on), when there is one.
- :class:`ReportDecodeError` — a status report's Msg_Content is too short to hold even
  Msg_Id and Stat.
- :class:`FramingError` — *remote, fatal*: Total_Length out of bounds; it carries the PDUs
  decoded before the bad length, which the caller handles before it closes the connection.
- :class:`CmppResultError` and its registry — a peer answered a SUBMIT (or DELIVER, CANCEL)
  with a non-zero Result; :func:`error_for_result` picks the class callers treat differently.
  :class:`CmppConnectError` and :func:`error_for_connect_status` do the same for CONNECT_RESP.
- :class:`CmppNotSentError` / :class:`CmppOutcomeUnknownError` — a request got no response.
  Being local outcomes with no CMPP wire code, their ``status`` is :data:`NO_STATUS`.

Each class is also the protocol-neutral one of :mod:`smsengine.link` that means the same
(:class:`CmppNotSentError` is a :class:`smsengine.link.NotSentError`,
:class:`CmppAuthenticationError` a :class:`smsengine.link.AuthenticationError` …), so the binds
and the engine handle every protocol alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from .. import link
from ..link import NO_STATUS
from .constants import ConnectStatus, SubmitResult

if TYPE_CHECKING:
    from .framer import InvalidPdu
    from .pdu import Pdu, Response

__all__ = [
    "NO_STATUS",
    "CmppAuthenticationError",
    "CmppConnectError",
    "CmppError",
    "CmppNotSentError",
    "CmppOutcomeUnknownError",
    "CmppResultError",
    "CmppThrottledError",
    "CmppVersionError",
    "FramingError",
    "InvalidPduError",
    "PduDecodeError",
    "ReportDecodeError",
    "connect_status_name",
    "error_for_connect_status",
    "error_for_result",
    "is_retriable_result",
    "result_name",
]

def result_name(code: int) -> str:
    """``FLOW_CONTROL`` for 8; ``RESULT_101`` for a vendor-specific value."""
    try:
        return SubmitResult(code).name
    except ValueError:
        return f"RESULT_{code}"


def connect_status_name(code: int) -> str:
    """``AUTHENTICATION_FAILED`` for 3; ``STATUS_7`` for a vendor-specific value."""
    try:
        return ConnectStatus(code).name
    except ValueError:
        return f"STATUS_{code}"


class CmppError(link.LinkError):
    """Base class of every error the CMPP layer raises.

    ``status`` is the CMPP code that describes the failure (:data:`NO_STATUS` when there is
    none); ``retriable`` says whether sending the same thing again later can succeed.
    """


class InvalidPduError(CmppError, ValueError):
    """A PDU being built or encoded breaks the specification; ``field`` names the field.

    ``status`` is the SUBMIT_RESP Result a gateway would answer for it (7 for Service_Id, 13 for
    Dest_terminal_Id, 6 for an over-long Msg_Content …; 1 "structure error" otherwise).
    """

    def __init__(self, message: str, *, field: str, status: int = SubmitResult.STRUCTURE_ERROR):
        super().__init__(message, status=status)
        self.field = field


class PduDecodeError(CmppError):
    """A received PDU is malformed.

    ``command_id`` and ``sequence_id`` come from the header so a session can answer or fail the
    matching request; ``field`` names the offending field when there is one; ``response`` is
    what the receiver should send back (None when the bad PDU was a response, or has no
    response that can carry an error).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        command_id: int,
        sequence_id: int,
        field: str | None = None,
    ) -> None:
        super().__init__(message, status=status)
        self.command_id = command_id
        self.sequence_id = sequence_id
        self.field = field
        self.response: Response | None = None


class ReportDecodeError(CmppError, ValueError):
    """A status report's Msg_Content holds fewer than the 15 octets of Msg_Id and Stat."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=SubmitResult.STRUCTURE_ERROR)


class FramingError(CmppError):
    """The stream cannot be split into PDUs any more (Total_Length out of bounds): close.

    ``events`` are what the same ``feed`` decoded before the bad Total_Length, in order (PDUs
    and :class:`~smsengine.cmpp.framer.InvalidPdu` events): a receiver answers or settles each
    of them before it closes, or an accepted SUBMIT would end unknown and a DELIVER go unacked.
    """

    def __init__(self, message: str, *, status: int = SubmitResult.MESSAGE_LENGTH_ERROR,
                 events: list[Pdu | InvalidPdu] | None = None) -> None:
        super().__init__(message, status=status)
        self.events: list[Pdu | InvalidPdu] = events if events is not None else []


# --- outcomes of a request that got no response ------------------------------------------------


class CmppNotSentError(CmppError, link.NotSentError):
    """The request never left this process: nothing reached the ISMG, resending is safe."""


class CmppOutcomeUnknownError(CmppError, link.OutcomeUnknownError):
    """The request was written but no response came: the ISMG may have accepted it."""


# --- errors a peer reports in Result / Status ------------------------------------------------

_RETRIABLE_RESULTS = frozenset({SubmitResult.FLOW_CONTROL})


def is_retriable_result(code: int) -> bool:
    """Whether the same SUBMIT can succeed later: only Result 8 (flow control) can."""
    return code in _RETRIABLE_RESULTS


class CmppResultError(CmppError, link.StatusError):
    """A peer answered with a non-zero Result (SUBMIT_RESP section 9.2; the DELIVER_RESP codes
    9.3 share the meaning of 0-8). Build with :func:`error_for_result`; unknown codes are kept
    verbatim in ``status``."""

    #: Result codes that map to this class in the registry (subclasses fill it in).
    results: ClassVar[tuple[int, ...]] = ()

    def __init__(self, status: int, message: str | None = None) -> None:
        super().__init__(message or result_name(status), status=status)
        self.retriable = is_retriable_result(status)


class CmppThrottledError(CmppResultError, link.ThrottledError):
    """Result 8, flow control: too fast or window exceeded; back off and resend."""

    results = (SubmitResult.FLOW_CONTROL,)


_RESULT_REGISTRY: dict[int, type[CmppResultError]] = {
    code: cls for cls in (CmppThrottledError,) for code in cls.results
}


def error_for_result(code: int, message: str | None = None) -> CmppResultError:
    """The exception a non-zero Result stands for, of the class callers branch on."""
    return _RESULT_REGISTRY.get(code, CmppResultError)(code, message)


class CmppConnectError(CmppError, link.StatusError):
    """CONNECT_RESP with a non-zero Status (section 9.1). Build with
    :func:`error_for_connect_status`. Codes 5 and above are vendor "other errors" (often
    "too many connections"), worth retrying after a back-off; 1-4 are not.

    A :class:`smsengine.link.StatusError` (its ``status`` a CMPP Status), so the bind keeper
    treats a refused CONNECT like any refused login."""

    statuses: ClassVar[tuple[int, ...]] = ()

    def __init__(self, status: int, message: str | None = None) -> None:
        super().__init__(message or connect_status_name(status), status=status)
        self.retriable = status >= 5


class CmppAuthenticationError(CmppConnectError, link.AuthenticationError):
    """Status 2 (illegal Source_Addr) or 3 (authentication failed): check the credentials;
    retrying soon only annoys the operator. A :class:`smsengine.link.AuthenticationError`
    too, so the bind keeper raises its alarm and backs off long."""

    statuses = (ConnectStatus.ILLEGAL_SOURCE_ADDR, ConnectStatus.AUTHENTICATION_FAILED)


class CmppVersionError(CmppConnectError):
    """Status 4, version too high: reconnect with a lower Version."""

    statuses = (ConnectStatus.VERSION_TOO_HIGH,)


_CONNECT_REGISTRY: dict[int, type[CmppConnectError]] = {
    code: cls for cls in (CmppAuthenticationError, CmppVersionError) for code in cls.statuses
}


def error_for_connect_status(code: int, message: str | None = None) -> CmppConnectError:
    """The exception a non-zero CONNECT_RESP Status stands for."""
    return _CONNECT_REGISTRY.get(code, CmppConnectError)(code, message)
