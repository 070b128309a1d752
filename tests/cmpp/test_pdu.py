"""CMPP codec units: build-time validation, receiving tolerance (section 4's robustness notes),
status reports, errors, Msg_Id text forms, authenticator helpers and framer failures."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsengine.cmpp import (
    ActiveTest,
    ActiveTestResp,
    CancelResp,
    CmppAuthenticationError,
    CmppConnectError,
    CmppError,
    CmppNotSentError,
    CmppOutcomeUnknownError,
    CmppResultError,
    CmppThrottledError,
    CmppVersionError,
    CommandId,
    Connect,
    ConnectResp,
    Deliver,
    DeliverResp,
    Framer,
    FramingError,
    InvalidPdu,
    InvalidPduError,
    PduDecodeError,
    Report,
    ReportDecodeError,
    Stat,
    Submit,
    SubmitResp,
    SubmitResult,
    Version,
    decode,
    encode,
    error_for_connect_status,
    error_for_result,
    format_timestamp,
    make_msg_id,
    msg_id_candidates,
    normalise_msg_id,
    pack_msg_id,
    parse_msg_id,
    parse_report,
    receipt_state,
    result_name,
    timestamp_now,
    unpack_msg_id,
)
from smsengine.link import (
    NO_STATUS,
    AuthenticationError,
    LinkError,
    NotSentError,
    OutcomeUnknownError,
    ReceiptState,
    StatusError,
    ThrottledError,
)

V20, V30 = Version.V20, Version.V30
DEST = ("13800138000",)


# --- build-time validation names the field --------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "status"),
    [
        ({"service_id": "X" * 11}, "service_id", SubmitResult.SERVICE_ID_ERROR),
        ({"src_id": "1" * 22}, "src_id", SubmitResult.SRC_ID_ERROR),
        ({"msg_src": "9000011"}, "msg_src", SubmitResult.MSG_SRC_ERROR),
        ({"fee_code": "1234567"}, "fee_code", SubmitResult.FEE_CODE_ERROR),
        ({"fee_terminal_id": "1" * 33}, "fee_terminal_id", SubmitResult.FEE_TERMINAL_ID_ERROR),
        ({"link_id": "L" * 21}, "link_id", SubmitResult.STRUCTURE_ERROR),
        ({"valid_time": "2" * 18}, "valid_time", SubmitResult.STRUCTURE_ERROR),
        ({"msg_content": bytes(256)}, "msg_content", SubmitResult.EXCEEDS_MAX_LENGTH),
        ({"msg_content": "text"}, "msg_content", SubmitResult.EXCEEDS_MAX_LENGTH),
        ({"pk_total": 256}, "pk_total", SubmitResult.STRUCTURE_ERROR),
        ({"msg_fmt": -1}, "msg_fmt", SubmitResult.STRUCTURE_ERROR),
        ({"msg_id": 1 << 64}, "msg_id", SubmitResult.STRUCTURE_ERROR),
        ({"sequence_id": 1 << 32}, "sequence_id", SubmitResult.STRUCTURE_ERROR),
        ({"service_id": "a\0b"}, "service_id", SubmitResult.SERVICE_ID_ERROR),
        ({"service_id": "中文"}, "service_id", SubmitResult.SERVICE_ID_ERROR),
        ({"service_id": 5}, "service_id", SubmitResult.SERVICE_ID_ERROR),
    ],
)
def test_submit_validation_names_the_field(fields: dict[str, object], field: str,
                                           status: int) -> None:  # fmt: skip
    with pytest.raises(InvalidPduError) as info:
        Submit(dest_terminal_ids=DEST, **fields)  # type: ignore[arg-type]
    assert info.value.field == field
    assert info.value.status == status
    assert field in str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, CmppError)


@pytest.mark.parametrize(
    "dests", [(), tuple(str(i) for i in range(101)), ("1" * 33,), ["13800138000"], (1,)]
)
def test_dest_terminal_ids_validation(dests: object) -> None:
    with pytest.raises(InvalidPduError) as info:
        Submit(dest_terminal_ids=dests)  # type: ignore[arg-type]
    assert info.value.field == "dest_terminal_ids"
    assert info.value.status == SubmitResult.DEST_TERMINAL_ID_ERROR


def test_dest_cap_is_99_by_default_and_configurable_to_100() -> None:
    pdu = Submit(dest_terminal_ids=tuple(f"138{i:08d}" for i in range(100)))
    with pytest.raises(InvalidPduError, match="at most 99") as info:
        encode(pdu, V30)
    assert info.value.field == "dest_terminal_ids"
    assert len(encode(pdu, V30, max_dests=100)) == 163 + 32 * 100


def test_latin1_text_is_accepted() -> None:
    assert Submit(dest_terminal_ids=DEST, service_id="café").service_id == "café"


def test_version_specific_limits_are_checked_when_encoding_20() -> None:
    wide = Submit(dest_terminal_ids=("1" * 32,))
    assert len(encode(wide, V30)) == 195
    with pytest.raises(InvalidPduError, match=r"2\.0") as info:
        encode(wide, V20)
    assert info.value.field == "dest_terminal_ids"
    with pytest.raises(InvalidPduError) as info:
        encode(Submit(dest_terminal_ids=DEST, fee_terminal_id="1" * 22), V20)
    assert info.value.field == "fee_terminal_id"
    with pytest.raises(InvalidPduError) as info:
        encode(Deliver(src_terminal_id="1" * 22), V20)
    assert info.value.field == "src_terminal_id"
    for pdu, field in [
        (SubmitResp(result=256), "result"),
        (DeliverResp(result=300), "result"),
        (ConnectResp(status=1000), "status"),
        (CancelResp(success_id=256), "success_id"),
    ]:
        with pytest.raises(InvalidPduError) as info:
            encode(pdu, V20)
        assert info.value.field == field
        encode(pdu, V30)


def test_encode_sequence_override_is_checked() -> None:
    with pytest.raises(InvalidPduError) as info:
        encode(ActiveTest(), V30, sequence_id=-1)
    assert info.value.field == "sequence_id"


def test_version_21_uses_the_20_layout() -> None:
    pdu = Submit(dest_terminal_ids=DEST)
    assert encode(pdu, 0x21) == encode(pdu, V20)
    assert encode(pdu, 0x31) == encode(pdu, V30)


def test_responses() -> None:
    deliver = Deliver(sequence_id=4, msg_id=99)
    assert deliver.response() == DeliverResp(sequence_id=4, msg_id=99, result=0)
    assert deliver.response(result=9) == DeliverResp(sequence_id=4, msg_id=99, result=9)
    submit = Submit(sequence_id=5, dest_terminal_ids=DEST)
    assert submit.response(msg_id=7) == SubmitResp(sequence_id=5, msg_id=7)
    assert ActiveTest(sequence_id=3).response() == ActiveTestResp(sequence_id=3)
    assert Connect().command_name == "CMPP_CONNECT"


# --- receiving tolerance ----------------------------------------------------------------------


def _wire(command_id: int, seq: int, body: bytes) -> bytes:
    return (12 + len(body)).to_bytes(4, "big") + command_id.to_bytes(4, "big") + \
        seq.to_bytes(4, "big") + body  # fmt: skip


@pytest.mark.parametrize("version", [V20, V30])
def test_responses_are_parsed_by_length_whatever_the_version(version: int) -> None:
    resp20 = _wire(CommandId.CMPP_CONNECT_RESP, 1, b"\x03" + bytes(16) + b"\x20")
    resp30 = _wire(CommandId.CMPP_CONNECT_RESP, 1, b"\0\0\0\x03" + bytes(16) + b"\x12")
    assert decode(resp20, version) == ConnectResp(sequence_id=1, status=3, version=0x20,
                                                 authenticator_ismg=bytes(16))  # fmt: skip
    odd = decode(resp30, version)
    assert isinstance(odd, ConnectResp) and odd.version == 0x12  # a real gateway's Version
    sr20 = _wire(CommandId.CMPP_SUBMIT_RESP, 2, (5).to_bytes(8, "big") + b"\x08")
    sr30 = _wire(CommandId.CMPP_SUBMIT_RESP, 2, (5).to_bytes(8, "big") + b"\0\0\0\x08")
    assert decode(sr20, version) == decode(sr30, version) == SubmitResp(
        sequence_id=2, msg_id=5, result=8
    )
    dr20 = _wire(CommandId.CMPP_DELIVER_RESP, 2, (5).to_bytes(8, "big") + b"\x01")
    assert decode(dr20, version) == DeliverResp(sequence_id=2, msg_id=5, result=1)
    for body in (b"\x01", b"\0\0\0\x01"):
        cancel = decode(_wire(CommandId.CMPP_CANCEL_RESP, 3, body), version)
        assert cancel == CancelResp(sequence_id=3, success_id=1)
    # ACTIVE_TEST_RESP without its Reserved octet (12 bytes)
    assert decode(_wire(CommandId.CMPP_ACTIVE_TEST_RESP, 4, b""), version) == ActiveTestResp(
        sequence_id=4
    )


def test_bad_response_lengths_are_decode_errors_with_no_reply() -> None:
    with pytest.raises(PduDecodeError) as info:
        decode(_wire(CommandId.CMPP_SUBMIT_RESP, 2, bytes(10)), V30)
    assert info.value.sequence_id == 2
    assert info.value.command_id == CommandId.CMPP_SUBMIT_RESP
    assert info.value.response is None


def test_deliver_with_shortened_or_missing_link_id() -> None:
    full = encode(Deliver(msg_content=b"hi", link_id="ABCDEFGHIJKLMNOPQRST"), V30)
    for cut, link in [(0, "ABCDEFGHIJKLMNOPQRST"), (12, "ABCDEFGH"), (20, "")]:
        data = full[: len(full) - cut]
        data = len(data).to_bytes(4, "big") + data[4:]
        pdu = decode(data, V30)
        assert isinstance(pdu, Deliver)
        assert pdu.msg_content == b"hi" and pdu.link_id == link


def test_malformed_submit_and_deliver_carry_their_result_1_reply() -> None:
    body = bytearray(encode(Submit(sequence_id=9, dest_terminal_ids=DEST), V30)[12:])
    body[128] = 0  # DestUsr_tl 0
    with pytest.raises(PduDecodeError) as info:
        decode(_wire(CommandId.CMPP_SUBMIT, 9, bytes(body)), V30)
    assert info.value.field == "dest_terminal_ids"
    assert info.value.response == SubmitResp(sequence_id=9, msg_id=0, result=13)

    deliver = bytearray(encode(Deliver(sequence_id=8, msg_id=42, msg_content=b"x"), V30)[12:])
    deliver[76] = 200  # Msg_Length beyond the body
    with pytest.raises(PduDecodeError) as info:
        decode(_wire(CommandId.CMPP_DELIVER, 8, bytes(deliver)), V30)
    assert info.value.field == "msg_content"
    assert info.value.response == DeliverResp(sequence_id=8, msg_id=42, result=4)

    with pytest.raises(PduDecodeError) as info:
        decode(_wire(CommandId.CMPP_CONNECT, 1, b"9000"), V30)
    assert isinstance(info.value.response, ConnectResp) and info.value.response.status == 1


def test_whole_pdu_length_mismatch() -> None:
    with pytest.raises(PduDecodeError) as info:
        decode(bytes.fromhex("0000000d000000080000000a"), V30)
    assert info.value.field == "total_length"
    with pytest.raises(PduDecodeError):
        decode(b"\0\0", V30)


# --- status reports ---------------------------------------------------------------------------


def _report(dest_width: int, *, stat: bytes = b"DELIVRD", times: bytes = b"") -> bytes:
    return (
        (0xBB8ACC8027110001).to_bytes(8, "big") + stat + times.ljust(20, b"\0")
        + b"13800138000".ljust(dest_width, b"\0") + (7).to_bytes(4, "big")
    )  # fmt: skip


def test_report_60_and_71_with_empty_times() -> None:
    for width, length in [(21, 60), (32, 71)]:
        content = _report(width)
        assert len(content) == length
        assert parse_report(content) == Report(
            msg_id=0xBB8ACC8027110001, stat="DELIVRD", dest_terminal_id="13800138000",
            smsc_sequence=7,
        )  # fmt: skip


def test_report_error_stat_is_kept_verbatim() -> None:
    rep = parse_report(_report(21, stat=b"MA:0054", times=b"23112302442311230245"))
    assert rep.stat == "MA:0054"
    assert rep.stat != Stat.DELIVRD
    assert (rep.submit_time, rep.done_time) == ("2311230244", "2311230245")


def test_report_best_effort_lengths() -> None:
    assert parse_report(_report(21)[:15]).stat == "DELIVRD"
    short = _report(21)[:45]
    assert parse_report(short).msg_id == 0xBB8ACC8027110001
    assert parse_report(_report(32) + b"junk").smsc_sequence == 7
    assert parse_report(_report(21) + b"xy").smsc_sequence == 7
    with pytest.raises(ReportDecodeError):
        parse_report(_report(21)[:14])
    bad = Deliver(registered_delivery=1, msg_content=b"short")
    with pytest.raises(ReportDecodeError):
        bad.report  # noqa: B018
    assert Deliver(msg_content=b"short").report is None


# --- errors -----------------------------------------------------------------------------------


def test_result_registry() -> None:
    err = error_for_result(8)
    assert type(err) is CmppThrottledError and err.retriable and err.status == 8
    other = error_for_result(13)
    assert type(other) is CmppResultError and not other.retriable
    vendor = error_for_result(150)
    assert vendor.status == 150 and "150" in str(vendor)
    assert result_name(8) == "FLOW_CONTROL" and result_name(150) == "RESULT_150"


def test_connect_status_registry() -> None:
    assert type(error_for_connect_status(3)) is CmppAuthenticationError
    assert type(error_for_connect_status(2)) is CmppAuthenticationError
    assert type(error_for_connect_status(4)) is CmppVersionError
    vendor = error_for_connect_status(7)
    assert type(vendor) is CmppConnectError and vendor.retriable
    assert not error_for_connect_status(3).retriable


def test_no_response_outcomes_are_the_link_ones_too() -> None:
    not_sent = CmppNotSentError("window full")
    assert isinstance(not_sent, NotSentError) and isinstance(not_sent, CmppError)
    assert not_sent.retriable and str(not_sent) == "window full"
    unknown = CmppOutcomeUnknownError("no SUBMIT_RESP", timed_out=True)
    assert isinstance(unknown, OutcomeUnknownError) and isinstance(unknown, CmppError)
    assert unknown.timed_out and not unknown.retriable
    # No CMPP code describes them (an SMPP ESME_RSYSERR, 8, would read as Result 8 here).
    assert not_sent.status == unknown.status == NO_STATUS


def test_cmpp_errors_stand_on_the_link_ones_not_on_smpp() -> None:
    assert isinstance(error_for_connect_status(3), AuthenticationError)
    assert isinstance(error_for_connect_status(7), StatusError)
    assert isinstance(error_for_result(8), ThrottledError)
    assert issubclass(CmppError, LinkError)
    for cls in (CmppError, CmppNotSentError, CmppOutcomeUnknownError, CmppAuthenticationError):
        assert not any(k.__module__.startswith("smsengine.smpp") for k in cls.__mro__)


# --- framer failures --------------------------------------------------------------------------


def test_framer_rejects_bad_total_length_early_and_stays_failed() -> None:
    framer = Framer(V30)
    with pytest.raises(FramingError):
        framer.feed(bytes.fromhex("0000000b"))
    with pytest.raises(FramingError):
        framer.feed(b"")
    big = Framer(V30, max_total_length=100)
    with pytest.raises(FramingError, match="above the maximum"):
        big.feed((101).to_bytes(4, "big"))
    with pytest.raises(ValueError):
        Framer(V30, max_total_length=11)


def test_framer_skips_unknown_commands_with_an_event() -> None:
    fwd = _wire(CommandId.CMPP_FWD, 5, bytes(30))
    vendor = _wire(0x12345678, 6, b"abc")
    at = encode(ActiveTest(sequence_id=7), V30)
    events = Framer(V30).feed(fwd + vendor + at)
    assert [type(e) for e in events] == [InvalidPdu, InvalidPdu, ActiveTest]
    assert isinstance(events[0], InvalidPdu) and events[0].sequence_id == 5
    assert events[0].command_id == CommandId.CMPP_FWD and events[0].status == 2
    assert events[0].response is None


def test_framer_version_can_change_between_feeds() -> None:
    framer = Framer(V30)
    deliver = Deliver(msg_content=b"x", src_terminal_id="1")
    assert framer.feed(encode(deliver, V30)) == [deliver]
    framer.version = V20
    assert framer.feed(encode(deliver, V20)) == [deliver]


# --- Msg_Id -----------------------------------------------------------------------------------


def test_msg_id_pack_validation_and_make() -> None:
    with pytest.raises(ValueError, match="month"):
        pack_msg_id(13, 1, 0, 0, 0, 0, 0)
    with pytest.raises(ValueError, match="gateway"):
        pack_msg_id(1, 1, 0, 0, 0, 1 << 22, 0)
    when = time.struct_time((2023, 11, 23, 2, 44, 50, 3, 327, 0))
    value = make_msg_id(when, 10001, 65537)  # the sequence wraps at 2**16
    assert value == 0xBB8ACC8027110001
    assert unpack_msg_id(value).sequence == 1


def test_msg_id_ambiguity() -> None:
    # 16 decimal digits read as decimal first, hex second.
    assert normalise_msg_id("1234567890123456") == "1234567890123456"
    assert msg_id_candidates("1234567890123456") == (
        "1234567890123456", str(0x1234567890123456)
    )
    assert msg_id_candidates("bb8acc8027110001") == ("13513838482661900289",)
    assert normalise_msg_id("0xBB8ACC8027110001") == "13513838482661900289"
    assert normalise_msg_id(" 42 ") == "42"
    assert parse_msg_id("-1") == (1 << 64) - 1
    # 22 digits that do not fit the field layout (month 13) are rejected.
    assert msg_id_candidates("1323024450001000100001") == ()
    for junk in ("", "abc", "18446744073709551616", "-9223372036854775809", "12ab"):
        assert msg_id_candidates(junk) == ()
        with pytest.raises(ValueError):
            normalise_msg_id(junk)


# --- auth helpers -----------------------------------------------------------------------------


def test_timestamp_from_a_passed_in_local_time() -> None:
    jan = time.struct_time((2024, 1, 2, 3, 4, 5, 1, 2, 0))
    assert timestamp_now(jan) == 102030405
    assert format_timestamp(102030405) == "0102030405"
    nov = time.struct_time((2023, 11, 23, 2, 44, 50, 3, 327, 0))
    assert timestamp_now(nov) == 1123024450
    with pytest.raises(ValueError):
        format_timestamp(-1)


# --- fast paths used on the engine's hot path: the same bytes and values as the general ones --


@given(st.integers(0, 0xFFFFFFFF), st.integers(0, 2**64 - 1), st.integers(0, 255),
       st.sampled_from([0x20, 0x21, 0x30]))
def test_encode_deliver_resp_matches_encode(seq: int, msg_id: int, result: int,
                                            version: int) -> None:
    from smsengine.cmpp import DeliverResp, encode, encode_deliver_resp

    assert encode_deliver_resp(seq, msg_id, result, version) == encode(
        DeliverResp(sequence_id=seq, msg_id=msg_id, result=result), version)


@given(st.binary(min_size=0, max_size=80))
def test_report_id_and_stat_matches_parse_report(content: bytes) -> None:
    from smsengine.cmpp import ReportDecodeError, parse_report, report_id_and_stat

    try:
        full = parse_report(content)
    except ReportDecodeError:
        with pytest.raises(ReportDecodeError):
            report_id_and_stat(content)
        return
    assert report_id_and_stat(content) == (full.msg_id, full.stat)


@given(st.binary(min_size=60, max_size=400), st.sampled_from([0x20, 0x30]),
       st.integers(0, 0xFFFFFFFF))
def test_trusted_decodes_satisfy_the_validator(body: bytes, version: int, seq: int) -> None:
    """DELIVER, SUBMIT, SUBMIT_RESP and DELIVER_RESP are built without re-running the validator:
    whatever the decoder accepts must be a value the validator accepts too."""
    from smsengine.cmpp import CommandId, PduDecodeError, decode_body

    for command in (CommandId.CMPP_DELIVER, CommandId.CMPP_SUBMIT_RESP, CommandId.CMPP_SUBMIT,
                    CommandId.CMPP_DELIVER_RESP):
        for data in (body, body[:12], body[:9]):
            try:
                pdu = decode_body(command, seq, data, version)
            except PduDecodeError:
                continue
            pdu._validate()  # raises InvalidPduError if the decoder let anything through


@given(st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=12),
       st.sampled_from([0x20, 0x30]))
def test_mutated_submits_and_delivers_decode_only_to_valid_values(
        edits: list[tuple[int, int]], version: int) -> None:
    from smsengine.cmpp import Deliver, PduDecodeError, Submit, decode_body, encode

    for pdu in (Submit(dest_terminal_ids=("13800138000", "13900139000"), msg_content=b"hi",
                       service_id="MALL", src_id="10690001", link_id="L1"),
                Deliver(dest_id="10690001", src_terminal_id="13800138000",
                        msg_content=b"x" * 71, registered_delivery=1, link_id="L2")):
        wire = bytearray(encode(pdu, version, sequence_id=7))
        for at, value in edits:
            if 12 <= at < len(wire):
                wire[at] = value
        try:
            decoded = decode_body(pdu.command_id, 7, bytes(wire[12:]), version)
        except PduDecodeError:
            continue
        decoded._validate()


@pytest.mark.parametrize("version", [V20, V30])
def test_submits_sharing_their_middle_fields_decode_each_to_its_own_values(version: int) -> None:
    """SUBMIT decode keeps one template per run of Service_Id … Src_Id octets: SUBMITs sharing
    it still decode to their own sequence, ids, numbers, content and LinkID, and SUBMITs that
    differ only there are told apart; the template store stays bounded."""
    from smsengine.cmpp import decode_body
    from smsengine.cmpp import pdu as codec

    common = dict(service_id="MALL", msg_src="shop01", fee_type="01", fee_code="000000",
                  src_id="10690001", msg_fmt=8, tp_udhi=1)
    link = {"link_id": "L9"} if version == V30 else {}
    pdus = [
        Submit(sequence_id=3, msg_id=1, pk_total=2, pk_number=1, registered_delivery=1,
               dest_terminal_ids=DEST, msg_content=b"\x05\x00\x03\x01\x02\x01ab", **link,
               **common),
        Submit(sequence_id=4, pk_total=2, pk_number=2, msg_level=3,
               dest_terminal_ids=("13900139000", "13700137000"), msg_content=b"c", **common),
        Submit(sequence_id=5, dest_terminal_ids=DEST, msg_content=b"d",
               **{**common, "src_id": "10690002"}),
    ]
    for pdu in pdus * 2:
        wire = encode(pdu, version)
        assert decode_body(CommandId.CMPP_SUBMIT, pdu.sequence_id, wire[12:], version) == pdu
    for i in range(codec._SUBMIT_TEMPLATES_MAX + 5):
        pdu = Submit(sequence_id=i + 1, dest_terminal_ids=DEST, src_id=str(i))
        assert decode(encode(pdu, version), version) == pdu
    assert len(codec._SUBMIT_TEMPLATES) <= codec._SUBMIT_TEMPLATES_MAX


@pytest.mark.parametrize(("stat", "state"), [
    ("DELIVRD", ReceiptState.DELIVERED), ("EXPIRED", ReceiptState.EXPIRED),
    ("DELETED", ReceiptState.DELETED), ("UNDELIV", ReceiptState.UNDELIVERABLE),
    ("ACCEPTD", ReceiptState.ACCEPTED), ("UNKNOWN", ReceiptState.UNKNOWN),
    ("REJECTD", ReceiptState.REJECTED), (" delivrd", ReceiptState.DELIVERED),
    ("MA:0001", ReceiptState.UNDELIVERABLE), ("", ReceiptState.UNDELIVERABLE),
])
def test_report_stat_maps_into_the_neutral_receipt_state(stat: str, state: ReceiptState) -> None:
    assert receipt_state(stat) is state
