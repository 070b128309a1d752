"""The engine end to end: throughput and client CPU with receipts, and OTP latency under a queue.

1. ``messages`` short messages with registered_delivery through one channel (two transceiver
   binds, window 512, no TPS limit) into the fake SMSC in another process, which sends a receipt
   for each; measured until every message is final (its receipt correlated). Client CPU is this
   process's CPU time per message over that span. ``rounds`` rounds (5), each with a fresh engine
   and fake SMSC; the round with the median client CPU is reported, with every round's figure
   beside it.
2. ``queued`` marketing messages queued on a channel limited to ``tps``; then OTPs are sent
   one every 20 ms and their submit latency (send() to submit_sm_resp) is measured: the lane
   scheduler must put them ahead of the whole campaign.

``--ab REV``: throughput rounds only, alternating this working tree's smsengine ("new") and that
of the git revision REV ("old", checked out in a temporary worktree), ``--rounds`` pairs ordered
new old, old new, new old… so the machine's drift falls on both sides. Each round is a fresh
process that imports one tree's smsengine and runs this script's measurement (``--child-round``),
against a fresh fake SMSC from this tree: only the engine under test differs. Reports each
side's median and every round, and ratio = median(new) / median(old).

``--metrics``: throughput rounds only, alternating the engine without and with
``smsengine.metrics.EngineMetrics`` attached (its own registry, scraped once a second during the
span, fifteen times Prometheus's default), ``--rounds`` pairs ordered off on, on off, off on…
in this process, each against a fresh fake SMSC. Reports each side's median, every round, what
one scrape costs, and ratio = median(on) / median(off); the last "on" round's exposition is
checked against the channel's counters.

Targets: every receipt matched; client CPU <= 15 µs per message with receipts; OTP p99 <= 50 ms;
with ``--ab``, the new code no more than 5 % above the old (ratio <= 1.05); with ``--metrics``,
metrics on no more than 5 % above off (ratio <= 1.05).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _engine_tree(argv: list[str]) -> Path:
    """The source tree whose smsengine this process imports: this script's own, or the one an A/B
    child round is given (``--child-round --tree PATH``). Read before the import, hence here."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--tree", type=Path)
    tree: Path | None = pre.parse_known_args(argv)[0].tree
    return (tree or ROOT).resolve()


TREE = _engine_tree(sys.argv[1:])
sys.path.insert(0, str(TREE))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import FAKESMSC, start_fakesmsc, start_server  # noqa: E402

import smsengine  # noqa: E402
from smsengine.engine import Engine, Message, MessageState, engine_config_from_dict  # noqa: E402

TARGET_CPU_US = 15.0
TARGET_OTP_P99_MS = 50.0
TARGET_AB_RATIO = 1.05
# States only a receipt gives a one-part message; counted as matched receipts when the engine
# under test has no receipt counters to report.
_RECEIPT_STATES = frozenset({MessageState.DELIVERED, MessageState.UNDELIVERABLE,
                             MessageState.EXPIRED, MessageState.REJECTED})


def _config(port: int, *, tps: float = 0.0, transceivers: int = 2) -> Any:
    return engine_config_from_dict({
        "channels": [{
            "name": "bench", "host": "127.0.0.1", "port": port, "system_id": "bench",
            "password": "bench", "transceivers": transceivers, "window": 512, "tps": tps,
            "default_source": "BENCH",
        }],
    })


async def _until_final(handles: list[Any], wall0: float, limit: float = 600.0,
                       stall: float = 60.0) -> float:
    """Wait until every handle is final, looking every 5 ms, or until none has become final for
    ``stall`` seconds (a broken engine); return the CPU time the looking took.

    The end of the span is read from the handles (public API) rather than the channel's counters,
    so that the same code measures any revision of the engine (the counters are internal and may
    move). Measured at 50 000 messages: polling the counters cost 0.006-0.009 µs/msg; one pass
    of ``handle.final`` over the handles 0.17-0.22 µs/msg, which is returned here and left out of
    the client CPU, so the figure stays the engine's alone, as with the counters; awaiting every
    ``handle.wait()`` in turn 0.34-0.36 µs/msg (a coroutine per handle), spread over callbacks
    where it cannot be taken out. Both polls end the span at the first look after the last
    receipt, as before."""
    looking = 0.0
    i, n = 0, len(handles)
    progress = wall0
    while True:
        t0 = time.process_time()
        first = i
        while i < n and handles[i].final:
            i += 1
        looking += time.process_time() - t0
        now = time.perf_counter()
        if i > first:
            progress = now
        if i == n or now - progress > stall or now - wall0 > limit:
            return looking
        await asyncio.sleep(0.005)


