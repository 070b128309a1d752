"""The engine end to end against the fake SMSC over 127.0.0.1: the TPS it holds (read on the
SMSC's ledger), throttle adaptation, failover when a channel's binds are refused, a code going
past a queued campaign, receipt correlation under every receipt profile and id style (receipts
before responses too), a restart with the SQLite store, opt-out suppression, idempotent
references, refusals before sending, unknown outcomes, and MO reassembly.

Every wait is a condition with a deadline; timing assertions carry the tolerance they need and
say why."""

from __future__ import annotations

import asyncio
import bisect
import gc
import math
import time
import weakref
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from smsengine.bind import BindEvent
from smsengine.engine import (
    Engine,
    EngineConfig,
    Message,
    MessageEvent,
    MessageHandle,
    MessageRefusedError,
    MessageState,
    MoMessage,
    engine_config_from_dict,
)
from smsengine.fakesmsc import Config, FakeSMSC, config_from_dict
from smsengine.smpp import CommandStatus, NotSentError, OutcomeUnknownError
from tests._support.smpp_client import eventually

SHOP = {"system_id": "shop", "password": "pw"}
BACKUP = {"system_id": "backup", "password": "pw2"}
PROFILES = ["standard", "upper", "long_dates", "other_base"]
ID_STYLES = ["decimal", "hex", "HEX", "uuid"]


def smsc_config(**fields: Any) -> Config:
    fields.setdefault("accounts", [SHOP])
    return config_from_dict(fields)


def channel(port: int, name: str = "a", account: dict[str, str] = SHOP,
            **fields: Any) -> dict[str, Any]:
    return {"name": name, "host": "127.0.0.1", "port": port, "default_source": "SHOP",
            **account, **fields}


def engine_config(port: int, *, channels: list[dict[str, Any]] | None = None,
                  **fields: Any) -> EngineConfig:
    return engine_config_from_dict({"channels": channels or [channel(port)], **fields})


@asynccontextmanager
async def running(smsc_fields: dict[str, Any] | None = None,
                  **channel_fields: Any) -> AsyncIterator[tuple[FakeSMSC, Engine]]:
    """A fake SMSC and an engine with one channel ``a`` bound to it."""
    async with (
        FakeSMSC(smsc_config(**(smsc_fields or {}))) as smsc,
        Engine(engine_config(smsc.port, channels=[channel(smsc.port, **channel_fields)]))
        as engine,
    ):
        await engine.wait_ready(5)
        yield smsc, engine


def number(i: int) -> str:
    return f"86138{i:08d}"


def msg(i: int, **fields: Any) -> Message:
    fields.setdefault("text", f"Order {i} has shipped")
    return Message(destination=number(i), **fields)


async def finished(handles: Iterable[MessageHandle], timeout: float = 10.0) -> list[MessageState]:
    """Every handle's final state, waiting at most ``timeout`` for all of them."""
    return list(await asyncio.wait_for(
        asyncio.gather(*(h.wait() for h in handles)), timeout))


class Events:
    """Collects ``engine.events()`` in the background."""

    def __init__(self, engine: Engine) -> None:
        self.seen: list[MessageEvent | MoMessage | BindEvent] = []
        self._task = asyncio.get_running_loop().create_task(self._run(engine))

    async def _run(self, engine: Engine) -> None:
        async for event in engine.events():
            self.seen.append(event)

    def binds(self, kind: str) -> list[BindEvent]:
        return [e for e in self.seen if isinstance(e, BindEvent) and e.kind == kind]

    def messages(self) -> list[MessageEvent]:
        return [e for e in self.seen if isinstance(e, MessageEvent)]

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


# --- rate ---------------------------------------------------------------------------------------


