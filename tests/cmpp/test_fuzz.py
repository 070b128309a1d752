"""Bounded fuzzing of the CMPP decoders: whatever a peer sends, only codec errors come out.

Random bytes and mutated valid PDUs go through ``decode`` and through the framer in random
chunks, in both versions. Allowed outcomes: a PDU, an ``InvalidPdu`` event, ``PduDecodeError``
(from decode), ``FramingError`` (from the framer), ``ReportDecodeError`` (from
``Deliver.report``). Anything else escaping is a bug. The framer's buffer stays bounded.
"""

from __future__ import annotations

import contextlib
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smsengine.cmpp import (
    Deliver,
    Framer,
    FramingError,
    InvalidPdu,
    InvalidPduError,
    Pdu,
    PduDecodeError,
    ReportDecodeError,
    Response,
    Version,
    decode,
    encode,
)
from tests._support.cmpp_strategies import any_pdu

MAX = 4096


def _check_pdu(pdu: Pdu, version: int) -> None:
    if isinstance(pdu, Deliver):
        with contextlib.suppress(ReportDecodeError):
            pdu.report  # noqa: B018 - the property parses
    try:
        encode(pdu, version)  # whatever was decoded can be encoded again
    except InvalidPduError:
        # A response parsed by its length (4-octet Result) may not fit 2.0's one octet.
        encode(pdu, Version.V30)


def _feed_all(data: bytes, chunks: list[int], version: int) -> None:
    framer = Framer(version, max_total_length=MAX)
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
        if isinstance(event, InvalidPdu):
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


@settings(max_examples=250, deadline=None)
@given(
    data=st.binary(max_size=300),
    chunks=st.lists(st.integers(1, 64), max_size=10),
    version=st.sampled_from([Version.V20, Version.V30]),
)
def test_random_bytes(data: bytes, chunks: list[int], version: int) -> None:
    _decode_only_codec_errors(data, version)
    _feed_all(data, chunks, version)


@st.composite
def mutated_pdu(draw: st.DrawFn) -> tuple[bytes, int]:
    version = draw(st.sampled_from([Version.V20, Version.V30]))
    wire = bytearray(encode(draw(any_pdu(version)), version))
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
        # Keep Total_Length consistent so the body decoder, not the framer, sees the damage.
        wire[0:4] = len(wire).to_bytes(4, "big")
    # Decode with the other version now and then: a gateway of the other kind.
    if draw(st.integers(0, 4)) == 0:
        version = Version.V20 if version == Version.V30 else Version.V30
    return bytes(wire), version


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=mutated_pdu(), chunks=st.lists(st.integers(1, 40), max_size=8))
def test_mutated_valid_pdus(case: tuple[bytes, int], chunks: list[int]) -> None:
    data, version = case
    _decode_only_codec_errors(data, version)
    _feed_all(data, chunks, version)


def test_seeded_fuzz_stream_never_desyncs() -> None:
    """A reproducible stream of mixed good, damaged and unknown-command PDUs: only the body and
    Command_Id are damaged, never Total_Length, so every PDU yields exactly one event."""
    rng = random.Random(20261123)
    good = [
        bytes.fromhex("0000000c000000080000000a"),  # ACTIVE_TEST
        bytes.fromhex("000000188000000400000007bb8acc802711000100000000"),  # SUBMIT_RESP 3.0
        bytes.fromhex("0000001400000009000000010102030405060708"),  # CMPP_FWD, unhandled
    ]
    stream = bytearray()
    for _ in range(2000):
        pdu = bytearray(rng.choice(good))
        if rng.random() < 0.3:
            pdu[rng.randrange(4, len(pdu))] = rng.randrange(256)
        stream += pdu
    framer = Framer(Version.V30, max_total_length=MAX)
    events = 0
    pos = 0
    while pos < len(stream):
        size = rng.randrange(1, 300)
        events += len(framer.feed(stream[pos : pos + size]))
        pos += size
    assert events == 2000
    assert framer.buffered == 0
