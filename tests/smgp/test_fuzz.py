"""Bounded fuzzing of the SMGP decoders: whatever a peer sends, only codec errors come out.

Random bytes and mutated valid PDUs go through ``decode`` and through the framer in random
chunks (which exercises the memoryview of the receive buffer being trimmed after every feed).
Allowed outcomes: a PDU, an ``InvalidPdu`` event, ``PduDecodeError`` (from decode),
``FramingError`` (from the framer), ``ReportDecodeError`` (from ``Deliver.report``). Anything
else escaping — BufferError included — is a bug. The framer's buffer stays bounded.
"""

from __future__ import annotations

import contextlib
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smsengine.smgp import (
    Deliver,
    DeliverReceipt,
    Framer,
    FramingError,
    InvalidPdu,
    Pdu,
    PduDecodeError,
    ReportDecodeError,
    Response,
    Submit,
    Version,
    decode,
    encode,
)
from tests._support.smgp_strategies import any_pdu

MAX = 4096
VERSIONS = st.sampled_from([Version.V30, Version.V20, Version.V13])


def _check_pdu(pdu: Pdu, version: int) -> None:
    if isinstance(pdu, Deliver):
        with contextlib.suppress(ReportDecodeError):
            pdu.report  # noqa: B018 - the property parses
    # Whatever was decoded can be encoded again (a Submit may carry up to 255 octets).
    encode(pdu, version, max_msg_length=255)
    if isinstance(pdu, Submit | Deliver):
        encode(pdu, version, compact_tlvs=True, max_msg_length=255)


def _feed_all(data: bytes, chunks: list[int], version: int) -> None:
    # Through feed, and through feed_receipts (whose DeliverReceipts must read as the Deliver).
    for receipts in (False, True):
        _feed_all_once(data, chunks, version, receipts)


def _feed_all_once(data: bytes, chunks: list[int], version: int, receipts: bool) -> None:
    framer = Framer(version, max_packet_length=MAX)
    feed = framer.feed_receipts if receipts else framer.feed
    out: list[Pdu | InvalidPdu | DeliverReceipt] = []
    pos = 0
    try:
        for size in [*chunks, len(data)]:
            out += feed(data[pos : pos + size])
            pos += size
            assert framer.buffered < MAX
    except FramingError as exc:
        assert exc.status > 0
        out += exc.events
    for event in out:
        if isinstance(event, DeliverReceipt):
            deliver = event.pdu(version)
            report = deliver.report
            assert report is not None and report.stat == "DELIVRD"
            assert event.message_id == report.message_id
            _check_pdu(deliver, version)
        elif isinstance(event, InvalidPdu):
            assert event.error.status > 0
            if event.response is not None:
                assert isinstance(event.response, Response)
                assert event.response.sequence_id == event.sequence_id
                encode(event.response, version)
        else:
            _check_pdu(event, version)


def _decode_only_codec_errors(data: bytes, version: int) -> None:
    try:
        pdu = decode(data, version)
    except PduDecodeError as exc:
        assert exc.status > 0
        assert str(exc)
    else:
        _check_pdu(pdu, version)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=400), chunks=st.lists(st.integers(1, 64), max_size=10),
       version=VERSIONS)  # fmt: skip
def test_random_bytes(data: bytes, chunks: list[int], version: int) -> None:
    _decode_only_codec_errors(data, version)
    _feed_all(data, chunks, version)


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=300), request_id=st.sampled_from([1, 2, 3, 7, 0x80000001,
       0x80000002, 0x80000003, 0x80000007, 5, 0x12, 0x99]), version=VERSIONS)  # fmt: skip
def test_random_bodies_under_a_good_header(body: bytes, request_id: int, version: int) -> None:
    wire = (12 + len(body)).to_bytes(4, "big") + request_id.to_bytes(4, "big") + bytes(4) + body
    _decode_only_codec_errors(wire, version)
    _feed_all(wire, [], version)


@st.composite
def mutated_pdu(draw: st.DrawFn) -> tuple[bytes, int]:
    wire = bytearray(encode(draw(any_pdu())))
    rng = random.Random(draw(st.integers(0, 2**32)))
    for _ in range(draw(st.integers(1, 6))):
        op = rng.randrange(4)
        if op == 0 and wire:  # flip a byte
            wire[rng.randrange(len(wire))] = rng.randrange(256)
        elif op == 1 and len(wire) > 12:  # cut the body
            del wire[rng.randrange(12, len(wire)) :]
        elif op == 2:  # insert junk
            at = rng.randrange(len(wire) + 1)
            wire[at:at] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 8)))
        elif op == 3 and len(wire) > 12:  # delete a byte in the body
            del wire[rng.randrange(12, len(wire))]
    if draw(st.booleans()) and len(wire) >= 4:
        # Keep PacketLength consistent so the body decoder, not the framer, sees the damage.
        wire[0:4] = len(wire).to_bytes(4, "big")
    return bytes(wire), draw(VERSIONS)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=mutated_pdu(), chunks=st.lists(st.integers(1, 40), max_size=8))
def test_mutated_valid_pdus(case: tuple[bytes, int], chunks: list[int]) -> None:
    data, version = case
    _decode_only_codec_errors(data, version)
    _feed_all(data, chunks, version)


def test_seeded_fuzz_stream_never_desyncs() -> None:
    """A reproducible stream of mixed good, damaged and unhandled PDUs: only the body and
    RequestID are damaged, never PacketLength, so every PDU yields exactly one event."""
    rng = random.Random(20250102)
    good = [
        bytes.fromhex("0000000c0000000400000005"),  # Active_Test
        bytes.fromhex("0000001a800000020000000201006101161700012345" "00000000"),  # Submit_Resp
        encode(Deliver(sequence_id=9, is_report=1, link_id="L1",
                       msg_content=b"id:0123456789 stat:DELIVRD")),
        bytes.fromhex("000000140000000500000001" "0102030405060708"),  # Forward: not an SP's
    ]
    stream = bytearray()
    for _ in range(2000):
        pdu = bytearray(rng.choice(good))
        if rng.random() < 0.3:
            pdu[rng.randrange(4, len(pdu))] = rng.randrange(256)
        stream += pdu
    framer = Framer(max_packet_length=MAX)
    events = 0
    pos = 0
    while pos < len(stream):
        size = rng.randrange(1, 300)
        for event in framer.feed(stream[pos : pos + size]):
            events += 1
            if isinstance(event, Deliver):
                with contextlib.suppress(ReportDecodeError):
                    event.report  # noqa: B018
        pos += size
    assert events == 2000
    assert framer.buffered == 0
