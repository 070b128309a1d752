"""Golden wire vectors for every SMPP 3.4 PDU, written by hand from the specification.

Each vector below was laid out octet by octet from SMPP v3.4 (issue 1.2) chapter 4 (PDU
definitions), section 5.1 (header: command_length, command_id, command_status,
sequence_number — four big-endian 32-bit integers), section 5.2 (mandatory fields) and
section 5.3 (TLVs: 2-octet tag, 2-octet length, value). They were NOT produced by running our
encoder: a field in the wrong order, of the wrong width or with a missing NUL shows up as a
mismatch in one direction or the other.

Conventions in the vectors:

* one hex group per field, with a comment naming the field and its value;
* ``#`` starts a comment, whitespace is ignored (see :func:`unhex`);
* C-octet strings end in ``00``; an empty C-octet string is the single octet ``00``;
* values are realistic and, wherever the field allows, not the default, with neighbouring
  one-octet fields given different values so that two swapped fields cannot go unnoticed.

Every vector is checked in both directions: ``decode_pdu(octets) == pdu`` and
``pdu.encode() == octets``.
"""

from __future__ import annotations

import struct

import pytest

from smsengine.smpp import (
    PDU_CLASSES,
    AlertNotification,
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    CancelSm,
    CancelSmResp,
    CommandId,
    CommandStatus,
    DataSm,
    DataSmResp,
    DeliverSm,
    DeliverSmResp,
    DistributionList,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Outbind,
    Pdu,
    QuerySm,
    QuerySmResp,
    ReplaceSm,
    ReplaceSmResp,
    SmeAddress,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
    Tag,
    Tlv,
    Unbind,
    UnbindResp,
    UnsuccessSme,
    decode_pdu,
)


def unhex(vector: str) -> bytes:
    """The octets of a commented hex vector: ``#`` starts a comment, whitespace is ignored."""
    return bytes.fromhex("".join(line.split("#", 1)[0] for line in vector.splitlines()))


# =============================================================================================
# Session management (SMPP 3.4 section 4.1, 4.2, 4.3)
# =============================================================================================

# 4.1.1 bind_transmitter
BIND_TRANSMITTER = """
    00000030                    # command_length 48
    00000002                    # command_id bind_transmitter
    00000000                    # command_status 0
    00000001                    # sequence_number 1
    736d7070636c69656e743100    # system_id "smppclient1"
    70617373776f726400          # password "password"
    434d5400                    # system_type "CMT"
    34                          # interface_version 0x34 (SMPP 3.4)
    02                          # addr_ton 2 (national)
    08                          # addr_npi 8 (national)
    34343700                    # address_range "447"
"""
BIND_TRANSMITTER_PDU = BindTransmitter(
    sequence_number=1,
    system_id="smppclient1",
    password="password",
    system_type="CMT",
    interface_version=0x34,
    addr_ton=2,
    addr_npi=8,
    address_range="447",
)

# 4.1.2 bind_transmitter_resp, with the sc_interface_version TLV
BIND_TRANSMITTER_RESP = """
    0000001a                    # command_length 26
    80000002                    # command_id bind_transmitter_resp
    00000000                    # command_status ESME_ROK
    00000001                    # sequence_number 1
    534d534300                  # system_id "SMSC"
    0210 0001 34                # TLV sc_interface_version, length 1, 0x34
"""
BIND_TRANSMITTER_RESP_PDU = BindTransmitterResp(
    sequence_number=1,
    system_id="SMSC",
    tlvs=(Tlv(Tag.sc_interface_version, 0x34),),
)

# 4.1.3 bind_receiver (an SMPP 3.3 style interface_version, to differ from the default)
BIND_RECEIVER = """
    00000031                    # command_length 49
    00000001                    # command_id bind_receiver
    00000000                    # command_status 0
    00000002                    # sequence_number 2
    736d7070636c69656e743100    # system_id "smppclient1"
    70617373776f726400          # password "password"
    564d5300                    # system_type "VMS"
    33                          # interface_version 0x33
    01                          # addr_ton 1 (international)
    06                          # addr_npi 6 (land mobile, E.212)
    3434373900                  # address_range "4479"
"""
BIND_RECEIVER_PDU = BindReceiver(
    sequence_number=2,
    system_id="smppclient1",
    password="password",
    system_type="VMS",
    interface_version=0x33,
    addr_ton=1,
    addr_npi=6,
    address_range="4479",
)

# 4.1.4 bind_receiver_resp
BIND_RECEIVER_RESP = """
    00000015                    # command_length 21
    80000001                    # command_id bind_receiver_resp
    00000000                    # command_status ESME_ROK
    00000002                    # sequence_number 2
    534d534300                  # system_id "SMSC"
"""
BIND_RECEIVER_RESP_PDU = BindReceiverResp(sequence_number=2, system_id="SMSC")

