"""decode(encode(x)) == x for every PDU type, over generated values."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsengine.smpp import (
    HEADER_LENGTH,
    PDU_CLASSES,
    Framer,
    Pdu,
    Response,
    Tlv,
    decode_pdu,
)
from tests._support.strategies import any_pdu, pdu, tlv

CLASSES = sorted(PDU_CLASSES.values(), key=lambda c: c.command_id)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.command_id.name)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_round_trip_every_pdu_type(cls: type[Pdu], data: st.DataObject) -> None:
    value = data.draw(pdu(cls))
    wire = value.encode()
    assert int.from_bytes(wire[:4], "big") == len(wire)
    assert int.from_bytes(wire[4:8], "big") == cls.command_id
    decoded = decode_pdu(wire)
    assert type(decoded) is cls
    assert decoded == value
    # Encoding is a function of the value: re-encoding gives the same octets.
    assert decoded.encode() == wire


@settings(max_examples=200, deadline=None)
@given(value=any_pdu(), seq=st.integers(0, 0xFFFFFFFF))
def test_encode_with_sequence_number_override(value: Pdu, seq: int) -> None:
    wire = value.encode(seq)
    assert int.from_bytes(wire[12:16], "big") == seq
    decoded = decode_pdu(wire)
    assert decoded.sequence_number == seq
    assert decoded.encode(value.sequence_number) == value.encode()


@settings(max_examples=300, deadline=None)
@given(t=tlv())
def test_tlv_round_trip(t: Tlv) -> None:
    from smsengine.smpp.tlv import decode_tlvs, encode_tlvs

    assert decode_tlvs(encode_tlvs((t,)), 0) == (t,)


@settings(max_examples=50, deadline=None)
@given(values=st.lists(any_pdu(), min_size=1, max_size=8), data=st.data())
def test_stream_of_pdus_in_random_chunks(values: list[Pdu], data: st.DataObject) -> None:
    stream = b"".join(v.encode() for v in values)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=20)))
    framer = Framer()
    got: list[object] = []
    start = 0
    for cut in [*cuts, len(stream)]:
        got += framer.feed(stream[start:cut])
        start = cut
    assert got == values
    assert framer.buffered == 0


def test_response_with_error_status_and_empty_fields_has_no_body() -> None:
    # SMPP 3.4 4.4.2: "The submit_sm_resp PDU Body is not returned if the command_status
    # field contains a non-zero value."
    for cls in CLASSES:
        if issubclass(cls, Response):
            wire = cls(sequence_number=9, command_status=0x58).encode()
            assert len(wire) == HEADER_LENGTH, cls.__name__
            assert decode_pdu(wire) == cls(sequence_number=9, command_status=0x58)
