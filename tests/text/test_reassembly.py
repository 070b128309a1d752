"""Reassembly of inbound parts (shuffled, duplicated, missing) with an injected clock, and the
per-destination reference counter."""

# ruff: noqa: RUF001  (CJK and Arabic text: fullwidth punctuation and letters on purpose)

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsengine.text import (
    Encoding,
    Reassembled,
    Reassembler,
    ReferenceCounter,
    SplitMethod,
    TextError,
    encode,
    parse_udh,
    split,
)
from tests._support.text_strategies import any_text

TEXT = "您的订单已发货，预计明天送达。" * 12  # 180 UCS2 units: 3 parts of 67, 67, 46


def parts_of(text: str, ref: int = 7) -> list[tuple[int, int, int, bytes]]:
    """(ref, total, seqnum, payload) of each part, read back from the UDH as a receiver does."""
    out = []
    for part in split(text, ref=ref).parts:
        header, payload = parse_udh(part.user_data)
        assert header.concat is not None
        c = header.concat
        out.append((c.ref, c.total, c.seqnum, payload))
    return out


def feed(r: Reassembler, parts: list[tuple[int, int, int, bytes]], now: float = 0.0,
         key: str = "8613800138000") -> list[Reassembled]:  # fmt: skip
    done = []
    for ref, total, seq, payload in parts:
        got = r.add(key, ref, total, seq, payload, now, encoding=Encoding.UCS2)
        if got is not None:
            done.append(got)
    return done


@settings(max_examples=100, deadline=None)
@given(st.permutations(range(3)), st.lists(st.integers(0, 2), max_size=6))
def test_shuffled_and_duplicated_parts(order: list[int], dups: list[int]) -> None:
    parts = parts_of(TEXT)
    assert len(parts) == 3
    stream = [parts[i] for i in order]
    for i in dups:  # copies anywhere, before and after the part itself
        stream.insert(i, parts[i])
    r = Reassembler()
    done = feed(r, stream)
    assert len(done) == 1
    msg = done[0]
    assert msg.complete and msg.missing == () and msg.text == TEXT
    assert msg.payload == encode(TEXT, Encoding.UCS2)
    assert (msg.key, msg.ref, msg.total, msg.encoding) == ("8613800138000", 7, 3, Encoding.UCS2)
    assert len(r) == 0 and r.buffered_octets == 0
    assert r.expire(1e9) == [] and r.next_deadline() is None


def test_missing_part_times_out_with_the_partial_text() -> None:
    r = Reassembler(timeout=30.0)
    p1, _, p3 = parts_of(TEXT)
    assert feed(r, [p3], now=100.0) == []
    assert r.next_deadline() == 130.0
    assert feed(r, [p1], now=110.0) == []
    assert r.next_deadline() == 140.0  # idle timeout: from the last new part
    assert r.expire(139.9) == []
    [msg] = r.expire(140.0)
    assert not msg.complete and msg.missing == (2,)
    assert msg.text == TEXT[:67] + TEXT[134:]
    assert len(r) == 0 and r.next_deadline() is None and r.buffered_octets == 0


def test_a_duplicate_does_not_extend_the_deadline() -> None:
    r = Reassembler(timeout=10.0)
    p1, _, _ = parts_of(TEXT)
    feed(r, [p1], now=0.0)
    feed(r, [p1], now=9.0)
    assert r.next_deadline() == 10.0


def test_late_copy_after_completion_is_ignored_but_a_reused_ref_is_not() -> None:
    r = Reassembler(timeout=60.0)
    parts = parts_of(TEXT)
    assert len(feed(r, parts, now=0.0)) == 1
    assert feed(r, [parts[1]], now=5.0) == []  # the SMSC resent a part we already used
    assert len(r) == 0
    # Same ref, different message (the counter wrapped): a new group, not a duplicate.
    other = parts_of("新的消息内容" * 20)
    assert [m.text for m in feed(r, other, now=6.0)] == ["新的消息内容" * 20]
    # After the timeout the memory of completed messages is gone.
    r.expire(1000.0)
    assert feed(r, [parts[0]], now=1000.0) == []
    assert len(r) == 1


def test_groups_are_separated_by_key_ref_and_total() -> None:
    r = Reassembler()
    a = parts_of(TEXT, ref=1)
    b = parts_of(TEXT, ref=2)
    stream = [x for pair in zip(a, b, strict=True) for x in pair]
    assert len(feed(r, stream)) == 2
    assert len(feed(r, a[:2], key="A") + feed(r, a[:2], key="B")) == 0
    assert len(r) == 2


def test_cap_on_open_groups_evicts_the_oldest_as_incomplete() -> None:
    r = Reassembler(max_groups=2, timeout=100.0)
    first = [parts_of(TEXT, ref=i)[0] for i in range(3)]
    for i, part in enumerate(first):
        assert feed(r, [part], now=float(i)) == []
    assert len(r) == 2
    assert r.next_deadline() == 2.0  # due now: the evicted message waits to be surfaced
    [evicted] = r.expire(2.0)
    assert (evicted.ref, evicted.complete, evicted.missing) == (0, False, (2, 3))
    assert evicted.text == TEXT[:67]
    assert r.next_deadline() == 101.0


def test_cap_on_buffered_octets() -> None:
    r = Reassembler(max_octets=200)
    p1 = parts_of(TEXT)[0]
    feed(r, [p1])  # 134 octets
    feed(r, [parts_of(TEXT, ref=9)[0]])  # 268 > 200: the older group goes
    assert len(r) == 1 and r.buffered_octets == 134
    assert [m.ref for m in r.expire(0.0)] == [7]


