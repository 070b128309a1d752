"""The events a protocol session reports, whatever the protocol.

A session (SMPP's :class:`~smsengine.smpp.session.Session`, CMPP's
:class:`~smsengine.cmpp.session.CmppSession` …) turns bytes and time into these; the bind in
:mod:`smsengine.bind` acts on them without knowing the protocol. The PDUs they carry are the
protocol's own: a response has ``command_status`` and ``status_name``, a request
``command_name``.

Every request the application queued ends in exactly one :class:`ResponseReceived` (a response,
whatever its status) or :class:`RequestFailed` (none came: a
:class:`~smsengine.link.NotSentError` or an :class:`~smsengine.link.OutcomeUnknownError`).
"""

from __future__ import annotations

import enum
from typing import Any

import msgspec

from .errors import LinkError

__all__ = [
    "BindFailed",
    "BindMode",
    "Bound",
    "ConnectionDead",
    "IncomingRequest",
    "ProtocolError",
    "ReceiptReceived",
    "RequestFailed",
    "ResponseReceived",
    "SessionEvent",
    "Unbound",
]


class BindMode(enum.Enum):
    """Which way messages may flow on a login (SMPP's three binds; a CMPP, SGIP or SMGP
    connection is a transceiver)."""

    TRANSMITTER = "transmitter"
    RECEIVER = "receiver"
    TRANSCEIVER = "transceiver"

    __hash__ = object.__hash__  # Enum.__hash__ is Python code; identity is enough


class SessionEvent:
    """Base of everything a session reports."""

    __slots__ = ()

    def __repr__(self) -> str:
        names: tuple[str, ...] = getattr(self, "__slots__", ())
        fields = ", ".join(f"{k}={getattr(self, k)!r}" for k in names)
        return f"{type(self).__name__}({fields})"


# The per-message events are msgspec structs: built in C (one per message is measurable),
# compared by identity like the other events (eq=False), same fields, same repr format.
#
# ResponseReceived and RequestFailed stay tracked by the cyclic garbage collector: ``token`` is
# whatever the caller passed (a future, a callback closure) and could well end up referring to
# the event, and an exception's traceback refers to frames. An untracked object in a cycle
# hides the cycle's references from the collector, and the cycle would never be freed.


class ResponseReceived(msgspec.Struct, SessionEvent, eq=False):
    """The response to one of our requests (any status, including SMPP's generic_nack)."""

    request: Any  # the protocol's request (or SMPP's EncodedRequest)
    response: Any  # the protocol's response: command_status, status_name
    token: Any


class RequestFailed(msgspec.Struct, SessionEvent, eq=False):
    """One of our requests ended without a response; ``error`` is a :class:`NotSentError`
    (safe to retry) or an :class:`OutcomeUnknownError` (do not resend blindly), each the
    protocol's subclass."""

    request: Any
    error: LinkError
    token: Any


class IncomingRequest(msgspec.Struct, SessionEvent, eq=False, gc=False):
    """A request from the peer for the application (SMPP deliver_sm, data_sm,
    alert_notification, outbind; CMPP_DELIVER). With ``auto_ack`` the session has already
    queued a success response."""

    # gc=False is safe: an IncomingRequest holds a decoded PDU and a bool. The protocols' PDUs
    # are gc=False values made of str, bytes, int and tuples of such values, so nothing
    # reachable from the event can refer back to it: no cycle can pass through it. (Assigning
    # something else to ``pdu`` would break that.)
    pdu: Any
    acked: bool


class ReceiptReceived(msgspec.Struct, SessionEvent, eq=False, gc=False):
    """A plain delivery receipt, already acked, read without building the whole PDU (SMPP's
    ``SessionConfig.receipt_tlvs``): ``receipt`` has ``message_id``, ``message_state`` (a
    :class:`~smsengine.link.ReceiptState` value) and ``pdu()``, the whole request.
    gc=False: a receipt like that holds only ints, str and bytes."""

    receipt: Any


class Bound(SessionEvent):
    """The login succeeded; ``system_id`` is what the peer said about itself."""

    __slots__ = ("mode", "system_id")

    def __init__(self, mode: BindMode, system_id: str) -> None:
        self.mode = mode
        self.system_id = system_id


class BindFailed(SessionEvent):
    """The peer refused the login with ``status``; ``error`` is the protocol's error for it
    (an :class:`~smsengine.link.AuthenticationError` for refused credentials, an
    :class:`~smsengine.link.AlreadyBoundError` …)."""

    __slots__ = ("error", "status")

    def __init__(self, status: int, error: LinkError) -> None:
        self.status = status
        self.error = error


class Unbound(SessionEvent):
    """The login ended with a logout (SMPP unbind, CMPP_TERMINATE); ``by_peer``: the peer
    sent it."""

    __slots__ = ("by_peer",)

    def __init__(self, by_peer: bool) -> None:
        self.by_peer = by_peer


class ConnectionDead(SessionEvent):
    """The connection must be closed: the peer stopped answering the keepalive (or the login),
    our output stayed blocked for a whole response timeout, or the byte stream cannot be framed
    any more.

    ``answers``: the stream broke after PDUs that came whole before the bad length; their
    events come first, and their answers (deliver_sm_resp …) are here, taken out of the
    output, to be written (best effort) before the connection is aborted. Nothing else that was
    queued is written: a request queued but not yet written ends NotSentError (safe to retry),
    not outcome-unknown.
    """

    __slots__ = ("answers", "reason")

    def __init__(self, reason: str, *, answers: bytes = b"") -> None:
        self.reason = reason
        self.answers = answers


class ProtocolError(SessionEvent):
    """The peer sent something wrong that we answered and survived (a bad PDU, a request not
    allowed in this state, a response to nothing). ``pdu``: the PDU, or the framer's
    ``InvalidPdu`` event, when there is one."""

    __slots__ = ("detail", "pdu")

    def __init__(self, detail: str, pdu: Any = None) -> None:
        self.detail = detail
        self.pdu = pdu
