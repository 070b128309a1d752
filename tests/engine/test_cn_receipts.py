"""The SGIP and SMGP fast receipt path against the plain one: a report read apart by the framer
(``Framer.feed_receipts``: a ``ReportReceipt``, a ``DeliverReceipt``) and handed to the channel
as its id and state (what ``Bind._dispatch`` and ``Channel._receipt_code`` do) ends the same as
the whole PDU read by the adapter (``Channel._incoming``): the same id, state and reason, or the
same PDU when it goes whole; and the sessions answer the same octets either way."""

from __future__ import annotations

import struct
import time
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from smsengine.engine import engine_config_from_dict
from smsengine.engine.adapter import Receipt
from smsengine.engine.model import MessageState
from smsengine.engine.sgip_channel import SgipAdapter
from smsengine.engine.smgp_channel import SmgpAdapter
from smsengine.link import IncomingRequest, ProtocolError, ReceiptReceived, ReceiptState
from smsengine.sgip import Framer as SgipFramer
from smsengine.sgip import InvalidPdu as SgipInvalid
from smsengine.sgip import Report as SgipReport
from smsengine.sgip import ReportReceipt, SequenceNumber, SgipReceiverConfig, SgipReceiverSession
from smsengine.sgip import encode as sgip_encode
from smsengine.smgp import (
    Deliver,
    DeliverReceipt,
    ReportStyle,
    SmgpSession,
    SmgpSessionConfig,
    encode_report,
)
from smsengine.smgp import Framer as SmgpFramer
from smsengine.smgp import InvalidPdu as SmgpInvalid
from smsengine.smgp import Report as SmgpReport
from smsengine.smgp import encode as smgp_encode
from smsengine.text import ReferenceCounter

_DELIVERED = int(ReceiptState.DELIVERED)
u32 = st.integers(0, 2**32 - 1)
octet = st.integers(0, 255)


def channel(protocol: str) -> Any:
    base = {"name": "c", "host": "127.0.0.1", "port": 1, "protocol": protocol,
            "system_id": "sp", "password": "pw", "default_source": "10690001",
            "service_id": "MALL", "corp_id": "12345"}
    return engine_config_from_dict({"channels": [base]}).channels[0]


SGIP = SgipAdapter(channel("sgip"), ReferenceCounter())
SMGP = SmgpAdapter(channel("smgp"), ReferenceCounter())


def same(a: Any, b: Any) -> bool:
    """Equal PDUs, or invalid-PDU events with the same error and answer (exceptions compare by
    identity)."""
    if type(a) is SgipInvalid or type(a) is SmgpInvalid:
        return (type(a) is type(b) and str(a.error) == str(b.error)
                and a.error.status == b.error.status and a.response == b.response)
    return bool(a == b)


def outcome(adapter: Any, pdu: Any) -> Any:
    """What the channel hears of an inbound PDU: (id, state, reason) from a Receipt, else the
    adapter's reading (an MO part, None)."""
    if type(pdu) in (ReportReceipt, DeliverReceipt):
        if pdu.message_state == _DELIVERED:  # Bind._dispatch -> Channel._receipt_code
            return (pdu.message_id, adapter.receipt_states.get(pdu.message_state,
                                                               MessageState.UNKNOWN), None)
        pdu = pdu.pdu()  # Bind._dispatch: on_message(receipt.pdu())
    read = adapter.read(pdu)
    return tuple(read) if type(read) is Receipt else read


# --- SGIP ------------------------------------------------------------------------------------


@st.composite
def sgip_reports(draw: st.DrawFn) -> bytes:
    """A Report PDU as an SMG might send it: any triple, ReportType, State, ErrorCode, any
    UserNumber octets, and a body cut short, exact or longer."""
    report_type = draw(st.sampled_from([0, 0, 1, 7]))
    body = struct.pack(">IIIB", draw(u32), draw(u32), draw(u32), report_type)
    body += draw(st.one_of(st.just(b"8613012345678".ljust(21, b"\0")), st.binary(min_size=21,
                                                                               max_size=21)))
    body += bytes([draw(st.sampled_from([0, 0, 1, 2, 3, 255])), draw(octet)])
    body += draw(st.binary(min_size=8, max_size=8))
    body = body[: draw(st.sampled_from([len(body), len(body), 35, 36, 40]))]
    body += draw(st.sampled_from([b"", b"", b"extra"]))
    head = struct.pack(">IIIII", 20 + len(body), 5, draw(u32), draw(u32), draw(u32))
    return head + body


