"""CMPP 2.0 / 3.0 protocol numbers as IntEnums.

Everything a reader would look up in the CMPP reference (``/work/shared/specs/cmpp.md``) lives
here under the protocol's own names: Command_Id values (section 3), the Version octet (4.1),
CONNECT_RESP Status, SUBMIT_RESP and DELIVER_RESP Result codes (9), Msg_Fmt (7.1) and the
status-report Stat values (8).
"""

from __future__ import annotations

import enum
from typing import Final

from ..link import ReceiptState

__all__ = [
    "HEADER_LENGTH",
    "MAX_DEST_TERMINALS",
    "MAX_DEST_TERMINALS_HARD",
    "RESPONSE_BIT",
    "STAT_RECEIPT_STATES",
    "CommandId",
    "ConnectStatus",
    "DeliverResult",
    "MsgFmt",
    "Stat",
    "SubmitResult",
    "Version",
    "is_v30_layout",
    "receipt_state",
]

#: Total_Length, Command_Id, Sequence_Id: three big-endian uint32 (section 2).
HEADER_LENGTH: Final = 12
#: A response's Command_Id is the request's with this bit set (section 3).
RESPONSE_BIT: Final = 0x80000000
#: DestUsr_tl: the spec says "fewer than 100" (section 4.6, 7.2); the default cap when encoding.
MAX_DEST_TERMINALS: Final = 99
#: pycmpp and cmppy allow 100; no implementation goes further. Values are checked against this.
MAX_DEST_TERMINALS_HARD: Final = 100


class CommandId(enum.IntEnum):
    """Command_Id values (section 3). Only CONNECT … ACTIVE_TEST concern an SP."""

    CMPP_CONNECT = 0x00000001
    CMPP_CONNECT_RESP = 0x80000001
    CMPP_TERMINATE = 0x00000002
    CMPP_TERMINATE_RESP = 0x80000002
    CMPP_SUBMIT = 0x00000004
    CMPP_SUBMIT_RESP = 0x80000004
    CMPP_DELIVER = 0x00000005
    CMPP_DELIVER_RESP = 0x80000005
    CMPP_QUERY = 0x00000006
    CMPP_QUERY_RESP = 0x80000006
    CMPP_CANCEL = 0x00000007
    CMPP_CANCEL_RESP = 0x80000007
    CMPP_ACTIVE_TEST = 0x00000008
    CMPP_ACTIVE_TEST_RESP = 0x80000008
    CMPP_FWD = 0x00000009
    CMPP_FWD_RESP = 0x80000009
    CMPP_MT_ROUTE = 0x00000010
    CMPP_MT_ROUTE_RESP = 0x80000010
    CMPP_MO_ROUTE = 0x00000011
    CMPP_MO_ROUTE_RESP = 0x80000011
    CMPP_GET_MT_ROUTE = 0x00000012
    CMPP_GET_MT_ROUTE_RESP = 0x80000012
    CMPP_MT_ROUTE_UPDATE = 0x00000013
    CMPP_MT_ROUTE_UPDATE_RESP = 0x80000013
    CMPP_MO_ROUTE_UPDATE = 0x00000014
    CMPP_MO_ROUTE_UPDATE_RESP = 0x80000014
    CMPP_PUSH_MT_ROUTE_UPDATE = 0x00000015
    CMPP_PUSH_MT_ROUTE_UPDATE_RESP = 0x80000015
    CMPP_PUSH_MO_ROUTE_UPDATE = 0x00000016
    CMPP_PUSH_MO_ROUTE_UPDATE_RESP = 0x80000016
    CMPP_GET_MO_ROUTE = 0x00000017
    CMPP_GET_MO_ROUTE_RESP = 0x80000017

    @property
    def is_response(self) -> bool:
        return bool(self & RESPONSE_BIT)


class Version(enum.IntEnum):
    """The CONNECT Version octet: high nibble major, low nibble minor (section 4.1).

    Other values (0x21 from pycmpp, 0x12 from one real gateway) are carried as plain ints; the
    codec lays PDUs out as 3.0 for any value >= 0x30 and as 2.0 below (see
    :func:`is_v30_layout`).
    """

    V20 = 0x20
    V30 = 0x30


