"""SMGP Login authenticators (section 6 of the SMGP reference), sans-I/O.

AuthenticatorClient = MD5(ClientID + 7 x NUL + shared secret + TimeStamp as ``%010d``);
AuthenticatorServer = MD5(Status + AuthenticatorClient + shared secret).

The clock is never read here: the caller passes its local (China time) ``time.struct_time``
— or anything with ``tm_mon`` … ``tm_sec`` — to :func:`timestamp_now`.

ClientID is hashed as given, not padded to its 8-octet field: every implementation the
reference read does that, and with the usual 8-character ClientID both readings agree
(``pad_client_id=True`` gives the other one). The server's Status is 4 octets big-endian
(the field's width); one implementation hashes 1 octet, so :func:`verify_server` accepts
either — whether a mismatch is fatal is the caller's policy (the reference: a warning).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Protocol

__all__ = [
    "LocalTime",
    "authenticator_client",
    "authenticator_server",
    "format_timestamp",
    "timestamp_now",
    "verify_client",
    "verify_server",
]


class LocalTime(Protocol):
    """The fields of ``time.struct_time`` that the TimeStamp uses."""

    @property
    def tm_mon(self) -> int: ...
    @property
    def tm_mday(self) -> int: ...
    @property
    def tm_hour(self) -> int: ...
    @property
    def tm_min(self) -> int: ...
    @property
    def tm_sec(self) -> int: ...


def _bytes(value: str | bytes) -> bytes:
    return value.encode("latin-1") if isinstance(value, str) else value


def _md5(data: bytes) -> bytes:
    return hashlib.md5(data, usedforsecurity=False).digest()


def timestamp_now(local: LocalTime) -> int:
    """The Login TimeStamp for ``local``: the integer whose decimal digits are MMDDHHMMSS
    (March 1st 00:00:00 gives 301000000, the spec's example)."""
    return (
        local.tm_mon * 100_000_000
        + local.tm_mday * 1_000_000
        + local.tm_hour * 10_000
        + local.tm_min * 100
        + min(local.tm_sec, 59)  # struct_time allows a leap second 60/61
    )


def format_timestamp(timestamp: int) -> str:
    """The TimeStamp as it enters the digest: ten digits, zero-padded (``%010d``)."""
    if not 0 <= timestamp <= 9_999_999_999:
        raise ValueError(f"timestamp {timestamp} is not MMDDHHMMSS")
    return f"{timestamp:010d}"


def authenticator_client(
    client_id: str | bytes, secret: str | bytes, timestamp: int, *, pad_client_id: bool = False
) -> bytes:
    """AuthenticatorClient = MD5(ClientID + 7 x NUL + secret + TimeStamp as "%010d").

    ``pad_client_id`` right-pads ClientID with NUL to its 8-octet field first (the spec's
    literal reading; no implementation read does it)."""
    cid = _bytes(client_id)
    if pad_client_id:
        cid = cid.ljust(8, b"\0")
    return _md5(cid + bytes(7) + _bytes(secret) + format_timestamp(timestamp).encode("ascii"))


def authenticator_server(
    status: int, auth_client: bytes, secret: str | bytes, status_width: int = 4
) -> bytes:
    """AuthenticatorServer = MD5(Status + AuthenticatorClient + secret), Status big-endian in
    ``status_width`` octets: 4 (the field's width; what a fake SMGW sends) or 1."""
    if status_width not in (1, 4):
        raise ValueError(f"status_width must be 1 or 4, got {status_width}")
    return _md5(status.to_bytes(status_width, "big") + auth_client + _bytes(secret))


def verify_server(
    authenticator: bytes, status: int, auth_client: bytes, secret: str | bytes
) -> bool:
    """Whether a Login_Resp's AuthenticatorServer matches, in the 4- or the 1-octet Status
    form. The reference advises checking only when Status is 0; that is the caller's call."""
    for width in (4, 1):
        if status >= 1 << (8 * width):
            continue
        expected = authenticator_server(status, auth_client, secret, width)
        if hmac.compare_digest(expected, authenticator):
            return True
    return False


def verify_client(
    authenticator: bytes, client_id: str | bytes, secret: str | bytes, timestamp: int
) -> bool:
    """Whether a Login's AuthenticatorClient matches (the SMGW's check): the bare ClientID
    form, or the one padded to 8 octets."""
    for pad in (False, True):
        expected = authenticator_client(client_id, secret, timestamp, pad_client_id=pad)
        if hmac.compare_digest(expected, authenticator):
            return True
    return False
