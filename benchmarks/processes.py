"""CPU per message of both processes of one ``smsengine bench`` scenario: the client (the
engine, in this process) and the fake SMSC (its own process).

``smsengine bench`` reports the client's CPU only. For the ping-pong of sgip and smgp against
SMPP short (issue 22), the throughput follows the sum of the two. This runs the bench's own
``bench()`` against a fake SMSC started with the bench's config. It prints one JSON line: the
bench's msgs/s and client µs/msg, and the fake's CPU per message from /proc/PID/stat (user +
system, from after its start-up to the end of the run; resolution 1/CLK_TCK, 0.17 µs a message
at 60 000).

    .venv/bin/python benchmarks/processes.py sgip --messages 60000

Linux only (/proc).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from smsengine import bench as B  # noqa: E402


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", choices=list(B.SCENARIOS))
    parser.add_argument("--messages", type=int, default=60_000)
    args = parser.parse_args()
    options = B.BenchOptions(scenario=args.scenario, messages=args.messages)
    if options.spec.protocol == "sgip":
        options = dataclasses.replace(options, sgip_listen_port=B._free_port())
    with tempfile.TemporaryDirectory(prefix="smsengine-processes-") as folder:
        config = Path(folder) / "fakesmsc.toml"
        config.write_text(B.fakesmsc_config(options), encoding="utf-8")
        proc = subprocess.Popen(
            [sys.executable, "-m", "smsengine", "fakesmsc", "--port", "0", "--config",
             str(config)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            assert proc.stdout is not None
            port = next(int(line.rsplit(":", 1)[1]) for line in proc.stdout
                        if "listening on" in line)
            before = _cpu_seconds(proc.pid)
            with asyncio.Runner(loop_factory=B._loop_factory()) as runner:
                result = runner.run(B.bench("127.0.0.1", port, options))
            fake = _cpu_seconds(proc.pid) - before
        finally:
            proc.terminate()
            proc.wait(10)
    print(json.dumps({
        "scenario": args.scenario, "messages": args.messages,
        "msgs_per_s": result["msgs_per_s"],
        "client_cpu_us_per_msg": result["client_cpu_us_per_msg"],
        "fake_cpu_us_per_msg": round(fake / args.messages * 1e6, 2),
        "receipts_matched": result["receipts"]["matched"], "errors": result["errors"],
    }))


if __name__ == "__main__":
    main()
