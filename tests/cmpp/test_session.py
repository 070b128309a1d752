"""The sans-I/O CMPP session (cmpp.md sections 2, 4.1-4.5, 5, 11) against a minimal ISMG built
from the codec, back to back without sockets, time passed in.

Input is fed in bulk and one byte at a time; every request ends in exactly one event.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from smsengine.cmpp import (
    ActiveTest,
    ActiveTestResp,
    CmppAuthenticationError,
    CmppConnectError,
    CmppNotSentError,
    CmppOutcomeUnknownError,
    CmppVersionError,
    Connect,
    ConnectResp,
    Deliver,
    DeliverResp,
    Framer,
    InvalidPdu,
    Pdu,
    Query,
    Submit,
    SubmitResp,
    Terminate,
    TerminateResp,
    Version,
    authenticator_ismg,
    authenticator_source,
    encode,
)
from smsengine.cmpp.session import (
    MAX_SEQUENCE,
    CmppSession,
    CmppSessionConfig,
    CmppSessionState,
)
from smsengine.link import (
    AuthenticationError,
    BindFailed,
    Bound,
    ConnectionDead,
    IncomingRequest,
    NotSentError,
    OutcomeUnknownError,
    ProtocolError,
    RequestFailed,
    ResponseReceived,
    SessionEvent,
    SessionStateError,
    Unbound,
)

# The test vector of cmpp.md section 5: SP_Id 900001, secret 888888, 01-02 03:04:05.
SP_ID = "900001"
SECRET = "888888"
LOCAL = SimpleNamespace(tm_mon=1, tm_mday=2, tm_hour=3, tm_min=4, tm_sec=5)
GOLDEN_CONNECT = bytes.fromhex(
    "00000027 00000001 00000001 393030303031 3b7bba56a8c1d885b7d43d3f6d82cb94 30 0614dc45"
)
GOLDEN_CONNECT_RESP_30 = bytes.fromhex(
    "00000021 80000001 00000001 00000000 53b24b8fb532a4eed8dfcdbbb33b7289 30"
)
GOLDEN_CONNECT_RESP_20 = bytes.fromhex(
    "0000001e 80000001 00000001 00 69b52a62cd309629b197870d6f8fabc8 20"
)


def make_config(**kwargs: Any) -> CmppSessionConfig:
    kwargs.setdefault("clock", lambda: LOCAL)
    return CmppSessionConfig(SP_ID, kwargs.pop("secret", SECRET), **kwargs)


def submit(n: int = 0) -> Submit:
    return Submit(dest_terminal_ids=(f"1380013{n:04d}",), msg_content=b"hi", msg_src=SP_ID)


class Ismg:
    """The gateway side, just enough of it: checks the login, numbers SUBMIT_RESP Msg_Ids,
    answers ACTIVE_TEST and TERMINATE; anything else is left to the test."""

    def __init__(self, secret: str = SECRET, version: int = Version.V30) -> None:
        self.secret = secret
        self.version = version
        self.framer = Framer(version)
        self.received: list[Pdu | InvalidPdu] = []
        self.seq = 1000
        self.msg_id = 0

    def feed(self, data: bytes) -> list[Pdu | InvalidPdu]:
        pdus = self.framer.feed(data)
        self.received += pdus
        return pdus

    def wire(self, pdu: Pdu, seq: int | None = None) -> bytes:
        return encode(pdu, self.version, sequence_id=seq)

    def request(self, pdu: Pdu) -> bytes:
        self.seq += 1
        return self.wire(pdu, self.seq)

    def answer(self, pdu: Pdu | InvalidPdu, *, result: int = 0, status: int | None = None,
               auth: bytes | None = None) -> bytes:
        """The natural response to one of the session's PDUs."""
        if isinstance(pdu, Connect):
            ok = pdu.authenticator_source == authenticator_source(
                pdu.source_addr, self.secret, pdu.timestamp)
            st = status if status is not None else (0 if ok else 3)
            width = 4 if self.version >= 0x30 else 1
            if auth is None:
                auth = authenticator_ismg(st, pdu.authenticator_source, self.secret, width)
            return self.wire(ConnectResp(sequence_id=pdu.sequence_id, status=st,
                                         authenticator_ismg=auth, version=self.version))
        if isinstance(pdu, Submit):
            self.msg_id += 1
            return self.wire(SubmitResp(sequence_id=pdu.sequence_id, msg_id=self.msg_id,
                                        result=result))
        if isinstance(pdu, (ActiveTest, Terminate)):
            return self.wire(pdu.response())
        raise AssertionError(f"no answer for {pdu!r}")


