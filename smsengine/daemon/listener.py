"""The daemon's listening port: limits on its connections, and HTTPS.

aiohttp bounds a request's lines and headers (``max_line_size``, ``max_field_size``,
``max_headers``), a body read whole (``client_max_size``) and how long an idle keep-alive
connection stays (``keepalive_timeout``). It has no deadline for a request's head, no read
timeout for a body, and no cap on connections, so a slowloris, a stalled upload or 10 000 idle
sockets would each hold the port. :class:`Limits` adds them: a thin protocol in front of each
of aiohttp's request handlers (made by the low-level ``web.Server``, which is documented as the
protocol factory ``loop.create_server`` takes), and a middleware that tells it when a request
is being handled. Every limit is a ``[server]`` field (config.py); docs/reliability.md lists
them with their tests.

- **Head timeout**: from connect, or from a request's first byte, its whole head (request line
  and headers) within ``header_timeout``; else 408 and the connection closes. As nginx's
  ``client_header_timeout``, it is a deadline, so a byte a second does not extend it.
- **Head size**: a head over ``max_header_bytes`` is answered 431 without being parsed.
- **Read timeout**: while a handler reads a body that has not all come, ``read_timeout``
  seconds without a byte is 408 (between reads, as nginx's ``client_body_timeout``: a large
  campaign CSV may take long as a whole). Time when the daemon itself paused reading (the
  handler is behind) is not counted against the client.
- **Connection caps**: ``max_connections_per_address`` per client address, more are answered
  503 and closed at once; at ``max_connections`` a new connection closes the one idle the
  longest (between requests, or not yet sent a whole head), passing over one whose answer is
  still being written or buffered unless all are (clients that never read must not fill the
  port); if every one is busy with a request, the new one gets 503. So idle sockets cannot
  shut a well-behaved client out.
- **HTTPS**: each connection is admitted (the caps, the eviction, the head's deadline) when
  it is accepted, before its TLS handshake, which ``loop.connect_accepted_socket`` then runs.
  With ``create_server(ssl=...)`` the protocol is made only after the handshake, so
  connections still handshaking counted against no cap (50 silent ones from one address all
  stayed open with the cap at 5) and held file descriptors until the handshake timeout. The
  head's deadline runs from the accept, the handshake within it. A connection refused, or not
  through its handshake in time, is closed without an answer: no HTTP answer can reach a
  client that has no TLS session yet. (Not ``loop.start_tls`` from ``connection_made``:
  uvloop starts reading when ``connection_made`` returns, so a ClientHello already in the
  socket reached the plain protocol before ``start_tls`` had put its own in.)
"""

from __future__ import annotations

import asyncio
import enum
import errno
import json
import logging
import resource
import socket
import ssl
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any, cast

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.streams import StreamReader
from prometheus_client import CollectorRegistry, Counter, Gauge

from .config import DaemonConfigError, ServerConfig

__all__ = ["Limits", "raise_fd_limit", "tls_context"]

log = logging.getLogger("smsengine.daemon")

_PROBLEM = "urn:smsengine:problem:"  # (app.py's problem types)
_END_OF_HEAD = b"\r\n\r\n"
_LINGER = 1.0  # seconds a refused connection's input is read and dropped before the close
_MAX_LINGERING = 1024  # refused connections lingering at once; past it they close at once
_ACCEPT_BATCH = 1024  # HTTPS connections accepted a wakeup (as asyncio's: its backlog)
_ACCEPT_RETRY = 1.0  # seconds without accepting when out of descriptors (as asyncio's)
_OUT_OF = frozenset((errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM))


def _canned(status: int, reason: str, kind: str, detail: str, extra: str = "") -> bytes:
    """A whole HTTP/1.1 response with RFC 9457 problem details, written by this layer where
    no request reached aiohttp's handler (or it is to be cut short), then the connection
    closes."""
    body = json.dumps({"type": _PROBLEM + kind, "title": reason, "status": status,
                       "detail": detail}).encode()
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/problem+json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n{extra}\r\n"
            ).encode() + body


