"""``smsengine bench``: the bundled load tool — the engine against an SMPP server, measured.

A scenario is sent through an :class:`~smsengine.engine.Engine` with one channel to the target:
the bundled fake SMSC started in a **separate process** (so client and server use separate
cores), or any SMPP server given with ``--target HOST:PORT --system-id … --password …``.

Scenarios: ``short`` (GSM 7-bit, no receipts), ``receipts`` (registered_delivery on, every receipt
must be matched), ``long-ucs2`` (3-part Chinese, UCS2), ``throttled`` (the fake SMSC's account TPS
is below the offered ``--rate``: flow control must converge without failures) and ``multi-bind``
(several transceivers, receipts on). ``cmpp``, ``sgip`` and ``smgp`` send one-part messages
with reports on to the fake CMPP ISMG, SGIP SMG or SMGP SMGW, and run SMPP short just before
and after, reporting ``fraction_of_smpp_short``.

Load is open loop at ``--rate`` messages per second, or closed loop at the engine's maximum
(new messages are handed over as the backlog drains). Latency is submit_sm_resp time minus the
message's *intended* send time: its slot in the open-loop schedule, so a stalled sender cannot
hide its own backlog (no coordinated omission); in closed loop, when it was handed to the engine.
Client CPU is this process's CPU time over the whole run, per message.

``--ceiling`` (always for ``short``, whose target is stated against it) then measures the raw
asyncio pipe on this machine in the same invocation (:mod:`smsengine._ceiling`: pre-encoded
submit_sm to a server process answering each with a pre-encoded submit_sm_resp, no protocol
work, the same window and bind count) and reports it as ``ceiling`` with
``fraction_of_ceiling`` (our msgs/s over its).

``--compare aiosmpplib`` then runs the same scenario with aiosmpplib as the client, against a
fresh fake SMSC with the same configuration (or the same ``--target``), and reports its figures
as ``peer`` with ``ratio`` (our msgs/s over its msgs/s). smsengine never imports aiosmpplib: the
peer is ``benchmarks/peer_bench_aiosmpplib.py`` in a source checkout, run as a subprocess that
prints the same JSON contract. ``--plot FILE.png`` draws throughput and latency percentiles per
0.25 s interval (matplotlib, the ``plot`` extra); the samples are bucketed after the run from
each message's acknowledgement time, so collecting them costs the hot path nothing.

This is layer 5: it sits on the engine and the fake SMSC.
"""

# ruff: noqa: RUF001  (real Chinese text: fullwidth punctuation on purpose)

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import importlib.util
import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import _ceiling
from ._args import split_host_port
from .engine import (
    Engine,
    EngineConfig,
    Message,
    MessageHandle,
    MessageRefusedError,
    MessageState,
    engine_config_from_dict,
)
from .smpp import status_name

__all__ = ["PEERS", "SCENARIOS", "BenchOptions", "PeerUnavailableError", "PlotUnavailableError",
           "Scenario", "bench", "plot", "print_summary", "run", "run_bench", "run_peer", "series"]

CHANNEL = "bench"
SYSTEM_ID, PASSWORD = "bench", "bench"

_CHINESE = ("【商城】尊敬的会员，您的订单已由顺丰速运发出，运单号SF1234567890，预计明天送达。"
            "如有疑问请致电客服热线400-800-1234，我们将竭诚为您服务。本店双十一大促今晚20点开抢：")


@dataclass(frozen=True)
class Scenario:
    name: str
    text: str
    receipts: bool  # registered_delivery on every message
    binds: int = 1  # transceivers when --binds is not given
    throttled: bool = False  # the fake SMSC's account TPS is below the offered rate
    about: str = ""
    protocol: str = "smpp"


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("short", "Your verification code is 402113", False,
             about="GSM 7-bit, one part, no receipts"),
    Scenario("receipts", "Your verification code is 402113", True,
             about="registered_delivery on; every receipt must be matched"),
    Scenario("long-ucs2", (_CHINESE * 3)[:190], False,
             about="a 3-part Chinese message (UCS2), no receipts"),
    Scenario("throttled", "Your verification code is 402113", False, throttled=True,
             about="server TPS below the offered --rate; flow control must converge"),
    Scenario("multi-bind", "Your verification code is 402113", True, binds=4,
             about="four transceivers (--binds), receipts on"),
    Scenario("cmpp", "Your verification code is 402113", True, protocol="cmpp",
             about="CMPP 3.0, one part, status reports on (every one must be matched); "
             "then SMPP short in the same run, for the ratio"),
    Scenario("sgip", "Your verification code is 402113", True, protocol="sgip",
             about="SGIP 1.2, one part, reports on (every one must be matched); "
             "then SMPP short in the same run, for the ratio"),
    Scenario("smgp", "Your verification code is 402113", True, protocol="smgp",
             about="SMGP 3.0, one part, status reports on (every one must be matched); "
             "then SMPP short in the same run, for the ratio"),
)}

