"""Secrets never leak (issue 21): ``smsengine serve`` at DEBUG with JSON logs and the
``smsengine fakesmsc`` it sends to, both as subprocesses, with distinctive secrets: the carrier
password (from an environment variable), a wrong one in the file on a second channel the
carrier refuses, the API key and the webhook secret (from environment variables too). A whole
flow runs: messages sent one and in a batch, receipts, signed webhook deliveries to a receiver
here, refused keys, bad, unparsable and oversized requests, /metrics, /readyz, /v1/overview,
the events, stats and the other reads. Then everything captured (both processes' stdout and
stderr, every response's status line, headers and body, every webhook request, and the
outbox's files) is searched for each secret, in the forms it could take."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from standardwebhooks.webhooks import Webhook

from tests._support.fakesmsc_process import fakesmsc

CARRIER_PASSWORD = "Kq7vX2pZ"  # (SMPP: at most 8 characters)
WRONG_PASSWORD = "Wr0ngPw9"  # a second channel's, which the carrier refuses
API_KEY = "sk-canary-7f3b1e94c2d8a6f0-api"
WRONG_KEY = "sk-canary-wrong-5a2c9e1d7b3f"
HOOK_KEY = b"canary-webhook-key-6d1f0b9a"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(HOOK_KEY).decode()
SECRETS = {
    "carrier password": CARRIER_PASSWORD, "wrong carrier password": WRONG_PASSWORD,
    "API key": API_KEY, "wrong API key": WRONG_KEY, "webhook secret": WEBHOOK_SECRET,
    "webhook secret's base64": WEBHOOK_SECRET.removeprefix("whsec_"),
    "webhook key": HOOK_KEY.decode(), "webhook key in hex": HOOK_KEY.hex(),
}


def _config(folder: Path, smsc_port: int, hook_url: str) -> Path:
    path = folder / "smsengine.toml"
    path.write_text(f"""
[[channels]]
name = "main"
host = "127.0.0.1"
port = {smsc_port}
system_id = "shop"
password_env = "CANARY_CARRIER_PASSWORD"
transceivers = 1

[[channels]]
name = "refused"
host = "127.0.0.1"
port = {smsc_port}
system_id = "shop2"
password = "{WRONG_PASSWORD}"
transceivers = 1

[[routes]]
channels = ["refused"]
kinds = ["marketing"]

[[routes]]
channels = ["main"]

[server]
host = "127.0.0.1"
port = 0
max_body = 4096
shutdown_timeout = 5.0

[store]
path = "{folder / 'outbox.db'}"

[[api_keys]]
name = "shop"
key_env = "CANARY_API_KEY"
scopes = ["send", "read", "admin"]

[[webhooks]]
name = "shop"
url = "{hook_url}"
secret_env = "CANARY_WEBHOOK_SECRET"
retry_min = 0.1
retry_max = 1.0

[policy.quiet_hours]
enabled = false
""", encoding="utf-8")
    return path


class Capture:
    """Every byte the test saw from the daemon, as text."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    async def request(self, http: aiohttp.ClientSession, method: str, url: str, *,
                      key: str | None = API_KEY, **kwargs: Any) -> tuple[int, bytes]:
        headers = dict(kwargs.pop("headers", {}) or {})
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        async with http.request(method, url, headers=headers, **kwargs) as resp:
            body = await resp.read()
            self.parts.append(f"{method} {resp.url.path} -> {resp.status} {resp.reason}\n"
                              + "".join(f"{k}: {v}\n" for k, v in resp.headers.items())
                              + body.decode(errors="replace"))
            return resp.status, body


async def test_no_secret_appears_in_logs_answers_metrics_or_webhooks(tmp_path: Path) -> None:
    capture = Capture()
    hooks: list[dict[str, Any]] = []
    verifier = Webhook(WEBHOOK_SECRET)

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        verifier.verify(body, dict(request.headers))
        capture.parts.append("".join(f"{k}: {v}\n" for k, v in request.headers.items())
                             + body.decode(errors="replace"))
        payload = json.loads(body)
        hooks.extend(payload if isinstance(payload, list) else [payload])
        return web.Response(status=204)

    receiver = web.Application()
    receiver.router.add_post("/hook", hook)
    runner = web.AppRunner(receiver)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    hook_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    smsc_toml = tmp_path / "smsc.toml"
    smsc_toml.write_text(f"""
[[accounts]]
system_id = "shop"
password = "{CARRIER_PASSWORD}"

[[accounts]]
system_id = "shop2"
password = "not-{WRONG_PASSWORD[:3]}"

[receipts]
delay = {{ kind = "uniform", low = 0.05, high = 0.3 }}
""", encoding="utf-8")
    out, err = tmp_path / "daemon.out", tmp_path / "daemon.err"
    try:
        async with fakesmsc("--config", str(smsc_toml)) as smsc:
            config = _config(tmp_path, smsc.port, f"http://127.0.0.1:{hook_port}/hook")
            with out.open("wb") as stdout, err.open("wb") as stderr:
                proc = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "smsengine", "serve", "--config", str(config),
                    "--log-level", "debug", "--log-format", "json",
                    stdout=stdout, stderr=stderr,
                    env={**os.environ, "CANARY_API_KEY": API_KEY,
                         "CANARY_CARRIER_PASSWORD": CARRIER_PASSWORD,
                         "CANARY_WEBHOOK_SECRET": WEBHOOK_SECRET})
            try:
                base = await _listening(out, proc)
                async with aiohttp.ClientSession() as http:
                    await _flow(capture, http, base, hooks)
            finally:
                if proc.returncode is None:
                    proc.send_signal(signal.SIGTERM)
                    await asyncio.wait_for(proc.wait(), 30)
            assert proc.returncode == 0
            smsc.proc.send_signal(signal.SIGTERM)
            smsc_out, smsc_err = await asyncio.wait_for(smsc.proc.communicate(), 30)
    finally:
        await runner.cleanup()

    logged = err.read_text(encoding="utf-8")
    assert '"level": "debug"' in logged  # (it did log at DEBUG)
    assert "refused" in logged  # (the refused channel's bind failures are in it)
    assert '"logger": "aiohttp.access"' not in logged  # (one line a request, the daemon's own)
    captured = {
        "daemon stdout": out.read_text(encoding="utf-8"), "daemon stderr": logged,
        "fakesmsc stdout": smsc_out.decode(errors="replace"),
        "fakesmsc stderr": smsc_err.decode(errors="replace"),
        "answers and webhooks": "\n".join(capture.parts),
        # (at rest too: the outbox, its events and idempotency records)
        "the outbox": b"".join(f.read_bytes() for f in tmp_path.glob("outbox.db*")
                               ).decode("latin-1"),
    }
    leaks = [f"{name} in {where}" for where, text in captured.items()
             for name, secret in SECRETS.items() if secret in text]
    assert not leaks, leaks


