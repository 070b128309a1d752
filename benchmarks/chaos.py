"""The chaos runner (issue 21): the daemon under carrier faults, kills and a full disk, each
scenario reconciled against the fake SMSC's ledger.

Every scenario runs ``smsengine serve`` as a child process (its own core) against a fake SMSC
served from this process over real TCP, posts its messages through the HTTP API in batches of
1 000 (each batch with an Idempotency-Key, tried again with the same key until answered), waits
until every row of the outbox is final, then counts, per message (each has its own number):

- ``sent``: messages the daemon accepted (202);
- ``delivered``: final state ``delivered``;
- ``unknown``: final state ``unknown`` (handed to the carrier, its answer never known);
- ``failed``: another final state (refused, failed, expired ...): the daemon said so;
- ``duplicated``: messages the carrier's ledger holds more than once;
- ``lost``: accepted yet missing from the outbox, not final by the deadline, or claiming to
  have reached the carrier (submitted, delivered, undeliverable) with no ledger entry;
- ``phantom``: ledger entries for numbers never accepted;
- ``failed_but_sent``: said ``failed``/``rejected``/``expired``, yet in the ledger.

Pass: ``lost == phantom == failed_but_sent == 0``, and ``duplicated == 0`` unless the
channel has ``resend_unknown`` on, in which case no more than the daemon says it sent again.

    .venv/bin/python benchmarks/chaos.py --json              # every scenario, full size
    .venv/bin/python benchmarks/chaos.py --scenario 1 --json
    .venv/bin/python benchmarks/chaos.py --short --json      # the CI sizes

Scenarios (full size; ``--short`` shrinks counts and times):

1. ``drops``: the SMSC drops every connection every second during 50 000 sends with receipts.
2. ``throttle``: 50 % of submits answered ESME_RTHROTTLED for 60 s, then normal (``2c``: the
   same against the fake CMPP ISMG, Result 8).
3. ``stalls``: the SMSC reads and answers nothing for 10 s, three times.
4. ``receipts``: receipts duplicated (10 %), delayed past the channel's receipt_ttl (5 %),
   garbled in their text only (5 %), garbled in text and id (5 %), all reordered (uniform
   delays).
5. ``mo_flood``: 10 000 MO messages a second for 10 s while sending; MO acknowledged by the
   daemon vs recorded in its event log.
6. ``kill9``: ``kill -9`` of the daemon 20 times during a 100 000-message campaign (``6r``:
   5 kills with ``resend_unknown`` on).
7. ``disk_full``: the store on a small tmpfs filled up: 503 with a reason, then space comes
   back; the file passes ``PRAGMA integrity_check`` and nothing accepted is lost. Falls back
   to nothing (the scenario is reported skipped) if tmpfs cannot be mounted.

The fake SMSC's own knobs give drops, stalls and throttling; :class:`ChaosSMSC` adds what it
has no knob for (receipt faults, ending an ``errors`` rate mid-run, an MO flood), as a harness
subclass over its receipt and MO queues.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from smsengine.fakesmsc import FakeISMG, FakeSMSC, config_from_dict
from smsengine.fakesmsc._common import Conn, Job

KEY = "chaos-admin-key-0123456789"
BATCH = 1000
#: outbox states (smsengine.daemon.outbox.OutboxState)
DELIVERED, UNKNOWN = 4, 9
FINAL = {4: "delivered", 5: "undeliverable", 6: "expired", 7: "rejected", 8: "failed",
         9: "unknown", 10: "cancelled"}
#: final states that say the carrier had the message
CLAIM_SENT = {4, 5}
#: final states that say it never reached the carrier
CLAIM_NOT_SENT = {6, 7, 8, 10}


# --- the fake carrier's extra faults ---------------------------------------------------------


class ChaosMixin:
    """Faults the fake SMSC has no knob for, over its receipt and MO queues (harness only)."""

    chaos_rng: random.Random
    duplicate = garble_text = garble_all = late = 0.0
    late_by = 0.0
    receipts_duplicated = receipts_garbled = receipts_late = 0

    def chaos(self, *, duplicate: float = 0.0, garble_text: float = 0.0,
              garble_all: float = 0.0, late: float = 0.0, late_by: float = 0.0,
              seed: int = 21) -> None:
        self.chaos_rng = random.Random(seed)
        self.duplicate, self.garble_text, self.garble_all = duplicate, garble_text, garble_all
        self.late, self.late_by = late, late_by

    def end_errors(self) -> None:
        """Stop injecting the config's ``errors`` (throttling) from now on."""
        self._error_table: list[tuple[int, float]] = []

    def _schedule(self, job: Job, due: float) -> None:
        if self.late and job.mo is None and self.chaos_rng.random() < self.late:
            due += self.late_by
            self.receipts_late += 1
        super()._schedule(job, due)  # type: ignore[misc]

    def _deliver_octets(self, conn: Conn, job: Job, seq: int) -> bytes:
        octets: bytes = super()._deliver_octets(conn, job, seq)  # type: ignore[misc]
        if job.mo is not None or not (self.duplicate or self.garble_text or self.garble_all):
            return octets
        rng = self.chaos_rng
        x = rng.random()
        if x < self.garble_text + self.garble_all:
            octets = _garble(octets, job.message_id, ids=x >= self.garble_text)
            self.receipts_garbled += 1
        elif rng.random() < self.duplicate:
            # The same receipt again at once under another sequence number (its response
            # matches no job here and is ignored).
            octets += super()._deliver_octets(conn, job, conn.next_seq())  # type: ignore[misc]
            self.receipts_duplicated += 1
        return octets

    async def flood_mo(self, rate: float, seconds: float, account: str,
                       acked: list[int]) -> int:
        """MO messages at ``rate`` a second for ``seconds``, each its own one-part message
        ("MO <n>"); ``acked`` gets each one's deliver_sm response status (-1: none)."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        n = 0
        waits: list[Awaitable[Any]] = []
        while (now := loop.time()) < start + seconds:
            due = int((now - start) * rate) - n
            if due > 0:
                mos = [self._mo_fields(f"1069{(n + i) % 10**8:08d}", f"MO {n + i}")
                       for i in range(due)]
                waits.append(loop.create_task(self._send_mo_each(account, mos, acked)))
                n += due
            await asyncio.sleep(0.005)
        await asyncio.gather(*waits)
        return n

    def _mo_fields(self, source: str, text: str) -> dict[str, Any]:
        return {"source_addr": source, "destination_addr": "106900", "esm_class": 0,
                "data_coding": 0, "short_message": text.encode()}

    async def _send_mo_each(self, account: str, mos: list[dict[str, Any]],
                            acked: list[int]) -> None:
        """Queue ``mos`` as separate messages; wait for their responses (or 30 s)."""
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        left = [len(mos)]

        def on_resp(status: int) -> None:
            acked.append(status)
            left[0] -= 1
            if not left[0] and not done.done():
                done.set_result(None)

        for mo in mos:
            self._ready.append(Job(account, "", "", 0.0, 0.0, (0, 0, b""),  # type: ignore[attr-defined]
                                   (0, 0, b""), b"", mo=mo, on_resp=on_resp))
            self._pending += 1  # type: ignore[attr-defined]
        self._pump()  # type: ignore[attr-defined]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done, 30)
        acked.extend([-1] * left[0])


def _garble(octets: bytes, mid: str, *, ids: bool) -> bytes:
    """The receipt with its text's ``stat:`` and ``dlvrd:`` made unreadable and, with
    ``ids``, every copy of the message id too (text and receipted_message_id), octet for octet
    (so no length changes). 'Z' is in no id style, so a garbled id matches no message."""
    out = octets.replace(b"stat:", b"s#a?:").replace(b"dlvrd:", b"d!v%d:")
    if ids:
        raw = mid.encode()
        out = out.replace(raw, b"Z" * len(raw))
    return out


class ChaosSMSC(ChaosMixin, FakeSMSC):
    pass


class ChaosISMG(ChaosMixin, FakeISMG):
    pass


# --- the daemon as a child process -----------------------------------------------------------


def daemon_config(folder: Path, port: int, *, channel: str = "", store: str = "",
                  db: Path | None = None) -> Path:
    path = folder / "smsengine.toml"
    path.write_text(f"""
