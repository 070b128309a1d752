"""The ceiling: what a raw asyncio protocol pair can push over 127.0.0.1 on this machine.

No protocol work at all: the client writes pre-encoded 87-octet submit_sm PDUs, keeping a window
of ``window`` unanswered per connection; the server (in its own process, like the fake SMSC in
``smsengine bench``: ``python -m smsengine._ceiling --serve`` prints its port) counts whole
87-octet PDUs and writes one pre-encoded 18-octet submit_sm_resp for each. The client counts
responses by octets and tops its window up once per read. Every other figure (``smsengine
bench``, ``benchmarks/*.py``) can then be stated as a fraction of what Python's event loop can do
on the box, in the same conditions.

Private: ``smsengine bench`` measures it in the same run (:func:`measure`);
``benchmarks/ceiling.py`` is a thin wrapper around :func:`main`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .smpp import SubmitSm, SubmitSmResp

SUBMIT = SubmitSm(sequence_number=1, source_addr="BENCH", source_addr_ton=5,
                  destination_addr="8613800138000", dest_addr_ton=1, dest_addr_npi=1,
                  short_message=b"Your verification code is 402113. Hi").encode()
RESP = SubmitSmResp(sequence_number=1, message_id="1").encode()
SUBMIT_OCTETS = 87  # the size issue 7 names
if len(SUBMIT) != SUBMIT_OCTETS:  # pragma: no cover  (the codec changed under us)
    raise RuntimeError(f"the ceiling's submit_sm is {len(SUBMIT)} octets, not {SUBMIT_OCTETS}")

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def loop_factory(use_uvloop: bool = True) -> LoopFactory | None:
    """uvloop's when asked for and installed, else None (asyncio's default loop)."""
    if use_uvloop:
        with contextlib.suppress(ImportError):
            import uvloop

            return uvloop.new_event_loop
    return None


class _Server(asyncio.Protocol):
    def __init__(self) -> None:
        self.pending = 0  # octets of an incomplete PDU

    def connection_made(self, transport: Any) -> None:  # uvloop's is no asyncio.Transport
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        n, self.pending = divmod(self.pending + len(data), SUBMIT_OCTETS)
        if n:
            self.transport.write(RESP * n)


async def serve() -> None:
    """Answer every submit_sm on an ephemeral port of 127.0.0.1 until cancelled."""
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


async def client(port: int, total: int, window: int, connections: int = 1) -> tuple[float, float]:
    """Send ``total`` submit_sm over ``connections`` connections (``window`` unanswered on
    each) and wait for every response; return (wall seconds, this process's CPU seconds)."""
    loop = asyncio.get_running_loop()
    shares = [total // connections + (i < total % connections) for i in range(connections)]
    dones: list[asyncio.Future[None]] = [loop.create_future() for _ in shares]
    cpu0, t0 = time.process_time(), time.perf_counter()
    transports = []
    try:
        for share, done in zip(shares, dones, strict=True):
            if not share:
                done.set_result(None)
                continue
            transport, _ = await loop.create_connection(
                functools.partial(_Client, share, window, done), "127.0.0.1", port)
            transports.append(transport)
        await asyncio.gather(*dones)
        return time.perf_counter() - t0, time.process_time() - cpu0
    finally:
        for transport in transports:
            transport.close()


@contextlib.contextmanager
def server_process(use_uvloop: bool = True) -> Iterator[int]:
    """The probe's server in its own process (its own core); yields its port."""
    cmd = [sys.executable, "-m", "smsengine._ceiling", "--serve"]
    if not use_uvloop:
        cmd.append("--no-uvloop")
    # Importable from a source checkout too (benchmarks/ceiling.py puts it on sys.path).
    root = str(Path(__file__).resolve().parent.parent)
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": path})
    try:
        assert proc.stdout is not None
        port = 0
        for line in proc.stdout:
            if "listening on" in line:
                port = int(line.rsplit(":", 1)[1])
                break
        if not port:
            raise RuntimeError("the ceiling server process did not start")
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def measure(messages: int, window: int, connections: int = 1, runs: int = 3,
            use_uvloop: bool = True) -> dict[str, Any]:
    """Start the server process, run the client ``runs`` times (each on a fresh event loop);
    return {"messages", "window", "connections", "submit_octets", "resp_octets", "loop",
    "msgs_per_s", "client_cpu_us_per_msg" (both of the best run), "runs"}. Call it outside any
    running event loop."""
    if messages < 1 or window < 1 or connections < 1 or runs < 1:
        raise ValueError("messages, window, connections and runs must be >= 1")
    factory = loop_factory(use_uvloop)
    results = []
    with server_process(use_uvloop) as port:
        for _ in range(runs):
            with asyncio.Runner(loop_factory=factory) as runner:
                wall, cpu = runner.run(client(port, messages, window, connections))
            results.append({"msgs_per_s": round(messages / wall),
                            "client_cpu_us_per_msg": round(cpu / messages * 1e6, 3)})
    best = max(results, key=lambda r: r["msgs_per_s"])
    return {
        "messages": messages, "window": window, "connections": connections,
        "submit_octets": len(SUBMIT), "resp_octets": len(RESP),
        "loop": "uvloop" if factory is not None else "asyncio",
        "msgs_per_s": best["msgs_per_s"], "client_cpu_us_per_msg": best["client_cpu_us_per_msg"],
        "runs": results,
    }


def main(argv: list[str] | None = None) -> int:
    """``benchmarks/ceiling.py``'s command line (and ``--serve``, the server process)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--window", type=int, default=256)
    parser.add_argument("--connections", type=int, default=1,
                        help="connections, each with --window unanswered (default 1)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-uvloop", action="store_true")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        with contextlib.suppress(KeyboardInterrupt), \
                asyncio.Runner(loop_factory=loop_factory(not args.no_uvloop)) as runner:
            runner.run(serve())
        return 0
    result = measure(args.messages, args.window, args.connections, args.runs,
                     use_uvloop=not args.no_uvloop)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"raw asyncio pipe ({result['loop']}, window {args.window}, {len(SUBMIT)}-octet "
          f"submit_sm, {len(RESP)}-octet resp): best {result['msgs_per_s']:,} msgs/s, "
          f"client {result['client_cpu_us_per_msg']} µs/msg; runs "
          + ", ".join(f"{r['msgs_per_s']:,}" for r in result["runs"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
