"""The campaign scenario of issue 19 (kept apart from benchmarks/daemon.py, which another change
is editing; ``python benchmarks/daemon_campaign.py [--json]``, or
``python benchmarks/daemon.py --scenario campaign``):

- CSV ingest: a campaign of ``--rows`` recipients (1 000 000 by default) POSTed as text/csv,
  streamed from a generator (the client never holds it): rows/s until the 201, and the
  daemon's peak RSS (VmHWM) after it;
- campaign throughput against the channel's TPS (``--tps``), measured over ``--seconds``: from
  the campaign's progress (what the daemon reports), and from the fake SMSC's ledger (when each
  submit arrived): over the whole window, without its first second (the channel's token
  bucket holds one second of TPS, spent at once after a lull, such as the ingest that just
  starved the loop), and the busiest second after it;
- OTP p99 during the campaign: accept (the POST) -> submit (the fake SMSC's ledger time), for
  codes sent at 20 a second to fresh numbers.

- the store's ceiling in the same run: the same number of campaign-shaped rows inserted straight
  into the outbox's schema (its indexes, its multi-row INSERT), with no HTTP, CSV or template
  work; ingest over it is the daemon's own share, and it says how loaded the machine was.

Targets: ingest >= 50 000 rows/s; peak RSS <= 300 MB; OTP p99 <= 100 ms.
The daemon is a subprocess (``smsengine serve``); the fake SMSC runs in this process.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

from smsengine.fakesmsc import FakeSMSC, config_from_dict

KEY = "bench-admin-key-0123456789"


def _config(folder: Path, smsc_port: int, tps: int) -> Path:
    path = folder / "smsengine.toml"
    path.write_text(f"""
[[channels]]
name = "main"
host = "127.0.0.1"
port = {smsc_port}
system_id = "bench"
password = "secret"
transceivers = 2
tps = {tps}

[server]
host = "127.0.0.1"
port = 0

[store]
path = "{folder / 'outbox.db'}"
max_outbox = 2000000

[[api_keys]]
name = "admin"
key = "{KEY}"
scopes = ["admin"]