[[channels]]
name = "main"
host = "127.0.0.1"
port = {port}
system_id = "shop"
password = "secret"
transceivers = 2
default_source = "SHOP"
response_timeout = 3.0
enquire_link_interval = 2.0
{channel}

[server]
host = "127.0.0.1"
port = 0
shutdown_timeout = 5.0
max_batch = {BATCH}

[store]
path = "{db or folder / 'outbox.db'}"
{store}

[[api_keys]]
name = "chaos"
key = "{KEY}"
scopes = ["admin"]

[policy.quiet_hours]
enabled = false
""", encoding="utf-8")
    return path


class Daemon:
    """``smsengine serve`` as a child process; its stderr appended to ``log``."""

    def __init__(self, config: Path, log: Path) -> None:
        self.config = config
        self.log = log
        self.proc: asyncio.subprocess.Process | None = None
        self.base = ""
        self.starts = 0

    async def start(self, timeout: float = 30.0) -> None:
        with self.log.open("ab") as err:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "smsengine", "serve", "--config", str(self.config),
                stdout=asyncio.subprocess.PIPE, stderr=err)
        assert self.proc.stdout is not None
        self.starts += 1
        while True:
            line = (await asyncio.wait_for(self.proc.stdout.readline(), timeout)).decode()
            if not line:
                raise RuntimeError("smsengine serve exited before listening: "
                                   + self.log.read_text(errors="replace")[-2000:])
            if line.startswith("smsengine serve listening on "):
                self.base = line.split()[-1]
                return

    def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()

    async def wait(self) -> int:
        assert self.proc is not None
        return await self.proc.wait()

    async def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout``: the exit code (of the earlier death, if it
        had exited), None if it had to be killed."""
        assert self.proc is not None
        if self.proc.returncode is not None:
            return self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            return None

    def resent(self) -> int:
        """What the recoveries sent again (resend_unknown), from the daemon's log."""
        total = 0
        for line in self.log.read_text(errors="replace").splitlines():
            if "recovery:" in line and "sent again" in line:
                total += int(line.split(" end UNKNOWN, ")[1].split()[0])
        return total


