"""asyncio SGIP 1.2 connections, both ways (section 11 of the SGIP reference): the generic
:class:`~smsengine.bind.base.Bind` driving a sans-I/O :class:`~smsengine.sgip.SgipSession`
(the SP's connection to the SMG), a keeper that opens it on demand, and the small listener the
SMG connects back to with MO and Reports.

:class:`SgipBind` brings its session and the throttle Results (11 node busy, 33, 88 flow
control); everything else — one write per loop tick, one timer, backpressure, honest
outcomes, reconnect back-off, the alarm and long wait after a refused Bind (Result 1 or 4) —
is :mod:`smsengine.bind.base`'s::

    config = SgipSessionConfig("sp_user", "sp_pass", node_id=3010012345)
    async with await SgipBind.open("127.0.0.1", 8801, config) as bind:
        resp = await bind.send(Submit(...))        # SubmitResp, whatever its Result

SGIP has no keep-alive: a connection without traffic for ``idle_timeout`` logs out by itself
(11.2). :class:`SgipBindKeeper` then stays *dormant* — reported as bound, the connection
closed — and reconnects when someone reaches for its bind (``keeper.bind``, as a channel does
when it has something to send); after a lost connection it reconnects with back-off as any
keeper does.

:class:`SgipListener` accepts the SMG's connections (Login Type 2, checked against a
:class:`~smsengine.sgip.SgipReceiverConfig`), each an :class:`SgipReceiverBind` whose
Deliver, Report and UserRpt are answered and handed to ``on_message``; the SMG may hold
several at once. With an ``on_receipt`` and a config that reads reports apart
(``SgipReceiverConfig(receipts=True)``), a Report saying delivered comes to ``on_receipt`` as
its Submit's id (the 30-digit Sequence Number) and the neutral state instead.

The listener's events are named ``smg_*`` (``smg_bound``, ``smg_disconnected``) apart from
``protocol_error`` (a refused SMG login among them), so they cannot be taken for the SP's own
connection going up or down.

The timestamp part of each Sequence Number is taken from ``config.clock``, by default
``time.localtime``: the host's time zone, which should be Beijing time.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any, ClassVar

from ..link import LinkError
from ..sgip import (
    ErrorCode,
    Request,
    Response,
    Result,
    SgipNotSentError,
    SgipReceiverConfig,
    SgipReceiverSession,
    SgipSession,
    SgipSessionConfig,
)
from .base import Backoff, Bind, BindEvent, EventHandler, Keeper, ReceiptHandler, WriteBarrier

__all__ = ["SgipBind", "SgipBindKeeper", "SgipListener", "SgipMessageHandler",
           "SgipReceiverBind", "SgipResultCallback"]

SgipResultCallback = Callable[[Response | None, LinkError | None], None]
SgipMessageHandler = Callable[[Request], None]


class SgipBind(Bind[SgipSessionConfig, Request, Response]):
    """The SP's connection to the SMG and its login (Bind … Unbind). Create with
    :meth:`open`."""

    throttle_statuses: ClassVar[frozenset[int]] = frozenset(
        {Result.NODE_BUSY, ErrorCode.SMSC_QUEUE_FULL, Result.FLOW_CONTROL})
    not_sent_error = SgipNotSentError
    session: SgipSession

    def _make_session(self, config: SgipSessionConfig, now: float) -> SgipSession:
        return SgipSession(config, now, clock=config.clock or time.localtime)

    def _emit(self, kind: str, detail: str = "", status: int | None = None) -> None:
        # A logout for idleness is routine (11.2), not a bind going down.
        if self.session.idle_closed and kind in ("unbound", "disconnected"):
            kind, detail = "idle_closed", f"idle for {self.config.idle_timeout:g}s"
        super()._emit(kind, detail, status)


class SgipBindKeeper(Keeper[SgipSessionConfig, Request, Response]):
    """Keeps the SP's connection to the SMG available for the life of the process (see
    :class:`~smsengine.bind.base.Keeper` and the module docstring): after a logout (idle, or
    the SMG's Unbind) it reconnects on demand. With a ``listener`` it runs that too."""

    bind_class = SgipBind

    def __init__(self, host: str, port: int, config: SgipSessionConfig, *,
                 listener: SgipListener | None = None, **kwargs: Any) -> None:
        self._dormant = False
        self._bind: Bind[SgipSessionConfig, Request, Response] | None = None
        super().__init__(host, port, config, **kwargs)
        self.listener = listener

    @property
    def bind(self) -> Bind[SgipSessionConfig, Request, Response] | None:
        """The current connection. Reading it is demand: a dormant keeper reconnects."""
        if self._dormant:
            self._dormant = False
            self._wakeup.set()
        return self._bind

    @bind.setter
    def bind(self, value: Bind[SgipSessionConfig, Request, Response] | None) -> None:
        self._bind = value

    @property
    def dormant(self) -> bool:
        """Logged out, to reconnect on the next demand."""
        return self._dormant

    @property
    def is_bound(self) -> bool:
        """Bound, or dormant (ready to reconnect when there is something to send)."""
        bind = self._bind
        return self._dormant or (bind is not None and bind.is_bound)

    def start(self) -> None:
        super().start()
        if self.listener is not None:
            self.listener.before_write = self.before_write
            self.listener.start()

    async def stop(self, drain_timeout: float | None = None) -> None:
        self._dormant = False
        await super().stop(drain_timeout)
        if self.listener is not None:
            await self.listener.stop()

    async def _after_close(self, bind: Bind[SgipSessionConfig, Request, Response]) -> None:
        session = bind.session
        if isinstance(session, SgipSession) and session.logged_out:
            # A clean logout (ours when idle, or the SMG's): reconnect on the next Submit,
            # not at once (11.2).
            self.backoff.reset()
            self._wakeup.clear()
            self._dormant = True
            await self._wakeup.wait()
            self._dormant = False
            return
        await super()._after_close(bind)


class SgipReceiverBind(Bind[SgipReceiverConfig, Request, Response]):
    """One connection from the SMG to the SP's listener (Login Type 2)."""

    not_sent_error = SgipNotSentError
    session: SgipReceiverSession

    def _make_session(self, config: SgipReceiverConfig, now: float) -> SgipReceiverSession:
        return SgipReceiverSession(config, now)

    _RENAMED: ClassVar[dict[str, str]] = {
        "connecting": "smg_connected", "bound": "smg_bound", "unbound": "smg_unbound",
        "disconnected": "smg_disconnected"}

    def _emit(self, kind: str, detail: str = "", status: int | None = None) -> None:
        super()._emit(self._RENAMED.get(kind, kind), detail, status)


class SgipListener:
    """The SP's TCP server for the SMG's connections (11.1); see the module docstring.
    ``port`` 0 picks a free one (:attr:`port` says which, once listening)."""

    def __init__(
        self,
        host: str,
        port: int,
        config: SgipReceiverConfig,
        *,
        name: str = "",
        on_event: EventHandler | None = None,
        on_message: Callable[[Request], None] | None = None,
        on_receipt: ReceiptHandler | None = None,
        before_write: WriteBarrier | None = None,
        backoff: Backoff | None = None,
        max_connections: int = 64,
    ) -> None:
        self.host = host
        self.port = port
        self.config = config
        self.name = name or f"sgip-listener@{host}:{port}"
        self._on_event = on_event
        self._on_message = on_message
        self._on_receipt = on_receipt
        self.before_write = before_write
        self.backoff = backoff or Backoff()
        self.max_connections = max_connections
        self.connections: set[SgipReceiverBind] = set()
        self._server: asyncio.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    @property
    def listening(self) -> bool:
        return self._server is not None

    async def serve(self) -> None:
        """Start listening now (raises OSError, e.g. the port is taken)."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._connection, self.host, self.port)
        sockets = self._server.sockets
        if sockets:
            self.port = sockets[0].getsockname()[1]
        self._listening.set()
        self._emit("listening", f"{self.host}:{self.port}")

    def start(self) -> None:
        """Listen in the background, retrying with back-off while the port cannot be had."""
        if self._task is None and self._server is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def wait_listening(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._listening.wait(), timeout)

    async def _run(self) -> None:
        while self._server is None:
            try:
                await self.serve()
            except OSError as exc:
                delay = self.backoff.next()
                self._emit("bind_failed", f"cannot listen on {self.host}:{self.port}: {exc}")
                self._emit("reconnect_scheduled", "listener", delay=delay)
                await asyncio.sleep(delay)

    def _connection(self) -> SgipReceiverBind:
        bind = SgipReceiverBind(self.config, name=f"{self.name}", on_event=self._on_event,
                                on_message=self._on_message, on_receipt=self._on_receipt,
                                before_write=self.before_write)
        if len(self.connections) >= self.max_connections:
            bind.close_reason = "too many SMG connections"
            # (Closed as soon as it is made: no Bind_Resp, the SMG tries again later.)
            asyncio.get_running_loop().call_soon(bind.abort)
        self.connections.add(bind)
        bind.closed.add_done_callback(lambda _: self.connections.discard(bind))
        return bind

    async def stop(self) -> None:
        """Stop listening and close the SMG's connections."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        server, self._server = self._server, None
        self._listening.clear()
        if server is not None:
            server.close()
        for bind in list(self.connections):
            await bind.close(drain_timeout=0.0, unbind_timeout=0.5)
        if server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 1.0)

    def _emit(self, kind: str, detail: str = "", delay: float | None = None) -> None:
        if self._on_event is not None:
            self._on_event(BindEvent(kind, self.name, detail, delay=delay))