# 4.1.4 bind_receiver_resp refused: "The body portion of the SMPP bind_receiver_resp PDU is
# not returned if the command_status field contains a non-zero value" -> header only.
BIND_RECEIVER_RESP_REFUSED = """
    00000010                    # command_length 16
    80000001                    # command_id bind_receiver_resp
    0000000e                    # command_status ESME_RINVPASWD
    00000002                    # sequence_number 2
"""
BIND_RECEIVER_RESP_REFUSED_PDU = BindReceiverResp(
    sequence_number=2, command_status=CommandStatus.ESME_RINVPASWD
)

# 4.1.5 bind_transceiver
BIND_TRANSCEIVER = """
    00000030                    # command_length 48
    00000009                    # command_id bind_transceiver
    00000000                    # command_status 0
    00000003                    # sequence_number 3
    736d7070636c69656e743100    # system_id "smppclient1"
    70617373776f726400          # password "password"
    4f544100                    # system_type "OTA"
    34                          # interface_version 0x34
    02                          # addr_ton 2 (national)
    01                          # addr_npi 1 (ISDN)
    5e383600                    # address_range "^86"
"""
BIND_TRANSCEIVER_PDU = BindTransceiver(
    sequence_number=3,
    system_id="smppclient1",
    password="password",
    system_type="OTA",
    addr_ton=2,
    addr_npi=1,
    address_range="^86",
)

# 4.1.6 bind_transceiver_resp
BIND_TRANSCEIVER_RESP = """
    00000019                    # command_length 25
    80000009                    # command_id bind_transceiver_resp
    00000000                    # command_status ESME_ROK
    00000003                    # sequence_number 3
    534d53432d54525800          # system_id "SMSC-TRX"
"""
BIND_TRANSCEIVER_RESP_PDU = BindTransceiverResp(sequence_number=3, system_id="SMSC-TRX")

# 4.1.7 outbind
OUTBIND = """
    0000001e                    # command_length 30
    0000000b                    # command_id outbind
    00000000                    # command_status 0
    00000004                    # sequence_number 4
    534d534300                  # system_id "SMSC"
    70617373776f726400          # password "password"
"""
OUTBIND_PDU = Outbind(sequence_number=4, system_id="SMSC", password="password")

# 4.2.1 unbind (header only)
UNBIND = """
    00000010                    # command_length 16
    00000006                    # command_id unbind
    00000000                    # command_status 0
    00000005                    # sequence_number 5
"""
UNBIND_PDU = Unbind(sequence_number=5)

# 4.2.2 unbind_resp (header only)
UNBIND_RESP = """
    00000010                    # command_length 16
    80000006                    # command_id unbind_resp
    00000000                    # command_status ESME_ROK
    00000005                    # sequence_number 5
"""
UNBIND_RESP_PDU = UnbindResp(sequence_number=5)

# 4.3.1 generic_nack (header only), answering a PDU with an unknown command_id
GENERIC_NACK = """
    00000010                    # command_length 16
    80000000                    # command_id generic_nack
    00000003                    # command_status ESME_RINVCMDID
    00000012                    # sequence_number 18
"""
GENERIC_NACK_PDU = GenericNack(sequence_number=18, command_status=CommandStatus.ESME_RINVCMDID)

# =============================================================================================
# Message submission (SMPP 3.4 section 4.4, 4.5)
# =============================================================================================

# 4.4.1 submit_sm: segment 2 of 3 of a concatenated message (sar_* TLVs),
# scheduled (absolute time) with a relative validity period (7.1.1, 7.1.2).
SUBMIT_SM_SAR = """
    00000076                    # command_length 118
    00000004                    # command_id submit_sm
    00000000                    # command_status 0
    0000000b                    # sequence_number 11
    434d5400                    # service_type "CMT"
    02                          # source_addr_ton 2 (national)
    01                          # source_addr_npi 1 (ISDN)
    303737303039303031323300    # source_addr "07700900123"
    01                          # dest_addr_ton 1 (international)
    01                          # dest_addr_npi 1 (ISDN)
    34343737303039303034353600  # destination_addr "447700900456"
    03                          # esm_class 0x03 (store and forward mode)
    00                          # protocol_id 0
    01                          # priority_flag 1
    3236313132343039333030303030302b00  # schedule_delivery_time "261124093000000+"
    3030303030313030303030303030305200  # validity_period "000001000000000R" (1 day)
    01                          # registered_delivery 1 (receipt on success or failure)
    00                          # replace_if_present_flag 0
    03                          # data_coding 3 (Latin-1)
    00                          # sm_default_msg_id 0
    0b                          # sm_length 11
    48656c6c6f20576f726c64      # short_message "Hello World"
    020c 0002 1234              # TLV sar_msg_ref_num, length 2, 0x1234
    020e 0001 03                # TLV sar_total_segments, length 1, 3
    020f 0001 02                # TLV sar_segment_seqnum, length 1, 2
"""
SUBMIT_SM_SAR_PDU = SubmitSm(
    sequence_number=11,
    service_type="CMT",
    source_addr_ton=2,
    source_addr_npi=1,
    source_addr="07700900123",
    dest_addr_ton=1,
    dest_addr_npi=1,
    destination_addr="447700900456",
    esm_class=0x03,
    protocol_id=0,
    priority_flag=1,
    schedule_delivery_time="261124093000000+",
    validity_period="000001000000000R",
    registered_delivery=1,
    replace_if_present_flag=0,
    data_coding=3,
    sm_default_msg_id=0,
    short_message=b"Hello World",
    tlvs=(
        Tlv(Tag.sar_msg_ref_num, 0x1234),
        Tlv(Tag.sar_total_segments, 3),
        Tlv(Tag.sar_segment_seqnum, 2),
    ),
)

