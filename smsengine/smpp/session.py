"""An SMPP 3.4 bind as a sans-I/O state machine (ESME side).

The :class:`Session` owns everything a bind needs except the socket and the clock: the bind
state and its legal transitions (SMPP 3.4 section 2.3, as a table), sequence numbers
1..0x7FFFFFFF with wrap-around, the window of outstanding requests with their deadlines,
enquire_link keepalive and dead-peer detection, and answers to the peer's requests.

Drive it like this (the asyncio adapter in :mod:`smsengine.bind` does exactly that):

- feed received bytes: ``events = session.receive_data(data, now)``;
- queue requests: ``seq = session.send_request(pdu, now, token)`` (a PDU, or an
  ``EncodedRequest`` from a ``SubmitSmTemplate``: the same, minus building and encoding a PDU);
- write what it produced: ``transport.write(session.data_to_send())`` — that call is also
  what marks queued requests as *written*;
- arm one timer for ``session.next_deadline()`` and call ``session.handle_timer(now)`` then;
- on connection loss: ``events = session.connection_lost(reason)``.

Every request ends in exactly one event: :class:`ResponseReceived` (a response, whatever its
command_status), or :class:`RequestFailed` whose error says whether the request was *not sent*
(never handed to the transport: safe to retry) or its *outcome is unknown* (written, no
response: must not be resent blindly).

The events, :class:`BindMode` and the request bookkeeping (:class:`~smsengine.link.Window`) are
the protocol-neutral ones of :mod:`smsengine.link`, re-exported here under their old names;
:class:`Session` satisfies :class:`smsengine.link.Session`.
"""

from __future__ import annotations

import enum
import struct
from typing import Any, Final

from ..link import (
    BindFailed,
    BindMode,
    Bound,
    ConnectionDead,
    IncomingRequest,
    Pending,
    ProtocolError,
    ReceiptReceived,
    RequestFailed,
    ResponseReceived,
    SessionEvent,
    Unbound,
    Window,
)
from ..link.window import BLOCKED
from .constants import CommandId, CommandStatus
from .errors import (
    FramingError,
    NotSentError,
    OutcomeUnknownError,
    SessionStateError,
    error_for_status,
)
from .framer import DEFAULT_MAX_COMMAND_LENGTH, Framer, InvalidPdu
from .pdu import (
    PDU_CLASSES,
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    DataSm,
    DeliverSm,
    EncodedRequest,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    ReceiptTlvs,
    Request,
    Response,
    Unbind,
)

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
    "Session",
    "SessionConfig",
    "SessionEvent",
    "SessionState",
    "Unbound",
]

MAX_SEQUENCE: Final = 0x7FFFFFFF


class SessionState(enum.Enum):
    OPEN = "open"  # connected, not bound
    BINDING = "binding"  # bind sent, no response yet
    BOUND_TX = "bound_tx"
    BOUND_RX = "bound_rx"
    BOUND_TRX = "bound_trx"
    UNBINDING = "unbinding"  # unbind sent, waiting for unbind_resp
    CLOSED = "closed"

    __hash__ = object.__hash__


_S = SessionState
_BOUND_STATE = {
    BindMode.TRANSMITTER: _S.BOUND_TX,
    BindMode.RECEIVER: _S.BOUND_RX,
    BindMode.TRANSCEIVER: _S.BOUND_TRX,
}
_BIND_PDU = {
    BindMode.TRANSMITTER: BindTransmitter,
    BindMode.RECEIVER: BindReceiver,
    BindMode.TRANSCEIVER: BindTransceiver,
}
_BOUND = frozenset({_S.BOUND_TX, _S.BOUND_RX, _S.BOUND_TRX})
_SENDS = frozenset({_S.BOUND_TX, _S.BOUND_TRX})  # may send submit_sm & co
_RECEIVES = frozenset({_S.BOUND_RX, _S.BOUND_TRX})  # may receive deliver_sm & co
_ANY_LIVE = frozenset({_S.OPEN, _S.BINDING, *_BOUND, _S.UNBINDING})

