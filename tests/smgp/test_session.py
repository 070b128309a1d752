"""The sans-I/O SMGP session (smgp.md sections 4, 6, 9, 10, 12) against a minimal SMGW built from
the codec, back to back without sockets, time passed in.

Input is fed in bulk and one byte at a time; every request ends in exactly one event.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from smsengine.link import (
    AuthenticationError,
    BindFailed,
    BindMode,
    Bound,
    ConnectionDead,
    IncomingRequest,
    NotSentError,
    OutcomeUnknownError,
    ProtocolError,
    ReceiptState,
    RequestFailed,
    ResponseReceived,
    SessionEvent,
    SessionStateError,
    Unbound,
)
from smsengine.smgp import (
    ActiveTest,
    ActiveTestResp,
    Deliver,
    DeliverResp,
    Exit,
    ExitResp,
    Framer,
    InvalidPdu,
    InvalidPduError,
    Login,
    LoginResp,
    MsgId,
    Pdu,
    Report,
    SmgpAuthenticationError,
    SmgpLoginError,
    SmgpNotSentError,
    SmgpOutcomeUnknownError,
    SmgpSession,
    SmgpSessionConfig,
    SmgpSessionState,
    SmgpThrottledError,
    SmgpVersionError,
    Submit,
    SubmitResp,
    authenticator_client,
    authenticator_server,
    encode,
    encode_report,
    error_for_status,
    receipt_state,
)
from smsengine.smgp.session import MAX_SEQUENCE

# The vector of smgp.md section 14: ClientID 12345678, secret "secret", 01-02 03:04:05.
CLIENT_ID = "12345678"
SECRET = "secret"
LOCAL = SimpleNamespace(tm_mon=1, tm_mday=2, tm_hour=3, tm_min=4, tm_sec=5)
GOLDEN_LOGIN = bytes.fromhex(
    "0000002a 00000001 00000001 3132333435363738 600ff8891882f26519a877d6137e3706 02 0614dc45 30"
)
GOLDEN_LOGIN_RESP = bytes.fromhex(
    "00000021 80000001 00000001 00000000 d89466040a419920248c1def036a00db 30"
)


def make_config(**kwargs: Any) -> SmgpSessionConfig:
    kwargs.setdefault("clock", lambda: LOCAL)
    return SmgpSessionConfig(CLIENT_ID, kwargs.pop("secret", SECRET), **kwargs)


def submit(n: int = 0, **fields: Any) -> Submit:
    return Submit(dest_term_ids=(f"1331234{n:04d}",), msg_content=b"hi", need_report=1, **fields)


class Smgw:
    """The gateway side, just enough of it: checks the Login, numbers Submit_Resp MsgIDs,
    answers Active_Test and Exit; anything else is left to the test."""

    def __init__(self, secret: str = SECRET, version: int = 0x30) -> None:
        self.secret = secret
        self.version = version
        self.framer = Framer(version)
        self.received: list[Pdu | InvalidPdu] = []
        self.seq = 1000
        self.msg_id = MsgId.from_parts("010061", 1, 16, 17, 0, 0)

    def feed(self, data: bytes) -> list[Pdu | InvalidPdu]:
        pdus = self.framer.feed(data)
        self.received += pdus
        return pdus

    def wire(self, pdu: Pdu, seq: int | None = None) -> bytes:
        return encode(pdu, self.version, sequence_id=seq)

    def request(self, pdu: Pdu) -> bytes:
        self.seq += 1
        return self.wire(pdu, self.seq)

    def answer(self, pdu: Pdu | InvalidPdu, *, status: int = 0) -> bytes:
        """The natural response to one of the session's PDUs."""
        if isinstance(pdu, Login):
            ok = pdu.authenticator_client == authenticator_client(
                pdu.client_id, self.secret, pdu.timestamp)
            st = status if status or not ok else 0
            st = st or (0 if ok else 21)
            auth = (authenticator_server(st, pdu.authenticator_client, self.secret) if st == 0
                    else bytes(16))
            return self.wire(LoginResp(sequence_id=pdu.sequence_id, status=st,
                                       authenticator_server=auth, server_version=self.version))
        if isinstance(pdu, Submit):
            self.msg_id = self.msg_id.next()
            return self.wire(SubmitResp(sequence_id=pdu.sequence_id, msg_id=self.msg_id.raw,
                                        status=status))
        if isinstance(pdu, ActiveTest):
            return self.wire(ActiveTestResp(sequence_id=pdu.sequence_id))
        if isinstance(pdu, Exit):
            return self.wire(ExitResp(sequence_id=pdu.sequence_id))
        raise AssertionError(f"no natural answer to {pdu!r}")


