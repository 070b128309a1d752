"""Issue 16, item 8, over real TCP: a peer writes good PDUs and garbage in one write.

The bind must settle the response (the future gets the submit_sm_resp / SUBMIT_RESP, not
OutcomeUnknownError) and put the ack of the deliver_sm / DELIVER on the wire before it closes
the connection. The peer is a few lines of asyncio streams around the codec, so that it sends
exactly those bytes in exactly one write.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from smsengine.bind import CmppBind, SessionConfig, SmppBind
from smsengine.cmpp import (
    Connect,
    ConnectResp,
    Deliver,
    DeliverResp,
    Submit,
    Version,
    encode,
)
from smsengine.cmpp import Framer as CmppFramer
from smsengine.cmpp.session import CmppSessionConfig
from smsengine.smpp import (
    BindTransceiver,
    BindTransceiverResp,
    DeliverSm,
    DeliverSmResp,
    Framer,
    NotSentError,
    SubmitSm,
)

GARBAGE = b"\xde\xad\xbe\xef" * 8
V30 = Version.V30

# (framer, the whole of what the peer received, the bytes the peer wrote for each request)
Reply = Callable[[Any], bytes | None]


@contextlib.asynccontextmanager
async def peer(framer: Any, reply: Reply) -> AsyncIterator[tuple[int, list[Any],
                                                                  asyncio.Future[None]]]:
    """A one-connection server: answers each request with ``reply(pdu)`` (nothing for None),
    keeps every PDU it received, and resolves the future at EOF."""
    received: list[Any] = []
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                for pdu in framer.feed(data):
                    received.append(pdu)
                    out = reply(pdu)
                    if out is not None:
                        writer.write(out)
        except ConnectionError:
            pass
        finally:
            writer.close()
            if not done.done():
                done.set_result(None)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port, received, done
    finally:
        server.close()
        await server.wait_closed()


async def settle(closed: Awaitable[None], done: Awaitable[None]) -> None:
    await asyncio.wait_for(closed, 5.0)
    await asyncio.wait_for(done, 5.0)


async def test_smpp_bind_settles_and_acks_what_came_before_garbage() -> None:
    deliver = DeliverSm(sequence_number=41, source_addr="8613800138000", short_message=b"TD")

    def reply(pdu: Any) -> bytes | None:
        if isinstance(pdu, BindTransceiver):
            return BindTransceiverResp(sequence_number=pdu.sequence_number,
                                       system_id="smsc").encode()
        if isinstance(pdu, SubmitSm):
            return pdu.response(message_id="M1").encode() + deliver.encode() + GARBAGE
        return None

    messages: list[Any] = []
    async with peer(Framer(), reply) as (port, received, done):
        bind = await SmppBind.open("127.0.0.1", port, SessionConfig("shop", "secret"),
                                   on_message=messages.append)
        resp = await asyncio.wait_for(bind.send(SubmitSm(destination_addr="8613800138000")), 5)
        assert resp.command_status == 0 and getattr(resp, "message_id", None) == "M1"
        await settle(bind.closed, done)
    assert messages == [deliver]
    assert DeliverSmResp(sequence_number=41) in received
    assert "command_length" in bind.close_reason


async def test_cmpp_bind_settles_and_acks_what_came_before_garbage() -> None:
    deliver = Deliver(sequence_id=41, msg_id=99, dest_id="1065", src_terminal_id="13800138000",
                      msg_content=b"TD")

    def reply(pdu: Any) -> bytes | None:
        if isinstance(pdu, Connect):
            return encode(ConnectResp(sequence_id=pdu.sequence_id, status=0, version=V30), V30)
        if isinstance(pdu, Submit):
            return (encode(pdu.response(msg_id=77), V30)
                    + encode(deliver, V30) + GARBAGE)
        return None

    messages: list[Any] = []
    config = CmppSessionConfig("900001", "888888", verify_ismg="off")
    async with peer(CmppFramer(V30), reply) as (port, received, done):
        bind = await CmppBind.open("127.0.0.1", port, config, on_message=messages.append)
        submit = Submit(dest_terminal_ids=("13800138000",), msg_content=b"hi", msg_src="900001")
        resp = await asyncio.wait_for(bind.send(submit), 5)
        assert resp.command_status == 0 and getattr(resp, "msg_id", None) == 77
        await settle(bind.closed, done)
    assert messages == [deliver]
    assert DeliverResp(sequence_id=41, msg_id=99, result=0) in received
    assert "Total_Length" in bind.close_reason


class Wire:
    """A transport that keeps what is written, for driving a bind without a socket."""

    def __init__(self, bind: SmppBind) -> None:
        self.bind = bind
        self.written: list[bytes] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        assert not self.closing, "written after close"
        self.written.append(data)

    def is_closing(self) -> bool:
        return self.closing

    def abort(self) -> None:
        if not self.closing:
            self.closing = True
            asyncio.get_running_loop().call_soon(self.bind.connection_lost, None)

    close = abort

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def test_a_dead_peer_does_not_get_the_requests_queued_in_the_same_tick() -> None:
    """Only a framing error writes what is queued before the abort (its answers). When the
    peer stopped answering enquire_link, a request queued in the tick the timer fires stays
    unwritten and ends NotSentError (safe to retry), not outcome-unknown. (The session reads
    the loop's clock, so the test waits the few milliseconds the deadlines need.)"""
    config = SessionConfig("shop", "secret", response_timeout=0.02, enquire_link_interval=0.01)
    bind = SmppBind(config)
    wire = Wire(bind)
    bind.connection_made(wire)  # type: ignore[arg-type]
    bind.data_received(BindTransceiverResp(sequence_number=1, system_id="smsc").encode())
    assert bind.is_bound
    time.sleep(0.015)
    bind._on_timer()  # the keepalive is due: enquire_link written
    assert len(wire.written) == 2
    time.sleep(0.025)
    future = bind.send_nowait(SubmitSm(destination_addr="8613800138000"))  # queued, not written
    bind._on_timer()  # no enquire_link_resp: the peer is dead
    assert wire.closing and len(wire.written) == 2
    await asyncio.sleep(0)  # connection_lost
    assert isinstance(future.exception(), NotSentError)
