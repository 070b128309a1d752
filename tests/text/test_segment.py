"""Segmentation: exact boundaries, every split method, and hypothesis over arbitrary Unicode.

The property tests hold the fast segmenter against a plain reference written from the rule
("the longest run of whole grapheme clusters that fits; a cluster longer than a part is cut
between code points") and check on the air-interface octets that every part fits.
"""

# ruff: noqa: RUF001  (CJK and Arabic text: fullwidth punctuation and letters on purpose)

from __future__ import annotations

import pytest
import regex
from hypothesis import example, given, settings
from hypothesis import strategies as st

from smsengine.text import (
    MAX_PARTS,
    Count,
    Encoding,
    MessageTooLongError,
    Part,
    Reassembler,
    Split,
    SplitMethod,
    TextError,
    UnencodableTextError,
    capacity,
    concat_udh,
    count,
    decode,
    encode,
    gsm,
    parse_udh,
    single_part,
    split,
)
from tests._support.text_strategies import any_text, gsm_text

ZH = "您的验证码是四零二一一三请在五分钟内完成验证"  # 22 CJK characters, no ASCII

UDH_METHODS = [SplitMethod.UDH8, SplitMethod.UDH16]
ALL_METHODS = [*UDH_METHODS, SplitMethod.SAR, SplitMethod.PAYLOAD]
CLUSTER = regex.compile(r"\X")


def units_of(text: str, encoding: Encoding) -> int:
    n = len(encode(text, encoding))
    return n // 2 if encoding is Encoding.UCS2 else n


def reference_parts(text: str, encoding: Encoding, method: SplitMethod) -> list[str]:
    """The rule, written plainly: a quadratic walk over grapheme clusters."""
    single, per_part = capacity(encoding, method)
    if units_of(text, encoding) <= single:
        return [text]
    parts: list[str] = []
    rest = text
    while units_of(rest, encoding) > per_part:
        acc = ""
        for cluster in CLUSTER.findall(rest):
            if units_of(acc + cluster, encoding) > per_part:
                break
            acc += cluster
        if not acc:  # one cluster longer than a part: cut it between code points
            for ch in rest:
                if units_of(acc + ch, encoding) > per_part:
                    break
                acc += ch
        parts.append(acc)
        rest = rest[len(acc) :]
    parts.append(rest)
    return parts


def air_octets(part: Part, encoding: Encoding, method: SplitMethod) -> int:
    """Octets of the part's TP-UD on air, header included (SAR: the header the SMSC adds)."""
    user_data = part.user_data
    udhi = part.udhi
    if method is SplitMethod.SAR and part.ref is not None:
        user_data = concat_udh(part.ref, part.total, part.seqnum, ref_bits=16) + user_data
        udhi = True
    if encoding.septets:
        return len(gsm.pack_user_data(user_data, udhi=udhi)[0])
    return len(user_data)


def reassemble(s: Split) -> str:
    """Put the parts back together the way a receiver would."""
    if len(s.parts) == 1 and s.parts[0].ref is None:
        return decode(s.parts[0].user_data, s.encoding)
    r = Reassembler()
    done = None
    for part in s.parts:
        if part.udhi:
            header, payload = parse_udh(part.user_data)
            assert header.concat is not None
            c = header.concat
            done = r.add("k", c.ref, c.total, c.seqnum, payload, 0.0, encoding=s.encoding)
        else:
            assert s.method is SplitMethod.SAR and part.ref is not None
            done = r.add("k", part.ref, part.total, part.seqnum, part.user_data, 0.0,
                         encoding=s.encoding)  # fmt: skip
    assert done is not None and done.complete
    return done.text