def feed(session: SmgpSession, data: bytes, now: float, bytewise: bool) -> list[SessionEvent]:
    if not bytewise:
        return session.receive_data(data, now)
    events: list[SessionEvent] = []
    for i in range(len(data)):
        events += session.receive_data(data[i:i + 1], now)
    return events


def logged_in(config: SmgpSessionConfig | None = None,
              smgw: Smgw | None = None) -> tuple[SmgpSession, Smgw]:
    session = SmgpSession(config or make_config())
    smgw = smgw or Smgw()
    session.bind(0.0)
    (login,) = smgw.feed(session.data_to_send())
    events = session.receive_data(smgw.answer(login), 0.0)
    assert [type(e) for e in events] == [Bound], events
    return session, smgw


# --- login (4.1, 4.2, 6) ----------------------------------------------------------------------


def test_login_is_the_golden_pdu() -> None:
    session = SmgpSession(make_config())
    assert session.bind(0.0) == 1
    assert session.data_to_send() == GOLDEN_LOGIN
    assert session.state is SmgpSessionState.LOGGING_IN


@pytest.mark.parametrize("bytewise", [False, True])
def test_the_golden_login_resp_logs_in(bytewise: bool) -> None:
    session = SmgpSession(make_config(verify_server="fatal"))
    session.bind(0.0)
    session.data_to_send()
    events = feed(session, GOLDEN_LOGIN_RESP, 0.0, bytewise)
    assert [type(e) for e in events] == [Bound]
    assert isinstance(events[0], Bound) and events[0].mode is BindMode.TRANSCEIVER
    assert session.is_bound and session.can_submit and session.server_version == 0x30


def test_login_without_a_clock_is_refused() -> None:
    session = SmgpSession(SmgpSessionConfig(CLIENT_ID, SECRET))
    with pytest.raises(SessionStateError):
        session.bind(0.0)
    assert session.bind(0.0, LOCAL) == 1


def test_the_config_speaks_the_names_the_bind_machinery_reads() -> None:
    config = make_config(active_test_interval=30.0)
    assert (config.system_id, config.enquire_link_interval, config.window) == (CLIENT_ID, 30.0,
                                                                                16)


@pytest.mark.parametrize("bad", [{"window": 0}, {"response_timeout": 0}, {"login_mode": 3},
                                 {"verify_server": "maybe"}, {"secret": "x" * 16},
                                 {"active_test_misses": 0}])
def test_bad_config_is_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        make_config(**bad)


def test_an_over_long_client_id_is_refused_at_config_time() -> None:
    with pytest.raises(InvalidPduError):
        SmgpSessionConfig("123456789", SECRET)


def test_a_wrong_secret_fails_the_login_with_an_authentication_error() -> None:
    session = SmgpSession(make_config(secret="wrong"))
    smgw = Smgw()
    session.bind(0.0)
    (login,) = smgw.feed(session.data_to_send())
    (event,) = session.receive_data(smgw.answer(login), 0.0)
    assert isinstance(event, BindFailed) and event.status == 21
    assert isinstance(event.error, SmgpAuthenticationError)
    assert isinstance(event.error, AuthenticationError) and not event.error.retriable
    assert session.state is SmgpSessionState.CLOSED and session.next_deadline() is None


@pytest.mark.parametrize(("status", "cls", "retriable"), [
    (3, SmgpAuthenticationError, False), (20, SmgpAuthenticationError, False),
    (22, SmgpVersionError, False), (2, SmgpLoginError, True), (1, SmgpLoginError, True),
    (200, SmgpLoginError, True),
])
def test_every_non_zero_login_status_fails(status: int, cls: type, retriable: bool) -> None:
    session = SmgpSession(make_config())
    smgw = Smgw()
    session.bind(0.0)
    (login,) = smgw.feed(session.data_to_send())
    (event,) = session.receive_data(smgw.answer(login, status=status), 0.0)
    assert isinstance(event, BindFailed) and type(event.error) is cls
    assert event.error.retriable is retriable and event.error.status == status