async def test_tps_is_held_on_the_smsc_ledger() -> None:
    tps, n = 50, 150
    burst = tps  # the default: one second's worth
    lag = 0.0  # the longest the event loop was late (the SMSC shares it)

    async def watch_lag() -> None:
        nonlocal lag
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(0.005)
            lag = max(lag, loop.time() - start - 0.005)

    async with running(tps=tps) as (smsc, engine):
        watcher = asyncio.create_task(watch_lag())
        handles = await engine.send_many(msg(i) for i in range(n))
        assert set(await finished(handles, 15)) == {MessageState.DELIVERED}
        watcher.cancel()
    times = sorted(e.time for e in smsc.ledger.entries())
    assert len(times) == n

    def most_in_one_second(start: int) -> int:
        return max(bisect.bisect_left(times, t + 1.0) - i
                   for i, t in enumerate(times) if i >= start)

    # Ledger stamps are taken when the SMSC reads, so two messages written a few milliseconds
    # apart may share a read: a slack of a few messages, never a second's worth. A stamp can be
    # late by as long as the loop was held up (a collection, a busy machine): what the engine
    # sent over that long more (at most lag * tps) may land in one second of stamps.
    slack = 3 + math.ceil(lag * tps)
    assert slack < tps // 2, f"the loop was held up {lag:.3f}s: too long to judge the rate"
    assert most_in_one_second(0) <= tps + burst + slack
    # Once the burst is spent the queue is backlogged and the bucket stays empty: any second
    # after it holds one second's worth.
    assert most_in_one_second(burst) <= tps + slack
    # Not slower than allowed either: the burst at once, the rest at tps.
    duration = times[-1] - times[0]
    ideal = (n - burst) / tps
    assert ideal * 0.95 <= duration <= ideal * 1.5, (duration, ideal)


async def send_through_throttling(smsc: FakeSMSC, engine: Engine, n: int,
                                  states: set[str] | None = None
                                  ) -> list[tuple[float, int, float]]:
    """Send ``n`` messages through channel ``a``; every one must be delivered and reach the
    SMSC exactly once (throttled submits are resent: none lost, none accepted twice). Returns
    (time, throttled so far, rate) samples taken until the last one was final; the flow
    controller's states seen go in ``states``."""
    ch = engine.channels["a"]
    loop = asyncio.get_running_loop()
    samples: list[tuple[float, int, float]] = []

    def done() -> bool:
        samples.append((loop.time(), ch.counters["throttled"], ch.flow.rate))
        if states is not None:
            states.add(ch.flow.state)
        return all(h.final for h in handles)

    handles = await engine.send_many(msg(i) for i in range(n))
    await eventually(done, 20)
    assert {h.state for h in handles} == {MessageState.DELIVERED}
    assert Counter(e.destination_addr for e in smsc.ledger.entries()) == {
        number(i): 1 for i in range(n)}
    return samples


def first_and_last_second(samples: list[tuple[float, int, float]]) -> tuple[int, int]:
    """Throttled responses in the first and in the last second of the samples."""
    start, end = samples[0][0], samples[-1][0]

    def between(t0: float, t1: float) -> int:
        inside = [t for when, t, _ in samples if t0 <= when <= t1]
        return inside[-1] - inside[0]

    return between(start, start + 1), between(end - 1, end)


async def test_throttle_adaptation_converges_and_recovers() -> None:
    carrier, ceiling, n = 40, 200, 160
    async with running({"accounts": [dict(SHOP, tps=carrier)]}, tps=ceiling) as (smsc, engine):
        ch = engine.channels["a"]
        loop = asyncio.get_running_loop()
        samples = await send_through_throttling(smsc, engine, n)
        assert ch.counters["throttled"] > 0
        assert smsc.stats["throttled"] == ch.counters["throttled"]
        assert min(rate for _, _, rate in samples) <= ceiling / 4, "cut on each throttled second"

        # Converges: the first second, with the whole burst refused, has many throttled
        # responses; the last second, at the rate the engine found, has few or none.
        start, end = samples[0][0], samples[-1][0]
        assert end - start > 2, "the run must outlast the first cuts to show convergence"

        first, last = first_and_last_second(samples)
        assert first >= 10 * max(last, 1), (first, last)
        # ...without collapsing: on average at least half of what the carrier accepts.
        times = sorted(e.time for e in smsc.ledger.entries())
        assert n / (times[-1] - times[0]) >= carrier / 2

        # Recovers: the housekeeping gives the rate back additively on the real loop...
        low = ch.flow.rate
        assert low < ceiling
        await eventually(lambda: ch.flow.rate > low, 3)
        assert ch.flow.state == "recovering"
        # ...up to the channel's tps and no further, once enough quiet time has passed.
        ch.flow.recover(loop.time() + 3600)
        assert ch.flow.rate == ceiling
        assert ch.flow.state == "open"


