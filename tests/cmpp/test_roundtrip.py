"""Hypothesis round-trips for every CMPP PDU in 2.0 and 3.0, and the framer under any chunking."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsengine.cmpp import (
    PDU_CLASSES,
    Deliver,
    Framer,
    InvalidPdu,
    Pdu,
    Report,
    Version,
    decode,
    encode,
    encode_report,
    parse_report,
    with_sequence_id,
)
from tests._support.cmpp_strategies import any_pdu, report, value_of

VERSIONS = [Version.V20, Version.V30]


@pytest.mark.parametrize("version", VERSIONS, ids=["v20", "v30"])
@pytest.mark.parametrize("cls", list(PDU_CLASSES.values()), ids=lambda c: c.__name__)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_roundtrip_every_pdu(cls: type[Pdu], version: int, data: st.DataObject) -> None:
    pdu = data.draw(value_of(cls, version))
    wire = encode(pdu, version)
    assert int.from_bytes(wire[:4], "big") == len(wire)
    assert int.from_bytes(wire[4:8], "big") == cls.command_id
    assert decode(wire, version) == pdu
    # The sequence_id can be patched on the wire or overridden at encode time.
    assert decode(with_sequence_id(wire, 77), version).sequence_id == 77
    assert encode(pdu, version, sequence_id=77) == with_sequence_id(wire, 77)


@pytest.mark.parametrize("version", VERSIONS, ids=["v20", "v30"])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_report_roundtrip(version: int, data: st.DataObject) -> None:
    rep: Report = data.draw(report(version))
    content = encode_report(rep, version)
    assert len(content) == (71 if version >= 0x30 else 60)
    assert parse_report(content) == rep
    deliver = Deliver(registered_delivery=1, msg_content=content)
    decoded = decode(encode(deliver, version), version)
    assert isinstance(decoded, Deliver) and decoded.report == rep


def _chunks(data: bytes, sizes: list[int]) -> list[bytes]:
    out, pos = [], 0
    for size in sizes:
        out.append(data[pos : pos + size])
        pos += size
    out.append(data[pos:])
    return out


@pytest.mark.parametrize("version", VERSIONS, ids=["v20", "v30"])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_framer_any_chunking(version: int, data: st.DataObject) -> None:
    pdus = data.draw(st.lists(any_pdu(version), min_size=1, max_size=6))
    stream = b"".join(encode(p, version) for p in pdus)
    sizes = data.draw(st.lists(st.integers(1, 64), max_size=20))
    framer = Framer(version)
    got: list[Pdu | InvalidPdu] = []
    for chunk in _chunks(stream, sizes):
        got += framer.feed(chunk)
    assert got == pdus
    assert framer.buffered == 0


@pytest.mark.parametrize("version", VERSIONS, ids=["v20", "v30"])
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_framer_byte_at_a_time(version: int, data: st.DataObject) -> None:
    pdus = data.draw(st.lists(any_pdu(version), min_size=1, max_size=3))
    stream = b"".join(encode(p, version) for p in pdus)
    framer = Framer(version)
    got: list[Pdu | InvalidPdu] = []
    for i in range(len(stream)):
        got += framer.feed(stream[i : i + 1])
    assert got == pdus
    assert framer.buffered == 0
