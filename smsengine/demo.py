"""``smsengine demo``: the engine at work against the bundled fake SMSC, in one command.

It starts a fake SMSC in-process (receipts after a short random delay, 95% DELIVRD, 3% UNDELIV,
2% EXPIRED), starts an :class:`~smsengine.engine.Engine` on an embedded configuration, and sends
the traffic a shop sends: verification codes, Chinese order notices long enough to need several
UCS2 parts, and a two-wave marketing campaign (an announcement, then a reminder) during which
one recipient replies "退订". The codes go through the frequency caps (policy.FrequencyCaps,
1 a minute per number): one user asks for a second code at once and is refused, with the rule
and when to retry. It shows live progress and ends with a summary: final states,
receipts matched, opt-outs honoured, OTP submit latency, throughput and the channel's flow state
(its flow control, engine.flow: open, throttled, slow or recovering). It ends by pointing to
examples/, where the same calls are small programs to adapt.

This is layer 5 (it sits on the engine and the fake SMSC). Output goes through ``rich``; without a
terminal (CI, pipes) the live bars are replaced by a plain progress line every second.
"""

# ruff: noqa: RUF001  (real Chinese text: fullwidth punctuation on purpose)

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .engine import (
    Engine,
    EngineConfig,
    Message,
    MessageExpiredError,
    MessageHandle,
    MessageRefusedError,
    MessageState,
    MoMessage,
    engine_config_from_dict,
)
from .fakesmsc import FakeSMSC, config_from_dict
from .policy import DEFAULT_RULES, CapRefusal, FrequencyCaps, MemoryCounterStore
from .text import count

__all__ = ["DemoReport", "engine_config", "print_summary", "run", "run_demo"]

SYSTEM_ID, PASSWORD = "shop", "secret"
SENDER = "106900012345"  # a Chinese SP service number: replies come back to it
CHANNEL = "carrier"
RECEIPT_STATS = {"DELIVRD": 0.95, "UNDELIV": 0.03, "EXPIRED": 0.02}
RECEIPT_DELAY = (0.1, 1.2)  # seconds, uniform: a handset answers in about a second
KINDS = {"otp": "OTP codes", "notification": "order notices", "marketing": "marketing"}
# Row order of the summary table: how a message ended.
ROWS: list[tuple[MessageState | str, str]] = [
    (MessageState.DELIVERED, "delivered"),
    (MessageState.UNDELIVERABLE, "undeliverable"),
    (MessageState.EXPIRED, "expired"),
    (MessageState.REJECTED, "rejected"),
    ("refused", "refused locally: opted out"),
    (MessageState.FAILED, "failed"),
    (MessageState.UNKNOWN, "unknown"),
    ("pending", "not final"),
]

# What the channel's flow state (engine.flow.AimdRate.state, "flow" in Engine.stats()) means.
FLOW_STATES = {
    "open": "full rate",
    "throttled": "the carrier said slow down: rate cut to what it takes",
    "slow": "the carrier answered late: rate halved",
    "recovering": "climbing back to full rate",
    "refusing": "the carrier refuses a share whatever the rate: not cut for it",
}
FLOW_LEGEND = "flow = the channel's flow control: " + ", ".join(
    f"{state} ({meaning})" for state, meaning in FLOW_STATES.items())
EXAMPLES = ("next: examples/ in the repository has these calls as small programs to adapt "
            "(e.g. .venv/bin/python examples/send_otp.py) and engine.toml, an annotated "
            "engine configuration")

_CARRIERS = ("顺丰速运", "中通快递", "京东物流", "圆通速递")
_SALES = ("双十一大促", "周年庆", "618年中大促", "会员日")


