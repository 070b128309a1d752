"""Encodings: the GSM 03.38 tables, 7-bit packing, each codec, the choice, data_coding maps."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsengine.text import (
    DEFAULT_ENCODINGS,
    Encoding,
    TextDecodeError,
    TextError,
    UdhError,
    UnencodableTextError,
    choose_encoding,
    decode,
    encode,
    encoding_for_data_coding,
    encoding_for_msg_fmt,
    first_unencodable,
    gsm,
)

GSM_CHARS = gsm.BASIC_CHARACTERS.replace("\x1b", "") + "".join(gsm.EXTENSION_CHARACTERS.values())


# --- GSM 03.38 tables ------------------------------------------------------------------------


def test_gsm_tables_follow_23038() -> None:
    basic = gsm.BASIC_CHARACTERS
    assert len(basic) == 128
    # Spot checks against 3GPP TS 23.038 6.2.1: the places peers most often get wrong.
    assert basic[0x00] == "@"
    assert basic[0x02] == "$"
    assert basic[0x11] == "_"
    assert basic[0x1B] == "\x1b"
    assert basic[0x24] == "¤"  # not '$'
    assert basic[0x40] == "¡"
    assert basic[0x5F] == "§"
    assert basic[0x60] == "¿"
    assert basic[0x7F] == "à"
    assert gsm.EXTENSION_CHARACTERS == {
        0x0A: "\x0c", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\",
        0x3C: "[", 0x3D: "~", 0x3E: "]", 0x40: "|", 0x65: "€",
    }  # fmt: skip
    assert len(set(GSM_CHARS)) == len(GSM_CHARS) == 137


def test_every_gsm_character_round_trips() -> None:
    octets = encode(GSM_CHARS, Encoding.GSM7)
    assert len(octets) == 127 + 2 * 10  # extension characters cost two septets
    assert decode(octets, Encoding.GSM7) == GSM_CHARS
    assert encode("€", Encoding.GSM7) == b"\x1b\x65"
    assert encode("@", Encoding.GSM7) == b"\x00"
    assert encode("Hi {you}", Encoding.GSM7) == b"Hi \x1b\x28you\x1b\x29"


def test_gsm_unencodable_names_character_and_position() -> None:
    with pytest.raises(UnencodableTextError) as info:
        encode("abc`d", Encoding.GSM7)
    err = info.value
    assert (err.character, err.position, err.encoding) == ("`", 3, Encoding.GSM7)
    assert isinstance(err, ValueError) and isinstance(err, TextError)
    assert err.retriable is False
    assert "U+0060" in str(err)
    assert first_unencodable("ok 中", Encoding.GSM7) == 3
    assert first_unencodable("ok", Encoding.GSM7) == -1


def test_gsm_decode_escape_rules() -> None:
    # An undefined extension code shows the default alphabet's character (23.038 6.2.1.1).
    assert decode(b"\x1b\x41", Encoding.GSM7) == "A"
    # Escape-escape is reserved for a further table: shown as a space.
    assert decode(b"a\x1b\x1bb", Encoding.GSM7) == "a b"
    with pytest.raises(TextDecodeError) as info:
        decode(b"ab\x1b", Encoding.GSM7)
    assert info.value.position == 2
    assert decode(b"ab\x1b", Encoding.GSM7, "replace") == "ab\ufffd"
    with pytest.raises(TextDecodeError) as info:
        decode(b"a\x1b\x65\x80", Encoding.GSM7)
    assert info.value.position == 3
    assert decode(b"a\x80", Encoding.GSM7, "replace") == "a\ufffd"
    assert decode(b"\x1b\x80", Encoding.GSM7, "replace") == "\ufffd"


# --- 7-bit packing ---------------------------------------------------------------------------


def _naive_pack(septets: bytes, fill: int) -> bytes:
    acc = 0
    for i, s in enumerate(septets):
        acc |= s << (fill + 7 * i)
    return acc.to_bytes((7 * len(septets) + fill + 7) // 8, "little") if septets else b""


def test_pack_golden_vectors() -> None:
    # The classic example from 23.038 6.1.2.1.1 and every SMS tutorial since.
    assert gsm.pack_septets(encode("hellohello", Encoding.GSM7)).hex() == "e8329bfd4697d9ec37"
    assert gsm.unpack_septets(bytes.fromhex("e8329bfd4697d9ec37")) == b"hellohello"
    assert gsm.pack_septets(b"") == b""
    assert gsm.fill_bits(6) == 1 and gsm.fill_bits(7) == 0 and gsm.fill_bits(12) == 2


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300).map(lambda b: bytes(x & 0x7F for x in b)), st.integers(0, 6))
def test_pack_matches_naive_and_round_trips(septets: bytes, fill: int) -> None:
    packed = gsm.pack_septets(septets, fill)
    assert packed == _naive_pack(septets, fill)
    assert gsm.unpack_septets(packed, len(septets), fill) == septets


def test_pack_refuses_eight_bit_octets() -> None:
    with pytest.raises(TextDecodeError):
        gsm.pack_septets(b"ab\x80")
    with pytest.raises(TextDecodeError):
        gsm.unpack_septets(b"\x00\x00", 3)


def test_pack_user_data_with_udh_fits_140_octets() -> None:
    udh = bytes.fromhex("050003010201")
    packed, udl = gsm.pack_user_data(udh + b"A" * 153, udhi=True)
    assert len(packed) == 140 and udl == 160
    assert packed[:6] == udh
    assert gsm.unpack_user_data(packed, udl, udhi=True) == udh + b"A" * 153
    udh16 = bytes.fromhex("06080401020201")
    packed, udl = gsm.pack_user_data(udh16 + b"B" * 152, udhi=True)
    assert len(packed) == 140 and udl == 160
    assert gsm.unpack_user_data(packed, udl, udhi=True) == udh16 + b"B" * 152
    assert gsm.pack_user_data(b"C" * 160, udhi=False) == (gsm.pack_septets(b"C" * 160), 160)
    with pytest.raises(UdhError):
        gsm.pack_user_data(b"\x09\x00", udhi=True)


# --- other codecs ----------------------------------------------------------------------------


def test_ucs2_is_utf16be_with_surrogate_pairs() -> None:
    assert encode("中a", Encoding.UCS2) == b"\x4e\x2d\x00\x61"
    assert encode("😀", Encoding.UCS2) == b"\xd8\x3d\xde\x00"
    assert decode(b"\xd8\x3d\xde\x00", Encoding.UCS2) == "😀"
    with pytest.raises(UnencodableTextError) as info:
        encode("a\ud800b", Encoding.UCS2)
    assert info.value.position == 1
    with pytest.raises(TextDecodeError):
        decode(b"\xd8\x3d", Encoding.UCS2)  # a lone high surrogate
    assert decode(b"\xd8\x3d", Encoding.UCS2, "replace") == "\ufffd"


def test_latin1_ascii_binary_gb18030() -> None:
    assert encode("café", Encoding.LATIN1) == b"caf\xe9"
    assert encode("cafe", Encoding.ASCII) == b"cafe"
    with pytest.raises(UnencodableTextError) as info:
        encode("café", Encoding.ASCII)
    assert (info.value.character, info.value.position) == ("é", 3)
    assert decode(bytes(range(256)), Encoding.BINARY) == "".join(map(chr, range(256)))
    assert encode("您好", Encoding.GB18030) == "您好".encode("gbk")  # GBK subset: 2 octets
    assert decode(encode("您好😀", Encoding.GB18030), Encoding.GB18030) == "您好😀"
    with pytest.raises(TextDecodeError):
        decode(b"\xc4", Encoding.GB18030)


def test_encoding_numbers() -> None:
    assert [e.data_coding for e in Encoding] == [0, 1, 3, 8, 4, None]
    assert [e.msg_fmt for e in Encoding] == [None, 0, None, 8, 4, 15]
    assert Encoding("ucs2") is Encoding.UCS2
    assert Encoding.GSM7.septets and Encoding.ASCII.septets and not Encoding.UCS2.septets


@pytest.mark.parametrize(
    ("data_coding", "expected"),
    [
        (0x00, Encoding.GSM7),
        (0x01, Encoding.ASCII),
        (0x02, Encoding.BINARY),
        (0x03, Encoding.LATIN1),
        (0x04, Encoding.BINARY),
        (0x06, Encoding.BINARY),  # Cyrillic: not decoded here, octets kept
        (0x08, Encoding.UCS2),
        (0x10, Encoding.GSM7),  # general group, class 0
        (0x18, Encoding.UCS2),
        (0x14, Encoding.BINARY),
        (0x38, Encoding.BINARY),  # compressed
        (0xC0, Encoding.GSM7),
        (0xE8, Encoding.UCS2),
        (0xF0, Encoding.GSM7),  # flash, GSM 7-bit
        (0xF5, Encoding.BINARY),
        (0x90, Encoding.BINARY),
    ],
)
def test_encoding_for_data_coding(data_coding: int, expected: Encoding) -> None:
    assert encoding_for_data_coding(data_coding) is expected


def test_data_coding_zero_can_be_ascii_and_msg_fmt() -> None:
    assert encoding_for_data_coding(0, default_alphabet=Encoding.ASCII) is Encoding.ASCII
    assert encoding_for_msg_fmt(15) is Encoding.GB18030
    assert encoding_for_msg_fmt(8) is Encoding.UCS2
    assert encoding_for_msg_fmt(0) is Encoding.ASCII
    assert encoding_for_msg_fmt(3) is Encoding.BINARY


# --- the choice ------------------------------------------------------------------------------


def test_choose_cheapest_by_default() -> None:
    assert DEFAULT_ENCODINGS == (Encoding.GSM7, Encoding.UCS2)
    assert choose_encoding("Your code is 402113 {€5}") is Encoding.GSM7
    assert choose_encoding("您的验证码是402113") is Encoding.UCS2
    assert choose_encoding("café ç") is Encoding.UCS2  # ç is not in GSM (only Ç)
    assert choose_encoding("") is Encoding.GSM7


def test_choose_follows_the_channel() -> None:
    ascii_first = (Encoding.ASCII, Encoding.UCS2)
    assert choose_encoding("plain `text`", ascii_first) is Encoding.ASCII
    assert choose_encoding("plain text", (Encoding.UCS2,)) is Encoding.UCS2  # GSM7 forbidden
    assert choose_encoding("café ç", (Encoding.GSM7, Encoding.LATIN1)) is Encoding.LATIN1
    assert choose_encoding("验证码", (Encoding.GB18030,)) is Encoding.GB18030
    with pytest.raises(UnencodableTextError) as info:
        choose_encoding("ok 中", (Encoding.GSM7, Encoding.LATIN1))
    assert (info.value.encoding, info.value.position) == (Encoding.LATIN1, 3)
    with pytest.raises(UnencodableTextError):
        choose_encoding("a\udc00")
    with pytest.raises(TextError):
        choose_encoding("x", (Encoding.BINARY,))
    with pytest.raises(TextError):
        choose_encoding("x", ())


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_chosen_encoding_round_trips(text: str) -> None:
    encoding = choose_encoding(text)
    assert decode(encode(text, encoding), encoding) == text
    assert (encoding is Encoding.GSM7) == all(c in GSM_CHARS for c in text)


@pytest.mark.parametrize("encoding", list(Encoding), ids=lambda e: e.name)
@settings(max_examples=300, deadline=None)
@given(octets=st.binary(max_size=60))
def test_fuzz_decode_never_crashes(encoding: Encoding, octets: bytes) -> None:
    # Peers send anything: "replace" always yields text, "strict" fails only with our error.
    assert isinstance(decode(octets, encoding, "replace"), str)
    with contextlib.suppress(TextDecodeError):
        decode(octets, encoding)
