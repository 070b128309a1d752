"""Issue 16, item 8, at the CMPP session: what arrived before garbage in the same read is
answered or settled before the connection is declared dead.

A SUBMIT_RESP followed by garbage settles its SUBMIT as accepted (not outcome-unknown when the
connection then drops); a DELIVER followed by garbage is acked (DELIVER_RESP) in the output the
adapter writes before it closes.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from smsengine.cmpp import (
    ActiveTest,
    ActiveTestResp,
    ConnectResp,
    Deliver,
    DeliverResp,
    Framer,
    Submit,
    SubmitResp,
    SubmitResult,
    Version,
    encode,
)
from smsengine.cmpp.session import CmppSession, CmppSessionConfig
from smsengine.link import (
    ConnectionDead,
    IncomingRequest,
    RequestFailed,
    ResponseReceived,
)

GARBAGE = b"\xde\xad\xbe\xef" * 8
V30 = Version.V30
LOCAL = SimpleNamespace(tm_mon=1, tm_mday=2, tm_hour=3, tm_min=4, tm_sec=5)


def connected() -> CmppSession:
    config = CmppSessionConfig("900001", "888888", verify_ismg="off", clock=lambda: LOCAL)
    session = CmppSession(config, 0.0)
    seq = session.bind(0.0)
    session.data_to_send()
    session.receive_data(encode(ConnectResp(sequence_id=seq, status=0, version=V30), V30), 0.0)
    assert session.is_bound
    return session


def answers(events: list[Any]) -> list[Any]:
    """What the ConnectionDead at the end asks the adapter to write before it aborts."""
    dead = events[-1]
    assert isinstance(dead, ConnectionDead)
    return Framer(V30).feed(dead.answers)


def submit(n: int) -> Submit:
    return Submit(dest_terminal_ids=(f"1380013{n:04d}",), msg_content=b"hi", msg_src="900001")


def test_a_submit_resp_before_garbage_settles_its_submit_as_accepted() -> None:
    session = connected()
    seq = session.send_request(submit(1), 1.0, "token")
    session.data_to_send()
    resp = SubmitResp(sequence_id=seq, msg_id=77, result=0)
    events = session.receive_data(encode(resp, V30) + GARBAGE, 2.0)
    assert [type(e) for e in events] == [ResponseReceived, ConnectionDead]
    accepted = events[0]
    assert isinstance(accepted, ResponseReceived)
    response: Any = accepted.response  # (typed as an SMPP Response: the events are shared)
    assert (response, accepted.token) == (resp, "token")
    assert session.outstanding == 0
    assert not [e for e in session.connection_lost("closed") if isinstance(e, RequestFailed)]


def test_a_deliver_before_garbage_is_acked_before_the_close() -> None:
    session = connected()
    deliver = Deliver(sequence_id=41, msg_id=99, dest_id="1065",
                      src_terminal_id="13800138000", msg_content=b"TD")
    events = session.receive_data(encode(deliver, V30) + GARBAGE, 1.0)
    assert [type(e) for e in events] == [IncomingRequest, ConnectionDead]
    incoming = events[0]
    assert isinstance(incoming, IncomingRequest) and incoming.acked
    pdu: Any = incoming.pdu
    assert pdu == deliver
    assert answers(events) == [DeliverResp(sequence_id=41, msg_id=99, result=0)]


def test_everything_before_garbage_is_handled_in_order() -> None:
    session = connected()
    first = session.send_request(submit(1), 1.0, "a")
    second = session.send_request(submit(2), 1.0, "b")
    session.data_to_send()
    data = (
        encode(SubmitResp(sequence_id=first, msg_id=1), V30)
        + encode(Deliver(sequence_id=50, msg_id=5, msg_content=b"x"), V30)
        + encode(SubmitResp(sequence_id=second, result=SubmitResult.FLOW_CONTROL), V30)
        + encode(ActiveTest(sequence_id=51), V30)
        + GARBAGE
    )
    events = session.receive_data(data, 2.0)
    assert [type(e) for e in events] == [
        ResponseReceived, IncomingRequest, ResponseReceived, ConnectionDead]
    assert [e.token for e in events if isinstance(e, ResponseReceived)] == ["a", "b"]
    assert answers(events) == [DeliverResp(sequence_id=50, msg_id=5, result=0),
                                ActiveTestResp(sequence_id=51)]
    dead = events[-1]
    assert isinstance(dead, ConnectionDead) and "Total_Length" in dead.reason
    assert session.data_to_send() == b""  # (the answers travel with the ConnectionDead)


def test_bytes_after_the_failure_only_repeat_that_the_connection_is_dead() -> None:
    session = connected()
    session.receive_data(GARBAGE, 1.0)
    deliver = Deliver(sequence_id=60, msg_id=6, msg_content=b"x")
    events = session.receive_data(encode(deliver, V30), 2.0)
    assert [type(e) for e in events] == [ConnectionDead]
    assert session.data_to_send() == b""
