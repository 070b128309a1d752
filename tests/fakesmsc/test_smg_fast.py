"""The fake SMG's fast Submit path (``_SubmitFramer``) agrees with the plain decoder: for any
Submit, then the same Submit with other UserNumber and content octets, or with any one octet
changed, the events it gives are the plain framer's (a fast one read in full is equal to the
plain one, and each says the same ReportFlag and UserNumber). Submits of several senders
interleaved (the last one's constant octets compared in place, the others looked up) agree
too."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from smsengine.fakesmsc.smg import _BackFramer, _FastSubmit, _ReportAnswer, _SubmitFramer
from smsengine.sgip import Framer, ReportResp, SequenceNumber, Submit, encode
from tests._support.sgip_strategies import value_of

SEQ = SequenceNumber(3010012345, 1207120000, 7)


def one_user_submits() -> st.SearchStrategy[Submit]:
    return value_of(Submit).filter(lambda s: len(s.user_numbers) == 1)



def plain_and_fast(stream: bytes) -> tuple[list[Any], list[Any]]:
    plain = Framer(4096).feed(stream)
    fast = _SubmitFramer(4096).feed(stream)
    return plain, fast


def same(plain: list[Any], fast: list[Any]) -> None:
    assert len(plain) == len(fast)
    for p, f in zip(plain, fast, strict=True):
        if type(f) is _FastSubmit:
            assert type(p) is Submit
            assert f.decoded() == p
            assert (f.sequence_number, f.user_numbers, f.report_flag) == (
                p.sequence_number, p.user_numbers, p.report_flag)
        else:
            assert type(f) is type(p)
            assert repr(f) == repr(p)


@settings(max_examples=300, deadline=None)
@given(one_user_submits(), st.binary(min_size=21, max_size=21), st.binary(max_size=300))
def test_other_user_and_content_octets(submit: Submit, user: bytes, content: bytes) -> None:
    first = encode(submit, sequence_number=SEQ)
    body = first[20:]
    size = len(submit.message_content)
    second_body = (body[:43] + user + body[64:132] + len(content).to_bytes(4, "big") + content
                   + body[136 + size:])
    second = (20 + len(second_body)).to_bytes(4, "big") + first[4:20] + second_body
    plain, fast = plain_and_fast(first + second)
    same(plain, fast)
    assert type(fast[1]) is _FastSubmit  # (the case it is for)


@settings(max_examples=300, deadline=None)
@given(one_user_submits(), st.data())
def test_any_octet_changed(submit: Submit, data: st.DataObject) -> None:
    first = encode(submit, sequence_number=SEQ)
    where = data.draw(st.integers(20, len(first) - 1))
    value = data.draw(st.integers(0, 255))
    second = first[:where] + bytes([value]) + first[where + 1:]
    same(*plain_and_fast(first + second + second))


@settings(max_examples=200, deadline=None)
@given(st.lists(one_user_submits(), min_size=1, max_size=3), st.data())
def test_senders_interleaved(submits: list[Submit], data: st.DataObject) -> None:
    wires = [encode(s, sequence_number=SEQ) for s in submits]
    order = data.draw(st.lists(st.integers(0, len(wires) - 1), min_size=1, max_size=12))
    same(*plain_and_fast(b"".join(wires[i] for i in order)))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0x80000005, 0x80000004, 0x80000011]),
                          st.integers(0, 2**32 - 1), st.binary(max_size=12)), min_size=1,
                max_size=4), st.sampled_from([None, 1, 7]))
def test_the_back_connection_s_answers(answers: list[tuple[int, int, bytes]],
                                       chunk: int | None) -> None:
    """The connection back's framer (``_BackFramer``) reads a Report_Resp of any body as the
    plain framer does (a fast one read in full is equal to the plain one and has its counter
    and Result), and every other answer as the plain framer."""
    stream = b"".join((20 + len(body)).to_bytes(4, "big") + command.to_bytes(4, "big")
                      + SEQ.pack()[:8] + counter.to_bytes(4, "big") + body
                      for command, counter, body in answers)
    step = chunk or len(stream)
    fast_framer, plain_framer = _BackFramer(4096), Framer(4096)
    fast = [e for i in range(0, len(stream), step) for e in fast_framer.feed(stream[i:i + step])]
    plain = [e for i in range(0, len(stream), step) for e in plain_framer.feed(stream[i:i + step])]
    assert len(plain) == len(fast)
    for p, f in zip(plain, fast, strict=True):
        if type(f) is _ReportAnswer:
            assert type(p) is ReportResp and f.decoded() == p
            assert (f.counter, f.result) == (p.sequence_number.counter, p.result)
        else:
            assert type(f) is type(p)
            assert repr(f) == repr(p)
    for (command, _, body), f in zip(answers, fast, strict=True):
        assert (type(f) is _ReportAnswer) == (command == 0x80000005 and len(body) > 0)
