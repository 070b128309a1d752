"""SMGP codec units: build-time validation naming the field, receiving tolerance (the
reference's robustness notes), the error classes and their registry."""

from __future__ import annotations

import struct

import pytest

from smsengine.smgp import (
    ActiveTest,
    ActiveTestResp,
    Deliver,
    DeliverResp,
    Exit,
    InvalidPduError,
    Login,
    LoginResp,
    PduDecodeError,
    Query,
    QueryResp,
    RequestId,
    SmgpAuthenticationError,
    SmgpError,
    SmgpLoginError,
    SmgpStatusError,
    SmgpThrottledError,
    SmgpVersionError,
    Status,
    Submit,
    SubmitResp,
    decode,
    decode_body,
    encode,
    encode_deliver_resp,
    error_for_login_status,
    error_for_status,
    is_retriable_status,
    status_name,
)

DEST = ("13312345678",)


def wire(request_id: int, body: bytes, seq: int = 1) -> bytes:
    return struct.pack(">III", 12 + len(body), request_id, seq) + body


# --- build-time validation names the field --------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "status"),
    [
        ({"service_id": "X" * 11}, "service_id", Status.INVALID_SERVICE_ID),
        ({"src_term_id": "1" * 22}, "src_term_id", Status.INVALID_SRC_TERM_ID),
        ({"charge_term_id": "1" * 22}, "charge_term_id", Status.INVALID_CHARGE_TERM_ID),
        ({"fee_type": "000"}, "fee_type", Status.INVALID_FEE_TYPE),
        ({"fee_code": "1234567"}, "fee_code", Status.INVALID_FEE_CODE),
        ({"fixed_fee": "1234567"}, "fixed_fee", Status.INVALID_FIXED_FEE),
        ({"valid_time": "2" * 18}, "valid_time", Status.INVALID_VALID_TIME),
        ({"at_time": "2" * 18}, "at_time", Status.INVALID_AT_TIME),
        ({"msg_content": bytes(256)}, "msg_content", Status.INVALID_MSG_LENGTH),
        ({"msg_content": "text"}, "msg_content", Status.INVALID_MSG_LENGTH),
        ({"msg_type": 256}, "msg_type", Status.INVALID_MSG_TYPE),
        ({"priority": -1}, "priority", Status.INVALID_PRIORITY),
        ({"msg_format": 1.5}, "msg_format", Status.INVALID_MSG_FORMAT),
        ({"need_report": "1"}, "need_report", Status.MESSAGE_STRUCTURE_ERROR),
        ({"sequence_id": 1 << 32}, "sequence_id", Status.MESSAGE_STRUCTURE_ERROR),
        ({"dest_term_ids": ()}, "dest_term_ids", Status.INVALID_DEST_TERM_ID),
        ({"dest_term_ids": ("1",) * 101}, "dest_term_ids", Status.INVALID_DEST_TERM_ID),
        ({"dest_term_ids": ("1" * 22,)}, "dest_term_ids", Status.INVALID_DEST_TERM_ID),
        ({"dest_term_ids": ["133"]}, "dest_term_ids", Status.INVALID_DEST_TERM_ID),
        ({"dest_term_ids": ("133\0",)}, "dest_term_ids", Status.INVALID_DEST_TERM_ID),
        ({"src_term_id": "号码"}, "src_term_id", Status.INVALID_SRC_TERM_ID),
        ({"link_id": "L" * 21}, "link_id", Status.MESSAGE_STRUCTURE_ERROR),
        ({"msg_src": "123456789"}, "msg_src", Status.MESSAGE_STRUCTURE_ERROR),
        ({"m_service_id": "M" * 22}, "m_service_id", Status.INVALID_M_SERVICE_ID),
        ({"tp_udhi": 256}, "tp_udhi", Status.MESSAGE_STRUCTURE_ERROR),
        ({"pk_total": -1}, "pk_total", Status.MESSAGE_STRUCTURE_ERROR),
        ({"pk_number": "1"}, "pk_number", Status.MESSAGE_STRUCTURE_ERROR),
        ({"dest_term_pseudo": "P" * 65536}, "dest_term_pseudo", Status.MESSAGE_STRUCTURE_ERROR),
        ({"other_tlvs": ((0x10000, b""),)}, "other_tlvs", Status.MESSAGE_STRUCTURE_ERROR),
        ({"other_tlvs": ((1, "x"),)}, "other_tlvs", Status.MESSAGE_STRUCTURE_ERROR),
        ({"other_tlvs": [(1, b"x")]}, "other_tlvs", Status.MESSAGE_STRUCTURE_ERROR),
    ],
)
def test_submit_fields_are_checked_when_built(
    fields: dict[str, object], field: str, status: int
) -> None:
    values: dict[str, object] = {"dest_term_ids": DEST, **fields}
    with pytest.raises(InvalidPduError) as info:
        Submit(**values)  # type: ignore[arg-type]
    assert info.value.field == field
    assert info.value.status == status
    assert str(info.value).startswith(f"Submit.{field}:")
    assert isinstance(info.value, ValueError) and isinstance(info.value, SmgpError)