# Requests we may send, by state (SMPP 3.4 2.3 and table 2-1).
_OUTBOUND: Final[dict[int, frozenset[SessionState]]] = {
    CommandId.submit_sm: _SENDS,
    CommandId.submit_multi: _SENDS,
    CommandId.data_sm: _SENDS | {_S.BOUND_RX},  # data_sm is allowed both ways on any bind
    CommandId.query_sm: _SENDS,
    CommandId.cancel_sm: _SENDS,
    CommandId.replace_sm: _SENDS,
    CommandId.enquire_link: _BOUND | {_S.UNBINDING},
    # unbind is not here: it must go through Session.unbind(), which moves to UNBINDING.
}
# Requests the peer (an SMSC) may send us, by state. Anything else gets ESME_RINVBNDSTS.
_INBOUND: Final[dict[int, frozenset[SessionState]]] = {
    CommandId.deliver_sm: _RECEIVES,
    CommandId.data_sm: _BOUND,
    CommandId.alert_notification: _RECEIVES,
    CommandId.enquire_link: _ANY_LIVE,
    CommandId.unbind: _BOUND | {_S.UNBINDING},
    CommandId.outbind: frozenset({_S.OPEN}),
}


# The same tables keyed by PDU class: hashing a class is done in C, while Enum.__hash__ (an
# IntEnum command_id) is Python code run on every request.
_OUTBOUND_BY_CLASS: Final[dict[type, frozenset[SessionState]]] = {
    PDU_CLASSES[cid]: states for cid, states in _OUTBOUND.items()
}
_INBOUND_BY_CLASS: Final = {PDU_CLASSES[cid]: states for cid, states in _INBOUND.items()}

# The success answer to a deliver_sm or data_sm with auto_ack, packed directly: a
# deliver_sm_resp / data_sm_resp with an empty message_id (SMPP 3.4 4.6.2, 4.7.2) is the header
# (command_length 17, command_status 0) and one NUL. Building and validating the response PDU
# to encode it cost more than the rest of handling the deliver_sm.
_pack_ack: Final = struct.Struct(">IIIIB").pack
_pack_header: Final = struct.Struct(">IIII").pack
_DELIVER_SM_RESP: Final = int(CommandId.deliver_sm_resp)
_ACK_ID: Final[dict[type[Request], int]] = {
    DeliverSm: _DELIVER_SM_RESP,
    DataSm: int(CommandId.data_sm_resp),
}


class SessionConfig:
    """What a bind is configured with. Times are seconds."""

    __slots__ = (
        "addr_npi",
        "addr_ton",
        "address_range",
        "auto_ack",
        "enquire_link_interval",
        "interface_version",
        "max_command_length",
        "mode",
        "password",
        "receipt_tlvs",
        "response_timeout",
        "system_id",
        "system_type",
        "window",
    )

    def __init__(
        self,
        system_id: str,
        password: str = "",
        mode: BindMode = BindMode.TRANSCEIVER,
        *,
        system_type: str = "",
        interface_version: int = 0x34,
        addr_ton: int = 0,
        addr_npi: int = 0,
        address_range: str = "",
        window: int = 64,
        response_timeout: float = 10.0,
        enquire_link_interval: float = 30.0,
        auto_ack: bool = True,
        max_command_length: int = DEFAULT_MAX_COMMAND_LENGTH,
        receipt_tlvs: bool = False,
    ) -> None:
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        if response_timeout <= 0:
            raise ValueError(f"response_timeout must be > 0, got {response_timeout}")
        if enquire_link_interval <= 0:
            raise ValueError(f"enquire_link_interval must be > 0, got {enquire_link_interval}")
        self.system_id = system_id
        self.password = password
        self.mode = mode
        self.system_type = system_type
        self.interface_version = interface_version
        self.addr_ton = addr_ton
        self.addr_npi = addr_npi
        self.address_range = address_range
        self.window = window
        self.response_timeout = response_timeout
        self.enquire_link_interval = enquire_link_interval
        self.auto_ack = auto_ack
        self.max_command_length = max_command_length
        #: With auto_ack: a deliver_sm that is a plain delivery receipt (esm_class says so, its
        #: TLVs are exactly receipted_message_id and message_state) is acked and reported as a
        #: ReceiptReceived with those two values, the rest of it unread (ReceiptTlvs), instead
        #: of an IncomingRequest with the whole DeliverSm: for a client that only correlates
        #: receipts. Any other deliver_sm still comes whole.
        self.receipt_tlvs = receipt_tlvs
        # Build the bind PDU now, so a bad system_id/password fails here, not on connect.
        self.bind_pdu()

    def bind_pdu(self) -> Request:
        return _BIND_PDU[self.mode](
            system_id=self.system_id,
            password=self.password,
            system_type=self.system_type,
            interface_version=self.interface_version,
            addr_ton=self.addr_ton,
            addr_npi=self.addr_npi,
            address_range=self.address_range,
        )