def connected(ismg: Ismg | None = None, **kwargs: Any) -> tuple[CmppSession, Ismg]:
    ismg = ismg or Ismg()
    session = CmppSession(make_config(**kwargs), 0.0)
    session.bind(0.0)
    (connect,) = ismg.feed(session.data_to_send())
    events = session.receive_data(ismg.answer(connect), 0.0)
    assert [type(e) for e in events] == [Bound]
    assert session.is_bound and session.can_submit
    return session, ismg


def feed(session: CmppSession, data: bytes, now: float, *, bytewise: bool) -> list[SessionEvent]:
    if not bytewise:
        return session.receive_data(data, now)
    events: list[SessionEvent] = []
    for i in range(len(data)):
        events += session.receive_data(data[i : i + 1], now)
    return events


def outcomes(events: list[SessionEvent]) -> dict[Any, str]:
    """token -> "response" / "not_sent" / "unknown"; a token seen twice fails the test."""
    seen: dict[Any, str] = {}
    for event in events:
        if isinstance(event, ResponseReceived):
            kind = "response"
            token = event.token
        elif isinstance(event, RequestFailed):
            token = event.token
            if isinstance(event.error, CmppNotSentError):
                kind = "not_sent"
            else:
                assert isinstance(event.error, CmppOutcomeUnknownError)
                kind = "unknown"
        else:
            continue
        assert token not in seen, f"{token} ended twice"
        seen[token] = kind
    return seen


# --- CONNECT ----------------------------------------------------------------------------------


def test_connect_is_the_golden_pdu() -> None:
    session = CmppSession(CmppSessionConfig(SP_ID, SECRET), 0.0)
    assert session.bind(0.0, local_time=LOCAL) == 1
    assert session.data_to_send() == GOLDEN_CONNECT
    assert session.state is CmppSessionState.CONNECTING
    assert not session.is_bound


def test_connect_takes_the_timestamp_from_the_configured_clock() -> None:
    session = CmppSession(make_config(), 0.0)
    session.bind(0.0)
    assert session.data_to_send() == GOLDEN_CONNECT


def test_connect_without_a_clock_is_refused() -> None:
    session = CmppSession(CmppSessionConfig(SP_ID, SECRET), 0.0)
    with pytest.raises(SessionStateError):
        session.bind(0.0)
    assert session.state is CmppSessionState.OPEN


@pytest.mark.parametrize("golden, version", [
    (GOLDEN_CONNECT_RESP_30, Version.V30),
    (GOLDEN_CONNECT_RESP_20, Version.V20),
])
@pytest.mark.parametrize("bytewise", [False, True])
def test_golden_connect_resp_binds(golden: bytes, version: int, bytewise: bool) -> None:
    session = CmppSession(make_config(version=version), 0.0)
    session.bind(0.0)
    session.data_to_send()
    events = feed(session, golden, 0.0, bytewise=bytewise)
    assert [type(e) for e in events] == [Bound]  # AuthenticatorISMG verified: no warning
    assert session.state is CmppSessionState.CONNECTED
    assert session.ismg_version == version and session.version == version


def test_the_config_speaks_the_names_the_bind_machinery_reads() -> None:
    config = CmppSessionConfig(SP_ID, SECRET, active_test_interval=7.0)
    assert config.system_id == SP_ID
    assert config.enquire_link_interval == 7.0
    assert (config.window, config.response_timeout, config.active_test_timeout,
            config.active_test_misses, config.verify_ismg) == (16, 60.0, 60.0, 3, "warn")