async def _scrape_every(metrics: Any, seconds: float, spent: list[float]) -> None:
    """Scrape ``metrics`` every ``seconds`` (as Prometheus would), keeping each scrape's CPU."""
    while True:
        await asyncio.sleep(seconds)
        t0 = time.process_time()
        metrics.exposition()
        spent.append(time.process_time() - t0)


async def _throughput(port: int, messages: int, metrics: bool = False) -> dict[str, Any]:
    async with Engine(_config(port)) as engine:
        await engine.wait_ready(10)
        exposition: dict[str, Any] = {}
        scrapes: list[float] = []
        if metrics:  # (only this tree's smsengine has it: --ab never asks)
            from prometheus_client import CollectorRegistry

            from smsengine.metrics import EngineMetrics

            counted = EngineMetrics(engine, CollectorRegistry())
            # The CPU of the counting itself (the bulk count, at each housekeeping tick and
            # scrape), timed around it: a figure steadier than the rounds' difference.
            tally = counted._tally
            count = tally.flush
            counting = [0.0]

            def timed() -> None:
                t0 = time.process_time()
                count()
                counting[0] += time.process_time() - t0

            tally.flush = timed  # type: ignore[method-assign]
            scraper = asyncio.get_running_loop().create_task(
                _scrape_every(counted, 1.0, scrapes))
        gc.collect()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        handles = await engine.send_many(
            Message(destination=f"86138{i % 10**8:08d}", text="Your verification code is 123456",
                    kind="notification")
            for i in range(messages)
        )
        looking = await _until_final(handles, wall0)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0 - looking
        if metrics:
            scraper.cancel()
            t0 = time.process_time()
            body = counted.exposition()[0]
            scrapes.append(time.process_time() - t0)
            exposition = {"exposition": body.decode(),
                          "counting_us_per_msg": round(counting[0] / messages * 1e6, 3),
                          "scrape_ms": round(statistics.median(scrapes) * 1000, 3),
                          "scrapes": len(scrapes)}
            counted.close()
        delivered = sum(1 for h in handles if h.state is MessageState.DELIVERED)
        # The channel's counters through the public Engine.stats(), read after the span; a
        # revision without one of them reports None (matched: counted from the handles).
        counters = engine.stats().get("channels", {}).get("bench", {})
        if "receipts_matched" in counters and "receipts_early" in counters:
            matched = counters["receipts_matched"] + counters["receipts_early"]
        else:
            matched = sum(1 for h in handles if h.state in _RECEIPT_STATES)
        return {
            "messages": messages,
            "segments": counters.get("segments"),
            "seconds": round(wall, 3),
            "msgs_per_s": round(messages / wall),
            "client_cpu_us_per_msg": round(cpu / messages * 1e6, 2),
            # A receipt that beat its submit_sm_resp (another bind was faster) is matched too.
            "receipts": {"requested": messages, "matched": matched,
                         "before_response": counters.get("receipts_early")},
            "delivered": delivered,
            "errors": {k: counters.get(k) for k in ("failed", "unknown", "throttled")},
            **exposition,
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


# --- A/B against another revision ---------------------------------------------------------------


def _git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def _worktree(rev: str) -> tuple[str, Path]:
    """REV's commit id and a detached worktree of it in /tmp (reused when it is already there)."""
    try:
        sha = _git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    except subprocess.CalledProcessError:
        raise SystemExit(f"--ab: {rev!r} is not a commit in {ROOT}") from None
    path = Path(f"/tmp/smsengine-ab-{sha}")
    if path.exists():
        try:
            head = _git("rev-parse", "HEAD", cwd=path)
        except subprocess.CalledProcessError:
            head = ""
        if head != sha:
            raise SystemExit(f"--ab: {path} exists but is not a checkout of {sha}; remove it")
    else:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), sha],
                       check=True, capture_output=True, text=True)
    return sha, path


