"""An SMGP 3.0 (2.0, 1.3) connection as a sans-I/O state machine (SP side).

Section 12 of the SMGP reference (``/work/shared/specs/smgp.md``): Login with the MD5
authenticator (4.1, 4.2, 6), the window of outstanding requests (12.3, W = 16), request
timeouts (12.4, T), Active_Test keepalive both ways (4.7, 12.2: C, T, N), Exit both ways (4.7,
12.1), and answers to the SMGW's Delivers (4.5, 4.6): MO messages and status reports
(IsReport = 1, section 9).

:class:`SmgpSession` is a :class:`smsengine.link.Session` and reports the protocol-neutral
events of :mod:`smsengine.link`, so the asyncio adapter in :mod:`smsengine.bind` drives it
without knowing the protocol::

    events = session.receive_data(data, now)       # bytes in, events out
    seq = session.send_request(Submit(...), now, token)
    transport.write(session.data_to_send())         # also marks queued requests as written
    session.handle_timer(now)                       # at session.next_deadline()

Every request ends in exactly one event: :class:`ResponseReceived` (whatever its Status,
1 "system busy" included), or :class:`RequestFailed` whose error is a
:class:`~smsengine.smgp.SmgpNotSentError` (never written: safe to resend) or a
:class:`~smsengine.smgp.SmgpOutcomeUnknownError` (written, no response: the SMGW may have it).

No clock is read here: ``now`` is an argument, and the Login TimeStamp comes from the
``local_time`` passed to :meth:`SmgpSession.bind` or from the configured ``clock``.
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
    ReceiptReceived,
    RequestFailed,
    ResponseReceived,
    SessionEvent,
    SessionStateError,
    Unbound,
    Window,
)
from ..link.window import BLOCKED
from .auth import LocalTime, authenticator_client, timestamp_now, verify_server
from .constants import MAX_MSG_LENGTH, RESPONSE_BIT, LoginMode, Status, Version
from .errors import (
    FramingError,
    SmgpAuthenticationError,
    SmgpNotSentError,
    SmgpOutcomeUnknownError,
    error_for_login_status,
)
from .framer import DEFAULT_MAX_PACKET_LENGTH, Framer, InvalidPdu
from .pdu import (
    ActiveTest,
    ActiveTestResp,
    Deliver,
    DeliverReceipt,
    DeliverResp,
    EncodedSubmit,
    Exit,
    ExitResp,
    Login,
    LoginResp,
    Pdu,
    Query,
    QueryResp,
    Request,
    Response,
    Submit,
    SubmitResp,
    encode,
    encode_deliver_resp,
)

__all__ = ["MAX_SEQUENCE", "SmgpSession", "SmgpSessionConfig", "SmgpSessionState",
           "VerifyServer"]

#: SequenceID is a uint32; ours run 1..MAX_SEQUENCE and wrap (section 2).
MAX_SEQUENCE: Final = 0xFFFFFFFF

VerifyServer = Literal["warn", "fatal", "off"]

_MODES: Final = {
    LoginMode.SEND: BindMode.TRANSMITTER,
    LoginMode.RECEIVE: BindMode.RECEIVER,
    LoginMode.TRANSMIT: BindMode.TRANSCEIVER,
}


class SmgpSessionState(enum.Enum):
    OPEN = "open"  # TCP connected, nothing sent
    LOGGING_IN = "logging_in"  # Login sent, no Login_Resp yet
    BOUND = "bound"  # Login_Resp Status 0: traffic
    EXITING = "exiting"  # our Exit sent, waiting for Exit_Resp
    CLOSED = "closed"

    __hash__ = object.__hash__  # Enum.__hash__ is Python code; identity is enough


_S = SmgpSessionState
_ANY = frozenset(SmgpSessionState)
# The state and mode the per-message paths test, as module globals: an enum member read off
# its class costs 100-160 ns (timeit, Python 3.11), a global 10; a few a message.
_BOUND: Final = _S.BOUND
_RECEIVE: Final = int(LoginMode.RECEIVE)

# Requests the application may send, by state. Login, Exit and Active_Test are not here:
# bind(), unbind() and the timer send them.
_OUTBOUND: Final[dict[type[Pdu] | type[EncodedSubmit], frozenset[SmgpSessionState]]] = {
    Submit: frozenset({_S.BOUND}),
    EncodedSubmit: frozenset({_S.BOUND}),
    Query: frozenset({_S.BOUND}),
}
# Requests the SMGW may send us, by state. A Deliver during our Exit is still answered and
# passed on (refused, the SMGW would only deliver it again later). Active_Test and Exit go
# either way (4.7) and are answered whatever the state: an SMGW may send its own Exit after
# answering ours or after refusing the Login, and only wants its Exit_Resp.
_INBOUND: Final[dict[type[Pdu], frozenset[SmgpSessionState]]] = {
    Deliver: frozenset({_S.BOUND, _S.EXITING}),
    ActiveTest: _ANY,
    Exit: _ANY,
}


class SmgpSessionConfig:
    """What an SMGP connection is configured with. Times are seconds.

    ``client_id`` is the Login ClientID (at most 8 octets), ``shared_secret`` the password of
    the authenticator (section 6). ``version`` the ClientVersion (0x30, 0x20 or 0x13);
    ``login_mode`` 0 send, 1 receive, 2 both (the default). ``window`` is W (12.3),
    ``response_timeout`` T for Submit and Query (12.4); the keepalive sends an Active_Test
    after ``active_test_interval`` (C) without hearing from the SMGW, waits
    ``active_test_timeout`` (T) for its response and gives the connection up after
    ``active_test_misses`` (N) unanswered tests (12.2). ``verify_server`` is what a wrong
    AuthenticatorServer does: "warn" (a ProtocolError event; section 6 advises it, gateways
    disagree on its form), "fatal" (the login fails with
    :class:`~smsengine.smgp.SmgpAuthenticationError`) or "off". ``compact_tlvs`` sends
    LinkID / MsgSrc / MServiceID unpadded; ``max_msg_length`` caps MsgContent (140).
    ``receipts`` (with ``auto_ack``): a Deliver whose status report says ``DELIVRD`` is
    answered and reported as a :class:`~smsengine.link.ReceiptReceived` carrying a
    :class:`~smsengine.smgp.pdu.DeliverReceipt` (its ids, the rest unread) rather than whole,
    for a client that only correlates reports; any other Deliver still comes whole.
    ``clock`` returns the local (China) time for the Login TimeStamp when
    :meth:`SmgpSession.bind` is not given one; the asyncio bind supplies ``time.localtime``.

    ``system_id`` and ``enquire_link_interval`` are ``client_id`` and
    ``active_test_interval`` under the names the protocol-neutral bind machinery reads.
    """

    __slots__ = (
        "active_test_interval",
        "active_test_misses",
        "active_test_timeout",
        "auto_ack",
        "client_id",
        "clock",
        "compact_tlvs",
        "login_mode",
        "max_msg_length",
        "max_packet_length",
        "receipts",
        "response_timeout",
        "shared_secret",
        "verify_server",
        "version",
        "window",
    )

    def __init__(
        self,
        client_id: str,
        shared_secret: str = "",
        *,
        version: int = Version.V30,
        login_mode: int = LoginMode.TRANSMIT,
        window: int = 16,
        response_timeout: float = 60.0,
        active_test_interval: float = 180.0,
        active_test_timeout: float = 60.0,
        active_test_misses: int = 3,
        verify_server: VerifyServer = "warn",
        auto_ack: bool = True,
        clock: Callable[[], LocalTime] | None = None,
        max_packet_length: int = DEFAULT_MAX_PACKET_LENGTH,
        compact_tlvs: bool = False,
        max_msg_length: int = MAX_MSG_LENGTH,
        receipts: bool = False,
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
        if verify_server not in ("warn", "fatal", "off"):
            raise ValueError(
                f"verify_server must be 'warn', 'fatal' or 'off', got {verify_server!r}")
        if login_mode not in _MODES:
            raise ValueError(f"login_mode must be 0, 1 or 2, got {login_mode}")
        if len(shared_secret.encode("latin-1")) > 15:
            raise ValueError("shared_secret: at most 15 octets (section 6)")
        self.client_id = client_id
        self.shared_secret = shared_secret
        self.version = version
        self.login_mode = login_mode
        self.window = window
        self.response_timeout = response_timeout
        self.active_test_interval = active_test_interval
        self.active_test_timeout = active_test_timeout
        self.active_test_misses = active_test_misses
        self.verify_server: VerifyServer = verify_server
        self.auto_ack = auto_ack
        self.clock = clock
        self.max_packet_length = max_packet_length
        self.compact_tlvs = compact_tlvs
        self.max_msg_length = max_msg_length
        self.receipts = receipts
        # Build a Login now, so a bad client_id (over 8 octets) or version fails here.
        self.login_pdu(0)

    @property
    def system_id(self) -> str:
        return self.client_id

    @property
    def enquire_link_interval(self) -> float:
        return self.active_test_interval

    def login_pdu(self, timestamp: int) -> Login:
        """The Login for ``timestamp`` (MMDDHHMMSS as an integer, section 4.1)."""
        return Login(
            client_id=self.client_id,
            authenticator_client=authenticator_client(
                self.client_id, self.shared_secret, timestamp),
            login_mode=self.login_mode,
            timestamp=timestamp,
            client_version=self.version,
        )


class SmgpSession:
    """One SMGP connection's protocol state; see the module docstring."""

    def __init__(
        self,
        config: SmgpSessionConfig,
        now: float = 0.0,
        *,
        clock: Callable[[], LocalTime] | None = None,
    ) -> None:
        self.config = config
        self.state = SmgpSessionState.OPEN
        #: The version in use: the configured ClientVersion until Login_Resp says the SMGW
        #: speaks a lower one (then that one: 2.0 sends no TLVs, 1.3 no FixedFee either).
        self.version = config.version
        #: The ServerVersion of the SMGW's Login_Resp (None before it).
        self.server_version: int | None = None
        self._clock = clock if clock is not None else config.clock
        self._framer = Framer(config.version, config.max_packet_length)
        # (Reports read apart only when they are acked here: the answer needs no whole PDU.)
        self._feed = (self._framer.feed_receipts if config.receipts and config.auto_ack
                      else self._framer.feed)
        # SequenceIDs, outstanding requests, output and "written" (smsengine.link). Our
        # Active_Test in flight is kept out of the pending requests (its timeout, T of 12.2,
        # may differ from response_timeout, and they must stay in deadline order); its
        # SequenceID is reserved there: ``_window.reserved``.
        self._window = Window(config.window, config.response_timeout, MAX_SEQUENCE,
                              not_sent=SmgpNotSentError, unknown=SmgpOutcomeUnknownError,
                              peer="the SMGW", resp="_Resp")
        self._compact = config.compact_tlvs
        self._max_msg_length = config.max_msg_length
        self._last_heard = now
        self._timeout = config.response_timeout
        self._auth_client = b""
        self._active_deadline = 0.0
        self._active_sent = 0.0
        self._active_generation = 0
        self._active_misses = 0

    # --- state --------------------------------------------------------------------------------

    @property
    def is_bound(self) -> bool:
        return self.state is _BOUND

    @property
    def can_submit(self) -> bool:
        return self.state is _BOUND and self.config.login_mode != _RECEIVE

    @property
    def window_free(self) -> int:
        """How many more user requests fit in the window now."""
        return self._window.free

    @property
    def outstanding(self) -> int:
        return len(self._window.pending)

    # --- requests -----------------------------------------------------------------------------

    def bind(self, now: float, local_time: LocalTime | None = None) -> int:
        """Queue the Login (the connection just opened). ``local_time`` (China time) gives the
        TimeStamp; without it the configured ``clock`` is asked."""
        if self.state is not _S.OPEN:
            raise SessionStateError(f"cannot log in in state {self.state.value}")
        if local_time is None:
            if self._clock is None:
                raise SessionStateError("no local time for the Login TimeStamp: pass "
                                        "local_time or configure a clock")
            local_time = self._clock()
        pdu = self.config.login_pdu(timestamp_now(local_time))
        self._auth_client = pdu.authenticator_client
        self.state = _S.LOGGING_IN
        return self._queue(pdu, now, None, counts=False)

    def unbind(self, now: float) -> int | None:
        """Queue Exit; requests in flight still get their responses or time out. None when
        not logged in (nothing to end)."""
        if self.state is not _S.BOUND:
            return None
        self.state = _S.EXITING
        return self._queue(Exit(), now, None, counts=False)

    def send_request(self, request: Any, now: float, token: Any = None) -> int:
        """Queue a Submit (or an :class:`~smsengine.smgp.EncodedSubmit`, or a Query);
        returns its SequenceID. Raises
        :class:`~smsengine.link.SessionStateError` when the state (or a receive-only login)
        does not allow it, :class:`~smsengine.smgp.SmgpNotSentError` when the window is full,
        and :class:`~smsengine.smgp.InvalidPduError` when it does not fit — in every case
        nothing was queued."""
        allowed = _OUTBOUND.get(type(request))
        if allowed is None or self.state not in allowed or not self.can_submit:
            name = getattr(request, "command_name", type(request).__name__)
            hint = "; use bind() / unbind()" if isinstance(request, (Login, Exit)) else ""
            if self.state is _BOUND and allowed is not None:
                hint = " on a receive-only login (LoginMode 1)"
            raise SessionStateError(f"{name} not allowed in state {self.state.value}{hint}")
        self._window.check_room()
        return self._queue(request, now, token, counts=True)

    def send_requests(self, requests: list[Any], tokens: list[Any], now: float) -> int:
        """Queue ``requests[i]`` with ``tokens[i]`` in order while the window has room;
        returns how many were queued (errors as :meth:`send_request`, the requests before
        the failing one staying queued)."""
        count = max(min(self._window.free, len(requests)), 0)
        for i in range(count):
            self.send_request(requests[i], now, tokens[i])
        return count

    def _queue(self, request: Request | EncodedSubmit, now: float, token: Any, *,
               counts: bool) -> int:
        window = self._window
        seq = window.next_seq()
        # (Encoded before it is numbered in the window: a Submit that does not fit raises
        # here with nothing queued.)
        if isinstance(request, EncodedSubmit):  # (a template's: validated, the body encoded)
            data = request.encode(seq)
        else:
            data = encode(request, self.version, sequence_id=seq, compact_tlvs=self._compact,
                          max_msg_length=self._max_msg_length)
        return window.add(seq, request, data, now, token, counts=counts)

    def respond(self, request: Any, command_status: int = 0, **fields: Any) -> None:
        """Answer one of the SMGW's requests when not auto-acknowledged: a Deliver with a
        Deliver_Resp of Status ``command_status`` (its MsgID echoed)."""
        if isinstance(request, Deliver):
            fields.setdefault("status", command_status)
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
            pdus = self._feed(data)
        except FramingError as exc:
            # The stream is broken, but the PDUs that came whole before the bad length are
            # answered and settled first (an accepted Submit must not end unknown, a Deliver
            # must be answered); the ConnectionDead after them carries their answers.
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
            elif cls is DeliverReceipt:  # (only with the config's ``receipts``, and auto_ack)
                if self.state is _BOUND:
                    window.out.append(encode_deliver_resp(pdu.sequence_id, pdu.msg_id, 0))
                    events.append(ReceiptReceived(pdu))
                else:
                    self._incoming(pdu.pdu(self.version), events)  # (refused, whole)
            elif cls is Deliver and self.state is _BOUND:  # the hot path: reports, MO
                acked = self.config.auto_ack
                if acked:
                    window.out.append(encode_deliver_resp(pdu.sequence_id, pdu.msg_id, 0))
                events.append(IncomingRequest(pdu, acked))
            elif cls is InvalidPdu:
                self._invalid(pdu, events)
            else:
                self._incoming(pdu, events)
        if dead is not None:
            events.append(ConnectionDead(dead, answers=window.cut(mark)))
        return events

    def _unmatched(self, pdu: Any, events: list[SessionEvent]) -> None:
        if type(pdu) is ActiveTestResp:
            # Ours, or a late answer to one we already gave up on: either way the SMGW lives.
            if pdu.sequence_id == self._window.reserved:
                self._window.reserved = None
            self._active_misses = 0
            return
        events.append(ProtocolError("response to no request of ours", pdu))

    def _invalid(self, pdu: InvalidPdu, events: list[SessionEvent]) -> None:
        window = self._window
        if pdu.response is not None:
            # A request we could not decode (a malformed Deliver): answer it with an error
            # Status, so the SMGW neither waits nor re-sends forever.
            window.out.append(encode(pdu.response, self.version))
        elif pdu.request_id & RESPONSE_BIT:
            # A response we could not decode: settle the request it answered.
            entry = window.pending.get(pdu.sequence_id)
            if (entry is not None
                    and entry.request.response_class.request_id == pdu.request_id):
                window.take(pdu.sequence_id)
                if entry.counts:
                    events.append(RequestFailed(entry.request, SmgpOutcomeUnknownError(
                        f"undecodable response: {pdu.error}"), entry.token))
                elif type(entry.request) is Login:
                    self.state = _S.CLOSED
                    status = (pdu.status if pdu.status > 0
                              else Status.MESSAGE_STRUCTURE_ERROR)
                    events.append(BindFailed(status, error_for_login_status(
                        status, f"undecodable Login_Resp: {pdu.error}")))
                else:  # Exit: it was answered, however badly
                    self._exited(events, by_peer=False)
        events.append(ProtocolError(str(pdu.error), pdu))

    def _internal_response(self, entry: Pending, pdu: Any, events: list[SessionEvent]) -> None:
        if type(pdu) is LoginResp:
            self._login_resp(pdu, events)
        else:  # ExitResp
            self._exited(events, by_peer=False)

    def _exited(self, events: list[SessionEvent], *, by_peer: bool) -> None:
        # The Exits may cross (each side sends its own): the session ends once.
        if self.state is not _S.CLOSED:
            self.state = _S.CLOSED
            events.append(Unbound(by_peer=by_peer))

    def _login_resp(self, pdu: LoginResp, events: list[SessionEvent]) -> None:
        self.server_version = pdu.server_version
        if pdu.status != Status.OK:
            # Every non-zero Status is a failure (section 10), whatever the gateway meant.
            self.state = _S.CLOSED
            events.append(BindFailed(pdu.status, error_for_login_status(pdu.status)))
            return
        policy = self.config.verify_server
        if policy != "off" and not verify_server(
            pdu.authenticator_server, pdu.status, self._auth_client, self.config.shared_secret
        ):
            detail = ("AuthenticatorServer does not match: wrong shared secret, or not our "
                      "SMGW")
            if policy == "fatal":
                self.state = _S.CLOSED
                status = Status.AUTHENTICATION_ERROR
                events.append(BindFailed(status, SmgpAuthenticationError(status, detail)))
                return
            events.append(ProtocolError(detail, pdu))
        # An SMGW that speaks a lower version gets its own layouts (2.0: no TLVs; 1.3: no
        # FixedFee either); a higher or odd one leaves ours as configured.
        if Version.V13 <= pdu.server_version < self.version:
            self.version = pdu.server_version
            self._framer.version = pdu.server_version
        self.state = _S.BOUND
        mode = _MODES[LoginMode(self.config.login_mode)]
        events.append(Bound(mode, f"SMGW version 0x{pdu.server_version:02X}"))

    def _incoming(self, pdu: Any, events: list[SessionEvent]) -> None:
        cls = type(pdu)
        allowed = _INBOUND.get(cls)
        if allowed is None or self.state not in allowed:
            self._reject(pdu, events)
            return
        out = self._window.out
        if cls is Deliver:  # (during our Exit; when bound, receive_data answered it)
            acked = self.config.auto_ack
            if acked:
                out.append(encode_deliver_resp(pdu.sequence_id, pdu.msg_id, 0))
            events.append(IncomingRequest(pdu, acked))
        elif cls is ActiveTest:
            out.append(encode(ActiveTestResp(sequence_id=pdu.sequence_id), self.version))
        else:  # Exit: the SMGW ends the session (4.7, 12.1); answer, then close
            out.append(encode(ExitResp(sequence_id=pdu.sequence_id), self.version))
            self._exited(events, by_peer=True)

    def _reject(self, pdu: Any, events: list[SessionEvent]) -> None:
        seq = pdu.sequence_id
        response: Response | None
        if isinstance(pdu, Deliver):  # before Login_Resp: not ours to take yet
            response = DeliverResp(sequence_id=seq, msg_id=pdu.msg_id,
                                   status=Status.COMMAND_ERROR)
            detail = f"Deliver not allowed in state {self.state.value}"
        else:  # Submit, Login, Query go to an SMGW, never to an SP
            if isinstance(pdu, Submit):
                response = SubmitResp(sequence_id=seq, status=Status.COMMAND_ERROR)
            elif isinstance(pdu, Login):
                response = LoginResp(sequence_id=seq, status=Status.COMMAND_ERROR,
                                     server_version=self.version)
            elif isinstance(pdu, Query):
                response = QueryResp(sequence_id=seq, query_time=pdu.query_time,
                                     query_type=pdu.query_type, query_code=pdu.query_code)
            else:
                response = None
            detail = f"SMGW sent {pdu.command_name}, an SP-to-SMGW PDU"
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
        elif self.state is _S.BOUND:
            keepalive = self._last_heard + self.config.active_test_interval
        else:
            keepalive = None
        if keepalive is not None and (deadline is None or keepalive < deadline):
            deadline = keepalive
        return deadline

    def handle_timer(self, now: float) -> list[SessionEvent]:
        """Expire requests past their deadline and keep the link alive (12.2, 12.4)."""
        events: list[SessionEvent] = []
        window = self._window
        while (entry := window.expire(now, events)) is not None:
            if entry is BLOCKED:
                return events
            # One of ours (a Submit's timeout is in events already).
            if type(entry.request) is Login:
                events.append(ConnectionDead(f"no Login_Resp within {self._timeout:g}s"))
                return events
            self._exited(events, by_peer=False)  # Exit unanswered: done all the same
        config = self.config
        if window.reserved is not None:
            if now >= self._active_deadline:
                if self._active_generation >= window.generation:
                    events.append(ConnectionDead(
                        f"could not write for {config.active_test_timeout:g}s: "
                        "the SMGW is not reading"))
                    return events
                window.reserved = None
                if self._last_heard > self._active_sent:
                    # No Active_Test_Resp, but the SMGW is talking: alive. The next test is
                    # due C after we last heard it.
                    self._active_misses = 0
                else:
                    self._active_misses += 1
                    if self._active_misses >= config.active_test_misses:
                        events.append(ConnectionDead(
                            f"{self._active_misses} Active_Tests unanswered for "
                            f"{config.active_test_timeout:g}s each: the SMGW is dead"))
                        return events
                    if self.state is _S.BOUND:
                        self._send_active_test(now)  # 12.2: "send again"
        elif self.state is _S.BOUND and now >= self._last_heard + config.active_test_interval:
            self._send_active_test(now)
        return events

    def connection_lost(self, reason: str = "connection lost") -> list[SessionEvent]:
        """The transport is gone: every pending request ends, written ones as unknown."""
        was_bound = self.state is _S.BOUND or self.state is _S.EXITING
        self.state = _S.CLOSED
        events: list[SessionEvent] = []
        self._window.fail_all(reason, events)
        self._window.reserved = None
        if was_bound:
            events.append(ConnectionDead(reason))
        return events