async def test_a_refusal_that_does_not_depend_on_the_rate_is_not_throttled_down() -> None:
    """The fake SMSC answers half of all submits ESME_RTHROTTLED whatever the rate (its
    ``errors``): cutting the rate cannot lessen that, so the flow controller undoes its cut
    and keeps sending near the channel's tps (issue 21: it used to halve every second down to
    the floor). Every message still reaches the SMSC exactly once."""
    ceiling, n = 200, 500
    async with running({"errors": {"ESME_RTHROTTLED": 0.5}}, tps=ceiling) as (smsc, engine):
        ch = engine.channels["a"]
        states: set[str] = set()
        samples = await send_through_throttling(smsc, engine, n, states)
        assert ch.counters["throttled"] == smsc.stats["errors_injected"] > 0
        # The controller found the refusals did not depend on the rate (its state says so).
        # How far the rate then stays up depends on the goodput this machine measures in real
        # time, which a loaded CI box starves (it reached the 10 % floor once under a full
        # suite running beside it): the rates themselves are held by the sans-I/O tests in
        # tests/engine/test_flow.py, on an injected clock.
        assert "refusing" in states
        assert samples, "the run was sampled"


async def test_a_channel_without_tps_paces_itself_once_throttled() -> None:
    """No TPS configured and a carrier that takes 40/s: the first throttled response starts
    pacing at the rate the channel was sending, and AIMD brings it down to what the carrier
    takes, instead of resending every refused submit at once, as fast as the windows allow.
    Once the rate has been back at its ceiling long enough, pacing stops again."""
    carrier, n = 40, 160
    async with running({"accounts": [dict(SHOP, tps=carrier)]}) as (smsc, engine):
        ch = engine.channels["a"]
        assert ch.pacing == "off" and ch.snapshot()["rate"] is None
        events = Events(engine)
        loop = asyncio.get_running_loop()
        samples = await send_through_throttling(smsc, engine, n)
        assert ch.pacing == "adaptive" and ch.snapshot()["rate"] is not None
        assert smsc.stats["throttled"] == ch.counters["throttled"] > 0
        [started] = events.binds("pacing")
        assert started.name == "a" and started.detail.startswith("throttled")

        start, end = samples[0][0], samples[-1][0]
        assert end - start > 2
        first, last = first_and_last_second(samples)
        assert first >= 10 * max(last, 1), (first, last)
        # Each throttled submit costs a round trip at most at the paced rate: far fewer than
        # the messages times the seconds of the run it would take unpaced.
        assert ch.counters["throttled"] < 4 * n, ch.counters["throttled"]
        times = sorted(e.time for e in smsc.ledger.entries())
        assert n / (times[-1] - times[0]) >= carrier / 2

        # The way back: quiet at the ceiling for PACING_RELEASE seconds, then unpaced again.
        ch.tick(loop.time() + ch.PACING_RELEASE / 2)
        assert ch.pacing == "adaptive"
        ch.tick(loop.time() + 3600)
        assert ch.pacing == "off" and ch.snapshot()["rate"] is None
        await asyncio.sleep(0)
        assert [e.detail for e in events.binds("pacing")][1:] == ["unthrottled: pacing off"]
        await events.close()
        more = await engine.send_many(msg(i) for i in range(n, n + 5))
        assert set(await finished(more)) == {MessageState.DELIVERED}


# --- routing ------------------------------------------------------------------------------------


async def test_failover_when_a_channels_binds_are_refused() -> None:
    async with FakeSMSC(smsc_config(accounts=[SHOP, BACKUP])) as smsc:
        cfg = engine_config(smsc.port, channels=[
            channel(smsc.port, "a", dict(SHOP, password="wrong")),
            channel(smsc.port, "b", BACKUP),
        ], routes=[{"prefixes": ["86"], "channels": ["a", "b"], "mode": "failover"}])
        async with Engine(cfg) as engine:
            events = Events(engine)
            # Nothing is bound yet: the route's first channel takes them.
            early = [engine.submit(msg(i)) for i in range(20)]
            assert {h.channel for h in early} == {"a"}
            assert len(engine.channels["a"].lanes) == 20
            await eventually(lambda: engine.channels["a"].alarm, 5)
            alarms = events.binds("alarm")
            assert alarms and alarms[0].name.startswith("a#")
            assert alarms[0].status == CommandStatus.ESME_RINVPASWD
            # Its queue moved to the next channel of the route; new messages go there too.
            late = await engine.send_many(msg(i) for i in range(20, 40))
            assert set(await finished(early + late)) == {MessageState.DELIVERED}
            assert {h.channel for h in early + late} == {"b"}
            assert len(engine.channels["a"].lanes) == 0
            assert engine.channels["a"].counters["segments"] == 0
            await events.close()
    entries = smsc.ledger.entries()
    assert len(entries) == 40
    assert {e.account for e in entries} == {"backup"}
    assert smsc.stats["binds_refused"] >= 1