def sgip_receiver(receipts: bool) -> SgipReceiverSession:
    config = SgipReceiverConfig("smg", "pw", receipts=receipts)
    session = SgipReceiverSession(config, 0.0)
    bind = sgip_encode(_sgip_bind())
    session.receive_data(bind, 0.0)
    session.data_to_send()
    return session


def _sgip_bind() -> Any:
    from smsengine.sgip import Bind, LoginType

    return Bind(login_type=LoginType.SMG_TO_SP, login_name="smg", login_password="pw",
                sequence_number=SequenceNumber(1, 2, 3))


@settings(max_examples=400, deadline=None)
@given(st.lists(sgip_reports(), min_size=1, max_size=4), st.sampled_from([None, 1, 7]))
def test_sgip_reports_read_apart_end_as_the_whole_report(pdus: list[bytes],
                                                         chunk: int | None) -> None:
    wire = b"".join(pdus)
    fast, plain = SgipFramer(), SgipFramer()
    step = chunk or len(wire)
    a = [e for i in range(0, len(wire), step) for e in fast.feed_receipts(wire[i : i + step])]
    b = [e for i in range(0, len(wire), step) for e in plain.feed(wire[i : i + step])]
    assert len(a) == len(b)
    for got, want in zip(a, b, strict=True):
        if type(got) is ReportReceipt:
            assert got.pdu() == want and type(want) is SgipReport
            assert got.sequence_number == want.sequence_number
            assert got.message_id == str(want.submit_sequence_number)
            assert want.report_type == 0
        else:
            assert same(got, want)
        assert outcome(SGIP, got) == outcome(SGIP, want)
    # The sessions answer the same octets, and report the same.
    s_fast, s_plain = sgip_receiver(True), sgip_receiver(False)
    e_fast, e_plain = s_fast.receive_data(wire, 1.0), s_plain.receive_data(wire, 1.0)
    assert s_fast.data_to_send() == s_plain.data_to_send()
    assert len(e_fast) == len(e_plain)
    for x, y in zip(e_fast, e_plain, strict=True):
        if type(x) is ReceiptReceived:
            assert isinstance(y, IncomingRequest) and y.acked and x.receipt.pdu() == y.pdu
        else:
            assert type(x) is type(y)


def test_a_delivered_sgip_report_is_read_apart_with_the_submit_resp_s_id() -> None:
    submit = SequenceNumber(3010012345, 102030405, 2)
    report = SgipReport(submit_sequence_number=submit, user_number="8613012345678",
                        state=0, sequence_number=SequenceNumber(101001, 102030410, 7))
    (got,) = SgipFramer().feed_receipts(sgip_encode(report))
    assert type(got) is ReportReceipt
    assert got.message_id == "301001234501020304050000000002" == str(submit)
    assert got.message_state == _DELIVERED and got.pdu() == report
    assert outcome(SGIP, got) == (str(submit), MessageState.DELIVERED, None)
    # Before the SMG's Bind the whole Report is refused, as without receipts.
    raw = SgipReceiverSession(SgipReceiverConfig("smg", "pw", receipts=True), 0.0)
    events = raw.receive_data(sgip_encode(report), 0.0)
    (refused,) = events
    assert isinstance(refused, ProtocolError) and refused.pdu == report


# --- SMGP ------------------------------------------------------------------------------------

STATS = ["DELIVRD"] * 6 + ["delivrd", "UNDELIV", "EXPIRED", "ACCEPTD", "DTBLACK", "DELI:RD"]


