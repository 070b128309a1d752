"""The SGIP sessions back to back, with no sockets: the SP's connection against a scripted SMG
(the codec answering), the SMG's connection back against the SP's receiver, bulk and one byte
at a time, with an injected clock."""

from __future__ import annotations

import time
from typing import Any

import pytest

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
    SessionStateError,
    ThrottledError,
    Unbound,
)
from smsengine.sgip import (
    Bind,
    BindResp,
    Deliver,
    Framer,
    LoginType,
    Report,
    Result,
    SequenceNumber,
    SgipReceiverConfig,
    SgipReceiverSession,
    SgipSession,
    SgipSessionConfig,
    SgipSessionState,
    Submit,
    SubmitResp,
    Unbind,
    UnbindResp,
    decode,
    encode,
    error_for_result,
)

NODE = 3010012345
SMG_NODE = 101001
LOCAL = time.struct_time((2026, 1, 2, 3, 4, 5, 4, 2, 0))  # timestamp 102030405


def clock() -> time.struct_time:
    return LOCAL


def config(**kw: Any) -> SgipSessionConfig:
    kw.setdefault("clock", clock)
    return SgipSessionConfig("sp_user", "sp_pass", node_id=NODE, **kw)


def submit(n: int = 0) -> Submit:
    return Submit(sp_number="10655001", user_numbers=(f"861301234{n:04d}",),
                  message_coding=8, message_content="测试".encode("utf-16-be"))


def pdus(data: bytes) -> list[Any]:
    return list(Framer().feed(data))


def feed(session: Any, data: bytes, now: float, *, bytewise: bool) -> list[Any]:
    if not bytewise:
        return list(session.receive_data(data, now))
    events: list[Any] = []
    for i in range(len(data)):
        events += session.receive_data(data[i:i + 1], now)
    return events


def bound(bytewise: bool = False, **kw: Any) -> SgipSession:
    s = SgipSession(config(**kw), 0.0)
    s.bind(0.0)
    (b,) = pdus(s.data_to_send())
    assert type(b) is Bind
    events = feed(s, encode(b.response(result=0)), 0.1, bytewise=bytewise)
    assert [type(e) for e in events] == [Bound]
    return s


@pytest.mark.parametrize("bytewise", [False, True])
def test_bind_is_login_type_1_with_the_configured_node_and_timestamp(bytewise: bool) -> None:
    s = SgipSession(config(), 0.0)
    assert s.state is SgipSessionState.OPEN
    s.bind(0.0)
    wire = s.data_to_send()
    b = decode(wire)
    assert type(b) is Bind
    assert b.login_type == LoginType.SP_TO_SMG
    assert (b.login_name, b.login_password) == ("sp_user", "sp_pass")
    assert b.sequence_number.node_id == NODE
    assert b.sequence_number.timestamp == 102030405
    assert len(wire) == 61
    assert not s.is_bound
    events = feed(s, encode(b.response(result=0)), 1.0, bytewise=bytewise)
    assert [type(e) for e in events] == [Bound]
    assert s.is_bound and s.can_submit


@pytest.mark.parametrize("bytewise", [False, True])
def test_submits_are_numbered_by_the_triple_and_answered_on_it(bytewise: bool) -> None:
    s = bound(bytewise)
    keys = [s.send_request(submit(i), 1.0, f"t{i}") for i in range(3)]
    assert s.outstanding == 3 and s.window_free == 13
    sent = pdus(s.data_to_send())
    assert [type(p) for p in sent] == [Submit] * 3
    seqs = [p.sequence_number for p in sent]
    assert [q.counter for q in seqs] == keys
    assert len(set(seqs)) == 3
    assert all(q.node_id == NODE and q.timestamp == 102030405 for q in seqs)
    # Answered out of order, all in one read.
    data = b"".join(encode(p.response(result=0)) for p in reversed(sent))
    events = feed(s, data, 2.0, bytewise=bytewise)
    assert [type(e) for e in events] == [ResponseReceived] * 3
    assert [e.token for e in events] == ["t2", "t1", "t0"]
    # The message id is the Submit's triple, as its Reports will carry it.
    assert [e.response.message_id for e in events] == [str(q) for q in reversed(seqs)]
    assert s.outstanding == 0 and s.window_free == 16


