"""SGIP codec units: build-time validation naming the field, decode errors and the responses
they offer, the 2 KiB limit, receiving tolerance, result codes and the error registry."""

from __future__ import annotations

import struct
from typing import Any

import pytest

from smsengine.sgip import (
    MAX_PDU_LENGTH,
    Bind,
    BindResp,
    CommandId,
    Deliver,
    DeliverResp,
    ErrorCode,
    Framer,
    InvalidPdu,
    InvalidPduError,
    PduDecodeError,
    Report,
    ReportResp,
    Result,
    SequenceNumber,
    SgipAuthenticationError,
    SgipError,
    SgipResultError,
    SgipThrottledError,
    Submit,
    SubmitResp,
    Trace,
    TraceNode,
    TraceResp,
    Unbind,
    UnbindResp,
    UserRpt,
    UserRptResp,
    decode,
    decode_body,
    encode,
    error_for_result,
    is_retriable_result,
    result_name,
)

SEQ = SequenceNumber(3010012345, 102030405, 2)
USER = "8613012345678"


def submit(**fields: Any) -> Submit:
    base: dict[str, Any] = {"sequence_number": SEQ, "user_numbers": (USER,)}
    base.update(fields)
    return Submit(**base)


# --- building an illegal PDU raises at once, naming the field ----------------------------------


@pytest.mark.parametrize(
    ("cls", "fields", "field", "status", "words"),
    [
        (Submit, {"sp_number": "1" * 22}, "sp_number", 5, "22 characters, at most 21"),
        (Submit, {"charge_number": "8" * 22}, "charge_number", 6, "at most 21"),
        (Submit, {"user_numbers": ()}, "user_numbers", 5, "UserCount 0, must be 1..100"),
        (Submit, {"user_numbers": (USER,) * 101}, "user_numbers", 5, "UserCount 101"),
        (Submit, {"user_numbers": ("8" * 22,)}, "user_numbers", 6, "at most 21"),
        (Submit, {"user_numbers": [USER]}, "user_numbers", 6, "must be a tuple"),
        (Submit, {"user_numbers": (USER, 5)}, "user_numbers", 6, "must be a str, got int"),
        (Submit, {"corp_id": "123456"}, "corp_id", 5, "at most 5"),
        (Submit, {"service_type": "X" * 11}, "service_type", 5, "at most 10"),
        (Submit, {"fee_type": 5}, "fee_type", 5, "5 is outside 0..4"),
        (Submit, {"fee_value": "1000000"}, "fee_value", 5, "at most 6"),
        (Submit, {"given_value": "1000000"}, "given_value", 5, "at most 6"),
        (Submit, {"agent_flag": 2}, "agent_flag", 5, "outside 0..1"),
        (Submit, {"morelateto_mt_flag": 4}, "morelateto_mt_flag", 5, "outside 0..3"),
        (Submit, {"priority": 10}, "priority", 5, "10 is outside 0..9"),
        (Submit, {"expire_time": "2601020304050320+"}, "expire_time", 5, "at most 16"),
        (Submit, {"schedule_time": "x" * 17}, "schedule_time", 5, "at most 16"),
        (Submit, {"report_flag": 4}, "report_flag", 5, "outside 0..3"),
        (Submit, {"tp_pid": 256}, "tp_pid", 5, "outside 0..255"),
        (Submit, {"tp_udhi": -1}, "tp_udhi", 5, "outside 0..255"),
        (Submit, {"message_coding": "8"}, "message_coding", 5, "must be an int, got str"),
        (Submit, {"message_type": 1.0}, "message_type", 5, "must be an int, got float"),
        (Submit, {"message_content": "hi"}, "message_content", 8, "must be bytes, got str"),
        (Submit, {"message_content": b"x" * 1885}, "message_content", 8, "2049 octets"),
        (Submit, {"reserve": b"\0" * 7}, "reserve", 5, "7 octets, exactly 8"),
        (Submit, {"reserve": "LINKID01"}, "reserve", 5, "must be bytes"),
        (Submit, {"sp_number": "106\x00"}, "sp_number", 5, "cannot contain NUL"),
        (Submit, {"service_type": "测试"}, "service_type", 5, "ASCII/Latin-1"),
        (Submit, {"sequence_number": (1, 2, 3)}, "sequence_number", 9, "a SequenceNumber"),
        (Bind, {"login_type": 256}, "login_type", 4, "outside 0..255"),
        (Bind, {"login_name": "n" * 17}, "login_name", 5, "17 characters, at most 16"),
        (Deliver, {"user_number": "8" * 22}, "user_number", 6, "at most 21"),
        (Deliver, {"message_content": b"x" * 1972}, "message_content", 8, "2049 octets"),
        (Report, {"submit_sequence_number": 5}, "submit_sequence_number", 9, "SequenceNumber"),
        (Report, {"state": 256}, "state", 5, "outside 0..255"),
        (UserRpt, {"user_condition": -1}, "user_condition", 5, "outside 0..255"),
        (SubmitResp, {"result": 300}, "result", 5, "outside 0..255"),
        (Trace, {"user_number": "8" * 22}, "user_number", 6, "at most 21"),
        (TraceResp, {"nodes": ("x",)}, "nodes", 5, "tuple of TraceNode"),
        (TraceResp, {"nodes": (TraceNode(),) * 44}, "nodes", 5, "2089 octets"),
        (TraceNode, {"node_id": "x" * 11}, "node_id", 5, "at most 10"),
    ],
)
def test_illegal_field_raises_naming_it(
    cls: type, fields: dict[str, Any], field: str, status: int, words: str
) -> None:
    if cls is Submit:
        fields = {"user_numbers": (USER,), **fields}
    with pytest.raises(InvalidPduError) as info:
        cls(**fields)
    assert info.value.field == field
    assert info.value.status == status
    assert f"{cls.__name__}.{field}" in str(info.value)
    assert words in str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, SgipError)


