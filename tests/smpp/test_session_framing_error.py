"""Issue 16, item 8, at the session: what arrived before garbage in the same read is answered
or settled before the connection is declared dead.

A submit_sm_resp followed by garbage settles its request as accepted (a ResponseReceived, not an
outcome-unknown failure when the connection then drops); a deliver_sm followed by garbage is
acked in the output the adapter writes before it closes.
"""

from __future__ import annotations

from typing import Any

from smsengine.smpp import (
    BindTransceiverResp,
    CommandStatus,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    Framer,
    NotSentError,
    SubmitSm,
    SubmitSmResp,
    Tag,
    Tlv,
)
from smsengine.smpp.session import (
    ConnectionDead,
    IncomingRequest,
    ReceiptReceived,
    RequestFailed,
    ResponseReceived,
    Session,
    SessionConfig,
)

GARBAGE = b"\xde\xad\xbe\xef" * 8


def bound(**kwargs: Any) -> Session:
    session = Session(SessionConfig("shop", "secret", **kwargs), 0.0)
    seq = session.bind(0.0)
    session.data_to_send()
    session.receive_data(BindTransceiverResp(sequence_number=seq, system_id="smsc").encode(), 0.0)
    assert session.is_bound
    return session


def answers(events: list[Any]) -> list[Any]:
    """What the ConnectionDead at the end asks the adapter to write before it aborts."""
    dead = events[-1]
    assert isinstance(dead, ConnectionDead)
    return Framer().feed(dead.answers)


def receipt(seq: int) -> DeliverSm:
    return DeliverSm(sequence_number=seq, esm_class=4, short_message=b"id:M1 stat:DELIVRD",
                     tlvs=(Tlv(Tag.receipted_message_id, "M1"), Tlv(Tag.message_state, 2)))


def test_a_submit_sm_resp_before_garbage_settles_its_request_as_accepted() -> None:
    session = bound()
    seq = session.send_request(SubmitSm(destination_addr="8613800138000"), 1.0, "token")
    session.data_to_send()
    resp = SubmitSmResp(sequence_number=seq, message_id="M1")
    events = session.receive_data(resp.encode() + GARBAGE, 2.0)
    assert [type(e) for e in events] == [ResponseReceived, ConnectionDead]
    accepted = events[0]
    assert isinstance(accepted, ResponseReceived)
    assert (accepted.response, accepted.token) == (resp, "token")
    assert session.window_free == session.config.window and session.outstanding == 0
    # The adapter closes the connection; nothing is left to end as unknown.
    assert not [e for e in session.connection_lost("closed") if isinstance(e, RequestFailed)]


def test_a_deliver_sm_before_garbage_is_acked_before_the_close() -> None:
    session = bound()
    deliver = DeliverSm(sequence_number=41, source_addr="8613800138000", short_message=b"TD")
    events = session.receive_data(deliver.encode() + GARBAGE, 1.0)
    assert [type(e) for e in events] == [IncomingRequest, ConnectionDead]
    incoming = events[0]
    assert isinstance(incoming, IncomingRequest) and incoming.acked
    assert incoming.pdu == deliver
    assert answers(events) == [DeliverSmResp(sequence_number=41)]


def test_a_receipt_read_short_before_garbage_is_acked_before_the_close() -> None:
    session = bound(receipt_tlvs=True)
    events = session.receive_data(receipt(42).encode() + GARBAGE, 1.0)
    assert [type(e) for e in events] == [ReceiptReceived, ConnectionDead]
    got = events[0]
    assert isinstance(got, ReceiptReceived) and got.receipt.message_id == "M1"
    assert answers(events) == [DeliverSmResp(sequence_number=42)]


def test_everything_before_garbage_is_handled_in_order() -> None:
    session = bound()
    first = session.send_request(SubmitSm(destination_addr="1"), 1.0, "a")
    second = session.send_request(SubmitSm(destination_addr="2"), 1.0, "b")
    session.data_to_send()
    data = (
        SubmitSmResp(sequence_number=first, message_id="M1").encode()
        + DeliverSm(sequence_number=50, short_message=b"x").encode()
        + SubmitSmResp(sequence_number=second,
                       command_status=CommandStatus.ESME_RTHROTTLED).encode()
        + EnquireLink(sequence_number=51).encode()
        + GARBAGE
    )
    events = session.receive_data(data, 2.0)
    assert [type(e) for e in events] == [
        ResponseReceived, IncomingRequest, ResponseReceived, ConnectionDead]
    assert [e.token for e in events if isinstance(e, ResponseReceived)] == ["a", "b"]
    assert answers(events) == [DeliverSmResp(sequence_number=50),
                                EnquireLinkResp(sequence_number=51)]
    dead = events[-1]
    assert isinstance(dead, ConnectionDead) and "command_length" in dead.reason
    assert session.data_to_send() == b""  # (the answers travel with the ConnectionDead)


def test_bytes_after_the_failure_only_repeat_that_the_connection_is_dead() -> None:
    session = bound()
    session.receive_data(GARBAGE, 1.0)
    deliver = DeliverSm(sequence_number=60, short_message=b"x")
    events = session.receive_data(deliver.encode(), 2.0)
    assert [type(e) for e in events] == [ConnectionDead]
    assert session.data_to_send() == b""


def test_a_dead_peer_is_closed_without_writing_what_is_queued() -> None:
    """Only a framing error carries answers to write first (and only those)."""
    session = bound(response_timeout=5.0, enquire_link_interval=10.0)
    assert session.handle_timer(10.0) == []  # enquire_link queued
    session.data_to_send()
    [dead] = session.handle_timer(15.0)
    assert isinstance(dead, ConnectionDead) and dead.answers == b""


def test_a_request_queued_in_the_same_tick_as_garbage_is_not_sent_and_not_unknown() -> None:
    # Only the answers to what came before the garbage go out: a submit_sm queued but not yet
    # written stays unwritten, so it fails NotSentError (safe to retry), not outcome-unknown.
    session = bound()
    session.send_request(SubmitSm(destination_addr="8613800138000"), 1.0, "queued")
    deliver = DeliverSm(sequence_number=43, short_message=b"TD")
    events = session.receive_data(deliver.encode() + GARBAGE, 1.0)
    assert answers(events) == [DeliverSmResp(sequence_number=43)]
    [failed] = [e for e in session.connection_lost("aborted") if isinstance(e, RequestFailed)]
    assert failed.token == "queued" and isinstance(failed.error, NotSentError)