class Session:
    """One SMPP bind's protocol state; see the module docstring."""

    def __init__(self, config: SessionConfig, now: float = 0.0) -> None:
        self.config = config
        self.state = SessionState.OPEN
        self._framer = Framer(config.max_command_length)
        self._feed = (self._framer.feed_receipts if config.receipt_tlvs and config.auto_ack
                      else self._framer.feed)
        # Sequence numbers, outstanding requests, output and "written" (smsengine.link).
        self._window = Window(config.window, config.response_timeout, MAX_SEQUENCE,
                              not_sent=NotSentError, unknown=OutcomeUnknownError)
        self._last_heard = now
        self._enquire_seq: int | None = None  # our unanswered enquire_link, if any
        self._timeout = config.response_timeout

    # --- state ------------------------------------------------------------------------------

    @property
    def is_bound(self) -> bool:
        return self.state in _BOUND

    @property
    def can_submit(self) -> bool:
        return self.state in _SENDS

    @property
    def window_free(self) -> int:
        """How many more user requests fit in the window now."""
        window = self._window
        return window.size - window.in_window

    @property
    def outstanding(self) -> int:
        return len(self._window.pending)

    # --- requests -----------------------------------------------------------------------------

    def bind(self, now: float) -> int:
        """Queue the bind request (connection just opened)."""
        if self.state is not _S.OPEN:
            raise SessionStateError(f"cannot bind in state {self.state.value}")
        self.state = _S.BINDING
        return self._queue(self.config.bind_pdu(), now, None, counts=False)

    def unbind(self, now: float) -> int | None:
        """Queue an unbind; requests still in flight get their responses or time out."""
        if self.state not in _BOUND:
            return None
        self.state = _S.UNBINDING
        return self._queue(Unbind(), now, None, counts=False)

    def send_request(self, request: Request | EncodedRequest, now: float,
                     token: Any = None) -> int:
        """Queue a request (a PDU, or an :class:`EncodedRequest` from a template); returns its
        sequence_number. Raises :class:`SessionStateError` when the current state does not
        allow it and :class:`NotSentError` when the window is full — either way nothing was
        queued."""
        if type(request) is EncodedRequest:
            allowed = _OUTBOUND.get(request.command_id)
        else:
            allowed = _OUTBOUND_BY_CLASS.get(type(request))
        if allowed is None or self.state not in allowed:
            hint = "; use unbind()" if request.command_id == CommandId.unbind else ""
            raise SessionStateError(f"{request.command_name} not allowed in state "
                                    f"{self.state.value}{hint}")
        window = self._window
        if window.in_window >= window.size:
            raise NotSentError(f"window of {window.size} requests is full")
        # Window.next_seq and Window.add inlined: this runs once per message.
        pending = window.pending
        seq = window.seq + 1
        if seq > MAX_SEQUENCE or seq in pending:
            seq = window.next_seq()
        else:
            window.seq = seq
        window.out.append(request.encode(seq))
        pending[seq] = Pending(request, token, now + self._timeout, window.generation, True)
        window.in_window += 1
        return seq

    def send_requests(self, requests: list[Request | EncodedRequest], tokens: list[Any],
                      now: float) -> int:
        """Queue ``requests[i]`` with ``tokens[i]``, in order, while the window has room, and
        return how many were queued: :meth:`send_request` for a batch, with the checks done
        once. Raises :class:`SessionStateError` as :meth:`send_request` does, for the first
        request the state does not allow; the ones before it stay queued."""
        window = self._window
        count = min(window.size - window.in_window, len(requests))
        if count <= 0:
            return 0
        pending = window.pending
        out = window.out
        state = self.state
        deadline = now + self._timeout
        generation = window.generation
        seq = window.seq
        queued = 0
        checked = -1  # the command_id of encoded requests whose state check passed
        header = _pack_header
        try:
            for i in range(count):
                request = requests[i]
                encoded = type(request) is EncodedRequest
                # (A batch is usually all submit_sm: its state is checked once.)
                if not encoded or request.command_id != checked:
                    allowed = (_OUTBOUND.get(request.command_id) if encoded
                               else _OUTBOUND_BY_CLASS.get(type(request)))
                    if allowed is None or state not in allowed:
                        raise SessionStateError(f"{request.command_name} not allowed in state "
                                                f"{state.value}")
                    if encoded:
                        checked = request.command_id
                seq += 1
                if seq > MAX_SEQUENCE or seq in pending:
                    window.seq = seq - 1
                    seq = window.next_seq()  # (after a wrap: never one still in flight)
                if encoded:  # EncodedRequest.encode inline: seq is a valid sequence number
                    body = request.body  # type: ignore[union-attr]
                    out.append(header(16 + len(body), request.command_id, 0, seq) + body)
                else:
                    out.append(request.encode(seq))
                pending[seq] = Pending(request, tokens[i], deadline, generation, True)
                queued += 1
        finally:
            window.seq = seq
            window.in_window += queued
        return queued

    def _queue(self, request: Request, now: float, token: Any, *, counts: bool) -> int:
        window = self._window
        seq = window.next_seq()
        return window.add(seq, request, request.encode(seq), now, token, counts=counts)

    def respond(self, request: Request, command_status: int = 0, **fields: Any) -> None:
        """Answer one of the peer's requests (when not auto-acknowledged)."""
        self._window.out.append(request.response(command_status, **fields).encode())

    # --- output -------------------------------------------------------------------------------

    def data_to_send(self) -> bytes:
        """Everything queued since the last call, as one write. Requests in it count as
        written from now on: if the connection drops, their outcome is unknown."""
        return self._window.data_to_send()

    # --- input --------------------------------------------------------------------------------

    def receive_data(self, data: bytes, now: float) -> list[SessionEvent]:
        """Feed received bytes; returns what happened, in order."""
        window = self._window
        out = window.out
        dead = None
        mark = 0
        try:
            pdus = self._feed(data)
        except FramingError as exc:
            # The stream is broken, but the PDUs that came whole before the bad length are
            # answered and settled first (an accepted submit_sm must not end unknown, a
            # deliver_sm must be acked); the ConnectionDead after them, carrying their answers
            # (what is queued from ``mark`` on), closes the connection.
            pdus, dead, mark = exc.events, str(exc), len(out)
        self._last_heard = now
        events: list[SessionEvent] = []
        pending = window.pending
        for pdu in pdus:
            if type(pdu) is ReceiptTlvs:  # (only with receipt_tlvs, which needs auto_ack)
                if self.state in _RECEIVES:
                    out.append(_pack_ack(17, _DELIVER_SM_RESP, 0, pdu.sequence_number, 0))
                    events.append(ReceiptReceived(pdu))
                else:
                    self._incoming(pdu.pdu(), events)  # (the error answer needs the whole PDU)
            elif type(pdu) is DeliverSm and self.state in _RECEIVES:
                # The common request first (and without the isinstance tests: a DeliverSm is
                # neither); _incoming handles every other one.
                acked = self.config.auto_ack
                if acked:
                    out.append(_pack_ack(17, _DELIVER_SM_RESP, 0, pdu.sequence_number, 0))
                events.append(IncomingRequest(pdu, acked))
            elif isinstance(pdu, Response):
                entry = pending.pop(pdu.sequence_number, None)
                if entry is None:
                    if pdu.sequence_number != 0 or not isinstance(pdu, GenericNack):
                        events.append(ProtocolError("response to no request of ours", pdu))
                    else:
                        events.append(ProtocolError(f"generic_nack {pdu.status_name}", pdu))
                elif entry.counts:  # a user request: the hot path
                    window.in_window -= 1
                    events.append(ResponseReceived(entry.request, pdu, entry.token))
                else:
                    self._internal_response(entry, pdu, events)
            elif isinstance(pdu, InvalidPdu):
                if pdu.response is not None:
                    out.append(pdu.response.encode())
                else:
                    # A response we could not decode: fail the request it answered.
                    entry = window.take(pdu.sequence_number)
                    if entry is not None and entry.counts:
                        events.append(RequestFailed(entry.request, OutcomeUnknownError(
                            f"undecodable response: {pdu.error}"), entry.token))
                    elif entry is not None:
                        # bind / enquire_link / unbind: settle it as a failed answer so the
                        # state machine moves on (else a garbled enquire_link_resp would stop
                        # the keepalive for good, a garbled bind_resp leave us BINDING).
                        self._internal_response(entry, GenericNack(
                            sequence_number=pdu.sequence_number,
                            command_status=pdu.status or CommandStatus.ESME_RSYSERR),
                            events)
                events.append(ProtocolError(str(pdu.error), pdu))
            else:
                self._incoming(pdu, events)  # type: ignore[arg-type]
        if dead is not None:
            events.append(ConnectionDead(dead, answers=window.cut(mark)))
        return events

    def _internal_response(self, entry: Pending, pdu: Response,
                           events: list[SessionEvent]) -> None:
        cid = entry.request.command_id
        if cid in (CommandId.bind_transmitter, CommandId.bind_receiver,
                   CommandId.bind_transceiver):
            if pdu.command_status == 0:
                self.state = _BOUND_STATE[self.config.mode]
                events.append(Bound(self.config.mode, getattr(pdu, "system_id", "")))
            else:
                self.state = _S.CLOSED
                events.append(BindFailed(pdu.command_status,
                                         error_for_status(pdu.command_status)))
        elif cid == CommandId.enquire_link:
            if self._enquire_seq == pdu.sequence_number:
                self._enquire_seq = None
        elif cid == CommandId.unbind:
            self.state = _S.CLOSED
            events.append(Unbound(by_peer=False))
        else:
            events.append(ResponseReceived(entry.request, pdu, entry.token))

    def _incoming(self, pdu: Request, events: list[SessionEvent]) -> None:
        # (A deliver_sm in a receiving state, the common case, is handled by receive_data.)
        out = self._window.out
        cid = pdu.command_id
        allowed = _INBOUND_BY_CLASS.get(type(pdu))
        if allowed is None:
            # submit_sm & co go to an SMSC, never to us.
            out.append(pdu.response(CommandStatus.ESME_RINVCMDID).encode())
            events.append(ProtocolError(f"peer sent {pdu.command_name}, an ESME-to-SMSC PDU", pdu))
            return
        if self.state not in allowed:
            if pdu.response_class is not None:
                out.append(pdu.response(CommandStatus.ESME_RINVBNDSTS).encode())
            else:
                out.append(GenericNack(sequence_number=pdu.sequence_number,
                                       command_status=CommandStatus.ESME_RINVBNDSTS).encode())
            events.append(ProtocolError(f"{pdu.command_name} not allowed in state "
                                        f"{self.state.value}", pdu))
            return
        if cid == CommandId.enquire_link:
            out.append(EnquireLinkResp(sequence_number=pdu.sequence_number).encode())
        elif cid == CommandId.unbind:
            out.append(pdu.response().encode())
            self.state = _S.CLOSED
            events.append(Unbound(by_peer=True))
        else:
            resp_id = _ACK_ID.get(type(pdu)) if self.config.auto_ack else None
            if resp_id is not None:
                out.append(_pack_ack(17, resp_id, 0, pdu.sequence_number, 0))
            events.append(IncomingRequest(pdu, resp_id is not None))

    # --- time ---------------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timer` must next run (None: nothing to wait for)."""
        if self.state is _S.CLOSED:
            return None
        deadline = self._window.next_deadline()
        if self.state in _BOUND and self._enquire_seq is None:
            keepalive = self._last_heard + self.config.enquire_link_interval
            if deadline is None or keepalive < deadline:
                deadline = keepalive
        return deadline

    def handle_timer(self, now: float) -> list[SessionEvent]:
        """Expire requests past their deadline and keep the link alive."""
        events: list[SessionEvent] = []
        window = self._window
        while (entry := window.expire(now, events)) is not None:
            if entry is BLOCKED:
                return events
            # One of ours (a user request's timeout is in events already).
            cid = entry.request.command_id
            if cid == CommandId.enquire_link:
                self._enquire_seq = None
                events.append(ConnectionDead(
                    f"no enquire_link_resp within {self._timeout:g}s: the peer is dead"))
                return events
            if cid in (CommandId.bind_transmitter, CommandId.bind_receiver,
                       CommandId.bind_transceiver):
                events.append(ConnectionDead(f"no bind response within {self._timeout:g}s"))
                return events
            if cid == CommandId.unbind:
                self.state = _S.CLOSED
                events.append(Unbound(by_peer=False))
        if (self.state in _BOUND and self._enquire_seq is None
                and now >= self._last_heard + self.config.enquire_link_interval):
            self._enquire_seq = self._queue(EnquireLink(), now, None, counts=False)
        return events

    def connection_lost(self, reason: str = "connection lost") -> list[SessionEvent]:
        """The transport is gone: every pending request ends, written ones as unknown."""
        was_bound = self.state in _BOUND or self.state is _S.UNBINDING
        self.state = _S.CLOSED
        events: list[SessionEvent] = []
        self._window.fail_all(reason, events)
        if was_bound:
            events.append(ConnectionDead(reason))
        return events