def test_a_response_must_match_the_whole_triple() -> None:
    s = bound()
    s.send_request(submit(), 1.0, "t")
    (p,) = pdus(s.data_to_send())
    q = p.sequence_number
    wrong = SequenceNumber(q.node_id, q.timestamp + 1, q.counter)
    events = s.receive_data(encode(SubmitResp(sequence_number=wrong)), 2.0)
    assert [type(e) for e in events] == [ProtocolError]
    assert s.outstanding == 1


def test_the_counter_is_shared_by_every_connection_of_one_config() -> None:
    cfg = config()
    a, b = SgipSession(cfg), SgipSession(cfg)
    for s in (a, b):
        s.bind(0.0)
        (bind,) = pdus(s.data_to_send())
        s.receive_data(encode(bind.response()), 0.0)
    a.send_request(submit(), 1.0)
    b.send_request(submit(), 1.0)
    (pa,) = pdus(a.data_to_send())
    (pb,) = pdus(b.data_to_send())
    assert pa.sequence_number != pb.sequence_number


def test_the_timestamp_follows_the_clock() -> None:
    times = [LOCAL, time.struct_time((2026, 11, 20, 20, 32, 25, 4, 324, 0))]
    s = SgipSession(config(clock=lambda: times[0]))
    s.bind(0.0)
    s.receive_data(encode(pdus(s.data_to_send())[0].response()), 0.0)
    times[0] = times[1]
    s.send_request(submit(), 0.5, None)  # same second of ``now``: the stamp is kept
    s.send_request(submit(), 1.5, None)
    first, second = pdus(s.data_to_send())
    assert first.sequence_number.timestamp == 102030405
    assert second.sequence_number.timestamp == 1120203225


def test_window_full_raises_not_sent_and_queues_nothing() -> None:
    s = bound(window=2)
    assert s.send_requests([submit(0), submit(1), submit(2)], ["a", "b", "c"], 1.0) == 2
    with pytest.raises(NotSentError):
        s.send_request(submit(3), 1.0)
    assert len(pdus(s.data_to_send())) == 2


def test_submit_before_the_bind_resp_is_a_state_error() -> None:
    s = SgipSession(config())
    with pytest.raises(SessionStateError):
        s.send_request(submit(), 0.0)
    s.bind(0.0)
    with pytest.raises(SessionStateError):
        s.send_request(submit(), 0.0)
    with pytest.raises(SessionStateError):
        s.send_request(Unbind(), 0.0)


@pytest.mark.parametrize(("result", "auth"), [(1, True), (4, True), (2, False), (3, False)])
def test_a_refused_bind_fails_with_the_result(result: int, auth: bool) -> None:
    s = SgipSession(config())
    s.bind(0.0)
    (b,) = pdus(s.data_to_send())
    events = s.receive_data(encode(b.response(result=result)), 0.1)
    assert [type(e) for e in events] == [BindFailed]
    assert events[0].status == result
    assert isinstance(events[0].error, AuthenticationError) is auth
    assert s.state is SgipSessionState.CLOSED


def test_throttle_results_are_link_throttles() -> None:
    for code in (Result.NODE_BUSY, 33, Result.FLOW_CONTROL):
        err = error_for_result(code)
        assert isinstance(err, ThrottledError) and err.retriable
    assert not error_for_result(Result.ILLEGAL_MOBILE_NUMBER).retriable


def test_no_response_times_out_as_outcome_unknown() -> None:
    s = bound(response_timeout=30.0)
    s.send_request(submit(), 1.0, "t")
    s.data_to_send()
    assert s.next_deadline() == 31.0
    assert s.handle_timer(30.0) == []
    events = s.handle_timer(31.0)
    assert [type(e) for e in events] == [RequestFailed]
    assert isinstance(events[0].error, OutcomeUnknownError) and events[0].error.timed_out


def test_no_bind_resp_kills_the_connection() -> None:
    s = SgipSession(config(response_timeout=5.0))
    s.bind(0.0)
    s.data_to_send()
    events = s.handle_timer(5.0)
    assert [type(e) for e in events] == [ConnectionDead]


