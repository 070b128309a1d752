"""Frequency caps across nodes on the real Redis (smsengine/cluster/caps.py, and
smsengine/daemon/cluster_state.py's take_caps): the sliding log of smsengine/policy/caps.py
in one script, so that nodes taking at once never pass a limit; several scopes checked and
recorded together; Redis away is ClusterUnavailable."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
import redis.asyncio as aioredis

from smsengine.cluster import ClusterConfig, ClusterUnavailable
from smsengine.cluster.caps import SharedCaps
from smsengine.daemon.cluster_state import take_caps
from smsengine.policy import FrequencyCaps
from tests.cluster.conftest import MakeConfig

Clients = Callable[[ClusterConfig], aioredis.Redis]


async def test_nodes_taking_at_once_never_pass_the_limit(make_config: MakeConfig,
                                                         clients: Clients) -> None:
    nodes = [SharedCaps(clients(make_config(node_id=f"n{i}")), make_config(node_id=f"n{i}"))
             for i in range(4)]
    caps = FrequencyCaps({"otp": [(60, 1), (3600, 3)]})
    got = await asyncio.gather(*(take_caps(n, [(caps, "8613800000001")], "OTP", 1000.0)
                                 for n in nodes for _ in range(5)))
    allowed = [g for g in got if g is None]
    assert len(allowed) == 1
    refusal = next(g for g in got if g is not None)
    assert refusal.scope == "number" and refusal.kind == "otp"
    assert refusal.rule.window == 60 and refusal.rule.limit == 1
    assert 59 < refusal.retry_after <= 60 and refusal.frees_at == pytest.approx(
        1000.0 + refusal.retry_after)
    # Another number, another kind: not touched.
    assert await take_caps(nodes[1], [(caps, "8613800000002")], "otp", 0) is None
    assert await take_caps(nodes[1], [(caps, "8613800000001")], "notification", 0) is None


async def test_a_short_window_frees_and_the_longer_one_then_refuses(
        make_config: MakeConfig, clients: Clients) -> None:
    config = make_config()
    shared = SharedCaps(clients(config), config)
    caps = FrequencyCaps({"otp": [(0.2, 1), (60, 2)]})
    assert await take_caps(shared, [(caps, "n")], "otp", 0) is None
    assert (await take_caps(shared, [(caps, "n")], "otp", 0)) is not None
    await asyncio.sleep(0.25)
    assert await take_caps(shared, [(caps, "n")], "otp", 0) is None
    await asyncio.sleep(0.25)
    refusal = await take_caps(shared, [(caps, "n")], "otp", 0)
    assert refusal is not None and refusal.rule.limit == 2  # (the rule that frees last)


async def test_scopes_are_checked_together_and_a_refusal_counts_in_none(
        make_config: MakeConfig, clients: Clients) -> None:
    config = make_config()
    shared = SharedCaps(clients(config), config)
    number = FrequencyCaps({"otp": [(60, 1)]}, scope="number")
    api_key = FrequencyCaps({"otp": [(60, 2)]}, scope="api_key")
    assert await take_caps(shared, [(number, "1"), (api_key, "shop")], "otp", 0) is None
    refusal = await take_caps(shared, [(number, "1"), (api_key, "shop")], "otp", 0)
    assert refusal is not None and refusal.scope == "number"
    # The refused one did not use the API key's quota: one more number still goes.
    assert await take_caps(shared, [(number, "2"), (api_key, "shop")], "otp", 0) is None
    refusal = await take_caps(shared, [(number, "3"), (api_key, "shop")], "otp", 0)
    assert refusal is not None and refusal.scope == "api_key"


async def test_redis_away_is_unavailable(make_config: MakeConfig, clients: Clients) -> None:
    dead = make_config(redis_url="redis://127.0.0.1:1/0", connect_timeout=0.2)
    with pytest.raises(ClusterUnavailable):
        await take_caps(SharedCaps(clients(dead), dead),
                        [(FrequencyCaps(), "8613800000001")], "otp", 0)
