"""SGIP 1.2 protocol numbers as IntEnums.

Everything a reader would look up in the SGIP reference (``/work/shared/specs/sgip.md``) lives
here under the protocol's own names: the header and size limits (sections 1, 2), Command ID
values (3), Login Type (4.1), the Submit field values (4.4, 9.4), MessageCoding (7.1), the
Report's ReportType and State (4.6, 8), UserRpt's UserCondition (4.7), Trace_Resp's Result
(4.8), the response Result codes (9.1) and the Report ErrorCode values (9.2).
"""

from __future__ import annotations

import enum
from typing import Final

__all__ = [
    "CHARGE_NUMBER_SP_PAYS",
    "HEADER_LENGTH",
    "MAX_PDU_LENGTH",
    "MAX_USER_COUNT",
    "RESERVE_LENGTH",
    "RESPONSE_BIT",
    "AgentFlag",
    "CommandId",
    "ErrorCode",
    "FeeType",
    "LoginType",
    "MessageCoding",
    "MessageType",
    "MorelatetoMTFlag",
    "ReportFlag",
    "ReportType",
    "Result",
    "State",
    "TpPid",
    "TpUdhi",
    "TraceResult",
    "UserCondition",
]

#: Message Length, Command ID and the 12-octet Sequence Number: five big-endian uint32 (2).
HEADER_LENGTH: Final = 20
#: A response's Command ID is the request's with this bit set (3).
RESPONSE_BIT: Final = 0x80000000
#: "每个消息包最大不超过 2K 字节" (1): the largest PDU this codec builds or accepts as a value.
#: (The framer reads frames up to 4096 octets without dropping the connection, see framer.py.)
MAX_PDU_LENGTH: Final = 2048
#: Submit UserCount is 1-100 (4.4).
MAX_USER_COUNT: Final = 100
#: Every Reserve field is 8 octets.
RESERVE_LENGTH: Final = 8
#: ChargeNumber of 21 ASCII zeros: the SP pays (4.4).
CHARGE_NUMBER_SP_PAYS: Final = "0" * 21


class CommandId(enum.IntEnum):
    """Command ID values (3). An SP uses Bind … Report, UserRpt and Trace; the GNS and
    billing-centre commands are listed for completeness and are not decoded here."""

    SGIP_BIND = 0x00000001
    SGIP_BIND_RESP = 0x80000001
    SGIP_UNBIND = 0x00000002
    SGIP_UNBIND_RESP = 0x80000002
    SGIP_SUBMIT = 0x00000003
    SGIP_SUBMIT_RESP = 0x80000003
    SGIP_DELIVER = 0x00000004
    SGIP_DELIVER_RESP = 0x80000004
    SGIP_REPORT = 0x00000005
    SGIP_REPORT_RESP = 0x80000005
    SGIP_ADDSP = 0x00000006
    SGIP_ADDSP_RESP = 0x80000006
    SGIP_MODIFYSP = 0x00000007
    SGIP_MODIFYSP_RESP = 0x80000007
    SGIP_DELETESP = 0x00000008
    SGIP_DELETESP_RESP = 0x80000008
    SGIP_QUERYROUTE = 0x00000009
    SGIP_QUERYROUTE_RESP = 0x80000009
    SGIP_ADDTELESEG = 0x0000000A
    SGIP_ADDTELESEG_RESP = 0x8000000A
    SGIP_MODIFYTELESEG = 0x0000000B
    SGIP_MODIFYTELESEG_RESP = 0x8000000B
    SGIP_DELETETELESEG = 0x0000000C
    SGIP_DELETETELESEG_RESP = 0x8000000C
    SGIP_ADDSMG = 0x0000000D
    SGIP_ADDSMG_RESP = 0x8000000D
    SGIP_MODIFYSMG = 0x0000000E
    # The spec's table prints 0x0000000e here, a typo (3): responses set the top bit.
    SGIP_MODIFYSMG_RESP = 0x8000000E
    SGIP_DELETESMG = 0x0000000F
    SGIP_DELETESMG_RESP = 0x8000000F
    SGIP_CHECKUSER = 0x00000010
    SGIP_CHECKUSER_RESP = 0x80000010
    SGIP_USERRPT = 0x00000011
    SGIP_USERRPT_RESP = 0x80000011
    SGIP_TRACE = 0x00001000
    SGIP_TRACE_RESP = 0x80001000

    @property
    def is_response(self) -> bool:
        return bool(self & RESPONSE_BIT)


class LoginType(enum.IntEnum):
    """Bind Login Type (4.1); other values are reserved."""

    SP_TO_SMG = 1
    SMG_TO_SP = 2
    SMG_TO_SMG = 3
    SMG_TO_GNS = 4
    GNS_TO_SMG = 5
    GNS_TO_GNS = 6
    TRACE = 11