# --- posting and waiting -------------------------------------------------------------------


@dataclass
class Posting:
    """What the poster got: ids by batch, and the 503s with their reasons."""

    accepted: dict[int, list[str]] = field(default_factory=dict)
    unavailable: Counter[str] = field(default_factory=Counter)
    tries: int = 0


def numbers(prefix: int, n: int) -> list[str]:
    return [f"86{prefix:03d}{i:08d}" for i in range(n)]


async def post_all(daemon: Daemon, tos: list[str], posting: Posting, *,
                   workers: int = 3, tag: str = "c",
                   pause: Callable[[], Awaitable[None]] | None = None) -> None:
    """Post every message of ``tos`` (batches of BATCH) until each batch is answered 202,
    whatever happens to the daemon; the same Idempotency-Key on every try of a batch."""
    batches = [tos[i:i + BATCH] for i in range(0, len(tos), BATCH)]
    todo = list(range(len(batches)))
    todo.reverse()

    async def worker(http: aiohttp.ClientSession) -> None:
        while todo:
            i = todo.pop()
            body = {"messages": [{"to": to, "text": f"Chaos {to[-8:]}"} for to in batches[i]]}
            while i not in posting.accepted:
                if pause is not None:
                    await pause()
                posting.tries += 1
                try:
                    async with http.post(daemon.base + "/v1/messages", json=body,
                                         headers={"Idempotency-Key": f"{tag}-{i}"}) as resp:
                        if resp.status == 202:
                            answer = await resp.json()
                            assert answer["accepted"] == len(batches[i]), answer
                            posting.accepted[i] = [m["id"] for m in answer["messages"]]
                            continue
                        text = await resp.text()
                        assert resp.status == 503, f"{resp.status}: {text}"
                        reason = json.loads(text)
                        posting.unavailable[f"{reason.get('type', '')}: "
                                            f"{reason.get('detail', '')}"[:300]] += 1
                except (aiohttp.ClientError, TimeoutError, ConnectionError):
                    pass  # killed under us: the same key again
                await asyncio.sleep(0.1)

    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {KEY}"},
                                     timeout=aiohttp.ClientTimeout(total=30)) as http:
        await asyncio.gather(*(worker(http) for _ in range(workers)))


