"""``[cluster]``: which Redis, who this node is, the key prefix, and the lease timing.

A Redis URL may carry a password (``redis://:secret@host/0``, ``?password=secret``): no repr or
str of a :class:`ClusterConfig` shows it (:func:`redact_url`)."""

from __future__ import annotations

import os
import re
import socket
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import msgspec

from .errors import ClusterConfigError

__all__ = ["ClusterConfig", "default_node_id", "redact_url"]

_SCHEMES = frozenset({"redis", "rediss", "unix"})
# Printable, no spaces, no braces (the keys put the channel in a {hash tag}) and no ':' at
# either end (the prefix is joined with ':').
_PREFIX = re.compile(r"[A-Za-z0-9_.\-][A-Za-z0-9_.:\-]{0,62}[A-Za-z0-9_.\-]|[A-Za-z0-9_.\-]")
_NODE = re.compile(r"[A-Za-z0-9_.:@\-]{1,128}")
_SECRET_QUERY = frozenset({"password", "pass", "pwd"})


def default_node_id() -> str:
    """host-pid-random: unique per process even when a restarted node gets the same pid."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def redact_url(url: str) -> str:
    """``url`` with its password (userinfo or a password= query parameter) as <redacted>."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url redacted>"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user, sep, _ = userinfo.partition(":")
        netloc = f"{user}:<redacted>@{host}" if sep else f"<redacted>@{host}"
        if not sep and not user:
            netloc = f"@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, "<redacted>" if k.lower() in _SECRET_QUERY else v)
                           for k, v in pairs], safe="<>")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


class ClusterConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One node's view of the cluster. Checked on construction; a bad value raises
    :class:`ClusterConfigError` naming the field."""

    redis_url: str
    node_id: str = msgspec.field(default_factory=default_node_id)
    key_prefix: str = "smsengine"
    lease_ttl: float = 10.0  # seconds a bind-slot lease lives without a renewal
    lease_renew: float = 0.0  # seconds between renewals; 0 = lease_ttl / 3
    # A holder stops trusting its lease this much before Redis would let it go (clock drift
    # between this host's monotonic clock and Redis's, plus one round trip).
    lease_margin: float = 0.05  # fraction of lease_ttl
    connect_timeout: float = 2.0
    command_timeout: float = 2.0
    retry_after: float = 5.0  # what a 503 tells clients while Redis is unreachable
    tps_batch: int = 10  # tokens a node asks for at once
    tps_hold: float = 0.1  # seconds a node may keep granted tokens before it must drop them
    aimd_ttl: float = 600.0  # seconds a shared AIMD cut outlives its last update

    def __post_init__(self) -> None:
        try:
            parts = urlsplit(self.redis_url)
        except ValueError as exc:
            raise ClusterConfigError("redis_url", "not a URL") from exc
        if parts.scheme not in _SCHEMES:
            raise ClusterConfigError(
                "redis_url", f"scheme must be one of {sorted(_SCHEMES)}, not {parts.scheme!r}")
        if parts.scheme != "unix" and not parts.hostname:
            raise ClusterConfigError("redis_url", "no host")
        if not _NODE.fullmatch(self.node_id):
            raise ClusterConfigError(
                "node_id", "1-128 characters of letters, digits and _ . : @ -")
        if not _PREFIX.fullmatch(self.key_prefix):
            raise ClusterConfigError(
                "key_prefix", "1-64 characters of letters, digits and _ . : - "
                "(no braces or spaces, no ':' at either end)")
        if not 0.05 <= self.lease_ttl <= 3600:
            raise ClusterConfigError("lease_ttl", "must be between 0.05 and 3600 seconds")
        if self.lease_renew and not 0 < self.lease_renew <= self.lease_ttl / 2:
            raise ClusterConfigError("lease_renew", "must be 0 (ttl/3) or at most lease_ttl/2")
        if not 0 <= self.lease_margin < 0.5:
            raise ClusterConfigError("lease_margin", "must be a fraction in [0, 0.5)")
        for name in ("connect_timeout", "command_timeout", "retry_after", "tps_hold",
                     "aimd_ttl"):
            value = getattr(self, name)
            if not value > 0 or value != value or value == float("inf"):
                raise ClusterConfigError(name, "must be a positive number of seconds")
        if not 1 <= self.tps_batch <= 10_000:
            raise ClusterConfigError("tps_batch", "must be between 1 and 10000")

    @property
    def renew_interval(self) -> float:
        return self.lease_renew or self.lease_ttl / 3

    def key(self, *parts: str) -> str:
        return ":".join((self.key_prefix, *parts))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in self.__rich_repr__())
        return f"{type(self).__name__}({fields})"

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        return [(name, redact_url(v) if name == "redis_url" else v)
                for name in self.__struct_fields__ for v in (getattr(self, name),)]