[policy.quiet_hours]
enabled = false
""", encoding="utf-8")
    return path


async def _csv(rows: int) -> AsyncIterator[bytes]:
    yield b"to,name\n"
    chunk = 20_000
    for start in range(0, rows, chunk):
        yield "".join(f"86150{n:08d},c{n}\n"
                      for n in range(start, min(rows, start + chunk))).encode()
        await asyncio.sleep(0)


def _peak_rss(pid: int) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"VmHWM:\s+(\d+) kB", text)
    return int(found.group(1)) * 1024 if found else 0


def _store_ceiling(rows: int) -> float:
    """The raw ceiling, in the same run: rows/s for the outbox's own inserts of ``rows``
    campaign-shaped rows (same schema and indexes, same multi-row INSERT, 20 000 a commit) into
    a fresh file, with no HTTP, CSV or template work. Ingest over this is the daemon's share."""
    import sqlite3

    from smsengine.daemon import outbox

    with tempfile.TemporaryDirectory(prefix="smsengine-ceiling-") as folder:
        conn = sqlite3.connect(Path(folder) / "ceiling.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(outbox._SCHEMA)
        started = time.perf_counter()
        now = time.time()
        for first in range(0, rows, 20_000):
            batch = [(first + n + 1, 1, f"86150{first + n:08d}", "marketing", None, None,
                      b'{"to":"86150%08d","template":"sale","params":{"name":"c%d"}}'
                      % (first + n, first + n), 1, first + n + 1, now, None, None, None, 1)
                     for n in range(min(20_000, rows - first))]
            conn.execute("BEGIN")
            outbox._insert_many(conn, batch)
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - started
        conn.close()
    return rows / elapsed


async def main(rows: int, tps: int, seconds: float) -> dict[str, object]:
    result: dict[str, object] = {"rows": rows, "tps": tps}
    smsc = FakeSMSC(config_from_dict({}))
    await smsc.start()
    with tempfile.TemporaryDirectory(prefix="smsengine-campaign-") as folder:
        env = {**os.environ}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "smsengine", "serve", "--config",
            str(_config(Path(folder), smsc.port, tps)), "--log-level", "warning",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env=env)
        assert proc.stdout is not None
        base = ""
        while not base:
            line = (await proc.stdout.readline()).decode()
            assert line, "the daemon exited"
            if m := re.search(r"listening on (http://\S+)", line):
                base = m.group(1)
        try:
            async with aiohttp.ClientSession(
                    headers={"Authorization": f"Bearer {KEY}"},
                    timeout=aiohttp.ClientTimeout(total=None)) as http:
                async with http.post(base + "/v1/templates", json={
                        "name": "sale", "kind": "marketing", "sign_name": "Shop",
                        "text": "Hi ${name}, everything is 50% off today."}) as resp:
                    assert resp.status == 201, await resp.text()
                started = time.perf_counter()
                async with http.post(base + "/v1/campaigns?template=sale", data=_csv(rows),
                                     headers={"Content-Type": "text/csv"}) as resp:
                    body = await resp.json()
                    assert resp.status == 201, body
                ingest = time.perf_counter() - started
                cid = body["id"]
                rss = _peak_rss(proc.pid)
                result.update(ingest_rows_per_s=round(rows / ingest),
                              peak_rss_mb=round(rss / 2**20, 1))
                print(f"ingest: {rows} rows in {ingest:.2f} s = {rows / ingest:,.0f} rows/s "
                      f"(target >= 50 000); daemon peak RSS {rss / 2**20:.0f} MB "
                      f"(target <= 300)")

                async def sent() -> int:
                    async with http.get(f"{base}/v1/campaigns/{cid}") as r:
                        p = (await r.json())["progress"]
                    return int(p["submitted"] + p["delivered"] + p["failed"])

                # OTPs during the campaign, 20 a second, accept -> submit from the ledger.
                asked: dict[str, float] = {}
                first, t0 = await sent(), time.perf_counter()
                n = 0
                while time.perf_counter() - t0 < seconds:
                    to = f"86139{n:08d}"
                    asked[to] = time.time()
                    async with http.post(base + "/v1/messages", json={
                            "to": to, "text": "Your code is 123456", "kind": "otp"}) as r:
                        assert r.status == 202, await r.text()
                    n += 1
                    await asyncio.sleep(0.05)
                last, t1 = await sent(), time.perf_counter()
                await asyncio.sleep(1.0)
                latencies = sorted(e.time - asked[e.destination_addr] for e in smsc.ledger
                                   if e.destination_addr in asked)
                rate = (last - first) / (t1 - t0)
                result["campaign_msgs_per_s"] = round(rate, 1)
                print(f"campaign: {rate:,.0f} messages/s against a channel TPS of {tps} "
                      f"({rate / tps:.0%})")
                # The same from the carrier's side: when each campaign submit reached it.
                w0, w1 = time.time() - (time.perf_counter() - t0), time.time() - (
                    time.perf_counter() - t1)
                times = sorted(e.time for e in smsc.ledger
                               if e.destination_addr.startswith("86150") and w0 <= e.time < w1)
                if times and w1 - w0 > 2:
                    whole = len(times) / (w1 - w0)
                    after = sum(1 for t in times if t >= w0 + 1) / (w1 - w0 - 1)
                    starts = [w0 + 1 + i / 10 for i in range(int((w1 - w0 - 2) * 10) + 1)]
                    busiest = max(bisect.bisect_left(times, a + 1) - bisect.bisect_left(times, a)
                                  for a in starts)
                    result.update(carrier_msgs_per_s=round(whole, 1),
                                  carrier_msgs_per_s_after_first_second=round(after, 1),
                                  carrier_busiest_second=busiest)
                    print(f"  at the carrier: {whole:,.0f}/s over {w1 - w0:.1f} s "
                          f"({whole / tps:.0%}), {after:,.0f}/s without the first second "
                          f"({after / tps:.0%}); busiest second after it {busiest:,} "
                          f"({busiest / tps:.0%})")
                if latencies:
                    p50 = latencies[len(latencies) // 2] * 1e3
                    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1e3
                    result.update(otp_submitted=len(latencies), otp_sent=len(asked),
                                  otp_p50_ms=round(p50, 2), otp_p99_ms=round(p99, 2))
                    print(f"otp during it: {len(latencies)}/{len(asked)} submitted, accept -> "
                          f"submit p50 {p50:.1f} ms, p99 {p99:.1f} ms (target <= 100)")
                async with http.post(f"{base}/v1/campaigns/{cid}/cancel") as r:
                    assert r.status == 200
        finally:
            proc.terminate()
            await proc.wait()
            await smsc.stop()
    ceiling = _store_ceiling(rows)
    result["store_ceiling_rows_per_s"] = round(ceiling)
    result["ingest_fraction_of_ceiling"] = round(
        float(result.get("ingest_rows_per_s", 0)) / ceiling, 3)  # type: ignore[arg-type]
    print(f"store ceiling (the same rows inserted straight into the outbox's schema): "
          f"{ceiling:,.0f} rows/s; ingest is {result['ingest_fraction_of_ceiling']} of it")
    return result


def run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--tps", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    args = parser.parse_args(argv)
    # With --json the readable lines go to stderr and stdout holds only the JSON object.
    with contextlib.redirect_stdout(sys.stderr if args.json else sys.stdout):
        result = asyncio.run(main(args.rows, args.tps, args.seconds))
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(run())