def outbox_rows(db: Path) -> dict[str, int]:
    """to_number -> state, read-only beside the running daemon."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)) as c:
        return {str(to): int(state) for to, state in
                c.execute("SELECT to_number, state FROM outbox")}


def open_count(db: Path) -> tuple[int, int]:
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)) as c:
        total, unfinished = c.execute(
            "SELECT count(*), coalesce(sum(state < 4), 0) FROM outbox").fetchone()
    return int(total), int(unfinished)


async def until_final(db: Path, expected: int, deadline: float) -> bool:
    """Poll the outbox until it holds ``expected`` rows, all final; False at ``deadline``
    (loop time)."""
    loop = asyncio.get_running_loop()
    while True:
        with contextlib.suppress(sqlite3.OperationalError):
            total, unfinished = open_count(db)
            if total >= expected and not unfinished:
                return True
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.25)


# --- reconciliation ------------------------------------------------------------------------


@dataclass
class Result:
    scenario: str
    name: str
    asked: int = 0
    sent: int = 0
    delivered: int = 0
    lost: int = 0
    duplicated: int = 0
    unknown: int = 0
    failed: int = 0
    phantom: int = 0
    failed_but_sent: int = 0
    unknown_reached_carrier: int = 0
    open_reached_carrier: int = 0  # (of lost) not final by the deadline, in the ledger
    carrier_submits: int = 0
    resend_unknown: bool = False
    resent: int = 0
    seconds: float = 0.0
    load: dict[str, Any] = field(default_factory=dict)
    states: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    passed: bool = False
    skipped: str = ""
    notes_failing: list[str] = field(default_factory=list)

    def check(self) -> None:
        ok = (not (self.lost or self.phantom or self.failed_but_sent)
              and self.sent == self.asked and not self.notes_failing)
        if self.resend_unknown:
            ok = ok and self.duplicated <= self.resent
        else:
            ok = ok and not self.duplicated
        self.passed = ok


def reconcile(result: Result, tos: list[str], posting: Posting, db: Path,
              ledger_destinations: list[str], finished: bool) -> None:
    rows = outbox_rows(db)
    sent = Counter(ledger_destinations)
    accepted_tos = [tos[i * BATCH + j] for i, ids in posting.accepted.items()
                    for j in range(len(ids))]
    result.sent = len(accepted_tos)
    result.carrier_submits = len(ledger_destinations)
    accepted = set(accepted_tos)
    states: Counter[str] = Counter()
    for to in accepted_tos:
        state = rows.get(to)
        n = sent.get(to, 0)
        if n > 1:
            result.duplicated += 1
        if state is None:
            result.lost += 1
            states["missing"] += 1
            continue
        states[FINAL.get(state, f"open:{state}")] += 1
        if state not in FINAL:
            result.lost += 1
            result.open_reached_carrier += n > 0
        elif state == DELIVERED:
            result.delivered += 1
        elif state == UNKNOWN:
            result.unknown += 1
            result.unknown_reached_carrier += n > 0
        else:
            result.failed += 1
        if state in CLAIM_SENT and n == 0:
            result.lost += 1
        if state in CLAIM_NOT_SENT and n > 0:
            result.failed_but_sent += 1
    result.phantom = sum(1 for to in sent if to not in accepted)
    result.states = dict(states)
    if not finished:
        result.notes_failing.append("deadline reached before every message was final")
    result.check()


# --- scenarios -----------------------------------------------------------------------------


@dataclass
class Sizes:
    messages: int
    seconds: float = 0.0  # fault duration, where the scenario has one
    repeat: int = 0
    rate: float = 0.0
    deadline: float = 300.0
    disk_mb: int = 48  # (disk_full) the tmpfs


FULL = {
    "1": Sizes(50_000, deadline=300), "2": Sizes(40_000, seconds=60, rate=500, deadline=400),
    "2c": Sizes(20_000, seconds=60, rate=250, deadline=400),
    "3": Sizes(30_000, seconds=10, repeat=3, rate=1000, deadline=400),
    "4": Sizes(20_000, seconds=5, deadline=300),
    "5": Sizes(20_000, seconds=10, rate=10_000, deadline=300),
    "6": Sizes(100_000, repeat=20, rate=2000, deadline=900),
    "6r": Sizes(20_000, repeat=5, rate=1000, deadline=300),
    "7": Sizes(20_000, deadline=150, disk_mb=256),
}
SHORT = {
    "1": Sizes(4_000, deadline=60), "2": Sizes(2_000, seconds=3, rate=500, deadline=60),
    "2c": Sizes(1_000, seconds=3, rate=250, deadline=60),
    "3": Sizes(2_000, seconds=2, repeat=3, rate=500, deadline=60),
    "4": Sizes(2_000, seconds=2, deadline=60),
    "5": Sizes(2_000, seconds=2, rate=2_000, deadline=60),
    "6": Sizes(5_000, repeat=3, rate=1500, deadline=90),
    "6r": Sizes(2_000, repeat=2, rate=1000, deadline=90),
    # (256 MiB, as the full size; 48 MiB passes too since the WAL is bounded, see
    # docs/reliability.md, but leaves less room for the rest of a CI machine's load)
    "7": Sizes(3_000, deadline=60, disk_mb=256),
}
NAMES = {"1": "drops", "2": "throttle", "2c": "throttle_cmpp", "3": "stalls", "4": "receipts",
         "5": "mo_flood", "6": "kill9", "6r": "kill9_resend_unknown", "7": "disk_full"}
RECEIPTS = {"delay": {"kind": "uniform", "low": 0.05, "high": 0.5}}
SMSC_BASE: dict[str, Any] = {"seed": 21, "receipts": RECEIPTS,
                             "latency": {"kind": "uniform", "low": 0.0, "high": 0.002}}


class Run:
    """One scenario's fake SMSC, daemon and folder."""

    def __init__(self, key: str, sizes: Sizes, folder: Path) -> None:
        self.key = key
        self.sizes = sizes
        self.folder = folder
        self.result = Result(key, NAMES[key], asked=sizes.messages)
        self.loop = asyncio.get_running_loop()
        self.start = self.loop.time()
        self.db = folder / "outbox.db"
        self.tos = numbers(int(key[0]) * 10 + (len(key) > 1), sizes.messages)
        self.posting = Posting()

    def deadline(self) -> float:
        return self.start + self.sizes.deadline

    async def finish(self, daemon: Daemon, smsc: FakeSMSC, poster: asyncio.Task[None]) -> None:
        """Wait for the poster and final states; stop the daemon; reconcile."""
        try:
            await asyncio.wait_for(poster, max(1.0, self.deadline() - self.loop.time()))
        except TimeoutError:
            self.result.notes_failing.append("poster did not finish by the deadline")
        accepted = sum(len(ids) for ids in self.posting.accepted.values())
        finished = await until_final(self.db, accepted, self.deadline())
        code = await daemon.stop()
        if code != 0:
            self.result.notes_failing.append(
                f"SIGTERM: the daemon exited {code}" if code is not None
                else "SIGTERM: the daemon did not stop within 30 s (killed)")
        self.result.seconds = round(self.loop.time() - self.start, 1)
        self.result.resent = daemon.resent()
        reconcile(self.result, self.tos, self.posting, self.db,
                  [e.destination_addr for e in smsc.ledger], finished)