# --- priorities ---------------------------------------------------------------------------------


async def test_otp_goes_past_a_queued_campaign() -> None:
    tps, campaign_size = 1000, 20_000
    async with running(tps=tps) as (smsc, engine):
        loop = asyncio.get_running_loop()
        campaign = await engine.send_many(
            msg(i, kind="marketing", registered_delivery=False) for i in range(campaign_size))
        await eventually(lambda: len(smsc.ledger) >= 100, 5)  # the campaign is flowing
        start = loop.time()
        otp = await engine.send(destination="8613912345678", text="Your code is 402113",
                                kind="otp")
        await eventually(lambda: otp.state is not MessageState.QUEUED, 1.0)
        waited = loop.time() - start
        left = engine.channels["a"].lanes.depth()["marketing"]
        # The rest of the campaign still needs more than 10 s at this rate: the code did not
        # wait for it.
        assert left / tps > 10, left
        assert otp.state in (MessageState.SUBMITTED, MessageState.DELIVERED)
        assert waited < 1.0
        sent_before = [e.destination_addr for e in smsc.ledger.entries()]
        assert "8613912345678" in sent_before
        assert sum(h.state is MessageState.QUEUED for h in campaign) >= left


async def test_every_lane_sends_each_message_exactly_once() -> None:
    """Busy lanes with a minimum share: the dispatcher sends what the lanes hand out, each
    message once, none left behind."""
    async with FakeSMSC(smsc_config()) as smsc:
        cfg = engine_config(smsc.port, channels=[channel(smsc.port, tps=2000)],
                            lane_min_share=0.25)
        async with Engine(cfg) as engine:
            await engine.wait_ready(5)
            kinds = ["otp", "notification", "marketing"]
            handles = await engine.send_many(msg(i, kind=kinds[i % 3]) for i in range(300))
            assert set(await finished(handles)) == {MessageState.DELIVERED}
    assert Counter(e.destination_addr for e in smsc.ledger.entries()) == {
        number(i): 1 for i in range(300)}


# --- receipts -----------------------------------------------------------------------------------


def long_text(parts: int) -> str:
    return "".join(f"part {p} " + "x" * 140 for p in range(parts))[: 153 * parts - 10]


@pytest.mark.parametrize("tlvs", [False, True], ids=["text-only", "with-tlvs"])
@pytest.mark.parametrize("style", ID_STYLES)
@pytest.mark.parametrize("profile", PROFILES)
async def test_every_receipt_is_correlated(profile: str, style: str, tlvs: bool) -> None:
    smsc_fields = {"message_id_style": style,
                   "receipts": {"profile": profile, "tlvs": tlvs}}
    async with running(smsc_fields) as (smsc, engine):
        messages = [msg(i) for i in range(27)]
        messages.append(msg(27, text=long_text(3)))
        messages.append(msg(28, text="验证码 402113 五分钟内有效。" * 6))  # UCS2, 2 parts
        messages.append(msg(29, text="€uro [sale] ~ {today}"))  # GSM 7-bit extension table
        handles = await engine.send_many(messages)
        assert set(await finished(handles)) == {MessageState.DELIVERED}
        assert len(handles[27].segments) == 3
        assert len(handles[28].segments) == 2
        ch = engine.channels["a"]
        segments = sum(len(h.segments) for h in handles)
        assert len(smsc.ledger) == segments
        assert ch.counters["receipts_matched"] == segments
        assert ch.counters["receipts_unmatched"] == 0
        assert len(engine.store) == 0


