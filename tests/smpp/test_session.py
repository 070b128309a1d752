"""The SMPP bind state machine without sockets (issue 5).

An ESME :class:`Session` and a tiny SMSC-side peer (a :class:`Framer` and a few lines of
answering logic) are wired back to back; bytes are pumped between them in bulk and one byte at a
time. Time is a number the test passes in: no sleeping.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smsengine.smpp import (
    AlertNotification,
    AlreadyBoundError,
    AuthenticationError,
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    CommandId,
    CommandStatus,
    DataSm,
    DataSmResp,
    DeliverSm,
    DeliverSmResp,
    EncodedRequest,
    EnquireLink,
    EnquireLinkResp,
    Framer,
    GenericNack,
    InvalidPdu,
    NotSentError,
    Outbind,
    OutcomeUnknownError,
    Pdu,
    QuerySm,
    ReceiptTlvs,
    Request,
    Response,
    SessionStateError,
    SubmitSm,
    SubmitSmResp,
    SubmitSmTemplate,
    Tag,
    Tlv,
    Unbind,
    UnbindResp,
)
from smsengine.smpp.session import (
    MAX_SEQUENCE,
    BindFailed,
    BindMode,
    Bound,
    ConnectionDead,
    IncomingRequest,
    ProtocolError,
    ReceiptReceived,
    RequestFailed,
    ResponseReceived,
    Session,
    SessionConfig,
    SessionEvent,
    SessionState,
    Unbound,
)

S = CommandStatus
St = SessionState

BIND_RESP = {
    BindTransmitter: BindTransmitterResp,
    BindReceiver: BindReceiverResp,
    BindTransceiver: BindTransceiverResp,
}


def submit(n: int = 0) -> SubmitSm:
    return SubmitSm(source_addr="SHOP", destination_addr=f"86138{n:08d}", short_message=b"hi")


TEMPLATE = SubmitSmTemplate(source_addr="SHOP")


def encoded(n: int = 0) -> EncodedRequest:
    """The same submit_sm as ``submit(n)``, pre-encoded by a template."""
    return TEMPLATE.request(f"86138{n:08d}", b"hi")


class Peer:
    """The SMSC end, sans-I/O: decodes what the ESME wrote and, when ``auto``, answers binds,
    submits, enquire_links and unbinds at once. Everything it received is kept in order."""

    def __init__(self, *, auto: bool = True, bind_status: int = 0,
                 submit_status: Callable[[SubmitSm], int] = lambda _: 0) -> None:
        self.framer = Framer()
        self.auto = auto
        self.bind_status = bind_status
        self.submit_status = submit_status
        self.received: list[Pdu | InvalidPdu] = []
        self.unanswered: list[Request] = []
        self.out: list[bytes] = []
        self.seq = 0
        self.message_ids = 0

    def feed(self, data: bytes) -> None:
        for pdu in self.framer.feed(data):
            self.received.append(pdu)
            if isinstance(pdu, Request):
                if self.auto:
                    self.answer(pdu)
                else:
                    self.unanswered.append(pdu)

    def answer(self, pdu: Request, status: int | None = None) -> None:
        if isinstance(pdu, (BindTransmitter, BindReceiver, BindTransceiver)):
            status = self.bind_status if status is None else status
            fields = {"system_id": "smsc"} if status == 0 else {}
            self.out.append(BIND_RESP[type(pdu)](sequence_number=pdu.sequence_number,
                                                 command_status=status, **fields).encode())
        elif isinstance(pdu, SubmitSm):
            status = self.submit_status(pdu) if status is None else status
            self.message_ids += 1
            fields = {"message_id": f"M{self.message_ids}"} if status == 0 else {}
            self.out.append(pdu.response(status, **fields).encode())
        else:
            self.out.append(pdu.response(status or 0).encode())

    def send(self, pdu: Pdu) -> int:
        """Queue a request (or raw PDU) from the SMSC; returns its sequence_number."""
        if isinstance(pdu, Request) and not pdu.sequence_number:
            self.seq += 1
            self.out.append(pdu.encode(self.seq))
            return self.seq
        self.out.append(pdu.encode())
        return pdu.sequence_number

    def data_to_send(self) -> bytes:
        data = b"".join(self.out)
        self.out.clear()
        return data

    def of(self, kind: type[Any]) -> list[Any]:
        return [p for p in self.received if isinstance(p, kind)]


def deliver(data: bytes, chunk: int | None, sink: Callable[[bytes], Any]) -> list[Any]:
    """Hand ``data`` to ``sink`` in one piece or ``chunk`` octets at a time; collect results."""
    out: list[Any] = []
    if chunk is None:
        out.extend(sink(data) or ())
    else:
        for i in range(0, len(data), chunk):
            out.extend(sink(data[i:i + chunk]) or ())
    return out


def pump(session: Session, peer: Peer, now: float, chunk: int | None = None
         ) -> list[SessionEvent]:
    """Move bytes both ways until both sides are quiet; return the session's events."""
    events: list[SessionEvent] = []
    for _ in range(100):
        data = session.data_to_send()
        if data:
            deliver(data, chunk, peer.feed)
        back = peer.data_to_send()
        if back:
            events.extend(deliver(back, chunk, lambda d, t=now: session.receive_data(d, t)))
        if not data and not back:
            return events
    raise AssertionError("the two ends never went quiet")


def bound_session(mode: BindMode = BindMode.TRANSCEIVER, peer: Peer | None = None,
                  **config: Any) -> tuple[Session, Peer]:
    peer = peer or Peer()
    session = Session(SessionConfig("shop", "secret", mode, **config), 0.0)
    session.bind(0.0)
    auto = peer.auto
    peer.auto = True
    events = pump(session, peer, 0.0)
    peer.auto = auto
    assert [type(e) for e in events] == [Bound]
    return session, peer


def kinds(events: list[SessionEvent]) -> list[type[SessionEvent]]:
    return [type(e) for e in events]


CHUNKS = pytest.mark.parametrize("chunk", [None, 1], ids=["bulk", "byte-at-a-time"])


# --- binding ---------------------------------------------------------------------------------


