"""Webhooks and the event feed, end to end: ``smsengine serve`` as a subprocess, the fake SMSC,
and a real HTTP receiver in this process that fails at random, goes down, and checks every
signature with the ``standardwebhooks`` package (an implementation no one here wrote)."""

from __future__ import annotations

import asyncio
import base64
import json
import random
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from standardwebhooks.webhooks import Webhook

from smsengine.daemon import DaemonConfigError
from smsengine.daemon.config import daemon_config_from_dict
from smsengine.fakesmsc import FakeSMSC, config_from_dict
from tests._support.daemon_process import Daemon, daemon, daemon_config

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
OLD_SECRET = "whsec_" + base64.b64encode(b"an older secret, being rotated!!").decode()


class Receiver:
    """A webhook receiver: verifies each request, records each event by id; fails a share of
    requests (500, before recording) and can be taken down (connections reset)."""

    def __init__(self, fail: float = 0.0, seed: int = 7) -> None:
        self.events: Counter[str] = Counter()
        self.bodies: list[dict[str, Any]] = []
        self.requests = 0
        self.failed = 0
        self.down = False
        self.fail = fail
        self.rng = random.Random(seed)
        self.verifier = Webhook(SECRET)
        self.url = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        body = await request.read()
        if self.down:
            assert request.transport is not None
            request.transport.close()  # (as a dead host would: no answer)
            return web.Response(status=503)
        # Raises if the signature (any of those sent) does not verify.
        self.verifier.verify(body, dict(request.headers))
        if self.rng.random() < self.fail:
            self.failed += 1
            return web.Response(status=500)
        payload = json.loads(body)
        for event in payload if isinstance(payload, list) else [payload]:
            self.events[event["id"]] += 1
            self.bodies.append(event)
        return web.Response(status=204)


@asynccontextmanager
async def receiving(receiver: Receiver) -> AsyncIterator[Receiver]:
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    receiver.url = f"http://127.0.0.1:{port}/hook"
    try:
        yield receiver
    finally:
        await runner.cleanup()


def _webhook(url: str, *, batch: int = 50, extra: str = "") -> str:
    return f"""
[[webhooks]]
name = "shop"
url = "{url}"
secrets = ["{SECRET}", "{OLD_SECRET}"]
batch = {batch}
timeout = 2.0
retry_min = 0.1
retry_max = 1.0
{extra}
"""


async def _all_final(gw: Daemon, ids: list[str], timeout: float = 60) -> None:
    for message_id in ids:
        await gw.until(message_id, lambda m: m["final"], timeout=timeout)