def check_split(text: str, s: Split, method: SplitMethod) -> None:
    enc = s.encoding
    assert reassemble(s) == text
    assert s.units == sum(p.units for p in s.parts) == units_of(text, enc)
    total = len(s.parts)
    for i, part in enumerate(s.parts, 1):
        assert air_octets(part, enc, method) <= 140 or method is SplitMethod.PAYLOAD
        assert part.udhi == (method in UDH_METHODS and total > 1)
        assert (part.total, part.seqnum) == (total, i)
        payload = part.payload
        if enc is Encoding.UCS2 and payload:
            assert not 0xDC <= payload[0] <= 0xDF, "part starts with a low surrogate"
            assert not 0xD8 <= payload[-2] <= 0xDB, "part ends with a high surrogate"
        if enc is Encoding.GSM7:
            # The encoder writes 0x1B only to open a pair, so a final 0x1B is a split pair.
            assert not payload.endswith(b"\x1b"), "part ends with a lone escape"
        decode(payload, enc)  # strict: every part decodes on its own
    c = count(text, encoding=enc, method=method)
    if method is SplitMethod.PAYLOAD:
        udh8 = split(text, encoding=enc, method=SplitMethod.UDH8)
        assert c.parts == len(udh8.parts)
        assert c.per_part == tuple(p.units for p in udh8.parts)
        assert len(s.parts) == 1 and s.parts[0].payload == encode(text, enc)
    else:
        assert c.parts == total
        assert c.per_part == tuple(p.units for p in s.parts)
        expected = [decode(p.payload, enc) for p in s.parts]
        assert expected == reference_parts(text, enc, method)


# --- hypothesis ------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ALL_METHODS, ids=lambda m: m.name)
@settings(max_examples=300, deadline=None)
@given(text=any_text, ref=st.integers(0, 255))
@example(text="🇫🇷" * 40, ref=0)
@example(text="x" + "👨‍👩‍👧‍👦" * 12, ref=1)
@example(text="Z" + "\u0301" * 200, ref=2)
def test_split_reassembles_fits_and_never_breaks_a_character(
    method: SplitMethod, text: str, ref: int
) -> None:
    s = split(text, method=method, ref=ref)
    check_split(text, s, method)


@pytest.mark.parametrize("method", ALL_METHODS, ids=lambda m: m.name)
@settings(max_examples=200, deadline=None)
@given(text=gsm_text, ref=st.integers(0, 255))
@example(text="a" * 152 + "€" * 10, ref=0)
@example(text="a" * 152 + "\r\n" + "b" * 10, ref=0)
def test_gsm_split(method: SplitMethod, text: str, ref: int) -> None:
    s = split(text, method=method, ref=ref)
    assert s.encoding is Encoding.GSM7
    check_split(text, s, method)


@pytest.mark.parametrize("encoding", [Encoding.GB18030, Encoding.UCS2], ids=lambda e: e.name)
@settings(max_examples=60, deadline=None)
@given(text=any_text)
def test_forced_wide_encodings(encoding: Encoding, text: str) -> None:
    s = split(text, encoding=encoding, method=SplitMethod.UDH16, ref=300)
    check_split(text, s, SplitMethod.UDH16)


@pytest.mark.parametrize("encoding", [Encoding.LATIN1, Encoding.ASCII], ids=lambda e: e.name)
@settings(max_examples=60, deadline=None)
@given(
    text=st.text(st.characters(max_codepoint=0x7F), max_size=400),
    method=st.sampled_from(ALL_METHODS),
)
def test_forced_narrow_encodings(encoding: Encoding, text: str, method: SplitMethod) -> None:
    s = split(text, encoding=encoding, method=method, ref=7)
    check_split(text, s, method)


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=700), method=st.sampled_from(ALL_METHODS))
def test_binary(data: bytes, method: SplitMethod) -> None:
    s = split(data, method=method, ref=9)
    assert s.encoding is Encoding.BINARY and s.data_coding == 4
    assert b"".join(p.payload for p in s.parts) == data
    for part in s.parts:
        assert air_octets(part, Encoding.BINARY, method) <= 140 or method is SplitMethod.PAYLOAD
    assert count(data, method=method).units == len(data)


# --- exact boundaries ------------------------------------------------------------------------


def test_160_vs_161_gsm_characters() -> None:
    one = split("a" * 160)
    assert [p.units for p in one.parts] == [160]
    assert one.parts[0] == Part(b"a" * 160, 160, False, None, 1, 1)
    two = split("a" * 161, ref=0x2A)
    assert [p.units for p in two.parts] == [153, 8]
    assert [p.user_data[:6].hex() for p in two.parts] == ["0500032a0201", "0500032a0202"]
    assert two.parts[0].udhi and two.parts[0].ref == 0x2A
    assert len(two.parts[0].user_data) == 159  # on the SMPP link; 140 octets once packed
    assert len(gsm.pack_user_data(two.parts[0].user_data, udhi=True)[0]) == 140