@CHUNKS
@pytest.mark.parametrize(
    ("mode", "bind_class", "state"),
    [
        (BindMode.TRANSMITTER, BindTransmitter, St.BOUND_TX),
        (BindMode.RECEIVER, BindReceiver, St.BOUND_RX),
        (BindMode.TRANSCEIVER, BindTransceiver, St.BOUND_TRX),
    ],
)
def test_bind_each_mode(mode: BindMode, bind_class: type, state: SessionState,
                        chunk: int | None) -> None:
    peer = Peer()
    session = Session(SessionConfig("shop", "secret", mode, system_type="VMA"), 0.0)
    assert session.state is St.OPEN and not session.is_bound
    seq = session.bind(0.0)
    assert session.state is St.BINDING
    assert seq == 1
    events = pump(session, peer, 0.0, chunk)
    assert kinds(events) == [Bound]
    bound = events[0]
    assert isinstance(bound, Bound)
    assert (bound.mode, bound.system_id) == (mode, "smsc")
    assert session.state is state and session.is_bound
    assert session.can_submit == (mode is not BindMode.RECEIVER)
    [bind] = peer.received
    assert isinstance(bind, bind_class)
    assert (bind.system_id, bind.password, bind.system_type) == ("shop", "secret", "VMA")
    assert bind.interface_version == 0x34
    assert session.outstanding == 0


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (S.ESME_RINVPASWD, AuthenticationError),
        (S.ESME_RINVSYSID, AuthenticationError),
        (S.ESME_RALYBND, AlreadyBoundError),
    ],
)
def test_bind_refused(status: int, error_class: type) -> None:
    peer = Peer(bind_status=status)
    session = Session(SessionConfig("shop", "wrong"), 0.0)
    session.bind(0.0)
    [failed] = pump(session, peer, 0.0)
    assert isinstance(failed, BindFailed)
    assert failed.status == status
    assert isinstance(failed.error, error_class)
    assert failed.error.status == status
    assert session.state is St.CLOSED
    with pytest.raises(SessionStateError):
        session.send_request(submit(), 0.0)
    assert session.connection_lost("closed") == []  # never bound: nothing to report


def test_bind_only_once_and_only_when_open() -> None:
    session, _ = bound_session()
    with pytest.raises(SessionStateError):
        session.bind(1.0)


def test_bind_response_timeout_is_a_dead_connection() -> None:
    session = Session(SessionConfig("shop", response_timeout=5.0), 0.0)
    session.bind(0.0)
    assert session.data_to_send()
    assert session.next_deadline() == 5.0
    assert session.handle_timer(4.9) == []
    [dead] = session.handle_timer(5.0)
    assert isinstance(dead, ConnectionDead)
    assert "bind" in dead.reason


def test_config_is_validated_when_built() -> None:
    with pytest.raises(ValueError, match="window"):
        SessionConfig("shop", window=0)
    with pytest.raises(ValueError, match="response_timeout"):
        SessionConfig("shop", response_timeout=0)
    with pytest.raises(ValueError, match="enquire_link_interval"):
        SessionConfig("shop", enquire_link_interval=-1)
    with pytest.raises(ValueError):
        SessionConfig("x" * 16)  # system_id is a C-octet string of at most 16


# --- requests and responses --------------------------------------------------------------------


@CHUNKS
def test_submits_get_their_own_responses(chunk: int | None) -> None:
    session, peer = bound_session(window=10)
    seqs = [session.send_request(submit(i), 1.0, token=f"t{i}") for i in range(10)]
    assert seqs == list(range(2, 12))  # 1 was the bind
    assert session.window_free == 0
    events = pump(session, peer, 1.0, chunk)
    assert kinds(events) == [ResponseReceived] * 10
    for i, event in enumerate(events):
        assert isinstance(event, ResponseReceived)
        assert event.token == f"t{i}"
        assert isinstance(event.response, SubmitSmResp)
        assert event.response.sequence_number == seqs[i]
        assert event.request.destination_addr == f"86138{i:08d}"  # type: ignore[attr-defined]
    assert session.window_free == 10 and session.outstanding == 0


@CHUNKS
def test_responses_in_any_order(chunk: int | None) -> None:
    session, peer = bound_session(peer=Peer(auto=False))
    tokens = {session.send_request(submit(i), 1.0, token=i): i for i in range(6)}
    pump(session, peer, 1.0, chunk)
    assert len(peer.unanswered) == 6
    order = [3, 0, 5, 1, 4, 2]
    for i in order:
        peer.answer(peer.unanswered[i])
    events = pump(session, peer, 2.0, chunk)
    got = [(e.token, e.response.sequence_number) for e in events
           if isinstance(e, ResponseReceived)]
    assert [t for t, _ in got] == order
    assert all(tokens[seq] == token for token, seq in got)


def test_all_sends_of_a_batch_leave_in_one_write() -> None:
    session, peer = bound_session()
    for i in range(5):
        session.send_request(submit(i), 1.0)
    peer.send(DeliverSm(source_addr="1", destination_addr="2", short_message=b"mo"))
    session.receive_data(peer.data_to_send(), 1.0)  # queues the deliver_sm_resp
    data = session.data_to_send()
    assert session.data_to_send() == b""
    framer = Framer()
    pdus = framer.feed(data)
    assert [type(p) for p in pdus] == [SubmitSm] * 5 + [DeliverSmResp]


def test_non_ok_statuses_are_responses_not_failures() -> None:
    statuses = [S.ESME_RTHROTTLED, S.ESME_RMSGQFUL, S.ESME_RINVDSTADR]
    peer = Peer(submit_status=lambda p: statuses[int(p.destination_addr[-1])])
    session, peer = bound_session(peer=peer)
    for i in range(3):
        session.send_request(submit(i), 1.0, token=i)
    events = pump(session, peer, 1.0)
    assert [e.response.command_status for e in events
            if isinstance(e, ResponseReceived)] == statuses