class _RequestHandler(web.RequestHandler):
    """aiohttp's request handler, but a request it cannot parse (the client's error) is
    answered with problem details and logged as one line at INFO naming the error's kind.
    aiohttp would log the offending line at ERROR with a traceback and echo it in the answer:
    an Authorization header with a stray control byte put the whole API key in the daemon's
    log (found by tests/daemon/test_secrets.py), and any client could fill the log with
    tracebacks."""

    def handle_error(self, request: Any, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if not isinstance(exc, HttpProcessingError) or request.writer.output_size:
            return super().handle_error(request, status, exc, message)
        log.info("malformed HTTP request from %s: %s", request.remote, type(exc).__name__)
        response = web.Response(
            body=_canned(status, HTTPStatus(status).phrase, "malformed-request",
                         f"not a valid HTTP/1.1 request ({type(exc).__name__})"
                         ).partition(b"\r\n\r\n")[2],
            status=status, content_type="application/problem+json")
        response.force_close()
        return response


class _State(enum.Enum):
    TLS = "tls"  # connected to an HTTPS port: its TLS handshake is under way
    HEAD = "head"  # connected, or a request's first bytes came: its head is awaited
    BUSY = "busy"  # a request's head came: it is being read and handled
    IDLE = "idle"  # between requests (aiohttp's keepalive_timeout applies)
    CLOSING = "closing"  # refused: the answer written, what comes is dropped


class Limits:
    """Connection bookkeeping for one listening port (see the module's docstring)."""

    def __init__(self, config: ServerConfig, registry: CollectorRegistry | None = None) -> None:
        self.config = config
        self._server: web.Server | None = None
        self._listener: asyncio.AbstractServer | None = None
        self._sockets: list[socket.socket] = []  # (HTTPS: listened on here, not by asyncio)
        # By transport; a connection still in its TLS handshake (no transport yet) by itself.
        self._by_transport: dict[object, _Guarded] = {}
        self._per_address: dict[str, int] = {}
        # Connections not busy with a request, the longest idle first: whom a new connection
        # closes when the port is full.
        self._evictable: dict[_Guarded, None] = {}
        # Connections whose handler has returned and whose answer is being written: evicted
        # only when no other is evictable (clients that never read must not fill the port).
        self._answering: dict[_Guarded, None] = {}
        self._lingering = 0
        self._closed = Counter("smsengine_http_connections_closed",
                               "HTTP connections closed by a limit, by reason", ["reason"],
                               registry=registry)
        self._open = Gauge("smsengine_http_connections", "HTTP connections open",
                           registry=registry)
        self._open.set_function(lambda: len(self._by_transport))
        size = config.max_header_bytes
        self._options: dict[str, Any] = {"keepalive_timeout": config.keepalive_timeout,
                                         "max_line_size": size, "max_field_size": size}
        self._canned = {
            "header_timeout": _canned(
                408, "Request Timeout", "header-timeout",
                f"the request's head did not come within {config.header_timeout:g} s"),
            "read_timeout": _canned(
                408, "Request Timeout", "read-timeout",
                f"no byte of the body for {config.read_timeout:g} s"),
            "header_too_large": _canned(
                431, "Request Header Fields Too Large", "header-too-large",
                f"the request's head is over the limit of {config.max_header_bytes} bytes"),
            "address_cap": _canned(
                503, "Service Unavailable", "too-many-connections",
                f"over {config.max_connections_per_address} connections from this address",
                "Retry-After: 1\r\n"),
            "full": _canned(
                503, "Service Unavailable", "too-many-connections",
                f"{config.max_connections} connections are open and busy", "Retry-After: 1\r\n"),
        }

    def runner_options(self) -> dict[str, Any]:
        """aiohttp's own knobs for ``web.AppRunner``: keep-alive and per-line limits."""
        return dict(self._options)

    async def listen(self, server: web.Server, host: str, port: int,
                     ssl_context: ssl.SSLContext | None = None) -> int:
        """Listen with ``server`` (a set-up ``AppRunner``'s); the port bound."""
        self._server = server
        loop = asyncio.get_running_loop()
        if ssl_context is None:
            self._listener = await loop.create_server(
                lambda: _Guarded(self), host, port, backlog=1024)
            return int(self._listener.sockets[0].getsockname()[1])
        # Bound as create_server binds (SO_REUSEADDR; IPV6_V6ONLY), accepted in _accept.
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                       flags=socket.AI_PASSIVE)
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            self._sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError:
                self.close()
                raise
            sock.listen(1024)
            sock.setblocking(False)
        for sock in self._sockets:
            loop.add_reader(sock, self._accept, sock, ssl_context)
        return int(self._sockets[0].getsockname()[1])

    def _accept(self, listening: socket.socket, context: ssl.SSLContext) -> None:
        for _ in range(_ACCEPT_BATCH):
            try:
                sock, peer = listening.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno not in _OUT_OF:
                    continue  # (ECONNABORTED and the like: that client's, not the port's)
                log.warning("cannot accept HTTPS connections for %g s: %s", _ACCEPT_RETRY,
                            exc.strerror)
                loop = asyncio.get_running_loop()
                loop.remove_reader(listening)
                loop.call_later(_ACCEPT_RETRY, self._resume_accepting, listening, context)
                return
            _Guarded(self).accepted(sock, peer, context)

    def _resume_accepting(self, listening: socket.socket, context: ssl.SSLContext) -> None:
        if listening.fileno() >= 0:
            asyncio.get_running_loop().add_reader(listening, self._accept, listening, context)

    def close(self) -> None:
        """Stop listening, and abort the connections still in their TLS handshake (the others
        are aiohttp's to close: ``runner.cleanup()``)."""
        if self._listener is not None:
            self._listener.close()
        sockets, self._sockets = self._sockets, []
        for sock in sockets:
            if sock.fileno() >= 0:
                asyncio.get_running_loop().remove_reader(sock)
            sock.close()
        for guard in [g for g in self._by_transport.values() if g._state is _State.TLS]:
            guard.abort()

    @web.middleware
    async def middleware(self, request: web.Request,
                         handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                         ) -> web.StreamResponse:
        guard = self._by_transport.get(request.transport) if request.transport else None
        if guard is None:
            return await handler(request)
        guard.started(request.content)
        try:
            response = await handler(request)
        except BaseException:
            guard.finished()
            guard.answered()  # (aiohttp answers it: a small error response)
            raise
        guard.finished()
        # Written here rather than by aiohttp after this returns (it then finds it prepared
        # and ended), so that the connection is idle, and evictable, only once its answer is
        # out: marked idle at the handler's return, a slow reader's answer was cut mid-write
        # when the port was full.
        try:
            await response.prepare(request)
            await response.write_eof()
        except ConnectionError:
            pass  # (the client has gone: aiohttp meets it again and closes)
        finally:
            guard.answered()
        return response

    # --- bookkeeping for _Guarded ------------------------------------------------------------

    def _admit(self, guard: _Guarded, transport: object, address: str) -> str:
        """'' if the connection may stay, else why not (a key of ``_canned``)."""
        if self._per_address.get(address, 0) >= self.config.max_connections_per_address:
            return "address_cap"
        if len(self._by_transport) >= self.config.max_connections:
            victim = self._victim()
            if victim is None:
                return "full"
            self._closed.labels("evicted").inc()
            victim.abort()
        self._by_transport[transport] = guard
        self._per_address[address] = self._per_address.get(address, 0) + 1
        return ""

    def _victim(self) -> _Guarded | None:
        """Whom a new connection closes at ``max_connections``: the longest idle whose answer
        is all sent; else (all are slow readers) the longest idle, else the longest answering;
        None if every connection is busy with a request."""
        for guard in self._evictable:
            sending = guard._transport
            if sending is None or not sending.get_write_buffer_size():
                return guard
        for waiting in (self._evictable, self._answering):
            for guard in waiting:
                return guard
        return None

    def _forget(self, transport: object, address: str) -> None:
        guard = self._by_transport.pop(transport, None)
        if guard is None:
            return
        self._evictable.pop(guard, None)
        self._answering.pop(guard, None)
        left = self._per_address[address] - 1
        if left:
            self._per_address[address] = left
        else:
            del self._per_address[address]


