"""Helpers shared by the benchmark scripts: a rate loop and starting a server process."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

FAKESMSC = [sys.executable, "-m", "smsengine", "fakesmsc", "--port", "0"]


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of fn, in batches so the clock reads cost nothing next to fn."""
    n = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(200):
            fn()
        n += 200
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - start)


def best_rates(
    ops: dict[str, dict[str, Callable[[], object]]], rounds: int, seconds: float
) -> dict[str, dict[str, float]]:
    """Calls per second of every operation of every library, measured in alternating rounds
    (library after library within each operation, so both see the same machine) and keeping
    each one's best round. ``ops`` is {library: {operation: fn}}; the first library names the
    operations, and a library may lack some of them."""
    best: dict[str, dict[str, float]] = {lib: {} for lib in ops}
    first = next(iter(ops.values()))
    for _ in range(rounds):
        for op in first:
            for lib in ops:
                if op in ops[lib]:
                    measured = rate(ops[lib][op], seconds)
                    best[lib][op] = max(best[lib].get(op, 0.0), measured)
    return best


def start_server(cmd: list[str], cwd: str | None = None) -> tuple[subprocess.Popen[str], int]:
    """Start a server that prints 'listening on HOST:PORT'; return it and the port."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            cwd=cwd)
    assert proc.stdout is not None
    for line in proc.stdout:
        if "listening on" in line:
            return proc, int(line.rsplit(":", 1)[1])
    raise SystemExit(f"server did not start: {' '.join(cmd)}")


def start_fakesmsc(latency: float = 0.0) -> tuple[subprocess.Popen[str], int]:
    """The fake SMSC in its own process (open mode), with an optional fixed response latency."""
    cmd = list(FAKESMSC)
    if latency:
        config = Path(tempfile.mkdtemp()) / "latency.toml"
        config.write_text(f'latency = {{ kind = "fixed", value = {latency} }}\n')
        cmd += ["--config", str(config)]
    return start_server(cmd)
