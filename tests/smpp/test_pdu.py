"""Building PDUs: validation names the field and the limit; decoding reports specific statuses."""

from __future__ import annotations

import struct
from typing import Any

import pytest

from smsengine.smpp import (
    AlertNotification,
    BindTransmitter,
    BindTransmitterResp,
    CommandId,
    CommandStatus,
    DataSm,
    DeliverSm,
    DeliverSmResp,
    DistributionList,
    EnquireLink,
    EsmClass,
    GenericNack,
    InvalidPduError,
    Outbind,
    PduDecodeError,
    QuerySmResp,
    SmeAddress,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
    Tag,
    Tlv,
    UnsuccessSme,
    decode_pdu,
)

S = CommandStatus


@pytest.mark.parametrize(
    ("fields", "field", "status", "message"),
    [
        ({"source_addr": "1" * 21}, "source_addr", S.ESME_RINVSRCADR, "at most 20"),
        ({"destination_addr": "1" * 21}, "destination_addr", S.ESME_RINVDSTADR, "at most 20"),
        ({"service_type": "ABCDEF"}, "service_type", S.ESME_RINVSERTYP, "at most 5"),
        ({"esm_class": 256}, "esm_class", S.ESME_RINVESMCLASS, "outside 0..255"),
        ({"esm_class": -1}, "esm_class", S.ESME_RINVESMCLASS, "outside 0..255"),
        ({"data_coding": 1.5}, "data_coding", S.ESME_RUNKNOWNERR, "must be an int"),
        ({"priority_flag": "1"}, "priority_flag", S.ESME_RINVPRTFLG, "must be an int"),
        ({"registered_delivery": 300}, "registered_delivery", S.ESME_RINVREGDLVFLG, "0..255"),
        ({"source_addr_ton": 999}, "source_addr_ton", S.ESME_RINVSRCTON, "0..255"),
        ({"dest_addr_npi": 256}, "dest_addr_npi", S.ESME_RINVDSTNPI, "0..255"),
        ({"short_message": b"x" * 255}, "short_message", S.ESME_RINVMSGLEN, "at most 254"),
        ({"short_message": "text"}, "short_message", S.ESME_RINVMSGLEN, "must be bytes"),
        ({"schedule_delivery_time": "tomorrow"}, "schedule_delivery_time", S.ESME_RINVSCHED,
         "not an SMPP time"),
        ({"validity_period": "2611231200000001"}, "validity_period", S.ESME_RINVEXPIRY,
         "not an SMPP time"),
        ({"source_addr": "12\x0034"}, "source_addr", S.ESME_RINVSRCADR, "cannot contain NUL"),
        ({"source_addr": "短信"}, "source_addr", S.ESME_RINVSRCADR, "ASCII/Latin-1"),
        ({"source_addr": 12345}, "source_addr", S.ESME_RINVSRCADR, "must be a str"),
        ({"sequence_number": 2**32}, "sequence_number", S.ESME_RINVCMDLEN, "32-bit"),
        ({"tlvs": [Tlv(Tag.message_state, 2)]}, "tlvs", S.ESME_RINVOPTPARSTREAM, "tuple of Tlv"),
    ],
)
def test_submit_sm_validation(
    fields: dict[str, Any], field: str, status: int, message: str
) -> None:
    with pytest.raises(InvalidPduError, match=message) as info:
        SubmitSm(**fields)
    assert info.value.field == field
    assert info.value.status == status
    assert str(info.value).startswith(field)
    assert isinstance(info.value, ValueError)


def test_valid_edge_values_are_accepted() -> None:
    pdu = SubmitSm(
        source_addr="1" * 20,
        esm_class=EsmClass.UDHI,
        schedule_delivery_time="261124093000000+",
        validity_period="000001000000000R",
        short_message=b"x" * 254,
        service_type="é",  # Latin-1 travels byte for byte
    )
    assert decode_pdu(pdu.encode()) == pdu


def test_short_message_and_message_payload_together_is_refused() -> None:
    with pytest.raises(InvalidPduError, match="both set") as info:
        SubmitSm(short_message=b"a", tlvs=(Tlv(Tag.message_payload, b"b"),))
    assert info.value.status == S.ESME_ROPTPARNOTALLWD
    # Either alone is fine, and message is whichever is set.
    assert SubmitSm(short_message=b"a").message == b"a"
    assert SubmitSm(tlvs=(Tlv(Tag.message_payload, b"b" * 1000),)).message == b"b" * 1000
    assert DataSm(tlvs=(Tlv(Tag.message_payload, b"c"),)).message == b"c"
    assert DataSm().message == b""


