"""A raw CMPP client for tests: asyncio streams and smsengine's CMPP codec, nothing else.

Like ``tests/_support/smpp_client.py`` it does exactly what a test says — send these PDUs,
give me the next one — so a test can put the fake ISMG in any state and see every octet it
answers.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any, TypeVar

from smsengine.cmpp import (
    Connect,
    ConnectResp,
    Deliver,
    DeliverResp,
    Framer,
    InvalidPdu,
    Pdu,
    Response,
    Submit,
    Version,
    authenticator_source,
    encode,
    timestamp_now,
)
from smsengine.fakesmsc import Account, Config, FakeISMG, config_from_dict

__all__ = ["SECRET", "SP", "Closed", "CmppClient", "ismg_running", "sp_account"]

P = TypeVar("P", bound=Pdu)

SP = "900001"
SECRET = "888888"


def sp_account(**fields: Any) -> Account:
    return Account(SP, SECRET, **fields)


class Closed(Exception):
    """The server closed the connection."""


class CmppClient:
    """One TCP connection to a CMPP ISMG, speaking ``version``."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 version: int) -> None:
        self.reader = reader
        self.writer = writer
        self.version = version
        self.framer = Framer(version)
        self.events: deque[Pdu | InvalidPdu] = deque()
        self.raw: list[bytes] = []  # every chunk read, for length checks
        self.seq = 0
        self.eof = False

    @classmethod
    async def connect(cls, port: int, version: int = Version.V30) -> CmppClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer, version)

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    async def send(self, *pdus: Pdu | bytes) -> None:
        self.writer.write(b"".join(p if isinstance(p, bytes) else encode(p, self.version)
                                   for p in pdus))
        await self.writer.drain()

    async def recv(self, timeout: float = 2.0) -> Pdu | InvalidPdu:
        """The next PDU; TimeoutError if none in time, Closed at end of stream."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.events:
            if self.eof:
                raise Closed("connection closed by the server")
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError(f"no PDU within {timeout} s")
            try:
                data = await asyncio.wait_for(self.reader.read(65536), left)
            except ConnectionResetError:
                data = b""
            if not data:
                self.eof = True
                continue
            self.raw.append(data)
            self.events.extend(self.framer.feed(data))
        return self.events.popleft()

    async def expect(self, kind: type[P], timeout: float = 2.0) -> P:
        pdu = await self.recv(timeout)
        assert isinstance(pdu, kind), f"expected {kind.__name__}, got {pdu!r}"
        return pdu

    async def request(self, pdu: Pdu, timeout: float = 2.0) -> Response:
        await self.send(pdu)
        resp = await self.recv(timeout)
        assert isinstance(resp, Response), f"expected a response, got {resp!r}"
        assert resp.sequence_id == pdu.sequence_id, resp
        return resp

    def connect_pdu(self, source_addr: str = SP, secret: str = SECRET,
                    version: int | None = None) -> Connect:
        ts = timestamp_now(time.localtime())
        return Connect(sequence_id=self.next_seq(), source_addr=source_addr,
                       authenticator_source=authenticator_source(source_addr, secret, ts),
                       version=self.version if version is None else version, timestamp=ts)

    async def login(self, source_addr: str = SP, secret: str = SECRET,
                    version: int | None = None) -> ConnectResp:
        resp = await self.request(self.connect_pdu(source_addr, secret, version))
        assert isinstance(resp, ConnectResp)
        return resp

    def submit_pdu(self, **fields: Any) -> Submit:
        fields.setdefault("src_id", "10690001")
        fields.setdefault("msg_src", SP)
        fields.setdefault("service_id", "TEST")
        fields.setdefault("dest_terminal_ids", ("13800138000",))
        fields.setdefault("msg_content", b"hello")
        return Submit(sequence_id=self.next_seq(), **fields)

    async def submit(self, timeout: float = 2.0, **fields: Any) -> Response:
        return await self.request(self.submit_pdu(**fields), timeout)

    async def delivers(self, count: int, timeout: float = 3.0,
                       answer: bool = True) -> list[Deliver]:
        """The next ``count`` DELIVERs (other PDUs are skipped), each answered with Result 0."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        out: list[Deliver] = []
        while len(out) < count:
            pdu = await self.recv(max(0.001, deadline - loop.time()))
            if isinstance(pdu, Deliver):
                if answer:
                    await self.send(DeliverResp(sequence_id=pdu.sequence_id, msg_id=pdu.msg_id))
                out.append(pdu)
        return out

    async def wait_closed(self, timeout: float = 2.0) -> list[Pdu | InvalidPdu]:
        """Read until the server closes the connection; return what came before."""
        out: list[Pdu | InvalidPdu] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                out.append(await self.recv(max(0.001, deadline - loop.time())))
            except Closed:
                return out

    async def close(self) -> None:
        self.writer.close()
        with suppress(OSError):
            await self.writer.wait_closed()


@asynccontextmanager
async def ismg_running(config: Config | None = None, **fields: Any) -> AsyncIterator[FakeISMG]:
    """A started FakeISMG that waits only briefly for clients ignoring its TERMINATE. With no
    ``config``: ``protocol = "cmpp"``, ``accounts=[sp_account()]`` and ``fields`` (plain dicts
    are fine for nested sections)."""
    if config is None:
        fields.setdefault("accounts", [sp_account()])
        config = config_from_dict({"protocol": "cmpp", **fields})
    ismg = FakeISMG(config)
    await ismg.start()
    try:
        yield ismg
    finally:
        await ismg.stop(unbind_timeout=0.05)
