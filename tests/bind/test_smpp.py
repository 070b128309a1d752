"""asyncio SMPP binds against the fake SMSC over real TCP on 127.0.0.1 (issue 5).

Every fault the fake SMSC can inject is met here: drops in the middle of a full window, stalls,
server unbinds, refused and wrong-password binds, ESME_RALYBND, throttling bursts, restarts and
garbage. After each, every request has exactly one definite outcome — a response,
NotSentError (never written: safe to retry) or OutcomeUnknownError (written, no response) — no
future is left pending, no task is left behind, and the bind comes back.

Conditions, not sleeps: where time must pass, timeouts are configured small and the outcome is
awaited with a deadline. The only sleeps check that something does *not* happen too soon.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from smsengine.bind import Backoff, BindEvent, BindKeeper, BindMode, SessionConfig, SmppBind
from smsengine.fakesmsc import FakeSMSC, config_from_dict
from smsengine.smpp import (
    AlreadyBoundError,
    AuthenticationError,
    CommandStatus,
    DeliverSm,
    NotSentError,
    OutcomeUnknownError,
    Response,
    SubmitSm,
    SubmitSmResp,
    Tag,
    Tlv,
    is_retriable_status,
)

S = CommandStatus


@pytest.fixture(autouse=True)
async def no_task_leaks() -> AsyncIterator[None]:
    """Whatever a test started — binds, keepers, the fake SMSC — is gone when it ends."""
    before = asyncio.all_tasks()
    yield
    await asyncio.sleep(0)  # let callbacks of just-closed transports run
    assert not new_tasks(before | {asyncio.current_task()})  # type: ignore[operator]


ACCOUNT = {"system_id": "shop", "password": "secret"}


def smsc_config(**extra: Any) -> dict[str, Any]:
    account = {**ACCOUNT, **extra.pop("account", {})}
    return {"accounts": [account], **extra}


@contextlib.asynccontextmanager
async def fake_smsc(**extra: Any) -> AsyncIterator[FakeSMSC]:
    smsc = FakeSMSC(config_from_dict(smsc_config(**extra)))
    await smsc.start()
    try:
        yield smsc
    finally:
        await smsc.stop(unbind_timeout=0.2)


def config(password: str = "secret", **kwargs: Any) -> SessionConfig:
    kwargs.setdefault("response_timeout", 2.0)
    kwargs.setdefault("enquire_link_interval", 5.0)
    return SessionConfig("shop", password, **kwargs)


def submit(n: int = 0, **fields: Any) -> SubmitSm:
    fields.setdefault("short_message", b"" if "tlvs" in fields else b"hi")
    return SubmitSm(source_addr="SHOP", destination_addr=f"86138{n:08d}", **fields)


class Recorder:
    """Collects BindEvents (with loop time) and lets a test await them."""

    def __init__(self) -> None:
        self.items: list[tuple[float, BindEvent]] = []
        self._changed = asyncio.Event()

    def __call__(self, event: BindEvent) -> None:
        self.items.append((asyncio.get_running_loop().time(), event))
        self._changed.set()

    def of(self, kind: str) -> list[BindEvent]:
        return [e for _, e in self.items if e.kind == kind]

    def times(self, kind: str) -> list[float]:
        return [t for t, e in self.items if e.kind == kind]

    async def wait(self, kind: str, count: int = 1, timeout: float = 3.0) -> BindEvent:
        async with asyncio.timeout(timeout):
            while len(self.of(kind)) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.of(kind)[count - 1]


async def eventually(condition: Callable[[], object], timeout: float = 3.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def outcomes(futures: list[asyncio.Future[Response]], timeout: float = 3.0
                   ) -> list[Response | BaseException]:
    """Each future's one outcome; fails if any is still pending after ``timeout``."""
    _, pending = await asyncio.wait(futures, timeout=timeout)
    assert not pending, f"{len(pending)} requests without an outcome"
    return [f.exception() or f.result() for f in futures]


def keeper_for(smsc: FakeSMSC, recorder: Recorder, cfg: SessionConfig | None = None,
               **kwargs: Any) -> BindKeeper:
    kwargs.setdefault("backoff", Backoff(initial=0.05, maximum=0.2, jitter=0.0))
    kwargs.setdefault("connect_timeout", 1.0)
    kwargs.setdefault("drain_timeout", 1.0)
    return BindKeeper("127.0.0.1", smsc.port, cfg or config(), on_event=recorder, **kwargs)