@pytest.mark.parametrize(
    ("cls", "fields", "field"),
    [
        (Login, {"client_id": "123456789"}, "client_id"),
        (Login, {"authenticator_client": bytes(15)}, "authenticator_client"),
        (Login, {"timestamp": 1 << 32}, "timestamp"),
        (LoginResp, {"authenticator_server": "x" * 16}, "authenticator_server"),
        (LoginResp, {"status": -1}, "status"),
        (SubmitResp, {"msg_id": bytes(11)}, "msg_id"),
        (Deliver, {"recv_time": "2" * 15}, "recv_time"),
        (Deliver, {"is_report": 2**8}, "is_report"),
        (Deliver, {"src_term_pseudo": b"x"}, "src_term_pseudo"),
        (Query, {"query_code": "Q" * 11}, "query_code"),
        (QueryResp, {"mo_fl": 1 << 32}, "mo_fl"),
        (ActiveTest, {"sequence_id": -1}, "sequence_id"),
    ],
)
def test_other_pdus_name_the_field(cls: type, fields: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidPduError) as info:
        cls(**fields)
    assert info.value.field == field and f"{cls.__name__}.{field}" in str(info.value)


def test_latin1_octet_strings_are_allowed() -> None:
    assert Submit(dest_term_ids=DEST, service_id="é").service_id == "é"


def test_encode_caps_mt_content_at_140_unless_told() -> None:
    pdu = Submit(dest_term_ids=DEST, msg_content=bytes(141))
    with pytest.raises(InvalidPduError) as info:
        encode(pdu)
    assert info.value.field == "msg_content" and info.value.status == Status.INVALID_MSG_LENGTH
    assert len(encode(pdu, max_msg_length=160)) == 126 + 21 + 141


def test_encode_checks_the_sequence_override_and_the_type() -> None:
    with pytest.raises(InvalidPduError) as info:
        encode(ActiveTest(), sequence_id=1 << 32)
    assert info.value.field == "sequence_id"
    with pytest.raises(TypeError, match="not an SMGP PDU"):
        encode(object())  # type: ignore[arg-type]


# --- receiving tolerance ----------------------------------------------------------------------


def test_empty_pdus_ignore_surplus_octets() -> None:
    assert decode(wire(RequestId.ACTIVE_TEST_RESP, b"\0")) == ActiveTestResp(sequence_id=1)
    assert decode(wire(RequestId.EXIT, b"junk")) == Exit(sequence_id=1)


def test_longer_fixed_responses_are_read() -> None:
    body = bytes(4) + bytes(16) + b"\x30" + b"extra"
    assert decode(wire(RequestId.LOGIN_RESP, body)) == LoginResp(sequence_id=1)


def test_query_with_reserve_and_query_resp_without() -> None:
    query = b"20250102" + b"\x01" + b"TEST".ljust(10, b"\0")
    assert decode(wire(RequestId.QUERY, query + bytes(8))) == Query(
        sequence_id=1, query_time="20250102", query_type=1, query_code="TEST"
    )
    resp = query + struct.pack(">8I", *range(1, 9))  # W's 63-octet form
    assert decode(wire(RequestId.QUERY_RESP, resp)) == QueryResp(
        sequence_id=1, query_time="20250102", query_type=1, query_code="TEST", mt_tlmsg=1,
        mt_tlusr=2, mt_scs=3, mt_wt=4, mt_fl=5, mo_scs=6, mo_wt=7, mo_fl=8,
    )  # fmt: skip


def _deliver_body(tail: bytes, content: bytes = b"hi") -> bytes:
    full = encode(Deliver(msg_id=bytes(10), msg_content=content))
    return full[12 : 12 + 69 + len(content)] + tail


def test_a_missing_or_short_reserve_is_accepted() -> None:
    for tail in (b"", bytes(3), bytes(8)):
        got = decode(wire(RequestId.DELIVER, _deliver_body(tail)))
        assert isinstance(got, Deliver) and got.msg_content == b"hi"


def test_a_tail_too_short_for_a_tlv_is_ignored() -> None:
    got = decode(wire(RequestId.DELIVER, _deliver_body(bytes(8) + b"\x00\x02\x00")))
    assert isinstance(got, Deliver) and got.tp_udhi is None and got.other_tlvs == ()


def test_a_tlv_running_past_the_end_is_a_decode_error() -> None:
    body = _deliver_body(bytes(8) + b"\x00\x03\x00\x14LID")
    with pytest.raises(PduDecodeError) as info:
        decode(wire(RequestId.DELIVER, body, seq=4))
    err = info.value
    assert err.field == "other_tlvs" and "0x0003" in str(err)
    assert err.request_id == RequestId.DELIVER and err.sequence_id == 4
    assert err.response == DeliverResp(sequence_id=4, msg_id=bytes(10), status=0)