def test_generic_nack_answers_the_request_it_names() -> None:
    session, peer = bound_session(peer=Peer(auto=False))
    seq = session.send_request(submit(), 1.0, token="x")
    pump(session, peer, 1.0)
    peer.send(GenericNack(sequence_number=seq, command_status=S.ESME_RINVCMDID))
    [event] = pump(session, peer, 1.0)
    assert isinstance(event, ResponseReceived)
    assert event.token == "x"
    assert isinstance(event.response, GenericNack)
    assert session.window_free == session.config.window


def test_generic_nack_with_sequence_zero_is_reported_and_survived() -> None:
    session, peer = bound_session()
    peer.send(GenericNack(sequence_number=0, command_status=S.ESME_RINVCMDLEN))
    [event] = pump(session, peer, 1.0)
    assert isinstance(event, ProtocolError)
    assert "ESME_RINVCMDLEN" in event.detail
    assert session.is_bound


def test_response_to_nothing_is_a_protocol_error() -> None:
    session, peer = bound_session()
    peer.send(SubmitSmResp(sequence_number=999, message_id="x"))
    [event] = pump(session, peer, 1.0)
    assert isinstance(event, ProtocolError)
    assert session.is_bound and session.outstanding == 0


def test_undecodable_response_fails_its_request_as_unknown() -> None:
    session, _ = bound_session()
    seq = session.send_request(submit(), 1.0, token="t")
    session.data_to_send()
    # submit_sm_resp whose message_id has no NUL: framed, but not decodable.
    bad = struct.pack(">IIII", 17, CommandId.submit_sm_resp, 0, seq) + b"x"
    events = session.receive_data(bad, 1.0)
    assert kinds(events) == [RequestFailed, ProtocolError]
    failed = events[0]
    assert isinstance(failed, RequestFailed)
    assert failed.token == "t"
    assert isinstance(failed.error, OutcomeUnknownError)
    assert session.window_free == session.config.window
    assert session.data_to_send() == b""  # a bad response is never answered (no nack loop)


def test_undecodable_enquire_link_resp_does_not_stop_the_keepalive() -> None:
    session, _ = bound_session(enquire_link_interval=30.0, response_timeout=5.0)
    session.handle_timer(30.0)
    [enquire] = Framer().feed(session.data_to_send())
    assert isinstance(enquire, EnquireLink)
    bad = struct.pack(">IIII", 20, CommandId.enquire_link_resp, 0, enquire.sequence_number)
    events = session.receive_data(bad + b"abcd", 31.0)
    assert kinds(events) == [ProtocolError]
    assert session.outstanding == 0
    # The peer answered, garbled: it is alive, and keepalive goes on from what we heard.
    assert session.next_deadline() == 61.0
    assert session.handle_timer(61.0) == []
    assert isinstance(Framer().feed(session.data_to_send())[0], EnquireLink)


def test_undecodable_bind_resp_fails_the_bind() -> None:
    session = Session(SessionConfig("shop"), 0.0)
    session.bind(0.0)
    session.data_to_send()
    bad = struct.pack(">IIII", 17, CommandId.bind_transceiver_resp, 0, 1) + b"x"
    events = session.receive_data(bad, 0.0)
    assert kinds(events) == [BindFailed, ProtocolError]
    assert session.state is St.CLOSED


def test_framing_error_means_the_connection_is_dead() -> None:
    session, _ = bound_session()
    seq_written = session.send_request(submit(), 1.0, token="w")
    session.data_to_send()
    [dead] = session.receive_data(b"\xde\xad\xbe\xef" * 8, 1.0)
    assert isinstance(dead, ConnectionDead)
    assert "command_length" in dead.reason
    events = session.connection_lost("garbage")
    failed = [e for e in events if isinstance(e, RequestFailed)]
    assert [(e.token, type(e.error)) for e in failed] == [("w", OutcomeUnknownError)]
    assert seq_written == 2


# --- window ------------------------------------------------------------------------------------


def test_window_caps_outstanding_requests() -> None:
    session, peer = bound_session(window=3, peer=Peer(auto=False), response_timeout=100.0)
    for i in range(3):
        session.send_request(submit(i), 1.0, token=i)
    assert session.window_free == 0
    with pytest.raises(NotSentError, match="window"):
        session.send_request(submit(9), 1.0)
    pump(session, peer, 1.0)
    assert len(peer.unanswered) == 3  # the refused one was not queued
    peer.answer(peer.unanswered[1])
    pump(session, peer, 1.0)
    assert session.window_free == 1
    session.send_request(submit(4), 1.0)
    assert session.window_free == 0
    # Internal requests (enquire_link) do not take window slots.
    session.handle_timer(1.0 + session.config.enquire_link_interval)
    assert session.window_free == 0 and session.outstanding == 4


# --- sequence numbers --------------------------------------------------------------------------


def test_sequence_numbers_wrap_to_one() -> None:
    session, peer = bound_session(peer=Peer(auto=False))
    session._window.seq = MAX_SEQUENCE - 1
    seqs = [session.send_request(submit(i), 1.0) for i in range(3)]
    assert seqs == [MAX_SEQUENCE, 1, 2]
    pump(session, peer, 1.0)
    assert [p.sequence_number for p in peer.unanswered] == seqs


def test_wrap_never_reuses_a_number_in_flight() -> None:
    session, peer = bound_session(peer=Peer(auto=False), window=10)
    in_flight = [session.send_request(submit(i), 1.0) for i in range(4)]  # 2, 3, 4, 5
    pump(session, peer, 1.0)
    peer.answer(peer.unanswered[1])  # 3 is free again
    pump(session, peer, 1.0)
    session._window.seq = MAX_SEQUENCE - 1
    seqs = [session.send_request(submit(i), 1.0) for i in range(4)]
    assert seqs == [MAX_SEQUENCE, 1, 3, 6]
    assert not set(seqs) & {2, 4, 5}
    assert in_flight == [2, 3, 4, 5]


# --- time: deadlines, keepalive, dead peers ----------------------------------------------------