async def scenario_drops(run: Run) -> None:
    smsc = ChaosSMSC(config_from_dict({**SMSC_BASE, "faults": {"drop_every": 1.0}}))
    async with smsc:
        daemon = Daemon(daemon_config(run.folder, smsc.port), run.folder / "daemon.log")
        await daemon.start()
        poster = run.loop.create_task(post_all(daemon, run.tos, run.posting))
        await run.finish(daemon, smsc, poster)
        run.result.load = {"drop_every_s": 1.0,
                           "connections_dropped": smsc.stats["faults_dropped"],
                           "binds": smsc.stats["binds"],
                           "receipts_sent": smsc.stats["receipts_sent"]}


async def scenario_throttle(run: Run, cmpp: bool = False) -> None:
    sizes = run.sizes
    if cmpp:
        cfg = config_from_dict({**SMSC_BASE, "protocol": "cmpp",
                                "accounts": [{"system_id": "900001", "password": "secret"}],
                                "errors": {"8": 0.5}})
        smsc: ChaosISMG | ChaosSMSC = ChaosISMG(cfg)
        channel = (f'protocol = "cmpp"\ntps = {sizes.rate}\n'
                   'service_id = "CHAOS"')
    else:
        cfg = config_from_dict({**SMSC_BASE, "errors": {"ESME_RTHROTTLED": 0.5}})
        smsc = ChaosSMSC(cfg)
        channel = f"tps = {sizes.rate}"
    async with smsc:
        config = daemon_config(run.folder, smsc.port, channel=channel)
        if cmpp:
            config.write_text(config.read_text().replace('system_id = "shop"',
                                                         'system_id = "900001"')
                              .replace('default_source = "SHOP"', 'default_source = "106900"'))
        daemon = Daemon(config, run.folder / "daemon.log")
        await daemon.start()
        poster = run.loop.create_task(post_all(daemon, run.tos, run.posting))
        await asyncio.sleep(sizes.seconds)
        throttled_phase = len(smsc.ledger)
        smsc.end_errors()
        await run.finish(daemon, smsc, poster)
        run.result.load = {
            "tps": sizes.rate, "refused_share": 0.5, "refused_for_s": sizes.seconds,
            "refused": smsc.stats["errors_injected"],
            "accepted_while_refusing": throttled_phase,
            "accepted_rate_while_refusing": round(throttled_phase / sizes.seconds, 1)}