@pytest.mark.parametrize(
    ("tag", "value", "message"),
    [
        (Tag.message_state, 256, "outside 0..255"),
        (Tag.sar_msg_ref_num, 70000, "outside 0..65535"),
        (Tag.qos_time_to_live, -1, "outside"),
        (Tag.message_state, "2", "must be an int"),
        (Tag.receipted_message_id, "x" * 65, "at most 64"),
        (Tag.receipted_message_id, b"abc", "must be a str"),
        (Tag.network_error_code, b"\x01\x02", "must be 3..3 octets"),
        (Tag.callback_num, b"123", "must be 4..19"),
        (0x1400, "vendor", "must be bytes"),
        (0x10000, b"", "tag must be an int 0..0xFFFF"),
    ],
)
def test_tlv_validation(tag: int, value: Any, message: str) -> None:
    with pytest.raises(InvalidPduError, match=message):
        Tlv(tag, value)


def test_pdu_tlv_lookup() -> None:
    pdu = DeliverSm(tlvs=(Tlv(Tag.receipted_message_id, "ab"), Tlv(0x1400, b"\x01")))
    assert pdu.tlv(Tag.receipted_message_id) == "ab"
    assert pdu.tlv(0x1400) == b"\x01"
    assert pdu.tlv(Tag.message_state) is None
    assert pdu.tlv(Tag.message_state, 0) == 0


def test_submit_multi_validation() -> None:
    with pytest.raises(InvalidPduError, match="dest_address: 0 entries") as info:
        SubmitMulti(dest_address=())
    assert info.value.status == S.ESME_RINVNUMDESTS
    too_many = tuple(SmeAddress(destination_addr=str(i)) for i in range(255))
    with pytest.raises(InvalidPduError, match=r"255 entries, must be 1\.\.254"):
        SubmitMulti(dest_address=too_many)
    with pytest.raises(InvalidPduError, match="entries must be SmeAddress or DistributionList"):
        SubmitMulti(dest_address=("123",))  # type: ignore[arg-type]
    with pytest.raises(InvalidPduError, match="dl_name"):
        DistributionList(dl_name="x" * 21)
    with pytest.raises(InvalidPduError, match="error_status_code"):
        UnsuccessSme(destination_addr="1", error_status_code=2**32)


def test_response_helpers() -> None:
    req = SubmitSm(sequence_number=77)
    resp = req.response(message_id="abc")
    assert resp == SubmitSmResp(sequence_number=77, message_id="abc")
    assert resp.ok and resp.status_name == "ESME_ROK"
    nack = req.response(S.ESME_RTHROTTLED)
    assert not nack.ok and nack.status_name == "ESME_RTHROTTLED"
    assert EnquireLink(sequence_number=5).response().command_id == CommandId.enquire_link_resp
    # outbind has no response PDU of its own.
    assert Outbind(sequence_number=3).response(8) == GenericNack(
        sequence_number=3, command_status=8
    )


def test_receipt_flag() -> None:
    assert DeliverSm(esm_class=0x04).is_receipt
    assert DeliverSm(esm_class=0x44).is_receipt  # UDHI set as well
    assert DeliverSm(esm_class=0x20).is_receipt  # intermediate notification
    assert not DeliverSm(esm_class=0x00).is_receipt
    assert not DeliverSm(esm_class=0x08).is_receipt  # SME delivery ack is not an SMSC receipt
    assert DataSm(esm_class=0x04).is_receipt


def test_pdus_are_immutable_and_hashable() -> None:
    pdu = SubmitSm(destination_addr="1")
    with pytest.raises(AttributeError):
        pdu.destination_addr = "2"  # type: ignore[misc]
    assert hash(pdu) == hash(SubmitSm(destination_addr="1"))
    assert {pdu, SubmitSm(destination_addr="1")} == {pdu}


def test_vendor_status_survives_as_int() -> None:
    wire = SubmitSmResp(sequence_number=1, command_status=0x401).encode()
    decoded = decode_pdu(wire)
    assert isinstance(decoded, SubmitSmResp)
    assert decoded.command_status == 0x401
    assert decoded.status_name == "0x00000401"


# --- decoding: specific statuses -------------------------------------------------------------


def _pdu(command_id: int, body: bytes, seq: int = 1, status: int = 0) -> bytes:
    return struct.pack(">IIII", 16 + len(body), command_id, status, seq) + body


def _decode_error(data: bytes) -> PduDecodeError:
    with pytest.raises(PduDecodeError) as info:
        decode_pdu(data)
    return info.value


def test_decoding_overlong_field_reports_the_field_status() -> None:
    source_addr = b"1" * 30 + b"\0"  # 31 octets where 21 is the maximum
    body = b"\0\x01\x01" + source_addr + b"\x01\x01123\0" + bytes(3) + b"\0\0" + bytes(5)
    err = _decode_error(_pdu(CommandId.submit_sm, body, seq=12))
    assert err.status == S.ESME_RINVSRCADR
    assert err.field == "source_addr"
    assert err.sequence_number == 12
    assert err.response == SubmitSmResp(sequence_number=12, command_status=S.ESME_RINVSRCADR)


def test_decoding_bad_time_reports_invalid_schedule() -> None:
    body = b"\0\x01\x011\0\x01\x012\0" + bytes(3) + b"garbage\0\0" + bytes(5)
    err = _decode_error(_pdu(CommandId.submit_sm, body))
    assert err.status == S.ESME_RINVSCHED


