"""The cluster's suppression list on the real Redis (smsengine/cluster/suppression.py), and a
node's store over it (smsengine/daemon/cluster_state.py) with SQLite underneath: later change
wins, the log carries what was applied, merges neither lose an opt-out nor bring back a removal,
changes made while Redis is away are pushed when it is back."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from smsengine.cluster import ClusterConfig, ClusterUnavailable
from smsengine.cluster.suppression import Change, SharedSuppression
from smsengine.daemon.cluster_state import ClusterSuppression
from smsengine.engine.sqlite import SqliteSuppressionStore
from tests.cluster.conftest import MakeConfig

Clients = Callable[[ClusterConfig], aioredis.Redis]


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Callable[[str], SqliteSuppressionStore]]:
    made: list[SqliteSuppressionStore] = []

    def make(name: str) -> SqliteSuppressionStore:
        store = SqliteSuppressionStore(tmp_path / f"{name}.db")
        made.append(store)
        return store
    yield make
    for store in made:
        store.close()


async def test_the_later_change_wins_and_only_applied_ones_are_logged(
        make_config: MakeConfig, clients: Clients) -> None:
    config = make_config(node_id="a")
    shared = SharedSuppression(clients(config), config)
    start = await shared.last_id()
    assert start == "0-0"
    assert await shared.apply([Change("a", "861", 100.0, "STOP"), Change("a", "862", 100.0)]) == 2
    # A removal older than the addition is refused; a later one applies.
    assert await shared.apply([Change("r", "861", 99.0)]) == 0
    assert await shared.apply([Change("r", "861", 101.0)]) == 1
    # An addition older than the removal is refused (a node that was away cannot bring it back).
    assert await shared.apply([Change("a", "861", 100.5, "old")]) == 0
    added, removed = await shared.snapshot()
    assert added == {"862": ("", 100.0)} and removed == {"861": 101.0}
    after, changes = await shared.read(start)
    assert [(c.op, c.number, c.at, c.reason, c.node) for c in changes] == [
        ("a", "861", 100.0, "STOP", "a"), ("a", "862", 100.0, "", "a"),
        ("r", "861", 101.0, "", "a")]
    assert await shared.read(after) == (after, [])
    # A re-addition later than the removal wins (erring towards suppression on a tie).
    assert await shared.apply([Change("a", "861", 101.0, "again")]) == 1
    added, removed = await shared.snapshot()
    assert added["861"] == ("again", 101.0) and "861" not in removed


async def test_two_nodes_merge_and_follow_each_other(
        make_config: MakeConfig, clients: Clients,
        stores: Callable[[str], SqliteSuppressionStore]) -> None:
    ca, cb = make_config(node_id="a"), make_config(node_id="b")
    local_a, local_b = stores("a"), stores("b")
    local_a.add("8613800000001", "only on a", 50.0)  # (from before the cluster)
    local_b.add("8613800000002", "only on b", 60.0)
    a = ClusterSuppression(local_a, SharedSuppression(clients(ca), ca))
    b = ClusterSuppression(local_b, SharedSuppression(clients(cb), cb))
    with pytest.raises(ClusterUnavailable, match="suppression list"):
        a.require()
    await a.sync_once()
    await b.sync_once()
    await a.sync_once()
    a.require()
    b.require()
    for local in (local_a, local_b):
        assert "8613800000001" in local and "8613800000002" in local
    # An addition and a removal on b reach a's store at its next poll.
    b.add("8613800000003", "replied 'STOP'", 70.0)
    b.remove("8613800000001")
    await b.sync_once()
    await a.sync_once()
    assert "8613800000003" in local_a and "8613800000001" not in local_a
    assert dict((n, r) for n, r, _ in local_a.entries())["8613800000003"] == "replied 'STOP'"
    # (a applied: b's number pushed by b's merge, then the addition and the removal)
    assert a.applied == 3 and b.pushed == 2


async def test_a_node_away_does_not_bring_back_a_removal_and_pushes_its_own(
        make_config: MakeConfig, clients: Clients,
        stores: Callable[[str], SqliteSuppressionStore]) -> None:
    ca, cb = make_config(node_id="a"), make_config(node_id="b")
    local_a, local_b = stores("a"), stores("b")
    a = ClusterSuppression(local_a, SharedSuppression(clients(ca), ca))
    b = ClusterSuppression(local_b, SharedSuppression(clients(cb), cb))
    a.add("8613800000010", "STOP", 10.0)
    await a.sync_once()
    await b.sync_once()
    assert "8613800000010" in local_b
    # a goes away (its next sync merges again); meanwhile b removes the number, and a, cut
    # off, takes a new opt-out that waits for Redis.
    a.synced = False
    b.remove("8613800000010")
    await b.sync_once()
    a.add("8613800000011", "STOP", 20.0)
    await a.sync_once()
    assert "8613800000010" not in local_a  # (the removal was later than a's opt-out)
    await b.sync_once()
    assert "8613800000011" in local_b


async def test_redis_away_fails_safe_and_keeps_what_waits(
        make_config: MakeConfig, clients: Clients,
        stores: Callable[[str], SqliteSuppressionStore]) -> None:
    dead = make_config(node_id="a", redis_url="redis://127.0.0.1:1/0", connect_timeout=0.2,
                       retry_after=3.0)
    local = stores("a")
    node = ClusterSuppression(local, SharedSuppression(clients(dead), dead))
    node.add("8613800000020", "STOP", 30.0)
    assert "8613800000020" in local  # (the local store is the check: kept at once)
    with pytest.raises(ClusterUnavailable):
        await node.sync_once()
    with pytest.raises(ClusterUnavailable, match="Redis") as refused:
        node.require()
    assert refused.value.retry_after == 3.0
    assert node.down_since is not None
    # Redis back (the same node over a reachable Redis): what waited is pushed.
    live = make_config(node_id="a")
    node.shared = SharedSuppression(clients(live), live)
    await node.sync_once()
    node.require()
    added, _ = await node.shared.snapshot()
    assert added == {"8613800000020": ("STOP", 30.0)}
