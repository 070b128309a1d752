"""The hand-off stream of a channel against the real Redis: each entry to one consumer, a dead
consumer's pending entries taken over, dedup by message id."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import redis.asyncio as aioredis

from smsengine.cluster import ClusterConfig
from smsengine.cluster.handoff import HandoffStream

from .conftest import MakeConfig

Clients = Callable[[ClusterConfig], aioredis.Redis]


async def test_each_entry_goes_to_one_consumer(make_config: MakeConfig,
                                               clients: Clients) -> None:
    producer_cfg, a_cfg, b_cfg = (make_config(node_id=n) for n in ("p", "a", "b"))
    producer = HandoffStream(clients(producer_cfg), producer_cfg, "ch")
    a = HandoffStream(clients(a_cfg), a_cfg, "ch")
    b = HandoffStream(clients(b_cfg), b_cfg, "ch")
    await a.read()  # (the group exists before anything is appended: nothing is missed)
    ids = await producer.append([(f"m{i}", f"body {i}".encode()) for i in range(200)])
    assert len(ids) == 200
    got_a, got_b = [], []
    while True:
        ra, rb = await asyncio.gather(a.read(count=30), b.read(count=30))
        if not ra and not rb:
            break
        got_a += ra
        got_b += rb
    seen = [e.message_id for e in got_a + got_b]
    assert sorted(seen) == sorted(f"m{i}" for i in range(200))  # each once, none lost
    assert got_a and got_b
    assert {e.body for e in got_a} <= {f"body {i}".encode() for i in range(200)}
    assert await a.pending() == 200
    await a.ack([e.entry_id for e in got_a])
    await b.ack([e.entry_id for e in got_b])
    assert await a.pending() == 0


async def test_a_dead_consumers_entries_are_taken_over_and_dedup_holds(
        make_config: MakeConfig, clients: Clients) -> None:
    a_cfg, b_cfg = make_config(node_id="a"), make_config(node_id="b")
    a = HandoffStream(clients(a_cfg), a_cfg, "ch")
    b = HandoffStream(clients(b_cfg), b_cfg, "ch")
    await a.append([(f"m{i}", b"x") for i in range(10)])
    taken = await a.read(count=10)
    assert len(taken) == 10
    # a claims and "sends" the first three, then dies before its XACK.
    for entry in taken[:3]:
        assert await a.claim(entry.message_id) == (True, "a")
    assert await b.take_over(min_idle=0.2) == []  # not idle long enough yet
    await asyncio.sleep(0.25)
    again = await b.take_over(min_idle=0.2)
    assert [e.message_id for e in again] == [e.message_id for e in taken]
    assert all(e.deliveries == 2 for e in again)
    claims = [await b.claim(e.message_id) for e in again]
    assert claims[:3] == [(False, "a")] * 3  # a may have sent these: UNKNOWN, not resent
    assert claims[3:] == [(True, "b")] * 7
    await b.ack([e.entry_id for e in again])
    assert await b.pending() == 0
    assert await a.ack([e.entry_id for e in taken]) == 0  # (too late: acked already)
