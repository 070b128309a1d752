"""``smsengine serve`` as a child process for tests: a config written to a temporary folder,
started on a free port (read from what it prints), an aiohttp session with the API key, and
killed on the way out if the test has not stopped it."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import ssl
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

__all__ = ["KEY", "READ_KEY", "SEND_KEY", "Daemon", "daemon", "daemon_config"]

KEY = "test-admin-key-0123456789"
SEND_KEY = "test-send-key-0123456789"
READ_KEY = "test-read-key-0123456789"


QUIET_OFF = "[policy.quiet_hours]\nenabled = false"


def daemon_config(folder: Path, smsc_port: int, *, channel: str = "",
                  store: str = "", server: str = "", top: str = "",
                  policy: str = QUIET_OFF, keys: str = "") -> Path:
    """A daemon config on ``smsc_port`` (one SMPP channel ``main``), with three keys: admin
    (KEY), send only (SEND_KEY), read only (READ_KEY). The strings add TOML lines to the
    channel, [store], [server], the top level, the end (``policy``: [policy] tables; by
    default quiet hours off, so that marketing sent at any hour goes at once) and the keys
    (``keys``: lines of the admin key, such as sign_name)."""
    path = folder / "smsengine.toml"
    path.write_text(f"""
{top}
[[channels]]
name = "main"
host = "127.0.0.1"
port = {smsc_port}
system_id = "shop"
password = "secret"
transceivers = 2
response_timeout = 3.0
{channel}

[server]
host = "127.0.0.1"
port = 0
shutdown_timeout = 5.0
{server}

[store]
path = "{folder / 'outbox.db'}"
{store}

[[api_keys]]
name = "admin"
key = "{KEY}"
scopes = ["admin"]
{keys}

[[api_keys]]
name = "sender"
key_env = "TEST_SMSENGINE_SEND_KEY"
scopes = ["send"]

[[api_keys]]
name = "reader"
key = "{READ_KEY}"
scopes = ["read"]

{policy}
""", encoding="utf-8")
    return path


class Daemon:
    """A running ``smsengine serve``: ``base`` URL, ``http`` session (admin key by default)."""

    def __init__(self, proc: asyncio.subprocess.Process, base: str, log: list[str],
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.proc = proc
        self.base = base
        self.log = log  # its stderr lines so far (the reader task appends)
        self.http = aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {KEY}"},
            connector=aiohttp.TCPConnector(ssl=ssl_context) if ssl_context else None)

    async def request(self, method: str, path: str, *, json: Any = None, data: Any = None,
                      headers: dict[str, str] | None = None,
                      key: str | None = KEY) -> tuple[int, Any, Mapping[str, str]]:
        """(status, decoded JSON body or None, headers (case-insensitive))."""
        hdrs = dict(headers or {})
        if key != KEY:
            hdrs["Authorization"] = f"Bearer {key}" if key else ""
        async with self.http.request(method, self.base + path, json=json, data=data,
                                     headers=hdrs) as resp:
            raw = await resp.read()
            body = None
            if raw and resp.content_type in ("application/json", "application/problem+json"):
                body = await resp.json(content_type=None)
            return resp.status, body, resp.headers.copy()

    async def send(self, **message: Any) -> str:
        status, body, _ = await self.request("POST", "/v1/messages", json=message)
        assert status == 202, body
        return str(body["id"])

    async def message(self, message_id: str) -> dict[str, Any]:
        status, body, _ = await self.request("GET", f"/v1/messages/{message_id}")
        assert status == 200, body
        return dict(body)

    async def until(self, message_id: str, done: Callable[[dict[str, Any]], bool],
                    timeout: float = 15.0) -> dict[str, Any]:
        """Poll the message until ``done(it)`` (AssertionError with its last state if not)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = await self.message(message_id)
            if done(found):
                return found
            assert loop.time() < deadline, f"{message_id} still {found['state']}: {found}"
            await asyncio.sleep(0.05)

    async def terminate(self, timeout: float = 20.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.proc.wait(), timeout)

    def kill(self) -> None:
        self.proc.kill()


@asynccontextmanager
async def daemon(config: Path, *extra: str, env: dict[str, str] | None = None,
                 timeout: float = 20.0,
                 ssl_context: ssl.SSLContext | None = None) -> AsyncIterator[Daemon]:
    """``ssl_context``: the client's, for a daemon serving HTTPS."""
    environ = {**os.environ, "TEST_SMSENGINE_SEND_KEY": SEND_KEY, **(env or {})}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "smsengine", "serve", "--config", str(config), *extra,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=environ)
    assert proc.stdout is not None and proc.stderr is not None
    log: list[str] = []

    async def read_log() -> None:
        assert proc.stderr is not None
        async for line in proc.stderr:
            log.append(line.decode(errors="replace"))
            del log[:-5000]  # (bounded: a long test keeps the last lines)

    reader = asyncio.get_running_loop().create_task(read_log())
    base = ""
    try:
        while not base:
            line = (await asyncio.wait_for(proc.stdout.readline(), timeout)).decode()
            assert line, f"smsengine serve exited before listening: {''.join(log)[-2000:]}"
            if m := re.fullmatch(r"smsengine serve listening on (https?://\S+)\n", line):
                base = m.group(1)
        running = Daemon(proc, base, log, ssl_context)
        try:
            yield running
        finally:
            await running.http.close()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        reader.cancel()
