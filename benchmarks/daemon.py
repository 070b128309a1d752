"""The daemon end to end: ``smsengine serve`` over HTTP, with receipts, against the fake SMSC.

Every party is its own process: the fake SMSC (open mode, a receipt for every submit_sm), the
daemon (``python -m smsengine serve``, its outbox on a temporary directory, one channel of two
transceivers, window 512), and the HTTP clients (this script re-run as ``--child``, aiohttp on
uvloop with a connection pool). The clients build their request bodies and open their
connections first, say ``ready``, and start together on ``go``; the daemon's CPU is read from
/proc/PID/stat (user + system) at ``go`` and at the end of the phase.

1. **Throughput**: ``--messages`` messages (notification) posted in batches of ``--batch``
   (100) by ``--clients`` processes with ``--concurrency`` requests in flight each. Accepted
   msgs/s: messages over the span from ``go`` to the last 202. Final msgs/s: messages over the
   span from ``go`` until the outbox file says every one is final (read-only SQLite,
   ``state >= 4``, polled every 20 ms: committed, hence persisted). Daemon CPU per message over
   that span.
2. **Acceptance latency**: single-message requests (kind otp) at a fixed offered rate
   (``--rate``, 1 000/s, for ``--seconds``), open loop: request i is due at t0 + i/rate and its
   latency is measured from that due time to its 202, so a stall of the daemon (or of the
   client) counts for every request it delays (no coordinated omission). The first
   ``--warmup`` seconds are left out. The client's own lag (due time to the request's start)
   is reported beside it.
3. **OTP under a campaign**: a fresh daemon whose channel is limited to ``--campaign-tps``
   (2 000/s; 0: unlimited) is given ``--campaign`` marketing messages (batches of 1 000); then
   OTPs are posted one by one at ``--otp-rate`` (50/s) for ``--otp-seconds`` (10), and each
   one's timestamps are read back with GET /v1/messages/{id}: accepted -> sending (handed to a
   bind) and accepted -> submitted (the carrier's answer), the daemon's own clock. The
   campaign left queued at the end is reported, to show it was still there.
4. **References in the same run**: the engine alone (``smsengine bench --scenario receipts``,
   same fake SMSC process, same binds and window) and the raw asyncio pipe (``--ceiling``) just
   before each daemon run; the daemon's final msgs/s is stated as a fraction of the engine
   alone.

``--runs`` (2) repeats everything with fresh processes; the headline figures are the medians
(the middle run, or the mean of the two middle ones), and every run is in the detail.

Targets (issue 17, this 2-core machine): >= 10 000 msgs/s end to end with receipts (batches of
100); single-message acceptance p99 <= 20 ms at 1 000 requests/s; OTP accept -> submit p99 <=
100 ms with a 200 000-message campaign queued.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import start_fakesmsc, start_server  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
KEY = "bench-key-" + "0123456789abcdef"
TARGET_FINAL_MSGS_PER_S = 10_000.0
TARGET_ACCEPT_P99_MS = 20.0
TARGET_OTP_P99_MS = 100.0
FINAL = 4  # the outbox's first final state (smsengine.daemon.outbox.OutboxState.DELIVERED)
QUEUED = 1


def _cpu(pid: int) -> float:
    """User + system CPU seconds of a process, from the kernel's accounting."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def _busy() -> float:
    """CPU seconds the whole machine has spent busy (all cores), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / TICK  # less idle and iowait


def _pct(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank) of values, sorted here."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(len(ordered) * q + 0.5) - 1))]


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# --- the HTTP clients (``--child``, each its own process) ----------------------------------------


def _body(i: int, kind: str) -> dict[str, str]:
    return {"to": f"86138{i % 10**8:08d}", "text": f"Your verification code is {i % 10**6:06d}",
            "kind": kind}


async def _child_post(args: argparse.Namespace) -> dict[str, Any]:
    """Post messages [first, first + count) in batches, ``concurrency`` requests in flight."""
    import aiohttp

    bodies = [json.dumps({"messages": [_body(i, args.kind) for i in
                                       range(j, min(j + args.batch, args.first + args.count))]}
                         ).encode()
              for j in range(args.first, args.first + args.count, args.batch)]
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    url = args.url + "/v1/messages"
    accepted = 0
    statuses: dict[str, int] = {}
    last = 0.0
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:
        await _warm(http, args.url, args.concurrency)
        await _ready_go()
        cpu0, t0 = time.process_time(), time.time()
        queue = iter(bodies)

        async def worker() -> None:
            nonlocal accepted, last
            for body in queue:
                async with http.post(url, data=body, headers=headers) as resp:
                    answer = await resp.read()
                    if resp.status in (200, 202):
                        accepted += json.loads(answer)["accepted"]
                    else:
                        statuses[str(resp.status)] = statuses.get(str(resp.status), 0) + 1
                last = time.time()

        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        cpu = time.process_time() - cpu0
    return {"started": t0, "last_answer": last, "accepted": accepted, "requests": len(bodies),
            "other_statuses": statuses, "client_cpu_s": round(cpu, 3)}


async def _child_open(args: argparse.Namespace) -> dict[str, Any]:
    """Single-message requests at a fixed rate, open loop; latency from each one's due time."""
    import aiohttp

    count = max(1, round(args.rate * args.seconds))
    bodies = [json.dumps(_body(args.first + i, args.kind)).encode() for i in range(count)]
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    url = args.url + "/v1/messages"
    latencies: list[float] = [0.0] * count  # ms, from the due time
    lags: list[float] = [0.0] * count  # ms, due time -> the request's start in this client
    ids: list[str] = [""] * count
    statuses: dict[str, int] = {}
    loop = asyncio.get_running_loop()
    clock = time.perf_counter  # (uvloop's loop.time() counts whole milliseconds)
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:
        await _warm(http, args.url, min(args.concurrency, 32))
        await _ready_go()
        cpu0 = time.process_time()
        start = clock() + 0.05 + args.offset

        async def one(i: int, due: float) -> None:
            lags[i] = (clock() - due) * 1e3
            async with http.post(url, data=bodies[i], headers=headers) as resp:
                answer = await resp.read()
                latencies[i] = (clock() - due) * 1e3
                if resp.status == 202:
                    ids[i] = json.loads(answer)["id"]
                else:
                    statuses[str(resp.status)] = statuses.get(str(resp.status), 0) + 1

        tasks = []
        for i in range(count):
            due = start + i / args.rate
            delay = due - clock()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(loop.create_task(one(i, due)))
        await asyncio.gather(*tasks)
        cpu = time.process_time() - cpu0
    return {"requests": count, "latencies_ms": [round(x, 3) for x in latencies],
            "lags_ms": [round(x, 3) for x in lags], "ids": ids, "other_statuses": statuses,
            "client_cpu_s": round(cpu, 3)}