# 4.4.1 submit_sm carrying its text in message_payload: sm_length must be 0.
SUBMIT_SM_PAYLOAD = """
    00000040                    # command_length 64
    00000004                    # command_id submit_sm
    00000000                    # command_status 0
    0000000c                    # sequence_number 12
    00                          # service_type "" (SMSC default)
    05                          # source_addr_ton 5 (alphanumeric)
    00                          # source_addr_npi 0 (unknown)
    41434d4500                  # source_addr "ACME"
    01                          # dest_addr_ton 1 (international)
    01                          # dest_addr_npi 1 (ISDN)
    3836313338303031333830303000  # destination_addr "8613800138000"
    02                          # esm_class 0x02 (forward / transaction mode)
    00                          # protocol_id 0
    00                          # priority_flag 0
    00                          # schedule_delivery_time "" (immediate)
    00                          # validity_period "" (SMSC default)
    00                          # registered_delivery 0
    00                          # replace_if_present_flag 0
    08                          # data_coding 8 (UCS2)
    00                          # sm_default_msg_id 0
    00                          # sm_length 0 (no short_message)
    0424 000a 00480065006c006c006f  # TLV message_payload, length 10, UTF-16BE "Hello"
"""
SUBMIT_SM_PAYLOAD_PDU = SubmitSm(
    sequence_number=12,
    source_addr_ton=5,
    source_addr_npi=0,
    source_addr="ACME",
    dest_addr_ton=1,
    dest_addr_npi=1,
    destination_addr="8613800138000",
    esm_class=0x02,
    data_coding=8,
    tlvs=(Tlv(Tag.message_payload, "Hello".encode("utf-16-be")),),
)

# 4.4.2 submit_sm_resp
SUBMIT_SM_RESP = """
    00000019                    # command_length 25
    80000004                    # command_id submit_sm_resp
    00000000                    # command_status ESME_ROK
    0000000b                    # sequence_number 11
    304131423243334400          # message_id "0A1B2C3D"
"""
SUBMIT_SM_RESP_PDU = SubmitSmResp(sequence_number=11, message_id="0A1B2C3D")

# 4.4.2 submit_sm_resp with an error: "The submit_sm_resp PDU Body is not returned if the
# command_status field contains a non-zero value" -> a 16-octet PDU.
SUBMIT_SM_RESP_THROTTLED = """
    00000010                    # command_length 16
    80000004                    # command_id submit_sm_resp
    00000058                    # command_status ESME_RTHROTTLED
    0000000c                    # sequence_number 12
"""
SUBMIT_SM_RESP_THROTTLED_PDU = SubmitSmResp(
    sequence_number=12, command_status=CommandStatus.ESME_RTHROTTLED
)

# 4.5.1 submit_multi: one SME address (dest_flag 1) and one distribution list (dest_flag 2)
SUBMIT_MULTI = """
    00000065                    # command_length 101
    00000021                    # command_id submit_multi
    00000000                    # command_status 0
    0000000d                    # sequence_number 13
    434d5400                    # service_type "CMT"
    01                          # source_addr_ton 1 (international)
    01                          # source_addr_npi 1 (ISDN)
    34343737303039303031323300  # source_addr "447700900123"
    02                          # number_of_dests 2
    01                          #   dest_address[0].dest_flag 1 (SME address)
    01                          #   dest_address[0].dest_addr_ton 1 (international)
    01                          #   dest_address[0].dest_addr_npi 1 (ISDN)
    34343737303039303034353600  #   dest_address[0].destination_addr "447700900456"
    02                          #   dest_address[1].dest_flag 2 (distribution list)
    667269656e647300            #   dest_address[1].dl_name "friends"
    01                          # esm_class 0x01 (datagram mode)
    00                          # protocol_id 0
    03                          # priority_flag 3
    00                          # schedule_delivery_time "" (immediate)
    3236313133303233353935393030302b00  # validity_period "261130235959000+" (absolute)
    02                          # registered_delivery 2 (receipt on failure only)
    00                          # replace_if_present_flag 0
    00                          # data_coding 0 (SMSC default alphabet)
    00                          # sm_default_msg_id 0
    0e                          # sm_length 14
    4d656574696e672061742035706d  # short_message "Meeting at 5pm"
"""
SUBMIT_MULTI_PDU = SubmitMulti(
    sequence_number=13,
    service_type="CMT",
    source_addr_ton=1,
    source_addr_npi=1,
    source_addr="447700900123",
    dest_address=(
        SmeAddress(dest_addr_ton=1, dest_addr_npi=1, destination_addr="447700900456"),
        DistributionList(dl_name="friends"),
    ),
    esm_class=0x01,
    priority_flag=3,
    validity_period="261130235959000+",
    registered_delivery=2,
    short_message=b"Meeting at 5pm",
)