@dataclass
class DemoReport:
    """What the demo measured; the CLI prints it, tests read it."""

    handles: dict[str, list[MessageHandle]]  # by kind
    opted_out: str  # the number that replied 退订
    suppressed: int  # numbers on the suppression list at the end
    receipts_requested: int  # segments accepted by the SMSC with a receipt asked for
    receipts_matched: int
    otp_latency_ms: tuple[float, float]  # submit latency p50, p99
    max_queued: int  # the deepest queue an OTP code was sent into (and jumped)
    elapsed: float  # first message queued .. last submit_sm_resp
    channel: dict[str, Any]  # Engine.stats() for the channel
    smsc: dict[str, int] = field(default_factory=dict)
    capped: list[CapRefusal] = field(default_factory=list)  # codes the frequency caps refused

    def outcome(self, handle: MessageHandle) -> MessageState | str:
        """How the message ended; "refused" when the engine refused it itself, before any
        carrier saw it (not a message that expired in the queue: that one is EXPIRED)."""
        error = handle.error
        if isinstance(error, MessageRefusedError) and not isinstance(error, MessageExpiredError):
            return "refused"
        return handle.state if handle.final else "pending"

    def counts(self, kind: str) -> Counter[MessageState | str]:
        return Counter(self.outcome(h) for h in self.handles[kind])

    @property
    def all_final(self) -> bool:
        return all(h.final for hs in self.handles.values() for h in hs)

    @property
    def opt_outs_honoured(self) -> int:
        """Marketing messages refused because their number had opted out."""
        return self.counts("marketing")["refused"]

    @property
    def submitted(self) -> tuple[int, int]:
        """(messages, segments) the SMSC accepted."""
        done = [h for hs in self.handles.values() for h in hs if h.submitted_at is not None]
        return len(done), sum(len(h.segments) for h in done)


# --- the traffic --------------------------------------------------------------------------------


def _number(rng: random.Random) -> str:
    return f"86{rng.choice(('134', '138', '139', '150', '158', '182', '187'))}" \
        f"{rng.randrange(10**8):08d}"


def _otp_text(rng: random.Random) -> str:
    code = f"{rng.randrange(10**6):06d}"
    if rng.random() < 0.5:
        return f"Your ShopCN verification code is {code}. It expires in 5 minutes."
    return f"【商城】您的验证码是{code}，5分钟内有效。请勿泄露给他人。"


def _notice_text(rng: random.Random) -> str:
    order = rng.randrange(10**11, 10**12)
    waybill = rng.randrange(10**11, 10**12)
    carrier = rng.choice(_CARRIERS)
    return (f"【商城】尊敬的客户，您的订单{order}已于今日发货，承运商{carrier}，运单号"
            f"SF{waybill}，预计{rng.randint(1, 3)}天内送达，请保持电话畅通以便快递员联系您。"
            "如需修改收货地址或对商品有任何疑问，请拨打客服热线400-820-8820或在App内联系"
            "在线客服，我们将竭诚为您服务。感谢您的支持！")


def _marketing_text(sale: str, reminder: bool) -> str:
    if reminder:
        return f"【商城】{sale}最后一天！满300减50，今晚24点结束，手慢无。回T退订"
    return f"【商城】{sale}今晚20点开抢：全场满300减50，会员再享9折！回T退订"


# --- running it ---------------------------------------------------------------------------------


class _Display:
    """Live bars on a terminal; a plain line a second otherwise, so CI logs stay readable."""

    def __init__(self, console: Console, totals: dict[str, int]) -> None:
        self.console = console
        self.totals = totals
        self.live = console.is_terminal
        self.progress = Progress(
            TextColumn("{task.description:<14}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[note]}"), TimeElapsedColumn(),
            console=console, transient=False, refresh_per_second=8,
        )
        self.tasks = {kind: self.progress.add_task(KINDS[kind], total=n, note="")
                      for kind, n in totals.items()}
        self.receipts = self.progress.add_task("receipts", total=None, note="")
        self.last_line = 0.0

    def __enter__(self) -> _Display:
        if self.live:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live:
            self.progress.stop()

    def say(self, text: str) -> None:
        if self.live:
            self.progress.console.print(text)
        else:
            self.console.print(text, soft_wrap=True)

    def update(self, elapsed: float, done: dict[str, int], submitted: dict[str, int],
               receipts: tuple[int, int], flow: str, force: bool = False) -> None:
        if self.live:
            for kind, task in self.tasks.items():
                self.progress.update(task, completed=done[kind],
                                     note=f"sent {submitted[kind]:,}")
            self.progress.update(self.receipts, completed=receipts[0], total=receipts[1] or None,
                                 note=f"flow {flow}")
            return
        if force or elapsed - self.last_line >= 1.0:
            self.last_line = elapsed
            parts = "  ".join(f"{KINDS[k]} {done[k]:,}/{self.totals[k]:,}" for k in self.totals)
            self.console.print(f"{elapsed:5.1f}s  final: {parts}  receipts "
                               f"{receipts[0]:,}/{receipts[1]:,}  flow {flow}", soft_wrap=True)