@pytest.mark.parametrize(("policy", "expected"), [
    ("warn", [ProtocolError, Bound]), ("fatal", [BindFailed]), ("off", [Bound]),
])
def test_a_wrong_authenticator_server_follows_the_policy(policy: str,
                                                         expected: list[type]) -> None:
    session = SmgpSession(make_config(verify_server=policy))
    session.bind(0.0)
    session.data_to_send()
    forged = encode(LoginResp(sequence_id=1, authenticator_server=b"authserver\0\0\0\0\0\0"))
    assert [type(e) for e in session.receive_data(forged, 0.0)] == expected


def test_the_one_octet_status_authenticator_is_accepted() -> None:
    session = SmgpSession(make_config(verify_server="fatal"))
    session.bind(0.0)
    (login,) = Smgw().feed(session.data_to_send())
    assert isinstance(login, Login)
    auth = authenticator_server(0, login.authenticator_client, SECRET, 1)
    events = session.receive_data(encode(LoginResp(sequence_id=1, authenticator_server=auth)),
                                  0.0)
    assert [type(e) for e in events] == [Bound]


def test_a_2_0_gateway_gets_2_0_layouts() -> None:
    session, smgw = logged_in(smgw=Smgw(version=0x20))
    assert session.version == 0x20
    session.send_request(submit(link_id="1234"), 0.0)
    data = session.data_to_send()
    assert len(data) == 126 + 21 + 2  # no TLVs
    (pdu,) = smgw.feed(data)
    assert isinstance(pdu, Submit) and pdu.link_id == ""


def test_a_receive_only_login_cannot_submit() -> None:
    session, _ = logged_in(make_config(login_mode=1))
    assert session.is_bound and not session.can_submit
    with pytest.raises(SessionStateError, match="receive-only"):
        session.send_request(submit(), 0.0)


def test_no_login_resp_is_a_dead_connection() -> None:
    session = SmgpSession(make_config(response_timeout=5.0))
    session.bind(0.0)
    session.data_to_send()
    assert session.next_deadline() == 5.0
    (event,) = session.handle_timer(5.0)
    assert isinstance(event, ConnectionDead) and "Login_Resp" in event.reason


def test_nothing_but_login_before_login_resp() -> None:
    session = SmgpSession(make_config())
    with pytest.raises(SessionStateError):
        session.send_request(submit(), 0.0)
    session.bind(0.0)
    with pytest.raises(SessionStateError):
        session.send_request(submit(), 0.0)
    with pytest.raises(SessionStateError, match="bind"):
        session.send_request(Login(), 0.0)


# --- submits, the window, timeouts (12.3, 12.4) ------------------------------------------------


@pytest.mark.parametrize("bytewise", [False, True])
def test_a_full_window_pipelined_and_answered(bytewise: bool) -> None:
    session, smgw = logged_in()
    assert session.send_requests([submit(i) for i in range(20)], list(range(20)), 0.0) == 16
    assert session.window_free == 0
    with pytest.raises(SmgpNotSentError) as info:
        session.send_request(submit(99), 0.0)
    assert isinstance(info.value, NotSentError)
    pdus = smgw.feed(session.data_to_send())
    answers = b"".join(smgw.answer(p) for p in reversed(pdus))
    events = feed(session, answers, 1.0, bytewise)
    assert all(isinstance(e, ResponseReceived) for e in events)
    assert sorted(e.token for e in events) == list(range(16))  # type: ignore[attr-defined]
    ids = {e.response.message_id for e in events}  # type: ignore[attr-defined]
    assert len(ids) == 16 and all(len(i) == 20 for i in ids)
    assert session.window_free == 16 and session.outstanding == 0


def test_status_1_comes_back_as_a_response() -> None:
    session, smgw = logged_in()
    session.send_request(submit(), 0.0, "t")
    (pdu,) = smgw.feed(session.data_to_send())
    (event,) = session.receive_data(smgw.answer(pdu, status=1), 0.0)
    assert isinstance(event, ResponseReceived) and event.response.command_status == 1
    assert event.response.status_name == "SYSTEM_BUSY"
    assert isinstance(error_for_status(1), SmgpThrottledError)