async def _warm(http: Any, base: str, n: int) -> None:
    """Open ``n`` pooled connections (concurrent GET /healthz) before the clock starts."""

    async def get() -> None:
        async with http.get(base + "/healthz") as resp:
            await resp.read()

    await asyncio.gather(*(get() for _ in range(n)))


async def _ready_go() -> None:
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


async def _child_receive(args: argparse.Namespace) -> dict[str, Any]:
    """A webhook receiver: counts the events of each POST (a JSON array), answers 204; prints
    its port, then on a line on stdin prints what it counted."""
    from aiohttp import web

    counted = {"events": 0, "requests": 0, "first": 0.0, "last": 0.0}

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        now = time.time()
        counted["first"] = counted["first"] or now
        counted["last"] = now
        counted["requests"] += 1
        counted["events"] += body.count(b'"id":"evt_')
        return web.Response(status=204)

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(site._server.sockets[0].getsockname()[1], flush=True)  # type: ignore[union-attr]
    cpu0 = time.process_time()
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    await runner.cleanup()
    return {**counted, "cpu_s": round(time.process_time() - cpu0, 3)}


def _child(args: argparse.Namespace) -> int:
    import uvloop

    work = {"post": _child_post, "open": _child_open, "receive": _child_receive}[args.child]
    result = uvloop.run(work(args))
    print(json.dumps(result), flush=True)
    return 0


# --- the processes -------------------------------------------------------------------------------