class _Guarded(asyncio.Protocol):
    """One connection: aiohttp's request handler behind the limits."""

    __slots__ = ("_content", "_draining", "_handshake", "_head_bytes", "_header_timer",
                 "_inner", "_last_read", "_limits", "_lingering", "_loop", "_read_timer",
                 "_sock", "_state", "_tail", "_transport", "address")

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._loop = asyncio.get_running_loop()
        self._inner: asyncio.Protocol | None = None
        self._transport: asyncio.Transport | None = None
        self._state = _State.HEAD
        self._head_bytes = 0
        self._tail = b""  # a head's last 3 bytes, in case its end is split between reads
        self._header_timer: asyncio.TimerHandle | None = None
        self._read_timer: asyncio.TimerHandle | None = None
        self._content: StreamReader | None = None
        # A body its handler answered without reading all of it: aiohttp reads and drops the
        # rest after the answer (its lingering), and those bytes are no next request's head.
        self._draining: StreamReader | None = None
        self._last_read = 0.0
        self._lingering = False
        self._handshake: asyncio.Task[None] | None = None
        self._sock: socket.socket | None = None  # (accepted, its handshake not yet begun)
        self.address = ""

    # --- asyncio's protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (uvloop's transports are not asyncio.Transport subclasses, but have its methods)
        self._transport = transport = cast(asyncio.Transport, transport)
        limits = self._limits
        if self._state is _State.TLS:  # (HTTPS: admitted when accepted, now through TLS)
            self._state = _State.HEAD
            limits._by_transport.pop(self, None)
            limits._by_transport[transport] = self
            self._serve(transport)
            return
        if self._state is _State.CLOSING:  # (evicted as its handshake completed)
            transport.abort()
            return
        peer = transport.get_extra_info("peername")
        self.address = str(peer[0]) if peer else ""
        refused = limits._admit(self, transport, self.address)
        if refused:
            self._refuse(refused)
            return
        limits._evictable[self] = None
        self._arm_header_timer()
        self._serve(transport)

    def _serve(self, transport: asyncio.Transport) -> None:
        limits = self._limits
        assert limits._server is not None
        # As web.Server.__call__ makes its handlers, with the runner's options (access_log=None
        # among them: the app's middleware logs each request).
        server = limits._server
        self._inner = _RequestHandler(server, loop=self._loop, **server._kwargs)
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        inner = self._inner
        state = self._state
        if inner is None or state is _State.CLOSING:
            return
        if state is _State.IDLE:
            draining = self._draining
            if draining is not None and not draining.is_eof():
                inner.data_received(data)
                return
            self._draining = None
            self._state = state = _State.HEAD
            self._head_bytes = 0
            self._tail = b""
            self._limits._evictable.pop(self, None)
            self._limits._evictable[self] = None
        if state is _State.HEAD:
            seen = self._tail + data
            end = seen.find(_END_OF_HEAD)
            if end < 0:
                self._head_bytes += len(data)
                self._tail = seen[-3:]
            else:
                self._head_bytes += end + 4 - len(self._tail)
            if self._head_bytes > self._limits.config.max_header_bytes:
                self._refuse("header_too_large")
                return
            if end < 0:
                if self._header_timer is None:
                    self._arm_header_timer()
            else:
                self._head_done()
        elif self._read_timer is not None:
            self._last_read = self._loop.time()
        inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._inner is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        if self._lingering:
            self._lingering = False
            self._limits._lingering -= 1
        if self._transport is not None:
            self._limits._forget(self._transport, self.address)
        self._content = self._draining = None
        if self._inner is not None:
            inner, self._inner = self._inner, None
            inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()

    def accepted(self, sock: socket.socket, peer: Any, context: ssl.SSLContext) -> None:
        """A connection accepted on an HTTPS port: admitted now, then its TLS handshake."""
        self.address = str(peer[0])
        self._state = _State.TLS
        limits = self._limits
        refused = limits._admit(self, self, self.address)
        if refused:
            limits._closed.labels(refused).inc()
            if log.isEnabledFor(logging.DEBUG):
                log.debug("connection from %s closed: %s", self.address, refused)
            sock.close()
            return
        limits._evictable[self] = None
        self._arm_header_timer()
        sock.setblocking(False)
        self._sock = sock
        self._handshake = self._loop.create_task(self._start_tls(context))

    async def _start_tls(self, context: ssl.SSLContext) -> None:
        """The TLS handshake; ``connection_made`` is called (with the TLS transport) if it
        succeeds, and then aiohttp's handler takes the connection."""
        sock, self._sock = self._sock, None
        if sock is None:
            return
        try:
            # (the head's timer closes a stalled handshake first; this is a backstop)
            await self._loop.connect_accepted_socket(
                lambda: self, sock, ssl=context,
                ssl_handshake_timeout=self._limits.config.header_timeout + _LINGER)
        except asyncio.CancelledError:  # (closed by a limit: abort(); or the loop's end)
            pass
        except Exception as exc:  # (the client's failure: not TLS, a bad record, gone)
            if log.isEnabledFor(logging.DEBUG):
                log.debug("TLS handshake from %s failed: %r", self.address, exc)
        finally:
            self._handshake = None
        if self._transport is None:  # (not through: the socket is closed by now)
            self._cancel_timers()
            self._state = _State.CLOSING
            self._limits._forget(self, self.address)

    # --- told by the middleware --------------------------------------------------------------

    def started(self, content: StreamReader) -> None:
        if self._state is not _State.BUSY:
            self._head_done()
        if not content.is_eof():  # (a body still coming: watch its reads)
            self._content = content
            self._last_read = self._loop.time()
            self._read_timer = self._loop.call_at(
                self._last_read + self._limits.config.read_timeout, self._on_read_timer)

    def finished(self) -> None:
        """The handler has returned: its body is no longer read."""
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None
        content, self._content = self._content, None
        self._draining = content if content is not None and not content.is_eof() else None
        if self._inner is not None and self._state is _State.BUSY:
            self._limits._answering[self] = None

    def answered(self) -> None:
        """The answer is written (to the transport: while some is still buffered there, the
        connection is evicted only after those all sent, ``Limits._victim``): idle until the
        next request."""
        self._limits._answering.pop(self, None)
        if self._inner is not None and self._state is _State.BUSY:
            self._state = _State.IDLE
            self._limits._evictable[self] = None

    # --- the limits --------------------------------------------------------------------------

    def _head_done(self) -> None:
        self._state = _State.BUSY
        self._limits._evictable.pop(self, None)
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _arm_header_timer(self) -> None:
        self._header_timer = self._loop.call_later(self._limits.config.header_timeout,
                                                   self._on_header_timer)

    def _on_header_timer(self) -> None:
        self._header_timer = None
        if self._state is _State.HEAD or self._state is _State.TLS:
            self._refuse("header_timeout")

    def _on_read_timer(self) -> None:
        self._read_timer = None
        content, transport = self._content, self._transport
        if content is None or content.is_eof() or transport is None:
            return
        now = self._loop.time()
        timeout = self._limits.config.read_timeout
        if not transport.is_reading():  # (paused by the daemon: the client is not late)
            self._last_read = now
        due = self._last_read + timeout
        if now >= due:
            self._refuse("read_timeout")
        else:
            self._read_timer = self._loop.call_at(due, self._on_read_timer)

    def _refuse(self, reason: str) -> None:
        """Answer why (problem details) and close. Closing at once would lose the answer:
        the client's bytes arriving after the close make the kernel reset the connection,
        and a reset discards what the client had not read yet. So the daemon's side is shut
        first and what comes is read and dropped for up to ``_LINGER`` seconds (as aiohttp's
        lingering_time), unless too many connections are lingering already."""
        limits = self._limits
        limits._closed.labels(reason).inc()
        if log.isEnabledFor(logging.DEBUG):
            log.debug("connection from %s closed: %s", self.address, reason)
        if self._state is _State.TLS:  # (no TLS session to answer in: closed at once)
            self.abort()
            return
        self._cancel_timers()
        self._state = _State.CLOSING
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        limits._forget(transport, self.address)  # (its room is free: it lingers uncounted)
        transport.write(limits._canned[reason])
        if limits._lingering < _MAX_LINGERING and transport.can_write_eof():
            transport.write_eof()
            limits._lingering += 1
            self._lingering = True
            self._header_timer = self._loop.call_later(_LINGER, transport.close)
        else:
            transport.close()

    def abort(self) -> None:
        """Close at once (an idle connection making room for a new one)."""
        self._cancel_timers()
        handshaking = self._state is _State.TLS
        self._state = _State.CLOSING
        if handshaking:  # (no transport yet: the handshake's task owns the socket)
            self._limits._forget(self, self.address)
            sock, self._sock = self._sock, None
            if sock is not None:  # (its task not begun: it will not close the socket)
                sock.close()
            if self._handshake is not None:
                self._handshake.cancel()
        elif self._transport is not None:
            self._limits._forget(self._transport, self.address)  # (now: its room is taken)
            self._transport.abort()

    def _cancel_timers(self) -> None:
        for timer in (self._header_timer, self._read_timer):
            if timer is not None:
                timer.cancel()
        self._header_timer = self._read_timer = None