@pytest.mark.parametrize(("stat", "state"), [
    ("DELIVRD", MessageState.DELIVERED),
    ("UNDELIV", MessageState.UNDELIVERABLE),
    ("EXPIRED", MessageState.EXPIRED),
    ("REJECTD", MessageState.REJECTED),
    ("DELETED", MessageState.UNDELIVERABLE),
    ("UNKNOWN", MessageState.UNKNOWN),
])
@pytest.mark.parametrize("tlvs", [False, True], ids=["text-only", "with-tlvs"])
@pytest.mark.parametrize("early", [False, True], ids=["response-first", "receipt-first"])
async def test_receipt_status_becomes_the_message_state(stat: str, state: MessageState,
                                                         tlvs: bool, early: bool) -> None:
    smsc_fields: dict[str, Any] = {"receipts": {"statuses": {stat: 1.0}, "tlvs": tlvs}}
    if early:  # each submit answered 0.1 s late, its receipt sent at once
        smsc_fields["latency"] = {"kind": "fixed", "value": 0.1}
    async with running(smsc_fields) as (_, engine):
        handles = await engine.send_many([msg(0), msg(1, text=long_text(2))])
        assert await finished(handles) == [state, state]
        counters = engine.channels["a"].counters
        assert counters["receipts_unmatched"] == 0
        assert counters["receipts_early"] == (3 if early else 0)
        assert all(s.state is state for h in handles for s in h.segments)
        assert engine.stats()["tracked"] == 0


@pytest.mark.parametrize("style", ID_STYLES)
async def test_receipts_before_responses_are_correlated(style: str) -> None:
    # The SMSC answers each submit 0.2 s late but sends its receipt at once.
    smsc_fields = {"message_id_style": style, "latency": {"kind": "fixed", "value": 0.2}}
    async with running(smsc_fields) as (_, engine):
        ch = engine.channels["a"]
        handles = await engine.send_many([*(msg(i) for i in range(20)),
                                          msg(20, text=long_text(3))])
        assert set(await finished(handles)) == {MessageState.DELIVERED}
        segments = sum(len(h.segments) for h in handles)
        assert ch.counters["receipts_early"] == segments
        for h in handles:
            assert h.submitted_at is not None and h.done_at is not None
            assert all(s.state is MessageState.DELIVERED and s.message_id and s.done_at
                       for s in h.segments)
        assert engine.stats()["tracked"] == 0 and len(engine.store) == 0
        assert ch.counters["receipts_unmatched"] == 0
        # An hour later, no early receipt is left over to be counted as a stranger's.
        engine.tracker.expire(time.time() + 3600)
        assert ch.counters["receipts_unmatched"] == 0


async def test_restart_with_the_sqlite_store_keeps_correlating(tmp_path: Path) -> None:
    store = tmp_path / "engine.db"
    async with FakeSMSC(smsc_config(receipts={"delay": {"kind": "fixed", "value": 1.0}})) as smsc:
        cfg = engine_config(smsc.port, store=str(store))
        first = Engine(cfg)
        await first.start()
        try:
            await first.wait_ready(5)
            handles = await first.send_many([*(msg(i) for i in range(10)),
                                             msg(10, text=long_text(3))])
            await eventually(lambda: all(h.state is MessageState.SUBMITTED for h in handles), 5)
        finally:
            await first.stop()
        # The receipts were still on their way when the engine went: the SMSC keeps them for
        # the account's next receiver.
        assert smsc.stats["receipts_sent"] == 0, "the test needs the receipts to come later"
        assert store.exists()
        refs = {h.ref for h in handles}
        segments = sum(len(h.segments) for h in handles)

        second = Engine(cfg)
        async with second:
            events = Events(second)
            await eventually(lambda: refs <= {e.ref for e in events.messages()}, 10)
            await events.close()
            ch = second.channels["a"]
            assert ch.counters["receipts_matched"] == segments
            assert ch.counters["receipts_unmatched"] == 0
            assert len(second.store) == 0
        outcome = {e.ref: e for e in events.messages() if e.ref in refs}
        assert {e.state for e in outcome.values()} == {MessageState.DELIVERED}
        assert all(e.handle is None for e in outcome.values())
        assert len(events.messages()) == len(refs), "one event per message, multi-part too"