def test_a_bad_password_is_named_without_its_value() -> None:
    with pytest.raises(InvalidPduError) as info:
        Bind(login_password="s3cret-but-too-long")
    assert info.value.field == "login_password"
    assert "s3cret" not in str(info.value)


def test_the_2k_limit_counts_numbers_and_content() -> None:
    # 143 + 21·N + L <= 2048: 90 numbers leave 15 octets of content, 100 numbers none at all.
    assert len(encode(submit(user_numbers=(USER,) * 90, message_content=b"x" * 15))) == 2048
    with pytest.raises(InvalidPduError, match="2049 octets") as info:
        submit(user_numbers=(USER,) * 90, message_content=b"x" * 16)
    assert info.value.field == "message_content"
    with pytest.raises(InvalidPduError, match="100 UserNumber"):
        submit(user_numbers=(USER,) * 100)
    assert len(encode(submit(message_content=b"x" * (MAX_PDU_LENGTH - 164)))) == 2048


def test_latin1_text_is_one_octet_per_character() -> None:
    pdu = submit(service_type="café")
    assert b"caf\xe9\0" in encode(pdu)
    assert decode(encode(pdu)) == pdu


def test_encode_checks_its_sequence_number_and_type() -> None:
    with pytest.raises(InvalidPduError) as info:
        encode(Unbind(), sequence_number=(1, 2, 3))  # type: ignore[arg-type]
    assert info.value.field == "sequence_number"
    with pytest.raises(TypeError, match="not an SGIP PDU"):
        encode(TraceNode())  # type: ignore[arg-type]


def test_bind_repr_hides_the_password() -> None:
    bind = Bind(login_name="sp_user", login_password="sp_pass")
    assert "sp_pass" not in repr(bind)
    assert "login_password=<redacted>" in repr(bind)
    assert ("login_password", "sp_pass") not in bind.__rich_repr__()  # type: ignore[attr-defined]
    assert "sp_user" in repr(bind)


# --- responses ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "response_cls"),
    [(Bind(), BindResp), (Unbind(), UnbindResp), (Submit(user_numbers=(USER,)), SubmitResp),
     (Deliver(), DeliverResp), (Report(), ReportResp), (UserRpt(), UserRptResp),
     (Trace(), TraceResp)],
)  # fmt: skip
def test_request_response_pairs(request_: Any, response_cls: type) -> None:
    seq = SequenceNumber(101001, 1120203225, 4294967295)
    req = type(request_)(**{**{f: getattr(request_, f) for f in request_.__struct_fields__},
                            "sequence_number": seq})  # fmt: skip
    resp = req.response()
    assert type(resp) is response_cls
    assert resp.sequence_number == seq
    assert resp.command_id == req.command_id | 0x80000000
    assert CommandId(resp.command_id).is_response and not CommandId(req.command_id).is_response