def test_a_submit_that_does_not_fit_is_refused_without_queueing() -> None:
    session, _ = logged_in()
    with pytest.raises(InvalidPduError):
        session.send_request(Submit(dest_term_ids=("1",), msg_content=b"x" * 141), 0.0)
    assert session.outstanding == 0 and session.data_to_send() == b""


def test_sequence_id_wraps_past_uint32() -> None:
    session, _ = logged_in()
    session._window.seq = MAX_SEQUENCE - 1
    assert session.send_request(submit(), 0.0) == MAX_SEQUENCE
    assert session.send_request(submit(), 0.0) == 1


def test_response_timeout_is_an_unknown_outcome() -> None:
    session, _ = logged_in(make_config(response_timeout=10.0, active_test_interval=100.0))
    session.send_request(submit(), 1.0, "t")
    session.data_to_send()
    assert session.next_deadline() == 11.0
    assert session.handle_timer(10.9) == []
    (event,) = session.handle_timer(11.0)
    assert isinstance(event, RequestFailed) and event.token == "t"
    assert isinstance(event.error, SmgpOutcomeUnknownError)
    assert isinstance(event.error, OutcomeUnknownError) and event.error.timed_out


def test_a_request_never_written_when_due_means_the_smgw_is_not_reading() -> None:
    session, _ = logged_in(make_config(response_timeout=10.0, active_test_interval=100.0))
    session.send_request(submit(), 0.0)
    (event,) = session.handle_timer(10.0)
    assert isinstance(event, ConnectionDead) and "not reading" in event.reason


def test_a_dropped_connection_ends_every_request_once() -> None:
    session, _ = logged_in()
    session.send_requests([submit(i) for i in range(3)], ["a", "b", "c"], 0.0)
    session.data_to_send()
    session.send_request(submit(9), 0.0, "d")
    events = session.connection_lost("reset")
    failed = {e.token: type(e.error) for e in events if isinstance(e, RequestFailed)}
    assert failed == {"a": SmgpOutcomeUnknownError, "b": SmgpOutcomeUnknownError,
                      "c": SmgpOutcomeUnknownError, "d": SmgpNotSentError}
    assert isinstance(events[-1], ConnectionDead)
    assert session.connection_lost() == []


def test_an_undecodable_submit_resp_is_an_unknown_outcome() -> None:
    session, _ = logged_in()
    seq = session.send_request(submit(), 0.0, "t")
    session.data_to_send()
    short = bytes.fromhex("00000010 80000002") + seq.to_bytes(4, "big") + b"\0\0\0\0"
    events = session.receive_data(short, 0.0)
    assert [type(e) for e in events] == [RequestFailed, ProtocolError]
    assert isinstance(events[0], RequestFailed)
    assert isinstance(events[0].error, SmgpOutcomeUnknownError)


def test_a_bad_packet_length_kills_the_connection_after_answering_what_came_whole() -> None:
    session, smgw = logged_in()
    deliver = smgw.request(Deliver(msg_id=b"\1" * 10, src_term_id="13312345678",
                                   msg_content=b"TD"))
    events = session.receive_data(deliver + bytes.fromhex("00000005 00000003"), 0.0)
    assert [type(e) for e in events] == [IncomingRequest, ConnectionDead]
    dead = events[-1]
    assert isinstance(dead, ConnectionDead)
    (resp,) = smgw.feed(dead.answers)
    assert isinstance(resp, DeliverResp) and resp.msg_id == b"\1" * 10


# --- Deliver: MO and reports (4.5, 4.6, 9) ------------------------------------------------------


