"""SMPP 3.4 protocol numbers as IntEnums.

Everything a reader would look up in the SMPP v3.4 specification (issue 1.2) — command_id
values (section 5.1.2.1), command_status values (5.1.3), TLV tags (5.3.2), data_coding (5.2.19),
esm_class bits (5.2.12), registered_delivery bits (5.2.17), message_state (5.2.28), TON and NPI
(5.2.5, 5.2.6) — lives here, in one place, under the names the specification uses.
"""

from __future__ import annotations

import enum
from typing import Final

from ..link import ReceiptState

__all__ = [
    "GENERIC_NACK_ID",
    "RECEIPT_STATES",
    "RESPONSE_BIT",
    "CommandId",
    "CommandStatus",
    "DataCoding",
    "EsmClass",
    "InterfaceVersion",
    "MessageState",
    "Npi",
    "RegisteredDelivery",
    "Tag",
    "Ton",
]

#: Bit 31 of command_id marks a response PDU.
RESPONSE_BIT = 0x80000000


class CommandId(enum.IntEnum):
    """command_id values (SMPP 3.4 section 5.1.2.1)."""

    generic_nack = 0x80000000
    bind_receiver = 0x00000001
    bind_receiver_resp = 0x80000001
    bind_transmitter = 0x00000002
    bind_transmitter_resp = 0x80000002
    query_sm = 0x00000003
    query_sm_resp = 0x80000003
    submit_sm = 0x00000004
    submit_sm_resp = 0x80000004
    deliver_sm = 0x00000005
    deliver_sm_resp = 0x80000005
    unbind = 0x00000006
    unbind_resp = 0x80000006
    replace_sm = 0x00000007
    replace_sm_resp = 0x80000007
    cancel_sm = 0x00000008
    cancel_sm_resp = 0x80000008
    bind_transceiver = 0x00000009
    bind_transceiver_resp = 0x80000009
    outbind = 0x0000000B
    enquire_link = 0x00000015
    enquire_link_resp = 0x80000015
    submit_multi = 0x00000021
    submit_multi_resp = 0x80000021
    alert_notification = 0x00000102
    data_sm = 0x00000103
    data_sm_resp = 0x80000103

    @property
    def is_response(self) -> bool:
        return bool(self & RESPONSE_BIT)


GENERIC_NACK_ID = CommandId.generic_nack


class CommandStatus(enum.IntEnum):
    """command_status values (SMPP 3.4 section 5.1.3, table 5-2).

    Values 0x400-0x4FF are reserved for SMSC vendors and arrive as plain ints.
    """

    ESME_ROK = 0x00000000
    ESME_RINVMSGLEN = 0x00000001
    ESME_RINVCMDLEN = 0x00000002
    ESME_RINVCMDID = 0x00000003
    ESME_RINVBNDSTS = 0x00000004
    ESME_RALYBND = 0x00000005
    ESME_RINVPRTFLG = 0x00000006
    ESME_RINVREGDLVFLG = 0x00000007
    ESME_RSYSERR = 0x00000008
    ESME_RINVSRCADR = 0x0000000A
    ESME_RINVDSTADR = 0x0000000B
    ESME_RINVMSGID = 0x0000000C
    ESME_RBINDFAIL = 0x0000000D
    ESME_RINVPASWD = 0x0000000E
    ESME_RINVSYSID = 0x0000000F
    ESME_RCANCELFAIL = 0x00000011
    ESME_RREPLACEFAIL = 0x00000013
    ESME_RMSGQFUL = 0x00000014
    ESME_RINVSERTYP = 0x00000015
    ESME_RINVNUMDESTS = 0x00000033
    ESME_RINVDLNAME = 0x00000034
    ESME_RINVDESTFLAG = 0x00000040
    ESME_RINVSUBREP = 0x00000042
    ESME_RINVESMCLASS = 0x00000043
    ESME_RCNTSUBDL = 0x00000044
    ESME_RSUBMITFAIL = 0x00000045
    ESME_RINVSRCTON = 0x00000048
    ESME_RINVSRCNPI = 0x00000049
    ESME_RINVDSTTON = 0x00000050
    ESME_RINVDSTNPI = 0x00000051
    ESME_RINVSYSTYP = 0x00000053
    ESME_RINVREPFLAG = 0x00000054
    ESME_RINVNUMMSGS = 0x00000055
    ESME_RTHROTTLED = 0x00000058
    ESME_RINVSCHED = 0x00000061
    ESME_RINVEXPIRY = 0x00000062
    ESME_RINVDFTMSGID = 0x00000063
    ESME_RX_T_APPN = 0x00000064
    ESME_RX_P_APPN = 0x00000065
    ESME_RX_R_APPN = 0x00000066
    ESME_RQUERYFAIL = 0x00000067
    ESME_RINVOPTPARSTREAM = 0x000000C0
    ESME_ROPTPARNOTALLWD = 0x000000C1
    ESME_RINVPARLEN = 0x000000C2
    ESME_RMISSINGOPTPARAM = 0x000000C3
    ESME_RINVOPTPARAMVAL = 0x000000C4
    ESME_RDELIVERYFAILURE = 0x000000FE
    ESME_RUNKNOWNERR = 0x000000FF


