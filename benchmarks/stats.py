"""The statistics query (``GET /v1/stats``, issue 18) with 10 million messages stored.

1. **Fill**: ``--messages`` (10 000 000) messages over ``--days`` (90) x ``--channels`` (3) x
   ``--kinds`` (3), in time order, through :meth:`Stats.record` (one ``submitted`` record per
   message that reached the carrier, one for its final state: about 1.95 calls per message)
   and :meth:`Stats.flush` every ``--flush-every`` (2 000) records, a commit every 50 flushes:
   what the gateway does, minus the gateway. States: 85 % delivered, 4 % undeliverable, 2 %
   expired, 1 % rejected, 3 % unknown (all submitted first), 4 % failed and 1 % cancelled
   (never submitted); 1 to 3 parts; delivery latency log-normal around 5 s. Reported: the
   fill's wall time, and separately the cost of one ``record()`` call and of one flush (the
   hot path's figures).
2. **Queries**, each ``--repeat`` (200) times, p50 and p99 of the wall time of
   ``Stats.query`` (SQL and the dicts): the last 24 h by hour; the last 30 days by
   day,channel; everything by kind; and the last 30 days by day in another zone than the
   store's (Asia/Shanghai on a UTC store: summed from hour rows, the slow path).
3. **The naive alternative, same run**: the same three queries' counts as a GROUP BY over a
   ``messages`` table (one row a message, indexed on done_at) of ``--naive-rows``
   (1 000 000) messages spread over the same days: a tenth of the density, so the figures are
   scaled by messages / naive-rows (a scan is linear in the rows it reads). The naive queries
   compute counts only, no percentiles (those need every latency, sorted, per group): a lower
   bound of what the naive way costs.

Target (issue 18): the stats query p99 < 50 ms with 10 million messages stored.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from smsengine.daemon.stats import Stats

STATES = [("delivered", 85), ("undeliverable", 4), ("expired", 2), ("rejected", 1),
          ("unknown", 3), ("failed", 4), ("cancelled", 1)]
NEVER_SUBMITTED = {"failed", "cancelled"}
STATE_CODES = {name: i for i, (name, _) in enumerate(STATES)}


def pattern(channels: int, kinds: int, size: int = 10_007) -> list[tuple[str, str, str, int,
                                                                        float]]:
    """A pool of (channel, kind, state, parts, latency) to cycle through."""
    rng = random.Random(18)
    names = [n for n, _ in STATES]
    weights = [w for _, w in STATES]
    return [(f"ch{rng.randrange(channels)}", f"kind{rng.randrange(kinds)}",
             rng.choices(names, weights)[0], rng.choices((1, 2, 3), (80, 15, 5))[0],
             rng.lognormvariate(1.6, 1.0)) for _ in range(size)]


def fill(stats: Stats, args: argparse.Namespace, start: float) -> dict[str, Any]:
    pool = pattern(args.channels, args.kinds)
    hours = args.days * 24
    per_hour = args.messages // hours
    extra = args.messages - per_hour * hours
    record, flush, commit = stats.record, stats.flush, stats.commit
    flush_every = args.flush_every
    calls = flushes = 0
    flush_seconds = 0.0
    p = 0
    size = len(pool)
    t0 = time.perf_counter()
    for hour in range(hours):
        n = per_hour + (1 if hour < extra else 0)
        base = start + hour * 3600.0
        step = 3600.0 / n
        since_flush = 0
        for i in range(n):
            channel, kind, state, parts, latency = pool[p]
            p = p + 1 if p + 1 < size else 0
            sent = base + i * step
            if state in NEVER_SUBMITTED:
                record(channel=channel, kind=kind, state=state, parts=parts, submitted_at=None,
                       done_at=sent)
                since_flush += 1
            else:
                record(channel=channel, kind=kind, state="submitted", parts=parts,
                       submitted_at=sent, done_at=None)
                record(channel=channel, kind=kind, state=state, parts=parts, submitted_at=sent,
                       done_at=sent + latency)
                since_flush += 2
            if since_flush >= flush_every:
                calls += since_flush
                since_flush = 0
                f0 = time.perf_counter()
                flush()
                flushes += 1
                if flushes % 50 == 0:
                    commit()
                flush_seconds += time.perf_counter() - f0
        calls += since_flush
    commit()
    seconds = time.perf_counter() - t0
    return {"messages": args.messages, "record_calls": calls, "flushes": flushes,
            "seconds": round(seconds, 2), "messages_per_second": round(args.messages / seconds),
            "flush_ms_mean": round(flush_seconds / max(flushes, 1) * 1000, 3)}


def hot_path(stats: Stats, at: float) -> dict[str, float]:
    """One record() call (best of 5 rounds of 200 000), for a delivered message (the dearest:
    it also finds the histogram bucket) and a submitted one; and a flush of 18 keys."""
    record = stats.record
    out: dict[str, float] = {}
    for state in ("delivered", "submitted"):
        best = float("inf")
        for _ in range(5):
            t0 = time.perf_counter()
            for _ in range(200_000):
                record(channel="ch0", kind="kind0", state=state, parts=1, submitted_at=at,
                       done_at=at + 4.2)
            best = min(best, (time.perf_counter() - t0) / 200_000)
        out[f"record_{state}_us"] = round(best * 1e6, 3)
    stats.flush()
    times = []
    for r in range(200):
        for c in range(3):
            for k in range(3):
                for h in range(2):
                    record(channel=f"ch{c}", kind=f"kind{k}", state="delivered", parts=1,
                           submitted_at=at + h * 3600 + r, done_at=at + h * 3600 + r + 3.0)
        t0 = time.perf_counter()
        stats.flush()
        times.append(time.perf_counter() - t0)
    out["flush_18_keys_ms_p50"] = round(statistics.median(times) * 1000, 3)
    return out


def timed(fn: Callable[[], object], repeat: int) -> dict[str, Any]:
    fn()  # (warm: the pages in the cache, as on a daemon answering the API)
    times = []
    result: object = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return {"p50_ms": round(times[len(times) // 2] * 1000, 3),
            "p99_ms": round(times[min(len(times) - 1, int(len(times) * 0.99))] * 1000, 3),
            "max_ms": round(times[-1] * 1000, 3),
            "groups": len(result) if isinstance(result, list) else None}


def naive(args: argparse.Namespace, directory: Path, start: float, now: float,
          queries: dict[str, tuple[float, float, list[str]]]) -> dict[str, Any]:
    pool = pattern(args.channels, args.kinds)
    conn = sqlite3.connect(directory / "naive.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY, channel TEXT, kind TEXT, "
                 "state INTEGER, parts INTEGER, submitted_at REAL, done_at REAL)")
    n = args.naive_rows
    span = now - start
    t0 = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?)", (
        (i, *pool[i % len(pool)][:2], STATE_CODES[pool[i % len(pool)][2]],
         pool[i % len(pool)][3], start + span * i / n,
         start + span * i / n + pool[i % len(pool)][4]) for i in range(n)))
    conn.execute("CREATE INDEX messages_done_at ON messages (done_at)")
    conn.execute("COMMIT")
    build = time.perf_counter() - t0
    counts = ", ".join(f"sum(state = {code})" for code in STATE_CODES.values())
    exprs = {"hour": "CAST(done_at / 3600 AS INTEGER)", "day": "CAST(done_at / 86400 AS INTEGER)",
             "channel": "channel", "kind": "kind"}
    out: dict[str, Any] = {"rows": n, "build_seconds": round(build, 2),
                           "scale": round(args.messages / n, 2), "queries": {}}
    for name, (since, until, group_by) in queries.items():
        keys = ", ".join(exprs[g] for g in group_by)
        sql = (f"SELECT {keys}, count(*), {counts}, sum(parts) FROM messages "
               f"WHERE done_at >= ? AND done_at < ? GROUP BY {keys}")
        measured = timed(lambda sql=sql, since=since, until=until:
                         conn.execute(sql, (since, until)).fetchall(), args.naive_repeat)
        measured["scaled_p50_ms"] = round(measured["p50_ms"] * out["scale"], 1)
        out["queries"][name] = measured
    conn.close()
    return out


def main(args: argparse.Namespace) -> dict[str, Any]:
    now = float(int(time.time() // 3600) * 3600)
    start = now - args.days * 86400.0
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        directory = Path(tmp)
        path = directory / "stats.db"
        stats = Stats(path)
        filled = fill(stats, args, start)
        conn = stats._open().conn
        size = {
            "hour_rows": conn.execute("SELECT count(*) FROM stats_hour").fetchone()[0],
            "day_rows": conn.execute("SELECT count(*) FROM stats_day").fetchone()[0],
            "file_mb": round((os.path.getsize(path)
                              + os.path.getsize(str(path) + "-wal")) / 1e6, 1),
        }
        queries: dict[str, tuple[float, float, list[str]]] = {
            "last_24h_by_hour": (now - 86400, now, ["hour"]),
            "last_30d_by_day_channel": (now - 30 * 86400, now, ["day", "channel"]),
            "everything_by_kind": (0.0, now + 3600, ["kind"]),
        }
        measured = {name: timed(lambda s=since, u=until, g=group_by:
                                stats.query(since=s, until=u, group_by=g), args.repeat)
                    for name, (since, until, group_by) in queries.items()}
        measured["last_30d_by_day_other_zone"] = timed(
            lambda: stats.query(since=now - 30 * 86400, until=now, group_by=["day"],
                                tz="Asia/Shanghai"), args.repeat)
        everything = stats.query(since=0, until=now + 3600)[0]
        hot = hot_path(stats, now + 86400 * 10)
        stats.close()
        compared = naive(args, directory, start, now, queries) if args.naive_rows else None
    worst = max(q["p99_ms"] for name, q in measured.items() if name in queries)
    return {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0],
                    "sqlite": sqlite3.sqlite_version},
        "fill": filled, "store": size, "totals": everything, "hot_path": hot,
        "queries": measured, "naive": compared,
        "target": {"p99_ms_max": 50.0, "worst_typical_p99_ms": worst, "met": worst < 50.0},
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000_000, help="(10 000 000)")
    parser.add_argument("--days", type=int, default=90, help="(90)")
    parser.add_argument("--channels", type=int, default=3, help="(3)")
    parser.add_argument("--kinds", type=int, default=3, help="(3)")
    parser.add_argument("--flush-every", type=int, default=2000,
                        help="record() calls between flushes (2 000)")
    parser.add_argument("--repeat", type=int, default=200, help="runs of each query (200)")
    parser.add_argument("--naive-rows", type=int, default=1_000_000,
                        help="messages in the naive table (1 000 000; 0: skip)")
    parser.add_argument("--naive-repeat", type=int, default=5, help="(5)")
    parser.add_argument("--dir", default=None, help="where the temporary files go")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    result = main(args)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"fill: {result['fill']['messages']} messages in {result['fill']['seconds']} s; "
              f"record() {result['hot_path']['record_delivered_us']} µs")
        for name, q in result["queries"].items():
            print(f"{name:30} p50 {q['p50_ms']:8.3f} ms  p99 {q['p99_ms']:8.3f} ms")
        if result["naive"]:
            for name, q in result["naive"]["queries"].items():
                print(f"naive {name:24} p50 {q['p50_ms']:8.1f} ms on {result['naive']['rows']}"
                      f" rows, scaled {q['scaled_p50_ms']} ms")
        print(f"target p99 < 50 ms: {'met' if result['target']['met'] else 'NOT met'}")
