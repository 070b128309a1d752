"""SMGP 3.0 protocol numbers as IntEnums (China Telecom's Short Message Gateway Protocol).

Everything a reader would look up in the SMGP reference (``/work/shared/specs/smgp.md``) lives
here under the protocol's own names: RequestID values (section 3), LoginMode (4.1),
ClientVersion (4.1, 13), MsgType (4.3), the optional-parameter tags (5), MsgFormat (8.1), the
status-report Stat and Err values (9) and the Status codes (10).
"""

from __future__ import annotations

import enum
from typing import Final

__all__ = [
    "DEFAULT_PORT",
    "HEADER_LENGTH",
    "MAX_DEST_TERM_IDS",
    "MAX_MSG_LENGTH",
    "RESPONSE_BIT",
    "ChargeUserType",
    "FeeType",
    "LoginMode",
    "MsgFormat",
    "MsgType",
    "Priority",
    "ReportErr",
    "RequestId",
    "Stat",
    "Status",
    "SubmitMsgType",
    "Tag",
    "Version",
    "has_tlvs",
]

#: PacketLength, RequestID, SequenceID: three big-endian uint32 (section 2).
HEADER_LENGTH: Final = 12
#: A response's RequestID is the request's with this bit set (section 3).
RESPONSE_BIT: Final = 0x80000000
#: DestTermIDCount is 1..100 ("<= 100", section 4.3).
MAX_DEST_TERM_IDS: Final = 100
#: MsgLength of an MT message, UDH included, is at most 140 (section 8.2).
MAX_MSG_LENGTH: Final = 140
#: SP <-> SMGW (section 12.5).
DEFAULT_PORT: Final = 8890


class RequestId(enum.IntEnum):
    """RequestID values (section 3). An SP uses LOGIN … ACTIVE_TEST, EXIT and QUERY; the
    others are SMGW <-> SMGW, GNS and prepaid-platform messages."""

    LOGIN = 0x00000001
    LOGIN_RESP = 0x80000001
    SUBMIT = 0x00000002
    SUBMIT_RESP = 0x80000002
    DELIVER = 0x00000003
    DELIVER_RESP = 0x80000003
    ACTIVE_TEST = 0x00000004
    ACTIVE_TEST_RESP = 0x80000004
    FORWARD = 0x00000005
    FORWARD_RESP = 0x80000005
    EXIT = 0x00000006
    EXIT_RESP = 0x80000006
    QUERY = 0x00000007
    QUERY_RESP = 0x80000007
    QUERY_TE_ROUTE = 0x00000008
    QUERY_TE_ROUTE_RESP = 0x80000008
    QUERY_SP_ROUTE = 0x00000009
    QUERY_SP_ROUTE_RESP = 0x80000009
    PAYMENT_REQUEST = 0x0000000A
    PAYMENT_REQUEST_RESP = 0x8000000A
    PAYMENT_AFFIRM = 0x0000000B
    PAYMENT_AFFIRM_RESP = 0x8000000B
    QUERY_USER_STATE = 0x0000000C
    QUERY_USER_STATE_RESP = 0x8000000C
    GET_ALL_TE_ROUTE = 0x0000000D
    GET_ALL_TE_ROUTE_RESP = 0x8000000D
    GET_ALL_SP_ROUTE = 0x0000000E
    GET_ALL_SP_ROUTE_RESP = 0x8000000E
    UPDATE_TE_ROUTE = 0x0000000F
    UPDATE_TE_ROUTE_RESP = 0x8000000F
    UPDATE_SP_ROUTE = 0x00000010
    UPDATE_SP_ROUTE_RESP = 0x80000010
    PUSH_UPDATE_TE_ROUTE = 0x00000011
    PUSH_UPDATE_TE_ROUTE_RESP = 0x80000011
    PUSH_UPDATE_SP_ROUTE = 0x00000012
    PUSH_UPDATE_SP_ROUTE_RESP = 0x80000012

    @property
    def is_response(self) -> bool:
        return bool(self & RESPONSE_BIT)


class Version(enum.IntEnum):
    """ClientVersion / ServerVersion: high nibble major, low nibble minor (4.1, section 13).

    3.0 carries TLVs; 2.0 has the same fixed bodies and no TLVs; 1.3's Submit has no
    FixedFee (⚠1 in the reference). Other values are carried as plain ints.
    """

    V13 = 0x13
    V20 = 0x20
    V30 = 0x30


def has_tlvs(version: int) -> bool:
    """True when ``version`` sends optional parameters (3.0 and above)."""
    return version >= 0x30


class LoginMode(enum.IntEnum):
    """Login LoginMode (4.1)."""

    SEND = 0  # MT only
    RECEIVE = 1  # MO and reports only
    TRANSMIT = 2  # both


class MsgType(enum.IntEnum):
    """Submit MsgType (4.3). An SP sends MT."""

    MO = 0
    MT = 6
    P2P = 7


class Priority(enum.IntEnum):
    """Submit Priority (4.3); the API appendix allows 0-9, send 0-3."""

    LOW = 0
    NORMAL = 1
    HIGHER = 2
    HIGH = 3


