"""Errors of the SMGP codec and of SMGP peers.

Every error carries ``status`` (an SMGP Status code, section 10 of the reference) and
``retriable``, so callers branch on the class, ``status`` or ``retriable``, never on text.

- :class:`InvalidPduError` — *local*: building or encoding an illegal PDU raises it at once,
  naming the field and the limit.
- :class:`PduDecodeError` — *remote*: a peer's PDU could not be decoded; it carries the
  ``sequence_id`` and RequestID from the header and the response to send, when there is one.
- :class:`ReportDecodeError` — a status report's MsgContent lacks the ``id:`` prefix and its
  10 octets, or a ``stat:``.
- :class:`FramingError` — *remote, fatal*: PacketLength out of bounds; it carries the PDUs
  decoded before the bad length, which the caller handles before it closes the connection.
- :class:`SmgpStatusError` and its registry — a peer answered Submit (or Deliver) with a
  non-zero Status; :func:`error_for_status` picks the class callers treat differently.
  :class:`SmgpLoginError` and :func:`error_for_login_status` do the same for Login_Resp.

Each class is also the protocol-neutral one of :mod:`smsengine.link` that means the same
(:class:`SmgpNotSentError` is a :class:`smsengine.link.NotSentError`,
:class:`SmgpAuthenticationError` a :class:`smsengine.link.AuthenticationError` …), so the binds
and the engine branch on the meaning without knowing the protocol.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from .. import link
from ..link import NO_STATUS
from .constants import Status

if TYPE_CHECKING:
    from .framer import InvalidPdu
    from .pdu import DeliverReceipt, Pdu, Response

__all__ = [
    "NO_STATUS",
    "FramingError",
    "InvalidPduError",
    "PduDecodeError",
    "ReportDecodeError",
    "SmgpAuthenticationError",
    "SmgpError",
    "SmgpLoginError",
    "SmgpNotSentError",
    "SmgpOutcomeUnknownError",
    "SmgpStatusError",
    "SmgpThrottledError",
    "SmgpVersionError",
    "error_for_login_status",
    "error_for_status",
    "is_retriable_status",
    "status_name",
]

def status_name(code: int) -> str:
    """``SYSTEM_BUSY`` for 1; ``STATUS_130`` for a vendor or unnamed route code."""
    try:
        return Status(code).name
    except ValueError:
        return f"STATUS_{code}"


#: Section 10: "1 and 75 are retryable after back-off"; every other non-zero is final.
_RETRIABLE: frozenset[int] = frozenset({Status.SYSTEM_BUSY, Status.SP_DAILY_LIMIT})


def is_retriable_status(code: int) -> bool:
    """Whether the same Submit can succeed later: Status 1 (system busy) and 75 (daily
    volume exceeded) can, after a back-off."""
    return code in _RETRIABLE


class SmgpError(link.LinkError):
    """Base class of every error the SMGP layer raises.

    ``status`` is the SMGP code that describes the failure (:data:`NO_STATUS` when there is
    none); ``retriable`` says whether sending the same thing again later can succeed.
    """


class SmgpNotSentError(SmgpError, link.NotSentError):
    """A request never left this process (no connection, window full, lost before it was
    written): safe to send again."""


class SmgpOutcomeUnknownError(SmgpError, link.OutcomeUnknownError):
    """A request was written but no response came: the SMGW may have accepted it."""


class InvalidPduError(SmgpError, ValueError):
    """A PDU being built or encoded breaks the specification; ``field`` names the field.

    ``status`` is the Status a gateway would answer for it (43 for ServiceID, 47 for
    DestTermID, 36 for an over-long MsgContent …; 10 "message structure error" otherwise).
    """

    def __init__(
        self, message: str, *, field: str, status: int = Status.MESSAGE_STRUCTURE_ERROR
    ) -> None:
        super().__init__(message, status=status)
        self.field = field


class PduDecodeError(SmgpError):
    """A received PDU is malformed, or its RequestID is not one this codec decodes.

    ``request_id`` and ``sequence_id`` come from the header so a session can answer or fail
    the matching request; ``field`` names the offending field when there is one; ``response``
    is what the receiver should send back (None for a bad response, an unknown RequestID, or a
    request whose response has no Status).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        request_id: int,
        sequence_id: int,
        field: str | None = None,
    ) -> None:
        super().__init__(message, status=status)
        self.request_id = request_id
        self.sequence_id = sequence_id
        self.field = field
        self.response: Response | None = None