@pytest.mark.parametrize("bad", [
    {"window": 0}, {"response_timeout": 0}, {"active_test_interval": -1},
    {"active_test_misses": 0}, {"verify_ismg": "maybe"}, {"version": 0x300},
])
def test_bad_config_is_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        CmppSessionConfig(SP_ID, SECRET, **bad)


def test_over_long_source_addr_is_refused_at_config_time() -> None:
    with pytest.raises(ValueError):
        CmppSessionConfig("9000011", SECRET)


def test_wrong_secret_fails_the_connect_with_an_authentication_error() -> None:
    session = CmppSession(make_config(secret="wrong!"), 0.0)
    session.bind(0.0)
    ismg = Ismg()
    (connect,) = ismg.feed(session.data_to_send())
    (event,) = session.receive_data(ismg.answer(connect), 0.0)
    assert isinstance(event, BindFailed)
    assert event.status == 3
    assert isinstance(event.error, CmppAuthenticationError)
    assert isinstance(event.error, AuthenticationError)  # what the bind keeper alarms on
    assert event.error.status == 3 and not event.error.retriable
    assert session.state is CmppSessionState.CLOSED and session.next_deadline() is None


@pytest.mark.parametrize("status, cls, retriable", [
    (1, CmppConnectError, False),
    (2, CmppAuthenticationError, False),
    (4, CmppVersionError, False),
    (7, CmppConnectError, True),
])
def test_connect_status_maps_to_the_cmpp_error(status: int, cls: type, retriable: bool) -> None:
    session = CmppSession(make_config(), 0.0)
    session.bind(0.0)
    ismg = Ismg()
    (connect,) = ismg.feed(session.data_to_send())
    (event,) = session.receive_data(ismg.answer(connect, status=status), 0.0)
    assert isinstance(event, BindFailed) and event.status == status
    assert type(event.error) is cls and event.error.retriable is retriable


@pytest.mark.parametrize("policy, expected", [
    ("warn", [ProtocolError, Bound]),
    ("off", [Bound]),
    ("fatal", [BindFailed]),
])
def test_wrong_authenticator_ismg_follows_the_policy(policy: str, expected: list[type]) -> None:
    session = CmppSession(make_config(verify_ismg=policy), 0.0)
    session.bind(0.0)
    ismg = Ismg()
    (connect,) = ismg.feed(session.data_to_send())
    events = session.receive_data(ismg.answer(connect, auth=b"mockauth".ljust(16, b"\0")), 0.0)
    assert [type(e) for e in events] == expected
    if policy == "fatal":
        failed = events[0]
        assert isinstance(failed, BindFailed)
        assert isinstance(failed.error, CmppAuthenticationError)
        assert not session.is_bound


def test_a_2_0_gateway_switches_the_layout() -> None:
    session, ismg = connected(Ismg(version=Version.V20), version=Version.V30)
    assert session.version == Version.V20
    session.send_request(submit(), 1.0, "t")
    data = session.data_to_send()
    assert len(data) == 161  # the 2.0 SUBMIT of one number and two octets (3.0: 197)
    (pdu,) = ismg.feed(data)
    (event,) = session.receive_data(ismg.answer(pdu), 1.0)  # a 21-octet 2.0 SUBMIT_RESP
    assert isinstance(event, ResponseReceived) and event.response.msg_id == 1


def test_no_connect_resp_is_a_dead_connection() -> None:
    session = CmppSession(make_config(response_timeout=5.0), 0.0)
    session.bind(0.0)
    session.data_to_send()
    assert session.next_deadline() == 5.0
    assert session.handle_timer(4.9) == []
    (event,) = session.handle_timer(5.0)
    assert isinstance(event, ConnectionDead)


def test_nothing_but_connect_before_connect_resp() -> None:
    session = CmppSession(make_config(), 0.0)
    with pytest.raises(SessionStateError):
        session.send_request(submit(), 0.0)
    session.bind(0.0)
    with pytest.raises(SessionStateError):
        session.send_request(submit(), 0.0)
    with pytest.raises(SessionStateError):
        session.bind(0.0)
    assert session.unbind(0.0) is None