async def test_every_report_arrives_through_failures_an_outage_and_a_kill(tmp_path: Path) -> None:
    smsc = FakeSMSC(config_from_dict({
        "receipts": {"delay": {"kind": "uniform", "low": 0.05, "high": 0.5}}}))
    await smsc.start()
    receiver = Receiver(fail=0.3)
    try:
        async with receiving(receiver):
            config = daemon_config(tmp_path, smsc.port, top=_webhook(receiver.url))
            ids: list[str] = []
            async with daemon(config) as gw:
                for start in range(0, 2500, 500):
                    status, body, _ = await gw.request("POST", "/v1/messages", json={
                        "messages": [{"to": f"86139{n:08d}", "text": f"order {n} shipped",
                                      "out_id": f"o{n}"} for n in range(start, start + 500)]})
                    assert status == 202
                    ids += [m["id"] for m in body["messages"]]
                receiver.down = True  # the receiver goes away for ten seconds…
                await asyncio.sleep(10.0)
                receiver.down = False
                gw.kill()  # …and the daemon is killed with reports still owed
                await gw.proc.wait()
            async with daemon(config) as gw:
                for start in range(2500, 5000, 500):
                    status, body, _ = await gw.request("POST", "/v1/messages", json={
                        "messages": [{"to": f"86139{n:08d}", "text": f"order {n} shipped"}
                                     for n in range(start, start + 500)]})
                    assert status == 202
                    ids += [m["id"] for m in body["messages"]]
                await _all_final(gw, ids)
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 90
                while len(receiver.events) < len(ids):
                    if loop.time() > deadline:
                        told = {e["data"]["id"] for e in receiver.bodies}
                        missing = [i for i in ids if i not in told][:5]
                        states = [(await gw.message(i))["state"] for i in missing]
                        _, overview, _ = await gw.request("GET", "/v1/overview")
                        # Whether the log holds their events (a writer's fault) or not (the
                        # sender's), and messages told twice in the log.
                        logged: dict[str, list[int]] = {}
                        cursor = "0"
                        while True:
                            _, page, _ = await gw.request(
                                "GET", f"/v1/events?after={cursor}&limit=1000")
                            for e in page["events"]:
                                logged.setdefault(e["data"]["id"], []).append(
                                    int(e["id"].removeprefix("evt_")))
                            if not page["events"]:
                                break
                            cursor = page["next_cursor"]
                        raise AssertionError(
                            f"{len(told)} of {len(ids)} reports; missing e.g. "
                            f"{list(zip(missing, states, strict=True))}; in the log as "
                            f"{[logged.get(i) for i in missing]}; messages in the log "
                            f"{len(logged)}, told twice there "
                            f"{[(i, s) for i, s in logged.items() if len(s) > 1][:5]}; "
                            f"webhooks {overview['webhooks']}, counters "
                            f"{overview['counters']}; receiver: {receiver.requests} requests, "
                            f"{receiver.failed} failed")
                    await asyncio.sleep(0.1)
        by_message = {e["data"]["id"]: e for e in receiver.bodies}
        assert set(by_message) == set(ids)  # every message's final report, none lost
        assert {e["type"] for e in receiver.bodies} <= {"message.delivered", "message.unknown"}
        assert receiver.failed > 0 and receiver.requests > receiver.failed
        # At least once: an event may come again after the kill, never under another id.
        assert len(receiver.events) == len(ids)
        assert by_message[ids[0]]["data"]["out_id"] == "o0"
    finally:
        await smsc.stop()


async def test_the_event_feed_long_polls_and_its_cursor_survives_a_restart(
        smsc: FakeSMSC, tmp_path: Path) -> None:
    config = daemon_config(tmp_path, smsc.port)
    async with daemon(config) as gw:
        status, page, _ = await gw.request("GET", "/v1/events?after=0&wait=0")
        assert status == 200 and page["events"] == []
        waiting = asyncio.ensure_future(gw.request("GET", "/v1/events?after=0&wait=20"))
        await asyncio.sleep(0.2)
        assert not waiting.done()  # nothing yet: it waits
        first = await gw.send(to="8613900000001", text="hello")
        status, page, _ = await waiting
        assert [e["data"]["id"] for e in page["events"]] == [first]
        assert page["events"][0]["type"] == "message.delivered"
        cursor = page["next_cursor"]
        await smsc.inject_mo("8613900000002", "SHOP", "退订")
        status, page, _ = await gw.request("GET", f"/v1/events?after={cursor}&wait=10")
        [mo] = page["events"]
        assert mo["type"] == "mo.received" and mo["data"]["text"] == "退订"
        assert mo["data"]["opted_out"] is True
        cursor = page["next_cursor"]
        assert await gw.terminate() == 0
    async with daemon(config) as gw:
        second = await gw.send(to="8613900000003", text="again")
        status, page, _ = await gw.request("GET", f"/v1/events?after={cursor}&wait=10")
        assert [e["data"]["id"] for e in page["events"]] == [second]  # nothing old again
        status, page, _ = await gw.request("GET", "/v1/events?after=0&types=mo.*")
        assert [e["type"] for e in page["events"]] == ["mo.received"]