class Daemon:
    """``smsengine serve`` on a fresh outbox in a temporary directory."""

    def __init__(self, smsc_port: int, smsc_pid: int, *, tps: float, synchronous: str,
                 log_level: str, webhook: str = "") -> None:
        self.smsc_pid = smsc_pid
        self.folder = Path(tempfile.mkdtemp(prefix="smsengine-bench-daemon-"))
        self.db = self.folder / "outbox.db"
        config = self.folder / "smsengine.toml"
        config.write_text(f"""
[[channels]]
name = "bench"
host = "127.0.0.1"
port = {smsc_port}
system_id = "bench"
password = "bench"
transceivers = 2
window = 512
tps = {tps}
default_source = "BENCH"

[server]
host = "127.0.0.1"
port = 0
shutdown_timeout = 2.0

[store]
path = "{self.db}"
synchronous = "{synchronous}"

[[api_keys]]
name = "bench"
key = "{KEY}"
scopes = ["send", "read"]
""" + (f"""
[[webhooks]]
name = "bench"
url = "{webhook}"
secrets = ["whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="]
batch = 100
concurrency = 4
""" if webhook else ""))
        self.proc, port = start_server(
            [sys.executable, "-m", "smsengine", "serve", "--config", str(config),
             "--log-level", log_level], cwd=str(ROOT))
        self.url = f"http://127.0.0.1:{port}"
        self.pid = self.proc.pid
        deadline = time.monotonic() + 15
        while _get(self.url + "/readyz")[0] != 200:
            if time.monotonic() > deadline:
                self.stop()
                raise SystemExit("the daemon did not become ready (no bind up?)")
            time.sleep(0.05)

    def count(self, where: str, *params: Any) -> int:
        """Rows of the outbox matching ``where``, read from the file (read-only, committed)."""
        db = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5)
        try:
            return int(db.execute(f"SELECT count(*) FROM outbox WHERE {where}",
                                  params).fetchone()[0])
        finally:
            db.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def _get(url: str) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {KEY}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except (urllib.error.URLError, ConnectionError):
        return 0, None


def _clients(mode: str, specs: list[dict[str, Any]], url: str) -> list[subprocess.Popen[str]]:
    """Start one ``--child`` process per spec and wait until each says ready."""
    procs = []
    for spec in specs:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", mode, "--url", url]
        for key, value in spec.items():
            cmd += [f"--{key.replace('_', '-')}", str(value)]
        procs.append(subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      text=True, cwd=str(ROOT)))
    for proc in procs:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise SystemExit(f"a {mode} client did not start")
    return procs


