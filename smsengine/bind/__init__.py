"""Sessions over real connections (layer 3): asyncio adapters around the sans-I/O protocol
state machines, and keepers that hold binds up."""

from ..smpp.session import BindMode, SessionConfig
from .cmpp import CmppBind, CmppBindKeeper
from .smpp import Backoff, BindEvent, BindKeeper, SmppBind

__all__ = [
    "Backoff",
    "BindEvent",
    "BindKeeper",
    "BindMode",
    "CmppBind",
    "CmppBindKeeper",
    "SessionConfig",
    "SmppBind",
]
