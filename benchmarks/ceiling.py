"""The ceiling: what a raw asyncio protocol pair can push over 127.0.0.1 on this machine.

No protocol work at all: the client writes pre-encoded 87-octet submit_sm PDUs, keeping a window
of ``--window`` unanswered; the server (in its own process, like the fake SMSC in the other
benchmarks) counts whole 87-octet PDUs and writes one pre-encoded 18-octet submit_sm_resp for
each. The client counts responses by octets and tops the window up once per read. Every other
figure (``bench.py``, ``engine.py``, ``smsengine bench``) can then be stated as a fraction of what
Python's event loop can do on the box, in the same conditions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import start_server

from smsengine.smpp import SubmitSm, SubmitSmResp

SUBMIT = SubmitSm(sequence_number=1, source_addr="BENCH", source_addr_ton=5,
                  destination_addr="8613800138000", dest_addr_ton=1, dest_addr_npi=1,
                  short_message=b"Your verification code is 402113. Hi").encode()
assert len(SUBMIT) == 87, len(SUBMIT)  # the size the issue names
RESP = SubmitSmResp(sequence_number=1, message_id="1").encode()


class _Server(asyncio.Protocol):
    def __init__(self) -> None:
        self.pending = 0  # octets of an incomplete PDU

    def connection_made(self, transport: Any) -> None:  # uvloop's is no asyncio.Transport
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        n, self.pending = divmod(self.pending + len(data), len(SUBMIT))
        if n:
            self.transport.write(RESP * n)


async def _serve() -> None:
    server = await asyncio.get_running_loop().create_server(_Server, "127.0.0.1", 0)
    print(f"ceiling server listening on 127.0.0.1:{server.sockets[0].getsockname()[1]}",
          flush=True)
    await server.serve_forever()


class _Client(asyncio.Protocol):
    def __init__(self, total: int, window: int, done: asyncio.Future[None]) -> None:
        self.total, self.window, self.done = total, window, done
        self.sent = self.answered = self.octets = 0

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self._top_up()

    def _top_up(self) -> None:
        n = min(self.window - (self.sent - self.answered), self.total - self.sent)
        if n > 0:
            self.sent += n
            self.transport.write(SUBMIT * n)

    def data_received(self, data: bytes) -> None:
        n, self.octets = divmod(self.octets + len(data), len(RESP))
        self.answered += n
        if self.answered >= self.total:
            if not self.done.done():
                self.done.set_result(None)
            return
        self._top_up()


async def _client(port: int, total: int, window: int) -> tuple[float, float]:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    cpu0, t0 = time.process_time(), time.perf_counter()
    transport, _ = await loop.create_connection(lambda: _Client(total, window, done),
                                                "127.0.0.1", port)
    await done
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    transport.close()
    return wall, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--window", type=int, default=256)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-uvloop", action="store_true")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    runner_loop = None
    if not args.no_uvloop:
        import uvloop

        runner_loop = uvloop.new_event_loop
    if args.serve:
        with asyncio.Runner(loop_factory=runner_loop) as runner:
            runner.run(_serve())
        return 0
    cmd = [sys.executable, __file__, "--serve"] + (["--no-uvloop"] if args.no_uvloop else [])
    proc, port = start_server(cmd)
    runs = []
    try:
        for _ in range(args.runs):
            with asyncio.Runner(loop_factory=runner_loop) as runner:
                wall, cpu = runner.run(_client(port, args.messages, args.window))
            runs.append({"msgs_per_s": round(args.messages / wall),
                         "client_cpu_us_per_msg": round(cpu / args.messages * 1e6, 3)})
    finally:
        proc.terminate()
        proc.wait(10)
    best = max(runs, key=lambda r: r["msgs_per_s"])
    result = {
        "messages": args.messages, "window": args.window, "submit_octets": len(SUBMIT),
        "resp_octets": len(RESP), "loop": "asyncio" if args.no_uvloop else "uvloop",
        "msgs_per_s": best["msgs_per_s"], "client_cpu_us_per_msg": best["client_cpu_us_per_msg"],
        "runs": runs,
    }
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"raw asyncio pipe ({result['loop']}, window {args.window}, {len(SUBMIT)}-octet "
          f"submit_sm, {len(RESP)}-octet resp): best {best['msgs_per_s']:,} msgs/s, "
          f"client {best['client_cpu_us_per_msg']} µs/msg; runs "
          + ", ".join(f"{r['msgs_per_s']:,}" for r in runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