def new_tasks(before: set[asyncio.Task[Any]]) -> set[asyncio.Task[Any]]:
    return {t for t in asyncio.all_tasks() if t not in before and not t.done()}


def count_writes(bind: SmppBind) -> list[bytes]:
    """Record every transport.write of ``bind`` from now on."""
    transport = bind._transport
    assert transport is not None
    writes: list[bytes] = []
    real = transport.write

    def write(data: Any) -> None:
        writes.append(bytes(data))
        real(data)

    transport.write = write  # type: ignore[method-assign]
    return writes


async def fill_until_paused(bind: SmppBind, smsc: FakeSMSC) -> list[asyncio.Future[Response]]:
    """Make the SMSC stop reading and send big submits until the transport pauses us."""
    transport = bind._transport
    assert transport is not None
    transport.set_write_buffer_limits(high=64 * 1024)
    transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
    smsc.stall("read")
    payload = (Tlv(Tag.message_payload, b"x" * 60_000),)
    futures: list[asyncio.Future[Response]] = []
    async with asyncio.timeout(2.0):
        while not bind._paused:
            futures.append(bind.send_nowait(submit(len(futures), tlvs=payload)))
            await asyncio.sleep(0)
    return futures


# --- one bind ----------------------------------------------------------------------------------


async def test_open_send_close() -> None:
    async with fake_smsc() as smsc:
        before = asyncio.all_tasks()
        events = Recorder()
        bind = await SmppBind.open("127.0.0.1", smsc.port, config(), on_event=events)
        assert bind.is_bound
        sock = bind._transport.get_extra_info("socket")  # type: ignore[union-attr]
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        [info] = smsc.binds
        assert (info.account, info.mode) == ("shop", "transceiver")
        resp = await bind.send(submit())
        assert isinstance(resp, SubmitSmResp) and resp.ok and resp.message_id
        assert [e.message_id for e in smsc.ledger] == [resp.message_id]
        await bind.close()
        assert bind.closed.done() and not bind.is_bound
        assert [e.detail for e in events.of("unbound")] == ["by us"]
        assert [e.kind for e in events.of("bound") + events.of("disconnected")] == [
            "bound", "disconnected"]
        await eventually(lambda: not smsc.binds)
        with pytest.raises(NotSentError):
            bind.send_nowait(submit())
        assert not new_tasks(before)


async def test_everything_of_one_tick_leaves_in_one_write() -> None:
    async with (
        fake_smsc() as smsc,
        await SmppBind.open("127.0.0.1", smsc.port, config()) as bind,
    ):
        writes = count_writes(bind)
        futures = [bind.send_nowait(submit(i)) for i in range(20)]
        assert writes == []  # nothing yet: the write happens once, at the end of the tick
        results = await outcomes(futures)
        assert all(isinstance(r, SubmitSmResp) and r.ok for r in results)
        assert len(writes) == 1
        assert smsc.stats["pdus_in"] == 21  # the bind and the 20 submits


async def test_backpressure_holds_output_until_resumed() -> None:
    async with (
        fake_smsc() as smsc,
        await SmppBind.open("127.0.0.1", smsc.port, config()) as bind,
    ):
        transport = bind._transport
        assert transport is not None
        writes = count_writes(bind)
        bind.pause_writing()  # what the transport calls above its high-water mark
        assert not transport.is_reading()  # nor do we read more while we cannot answer
        futures = [bind.send_nowait(submit(i)) for i in range(5)]
        for _ in range(5):
            await asyncio.sleep(0)  # let any call_soon run: still nothing may be written
        assert writes == []
        bind.resume_writing()
        assert len(writes) == 1 and transport.is_reading()
        results = await outcomes(futures)
        assert all(isinstance(r, SubmitSmResp) and r.ok for r in results)


