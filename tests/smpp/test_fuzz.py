"""Bounded fuzzing: whatever a peer sends, only the codec's own errors come out.

Random bytes and mutated valid PDUs go through ``decode_pdu`` and through the framer in random
chunks. Allowed outcomes: a PDU, an ``InvalidPdu`` event, ``PduDecodeError`` (from decode_pdu),
``FramingError`` (from the framer). Anything else — IndexError, struct.error, UnicodeError,
TypeError — escaping is a bug. The framer's buffer must stay bounded.
"""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smsengine.smpp import (
    Framer,
    FramingError,
    InvalidPdu,
    Pdu,
    PduDecodeError,
    Response,
    decode_pdu,
)
from tests._support.strategies import any_pdu

MAX = 4096


def _feed_all(data: bytes, chunks: list[int]) -> list[Pdu | InvalidPdu]:
    framer = Framer(max_command_length=MAX)
    out: list[Pdu | InvalidPdu] = []
    pos = 0
    try:
        for size in [*chunks, len(data)]:
            out += framer.feed(data[pos : pos + size])
            pos += size
            assert framer.buffered < MAX
    except FramingError:
        pass
    for event in out:
        assert isinstance(event, (Pdu, InvalidPdu))
        if isinstance(event, InvalidPdu):
            assert event.response is None or isinstance(event.response, Response)
            if event.response is not None:
                assert event.response.sequence_number == event.sequence_number
                # The reply itself must be encodable.
                event.response.encode()
    return out


def _decode_only_codec_errors(data: bytes) -> None:
    try:
        decode_pdu(data)
    except PduDecodeError as exc:
        assert exc.status != 0
        assert str(exc)


@settings(max_examples=400, deadline=None)
@given(data=st.binary(max_size=300), chunks=st.lists(st.integers(1, 64), max_size=10))
def test_random_bytes(data: bytes, chunks: list[int]) -> None:
    _decode_only_codec_errors(data)
    _feed_all(data, chunks)


@st.composite
def mutated_pdu(draw: st.DrawFn) -> bytes:
    wire = bytearray(draw(any_pdu()).encode())
    rng = random.Random(draw(st.integers(0, 2**32)))
    for _ in range(draw(st.integers(1, 6))):
        op = rng.randrange(4)
        if op == 0 and wire:  # flip a byte
            wire[rng.randrange(len(wire))] = rng.randrange(256)
        elif op == 1 and len(wire) > 16:  # cut the body
            del wire[rng.randrange(16, len(wire)) :]
        elif op == 2:  # insert junk
            at = rng.randrange(len(wire) + 1)
            wire[at:at] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 8)))
        elif op == 3 and len(wire) > 16:  # delete a byte in the body
            del wire[rng.randrange(16, len(wire))]
    if draw(st.booleans()) and len(wire) >= 4:
        # Keep command_length consistent so the body decoder, not the framer, sees the damage.
        wire[0:4] = len(wire).to_bytes(4, "big")
    return bytes(wire)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated_pdu(), chunks=st.lists(st.integers(1, 40), max_size=8))
def test_mutated_valid_pdus(data: bytes, chunks: list[int]) -> None:
    _decode_only_codec_errors(data)
    _feed_all(data, chunks)


def test_seeded_fuzz_stream() -> None:
    """A long, reproducible stream of mixed good and damaged PDUs through one framer."""
    rng = random.Random(20261123)
    good = [
        bytes.fromhex("00000010000000150000000000000001"),
        bytes.fromhex("0000001180000004000000000000000200"),
    ]
    stream = bytearray()
    for _ in range(3000):
        pdu = bytearray(rng.choice(good))
        if rng.random() < 0.3:
            pdu[rng.randrange(4, len(pdu))] = rng.randrange(256)
        stream += pdu
    framer = Framer(max_command_length=MAX)
    events = 0
    pos = 0
    while pos < len(stream):
        size = rng.randrange(1, 300)
        events += len(framer.feed(stream[pos : pos + size]))
        pos += size
    # Only command_id/status/sequence/body bytes were damaged, never command_length:
    # every PDU is framed and yields exactly one event.
    assert events == 3000
    assert framer.buffered == 0
