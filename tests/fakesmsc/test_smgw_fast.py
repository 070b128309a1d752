"""The fake SMGW's fast Submit path (``_SubmitFramer``) agrees with the plain framer: for any
Submit in any version, then the same Submit with other DestTermID and content octets, or with
any one octet changed, the events it gives are the plain framer's (a fast one read in full is
equal to the plain one, and each says the same SequenceID, DestTermID, NeedReport and
SrcTermID). Submits of several senders interleaved (the last one's constant octets compared
in place, the others looked up) and Deliver_Resps of any octets (read apart as a
``_DeliverAnswer`` when of the spec's length) agree too."""

from __future__ import annotations

import struct
from typing import Any, cast

from hypothesis import given, settings
from hypothesis import strategies as st

from smsengine.fakesmsc._common import STATE_OF_STAT
from smsengine.fakesmsc.config import Config, config_from_dict
from smsengine.fakesmsc.smgw import FakeSMGW, _DeliverAnswer, _FastSubmit, _ReportJob, _SubmitFramer
from smsengine.smgp import Deliver, DeliverResp, Framer, Submit, Version, decode, encode
from tests._support.smgp_strategies import value_of

VERSIONS = st.sampled_from([Version.V30, Version.V20, Version.V13])


def one_dest_submits() -> st.SearchStrategy[Submit]:
    return value_of(Submit).filter(lambda s: len(s.dest_term_ids) == 1)


def plain_and_fast(stream: bytes, version: int) -> tuple[list[Any], list[Any]]:
    return Framer(version, 4096).feed(stream), _SubmitFramer(version, 4096).feed(stream)


def same(plain: list[Any], fast: list[Any]) -> None:
    assert len(plain) == len(fast)
    for p, f in zip(plain, fast, strict=True):
        if type(f) is _DeliverAnswer:
            assert type(p) is DeliverResp
            assert f.decoded() == p
            assert (f.sequence_id, f.status) == (p.sequence_id, p.status)
        elif type(f) is _FastSubmit:
            assert type(p) is Submit
            assert f.decoded() == p
            assert (f.sequence_id, f.dest_term_ids, f.need_report, f.src_term_id) == (
                p.sequence_id, p.dest_term_ids, p.need_report, p.src_term_id)
        else:
            assert type(f) is type(p)
            assert repr(f) == repr(p)


def wire(submit: Submit, version: int) -> bytes | None:
    try:
        return encode(submit, version, sequence_id=7, max_msg_length=255)
    except Exception:  # (a value this version cannot carry)
        return None


@settings(max_examples=300, deadline=None)
@given(one_dest_submits(), VERSIONS, st.binary(min_size=21, max_size=21),
       st.binary(max_size=255))
def test_other_dest_and_content_octets(submit: Submit, version: int, dest: bytes,
                                       content: bytes) -> None:
    first = wire(submit, version)
    if first is None:
        return
    head = (126 if version >= 0x20 else 120) - 21
    body = first[12:]
    size = len(submit.msg_content)
    second_body = (body[:head] + dest + bytes((len(content),)) + content
                   + body[head + 22 + size:])
    second = (12 + len(second_body)).to_bytes(4, "big") + first[4:12] + second_body
    plain, fast = plain_and_fast(first + second, version)
    same(plain, fast)
    if type(plain[0]) is Submit and len(body) >= head + 22 + size + 8:
        assert type(fast[1]) is _FastSubmit  # (the case it is for)


@settings(max_examples=300, deadline=None)
@given(one_dest_submits(), VERSIONS, st.data())
def test_any_octet_changed(submit: Submit, version: int, data: st.DataObject) -> None:
    first = wire(submit, version)
    if first is None:
        return
    where = data.draw(st.integers(12, len(first) - 1))
    value = data.draw(st.integers(0, 255))
    second = first[:where] + bytes([value]) + first[where + 1:]
    same(*plain_and_fast(first + second + second, version))