# cmpp, sgip, smgp: msgs/s over SMPP short's, measured in the same invocation, must reach this.
CMPP_TARGET_FRACTION = 0.6
# short (issue 7): its msgs/s over the raw ceiling measured in the same invocation, and its
# client CPU per message. Reported as "target", never asserted.
SHORT_TARGET_FRACTION = 0.5
SHORT_TARGET_CPU_US = 8.0
# The ceiling probe: the scenario's message count, within these bounds (it runs ~100x faster
# than the engine, so a floor keeps it long enough to mean something), best of CEILING_RUNS.
CEILING_MESSAGES = (200_000, 2_000_000)
CEILING_RUNS = 3

THROTTLED_DEFAULT_RATE = 400.0  # the throttled scenario needs an offered rate
SERIES_INTERVAL = 0.25  # seconds per sample of --plot's time series

# --compare: the peer drivers, scripts in the source checkout's benchmarks/ (never imported).
BENCHMARKS_DIR = Path(__file__).resolve().parent.parent / "benchmarks"
PEERS = {"aiosmpplib": "peer_bench_aiosmpplib.py"}
PEER_MESSAGES_DEFAULT = 2_000  # aiosmpplib is ~100x slower; the ratio is of msgs/s


@dataclass(frozen=True)
class BenchOptions:
    scenario: str = "short"
    messages: int = 10_000
    rate: float = 0.0  # messages per second, open loop; 0 = closed loop at the maximum
    binds: int | None = None  # None: the scenario's default
    window: int = 128
    duration: float | None = None  # seconds of offered load (overrides messages)
    server_tps: float | None = None  # throttled: the fake SMSC's account TPS (default rate/2)
    timeout: float = 120.0  # for the last results and receipts, after the load ends
    series: bool = False  # add "series": per-interval samples (for --plot)
    ceiling: bool | None = None  # measure the raw ceiling too; None: for short, without --target
    sgip_listen_port: int = 0  # sgip: where the engine listens for the SMG's connection back

    @property
    def spec(self) -> Scenario:
        return SCENARIOS[self.scenario]

    @property
    def offered_rate(self) -> float:
        if self.rate <= 0 and self.spec.throttled:
            return THROTTLED_DEFAULT_RATE
        return self.rate

    @property
    def bind_count(self) -> int:
        return self.binds if self.binds is not None else self.spec.binds

    def check(self) -> None:
        if self.scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {self.scenario!r}: {', '.join(SCENARIOS)}")
        if self.messages < 1 or self.window < 1 or self.bind_count < 1:
            raise ValueError("--messages, --window and --binds must be >= 1")
        if self.rate < 0 or (self.duration is not None and self.duration <= 0):
            raise ValueError("--rate must be >= 0 and --duration > 0")


Progress = Callable[[dict[str, Any]], None]


def engine_config(host: str, port: int, options: BenchOptions, system_id: str = SYSTEM_ID,
                  password: str = PASSWORD) -> EngineConfig:
    """One channel to the target; with an offered rate, the channel's TPS is that rate (the
    throttled scenario relies on its AIMD flow control)."""
    channel: dict[str, Any] = {
        "name": CHANNEL, "host": host, "port": port, "system_id": system_id,
        "password": password, "transceivers": options.bind_count, "window": options.window,
        "tps": options.offered_rate, "default_source": "BENCH",
    }
    if options.spec.protocol == "cmpp":
        # system_id is the SP_Id, password the shared secret; Src_Id a 1069 service code.
        channel.update(protocol="cmpp", service_id="BENCH", default_source="10690001")
    elif options.spec.protocol == "sgip":
        # system_id / password the Bind's Login Name / Password; SPNumber an access number.
        channel.update(protocol="sgip", service_id="BENCH", default_source="10655001",
                       corp_id="12345", listen_host="127.0.0.1",
                       listen_port=options.sgip_listen_port)
    elif options.spec.protocol == "smgp":
        # system_id is the ClientID, password the shared secret; SrcTermID an access number.
        channel.update(protocol="smgp", service_id="BENCH", default_source="10690001")
    return engine_config_from_dict({"channels": [channel]})