async def test_a_receiver_that_says_gone_is_disabled_and_dead_letters_replay(
        smsc: FakeSMSC, tmp_path: Path) -> None:
    gone = web.Application()
    answers = {"status": 500}
    got: list[Any] = []

    async def handle(request: web.Request) -> web.Response:
        got.append(await request.json())
        return web.Response(status=answers["status"])

    gone.router.add_post("/hook", handle)
    runner = web.AppRunner(gone)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/hook"  # type: ignore
    try:
        config = daemon_config(tmp_path, smsc.port, top=_webhook(
            url, batch=1, extra="horizon = 1.0"))
        async with daemon(config) as gw:
            first = await gw.send(to="8613900000010", text="one")
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 20
            while True:  # the receiver keeps failing: dead-lettered after the horizon
                status, page, _ = await gw.request("GET", "/v1/webhooks/failed")
                if page["failed"]:
                    break
                assert loop.time() < deadline
                await asyncio.sleep(0.1)
            [dead] = page["failed"]
            assert dead["endpoint"] == "shop" and dead["attempts"] >= 2
            assert dead["error"] == "HTTP 500"
            answers["status"] = 200
            got.clear()
            status, body, _ = await gw.request("POST", "/v1/webhooks/replay",
                                               json={"endpoint": "shop"})
            assert status == 200 and body["replayed"] == 1
            while not got:
                assert loop.time() < deadline + 10
                await asyncio.sleep(0.05)
            assert got[0]["data"]["id"] == first and got[0]["id"] == dead["event_id"]
            assert (await gw.request("GET", "/v1/webhooks/failed"))[1]["failed"] == []
            status, problem, _ = await gw.request("POST", "/v1/webhooks/replay",
                                                  json={"endpoint": "nope"})
            assert status == 404 and problem["errors"][0]["field"] == "endpoint"
            # 410 Gone: the endpoint is disabled, said in the log.
            answers["status"] = 410
            await gw.send(to="8613900000011", text="two")
            while not any("410 Gone" in line for line in gw.log):
                assert loop.time() < deadline + 20
                await asyncio.sleep(0.05)
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(("secret", "field"), [
    ("not-a-secret", "webhooks[0].secrets[0]"),
    ("whsec_!!!", "webhooks[0].secrets[0]"),
    ("whsec_" + base64.b64encode(b"short").decode(), "webhooks[0].secrets[0]"),
])
def test_a_wrong_secret_is_a_startup_error_naming_the_field(secret: str, field: str) -> None:
    with pytest.raises(DaemonConfigError) as caught:
        daemon_config_from_dict({
            "channels": [{"name": "main", "host": "127.0.0.1", "port": 1, "system_id": "a",
                          "password": ""}],
            "webhooks": [{"name": "w", "url": "http://x/", "secrets": [secret]}]})
    assert caught.value.field == field and secret not in str(caught.value)


async def test_a_receiver_that_answers_too_late_gets_it_again_counted(
        smsc: FakeSMSC, tmp_path: Path) -> None:
    # The first request is answered 200 only after the timeout (as "200 after 29 s" would be
    # against a 30 s timeout): the sender has given up on it and sends it again.
    slow = web.Application()
    seen: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(request.headers["webhook-id"])
        if len(seen) == 1:
            await asyncio.sleep(1.5)
        return web.Response(status=200)

    slow.router.add_post("/hook", handle)
    runner = web.AppRunner(slow)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/hook"  # type: ignore
    try:
        config = daemon_config(tmp_path, smsc.port,
                               top=_webhook(url, batch=1).replace("timeout = 2.0",
                                                                  "timeout = 0.5"))
        async with daemon(config) as gw:
            message_id = await gw.send(to="8613900000020", text="late")
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 15
            while len(seen) < 2:
                assert loop.time() < deadline
                await asyncio.sleep(0.05)
            assert seen[0] == seen[1]  # the same webhook-id: the receiver can dedup
            status, overview, _ = await gw.request("GET", "/v1/overview")
            assert status == 200 and overview["counters"]["webhook_failed"] >= 1
            assert overview["counters"]["webhook_delivered"] >= 1
            assert overview["webhooks"]["shop"]["backlog"] == 0
            assert (await gw.message(message_id))["final"]
    finally:
        await runner.cleanup()