class Result(enum.IntEnum):
    """The Result octet of every response (9.1).

    0-11 are SGIP 1.2; 13-19 were added by 1.3 (one source only). 88 is a vendor code that
    SMSGate treats as flow control (9.2); any other value is kept as a plain int.
    """

    OK = 0
    ILLEGAL_LOGIN = 1
    REPEATED_LOGIN = 2
    TOO_MANY_CONNECTIONS = 3
    WRONG_LOGIN_TYPE = 4
    PARAMETER_FORMAT_ERROR = 5
    ILLEGAL_MOBILE_NUMBER = 6
    MESSAGE_ID_ERROR = 7
    LENGTH_ERROR = 8
    ILLEGAL_SEQUENCE_NUMBER = 9
    ILLEGAL_GNS_OPERATION = 10
    NODE_BUSY = 11
    SERVICE_CODE_NOT_REGISTERED = 13
    FEE_TYPE_ERROR = 14
    LINKID_MISMATCH = 17
    USER_NOT_SUBSCRIBED = 18
    USER_COUNT_MUST_BE_ONE = 19
    FLOW_CONTROL = 88


class ErrorCode(enum.IntEnum):
    """The Report ErrorCode octet, meaningful when State is 2 (9.2), with the 1.2 meanings.

    SGIP 1.3 redefines 32 (packet format error), 33 (rate limit exceeded) and 34 (logging in
    too often) and adds vendor codes; they are kept as plain ints and stored verbatim.
    """

    DESTINATION_UNREACHABLE = 21
    ROUTING_ERROR = 22
    ROUTE_DOES_NOT_EXIST = 23
    CHARGED_NUMBER_INVALID = 24
    USER_CANNOT_BE_REACHED = 25
    HANDSET_MEMORY_FULL = 26
    HANDSET_DOES_NOT_SUPPORT_SMS = 27
    HANDSET_RECEIVE_ERROR = 28
    UNKNOWN_USER = 29
    FUNCTION_NOT_PROVIDED = 30
    ILLEGAL_DEVICE = 31
    SYSTEM_FAILURE = 32
    SMSC_QUEUE_FULL = 33


class FeeType(enum.IntEnum):
    """Submit FeeType (9.4)."""

    SEND_RECORD = 0
    FREE = 1
    PER_MESSAGE = 2
    MONTHLY = 3
    CHARGED_BY_SP = 4


class AgentFlag(enum.IntEnum):
    """Submit AgentFlag (4.4): 应收 / 实收."""

    RECEIVABLE = 0
    COLLECTED = 1


class MorelatetoMTFlag(enum.IntEnum):
    """Submit MorelatetoMTFlag (4.4). SGIP 1.3 forbids an SP to send 3."""

    FIRST_MT_FOR_MO = 0
    FURTHER_MT_FOR_MO = 1
    MT_NOT_FOR_MO = 2
    SYSTEM_FEEDBACK = 3


class ReportFlag(enum.IntEnum):
    """Submit ReportFlag (4.4). The default, 0, reports only a final failure."""

    ON_FAILURE = 0
    ALWAYS = 1
    NEVER = 2
    MONTHLY_FEE = 3


class TpPid(enum.IntEnum):
    """TP_pid, the GSM 03.40 TP-Protocol-Identifier (4.4); an SP sends 0."""

    DEFAULT = 0


class TpUdhi(enum.IntEnum):
    """TP_udhi (4.4, 7.3): bit 0 set means MessageContent starts with a UDH."""

    NO_UDH = 0
    UDH = 1


class MessageCoding(enum.IntEnum):
    """MessageCoding (7.1). Other values are GSM 03.38 DCS values: keep them as ints and treat
    the content as binary. GBK is encoded as gbk and decoded as gb18030 (its superset)."""

    ASCII = 0
    SIM_WRITE = 3
    BINARY = 4
    UCS2 = 8
    GBK = 15


class MessageType(enum.IntEnum):
    """Submit MessageType (4.4); only 0 is defined."""

    SMS = 0


class ReportType(enum.IntEnum):
    """Report ReportType (4.6)."""

    SUBMIT = 0
    DELIVER = 1


class State(enum.IntEnum):
    """Report State (4.6, 8). Only DELIVERED is success; WAITING is intermediate."""

    DELIVERED = 0
    WAITING = 1
    FAILED = 2


class UserCondition(enum.IntEnum):
    """UserRpt UserCondition (4.7)."""

    DEREGISTERED = 0
    SUSPENDED_FOR_ARREARS = 1
    BACK_TO_NORMAL = 2


class TraceResult(enum.IntEnum):
    """The Result of one node in a Trace_Resp (4.8)."""

    RECEIVED = 0
    PENDING = 1