def fakesmsc_config(options: BenchOptions) -> str:
    """TOML for the fake SMSC process: one account, receipts at once, a TPS limit when
    throttled."""
    if options.spec.protocol != "smpp":
        head = [f'protocol = "{options.spec.protocol}"']
    else:
        head = ['message_id_style = "hex"']
    lines = [*head, "", "[[accounts]]", f'system_id = "{SYSTEM_ID}"',
             f'password = "{PASSWORD}"', f"max_binds = {max(options.bind_count, 4)}"]
    if options.spec.protocol == "smpp":
        lines.append('bind_modes = ["transceiver"]')
    if options.spec.throttled:
        tps = options.server_tps or options.offered_rate / 2
        lines.append(f"tps = {tps:g}")
    if options.spec.protocol == "sgip":
        # The SMG connects back to the engine's listener with the reports.
        lines += ["", "[sgip]", f"sp_port = {options.sgip_listen_port}"]
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def fakesmsc_process(options: BenchOptions) -> Iterator[int]:
    """The fake SMSC in its own process (its own core); yields its port."""
    with tempfile.TemporaryDirectory(prefix="smsengine-bench-") as folder:
        config = Path(folder) / "fakesmsc.toml"
        config.write_text(fakesmsc_config(options), encoding="utf-8")
        cmd = [sys.executable, "-m", "smsengine", "fakesmsc", "--port", "0",
               "--config", str(config)]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            assert proc.stdout is not None
            port = 0
            for line in proc.stdout:
                if "listening on" in line:
                    port = int(line.rsplit(":", 1)[1])
                    break
            if not port:
                raise RuntimeError("the fake SMSC process did not start")
            yield port
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _percentile(ordered: Sequence[float], q: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class _Run:
    """The load generator's bookkeeping for one run."""

    def __init__(self, engine: Engine, options: BenchOptions) -> None:
        self.engine = engine
        self.options = options
        self.channel = engine.channels[CHANNEL]
        self.handles: list[MessageHandle] = []
        self.intended: list[float] = []  # wall-clock intended send time, per handle
        self.refused: Counter[str] = Counter()
        self.spec = options.spec

    def message(self, i: int) -> Message:
        return Message(destination=f"86138{i % 10**8:08d}", text=self.spec.text,
                       registered_delivery=self.spec.receipts)

    def submit(self, i: int, intended: float | None) -> None:
        try:
            handle = self.engine.submit(self.message(i))
        except MessageRefusedError as exc:
            self.refused[status_name(exc.status)] += 1
            return
        self.handles.append(handle)
        self.intended.append(handle.queued_at if intended is None else intended)

    @property
    def offered(self) -> int:
        return len(self.handles) + sum(self.refused.values())

    def counters(self) -> dict[str, int]:
        c = self.channel.counters
        return {"sent": self.offered, "acknowledged": c["submitted"],
                "receipts": c["receipts_matched"] + c["receipts_early"],
                "failed": c["failed"] + c["unknown"]}

    async def open_loop(self, rate: float, total: int) -> None:
        # The schedule runs on perf_counter, not loop.time(): uvloop's clock is milliseconds,
        # cached per iteration, so it could send a message up to ~1 ms before its intended
        # time and a fast answer would show a negative latency.
        start, wall = time.perf_counter(), time.time()
        i = 0
        while i < total:
            due = min(total, int((time.perf_counter() - start) * rate) + 1)
            while i < due:
                self.submit(i, wall + i / rate)
                i += 1
            if i < total:
                await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))

    async def closed_loop(self, total: int | None, deadline: float | None) -> None:
        """Keep a bounded backlog in front of the binds: hand a message over as one leaves."""
        loop = asyncio.get_running_loop()
        channel = self.channel
        backlog = self.options.bind_count * self.options.window * 2
        low = max(1, backlog // 4)
        i = 0
        while total is None or i < total:
            if deadline is not None and loop.time() >= deadline:
                break
            room = backlog - len(channel.lanes) - channel.in_flight
            if room < low:
                # Top up in batches, not one message per wake-up: the load generator's own
                # loop is counted in the client CPU, and polling faster than uvloop's 1 ms timer
                # resolution was a busy loop (half a backlog still covers the wait).
                await asyncio.sleep(0.001)
                continue
            for _ in range(room if total is None else min(room, total - i)):
                self.submit(i, None)
                i += 1
            await asyncio.sleep(0)

    def result(self, seconds: float, cpu: float, wall0: float) -> dict[str, Any]:
        latencies = sorted((h.submitted_at - t) * 1000 for h, t in zip(self.handles,
                                                                        self.intended, strict=True)
                           if h.submitted_at is not None)
        errors: Counter[str] = Counter(self.refused)
        for h in self.handles:
            if h.state in (MessageState.FAILED, MessageState.UNKNOWN):
                errors[h.status_name or h.state.name] += 1
            elif not h.final:
                errors["NOT_FINAL"] += 1
        messages = self.offered
        c = self.channel.counters
        out: dict[str, Any] = {
            "scenario": self.spec.name,
            "messages": messages,
            "segments": sum(len(h.segments) for h in self.handles),
            "seconds": round(seconds, 3),
            "msgs_per_s": round(messages / max(seconds, 1e-9), 1),
            "client_cpu_us_per_msg": round(cpu / max(messages, 1) * 1e6, 2),
            "latency_ms": {
                "p50": round(_percentile(latencies, 0.5), 3),
                "p90": round(_percentile(latencies, 0.9), 3),
                "p99": round(_percentile(latencies, 0.99), 3),
                "max": round(latencies[-1] if latencies else 0.0, 3),
            },
            "receipts": {
                "requested": sum(1 for h in self.handles if h.message.registered_delivery
                                 for s in h.segments if s.submitted_at is not None),
                "matched": c["receipts_matched"] + c["receipts_early"],
            },
            "errors": dict(sorted(errors.items())),
        }
        if self.options.series:
            out["series"] = series(((h.submitted_at, (h.submitted_at - t) * 1000)
                                    for h, t in zip(self.handles, self.intended, strict=True)
                                    if h.submitted_at is not None), wall0, wall0 + seconds)
        return out


def series(samples: Iterable[tuple[float, float]], start: float, end: float | None = None,
           interval: float = SERIES_INTERVAL) -> dict[str, Any]:
    """Per-interval throughput and latency percentiles from (acknowledged at, latency ms) pairs,
    wall clock, bucketed after the run: {"interval", "t" (each interval's end, seconds from
    ``start``; the last one ends at ``end`` when given), "msgs_per_s", "p50", "p90", "p99"}
    (percentiles None for an empty interval)."""
    buckets: list[list[float]] = []
    for at, latency in samples:
        i = max(0, int((at - start) / interval))
        while len(buckets) <= i:
            buckets.append([])
        buckets[i].append(latency)
    out: dict[str, Any] = {"interval": interval, "t": [], "msgs_per_s": [], "p50": [], "p90": [],
                           "p99": []}
    for i, bucket in enumerate(buckets):
        bucket.sort()
        stop = (i + 1) * interval
        if i == len(buckets) - 1 and end is not None:  # the run ended inside this interval
            stop = max(i * interval + 0.01, min(stop, end - start))
        out["t"].append(round(stop, 3))
        out["msgs_per_s"].append(round(len(bucket) / (stop - i * interval), 1))
        for key, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
            out[key].append(round(_percentile(bucket, q), 3) if bucket else None)
    return out


async def _all_final(handles: list[MessageHandle]) -> None:
    for handle in handles:
        await handle.wait()


async def bench(host: str, port: int, options: BenchOptions, *, system_id: str = SYSTEM_ID,
                password: str = PASSWORD, progress: Progress | None = None) -> dict[str, Any]:
    """Run one scenario against an SMPP server at host:port; return the result dict."""
    options.check()
    async with Engine(engine_config(host, port, options, system_id, password)) as engine:
        await engine.wait_ready(10)
        run = _Run(engine, options)
        rate = options.offered_rate
        if options.duration is not None and rate > 0:
            total: int | None = max(1, int(rate * options.duration))
        elif options.duration is not None:
            total = None
        else:
            total = options.messages

        async def report() -> None:
            loop = asyncio.get_running_loop()
            last_t, last_acked = loop.time(), 0
            while progress is not None:
                await asyncio.sleep(0.25)
                now = loop.time()
                figures: dict[str, Any] = dict(run.counters())
                figures["rate"] = (figures["acknowledged"] - last_acked) / max(now - last_t, 1e-9)
                figures["total"] = total or run.offered
                last_t, last_acked = now, figures["acknowledged"]
                progress(figures)

        reporter = asyncio.ensure_future(report())
        gc.collect()
        cpu0, t0, wall0 = time.process_time(), time.perf_counter(), time.time()
        try:
            if rate > 0:
                assert total is not None
                await run.open_loop(rate, total)
            else:
                deadline = (None if options.duration is None
                            else asyncio.get_running_loop().time() + options.duration)
                await run.closed_loop(total, deadline)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_all_final(run.handles), options.timeout)
            seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        finally:
            reporter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reporter
        if progress is not None:
            progress({**run.counters(), "rate": run.offered / max(seconds, 1e-9),
                      "total": run.offered})
        return run.result(seconds, cpu, wall0)


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    with contextlib.suppress(ImportError):
        import uvloop

        return uvloop.new_event_loop
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def run_bench(options: BenchOptions, *, target: tuple[str, int] | None = None,
              system_id: str = SYSTEM_ID, password: str = PASSWORD,
              progress: Progress | None = None) -> dict[str, Any]:
    """Run a scenario (starting the fake SMSC in its own process unless ``target`` is given)
    on a private event loop (uvloop when installed); return the result dict."""
    options.check()
    if options.spec.protocol == "sgip" and not options.sgip_listen_port:
        options = dataclasses.replace(options, sgip_listen_port=_free_port())
    reference = options.spec.protocol != "smpp" and target is None
    short_options = dataclasses.replace(options, scenario="short", series=False, ceiling=False)
    # cmpp, sgip and smgp are stated against SMPP short: run short just before and just after
    # it, so a drift
    # of this shared machine during the three runs counts on both sides of the ratio.
    shorts = [run_bench(short_options)] if reference else []
    with contextlib.ExitStack() as stack:
        if target is None:
            host, port = "127.0.0.1", stack.enter_context(fakesmsc_process(options))
        else:
            host, port = target
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            result = runner.run(bench(host, port, options, system_id=system_id,
                                      password=password, progress=progress))
    if reference:
        shorts.append(run_bench(short_options))
        rate = sum(r["msgs_per_s"] for r in shorts) / len(shorts)
        fraction = round(result["msgs_per_s"] / max(rate, 1e-9), 3)
        result["smpp_short"] = {
            "messages": shorts[0]["messages"],
            "msgs_per_s": round(rate, 1),  # the mean of the run before and the run after
            "client_cpu_us_per_msg": round(
                sum(r["client_cpu_us_per_msg"] for r in shorts) / len(shorts), 2),
            "runs_msgs_per_s": [r["msgs_per_s"] for r in shorts],
            "errors": dict(sum((Counter(r["errors"]) for r in shorts), Counter())),
        }
        result["fraction_of_smpp_short"] = fraction
        result["target"] = {"fraction_of_smpp_short": CMPP_TARGET_FRACTION,
                            "met": fraction >= CMPP_TARGET_FRACTION
                            and result["receipts"]["matched"] == result["receipts"]["requested"]}
    if options.ceiling or (options.ceiling is None and options.scenario == "short"
                           and target is None):
        add_ceiling(result, options)
    return result
    raise AssertionError("unreachable")  # pragma: no cover  (mypy: ExitStack may swallow)