async def scenario_stalls(run: Run) -> None:
    sizes = run.sizes
    smsc = ChaosSMSC(config_from_dict(dict(SMSC_BASE)))
    async with smsc:
        daemon = Daemon(daemon_config(run.folder, smsc.port, channel=f"tps = {sizes.rate}"),
                        run.folder / "daemon.log")
        await daemon.start()
        poster = run.loop.create_task(post_all(daemon, run.tos, run.posting))
        stalled_at = []
        for _ in range(sizes.repeat):
            await asyncio.sleep(sizes.seconds / 2)
            stalled_at.append(len(smsc.ledger))
            smsc.stall("answer")
            await asyncio.sleep(sizes.seconds)
            smsc.resume()
        await run.finish(daemon, smsc, poster)
        run.result.load = {"tps": sizes.rate, "stalls": sizes.repeat,
                           "stall_s": sizes.seconds, "ledger_at_each_stall": stalled_at,
                           "binds": smsc.stats["binds"]}


async def scenario_receipts(run: Run) -> None:
    ttl = run.sizes.seconds
    smsc = ChaosSMSC(config_from_dict(
        {**SMSC_BASE, "receipts": {"delay": {"kind": "uniform", "low": 0.0, "high": ttl / 2}}}))
    smsc.chaos(duplicate=0.10, garble_text=0.05, garble_all=0.05, late=0.05, late_by=ttl + 1)
    async with smsc:
        daemon = Daemon(daemon_config(run.folder, smsc.port, channel=f"receipt_ttl = {ttl}"),
                        run.folder / "daemon.log")
        await daemon.start()
        poster = run.loop.create_task(post_all(daemon, run.tos, run.posting))
        await run.finish(daemon, smsc, poster)
        run.result.load = {"receipt_ttl_s": ttl, "receipt_delay_s": [0, ttl / 2],
                           "duplicated": smsc.receipts_duplicated,
                           "garbled": smsc.receipts_garbled, "late": smsc.receipts_late,
                           "late_by_s": ttl + 1, "receipts_sent": smsc.stats["receipts_sent"]}
    # A receipt correlated is a delivered message; garbled (both) and late ones end UNKNOWN
    # at the TTL (a late one may still move it on). Never another message's receipt:
    run.result.notes.append("garbled ids use 'Z', in no id style: no receipt can be misread "
                            "as another message's")


async def scenario_mo_flood(run: Run) -> None:
    sizes = run.sizes
    smsc = ChaosSMSC(config_from_dict(dict(SMSC_BASE)))
    smsc.chaos()
    async with smsc:
        daemon = Daemon(daemon_config(run.folder, smsc.port), run.folder / "daemon.log")
        await daemon.start()
        while not any(b.account == "shop" for b in smsc.binds):
            await asyncio.sleep(0.05)
        poster = run.loop.create_task(post_all(daemon, run.tos, run.posting))
        acked: list[int] = []
        t0 = run.loop.time()
        flooded = await smsc.flood_mo(sizes.rate, sizes.seconds, "shop", acked)
        flood_s = run.loop.time() - t0
        await run.finish(daemon, smsc, poster)
        with contextlib.closing(sqlite3.connect(f"file:{run.db}?mode=ro", uri=True)) as c:
            texts = Counter(json.loads(data)["text"] for (data,) in c.execute(
                "SELECT data FROM events WHERE type = 'mo.received'"))
        statuses = Counter(acked)
        ok = statuses.get(0, 0)
        # An MO acknowledged 0 yet not in the event log is lost; one in it twice duplicated
        # (the SMSC resends a deliver_sm nobody answered).
        mo_lost = ok - sum(1 for t in texts if t.startswith("MO "))
        run.result.load = {
            "mo_rate_asked": sizes.rate, "mo_seconds": sizes.seconds, "mo_injected": flooded,
            "mo_injected_rate": round(flooded / flood_s, 1),
            "mo_acked_ok": ok, "mo_not_ok": {str(k): v for k, v in statuses.items() if k},
            "mo_recorded": len(texts), "mo_recorded_twice": sum(1 for v in texts.values()
                                                                if v > 1),
            "mo_lost": max(mo_lost, 0), "receipts_sent": smsc.stats["receipts_sent"]}
        if mo_lost > 0:
            run.result.lost += mo_lost
            run.result.check()