@st.composite
def smgp_delivers(draw: st.DrawFn) -> bytes:
    """A Deliver PDU: a report in either layout (or none), a random octet changed now and then,
    with or without its Reserve and TLVs."""
    stat: str = draw(st.sampled_from(STATS))
    style = draw(st.sampled_from([ReportStyle.SPEC] * 4 + [ReportStyle.SMSGATE]))
    report = encode_report(SmgpReport(msg_id=draw(st.binary(min_size=10, max_size=10)),
                                      submit_date="2612072140", done_date="2612072140",
                                      stat=stat.replace(":", ""), err=draw(st.sampled_from(
                                          ["000"] * 4 + ["001", "0:0"]))), style)
    if ":" in stat:
        report = report[:81] + stat.encode() + report[88:]
    content: bytes = draw(st.one_of(*[st.just(report)] * 4, st.binary(max_size=140)))
    if content and draw(st.integers(0, 6)) == 0:
        i = draw(st.integers(0, len(content) - 1))
        content = content[:i] + bytes([draw(octet)]) + content[i + 1:]
    body: bytes = draw(st.binary(min_size=10, max_size=10))
    body += bytes([draw(st.sampled_from([1] * 8 + [0, 2])), draw(octet)])
    body += draw(st.sampled_from([b"20261207214000", b"\0" * 14]))
    body += draw(st.sampled_from([b"8613012345678", b"\xe9"])).ljust(21, b"\0")
    body += b"10690001".ljust(21, b"\0") + bytes([len(content)]) + content
    body += draw(st.sampled_from([b"\0" * 8] * 8 + [b"", b"\0" * 3]))
    body += draw(st.sampled_from([b""] * 8 + [b"\x00\x02\x00\x01\x01", b"\x00\x02\x00\x09"]))
    return struct.pack(">III", 12 + len(body), 3, draw(u32)) + body


def smgp_session(receipts: bool) -> SmgpSession:
    from smsengine.smgp import LoginResp

    session = SmgpSession(SmgpSessionConfig("sp", "pw", verify_server="off",
                                            receipts=receipts), 0.0)
    session.bind(0.0, time.localtime(0))
    session.data_to_send()
    session.receive_data(smgp_encode(LoginResp(sequence_id=1, server_version=0x30)), 0.0)
    return session


@settings(max_examples=400, deadline=None)
@given(st.lists(smgp_delivers(), min_size=1, max_size=4), st.sampled_from([None, 1, 9]))
def test_smgp_reports_read_apart_end_as_the_whole_deliver(pdus: list[bytes],
                                                          chunk: int | None) -> None:
    wire = b"".join(pdus)
    fast, plain = SmgpFramer(), SmgpFramer()
    step = chunk or len(wire)
    a = [e for i in range(0, len(wire), step) for e in fast.feed_receipts(wire[i : i + step])]
    b = [e for i in range(0, len(wire), step) for e in plain.feed(wire[i : i + step])]
    assert len(a) == len(b)
    for got, want in zip(a, b, strict=True):
        if type(got) is DeliverReceipt:
            assert type(want) is Deliver and got.pdu() == want
            assert want.is_report == 1 and want.report is not None
            assert want.report.stat == "DELIVRD" and got.message_id == want.report.message_id
        else:
            assert same(got, want)
        assert outcome(SMGP, got) == outcome(SMGP, want)
    s_fast, s_plain = smgp_session(True), smgp_session(False)
    e_fast, e_plain = s_fast.receive_data(wire, 1.0), s_plain.receive_data(wire, 1.0)
    assert s_fast.data_to_send() == s_plain.data_to_send()
    assert len(e_fast) == len(e_plain)
    for x, y in zip(e_fast, e_plain, strict=True):
        if type(x) is ReceiptReceived:
            assert isinstance(y, IncomingRequest) and y.acked and x.receipt.pdu() == y.pdu
        else:
            assert type(x) is type(y)


def test_the_fake_smgw_s_report_is_read_apart() -> None:
    msg_id = bytes.fromhex("00010112072140000123")
    report = encode_report(SmgpReport(msg_id=msg_id, stat="DELIVRD"))
    deliver = Deliver(msg_id=bytes(10), is_report=1, msg_content=report, sequence_id=9)
    (got,) = SmgpFramer().feed_receipts(smgp_encode(deliver))
    assert type(got) is DeliverReceipt and got.pdu() == deliver
    assert outcome(SMGP, got) == (msg_id.hex(), MessageState.DELIVERED, None)
    # Without receipts (or another stat) it comes whole.
    assert type(SmgpFramer().feed(smgp_encode(deliver))[0]) is Deliver
