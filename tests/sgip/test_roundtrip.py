"""Hypothesis round-trips for every SGIP PDU, and the framer under any chunking."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsengine.sgip import (
    PDU_CLASSES,
    Framer,
    InvalidPdu,
    Pdu,
    Request,
    SequenceNumber,
    decode,
    encode,
)
from tests._support.sgip_strategies import any_pdu, sequence_numbers, value_of


@pytest.mark.parametrize("cls", list(PDU_CLASSES.values()), ids=lambda c: c.__name__)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_roundtrip_every_pdu(cls: type[Pdu], data: st.DataObject) -> None:
    pdu = data.draw(value_of(cls))
    wire = encode(pdu)
    assert int.from_bytes(wire[:4], "big") == len(wire)
    assert int.from_bytes(wire[4:8], "big") == cls.command_id
    assert SequenceNumber.unpack(wire, 8) == pdu.sequence_number
    assert decode(wire) == pdu
    assert decode(memoryview(wire)) == pdu
    # The Sequence Number can be overridden at encode time without rebuilding the value.
    other = data.draw(sequence_numbers)
    rewired = encode(pdu, sequence_number=other)
    assert rewired[:8] == wire[:8] and rewired[20:] == wire[20:]
    assert decode(rewired).sequence_number == other


@pytest.mark.parametrize(
    "cls", [c for c in PDU_CLASSES.values() if issubclass(c, Request)], ids=lambda c: c.__name__
)
@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_response_carries_the_request_triple(cls: type[Request], data: st.DataObject) -> None:
    request = data.draw(value_of(cls))
    response = request.response()
    assert response.command_id == cls.command_id | 0x80000000
    assert decode(encode(response)).sequence_number == request.sequence_number


def _chunks(data: bytes, sizes: list[int]) -> list[bytes]:
    out, pos = [], 0
    for size in sizes:
        out.append(data[pos : pos + size])
        pos += size
    out.append(data[pos:])
    return out


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_framer_any_chunking(data: st.DataObject) -> None:
    pdus = data.draw(st.lists(any_pdu(), min_size=1, max_size=6))
    stream = b"".join(encode(p) for p in pdus)
    sizes = data.draw(st.lists(st.integers(1, 64), max_size=20))
    framer = Framer()
    got: list[Pdu | InvalidPdu] = []
    for chunk in _chunks(stream, sizes):
        got += framer.feed(chunk)
    assert got == pdus
    assert framer.buffered == 0


@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_framer_byte_at_a_time_equals_bulk(data: st.DataObject) -> None:
    pdus = data.draw(st.lists(any_pdu(), min_size=1, max_size=3))
    stream = b"".join(encode(p) for p in pdus)
    bulk = Framer().feed(stream)
    framer = Framer()
    got: list[Pdu | InvalidPdu] = []
    for i in range(len(stream)):
        got += framer.feed(stream[i : i + 1])
    assert got == bulk == pdus
    assert framer.buffered == 0


@settings(max_examples=20, deadline=None)
@given(pdus=st.lists(any_pdu(), min_size=1, max_size=4))
def test_framer_accepts_bytearray_and_memoryview(pdus: list[Pdu]) -> None:
    stream = b"".join(encode(p) for p in pdus)
    assert Framer().feed(bytearray(stream)) == pdus
    assert Framer().feed(memoryview(stream)) == pdus
    framer = Framer()
    half = len(stream) // 2
    assert framer.feed(memoryview(stream)[:half]) + framer.feed(memoryview(stream)[half:]) == pdus
    if len(stream) % 4 == 0:  # a view of wider items is read as its octets
        assert Framer().feed(memoryview(stream).cast("I")) == pdus