@pytest.mark.parametrize("bytewise", [False, True])
def test_a_report_is_answered_with_its_msg_id_and_correlates(bytewise: bool) -> None:
    session, smgw = logged_in()
    session.send_request(submit(), 0.0)
    (pdu,) = smgw.feed(session.data_to_send())
    (resp_event,) = session.receive_data(smgw.answer(pdu), 0.0)
    assert isinstance(resp_event, ResponseReceived)
    mt_id = resp_event.response.msg_id
    content = encode_report(Report(msg_id=mt_id, submit_date="2501020304",
                                   done_date="2501020305", stat="DELIVRD"))
    own = b"\x99" * 10
    wire = smgw.request(Deliver(msg_id=own, is_report=1, recv_time="20250102030500",
                                src_term_id="13312340000", dest_term_id="10690001",
                                msg_content=content))
    (event,) = feed(session, wire, 1.0, bytewise)
    assert isinstance(event, IncomingRequest) and event.acked
    report = event.pdu.report
    assert report.message_id == resp_event.response.message_id
    assert receipt_state(report.stat) is ReceiptState.DELIVERED
    (answer,) = smgw.feed(session.data_to_send())
    assert isinstance(answer, DeliverResp) and answer.msg_id == own and answer.status == 0
    assert answer.sequence_id == smgw.seq


def test_report_states() -> None:
    assert receipt_state("UNDELIV") is ReceiptState.UNDELIVERABLE
    assert receipt_state("expired") is ReceiptState.EXPIRED
    assert receipt_state("ACCEPTD") is ReceiptState.ACCEPTED
    assert receipt_state("DTBLACK") is ReceiptState.UNDELIVERABLE


def test_an_mo_without_auto_ack_is_answered_by_respond() -> None:
    session, smgw = logged_in(make_config(auto_ack=False))
    wire = smgw.request(Deliver(msg_id=b"\2" * 10, msg_format=15,
                                msg_content="退订".encode("gb18030"), src_term_id="13312345678",
                                dest_term_id="10690001"))
    (event,) = session.receive_data(wire, 0.0)
    assert isinstance(event, IncomingRequest) and not event.acked
    assert session.data_to_send() == b""
    session.respond(event.pdu, 0)
    (answer,) = smgw.feed(session.data_to_send())
    assert isinstance(answer, DeliverResp) and answer.msg_id == b"\2" * 10


def test_an_undecodable_deliver_is_answered_all_the_same() -> None:
    # (With Status 0, as the codec's response says: section 4.6, "answer every Deliver
    # promptly, with 0 even for content you cannot use", or the SMGW sends it again.)
    session, _ = logged_in()
    bad = bytes.fromhex("00000011 00000003 00000007") + b"\0" * 5
    events = session.receive_data(bad, 0.0)
    assert [type(e) for e in events] == [ProtocolError]
    (answer,) = Smgw().feed(session.data_to_send())
    assert isinstance(answer, DeliverResp) and answer.sequence_id == 7


def test_a_deliver_before_login_resp_is_refused() -> None:
    session = SmgpSession(make_config())
    session.bind(0.0)
    session.data_to_send()
    smgw = Smgw()
    (event,) = session.receive_data(smgw.request(Deliver(msg_id=b"\3" * 10)), 0.0)
    assert isinstance(event, ProtocolError)
    (answer,) = smgw.feed(session.data_to_send())
    assert isinstance(answer, DeliverResp) and answer.status == 11


def test_sp_to_smgw_requests_from_the_smgw_are_refused() -> None:
    session, smgw = logged_in()
    (event,) = session.receive_data(smgw.request(submit()), 0.0)
    assert isinstance(event, ProtocolError) and "SP-to-SMGW" in event.detail
    (answer,) = smgw.feed(session.data_to_send())
    assert isinstance(answer, SubmitResp) and answer.status == 11


# --- keepalive (12.2) ---------------------------------------------------------------------------


@pytest.mark.parametrize("before_login", [False, True])
def test_the_smgws_active_test_is_answered_at_once(before_login: bool) -> None:
    if before_login:
        session, smgw = SmgpSession(make_config()), Smgw()
    else:
        session, smgw = logged_in()
    assert session.receive_data(smgw.request(ActiveTest()), 0.0) == []
    (answer,) = smgw.feed(session.data_to_send())
    assert isinstance(answer, ActiveTestResp) and answer.sequence_id == smgw.seq
    assert len(encode(answer)) == 12