# --- opt-out ------------------------------------------------------------------------------------


@pytest.mark.parametrize("keyword", ["TD", "退订", "STOP", " stop "])
async def test_opt_out_suppresses_marketing(keyword: str) -> None:
    opted, other = "8613800138000", "8613800138001"
    async with running() as (smsc, engine):
        assert (await smsc.inject_mo(opted, "10690000", keyword)).ok
        await eventually(lambda: opted in engine.suppression)
        assert other not in engine.suppression
        with pytest.raises(MessageRefusedError) as info:
            await engine.send(destination=opted, text="50% off today", kind="marketing")
        assert info.value.status == CommandStatus.ESME_RX_R_APPN
        assert info.value.retriable is False
        campaign = await engine.send_many([
            Message(destination=opted, text="50% off today", kind="marketing"),
            Message(destination=other, text="50% off today", kind="marketing"),
        ])
        assert campaign[0].state is MessageState.FAILED
        assert campaign[0].status == CommandStatus.ESME_RX_R_APPN
        otp = await engine.send(destination=opted, text="Your code is 402113", kind="otp")
        assert await finished([otp, campaign[1]]) == [MessageState.DELIVERED] * 2
    sent = Counter((e.destination_addr) for e in smsc.ledger.entries())
    assert sent == {opted: 1, other: 1}


async def test_opt_out_keywords_and_kinds_are_configurable() -> None:
    async with FakeSMSC(smsc_config()) as smsc:
        cfg = engine_config(smsc.port, optout={"keywords": ["QUIT"],
                                               "suppressed_kinds": ["marketing", "survey"]},
                            lanes=["otp", "notification", "marketing", "survey"])
        async with Engine(cfg) as engine:
            await engine.wait_ready(5)
            mos = engine.mo()
            assert (await smsc.inject_mo("8613800000001", "10690000", "quit")).ok
            assert (await smsc.inject_mo("8613800000002", "10690000", "STOP")).ok
            texts = [(await asyncio.wait_for(anext(mos), 5)).text for _ in range(2)]
            assert texts == ["quit", "STOP"]
            assert "8613800000001" in engine.suppression
            assert "8613800000002" not in engine.suppression  # not a keyword here
            with pytest.raises(MessageRefusedError):
                engine.submit(Message(destination="8613800000001", text="?", kind="survey"))
            ok = [engine.submit(Message(destination="8613800000002", text="!", kind="marketing")),
                  engine.submit(Message(destination="8613800000001", text="!"))]
            assert set(await finished(ok)) == {MessageState.DELIVERED}
            engine.unsuppress("8613800000001")
            again = engine.submit(Message(destination="8613800000001", text="?", kind="survey"))
            assert await again.wait(5) is MessageState.DELIVERED


# --- sending guarantees -------------------------------------------------------------------------


async def test_reference_makes_send_idempotent() -> None:
    async with running() as (smsc, engine):
        first = await engine.send(destination=number(1), text="Code 1", reference="order-1")
        again = await engine.send(destination=number(1), text="Code 1", reference="order-1")
        assert again is first
        other = await engine.send(destination=number(1), text="Code 1", reference="order-2")
        assert other is not first
        assert await finished([first, other]) == [MessageState.DELIVERED] * 2
        # A retry after the message finished is still the same message, not a second one.
        late = await engine.send(destination=number(1), text="Code 1", reference="order-1")
        assert late is first
        ch = engine.channels["a"]
        assert len(ch.lanes) == 0 and ch.in_flight == 0
        assert len(smsc.ledger) == 2


async def test_a_number_smpp_cannot_carry_is_refused_naming_the_field() -> None:
    async with running() as (smsc, engine):
        bad = Message(destination="86138\u0660\u0661", text="Code 1")  # Arabic-Indic digits
        with pytest.raises(MessageRefusedError, match="destination") as info:
            engine.submit(bad)  # (refused by the engine, before SMPP sees it)
        assert info.value.status == CommandStatus.ESME_RINVDSTADR
        # A field only the protocol checks: a sender source_addr cannot carry.
        with pytest.raises(MessageRefusedError, match="source_addr") as info:
            engine.submit(Message(destination=number(3), text="Code 3", source="SHOP\u0660"))
        assert not info.value.retriable
        [refused, fine] = await engine.send_many([bad, msg(2)])
        assert refused.state is MessageState.FAILED
        assert await fine.wait(5) is MessageState.DELIVERED
        assert [e.destination_addr for e in smsc.ledger.entries()] == [number(2)]