def is_v30_layout(version: int) -> bool:
    """True when ``version`` uses the 3.0 body layouts (0x30 and above), False for 2.x."""
    return version >= 0x30


class ConnectStatus(enum.IntEnum):
    """CMPP_CONNECT_RESP Status (section 9.1); 5 and above are "other errors" (vendor codes)."""

    OK = 0
    STRUCTURE_ERROR = 1
    ILLEGAL_SOURCE_ADDR = 2
    AUTHENTICATION_FAILED = 3
    VERSION_TOO_HIGH = 4


class SubmitResult(enum.IntEnum):
    """CMPP_SUBMIT_RESP Result (section 9.2). 2.0 defined 0-9; 2.1/3.0 extended to 13;
    100-199 are vendor codes and arrive as plain ints."""

    OK = 0
    STRUCTURE_ERROR = 1
    COMMAND_ERROR = 2
    DUPLICATE_SEQUENCE = 3
    MESSAGE_LENGTH_ERROR = 4
    FEE_CODE_ERROR = 5
    EXCEEDS_MAX_LENGTH = 6
    SERVICE_ID_ERROR = 7
    FLOW_CONTROL = 8
    FEE_TERMINAL_NOT_SERVED = 9
    SRC_ID_ERROR = 10
    MSG_SRC_ERROR = 11
    FEE_TERMINAL_ID_ERROR = 12
    DEST_TERMINAL_ID_ERROR = 13


class DeliverResult(enum.IntEnum):
    """CMPP_DELIVER_RESP Result sent by the SP (section 9.3); 9 and above are "other"."""

    OK = 0
    STRUCTURE_ERROR = 1
    COMMAND_ERROR = 2
    DUPLICATE_SEQUENCE = 3
    MESSAGE_LENGTH_ERROR = 4
    FEE_CODE_ERROR = 5
    EXCEEDS_MAX_LENGTH = 6
    SERVICE_ID_ERROR = 7
    FLOW_CONTROL = 8
    OTHER = 9


class MsgFmt(enum.IntEnum):
    """Msg_Fmt (section 7.1). Vendor stacks send other GSM DCS values: keep them as ints and
    treat the content as binary."""

    ASCII = 0
    SIM_WRITE = 3
    BINARY = 4
    UCS2 = 8
    GB = 15


class Stat(enum.StrEnum):
    """Final states in a status report's Stat field (section 8). Gateways also send
    ``XX:nnnn`` error forms and vendor codes: store Stat verbatim; only DELIVRD is success."""

    DELIVRD = "DELIVRD"
    EXPIRED = "EXPIRED"
    DELETED = "DELETED"
    UNDELIV = "UNDELIV"
    ACCEPTD = "ACCEPTD"
    UNKNOWN = "UNKNOWN"
    REJECTD = "REJECTD"


#: Report Stat -> the protocol-neutral receipt state (smsengine.link); see receipt_state().
STAT_RECEIPT_STATES: Final[dict[str, ReceiptState]] = {
    "DELIVRD": ReceiptState.DELIVERED,
    "EXPIRED": ReceiptState.EXPIRED,
    "DELETED": ReceiptState.DELETED,
    "UNDELIV": ReceiptState.UNDELIVERABLE,
    "ACCEPTD": ReceiptState.ACCEPTED,  # intermediate: gateways should not send it
    "UNKNOWN": ReceiptState.UNKNOWN,
    "REJECTD": ReceiptState.REJECTED,
}


def receipt_state(stat: str) -> ReceiptState:
    """The receipt state a report's Stat stands for. Anything but the seven words (the
    gateway's ``XX:nnnn`` error forms, vendor codes) is a failure to deliver, UNDELIVERABLE:
    section 8 makes DELIVRD the only success."""
    state = STAT_RECEIPT_STATES.get(stat)
    if state is None:
        state = STAT_RECEIPT_STATES.get(stat.strip().upper(), ReceiptState.UNDELIVERABLE)
    return state
