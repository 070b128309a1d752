"""Cluster-wide TPS (GCRA in Lua) against the real Redis."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from collections.abc import Callable

import pytest
import redis.asyncio as aioredis

from smsengine.cluster import ClusterConfig, ClusterTps, ClusterUnavailable, TokenBatcher
from smsengine.cluster._redis import Script

from .conftest import MakeConfig

Clients = Callable[[ClusterConfig], aioredis.Redis]


def worst_excess(events: list[tuple[float, int]], rate: float) -> float:
    """max over all windows [t_i, t_j] of (grants in it) - rate * (t_j - t_i): the bound says
    this never exceeds the burst. O(n) with a running minimum."""
    events = sorted(events)
    worst = float("-inf")
    best_start = float("inf")  # min over i of (S_{i-1} - rate * t_i)
    total = 0
    for t, n in events:
        best_start = min(best_start, total - rate * t)
        total += n
        worst = max(worst, total - rate * t - best_start)
    return worst


async def test_gcra_on_an_injected_clock(make_config: MakeConfig, clients: Clients) -> None:
    config = make_config()
    tps = ClusterTps(clients(config), config, "ch", rate=10, burst=5)
    g = await tps.take(100, now=1000.0)
    assert (g.granted, g.rate, g.now) == (5, 10.0, 1000.0)
    assert g.wait == pytest.approx(0.1)
    g = await tps.take(1, now=1000.0)
    assert g.granted == 0 and g.wait == pytest.approx(0.1)
    g = await tps.take(3, now=1000.25)  # 2.5 tokens due: 2 granted, the third in 0.05 s
    assert g.granted == 2 and g.wait == pytest.approx(0.05, abs=1e-5)
    g = await tps.take(100, now=1010.0)  # idle for long: a full burst, never more
    assert g.granted == 5


async def test_random_takes_never_beat_rate_times_t_plus_burst(
        make_config: MakeConfig, clients: Clients) -> None:
    config = make_config()
    rate, burst = 37.0, 6.0
    tps = ClusterTps(clients(config), config, "ch", rate=rate, burst=burst)
    rnd = random.Random(20)
    now, events = 5000.0, []
    for _ in range(600):
        now += rnd.choice([0.0, 0.001, 0.01, 0.03, 0.2, 1.0])
        g = await tps.take(rnd.randint(1, 9), now=now)
        if g.granted:
            events.append((now, g.granted))
    assert worst_excess(events, rate) <= burst + 1e-6
    assert sum(n for _, n in events) > rate * 10


async def test_three_nodes_hammering_one_channel_on_the_redis_clock(
        make_config: MakeConfig, clients: Clients) -> None:
    rate, burst, seconds = 300.0, 30.0, 3.0
    events: list[tuple[float, int]] = []
    calls = Counter[str]()

    async def node(name: str) -> None:
        config = make_config(node_id=name)
        tps = ClusterTps(clients(config), config, "acct", rate=rate, burst=burst)
        rnd = random.Random(name)
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while loop.time() < end:
            g = await tps.take(rnd.randint(1, 20))
            calls[name] += 1
            if g.granted:
                events.append((g.now, g.granted))
            else:
                await asyncio.sleep(g.wait * rnd.random())  # some come early: refused

    await asyncio.gather(*(node(f"node{i}") for i in range(3)))
    total = sum(n for _, n in events)
    span = max(t for t, _ in events) - min(t for t, _ in events)
    excess = worst_excess(events, rate)
    per_second = Counter[int]()
    for t, n in events:
        per_second[int(t)] += n
    assert excess <= burst + 1e-6, f"a window beat rate*T + burst by {excess - burst}"
    assert max(per_second.values()) <= rate + burst, per_second
    assert total >= 0.9 * rate * span, (total, span)  # and the cluster is not starved
    assert all(calls[f"node{i}"] > 10 for i in range(3))


async def test_batch_takes_cost_well_under_one_round_trip_per_message(
        make_config: MakeConfig, clients: Clients) -> None:
    config = make_config(tps_batch=50)
    tps = ClusterTps(clients(config), config, "ch", rate=2000, burst=100)
    g = await tps.take(40)
    assert g.granted == 40  # k at once when the account has them
    batcher = TokenBatcher(tps)
    before = tps.round_trips
    for _ in range(1000):
        await batcher.acquire(1)
    trips = tps.round_trips - before
    assert trips <= 1000 / 50 * 2, trips  # ~1/50 of a round trip per message
    with pytest.raises(ValueError, match="burst"):
        await batcher.acquire(101)


async def test_a_cut_is_shared_and_seen_by_another_node(
        make_config: MakeConfig, clients: Clients) -> None:
    a_cfg, b_cfg = make_config(node_id="node-a"), make_config(node_id="node-b")
    a = ClusterTps(clients(a_cfg), a_cfg, "ch", rate=100, burst=10)
    b = ClusterTps(clients(b_cfg), b_cfg, "ch", rate=100, burst=10)
    assert await b.shared() is None
    assert (await b.take(1)).rate == 100.0

    written, shared = await a.cut(50)
    assert written and shared is not None and shared.node == "node-a"
    seen = await b.shared()
    assert seen == shared
    g = await b.take(1)
    assert (g.rate, g.epoch) == (50.0, shared.epoch)  # on its next take, no extra trip
    assert abs(seen.at - g.now) < 5  # written with Redis's time

    written, again = await b.cut(60)  # a shallower cut for the same throttling: no-op
    assert not written and again == shared
    written, deeper = await b.cut(40)
    assert written and deeper is not None and deeper.node == "node-b"
    assert deeper.epoch > shared.epoch and deeper.at >= shared.at

    written, _ = await a.increase(45, shared.epoch)  # a stale epoch: someone cut since
    assert not written
    written, up = await a.increase(45, deeper.epoch)
    assert written and up is not None and up.rate == 45.0
    written, _ = await b.increase(46, deeper.epoch)  # the same probe twice adds once
    assert not written

    # The cut rate is what the script enforces: 10 tokens of burst, then one per 1/45 s.
    later = g.now + 100.0  # an injected clock ahead of Redis's (the TAT is on Redis's)
    assert (await b.take(100, now=later)).granted == 10
    g = await b.take(1, now=later)
    assert g.granted == 0 and g.wait == pytest.approx(1 / 45, abs=1e-5)


async def test_evalsha_falls_back_to_eval_on_noscript(
        make_config: MakeConfig, clients: Clients) -> None:
    client = clients(make_config())
    script = Script(f"-- {uuid.uuid4().hex}\nreturn tonumber(ARGV[1]) + 1")
    assert await script(client, (), (41,)) == 42
    assert script.round_trips == 2  # NOSCRIPT, then EVAL (which loads it)
    assert await script(client, (), (1,)) == 2
    assert script.round_trips == 3


async def test_redis_down_is_a_retriable_error_with_retry_after(clients: Clients) -> None:
    config = ClusterConfig(redis_url="redis://:s3cret@127.0.0.1:1/0", connect_timeout=0.5,
                           retry_after=7)
    tps = ClusterTps(clients(config), config, "ch", rate=10)
    with pytest.raises(ClusterUnavailable) as info:
        await tps.take(1)
    assert info.value.retriable and info.value.retry_after == 7
    assert "s3cret" not in str(info.value) and "127.0.0.1" in str(info.value)