@settings(max_examples=200, deadline=None)
@given(st.lists(one_dest_submits(), min_size=1, max_size=3), VERSIONS, st.data())
def test_senders_interleaved(submits: list[Submit], version: int,
                             data: st.DataObject) -> None:
    wires = [w for w in (wire(s, version) for s in submits) if w is not None]
    if not wires:
        return
    order = data.draw(st.lists(st.integers(0, len(wires) - 1), min_size=1, max_size=12))
    stream = b"".join(wires[i] for i in order)
    same(*plain_and_fast(stream, version))


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**32 - 1), st.binary(max_size=40), VERSIONS,
       st.sampled_from([0x80000003, 0x80000002]))
def test_deliver_resp_any_octets(seq: int, body: bytes, version: int, request_id: int) -> None:
    pdu = (12 + len(body)).to_bytes(4, "big") + request_id.to_bytes(4, "big") \
        + seq.to_bytes(4, "big") + body
    plain, fast = plain_and_fast(pdu + pdu, version)
    same(plain, fast)
    if request_id == 0x80000003 and len(body) == 14:
        assert type(fast[0]) is _DeliverAnswer  # (the case it is for)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 999_999), st.floats(1.0, 4e9),
       st.lists(st.tuples(st.booleans(), st.floats(0, 200)), max_size=30))
def test_one_msg_id_as_next_msg_id(start: int, wall: float,
                                   calls: list[tuple[bool, float]]) -> None:
    """FakeSMGW.msg_id gives the MsgIDs next_msg_id(1) gives, across minutes and the wrap
    of the 6-digit sequence."""
    fast, plain = FakeSMGW(Config(protocol="smgp")), FakeSMGW(Config(protocol="smgp"))
    fast._id_seq = plain._id_seq = start
    for use_fast, step in calls:
        wall += step
        fast._wall = plain._wall = wall
        got = fast.msg_id() if use_fast else fast.next_msg_id(1)[0]
        assert got == plain.next_msg_id(1)[0]
        assert fast._id_seq == plain._id_seq


_OLD_REPORT_HEAD = struct.Struct(">III10sBB14s21s21sB")


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=10, max_size=10), st.text("0123456789", min_size=1, max_size=21),
       st.text("0123456789", min_size=1, max_size=21), st.sampled_from(sorted(STATE_OF_STAT)),
       st.floats(1e9, 2e9), st.floats(0, 100), st.integers(1, 0x7FFFFFFF), st.booleans())
def test_report_octets_as_built_piece_by_piece(msg_id: bytes, handset: str, src: str, stat: str,
                                                submitted: float, delay: float, seq: int,
                                                smsgate: bool) -> None:
    """A report Deliver packed in one piece (the head with "id:" and the MsgID, the tail with
    the Reserve) is the octets the piece-by-piece construction gave, and decodes to the
    report it stands for."""
    smgw = FakeSMGW(config_from_dict({"protocol": "smgp", "smgp": {
        "report_style": "smsgate" if smsgate else "spec"}}))
    smgw._wall = submitted
    job = _ReportJob("acct", msg_id, "m1", stat, submitted, delay, handset.encode(), src.encode())
    got = smgw._deliver_octets(cast(Any, type("C", (), {"v3": True})()), job, seq)
    after_id, recv_time, size = smgw._tails[(int(submitted), int(submitted + delay), stat)]
    assert after_id.endswith(bytes(8)) and size == len(after_id) - 8
    want = _OLD_REPORT_HEAD.pack(102 + size, 0x00000003, seq, job.deliver_id, 1, 0, recv_time,
                                 handset.encode(), src.encode(), 13 + size) + b"id:" + msg_id \
        + after_id[:-8] + bytes(8)
    assert got == want
    pdu = decode(got, Version.V30)
    assert type(pdu) is Deliver and pdu.is_report == 1 and pdu.sequence_id == seq
    assert (pdu.msg_id, pdu.src_term_id, pdu.dest_term_id) == (job.deliver_id, handset, src)
    assert pdu.msg_content == b"id:" + msg_id + after_id[:-8]