async def scenario_kill9(run: Run, resend_unknown: bool = False) -> None:
    sizes = run.sizes
    rng = random.Random(20261207)
    smsc = ChaosSMSC(config_from_dict(dict(SMSC_BASE)))
    run.result.resend_unknown = resend_unknown
    async with smsc:
        channel = f"window = 32\ntps = {sizes.rate}\nresend_unknown = {str(resend_unknown).lower()}"
        daemon = Daemon(daemon_config(run.folder, smsc.port, channel=channel),
                        run.folder / "daemon.log")
        await daemon.start()
        up = asyncio.Event()
        up.set()

        async def pause() -> None:
            await up.wait()

        poster = run.loop.create_task(post_all(daemon, run.tos, run.posting, pause=pause))
        kills = 0
        ledger_at_kills = []
        while kills < sizes.repeat:
            await asyncio.sleep(rng.uniform(0.5, 2.5) if sizes.messages >= 50_000
                                else rng.uniform(0.2, 0.8))
            up.clear()
            daemon.kill()
            await daemon.wait()
            kills += 1
            ledger_at_kills.append(len(smsc.ledger))
            await daemon.start()
            up.set()
        run.result.load = {"kills": kills, "starts": daemon.starts,
                           "ledger_at_kills": ledger_at_kills, "post_tries": 0}
        await run.finish(daemon, smsc, poster)
        run.result.load["post_tries"] = run.posting.tries
        if not poster.done() or len(run.posting.accepted) * BATCH < sizes.messages:
            run.result.notes.append("killed during the posting: yes")


async def scenario_disk_full(run: Run) -> None:
    mount = run.folder / "tmpfs"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={run.sizes.disk_mb}m", "tmpfs",
                           str(mount)],
                          capture_output=True, text=True)
    if proc.returncode:
        run.result.skipped = f"mount tmpfs failed: {proc.stderr.strip()}"
        return
    try:
        await _disk_full(run, mount)
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