def test_tlvs_that_do_not_fit_their_field_are_kept_raw() -> None:
    tlvs = (
        b"\x00\x01\x00\x02\x00\x07"  # TP_pid with Length 2
        + b"\x00\x03\x00\x15" + b"L" * 21  # LinkID of 21 characters
        + b"\x00\x02\x00\x01\x01"  # TP_udhi 1
        + b"\x00\x02\x00\x01\x00"  # a second TP_udhi
        + b"\x00\x09\x00\x01\x02"  # PkTotal: not a Deliver TLV (Forward's)
    )
    got = decode(wire(RequestId.DELIVER, _deliver_body(bytes(8) + tlvs)))
    assert isinstance(got, Deliver)
    assert got.tp_pid is None and got.link_id == "" and got.tp_udhi == 1
    assert got.other_tlvs == (
        (0x0001, b"\x00\x07"), (0x0003, b"L" * 21), (0x0002, b"\x00"), (0x0009, b"\x02"),
    )  # fmt: skip
    # Nothing is lost: encoded again and decoded, the same value.
    assert decode(encode(got)) == got


def test_octet_strings_are_cut_at_the_first_nul() -> None:
    data = encode(Deliver(src_term_id="1X3", link_id="AYC"))
    got = decode(data.replace(b"1X3", b"1\x003", 1).replace(b"AYC", b"A\0C", 1))
    assert isinstance(got, Deliver)
    assert got.src_term_id == "1" and got.link_id == "A"


@pytest.mark.parametrize("count", [0, 101])
def test_dest_term_id_count_out_of_range(count: int) -> None:
    body = bytearray(encode(Submit(dest_term_ids=DEST))[12:])
    body[104] = count
    with pytest.raises(PduDecodeError) as info:
        decode_body(RequestId.SUBMIT, 3, bytes(body))
    assert info.value.field == "dest_term_ids"
    assert info.value.status == Status.INVALID_DEST_TERM_ID
    assert info.value.response == SubmitResp(sequence_id=3, status=Status.INVALID_DEST_TERM_ID)


def test_packet_length_must_match_the_octets_given() -> None:
    data = encode(ActiveTest(sequence_id=3)) + b"x"
    with pytest.raises(PduDecodeError) as info:
        decode(data)
    assert info.value.field == "packet_length" and info.value.sequence_id == 3
    with pytest.raises(PduDecodeError, match="at least 12"):
        decode(b"\0" * 11)


# --- responses, helpers ------------------------------------------------------------------------


def test_responses_and_their_status() -> None:
    submit = Submit(sequence_id=5, dest_term_ids=DEST)
    resp = submit.response(msg_id=bytes.fromhex("01006101161700012345"), status=1)
    assert isinstance(resp, SubmitResp) and resp.sequence_id == 5
    assert resp.command_status == 1 and resp.status_name == "SYSTEM_BUSY"
    assert resp.message_id == "01006101161700012345"
    deliver = Deliver(sequence_id=6, msg_id=bytes(range(10)))
    ack = deliver.response()
    assert ack == DeliverResp(sequence_id=6, msg_id=bytes(range(10)), status=0)
    assert encode(ack) == encode_deliver_resp(6, bytes(range(10)))
    assert LoginResp(status=21).status_name == "AUTHENTICATION_ERROR"
    assert ActiveTest(sequence_id=1).response() == ActiveTestResp(sequence_id=1)
    assert ActiveTestResp().command_status == 0 and ActiveTestResp().status_name == "OK"
    assert Login().command_name == "LOGIN"


# --- errors -------------------------------------------------------------------------------------


def test_status_names_and_retriability() -> None:
    assert status_name(75) == "SP_DAILY_LIMIT"
    assert status_name(60) == "STATUS_60" and status_name(200) == "STATUS_200"
    assert [c for c in range(256) if is_retriable_status(c)] == [1, 75]


@pytest.mark.parametrize(
    ("code", "cls", "retriable"),
    [(1, SmgpThrottledError, True), (75, SmgpThrottledError, True),
     (47, SmgpStatusError, False), (130, SmgpStatusError, False)],
)  # fmt: skip
def test_status_registry(code: int, cls: type, retriable: bool) -> None:
    err = error_for_status(code)
    assert type(err) is cls and err.status == code and err.retriable is retriable


@pytest.mark.parametrize(
    ("code", "cls", "retriable"),
    [(21, SmgpAuthenticationError, False), (20, SmgpAuthenticationError, False),
     (3, SmgpAuthenticationError, False), (22, SmgpVersionError, False),
     (2, SmgpLoginError, True), (1, SmgpLoginError, True), (140, SmgpLoginError, True)],
)  # fmt: skip
def test_login_registry(code: int, cls: type, retriable: bool) -> None:
    err = error_for_login_status(code)
    assert type(err) is cls and err.status == code and err.retriable is retriable
    assert isinstance(err, SmgpError)