def test_connect_and_terminate_go_through_bind_and_unbind() -> None:
    session, _ = connected()
    for pdu in (Connect(), Terminate(), ActiveTest()):
        with pytest.raises(SessionStateError):
            session.send_request(pdu, 0.0)


# --- SUBMIT, the window, sequence ids -----------------------------------------------------------


@pytest.mark.parametrize("bytewise", [False, True])
def test_a_full_window_pipelined_and_answered(bytewise: bool) -> None:
    session, ismg = connected()
    seqs = [session.send_request(submit(i), 1.0, f"t{i}") for i in range(16)]
    assert seqs == list(range(2, 18))  # 1 was the CONNECT
    assert session.window_free == 0 and session.outstanding == 16
    data = session.data_to_send()
    answers = b"".join(ismg.answer(p) for p in reversed(ismg.feed(data)))  # any order
    events = feed(session, answers, 2.0, bytewise=bytewise)
    assert len(events) == 16 and all(isinstance(e, ResponseReceived) for e in events)
    by_token = {e.token: e.response for e in events}  # type: ignore[attr-defined]
    assert set(by_token) == {f"t{i}" for i in range(16)}
    assert sorted(r.msg_id for r in by_token.values()) == list(range(1, 17))
    assert session.window_free == 16 and session.outstanding == 0


def test_window_of_16_is_enforced() -> None:
    session, ismg = connected()
    for i in range(16):
        session.send_request(submit(i), 1.0, i)
    with pytest.raises(CmppNotSentError) as info:
        session.send_request(submit(16), 1.0, 16)
    assert isinstance(info.value, NotSentError)
    pdus = ismg.feed(session.data_to_send())
    assert len(pdus) == 16  # the refused one was not queued
    session.receive_data(ismg.answer(pdus[0]), 2.0)
    assert session.window_free == 1
    session.send_request(submit(16), 2.0, 16)
    assert session.window_free == 0


def test_window_is_configurable() -> None:
    session, _ = connected(window=2)
    session.send_request(submit(), 0.0)
    session.send_request(submit(), 0.0)
    with pytest.raises(CmppNotSentError):
        session.send_request(submit(), 0.0)


def test_sequence_id_wraps_past_uint32_and_skips_ids_in_flight() -> None:
    session, ismg = connected()
    session._window.seq = 0  # the next id is 1 again, the CONNECT's, long answered
    assert session.send_request(submit(), 0.0, "one") == 1
    session._window.seq = MAX_SEQUENCE - 1
    assert session.send_request(submit(), 0.0, "max") == MAX_SEQUENCE
    assert session.send_request(submit(), 0.0, "wrapped") == 2  # 0 never, 1 still in flight
    pdus = ismg.feed(session.data_to_send())
    assert [p.sequence_id for p in pdus] == [1, MAX_SEQUENCE, 2]
    events = session.receive_data(b"".join(ismg.answer(p) for p in pdus), 1.0)
    assert [e.token for e in events] == ["one", "max", "wrapped"]  # type: ignore[attr-defined]


def test_responses_match_by_command_and_sequence_id() -> None:
    session, ismg = connected()
    seq = session.send_request(submit(), 0.0, "t")
    session.data_to_send()
    # A DELIVER_RESP carrying our SUBMIT's Sequence_Id answers nothing of ours.
    (event,) = session.receive_data(ismg.wire(DeliverResp(sequence_id=seq)), 1.0)
    assert isinstance(event, ProtocolError)
    assert session.outstanding == 1
    (event,) = session.receive_data(ismg.wire(SubmitResp(sequence_id=seq, msg_id=9)), 1.0)
    assert isinstance(event, ResponseReceived) and event.token == "t"


def test_result_8_comes_back_as_a_response() -> None:
    session, ismg = connected()
    session.send_request(submit(), 0.0, "t")
    (pdu,) = ismg.feed(session.data_to_send())
    (event,) = session.receive_data(ismg.answer(pdu, result=8), 1.0)
    assert isinstance(event, ResponseReceived)
    resp = event.response
    assert (resp.command_status, resp.status_name) == (8, "FLOW_CONTROL")
    assert resp.message_id == "1"  # the canonical decimal Msg_Id