def test_response_timeout_is_outcome_unknown_and_frees_the_slot() -> None:
    session, peer = bound_session(peer=Peer(auto=False), response_timeout=10.0,
                                  enquire_link_interval=100.0)
    seq = session.send_request(submit(), 5.0, token="t")
    pump(session, peer, 5.0)
    assert session.next_deadline() == 15.0
    assert session.handle_timer(14.99) == []
    [failed] = session.handle_timer(15.0)
    assert isinstance(failed, RequestFailed)
    assert failed.token == "t"
    assert isinstance(failed.error, OutcomeUnknownError)
    assert failed.error.timed_out
    assert session.window_free == session.config.window
    # A late response is reported and ignored: the request already had its one outcome.
    peer.answer(peer.unanswered[0])
    [late] = pump(session, peer, 16.0)
    assert isinstance(late, ProtocolError)
    assert seq == peer.unanswered[0].sequence_number


def test_deadlines_expire_in_order_and_only_when_due() -> None:
    session, peer = bound_session(peer=Peer(auto=False), response_timeout=10.0,
                                  enquire_link_interval=100.0)
    for t in (1.0, 2.0, 3.0):
        session.send_request(submit(), t, token=t)
        pump(session, peer, t)
    events = session.handle_timer(12.5)
    assert [e.token for e in events] == [1.0, 2.0]  # type: ignore[attr-defined]
    assert session.next_deadline() == 13.0


def test_enquire_link_schedule() -> None:
    session, peer = bound_session(enquire_link_interval=30.0, response_timeout=5.0)
    assert session.next_deadline() == 30.0
    assert session.handle_timer(29.9) == []
    assert session.data_to_send() == b""
    # Anything heard from the peer postpones the keepalive.
    peer.send(EnquireLink())
    pump(session, peer, 20.0)
    assert session.next_deadline() == 50.0
    assert session.handle_timer(50.0) == []
    assert session.next_deadline() == 55.0  # now the enquire_link's response deadline
    pump(session, peer, 51.0)
    assert isinstance(peer.received[-1], EnquireLink)
    assert session.next_deadline() == 81.0
    assert session.outstanding == 0


def test_silent_peer_is_dead() -> None:
    session, peer = bound_session(peer=Peer(auto=False), enquire_link_interval=30.0,
                                  response_timeout=5.0)
    session.handle_timer(30.0)
    pump(session, peer, 30.0)
    assert isinstance(peer.unanswered[-1], EnquireLink)
    assert session.handle_timer(34.9) == []
    [dead] = session.handle_timer(35.0)
    assert isinstance(dead, ConnectionDead)
    assert "enquire_link" in dead.reason


def test_a_request_that_could_not_be_written_in_time_means_a_dead_peer() -> None:
    # The transport is paused (the peer stopped reading): bytes stay queued in the session.
    # Once a request is due and still unwritten the connection is declared dead, instead of
    # the caller's timer firing again and again for a deadline it can never act on.
    session, _ = bound_session(response_timeout=10.0, enquire_link_interval=100.0)
    session.send_request(submit(), 1.0, token="queued")
    assert session.next_deadline() == 11.0
    assert session.handle_timer(10.0) == []
    [dead] = session.handle_timer(11.0)
    assert isinstance(dead, ConnectionDead)
    [failed] = session.connection_lost(dead.reason)[:1]
    assert isinstance(failed, RequestFailed)
    assert isinstance(failed.error, NotSentError)


def test_closed_session_needs_no_timer() -> None:
    session, peer = bound_session()
    session.unbind(1.0)
    pump(session, peer, 1.0)
    assert session.state is St.CLOSED
    assert session.next_deadline() is None


# --- unbind ------------------------------------------------------------------------------------


@CHUNKS
def test_we_unbind(chunk: int | None) -> None:
    session, peer = bound_session()
    assert session.unbind(1.0) is not None
    assert session.state is St.UNBINDING
    with pytest.raises(SessionStateError):
        session.send_request(submit(), 1.0)
    [event] = pump(session, peer, 1.0, chunk)
    assert isinstance(event, Unbound) and not event.by_peer
    assert session.state is St.CLOSED
    assert isinstance(peer.received[-1], Unbind)
    assert session.unbind(2.0) is None  # nothing to unbind any more


def test_unbind_without_response_times_out_to_closed() -> None:
    session, peer = bound_session(peer=Peer(auto=False), response_timeout=2.0)
    session.unbind(1.0)
    pump(session, peer, 1.0)
    [event] = session.handle_timer(3.0)
    assert isinstance(event, Unbound) and not event.by_peer
    assert session.state is St.CLOSED


def test_unbind_goes_through_unbind_not_send_request() -> None:
    session, _ = bound_session()
    with pytest.raises(SessionStateError, match="unbind"):
        session.send_request(Unbind(), 1.0)
    assert session.state is St.BOUND_TRX


@CHUNKS
def test_peer_unbinds(chunk: int | None) -> None:
    session, peer = bound_session(peer=Peer(auto=False))
    session.send_request(submit(), 1.0, token="inflight")
    pump(session, peer, 1.0, chunk)
    seq = peer.send(Unbind())
    events = pump(session, peer, 1.0, chunk)
    assert kinds(events) == [Unbound]
    assert isinstance(events[0], Unbound) and events[0].by_peer
    assert session.state is St.CLOSED
    [resp] = peer.of(UnbindResp)
    assert resp.sequence_number == seq and resp.command_status == 0
    failed = [e for e in session.connection_lost("closed") if isinstance(e, RequestFailed)]
    assert [(e.token, type(e.error)) for e in failed] == [("inflight", OutcomeUnknownError)]


# --- the peer's requests -----------------------------------------------------------------------


@CHUNKS
def test_deliver_sm_is_acked_and_handed_over(chunk: int | None) -> None:
    session, peer = bound_session()
    seqs = [peer.send(DeliverSm(source_addr="1380", destination_addr="SHOP",
                                short_message=b"mo %d" % i)) for i in range(3)]
    events = pump(session, peer, 1.0, chunk)
    assert kinds(events) == [IncomingRequest] * 3
    assert [e.pdu.short_message for e in events] == [b"mo 0", b"mo 1", b"mo 2"]  # type: ignore
    assert all(e.acked for e in events)  # type: ignore[attr-defined]
    acks = peer.of(DeliverSmResp)
    assert [(a.sequence_number, a.command_status) for a in acks] == [(s, 0) for s in seqs]