def _go(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()


def _results(procs: list[subprocess.Popen[str]]) -> list[dict[str, Any]]:
    out = []
    for proc in procs:
        stdout, _ = proc.communicate(timeout=900)
        if proc.returncode:
            raise SystemExit(f"a client failed (exit {proc.returncode})")
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


def _split(total: int, parts: int, step: int) -> list[tuple[int, int]]:
    """(first, count) per client: ``total`` in whole multiples of ``step`` where it can be."""
    chunks = -(-total // step)
    shares = [chunks // parts + (i < chunks % parts) for i in range(parts)]
    out, first = [], 0
    for share in shares:
        count = min(share * step, total - first)
        if count > 0:
            out.append((first, count))
        first += count
    return out


# --- the phases ----------------------------------------------------------------------------------


def _throughput(daemon: Daemon, opts: argparse.Namespace) -> dict[str, Any]:
    n = opts.messages
    specs = [{"first": first, "count": count, "batch": opts.batch,
              "concurrency": opts.concurrency, "kind": "notification"}
             for first, count in _split(n, opts.clients, opts.batch)]
    procs = _clients("post", specs, daemon.url)
    cpu0, smsc0, busy0 = _cpu(daemon.pid), _cpu(daemon.smsc_pid), _busy()
    t0 = time.time()
    _go(procs)
    final, seen, progress = 0, 0, time.monotonic()
    while final < n:
        time.sleep(0.02)
        final = daemon.count("state >= ?", FINAL)
        if final > seen:
            seen, progress = final, time.monotonic()
        elif time.monotonic() - progress > 60:
            break  # stalled: reported as fewer final than accepted
    t_final = time.time()
    cpu, smsc_cpu = _cpu(daemon.pid) - cpu0, _cpu(daemon.smsc_pid) - smsc0
    busy = _busy() - busy0
    clients = _results(procs)
    client_cpu = sum(c["client_cpu_s"] for c in clients)
    accepted = sum(c["accepted"] for c in clients)
    t_accept = max(c["last_answer"] for c in clients)
    delivered = daemon.count("state = ?", FINAL)
    return {
        "messages": n, "batch": opts.batch, "clients": len(clients),
        "concurrency": opts.concurrency, "accepted": accepted,
        "accept_seconds": round(t_accept - t0, 3),
        "accepted_msgs_per_s": round(accepted / (t_accept - t0)),
        "final": final, "delivered": delivered, "final_seconds": round(t_final - t0, 3),
        "final_msgs_per_s": round(final / (t_final - t0)),
        "daemon_cpu_us_per_msg": round(cpu / n * 1e6, 2),
        "daemon_cpu_share": round(cpu / (t_final - t0), 2),  # cores busy on average
        "smsc_cpu_us_per_msg": round(smsc_cpu / n * 1e6, 2),
        "client_cpu_us_per_msg": round(client_cpu / n * 1e6, 2),
        # The machine's noise: cores busy on average over the span, and how much of that was
        # not this benchmark's processes (other users of the box).
        "machine_busy_cores": round(busy / (t_final - t0), 2),
        "others_busy_cores": round(max(0.0, busy - cpu - smsc_cpu - client_cpu)
                                   / (t_final - t0), 2),
        "other_statuses": _merge(c["other_statuses"] for c in clients),
    }


def _open_loop(daemon: Daemon, opts: argparse.Namespace, *, rate: float, seconds: float,
               kind: str, first: int) -> tuple[list[dict[str, Any]], float, float]:
    """``rate`` single-message requests a second for ``seconds``, over ``--clients``
    processes (each at rate/clients, their due times interleaved); the results and the
    daemon's CPU seconds and the cores other processes kept busy over the phase."""
    k = max(1, min(opts.clients, int(rate)))
    specs = [{"first": first + i * 10**7, "rate": rate / k, "seconds": seconds, "kind": kind,
              "offset": i / rate, "concurrency": 256} for i in range(k)]
    procs = _clients("open", specs, daemon.url)
    cpu0, smsc0, busy0, t0 = _cpu(daemon.pid), _cpu(daemon.smsc_pid), _busy(), time.monotonic()
    _go(procs)
    clients = _results(procs)
    cpu, busy = _cpu(daemon.pid) - cpu0, _busy() - busy0
    ours = cpu + _cpu(daemon.smsc_pid) - smsc0 + sum(c["client_cpu_s"] for c in clients)
    return clients, cpu, max(0.0, busy - ours) / (time.monotonic() - t0)


def _latency(daemon: Daemon, opts: argparse.Namespace) -> dict[str, Any]:
    clients, cpu, others = _open_loop(daemon, opts, rate=opts.rate, seconds=opts.seconds,
                                      kind="otp", first=20_000_000)
    skip = int(opts.warmup * opts.rate / len(clients))  # per client
    lat = [x for c in clients for x in c["latencies_ms"][skip:]]
    lag = [x for c in clients for x in c["lags_ms"][skip:]]
    requests = sum(c["requests"] for c in clients)
    return {
        "rate": opts.rate, "seconds": opts.seconds, "requests": requests,
        "measured": len(lat), "warmup_s": opts.warmup, "clients": len(clients),
        "p50_ms": round(_pct(lat, 0.5), 2), "p90_ms": round(_pct(lat, 0.9), 2),
        "p99_ms": round(_pct(lat, 0.99), 2), "max_ms": round(max(lat), 2),
        "client_lag_p99_ms": round(_pct(lag, 0.99), 2),
        "client_lag_max_ms": round(max(lag), 2),
        "daemon_cpu_us_per_msg": round(cpu / requests * 1e6, 1),
        "client_cpu_us_per_req": round(sum(c["client_cpu_s"] for c in clients) / requests
                                       * 1e6, 1),
        "others_busy_cores": round(others, 2),
        "other_statuses": _merge(c["other_statuses"] for c in clients),
    }


def _otp(smsc_port: int, smsc_pid: int, opts: argparse.Namespace) -> dict[str, Any]:
    daemon = Daemon(smsc_port, smsc_pid, tps=opts.campaign_tps, synchronous=opts.synchronous,
                    log_level=opts.log_level)
    try:
        specs = [{"first": first, "count": count, "batch": 1000, "concurrency": 4,
                  "kind": "marketing"}
                 for first, count in _split(opts.campaign, opts.clients, 1000)]
        procs = _clients("post", specs, daemon.url)
        t0 = time.time()
        _go(procs)
        posted = _results(procs)
        queue_seconds = max(c["last_answer"] for c in posted) - t0
        accepted = sum(c["accepted"] for c in posted)
        left_before = daemon.count("state <= ? AND kind = 'marketing'", QUEUED)
        clients, _, others = _open_loop(daemon, opts, rate=opts.otp_rate, seconds=opts.otp_seconds,
                                kind="otp", first=30_000_000)
        left_after = daemon.count("state <= ? AND kind = 'marketing'", QUEUED)
        ids = [i for c in clients for i in c["ids"] if i]
        sending, submitted, missing = _otp_timestamps(daemon.url, ids)
        accept = [x for c in clients for x in c["latencies_ms"]]
    finally:
        daemon.stop()
    return {
        "campaign": opts.campaign, "campaign_accepted": accepted,
        "campaign_tps": opts.campaign_tps,
        "campaign_queue_seconds": round(queue_seconds, 2),
        "campaign_accepted_msgs_per_s": round(accepted / queue_seconds),
        "campaign_queued_at_first_otp": left_before,
        "campaign_queued_at_last_otp": left_after,
        "otp_rate": opts.otp_rate, "otps": len(ids), "otps_not_submitted": missing,
        "accept_to_sending_p50_ms": round(_pct(sending, 0.5), 2),
        "accept_to_sending_p99_ms": round(_pct(sending, 0.99), 2),
        "accept_to_submit_p50_ms": round(_pct(submitted, 0.5), 2),
        "accept_to_submit_p99_ms": round(_pct(submitted, 0.99), 2),
        "accept_to_submit_max_ms": round(max(submitted), 2),
        "otp_acceptance_p99_ms": round(_pct(accept, 0.99), 2),
        "others_busy_cores": round(others, 2),
    }


def _otp_timestamps(url: str, ids: list[str]) -> tuple[list[float], list[float], int]:
    """accepted -> sending and accepted -> submitted (ms) of each message, from its status;
    waits up to 30 s for the last ones to be submitted."""
    sending: dict[str, float] = {}
    submitted: dict[str, float] = {}
    deadline = time.monotonic() + 30
    todo = list(ids)
    while todo and time.monotonic() < deadline:
        time.sleep(0.2)
        waiting = []
        for message_id in todo:
            status, body = _get(f"{url}/v1/messages/{message_id}")
            stamps = body["timestamps"] if status == 200 else {}
            if "submitted" not in stamps:
                waiting.append(message_id)
                continue
            accepted = _epoch(stamps["accepted"])
            submitted[message_id] = (_epoch(stamps["submitted"]) - accepted) * 1e3
            if "sending" in stamps:
                sending[message_id] = (_epoch(stamps["sending"]) - accepted) * 1e3
        todo = waiting
    return list(sending.values()), list(submitted.values()), len(todo)


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def _merge(dicts: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return out


def _references(smsc_port: int, messages: int) -> dict[str, Any]:
    """The engine alone into the same fake SMSC (receipts, 2 binds, window 512), and the raw
    asyncio pipe with the same binds and window, measured now."""
    cmd = [sys.executable, "-m", "smsengine", "bench", "--scenario", "receipts",
           "--target", f"127.0.0.1:{smsc_port}", "--system-id", "bench", "--password", "bench",
           "--messages", str(messages), "--binds", "2", "--window", "512", "--ceiling", "--json"]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                         cwd=str(ROOT), timeout=600)
    try:
        bench = json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        raise SystemExit(f"smsengine bench failed (exit {out.returncode})") from None
    return {
        "engine_alone": {"messages": bench["messages"], "msgs_per_s": round(bench["msgs_per_s"]),
                         "client_cpu_us_per_msg": bench["client_cpu_us_per_msg"],
                         "receipts_matched": bench["receipts"]["matched"]},
        "raw_ceiling": {"msgs_per_s": bench["ceiling"]["msgs_per_s"],
                        "client_cpu_us_per_msg": bench["ceiling"]["client_cpu_us_per_msg"]},
    }


def _webhooks(smsc_port: int, smsc_pid: int, opts: argparse.Namespace,
              off: dict[str, Any]) -> dict[str, Any]:
    """The throughput phase again with a webhook (batches of 100) to a local receiver (its
    own process): sending with webhooks on against off, and the events delivered a second."""
    receiver = subprocess.Popen(
        [sys.executable, __file__, "--child", "receive"], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True, cwd=str(ROOT))
    assert receiver.stdout is not None and receiver.stdin is not None
    port = int(receiver.stdout.readline())
    try:
        daemon = Daemon(smsc_port, smsc_pid, tps=0, synchronous=opts.synchronous,
                        log_level=opts.log_level, webhook=f"http://127.0.0.1:{port}/hook")
        try:
            on = _throughput(daemon, opts)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # until every final event is delivered
                backlog = _get(daemon.url + "/v1/overview")[1]
                if backlog is None or backlog["webhooks"]["bench"]["backlog"] == 0:
                    break
                time.sleep(0.05)
        finally:
            daemon.stop()
    finally:
        receiver.stdin.write("stop\n")
        receiver.stdin.flush()
        counted = json.loads(receiver.stdout.readline())
        receiver.wait(10)
    span = max(1e-6, counted["last"] - counted["first"])
    return {
        "final_msgs_per_s": on["final_msgs_per_s"],
        "daemon_cpu_us_per_msg": on["daemon_cpu_us_per_msg"],
        "others_busy_cores": on["others_busy_cores"],
        "fraction_of_off": round(on["final_msgs_per_s"] / off["final_msgs_per_s"], 3),
        "events_received": counted["events"], "requests": counted["requests"],
        "events_per_s": round(counted["events"] / span),
        "receiver_cpu_s": counted["cpu_s"],
    }


def _run(opts: argparse.Namespace) -> dict[str, Any]:
    smsc, smsc_port = start_fakesmsc()
    try:
        refs = _references(smsc_port, opts.reference_messages)
        daemon = Daemon(smsc_port, smsc.pid, tps=0, synchronous=opts.synchronous,
                        log_level=opts.log_level)
        try:
            throughput = _throughput(daemon, opts)
            latency = _latency(daemon, opts)
        finally:
            daemon.stop()
        webhooks = _webhooks(smsc_port, smsc.pid, opts, throughput) if opts.webhooks else None
        otp = _otp(smsc_port, smsc.pid, opts) if opts.campaign else None
    finally:
        smsc.terminate()
        smsc.wait(10)
    throughput["fraction_of_engine_alone"] = round(
        throughput["final_msgs_per_s"] / refs["engine_alone"]["msgs_per_s"], 3)
    return {"throughput": throughput, "latency": latency, "otp": otp, "webhooks": webhooks,
            **refs}


# --- the report ----------------------------------------------------------------------------------


def _mid(runs: list[dict[str, Any]], section: str, key: str) -> Any:
    values = [r[section][key] for r in runs if r.get(section)]
    return round(_median(values), 3) if values else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--scenario", choices=("throughput", "campaign"), default="throughput",
                        help="throughput (the default: every phase below) or campaign "
                             "(issue 19: benchmarks/daemon_campaign.py, which takes the "
                             "options --rows, --tps and --seconds after it)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: small counts, one run (other options still apply)")
    parser.add_argument("--runs", type=int, default=None, help="whole runs (default 2)")
    parser.add_argument("--messages", type=int, default=None,
                        help="throughput: messages posted (default 100 000)")
    parser.add_argument("--batch", type=int, default=100, help="messages per request (100)")
    parser.add_argument("--clients", type=int, default=1, help="client processes (1)")
    parser.add_argument("--concurrency", type=int, default=8,
                        help="throughput: requests in flight per client (8)")
    parser.add_argument("--rate", type=float, default=1000.0,
                        help="latency: single-message requests per second (1 000)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="latency: seconds of offered load (default 10)")
    parser.add_argument("--warmup", type=float, default=None,
                        help="latency: first seconds left out (default 1)")
    parser.add_argument("--campaign", type=int, default=None,
                        help="OTP phase: marketing messages queued first (default 200 000; "
                             "0 skips the phase)")
    parser.add_argument("--campaign-tps", type=float, default=2000.0,
                        help="OTP phase: the channel's TPS, so the campaign stays queued "
                             "(2 000; 0: unlimited)")
    parser.add_argument("--otp-rate", type=float, default=50.0, help="OTPs per second (50)")
    parser.add_argument("--otp-seconds", type=float, default=None,
                        help="seconds of OTPs (default 10)")
    parser.add_argument("--reference-messages", type=int, default=None,
                        help="messages of the engine-alone reference (default 50 000)")
    parser.add_argument("--synchronous", choices=("off", "normal", "full"), default="normal",
                        help="the outbox's [store] synchronous (normal)")
    parser.add_argument("--log-level", default="info",
                        help="the daemon's --log-level (info, as deployed: a line a request)")
    # One HTTP client process, started by the phases: prints ready, waits for go on stdin,
    # prints one JSON line.
    parser.add_argument("--webhooks", action=argparse.BooleanOptionalAction, default=True,
                        help="also the throughput phase with a webhook on (issue 18)")
    parser.add_argument("--child", choices=("post", "open", "receive"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--first", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--kind", default="notification", help=argparse.SUPPRESS)
    parser.add_argument("--offset", type=float, default=0.0, help=argparse.SUPPRESS)
    opts, rest = parser.parse_known_args(argv)
    if opts.scenario == "campaign":
        sys.path.insert(0, str(Path(__file__).parent))
        import daemon_campaign

        return daemon_campaign.run(rest + (["--json"] if opts.json else []))
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if opts.child:
        return _child(opts)
    quick = opts.quick
    defaults = {"runs": 1 if quick else 2, "messages": 5_000 if quick else 100_000,
                "seconds": 3.0 if quick else 10.0, "warmup": 0.5 if quick else 1.0,
                "campaign": 20_000 if quick else 200_000, "otp_seconds": 2.0 if quick else 10.0,
                "reference_messages": 5_000 if quick else 50_000}
    for name, value in defaults.items():
        if getattr(opts, name) is None:
            setattr(opts, name, value)
    runs = [_run(opts) for _ in range(max(1, opts.runs))]
    result: dict[str, Any] = {
        "final_msgs_per_s": _mid(runs, "throughput", "final_msgs_per_s"),
        "accepted_msgs_per_s": _mid(runs, "throughput", "accepted_msgs_per_s"),
        "daemon_cpu_us_per_msg": _mid(runs, "throughput", "daemon_cpu_us_per_msg"),
        "fraction_of_engine_alone": _mid(runs, "throughput", "fraction_of_engine_alone"),
        "accept_p50_ms": _mid(runs, "latency", "p50_ms"),
        "accept_p99_ms": _mid(runs, "latency", "p99_ms"),
        "otp_accept_to_submit_p99_ms": _mid(runs, "otp", "accept_to_submit_p99_ms"),
        "webhooks_on_fraction_of_off": _mid(runs, "webhooks", "fraction_of_off"),
        "webhook_events_per_s": _mid(runs, "webhooks", "events_per_s"),
        "engine_alone_msgs_per_s": _mid(runs, "engine_alone", "msgs_per_s"),
        "raw_ceiling_msgs_per_s": _mid(runs, "raw_ceiling", "msgs_per_s"),
        "targets": {"final_msgs_per_s": TARGET_FINAL_MSGS_PER_S,
                    "accept_p99_ms": TARGET_ACCEPT_P99_MS,
                    "otp_accept_to_submit_p99_ms": TARGET_OTP_P99_MS},
        "options": {k: v for k, v in vars(opts).items()
                    if k not in ("json", "child", "url", "first", "count", "kind", "offset")},
        "runs": runs,
    }
    complete = all(r["throughput"]["final"] == r["throughput"]["messages"]
                   and r["throughput"]["accepted"] == r["throughput"]["messages"] for r in runs)
    met = {
        "final_msgs_per_s": complete
        and result["final_msgs_per_s"] >= TARGET_FINAL_MSGS_PER_S,
        "accept_p99_ms": result["accept_p99_ms"] <= TARGET_ACCEPT_P99_MS,
        "otp_accept_to_submit_p99_ms": (result["otp_accept_to_submit_p99_ms"] is not None
                                        and result["otp_accept_to_submit_p99_ms"]
                                        <= TARGET_OTP_P99_MS),
    }
    result["met"] = met
    if opts.json:
        print(json.dumps(result))
        return 0
    _print(result, runs)
    return 0


def _print(result: dict[str, Any], runs: list[dict[str, Any]]) -> None:
    def each(section: str, key: str, fmt: str = "{:,}") -> str:
        return " / ".join(fmt.format(r[section][key]) for r in runs if r.get(section))

    def verdict(name: str) -> str:
        return "met" if result["met"][name] else "NOT met"

    t = runs[0]["throughput"]
    print(f"{len(runs)} run(s); figures are medians, each run after the slash-separated list")
    print(f"throughput: {t['messages']:,} messages in batches of {t['batch']}, {t['clients']} "
          f"client(s) x {t['concurrency']} in flight, receipts on")
    print(f"  accepted     {result['accepted_msgs_per_s']:>10,.0f} msgs/s   "
          f"({each('throughput', 'accepted_msgs_per_s')})")
    print(f"  final        {result['final_msgs_per_s']:>10,.0f} msgs/s   "
          f"({each('throughput', 'final_msgs_per_s')}; final "
          f"{each('throughput', 'final')}, delivered {each('throughput', 'delivered')})"
          f"   target >= {TARGET_FINAL_MSGS_PER_S:,.0f}: {verdict('final_msgs_per_s')}")
    print(f"  daemon CPU   {result['daemon_cpu_us_per_msg']:>10} µs/msg   "
          f"({each('throughput', 'daemon_cpu_us_per_msg')}; cores busy "
          f"{each('throughput', 'daemon_cpu_share')}); fake SMSC "
          f"{each('throughput', 'smsc_cpu_us_per_msg')} µs/msg; clients "
          f"{each('throughput', 'client_cpu_us_per_msg')} µs/msg; other processes kept "
          f"{each('throughput', 'others_busy_cores')} cores busy")
    print(f"  engine alone {result['engine_alone_msgs_per_s']:>10,.0f} msgs/s   "
          f"({each('engine_alone', 'msgs_per_s')}; "
          f"{each('engine_alone', 'client_cpu_us_per_msg')} µs/msg): daemon final / engine "
          f"alone {result['fraction_of_engine_alone']} "
          f"({each('throughput', 'fraction_of_engine_alone')})")
    print(f"  raw ceiling  {result['raw_ceiling_msgs_per_s']:>10,.0f} msgs/s   "
          f"({each('raw_ceiling', 'msgs_per_s')})")
    if runs[0].get("webhooks"):
        print(f"  webhooks on  {result['webhooks_on_fraction_of_off']:>10} of off    "
              f"({each('webhooks', 'final_msgs_per_s')} msgs/s final with a webhook, batches "
              f"of 100; {each('webhooks', 'daemon_cpu_us_per_msg')} µs/msg); events delivered "
              f"{result['webhook_events_per_s']:,.0f}/s ({each('webhooks', 'events_per_s')}; "
              f"received {each('webhooks', 'events_received')})   targets >= 0.9 of off, "
              ">= 10 000 events/s")
    lat = runs[0]["latency"]
    print(f"acceptance latency, single messages, open loop at {lat['rate']:,.0f}/s for "
          f"{lat['seconds']:g} s (first {lat['warmup_s']:g} s left out):")
    print(f"  p50 {result['accept_p50_ms']} ms ({each('latency', 'p50_ms', '{}')}), p99 "
          f"{result['accept_p99_ms']} ms ({each('latency', 'p99_ms', '{}')}), max "
          f"{each('latency', 'max_ms', '{}')} ms; client's own lag p99 "
          f"{each('latency', 'client_lag_p99_ms', '{}')} ms; daemon "
          f"{each('latency', 'daemon_cpu_us_per_msg', '{}')} µs/request; other processes "
          f"{each('latency', 'others_busy_cores', '{}')} cores"
          f"   target p99 <= {TARGET_ACCEPT_P99_MS:g} ms: {verdict('accept_p99_ms')}")
    otp = runs[0]["otp"]
    if otp:
        print(f"OTP under a {otp['campaign']:,}-message campaign (channel TPS "
              f"{otp['campaign_tps']:g}), {otp['otp_rate']:g} OTPs/s:")
        print(f"  campaign queued in {each('otp', 'campaign_queue_seconds', '{}')} s "
              f"({each('otp', 'campaign_accepted_msgs_per_s')} msgs/s, batches of 1 000); "
              f"still queued at the first / last OTP: "
              f"{each('otp', 'campaign_queued_at_first_otp')} / "
              f"{each('otp', 'campaign_queued_at_last_otp')}")
        print(f"  accept -> sending p50 {each('otp', 'accept_to_sending_p50_ms', '{}')} ms, "
              f"p99 {each('otp', 'accept_to_sending_p99_ms', '{}')} ms; accept -> submit p50 "
              f"{each('otp', 'accept_to_submit_p50_ms', '{}')} ms, p99 "
              f"{each('otp', 'accept_to_submit_p99_ms', '{}')} ms, max "
              f"{each('otp', 'accept_to_submit_max_ms', '{}')} ms; not submitted "
              f"{each('otp', 'otps_not_submitted')}")
        print(f"  median p99 {result['otp_accept_to_submit_p99_ms']} ms   target <= "
              f"{TARGET_OTP_P99_MS:g} ms: {verdict('otp_accept_to_submit_p99_ms')}")


if __name__ == "__main__":
    raise SystemExit(main())