def _child_round(tree: Path, messages: int) -> dict[str, Any]:
    """One throughput round of ``tree``'s smsengine in a fresh process, against a fresh fake
    SMSC of this tree (started with this tree as its working directory, so that ``python -m
    smsengine`` imports this tree's package whatever the caller's directory)."""
    proc, port = start_server(FAKESMSC, cwd=str(ROOT))
    try:
        out = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child-round", "--tree", str(tree),
             "--port", str(port), "--messages", str(messages)],
            check=True, stdout=subprocess.PIPE, text=True, timeout=900,
        ).stdout
    except subprocess.SubprocessError as exc:
        raise SystemExit(f"--ab: a round of {tree} failed ({exc})") from None
    finally:
        proc.terminate()
        proc.wait(10)
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def _side(rounds: list[dict[str, Any]], messages: int) -> dict[str, Any]:
    cpu = [r["client_cpu_us_per_msg"] for r in rounds]
    rates = [r["msgs_per_s"] for r in rounds]
    matched = [r["receipts"]["matched"] for r in rounds]
    return {
        "client_cpu_us_per_msg": round(statistics.median(cpu), 2),
        "msgs_per_s": round(statistics.median(rates)),
        # Every round in the order run.
        "rounds_client_cpu_us_per_msg": cpu,
        "rounds_msgs_per_s": rates,
        "rounds_receipts_matched": matched,
        "all_receipts": all(m == messages for m in matched),
    }


def _ab(rev: str, messages: int, pairs: int, keep: bool) -> dict[str, Any]:
    # A terminated run still ends its round's processes and removes the worktree (finally).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    sha, worktree = _worktree(rev)
    trees = {"new": ROOT, "old": worktree}
    order = [side for k in range(pairs) for side in (("new", "old") if k % 2 == 0
                                                       else ("old", "new"))]
    rounds: list[dict[str, Any]] = []
    try:
        for side in order:
            rounds.append({"side": side, **_child_round(trees[side], messages)})
    finally:
        if not keep:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                            str(worktree)], check=False, capture_output=True)
    new = _side([r for r in rounds if r["side"] == "new"], messages)
    old = _side([r for r in rounds if r["side"] == "old"], messages)
    ratio = round(new["client_cpu_us_per_msg"] / old["client_cpu_us_per_msg"], 3)
    result = {
        "messages": messages,
        "rounds_per_side": pairs,
        "order": order,
        "new": {"tree": str(ROOT), "head": _git("rev-parse", "HEAD"),
                # The working tree is measured as it is, edits included.
                "edited": bool(_git("status", "--porcelain", "--", "smsengine")), **new},
        "old": {"rev": rev, "commit": sha, "tree": str(worktree), "kept": keep, **old},
        "ratio": ratio,
        "met_ab": ratio <= TARGET_AB_RATIO,
        "targets": {"client_cpu_us_per_msg": TARGET_CPU_US, "ratio": TARGET_AB_RATIO},
        "detail": {"rounds": rounds},
    }
    result["met"] = (result["met_ab"] and new["all_receipts"]
                     and new["client_cpu_us_per_msg"] <= TARGET_CPU_US)
    return result


def _print_ab(result: dict[str, Any]) -> None:
    new, old = result["new"], result["old"]
    print(f"A/B: {result['messages']:,} messages a round, {result['rounds_per_side']} rounds a "
          f"side, in the order {' '.join(result['order'])}")
    for name, side, what in (
        ("new", new, f"working tree {new['tree']} (HEAD {new['head'][:10]}"
                     f"{', smsengine/ edited' if new['edited'] else ''})"),
        ("old", old, f"{old['rev']} = {old['commit'][:10]} ({old['tree']}"
                     f"{', kept' if old['kept'] else ''})"),
    ):
        rounds = " / ".join(str(c) for c in side["rounds_client_cpu_us_per_msg"])
        matched = ", ".join(f"{m:,}" for m in side["rounds_receipts_matched"])
        print(f"{name}: {what}\n  client {side['client_cpu_us_per_msg']} µs/msg (median of "
              f"{rounds}), {side['msgs_per_s']:,} msgs/s (rounds "
              f"{', '.join(f'{r:,}' for r in side['rounds_msgs_per_s'])}), receipts matched "
              f"{matched} of {result['messages']:,}")
    print(f"ratio new/old {result['ratio']} (<= {TARGET_AB_RATIO}: "
          f"{'met' if result['met_ab'] else 'NOT met'}); targets <= {TARGET_CPU_US} µs/msg, "
          f"all receipts, ratio: {'met' if result['met'] else 'NOT met'}")


# --- metrics off and on -------------------------------------------------------------------------