class ReportDecodeError(SmgpError, ValueError):
    """A status report (Deliver with IsReport = 1) whose MsgContent has no ``id:`` and
    10-octet MsgID at its start, or no ``stat:`` field: it cannot be correlated."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=Status.MESSAGE_STRUCTURE_ERROR)


class FramingError(SmgpError):
    """The stream cannot be split into PDUs any more (PacketLength out of bounds): close.

    ``events`` are what the same ``feed`` decoded before the bad PacketLength, in order (PDUs,
    :class:`~smsengine.smgp.framer.InvalidPdu` events and, with ``receipts``,
    :class:`~smsengine.smgp.pdu.DeliverReceipt` events): a receiver answers or settles each
    of them before it closes.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int = Status.MESSAGE_STRUCTURE_ERROR,
        events: list[Pdu | InvalidPdu | DeliverReceipt] | None = None,
    ) -> None:
        super().__init__(message, status=status)
        self.events: list[Pdu | InvalidPdu | DeliverReceipt] = (
            events if events is not None else [])


# --- errors a peer reports in Status ----------------------------------------------------------


class SmgpStatusError(SmgpError, link.StatusError):
    """A peer answered a Submit (or Deliver, Query) with a non-zero Status. Build with
    :func:`error_for_status`; unknown codes are kept verbatim in ``status``."""

    #: Status codes that map to this class in the registry (subclasses fill it in).
    statuses: ClassVar[tuple[int, ...]] = ()

    def __init__(self, status: int, message: str | None = None) -> None:
        super().__init__(message or status_name(status), status=status)
        self.retriable = is_retriable_status(status)


class SmgpThrottledError(SmgpStatusError, link.ThrottledError):
    """Status 1 (system busy) or 75 (SP daily volume exceeded): back off and resend."""

    statuses = (Status.SYSTEM_BUSY, Status.SP_DAILY_LIMIT)


_STATUS_REGISTRY: dict[int, type[SmgpStatusError]] = {
    code: cls for cls in (SmgpThrottledError,) for code in cls.statuses
}


def error_for_status(code: int, message: str | None = None) -> SmgpStatusError:
    """The exception a non-zero Submit_Resp / Deliver_Resp Status stands for."""
    return _STATUS_REGISTRY.get(code, SmgpStatusError)(code, message)


class SmgpLoginError(SmgpError, link.StatusError):
    """Login_Resp with a non-zero Status: the login failed (every non-zero Status is a
    failure, section 10). Build with :func:`error_for_login_status`. Apart from the
    credential and version codes, a refusal (system busy, too many connections, vendor codes)
    is worth retrying after a back-off."""

    statuses: ClassVar[tuple[int, ...]] = ()

    def __init__(self, status: int, message: str | None = None) -> None:
        super().__init__(message or status_name(status), status=status)
        self.retriable = True


class SmgpAuthenticationError(SmgpLoginError, link.AuthenticationError):
    """Status 20 (IP address error) or 21 (authentication error) — and 3, which SMSGate's
    server answers for a bad authenticator (a CMPP habit, section 10): check the credentials;
    retrying soon only annoys the operator."""

    statuses = (3, Status.IP_ADDRESS_ERROR, Status.AUTHENTICATION_ERROR)

    def __init__(self, status: int, message: str | None = None) -> None:
        super().__init__(status, message)
        self.retriable = False


class SmgpVersionError(SmgpLoginError):
    """Status 22, version too high: log in again with a lower ClientVersion."""

    statuses = (Status.VERSION_TOO_HIGH,)

    def __init__(self, status: int, message: str | None = None) -> None:
        super().__init__(status, message)
        self.retriable = False


_LOGIN_REGISTRY: dict[int, type[SmgpLoginError]] = {
    code: cls for cls in (SmgpAuthenticationError, SmgpVersionError) for code in cls.statuses
}


def error_for_login_status(code: int, message: str | None = None) -> SmgpLoginError:
    """The exception a non-zero Login_Resp Status stands for."""
    return _LOGIN_REGISTRY.get(code, SmgpLoginError)(code, message)