def test_connection_lost_sorts_written_from_unwritten() -> None:
    s = bound()
    s.send_request(submit(0), 1.0, "written")
    s.data_to_send()
    s.send_request(submit(1), 1.0, "queued")
    events = s.connection_lost("reset")
    failed = {e.token: e.error for e in events if type(e) is RequestFailed}
    assert isinstance(failed["written"], OutcomeUnknownError)
    assert isinstance(failed["queued"], NotSentError)
    assert type(events[-1]) is ConnectionDead


@pytest.mark.parametrize("bytewise", [False, True])
def test_idle_connection_unbinds_itself(bytewise: bool) -> None:
    s = bound(bytewise, idle_timeout=50.0)
    s.send_request(submit(), 10.0, "t")
    (p,) = pdus(s.data_to_send())
    # While a Submit is out, its response timeout is the deadline.
    assert s.next_deadline() == 40.0
    feed(s, encode(p.response()), 12.0, bytewise=bytewise)
    assert s.next_deadline() == 62.0
    assert s.handle_timer(61.0) == []
    assert s.handle_timer(62.0) == []
    assert s.idle_closed and s.state is SgipSessionState.UNBINDING
    (u,) = pdus(s.data_to_send())
    assert type(u) is Unbind
    events = feed(s, encode(u.response()), 62.5, bytewise=bytewise)
    assert [type(e) for e in events] == [Unbound]
    assert events[0].by_peer is False
    assert s.next_deadline() is None


def test_idle_timeout_zero_never_closes() -> None:
    s = bound(idle_timeout=0.0)
    assert s.next_deadline() is None


def test_unbind_from_the_smg_is_answered() -> None:
    s = bound()
    seq = SequenceNumber(SMG_NODE, 102030405, 9)
    events = s.receive_data(encode(Unbind(sequence_number=seq)), 1.0)
    assert [type(e) for e in events] == [Unbound]
    assert events[0].by_peer
    (resp,) = pdus(s.data_to_send())
    assert type(resp) is UnbindResp and resp.sequence_number == seq


def test_our_unbind_then_unbind_resp() -> None:
    s = bound()
    assert s.unbind(1.0) is not None
    (u,) = pdus(s.data_to_send())
    assert type(u) is Unbind
    events = s.receive_data(encode(u.response()), 1.1)
    assert [type(e) for e in events] == [Unbound]
    assert s.unbind(2.0) is None


def test_a_deliver_on_the_sp_connection_is_answered_too() -> None:
    """SMSGate's simulator sends everything over one connection (11.1)."""
    s = bound()
    seq = SequenceNumber(SMG_NODE, 102030405, 8)
    mo = Deliver(sequence_number=seq, user_number="8613012345678", sp_number="1065500188",
                 message_content=b"TD")
    events = s.receive_data(encode(mo), 1.0)
    assert [type(e) for e in events] == [IncomingRequest]
    (resp,) = pdus(s.data_to_send())
    assert resp.sequence_number == seq and resp.result == 0


# --- the SMG's connection back ---------------------------------------------------------------


def receiver(**kw: Any) -> SgipReceiverSession:
    r = SgipReceiverSession(SgipReceiverConfig("smg_user", "smg_pass", **kw), 0.0)
    r.bind(0.0)
    assert r.data_to_send() == b""
    return r


def smg_bind(login_type: int = 2, password: str = "smg_pass") -> Bind:
    return Bind(sequence_number=SequenceNumber(SMG_NODE, 102030410, 6), login_type=login_type,
                login_name="smg_user", login_password=password)


@pytest.mark.parametrize("bytewise", [False, True])
def test_receiver_takes_the_smg_bind_reports_and_mo(bytewise: bool) -> None:
    r = receiver()
    events = feed(r, encode(smg_bind()), 1.0, bytewise=bytewise)
    assert [type(e) for e in events] == [Bound]
    assert r.is_bound and not r.can_submit and r.window_free == 0
    (resp,) = pdus(r.data_to_send())
    assert type(resp) is BindResp and resp.result == 0
    submit_seq = SequenceNumber(NODE, 102030405, 2)
    report = Report(sequence_number=SequenceNumber(SMG_NODE, 102030410, 7),
                    submit_sequence_number=submit_seq, user_number="8613012345678")
    mo = Deliver(sequence_number=SequenceNumber(SMG_NODE, 102030410, 8),
                 user_number="8613012345678", sp_number="1065500188",
                 message_content="退订".encode("utf-16-be"), message_coding=8)
    events = feed(r, encode(report) + encode(mo), 2.0, bytewise=bytewise)
    assert [type(e) for e in events] == [IncomingRequest, IncomingRequest]
    assert events[0].pdu == report and events[0].acked
    assert events[1].pdu == mo
    answers = pdus(r.data_to_send())
    assert [(type(a).__name__, a.sequence_number.counter, a.result) for a in answers] == [
        ("ReportResp", 7, 0), ("DeliverResp", 8, 0)]
    # The golden Report_Resp of the reference (12).
    assert encode(answers[0]).hex() == (
        "0000001d8000000500018a890614dc4a00000007000000000000000000")