def test_extension_characters_count_two_septets() -> None:
    assert count("€" * 80).parts == 1
    assert count("€" * 80 + "a").per_part == (152, 9)  # 153 would split the 77th €
    c = count("{" * 81)
    assert (c.parts, c.units, c.per_part) == (2, 162, (152, 10))


def test_70_vs_71_chinese_characters() -> None:
    assert [p.units for p in split((ZH * 4)[:70]).parts] == [70]
    s = split((ZH * 4)[:71], ref=5)
    assert s.encoding is Encoding.UCS2 and s.data_coding == 8
    assert [p.units for p in s.parts] == [67, 4]
    assert [len(p.user_data) for p in s.parts] == [140, 14]
    assert s.parts[0].user_data[:6] == bytes.fromhex("050003050201")


def test_153rd_septet_would_be_the_first_half_of_euro() -> None:
    text = "a" * 152 + "€" + "b" * 20
    s = split(text)
    assert [p.units for p in s.parts] == [152, 22]
    assert s.parts[0].payload == b"a" * 152
    assert s.parts[1].payload[:2] == b"\x1b\x65"
    # smpplib-style blind slicing would end part 1 with a lone escape: ours never does.
    assert encode(text, Encoding.GSM7)[152] == 0x1B


def test_gsm_extension_characters_at_every_boundary_offset() -> None:
    for lead in range(148, 156):
        text = "a" * lead + "[]" * 5 + "z" * 150
        s = split(text)
        for part in s.parts:
            assert decode(part.payload, Encoding.GSM7)  # strict: no split pair
        assert "".join(decode(p.payload, Encoding.GSM7) for p in s.parts) == text


def test_flag_emoji_at_a_part_boundary() -> None:
    # 65 CJK units, then a flag (4 units): it would straddle unit 67, so it moves whole.
    text = ZH * 2 + ZH[:21] + "🇫🇷" + ZH
    s = split(text)
    assert [p.units for p in s.parts] == [65, 26]
    assert decode(s.parts[1].payload, Encoding.UCS2).startswith("🇫🇷")


def test_zwj_keycap_and_combining_at_boundaries() -> None:
    family = "👨‍👩‍👧‍👦"  # 11 code units
    text = "中" * 60 + family + "文" * 20
    s = split(text)
    assert decode(s.parts[1].payload, Encoding.UCS2).startswith(family)
    keycap = "#️⃣"
    s = split("中" * 66 + keycap + "文" * 10)
    assert decode(s.parts[1].payload, Encoding.UCS2).startswith(keycap)
    s = split("中" * 66 + "e\u0301" + "文" * 10)  # e + combining acute
    assert [p.units for p in s.parts] == [66, 12]


def test_surrogate_pair_at_boundary_without_joiners() -> None:
    s = split("中" * 66 + "😀" + "文" * 10)
    assert [p.units for p in s.parts] == [66, 12]


def test_crlf_is_not_split() -> None:
    s = split("a" * 152 + "\r\n" + "b" * 10)
    assert [p.units for p in s.parts] == [152, 12]
    s = split("中" * 66 + "\r\n" + "文" * 5)
    assert [p.units for p in s.parts] == [66, 7]


def test_a_cluster_longer_than_a_part_is_cut_between_code_points() -> None:
    zalgo = "Z" + "\u0301" * 100
    s = split("ab" + zalgo)
    assert [p.units for p in s.parts] == [2, 67, 34]
    assert "".join(decode(p.payload, Encoding.UCS2) for p in s.parts) == "ab" + zalgo


def test_budgets_per_encoding_and_method() -> None:
    assert capacity(Encoding.GSM7) == (160, 153)
    assert capacity(Encoding.GSM7, SplitMethod.UDH16) == (160, 152)
    assert capacity(Encoding.ASCII, SplitMethod.UDH8) == (160, 153)
    assert capacity(Encoding.LATIN1, SplitMethod.UDH8) == (140, 134)
    assert capacity(Encoding.LATIN1, SplitMethod.UDH16) == (140, 133)
    assert capacity(Encoding.UCS2, SplitMethod.UDH8) == (70, 67)
    assert capacity(Encoding.UCS2, SplitMethod.UDH16) == (70, 66)
    assert capacity(Encoding.UCS2, SplitMethod.SAR) == (70, 66)
    assert capacity(Encoding.GB18030, SplitMethod.UDH8) == (140, 134)
    latin = split("é" * 141, encoding=Encoding.LATIN1)
    assert [p.units for p in latin.parts] == [134, 7] and latin.data_coding == 3
    assert [p.units for p in split("é" * 140, encoding=Encoding.LATIN1).parts] == [140]