class Tag(enum.IntEnum):
    """Optional parameter (TLV) tags (SMPP 3.4 section 5.3.2, table 5-3)."""

    dest_addr_subunit = 0x0005
    dest_network_type = 0x0006
    dest_bearer_type = 0x0007
    dest_telematics_id = 0x0008
    source_addr_subunit = 0x000D
    source_network_type = 0x000E
    source_bearer_type = 0x000F
    source_telematics_id = 0x0010
    qos_time_to_live = 0x0017
    payload_type = 0x0019
    additional_status_info_text = 0x001D
    receipted_message_id = 0x001E
    ms_msg_wait_facilities = 0x0030
    privacy_indicator = 0x0201
    source_subaddress = 0x0202
    dest_subaddress = 0x0203
    user_message_reference = 0x0204
    user_response_code = 0x0205
    source_port = 0x020A
    destination_port = 0x020B
    sar_msg_ref_num = 0x020C
    language_indicator = 0x020D
    sar_total_segments = 0x020E
    sar_segment_seqnum = 0x020F
    sc_interface_version = 0x0210
    callback_num_pres_ind = 0x0302
    callback_num_atag = 0x0303
    number_of_messages = 0x0304
    callback_num = 0x0381
    dpf_result = 0x0420
    set_dpf = 0x0421
    ms_availability_status = 0x0422
    network_error_code = 0x0423
    message_payload = 0x0424
    delivery_failure_reason = 0x0425
    more_messages_to_send = 0x0426
    message_state = 0x0427
    ussd_service_op = 0x0501
    display_time = 0x1201
    sms_signal = 0x1203
    ms_validity = 0x1204
    alert_on_message_delivery = 0x130C
    its_reply_type = 0x1380
    its_session_info = 0x1383


class DataCoding(enum.IntEnum):
    """data_coding values (SMPP 3.4 section 5.2.19)."""

    SMSC_DEFAULT = 0x00  # usually GSM 03.38 unpacked; some carriers mean ASCII
    IA5 = 0x01  # IA5 / ASCII (CCITT T.50)
    OCTET_UNSPECIFIED_2 = 0x02  # 8-bit binary
    LATIN_1 = 0x03  # ISO-8859-1
    OCTET_UNSPECIFIED = 0x04  # 8-bit binary
    JIS = 0x05  # X 0208-1990
    CYRILLIC = 0x06  # ISO-8859-5
    LATIN_HEBREW = 0x07  # ISO-8859-8
    UCS2 = 0x08  # ISO/IEC-10646, sent as UTF-16BE
    PICTOGRAM = 0x09
    ISO_2022_JP = 0x0A  # music codes
    EXTENDED_KANJI_JIS = 0x0D  # X 0212-1990
    KS_C_5601 = 0x0E