def test_data_sm_is_acked() -> None:
    session, peer = bound_session()
    seq = peer.send(DataSm(source_addr="1", destination_addr="2"))
    [event] = pump(session, peer, 1.0)
    assert isinstance(event, IncomingRequest) and isinstance(event.pdu, DataSm)
    [ack] = peer.of(DataSmResp)
    assert ack.sequence_number == seq and ack.command_status == 0


def test_without_auto_ack_the_application_answers() -> None:
    session, peer = bound_session(auto_ack=False)
    seq = peer.send(DeliverSm(source_addr="1", destination_addr="2"))
    [event] = pump(session, peer, 1.0)
    assert isinstance(event, IncomingRequest) and not event.acked
    assert peer.of(DeliverSmResp) == []
    session.respond(event.pdu, S.ESME_RX_T_APPN)
    pump(session, peer, 1.0)
    [ack] = peer.of(DeliverSmResp)
    assert (ack.sequence_number, ack.command_status) == (seq, S.ESME_RX_T_APPN)


def plain_receipt(message_id: str, state: int = 2, **fields: Any) -> DeliverSm:
    fields.setdefault("tlvs", (Tlv(Tag.receipted_message_id, message_id),
                               Tlv(Tag.message_state, state)))
    return DeliverSm(source_addr="8613800000000", destination_addr="SHOP", esm_class=4,
                     short_message=b"id:%s stat:DELIVRD" % message_id.encode(), **fields)


@CHUNKS
def test_receipt_tlvs_report_plain_receipts_by_their_ids(chunk: int | None) -> None:
    """With receipt_tlvs a plain receipt is acked and reported as its two ids; any other
    deliver_sm (an MO message, a receipt with a third TLV) still comes whole, and every one is
    answered in order."""
    session, peer = bound_session(receipt_tlvs=True)
    other = DeliverSm(source_addr="1380", destination_addr="SHOP", short_message=b"T")
    third = plain_receipt("B2", 5, tlvs=(*plain_receipt("B2", 5).tlvs,
                                         Tlv(Tag.network_error_code, b"\x03\x00\x07")))
    seqs = [peer.send(plain_receipt("A1")), peer.send(other), peer.send(third),
            peer.send(plain_receipt("C3", 8))]
    events = pump(session, peer, 1.0, chunk)
    assert kinds(events) == [ReceiptReceived, IncomingRequest, IncomingRequest, ReceiptReceived]
    first, last = events[0].receipt, events[3].receipt  # type: ignore[attr-defined]
    assert (first.sequence_number, first.message_id, first.message_state) == (seqs[0], "A1", 2)
    assert (last.sequence_number, last.message_id, last.message_state) == (seqs[3], "C3", 8)
    assert first.pdu() == msgspec.structs.replace(plain_receipt("A1"), sequence_number=seqs[0])
    assert events[1].pdu.short_message == b"T"  # type: ignore[attr-defined]
    assert events[2].pdu.tlv(Tag.network_error_code) == b"\x03\x00\x07"  # type: ignore
    acks = peer.of(DeliverSmResp)
    assert [(a.sequence_number, a.command_status) for a in acks] == [(s, 0) for s in seqs]


def test_receipt_tlvs_need_auto_ack() -> None:
    """Without auto_ack the application answers each deliver_sm, so it gets each one whole."""
    session, peer = bound_session(receipt_tlvs=True, auto_ack=False)
    peer.send(plain_receipt("A1"))
    [event] = pump(session, peer, 1.0)
    assert isinstance(event, IncomingRequest) and not event.acked
    assert event.pdu.tlv(Tag.receipted_message_id) == "A1"  # type: ignore[attr-defined]
    assert peer.of(DeliverSmResp) == []


@pytest.mark.parametrize("receipt_tlvs", [False, True])
def test_a_receipt_on_a_transmitter_bind_is_refused_either_way(receipt_tlvs: bool) -> None:
    session, peer = bound_session(BindMode.TRANSMITTER, receipt_tlvs=receipt_tlvs)
    seq = peer.send(plain_receipt("A1"))
    events = pump(session, peer, 1.0)
    assert kinds(events) == [ProtocolError]
    assert type(events[0].pdu) is DeliverSm  # type: ignore[attr-defined]
    [answer] = peer.of(DeliverSmResp)
    assert (answer.sequence_number, answer.command_status) == (seq, S.ESME_RINVBNDSTS)
    assert session.state is St.BOUND_TX


def test_deliver_receipt_repr_and_fields() -> None:
    receipt = plain_receipt("A1").encode(9)
    got = Framer().feed_receipts(receipt)
    assert got == [ReceiptTlvs(9, "A1", 2, receipt[16:])]
    assert got[0].command_id == CommandId.deliver_sm


def test_one_read_of_mixed_pdus_is_handled_in_order() -> None:
    """Each PDU of a read sees the state the ones before it left: a deliver_sm after the peer's
    unbind is refused, and the events and answers keep the wire order."""
    session, peer = bound_session()
    seq = session.send_request(submit(1), 1.0)
    session.data_to_send()
    receipt = DeliverSm(source_addr="1", destination_addr="2", esm_class=4,
                        short_message=b"id:M1 stat:DELIVRD")
    data = b"".join([
        receipt.encode(11),
        SubmitSmResp(sequence_number=seq, message_id="M1").encode(),
        SubmitSmResp(sequence_number=seq, message_id="M1").encode(),  # answered already
        receipt.encode(12),
        Unbind().encode(13),
        receipt.encode(14),
    ])
    events = session.receive_data(data, 2.0)
    assert kinds(events) == [IncomingRequest, ResponseReceived, ProtocolError, IncomingRequest,
                             Unbound, ProtocolError]
    assert [e.pdu.sequence_number for e in events if isinstance(e, IncomingRequest)] == [11, 12]
    peer.feed(session.data_to_send())
    assert [(type(p), p.sequence_number, p.command_status) for p in peer.received
            if isinstance(p, Response)][-4:] == [
        (DeliverSmResp, 11, 0), (DeliverSmResp, 12, 0), (UnbindResp, 13, 0),
        (DeliverSmResp, 14, S.ESME_RINVBNDSTS),
    ]