# 4.5.2 submit_multi_resp: two unsuccess_sme entries; in each, error_status_code is a
# 4-octet Integer (4.5.2)
SUBMIT_MULTI_RESP = """
    0000003f                    # command_length 63
    80000021                    # command_id submit_multi_resp
    00000000                    # command_status ESME_ROK
    0000000d                    # sequence_number 13
    304131423243334500          # message_id "0A1B2C3E"
    02                          # no_unsuccess 2
    01                          #   unsuccess_sme[0].dest_addr_ton 1 (international)
    01                          #   unsuccess_sme[0].dest_addr_npi 1 (ISDN)
    34343737303039303034353600  #   unsuccess_sme[0].destination_addr "447700900456"
    0000000b                    #   unsuccess_sme[0].error_status_code ESME_RINVDSTADR
    02                          #   unsuccess_sme[1].dest_addr_ton 2 (national)
    01                          #   unsuccess_sme[1].dest_addr_npi 1 (ISDN)
    303737303039303037383900    #   unsuccess_sme[1].destination_addr "07700900789"
    00000401                    #   unsuccess_sme[1].error_status_code 0x401 (vendor)
"""
SUBMIT_MULTI_RESP_PDU = SubmitMultiResp(
    sequence_number=13,
    message_id="0A1B2C3E",
    unsuccess_sme=(
        UnsuccessSme(
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr="447700900456",
            error_status_code=CommandStatus.ESME_RINVDSTADR,
        ),
        UnsuccessSme(
            dest_addr_ton=2,
            dest_addr_npi=1,
            destination_addr="07700900789",
            error_status_code=0x401,
        ),
    ),
)

# =============================================================================================
# Message delivery (SMPP 3.4 section 4.6, 4.7)
# =============================================================================================

# 4.6.1 deliver_sm carrying an SMSC delivery receipt (esm_class 0x04; text per Appendix B),
# with receipted_message_id, message_state and
# network_error_code (network type octet + 2-octet error code).
DELIVER_SM_RECEIPT = """
    000000b5                    # command_length 181
    00000005                    # command_id deliver_sm
    00000000                    # command_status 0
    00010001                    # sequence_number 65537
    00                          # service_type ""
    01                          # source_addr_ton 1 (international)
    01                          # source_addr_npi 1 (ISDN)
    34343737303039303034353600  # source_addr "447700900456" (the handset)
    02                          # dest_addr_ton 2 (national)
    01                          # dest_addr_npi 1 (ISDN)
    303737303039303031323300    # destination_addr "07700900123" (the original sender)
    04                          # esm_class 0x04 (SMSC delivery receipt)
    00                          # protocol_id 0
    00                          # priority_flag 0
    00                          # schedule_delivery_time "" (unused in deliver_sm)
    00                          # validity_period "" (unused in deliver_sm)
    00                          # registered_delivery 0
    00                          # replace_if_present_flag 0 (unused in deliver_sm)
    00                          # data_coding 0
    00                          # sm_default_msg_id 0 (unused in deliver_sm)
    64                          # sm_length 100
    69643a3041314232433344      # short_message "id:0A1B2C3D"
    207375623a303031            #   " sub:001"
    20646c7672643a303030        #   " dlvrd:000"
    207375626d697420646174653a32363131323430393330  # " submit date:2611240930"
    20646f6e6520646174653a32363131323430393331      # " done date:2611240931"
    20737461743a554e44454c4956  #   " stat:UNDELIV"
    206572723a303031            #   " err:001"
    20746578743a                #   " text:"
    001e 0009 304131423243334400  # TLV receipted_message_id, length 9, "0A1B2C3D" + NUL
    0427 0001 05                # TLV message_state, length 1, 5 (UNDELIVERABLE)
    0423 0003 03 0001           # TLV network_error_code, length 3, GSM (3) error 1
"""
DELIVER_SM_RECEIPT_PDU = DeliverSm(
    sequence_number=0x00010001,
    source_addr_ton=1,
    source_addr_npi=1,
    source_addr="447700900456",
    dest_addr_ton=2,
    dest_addr_npi=1,
    destination_addr="07700900123",
    esm_class=0x04,
    short_message=(
        b"id:0A1B2C3D sub:001 dlvrd:000 submit date:2611240930 done date:2611240931 "
        b"stat:UNDELIV err:001 text:"
    ),
    tlvs=(
        Tlv(Tag.receipted_message_id, "0A1B2C3D"),
        Tlv(Tag.message_state, 5),
        Tlv(Tag.network_error_code, b"\x03\x00\x01"),
    ),
)

