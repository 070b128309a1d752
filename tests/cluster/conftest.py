"""Cluster tests run against a real Redis: 127.0.0.1:6379, or ``SMSENGINE_REDIS_URL``.

Each test gets its own key prefix (a uuid) and its keys are deleted after it, so runs never
collide. No Redis reachable: every test here is skipped with a loud reason — except under CI
(``CI=true``), where a missing Redis fails them: the cluster tests must run there.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import AsyncIterator, Callable

import pytest
import redis
import redis.asyncio as aioredis

from smsengine.cluster import ClusterConfig, connect, redact_url
from tests._support.services import in_ci

REDIS_URL = os.environ.get("SMSENGINE_REDIS_URL", "redis://127.0.0.1:6379/0")


def _probe() -> str | None:
    """None if Redis answers PING, else why not."""
    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.fixture(scope="module", autouse=True)
def _redis_reachable() -> None:
    why = _probe()
    if why is None:
        return
    message = (f"NO REDIS at {redact_url(REDIS_URL)} ({why}): the cluster tests need a real "
               "Redis (set SMSENGINE_REDIS_URL)")
    if in_ci():
        pytest.fail(f"{message}; under CI=true this is a failure, not a skip", pytrace=False)
    warnings.warn(message, stacklevel=1)
    pytest.skip(message)


MakeConfig = Callable[..., ClusterConfig]


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """A key prefix of this test's own; every key under it is deleted afterwards."""
    name = f"smsengine-test-{uuid.uuid4().hex}"
    yield name
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        keys = [k async for k in client.scan_iter(match=f"{name}:*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
def make_config(prefix: str) -> MakeConfig:
    def make(**kw: object) -> ClusterConfig:
        kw.setdefault("redis_url", REDIS_URL)
        kw.setdefault("key_prefix", prefix)
        return ClusterConfig(**kw)  # type: ignore[arg-type]
    return make


@pytest.fixture
async def clients() -> AsyncIterator[Callable[[ClusterConfig], aioredis.Redis]]:
    """Clients ("nodes") made by the test, closed after it."""
    made: list[aioredis.Redis] = []

    def make(config: ClusterConfig) -> aioredis.Redis:
        client = connect(config)
        made.append(client)
        return client
    yield make
    for client in made:
        await client.aclose()
