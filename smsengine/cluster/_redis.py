"""The Redis client, Lua scripts run by SHA, and Redis errors mapped onto this layer's."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import redis
import redis.asyncio as aioredis
from redis import exceptions as rx

from .config import ClusterConfig, redact_url
from .errors import ClusterError, ClusterUnavailable

__all__ = ["Script", "connect", "connect_sync", "redis_errors"]

# What says "Redis is not there (now)": retriable. Everything else from Redis is not.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    rx.ConnectionError, rx.TimeoutError, rx.BusyLoadingError, rx.TryAgainError,
    rx.ReadOnlyError, rx.MasterDownError, OSError, TimeoutError)


def connect(config: ClusterConfig) -> aioredis.Redis:
    """A client for ``config.redis_url`` (bytes in, bytes out). No round trip yet: the first
    command connects, and a refused one raises :class:`ClusterUnavailable` through the
    callers' :func:`redis_errors`."""
    return aioredis.Redis.from_url(
        config.redis_url,
        socket_connect_timeout=config.connect_timeout,
        socket_timeout=config.command_timeout,
        health_check_interval=30,
        client_name=f"smsengine:{config.node_id}"[:100].replace(" ", "_"),
    )


def connect_sync(config: ClusterConfig, timeout: float = 0.5) -> redis.Redis:
    """A blocking client, for the one call that must finish before the loop goes on (a write
    barrier); its timeouts are short (at most ``timeout``) because the loop waits on them."""
    return redis.Redis.from_url(
        config.redis_url,
        socket_connect_timeout=min(timeout, config.connect_timeout),
        socket_timeout=min(timeout, config.command_timeout),
        client_name=f"smsengine:{config.node_id}:sync"[:100].replace(" ", "_"),
    )


def map_error(config: ClusterConfig, what: str, exc: BaseException) -> ClusterError:
    """redis_errors' mapping, for a blocking call."""
    if isinstance(exc, _UNAVAILABLE):
        return ClusterUnavailable(
            f"{what}: Redis at {redact_url(config.redis_url)} unavailable: "
            f"{type(exc).__name__}: {exc}", retry_after=config.retry_after)
    return ClusterError(f"{what}: {type(exc).__name__}: {exc}")


@asynccontextmanager
async def redis_errors(config: ClusterConfig, what: str) -> AsyncIterator[None]:
    """Map redis-py's exceptions: unreachable → :class:`ClusterUnavailable` (retriable, with
    the configured Retry-After), any other → :class:`ClusterError`. The URL in a message is
    redacted."""
    try:
        yield
    except ClusterError:
        raise
    except _UNAVAILABLE as exc:
        raise ClusterUnavailable(
            f"{what}: Redis at {redact_url(config.redis_url)} unavailable: "
            f"{type(exc).__name__}: {exc}", retry_after=config.retry_after) from exc
    except rx.RedisError as exc:
        raise ClusterError(f"{what}: {type(exc).__name__}: {exc}") from exc


class Script:
    """One Lua script: EVALSHA, and on NOSCRIPT (a restarted or flushed Redis) EVAL, which
    loads it again. ``round_trips`` counts the requests sent (a NOSCRIPT costs two)."""

    __slots__ = ("body", "round_trips", "sha")

    def __init__(self, body: str) -> None:
        self.body = body
        self.sha = hashlib.sha1(body.encode()).hexdigest()
        self.round_trips = 0

    async def __call__(self, client: aioredis.Redis, keys: Sequence[str],
                       args: Sequence[str | bytes | int | float]) -> Any:
        self.round_trips += 1
        try:
            return await client.evalsha(self.sha, len(keys), *keys, *args)
        except rx.NoScriptError:
            self.round_trips += 1
            return await client.eval(self.body, len(keys), *keys, *args)