# 4.6.1 deliver_sm: a mobile-originated concatenated part (UDHI set, 6-octet UDH before the
# text) with a vendor-specific TLV the codec does not know (0x1400, kept as raw octets)
# followed by a known one (user_message_reference) to show decoding carries on.
DELIVER_SM_MO = """
    0000004c                    # command_length 76
    00000005                    # command_id deliver_sm
    00000000                    # command_status 0
    00010002                    # sequence_number 65538
    434d5400                    # service_type "CMT"
    01                          # source_addr_ton 1 (international)
    01                          # source_addr_npi 1 (ISDN)
    34343737303039303037383900  # source_addr "447700900789"
    00                          # dest_addr_ton 0 (unknown)
    01                          # dest_addr_npi 1 (ISDN)
    313233343500                # destination_addr "12345" (short code)
    40                          # esm_class 0x40 (UDHI)
    00                          # protocol_id 0
    01                          # priority_flag 1
    00                          # schedule_delivery_time ""
    00                          # validity_period ""
    00                          # registered_delivery 0
    00                          # replace_if_present_flag 0
    00                          # data_coding 0
    00                          # sm_default_msg_id 0
    09                          # sm_length 9
    050003 7a 02 01             # short_message: UDH (concat ref 0x7a, 2 parts, part 1)
    596573                      #   ... text "Yes"
    1400 0004 01020304          # TLV 0x1400 (vendor specific, unknown), length 4, raw octets
    0204 0002 0007              # TLV user_message_reference, length 2, 7
"""
DELIVER_SM_MO_PDU = DeliverSm(
    sequence_number=0x00010002,
    service_type="CMT",
    source_addr_ton=1,
    source_addr_npi=1,
    source_addr="447700900789",
    dest_addr_ton=0,
    dest_addr_npi=1,
    destination_addr="12345",
    esm_class=0x40,
    priority_flag=1,
    short_message=b"\x05\x00\x03\x7a\x02\x01Yes",
    tlvs=(
        Tlv(0x1400, b"\x01\x02\x03\x04"),
        Tlv(Tag.user_message_reference, 7),
    ),
)

# 4.6.2 deliver_sm_resp: message_id "is unused and is set to NULL" -> a single 00 octet.
DELIVER_SM_RESP = """
    00000011                    # command_length 17
    80000005                    # command_id deliver_sm_resp
    00000000                    # command_status ESME_ROK
    00010001                    # sequence_number 65537
    00                          # message_id "" (unused, NULL)
"""
DELIVER_SM_RESP_PDU = DeliverSmResp(sequence_number=0x00010001)

# 4.7.1 data_sm: a WAP push datagram with source_port / destination_port
# and the user data in message_payload (data_sm has no short_message field).
DATA_SM = """
    00000043                    # command_length 67
    00000103                    # command_id data_sm
    00000000                    # command_status 0
    0000000e                    # sequence_number 14
    57415000                    # service_type "WAP"
    05                          # source_addr_ton 5 (alphanumeric)
    00                          # source_addr_npi 0 (unknown)
    41434d4500                  # source_addr "ACME"
    01                          # dest_addr_ton 1 (international)
    01                          # dest_addr_npi 1 (ISDN)
    34343737303039303034353600  # destination_addr "447700900456"
    01                          # esm_class 0x01 (datagram mode)
    11                          # registered_delivery 0x11 (receipt + intermediate notif.)
    04                          # data_coding 4 (8-bit binary)
    020a 0002 23f0              # TLV source_port, length 2, 9200
    020b 0002 0b84              # TLV destination_port, length 2, 2948 (WAP push)
    0424 0006 010603ae81ea      # TLV message_payload, length 6, raw octets
"""
DATA_SM_PDU = DataSm(
    sequence_number=14,
    service_type="WAP",
    source_addr_ton=5,
    source_addr_npi=0,
    source_addr="ACME",
    dest_addr_ton=1,
    dest_addr_npi=1,
    destination_addr="447700900456",
    esm_class=0x01,
    registered_delivery=0x11,
    data_coding=4,
    tlvs=(
        Tlv(Tag.source_port, 9200),
        Tlv(Tag.destination_port, 2948),
        Tlv(Tag.message_payload, b"\x01\x06\x03\xae\x81\xea"),
    ),
)