def test_response_status_reads_like_smpp() -> None:
    resp = SubmitResp(result=Result.FLOW_CONTROL)
    assert resp.command_status == 88 and resp.status_name == "FLOW_CONTROL"
    assert BindResp().command_status == 0 and BindResp().status_name == "OK"
    assert UnbindResp().command_status == 0 and UnbindResp().status_name == "OK"
    assert Submit(user_numbers=(USER,)).response(result=11).status_name == "NODE_BUSY"
    assert Submit(user_numbers=(USER,)).command_name == "SGIP_SUBMIT"


# --- decoding a malformed PDU: PduDecodeError with the response to send -----------------------


def header(length: int, command_id: int, counter: int = 5) -> bytes:
    return struct.pack(">IIIII", length, command_id, 101001, 102030410, counter)


def wire_of(command_id: int, body: bytes) -> bytes:
    return header(20 + len(body), command_id) + body


@pytest.mark.parametrize(
    ("command_id", "body", "field", "status", "response_cls"),
    [
        (CommandId.SGIP_BIND, b"\x01" + b"x" * 20, "login_password", 8, BindResp),
        (CommandId.SGIP_BIND_RESP, b"", "result", 8, None),
        (CommandId.SGIP_SUBMIT, b"1" * 42, "user_numbers", 8, SubmitResp),
        (CommandId.SGIP_SUBMIT, bytes(42) + b"\x00" + bytes(200), "user_numbers", 5, SubmitResp),
        (CommandId.SGIP_SUBMIT, bytes(42) + b"\x65" + bytes(3000), "user_numbers", 5,
         SubmitResp),
        (CommandId.SGIP_SUBMIT, bytes(42) + b"\x02" + bytes(42 + 71), "message_content", 8,
         SubmitResp),
        (CommandId.SGIP_DELIVER, bytes(48), "message_content", 8, DeliverResp),
        (CommandId.SGIP_DELIVER, bytes(45) + b"\x00\x00\x00\x09" + b"x" * 8, "message_content",
         8, DeliverResp),
        (CommandId.SGIP_REPORT, bytes(35), "error_code", 8, ReportResp),
        (CommandId.SGIP_USERRPT, bytes(42), "user_condition", 8, UserRptResp),
        (CommandId.SGIP_TRACE, bytes(32), "user_number", 8, None),
        (CommandId.SGIP_TRACE_RESP, b"", "nodes", 8, None),
        (CommandId.SGIP_TRACE_RESP, b"\x02" + bytes(47), "nodes", 8, None),
        (CommandId.SGIP_QUERYROUTE, b"", "command_id", 7, None),
        (0x12345678, b"abc", "command_id", 7, None),
    ],
)  # fmt: skip
def test_malformed_pdus(
    command_id: int, body: bytes, field: str, status: int, response_cls: type | None
) -> None:
    wire = wire_of(command_id, body)
    seq = SequenceNumber(101001, 102030410, 5)
    with pytest.raises(PduDecodeError) as info:
        decode(wire)
    err = info.value
    assert (err.field, err.status, err.command_id, err.sequence_number) == (
        field, status, command_id, seq,
    )  # fmt: skip
    assert f"{field}: " in str(err)
    if response_cls is None:
        assert err.response is None
    else:
        assert type(err.response) is response_cls
        assert err.response.sequence_number == seq
        assert err.response.command_status == status
    # The framer turns the same bytes into an event, and the stream goes on.
    good = encode(Unbind(sequence_number=seq))
    framed = Framer().feed(wire + good)
    assert len(framed) == 2 and isinstance(framed[0], InvalidPdu)
    assert framed[0].status == status and framed[0].response == err.response
    assert framed[1] == Unbind(sequence_number=seq)


