"""asyncio CMPP connections (CmppBind, CmppBindKeeper) over real TCP on 127.0.0.1, against a
small ISMG written here from the codec.

Conditions, not sleeps: where time must pass, timeouts are configured small and the outcome is
awaited with a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest

from smsengine.bind import Backoff, BindEvent, CmppBind, CmppBindKeeper, Keeper
from smsengine.cmpp import (
    ActiveTest,
    CmppAuthenticationError,
    CmppNotSentError,
    CmppOutcomeUnknownError,
    CmppSessionConfig,
    Connect,
    ConnectResp,
    Deliver,
    DeliverResp,
    Framer,
    Pdu,
    Response,
    Submit,
    SubmitResp,
    Terminate,
    Version,
    authenticator_ismg,
    authenticator_source,
    encode,
)
from smsengine.link import AuthenticationError, LinkError, NotSentError

SP_ID = "900001"
SECRET = "888888"
LOCAL = SimpleNamespace(tm_mon=1, tm_mday=2, tm_hour=3, tm_min=4, tm_sec=5)


class Ismg:
    """A TCP ISMG: checks the login, answers SUBMIT (Result ``result``), ACTIVE_TEST and
    TERMINATE; ``silent`` stops it answering SUBMITs; ``drop_after`` SUBMITs it hangs up."""

    def __init__(self, secret: str = SECRET, version: int = Version.V30) -> None:
        self.secret = secret
        self.version = version
        self.result = 0
        self.silent = False
        self.drop_after: int | None = None
        self.submits = 0
        self.received: list[Pdu] = []
        self.conns: list[_IsmgConn] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: _IsmgConn(self), "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for conn in self.conns:
            if conn.transport is not None:
                conn.transport.abort()
        await self.server.wait_closed()

    def push(self, pdu: Pdu) -> None:
        """Send a request (DELIVER, ACTIVE_TEST, TERMINATE) on the latest connection."""
        self.conns[-1].send(pdu, new_seq=True)


class _IsmgConn(asyncio.Protocol):
    def __init__(self, ismg: Ismg) -> None:
        self.ismg = ismg
        self.framer = Framer(ismg.version)
        self.transport: asyncio.Transport | None = None
        self.seq = 0
        ismg.conns.append(self)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def send(self, pdu: Pdu, *, new_seq: bool = False) -> None:
        seq = None
        if new_seq:
            self.seq += 1
            seq = self.seq
        if self.transport is not None:
            self.transport.write(encode(pdu, self.ismg.version, sequence_id=seq))

    def data_received(self, data: bytes) -> None:
        ismg = self.ismg
        out: list[bytes] = []
        for pdu in self.framer.feed(data):
            assert isinstance(pdu, Pdu), pdu
            ismg.received.append(pdu)
            resp: Response | None = None
            if isinstance(pdu, Connect):
                ok = pdu.authenticator_source == authenticator_source(
                    pdu.source_addr, ismg.secret, pdu.timestamp)
                status = 0 if ok else 3
                resp = ConnectResp(
                    sequence_id=pdu.sequence_id, status=status, version=ismg.version,
                    authenticator_ismg=authenticator_ismg(
                        status, pdu.authenticator_source, ismg.secret)
                    if ok else bytes(16),
                )  # fmt: skip
            elif isinstance(pdu, Submit):
                ismg.submits += 1
                if ismg.drop_after is not None and ismg.submits > ismg.drop_after:
                    assert self.transport is not None
                    self.transport.abort()
                    return
                if not ismg.silent:
                    resp = SubmitResp(sequence_id=pdu.sequence_id, msg_id=ismg.submits,
                                      result=ismg.result)
            elif isinstance(pdu, (ActiveTest, Terminate)):
                resp = pdu.response()
            if resp is not None:
                out.append(encode(resp, ismg.version))
            if isinstance(pdu, Terminate) and self.transport is not None:
                self.transport.write(b"".join(out))
                self.transport.close()
                return
        if out and self.transport is not None:
            self.transport.write(b"".join(out))


@pytest.fixture(autouse=True)
async def no_task_leaks() -> AsyncIterator[None]:
    before = asyncio.all_tasks()
    yield
    await asyncio.sleep(0)
    assert not [t for t in asyncio.all_tasks() - before if t is not asyncio.current_task()
                and not t.done()]


@contextlib.asynccontextmanager
async def ismg_server(**kwargs: Any) -> AsyncIterator[Ismg]:
    ismg = Ismg(**kwargs)
    await ismg.start()
    try:
        yield ismg
    finally:
        await ismg.stop()


def config(secret: str = SECRET, **kwargs: Any) -> CmppSessionConfig:
    kwargs.setdefault("response_timeout", 2.0)
    kwargs.setdefault("clock", lambda: LOCAL)
    return CmppSessionConfig(SP_ID, secret, **kwargs)


def submit(n: int = 0) -> Submit:
    return Submit(dest_terminal_ids=(f"138{n:08d}",), msg_content=b"hi", msg_src=SP_ID)


async def test_open_send_close() -> None:
    events: list[BindEvent] = []
    async with ismg_server() as ismg:
        async with await CmppBind.open("127.0.0.1", ismg.port, config(),
                                       on_event=events.append) as bind:
            assert bind.is_bound and bind.name == SP_ID
            resp = await bind.send(submit())
            assert isinstance(resp, SubmitResp) and resp.result == 0 and resp.message_id == "1"
        assert bind.closed.done()
        assert [type(p) for p in ismg.received] == [Connect, Submit, Terminate]
    kinds = [e.kind for e in events]
    assert kinds[:2] == ["connecting", "bound"] and "unbound" in kinds


async def test_the_timestamp_comes_from_the_host_clock_by_default() -> None:
    async with ismg_server() as ismg:
        cfg = CmppSessionConfig(SP_ID, SECRET)
        async with await CmppBind.open("127.0.0.1", ismg.port, cfg) as bind:
            assert bind.is_bound
        connect = ismg.received[0]
        assert isinstance(connect, Connect) and 101000000 <= connect.timestamp <= 1231235959


async def test_2_0() -> None:
    async with ismg_server(version=Version.V20) as ismg, await CmppBind.open(
        "127.0.0.1", ismg.port, config(version=Version.V20)
    ) as bind:
        resp = await bind.send(submit())
        assert resp.command_status == 0


async def test_1000_submits_pipelined_through_send_callback() -> None:
    async with ismg_server() as ismg, await CmppBind.open(
        "127.0.0.1", ismg.port, config(window=1000)
    ) as bind:
        done = asyncio.get_running_loop().create_future()
        results: list[tuple[Response | None, LinkError | None]] = []

        def callback(resp: Response | None, err: LinkError | None) -> None:
            results.append((resp, err))
            if len(results) == 1000:
                done.set_result(None)

        for i in range(1000):
            bind.send_callback(submit(i), callback)
        assert bind.session.window_free == 0
        await asyncio.wait_for(done, 10)
        assert all(err is None and isinstance(resp, SubmitResp) and resp.result == 0
                   for resp, err in results)
        msg_ids = sorted(r.msg_id for r, _ in results)  # type: ignore[union-attr]
        assert msg_ids == list(range(1, 1001))
        assert ismg.submits == 1000


async def test_window_16_by_default_with_many_senders() -> None:
    async with ismg_server() as ismg, await CmppBind.open("127.0.0.1", ismg.port, config()) as bind:
        for i in range(16):
            bind.send_nowait(submit(i))
        with pytest.raises(CmppNotSentError):
            bind.send_nowait(submit(16))
        resps = await asyncio.wait_for(
            asyncio.gather(*(bind.send(submit(i)) for i in range(200))), 10)
        assert len(resps) == 200 and bind.session.window_free == 16


async def test_wrong_secret_raises_an_authentication_error() -> None:
    async with ismg_server() as ismg:
        with pytest.raises(CmppAuthenticationError) as info:
            await CmppBind.open("127.0.0.1", ismg.port, config("wrong"))
        assert isinstance(info.value, AuthenticationError)
        assert info.value.status == 3


async def test_keeper_alarms_and_waits_long_on_wrong_secret() -> None:
    events: list[BindEvent] = []
    async with ismg_server() as ismg:
        keeper = CmppBindKeeper("127.0.0.1", ismg.port, config("wrong"),
                                auth_failure_delay=300.0, on_event=events.append)
        async with keeper:
            for _ in range(200):
                if any(e.kind == "reconnect_scheduled" for e in events):
                    break
                await asyncio.sleep(0.01)
        alarm = [e for e in events if e.kind == "alarm"]
        assert len(alarm) == 1 and alarm[0].status == 3
        (scheduled,) = [e for e in events if e.kind == "reconnect_scheduled"]
        assert scheduled.delay == 300.0


async def test_keeper_binds_sends_and_terminates_on_stop() -> None:
    async with ismg_server() as ismg:
        keeper = CmppBindKeeper("127.0.0.1", ismg.port, config(), backoff=Backoff(0.01))
        assert isinstance(keeper, Keeper)
        async with keeper:
            bind = await keeper.wait_bound(5)
            assert isinstance(bind, CmppBind)
            resp = await keeper.send(submit())
            assert resp.command_status == 0
        assert isinstance(ismg.received[-1], Terminate)


async def test_keeper_reconnects_after_a_drop() -> None:
    async with ismg_server() as ismg, CmppBindKeeper(
        "127.0.0.1", ismg.port, config(), backoff=Backoff(0.01, jitter=0)
    ) as keeper:
        first = await keeper.wait_bound(5)
        ismg.conns[-1].transport.abort()  # type: ignore[union-attr]
        await asyncio.wait_for(first.closed, 5)
        second = await keeper.wait_bound(5)
        assert second is not first and keeper.binds_made == 2


async def test_result_8_is_a_response_and_a_throttled_event() -> None:
    events: list[BindEvent] = []
    async with ismg_server() as ismg:
        ismg.result = 8
        async with await CmppBind.open("127.0.0.1", ismg.port, config(),
                                       on_event=events.append) as bind:
            resp = await bind.send(submit())
            assert resp.command_status == 8
    (throttled,) = [e for e in events if e.kind == "throttled"]
    assert throttled.status == 8 and throttled.detail == "FLOW_CONTROL"


async def test_drop_with_requests_in_flight_ends_each_once() -> None:
    async with ismg_server() as ismg:
        ismg.drop_after = 5
        bind = await CmppBind.open("127.0.0.1", ismg.port, config())
        futures = [bind.send_nowait(submit(i)) for i in range(16)]
        await asyncio.wait_for(bind.closed, 5)
        with pytest.raises(NotSentError):  # (CMPP's, a link.NotSentError)
            bind.send_nowait(submit())
        outcomes = [f.exception() if f.exception() else f.result() for f in futures]
        assert all(f.done() for f in futures)
        responses = [o for o in outcomes if isinstance(o, SubmitResp)]
        unknown = [o for o in outcomes if isinstance(o, CmppOutcomeUnknownError)]
        assert len(responses) + len(unknown) == 16  # all were written in one go
        assert len(unknown) >= 11
        await bind.close()


async def test_response_timeout_is_an_unknown_outcome() -> None:
    events: list[BindEvent] = []
    async with ismg_server() as ismg:
        ismg.silent = True
        async with await CmppBind.open("127.0.0.1", ismg.port, config(response_timeout=0.2),
                                       on_event=events.append) as bind:
            with pytest.raises(CmppOutcomeUnknownError) as info:
                await asyncio.wait_for(bind.send(submit()), 5)
            assert info.value.timed_out
    assert any(e.kind == "timeout" for e in events)


async def test_deliver_is_acknowledged_and_handed_over() -> None:
    async with ismg_server() as ismg, await CmppBind.open("127.0.0.1", ismg.port, config()) as bind:
        ismg.push(Deliver(msg_id=77, dest_id="1066", src_terminal_id="13800138000",
                          msg_content=b"MO"))
        pdu = await asyncio.wait_for(bind.messages(), 5)
        assert isinstance(pdu, Deliver) and pdu.msg_content == b"MO"
        for _ in range(200):
            if any(isinstance(p, DeliverResp) for p in ismg.received):
                break
            await asyncio.sleep(0.01)
        (resp,) = [p for p in ismg.received if isinstance(p, DeliverResp)]
        assert resp.msg_id == 77 and resp.result == 0 and resp.sequence_id == 1


async def test_ismg_terminate_closes_the_bind() -> None:
    events: list[BindEvent] = []
    async with ismg_server() as ismg:
        bind = await CmppBind.open("127.0.0.1", ismg.port, config(), on_event=events.append)
        ismg.push(Terminate())
        await asyncio.wait_for(bind.closed, 5)
        assert bind.close_reason == "unbound by the SMSC"
        await bind.close()
    assert any(e.kind == "unbound" for e in events)


async def test_keepalive_over_tcp() -> None:
    async with ismg_server() as ismg, await CmppBind.open(
        "127.0.0.1", ismg.port, config(active_test_interval=0.05, active_test_timeout=1.0)
    ) as bind:
        for _ in range(300):
            if sum(isinstance(p, ActiveTest) for p in ismg.received) >= 2:
                break
            await asyncio.sleep(0.01)
        assert sum(isinstance(p, ActiveTest) for p in ismg.received) >= 2
        assert bind.is_bound


async def test_against_the_fake_ismg() -> None:
    """The project's fake ISMG (written apart from this session), when it is there."""
    fakesmsc = pytest.importorskip("smsengine.fakesmsc")
    fake_ismg = getattr(fakesmsc, "FakeISMG", None)
    if fake_ismg is None:
        pytest.skip("no FakeISMG yet")
    cfg = fakesmsc.config_from_dict(
        {"protocol": "cmpp", "accounts": [{"system_id": SP_ID, "password": SECRET}]})
    ismg = fake_ismg(cfg)
    await ismg.start()
    try:
        async with await CmppBind.open("127.0.0.1", ismg.port, config()) as bind:
            resps = await asyncio.wait_for(
                asyncio.gather(*(bind.send(submit(i)) for i in range(100))), 10)
            assert all(r.command_status == 0 for r in resps)
            assert len({r.message_id for r in resps}) == 100  # type: ignore[attr-defined]
    finally:
        await ismg.stop(unbind_timeout=0.05)