def test_query_is_a_user_request_too() -> None:
    session, ismg = connected()
    session.send_request(Query(time="20240101"), 0.0, "q")
    (pdu,) = ismg.feed(session.data_to_send())
    (event,) = session.receive_data(ismg.wire(pdu.response()), 1.0)  # type: ignore[union-attr]
    assert isinstance(event, ResponseReceived) and event.response.command_status == 0


def test_a_submit_that_does_not_fit_2_0_is_refused_without_queueing() -> None:
    session, _ = connected(Ismg(version=Version.V20), version=Version.V20)
    with pytest.raises(ValueError):
        session.send_request(Submit(dest_terminal_ids=("1" * 25,)), 0.0)
    assert session.window_free == 16 and session.data_to_send() == b""


def test_response_timeout_is_an_unknown_outcome() -> None:
    session, _ = connected(response_timeout=10.0)
    session.send_request(submit(), 1.0, "t")
    session.data_to_send()
    assert session.next_deadline() == 11.0
    assert session.handle_timer(10.9) == []
    (event,) = session.handle_timer(11.0)
    assert isinstance(event, RequestFailed) and event.token == "t"
    assert isinstance(event.error, CmppOutcomeUnknownError) and event.error.timed_out
    assert isinstance(event.error, OutcomeUnknownError)
    assert session.window_free == 16


def test_a_request_never_written_when_due_means_the_peer_is_not_reading() -> None:
    session, _ = connected(response_timeout=10.0)
    session.send_request(submit(), 1.0, "t")  # never taken by data_to_send()
    (event,) = session.handle_timer(11.0)
    assert isinstance(event, ConnectionDead)


def test_connection_drop_with_a_full_window_ends_every_request_once() -> None:
    session, ismg = connected()
    for i in range(5):
        session.send_request(submit(i), 1.0, i)
    written = ismg.feed(session.data_to_send())
    for i in range(5, 16):
        session.send_request(submit(i), 1.0, i)  # queued, not written
    events = session.receive_data(b"".join(ismg.answer(p) for p in written[:2]), 2.0)
    events += session.connection_lost("reset by peer")
    result = outcomes(events)
    assert result == {
        **dict.fromkeys(range(2), "response"),
        **dict.fromkeys(range(2, 5), "unknown"),
        **dict.fromkeys(range(5, 16), "not_sent"),
    }
    assert isinstance(events[-1], ConnectionDead)
    assert session.state is CmppSessionState.CLOSED and session.window_free == 16
    assert session.data_to_send() == b""


def test_undecodable_submit_resp_is_an_unknown_outcome() -> None:
    session, _ = connected()
    seq = session.send_request(submit(), 0.0, "t")
    session.data_to_send()
    # An 8-octet body: neither the 2.0 (9) nor the 3.0 (12) layout.
    bad = b"".join(n.to_bytes(4, "big") for n in (20, 0x80000004, seq)) + bytes(8)
    events = session.receive_data(bad, 1.0)
    assert [type(e) for e in events] == [RequestFailed, ProtocolError]
    assert isinstance(events[0], RequestFailed)
    assert isinstance(events[0].error, CmppOutcomeUnknownError)
    assert session.window_free == 16


def test_a_bad_total_length_kills_the_connection() -> None:
    session, _ = connected()
    (event,) = session.receive_data(bytes.fromhex("00000005 00000008 00000001"), 1.0)
    assert isinstance(event, ConnectionDead)


# --- requests from the ISMG -------------------------------------------------------------------


def deliver(**fields: Any) -> Deliver:
    fields.setdefault("msg_id", 0x1234567890ABCDEF)
    return Deliver(dest_id="1066", src_terminal_id="13800138000", msg_content=b"hello",
                   **fields)


