"""asyncio binds over any protocol session: a thin adapter around a sans-I/O
:class:`smsengine.link.Session`, and a keeper that holds a bind up for the life of the process.

:class:`Bind` is one TCP (optionally TLS) connection and one login; what is SMPP or CMPP about
it is only which session it drives (``_make_session``), the statuses it reports as "throttled"
and its NotSentError class (:mod:`.smpp`: :class:`~smsengine.bind.SmppBind`, :mod:`.cmpp`:
:class:`~smsengine.bind.CmppBind`)::

    async with await SmppBind.open("127.0.0.1", 2775, SessionConfig("shop", "secret")) as bind:
        resp = await bind.send(SubmitSm(...))          # waits for a window slot, then the resp
        fut = bind.send_nowait(SubmitSm(...))          # raises NotSentError if the window is full

Everything produced in one loop tick leaves in one ``transport.write``; one timer serves every
deadline; the transport's pause/resume backpressure stops output (and input) in time.

Outcomes: ``send`` returns the response whatever its status (SMPP's ESME_RTHROTTLED, CMPP's
Result 8 come back as responses, for flow control to act on); it raises a
:class:`~smsengine.link.NotSentError` (nothing reached the peer; retry is safe) or an
:class:`~smsengine.link.OutcomeUnknownError` (written, no answer; do not resend blindly), each
the protocol's subclass.

:class:`Keeper` reconnects with capped, jittered exponential backoff; a refused login
(:class:`~smsengine.link.AuthenticationError`) backs off much longer and raises an ``alarm``
event; :class:`~smsengine.link.AlreadyBoundError` waits for the carrier to drop the old login;
``stop()`` drains in-flight requests (bounded) and logs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import ssl as _ssl
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Self, TypeVar, cast

from ..link import (
    AlreadyBoundError,
    AuthenticationError,
    BindFailed,
    Bound,
    ConnectionDead,
    IncomingRequest,
    LinkConfig,
    LinkError,
    NotSentError,
    ProtocolError,
    ReceiptReceived,
    ReceiptState,
    RequestFailed,
    ResponseReceived,
    Session,
    SessionEvent,
    StatusError,
    Unbound,
)
from .tls import TlsHandshakeError, TlsVerificationError

__all__ = ["Backoff", "Bind", "BindEvent", "EventHandler", "Keeper", "ReceiptHandler",
           "WriteBarrier"]

_Future = asyncio.Future
_DELIVERED = int(ReceiptState.DELIVERED)

ConfigT = TypeVar("ConfigT", bound=LinkConfig)
RequestT = TypeVar("RequestT")
ResponseT = TypeVar("ResponseT")


@dataclass(frozen=True)
class BindEvent:
    """Something a bind did, for metrics and logs.

    ``kind``: connecting, bound, bind_failed, alarm, unbound, disconnected, throttled, timeout,
    protocol_error, reconnect_scheduled, stopped; and from an engine channel (``name`` is the
    channel's): pacing, when a channel without a TPS limit starts or stops pacing itself.
    """

    kind: str
    name: str
    detail: str = ""
    status: int | None = None
    delay: float | None = None


EventHandler = Callable[[BindEvent], None]
#: ``on_receipt(message_id, state)``: a plain delivery receipt saying DELIVERED (``state`` a
#: :class:`~smsengine.link.ReceiptState` value), already acked, from a session that reads
#: receipts apart (:class:`~smsengine.link.ReceiptReceived`). One saying anything else comes
#: whole to ``on_message`` (or ``messages()``), so that its error code can be read.
ReceiptHandler = Callable[[str, int], None]
#: ``before_write()``: called before a bind writes; False means "not now" (what was heard so
#: far could not be kept: the daemon's outbox could not commit). The bind then writes nothing,
#: as if its transport were paused, and asks again a little later; its requests keep their
#: deadlines (one never written for a whole response timeout ends the connection, and its
#: requests count as not sent), and the carrier sends unacknowledged deliver_sm again.
WriteBarrier = Callable[[], bool | None]

#: Seconds between two asks of a before_write that said "not now".
BARRIER_RETRY = 0.1


class Bind(asyncio.Protocol, Generic[ConfigT, RequestT, ResponseT]):
    """One connection and one login over a protocol session. Create with :meth:`open` (of a
    protocol's subclass)."""

    #: Response statuses reported as a "throttled" event (SMPP ESME_RTHROTTLED, CMPP Result 8).
    throttle_statuses: ClassVar[frozenset[int]] = frozenset()
    #: What this bind raises when a request cannot go (the protocol's NotSentError).
    not_sent_error: ClassVar[type[NotSentError]] = NotSentError

    def __init__(
        self,
        config: ConfigT,
        *,
        name: str = "",
        on_event: EventHandler | None = None,
        on_message: Callable[[RequestT], None] | None = None,
        on_receipt: ReceiptHandler | None = None,
        max_queued_messages: int = 10_000,
        before_write: WriteBarrier | None = None,
    ) -> None:
        self.config = config
        self.name = name or config.system_id
        self._loop = asyncio.get_running_loop()
        self.session: Session = self._make_session(config, self._loop.time())
        self._on_event = on_event
        self._on_message = on_message
        self._on_receipt = on_receipt
        # Called before any bytes are written: what the callbacks heard before (a receipt, a
        # request handed over) is made durable first by whoever keeps it (the daemon's outbox
        # commits), so a deliver_sm is never acknowledged before its receipt is kept.
        self._before_write = before_write
        self._messages: asyncio.Queue[RequestT] = asyncio.Queue(max_queued_messages)
        self._transport: asyncio.Transport | None = None
        self._bound: asyncio.Future[None] = self._loop.create_future()
        self._closed: asyncio.Future[None] = self._loop.create_future()
        self._flush_handle: asyncio.Handle | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._response_timeout = config.response_timeout
        self._keepalive = config.enquire_link_interval
        self._paused = False
        self._window_waiters: deque[asyncio.Future[None]] = deque()
        self.close_reason = ""

    def _make_session(self, config: ConfigT, now: float) -> Session:
        """The sans-I/O session this bind drives: the protocol's part."""
        raise NotImplementedError

    # --- opening and closing --------------------------------------------------------------

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        config: ConfigT,
        *,
        ssl: _ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        connect_timeout: float = 10.0,
        **kwargs: Any,
    ) -> Self:
        """Connect and log in; raises the login's error (e.g. an AuthenticationError) or
        OSError. With ``ssl``, over TLS: the certificate must name ``server_hostname`` (also
        the SNI sent; default ``host``) when the context checks names, and a failed handshake
        raises a :class:`~smsengine.bind.tls.TlsVerificationError` (the certificate refused)
        or :class:`~smsengine.bind.tls.TlsHandshakeError` (e.g. a plaintext port)."""
        loop = asyncio.get_running_loop()
        name = (server_hostname or host) if ssl is not None else None
        try:
            _, bind = await asyncio.wait_for(
                loop.create_connection(lambda: cls(config, **kwargs), host, port, ssl=ssl,
                                       server_hostname=name),
                connect_timeout,
            )
        except _ssl.SSLCertVerificationError as exc:
            raise TlsVerificationError(
                f"TLS verification of {name} at {host}:{port} failed: "
                f"{exc.verify_message or exc.reason}") from exc
        except (_ssl.SSLError, ConnectionError) as exc:
            if ssl is None or isinstance(exc, ConnectionRefusedError):
                raise  # (refused: no TCP connection, so no handshake either)
            reason = (exc.reason if isinstance(exc, _ssl.SSLError) else None) or str(exc)
            raise TlsHandshakeError(
                f"TLS handshake with {host}:{port} failed: {reason or type(exc).__name__}"
                " (is it a TLS port?)") from exc
        try:
            await asyncio.wait_for(asyncio.shield(bind._bound), connect_timeout)
        except BaseException:
            bind.abort()
            raise
        return bind

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def is_bound(self) -> bool:
        return self.session.is_bound and self._transport is not None

    @property
    def closed(self) -> asyncio.Future[None]:
        """Done when the connection is gone."""
        return self._closed

    async def close(self, drain_timeout: float = 5.0, unbind_timeout: float = 2.0) -> None:
        """Let in-flight requests finish (up to ``drain_timeout``), log out, close."""
        if self._transport is None:
            return
        deadline = self._loop.time() + drain_timeout
        while self.session.outstanding and self.session.is_bound:
            remaining = deadline - self._loop.time()
            if remaining <= 0:
                break
            waiter = self._loop.create_future()
            self._window_waiters.append(waiter)
            with contextlib.suppress(TimeoutError, LinkError):
                await asyncio.wait_for(waiter, min(remaining, 0.05))
        if self.session.unbind(self._loop.time()) is not None:
            self._flush()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._closed), unbind_timeout)
        if self._transport is not None:
            self._transport.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._closed), unbind_timeout)
        if self._transport is not None:
            # A graceful close waits until the peer has taken our buffered output; a peer that
            # stopped reading never does. Don't leave the connection and its requests hanging.
            self._transport.abort()
            await asyncio.shield(self._closed)

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    # --- sending ------------------------------------------------------------------------------

    def send_nowait(self, request: RequestT) -> asyncio.Future[ResponseT]:
        """Queue a request now; the future gets its response. Raises NotSentError (window
        full, not bound, connection gone) with nothing sent."""
        if self._transport is None:
            raise self.not_sent_error(f"bind {self.name} has no connection")
        fut: asyncio.Future[ResponseT] = self._loop.create_future()
        now = self._loop.time()
        self.session.send_request(request, now, fut)
        if self._flush_handle is None:
            self._flush_handle = self._loop.call_soon(self._flush)
        # The timer may be set for the keepalive, later than this request's deadline.
        if self._timer is None or now + self._response_timeout < self._timer_at:
            self._arm()
        return fut

    def send_callback(self, request: RequestT,
                      callback: Callable[[ResponseT | None, LinkError | None], None]) -> None:
        """Queue a request; ``callback(response, None)`` or ``callback(None, error)`` runs when
        it ends — directly from the receive path, with no future or extra loop iteration,
        for callers that keep thousands in flight. Raises NotSentError like send_nowait."""
        if self._transport is None:
            raise self.not_sent_error(f"bind {self.name} has no connection")
        now = self._loop.time()
        self.session.send_request(request, now, callback)
        if self._flush_handle is None:
            self._flush_handle = self._loop.call_soon(self._flush)
        if self._timer is None or now + self._response_timeout < self._timer_at:
            self._arm()  # (as in send_nowait: the timer may be set for the later keepalive)

    def send_callbacks(self, requests: list[Any], callbacks: list[Any]) -> int:
        """:meth:`send_callback` for a batch: queues ``requests[i]`` with ``callbacks[i]`` in
        order while the window has room and returns how many it queued (the rest were not).
        Raises NotSentError when there is no connection, with nothing queued."""
        if self._transport is None:
            raise self.not_sent_error(f"bind {self.name} has no connection")
        now = self._loop.time()
        queued = self.session.send_requests(requests, callbacks, now)
        if queued:
            if self._flush_handle is None:
                self._flush_handle = self._loop.call_soon(self._flush)
            if self._timer is None or now + self._response_timeout < self._timer_at:
                self._arm()
        return queued

    async def send(self, request: RequestT) -> ResponseT:
        """Send when the window has room; return the response (any status)."""
        await self.wait_window()
        return await self.send_nowait(request)

    async def wait_window(self) -> None:
        """Return when at least one request fits in the window."""
        while self.session.window_free <= 0:
            if self._transport is None:
                raise self.not_sent_error(f"bind {self.name} has no connection")
            waiter = self._loop.create_future()
            self._window_waiters.append(waiter)
            await waiter

    def respond(self, request: RequestT, command_status: int = 0, **fields: Any) -> None:
        """Answer one of the peer's requests yourself (when the config has
        ``auto_ack=False``)."""
        self.session.respond(request, command_status, **fields)
        if self._flush_handle is None:
            self._flush_handle = self._loop.call_soon(self._flush)

    async def messages(self) -> RequestT:
        """The next request from the peer for the application (SMPP deliver_sm, CMPP_DELIVER
        …), when no ``on_message`` callback was given."""
        return await self._messages.get()

    # --- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self._transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._emit("connecting")
        self.session.bind(self._loop.time())
        self._flush()
        self._arm()

    def data_received(self, data: bytes) -> None:
        now = self._loop.time()
        self._dispatch(self.session.receive_data(data, now))
        if self._transport is not None:
            if self._flush_handle is None:
                self._flush_handle = self._loop.call_soon(self._flush)
            # A login or keepalive response makes the keepalive due at now + interval: earlier
            # than the timer when the interval is shorter than the response timeout.
            if self._timer_at > now + self._keepalive:
                self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        reason = f"connection lost: {exc}" if exc else "connection closed"
        self.close_reason = self.close_reason or reason
        self._dispatch(self.session.connection_lost(self.close_reason))
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if not self._bound.done():
            self._bound.set_exception(
                self.not_sent_error(f"bind {self.name}: {self.close_reason}"))
            self._bound.exception()  # retrieved: nobody may be waiting on it
        self._wake_waiters()
        self._emit("disconnected", self.close_reason)
        if not self._closed.done():
            self._closed.set_result(None)

    def pause_writing(self) -> None:
        self._paused = True
        if self._transport is not None:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        self._paused = False
        if self._transport is not None:
            self._transport.resume_reading()
        self._flush()

    # --- internals ------------------------------------------------------------------------

    def _flush(self) -> None:
        if self._flush_handle is not None:  # (a called-early retry of a held write)
            self._flush_handle.cancel()
            self._flush_handle = None
        transport = self._transport
        if transport is None or self._paused or transport.is_closing():
            # A closing transport would drop the bytes: they stay queued, and connection_lost
            # reports their requests as not sent rather than of unknown outcome.
            return
        before_write = self._before_write
        if before_write is not None and before_write() is False:
            # (not now: nothing taken from the session, so nothing counts as written)
            self._flush_handle = self._loop.call_later(BARRIER_RETRY, self._flush)
            return
        data = self.session.data_to_send()
        if data:
            transport.write(data)

    def _arm(self) -> None:
        deadline = self.session.next_deadline()
        if deadline is None:
            return
        if self._timer is not None:
            if self._timer_at <= deadline:
                return
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = self._loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._dispatch(self.session.handle_timer(self._loop.time()))
        self._flush()
        if self._transport is not None and not self._transport.is_closing():
            self._arm()  # (closing: connection_lost is coming; a past deadline would spin)

    def _dispatch(self, events: list[SessionEvent]) -> None:
        freed = False
        for event in events:
            if type(event) is ResponseReceived:
                token = event.token
                freed = True
                if type(token) is _Future:
                    if not token.done():
                        token.set_result(event.response)
                elif token is not None:
                    token(event.response, None)
                status = event.response.command_status
                if status and status in self.throttle_statuses:  # skip hashing when 0
                    self._emit("throttled", event.response.status_name, status)
            elif type(event) is ReceiptReceived:
                receipt = event.receipt
                if self._on_receipt is not None and receipt.message_state == _DELIVERED:
                    self._on_receipt(receipt.message_id, receipt.message_state)
                elif self._on_message is not None:
                    # A receipt saying anything but DELIVERED comes whole, so that its error
                    # (the text's err:) can be read; so does every one without on_receipt.
                    self._on_message(receipt.pdu())
                else:
                    self._incoming(receipt.pdu())
            elif type(event) is IncomingRequest:
                on_message = self._on_message
                if on_message is not None:
                    on_message(event.pdu)
                else:
                    self._incoming(event.pdu)
            elif type(event) is RequestFailed:
                freed = True
                token = event.token
                if type(token) is _Future:
                    if not token.done():
                        token.set_exception(event.error)
                        token.exception()  # the caller may have moved on; don't warn about it
                elif token is not None:
                    token(None, event.error)
                if getattr(event.error, "timed_out", False):
                    self._emit("timeout", str(event.error))
            elif type(event) is Bound:
                self._emit("bound", event.system_id)
                if not self._bound.done():
                    self._bound.set_result(None)
            elif type(event) is BindFailed:
                self._emit("bind_failed", str(event.error), event.status)
                self.close_reason = f"bind refused: {event.error}"
                if not self._bound.done():
                    self._bound.set_exception(event.error)
                    self._bound.exception()
                if self._transport is not None:
                    self._transport.close()
            elif type(event) is Unbound:
                self._emit("unbound", "by the SMSC" if event.by_peer else "by us")
                self.close_reason = "unbound by the SMSC" if event.by_peer else "unbound"
                self._flush()  # the answer to the peer's logout
                if self._transport is not None:
                    self._transport.close()
            elif type(event) is ConnectionDead:
                self.close_reason = event.reason
                if self._transport is not None:
                    # Answers to the PDUs that came whole ahead of garbage (deliver_sm
                    # acks), and nothing else queued: best effort (written now if the
                    # socket takes them; unread input at the abort may still reset it), and
                    # not at all if the write barrier says not now. Not a graceful close(): a
                    # peer that sends garbage may never read (or answer a TLS shutdown), and
                    # would hold the connection open.
                    if event.answers and (self._before_write is None
                                          or self._before_write() is not False):
                        self._transport.write(event.answers)
                    self._transport.abort()
            elif type(event) is ProtocolError:
                self._emit("protocol_error", event.detail)
        if freed:
            self._wake_waiters()

    def _incoming(self, pdu: RequestT) -> None:
        if self._on_message is not None:
            self._on_message(pdu)
            return
        try:
            self._messages.put_nowait(pdu)
        except asyncio.QueueFull:
            # Bounded: past the cap the oldest unread message is dropped (it was acked, so the
            # peer will not resend it) and said so; set on_message for lossless handling.
            self._messages.get_nowait()
            self._messages.put_nowait(pdu)
            self._emit("protocol_error", "incoming message queue full; oldest dropped")

    def _wake_waiters(self) -> None:
        waiters = self._window_waiters
        free = self.session.window_free if self._transport is not None else len(waiters)
        while waiters and free > 0:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                free -= 1

    def _emit(self, kind: str, detail: str = "", status: int | None = None) -> None:
        if self._on_event is not None:
            self._on_event(BindEvent(kind, self.name, detail, status))