# 4.7.2 data_sm_resp reporting a failed transaction-mode delivery: a non-zero status WITH a
# body, because delivery_failure_reason and additional_status_info_text
# ride in it. message_id is empty: no message was stored.
DATA_SM_RESP = """
    0000002c                    # command_length 44
    80000103                    # command_id data_sm_resp
    000000fe                    # command_status ESME_RDELIVERYFAILURE
    0000000e                    # sequence_number 14
    00                          # message_id ""
    0425 0001 01                # TLV delivery_failure_reason, length 1, 1 (dest unavailable)
    001d 0012 7375627363726962657220616273656e7400  # TLV additional_status_info_text,
                                # length 18, "subscriber absent" + NUL
"""
DATA_SM_RESP_PDU = DataSmResp(
    sequence_number=14,
    command_status=CommandStatus.ESME_RDELIVERYFAILURE,
    tlvs=(
        Tlv(Tag.delivery_failure_reason, 1),
        Tlv(Tag.additional_status_info_text, "subscriber absent"),
    ),
)

# =============================================================================================
# Message query, cancel, replace (SMPP 3.4 section 4.8, 4.9, 4.10)
# =============================================================================================

# 4.8.1 query_sm
QUERY_SM = """
    00000027                    # command_length 39
    00000003                    # command_id query_sm
    00000000                    # command_status 0
    0000000f                    # sequence_number 15
    304131423243334400          # message_id "0A1B2C3D"
    02                          # source_addr_ton 2 (national)
    01                          # source_addr_npi 1 (ISDN)
    303737303039303031323300    # source_addr "07700900123"
"""
QUERY_SM_PDU = QuerySm(
    sequence_number=15,
    message_id="0A1B2C3D",
    source_addr_ton=2,
    source_addr_npi=1,
    source_addr="07700900123",
)

# 4.8.2 query_sm_resp
QUERY_SM_RESP = """
    0000002c                    # command_length 44
    80000003                    # command_id query_sm_resp
    00000000                    # command_status ESME_ROK
    0000000f                    # sequence_number 15
    304131423243334400          # message_id "0A1B2C3D"
    3236313132333132303030303030302b00  # final_date "261123120000000+"
    02                          # message_state 2 (DELIVERED)
    00                          # error_code 0
"""
QUERY_SM_RESP_PDU = QuerySmResp(
    sequence_number=15,
    message_id="0A1B2C3D",
    final_date="261123120000000+",
    message_state=2,
    error_code=0,
)

# 4.9.1 cancel_sm
CANCEL_SM = """
    0000003a                    # command_length 58
    00000008                    # command_id cancel_sm
    00000000                    # command_status 0
    00000010                    # sequence_number 16
    434d5400                    # service_type "CMT"
    304131423243334400          # message_id "0A1B2C3D"
    02                          # source_addr_ton 2 (national)
    01                          # source_addr_npi 1 (ISDN)
    303737303039303031323300    # source_addr "07700900123"
    01                          # dest_addr_ton 1 (international)
    06                          # dest_addr_npi 6 (land mobile)
    34343737303039303034353600  # destination_addr "447700900456"
"""
CANCEL_SM_PDU = CancelSm(
    sequence_number=16,
    service_type="CMT",
    message_id="0A1B2C3D",
    source_addr_ton=2,
    source_addr_npi=1,
    source_addr="07700900123",
    dest_addr_ton=1,
    dest_addr_npi=6,
    destination_addr="447700900456",
)

# 4.9.2 cancel_sm_resp (header only)
CANCEL_SM_RESP = """
    00000010                    # command_length 16
    80000008                    # command_id cancel_sm_resp
    00000000                    # command_status ESME_ROK
    00000010                    # sequence_number 16
"""
CANCEL_SM_RESP_PDU = CancelSmResp(sequence_number=16)

# 4.10.1 replace_sm
REPLACE_SM = """
    00000057                    # command_length 87
    00000007                    # command_id replace_sm
    00000000                    # command_status 0
    00000011                    # sequence_number 17
    304131423243334400          # message_id "0A1B2C3D"
    02                          # source_addr_ton 2 (national)
    01                          # source_addr_npi 1 (ISDN)
    303737303039303031323300    # source_addr "07700900123"
    3236313132343130303030303030302b00  # schedule_delivery_time "261124100000000+"
    3030303030323030303030303030305200  # validity_period "000002000000000R" (2 days)
    01                          # registered_delivery 1
    00                          # sm_default_msg_id 0
    0b                          # sm_length 11
    48656c6c6f20616761696e      # short_message "Hello again"
"""
REPLACE_SM_PDU = ReplaceSm(
    sequence_number=17,
    message_id="0A1B2C3D",
    source_addr_ton=2,
    source_addr_npi=1,
    source_addr="07700900123",
    schedule_delivery_time="261124100000000+",
    validity_period="000002000000000R",
    registered_delivery=1,
    sm_default_msg_id=0,
    short_message=b"Hello again",
)

