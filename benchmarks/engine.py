"""The engine end to end: throughput and client CPU with receipts, and OTP latency under a queue.

1. ``messages`` short messages with registered_delivery through one channel (two transceiver
   binds, window 512, no TPS limit) into the fake SMSC in another process, which sends a receipt
   for each; measured until every receipt is correlated. Client CPU is this process's CPU time
   per message over that span. ``rounds`` rounds (5), each with a fresh engine and fake SMSC;
   the round with the median client CPU is reported, with every round's figure beside it.
2. ``queued`` marketing messages queued on a channel limited to ``tps``; then OTPs are sent
   one every 20 ms and their submit latency (send() to submit_sm_resp) is measured: the lane
   scheduler must put them ahead of the whole campaign.

Targets: every receipt matched; client CPU <= 15 µs per message with receipts; OTP p99 <= 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import start_fakesmsc  # noqa: E402

from smsengine.engine import Engine, Message, MessageState, engine_config_from_dict  # noqa: E402

TARGET_CPU_US = 15.0
TARGET_OTP_P99_MS = 50.0


def _config(port: int, *, tps: float = 0.0, transceivers: int = 2) -> Any:
    return engine_config_from_dict({
        "channels": [{
            "name": "bench", "host": "127.0.0.1", "port": port, "system_id": "bench",
            "password": "bench", "transceivers": transceivers, "window": 512, "tps": tps,
            "default_source": "BENCH",
        }],
    })


async def _throughput(port: int, messages: int) -> dict[str, Any]:
    async with Engine(_config(port)) as engine:
        await engine.wait_ready(10)
        channel = engine.channels["bench"]
        gc.collect()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        handles = await engine.send_many(
            Message(destination=f"86138{i % 10**8:08d}", text="Your verification code is 123456",
                    kind="notification")
            for i in range(messages)
        )
        counters = channel.counters
        while (counters["receipts_matched"] + counters["receipts_early"] + counters["failed"]
               < messages):
            await asyncio.sleep(0.005)
            if time.perf_counter() - wall0 > 600:
                break
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        delivered = sum(1 for h in handles if h.state is MessageState.DELIVERED)
        return {
            "messages": messages,
            "segments": channel.counters["segments"],
            "seconds": round(wall, 3),
            "msgs_per_s": round(messages / wall),
            "client_cpu_us_per_msg": round(cpu / messages * 1e6, 2),
            # A receipt that beat its submit_sm_resp (another bind was faster) is matched too.
            "receipts": {"requested": messages,
                         "matched": counters["receipts_matched"] + counters["receipts_early"],
                         "before_response": counters["receipts_early"]},
            "delivered": delivered,
            "errors": {k: channel.counters[k] for k in ("failed", "unknown", "throttled")},
        }


async def _otp_latency(port: int, queued: int, tps: float, otps: int) -> dict[str, Any]:
    async with Engine(_config(port, tps=tps, transceivers=1)) as engine:
        await engine.wait_ready(10)
        t0 = time.perf_counter()
        await engine.send_many(
            Message(destination=f"86139{i % 10**8:08d}", text=f"Big sale {i}", kind="marketing",
                    registered_delivery=False)
            for i in range(queued)
        )
        queue_seconds = time.perf_counter() - t0
        latencies: list[float] = []
        for i in range(otps):
            sent = time.time()
            handle = await engine.send(Message(destination=f"86137{i:08d}",
                                               text=f"Code {i:06d}", kind="otp"))
            while handle.submitted_at is None and not handle.final:
                await asyncio.sleep(0.001)
            latencies.append(((handle.submitted_at or time.time()) - sent) * 1000)
            await asyncio.sleep(0.02)
        latencies.sort()
        backlog = len(engine.channels["bench"].lanes)
        return {
            "queued": queued,
            "queue_build_seconds": round(queue_seconds, 2),
            "tps": tps,
            "otps": otps,
            "otp_p50_ms": round(latencies[len(latencies) // 2], 2),
            "otp_p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 2),
            "otp_max_ms": round(latencies[-1], 2),
            "marketing_still_queued": backlog,
        }


def _with_server(coro_factory: Any) -> dict[str, Any]:
    proc, port = start_fakesmsc()
    try:
        return asyncio.run(coro_factory(port))
    finally:
        proc.terminate()
        proc.wait(10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5,
                        help="throughput rounds, each against a fresh fake SMSC; the median "
                             "round is reported")
    parser.add_argument("--queued", type=int, default=1_000_000)
    parser.add_argument("--tps", type=float, default=2000.0)
    parser.add_argument("--otps", type=int, default=200)
    args = parser.parse_args(argv)
    import uvloop

    uvloop.install()
    # The client CPU of one round swings by a quarter on this shared VM, and a noisy spell can
    # take two rounds of three (session 5: 13.18 / 15.13 / 18.05 right after 11.64 / 13.92 /
    # 13.94 on the same build): the headline figure is the median of five rounds, and every
    # round is in the detail.
    rounds = sorted((_with_server(lambda port: _throughput(port, args.messages))
                     for _ in range(max(1, args.rounds))),
                    key=lambda r: r["client_cpu_us_per_msg"])
    throughput = {**rounds[len(rounds) // 2],
                  "rounds_client_cpu_us_per_msg": [r["client_cpu_us_per_msg"] for r in rounds]}
    latency = _with_server(lambda port: _otp_latency(port, args.queued, args.tps, args.otps))
    result = {
        **{k: throughput[k] for k in ("messages", "msgs_per_s", "client_cpu_us_per_msg",
                                      "receipts")},
        "otp_p99_ms": latency["otp_p99_ms"],
        "detail": {"throughput": throughput, "otp_latency": latency},
        "targets": {"client_cpu_us_per_msg": TARGET_CPU_US, "otp_p99_ms": TARGET_OTP_P99_MS},
    }
    result["met"] = (
        all(r["receipts"]["matched"] == r["messages"] for r in rounds)
        and throughput["client_cpu_us_per_msg"] <= TARGET_CPU_US
        and latency["otp_p99_ms"] <= TARGET_OTP_P99_MS
    )
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"messages {throughput['messages']:,}: {throughput['msgs_per_s']:,} msgs/s, "
          f"client {throughput['client_cpu_us_per_msg']} µs/msg (median of "
          f"{throughput['rounds_client_cpu_us_per_msg']}), receipts "
          f"{throughput['receipts']['matched']:,}/{throughput['receipts']['requested']:,}")
    print(f"OTP submit latency with {latency['queued']:,} marketing queued at "
          f"{latency['tps']:g} TPS: p50 {latency['otp_p50_ms']} ms, p99 {latency['otp_p99_ms']} "
          f"ms, max {latency['otp_max_ms']} ms")
    print(f"targets: <= {TARGET_CPU_US} µs/msg, all receipts, OTP p99 <= {TARGET_OTP_P99_MS} ms:"
          f" {'met' if result['met'] else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