def _exposed(text: str) -> dict[str, float]:
    """The exposition's samples summed by name and the labels given as ``name{k=v,…}`` keys."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = sample.name + "{" + ",".join(f"{k}={v}" for k, v in
                                               sorted(sample.labels.items())) + "}"
            out[key] = sample.value
    return out


def _metrics_ab(messages: int, pairs: int) -> dict[str, Any]:
    order = [side for k in range(pairs) for side in (("off", "on") if k % 2 == 0
                                                      else ("on", "off"))]
    rounds = [{"side": side, **_with_server(
        lambda port, side=side: _throughput(port, messages, metrics=side == "on"))}
        for side in order]
    off = _side([r for r in rounds if r["side"] == "off"], messages)
    on = _side([r for r in rounds if r["side"] == "on"], messages)
    ratio = round(on["client_cpu_us_per_msg"] / off["client_cpu_us_per_msg"], 3)
    last = [r for r in rounds if r["side"] == "on"][-1]
    seen = _exposed(last["exposition"])
    check = {
        "delivered": (seen.get("smsengine_messages_total{channel=bench,kind=notification,"
                               "state=delivered}"), last["delivered"]),
        "receipts_matched": (seen.get("smsengine_receipts_total{channel=bench,result=matched}"),
                             last["receipts"]["matched"]),
        "parts_sent": (seen.get("smsengine_parts_sent_total{channel=bench}"), last["segments"]),
        "delivery_count": (seen.get("smsengine_delivery_seconds_count{channel=bench}"),
                           last["delivered"]),
    }
    for r in rounds:
        r.pop("exposition", None)
    result = {
        "messages": messages,
        "rounds_per_side": pairs,
        "order": order,
        "off": off,
        "on": {**on, "scrape_ms": [r["scrape_ms"] for r in rounds if r["side"] == "on"],
               "counting_us_per_msg": [r["counting_us_per_msg"] for r in rounds
                                       if r["side"] == "on"]},
        "ratio": ratio,
        "met_ratio": ratio <= TARGET_AB_RATIO,
        "exposition_agrees": all(a == b for a, b in check.values()),
        "check": check,
        "detail": {"rounds": rounds},
    }
    result["met"] = result["met_ratio"] and result["exposition_agrees"] and on["all_receipts"]
    return result


def _print_metrics_ab(result: dict[str, Any]) -> None:
    print(f"metrics off/on: {result['messages']:,} messages a round, {result['rounds_per_side']} "
          f"rounds a side, in the order {' '.join(result['order'])}")
    for name in ("off", "on"):
        side = result[name]
        rounds = " / ".join(str(c) for c in side["rounds_client_cpu_us_per_msg"])
        print(f"{name}: client {side['client_cpu_us_per_msg']} µs/msg (median of {rounds}), "
              f"{side['msgs_per_s']:,} msgs/s")
    print(f"counting (timed around the bulk count): {result['on']['counting_us_per_msg']} µs/msg")
    print(f"one scrape: {result['on']['scrape_ms']} ms (median a round); exposition agrees with "
          f"the counters: {result['exposition_agrees']} {result['check']}")
    print(f"ratio on/off {result['ratio']} (<= {TARGET_AB_RATIO}: "
          f"{'met' if result['met_ratio'] else 'NOT met'})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5,
                        help="throughput rounds, each against a fresh fake SMSC; the median "
                             "round is reported (with --ab: pairs of rounds, one a side)")
    parser.add_argument("--queued", type=int, default=1_000_000)
    parser.add_argument("--tps", type=float, default=2000.0)
    parser.add_argument("--otps", type=int, default=200)
    parser.add_argument("--ab", metavar="REV",
                        help="alternate throughput rounds of this working tree and of git "
                             "revision REV (a temporary worktree); no OTP latency")
    parser.add_argument("--metrics", action="store_true",
                        help="alternate throughput rounds without and with EngineMetrics "
                             "attached (--rounds pairs); no OTP latency")
    parser.add_argument("--keep-worktree", action="store_true",
                        help="with --ab: leave REV's worktree in /tmp for the next run")
    # One A/B round, run by --ab in a fresh process: prints one JSON line.
    parser.add_argument("--child-round", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tree", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_round:
        if args.port is None or args.tree is None:
            parser.error("--child-round needs --tree and --port")
        imported = Path(smsengine.__file__).resolve()
        if not imported.is_relative_to(TREE):
            raise SystemExit(f"--child-round: imported {imported}, not the smsengine of {TREE}")
        import uvloop

        uvloop.install()
        print(json.dumps({**asyncio.run(_throughput(args.port, args.messages)),
                          "smsengine": str(imported.parent)}))
        return 0
    if args.tree is not None or args.port is not None:
        parser.error("--tree and --port are for --child-round")
    if args.ab is not None:
        result = _ab(args.ab, args.messages, max(1, args.rounds), args.keep_worktree)
        if args.json:
            print(json.dumps(result))
        else:
            _print_ab(result)
        return 0
    import uvloop

    uvloop.install()
    if args.metrics:
        result = _metrics_ab(args.messages, max(1, args.rounds))
        if args.json:
            print(json.dumps(result))
        else:
            _print_metrics_ab(result)
        return 0
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