def add_ceiling(result: dict[str, Any], options: BenchOptions) -> dict[str, Any]:
    """Measure the raw ceiling now (same window, one connection per bind) and add ``ceiling``
    and ``fraction_of_ceiling`` to ``result``; for short, also its ``target``. Returns it."""
    low, high = CEILING_MESSAGES
    probe = _ceiling.measure(min(max(result["messages"], low), high), options.window,
                             connections=options.bind_count, runs=CEILING_RUNS,
                             use_uvloop=_loop_factory() is not None)
    fraction = round(result["msgs_per_s"] / max(probe["msgs_per_s"], 1e-9), 4)
    result["ceiling"] = {k: probe[k] for k in ("messages", "window", "connections", "loop",
                                                "msgs_per_s", "client_cpu_us_per_msg")}
    result["fraction_of_ceiling"] = fraction
    if options.scenario == "short":
        result["target"] = {"fraction_of_ceiling": SHORT_TARGET_FRACTION,
                            "client_cpu_us_per_msg": SHORT_TARGET_CPU_US,
                            "met": fraction >= SHORT_TARGET_FRACTION
                            and result["client_cpu_us_per_msg"] <= SHORT_TARGET_CPU_US
                            and not result["errors"]}
    return result


# --- --compare: the same scenario with an independent client, in its own process -----------------