class EsmClass(enum.IntFlag):
    """esm_class bit fields (SMPP 3.4 section 5.2.12).

    Bits 1-0 are the messaging mode, bits 5-2 the message type, bits 7-6 GSM features; use the
    ``*_MASK`` members to pull a field out before comparing it.
    """

    # Messaging mode (bits 1-0), submit_sm / submit_multi / data_sm
    DEFAULT_MODE = 0x00
    DATAGRAM_MODE = 0x01
    FORWARD_MODE = 0x02
    STORE_AND_FORWARD_MODE = 0x03
    MODE_MASK = 0x03
    # Message type (bits 5-2), deliver_sm / data_sm
    DEFAULT_TYPE = 0x00
    SMSC_DELIVERY_RECEIPT = 0x04
    SME_DELIVERY_ACK = 0x08
    SME_MANUAL_ACK = 0x10
    CONVERSATION_ABORT = 0x18
    INTERMEDIATE_DELIVERY_NOTIFICATION = 0x20
    TYPE_MASK = 0x3C
    # GSM network specific features (bits 7-6)
    UDHI = 0x40
    REPLY_PATH = 0x80
    UDHI_AND_REPLY_PATH = 0xC0


class RegisteredDelivery(enum.IntFlag):
    """registered_delivery bit fields (SMPP 3.4 section 5.2.17)."""

    NO_RECEIPT = 0x00
    RECEIPT_ALWAYS = 0x01  # on success or failure
    RECEIPT_ON_FAILURE = 0x02
    RECEIPT_MASK = 0x03
    SME_ACK_DELIVERY = 0x04
    SME_ACK_MANUAL = 0x08
    SME_ACK_BOTH = 0x0C
    SME_ACK_MASK = 0x0C
    INTERMEDIATE_NOTIFICATION = 0x10


class MessageState(enum.IntEnum):
    """message_state values (SMPP 3.4 section 5.2.28) with their receipt ``stat:`` words."""

    ENROUTE = 1
    DELIVERED = 2
    EXPIRED = 3
    DELETED = 4
    UNDELIVERABLE = 5
    ACCEPTED = 6
    UNKNOWN = 7
    REJECTED = 8

    @property
    def stat(self) -> str:
        """The seven-letter word a delivery receipt uses (Appendix B)."""
        return _STAT_WORDS[self]


_STAT_WORDS = {
    MessageState.ENROUTE: "ENROUTE",
    MessageState.DELIVERED: "DELIVRD",
    MessageState.EXPIRED: "EXPIRED",
    MessageState.DELETED: "DELETED",
    MessageState.UNDELIVERABLE: "UNDELIV",
    MessageState.ACCEPTED: "ACCEPTD",
    MessageState.UNKNOWN: "UNKNOWN",
    MessageState.REJECTED: "REJECTD",
}

#: message_state -> the protocol-neutral receipt state (smsengine.link), keyed by plain int.
#: The neutral numbering is message_state's, so each value equals its key: a receipt's
#: message_state goes up from the fast receipt path as it came (tests/smpp hold it to that).
RECEIPT_STATES: Final[dict[int, ReceiptState]] = {
    int(MessageState.ENROUTE): ReceiptState.ENROUTE,
    int(MessageState.DELIVERED): ReceiptState.DELIVERED,
    int(MessageState.EXPIRED): ReceiptState.EXPIRED,
    int(MessageState.DELETED): ReceiptState.DELETED,
    int(MessageState.UNDELIVERABLE): ReceiptState.UNDELIVERABLE,
    int(MessageState.ACCEPTED): ReceiptState.ACCEPTED,
    int(MessageState.UNKNOWN): ReceiptState.UNKNOWN,
    int(MessageState.REJECTED): ReceiptState.REJECTED,
}


class Ton(enum.IntEnum):
    """Type of Number (SMPP 3.4 section 5.2.5)."""

    UNKNOWN = 0
    INTERNATIONAL = 1
    NATIONAL = 2
    NETWORK_SPECIFIC = 3
    SUBSCRIBER_NUMBER = 4
    ALPHANUMERIC = 5
    ABBREVIATED = 6


class Npi(enum.IntEnum):
    """Numbering Plan Indicator (SMPP 3.4 section 5.2.6)."""

    UNKNOWN = 0
    ISDN = 1  # E.163 / E.164
    DATA = 3  # X.121
    TELEX = 4  # F.69
    LAND_MOBILE = 6  # E.212
    NATIONAL = 8
    PRIVATE = 9
    ERMES = 10
    INTERNET = 14  # IP
    WAP_CLIENT_ID = 18


class InterfaceVersion(enum.IntEnum):
    """interface_version values (SMPP 3.4 section 5.2.4)."""

    V33 = 0x33
    V34 = 0x34
