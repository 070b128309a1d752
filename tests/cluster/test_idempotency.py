"""Idempotency keys across nodes on the real Redis (smsengine/cluster/idempotency.py) and a
node's use of them (smsengine/daemon/cluster_state.py, ClusterKeys): one claim wins, the
others get the answer, or KeyInFlight while it is made; a failed request frees the key; a node
restarted with the same id takes back its own unanswered claim; Redis away is
ClusterUnavailable."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
import redis.asyncio as aioredis

from smsengine.cluster import ClusterConfig, ClusterUnavailable
from smsengine.cluster.idempotency import SharedKeys
from smsengine.daemon.cluster_state import ClusterKeys, KeyInFlight
from tests.cluster.conftest import MakeConfig

Clients = Callable[[ClusterConfig], aioredis.Redis]


async def test_one_claim_wins_and_the_answer_is_shared(make_config: MakeConfig,
                                                       clients: Clients) -> None:
    nodes = [make_config(node_id=f"n{i}") for i in range(5)]
    keys = [ClusterKeys(SharedKeys(clients(c), c, ttl=60)) for c in nodes]
    fp = b"\x01" * 32
    got = await asyncio.gather(*(k.first("shop", "key-1", fp) for k in keys),
                               return_exceptions=True)
    winners = [i for i, g in enumerate(got) if g is None]
    assert len(winners) == 1, got
    assert all(isinstance(g, KeyInFlight) for i, g in enumerate(got) if i not in winners)
    winner = keys[winners[0]]
    await winner.answered("shop", "key-1", 202, b'{"id":"m1"}')
    for k in keys:
        assert await k.first("shop", "key-1", fp) == (fp, 202, b'{"id":"m1"}')
    # A different body under the key: its first fingerprint, for the caller's 409.
    assert (await keys[0].first("shop", "key-1", b"\x02" * 32))[0] == fp  # type: ignore[index]
    # Keys are per principal.
    assert await keys[0].first("other", "key-1", fp) is None


async def test_a_failed_request_frees_the_key_and_a_restarted_node_takes_its_own(
        make_config: MakeConfig, clients: Clients) -> None:
    ca, cb = make_config(node_id="a"), make_config(node_id="b")
    a = ClusterKeys(SharedKeys(clients(ca), ca, ttl=60))
    b = ClusterKeys(SharedKeys(clients(cb), cb, ttl=60))
    fp = b"\x03" * 32
    assert await a.first("shop", "k", fp) is None
    with pytest.raises(KeyInFlight, match="node a"):
        await b.first("shop", "k", fp)
    await a.failed("shop", "k")
    assert await b.first("shop", "k", fp) is None
    # b crashes before answering; restarted with the same node id (its outbox has no answer),
    # it claims the key again; a still sees it in flight.
    b2 = ClusterKeys(SharedKeys(clients(cb), cb, ttl=60))
    assert await b2.first("shop", "k", fp) is None
    with pytest.raises(KeyInFlight):
        await a.first("shop", "k", fp)
    # An answered key is never taken again, not even by its own node.
    await b2.answered("shop", "k", 400, b"refused")
    assert await b2.first("shop", "k", fp) == (fp, 400, b"refused")


async def test_redis_away_is_unavailable(make_config: MakeConfig, clients: Clients) -> None:
    dead = make_config(node_id="a", redis_url="redis://127.0.0.1:1/0", connect_timeout=0.2,
                       retry_after=2.0)
    keys = ClusterKeys(SharedKeys(clients(dead), dead, ttl=60))
    with pytest.raises(ClusterUnavailable) as refused:
        await keys.first("shop", "k", b"x")
    assert refused.value.retry_after == 2.0
    await keys.failed("shop", "k")  # (swallowed: nothing to free)
    await keys.close()