class PeerUnavailableError(RuntimeError):
    """The peer's driver script or library is not there (an installed wheel has no benchmarks/)."""


def peer_script(peer: str) -> Path:
    """The peer's driver script; raises PeerUnavailableError saying what is needed."""
    if peer not in PEERS:
        raise PeerUnavailableError(f"unknown peer {peer!r}: {', '.join(PEERS)}")
    script = BENCHMARKS_DIR / PEERS[peer]
    needs = (f"--compare {peer} needs a source checkout with benchmarks/ and "
             f"`pip install -e .[dev]` (which installs {peer})")
    if not script.is_file():
        raise PeerUnavailableError(f"{needs}: {script} is missing")
    if importlib.util.find_spec(peer) is None:  # looked up, never imported
        raise PeerUnavailableError(f"{needs}: {peer} is not installed")
    return script


def run_peer(options: BenchOptions, peer: str = "aiosmpplib", *, messages: int | None = None,
             target: tuple[str, int] | None = None, system_id: str = SYSTEM_ID,
             password: str = PASSWORD) -> dict[str, Any]:
    """Run the scenario with ``peer`` as the client, in a subprocess, against a fresh fake SMSC
    with the same configuration (or ``target``); return its result in our contract, or
    {"error": "..."} when it could not produce figures."""
    options.check()
    script = peer_script(peer)
    with contextlib.ExitStack() as stack:
        if target is None:
            host, port = "127.0.0.1", stack.enter_context(fakesmsc_process(options))
        else:
            host, port = target
        cmd = [sys.executable, str(script), "--json", "--target", f"{host}:{port}",
               "--scenario", options.scenario, "--messages", str(messages or options.messages),
               "--rate", f"{options.offered_rate:g}", "--binds", str(options.bind_count),
               "--window", str(options.window), "--timeout", f"{options.timeout:g}",
               "--system-id", system_id, "--password", password]
        if options.duration is not None:
            cmd += ["--duration", f"{options.duration:g}"]
        if options.series:
            cmd.append("--series")
        limit = options.timeout * 2 + (options.duration or 0) + 60
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=limit,
                                  check=False)
        except subprocess.TimeoutExpired:
            return {"error": f"{peer} did not finish within {limit:g} s"}
    lines = proc.stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        result = None
    if not isinstance(result, dict):
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"{peer} driver failed (exit {proc.returncode}): {tail}"}
    return result


