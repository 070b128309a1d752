"""``smsengine fakesmsc`` as a child process for tests: started on free ports, its SMPP (or CMPP)
port and admin API address read from what it prints, an aiohttp session for the admin API, and
killed on the way out if the test has not ended it."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

__all__ = ["Smsc", "fakesmsc"]


class Smsc:
    """A running ``smsengine fakesmsc`` process."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int, admin: str) -> None:
        self.proc = proc
        self.port = port
        self.admin = admin
        self.http = aiohttp.ClientSession()

    async def get(self, path: str) -> Any:
        async with self.http.get(self.admin + path) as resp:
            assert resp.status == 200, await resp.text()
            return await (resp.json() if path != "/ledger" else resp.text())

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        async with self.http.post(self.admin + path, json=body) as resp:
            return resp.status, await resp.json()


@asynccontextmanager
async def fakesmsc(*args: str) -> AsyncIterator[Smsc]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "smsengine", "fakesmsc", "--port", "0", "--admin-port", "0", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    port, admin = 0, ""
    try:
        while not port:
            line = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode()
            assert line, "fakesmsc exited before listening"
            if m := re.fullmatch(r"fakesmsc admin API on (http://\S+)\n", line):
                admin = m.group(1)
            if m := re.fullmatch(r"fakesmsc listening on 127\.0\.0\.1:(\d+)(?: \(TLS\))?\n",
                                 line):
                port = int(m.group(1))
        assert admin, "the admin address is printed before the SMPP one"
        smsc = Smsc(proc, port, admin)
        try:
            yield smsc
        finally:
            await smsc.http.close()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
