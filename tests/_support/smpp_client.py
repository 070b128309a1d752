"""A raw SMPP client for tests: asyncio streams and smsengine's Framer, nothing else.

It does exactly what a test tells it — send these PDUs, give me the next PDU — so tests can put
a server into any state, including wrong ones, and see every PDU it sends back.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any, TypeVar

from smsengine.fakesmsc import Config, FakeSMSC
from smsengine.smpp import (
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    DeliverSm,
    Framer,
    InvalidPdu,
    Pdu,
    Response,
    SubmitSm,
)

__all__ = ["Closed", "SmppClient", "eventually", "running"]

BIND_CLASSES = {"transmitter": BindTransmitter, "receiver": BindReceiver,
                "transceiver": BindTransceiver}

P = TypeVar("P", bound=Pdu)


class Closed(Exception):
    """The server closed the connection."""


class SmppClient:
    """One TCP connection to an SMPP server."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.framer = Framer()
        self.events: deque[Pdu | InvalidPdu] = deque()
        self.seq = 0
        self.eof = False

    @classmethod
    async def connect(cls, port: int, host: str = "127.0.0.1") -> SmppClient:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    async def send(self, *pdus: Pdu | bytes) -> None:
        """Write the PDUs in one write (raw bytes go as they are)."""
        self.writer.write(b"".join(p if isinstance(p, bytes) else p.encode() for p in pdus))
        await self.writer.drain()

    async def recv(self, timeout: float = 2.0) -> Pdu | InvalidPdu:
        """The next PDU; TimeoutError if none comes in time, Closed at end of stream."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not self.events:
            if self.eof:
                raise Closed("connection closed by the server")
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise TimeoutError(f"no PDU within {timeout} s")
            try:
                data = await asyncio.wait_for(self.reader.read(65536), left)
            except ConnectionResetError:
                data = b""
            if not data:
                self.eof = True
                continue
            self.events.extend(self.framer.feed(data))  # FramingError goes to the test
        return self.events.popleft()

    async def expect(self, kind: type[P], timeout: float = 2.0) -> P:
        """The next PDU, which must be a ``kind``."""
        pdu = await self.recv(timeout)
        assert isinstance(pdu, kind), f"expected {kind.__name__}, got {pdu!r}"
        return pdu

    async def expect_many(self, kind: type[P], count: int, timeout: float = 2.0) -> list[P]:
        """The next ``count`` PDUs, each of which must be a ``kind``."""
        return [await self.expect(kind, timeout) for _ in range(count)]

    async def request(self, pdu: Pdu, timeout: float = 2.0) -> Response:
        """Send one request and return the next PDU, which must be its response."""
        await self.send(pdu)
        resp = await self.recv(timeout)
        assert isinstance(resp, Response), f"expected a response, got {resp!r}"
        assert resp.sequence_number == pdu.sequence_number, resp
        return resp

    async def bind(self, mode: str = "transceiver", system_id: str = "shop",
                   password: str = "secret", timeout: float = 2.0) -> Response:
        cls = BIND_CLASSES[mode]
        return await self.request(
            cls(sequence_number=self.next_seq(), system_id=system_id, password=password),
            timeout,
        )

    def submit_sm(self, **fields: Any) -> SubmitSm:
        fields.setdefault("source_addr", "SHOP")
        fields.setdefault("destination_addr", "8613800138000")
        fields.setdefault("short_message", b"hello")
        return SubmitSm(sequence_number=self.next_seq(), **fields)

    async def submit(self, timeout: float = 2.0, **fields: Any) -> Response:
        return await self.request(self.submit_sm(**fields), timeout)

    async def collect(self, count: int, timeout: float = 3.0,
                      answer: bool = True) -> list[Pdu | InvalidPdu]:
        """The next ``count`` PDUs; with ``answer``, each deliver_sm is answered at once."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        out: list[Pdu | InvalidPdu] = []
        while len(out) < count:
            pdu = await self.recv(max(0.001, deadline - loop.time()))
            if answer and isinstance(pdu, DeliverSm):
                await self.send(pdu.response())
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
        with suppress(OSError):  # ConnectionError is an OSError
            await self.writer.wait_closed()


async def eventually(condition: Callable[[], object], timeout: float = 3.0,
                     interval: float = 0.02) -> None:
    """Poll ``condition`` until it is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)


@asynccontextmanager
async def running(config: Config | None = None) -> AsyncIterator[FakeSMSC]:
    """``async with FakeSMSC(config)``, but on the way out clients that are still bound (and
    never answer the unbind) are waited for 0.05 s, not the default second."""
    smsc = FakeSMSC(config)
    await smsc.start()
    try:
        yield smsc
    finally:
        await smsc.stop(unbind_timeout=0.05)