def test_enquire_link_from_the_peer_is_answered() -> None:
    session, peer = bound_session()
    seq = peer.send(EnquireLink())
    assert pump(session, peer, 1.0) == []
    [resp] = peer.of(EnquireLinkResp)
    assert resp.sequence_number == seq


def test_peer_sends_an_esme_request() -> None:
    session, peer = bound_session()
    seq = peer.send(SubmitSm(destination_addr="1"))
    [event] = pump(session, peer, 1.0)
    assert isinstance(event, ProtocolError)
    [resp] = peer.of(SubmitSmResp)
    assert (resp.sequence_number, resp.command_status) == (seq, S.ESME_RINVCMDID)
    assert session.is_bound


# --- the state table ---------------------------------------------------------------------------

ALL_STATES = list(SessionState)


def session_in(state: SessionState) -> tuple[Session, Peer]:
    """A session brought to ``state`` the way a real bind gets there."""
    peer = Peer(auto=False)
    if state is St.OPEN:
        return Session(SessionConfig("shop"), 0.0), peer
    if state is St.BINDING:
        session = Session(SessionConfig("shop"), 0.0)
        session.bind(0.0)
        pump(session, peer, 0.0)
        return session, peer
    mode = {St.BOUND_TX: BindMode.TRANSMITTER, St.BOUND_RX: BindMode.RECEIVER}.get(
        state, BindMode.TRANSCEIVER)
    session, peer = bound_session(mode, peer=peer)
    if state is St.UNBINDING:
        session.unbind(0.0)
        pump(session, peer, 0.0)
    elif state is St.CLOSED:
        peer.send(Unbind())
        pump(session, peer, 0.0)
        peer.received.clear()
    assert session.state is state
    return session, peer


# Which requests from the SMSC each state accepts (SMPP 3.4 section 2.3, table 2-1), written out
# independently of the session's own table.
_BOUND = {St.BOUND_TX, St.BOUND_RX, St.BOUND_TRX}
INBOUND_LEGAL: dict[type[Request], set[SessionState]] = {
    DeliverSm: {St.BOUND_RX, St.BOUND_TRX},
    DataSm: _BOUND,
    AlertNotification: {St.BOUND_RX, St.BOUND_TRX},
    EnquireLink: {St.OPEN, St.BINDING, *_BOUND, St.UNBINDING},
    Unbind: {*_BOUND, St.UNBINDING},
    Outbind: {St.OPEN},
}
INBOUND_SAMPLES: dict[type[Request], Request] = {
    DeliverSm: DeliverSm(source_addr="1", destination_addr="2"),
    DataSm: DataSm(source_addr="1", destination_addr="2"),
    AlertNotification: AlertNotification(source_addr="1", esme_addr="2"),
    EnquireLink: EnquireLink(),
    Unbind: Unbind(),
    Outbind: Outbind(system_id="smsc"),
}


@pytest.mark.parametrize("state", ALL_STATES, ids=lambda s: s.value)
@pytest.mark.parametrize("kind", list(INBOUND_LEGAL), ids=lambda k: k.__name__)
def test_inbound_requests_by_state(kind: type[Request], state: SessionState) -> None:
    session, peer = session_in(state)
    seq = peer.send(INBOUND_SAMPLES[kind])
    events = pump(session, peer, 1.0)
    answers = [p for p in peer.received if isinstance(p, Response)]
    if state in INBOUND_LEGAL[kind]:
        assert not any(isinstance(e, ProtocolError) for e in events), events
        if kind.response_class is not None:
            [answer] = answers
            assert isinstance(answer, kind.response_class)
            assert (answer.sequence_number, answer.command_status) == (seq, 0)
        else:
            assert answers == []
            assert [type(e.pdu) for e in events
                    if isinstance(e, IncomingRequest)] == [kind]
    else:
        [answer] = answers
        assert answer.sequence_number == seq
        assert answer.command_status == S.ESME_RINVBNDSTS
        assert isinstance(answer, kind.response_class or GenericNack)
        assert kinds(events) == [ProtocolError]
        assert session.state is state  # an illegal PDU changes nothing


OUTBOUND_LEGAL: dict[type[Request], set[SessionState]] = {
    SubmitSm: {St.BOUND_TX, St.BOUND_TRX},
    QuerySm: {St.BOUND_TX, St.BOUND_TRX},
    DataSm: _BOUND,
    EnquireLink: {*_BOUND, St.UNBINDING},
}
OUTBOUND_SAMPLES: dict[type[Request], Request] = {
    SubmitSm: submit(),
    QuerySm: QuerySm(message_id="1"),
    DataSm: DataSm(destination_addr="1"),
    EnquireLink: EnquireLink(),
}


@pytest.mark.parametrize("state", ALL_STATES, ids=lambda s: s.value)
@pytest.mark.parametrize("kind", list(OUTBOUND_LEGAL), ids=lambda k: k.__name__)
def test_outbound_requests_by_state(kind: type[Request], state: SessionState) -> None:
    session, peer = session_in(state)
    if state in OUTBOUND_LEGAL[kind]:
        session.send_request(OUTBOUND_SAMPLES[kind], 1.0, token="t")
        pump(session, peer, 1.0)
        assert isinstance(peer.received[-1], kind)
    else:
        with pytest.raises(SessionStateError) as info:
            session.send_request(OUTBOUND_SAMPLES[kind], 1.0)
        assert info.value.status == S.ESME_RINVBNDSTS
        assert isinstance(info.value, NotSentError)  # nothing was queued: safe to retry
        assert session.data_to_send() == b""


# --- connection loss ---------------------------------------------------------------------------