async def test_message_too_long_is_refused_before_anything_is_sent() -> None:
    # max_parts up to the text layer's own limit (255 parts), which is what is tested here.
    async with running(max_parts=255) as (smsc, engine):
        too_long = "x" * (153 * 255 + 1)  # 256 parts of GSM 7-bit
        with pytest.raises(MessageRefusedError, match="256 parts") as info:
            await engine.send(destination=number(1), text=too_long)
        assert info.value.status == CommandStatus.ESME_RINVMSGLEN
        assert info.value.retriable is False
        [refused, fine] = await engine.send_many([msg(1, text=too_long), msg(2)])
        assert refused.state is MessageState.FAILED
        assert refused.status == CommandStatus.ESME_RINVMSGLEN
        assert await fine.wait(5) is MessageState.DELIVERED
        assert [e.destination_addr for e in smsc.ledger.entries()] == [number(2)]
        assert engine.stats()["tracked"] == 0
        # The longest message allowed goes.
        longest = await engine.send(destination=number(3), text="x" * (153 * 255))
        assert await longest.wait(10) is MessageState.DELIVERED
        assert len(longest.segments) == 255


@pytest.mark.parametrize("resend", [False, True], ids=["no-resend", "resend_unknown"])
async def test_outcome_unknown_is_not_resent_unless_allowed(resend: bool) -> None:
    # The SMSC accepts each submit (the ledger has it) but answers after the engine gave up.
    smsc_fields = {"latency": {"kind": "fixed", "value": 0.6}}
    async with running(smsc_fields, response_timeout=0.2, max_retries=2,
                       resend_unknown=resend) as (smsc, engine):
        events = Events(engine)
        handle = await engine.send(destination=number(1), text="Code 7", kind="otp",
                                   registered_delivery=False)
        assert await handle.wait(5) is MessageState.UNKNOWN
        assert isinstance(handle.error, OutcomeUnknownError)
        expected = 1 + 2 if resend else 1  # the first try and max_retries resends
        assert len(smsc.ledger) == expected
        # Every late answer arrives (and is dropped as answering nothing) and nothing more
        # was sent meanwhile.
        await eventually(lambda: len(events.binds("protocol_error")) >= expected, 3)
        ch = engine.channels["a"]
        assert len(ch.lanes) == 0 and ch.in_flight == 0
        assert len(smsc.ledger) == expected
        assert ch.counters["unknown"] == 1
        await events.close()


async def test_stalled_smsc_leaves_the_outcome_unknown() -> None:
    async with running(response_timeout=0.2) as (smsc, engine):
        smsc.stall("answer")
        handle = await engine.send(destination=number(1), text="Code 8", kind="otp")
        assert await handle.wait(5) is MessageState.UNKNOWN
        assert handle.segments[0].state is MessageState.UNKNOWN
        assert engine.channels["a"].counters["retried"] == 0
        smsc.resume()
        after = await engine.send(destination=number(2), text="Code 9", kind="otp")
        assert await after.wait(5) is MessageState.DELIVERED
        assert [e.destination_addr for e in smsc.ledger.entries()] == [number(2)]


async def test_message_without_receipt_ends_submitted() -> None:
    async with running() as (smsc, engine):
        handles = await engine.send_many([msg(1, registered_delivery=False),
                                          msg(2, registered_delivery=False, text=long_text(2))])
        await eventually(lambda: len(smsc.ledger) == 3)
        # Nothing more will be known: final as SUBMITTED, and waiting returns at once.
        assert await finished(handles, 2) == [MessageState.SUBMITTED] * 2
        assert all(h.final for h in handles)
        assert engine.stats()["tracked"] == 0
        assert len(engine.store) == 0
        assert smsc.stats["receipts_sent"] == 0


