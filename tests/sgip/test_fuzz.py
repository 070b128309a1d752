"""Bounded fuzzing of the SGIP decoders: whatever a peer sends, only codec errors come out.

Random bytes and mutated valid PDUs go through ``decode`` and through the framer in random
chunks. Allowed outcomes: a PDU, an ``InvalidPdu`` event, ``PduDecodeError`` (from decode),
``FramingError`` (from the framer). Anything else escaping is a bug. Whatever is decoded can be
encoded again, every response offered for a bad PDU is a valid one with the bad PDU's Sequence
Number, and the framer's buffer stays bounded.
"""

from __future__ import annotations

import random
import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smsengine.sgip import (
    Framer,
    FramingError,
    InvalidPdu,
    Pdu,
    PduDecodeError,
    ReportReceipt,
    Response,
    decode,
    encode,
)
from tests._support.sgip_strategies import any_pdu

MAX = 4096


def _check_event(event: Pdu | InvalidPdu) -> None:
    if isinstance(event, InvalidPdu):
        assert event.error.status > 0
        assert str(event.error)
        if event.response is not None:
            assert isinstance(event.response, Response)
            assert event.response.sequence_number == event.sequence_number
            assert event.response.command_id == event.command_id | 0x80000000
            encode(event.response)
    else:
        assert decode(encode(event)) == event


def _feed_all(data: bytes, chunks: list[int]) -> None:
    # Through feed, and through feed_receipts (whose ReportReceipts must read as the Report).
    for receipts in (False, True):
        framer = Framer(max_pdu_length=MAX)
        feed = framer.feed_receipts if receipts else framer.feed
        out: list[Pdu | InvalidPdu | ReportReceipt] = []
        pos = 0
        try:
            for size in [*chunks, len(data)]:
                out += feed(data[pos : pos + size])
                pos += size
                assert framer.buffered < MAX
        except FramingError as exc:
            out += exc.events
        for event in out:
            if isinstance(event, ReportReceipt):
                report = event.pdu()
                assert report.report_type == 0
                assert event.message_id == str(report.submit_sequence_number)
                _check_event(report)
            else:
                _check_event(event)


def _decode_only_codec_errors(data: bytes) -> None:
    try:
        pdu = decode(data)
    except PduDecodeError as exc:
        assert exc.status > 0
        assert str(exc)
        if exc.response is not None:
            assert exc.response.sequence_number == exc.sequence_number
            encode(exc.response)
    else:
        _check_event(pdu)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300), chunks=st.lists(st.integers(1, 64), max_size=10))
def test_random_bytes(data: bytes, chunks: list[int]) -> None:
    _decode_only_codec_errors(data)
    _feed_all(data, chunks)


_KNOWN_IDS = [0x1, 0x80000001, 0x2, 0x80000002, 0x3, 0x80000003, 0x4, 0x80000004, 0x5,
              0x80000005, 0x11, 0x80000011, 0x1000, 0x80001000, 0x9, 0x12345678]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(command_id=st.sampled_from(_KNOWN_IDS), body=st.binary(max_size=400),
       chunks=st.lists(st.integers(1, 64), max_size=6))  # fmt: skip
def test_random_bodies_under_a_consistent_header(
    command_id: int, body: bytes, chunks: list[int]
) -> None:
    """A consistent header with a random body reaches every body decoder, not just the
    framer's length check."""
    wire = struct.pack(">IIIII", 20 + len(body), command_id, 1, 2, 3) + body
    _decode_only_codec_errors(wire)
    _feed_all(wire, chunks)


@st.composite
def mutated_pdu(draw: st.DrawFn) -> bytes:
    wire = bytearray(encode(draw(any_pdu())))
    rng = random.Random(draw(st.integers(0, 2**32)))
    for _ in range(draw(st.integers(1, 6))):
        op = rng.randrange(4)
        if op == 0 and wire:  # flip a byte
            wire[rng.randrange(len(wire))] = rng.randrange(256)
        elif op == 1 and len(wire) > 20:  # cut the body
            del wire[rng.randrange(20, len(wire)) :]
        elif op == 2:  # insert junk
            at = rng.randrange(len(wire) + 1)
            wire[at:at] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 8)))
        elif op == 3 and len(wire) > 20:  # delete a byte in the body
            del wire[rng.randrange(20, len(wire))]
    if draw(st.booleans()) and len(wire) >= 4:
        # Keep Message Length consistent so the body decoder, not the framer, sees the damage.
        wire[0:4] = len(wire).to_bytes(4, "big")
    return bytes(wire)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated_pdu(), chunks=st.lists(st.integers(1, 40), max_size=8))
def test_mutated_valid_pdus(data: bytes, chunks: list[int]) -> None:
    _decode_only_codec_errors(data)
    _feed_all(data, chunks)


def test_seeded_fuzz_stream_never_desyncs() -> None:
    """A reproducible stream of mixed good, damaged and unknown-command PDUs: only the body and
    Command ID are damaged, never Message Length, so every PDU yields exactly one event."""
    rng = random.Random(20261124)
    good = [
        bytes.fromhex("00000014 00000002 00018a89 0614dc4a 00000003"),  # Unbind
        bytes.fromhex("0000001d 80000003 b36924b9 0614dc45 00000002 00 0000000000000000"),
        bytes.fromhex("00000018 00000009 00018a89 0614dc4a 00000001 01020304"),  # QueryRoute
        bytes.fromhex(
            "0000004f 00000004 00018a89 0614dc4a 00000008"
            "38363133303132333435363738 0000000000000000"
            "31303635353030313838 0000000000000000000000 000000 00000002 5444 0000000000000000"
        ),  # Deliver
    ]
    stream = bytearray()
    for _ in range(2000):
        pdu = bytearray(rng.choice(good))
        if rng.random() < 0.3:
            pdu[rng.randrange(4, len(pdu))] = rng.randrange(256)
        stream += pdu
    framer = Framer(max_pdu_length=MAX)
    events = 0
    pos = 0
    while pos < len(stream):
        size = rng.randrange(1, 300)
        got = framer.feed(stream[pos : pos + size])
        for event in got:
            _check_event(event)
        events += len(got)
        pos += size
    assert events == 2000
    assert framer.buffered == 0
