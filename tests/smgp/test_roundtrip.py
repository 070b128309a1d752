"""Hypothesis round-trips for every SMGP PDU and TLV, in 3.0, 2.0 and 1.3, and the framer fed
in any chunking, byte at a time and in bulk."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsengine.smgp import (
    PDU_CLASSES,
    Deliver,
    Framer,
    InvalidPdu,
    Pdu,
    Submit,
    Version,
    decode,
    encode,
    with_sequence_id,
)
from smsengine.smgp import pdu as pdu_mod
from tests._support.smgp_strategies import any_pdu, value_of

CLASSES = list(PDU_CLASSES.values())


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_roundtrip_every_pdu(cls: type[Pdu], data: st.DataObject) -> None:
    pdu = data.draw(value_of(cls))
    wire = encode(pdu)
    assert int.from_bytes(wire[:4], "big") == len(wire)
    assert int.from_bytes(wire[4:8], "big") == cls.request_id
    assert decode(wire) == pdu
    assert decode(memoryview(bytearray(wire))) == pdu
    # The sequence_id can be patched on the wire or overridden at encode time.
    assert decode(with_sequence_id(wire, 77)).sequence_id == 77
    assert encode(pdu, sequence_id=77) == with_sequence_id(wire, 77)


@pytest.mark.parametrize("cls", [Submit, Deliver], ids=lambda c: c.__name__)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_compact_tlvs_decode_to_the_same_value(cls: type[Pdu], data: st.DataObject) -> None:
    pdu = data.draw(value_of(cls))
    assert decode(encode(pdu, compact_tlvs=True)) == pdu


@pytest.mark.parametrize(
    ("tag", "name"),
    [(m.tag, n) for cls in (Submit, Deliver) for n, m in pdu_mod._TLV_FIELDS[cls]],
    ids=lambda v: v if isinstance(v, str) else f"{v:#06x}",
)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_each_tlv_alone(tag: int, name: str, data: st.DataObject) -> None:
    """Every TLV of section 5's table, alone, comes back in its own field."""
    cls = Submit if name in Submit.__struct_fields__ else Deliver
    marker = dict(pdu_mod._layout(cls))[name]
    if isinstance(marker, pdu_mod._TlvInt):
        value: object = data.draw(st.integers(0, 255))
    else:
        value = data.draw(st.text(st.characters(min_codepoint=1, max_codepoint=255),
                                  min_size=1, max_size=marker.width or 60))  # fmt: skip
    kwargs: dict[str, object] = {name: value}
    if cls is Submit:
        kwargs["dest_term_ids"] = ("13312345678",)
    pdu = cls(**kwargs)
    wire = encode(pdu)
    start = 126 + 21 if cls is Submit else 89  # no content: the TLVs follow Reserve
    assert wire[start : start + 2] == tag.to_bytes(2, "big")
    assert decode(wire) == pdu
    # TLVs are left out in 2.0.
    absent = None if isinstance(value, int) else ""
    assert decode(encode(pdu, Version.V20)) == msgspec.structs.replace(pdu, **{name: absent})


@pytest.mark.parametrize("version", [Version.V20, Version.V13], ids=["v20", "v13"])
@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_roundtrip_older_versions(cls: type[Pdu], version: int, data: st.DataObject) -> None:
    pdu = data.draw(value_of(cls, tlvs=False))
    if version < 0x20 and isinstance(pdu, Submit):
        pdu = msgspec.structs.replace(pdu, fixed_fee="")
    assert decode(encode(pdu, version), version) == pdu


def _chunks(data: bytes, sizes: list[int]) -> list[bytes]:
    out, pos = [], 0
    for size in sizes:
        out.append(data[pos : pos + size])
        pos += size
    out.append(data[pos:])
    return out


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_framer_any_chunking_matches_bulk(data: st.DataObject) -> None:
    pdus = data.draw(st.lists(any_pdu(), min_size=1, max_size=6))
    stream = b"".join(encode(p) for p in pdus)
    bulk = Framer()
    assert bulk.feed(stream) == pdus
    sizes = data.draw(st.lists(st.integers(1, 64), max_size=20))
    framer = Framer()
    got: list[Pdu | InvalidPdu] = []
    for chunk in _chunks(stream, sizes):
        got += framer.feed(bytearray(chunk) if len(chunk) % 2 else chunk)
    assert got == pdus
    assert framer.buffered == 0


@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_framer_byte_at_a_time_matches_bulk(data: st.DataObject) -> None:
    pdus = data.draw(st.lists(any_pdu(), min_size=1, max_size=3))
    stream = b"".join(encode(p) for p in pdus)
    framer = Framer()
    got: list[Pdu | InvalidPdu] = []
    for i in range(len(stream)):
        got += framer.feed(memoryview(stream)[i : i + 1])
        assert framer.buffered <= i + 1
    assert got == pdus == Framer().feed(stream)
    assert framer.buffered == 0
