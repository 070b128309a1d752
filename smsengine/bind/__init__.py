"""Sessions over real connections (layer 3): one asyncio adapter (:class:`Bind`) around any
protocol's sans-I/O session (:class:`smsengine.link.Session`), its SMPP and CMPP forms, and
the keepers that hold binds up, over TCP or TLS (:mod:`.tls`)."""

from ..link import BindMode
from ..smpp.session import SessionConfig
from .base import Backoff, Bind, BindEvent, Keeper
from .cmpp import CmppBind, CmppBindKeeper
from .smgp import SmgpBind, SmgpBindKeeper
from .smpp import BindKeeper, SmppBind
from .tls import (
    TlsError,
    TlsFileError,
    TlsHandshakeError,
    TlsVerificationError,
    client_context,
    server_context,
)

__all__ = [
    "Backoff",
    "Bind",
    "BindEvent",
    "BindKeeper",
    "BindMode",
    "CmppBind",
    "CmppBindKeeper",
    "Keeper",
    "SessionConfig",
    "SmgpBind",
    "SmgpBindKeeper",
    "SmppBind",
    "TlsError",
    "TlsFileError",
    "TlsHandshakeError",
    "TlsVerificationError",
    "client_context",
    "server_context",
]
