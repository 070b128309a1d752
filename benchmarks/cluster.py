"""Cluster nodes (issue 20) against one node on SQLite alone, in the same run.

Every party is its own process: the fake SMSC (open mode: a receipt for every submit_sm, up to
4 binds an account), and ``--nodes`` ``smsengine serve`` daemons (each its own outbox on a
temporary directory; one channel of three transceivers, window 256, TPS ``--tps`` with burst
``--burst``, so the cluster-wide GCRA is taken from without being the limit). The client is
this process (aiohttp, ``--concurrency`` requests in flight), posting ``--messages``
notifications in batches of ``--batch``, round-robin over the nodes.

Cases, in this order, each with fresh daemons: one node without ``[cluster]`` (SQLite only),
then 1, 2 and 3 nodes with ``[cluster]`` on the Redis at ``--redis`` (default 127.0.0.1:6379,
a key prefix of its own, deleted after), then the SQLite-only node again (the better of the
two is the baseline). For each:

- **accepted msgs/s**: messages over the span from the first post to the last 202;
- **end-to-end msgs/s**: messages over the span until every outbox says every message is final
  (read-only SQLite, ``state >= 4``, polled every 50 ms), with receipts;
- **Redis commands per message**: the sum of ``calls`` in ``INFO commandstats``, after minus
  before, over the messages (the whole server's: other clients of the same Redis count too);
- **daemon CPU per message**: user + system seconds of every node (``/proc/PID/stat``) over
  the same span, over the messages: the cost per message, which a loaded machine disturbs
  less than the rates (the load average at the end is in the output);
- the cluster cases' figures as a fraction of the single node on SQLite.

    .venv/bin/python benchmarks/cluster.py --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import start_fakesmsc

KEY = "bench-cluster-key-0123456789"


def _config(folder: Path, smsc_port: int, opts: argparse.Namespace, node: str,
            prefix: str | None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    cluster = "" if prefix is None else f"""
[cluster]
redis_url = "{opts.redis}"
node_id = "{node}"
key_prefix = "{prefix}"
"""
    path = folder / "smsengine.toml"
    path.write_text(f"""
[[channels]]
name = "main"
host = "127.0.0.1"
port = {smsc_port}
system_id = "bench"
password = "bench"
transceivers = 3
window = 256
tps = {opts.tps}
burst = {opts.burst}

[server]
host = "127.0.0.1"
port = 0
max_batch = 1000

[store]
path = "{folder / 'outbox.db'}"

[[api_keys]]
name = "bench"
key = "{KEY}"
scopes = ["admin"]

[policy.quiet_hours]
enabled = false
{cluster}""", encoding="utf-8")
    return path


def _start(config: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-m", "smsengine", "serve", "--config",
                             str(config), "--log-level", "warning"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("smsengine serve listening on "):
            return proc, line.split()[-1]
    raise SystemExit(f"smsengine serve did not start: {config}")


def _cpu(pid: int) -> float:
    """CPU seconds (user + system) the process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _commands(client: redis.Redis) -> int:
    stats = client.info("commandstats")
    return sum(int(v["calls"]) for v in stats.values())


def _final(paths: list[Path]) -> int:
    done = 0
    for path in paths:
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
                done += int(conn.execute("SELECT count(*) FROM outbox WHERE state >= 4")
                            .fetchone()[0])
        except sqlite3.Error:
            pass
    return done


async def _ready(http: aiohttp.ClientSession, bases: list[str], timeout: float = 30) -> None:
    """Until each node answers /readyz 200, and the account has a bind per node."""
    deadline = time.monotonic() + timeout
    for base in bases:
        while True:
            async with http.get(base + "/readyz") as resp:
                if resp.status == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit(f"{base} not ready: {await resp.text()}")
            await asyncio.sleep(0.1)


async def _post(bases: list[str], opts: argparse.Namespace) -> tuple[float, float]:
    batches = [[{"to": f"8615{j:09d}", "text": f"Bench {j}"}
                for j in range(i, min(i + opts.batch, opts.messages))]
               for i in range(0, opts.messages, opts.batch)]
    connector = aiohttp.TCPConnector(limit=opts.concurrency * 2)
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {KEY}"},
                                     connector=connector) as http:
        await _ready(http, bases)
        await asyncio.sleep(opts.settle)  # the slots spread over the nodes
        queue = list(enumerate(batches))
        queue.reverse()
        started = time.perf_counter()

        async def worker() -> None:
            while queue:
                i, batch = queue.pop()
                async with http.post(bases[i % len(bases)] + "/v1/messages",
                                     json={"messages": batch}) as resp:
                    if resp.status != 202:
                        raise SystemExit(f"POST: {resp.status} {await resp.text()}")
                    await resp.read()

        await asyncio.gather(*(worker() for _ in range(opts.concurrency)))
        return started, time.perf_counter()