def test_keepalive_after_c_idle_answered() -> None:
    session, smgw = logged_in(make_config(active_test_interval=180.0, active_test_timeout=60.0))
    assert session.next_deadline() == 180.0
    assert session.handle_timer(180.0) == []
    (test,) = smgw.feed(session.data_to_send())
    assert isinstance(test, ActiveTest)
    assert session.next_deadline() == 240.0
    assert session.receive_data(smgw.answer(test), 200.0) == []
    assert session.next_deadline() == 380.0


def test_the_smgw_is_dead_after_n_unanswered_tests() -> None:
    session, smgw = logged_in(make_config(active_test_interval=10.0, active_test_timeout=5.0,
                                          active_test_misses=3))
    now = 10.0
    events: list[SessionEvent] = session.handle_timer(now)
    for _ in range(3):
        assert isinstance(smgw.feed(session.data_to_send())[0], ActiveTest)
        now += 5.0
        events = session.handle_timer(now)
    (event,) = events
    assert isinstance(event, ConnectionDead) and "3 Active_Tests unanswered" in event.reason


def test_traffic_postpones_the_keepalive() -> None:
    session, smgw = logged_in(make_config(active_test_interval=10.0))
    session.receive_data(smgw.request(ActiveTest()), 8.0)
    assert session.next_deadline() == 18.0


# --- Exit (4.7, 12.1) ---------------------------------------------------------------------------


def test_exit_by_us_waits_for_requests_in_flight() -> None:
    session, smgw = logged_in()
    session.send_request(submit(), 0.0, "t")
    assert session.unbind(0.0) is not None
    assert session.unbind(0.0) is None
    with pytest.raises(SessionStateError):
        session.send_request(submit(), 0.0)
    submit_pdu, exit_pdu = smgw.feed(session.data_to_send())
    assert isinstance(exit_pdu, Exit)
    events = session.receive_data(smgw.answer(submit_pdu) + smgw.answer(exit_pdu), 1.0)
    assert [type(e) for e in events] == [ResponseReceived, Unbound]
    assert isinstance(events[1], Unbound) and not events[1].by_peer
    assert session.state is SmgpSessionState.CLOSED


def test_exit_unanswered_ends_anyway() -> None:
    session, _ = logged_in(make_config(response_timeout=5.0))
    session.unbind(0.0)
    session.data_to_send()
    (event,) = session.handle_timer(5.0)
    assert isinstance(event, Unbound)


@pytest.mark.parametrize("bytewise", [False, True])
def test_exit_by_the_smgw(bytewise: bool) -> None:
    session, smgw = logged_in()
    (event,) = feed(session, smgw.request(Exit()), 0.0, bytewise)
    assert isinstance(event, Unbound) and event.by_peer
    (answer,) = smgw.feed(session.data_to_send())
    assert isinstance(answer, ExitResp) and answer.sequence_id == smgw.seq


def test_exits_that_cross_end_the_session_once() -> None:
    session, smgw = logged_in()
    session.unbind(0.0)
    (ours,) = smgw.feed(session.data_to_send())
    events = session.receive_data(smgw.request(Exit()) + smgw.answer(ours), 0.0)
    assert [type(e) for e in events] == [Unbound]
    assert isinstance(smgw.feed(session.data_to_send())[0], ExitResp)


def test_an_exit_after_a_refused_login_is_answered() -> None:
    session = SmgpSession(make_config(secret="wrong"))
    smgw = Smgw()
    session.bind(0.0)
    (login,) = smgw.feed(session.data_to_send())
    session.receive_data(smgw.answer(login), 0.0)
    assert session.receive_data(smgw.request(Exit()), 0.0) == []
    assert isinstance(smgw.feed(session.data_to_send())[0], ExitResp)


@pytest.mark.parametrize("style", ["spec", "smsgate"])
def test_the_receipt_fields_read_fast_agree_with_the_parser(style: str) -> None:
    from smsengine.smgp import ReportStyle, parse_report, report_id_stat_err

    report = Report(msg_id=b"\x01 :stat:\0" + b"\xff", submit_date="2501020304",
                    done_date="2501020305", stat="UNDELIV", err="005")
    content = encode_report(report, ReportStyle(style))
    parsed = parse_report(content)
    assert report_id_stat_err(content) == (parsed.msg_id, parsed.stat, parsed.err) == (
        report.msg_id, "UNDELIV", "005")