# 4.10.2 replace_sm_resp (header only)
REPLACE_SM_RESP = """
    00000010                    # command_length 16
    80000007                    # command_id replace_sm_resp
    00000000                    # command_status ESME_ROK
    00000011                    # sequence_number 17
"""
REPLACE_SM_RESP_PDU = ReplaceSmResp(sequence_number=17)

# =============================================================================================
# Ancillary operations (SMPP 3.4 section 4.11, 4.12)
# =============================================================================================

# 4.11.1 enquire_link (header only); 0x7FFFFFFF is the highest sequence_number (5.1.4)
ENQUIRE_LINK = """
    00000010                    # command_length 16
    00000015                    # command_id enquire_link
    00000000                    # command_status 0
    7fffffff                    # sequence_number 2147483647
"""
ENQUIRE_LINK_PDU = EnquireLink(sequence_number=0x7FFFFFFF)

# 4.11.2 enquire_link_resp (header only)
ENQUIRE_LINK_RESP = """
    00000010                    # command_length 16
    80000015                    # command_id enquire_link_resp
    00000000                    # command_status ESME_ROK
    7fffffff                    # sequence_number 2147483647
"""
ENQUIRE_LINK_RESP_PDU = EnquireLinkResp(sequence_number=0x7FFFFFFF)

# 4.12.1 alert_notification with ms_availability_status
ALERT_NOTIFICATION = """
    00000032                    # command_length 50
    00000102                    # command_id alert_notification
    00000000                    # command_status 0
    00010003                    # sequence_number 65539
    01                          # source_addr_ton 1 (international)
    01                          # source_addr_npi 1 (ISDN)
    34343737303039303034353600  # source_addr "447700900456" (the mobile now available)
    02                          # esme_addr_ton 2 (national)
    08                          # esme_addr_npi 8 (national)
    303737303039303031323300    # esme_addr "07700900123"
    0422 0001 00                # TLV ms_availability_status, length 1, 0 (available)
"""
ALERT_NOTIFICATION_PDU = AlertNotification(
    sequence_number=0x00010003,
    source_addr_ton=1,
    source_addr_npi=1,
    source_addr="447700900456",
    esme_addr_ton=2,
    esme_addr_npi=8,
    esme_addr="07700900123",
    tlvs=(Tlv(Tag.ms_availability_status, 0),),
)

# =============================================================================================
# The table
# =============================================================================================

CASES: list[tuple[str, str, Pdu]] = [
    ("generic_nack", GENERIC_NACK, GENERIC_NACK_PDU),
    ("bind_transmitter", BIND_TRANSMITTER, BIND_TRANSMITTER_PDU),
    ("bind_transmitter_resp", BIND_TRANSMITTER_RESP, BIND_TRANSMITTER_RESP_PDU),
    ("bind_receiver", BIND_RECEIVER, BIND_RECEIVER_PDU),
    ("bind_receiver_resp", BIND_RECEIVER_RESP, BIND_RECEIVER_RESP_PDU),
    ("bind_receiver_resp_refused", BIND_RECEIVER_RESP_REFUSED, BIND_RECEIVER_RESP_REFUSED_PDU),
    ("bind_transceiver", BIND_TRANSCEIVER, BIND_TRANSCEIVER_PDU),
    ("bind_transceiver_resp", BIND_TRANSCEIVER_RESP, BIND_TRANSCEIVER_RESP_PDU),
    ("outbind", OUTBIND, OUTBIND_PDU),
    ("unbind", UNBIND, UNBIND_PDU),
    ("unbind_resp", UNBIND_RESP, UNBIND_RESP_PDU),
    ("submit_sm_sar", SUBMIT_SM_SAR, SUBMIT_SM_SAR_PDU),
    ("submit_sm_payload", SUBMIT_SM_PAYLOAD, SUBMIT_SM_PAYLOAD_PDU),
    ("submit_sm_resp", SUBMIT_SM_RESP, SUBMIT_SM_RESP_PDU),
    ("submit_sm_resp_throttled", SUBMIT_SM_RESP_THROTTLED, SUBMIT_SM_RESP_THROTTLED_PDU),
    ("submit_multi", SUBMIT_MULTI, SUBMIT_MULTI_PDU),
    ("submit_multi_resp", SUBMIT_MULTI_RESP, SUBMIT_MULTI_RESP_PDU),
    ("deliver_sm_receipt", DELIVER_SM_RECEIPT, DELIVER_SM_RECEIPT_PDU),
    ("deliver_sm_mo_unknown_tlv", DELIVER_SM_MO, DELIVER_SM_MO_PDU),
    ("deliver_sm_resp", DELIVER_SM_RESP, DELIVER_SM_RESP_PDU),
    ("data_sm", DATA_SM, DATA_SM_PDU),
    ("data_sm_resp", DATA_SM_RESP, DATA_SM_RESP_PDU),
    ("query_sm", QUERY_SM, QUERY_SM_PDU),
    ("query_sm_resp", QUERY_SM_RESP, QUERY_SM_RESP_PDU),
    ("cancel_sm", CANCEL_SM, CANCEL_SM_PDU),
    ("cancel_sm_resp", CANCEL_SM_RESP, CANCEL_SM_RESP_PDU),
    ("replace_sm", REPLACE_SM, REPLACE_SM_PDU),
    ("replace_sm_resp", REPLACE_SM_RESP, REPLACE_SM_RESP_PDU),
    ("enquire_link", ENQUIRE_LINK, ENQUIRE_LINK_PDU),
    ("enquire_link_resp", ENQUIRE_LINK_RESP, ENQUIRE_LINK_RESP_PDU),
    ("alert_notification", ALERT_NOTIFICATION, ALERT_NOTIFICATION_PDU),
]