def test_evicted_messages_are_bounded_and_counted_if_never_collected() -> None:
    r = Reassembler(max_groups=1)
    for ref in range(5):
        feed(r, [parts_of(TEXT, ref=ref)[0]])
    # At most max_groups evicted messages wait for expire(); older ones are counted.
    assert r.dropped == 3
    assert [m.ref for m in r.expire(0.0)] == [3]


def test_single_part_and_bad_sequence_numbers() -> None:
    r = Reassembler()
    msg = r.add("k", 0, 1, 1, b"hi", 0.0)
    assert msg is not None and msg.complete and msg.text == "hi"
    for total, seq in [(2, 0), (2, 3), (0, 0), (256, 1)]:
        with pytest.raises(TextError):
            r.add("k", 0, total, seq, b"x", 0.0)
    with pytest.raises(TextError):
        Reassembler(timeout=0)


def test_sar_parts() -> None:
    s = split("x" * 400, method=SplitMethod.SAR, ref=0xABCD)
    r = Reassembler()
    done = [
        r.add(("bind", "src"), p.ref or 0, p.total, p.seqnum, p.user_data, 0.0)
        for p in reversed(s.parts)
    ]
    msg = done[-1]
    assert msg is not None and msg.text == "x" * 400 and msg.ref == 0xABCD


def test_pairs_a_foreign_sender_split_between_parts_still_decode() -> None:
    # Senders that slice blindly (python-smpplib, many others) cut escapes and surrogates.
    r = Reassembler()
    gsm = encode("a" * 152 + "€" + "b", Encoding.GSM7)
    assert r.add("k", 1, 2, 1, gsm[:153], 0.0) is None  # ends with a lone 0x1B
    msg = r.add("k", 1, 2, 2, gsm[153:], 0.0)
    assert msg is not None and msg.text == "a" * 152 + "€b"
    ucs2 = encode("中" * 66 + "😀", Encoding.UCS2)
    r.add("k", 2, 2, 1, ucs2[:134], 0.0, encoding=Encoding.UCS2)  # ends with a high surrogate
    msg = r.add("k", 2, 2, 2, ucs2[134:], 0.0, encoding=Encoding.UCS2)
    assert msg is not None and msg.text == "中" * 66 + "😀"
    # Missing the second half: the partial text is surfaced with U+FFFD, never an exception.
    r.add("k", 3, 2, 1, ucs2[:134], 0.0, encoding=Encoding.UCS2)
    [partial] = r.expire(1e6)
    assert partial.text == "中" * 66 + "\ufffd" and partial.missing == (2,)


# --- reference numbers -----------------------------------------------------------------------


def test_references_rotate_per_destination() -> None:
    refs = ReferenceCounter(seed=42)
    a = [refs.next("8613800138000") for _ in range(256)]
    assert len(set(a)) == 256 and all(0 <= x <= 255 for x in a)
    b = [refs.next("8613900139000", bits=16) for _ in range(1000)]
    assert len(set(b)) == 1000 and all(0 <= x <= 0xFFFF for x in b)
    assert (b[1] - b[0]) % 65536 == 1
    assert len(refs) == 2
    # Same seed, same sequence: deterministic in tests.
    assert ReferenceCounter(seed=42).next("8613800138000") == a[0]
    with pytest.raises(TextError):
        refs.next("x", bits=12)


def test_reference_counter_memory_is_bounded() -> None:
    refs = ReferenceCounter(max_destinations=3, seed=1)
    for dest in "abcd":
        refs.next(dest)
    assert len(refs) == 3
    refs.next("b")  # b becomes most recent; c is now the oldest
    refs.next("e")
    assert len(refs) == 3
    assert set(refs._counters) == {"d", "b", "e"}
    with pytest.raises(TextError):
        ReferenceCounter(max_destinations=0)


def test_concurrent_long_messages_to_one_handset_never_collide() -> None:
    refs = ReferenceCounter(seed=7)
    r = Reassembler()
    texts = [f"{i:03d}" + "订单通知" * 40 for i in range(50)]
    parts = []
    for text in texts:
        parts.extend(parts_of(text, ref=refs.next("8613800138000")))
    parts.sort(key=lambda p: p[2])  # all first parts, then all second parts, ...: interleaved
    done = feed(r, parts)
    assert sorted(m.text for m in done) == sorted(texts)


@pytest.mark.parametrize(
    "method", [SplitMethod.UDH8, SplitMethod.UDH16, SplitMethod.SAR], ids=lambda m: m.name
)
@settings(max_examples=100, deadline=None)
@given(text=any_text, data=st.data())
def test_any_text_shuffled_and_duplicated(
    method: SplitMethod, text: str, data: st.DataObject
) -> None:
    s = split(text, method=method, ref=200)
    parts = []
    for p in s.parts:
        if p.udhi:
            header, payload = parse_udh(p.user_data)
            assert header.concat is not None
            parts.append((header.concat.ref, header.concat.total, header.concat.seqnum, payload))
        else:
            parts.append((p.ref or 0, p.total, p.seqnum, p.payload))
    stream = data.draw(st.permutations(parts))
    if len(parts) > 1:  # a single part is not concatenated: nothing to tell copies apart by
        stream += data.draw(st.lists(st.sampled_from(parts), max_size=3))
    r = Reassembler()
    done = [
        m
        for ref, total, seq, payload in stream
        if (m := r.add("k", ref, total, seq, payload, 0.0, encoding=s.encoding)) is not None
    ]
    assert [m.text for m in done] == [text]
    assert done[0].complete and len(r) == 0