def test_a_submit_value_the_spec_forbids_is_answered_with_its_result() -> None:
    """A field the wire can carry but the spec forbids (Priority 12) is refused by the value
    check, and the would-be SMG gets the Submit_Resp to send."""
    wire = bytearray(encode(submit(sequence_number=SEQ)))
    wire[20 + 73 + 21] = 12  # Priority: body offset 73 + 21·UserCount (4.4)
    with pytest.raises(PduDecodeError) as info:
        decode(bytes(wire))
    assert info.value.field == "priority" and info.value.status == 5
    assert info.value.response == SubmitResp(sequence_number=SEQ, result=5)


def test_a_frame_between_2k_and_the_read_limit_is_refused_not_fatal() -> None:
    """The framer reads frames up to 4096 (SMSGate's limit) but a Deliver above the spec's
    2048 is refused as a value: Deliver_Resp Result 8, and the connection lives on."""
    content = b"x" * 3000
    wire = header(77 + len(content), CommandId.SGIP_DELIVER) + bytes(45) + struct.pack(
        ">I", len(content)
    ) + content + bytes(8)
    (event,) = Framer().feed(wire)
    assert isinstance(event, InvalidPdu)
    assert event.error.field == "message_content" and event.status == Result.LENGTH_ERROR
    assert isinstance(event.response, DeliverResp) and event.response.result == 8


def test_decode_whole_pdu_length_checks() -> None:
    with pytest.raises(PduDecodeError) as info:
        decode(b"\x00" * 19)
    assert info.value.field == "message_length" and info.value.sequence_number is None
    wire = encode(Unbind(sequence_number=SEQ))
    with pytest.raises(PduDecodeError, match="Message Length 20 but 21 octets") as info:
        decode(wire + b"\x00")
    assert info.value.sequence_number == SEQ and info.value.field == "message_length"


def test_decode_body_reads_a_slice_of_a_larger_buffer() -> None:
    wire = encode(Deliver(sequence_number=SEQ, user_number=USER, message_content=b"hello"))
    buf = bytearray(b"junk" + wire + b"more junk")
    pdu = decode_body(CommandId.SGIP_DELIVER, SEQ, buf, 4 + 20, 4 + len(wire))
    assert pdu == decode(wire)
    # The body end is respected: one octet short is a short body, not a read into the junk.
    with pytest.raises(PduDecodeError):
        decode_body(CommandId.SGIP_DELIVER, SEQ, buf, 4 + 20, 4 + len(wire) - 9)


def test_trace_resp_node_width() -> None:
    narrow = TraceResp(nodes=(TraceNode(node_id="101001"),))
    wide = TraceResp(nodes=(TraceNode(node_id="101001"), TraceNode(node_id="3010012345")))
    assert len(encode(narrow)) == 21 + 47
    assert len(encode(wide)) == 21 + 2 * 51
    assert decode(encode(wide)) == wide


# --- result codes and errors ---------------------------------------------------------------------


def test_result_names() -> None:
    assert result_name(0) == "OK"
    assert result_name(1) == "ILLEGAL_LOGIN"
    assert result_name(11) == "NODE_BUSY"
    assert result_name(29) == "UNKNOWN_USER"
    assert result_name(33) == "SMSC_QUEUE_FULL"
    assert result_name(88) == "FLOW_CONTROL"
    assert result_name(99) == "RESULT_99"
    assert ErrorCode.SMSC_QUEUE_FULL == 33 and Result.USER_COUNT_MUST_BE_ONE == 19


def test_retriable_results() -> None:
    assert [c for c in range(256) if is_retriable_result(c)] == [11, 33, 88]


@pytest.mark.parametrize(
    ("code", "cls", "retriable"),
    [(88, SgipThrottledError, True), (11, SgipThrottledError, True),
     (33, SgipThrottledError, True), (1, SgipAuthenticationError, False),
     (4, SgipAuthenticationError, False), (2, SgipResultError, False),
     (6, SgipResultError, False), (200, SgipResultError, False)],
)  # fmt: skip
def test_error_registry(code: int, cls: type, retriable: bool) -> None:
    err = error_for_result(code)
    assert type(err) is cls
    assert err.status == code and err.retriable is retriable
    assert str(err) == result_name(code)
    assert str(error_for_result(code, "custom")) == "custom"