def _case(smsc_port: int, opts: argparse.Namespace, nodes: int, cluster: bool,
          client: redis.Redis) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    prefix = f"bench-{uuid.uuid4().hex[:12]}" if cluster else None
    procs: list[subprocess.Popen[str]] = []
    try:
        configs = [_config(folder / f"n{i}", smsc_port, opts, f"n{i}", prefix)
                   for i in range(nodes)]
        bases = []
        for config in configs:
            proc, base = _start(config)
            procs.append(proc)
            bases.append(base)
        before = _commands(client)
        cpu_before = sum(_cpu(p.pid) for p in procs)
        started, accepted_at = asyncio.run(_post(bases, opts))
        outboxes = [c.parent / "outbox.db" for c in configs]
        while _final(outboxes) < opts.messages:
            if time.perf_counter() - started > opts.timeout:
                raise SystemExit(f"{nodes} nodes: {_final(outboxes)} of {opts.messages} "
                                 f"final after {opts.timeout} s")
            time.sleep(0.05)
        final_at = time.perf_counter()
        commands = _commands(client) - before
        cpu = sum(_cpu(p.pid) for p in procs) - cpu_before
        return {
            "nodes": nodes, "cluster": cluster,
            "accepted_per_s": round(opts.messages / (accepted_at - started)),
            "end_to_end_per_s": round(opts.messages / (final_at - started)),
            "redis_commands_per_message": round(commands / opts.messages, 3),
            "daemon_cpu_us_per_message": round(cpu / opts.messages * 1e6, 1),
        }
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        if prefix is not None:
            keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
            if keys:
                client.delete(*keys)
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--tps", type=float, default=50_000.0)
    parser.add_argument("--burst", type=float, default=1_000.0)
    parser.add_argument("--nodes", type=int, default=3, help="cluster cases: 1..NODES")
    parser.add_argument("--settle", type=float, default=2.0,
                        help="seconds after every node is ready, before posting")
    parser.add_argument("--timeout", type=float, default=180.0)
    parser.add_argument("--redis", default=os.environ.get("SMSENGINE_REDIS_URL",
                                                          "redis://127.0.0.1:6379/0"))
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    opts = parser.parse_args(argv)
    client = redis.Redis.from_url(opts.redis)
    client.ping()
    smsc, port = start_fakesmsc()
    try:
        cases = [_case(port, opts, 1, False, client)]
        for n in range(1, opts.nodes + 1):
            cases.append(_case(port, opts, n, True, client))
        cases.append(_case(port, opts, 1, False, client))
    finally:
        smsc.terminate()
        smsc.wait(10)
    # The baseline: the better of the two SQLite runs (first and last, so that warming up and
    # drift over the run do not favour either side).
    base = max((c for c in cases if not c["cluster"]), key=lambda c: c["end_to_end_per_s"])
    for case in cases:
        if not case["cluster"]:
            continue
        case["accepted_vs_sqlite"] = round(case["accepted_per_s"] / base["accepted_per_s"], 3)
        case["end_to_end_vs_sqlite"] = round(case["end_to_end_per_s"]
                                             / base["end_to_end_per_s"], 3)
        case["cpu_vs_sqlite"] = round(case["daemon_cpu_us_per_message"]
                                      / base["daemon_cpu_us_per_message"], 3)
    result = {"messages": opts.messages, "batch": opts.batch, "tps": opts.tps,
              "burst": opts.burst, "cpus": os.cpu_count(),
              "load_average": [round(x, 2) for x in os.getloadavg()], "cases": cases}
    if opts.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{opts.messages} messages, batches of {opts.batch}, channel tps {opts.tps:g}")
        for case in cases:
            name = f"{case['nodes']} node(s) {'redis' if case['cluster'] else 'sqlite only'}"
            print(f"  {name:22} accepted {case['accepted_per_s']:>7}/s  end to end "
                  f"{case['end_to_end_per_s']:>7}/s  redis cmds/msg "
                  f"{case['redis_commands_per_message']}  daemon CPU "
                  f"{case['daemon_cpu_us_per_message']} us/msg"
                  + (f"  ({case['end_to_end_vs_sqlite']:.2f} of sqlite)"
                     if case["cluster"] else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