def test_connection_lost_splits_written_from_unwritten() -> None:
    session, peer = bound_session(peer=Peer(auto=False))
    for i in range(3):
        session.send_request(submit(i), 1.0, token=f"w{i}")
    pump(session, peer, 1.0)
    peer.answer(peer.unanswered[0])
    pump(session, peer, 1.0)
    for i in range(2):
        session.send_request(submit(i), 2.0, token=f"u{i}")
    events = session.connection_lost("connection reset")
    failed = {e.token: type(e.error) for e in events if isinstance(e, RequestFailed)}
    assert failed == {"w1": OutcomeUnknownError, "w2": OutcomeUnknownError,
                      "u0": NotSentError, "u1": NotSentError}
    assert isinstance(events[-1], ConnectionDead)
    assert session.state is St.CLOSED
    assert session.outstanding == 0 and session.data_to_send() == b""
    assert session.next_deadline() is None


# --- random interleavings ----------------------------------------------------------------------

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("send"), st.integers(1, 4)),
        st.tuples(st.just("flush"), st.just(0)),
        st.tuples(st.just("answer"), st.integers(0, 1000)),
        st.tuples(st.just("throttle"), st.integers(0, 1000)),
        st.tuples(st.just("tick"), st.sampled_from([0, 1, 2, 4, 7])),
        st.tuples(st.just("deliver"), st.just(0)),
        st.tuples(st.just("wrap"), st.integers(0, 3)),  # sequence numbers about to wrap
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ops=OPS,
    lose_at=st.integers(0, 60),
    window=st.integers(1, 6),
    chunk=st.sampled_from([None, 1, 5]),
)
def test_every_request_gets_exactly_one_outcome(ops: list[tuple[str, int]], lose_at: int,
                                                window: int, chunk: int | None) -> None:
    session, peer = bound_session(peer=Peer(auto=False), window=window, response_timeout=5.0,
                                  enquire_link_interval=3.0)
    now = 0.0
    next_token = 0
    outcomes: dict[int, list[SessionEvent]] = {}
    seq_of: dict[int, int] = {}
    written: set[int] = set()
    unwritten: set[int] = set()
    in_flight: set[int] = set()  # sequence numbers of user requests without an outcome
    dead = False

    def settle(events: list[SessionEvent]) -> None:
        nonlocal dead
        for event in events:
            if isinstance(event, ResponseReceived):
                assert event.response.sequence_number == seq_of[event.token]
                outcomes[event.token].append(event)
                in_flight.discard(seq_of[event.token])
            elif isinstance(event, RequestFailed):
                if isinstance(event.error, OutcomeUnknownError) and event.error.timed_out:
                    assert event.token in written, "timed out before it was written"
                outcomes[event.token].append(event)
                in_flight.discard(seq_of[event.token])
            elif isinstance(event, ConnectionDead):
                dead = True

    for step, (op, arg) in enumerate(ops):
        if step == lose_at or dead:
            break
        if op == "send":
            for _ in range(arg):
                if session.window_free == 0:
                    with pytest.raises(NotSentError):
                        session.send_request(submit(), now, token=-1)
                    continue
                token = next_token
                next_token += 1
                request = submit(token) if token % 2 else encoded(token)
                seq = session.send_request(request, now, token=token)
                assert seq not in in_flight, "sequence number reused while in flight"
                assert 1 <= seq <= MAX_SEQUENCE
                in_flight.add(seq)
                seq_of[token] = seq
                outcomes[token] = []
                unwritten.add(token)
        elif op == "flush":
            data = session.data_to_send()
            written |= unwritten
            unwritten.clear()
            deliver(data, chunk, peer.feed)
        elif op in ("answer", "throttle") and peer.unanswered:
            request = peer.unanswered.pop(arg % len(peer.unanswered))
            status = S.ESME_RTHROTTLED if op == "throttle" and isinstance(request, SubmitSm) else 0
            peer.answer(request, status)
            settle(deliver(peer.data_to_send(), chunk, lambda d, t=now: session.receive_data(d, t)))
        elif op == "tick":
            now += arg
            settle(session.handle_timer(now))
        elif op == "wrap":
            session._window.seq = MAX_SEQUENCE - arg  # low numbers may still be in flight
        elif op == "deliver":
            peer.send(DeliverSm(source_addr="1", destination_addr="2"))
            settle(deliver(peer.data_to_send(), chunk, lambda d, t=now: session.receive_data(d, t)))
        in_use = session.config.window - session.window_free
        assert 0 <= in_use <= window
        assert in_use == sum(1 for o in outcomes.values() if not o)

    was_written = set(written)
    settle(session.connection_lost("connection lost"))
    assert session.window_free == window and session.outstanding == 0
    for token, got in outcomes.items():
        assert len(got) == 1, f"request {token}: {got}"
        [event] = got
        if isinstance(event, RequestFailed):
            if token in was_written:
                assert isinstance(event.error, OutcomeUnknownError)
            else:
                assert type(event.error) is NotSentError


# --- pre-encoded requests (EncodedRequest from a SubmitSmTemplate) ---------------------------


@CHUNKS
def test_encoded_request_gets_its_response(chunk: int | None) -> None:
    session, peer = bound_session()
    requests = [encoded(i) for i in range(3)]
    seqs = [session.send_request(r, 1.0, token=i) for i, r in enumerate(requests)]
    events = pump(session, peer, 1.0, chunk)
    assert kinds(events) == [ResponseReceived] * 3
    for event, request, seq, i in zip(events, requests, seqs, range(3), strict=True):
        assert isinstance(event, ResponseReceived)
        assert event.request is request and event.token == i
        assert event.response.sequence_number == seq and event.response.ok
    # The SMSC received the very submit_sm the PDU class would have sent.
    assert peer.of(SubmitSm) == [r.decode(s) for r, s in zip(requests, seqs, strict=True)]
    assert peer.of(SubmitSm) == [
        SubmitSm(source_addr="SHOP", destination_addr=f"86138{i:08d}", short_message=b"hi",
                 sequence_number=s) for i, s in enumerate(seqs)]
    assert session.window_free == session.config.window


def test_encoded_requests_count_in_the_window() -> None:
    session, peer = bound_session(window=3, peer=Peer(auto=False))
    session.send_request(encoded(0), 1.0)
    session.send_request(submit(1), 1.0)
    session.send_request(encoded(2), 1.0)
    assert session.window_free == 0 and session.outstanding == 3
    with pytest.raises(NotSentError, match="window"):
        session.send_request(encoded(3), 1.0)
    pump(session, peer, 1.0)
    assert len(peer.unanswered) == 3
    peer.answer(peer.unanswered[0])
    [event] = pump(session, peer, 1.0)
    assert isinstance(event, ResponseReceived) and type(event.request) is EncodedRequest
    assert session.window_free == 1


