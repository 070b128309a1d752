"""A raw SMGP client for tests: asyncio streams and smsengine's SMGP codec, nothing else.

Like ``tests/_support/cmpp_client.py`` it does exactly what a test says — send these PDUs,
give me the next one — so a test can put the fake SMGW in any state and see every octet it
answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from typing import Any

from smsengine.fakesmsc import Account
from smsengine.smgp import (
    Framer,
    InvalidPdu,
    Login,
    LoginResp,
    Pdu,
    Version,
    authenticator_client,
    encode,
    timestamp_now,
)

__all__ = ["CLIENT_ID", "SECRET", "Closed", "SmgpClient", "sp_account"]

CLIENT_ID = "sp001"
SECRET = "secret"


def sp_account(**fields: Any) -> Account:
    return Account(CLIENT_ID, SECRET, **fields)


class Closed(Exception):
    """The server closed the connection."""


class SmgpClient:
    """One TCP connection to an SMGP SMGW, speaking ``version``."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 version: int) -> None:
        self.reader = reader
        self.writer = writer
        self.version = version
        self.framer = Framer(version)
        self.events: deque[Pdu | InvalidPdu] = deque()
        self.seq = 0

    @classmethod
    async def connect(cls, port: int, version: int = Version.V30) -> SmgpClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer, version)

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    async def send(self, *pdus: Pdu | bytes) -> None:
        self.writer.write(b"".join(
            p if isinstance(p, bytes) else encode(p, self.version, sequence_id=p.sequence_id
                                                  or self.next_seq())
            for p in pdus))
        await self.writer.drain()

    async def recv(self, timeout: float = 2.0) -> Pdu | InvalidPdu:
        """The next PDU; TimeoutError if none in time, Closed at end of stream."""
        async with asyncio.timeout(timeout):
            while not self.events:
                data = await self.reader.read(65536)
                if not data:
                    raise Closed("the SMGW closed the connection")
                self.events.extend(self.framer.feed(data))
        return self.events.popleft()

    async def request(self, pdu: Pdu, timeout: float = 2.0) -> Pdu | InvalidPdu:
        await self.send(pdu)
        return await self.recv(timeout)

    def login_pdu(self, client_id: str = CLIENT_ID, secret: str = SECRET, *,
                  mode: int = 2) -> Login:
        stamp = timestamp_now(time.localtime())
        return Login(client_id=client_id, timestamp=stamp, login_mode=mode,
                     authenticator_client=authenticator_client(client_id, secret, stamp),
                     client_version=self.version)

    async def login(self, client_id: str = CLIENT_ID, secret: str = SECRET, *,
                    mode: int = 2) -> LoginResp:
        resp = await self.request(self.login_pdu(client_id, secret, mode=mode))
        assert isinstance(resp, LoginResp), resp
        return resp

    async def closed(self, timeout: float = 2.0) -> bool:
        """Whether the server closes the connection within ``timeout`` (PDUs before are
        dropped)."""
        try:
            while True:
                await self.recv(timeout)
        except Closed:
            return True
        except TimeoutError:
            return False

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()
