"""What every protocol's session shares (layer 1, sans-I/O): the events a session reports, the
errors by meaning, the request window with its deadlines, the :class:`Session` interface the
binds drive, and the receipt states each protocol maps into.

SMPP (:mod:`smsengine.smpp`) and CMPP (:mod:`smsengine.cmpp`) stand on this package and on
nothing of each other's; the binds (:mod:`smsengine.bind`) and the engine see only it.
Nothing here does I/O or reads a clock.
"""

from .errors import (
    NO_STATUS,
    AlreadyBoundError,
    AuthenticationError,
    LinkError,
    NotSentError,
    OutcomeUnknownError,
    SessionStateError,
    StatusError,
    ThrottledError,
)
from .events import (
    BindFailed,
    BindMode,
    Bound,
    ConnectionDead,
    IncomingRequest,
    ProtocolError,
    ReceiptReceived,
    RequestFailed,
    ResponseReceived,
    SessionEvent,
    Unbound,
)
from .receipt import FINAL_RECEIPT_STATES, ReceiptState
from .session import LinkConfig, Session
from .window import Pending, Window

__all__ = [
    "FINAL_RECEIPT_STATES",
    "NO_STATUS",
    "AlreadyBoundError",
    "AuthenticationError",
    "BindFailed",
    "BindMode",
    "Bound",
    "ConnectionDead",
    "IncomingRequest",
    "LinkConfig",
    "LinkError",
    "NotSentError",
    "OutcomeUnknownError",
    "Pending",
    "ProtocolError",
    "ReceiptReceived",
    "ReceiptState",
    "RequestFailed",
    "ResponseReceived",
    "Session",
    "SessionEvent",
    "SessionStateError",
    "StatusError",
    "ThrottledError",
    "Unbound",
    "Window",
]