@pytest.mark.parametrize(("bind", "result"), [
    (smg_bind(password="wrong"), Result.ILLEGAL_LOGIN),
    (smg_bind(login_type=1), Result.WRONG_LOGIN_TYPE),
])
def test_receiver_refuses_wrong_credentials_and_login_type(bind: Bind, result: int) -> None:
    r = receiver()
    events = r.receive_data(encode(bind), 1.0)
    assert [type(e) for e in events] == [ProtocolError, ConnectionDead]
    (resp,) = pdus(events[1].answers)
    assert type(resp) is BindResp and resp.result == result
    assert not r.is_bound


def test_receiver_refuses_a_second_bind_and_reports_before_the_bind() -> None:
    r = receiver()
    report = Report(sequence_number=SequenceNumber(SMG_NODE, 1, 1))
    events = r.receive_data(encode(report), 0.5)
    assert [type(e) for e in events] == [ProtocolError]
    (resp,) = pdus(r.data_to_send())
    assert resp.result == Result.ILLEGAL_LOGIN
    r.receive_data(encode(smg_bind()), 1.0)
    r.data_to_send()
    events = r.receive_data(encode(smg_bind()), 1.5)
    assert [type(e) for e in events] == [ProtocolError]
    (resp,) = pdus(r.data_to_send())
    assert resp.result == Result.REPEATED_LOGIN
    assert r.is_bound


def test_receiver_answers_submit_with_an_error() -> None:
    r = receiver()
    r.receive_data(encode(smg_bind()), 1.0)
    r.data_to_send()
    events = r.receive_data(encode(submit()), 2.0)
    assert [type(e) for e in events] == [ProtocolError]
    (resp,) = pdus(r.data_to_send())
    assert type(resp) is SubmitResp and resp.result != 0


def test_receiver_unbind_and_idle_and_login_timeout() -> None:
    r = receiver(idle_timeout=60.0, response_timeout=30.0)
    assert r.next_deadline() == 30.0
    assert [type(e) for e in r.handle_timer(30.0)] == [ConnectionDead]

    r = receiver(idle_timeout=60.0)
    r.receive_data(encode(smg_bind()), 1.0)
    assert r.next_deadline() == 61.0
    assert r.handle_timer(60.0) == []
    assert [type(e) for e in r.handle_timer(61.0)] == [ConnectionDead]

    r = receiver()
    r.receive_data(encode(smg_bind()), 1.0)
    r.data_to_send()
    seq = SequenceNumber(SMG_NODE, 1, 99)
    events = r.receive_data(encode(Unbind(sequence_number=seq)), 2.0)
    assert [type(e) for e in events] == [Unbound] and events[0].by_peer
    (resp,) = pdus(r.data_to_send())
    assert type(resp) is UnbindResp and resp.sequence_number == seq
    with pytest.raises(SessionStateError):
        r.send_request(submit(), 3.0)


def test_back_to_back_submit_and_report_correlate_by_triple() -> None:
    """The SP submits on its connection; the SMG reports on its own connection back, and the
    Report's SubmitSequenceNumber is the Submit_Resp's message id — also when the Report comes
    first."""
    s = bound()
    r = receiver()
    r.receive_data(encode(smg_bind()), 0.0)
    r.data_to_send()
    s.send_request(submit(), 1.0, "t")
    (p,) = pdus(s.data_to_send())
    report = Report(sequence_number=SequenceNumber(SMG_NODE, 1, 1),
                    submit_sequence_number=p.sequence_number, user_number=p.user_numbers[0])
    (got,) = r.receive_data(encode(report), 1.1)
    (answer,) = s.receive_data(encode(p.response()), 1.2)
    assert str(got.pdu.submit_sequence_number) == answer.response.message_id
