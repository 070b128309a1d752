"""The three-part Sequence Number: validation, packing, text forms, the timestamp, the node id
rule and the counter (sections 2, 6, 10.1)."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsengine.sgip import (
    InvalidPduError,
    Result,
    SequenceCounter,
    SequenceNumber,
    make_timestamp,
    sp_node_id,
    timestamp_from,
    timestamp_parts,
)
from tests._support.sgip_strategies import sequence_numbers


@given(sequence_numbers)
def test_pack_and_text_forms_round_trip(seq: SequenceNumber) -> None:
    assert SequenceNumber.unpack(seq.pack()) == seq
    assert len(seq.pack()) == 12
    assert len(str(seq)) == 30 and SequenceNumber.parse(str(seq)) == seq
    assert len(seq.hex()) == 24 and SequenceNumber.parse(seq.hex()) == seq
    assert SequenceNumber.parse(f"  {seq.hex().lower()}\n") == seq


@given(st.integers(0, 0xFFFFFFFF), st.integers(0, 0xFFFFFFFF), st.integers(0, 0xFFFFFFFF))
def test_decimal_text_is_the_three_parts_zero_filled(node: int, stamp: int, counter: int) -> None:
    # (__str__ computes it as one integer: the same digits as the spec's %010d%010d%010d)
    assert str(SequenceNumber(node, stamp, counter)) == "%010d%010d%010d" % (  # noqa: UP031
        node, stamp, counter)


def test_unsigned_node_ids_above_2_31() -> None:
    seq = SequenceNumber(3999999999, 1231235959, 0xFFFFFFFF)
    assert seq.pack() == bytes.fromhex("ee6b27ff 49632b77 ffffffff")
    assert SequenceNumber.unpack(b"\xff" + seq.pack(), 1) == seq


@pytest.mark.parametrize(
    ("parts", "name"),
    [((-1, 0, 0), "node_id"), ((0, 1 << 32, 0), "timestamp"), ((0, 0, 1 << 32), "counter"),
     ((0, 0, 1.0), "counter"), (("1", 0, 0), "node_id")],
)  # fmt: skip
def test_parts_are_uint32(parts: tuple[object, object, object], name: str) -> None:
    with pytest.raises(InvalidPduError) as info:
        SequenceNumber(*parts)  # type: ignore[arg-type]
    assert info.value.field == f"sequence_number.{name}"
    assert info.value.status == Result.ILLEGAL_SEQUENCE_NUMBER
    assert f"SequenceNumber.{name}" in str(info.value)


def test_equal_triples_are_one_key() -> None:
    a, b = SequenceNumber(1, 2, 3), SequenceNumber(1, 2, 3)
    assert a == b and hash(a) == hash(b) and {a: "x"}[b] == "x"
    assert a != SequenceNumber(1, 3, 3)  # the time part matters too


@pytest.mark.parametrize(
    "text",
    ["", "12345", "9" * 30, "3010012345010203040500000000002", "G" * 24, "B36924B90614DC45000000",
     "٣" * 30],
)  # fmt: skip
def test_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        SequenceNumber.parse(text)


def test_timestamp() -> None:
    assert make_timestamp(12, 31, 23, 59, 59) == 1231235959
    assert timestamp_parts(1120203225) == (11, 20, 20, 32, 25)
    assert timestamp_parts(102030405) == (1, 2, 3, 4, 5)
    local = time.struct_time((2026, 3, 4, 5, 6, 61, 0, 63, 0))
    assert timestamp_from(local) == 304050659  # a leap second counts as 59
    with pytest.raises(InvalidPduError, match=r"month 13 is outside 1\.\.12") as info:
        make_timestamp(13, 1, 0, 0, 0)
    assert info.value.field == "sequence_number.timestamp"
    with pytest.raises(InvalidPduError, match="second 60"):
        make_timestamp(1, 1, 0, 0, 60)


def test_sp_node_id() -> None:
    assert sp_node_id("010", "12345") == 3010012345
    assert sp_node_id("10", 12345) == 3010012345  # the leading 0 comes back
    assert sp_node_id("0755", "00001") == 3075500001
    assert sp_node_id("021", 7) == 3021000007
    for area, corp in [("01a", "1"), ("07550", "1"), ("010", "123456"), ("010", -1),
                       ("010", "12a")]:  # fmt: skip
        with pytest.raises(ValueError):
            sp_node_id(area, corp)


def test_counter_increments_and_wraps() -> None:
    counter = SequenceCounter(3010012345, start=0xFFFFFFFE)
    got = [counter.next(102030405) for _ in range(3)]
    assert [s.counter for s in got] == [0xFFFFFFFE, 0xFFFFFFFF, 0]
    assert {s.node_id for s in got} == {3010012345}
    assert counter.next(102030406) == SequenceNumber(3010012345, 102030406, 1)
    with pytest.raises(InvalidPduError):
        SequenceCounter(1 << 32)


def test_take_is_next_without_the_sequence_number() -> None:
    a, b = SequenceCounter(3010012345, start=0xFFFFFFFE), SequenceCounter(3010012345,
                                                                           start=0xFFFFFFFE)
    assert [a.take() for _ in range(3)] == [b.next(7).counter for _ in range(3)]
    assert a.next(7) == b.next(7) == SequenceNumber(3010012345, 7, 1)
