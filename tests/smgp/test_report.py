"""The status report in a Deliver with IsReport = 1 (section 9): tolerant parsing, the
builder's two layouts, and a parser that raises ReportDecodeError and nothing else."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsengine.smgp import (
    REPORT_LENGTH,
    Deliver,
    InvalidPduError,
    Report,
    ReportDecodeError,
    ReportStyle,
    Stat,
    decode,
    encode,
    encode_report,
    parse_report,
)
from tests._support.smgp_strategies import report

ID = bytes.fromhex("01006101161700012345")


@settings(max_examples=200)
@given(rep=report(), style=st.sampled_from(list(ReportStyle)))
def test_round_trip_both_styles(rep: Report, style: ReportStyle) -> None:
    content = encode_report(rep, style)
    if style is ReportStyle.SPEC:
        assert len(content) == REPORT_LENGTH
    assert parse_report(content) == rep
    deliver = Deliver(is_report=1, msg_content=content)
    decoded = decode(encode(deliver))
    assert isinstance(decoded, Deliver) and decoded.report == rep


def test_smsgate_style_is_110_octets_with_a_10_octet_text() -> None:
    rep = Report(msg_id=ID, submit_date="1807052207", done_date="1807052207",
                 stat="DELIVRD", text=b"0123456789")  # fmt: skip
    assert len(encode_report(rep, ReportStyle.SMSGATE)) == 110


def test_the_id_is_never_searched_for_keywords() -> None:
    """An id holding spaces and keyword text (Z splits on spaces and breaks here)."""
    tricky = b" stat:ERR "
    assert len(tricky) == 10
    rep = Report(msg_id=tricky, stat="DELIVRD", err="000")
    got = parse_report(encode_report(rep))
    assert got.msg_id == tricky and got.stat == "DELIVRD"


@pytest.mark.parametrize(
    "content",
    [
        b"ID:" + ID + b" SUB:001 DLVRD:001 SUBMIT DATE:2501020304 DONE DATE:2501020305"
        b" STAT:UNDELIV ERR:005 TEXT:",
        b"id:" + ID + b" sub:001 dlvrd:001 submit_date:2501020304 done_date:2501020305"
        b" stat:UNDELIV err:005 text:",
        b"id:" + ID + b"stat:UNDELIV err:005 submit date:2501020304 done date:2501020305",
        b"id:" + ID + b" sub:001  dlvrd:001 Submit date:2501020304 done date:2501020305 "
        b"stat:UNDELIV err:005",
    ],
    ids=["upper", "underscores", "reordered-no-text", "extra-spaces"],
)
def test_tolerant_variants(content: bytes) -> None:
    rep = parse_report(content)
    assert rep.msg_id == ID
    assert rep.stat == "UNDELIV" and rep.err == "005"
    assert rep.submit_date == "2501020304" and rep.done_date == "2501020305"
    assert not rep.delivered


def test_text_is_everything_after_its_keyword() -> None:
    content = b"id:" + ID + b" stat:DELIVRD err:000 txt:005hello stat:FAKE\0\0"
    rep = parse_report(content)
    assert rep.stat == Stat.DELIVRD and rep.delivered
    assert rep.text == b"005hello stat:FAKE"


def test_unknown_stat_is_kept_verbatim() -> None:
    assert parse_report(b"id:" + ID + b" stat:DTBLACK err:128").stat == "DTBLACK"


@pytest.mark.parametrize(
    "content",
    [b"", b"id:", b"id:" + ID[:9], b"xx:" + ID + b" stat:DELIVRD", b"id:" + ID + b" err:000"],
    ids=["empty", "prefix-only", "short-id", "no-prefix", "no-stat"],
)
def test_uncorrelatable_reports_raise_report_decode_error(content: bytes) -> None:
    with pytest.raises(ReportDecodeError) as info:
        parse_report(content)
    assert info.value.status == 10


def test_a_report_deliver_with_junk_raises_only_on_reading_the_report() -> None:
    deliver = decode(encode(Deliver(is_report=1, msg_content=b"junk")))
    assert isinstance(deliver, Deliver)
    with pytest.raises(ReportDecodeError):
        deliver.report  # noqa: B018 - the property parses


@settings(max_examples=300)
@given(tail=st.binary(max_size=160), prefix=st.sampled_from([b"", b"id:", b"ID:"]))
def test_parser_raises_nothing_but_report_decode_error(prefix: bytes, tail: bytes) -> None:
    try:
        rep = parse_report(prefix + tail)
    except ReportDecodeError:
        return
    assert isinstance(rep, Report) and len(rep.msg_id) == 10


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"stat": "DELIVRD8"}, "stat"),
        ({"err": "0000"}, "err"),
        ({"sub": "1234"}, "sub"),
        ({"submit_date": "25010203040"}, "submit_date"),
        ({"done_date": "2501\x0002030"}, "done_date"),
        ({"text": bytes(21)}, "text"),
    ],
)
def test_builder_names_a_field_that_does_not_fit(fields: dict[str, object], field: str) -> None:
    rep = Report(msg_id=ID, **fields)  # type: ignore[arg-type]
    with pytest.raises(InvalidPduError) as info:
        encode_report(rep)
    assert info.value.field == field and field in str(info.value)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"msg_id": bytes(9)}, "msg_id"),
        ({"msg_id": "01006101161700012345"}, "msg_id"),
        ({"stat": 0}, "stat"),
        ({"err": "错"}, "err"),
        ({"text": "hello"}, "text"),
    ],
)
def test_report_values_are_checked_when_built(fields: dict[str, object], field: str) -> None:
    values: dict[str, object] = {"msg_id": ID, **fields}
    with pytest.raises(InvalidPduError) as info:
        Report(**values)  # type: ignore[arg-type]
    assert info.value.field == field


@settings(max_examples=300)
@given(
    msg_id=st.binary(min_size=10, max_size=10),
    values=st.lists(st.binary(min_size=3, max_size=3), min_size=2, max_size=2),
    dates=st.lists(st.binary(min_size=10, max_size=10), min_size=2, max_size=2),
    stat=st.binary(min_size=7, max_size=7) | st.sampled_from([b"DELIVRD", b"UNDELIV"]),
    err=st.binary(min_size=3, max_size=3),
    text=st.binary(max_size=30),
)
def test_fast_path_agrees_with_the_keyword_parser(
    msg_id: bytes, values: list[bytes], dates: list[bytes], stat: bytes, err: bytes, text: bytes
) -> None:
    """Any octets in the spec layout's value slots: the fixed-offset reading, when it is
    taken, gives what the keyword parser gives."""
    from smsengine.smgp.report import _parse_keywords, _parse_spec_layout

    data = b"".join((
        b"id:", msg_id, b" sub:", values[0], b" dlvrd:", values[1], b" Submit date:", dates[0],
        b" done date:", dates[1], b" stat:", stat, b" err:", err, b" Text:", text,
    ))  # fmt: skip
    fast = _parse_spec_layout(data)
    try:
        slow = _parse_keywords(data)
    except ReportDecodeError:
        assert fast is None
        return
    if fast is not None:
        assert fast == slow
    if b":" not in b"".join((*values, *dates, stat, err)):
        assert fast is not None
