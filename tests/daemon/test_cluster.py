"""Daemons as cluster nodes (issue 20): ``smsengine serve`` subprocesses sharing the real Redis
(127.0.0.1:6379 or ``SMSENGINE_REDIS_URL``; skipped loudly without one, failed under CI=true,
as tests/cluster), reconciled against the fake SMSC's ledger.

- A node whose Redis is down starts, accepts into its outbox, and ``/readyz`` says why it is
  not ready. Redis lost under a running node (a private redis-server): its binds close by the
  lease deadline, it still accepts; Redis back: it binds again and sends what it accepted.
- Three nodes, one fake SMSC account with a TPS and a maximum of binds: messages posted
  round-robin with receipts, one node killed with kill -9 mid-run (the default lease TTL, 10 s).
  The ledger shows no second
  over the account's TPS and nothing throttled, the fake never sees more binds than its
  maximum, the dead node's slot is bound again by a survivor within 15 s, and every message
  the survivors accepted reaches the carrier exactly once. The killed node is restarted at the
  end (its accepted messages are in its SQLite: there are no hand-off streams yet) and then
  nothing accepted by any node is lost.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import sqlite3
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from smsengine.fakesmsc import FakeSMSC, config_from_dict
from tests._support.daemon_process import KEY, Daemon, daemon, daemon_config
from tests._support.services import unavailable
from tests.cluster.conftest import REDIS_URL, _redis_reachable  # noqa: F401 (the fixture)

FINAL = {4: "delivered", 5: "undeliverable", 6: "expired", 7: "rejected", 8: "failed",
         9: "unknown", 10: "cancelled"}
NODES = 3
MAX_BINDS = 3  # the carrier account's, and the channel's transceivers
CARRIER_TPS = 200  # the account's limit at the fake SMSC
TPS, BURST = 170, 10  # the channel's: rate*1 s + burst + rate*tps_hold stays under the account's
MESSAGES = 4800
BATCH = 100


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    name = f"smsengine-test-{uuid.uuid4().hex}"
    yield name
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        keys = [k async for k in client.scan_iter(match=f"{name}:*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def node_config(folder: Path, smsc_port: int, node: str, prefix: str, *,
                redis_url: str = REDIS_URL, lease_ttl: float = 10.0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = daemon_config(folder, smsc_port, channel=f"tps = {TPS}\nburst = {BURST}\nwindow = 16",
                         policy=f"""[policy.quiet_hours]
enabled = false

[cluster]
redis_url = "{redis_url}"
node_id = "{node}"
key_prefix = "{prefix}"
lease_ttl = {lease_ttl}
connect_timeout = 0.5
command_timeout = 1.0
""")
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("transceivers = 2", f"transceivers = {MAX_BINDS}"),
                    encoding="utf-8")
    return path


async def test_a_node_without_redis_accepts_and_says_why_it_is_not_ready(
        tmp_path: Path, prefix: str) -> None:
    smsc = FakeSMSC(config_from_dict({}))
    await smsc.start()
    try:
        config = node_config(tmp_path, smsc.port, "lonely", prefix,
                             redis_url="redis://127.0.0.1:1/0")
        async with daemon(config) as node:
            status, body, _ = await node.request("GET", "/readyz", key=None)
            assert status == 503, body
            assert "Redis unavailable since" in body["checks"]["cluster"], body
            assert "channel main" not in body["checks"]  # it holds no slot: no bind expected
            await node.send(to="8613800138000", text="kept for later")
            assert not smsc.binds  # no lease, no bind
            assert await node.terminate() == 0
    finally:
        await smsc.stop()


def _outbox(path: Path) -> list[tuple[str, int]]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return [(str(to), int(state)) for to, state in
                conn.execute("SELECT to_number, state FROM outbox")]


async def _until_final(paths: list[Path], timeout: float, smsc: FakeSMSC | None = None) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        rows = [r for p in paths for r in _outbox(p)]
        open_ = Counter(state for _, state in rows if state not in FINAL)
        if not open_:
            return
        assert loop.time() < deadline, (f"{len(rows)} rows, not final: {open_}; "
                                        + _stuck(paths, smsc))
        await asyncio.sleep(0.25)


def _stuck(paths: list[Path], smsc: FakeSMSC | None) -> str:
    """Where the messages not final are: their node, status and the ledger's entry."""
    out = []
    for path in paths:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            for to, state, status in conn.execute(
                    "SELECT to_number, state, status FROM outbox WHERE state < 4"):
                sent = [(e.bind_id, e.message_id, round(e.time % 1000, 3))
                        for e in (smsc.ledger if smsc is not None else ())
                        if e.destination_addr == to]
                out.append(f"{path.parent.name} {to} state {state} status {status!r} "
                           f"ledger {sent}")
    if smsc is not None:
        out.append(f"fake stats {smsc.stats}")
    return "; ".join(out[:10])