def _percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _smsc_config(tps: float, seed: int) -> dict[str, object]:
    return {
        "seed": seed,
        # The carrier allows a little more than we send, as a real contract would.
        "accounts": [{"system_id": SYSTEM_ID, "password": PASSWORD,
                      "bind_modes": ["transceiver"], "max_binds": 4, "tps": tps * 1.25}],
        "message_id_style": "hex",
        "latency": {"kind": "lognormal", "median": 0.004, "sigma": 0.6, "high": 0.05},
        "receipts": {"delay": {"kind": "uniform", "low": RECEIPT_DELAY[0],
                               "high": RECEIPT_DELAY[1]},
                     "statuses": RECEIPT_STATS,
                     "err_codes": {"UNDELIV": "001", "EXPIRED": "002"}},
    }


def engine_config(port: int, tps: float) -> EngineConfig:
    """The embedded engine configuration: one carrier account, two transceiver binds."""
    return engine_config_from_dict({
        "channels": [{
            "name": CHANNEL, "host": "127.0.0.1", "port": port,
            "system_id": SYSTEM_ID, "password": PASSWORD,
            "transceivers": 2, "window": 64, "tps": tps, "default_source": SENDER,
        }],
        "lanes": ["otp", "notification", "marketing"],
    })


async def run_demo(messages: int = 2000, tps: float = 400.0, seed: int = 1,
                   console: Console | None = None) -> DemoReport:
    """Run the whole demonstration and return what it measured (printing as it goes)."""
    console = console or Console(highlight=False)
    rng = random.Random(seed)
    n_marketing = max(messages, 4)
    n_otp = max(n_marketing // 40, 3)
    n_notice = max(n_marketing // 20, 3)
    subscribers = [_number(rng) for _ in range((n_marketing + 1) // 2)]
    sale = rng.choice(_SALES)
    announce = [Message(destination=n, text=_marketing_text(sale, False), kind="marketing")
                for n in subscribers]
    remind = [Message(destination=n, text=_marketing_text(sale, True), kind="marketing")
              for n in subscribers[: n_marketing - len(subscribers)]]
    otps = [Message(destination=_number(rng), text=_otp_text(rng), kind="otp")
            for _ in range(n_otp)]
    notices = [Message(destination=_number(rng), text=_notice_text(rng), kind="notification")
               for _ in range(n_notice)]
    # The first code's user taps "send again" at once: the caps refuse it (1 a minute).
    again = Message(destination=otps[0].destination, text=_otp_text(rng), kind="otp")

    sample = count(notices[0].text or "")
    console.print(f"[bold]smsengine demo[/]: {n_otp:,} OTP codes, {n_notice:,} order notices "
                  f"({sample.encoding.value}, {sample.parts} parts each), a campaign of "
                  f"{n_marketing:,} marketing messages (announcement + reminder)", soft_wrap=True)

    smsc = FakeSMSC(config_from_dict(_smsc_config(tps, seed)))
    await smsc.start()
    try:
        stats = ", ".join(f"{p:.0%} {s}" for s, p in RECEIPT_STATS.items())
        console.print(f"fake SMSC on {smsc.address}: receipts after "
                      f"{RECEIPT_DELAY[0]}-{RECEIPT_DELAY[1]} s, {stats}", soft_wrap=True)
        async with Engine(engine_config(smsc.port, tps)) as engine:
            await engine.wait_ready()
            console.print(f"engine: channel {CHANNEL!r}, 2 transceiver binds, {tps:g} segments/s, "
                          "lanes otp > notification > marketing", soft_wrap=True)
            console.print(f"{FLOW_LEGEND}\n", soft_wrap=True)
            return await _traffic(engine, smsc, console, tps, otps, notices, announce, remind,
                                  again)
    finally:
        await smsc.stop()


async def _traffic(engine: Engine, smsc: FakeSMSC, console: Console, tps: float,
                   otps: list[Message], notices: list[Message], announce: list[Message],
                   remind: list[Message], again: Message) -> DemoReport:
    handles: dict[str, list[MessageHandle]] = {"otp": [], "notification": [], "marketing": []}
    totals = {"otp": len(otps), "notification": len(notices),
              "marketing": len(announce) + len(remind)}
    segments = sum(count(m.text or "").parts for m in [*otps, *notices, *announce, *remind])
    expected = segments / tps  # the send phase, if the carrier keeps up
    opted_out: list[str] = []
    display = _Display(console, totals)
    max_queued = 0
    # Codes are capped per number as the daemon caps them: Alibaba Cloud's defaults, 1 a
    # minute, 5 an hour, 10 a day (an in-memory counter here; the daemon's is in its file).
    caps = FrequencyCaps(DEFAULT_RULES, MemoryCounterStore())
    capped: list[CapRefusal] = []

    def on_mo(mo: MoMessage) -> None:
        suppressed = mo.source in engine.suppression
        display.say(f"  MO from {mo.source}: {mo.text!r}"
                    + (" -> on the suppression list" if suppressed else ""))

    engine.on_mo(on_mo)
    started = time.monotonic()

    def channel() -> dict[str, Any]:
        return engine.stats()["channels"][CHANNEL]  # type: ignore[no-any-return]

    async def trickle(messages: list[Message], kind: str) -> None:
        # Codes and notices arrive one by one while the campaign runs, as shop traffic does.
        nonlocal max_queued
        gap = expected / (len(messages) + 1)
        for message in messages:
            await asyncio.sleep(gap)
            if kind == "otp":
                max_queued = max(max_queued, channel()["queued"])
                if not await code(message):
                    continue
            handles[kind].append(await engine.send(message))
            if message is messages[0] and kind == "otp":
                await asyncio.sleep(gap / 2)
                await code(again)

    async def code(message: Message) -> bool:
        """Whether the caps let a code go; a refusal is shown with its rule."""
        refusal = caps.take(message.destination, "otp", time.time())
        if refusal is None:
            return True
        capped.append(refusal)
        display.say(f"  OTP code again to {message.destination}: refused by the frequency cap "
                    f"(rule {refusal.rule.describe()} per number, retry after "
                    f"{math.ceil(refusal.retry_after)} s), never sent to the carrier")
        return False

    async def campaign() -> None:
        wave = await engine.send_many(announce)
        handles["marketing"].extend(wave)
        display.say(f"  campaign: {len(wave):,} announcements queued with send_many")
        # Someone who got the announcement (and will be sent the reminder) replies 退订,
        # "unsubscribe", as its last words invite.
        replier = None
        for handle in wave[min(3, len(remind) - 1) : len(remind)]:
            if await handle.wait() is MessageState.DELIVERED:
                replier = handle.message.destination
                break
        if replier is not None:
            opted_out.append(replier)
            await smsc.inject_mo(replier, SENDER, "退订")
        # The reminder goes out once the announcement is (nearly) all sent.
        while channel()["queued"] > tps / 2:
            await asyncio.sleep(0.05)
        wave = await engine.send_many(remind)
        handles["marketing"].extend(wave)
        refused = [h for h in wave if isinstance(h.error, MessageRefusedError)]
        display.say(f"  campaign: {len(wave):,} reminders queued, {len(refused)} of them "
                    "refused:")
        for h in refused:
            # The engine's own refusal: no carrier saw it, so no SMPP status is shown.
            why = (f"opted out of {h.message.kind}"
                   if h.message.destination in engine.suppression else str(h.error))
            display.say(f"    {h.message.destination} refused locally ({why}), never sent to "
                        "the carrier")

    def refresh(force: bool = False) -> None:
        done = {k: sum(h.final for h in hs) for k, hs in handles.items()}
        sent = {k: sum(h.submitted_at is not None for h in hs) for k, hs in handles.items()}
        display.update(time.monotonic() - started, done, sent, _receipts(engine, handles),
                       channel()["flow"], force)

    with display:
        feeders = asyncio.gather(trickle(otps, "otp"), trickle(notices, "notification"),
                                 campaign())
        await _until(feeders, refresh)
        finished = _all_final(handles)
        # Receipts follow within RECEIPT_DELAY; allow generously for a slow machine.
        await _until(asyncio.ensure_future(finished), refresh, timeout=30.0 + expected)
        refresh(force=True)

    ends = [h.submitted_at for hs in handles.values() for h in hs if h.submitted_at is not None]
    first = min((h.queued_at for hs in handles.values() for h in hs), default=time.time())
    latencies = [(h.submitted_at - h.queued_at) * 1000 for h in handles["otp"]
                 if h.submitted_at is not None]
    matched, requested = _receipts(engine, handles)
    return DemoReport(
        handles=handles,
        opted_out=opted_out[0] if opted_out else "",
        suppressed=len(engine.suppression),
        receipts_requested=requested,
        receipts_matched=matched,
        otp_latency_ms=(_percentile(latencies, 0.5), _percentile(latencies, 0.99)),
        max_queued=max_queued,
        elapsed=max(ends, default=first) - first,
        channel=engine.stats()["channels"][CHANNEL],
        smsc=dict(smsc.stats),
        capped=capped,
    )


def _receipts(engine: Engine, handles: dict[str, list[MessageHandle]]) -> tuple[int, int]:
    """(matched, requested): receipts matched to a segment, and segments the SMSC accepted with
    a receipt asked for."""
    matched = sum(c["receipts_matched"] + c["receipts_early"]
                  for c in engine.stats()["channels"].values())
    requested = sum(1 for hs in handles.values() for h in hs if h.message.registered_delivery
                    for s in h.segments if s.submitted_at is not None)
    return matched, requested


async def _all_final(handles: dict[str, list[MessageHandle]]) -> None:
    for hs in handles.values():
        for h in hs:
            await h.wait()


async def _until(work: asyncio.Future[Any], tick: Callable[[], None],
                 timeout: float | None = None) -> None:
    """Await ``work`` while refreshing the display; on timeout, stop waiting (the summary
    then shows what is not final)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while not work.done():
            if deadline is not None and time.monotonic() > deadline:
                work.cancel()
                break
            tick()
            await asyncio.wait([work], timeout=0.1)
    finally:
        if not work.done():
            work.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await work


# --- the summary --------------------------------------------------------------------------------


def print_summary(report: DemoReport, console: Console) -> None:
    table = Table(title="Final states", title_justify="left")
    table.add_column("")
    for kind in report.handles:
        table.add_column(KINDS[kind], justify="right")
    table.add_column("total", justify="right", style="bold")
    counts = {kind: report.counts(kind) for kind in report.handles}
    for key, label in ROWS:
        values = [counts[k][key] for k in report.handles]
        if key in ("pending", MessageState.REJECTED) and not any(values):
            continue
        table.add_row(label, *(f"{v:,}" for v in values), f"{sum(values):,}")
    sizes = [len(hs) for hs in report.handles.values()]
    parts = [sum(len(h.segments) for h in hs) for hs in report.handles.values()]
    table.add_section()
    table.add_row("messages", *(f"{v:,}" for v in sizes), f"{sum(sizes):,}")
    table.add_row("parts", *(f"{v:,}" for v in parts), f"{sum(parts):,}")
    console.print()
    console.print(table)

    msgs, segs = report.submitted
    ch = report.channel
    rate = f", rate {ch['rate']:g}/s" if ch.get("rate") is not None else ""
    elapsed = max(report.elapsed, 1e-9)
    figures = Table(title="Figures", title_justify="left", show_header=False)
    figures.add_column("", style="bold")
    figures.add_column("")
    figures.add_row("receipts", f"{report.receipts_matched:,} matched of "
                    f"{report.receipts_requested:,} requested")
    figures.add_row("opt-outs honoured", f"{report.opt_outs_honoured} marketing refused "
                    f"({report.opted_out or 'nobody'} replied 退订)")
    figures.add_row("frequency caps", f"{len(report.capped)} OTP code refused"
                    + "".join(f" ({r.rule.describe()} per number)" for r in report.capped[:1]))
    figures.add_row("OTP submit latency", f"p50 {report.otp_latency_ms[0]:.1f} ms, "
                    f"p99 {report.otp_latency_ms[1]:.1f} ms"
                    + (f", ahead of up to {report.max_queued:,} queued" if report.max_queued
                       else ""))
    figures.add_row("throughput", f"{msgs / elapsed:,.0f} msgs/s, {segs / elapsed:,.0f} parts/s "
                    f"({msgs:,} messages in {report.elapsed:.1f} s)")
    flow = ch["flow"]
    figures.add_row("channel", f"{CHANNEL}: flow {flow} ({FLOW_STATES.get(flow, '?')}){rate}, "
                    f"{ch['throttled']} throttled responses")
    console.print(figures)
    if report.all_final:
        console.print("every message reached a final state.")
    else:
        console.print("[red]some messages did not reach a final state in time[/]")
    console.print(EXAMPLES, soft_wrap=True)


def run(args: argparse.Namespace) -> int:
    """The ``smsengine demo`` command."""
    if args.messages < 1 or args.tps <= 0:
        print("error: --messages and --tps must be positive", file=sys.stderr)
        return 2
    console = Console(highlight=False)
    coro: Coroutine[Any, Any, DemoReport] = run_demo(args.messages, args.tps, args.seed, console)
    factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    with contextlib.suppress(ImportError):
        import uvloop

        factory = uvloop.new_event_loop
    # A private runner: uvloop for speed, without changing the process-wide loop policy.
    with asyncio.Runner(loop_factory=factory) as runner:
        report = runner.run(coro)
    print_summary(report, console)
    return 0 if report.all_final else 1
