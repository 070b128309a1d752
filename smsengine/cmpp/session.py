"""A CMPP 2.0 / 3.0 connection as a sans-I/O state machine (SP side).

Section 11 of the CMPP reference (``/work/shared/specs/cmpp.md``): CONNECT and its
authenticators (4.1, 4.2, 5), the sliding window of outstanding requests (11.5, W = 16), request
timeouts (11.4, T), ACTIVE_TEST keepalive both ways (4.4, 4.5, 11.3: C, T, N), TERMINATE both
ways (4.3, 11.7), and answers to the ISMG's DELIVERs (4.11).

:class:`CmppSession` is a :class:`smsengine.link.Session` and reports the protocol-neutral
events of :mod:`smsengine.link` (``Bound``, ``ResponseReceived``, ``RequestFailed`` …), so the
asyncio adapter in :mod:`smsengine.bind` drives it without knowing the protocol::

    events = session.receive_data(data, now)       # bytes in, events out
    seq = session.send_request(Submit(...), now, token)
    transport.write(session.data_to_send())         # also marks queued requests as written
    session.handle_timer(now)                       # at session.next_deadline()

Every request ends in exactly one event: :class:`ResponseReceived` (whatever its Result,
Result 8 "flow control" included), or :class:`RequestFailed` whose error is a
:class:`~smsengine.cmpp.CmppNotSentError` (never written: safe to resend) or a
:class:`~smsengine.cmpp.CmppOutcomeUnknownError` (written, no response: the ISMG may have it).

No clock is read here: ``now`` is an argument, and the CONNECT Timestamp comes from the
``local_time`` passed to :meth:`CmppSession.bind` or from the configured ``clock``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any, Final, Literal

from ..link import (
    BindFailed,
    BindMode,
    Bound,
    ConnectionDead,
    IncomingRequest,
    Pending,
    ProtocolError,
    RequestFailed,
    ResponseReceived,
    SessionEvent,
    SessionStateError,
    Unbound,
    Window,
)
from ..link.window import BLOCKED
from .auth import LocalTime, authenticator_source, timestamp_now, verify_ismg
from .constants import RESPONSE_BIT, ConnectStatus, DeliverResult, SubmitResult, Version
from .errors import (
    CmppAuthenticationError,
    CmppNotSentError,
    CmppOutcomeUnknownError,
    FramingError,
    error_for_connect_status,
)
from .framer import DEFAULT_MAX_TOTAL_LENGTH, Framer, InvalidPdu
from .pdu import (
    ActiveTest,
    ActiveTestResp,
    Cancel,
    CancelResp,
    Connect,
    ConnectResp,
    Deliver,
    DeliverResp,
    Pdu,
    Query,
    Request,
    Response,
    Submit,
    SubmitResp,
    Terminate,
    TerminateResp,
    encode,
    encode_deliver_resp,
)

__all__ = [
    "MAX_SEQUENCE",
    "CmppSession",
    "CmppSessionConfig",
    "CmppSessionState",
    "VerifyIsmg",
]

#: Sequence_Id is a uint32; ours run 1..MAX_SEQUENCE and wrap (section 2).
MAX_SEQUENCE: Final = 0xFFFFFFFF

VerifyIsmg = Literal["warn", "fatal", "off"]


class CmppSessionState(enum.Enum):
    OPEN = "open"  # TCP connected, nothing sent
    CONNECTING = "connecting"  # CMPP_CONNECT sent, no CONNECT_RESP yet
    CONNECTED = "connected"  # CONNECT_RESP Status 0: traffic both ways
    TERMINATING = "terminating"  # our CMPP_TERMINATE sent, waiting for TERMINATE_RESP
    CLOSED = "closed"

    __hash__ = object.__hash__  # Enum.__hash__ is Python code; identity is enough


_S = CmppSessionState
_ANY = frozenset(CmppSessionState)

# Requests the application may send, by state (11.2: nothing but CONNECT before Status 0).
# CONNECT, TERMINATE and ACTIVE_TEST are not here: bind(), unbind() and the timer send them.
_OUTBOUND: Final[dict[type[Pdu], frozenset[CmppSessionState]]] = {
    Submit: frozenset({_S.CONNECTED}),
    Query: frozenset({_S.CONNECTED}),
    Cancel: frozenset({_S.CONNECTED}),
}
# Requests the ISMG may send us, by state. A DELIVER during our TERMINATE is still answered
# and passed on: rejecting it would only have the ISMG deliver it again later. ACTIVE_TEST and
# TERMINATE go either way (4.3, 4.4) and are answered whatever the state, CLOSED included:
# an ISMG may well send its own TERMINATE after answering ours, or after refusing the CONNECT,
# and only wants its TERMINATE_RESP before the connection closes.
_INBOUND: Final[dict[type[Pdu], frozenset[CmppSessionState]]] = {
    Deliver: frozenset({_S.CONNECTED, _S.TERMINATING}),
    ActiveTest: _ANY,
    Terminate: _ANY,
}


class CmppSessionConfig:
    """What a CMPP connection is configured with. Times are seconds.

    ``source_addr`` is the SP_Id / login account of CONNECT, ``shared_secret`` the password.
    ``window`` is W (11.5), ``response_timeout`` T for SUBMIT & co (11.4); the keepalive sends
    an ACTIVE_TEST after ``active_test_interval`` (C) without hearing from the ISMG, waits
    ``active_test_timeout`` (T) for its response and gives the connection up after
    ``active_test_misses`` (N) unanswered tests (11.3). ``verify_ismg`` is what a wrong
    AuthenticatorISMG does: "warn" (a ProtocolError event), "fatal" (the connect fails with
    :class:`~smsengine.cmpp.CmppAuthenticationError`) or "off" (section 5 advises "warn").
    ``clock`` returns the local (China) time for the CONNECT Timestamp when :meth:`CmppSession.bind`
    is not given one; the asyncio bind supplies ``time.localtime`` when it is None.

    ``system_id`` and ``enquire_link_interval`` are ``source_addr`` and
    ``active_test_interval`` under the names the protocol-neutral bind machinery reads.
    """

    __slots__ = (
        "active_test_interval",
        "active_test_misses",
        "active_test_timeout",
        "auto_ack",
        "clock",
        "max_total_length",
        "response_timeout",
        "shared_secret",
        "source_addr",
        "verify_ismg",
        "version",
        "window",
    )

    def __init__(
        self,
        source_addr: str,
        shared_secret: str = "",
        *,
        version: int = Version.V30,
        window: int = 16,
        response_timeout: float = 60.0,
        active_test_interval: float = 180.0,
        active_test_timeout: float = 60.0,
        active_test_misses: int = 3,
        verify_ismg: VerifyIsmg = "warn",
        auto_ack: bool = True,
        clock: Callable[[], LocalTime] | None = None,
        max_total_length: int = DEFAULT_MAX_TOTAL_LENGTH,
    ) -> None:
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        for name, value in (
            ("response_timeout", response_timeout),
            ("active_test_interval", active_test_interval),
            ("active_test_timeout", active_test_timeout),
        ):
            if value <= 0:
                raise ValueError(f"{name} must be > 0, got {value}")
        if active_test_misses < 1:
            raise ValueError(f"active_test_misses must be >= 1, got {active_test_misses}")
        if verify_ismg not in ("warn", "fatal", "off"):
            raise ValueError(f"verify_ismg must be 'warn', 'fatal' or 'off', got {verify_ismg!r}")
        if not 0 <= version <= 0xFF:
            raise ValueError(f"version must be one octet, got {version}")
        self.source_addr = source_addr
        self.shared_secret = shared_secret
        self.version = version
        self.window = window
        self.response_timeout = response_timeout
        self.active_test_interval = active_test_interval
        self.active_test_timeout = active_test_timeout
        self.active_test_misses = active_test_misses
        self.verify_ismg: VerifyIsmg = verify_ismg
        self.auto_ack = auto_ack
        self.clock = clock
        self.max_total_length = max_total_length
        # Build a CONNECT now, so a bad source_addr (over 6 octets) fails here, not on connect.
        self.connect_pdu(0)

    @property
    def system_id(self) -> str:
        return self.source_addr

    @property
    def enquire_link_interval(self) -> float:
        return self.active_test_interval

    def connect_pdu(self, timestamp: int) -> Connect:
        """The CMPP_CONNECT for ``timestamp`` (MMDDHHMMSS as an integer, section 4.1)."""
        return Connect(
            source_addr=self.source_addr,
            authenticator_source=authenticator_source(
                self.source_addr, self.shared_secret, timestamp
            ),
            version=self.version,
            timestamp=timestamp,
        )


class CmppSession:
    """One CMPP connection's protocol state; see the module docstring."""

    def __init__(
        self,
        config: CmppSessionConfig,
        now: float = 0.0,
        *,
        clock: Callable[[], LocalTime] | None = None,
    ) -> None:
        self.config = config
        self.state = CmppSessionState.OPEN
        #: The layout in use: the configured Version until CONNECT_RESP says the ISMG speaks
        #: a lower one (then that one).
        self.version = config.version
        #: The Version octet of the ISMG's CONNECT_RESP (None before it).
        self.ismg_version: int | None = None
        self._clock = clock if clock is not None else config.clock
        self._framer = Framer(config.version, config.max_total_length)
        # Sequence_Ids, outstanding requests, output and "written" (smsengine.link). Our
        # ACTIVE_TEST in flight is kept out of its pending requests (its timeout, T of 11.3,
        # may differ from response_timeout, and they must stay in deadline order), but its
        # Sequence_Id is reserved there: ``_window.reserved``.
        self._window = Window(config.window, config.response_timeout, MAX_SEQUENCE,
                              not_sent=CmppNotSentError, unknown=CmppOutcomeUnknownError,
                              peer="the ISMG", resp="_RESP")
        self._last_heard = now
        self._timeout = config.response_timeout
        self._auth_source = b""
        self._active_deadline = 0.0
        self._active_sent = 0.0
        self._active_generation = 0
        self._active_misses = 0

    # --- state --------------------------------------------------------------------------------

    @property
    def is_bound(self) -> bool:
        return self.state is _S.CONNECTED

    @property
    def can_submit(self) -> bool:
        return self.state is _S.CONNECTED

    @property
    def window_free(self) -> int:
        """How many more user requests fit in the window now."""
        return self._window.free

    @property
    def outstanding(self) -> int:
        return len(self._window.pending)

    @property
    def _active_seq(self) -> int | None:
        """The Sequence_Id of our ACTIVE_TEST in flight, if any."""
        return self._window.reserved

    # --- requests -----------------------------------------------------------------------------

    def bind(self, now: float, local_time: LocalTime | None = None) -> int:
        """Queue CMPP_CONNECT (the connection just opened). ``local_time`` (China time) gives
        the Timestamp; without it the configured ``clock`` is asked."""
        if self.state is not _S.OPEN:
            raise SessionStateError(f"cannot connect in state {self.state.value}")
        if local_time is None:
            if self._clock is None:
                raise SessionStateError("no local time for the CONNECT Timestamp: pass "
                                        "local_time or configure a clock")
            local_time = self._clock()
        pdu = self.config.connect_pdu(timestamp_now(local_time))
        self._auth_source = pdu.authenticator_source
        self.state = _S.CONNECTING
        return self._queue(pdu, now, None, counts=False)

    def unbind(self, now: float) -> int | None:
        """Queue CMPP_TERMINATE; requests in flight still get their responses or time out.
        None when not connected (nothing to terminate)."""
        if self.state is not _S.CONNECTED:
            return None
        self.state = _S.TERMINATING
        return self._queue(Terminate(), now, None, counts=False)

    def send_request(self, request: Any, now: float, token: Any = None) -> int:
        """Queue a SUBMIT (QUERY, CANCEL); returns its Sequence_Id. Raises
        :class:`~smsengine.link.SessionStateError` when the state does not allow it,
        :class:`~smsengine.cmpp.CmppNotSentError` when the window is full, and
        :class:`~smsengine.cmpp.InvalidPduError` when it does not fit the Version in use —
        in every case nothing was queued."""
        allowed = _OUTBOUND.get(type(request))
        if allowed is None or self.state not in allowed:
            name = getattr(request, "command_name", type(request).__name__)
            hint = "; use bind() / unbind()" if isinstance(request, (Connect, Terminate)) else ""
            raise SessionStateError(f"{name} not allowed in state {self.state.value}{hint}")
        self._window.check_room()
        return self._queue(request, now, token, counts=True)

    def send_requests(self, requests: list[Any], tokens: list[Any], now: float) -> int:
        """Queue ``requests[i]`` with ``tokens[i]`` in order while the window has room;
        returns how many were queued (errors as :meth:`send_request`, the requests before
        the failing one staying queued)."""
        count = min(self._window.free, len(requests))
        for i in range(max(count, 0)):
            self.send_request(requests[i], now, tokens[i])
        return max(count, 0)

    def _queue(self, request: Request, now: float, token: Any, *, counts: bool) -> int:
        window = self._window
        seq = window.next_seq()
        # (Encoded before it is numbered in the window: a SUBMIT that does not fit the
        # Version raises here with nothing queued.)
        data = encode(request, self.version, sequence_id=seq)
        return window.add(seq, request, data, now, token, counts=counts)

    def respond(self, request: Any, command_status: int = 0, **fields: Any) -> None:
        """Answer one of the ISMG's requests when not auto-acknowledged: a DELIVER with
        DELIVER_RESP Result ``command_status`` (its Msg_Id echoed)."""
        if isinstance(request, Deliver):
            fields.setdefault("result", command_status)
        self._window.out.append(encode(request.response(**fields), self.version))

    def _send_active_test(self, now: float) -> None:
        window = self._window
        seq = window.next_seq()
        window.out.append(encode(ActiveTest(), self.version, sequence_id=seq))
        window.reserved = seq
        self._active_sent = now
        self._active_deadline = now + self.config.active_test_timeout
        self._active_generation = window.generation

    # --- output -------------------------------------------------------------------------------

    def data_to_send(self) -> bytes:
        """Everything queued since the last call, as one write. Requests in it count as
        written from now on: if the connection drops, their outcome is unknown."""
        return self._window.data_to_send()

    # --- input --------------------------------------------------------------------------------

    def receive_data(self, data: bytes, now: float) -> list[SessionEvent]:
        """Feed received bytes; returns what happened, in order."""
        window = self._window
        dead = None
        mark = 0
        try:
            pdus = self._framer.feed(data)
        except FramingError as exc:
            # The stream is broken, but the PDUs that came whole before the bad length are
            # answered and settled first (an accepted SUBMIT must not end unknown, a DELIVER
            # must be acked); the ConnectionDead after them, carrying their answers (what is
            # queued from ``mark`` on), closes the connection.
            pdus, dead, mark = exc.events, str(exc), len(window.out)
        self._last_heard = now
        events: list[SessionEvent] = []
        pending = window.pending
        pdu: Any
        for pdu in pdus:
            cls = type(pdu)
            if cls is SubmitResp or isinstance(pdu, Response):
                entry = pending.get(pdu.sequence_id)
                if entry is None or entry.request.response_class is not cls:
                    self._unmatched(pdu, events)
                    continue
                del pending[pdu.sequence_id]
                if entry.counts:  # a user request: the hot path
                    window.in_window -= 1
                    events.append(ResponseReceived(entry.request, pdu, entry.token))
                    continue
                self._internal_response(entry, pdu, events)
            elif cls is InvalidPdu:
                self._invalid(pdu, events)
            else:
                self._incoming(pdu, events)
        if dead is not None:
            events.append(ConnectionDead(dead, answers=window.cut(mark)))
        return events

    def _unmatched(self, pdu: Any, events: list[SessionEvent]) -> None:
        if type(pdu) is ActiveTestResp:
            # Ours, or a late answer to one we already gave up on: either way the ISMG lives.
            if pdu.sequence_id == self._window.reserved:
                self._window.reserved = None
            self._active_misses = 0
            return
        events.append(ProtocolError("response to no request of ours", pdu))

    def _invalid(self, pdu: InvalidPdu, events: list[SessionEvent]) -> None:
        window = self._window
        if pdu.response is not None:
            # A request we could not decode (e.g. a malformed DELIVER): answer it with an error
            # Result, so the ISMG neither waits nor re-sends forever.
            window.out.append(encode(pdu.response, self.version))
        elif pdu.command_id & RESPONSE_BIT:
            # A response we could not decode: settle the request it answered.
            entry = window.pending.get(pdu.sequence_id)
            if (entry is not None
                    and entry.request.response_class.command_id == pdu.command_id):
                window.take(pdu.sequence_id)
                if entry.counts:
                    events.append(RequestFailed(entry.request, CmppOutcomeUnknownError(
                        f"undecodable response: {pdu.error}"), entry.token))
                elif type(entry.request) is Connect:
                    self.state = _S.CLOSED
                    status = pdu.status if pdu.status > 0 else ConnectStatus.STRUCTURE_ERROR
                    events.append(BindFailed(status, error_for_connect_status(
                        status, f"undecodable CONNECT_RESP: {pdu.error}")))
                else:  # TERMINATE: it was answered, however badly
                    self._terminated(events, by_peer=False)
        events.append(ProtocolError(str(pdu.error), pdu))

    def _internal_response(self, entry: Pending, pdu: Any, events: list[SessionEvent]) -> None:
        if type(pdu) is ConnectResp:
            self._connect_resp(pdu, events)
        else:  # TerminateResp
            self._terminated(events, by_peer=False)

    def _terminated(self, events: list[SessionEvent], *, by_peer: bool) -> None:
        # The TERMINATEs may cross (each side sends its own, 11.7): the session ends once.
        if self.state is not _S.CLOSED:
            self.state = _S.CLOSED
            events.append(Unbound(by_peer=by_peer))

    def _connect_resp(self, pdu: Any, events: list[SessionEvent]) -> None:
        self.ismg_version = pdu.version
        if pdu.status != ConnectStatus.OK:
            self.state = _S.CLOSED
            events.append(BindFailed(pdu.status, error_for_connect_status(pdu.status)))
            return
        policy = self.config.verify_ismg
        if policy != "off" and not verify_ismg(
            pdu.authenticator_ismg, pdu.status, self._auth_source, self.config.shared_secret
        ):
            detail = "AuthenticatorISMG does not match: wrong shared secret, or not our ISMG"
            if policy == "fatal":
                self.state = _S.CLOSED
                status = ConnectStatus.AUTHENTICATION_FAILED
                events.append(BindFailed(status, CmppAuthenticationError(status, detail)))
                return
            events.append(ProtocolError(detail, pdu))
        # A 2.x ISMG asked for 3.0 speaks 2.0 layouts; otherwise keep ours (a gateway has been
        # seen answering 0x12, section 4.2: responses are parsed by length regardless).
        if 0x20 <= pdu.version < self.version:
            self.version = pdu.version
            self._framer.version = pdu.version
        self.state = _S.CONNECTED
        events.append(Bound(BindMode.TRANSCEIVER, f"ISMG Version 0x{pdu.version:02X}"))

    def _incoming(self, pdu: Any, events: list[SessionEvent]) -> None:
        cls = type(pdu)
        allowed = _INBOUND.get(cls)
        if allowed is None or self.state not in allowed:
            self._reject(pdu, events)
            return
        out = self._window.out
        if cls is Deliver:
            acked = self.config.auto_ack
            if acked:
                out.append(encode_deliver_resp(pdu.sequence_id, pdu.msg_id, 0, self.version))
            events.append(IncomingRequest(pdu, acked))
        elif cls is ActiveTest:
            out.append(encode(ActiveTestResp(sequence_id=pdu.sequence_id), self.version))
        else:  # Terminate: the ISMG ends the connection (4.3, 11.7); answer, then close
            out.append(encode(TerminateResp(sequence_id=pdu.sequence_id), self.version))
            self._terminated(events, by_peer=True)

    def _reject(self, pdu: Any, events: list[SessionEvent]) -> None:
        seq = pdu.sequence_id
        response: Response | None
        if isinstance(pdu, Deliver):  # before CONNECT_RESP: not ours to take yet
            response = DeliverResp(sequence_id=seq, msg_id=pdu.msg_id, result=DeliverResult.OTHER)
            detail = f"CMPP_DELIVER not allowed in state {self.state.value}"
        else:  # SUBMIT, CONNECT, QUERY, CANCEL go to an ISMG, never to an SP
            if isinstance(pdu, Submit):
                response = SubmitResp(sequence_id=seq, result=SubmitResult.COMMAND_ERROR)
            elif isinstance(pdu, Cancel):
                response = CancelResp(sequence_id=seq, success_id=1)
            elif isinstance(pdu, Connect):
                response = ConnectResp(sequence_id=seq, status=ConnectStatus.STRUCTURE_ERROR,
                                       version=self.version)
            else:  # QUERY_RESP has no field to carry an error
                response = None
            detail = f"ISMG sent {pdu.command_name}, an SP-to-ISMG PDU"
        if response is not None:
            self._window.out.append(encode(response, self.version))
        events.append(ProtocolError(detail, pdu))

    # --- time ---------------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timer` must next run (None: nothing to wait for)."""
        if self.state is _S.CLOSED:
            return None
        deadline = self._window.next_deadline()
        if self._window.reserved is not None:
            keepalive: float | None = self._active_deadline
        elif self.state is _S.CONNECTED:
            keepalive = self._last_heard + self.config.active_test_interval
        else:
            keepalive = None
        if keepalive is not None and (deadline is None or keepalive < deadline):
            deadline = keepalive
        return deadline

    def handle_timer(self, now: float) -> list[SessionEvent]:
        """Expire requests past their deadline and keep the link alive (11.3, 11.4)."""
        events: list[SessionEvent] = []
        window = self._window
        while (entry := window.expire(now, events)) is not None:
            if entry is BLOCKED:
                return events
            # One of ours (a SUBMIT's timeout is in events already).
            if type(entry.request) is Connect:
                events.append(ConnectionDead(f"no CMPP_CONNECT_RESP within {self._timeout:g}s"))
                return events
            self._terminated(events, by_peer=False)  # TERMINATE unanswered: done all the same
        config = self.config
        if window.reserved is not None:
            if now >= self._active_deadline:
                if self._active_generation >= window.generation:
                    events.append(ConnectionDead(
                        f"could not write for {config.active_test_timeout:g}s: "
                        "the ISMG is not reading"))
                    return events
                window.reserved = None
                if self._last_heard > self._active_sent:
                    # No ACTIVE_TEST_RESP, but the ISMG is talking (some simulators answer a
                    # test with a test): alive. The next test is due C after we last heard it.
                    self._active_misses = 0
                else:
                    self._active_misses += 1
                    if self._active_misses >= config.active_test_misses:
                        events.append(ConnectionDead(
                            f"{self._active_misses} CMPP_ACTIVE_TESTs unanswered for "
                            f"{config.active_test_timeout:g}s each: the ISMG is dead"))
                        return events
                    if self.state is _S.CONNECTED:
                        self._send_active_test(now)  # 11.3: "send again immediately"
        elif (self.state is _S.CONNECTED
              and now >= self._last_heard + config.active_test_interval):
            self._send_active_test(now)
        return events

    def connection_lost(self, reason: str = "connection lost") -> list[SessionEvent]:
        """The transport is gone: every pending request ends, written ones as unknown."""
        was_bound = self.state is _S.CONNECTED or self.state is _S.TERMINATING
        self.state = _S.CLOSED
        events: list[SessionEvent] = []
        self._window.fail_all(reason, events)
        self._window.reserved = None
        if was_bound:
            events.append(ConnectionDead(reason))
        return events
