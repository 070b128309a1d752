"""The 10-octet MsgID (section 7): parts, text form, sequence arithmetic, opaque ids."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsengine.smgp import MsgId, MsgIdParts, msg_id_text, normalise_msg_id

SPEC_EXAMPLE = bytes.fromhex("01006101161700012345")


def test_spec_example() -> None:
    m = MsgId(SPEC_EXAMPLE)
    assert m.text == str(m) == "01006101161700012345"
    assert bytes(m) == SPEC_EXAMPLE
    assert m.is_bcd
    parts = m.parts()
    assert parts == MsgIdParts("010061", 1, 16, 17, 0, 12345)
    assert parts.area_code == "010" and parts.device_type == "06"
    assert MsgId.from_parts("010061", 1, 16, 17, 0, 12345) == m
    assert MsgId.from_text("01006101161700012345") == m
    assert MsgId.decode(memoryview(SPEC_EXAMPLE + b"tail")) == m


def test_make_takes_the_passed_time_and_wraps_the_counter() -> None:
    local = time.struct_time((2025, 1, 16, 17, 0, 59, 3, 16, 0))
    assert MsgId.make(local, "010061", 1_012_345).text == "01006101161700012345"


def test_next_counts_in_the_bcd_sequence_and_wraps() -> None:
    m = MsgId.from_parts("010061", 1, 16, 17, 0, 999_998)
    assert m.next().text == "01006101161700999999"
    assert m.next(2).text == "01006101161700000000"
    assert [m.next(i).parts().sequence for i in range(3)] == [999_998, 999_999, 0]


def test_opaque_ids_keep_their_hex_text() -> None:
    m = MsgId(bytes.fromhex("6495c36ac4ea6b00000b"))  # a real report's id (section 7)
    assert not m.is_bcd
    assert m.text == msg_id_text(m.raw) == "6495c36ac4ea6b00000b"
    with pytest.raises(ValueError, match="not BCD"):
        m.parts()
    with pytest.raises(ValueError, match="not BCD"):
        m.next()


def test_normalise() -> None:
    assert normalise_msg_id(" 6495C36AC4EA6B00000B ") == "6495c36ac4ea6b00000b"
    for bad in ("", "123", "6495c36ac4ea6b00000g", "01006101161700012345" + "0"):
        with pytest.raises(ValueError, match="not a MsgID"):
            normalise_msg_id(bad)


@pytest.mark.parametrize(
    ("args", "part"),
    [
        (("01006", 1, 1, 0, 0, 0), "smgw_code"),
        (("01006x", 1, 1, 0, 0, 0), "smgw_code"),
        (("010061", 13, 1, 0, 0, 0), "month"),
        (("010061", 1, 0, 0, 0, 0), "day"),
        (("010061", 1, 1, 24, 0, 0), "hour"),
        (("010061", 1, 1, 0, 60, 0), "minute"),
        (("010061", 1, 1, 0, 0, 1_000_000), "sequence"),
    ],
)
def test_out_of_range_parts_are_named(args: tuple[str, int, int, int, int, int], part: str) -> None:
    with pytest.raises(ValueError, match=part):
        MsgId.from_parts(*args)


def test_raw_must_be_ten_octets() -> None:
    for bad in (b"", bytes(9), bytes(11)):
        with pytest.raises(ValueError, match="10 octets"):
            MsgId(bad)


@given(raw=st.binary(min_size=10, max_size=10))
def test_text_round_trip(raw: bytes) -> None:
    m = MsgId(raw)
    assert MsgId.from_text(m.text) == m
    assert MsgId.from_text(m.text.upper()) == m
    assert m.is_bcd == m.text.isdigit()


@given(
    code=st.from_regex(r"\A[0-9]{6}\Z"),
    month=st.integers(1, 12), day=st.integers(1, 31), hour=st.integers(0, 23),
    minute=st.integers(0, 59), seq=st.integers(0, 999_999),
)  # fmt: skip
def test_parts_round_trip(
    code: str, month: int, day: int, hour: int, minute: int, seq: int
) -> None:
    m = MsgId.from_parts(code, month, day, hour, minute, seq)
    assert m.parts() == (code, month, day, hour, minute, seq)
    assert m.text == f"{code}{month:02d}{day:02d}{hour:02d}{minute:02d}{seq:06d}"
