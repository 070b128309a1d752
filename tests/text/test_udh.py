"""User data headers (3GPP TS 23.040 9.2.3.24): golden octets, other IEs, malformed input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsengine.text import (
    ConcatInfo,
    InformationElement,
    TextError,
    UdhError,
    UserDataHeader,
    concat_udh,
    parse_udh,
)


def test_concat_udh_golden() -> None:
    assert concat_udh(0x2A, 3, 1).hex() == "0500032a0301"
    assert concat_udh(0x1234, 3, 2, ref_bits=16).hex() == "06080412340302"
    for bad in [(256, 2, 1, 8), (0, 2, 3, 8), (0, 0, 0, 8), (70000, 2, 1, 16), (1, 2, 1, 12)]:
        with pytest.raises(TextError):
            concat_udh(bad[0], bad[1], bad[2], ref_bits=bad[3])


def test_parse_8_and_16_bit_concatenation() -> None:
    header, rest = parse_udh(bytes.fromhex("0500032a0301") + b"hello")
    assert header == UserDataHeader(
        (InformationElement(0x00, bytes.fromhex("2a0301")),), ConcatInfo(0x2A, 3, 1, 8), 6
    )
    assert rest == b"hello"
    header, rest = parse_udh(bytes.fromhex("06080412340302") + b"x")
    assert header.concat == ConcatInfo(0x1234, 3, 2, 16)
    assert (header.length, rest) == (7, b"x")


def test_other_ies_are_skipped_and_kept() -> None:
    # Application port addressing, 16-bit (IE 0x05) before the concatenation IE: WAP push.
    user_data = bytes.fromhex("0b" "05040b8423f0" "00037f0201") + b"\x01\x02"
    header, rest = parse_udh(user_data)
    assert header.concat == ConcatInfo(0x7F, 2, 1, 8)
    assert [e.iei for e in header.elements] == [0x05, 0x00]
    assert header.elements[0].data == bytes.fromhex("0b8423f0")
    assert rest == b"\x01\x02"
    # 8-bit ports (IE 0x04) after it; an empty IE too.
    header, _ = parse_udh(bytes.fromhex("0c" "0804abcd0302" "0402fafb" "7000"))
    assert header.concat == ConcatInfo(0xABCD, 3, 2, 16)
    assert [e.iei for e in header.elements] == [0x08, 0x04, 0x70]


def test_a_repeated_concatenation_ie_last_one_counts() -> None:
    header, _ = parse_udh(bytes.fromhex("0a" "0003010201" "0003020302"))
    assert header.concat == ConcatInfo(2, 3, 2, 8)


@pytest.mark.parametrize("iedata", ["010200", "010203", "010000"])
def test_impossible_sequence_numbers_are_ignored(iedata: str) -> None:
    header, _ = parse_udh(bytes.fromhex("050003" + iedata))
    assert header.concat is None  # 23.040 9.2.3.24.1: ignore the IE, keep the message
    assert len(header.elements) == 1


@pytest.mark.parametrize(
    ("hex_user_data", "offset"),
    [
        ("", 0),  # UDHI set, nothing there
        ("05000301", 0),  # UDHL longer than the data
        ("0100", 1),  # IE header cut off
        ("03000501", 1),  # IE longer than the UDH
        ("0400020102", 1),  # concatenation IE of the wrong size
        ("0508030102ff", 1),  # 16-bit concatenation IE of the wrong size
    ],
)
def test_malformed_udh_is_a_clear_error(hex_user_data: str, offset: int) -> None:
    with pytest.raises(UdhError) as info:
        parse_udh(bytes.fromhex(hex_user_data))
    assert info.value.offset == offset
    assert isinstance(info.value, ValueError)


@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=40))
def test_fuzz_parse_udh_never_crashes(data: bytes) -> None:
    try:
        header, rest = parse_udh(data)
    except UdhError:
        return
    assert header.length + len(rest) == len(data)
    if header.concat is not None:
        assert 1 <= header.concat.seqnum <= header.concat.total
