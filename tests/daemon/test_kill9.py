"""kill -9: a 20 000-message campaign with receipts, the daemon killed at random moments five
times and restarted each time, then the fake SMSC's ledger reconciled with the daemon's outbox.

- Every accepted message was submitted exactly once, or is UNKNOWN (counted): zero duplicates
  with ``resend_unknown`` off.
- Every message ends in a final state.
- The client retries a batch whose answer it never got with the same Idempotency-Key, so a
  batch committed just before a kill is not accepted twice.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

from smsengine.fakesmsc import FakeSMSC, config_from_dict
from tests._support.daemon_process import KEY, daemon, daemon_config

MESSAGES = 20_000
BATCH = 500
KILLS = 5
FINAL = {4: "delivered", 5: "undeliverable", 6: "expired", 7: "rejected", 8: "failed",
         9: "unknown", 10: "cancelled"}


async def _post_batches(base: list[str], batches: list[list[dict[str, Any]]],
                        accepted: dict[int, list[str]]) -> None:
    """Post every batch until it is answered, whatever the daemon's deaths; the same key on
    every try of a batch."""
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {KEY}"},
                                     timeout=aiohttp.ClientTimeout(total=10)) as http:
        for i, batch in enumerate(batches):
            while i not in accepted:
                try:
                    async with http.post(base[0] + "/v1/messages", json={"messages": batch},
                                         headers={"Idempotency-Key": f"campaign-{i}"}) as resp:
                        if resp.status == 202:
                            body = await resp.json()
                            assert body["accepted"] == len(batch), body
                            accepted[i] = [m["id"] for m in body["messages"]]
                        else:
                            assert resp.status == 503, await resp.text()  # shutting down
                            await asyncio.sleep(0.05)
                except (aiohttp.ClientError, TimeoutError):
                    await asyncio.sleep(0.05)  # killed under us: try again, same key


async def test_kill_9_five_times_loses_nothing_and_sends_nothing_twice(tmp_path: Path) -> None:
    rng = random.Random(20261207)
    smsc = FakeSMSC(config_from_dict({
        "receipts": {"delay": {"kind": "uniform", "low": 0.05, "high": 1.0}},
        "latency": {"kind": "uniform", "low": 0.0, "high": 0.004},
    }))
    await smsc.start()
    try:
        config = daemon_config(tmp_path, smsc.port, channel="window = 32")
        numbers = [f"8615{n:09d}" for n in range(MESSAGES)]
        batches = [[{"to": numbers[j], "text": f"Sale {j}: 20% off", "kind": "marketing"}
                    for j in range(i, i + BATCH)] for i in range(0, MESSAGES, BATCH)]
        accepted: dict[int, list[str]] = {}
        base = [""]
        # Each daemon in its own context, entered and left by hand: one is killed and the
        # next started while the poster goes on.
        context = daemon(config)
        running = await context.__aenter__()
        base[0] = running.base
        poster = asyncio.get_running_loop().create_task(_post_batches(base, batches, accepted))
        try:
            for _ in range(KILLS):
                await asyncio.sleep(rng.uniform(0.3, 2.0))
                running.kill()
                await running.proc.wait()
                await context.__aexit__(None, None, None)
                context = daemon(config)
                running = await context.__aenter__()
                base[0] = running.base
            await asyncio.wait_for(poster, 120)
            await _until_final(config.parent / "outbox.db", MESSAGES)
            assert await running.terminate() == 0
        finally:
            poster.cancel()
            await context.__aexit__(None, None, None)
        assert len(accepted) == len(batches)
        ids = [i for batch in accepted.values() for i in batch]
        assert len(ids) == len(set(ids)) == MESSAGES
        rows = _outbox(config.parent / "outbox.db")
        assert len(rows) == MESSAGES, f"{len(rows)} rows for {MESSAGES} accepted messages"
        sent = Counter(e.destination_addr for e in smsc.ledger)
        states = Counter(FINAL.get(state, f"open:{state}") for _, state in rows)
        duplicates = sum(1 for n in sent.values() if n > 1)
        unknown = [to for to, state in rows if state == 9]
        not_sent = [to for to, state in rows if state != 9 and sent[to] != 1]
        report = (f"states {dict(states)}; ledger {len(smsc.ledger)}; duplicates {duplicates}; "
                  f"unknown {len(unknown)} (of which sent {sum(sent[t] for t in unknown)})")
        print(report)
        assert all(state in FINAL for _, state in rows), report
        assert duplicates == 0, report
        assert not not_sent, f"{len(not_sent)} messages not UNKNOWN yet not sent once: {report}"
        assert set(sent) <= {to for to, _ in rows}, "the carrier got a number never accepted"
    finally:
        await smsc.stop()


def _outbox(path: Path) -> list[tuple[str, int]]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return [(str(to), int(state)) for to, state in
                conn.execute("SELECT to_number, state FROM outbox")]


async def _until_final(path: Path, expected: int, timeout: float = 120.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        rows = _outbox(path)
        open_ = [state for _, state in rows if state not in FINAL]
        if len(rows) == expected and not open_:
            return
        assert loop.time() < deadline, (
            f"{len(rows)} rows, {len(open_)} not final: {Counter(open_)}")
        await asyncio.sleep(0.25)