@dataclass
class Backoff:
    """Exponential backoff with full jitter and a cap: ``initial * factor**n``, at most
    ``maximum``, each draw scaled by a random factor in ``[1 - jitter, 1]``."""

    initial: float = 1.0
    factor: float = 2.0
    maximum: float = 60.0
    jitter: float = 0.3
    attempt: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def next(self) -> float:
        delay = self.initial * self.factor ** self.attempt
        if delay < self.maximum:
            self.attempt += 1  # only up to the cap: factor ** 1024 overflows a float
        else:
            delay = self.maximum
        return delay * (1.0 - self.jitter * self.rng.random())

    def reset(self) -> None:
        self.attempt = 0


class Keeper(Generic[ConfigT, RequestT, ResponseT]):
    """Keeps one bind up for the life of the process; see the module docstring. A protocol's
    keeper sets ``bind_class`` (or it is passed)."""

    bind_class: type[Bind[ConfigT, RequestT, ResponseT]]

    def __init__(
        self,
        host: str,
        port: int,
        config: ConfigT,
        *,
        name: str = "",
        ssl: _ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        backoff: Backoff | None = None,
        auth_failure_delay: float = 300.0,
        already_bound_delay: float = 30.0,
        connect_timeout: float = 10.0,
        drain_timeout: float = 5.0,
        on_event: EventHandler | None = None,
        on_message: Callable[[RequestT], None] | None = None,
        on_receipt: ReceiptHandler | None = None,
        bind_class: type[Bind[ConfigT, RequestT, ResponseT]] | None = None,
        before_write: WriteBarrier | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.config = config
        self.name = name or f"{config.system_id}@{host}:{port}"
        self.ssl = ssl
        self.server_hostname = server_hostname
        self.backoff = backoff or Backoff()
        self.auth_failure_delay = auth_failure_delay
        self.already_bound_delay = already_bound_delay
        self.connect_timeout = connect_timeout
        self.drain_timeout = drain_timeout
        self._on_event = on_event
        self._on_message = on_message
        self._on_receipt = on_receipt
        #: Given to each bind this keeper opens (see Bind's ``before_write``).
        self.before_write = before_write
        if bind_class is not None:
            self.bind_class = bind_class
        self.bind: Bind[ConfigT, RequestT, ResponseT] | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._bound_event = asyncio.Event()
        self._wakeup = asyncio.Event()
        self.binds_made = 0

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def stop(self, drain_timeout: float | None = None) -> None:
        """Drain in-flight requests (up to ``drain_timeout``, by default the keeper's), log
        out, and stop reconnecting."""
        self._stopping = True
        self._wakeup.set()
        bind = self.bind
        if bind is not None:
            await bind.close(drain_timeout=self.drain_timeout if drain_timeout is None
                             else drain_timeout)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._emit(BindEvent("stopped", self.name))

    @property
    def is_bound(self) -> bool:
        return self.bind is not None and self.bind.is_bound

    async def wait_bound(self, timeout: float | None = None) -> Bind[ConfigT, RequestT, ResponseT]:
        """The current bind once it is up (raises TimeoutError)."""
        while True:
            bind = self.bind
            if bind is not None and bind.is_bound:
                return bind
            self._bound_event.clear()
            await asyncio.wait_for(self._bound_event.wait(), timeout)

    def send_nowait(self, request: RequestT) -> asyncio.Future[ResponseT]:
        """Queue on the current bind; NotSentError when there is none or its window is full."""
        bind = self.bind
        if bind is None or not bind.is_bound:
            raise self.bind_class.not_sent_error(f"{self.name} is not bound")
        return bind.send_nowait(request)

    async def send(self, request: RequestT) -> ResponseT:
        bind = self.bind
        if bind is None or not bind.is_bound:
            raise self.bind_class.not_sent_error(f"{self.name} is not bound")
        return await bind.send(request)

    def _emit(self, event: BindEvent) -> None:
        if self._on_event is not None:
            self._on_event(event)

    async def _sleep(self, delay: float, detail: str) -> None:
        self._emit(BindEvent("reconnect_scheduled", self.name, detail, delay=delay))
        self._wakeup.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), delay)

    async def _run(self) -> None:
        while not self._stopping:
            try:
                bind = await self.bind_class.open(
                    self.host, self.port, self.config, ssl=self.ssl,
                    server_hostname=self.server_hostname,
                    connect_timeout=self.connect_timeout, name=self.name,
                    on_event=self._on_event, on_message=self._on_message,
                    on_receipt=self._on_receipt, before_write=self.before_write,
                )
            except AuthenticationError as exc:
                # Wrong credentials will not fix themselves; hammering the carrier can get
                # the account locked. Tell a human, wait long.
                self._emit(BindEvent("alarm", self.name, f"authentication failed: {exc}",
                                     exc.status))
                await self._sleep(self.auth_failure_delay, "authentication failed")
                continue
            except TlsVerificationError as exc:
                # The carrier's certificate refused: a human must look (a CA file, a name, an
                # expiry, or someone in the middle). Nothing was sent, so no lock-out risk:
                # the usual back-off, and a renewed certificate is picked up by itself.
                self._emit(BindEvent("alarm", self.name, str(exc)))
                await self._sleep(self.backoff.next(), "TLS verification failed")
                continue
            except AlreadyBoundError:
                # The carrier still holds our previous login; it will time it out.
                await self._sleep(max(self.already_bound_delay, self.backoff.next()),
                                  "already bound")
                continue
            except (OSError, TimeoutError, LinkError) as exc:
                status = exc.status if isinstance(exc, StatusError) else None
                delay = self.backoff.next()
                self._emit(BindEvent("bind_failed", self.name, str(exc) or type(exc).__name__,
                                     status))
                await self._sleep(delay, str(exc) or type(exc).__name__)
                continue
            self.bind = bind
            self.binds_made += 1
            self.backoff.reset()
            self._bound_event.set()
            await bind.closed
            self._bound_event.clear()
            if self._stopping:
                return
            await self._after_close(bind)

    async def _after_close(self, bind: Bind[ConfigT, RequestT, ResponseT]) -> None:
        """Between a bind's end and the next connect: a back-off. (SGIP's keeper waits for
        demand instead after a clean logout.)"""
        await self._sleep(self.backoff.next(), bind.close_reason)