class FeeType(enum.StrEnum):
    """Submit FeeType, a 2-character Octet String (4.3). Gateways may know others ("04")."""

    FREE = "00"
    PER_MESSAGE = "01"
    MONTHLY = "02"
    CAPPED = "03"


class MsgFormat(enum.IntEnum):
    """MsgFormat (8.1). The spec asks 15 for text; SP stacks send 8 for Chinese. Other
    values are kept as ints and the content treated as binary."""

    ASCII = 0
    SIM_WRITE = 3
    BINARY = 4
    UCS2 = 8
    GB18030 = 15
    USIM = 246


class Tag(enum.IntEnum):
    """Optional-parameter (TLV) tags (section 5). The spec spells 0x000C's name
    "SPDealReslt" and the field "SPDealResult"."""

    TP_PID = 0x0001
    TP_UDHI = 0x0002
    LINK_ID = 0x0003
    CHARGE_USER_TYPE = 0x0004
    CHARGE_TERM_TYPE = 0x0005
    CHARGE_TERM_PSEUDO = 0x0006
    DEST_TERM_TYPE = 0x0007
    DEST_TERM_PSEUDO = 0x0008
    PK_TOTAL = 0x0009
    PK_NUMBER = 0x000A
    SUBMIT_MSG_TYPE = 0x000B
    SP_DEAL_RESULT = 0x000C
    SRC_TERM_TYPE = 0x000D
    SRC_TERM_PSEUDO = 0x000E
    NODES_COUNT = 0x000F
    MSG_SRC = 0x0010
    SRC_TYPE = 0x0011
    M_SERVICE_ID = 0x0012


class ChargeUserType(enum.IntEnum):
    """The ChargeUserType TLV (section 5)."""

    RECEIVER = 0
    SENDER = 1
    SP = 2
    CHARGE_TERM = 3  # see ChargeTermID / ChargeTermPseudo


class SubmitMsgType(enum.IntEnum):
    """The SubmitMsgType TLV (section 5); one codec (⚠1) adds 6 and 7, kept as ints."""

    NORMAL = 0
    WEB_SUBSCRIBE = 1
    WEB_UNSUBSCRIBE = 2
    HANDSET_SUBSCRIBE = 3
    HANDSET_UNSUBSCRIBE = 4
    MONTHLY_FEE_NOTICE = 5


class Status(enum.IntEnum):
    """The 4-octet Status of Login_Resp, Submit_Resp and Deliver_Resp (section 10).

    56-72 are route / GNS errors the reference does not name one by one, 128-255 vendor
    codes: those arrive as plain ints. Only 0 is success.
    """

    OK = 0
    SYSTEM_BUSY = 1
    TOO_MANY_CONNECTIONS = 2
    MESSAGE_STRUCTURE_ERROR = 10
    COMMAND_ERROR = 11
    DUPLICATE_SEQUENCE = 12
    IP_ADDRESS_ERROR = 20
    AUTHENTICATION_ERROR = 21
    VERSION_TOO_HIGH = 22
    INVALID_MSG_TYPE = 30
    INVALID_PRIORITY = 31
    INVALID_FEE_TYPE = 32
    INVALID_FEE_CODE = 33
    INVALID_MSG_FORMAT = 34
    INVALID_TIME_FORMAT = 35
    INVALID_MSG_LENGTH = 36
    VALIDITY_EXPIRED = 37
    INVALID_QUERY_TYPE = 38
    ROUTING_ERROR = 39
    INVALID_FIXED_FEE = 40
    INVALID_UPDATE_TYPE = 41
    INVALID_ROUTE_ID = 42
    INVALID_SERVICE_ID = 43
    INVALID_VALID_TIME = 44
    INVALID_AT_TIME = 45
    INVALID_SRC_TERM_ID = 46
    INVALID_DEST_TERM_ID = 47
    INVALID_CHARGE_TERM_ID = 48
    INVALID_SP_CODE = 49
    INVALID_M_SERVICE_ID = 73
    SP_TIME_WINDOW = 74  # SP may not send in this time window
    SP_DAILY_LIMIT = 75  # SP exceeded its daily volume
    SP_ACCOUNT_EXPIRED = 76


class Stat(enum.StrEnum):
    """Final states in a status report's stat field (section 9). Gateways send others
    (DTBLACK, VMFLUCTL …): store stat verbatim; only DELIVRD is success."""

    DELIVRD = "DELIVRD"
    EXPIRED = "EXPIRED"
    DELETED = "DELETED"
    UNDELIV = "UNDELIV"
    ACCEPTD = "ACCEPTD"
    UNKNOWN = "UNKNOWN"
    REJECTD = "REJECTD"


class ReportErr(enum.IntEnum):
    """A status report's 3-digit err field (section 9); gateways emit others, keep them."""

    SUCCESS = 0
    USER_UNREACHABLE = 1
    USER_BUSY = 2
    TERMINAL_LACKS_COMPONENT = 3
    ILLEGAL_USER = 4
    BLACKLISTED = 5
    SYSTEM_ERROR = 6
    MEMORY_FULL = 7
    NOT_A_MESSAGING_TERMINAL = 8
    DATA_ERROR = 9
    DATA_LOST = 10
    UNKNOWN = 999