@pytest.mark.parametrize("bytewise", [False, True])
def test_deliver_is_acknowledged_with_its_msg_id(bytewise: bool) -> None:
    session, ismg = connected()
    events = feed(session, ismg.wire(deliver(), seq=0), 1.0, bytewise=bytewise)  # Sequence 0
    (event,) = events
    assert isinstance(event, IncomingRequest) and event.acked
    assert isinstance(event.pdu, Deliver) and event.pdu.msg_content == b"hello"
    (resp,) = ismg.feed(session.data_to_send())
    assert resp == DeliverResp(sequence_id=0, msg_id=0x1234567890ABCDEF, result=0)


def test_deliver_without_auto_ack_is_answered_by_respond() -> None:
    session, ismg = connected(auto_ack=False)
    (event,) = session.receive_data(ismg.request(deliver()), 1.0)
    assert isinstance(event, IncomingRequest) and not event.acked
    assert session.data_to_send() == b""
    session.respond(event.pdu, 9)
    (resp,) = ismg.feed(session.data_to_send())
    assert resp == DeliverResp(sequence_id=ismg.seq, msg_id=0x1234567890ABCDEF, result=9)


def test_an_undecodable_deliver_is_answered_with_an_error_result() -> None:
    session, ismg = connected()
    wire = ismg.request(deliver())
    bad = (len(wire) - 40).to_bytes(4, "big") + wire[4:-40]
    events = session.receive_data(bad, 1.0)
    assert [type(e) for e in events] == [ProtocolError]
    (resp,) = ismg.feed(session.data_to_send())
    assert isinstance(resp, DeliverResp) and resp.sequence_id == ismg.seq and resp.result != 0
    assert resp.msg_id == 0x1234567890ABCDEF
    assert session.is_bound  # and the session lives on
    (event,) = session.receive_data(ismg.request(deliver()), 1.0)
    assert isinstance(event, IncomingRequest)


def test_deliver_before_connect_resp_is_refused() -> None:
    session = CmppSession(make_config(), 0.0)
    session.bind(0.0)
    ismg = Ismg()
    ismg.feed(session.data_to_send())
    (event,) = session.receive_data(ismg.request(deliver()), 0.0)
    assert isinstance(event, ProtocolError)
    (resp,) = ismg.feed(session.data_to_send())
    assert isinstance(resp, DeliverResp) and resp.result == 9


def test_sp_to_ismg_requests_from_the_ismg_are_refused() -> None:
    session, ismg = connected()
    events = session.receive_data(ismg.request(submit()) + ismg.request(Query()), 1.0)
    assert [type(e) for e in events] == [ProtocolError, ProtocolError]
    (resp,) = ismg.feed(session.data_to_send())  # QUERY_RESP has no error field: no answer
    assert isinstance(resp, SubmitResp) and resp.result == 2
    assert session.is_bound


@pytest.mark.parametrize("before_connect", [False, True])
def test_ismg_active_test_is_answered_at_once(before_connect: bool) -> None:
    if before_connect:
        session = CmppSession(make_config(), 0.0)
        session.bind(0.0)
        ismg = Ismg()
        ismg.feed(session.data_to_send())
    else:
        session, ismg = connected()
    assert session.receive_data(ismg.wire(ActiveTest(), seq=0), 1.0) == []
    data = session.data_to_send()
    assert data == bytes.fromhex("0000000d 80000008 00000000 00")  # 13 octets, Reserved 0


# --- ACTIVE_TEST keepalive ------------------------------------------------------------------------


def test_keepalive_after_c_idle_answered() -> None:
    session, ismg = connected(active_test_interval=180.0, active_test_timeout=60.0)
    assert session.next_deadline() == 180.0
    assert session.handle_timer(179.0) == []
    assert session.data_to_send() == b""
    assert session.handle_timer(180.0) == []
    (test,) = ismg.feed(session.data_to_send())
    assert isinstance(test, ActiveTest)
    assert session.next_deadline() == 240.0  # T for its response
    assert session.receive_data(ismg.answer(test), 200.0) == []
    assert session.next_deadline() == 380.0  # C after we last heard from the ISMG
    assert session.handle_timer(300.0) == []
    assert session.data_to_send() == b""