async def test_send_waits_for_a_window_slot() -> None:
    # The SMSC throttles anything beyond 2 unanswered requests, so 8 OK responses prove the
    # bind never had more than its window of 2 outstanding.
    async with (
        fake_smsc(account={"window": 2}, latency={"value": 0.05}) as smsc,
        await SmppBind.open("127.0.0.1", smsc.port, config(window=2)) as bind,
    ):
        results = await asyncio.gather(*(bind.send(submit(i)) for i in range(8)))
        assert [r.command_status for r in results] == [0] * 8
        assert smsc.stats["throttled"] == 0
        assert bind.session.window_free == 2


async def test_window_full_is_not_sent() -> None:
    async with (
        fake_smsc(latency={"value": 0.1}) as smsc,
        await SmppBind.open("127.0.0.1", smsc.port, config(window=3)) as bind,
    ):
        futures = [bind.send_nowait(submit(i)) for i in range(3)]
        with pytest.raises(NotSentError, match="window"):
            bind.send_nowait(submit(3))
        await bind.wait_window()
        assert bind.session.window_free >= 1
        assert all(isinstance(r, SubmitSmResp) for r in await outcomes(futures))
        assert len(smsc.ledger) == 3


@pytest.mark.parametrize(("password", "status"), [("wrong", S.ESME_RINVPASWD)])
async def test_open_refused_raises_the_bind_error(password: str, status: int) -> None:
    async with fake_smsc() as smsc:
        before = asyncio.all_tasks()
        with pytest.raises(AuthenticationError) as info:
            await SmppBind.open("127.0.0.1", smsc.port, config(password))
        assert info.value.status == status
        await eventually(lambda: smsc.stats["binds_refused"] == 1 and not smsc._conns)
        assert not new_tasks(before)


async def test_receiver_bind_cannot_submit() -> None:
    async with fake_smsc() as smsc:
        cfg = config(mode=BindMode.RECEIVER)
        async with await SmppBind.open("127.0.0.1", smsc.port, cfg) as bind:
            with pytest.raises(NotSentError) as info:
                bind.send_nowait(submit())
            assert info.value.status == S.ESME_RINVBNDSTS
            assert [b.mode for b in smsc.binds] == ["receiver"]


async def test_mo_messages_are_acked_and_handed_over() -> None:
    async with fake_smsc() as smsc:
        async with await SmppBind.open("127.0.0.1", smsc.port, config()) as bind:
            result = await smsc.inject_mo("8613800138000", "SHOP", "reply STOP", timeout=2.0)
            assert result.ok  # the SMSC got a deliver_sm_resp with ESME_ROK
            pdu = await asyncio.wait_for(bind.messages(), 2.0)
            assert isinstance(pdu, DeliverSm) and pdu.short_message == b"reply STOP"
        await eventually(lambda: not smsc.binds)
        got: list[Any] = []
        cfg = config()
        async with await SmppBind.open("127.0.0.1", smsc.port, cfg, on_message=got.append):
            assert (await smsc.inject_mo("1", "SHOP", "x" * 300, timeout=2.0)).ok
            assert len(got) == 2  # two parts, each answered
            assert all(p.esm_class & 0x40 for p in got)  # UDH


async def test_receipts_come_by_their_ids_with_on_receipt() -> None:
    """receipt_tlvs and on_receipt: each receipt arrives as (receipted_message_id,
    message_state), acked; without on_receipt the same receipt comes whole, as always."""
    async with fake_smsc() as smsc:
        ids: list[tuple[str, int]] = []
        cfg = config(receipt_tlvs=True)
        async with await SmppBind.open("127.0.0.1", smsc.port, cfg,
                                       on_receipt=lambda i, s: ids.append((i, s))) as bind:
            resps = [await bind.send(submit(n, registered_delivery=1)) for n in range(3)]
            await eventually(lambda: len(ids) == 3)
            assert sorted(ids) == sorted((r.message_id, 2) for r in resps)  # 2: DELIVERED
        await eventually(lambda: not smsc.binds)
        async with await SmppBind.open("127.0.0.1", smsc.port, cfg) as bind:
            resp = await bind.send(submit(9, registered_delivery=1))
            pdu = await asyncio.wait_for(bind.messages(), 2.0)
            assert isinstance(pdu, DeliverSm) and pdu.is_receipt
            assert pdu.tlv(Tag.receipted_message_id) == resp.message_id


