"""ClusterBucket: the engine's token-source interface over the cluster-wide GCRA."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import redis.asyncio as aioredis

from smsengine.cluster import ClusterBucket, ClusterConfig, ClusterTps
from smsengine.engine.flow import TokenBucket

from .conftest import MakeConfig

Clients = Callable[[ClusterConfig], aioredis.Redis]


async def _spend(bucket: ClusterBucket, seconds: float, n: int = 1) -> list[float]:
    """Spend tokens as the engine's dispatcher does, for ``seconds``; when each was spent."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    spent: list[float] = []
    while (now := loop.time()) < end:
        wait = bucket.wait_time(n, now)
        if wait > 0:
            await asyncio.sleep(wait)
            continue
        bucket.take(n, now)
        spent.append(now)
    return spent


async def test_two_nodes_share_one_rate_in_batches(make_config: MakeConfig,
                                                   clients: Clients) -> None:
    rate, burst = 200.0, 20.0
    buckets = []
    for node in ("a", "b"):
        config = make_config(node_id=node, tps_batch=10)
        loop_now = asyncio.get_running_loop().time()
        buckets.append(ClusterBucket(ClusterTps(clients(config), config, "ch", rate, burst),
                                     TokenBucket(rate, burst, loop_now)))
    spent = await asyncio.gather(*(_spend(b, 1.5) for b in buckets))
    total = sum(len(s) for s in spent)
    # GCRA: at most rate * T + burst granted; hold lets a node spend a grant up to 0.1 s late.
    assert total <= rate * 1.5 + burst + 1
    assert total >= 0.85 * rate * 1.5
    assert all(len(s) > 0.3 * total / 2 for s in spent), [len(s) for s in spent]
    trips = sum(b.tps.round_trips for b in buckets)
    assert trips <= total / 3, f"{trips} round trips for {total} tokens"
    for b in buckets:
        await b.close()


async def test_a_local_cut_is_shared_and_redis_down_grants_nothing(
        make_config: MakeConfig, clients: Clients) -> None:
    config = make_config(node_id="a")
    now = asyncio.get_running_loop().time()
    a = ClusterBucket(ClusterTps(clients(config), config, "ch", 100.0, 10.0),
                      TokenBucket(100.0, 10.0, now))
    b = ClusterBucket(ClusterTps(clients(config), config, "ch", 100.0, 10.0),
                      TokenBucket(100.0, 10.0, now))
    a.set_rate(50.0, now)  # the AIMD cut after a throttle
    await asyncio.gather(*a._share_tasks)  # (its write to Redis, in the background)
    assert a.shared_rate == 50.0
    await _spend(b, 0.05)
    assert b.shared_rate == 50.0  # b's next grant carries the cut
    a.set_rate(60.0, now + 1)  # recovery: compare-and-set on the epoch a saw
    await asyncio.gather(*a._share_tasks)
    assert a.shared_rate == 60.0
    await a.close()
    await b.close()
    dead = make_config(redis_url="redis://127.0.0.1:1/0", connect_timeout=0.2,
                       retry_after=2.0)
    c = ClusterBucket(ClusterTps(clients(dead), dead, "ch", 100.0, 10.0),
                      TokenBucket(100.0, 10.0, now))
    assert await _spend(c, 0.3) == []
    assert c.last_error is not None and c.last_error.retriable
    await c.close()
