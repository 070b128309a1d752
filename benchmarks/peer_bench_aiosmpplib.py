"""aiosmpplib (0.7.4) as the client for a ``smsengine bench`` scenario: the peer of ``--compare``.

``smsengine bench --compare aiosmpplib`` runs this script in its own process (smsengine itself
never imports aiosmpplib) against a fresh fake SMSC with the same configuration as its own run,
or against ``--target``. It can also be run by hand against any SMPP server::

    .venv/bin/python benchmarks/peer_bench_aiosmpplib.py --target 127.0.0.1:2775 \\
        --scenario receipts --messages 2000

It prints exactly one JSON object in the same contract as ``smsengine bench --json``
(scenario, messages, segments, seconds, msgs_per_s, client_cpu_us_per_msg, latency_ms,
receipts, errors), plus ``library`` and, with ``--series``, per-interval samples for the plot.
A scenario aiosmpplib cannot do prints ``{"error": "..."}`` and exits 3.

The driver uses aiosmpplib as its documentation intends: ``ESME`` objects fed through a broker,
a hook (``AbstractHook``) for submit_sm_resp and receipts, its correlator for matching receipts
(the hook sees the SubmitSm's ``log_id`` on a correlated receipt), its splitting of long
messages (UDH, ``auto_message_payload=False``) and, for the throttled scenario, its rate limiter
and throttle handler, with throttled messages enqueued again. aiosmpplib has no window, so the
closed loop keeps ``binds x window`` messages outstanding: the next one is enqueued from the
hook when a message completes (as ``benchmarks/bind.py`` does). Several binds share one broker,
one sequence generator and one correlator, so a receipt arriving on any bind is matched.

Measured like ours: latency is the submit_sm_resp time minus the intended send time (open loop:
the message's slot in the schedule; closed loop: when it was handed to the broker), seconds run
until every message is final (answered, and its receipt in when requested), and client CPU is
this process's ``time.process_time()`` over that span. Errors count failed statuses by name,
``UNCORRELATED_RESP`` (a submit_sm_resp aiosmpplib could not match to its request: it stores a
request for correlation only after ``drain()``, so a fast answer can beat it), ``UNMATCHED_RECEIPT``
and ``NOT_FINAL`` (no answer before ``--timeout``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from smsengine.bench import SCENARIOS, THROTTLED_DEFAULT_RATE, series  # noqa: E402

SUBMIT_SM_RESP = b"\x80\x00\x00\x04"
GENERIC_NACK = b"\x80\x00\x00\x00"
THROTTLED = (0x58, 0x14)  # ESME_RTHROTTLED, ESME_RMSGQFUL: enqueue the message again
UNSUPPORTED: dict[str, str] = {}  # scenario -> why aiosmpplib cannot run it (none so far)


def _percentile(ordered: list[float], q: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class _Driver:
    """The load generator and the aiosmpplib hook for one run."""

    def __init__(self, args: argparse.Namespace, total: int | None) -> None:
        from aiosmpplib import NPI, TON, PhoneNumber, SubmitSm
        from aiosmpplib.hook import AbstractHook
        from aiosmpplib.protocol import DeliverSm, SubmitSmResp
        from aiosmpplib.state import SmppCommandStatus

        self.args = args
        self.spec = SCENARIOS[args.scenario]
        self.total = total  # None: until --duration is over (closed loop)
        self.loop = asyncio.get_running_loop()
        self.done: asyncio.Future[None] = self.loop.create_future()
        self.handed = 0  # messages handed to the broker
        self.intended: list[float] = []  # per message: intended send time (wall clock)
        self.acked_at: list[float | None] = []  # per message: when its last part was answered
        self.parts_left: list[int] = []  # per message: parts not answered yet (-1: unknown)
        self.status: list[int] = []  # per message: first failing status, else 0
        self.parts: list[int] = []  # per message: its parts (0 until it is first sent)
        self.seq_index: dict[int, int] = {}  # sequence_num -> message, from the sending hook
        self.finished = 0  # messages answered (every part)
        self.requested = 0  # receipts owed (parts accepted with registered_delivery)
        self.receipts_seen = 0
        self.matched = 0
        self.errors: Counter[str] = Counter()
        self.stop_handing = False
        self._source = PhoneNumber("BENCH", TON.ALPHANUMERIC, NPI.UNKNOWN)
        self._submit_cls, self._phone, self._ton, self._npi = SubmitSm, PhoneNumber, TON, NPI
        self._status_name = {int(s): s.name for s in SmppCommandStatus}
        self._long = len(self.spec.text) > 70 or not self.spec.text.isascii()
        driver = self

        class Hook(AbstractHook):
            async def sending(self, smpp_message: Any, pdu: bytes, client_id: str) -> None:
                if isinstance(smpp_message, SubmitSm):
                    index = int(smpp_message.log_id)
                    driver.seq_index[smpp_message.sequence_num] = index
                    if driver.parts_left[index] < 0:
                        parts = smpp_message.get_segmentation_data()[2] or 1
                        driver.parts_left[index] = driver.parts[index] = parts

            async def received(self, smpp_message: Any, pdu: bytes, client_id: str) -> None:
                command = pdu[4:8]
                if command in (SUBMIT_SM_RESP, GENERIC_NACK):
                    if isinstance(smpp_message, SubmitSmResp) and not smpp_message.log_id:
                        driver.errors["UNCORRELATED_RESP"] += 1
                    driver.answered(int.from_bytes(pdu[12:16], "big"),
                                    int.from_bytes(pdu[8:12], "big"))
                elif isinstance(smpp_message, DeliverSm) and smpp_message.is_receipt():
                    driver.receipts_seen += 1
                    if smpp_message.log_id:  # aiosmpplib's correlator matched it
                        driver.matched += 1
                    else:
                        driver.errors["UNMATCHED_RECEIPT"] += 1
                    driver.check_done()

            async def send_error(self, smpp_message: Any, error: Exception,
                                 client_id: str) -> None:
                driver.errors[type(error).__name__] += 1

        self.hook = Hook()
        self.esmes: list[Any] = []

    def message(self, index: int) -> Any:
        kwargs: dict[str, Any] = {}
        if self._long:  # aiosmpplib splits it with a UDH (its SAR-only path is broken)
            kwargs = {"esm_class": 0x40, "auto_message_payload": False}
        return self._submit_cls(
            short_message=self.spec.text, source=self._source,
            destination=self._phone(f"86138{index % 10**8:08d}", self._ton.INTERNATIONAL,
                                    self._npi.ISDN),
            registered_delivery=1 if self.spec.receipts else 0, log_id=str(index), **kwargs)

    def hand_over(self, intended: float | None) -> Any:
        """A new message, counted at once; the caller enqueues it."""
        index = self.handed
        self.handed += 1
        self.intended.append(time.time() if intended is None else intended)
        self.acked_at.append(None)
        self.parts_left.append(-1)
        self.status.append(0)
        self.parts.append(0)
        return self.message(index)

    def answered(self, seq: int, status: int) -> None:
        index = self.seq_index.pop(seq, None)
        if index is None:
            return
        if status in THROTTLED:  # a competent user sends it again
            self.parts_left[index] = -1
            self.loop.create_task(self.esmes[0].broker.enqueue(self.message(index)))
            return
        if status:
            self.status[index] = self.status[index] or status
        elif self.spec.receipts:
            self.requested += 1
        self.parts_left[index] -= 1
        if self.parts_left[index] == 0:
            self.acked_at[index] = time.time()
            self.finished += 1
            if self.status[index]:
                self.errors[self._status_name.get(self.status[index],
                                                  f"0x{self.status[index]:08X}")] += 1
            if not self.args.rate and not self.stop_handing and (
                    self.total is None or self.handed < self.total):
                self.loop.create_task(self.esmes[0].broker.enqueue(self.hand_over(None)))
        self.check_done()

    def check_done(self) -> None:
        all_handed = self.stop_handing or (self.total is not None and self.handed >= self.total)
        if (all_handed and self.finished >= self.handed
                and self.receipts_seen >= self.requested and not self.done.done()):
            self.done.set_result(None)

    async def open_loop(self, rate: float, total: int) -> None:
        # The schedule runs on perf_counter, not loop.time(): uvloop's clock is milliseconds,
        # cached per iteration, so it could send a message up to ~1 ms before its intended
        # time and a fast answer would show a negative latency.
        start, wall = time.perf_counter(), time.time()
        i = 0
        while i < total:
            due = min(total, int((time.perf_counter() - start) * rate) + 1)
            while i < due:
                await self.esmes[0].broker.enqueue(self.hand_over(wall + i / rate))
                i += 1
            if i < total:
                await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))

    async def closed_loop(self) -> None:
        outstanding = self.args.binds * self.args.window
        first = outstanding if self.total is None else min(outstanding, self.total)
        for _ in range(first):
            await self.esmes[0].broker.enqueue(self.hand_over(None))
        if self.args.duration is not None:
            await asyncio.sleep(self.args.duration)
            self.stop_handing = True
            self.check_done()

    def result(self, seconds: float, cpu: float, wall0: float) -> dict[str, Any]:
        latencies = sorted((a - t) * 1000 for a, t in zip(self.acked_at, self.intended,
                                                          strict=True) if a is not None)
        errors = Counter(self.errors)
        not_final = sum(1 for a in self.acked_at if a is None)
        if not_final:
            errors["NOT_FINAL"] += not_final
        messages = self.handed
        from importlib.metadata import version

        out: dict[str, Any] = {
            "library": f"aiosmpplib {version('aiosmpplib')}",
            "scenario": self.spec.name,
            "messages": messages,
            "segments": sum(self.parts),
            "seconds": round(seconds, 3),
            "msgs_per_s": round(messages / max(seconds, 1e-9), 1),
            "client_cpu_us_per_msg": round(cpu / max(messages, 1) * 1e6, 2),
            "latency_ms": {
                "p50": round(_percentile(latencies, 0.5), 3),
                "p90": round(_percentile(latencies, 0.9), 3),
                "p99": round(_percentile(latencies, 0.99), 3),
                "max": round(latencies[-1] if latencies else 0.0, 3),
            },
            "receipts": {"requested": self.requested, "matched": self.matched},
            "errors": dict(sorted(errors.items())),
        }
        if self.args.series:
            out["series"] = series(
                ((a, (a - t) * 1000) for a, t in zip(self.acked_at, self.intended, strict=True)
                 if a is not None), wall0, wall0 + seconds)
        return out


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from aiosmpplib import ESME
    from aiosmpplib.broker import SimpleBroker
    from aiosmpplib.correlator import SimpleCorrelator
    from aiosmpplib.log import StructuredLogger
    from aiosmpplib.ratelimiter import SimpleRateLimiter
    from aiosmpplib.sequence import SimpleSequenceGenerator
    from aiosmpplib.state import SmppSessionState
    from aiosmpplib.throttle import SimpleThrottleHandler

    host, _, port = args.target.rpartition(":")
    spec = SCENARIOS[args.scenario]
    rate = args.rate or (THROTTLED_DEFAULT_RATE if spec.throttled else 0.0)
    args.rate = rate
    if args.duration is not None and rate > 0:
        total: int | None = max(1, int(rate * args.duration))
    elif args.duration is not None:
        total = None
    else:
        total = args.messages
    driver = _Driver(args, total)
    # One broker (the binds share the load), one sequence generator and one correlator (a
    # receipt may come back on any bind), as aiosmpplib's constructor allows.
    broker = SimpleBroker(maxsize=0)  # unbounded: the driver bounds what is outstanding
    sequence = SimpleSequenceGenerator()
    correlator = SimpleCorrelator(args.system_id, max_ttl_response=max(15.0, args.timeout))
    silent = StructuredLogger("peer-bench", logging.CRITICAL, {}, None, False)
    for i in range(args.binds):
        esme = ESME(host, int(port), args.system_id, args.password, client_id=f"bench{i}",
                    hook=driver.hook, broker=broker, sequence_generator=sequence,
                    correlator=correlator, log_level=logging.CRITICAL,
                    enquire_link_interval=300.0,
                    rate_limiter=(SimpleRateLimiter(silent, send_rate=rate / args.binds)
                                  if rate > 0 else None),
                    # Its defaults judge the throttled share over 180 s and then deny sending
                    # for the rest of that period; a benchmark runs for seconds.
                    throttle_handler=SimpleThrottleHandler(
                        silent, sampling_period=1.0, sample_size=20.0, deny_request_at=5.0,
                        throttle_wait=0.1))
        driver.esmes.append(esme)
    runners = [asyncio.create_task(e.start()) for e in driver.esmes]
    try:
        deadline = time.monotonic() + 10
        while not all(e.session_state == SmppSessionState.BOUND_TRX for e in driver.esmes):
            if time.monotonic() > deadline:
                raise SystemExit(f"aiosmpplib could not bind to {args.target}")
            await asyncio.sleep(0.01)
        gc.collect()
        cpu0, t0, wall0 = time.process_time(), time.perf_counter(), time.time()
        if rate > 0:
            assert total is not None
            await driver.open_loop(rate, total)
        else:
            await driver.closed_loop()
        driver.check_done()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(driver.done), args.timeout)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    finally:
        for esme in driver.esmes:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(esme.stop(), 5)
        for task in runners:
            task.cancel()
        await asyncio.gather(*runners, return_exceptions=True)
    return driver.result(seconds, cpu, wall0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--target", required=True, metavar="HOST:PORT")
    parser.add_argument("--scenario", default="short", choices=list(SCENARIOS))
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=0.0)
    parser.add_argument("--duration", type=float, default=None)
    parser.add_argument("--binds", type=int, default=None)
    parser.add_argument("--window", type=int, default=128)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--system-id", default="bench")
    parser.add_argument("--password", default="bench")
    parser.add_argument("--series", action="store_true", help="add per-interval samples")
    parser.add_argument("--json", action="store_true", help="accepted; the output is JSON")
    args = parser.parse_args(argv)
    if args.binds is None:
        args.binds = SCENARIOS[args.scenario].binds
    if args.scenario in UNSUPPORTED:
        print(json.dumps({"error": UNSUPPORTED[args.scenario]}))
        return 3
    try:
        import aiosmpplib  # noqa: F401
    except ImportError:
        print(json.dumps({"error": "aiosmpplib is not installed: pip install -e '.[dev]'"}))
        return 3
    loop_factory = None
    with contextlib.suppress(ImportError):
        import uvloop  # as ours runs

        loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        print(json.dumps(runner.run(run(args))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