def test_udh16() -> None:
    s = split("a" * 161, method=SplitMethod.UDH16, ref=0x1234)
    assert [p.units for p in s.parts] == [152, 9]
    assert s.parts[1].user_data[:7].hex() == "06080412340202"
    assert parse_udh(s.parts[1].user_data)[0].concat is not None


def test_sar_exposes_ref_total_seqnum_and_no_udh() -> None:
    s = split("a" * 161, method=SplitMethod.SAR, ref=0xBEEF)
    assert [(p.ref, p.total, p.seqnum, p.udhi) for p in s.parts] == [
        (0xBEEF, 2, 1, False),
        (0xBEEF, 2, 2, False),
    ]
    assert [p.user_data for p in s.parts] == [b"a" * 152, b"a" * 9]


def test_message_payload_is_one_part_billed_as_the_smsc_cuts_it() -> None:
    text = (ZH * 10)[:150]
    s = split(text, method=SplitMethod.PAYLOAD, ref=1)
    assert len(s.parts) == 1
    assert s.parts[0] == Part(encode(text, Encoding.UCS2), 150, False, None, 1, 1)
    c = count(text, method=SplitMethod.PAYLOAD)
    assert (c.parts, c.per_part) == (3, (67, 67, 16))


def test_ascii_as_data_coding_zero_or_one() -> None:
    s = split("hello `world`", allowed=(Encoding.ASCII, Encoding.UCS2))
    assert (s.encoding, s.data_coding) == (Encoding.ASCII, 1)
    s = split("hello", encoding=Encoding.ASCII, ascii_data_coding=0)
    assert (s.encoding, s.data_coding) == (Encoding.ASCII, 0)
    assert [p.units for p in split("a" * 161, encoding=Encoding.ASCII).parts] == [153, 8]
    with pytest.raises(TextError):
        split("hello", encoding=Encoding.ASCII, ascii_data_coding=3)


def test_gb18030_is_for_cmpp() -> None:
    s = split("验证码" * 30, encoding=Encoding.GB18030, ref=1)
    assert (s.data_coding, s.encoding.msg_fmt) == (None, 15)
    assert [p.units for p in s.parts] == [134, 46]  # two octets per character
    assert s.parts[0].payload == ("验证码" * 30).encode("gb18030")[:134]


def test_per_message_encoding_overrides_the_channel() -> None:
    with pytest.raises(UnencodableTextError) as info:
        split("price 5€ 中", encoding=Encoding.GSM7)
    assert (info.value.character, info.value.position) == ("中", 9)
    assert split("hello", encoding=Encoding.UCS2).encoding is Encoding.UCS2
    assert split("hello", allowed=(Encoding.UCS2,)).data_coding == 8
    with pytest.raises(TextError):
        split("hello", encoding=Encoding.BINARY)
    with pytest.raises(TextError):
        split(b"\x00", encoding=Encoding.UCS2)
    with pytest.raises(UnencodableTextError):
        split("中" * 100 + "\ud800")  # lone surrogate on the UCS2 path


# --- limits ----------------------------------------------------------------------------------


def test_at_most_255_parts() -> None:
    assert len(split("a" * 153 * 255, ref=1).parts) == 255
    with pytest.raises(MessageTooLongError) as info:
        split("a" * (153 * 255 + 1), ref=1)
    err = info.value
    assert (err.parts_needed, err.max_parts, err.exact) == (256, 255, True)
    assert isinstance(err, ValueError) and err.retriable is False
    with pytest.raises(MessageTooLongError) as info:
        split("中" * 67 * 3 + "中", max_parts=3)
    assert (info.value.parts_needed, info.value.max_parts) == (4, 3)
    # Far too long: refused from a lower bound, without cutting 10 MB into parts.
    with pytest.raises(MessageTooLongError) as info:
        split("😀" * 5_000_000)
    assert info.value.exact is False and info.value.parts_needed > 4 * MAX_PARTS
    with pytest.raises(MessageTooLongError):  # payload is billed by the SMSC's parts too
        split("a" * (153 * 255 + 1), method=SplitMethod.PAYLOAD)
    with pytest.raises(TextError):
        split("a", max_parts=256)