def tls_context(config: ServerConfig) -> ssl.SSLContext | None:
    """The server's TLS context from ``tls_cert``/``tls_key`` (None without them); a file that
    cannot be read or used is a :class:`DaemonConfigError` naming its field."""
    if not config.tls_cert:
        return None
    for field, path in (("server.tls_cert", config.tls_cert), ("server.tls_key", config.tls_key)):
        try:
            with open(path, "rb"):
                pass
        except OSError as exc:
            raise DaemonConfigError(field, f"{path!r} cannot be read ({exc.strerror})") from None
    def encrypted() -> bytes:
        # OpenSSL asks for an encrypted key's password on the terminal without a callback:
        # a daemon started from a shell waited there forever.
        raise DaemonConfigError("server.tls_key", f"{config.tls_key!r} is an encrypted key; "
                                "the daemon takes an unencrypted one (it has no password)")

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(config.tls_cert, config.tls_key, password=encrypted)
    except ssl.SSLError as exc:
        raise DaemonConfigError("server.tls_cert", f"{config.tls_cert!r} and "
                                f"{config.tls_key!r} are not a PEM certificate chain and its "
                                f"private key ({exc.reason or exc})") from None
    return context


def raise_fd_limit(config: ServerConfig) -> None:
    """Raise this process's open-file limit (up to the hard limit) to hold ``max_connections``
    plus the store, the binds and the webhooks; warn when the hard limit is lower."""
    needed = config.max_connections + 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < needed:
        log.warning("open files limited to %d: fewer than server.max_connections (%d) plus "
                    "1024; lower max_connections or raise the limit (ulimit -n)", target,
                    config.max_connections)
