"""Live nodes (heartbeats on Redis's clock) and the fair share of slots they give."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
import redis.asyncio as aioredis

from smsengine.cluster import ClusterConfig, Members, fair_share

from .conftest import MakeConfig

Clients = Callable[[ClusterConfig], aioredis.Redis]


@pytest.mark.parametrize(("slots", "live", "share"), [
    (3, 1, 3), (3, 2, 2), (3, 3, 1), (3, 4, 1), (4, 3, 2), (1, 5, 1), (2, 0, 2)])
def test_fair_share_is_the_ceiling_and_never_zero(slots: int, live: int, share: int) -> None:
    assert fair_share(slots, live) == share


async def test_a_silent_node_stops_counting_after_the_ttl(
        make_config: MakeConfig, clients: Clients) -> None:
    a = make_config(node_id="a", lease_ttl=0.4)
    b = make_config(node_id="b", lease_ttl=0.4)
    ma, mb = Members(clients(a), a), Members(clients(b), b)
    assert await ma.beat() == 1
    assert await mb.beat() == 2
    await asyncio.sleep(0.25)
    assert await ma.beat() == 2  # b's heartbeat is 0.25 s old: still live
    await asyncio.sleep(0.25)
    assert await ma.beat() == 1  # b's is 0.5 s old, past the TTL: gone
    await mb.beat()
    await mb.leave()  # a graceful exit counts at once
    assert await ma.beat() == 1