async def test_unread_messages_are_bounded() -> None:
    async with fake_smsc() as smsc:
        events = Recorder()
        cfg = config()
        async with await SmppBind.open("127.0.0.1", smsc.port, cfg, on_event=events,
                                       max_queued_messages=2) as bind:
            for text in ("one", "two", "three"):
                assert (await smsc.inject_mo("1", "SHOP", text, timeout=2.0)).ok
            assert [e.detail for e in events.of("protocol_error")] == [
                "incoming message queue full; oldest dropped"]
            got = [await asyncio.wait_for(bind.messages(), 1.0) for _ in range(2)]
            assert [p.short_message for p in got] == [b"two", b"three"]  # type: ignore[attr-defined]


async def test_keepalive_keeps_a_quiet_bind_up() -> None:
    async with fake_smsc() as smsc:
        events = Recorder()
        cfg = config(enquire_link_interval=0.05, response_timeout=0.5)
        async with await SmppBind.open("127.0.0.1", smsc.port, cfg, on_event=events) as bind:
            # bind + 4 enquire_links: every 0.05 s, not every response_timeout (0.5 s)
            await eventually(lambda: smsc.stats["pdus_in"] >= 5, timeout=1.0)
            assert bind.is_bound and not events.of("timeout") and not events.of("disconnected")


# --- faults on one bind ------------------------------------------------------------------------


def via_callback(bind: SmppBind, request: SubmitSm) -> asyncio.Future[Response]:
    """send_callback, its one outcome turned into a future for the test to await."""
    fut: asyncio.Future[Response] = asyncio.get_running_loop().create_future()

    def done(response: Response | None, error: Exception | None) -> None:
        assert not fut.done(), "a second outcome"
        if error is not None:
            fut.set_exception(error)
        else:
            assert response is not None
            fut.set_result(response)

    bind.send_callback(request, done)
    return fut


@pytest.mark.parametrize("how", ["send_nowait", "send_callback"])
async def test_response_timeout_fires_on_time_not_at_the_next_keepalive(how: str) -> None:
    async with fake_smsc() as smsc:
        events = Recorder()
        cfg = config(response_timeout=0.2, enquire_link_interval=30.0)
        async with await SmppBind.open("127.0.0.1", smsc.port, cfg, on_event=events) as bind:
            # Once the bind's own deadline has passed, the one timer waits for the keepalive,
            # 30 s away; a request sent now must still time out after 0.2 s.
            loop = asyncio.get_running_loop()
            await eventually(lambda: bind._timer_at > loop.time() + 10)
            smsc.stall("answer")
            fut = bind.send_nowait(submit()) if how == "send_nowait" else via_callback(
                bind, submit())
            [error] = await outcomes([fut], timeout=2.0)
            assert isinstance(error, OutcomeUnknownError) and error.timed_out
            assert events.of("timeout")
            assert bind.session.window_free == bind.config.window
            smsc.resume()
            assert (await bind.send(submit())).command_status == 0


async def test_requests_never_written_are_not_sent() -> None:
    async with fake_smsc() as smsc:
        bind = await SmppBind.open("127.0.0.1", smsc.port, config())
        futures = [bind.send_nowait(submit(i)) for i in range(3)]
        bind.abort()  # in the same tick: the flush must not hand them to a dying transport
        results = await outcomes(futures)
        assert all(type(r) is NotSentError for r in results), results
        await bind.closed
        assert len(smsc.ledger) == 0


async def test_drop_in_the_middle_of_a_full_window() -> None:
    async with fake_smsc(latency={"value": 0.5}) as smsc:
        events = Recorder()
        async with keeper_for(smsc, events, config(window=16)) as keeper:
            bind = await keeper.wait_bound(2.0)
            futures = [keeper.send_nowait(submit(i)) for i in range(16)]
            with pytest.raises(NotSentError):
                keeper.send_nowait(submit(99))  # the window is full
            await eventually(lambda: smsc.stats["pdus_in"] == 17)
            smsc.drop_connections()
            results = await outcomes(futures)
            assert all(type(r) is OutcomeUnknownError for r in results), results
            assert len(smsc.ledger) == 16  # why: the SMSC did take them all
            with pytest.raises(NotSentError):
                bind.send_nowait(submit())
            new = await keeper.wait_bound(2.0)
            assert new is not bind
            assert (await keeper.send(submit())).command_status == 0
            assert keeper.binds_made == 2


