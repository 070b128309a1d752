"""The SGIP and SMGP adapters' one-part fast path (``SgipSubmitTemplate``,
``SmgpSubmitTemplate``, ``single_part_cn``) against the plain path (split_message and a
validated Submit, encoded by the codec): for any message, both give the same octets on the
wire, or both refuse it with the same error; and the usual message does take the fast path."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from smsengine.engine import engine_config_from_dict
from smsengine.engine.adapter import CN_ENCODINGS, single_part_cn
from smsengine.engine.model import Message, MessageHandle, MessageRefusedError
from smsengine.engine.sgip_channel import SgipAdapter
from smsengine.engine.smgp_channel import SmgpAdapter
from smsengine.sgip import EncodedSubmit as SgipEncoded
from smsengine.sgip import SequenceNumber
from smsengine.sgip import Submit as SgipSubmit
from smsengine.sgip import encode as sgip_encode
from smsengine.smgp import EncodedSubmit as SmgpEncoded
from smsengine.smgp import Submit as SmgpSubmit
from smsengine.smgp import encode as smgp_encode
from smsengine.text import ReferenceCounter, split

SEQ = SequenceNumber(3010012345, 1207120000, 7)

texts = st.one_of(
    st.text(st.characters(codec="ascii"), max_size=170),
    st.text(max_size=80),
    st.text(st.sampled_from("验证码您的订单é€😀a 1"), max_size=80),
)
destinations = st.one_of(
    st.from_regex(r"\A\+?(86)?1[3-9][0-9]{9}\Z"),
    st.text(st.characters(codec="latin-1"), min_size=1, max_size=20),
)
sources = st.one_of(st.none(), st.sampled_from(["106550", "10690001", "1" * 21, "1" * 22,
                                                "é", "源", "a\0b"]))


def message(data: st.DataObject) -> Message:
    return Message(destination=data.draw(destinations), text=data.draw(texts),
                   source=data.draw(sources), registered_delivery=data.draw(st.booleans()))


def channel(protocol: str, **fields: Any) -> Any:
    if fields.get("plus") == "national":
        fields["country_code"] = "86"
    base = {"name": "c", "host": "127.0.0.1", "port": 1, "protocol": protocol,
            "system_id": "sp", "password": "pw", "default_source": "10690001",
            "service_id": "MALL", "corp_id": "12345"}
    return engine_config_from_dict({"channels": [{**base, **fields}]}).channels[0]


def built(adapter: Any, msg: Message) -> tuple[str, Any]:
    try:
        return "ok", adapter.build(MessageHandle("r", msg))
    except MessageRefusedError as exc:
        return "refused", (str(exc), exc.status, exc.field)


def test_single_part_cn_is_split_s_one_part() -> None:
    for text in ["", "a" * 160, "\0\x7f", "é" * 70, "😀" * 35, "验证码 123456"]:
        one = single_part_cn(text)
        parts = split(text, allowed=CN_ENCODINGS)
        assert one is not None and len(parts.parts) == 1
        assert one == (parts.encoding.msg_fmt, parts.parts[0].user_data)
    assert [single_part_cn(t) for t in ["a" * 161, "é" * 71, "😀" * 36, "\ud800"]] == [None] * 4


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_single_part_cn_agrees_with_split(text: str) -> None:
    one = single_part_cn(text)
    if one is not None:
        parts = split(text, allowed=CN_ENCODINGS)
        assert len(parts.parts) == 1 and not parts.parts[0].udhi
        assert one == (parts.encoding.msg_fmt, parts.parts[0].user_data)


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_sgip_template_and_plain_path_agree(data: st.DataObject) -> None:
    msg = message(data)
    cfg = channel("sgip", plus=data.draw(st.sampled_from(["strip", "keep", "national"])))
    # (The same seed on both sides: a long message's UDH reference is drawn at random.)
    fast, plain = SgipAdapter(cfg, ReferenceCounter(seed=1)), SgipAdapter(
        cfg, ReferenceCounter(seed=1))
    plain._one_part = False
    a, b = built(fast, msg), built(plain, msg)
    assert a[0] == b[0]
    if a[0] == "refused":
        assert a == b
        return
    assert len(a[1]) == len(b[1])
    for got, want in zip(a[1], b[1], strict=True):
        assert type(want) is SgipSubmit
        wire = sgip_encode(want, sequence_number=SEQ)
        if type(got) is SgipEncoded:
            assert got.encode(SEQ) == wire
        else:
            assert sgip_encode(got, sequence_number=SEQ) == wire


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_smgp_template_and_plain_path_agree(data: st.DataObject) -> None:
    msg = message(data)
    version = data.draw(st.sampled_from(["3.0", "2.0", "1.3"]))
    cfg = channel("smgp", smgp_version=version, msg_src=data.draw(st.sampled_from(["", "SP01"])),
                  plus=data.draw(st.sampled_from(["strip", "keep", "national"])))
    fast, plain = SmgpAdapter(cfg, ReferenceCounter(seed=1)), SmgpAdapter(
        cfg, ReferenceCounter(seed=1))
    plain._one_part = False
    a, b = built(fast, msg), built(plain, msg)
    assert a[0] == b[0]
    if a[0] == "refused":
        assert a == b
        return
    assert len(a[1]) == len(b[1])
    for got, want in zip(a[1], b[1], strict=True):
        assert type(want) is SmgpSubmit
        wire = smgp_encode(want, fast._version, sequence_id=77, max_msg_length=10_000)
        if type(got) is SmgpEncoded:
            assert len(want.msg_content) <= fast._max_msg_length
            assert got.encode(77) == wire
        else:
            assert smgp_encode(got, fast._version, sequence_id=77,
                               max_msg_length=10_000) == wire


def test_the_usual_message_takes_the_fast_path() -> None:
    msg = Message(destination="+8613012345678", text="Your code is 402113")
    sgip = SgipAdapter(channel("sgip"), ReferenceCounter()).build(MessageHandle("r", msg))
    smgp = SmgpAdapter(channel("smgp"), ReferenceCounter()).build(MessageHandle("r", msg))
    assert [type(p) for p in sgip] == [SgipEncoded]
    assert [type(p) for p in smgp] == [SmgpEncoded]
    assert sgip[0].decoded(SEQ).user_numbers == ("8613012345678",)
    assert smgp[0].decoded().dest_term_ids == ("8613012345678",)
    # Other encodings than the default ones keep to the plain path.
    gb = SmgpAdapter(channel("smgp", encodings=["ascii", "gb18030"]), ReferenceCounter())
    assert [type(p) for p in gb.build(MessageHandle("r", msg))] == [SmgpSubmit]