def test_decoding_tlv_with_bad_length() -> None:
    ok = SubmitSm().encode()[16:]
    err = _decode_error(_pdu(CommandId.submit_sm, ok + struct.pack(">HHH", 0x0427, 2, 2)))
    assert err.status == S.ESME_RINVPARLEN
    assert err.field == "message_state"
    err = _decode_error(_pdu(CommandId.submit_sm, ok + struct.pack(">HH", 0x0424, 10) + b"abc"))
    assert err.status == S.ESME_RINVOPTPARSTREAM
    err = _decode_error(_pdu(CommandId.submit_sm, ok + b"\x04"))
    assert err.status == S.ESME_RINVOPTPARSTREAM


def test_decoding_bad_dest_flag() -> None:
    body = b"\0\x01\x011\0" + b"\x01" + b"\x07" + b"\x01\x01123\0"
    err = _decode_error(_pdu(CommandId.submit_multi, body))
    assert err.status == S.ESME_RINVDESTFLAG


def test_decoding_overlong_address_in_submit_multi_reports_the_field() -> None:
    body = b"\0\x01\x011\0" + b"\x01" + b"\x01\x01\x01" + b"9" * 25 + b"\0" + bytes(3) + b"\0\0"
    err = _decode_error(_pdu(CommandId.submit_multi, body + bytes(5)))
    assert err.status == S.ESME_RINVDSTADR
    assert err.field == "destination_addr"


def test_decoding_truncated_unsuccess_list() -> None:
    body = b"id\0" + b"\x02" + b"\x01\x01123\0" + b"\0\0\0"  # error_status_code cut short
    err = _decode_error(_pdu(CommandId.submit_multi_resp, body))
    assert err.status == S.ESME_RINVCMDLEN
    assert err.response is None  # never answer a response


def test_decoding_command_length_mismatch() -> None:
    wire = EnquireLink(sequence_number=3).encode() + b"\0"
    err = _decode_error(wire)
    assert err.status == S.ESME_RINVCMDLEN
    assert err.field == "command_length"
    err = _decode_error(b"\0\0\0")
    assert err.status == S.ESME_RINVCMDLEN


def test_empty_response_bodies_are_tolerated() -> None:
    # Header-only deliver_sm_resp (common in the wild) and bind_transmitter_resp on error.
    assert decode_pdu(_pdu(CommandId.deliver_sm_resp, b"", seq=4)) == DeliverSmResp(
        sequence_number=4
    )
    assert decode_pdu(_pdu(CommandId.bind_transmitter_resp, b"", status=0x0E)) == (
        BindTransmitterResp(sequence_number=1, command_status=S.ESME_RINVPASWD)
    )
    assert decode_pdu(_pdu(CommandId.query_sm_resp, b"", status=0x67)) == QuerySmResp(
        sequence_number=1, command_status=S.ESME_RQUERYFAIL
    )


def test_non_ascii_c_string_from_peer_is_accepted_byte_for_byte() -> None:
    body = b"ab\xe9\0pw\0\0\x34\0\0\0"
    pdu = decode_pdu(_pdu(CommandId.bind_transmitter, body))
    assert isinstance(pdu, BindTransmitter)
    assert pdu.system_id == "ab\xe9"
    assert pdu.encode()[16:] == body


def test_c_string_tlv_without_nul_is_tolerated() -> None:
    ok = DeliverSm(esm_class=4).encode()[16:]
    tlv = struct.pack(">HH", 0x001E, 4) + b"ABCD"  # receipted_message_id without its NUL
    pdu = decode_pdu(_pdu(CommandId.deliver_sm, ok + tlv))
    assert pdu.tlv(Tag.receipted_message_id) == "ABCD"


def test_alert_notification_and_submit_multi_resp_round_trip() -> None:
    alert = AlertNotification(
        source_addr="8613800138000",
        esme_addr="SHOP",
        tlvs=(Tlv(Tag.ms_availability_status, 0),),
    )
    assert decode_pdu(alert.encode()) == alert
    resp = SubmitMultiResp(
        message_id="m1",
        unsuccess_sme=(UnsuccessSme(destination_addr="1", error_status_code=0x45),),
    )
    assert decode_pdu(resp.encode()) == resp


def test_a_bind_pdus_repr_never_shows_its_password() -> None:
    from rich.pretty import pretty_repr

    from smsengine.smpp import BindReceiver, BindTransceiver, BindTransmitter, Outbind

    for kind in (BindTransmitter, BindReceiver, BindTransceiver, Outbind):
        pdu = kind(system_id="shop", password="s3cret")
        assert "s3cret" not in repr(pdu) and "s3cret" not in str(pdu)
        assert "password=<redacted>" in repr(pdu) and "system_id='shop'" in repr(pdu)
        assert "s3cret" not in pretty_repr(pdu)
        assert pdu.password == "s3cret"  # (only the repr hides it)
    assert "password" not in repr(BindTransceiver(system_id="shop"))  # an empty one: omitted