@pytest.mark.parametrize("mode", ["answer", "read"])
async def test_stall_times_out_requests_then_detects_the_dead_peer(mode: str) -> None:
    async with fake_smsc() as smsc:
        events = Recorder()
        cfg = config(response_timeout=0.2, enquire_link_interval=0.2)
        async with keeper_for(smsc, events, cfg) as keeper:
            await keeper.wait_bound(2.0)
            smsc.stall(mode)
            futures = [keeper.send_nowait(submit(i)) for i in range(5)]
            results = await outcomes(futures)
            assert all(isinstance(r, OutcomeUnknownError) and r.timed_out for r in results)
            disconnected = await events.wait("disconnected")
            assert "enquire_link" in disconnected.detail
            smsc.resume()
            await keeper.wait_bound(3.0)
            assert (await keeper.send(submit())).command_status == 0


async def test_server_unbind() -> None:
    async with fake_smsc(latency={"value": 0.5}) as smsc:
        events = Recorder()
        async with keeper_for(smsc, events) as keeper:
            first = await keeper.wait_bound(2.0)
            futures = [keeper.send_nowait(submit(i)) for i in range(3)]
            await eventually(lambda: smsc.stats["pdus_in"] == 4)
            await smsc.unbind_all(timeout=1.0)
            assert [e.detail for e in events.of("unbound")] == ["by the SMSC"]
            results = await outcomes(futures)
            assert all(type(r) is OutcomeUnknownError for r in results), results
            assert first.close_reason == "unbound by the SMSC"
            second = await keeper.wait_bound(2.0)
            assert second is not first
            assert (await keeper.send(submit())).command_status == 0


async def test_garbage_from_the_smsc_kills_the_connection_not_the_keeper() -> None:
    async with fake_smsc(latency={"value": 0.5}) as smsc:
        events = Recorder()
        async with keeper_for(smsc, events) as keeper:
            await keeper.wait_bound(2.0)
            fut = keeper.send_nowait(submit())
            await eventually(lambda: smsc.stats["pdus_in"] == 2)
            smsc.send_garbage()
            [result] = await outcomes([fut])
            assert type(result) is OutcomeUnknownError
            assert "command_length" in (await events.wait("disconnected")).detail
            await keeper.wait_bound(2.0)
            assert (await keeper.send(submit())).command_status == 0


@pytest.mark.parametrize("status", ["ESME_RTHROTTLED", "ESME_RMSGQFUL"])
async def test_throttling_burst_comes_back_as_retriable_responses(status: str) -> None:
    async with fake_smsc(account={"tps": 5, "throttle_status": status}) as smsc:
        events = Recorder()
        async with await SmppBind.open("127.0.0.1", smsc.port, config(),
                                       on_event=events) as bind:
            results = await outcomes([bind.send_nowait(submit(i)) for i in range(20)])
            statuses = [r.command_status for r in results]  # type: ignore[union-attr]
            throttled = [s for s in statuses if s]
            assert statuses.count(0) == 5 and len(throttled) == 15  # burst: one second's worth
            assert set(throttled) == {getattr(S, status)}
            assert is_retriable_status(getattr(S, status))
            assert [e.status for e in events.of("throttled")] == [getattr(S, status)] * 15
            assert bind.is_bound
            # Retried later, the same message gets through: the bind never went away.
            async with asyncio.timeout(2.0):
                while (await bind.send(submit())).command_status:
                    await asyncio.sleep(0.05)
            assert len(smsc.ledger) == 6


# --- the keeper --------------------------------------------------------------------------------


async def test_refused_binds_back_off_then_recover() -> None:
    async with fake_smsc() as smsc:
        smsc.refuse_binds(0.5)
        events = Recorder()
        async with keeper_for(smsc, events) as keeper:
            await keeper.wait_bound(3.0)
            failed = events.of("bind_failed")
            assert failed and all(e.status == S.ESME_RBINDFAIL for e in failed)
            delays = [e.delay for e in events.of("reconnect_scheduled")]
            assert delays[:3] == [0.05, 0.1, 0.2]  # exponential, then capped
            assert all(d == 0.2 for d in delays[3:])
            assert not events.of("alarm")
            assert keeper.binds_made == 1
            assert (await keeper.send(submit())).command_status == 0