async def _until(predicate: Any, timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, what
        await asyncio.sleep(0.02)


async def test_three_nodes_one_carrier_kill_9_one(tmp_path: Path, prefix: str) -> None:
    smsc = FakeSMSC(config_from_dict({
        "accounts": [{"system_id": "shop", "password": "secret", "bind_modes": ["transceiver"],
                      "max_binds": MAX_BINDS, "tps": CARRIER_TPS}],
        "receipts": {"delay": {"kind": "uniform", "low": 0.05, "high": 0.5}},
    }))
    await smsc.start()
    peak = [0]
    samples: list[tuple[float, int]] = []

    async def watch_binds() -> None:
        while True:
            n = len(smsc.binds)
            peak[0] = max(peak[0], n)
            samples.append((time.monotonic(), n))
            await asyncio.sleep(0.005)

    watcher = asyncio.get_running_loop().create_task(watch_binds())
    configs = [node_config(tmp_path / f"n{i}", smsc.port, f"n{i}", prefix)
               for i in range(NODES)]
    contexts: list[AbstractAsyncContextManager[Daemon]] = []
    nodes: list[Daemon | None] = []
    try:
        for config in configs:
            contexts.append(daemon(config))
            nodes.append(await contexts[-1].__aenter__())
        # Each node ends up with one of the three slots (ceil(3/3)); the first took them all.
        await _until(lambda: len(smsc.binds) == MAX_BINDS, 15, "3 binds not up")
        await asyncio.sleep(2.0)
        numbers = [f"8615{n:09d}" for n in range(MESSAGES)]
        batches = [[{"to": numbers[j], "text": f"Sale {j}", "kind": "marketing"}
                    for j in range(i, i + BATCH)] for i in range(0, MESSAGES, BATCH)]
        accepted: dict[int, tuple[int, list[str]]] = {}  # batch -> (node, ids)
        unsure: dict[int, int] = {}  # batch -> the killed node it may have reached
        victim = 2
        killed_at = [0.0]
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {KEY}"},
                                         timeout=aiohttp.ClientTimeout(total=5)) as http:

            async def post(i: int, n: int) -> bool:
                node = nodes[n]
                if node is None:
                    return False
                try:
                    async with http.post(node.base + "/v1/messages",
                                         json={"messages": batches[i]},
                                         headers={"Idempotency-Key": f"b{i}"}) as resp:
                        body = await resp.json()
                        assert resp.status == 202, body
                        accepted[i] = (n, [m["id"] for m in body["messages"]])
                        return True
                except (aiohttp.ClientError, TimeoutError):
                    unsure[i] = n  # killed under us: may have been kept
                    return False

            for i in range(len(batches)):
                if i == len(batches) // 3:  # a third in, kill -9 one node
                    assert nodes[victim] is not None
                    nodes[victim].kill()  # type: ignore[union-attr]
                    killed_at[0] = time.monotonic()
                    await nodes[victim].proc.wait()  # type: ignore[union-attr]
                    await contexts[victim].__aexit__(None, None, None)
                    nodes[victim] = None
                n = i % NODES
                if not await post(i, n) and i not in unsure:  # refused outright: the next
                    await post(i, (n + 1) % NODES)
                await asyncio.sleep(BATCH / (TPS * 1.2))
            # The dead node's slot is bound again by a survivor within 15 s.
            def reheld_at() -> float | None:
                dropped = next((t for t, n in samples if t > killed_at[0] and n < MAX_BINDS),
                               None)
                if dropped is None:
                    return None
                return next((t for t, n in samples if t > dropped and n == MAX_BINDS), None)

            await _until(lambda: reheld_at() is not None, 16,
                         "the dead node's slot not re-held within 15 s")
            reheld = reheld_at()
            assert reheld is not None
            survivors = [configs[i].parent / "outbox.db" for i in range(NODES) if i != victim]
            await _until_final(survivors, 60, smsc)
            # Then the killed node comes back: what it had accepted goes too.
            contexts[victim] = daemon(configs[victim])
            nodes[victim] = await contexts[victim].__aenter__()
            for i, n in sorted(unsure.items()):
                if i not in accepted:
                    await post(i, n)  # the same key: its first answer if it was kept
            await _until_final([c.parent / "outbox.db" for c in configs], 60, smsc)
        for node in nodes:
            if node is not None:
                try:
                    assert await node.terminate() == 0
                except TimeoutError:
                    raise AssertionError("a node did not stop within 20 s of SIGTERM: "
                                         + "".join(node.log[-30:])) from None
        rows = [r for c in configs for r in _outbox(c.parent / "outbox.db")]
        ids = [x for _, got in accepted.values() for x in got]
        assert len(ids) == len(set(ids)) == len(rows), (len(ids), len(rows))
        sent = Counter(e.destination_addr for e in smsc.ledger)
        states = Counter(FINAL[s] for _, s in rows)
        unknown = {to for to, s in rows if s == 9}
        lost = [to for to, s in rows if s != 9 and sent[to] != 1]
        per_second = Counter(int(e.time) for e in smsc.ledger)
        report = (f"states {dict(states)}; ledger {len(smsc.ledger)}; unknown {len(unknown)}; "
                  f"busiest second {max(per_second.values())}; throttled "
                  f"{smsc.stats['throttled']}; peak binds {peak[0]}; binds refused "
                  f"{smsc.stats['binds_refused']}; slot re-held "
                  f"{reheld - killed_at[0]:.1f} s after the kill")
        print(report)
        assert not lost, f"{len(lost)} lost: {report}"
        assert all(n <= 1 for to, n in sent.items() if to not in unknown), report
        assert set(sent) <= {to for to, _ in rows}, report
        assert len(unknown) <= 16 * 1, report  # at most the dead bind's window was in flight
        assert max(per_second.values()) <= CARRIER_TPS, report
        assert smsc.stats["throttled"] == 0, report
        assert peak[0] <= MAX_BINDS, report
        assert smsc.stats["binds_refused"] == 0, report
        assert reheld - killed_at[0] <= 15, report
    finally:
        watcher.cancel()
        for ctx in contexts:
            await ctx.__aexit__(None, None, None)
        await smsc.stop()


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[tuple[int, Any]]:
    """A redis-server of this test's own (it is stopped and restarted), and a restart()."""
    server = shutil.which("redis-server")
    if server is None:
        unavailable("the private-Redis test", "no redis-server binary on the PATH")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    procs: list[asyncio.subprocess.Process] = []

    async def start() -> None:
        proc = await asyncio.create_subprocess_exec(
            server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(tmp_path),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        procs.append(proc)
        client = aioredis.Redis(port=port)
        try:
            for _ in range(200):
                try:
                    await client.ping()
                    return
                except (OSError, aioredis.ConnectionError):
                    await asyncio.sleep(0.02)
            raise AssertionError("private redis-server did not start")
        finally:
            await client.aclose()

    async def stop() -> None:
        proc = procs[-1]
        proc.kill()
        await proc.wait()

    await start()
    try:
        yield port, (start, stop)
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


async def test_redis_lost_and_back(tmp_path: Path, prefix: str,
                                   private_redis: tuple[int, Any]) -> None:
    """Redis goes away under a running node: its binds close by the lease deadline (it cannot
    be sure of its slots), it still accepts, /readyz says why; Redis comes back (empty: it
    keeps nothing on disk): the node takes its slots again and sends what it accepted."""
    port, (start, stop) = private_redis
    smsc = FakeSMSC(config_from_dict({
        "accounts": [{"system_id": "shop", "password": "secret", "bind_modes": ["transceiver"],
                      "max_binds": MAX_BINDS}]}))
    await smsc.start()
    try:
        config = node_config(tmp_path, smsc.port, "solo", prefix,
                             redis_url=f"redis://127.0.0.1:{port}/0", lease_ttl=2.0)
        async with daemon(config) as node:
            await _until(lambda: len(smsc.binds) == MAX_BINDS, 10, "binds not up")
            first = await node.send(to="8613800138000", text="before")
            await node.until(first, lambda m: m["state"] == "delivered")
            await stop()
            lost_at = time.monotonic()
            await _until(lambda: not smsc.binds, 5, "binds still up 5 s after Redis went")
            closed_after = time.monotonic() - lost_at
            print(f"binds closed {closed_after:.2f} s after Redis went")
            assert closed_after <= 2.0 + 1.0, closed_after  # the lease TTL, and a little
            status, body, _ = await node.request("GET", "/readyz", key=None)
            assert status == 503 and "Redis unavailable since" in body["checks"]["cluster"]
            kept = await node.send(to="8613800138001", text="while Redis is away")
            await asyncio.sleep(0.5)
            assert (await node.message(kept))["state"] == "queued"
            await start()
            await _until(lambda: len(smsc.binds) == MAX_BINDS, 10, "binds not back")
            await node.until(kept, lambda m: m["state"] == "delivered", timeout=15)
            for _ in range(60):  # (the heartbeat, every second, clears the cluster's check)
                status, body, _ = await node.request("GET", "/readyz", key=None)
                if status == 200:
                    break
                await asyncio.sleep(0.05)
            assert status == 200, body
            assert await node.terminate() == 0
        sent = Counter(e.destination_addr for e in smsc.ledger)
        assert sent == {"8613800138000": 1, "8613800138001": 1}
    finally:
        await smsc.stop()
