"""Issue 16, item 8: the PDUs a feed completed before a bad Total_Length are handed back.

Good PDUs followed by garbage in ONE read: the FramingError carries them in ``.events``, in
order, whatever the chunking, in the 3.0 and the 2.0 layouts.
"""

from __future__ import annotations

import struct

import pytest

from smsengine.cmpp import (
    ActiveTest,
    Deliver,
    Framer,
    FramingError,
    InvalidPdu,
    SubmitResp,
    SubmitResult,
    Version,
    encode,
)

RESP = SubmitResp(sequence_id=7, msg_id=0x1234, result=0)
DELIVER = Deliver(sequence_id=8, msg_id=99, dest_id="1065", src_terminal_id="13800138000",
                  msg_content=b"TD")
TEST = ActiveTest(sequence_id=9)
GARBAGE = b"\xde\xad\xbe\xef" * 8  # Total_Length 0xdeadbeef: above any maximum
SHORT = struct.pack(">I", 5)  # Total_Length 5, known from four octets on


def good(version: int) -> bytes:
    return b"".join(encode(pdu, version) for pdu in (RESP, DELIVER, TEST))


@pytest.mark.parametrize("version", [Version.V30, Version.V20])
@pytest.mark.parametrize("garbage", [GARBAGE, SHORT], ids=["too-long", "too-short"])
def test_pdus_before_garbage_come_with_the_error(version: int, garbage: bytes) -> None:
    framer = Framer(version)
    with pytest.raises(FramingError) as info:
        framer.feed(good(version) + garbage)
    assert info.value.events == [RESP, DELIVER, TEST]
    assert info.value.status == SubmitResult.MESSAGE_LENGTH_ERROR
    assert info.value.retriable is False
    assert framer.buffered == 0


def test_garbage_first_hands_back_nothing_and_the_stream_stays_failed() -> None:
    framer = Framer()
    with pytest.raises(FramingError) as info:
        framer.feed(GARBAGE + good(Version.V30))
    assert info.value.events == []
    with pytest.raises(FramingError, match="already failed") as again:
        framer.feed(good(Version.V30))
    assert again.value.events == []


def test_a_pdu_completed_from_the_buffer_is_handed_back() -> None:
    framer = Framer()
    wire = encode(RESP, Version.V30)
    assert framer.feed(wire[:10]) == []
    with pytest.raises(FramingError) as info:
        framer.feed(wire[10:] + encode(TEST, Version.V30) + GARBAGE)
    assert info.value.events == [RESP, TEST]
    assert framer.buffered == 0


def test_an_invalid_pdu_event_before_garbage_is_handed_back() -> None:
    unknown = struct.pack(">III", 12, 0x00000099, 42)  # skipped by its length, reported
    with pytest.raises(FramingError) as info:
        Framer().feed(unknown + encode(RESP, Version.V30) + GARBAGE)
    invalid, resp = info.value.events
    assert isinstance(invalid, InvalidPdu) and invalid.sequence_id == 42
    assert resp == RESP


@pytest.mark.parametrize("chunk", [1, 3, 12, 13, 1000])
def test_every_pdu_is_seen_once_whatever_the_chunking(chunk: int) -> None:
    framer = Framer()
    stream = good(Version.V30) * 3 + GARBAGE
    seen: list[object] = []
    with pytest.raises(FramingError) as info:
        for i in range(0, len(stream), chunk):
            seen += framer.feed(stream[i : i + chunk])
    seen += info.value.events
    assert seen == [RESP, DELIVER, TEST] * 3


def test_a_framing_error_raised_by_hand_carries_no_events() -> None:
    assert FramingError("x").events == []