def test_count_never_refuses_and_reports_room_left() -> None:
    c = count("a" * 153 * 300)
    assert c.parts == 300 and c.units_left == 0
    assert count("a" * 100) == Count(
        Encoding.GSM7, 0, SplitMethod.UDH8, 1, 100, (100,), 60
    )
    assert count("").parts == 1 and count("").units_left == 160
    assert count("中" * 71).units_left == 63


def test_reference_ranges() -> None:
    with pytest.raises(TextError):
        split("a" * 161, ref=256)
    assert split("a" * 161, method=SplitMethod.UDH16, ref=65535).parts[0].ref == 65535
    with pytest.raises(TextError):
        split("a" * 161, method=SplitMethod.SAR, ref=65536)
    assert split("a" * 10, ref=10_000).parts[0].ref is None  # single part: unused


def test_split_is_an_immutable_value() -> None:
    s = split("a" * 161, ref=1)
    with pytest.raises(AttributeError):
        s.parts = ()  # type: ignore[misc]
    assert s == split("a" * 161, ref=1)
    assert hash(s.parts[0]) == hash(split("a" * 161, ref=1).parts[0])


def test_fast_paths_rest_on_alphabets_without_joiners() -> None:
    # GSM, ASCII and Latin-1 are cut by octet position with only the CR LF and escape checks;
    # that is right because none of their characters can join a grapheme cluster.
    from smsengine.text.segment import _joiners

    joiners = _joiners()
    assert not joiners & set(gsm.BASIC_CHARACTERS + "".join(gsm.EXTENSION_CHARACTERS.values()))
    assert not joiners & set(map(chr, range(256)))
    for c in ("\u0301", "\u200d", "\ufe0f", "\u20e3", "\u1100", "\u0e33", "\u0600"):
        assert c in joiners, hex(ord(c))
    assert not {"中", "，", "가", "ж", "ا"} & joiners


# --- single_part: split's one-part answer without building a Split ------------------------------

short_text = st.one_of(
    any_text.map(lambda t: t[:80]),
    gsm_text.map(lambda t: t[:170]),
    st.integers(150, 170).map(lambda n: "a" * n),
    st.integers(60, 80).map(lambda n: "中" * n),
    st.integers(75, 85).map(lambda n: "€" * n),  # extension pairs: 2 septets each
    st.text(max_size=75),
    # ASCII, single_part's bytes fast path: extension characters, "`" and controls included.
    st.text(st.characters(max_codepoint=127), max_size=170),
)


@settings(max_examples=400, deadline=None)
@given(short_text)
@example("\ud800")  # a lone surrogate: split says what is wrong
@example("a" * 160)
@example("a" * 161)
@example("€" * 80)
@example("€" * 81)
@example("中" * 70)
@example("中" * 71)
@example("😀" * 35)
@example("😀" * 36)
def test_single_part_is_splits_one_part_or_none(text: str) -> None:
    one = single_part(text)
    try:
        s = split(text)
    except TextError:
        assert one is None  # the caller calls split, which raises
        return
    if len(s.parts) == 1:
        assert one == (s.data_coding, s.parts[0].user_data)
        assert s.parts[0].udhi is False
        # (one part is one part whatever the method: split() gives the same octets for each)
        for method in (SplitMethod.UDH16, SplitMethod.SAR):
            assert split(text, method=method).parts == s.parts
    else:
        assert one is None


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(max_codepoint=127), max_size=200))
@example("@$_\r\n`{}")
def test_gsm_encoding_of_ascii_is_the_general_translation(text: str) -> None:
    # encode_unpacked's ASCII fast path (bytes.translate) against the general one.
    if gsm.first_unencodable(text) >= 0:
        with pytest.raises(UnencodableTextError):
            gsm.encode_unpacked(text)
    else:
        assert gsm.encode_unpacked(text) == text.translate(gsm._TO_SEPTETS).encode("latin-1")


def test_single_part_only_answers_for_the_default_encodings() -> None:
    assert single_part("hello") == (0, b"hello")
    assert single_part("hello", [Encoding.GSM7, Encoding.UCS2]) is None  # not the default list