@pytest.mark.parametrize(("system_id", "password", "status"), [
    ("shop", "wrong", S.ESME_RINVPASWD),
    ("nobody", "secret", S.ESME_RINVSYSID),
])
async def test_authentication_failure_alarms_and_backs_off_long(system_id: str, password: str,
                                                                status: int) -> None:
    async with fake_smsc() as smsc:
        before = asyncio.all_tasks()
        events = Recorder()
        cfg = SessionConfig(system_id, password, response_timeout=1.0)
        keeper = keeper_for(smsc, events, cfg, auth_failure_delay=0.6,
                            backoff=Backoff(initial=0.01, maximum=0.01, jitter=0.0))
        keeper.start()
        alarm = await events.wait("alarm")
        assert alarm.status == status and "authentication" in alarm.detail
        assert events.of("reconnect_scheduled")[0].delay == 0.6
        await asyncio.sleep(0.4)  # the ordinary backoff (0.01 s) would have retried 40 times
        assert smsc.stats["binds_refused"] == 1
        await events.wait("alarm", 2, timeout=2.0)
        first, second = events.times("alarm")
        assert second - first >= 0.6
        assert smsc.stats["binds_refused"] == 2
        assert not keeper.is_bound
        await keeper.stop()
        assert events.of("stopped")
        assert not new_tasks(before)


async def test_already_bound_waits_for_the_old_bind_to_go() -> None:
    async with fake_smsc(account={"max_binds": 1}) as smsc:
        events = Recorder()
        old = await SmppBind.open("127.0.0.1", smsc.port, config())
        keeper = keeper_for(smsc, events, already_bound_delay=0.3,
                            backoff=Backoff(initial=0.01, maximum=0.01, jitter=0.0))
        async with keeper:
            failed = await events.wait("bind_failed")
            assert failed.status == S.ESME_RALYBND
            scheduled = await events.wait("reconnect_scheduled")
            assert scheduled.detail == "already bound" and scheduled.delay == 0.3
            with pytest.raises(AlreadyBoundError):
                await SmppBind.open("127.0.0.1", smsc.port, config())
            refused = smsc.stats["binds_refused"]
            await old.close()
            await keeper.wait_bound(2.0)
            assert smsc.stats["binds_refused"] == refused  # waited; did not hammer
            assert not events.of("alarm")


async def test_smsc_restart() -> None:
    async with fake_smsc(latency={"value": 0.5}) as smsc:
        events = Recorder()
        async with keeper_for(smsc, events) as keeper:
            first = await keeper.wait_bound(2.0)
            futures = [keeper.send_nowait(submit(i)) for i in range(4)]
            await eventually(lambda: smsc.stats["pdus_in"] == 5)
            await smsc.restart(down_for=0.3)
            results = await outcomes(futures)
            assert all(type(r) is OutcomeUnknownError for r in results), results
            # While it was down, connecting failed and the keeper backed off.
            assert any(e.status is None for e in events.of("bind_failed"))
            second = await keeper.wait_bound(2.0)
            assert second is not first and keeper.binds_made == 2
            assert (await keeper.send(submit())).command_status == 0


async def test_stop_drains_in_flight_requests_then_unbinds() -> None:
    async with fake_smsc(latency={"value": 0.2}) as smsc:
        before = asyncio.all_tasks()
        events = Recorder()
        keeper = keeper_for(smsc, events)
        keeper.start()
        await keeper.wait_bound(2.0)
        futures = [keeper.send_nowait(submit(i)) for i in range(5)]
        await keeper.stop()
        assert all(f.done() for f in futures)
        assert all(isinstance(f.result(), SubmitSmResp) for f in futures)  # drained, not cut
        assert [e.detail for e in events.of("unbound")] == ["by us"]
        assert [e.kind for _, e in events.items][-2:] == ["disconnected", "stopped"]
        assert not keeper.is_bound
        with pytest.raises(NotSentError):
            keeper.send_nowait(submit())
        await eventually(lambda: not smsc.binds)
        assert not new_tasks(before)


