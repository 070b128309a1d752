"""CMPP login authenticators (section 5 of the CMPP reference), sans-I/O.

The clock is never read here: the caller passes its local (China time) ``time.struct_time``
— or anything with ``tm_mon`` … ``tm_sec`` — to :func:`timestamp_now`.

Source_Addr is hashed exactly as given (gocmpp and SMSGate do the same); with the usual
6-character SP_Id that is "the 6 octets as sent" of the spec.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Protocol

__all__ = [
    "LocalTime",
    "authenticator_ismg",
    "authenticator_source",
    "format_timestamp",
    "timestamp_now",
    "verify_ismg",
]


class LocalTime(Protocol):
    """The fields of ``time.struct_time`` that the Timestamp uses."""

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
    """The CONNECT Timestamp for ``local``: the integer whose digits are MMDDHHMMSS
    (January gives a 9-digit number, e.g. 102030405)."""
    return (
        local.tm_mon * 100_000_000
        + local.tm_mday * 1_000_000
        + local.tm_hour * 10_000
        + local.tm_min * 100
        + min(local.tm_sec, 59)  # struct_time allows a leap second 60/61
    )


def format_timestamp(timestamp: int) -> str:
    """The Timestamp as it enters the digest: ten digits, zero-padded (``%010d``)."""
    if not 0 <= timestamp <= 9_999_999_999:
        raise ValueError(f"timestamp {timestamp} is not MMDDHHMMSS")
    return f"{timestamp:010d}"


def authenticator_source(source_addr: str | bytes, secret: str | bytes, timestamp: int) -> bytes:
    """AuthenticatorSource = MD5(Source_Addr + 9 x NUL + secret + Timestamp as "%010d")."""
    return _md5(
        _bytes(source_addr)
        + bytes(9)
        + _bytes(secret)
        + format_timestamp(timestamp).encode("ascii")
    )


def authenticator_ismg(
    status: int, auth_source: bytes, secret: str | bytes, status_width: int = 4
) -> bytes:
    """AuthenticatorISMG = MD5(Status + AuthenticatorSource + secret), Status big-endian in
    ``status_width`` octets: 1 for CMPP 2.0 (gocmpp), 4 for 3.0 (and SMSGate's 2.0)."""
    if status_width not in (1, 4):
        raise ValueError(f"status_width must be 1 or 4, got {status_width}")
    return _md5(status.to_bytes(status_width, "big") + auth_source + _bytes(secret))


def verify_ismg(
    authenticator: bytes, status: int, auth_source: bytes, secret: str | bytes
) -> bool:
    """Whether a CONNECT_RESP's AuthenticatorISMG matches, in either the 1- or the 4-octet
    Status form (sources disagree for 2.0, section 5). The reference advises checking it only
    when Status is 0 and treating a mismatch as a warning by default: that is the caller's
    policy, this only answers the question."""
    for width in (4, 1):
        if status >= 1 << (8 * width):
            continue
        expected = authenticator_ismg(status, auth_source, secret, width)
        if hmac.compare_digest(expected, authenticator):
            return True
    return False