def test_traffic_postpones_the_keepalive() -> None:
    session, ismg = connected(active_test_interval=180.0)
    session.receive_data(ismg.request(deliver()), 100.0)
    assert session.next_deadline() == 280.0


def test_dead_peer_after_n_unanswered_tests() -> None:
    session, ismg = connected(active_test_interval=180.0, active_test_timeout=60.0,
                              active_test_misses=3)
    session.handle_timer(180.0)
    tests = ismg.feed(session.data_to_send())
    assert session.handle_timer(240.0) == []  # miss 1: sent again at once
    tests += ismg.feed(session.data_to_send())
    assert session.next_deadline() == 300.0
    assert session.handle_timer(300.0) == []  # miss 2
    tests += ismg.feed(session.data_to_send())
    assert [type(t) for t in tests] == [ActiveTest] * 3
    assert len({t.sequence_id for t in tests}) == 3
    (event,) = session.handle_timer(360.0)  # miss 3
    assert isinstance(event, ConnectionDead) and "3" in event.reason


def test_late_active_test_resp_resets_the_misses() -> None:
    session, ismg = connected(active_test_interval=180.0, active_test_timeout=60.0,
                              active_test_misses=2)
    session.handle_timer(180.0)
    (first,) = ismg.feed(session.data_to_send())
    session.handle_timer(240.0)  # miss 1
    ismg.feed(session.data_to_send())
    assert session.receive_data(ismg.answer(first), 250.0) == []  # late, still alive
    assert session.handle_timer(300.0) == []  # no dead peer: it answered
    assert session.next_deadline() == 430.0


def test_a_peer_answering_tests_with_tests_is_alive() -> None:
    # yedamao's mock server answers ACTIVE_TEST with an ACTIVE_TEST (cmpp.md section 12).
    session, ismg = connected(active_test_interval=10.0, active_test_timeout=5.0,
                              active_test_misses=1)
    for t in range(10, 100, 15):
        session.handle_timer(float(t))
        (test,) = ismg.feed(session.data_to_send())
        assert isinstance(test, ActiveTest)
        session.receive_data(ismg.request(ActiveTest()), t + 1.0)
        ismg.feed(session.data_to_send())  # our ACTIVE_TEST_RESP
        events = session.handle_timer(t + 5.0)
        assert not any(isinstance(e, ConnectionDead) for e in events)


def test_active_test_that_cannot_be_written_is_a_dead_connection() -> None:
    session, _ = connected(active_test_interval=10.0, active_test_timeout=5.0)
    session.handle_timer(10.0)  # queued, never written
    (event,) = session.handle_timer(15.0)
    assert isinstance(event, ConnectionDead)


# --- TERMINATE ------------------------------------------------------------------------------------


def test_terminate_by_us() -> None:
    session, ismg = connected()
    seq = session.unbind(5.0)
    assert seq is not None and session.state is CmppSessionState.TERMINATING
    assert not session.can_submit
    with pytest.raises(SessionStateError):
        session.send_request(submit(), 5.0)
    (term,) = ismg.feed(session.data_to_send())
    assert isinstance(term, Terminate) and term.sequence_id == seq
    (event,) = session.receive_data(ismg.answer(term), 6.0)
    assert isinstance(event, Unbound) and not event.by_peer
    assert session.state is CmppSessionState.CLOSED


def test_terminate_by_us_unanswered_ends_anyway() -> None:
    session, ismg = connected(response_timeout=5.0)
    session.unbind(1.0)
    ismg.feed(session.data_to_send())
    (event,) = session.handle_timer(6.0)
    assert isinstance(event, Unbound) and not event.by_peer


def test_terminate_waits_for_requests_in_flight() -> None:
    session, ismg = connected()
    session.send_request(submit(), 1.0, "t")
    session.unbind(1.0)
    sub, term = ismg.feed(session.data_to_send())
    # DELIVERs still arriving while we terminate are acknowledged and passed on.
    events = session.receive_data(ismg.answer(sub) + ismg.request(deliver()) + ismg.answer(term),
                                  2.0)
    assert [type(e) for e in events] == [ResponseReceived, IncomingRequest, Unbound]