PARAMS = [pytest.param(vector, pdu, id=name) for name, vector, pdu in CASES]


# --- the vectors themselves are well formed (independent of the codec) ------------------------


@pytest.mark.parametrize(("vector", "pdu"), PARAMS)
def test_vector_is_self_consistent(vector: str, pdu: Pdu) -> None:
    """command_length matches the octet count and command_id matches the PDU's class.

    Guards the hand-written vectors against counting mistakes, without using the codec.
    """
    data = unhex(vector)
    command_length, command_id, command_status, _ = struct.unpack_from(">IIII", data)
    assert command_length == len(data)
    assert command_id == type(pdu).command_id
    assert command_id in set(CommandId)
    if not command_id & 0x80000000:
        # 3.2: command_status is only relevant in a response; a request sets it to NULL.
        assert command_status == 0


# --- both directions --------------------------------------------------------------------------


@pytest.mark.parametrize(("vector", "pdu"), PARAMS)
def test_decode_golden(vector: str, pdu: Pdu) -> None:
    decoded = decode_pdu(unhex(vector))
    assert type(decoded) is type(pdu)
    assert decoded == pdu


@pytest.mark.parametrize(("vector", "pdu"), PARAMS)
def test_encode_golden(vector: str, pdu: Pdu) -> None:
    assert pdu.encode().hex() == unhex(vector).hex()


def test_every_pdu_class_has_a_golden_vector() -> None:
    covered = {type(pdu) for _, _, pdu in CASES}
    missing = sorted(cls.__name__ for cls in PDU_CLASSES.values() if cls not in covered)
    assert not missing, f"PDU classes without a golden vector: {missing}"
    assert len(PDU_CLASSES) == 27  # SMPP 3.4 defines 27 PDUs (chapter 4)


def test_case_names_are_unique() -> None:
    names = [name for name, _, _ in CASES]
    assert len(names) == len(set(names))


# --- leniency: a deliver_sm_resp with no body at all ------------------------------------------

# Some SMSCs/ESMEs answer deliver_sm with a bare header although 4.6.2 shows a (NULL)
# message_id octet. We accept it; we always send the spec's form (the single NUL).
DELIVER_SM_RESP_EMPTY_BODY = """
    00000010                    # command_length 16
    80000005                    # command_id deliver_sm_resp
    00000000                    # command_status ESME_ROK
    00010002                    # sequence_number 65538
"""


def test_deliver_sm_resp_with_empty_body_decodes() -> None:
    data = unhex(DELIVER_SM_RESP_EMPTY_BODY)
    assert len(data) == 16
    decoded = decode_pdu(data)
    assert decoded == DeliverSmResp(sequence_number=0x00010002)
    assert decoded.message_id == ""
    assert decoded.command_status == 0


def test_deliver_sm_resp_is_encoded_with_the_null_message_id() -> None:
    encoded = DeliverSmResp(sequence_number=0x00010002).encode()
    # command_length 17: the header plus the one-octet empty message_id.
    assert encoded == unhex(DELIVER_SM_RESP_EMPTY_BODY.replace("00000010", "00000011", 1)) + b"\0"
    assert struct.unpack_from(">I", encoded)[0] == 17


def test_throttled_submit_sm_resp_has_empty_message_id() -> None:
    decoded = decode_pdu(unhex(SUBMIT_SM_RESP_THROTTLED))
    assert decoded == SubmitSmResp(sequence_number=12, command_status=0x58)
    assert isinstance(decoded, SubmitSmResp)
    assert decoded.message_id == ""
    assert len(decoded.encode()) == 16
