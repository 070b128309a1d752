"""Bind-slot leases against the real Redis: never more holders than slots, a dead node's slots
re-held within the TTL, a taken-over holder told at its next renew, fencing tokens increasing."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

import pytest
import redis.asyncio as aioredis

from smsengine.cluster import ClusterConfig, ClusterUnavailable, Lease, Leases, LeaseStore

from .conftest import MakeConfig

Clients = Callable[[ClusterConfig], aioredis.Redis]


class Node:
    """One "node": its own client, its own Leases manager, and what it was told."""

    def __init__(self, name: str, config: ClusterConfig, client: aioredis.Redis,
                 slots: int) -> None:
        self.name = name
        self.store = LeaseStore(client, config, "acct")
        self.lost: list[tuple[int, str, float]] = []
        self.gained: list[Lease] = []
        self.leases = Leases(self.store, slots, on_gained=self.gained.append,
                             on_lost=lambda s, why: self.lost.append((s, why, time.monotonic())))


async def test_fencing_tokens_strictly_increase(make_config: MakeConfig,
                                                clients: Clients) -> None:
    a_cfg, b_cfg = make_config(node_id="a", lease_ttl=0.2), make_config(node_id="b",
                                                                      lease_ttl=0.2)
    a = LeaseStore(clients(a_cfg), a_cfg, "acct")
    b = LeaseStore(clients(b_cfg), b_cfg, "acct")
    tokens = []
    first = await a.acquire(0)
    assert isinstance(first, Lease)
    tokens.append(first.token)
    assert isinstance(await b.acquire(0), float)  # held: b is told when it would expire
    second = await b.acquire(1)
    assert isinstance(second, Lease)
    tokens.append(second.token)
    assert await first.release()
    third = await b.acquire(0)
    assert isinstance(third, Lease)
    tokens.append(third.token)
    await asyncio.sleep(0.25)  # b stops renewing: a takes slot 0 over with a larger token
    fourth = await a.acquire(0)
    assert isinstance(fourth, Lease)
    tokens.append(fourth.token)
    assert tokens == sorted(tokens) and len(set(tokens)) == len(tokens), tokens
    assert (await a.holders(2))[0] == f"a|{fourth.token}"


async def test_only_the_holder_renews_or_releases(make_config: MakeConfig,
                                                  clients: Clients) -> None:
    a_cfg, b_cfg = make_config(node_id="a"), make_config(node_id="b")
    a = LeaseStore(clients(a_cfg), a_cfg, "acct")
    b = LeaseStore(clients(b_cfg), b_cfg, "acct")
    lease = await a.acquire(0)
    assert isinstance(lease, Lease) and lease.valid()
    forged = Lease(b, 0, lease.token, lease.valid_until)  # b's id, a's token
    assert not await forged.renew()
    assert not await forged.release()
    assert await lease.renew() and lease.valid()
    assert await lease.release() and not lease.valid()
    assert not await lease.renew()


async def test_a_taken_over_holder_learns_it_at_its_next_renew(
        make_config: MakeConfig, clients: Clients) -> None:
    config = make_config(node_id="a", lease_ttl=0.6)
    raw = clients(config)
    a = Node("a", config, raw, slots=1)
    a.leases.start()
    try:
        while not a.leases.holding():
            await asyncio.sleep(0.005)
        mine = a.leases.holding()[0]
        # The key vanishes under a (as if Redis expired it while a was partitioned) and b
        # takes the slot: a's next renew is refused and on_lost fires at once.
        await raw.delete(a.store.slot_key(0))
        b_cfg = make_config(node_id="b", lease_ttl=0.6)
        theirs = await LeaseStore(clients(b_cfg), b_cfg, "acct").acquire(0)
        assert isinstance(theirs, Lease) and theirs.token > mine.token
        taken_at = time.monotonic()
        while not a.lost:
            await asyncio.sleep(0.005)
            assert time.monotonic() - taken_at < config.renew_interval + 0.2
        assert a.lost[0][:2] == (0, "taken")
        assert not a.leases.holding() and not mine.valid()
    finally:
        await a.leases.close(release=False)


async def test_a_dead_holder_is_replaced_within_the_ttl(make_config: MakeConfig,
                                                        clients: Clients) -> None:
    ttl, slots = 0.6, 3
    a_cfg, b_cfg = make_config(node_id="a", lease_ttl=ttl), make_config(node_id="b",
                                                                       lease_ttl=ttl)
    a = Node("a", a_cfg, clients(a_cfg), slots)
    b = Node("b", b_cfg, clients(b_cfg), slots)
    a.leases.start()
    while len(a.leases.holding()) < slots:
        await asyncio.sleep(0.005)
    b.leases.start()
    try:
        await asyncio.sleep(ttl * 0.8)  # b is waiting; a renews
        assert not b.leases.holding() and len(a.leases.holding()) == slots
        # Kill a right after a renew, the worst case: its keys live almost a whole TTL more.
        renewed = a.store.round_trips
        while a.store.round_trips == renewed:
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.01)
        await a.leases.close(release=False)
        died = time.monotonic()
        while len(b.leases.holding()) < slots:
            await asyncio.sleep(0.002)
            assert time.monotonic() - died < ttl + 0.5, "b did not take the slots"
        took = time.monotonic() - died
        assert took <= ttl + 0.1, f"re-held after {took:.3f} s, TTL {ttl} s"
        assert min(g.token for g in b.gained) > max(g.token for g in a.gained)
    finally:
        await b.leases.close()


async def test_five_nodes_never_hold_more_than_n_slots(make_config: MakeConfig,
                                                       clients: Clients) -> None:
    """5 nodes contend for 3 slots while a chaos loop kills nodes (no release), freezes them
    (the loop stops, the belief lingers until its deadline), stops them gracefully and starts
    new ones. A checker looks every millisecond: the leases the nodes believe valid never
    number more than 3, and no slot is believed held by two."""
    ttl, slots, seconds = 0.3, 3, 4.0
    rnd = random.Random(2020)
    serial = 0

    def new_node() -> Node:
        nonlocal serial
        serial += 1
        cfg = make_config(node_id=f"n{serial}", lease_ttl=ttl)
        node = Node(f"n{serial}", cfg, clients(cfg), slots)
        node.leases.start()
        return node

    nodes = [new_node() for _ in range(5)]
    frozen: list[Node] = []  # stopped without release, still "believing" until the deadline
    violations: list[str] = []
    samples = 0
    held_samples = 0
    stop = asyncio.Event()

    async def checker() -> None:
        nonlocal samples, held_samples
        while not stop.is_set():
            now = time.monotonic()
            believed: dict[int, list[str]] = {}
            for node in nodes + frozen:
                for slot in node.leases.holding(now):
                    believed.setdefault(slot, []).append(node.name)
            total = sum(len(v) for v in believed.values())
            if total > slots or any(len(v) > 1 for v in believed.values()):
                violations.append(f"{now:.4f}: {believed}")
            samples += 1
            held_samples += total
            await asyncio.sleep(0.001)

    async def chaos() -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while loop.time() < end:
            await asyncio.sleep(rnd.uniform(0.05, 0.25))
            victim = rnd.choice(nodes)
            nodes.remove(victim)
            how = rnd.choice(["kill", "freeze", "graceful"])
            await victim.leases.close(release=how == "graceful")
            if how == "freeze":
                frozen.append(victim)
            nodes.append(new_node())

    check = asyncio.create_task(checker())
    try:
        await chaos()
        await asyncio.sleep(ttl * 1.5)  # let the last victims' slots be re-held
        stop.set()
        await check
        assert not violations, violations[:5]
        assert samples > 500
        holders = await nodes[0].store.holders(slots)
        assert len(holders) == slots  # all slots held again at the end
        assert sum(len(n.leases.holding()) for n in nodes) == slots
        assert held_samples / samples > slots * 0.6  # slots are mostly held, not idle
    finally:
        stop.set()
        for node in nodes:
            await node.leases.close()


async def test_a_lease_is_dropped_when_redis_is_unreachable(
        make_config: MakeConfig, clients: Clients) -> None:
    config = make_config(node_id="a", lease_ttl=0.3, command_timeout=0.05,
                         connect_timeout=0.05)
    node = Node("a", config, clients(config), slots=2)
    node.leases.start()
    try:
        while len(node.leases.holding()) < 2:
            await asyncio.sleep(0.005)
        gone = clients(ClusterConfig(redis_url="redis://127.0.0.1:1/0", connect_timeout=0.05))
        node.store.client = gone  # the network to Redis goes away
        cut = time.monotonic()
        while len(node.lost) < 2:
            await asyncio.sleep(0.005)
            assert time.monotonic() - cut < 1.0
        assert {(s, why) for s, why, _ in node.lost} == {(0, "expired"), (1, "expired")}
        assert max(t for *_, t in node.lost) - cut <= config.lease_ttl
        assert isinstance(node.leases.last_error, ClusterUnavailable)
    finally:
        await node.leases.close(release=False)


def test_the_redis_url_used_is_redacted_in_names() -> None:
    shown = repr(ClusterConfig(redis_url="redis://u:s3cret@127.0.0.1:6379/0"))
    assert "s3cret" not in shown and "<redacted>" in shown


@pytest.mark.parametrize("slots", [0, -1])
def test_leases_needs_a_slot(make_config: MakeConfig, slots: int) -> None:
    config = make_config()
    store = LeaseStore(aioredis.Redis(), config, "acct")
    with pytest.raises(ValueError, match="slots"):
        Leases(store, slots, on_lost=lambda s, w: None)