async def test_close_is_bounded_when_the_smsc_never_answers() -> None:
    async with fake_smsc() as smsc:
        before = asyncio.all_tasks()
        bind = await SmppBind.open("127.0.0.1", smsc.port, config(response_timeout=30.0))
        smsc.stall("answer")
        futures = [bind.send_nowait(submit(i)) for i in range(3)]
        async with asyncio.timeout(2.0):
            await bind.close(drain_timeout=0.2, unbind_timeout=0.2)
        assert bind.closed.done()
        results = await outcomes(futures, timeout=0.1)
        assert all(type(r) is OutcomeUnknownError for r in results), results
        assert not new_tasks(before)


async def test_stop_while_reconnecting_leaves_nothing_behind() -> None:
    async with fake_smsc() as smsc:
        smsc.refuse_binds(30.0)
        before = asyncio.all_tasks()
        events = Recorder()
        keeper = keeper_for(smsc, events, backoff=Backoff(initial=5.0, jitter=0.0))
        keeper.start()
        await events.wait("reconnect_scheduled")
        async with asyncio.timeout(1.0):
            await keeper.stop()  # wakes the backoff sleep at once
        assert not new_tasks(before)
        assert smsc.stats["binds_refused"] == 1


# --- backoff -----------------------------------------------------------------------------------


def test_backoff_is_exponential_and_capped() -> None:
    b = Backoff(initial=1.0, factor=2.0, maximum=10.0, jitter=0.0)
    assert [b.next() for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    b.reset()
    assert b.next() == 1.0


def test_backoff_jitter_is_bounded_and_seeded() -> None:
    def draws(seed: int) -> list[float]:
        b = Backoff(initial=1.0, factor=2.0, maximum=8.0, jitter=0.3, rng=random.Random(seed))
        return [b.next() for _ in range(8)]

    first = draws(7)
    assert first == draws(7)
    assert first != draws(8)
    for got, ceiling in zip(first, [1, 2, 4, 8, 8, 8, 8, 8], strict=True):
        assert 0.7 * ceiling <= got <= ceiling
    assert len(set(first[3:])) == 5  # jittered: binds that failed together spread out


def test_backoff_survives_a_very_long_outage() -> None:
    b = Backoff(initial=1.0, factor=2.0, maximum=60.0, jitter=0.0)
    for _ in range(5000):  # ~3.5 days of one attempt a minute
        delay = b.next()
    assert delay == 60.0


async def test_backpressure_for_real_dead_peer_when_the_smsc_stops_reading() -> None:
    # The SMSC stops reading; big submits fill the socket buffers until the transport pauses
    # us. Requests still queued in the session when their deadline passes mean the peer is dead.
    async with fake_smsc() as smsc:
        events = Recorder()
        cfg = config(response_timeout=0.3, enquire_link_interval=30.0, window=200)
        bind = await SmppBind.open("127.0.0.1", smsc.port, cfg, on_event=events)
        futures = await fill_until_paused(bind, smsc)
        payload = (Tlv(Tag.message_payload, b"x" * 60_000),)
        queued = [bind.send_nowait(submit(900 + i, tlvs=payload)) for i in range(3)]
        await asyncio.wait_for(asyncio.shield(bind.closed), 2.0)
        assert "not reading" in bind.close_reason
        results = await outcomes(futures + queued, timeout=0.1)
        assert all(type(r) is NotSentError for r in results[-3:]), results[-3:]
        assert all(type(r) is OutcomeUnknownError for r in results[:len(futures)])


async def test_close_is_bounded_even_when_the_smsc_stops_reading() -> None:
    # A graceful transport.close() waits for the peer to take our buffered output. A peer that
    # stopped reading never does: close() must still end the connection and every request.
    async with fake_smsc() as smsc:
        before = asyncio.all_tasks()
        cfg = config(response_timeout=30.0, enquire_link_interval=30.0, window=200)
        bind = await SmppBind.open("127.0.0.1", smsc.port, cfg)
        futures = await fill_until_paused(bind, smsc)
        async with asyncio.timeout(2.0):
            await bind.close(drain_timeout=0.1, unbind_timeout=0.1)
        assert bind.closed.done()
        results = await outcomes(futures, timeout=0.1)
        assert all(isinstance(r, (OutcomeUnknownError, NotSentError)) for r in results)
        assert not new_tasks(before)