async def _disk_full(run: Run, mount: Path) -> None:
    run.db = mount / "outbox.db"
    smsc = ChaosSMSC(config_from_dict(dict(SMSC_BASE)))
    async with smsc:
        daemon = Daemon(daemon_config(run.folder, smsc.port, db=run.db),
                        run.folder / "daemon.log")
        await daemon.start()
        half = run.sizes.messages // 2 // BATCH * BATCH
        first = Posting()
        await post_all(daemon, run.tos[:half], first, tag="a")
        # Fill the disk: a filler file takes every octet left.
        filler = mount / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            for chunk in (1 << 20, 4096, 512):
                with contextlib.suppress(OSError):
                    while True:
                        os.write(fd, b"\0" * chunk)
        finally:
            os.close(fd)
        full_at = run.loop.time()
        second = Posting()
        rest = run.tos[half:]
        freed = asyncio.Event()

        async def free_later() -> None:
            # Space returns once the daemon has refused at least three requests (or 20 s).
            while sum(second.unavailable.values()) < 3 and run.loop.time() < full_at + 20:
                await asyncio.sleep(0.1)
            await asyncio.sleep(1.0)
            filler.unlink()
            freed.set()

        freer = run.loop.create_task(free_later())
        await post_all(daemon, rest, second, tag="b", workers=2)
        await freer
        # The accepted ids of both halves, as one posting over run.tos.
        run.posting.accepted = dict(first.accepted)
        for i, ids in second.accepted.items():
            run.posting.accepted[half // BATCH + i] = ids
        run.posting.unavailable = second.unavailable
        done_poster = run.loop.create_task(asyncio.sleep(0))
        await run.finish(daemon, smsc, done_poster)
        with contextlib.closing(sqlite3.connect(str(run.db))) as c:
            integrity = c.execute("PRAGMA integrity_check").fetchone()[0]
        if not run.result.passed:
            for name in ("outbox.db", "outbox.db-wal"):
                with contextlib.suppress(OSError):
                    shutil.copy(mount / name, run.folder / name)
        run.result.load = {
            "tmpfs_mib": run.sizes.disk_mb, "accepted_before_full": half,
            "refused_503": sum(second.unavailable.values()),
            "reasons": dict(second.unavailable.most_common(3)),
            "integrity_check": integrity}
        if integrity != "ok":
            run.result.notes.append(f"integrity_check: {integrity}")
            run.result.passed = False
        if not second.unavailable:
            run.result.notes.append("no 503 seen: the disk never filled under a request")


SCENARIOS: dict[str, Callable[[Run], Awaitable[None]]] = {
    "1": scenario_drops, "2": scenario_throttle,
    "2c": lambda run: scenario_throttle(run, cmpp=True), "3": scenario_stalls,
    "4": scenario_receipts, "5": scenario_mo_flood, "6": scenario_kill9,
    "6r": lambda run: scenario_kill9(run, resend_unknown=True), "7": scenario_disk_full,
}


async def run_scenario(key: str, *, short: bool = False, folder: Path | None = None,
                       keep_all: bool = False) -> Result:
    """One scenario, in a temporary folder made under ``folder`` when given, and kept there
    if it failed (or ``keep_all``)."""
    sizes = (SHORT if short else FULL)[key]
    with tempfile.TemporaryDirectory(prefix=f"chaos{key}-", dir=folder) as tmp:
        run = Run(key, sizes, Path(tmp))
        await SCENARIOS[key](run)
        failed = not run.result.passed and not run.result.skipped
        if (keep_all or failed) and folder is not None:
            keep = folder / f"chaos{key}-{'passed' if run.result.passed else 'failed'}-" \
                            f"{int(time.time())}"
            shutil.copytree(tmp, keep, ignore=shutil.ignore_patterns("tmpfs"))
            run.result.notes.append(f"kept in {keep}")
        return run.result


def _row(r: Result) -> str:
    if r.skipped:
        return f"{r.scenario:>3} {r.name:<22} skipped: {r.skipped}"
    return (f"{r.scenario:>3} {r.name:<22} sent {r.sent:>7} delivered {r.delivered:>7} "
            f"lost {r.lost} duplicated {r.duplicated} unknown {r.unknown} failed {r.failed} "
            f"resent {r.resent} "
            f"{'PASS' if r.passed else 'FAIL'} ({r.seconds} s) {json.dumps(r.load)}"
            + (f" notes: {r.notes + r.notes_failing}" if r.notes or r.notes_failing else "")
            + ("" if r.passed else f" states: {r.states}"))


async def main(args: argparse.Namespace) -> list[Result]:
    keys = args.scenario or [k for k in SCENARIOS if k in FULL]
    results = []
    for key in keys:
        result = await run_scenario(key, short=args.short,
                                    folder=Path(args.keep) if args.keep else None,
                                    keep_all=args.keep_all)
        results.append(result)
        if not args.json:
            print(_row(result), flush=True)
        else:
            print(_row(result), file=sys.stderr, flush=True)
    return results


def _parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", action="append", choices=list(SCENARIOS),
                        help="run this one (repeatable); default all")
    parser.add_argument("--short", action="store_true", help="the CI sizes")
    parser.add_argument("--json", action="store_true", help="print a JSON list of results")
    parser.add_argument("--keep", help="keep a failed scenario's folder under this one")
    parser.add_argument("--keep-all", action="store_true",
                        help="with --keep: keep every scenario's folder")
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = _parse()
    try:
        import uvloop
        found = uvloop.run(main(arguments))
    except ImportError:
        found = asyncio.run(main(arguments))
    if arguments.json:
        print(json.dumps([asdict(r) for r in found], indent=1))
    sys.exit(0 if all(r.passed or r.skipped for r in found) else 1)