def test_encoded_request_times_out_as_outcome_unknown() -> None:
    session, peer = bound_session(peer=Peer(auto=False), response_timeout=10.0,
                                  enquire_link_interval=100.0)
    request = encoded()
    session.send_request(request, 5.0, token="t")
    pump(session, peer, 5.0)
    [event] = session.handle_timer(15.0)
    assert isinstance(event, RequestFailed) and event.request is request
    assert isinstance(event.error, OutcomeUnknownError) and event.error.timed_out
    assert "no submit_sm_resp within 10s" in str(event.error)


def test_connection_lost_splits_written_from_unwritten_encoded_requests() -> None:
    session, peer = bound_session(peer=Peer(auto=False))
    for i in range(2):
        session.send_request(encoded(i), 1.0, token=f"w{i}")
    pump(session, peer, 1.0)
    for i in range(2):
        session.send_request(encoded(i), 2.0, token=f"u{i}")
    events = session.connection_lost("connection reset")
    failed = {e.token: e.error for e in events if isinstance(e, RequestFailed)}
    assert {t: type(e) for t, e in failed.items()} == {
        "w0": OutcomeUnknownError, "w1": OutcomeUnknownError,
        "u0": NotSentError, "u1": NotSentError}
    assert str(failed["w0"]) == "connection reset after submit_sm was written"
    assert str(failed["u0"]) == "connection reset before submit_sm was written"
    assert all(type(e.request) is EncodedRequest for e in events if isinstance(e, RequestFailed))


@pytest.mark.parametrize("state", ALL_STATES, ids=lambda s: s.value)
def test_encoded_requests_by_state(state: SessionState) -> None:
    session, peer = session_in(state)
    if state in OUTBOUND_LEGAL[SubmitSm]:
        seq = session.send_request(encoded(), 1.0)
        pump(session, peer, 1.0)
        assert peer.received[-1] == encoded().decode(seq)
    else:
        with pytest.raises(SessionStateError, match=f"submit_sm not allowed in state "
                                                    f"{state.value}") as info:
            session.send_request(encoded(), 1.0)
        assert info.value.status == S.ESME_RINVBNDSTS
        assert session.data_to_send() == b""
        assert session.window_free == session.config.window  # nothing was queued


def test_encoded_unbind_is_refused_with_the_hint() -> None:
    session, _ = bound_session()
    with pytest.raises(SessionStateError, match="use unbind"):
        session.send_request(EncodedRequest(CommandId.unbind, b""), 1.0)


def test_sequence_numbers_of_encoded_requests_wrap_and_skip_those_in_flight() -> None:
    session, peer = bound_session(peer=Peer(auto=False), window=10)
    in_flight = [session.send_request(encoded(i), 1.0) for i in range(3)]  # 2, 3, 4
    session._window.seq = MAX_SEQUENCE - 1
    seqs = [session.send_request(encoded(i), 1.0) for i in range(4)]
    assert seqs == [MAX_SEQUENCE, 1, 5, 6]
    assert in_flight == [2, 3, 4]
    pump(session, peer, 1.0)
    assert [p.sequence_number for p in peer.unanswered] == in_flight + seqs


# --- auto-acknowledged deliver_sm / data_sm: the response is packed directly ------------------


@given(seq=st.integers(0, 0xFFFFFFFF), receipt=st.booleans())
def test_deliver_sm_ack_is_the_deliver_sm_resp(seq: int, receipt: bool) -> None:
    session = Session(SessionConfig("shop"), 0.0)
    session.state = St.BOUND_TRX  # (bound_session per example would be slow; the state is all)
    pdu = DeliverSm(sequence_number=seq, source_addr="1380", destination_addr="SHOP",
                    esm_class=0x04 if receipt else 0, short_message=b"mo")
    [event] = session.receive_data(pdu.encode(), 1.0)
    assert isinstance(event, IncomingRequest) and event.acked and event.pdu == pdu
    assert session.data_to_send() == pdu.response().encode()


@given(seq=st.integers(0, 0xFFFFFFFF))
def test_data_sm_ack_is_the_data_sm_resp(seq: int) -> None:
    session = Session(SessionConfig("shop", mode=BindMode.TRANSMITTER), 0.0)
    session.state = St.BOUND_TX  # data_sm is allowed on every bind
    pdu = DataSm(sequence_number=seq, source_addr="1380", destination_addr="SHOP")
    [event] = session.receive_data(pdu.encode(), 1.0)
    assert isinstance(event, IncomingRequest) and event.acked and event.pdu == pdu
    assert session.data_to_send() == pdu.response().encode()


@pytest.mark.parametrize("state", [St.BOUND_RX, St.BOUND_TRX], ids=lambda s: s.value)
def test_deliver_sm_without_auto_ack_queues_nothing(state: SessionState) -> None:
    session = Session(SessionConfig("shop", auto_ack=False), 0.0)
    session.state = state
    pdu = DeliverSm(sequence_number=5, source_addr="1", destination_addr="2")
    [event] = session.receive_data(pdu.encode(), 1.0)
    assert isinstance(event, IncomingRequest) and not event.acked
    assert session.data_to_send() == b""


def test_incoming_request_fields_and_repr() -> None:
    session, peer = bound_session()
    pdu = DeliverSm(source_addr="1", destination_addr="2", short_message=b"x")
    peer.send(pdu)
    [event] = pump(session, peer, 1.0)
    assert isinstance(event, IncomingRequest)
    assert event.pdu == DeliverSm(source_addr="1", destination_addr="2", short_message=b"x",
                                  sequence_number=1)
    assert event.acked is True
    assert repr(event) == f"IncomingRequest(pdu={event.pdu!r}, acked=True)"
    assert event != IncomingRequest(event.pdu, True)  # events compare by identity
    assert IncomingRequest(pdu=pdu, acked=False).pdu is pdu