async def _listening(out: Path, proc: asyncio.subprocess.Process) -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while True:
        if m := re.search(r"smsengine serve listening on (http://\S+)\n", out.read_text()):
            return m.group(1)
        assert proc.returncode is None, "smsengine serve exited before listening"
        assert loop.time() < deadline, "smsengine serve did not start"
        await asyncio.sleep(0.05)


async def _flow(capture: Capture, http: aiohttp.ClientSession, base: str,
                hooks: list[dict[str, Any]]) -> None:
    loop = asyncio.get_running_loop()
    ask = capture.request
    # Sends: one, a batch, one with an Idempotency-Key (twice), a marketing one for the
    # channel whose bind the carrier refuses.
    status, body = await ask(http, "POST", base + "/v1/messages",
                             json={"to": "8613800138000", "text": "one"})
    assert status == 202, body
    ids = [json.loads(body)["id"]]
    status, body = await ask(http, "POST", base + "/v1/messages", json={"messages": [
        {"to": f"861380013800{n}", "text": f"batch {n}"} for n in range(1, 6)]})
    assert status == 202, body
    ids += [m["id"] for m in json.loads(body)["messages"]]
    for _ in range(2):
        status, body = await ask(http, "POST", base + "/v1/messages",
                                 json={"to": "8613800138009", "text": "once"},
                                 headers={"Idempotency-Key": "canary-1"})
        assert status == 202, body
    ids.append(json.loads(body)["id"])
    status, body = await ask(http, "POST", base + "/v1/messages",
                             json={"to": "8613800138010", "text": "sale", "kind": "marketing"})
    assert status in (202, 400), body  # (400 once the daemon knows the carrier refuses it)

    # Refusals: a wrong key, no key, another scheme, bad JSON, a bad field, a batch too big,
    # a body too big, an unknown path and method, an unknown message.
    for key, headers in ((WRONG_KEY, {}), (None, {}),
                         (None, {"Authorization": f"Basic {API_KEY}"}),
                         (API_KEY + "x", {})):
        status, _ = await ask(http, "GET", base + "/v1/messages", key=key, headers=headers)
        assert status == 401
    for data in (b"{not json", b'{"to": 5}', json.dumps({"to": "x" * 40, "text": "t"}).encode(),
                 json.dumps({"to": "8613800138000", "text": "x" * 5000}).encode()):
        status, _ = await ask(http, "POST", base + "/v1/messages", data=data,
                              headers={"Content-Type": "application/json"})
        assert 400 <= status < 500, status
    for method, path in (("GET", "/nowhere"), ("DELETE", "/v1/messages"),
                         ("GET", "/v1/messages/no-such-id"),
                         ("GET", "/v1/messages?limit=-1")):
        status, _ = await ask(http, method, base + path)
        assert 400 <= status < 500, (method, path, status)

    # Requests aiohttp cannot parse, holding the key: answered 400 as problem details, the
    # offending line neither logged nor echoed.
    host, port = base.removeprefix("http://").split(":")
    for raw in (f"Authorization: Bearer {API_KEY}\x01\r\n",
                f"Authorization Bearer {API_KEY}\r\n",
                f"Content-Length: {API_KEY}\r\n"):
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(f"GET /v1/messages HTTP/1.1\r\nHost: x\r\n{raw}\r\n".encode())
        answer = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        capture.parts.append(answer.decode(errors="replace"))
        assert answer.startswith(b"HTTP/1.1 400") or answer.startswith(b"HTTP/1.0 400"), answer
        assert b"application/problem+json" in answer, answer

    # Every message delivered, its receipt heard, its events delivered to the webhook.
    deadline = loop.time() + 30
    for message_id in ids:
        while True:
            status, body = await ask(http, "GET", f"{base}/v1/messages/{message_id}")
            assert status == 200, body
            if json.loads(body)["state"] == "delivered":
                break
            assert loop.time() < deadline, body
            await asyncio.sleep(0.1)
    while {e["data"].get("id") for e in hooks if e["type"] == "message.delivered"} < set(ids):
        assert loop.time() < deadline, hooks
        await asyncio.sleep(0.1)

    # What operators and dashboards read.
    for path in ("/metrics", "/readyz", "/healthz", "/v1/overview", "/openapi.json",
                 "/v1/events", "/v1/stats", "/v1/messages?limit=50", "/v1/me",
                 "/v1/webhooks/failed", "/v1/templates", "/v1/campaigns", "/v1/suppressions",
                 "/console/"):
        status, body = await ask(http, "GET", base + path)
        assert status in (200, 503), (path, status, body)