@pytest.mark.parametrize("bytewise", [False, True])
def test_terminate_by_the_ismg(bytewise: bool) -> None:
    session, ismg = connected()
    (event,) = feed(session, ismg.request(Terminate()), 3.0, bytewise=bytewise)
    assert isinstance(event, Unbound) and event.by_peer
    (resp,) = ismg.feed(session.data_to_send())
    assert resp == TerminateResp(sequence_id=ismg.seq)
    assert session.state is CmppSessionState.CLOSED
    assert session.next_deadline() is None


def test_a_terminate_from_the_ismg_after_answering_ours_is_answered_too() -> None:
    # Either side may send CMPP_TERMINATE (4.3, 11.7): an ISMG seen in the wild answers ours,
    # then sends its own. The session had ended; the ISMG still gets its TERMINATE_RESP, and
    # this is no protocol error.
    session, ismg = connected()
    session.unbind(5.0)
    (term,) = ismg.feed(session.data_to_send())
    events = session.receive_data(ismg.answer(term) + ismg.request(Terminate()), 6.0)
    assert [type(e) for e in events] == [Unbound]
    assert session.state is CmppSessionState.CLOSED
    (resp,) = ismg.feed(session.data_to_send())
    assert resp == TerminateResp(sequence_id=ismg.seq)


@pytest.mark.parametrize("bytewise", [False, True])
def test_terminates_that_cross_end_the_session_once(bytewise: bool) -> None:
    session, ismg = connected()
    session.unbind(5.0)
    (term,) = ismg.feed(session.data_to_send())
    (event,) = feed(session, ismg.request(Terminate()), 6.0, bytewise=bytewise)
    assert isinstance(event, Unbound) and event.by_peer
    (resp,) = ismg.feed(session.data_to_send())
    assert resp == TerminateResp(sequence_id=ismg.seq)
    assert session.receive_data(ismg.answer(term), 7.0) == []  # our TERMINATE's answer
    assert session.state is CmppSessionState.CLOSED and session.next_deadline() is None


def test_a_terminate_before_connect_resp_ends_the_session() -> None:
    session = CmppSession(make_config(), 0.0)
    session.bind(0.0)
    ismg = Ismg()
    ismg.feed(session.data_to_send())
    (event,) = session.receive_data(ismg.request(Terminate()), 1.0)
    assert isinstance(event, Unbound) and event.by_peer
    (resp,) = ismg.feed(session.data_to_send())
    assert resp == TerminateResp(sequence_id=ismg.seq)
    assert session.next_deadline() is None


def test_a_terminate_after_a_refused_connect_is_answered() -> None:
    session = CmppSession(make_config(secret="wrong"), 0.0)
    session.bind(0.0)
    ismg = Ismg()
    (connect,) = ismg.feed(session.data_to_send())
    events = session.receive_data(ismg.answer(connect) + ismg.request(Terminate()), 1.0)
    assert [type(e) for e in events] == [BindFailed]
    (resp,) = ismg.feed(session.data_to_send())
    assert resp == TerminateResp(sequence_id=ismg.seq)


def test_an_sp_to_ismg_pdu_from_the_ismg_is_still_named_so() -> None:
    session, ismg = connected()
    (event,) = session.receive_data(ismg.request(submit()), 1.0)
    assert isinstance(event, ProtocolError) and "SP-to-ISMG" in event.detail


def test_active_test_resp_of_12_octets_is_accepted() -> None:
    session, ismg = connected(active_test_interval=10.0)
    session.handle_timer(10.0)
    (test,) = ismg.feed(session.data_to_send())
    short = bytes.fromhex("0000000c 80000008") + test.sequence_id.to_bytes(4, "big")
    assert session.receive_data(short, 11.0) == []
    assert session.next_deadline() == 21.0


def test_responses_expose_smpp_style_status_names() -> None:
    assert ActiveTestResp().command_status == 0
    assert ConnectResp(status=3).status_name == "AUTHENTICATION_FAILED"
    assert DeliverResp(result=8).command_status == 8
    assert SubmitResp(msg_id=2**64 - 1).message_id == str(2**64 - 1)
