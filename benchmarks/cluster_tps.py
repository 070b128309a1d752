"""Cluster-wide TPS on Redis (issue 20): Redis round trips per message, and grants per second,
for batch sizes 1, 10 and 100, against a local Redis (``--redis``, default
``$SMSENGINE_REDIS_URL`` or redis://127.0.0.1:6379/0), in one run.

Two measurements per batch size ``k``:

1. ``paced``: three "nodes" (three clients) share one channel of ``--tps`` (5 000) segments a
   second with a burst of ``--burst`` (200); each node spends tokens one message at a time as
   fast as it can through a :class:`TokenBatcher` of batch ``k``. Reported: messages (tokens
   spent), cluster-wide grants/s (the target is the channel's rate: never more), Redis round
   trips per message, and the largest number granted in any one second of Redis time (the bound
   is tps + burst).
2. ``unpaced``: one node, a channel so fast that only Redis limits it: ``take(k)`` in a loop:
   grants/s and round trips per message, i.e. what one node could draw from Redis.

Keys live under a prefix of their own (a uuid) and are deleted at the end.

    .venv/bin/python benchmarks/cluster_tps.py --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from collections import Counter
from typing import Any

from smsengine.cluster import ClusterConfig, ClusterTps, TokenBatcher, connect, redact_url

BATCHES = (1, 10, 100)


async def paced(config: ClusterConfig, k: int, tps: float, burst: float,
                seconds: float) -> dict[str, Any]:
    channel = f"paced-{k}"
    nodes = [ClusterTps(connect(config), config, channel, tps, burst) for _ in range(3)]
    per_second: Counter[int] = Counter()
    spent = 0

    async def node(t: ClusterTps) -> None:
        nonlocal spent
        take = t.take

        async def counted(n: int, now: float | None = None) -> Any:
            g = await take(n, now)
            per_second[int(g.now)] += g.granted
            return g
        t.take = counted  # type: ignore[method-assign]
        batcher = TokenBatcher(t, batch=k, hold=1.0)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            await batcher.acquire(1)
            spent += 1

    start = time.monotonic()
    await asyncio.gather(*(node(t) for t in nodes))
    elapsed = time.monotonic() - start
    trips = sum(t.round_trips for t in nodes)
    full = [n for s, n in per_second.items() if s not in (min(per_second), max(per_second))]
    await nodes[0].clear()
    for t in nodes:
        await t.client.aclose()
    return {"messages": spent, "grants_per_s": round(spent / elapsed, 1),
            "round_trips": trips, "round_trips_per_message": round(trips / spent, 4),
            "max_granted_in_a_second": max(full or per_second.values()),
            "bound_tps_plus_burst": tps + burst}


async def unpaced(config: ClusterConfig, k: int, seconds: float) -> dict[str, Any]:
    t = ClusterTps(connect(config), config, f"unpaced-{k}", 1e8, 1e6)
    granted = 0
    start = time.monotonic()
    end = start + seconds
    while time.monotonic() < end:
        granted += (await t.take(k)).granted
    elapsed = time.monotonic() - start
    await t.clear()
    await t.client.aclose()
    return {"grants_per_s": round(granted / elapsed), "takes_per_s": round(t.round_trips /
                                                                            elapsed),
            "round_trips_per_message": round(t.round_trips / granted, 4)}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    config = ClusterConfig(redis_url=args.redis, key_prefix=f"bench-{uuid.uuid4().hex}",
                           node_id="bench")
    out: dict[str, Any] = {"redis": redact_url(args.redis),
                           "tps": args.tps, "burst": args.burst, "seconds": args.seconds,
                           "paced": {}, "unpaced": {}}
    for k in BATCHES:
        out["paced"][str(k)] = await paced(config, k, args.tps, args.burst, args.seconds)
        out["unpaced"][str(k)] = await unpaced(config, k, args.seconds / 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis", default=os.environ.get("SMSENGINE_REDIS_URL",
                                                          "redis://127.0.0.1:6379/0"))
    parser.add_argument("--tps", type=float, default=5000.0)
    parser.add_argument("--burst", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"cluster TPS on {result['redis']}: {args.tps:g} tps, burst {args.burst:g}")
    for k in BATCHES:
        p, u = result["paced"][str(k)], result["unpaced"][str(k)]
        print(f"batch {k:>3}: paced {p['grants_per_s']:>8.1f}/s, "
              f"{p['round_trips_per_message']:.4f} trips/msg, max/s {p['max_granted_in_a_second']}"
              f" | unpaced {u['grants_per_s']:>9}/s, {u['round_trips_per_message']:.4f} trips/msg")


if __name__ == "__main__":
    main()