async def test_a_refused_segment_fails_its_message() -> None:
    # The SMSC refuses about a third of all submits with a status no retry can help.
    smsc_fields = {"errors": {"ESME_RINVDSTADR": 0.3}, "seed": 7}
    async with running(smsc_fields) as (_, engine):
        messages = [msg(i, text=long_text(3), registered_delivery=i % 2 == 0) for i in range(40)]
        handles = await engine.send_many(messages)
        states = await finished(handles)
        for handle, state in zip(handles, states, strict=True):
            if any(s.state is MessageState.FAILED for s in handle.segments):
                assert state is MessageState.FAILED
                assert handle.status == CommandStatus.ESME_RINVDSTADR
            elif handle.message.registered_delivery:
                assert state is MessageState.DELIVERED
            else:
                assert state is MessageState.SUBMITTED
        assert {MessageState.FAILED, MessageState.DELIVERED, MessageState.SUBMITTED} <= set(states)
        assert engine.stats()["tracked"] == 0


# --- MO -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "Please call me back about order 1234. " * 10,  # ASCII, 3 parts
    "我想取消订单 请尽快联系我。" * 12,  # UCS2, 3 parts
])
async def test_multipart_mo_is_reassembled(text: str) -> None:
    async with running() as (smsc, engine):
        mos = engine.mo()
        handled: list[MoMessage] = []
        engine.on_mo(handled.append)
        result = await smsc.inject_mo("8613800138000", "10690000", text)
        assert result.ok and result.parts == 3
        mo = await asyncio.wait_for(anext(mos), 5)
        assert mo.text == text
        assert mo.complete
        assert (mo.source, mo.destination, mo.channel) == ("8613800138000", "10690000", "a")
        assert handled == [mo]
        assert engine.channels["a"].counters["mo"] == 3


# --- memory -------------------------------------------------------------------------------------


async def test_a_stopped_engine_and_its_messages_are_freed() -> None:
    # Handles and segments are outside the cyclic garbage collector, so nothing they hold may
    # lead back to them, or a cycle through them could never be freed. A campaign stopped
    # half-way (queued, in flight, submitted awaiting receipts) and a refused message (its
    # error was raised: a traceback, whose frames hold the handles) must all be freed once the
    # application lets go of the engine and the handles.
    receipts_later = {"delay": {"kind": "fixed", "value": 60}}
    async with FakeSMSC(smsc_config(receipts=receipts_later)) as smsc:
        engine = Engine(engine_config(smsc.port, channels=[channel(smsc.port, tps=20)]))
        await engine.start()
        await engine.wait_ready(5)
        handles = await engine.send_many(
            [msg(0, text="x" * (153 * 255 + 1)), *(msg(i) for i in range(1, 200))])
        await eventually(lambda: len(smsc.ledger) >= 3)
        smsc.stall("answer")
        await eventually(lambda a=engine.channels["a"]: a.in_flight >= 1)
        smsc.resume()  # (what it read meanwhile stays unanswered; the unbinds are answered)
        await engine.stop(drain_timeout=0.1)
        assert handles[0].state is MessageState.FAILED
        assert handles[0].status == CommandStatus.ESME_RINVMSGLEN
        assert handles[0].error is not None and handles[0].error.__traceback__ is None
        # What was not final is now, saying how far it got: never sent (FAILED, safe to send
        # again) or with the carrier (UNKNOWN: submitted, or written and never answered).
        states = Counter(h.state for h in handles[1:])
        assert states[MessageState.FAILED] > 100 and states[MessageState.UNKNOWN] >= 2
        assert sum(states.values()) == states[MessageState.FAILED] + states[MessageState.UNKNOWN]
        for h in handles[1:]:
            sent = any(s.state is not MessageState.QUEUED for s in h.segments)
            assert h.state is (MessageState.UNKNOWN if sent else MessageState.FAILED)
            assert h.error is not None and h.error.retriable is (not sent)
            assert isinstance(h.error, OutcomeUnknownError if sent else NotSentError)
        assert await asyncio.wait_for(handles[-1].wait(), 1) is MessageState.FAILED
        assert engine.stats()["tracked"] == 0
        assert [s.index for s in handles[-1].segments] == [0]  # (kept after the stop)
        alive = weakref.ref(engine)
        del engine, handles
        # (Not at once: the loop keeps the cancelled housekeeping sleep's timer, and through
        # its CancelledError the task's frame, until that timer is due, half a second on.)
        await eventually(lambda: gc.collect() >= 0 and alive() is None)