def compare(ours: dict[str, Any], peer: dict[str, Any]) -> dict[str, Any]:
    """Our result with ``peer`` and ``ratio`` (our msgs/s over the peer's; None without
    figures)."""
    ratio = None
    if "error" not in peer and peer.get("msgs_per_s"):
        ratio = round(ours["msgs_per_s"] / peer["msgs_per_s"], 2)
    return {**ours, "peer": peer, "ratio": ratio}


# --- --plot ---------------------------------------------------------------------------------------


class PlotUnavailableError(RuntimeError):
    """matplotlib (the ``plot`` extra) is not installed."""


PLOT_NEEDS = "--plot needs matplotlib: pip install smsengine[plot]"


def check_plot() -> None:
    if importlib.util.find_spec("matplotlib") is None:
        raise PlotUnavailableError(PLOT_NEEDS)


def plot(result: dict[str, Any], path: str | Path) -> None:
    """Two panels over time: throughput (msgs/s per interval) and latency p50/p90/p99 per
    interval, for our run and, when ``result`` has one with a series, the peer's; to a PNG."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import FuncFormatter
    except ImportError as exc:
        raise PlotUnavailableError(PLOT_NEEDS) from exc

    runs = [("smsengine", result.get("series"), "-")]
    peer = result.get("peer") or {}
    if peer.get("series"):
        runs.append((str(peer.get("library", "peer")).split()[0], peer["series"], "--"))
    fig = Figure(figsize=(10, 7), layout="constrained")
    FigureCanvasAgg(fig)  # the Agg backend, without pyplot's global state
    rate_ax, lat_ax = fig.subplots(2, 1, sharex=True)
    colours = {"p50": "tab:green", "p90": "tab:orange", "p99": "tab:red"}
    for name, samples, style in runs:
        if not samples or not samples["t"]:
            continue
        # Each value holds over its interval, which ends at its t: steps from 0.
        t = [0.0, *samples["t"]]
        overall = (result if name == "smsengine" else peer)["msgs_per_s"]
        rate = samples["msgs_per_s"]
        rate_ax.plot(t, [rate[0], *rate], style, drawstyle="steps-pre",
                     color="tab:blue" if name == "smsengine" else "tab:purple",
                     label=f"{name} ({overall:,.0f} msgs/s overall)")
        for key, colour in colours.items():
            values = [math.nan if v is None else v for v in samples[key]]
            lat_ax.plot(t, [values[0], *values], style, drawstyle="steps-pre", color=colour,
                        label=f"{name} {key}")
    title = f"smsengine bench: {result['scenario']}, {result['messages']:,} messages"
    if "ratio" in result and result["ratio"] is not None:
        title += f"; peer {peer['messages']:,} messages, ratio {result['ratio']:,.1f}x"
    fig.suptitle(title)
    rate_ax.set_ylabel(f"msgs/s (per {SERIES_INTERVAL:g} s)")
    rate_ax.set_ylim(bottom=0)
    rate_ax.grid(alpha=0.3)
    rate_ax.legend(loc="best", fontsize="small")
    lat_ax.set_ylabel("submit latency, ms")
    lat_ax.set_xlabel("seconds from the start of the load")
    lat_ax.grid(alpha=0.3, which="both")
    if any(v for _, samples, _ in runs if samples for v in samples["p99"] if v):
        lat_ax.set_yscale("log")
        lat_ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        lat_ax.yaxis.set_minor_formatter(FuncFormatter(  # 2, 5, 20, 50 … between the decades
            lambda v, _: f"{v:g}" if v > 0 and f"{v:g}".strip("0.")[:1] in "25" else ""))
    lat_ax.legend(loc="best", fontsize="small", ncols=2)
    fig.savefig(str(path), format="png", dpi=100)


# --- the command --------------------------------------------------------------------------------


def _options(args: argparse.Namespace) -> BenchOptions:
    return BenchOptions(scenario=args.scenario, messages=args.messages, rate=args.rate,
                        binds=args.binds, window=args.window, duration=args.duration,
                        server_tps=args.server_tps, series=bool(getattr(args, "plot", None)),
                        ceiling=True if getattr(args, "ceiling", False) else None)


def _target(text: str | None) -> tuple[str, int] | None:
    """--target as (host, port), the port 1..65535; a ValueError naming --target otherwise
    (run reports it, exit status 2, before anything starts)."""
    if text is None:
        return None
    try:
        return split_host_port(text)
    except ValueError as exc:
        raise ValueError(f"--target: {exc}") from None


def _finish(result: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """Draw --plot, then drop the series: the printed contract stays as documented."""
    if getattr(args, "plot", None):
        plot(result, args.plot)
    result.pop("series", None)
    if isinstance(result.get("peer"), dict):
        result["peer"].pop("series", None)
    return result


def run(args: argparse.Namespace) -> int:
    """The ``smsengine bench`` command."""
    compare_with = getattr(args, "compare", None)
    try:
        options = _options(args)
        options.check()
        target = _target(args.target)
        peer_messages = getattr(args, "peer_messages", None)
        if peer_messages is not None and peer_messages < 1:
            raise ValueError("--peer-messages must be >= 1")
        if compare_with and options.spec.protocol != "smpp":
            raise ValueError(f"--compare {compare_with} speaks SMPP only; the "
                             f"{options.scenario} scenario "
                             "reports its fraction of SMPP short from the same run instead")
        if compare_with:  # fail before the run, not after it
            peer_script(compare_with)
            peer_messages = peer_messages or min(options.messages, PEER_MESSAGES_DEFAULT)
        if getattr(args, "plot", None):
            check_plot()
    except (ValueError, PeerUnavailableError, PlotUnavailableError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    peer_args: dict[str, Any] = {"messages": peer_messages, "target": target,
                                 "system_id": args.system_id, "password": args.password}
    if args.json:
        result = run_bench(options, target=target, system_id=args.system_id,
                           password=args.password)
        if compare_with:
            result = compare(result, run_peer(options, compare_with, **peer_args))
        print(json.dumps(_finish(result, args)))
        return 0 if not result["errors"] else 1

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    console = Console(highlight=False)
    where = args.target or "the fake SMSC in its own process"
    load = (f"open loop at {options.offered_rate:g} msgs/s" if options.offered_rate
            else "closed loop at the maximum")
    console.print(f"[bold]smsengine bench[/] {options.scenario}: {options.spec.about}; "
                  f"{options.bind_count} bind(s), window {options.window}, {load}, "
                  f"against {where}", soft_wrap=True)
    bar = Progress(TextColumn("sent"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[note]}"), console=console,
                   disable=not console.is_terminal)
    task = bar.add_task("sent", total=options.messages, note="")

    def show(f: dict[str, Any]) -> None:
        bar.update(task, completed=f["sent"], total=f["total"],
                   note=f"acked {f['acknowledged']:,}  receipts {f['receipts']:,}  "
                   f"failed {f['failed']:,}  {f['rate']:,.0f}/s")

    with bar:
        result = run_bench(options, target=target, system_id=args.system_id,
                           password=args.password, progress=show)
    if compare_with:
        with console.status(f"the same scenario with {compare_with} as the client "
                            f"({peer_messages:,} messages) …"):
            result = compare(result, run_peer(options, compare_with, **peer_args))
    _finish(result, args)
    print_summary(result, console)
    if getattr(args, "plot", None):
        console.print(f"plot written to {args.plot}")
    return 0 if not result["errors"] else 1


def _summary_rows(result: dict[str, Any]) -> list[tuple[str, str]]:
    lat = result["latency_ms"]
    return [
        ("messages", f"{result['messages']:,} ({result['segments']:,} parts)"),
        ("seconds", f"{result['seconds']:.2f}"),
        ("throughput", f"{result['msgs_per_s']:,.0f} msgs/s"),
        ("client CPU", f"{result['client_cpu_us_per_msg']:.1f} µs/msg"),
        ("submit latency", f"p50 {lat['p50']:.2f} ms, p90 {lat['p90']:.2f} ms, "
                           f"p99 {lat['p99']:.2f} ms, max {lat['max']:.2f} ms"),
        ("receipts", f"{result['receipts']['matched']:,} matched of "
                     f"{result['receipts']['requested']:,} requested"),
        ("errors", ", ".join(f"{k} {v:,}" for k, v in result["errors"].items()) or "none"),
    ]


def print_summary(result: dict[str, Any], console: Any) -> None:
    """The summary table; with --compare, the peer side by side and the ratio."""
    from rich.table import Table

    peer = result.get("peer")
    table = Table(title=f"bench: {result['scenario']}", title_justify="left",
                  show_header=peer is not None)
    table.add_column("", style="bold")
    table.add_column("smsengine", justify="right")
    if peer is None:
        for label, value in _summary_rows(result):
            table.add_row(label, value)
    elif "error" in peer:
        table.add_column("peer", justify="right")
        for label, value in _summary_rows(result):
            table.add_row(label, value, "")
        table.add_row("peer", "", f"no figures: {peer['error']}")
    else:
        table.add_column(str(peer.get("library", "peer")), justify="right")
        for (label, ours), (_, theirs) in zip(_summary_rows(result), _summary_rows(peer),
                                              strict=True):
            table.add_row(label, ours, theirs)
        table.add_row("ratio", f"{result['ratio']:,.1f}x the peer's msgs/s", "")
    if "fraction_of_smpp_short" in result:
        short = result["smpp_short"]
        table.add_row("SMPP short, same run", f"{short['msgs_per_s']:,.0f} msgs/s; "
                      f"{short['client_cpu_us_per_msg']:.1f} µs/msg")
        table.add_row(f"{result['scenario'].upper()} / SMPP short",
                      f"{result['fraction_of_smpp_short']:.2f} "
                      f"(target >= {CMPP_TARGET_FRACTION})")
    if "fraction_of_ceiling" in result:
        ceiling = result["ceiling"]
        table.add_row("raw ceiling, same run", f"{ceiling['msgs_per_s']:,.0f} msgs/s; "
                      f"{ceiling['client_cpu_us_per_msg']:.2f} µs/msg")
        note = ""
        if result["scenario"] == "short":
            met = "met" if result["target"]["met"] else "not met"
            note = (f" (target >= {SHORT_TARGET_FRACTION} and <= {SHORT_TARGET_CPU_US:g} "
                    f"µs/msg: {met})")
        table.add_row("fraction of ceiling", f"{result['fraction_of_ceiling']:.3f}{note}")
    console.print(table)
