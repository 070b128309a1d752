"""The SMGP framer: bad PacketLength is a FramingError naming the value and the bound, carrying
the PDUs the same feed decoded before it; unhandled RequestIDs are skipped by their length;
malformed bodies become InvalidPdu events with the response to send."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsengine.smgp import (
    DEFAULT_MAX_PACKET_LENGTH,
    ActiveTest,
    Deliver,
    DeliverResp,
    Framer,
    FramingError,
    InvalidPdu,
    LoginResp,
    PduDecodeError,
    RequestId,
    Status,
    Submit,
    SubmitResp,
    Version,
    decode_body,
    encode,
)

RESP = SubmitResp(sequence_id=7, msg_id=bytes.fromhex("01006101161700012345"), status=0)
DELIVER = Deliver(sequence_id=8, msg_id=bytes(range(10)), src_term_id="13312345678",
                  dest_term_id="10690001", msg_content=b"TD", link_id="L")  # fmt: skip
TEST = ActiveTest(sequence_id=9)
GOOD = b"".join(encode(p) for p in (RESP, DELIVER, TEST))
TOO_LONG = b"\xde\xad\xbe\xef" * 8  # PacketLength 0xdeadbeef
TOO_SHORT = struct.pack(">I", 5)  # PacketLength 5, known from four octets on


@pytest.mark.parametrize(
    ("garbage", "words"),
    [(TOO_LONG, "3735928559 is above the maximum of 4096"),
     (TOO_SHORT, "5 is below the minimum of 12")],
    ids=["too-long", "too-short"],
)  # fmt: skip
def test_pdus_before_garbage_come_with_the_error(garbage: bytes, words: str) -> None:
    framer = Framer()
    with pytest.raises(FramingError, match=f"PacketLength {words}") as info:
        framer.feed(GOOD + garbage)
    assert info.value.events == [RESP, DELIVER, TEST]
    assert info.value.status == Status.MESSAGE_STRUCTURE_ERROR
    assert info.value.retriable is False
    assert framer.buffered == 0


def test_the_stream_stays_failed() -> None:
    framer = Framer()
    with pytest.raises(FramingError) as info:
        framer.feed(TOO_LONG + GOOD)
    assert info.value.events == []
    with pytest.raises(FramingError, match="already failed") as again:
        framer.feed(GOOD)
    assert again.value.events == []


@pytest.mark.parametrize("chunk", [1, 3, 12, 13, 1000])
def test_every_pdu_is_seen_once_whatever_the_chunking(chunk: int) -> None:
    framer = Framer()
    stream = GOOD * 3 + TOO_LONG
    seen: list[object] = []
    with pytest.raises(FramingError) as info:
        for i in range(0, len(stream), chunk):
            seen += framer.feed(stream[i : i + chunk])
    seen += info.value.events
    assert seen == [RESP, DELIVER, TEST] * 3


def test_a_bad_length_is_known_from_four_octets_byte_at_a_time() -> None:
    framer = Framer()
    for b in TOO_SHORT[:3]:
        assert framer.feed(bytes([b])) == []
    with pytest.raises(FramingError):
        framer.feed(TOO_SHORT[3:])


def test_the_cap_is_configurable_and_bounds_the_buffer() -> None:
    big = encode(Submit(dest_term_ids=("1",) * 100, msg_content=bytes(140)))
    assert len(big) == 126 + 2100 + 140
    assert Framer(max_packet_length=len(big)).feed(big)[0] == Submit(
        dest_term_ids=("1",) * 100, msg_content=bytes(140)
    )
    framer = Framer(max_packet_length=len(big) - 1)
    with pytest.raises(FramingError, match=f"above the maximum of {len(big) - 1}"):
        framer.feed(big[:4])
    assert DEFAULT_MAX_PACKET_LENGTH == 4096
    with pytest.raises(ValueError, match="at least 12"):
        Framer(max_packet_length=11)


@pytest.mark.parametrize(
    "request_id",
    [RequestId.FORWARD, RequestId.QUERY_TE_ROUTE, RequestId.PUSH_UPDATE_SP_ROUTE_RESP, 0x99],
)
def test_unhandled_request_ids_are_skipped_by_their_length(request_id: int) -> None:
    other = struct.pack(">III", 20, request_id, 42) + bytes(8)
    events = Framer().feed(other + encode(RESP))
    invalid, resp = events
    assert isinstance(invalid, InvalidPdu)
    assert invalid.request_id == request_id and invalid.sequence_id == 42
    assert invalid.status == Status.COMMAND_ERROR and invalid.response is None
    assert invalid.error.field == "request_id"
    assert resp == RESP


def test_malformed_bodies_become_events_with_the_response_to_send() -> None:
    short_submit = struct.pack(">III", 20, RequestId.SUBMIT, 3) + bytes(8)
    bad_deliver = bytearray(encode(DELIVER))
    bad_deliver[12 + 68] = 200  # MsgLength past the end
    short_login = struct.pack(">III", 13, RequestId.LOGIN, 5) + b"x"
    short_resp = struct.pack(">III", 14, RequestId.SUBMIT_RESP, 6) + b"xx"
    events = Framer().feed(short_submit + bytes(bad_deliver) + short_login + short_resp)
    assert all(isinstance(e, InvalidPdu) for e in events)
    submit, deliver, login, resp = events
    assert isinstance(submit, InvalidPdu) and submit.error.field == "dest_term_ids"
    assert submit.response == SubmitResp(sequence_id=3, status=Status.MESSAGE_STRUCTURE_ERROR)
    assert isinstance(deliver, InvalidPdu) and deliver.error.field == "msg_content"
    assert deliver.status == Status.INVALID_MSG_LENGTH
    # Deliver_Resp echoes the MsgID with Status 0: the spec asks 0 even for unusable content.
    assert deliver.response == DeliverResp(sequence_id=8, msg_id=bytes(range(10)), status=0)
    assert isinstance(login, InvalidPdu)
    assert login.response == LoginResp(sequence_id=5, status=Status.MESSAGE_STRUCTURE_ERROR)
    assert isinstance(resp, InvalidPdu) and resp.response is None  # never answer a response


def test_version_applies_from_the_next_feed() -> None:
    pdu = Submit(sequence_id=1, dest_term_ids=("1",), fixed_fee="")
    framer = Framer(Version.V13)
    assert framer.feed(encode(pdu, Version.V13)) == [pdu]
    framer.version = Version.V30
    assert framer.feed(encode(pdu)) == [pdu]


def test_input_types_and_no_copy_path() -> None:
    framer = Framer()
    assert framer.feed(bytearray(GOOD)) == [RESP, DELIVER, TEST]
    assert framer.feed(memoryview(GOOD)[:5]) == []
    assert framer.buffered == 5
    assert framer.feed(memoryview(GOOD)[5:]) == [RESP, DELIVER, TEST]
    assert framer.buffered == 0


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**32 - 1), st.binary(max_size=30), st.booleans(),
       st.sampled_from([Version.V30, Version.V20, Version.V13]))
def test_a_submit_resp_reads_as_the_decoder_reads_it(seq: int, body: bytes, receipts: bool,
                                                     version: int) -> None:
    """The framer builds a Submit_Resp of the spec's 14 octets itself (its fast path): the
    same event as decode_body gives, for any octets, in either feed; other lengths as well."""
    pdu = struct.pack(">III", 12 + len(body), RequestId.SUBMIT_RESP, seq) + body
    framer = Framer(version)
    got = (framer.feed_receipts if receipts else framer.feed)(pdu + pdu)
    try:
        want: object = decode_body(RequestId.SUBMIT_RESP, seq, body, version)
    except PduDecodeError as exc:
        want = InvalidPdu(exc, exc.response)
    assert [repr(e) for e in got] == [repr(want)] * 2
    assert [type(e) for e in got] == [type(want)] * 2
