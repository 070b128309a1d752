"""What the fake SMSC (SMPP, :mod:`.server`) and the fake ISMG (CMPP, :mod:`.ismg`) share.

Neither wire format is known here: each protocol's module decodes, answers and encodes. This
module has the rest.

- :class:`Conn` is one client connection: accepting and refusing it, TCP options and write
  backpressure, cutting the input into batches, the fault switches applied to a batch, one
  ``transport.write`` per batch, responses held back by the configured latency.
- :class:`Server` is what a fake carrier keeps: accounts and logins, admission (the bind's
  window, the account's TPS bucket, injected errors), the receipt and MO job queues with their
  timer, retries of deliver_sm nobody answered, the limits on connections (below), and the
  control methods tests use (faults, ``unbind_all``, ``restart``, queuing MO).

The limits that keep idle or hostile clients from shutting the others out (all in the config):

- ``max_connections`` in all and ``max_connections_per_address`` from one remote address. A
  connection that arrives at either cap evicts the oldest connection (from that address, for
  the second) that has not bound yet; only when every one there is bound is the newcomer
  refused. Open-but-unbound connections cost an attacker nothing, so they are the ones to go:
  256 idle sockets from one address cannot keep a client that binds at once from being served,
  whereas bound sessions are never dropped for a newcomer.
- ``pre_bind_timeout``: a connection not bound (SMPP bind, CMPP CONNECT) by then is closed.
- ``enquire_link_timeout``, the idle timeout: no whole PDU from a connection for this long and
  it is closed (bytes of a PDU that never completes do not count).
- ``read_timeout``: a PDU whose first octets came must be whole within this long (a declared
  70 000-octet length and then silence, or a slowloris at a byte a second, is closed).

While the server itself does not read a connection (``stall("read")``, or its replies pile up
unread) neither the idle nor the read clock runs against it.
- A connection uses its server only through :class:`Hub`, and reads the fault switches from the
  :class:`Switches` its server hands it.
- The values both record or draw: :class:`Job`, :class:`Bucket`, :func:`draw`,
  :class:`Dates`, :class:`BindState`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import enum
import heapq
import itertools
import math
import random
import socket
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, Protocol, Self, cast

from ..smpp import MessageState
from .config import Account, Config, Delay
from .ledger import Ledger

ENROUTE: Final = int(MessageState.ENROUTE)
# A receipt's stat (SMPP 3.4 Appendix B; CMPP section 8 uses the same words) and its state.
STATE_OF_STAT: Final = {
    "DELIVRD": MessageState.DELIVERED,
    "UNDELIV": MessageState.UNDELIVERABLE,
    "EXPIRED": MessageState.EXPIRED,
    "REJECTD": MessageState.REJECTED,
    "ACCEPTD": MessageState.ACCEPTED,
    "UNKNOWN": MessageState.UNKNOWN,
    "DELETED": MessageState.DELETED,
}


class BindState(enum.Enum):
    OPEN = "open"
    BOUND_TX = "bound_tx"
    BOUND_RX = "bound_rx"
    BOUND_TRX = "bound_trx"  # a CMPP login is always this
    UNBINDING = "unbinding"  # unbind (TERMINATE) sent or received; the connection is going away
    CLOSED = "closed"

    # Enum.__hash__ is Python code; identity hashing keeps set membership in C.
    __hash__ = object.__hash__


CAN_SUBMIT: Final = frozenset({BindState.BOUND_TX, BindState.BOUND_TRX})
CAN_RECEIVE: Final = frozenset({BindState.BOUND_RX, BindState.BOUND_TRX})
BOUND: Final = frozenset({BindState.BOUND_TX, BindState.BOUND_RX, BindState.BOUND_TRX})


class Refusal(enum.Enum):
    """Why a login was refused; each protocol answers it with its own status."""

    BUSY = "busy"  # refuse_binds is in force
    UNKNOWN = "unknown"  # no such account (and not open mode)
    SECRET = "secret"  # wrong password / authenticator
    MODE = "mode"  # the account may not bind in this mode (SMPP)
    FULL = "full"  # the account has max_binds already


@dataclass(frozen=True)
class BindInfo:
    """A live bind, as tests see it."""

    bind_id: int
    account: str
    mode: str
    peer: str


@dataclass
class MoResult:
    """What became of an injected MO message: one deliver_sm_resp status per part
    (-1: nobody answered)."""

    parts: int
    statuses: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return len(self.statuses) == self.parts and all(s == 0 for s in self.statuses)


class Job:
    """A deliver_sm the SMSC owes some receiver bind of ``account``: a receipt, or an MO part."""

    __slots__ = ("account", "attempts", "delay", "dest", "message_id", "mo", "on_resp",
                 "sent_at", "source", "stat", "submitted", "text")

    def __init__(self, account: str, message_id: str, stat: str, submitted: float,
                 delay: float, source: tuple[int, int, bytes], dest: tuple[int, int, bytes],
                 text: bytes, mo: dict[str, Any] | None = None,
                 on_resp: Callable[[int], None] | None = None) -> None:
        self.account = account
        self.message_id = message_id
        self.stat = stat
        self.submitted = submitted
        self.delay = delay
        self.source = source  # (ton, npi, addr) of the receipt's source: the handset
        self.dest = dest
        self.text = text
        self.mo = mo  # an MO part, as the protocol's connections send it; None: a receipt
        self.on_resp = on_resp
        self.attempts = 0
        self.sent_at = 0.0


class Bucket:
    """Token bucket for an account's TPS (burst: one second's worth)."""

    __slots__ = ("cap", "last", "rate", "tokens")

    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self.cap = max(rate, 1.0)
        self.tokens = self.cap
        self.last = now

    def take(self, now: float, n: int = 1) -> bool:
        """Take ``n`` tokens (a CMPP SUBMIT to n numbers counts n times, section 11.6); more
        than a burst's worth needs a full bucket."""
        cap = self.cap
        tokens = min(cap, self.tokens + (now - self.last) * self.rate)
        self.last = now
        need = n if n < cap else cap
        if tokens >= need:
            self.tokens = tokens - need
            return True
        self.tokens = tokens
        return False


def draw(delay: Delay, rng: random.Random) -> float:
    """A latency or receipt delay, in seconds."""
    if delay.kind == "fixed":
        return delay.value
    if delay.kind == "uniform":
        return rng.uniform(delay.low, delay.high)
    value = delay.median * math.exp(rng.gauss(0.0, delay.sigma))
    return min(value, delay.high) if delay.high > 0 else value


class Dates:
    """Receipt date strings for wall-clock seconds, cached: many receipts share a second."""

    def __init__(self, digits: int) -> None:
        self.fmt = "%y%m%d%H%M" if digits == 10 else "%y%m%d%H%M%S"
        self.cache: dict[int, str] = {}
        self.last = (-1, "")

    def __call__(self, when: float) -> str:
        key = int(when)
        if key == self.last[0]:
            return self.last[1]
        text = self.cache.get(key)
        if text is None:
            if len(self.cache) > 4096:
                self.cache.clear()
            text = self.cache[key] = dt.datetime.fromtimestamp(key).strftime(self.fmt)
        self.last = (key, text)
        return text


class Switches:
    """The fault switches a server flips and its connections read on every batch."""

    __slots__ = ("drop_after_pdus", "faulty", "stall_answer", "stall_read")

    def __init__(self, drop_after_pdus: int) -> None:
        self.stall_read = False  # read nothing from clients
        self.stall_answer = False  # read, answer nothing
        self.drop_after_pdus = drop_after_pdus  # close a connection after this many PDUs
        self.faulty = False  # drop_after_pdus or stall_answer: batches take the slow path
        self.update()

    def update(self) -> None:
        self.faulty = bool(self.drop_after_pdus) or self.stall_answer


class Hub(Protocol):
    """The server, as its connections see it: all a :class:`Conn` may use of it."""

    @property
    def config(self) -> Config: ...

    @property
    def stats(self) -> dict[str, int]: ...

    @property
    def ledger(self) -> Ledger: ...

    def attach(self, conn: Conn) -> bool:
        """A new TCP connection: False when it is one too many."""
        ...

    def detach(self, conn: Conn) -> None:
        """The connection is gone; the jobs it never answered go to other binds."""
        ...

    def tick(self) -> float:
        """The wall clock for a batch of input: read once, shared by all its PDUs."""
        ...

    def login(self, system_id: str, now: float, secret_ok: Callable[[Account], bool],
              mode: str | None = None) -> Account | Refusal:
        """The account ``system_id`` logs in as, or why it may not."""
        ...

    def bound(self, conn: Conn) -> None:
        """``conn`` has logged in (``account``, ``system_id``, ``state`` set): sets its
        ``bind_id`` and ``admit_free``, and a receiver gets what its account had waiting."""
        ...

    def admit(self, conn: Conn, now: float, n: int = 1) -> int:
        """0 to accept a submit to ``n`` numbers on ``conn`` now, else the status to refuse
        it with (``conn.throttle_status`` or an injected error)."""
        ...

    def latency(self) -> float:
        """How long to hold a response back, drawn from ``latency``."""
        ...

    def deliver(self, now: float) -> None:
        """Write the receipts and MO that are due to receiver binds."""
        ...

    def answered(self, job: Job, status: int) -> None:
        """A client answered the deliver_sm (DELIVER) of ``job`` with ``status``."""
        ...

    def en_route(self, message_id: str) -> bool:
        """A receipt is still owed for ``message_id``."""
        ...

    def cancel(self, message_id: str) -> bool:
        """Cancel a message whose receipt is still owed (it will say DELETED); False when
        none is."""
        ...


class WireFramer(Protocol):
    """A protocol's sans-I/O framer: bytes in, PDUs and invalid-PDU events out."""

    def feed(self, data: bytes) -> list[Any]: ...

    @property
    def buffered(self) -> int:
        """Octets received that are not yet a whole PDU."""
        ...


class Conn(asyncio.Protocol):
    """One client connection. A protocol's subclass sets ``framer`` (and ``framing_error``,
    what its ``feed`` raises) and answers a batch of decoded PDUs in :meth:`received`."""

    framing_error: ClassVar[type[Exception]]
    framer: WireFramer

    def __init__(self, hub: Hub, switches: Switches) -> None:
        self.hub = hub
        self.switches = switches
        self.stats = hub.stats
        self.ledger = hub.ledger
        self.loop = asyncio.get_running_loop()
        self.latency_zero = hub.config.latency.is_zero
        self.transport: asyncio.Transport | None = None
        self.state = BindState.OPEN
        self.mode = ""  # as BindInfo shows it
        self.can_submit = False
        self.account: Account | None = None
        self.system_id = ""
        self.admit_free = False  # no TPS, window or injected errors to check
        self.throttle_status = 0  # what a throttled submit is answered with
        self.bind_id = 0
        self.peer = ""
        self.pdus_in = 0
        self.seq = 0
        self.out: list[bytes] = []
        self.unanswered = 0  # requests whose delayed response is not yet written
        self.broken = False  # a framing error: answer what is owed, then close
        self.jobs: dict[int, Job] = {}  # our deliver_sm sequence -> job awaiting its resp
        self.write_paused = False
        self.last_heard = 0.0  # loop time of the last whole PDU (or of connecting)
        self.partial_since = 0.0  # loop time a PDU still incomplete began to arrive; 0: none
        self.address = ""  # the remote address, for max_connections_per_address
        self.connected_at = 0.0
        self.wall = 0.0  # the wall clock of the batch being handled

    # --- what a protocol adds ------------------------------------------------------------------

    def received(self, events: list[Any], now: float, fast: bool) -> bool:
        """Answer a batch (``fast``: no fault switch is on); False once the connection is
        closing."""
        raise NotImplementedError

    def goodbye(self) -> bytes:
        """The request that ends a session from the server's side (unbind; CMPP: TERMINATE)."""
        raise NotImplementedError

    # --- asyncio callbacks ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.address = str(peer[0]) if peer else "?"
        self.peer = f"{peer[0]}:{peer[1]}" if peer else "?"
        self.connected_at = self.last_heard = self.loop.time()
        if not self.hub.attach(self):
            self.transport.abort()
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.transport.set_write_buffer_limits(high=self.hub.config.output_buffer_limit)
        if self.switches.stall_read:
            self.transport.pause_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.state = BindState.CLOSED
        self.can_submit = False
        self.hub.detach(self)
        self.transport = None

    def pause_writing(self) -> None:
        # Replies pile up (the client does not read): stop reading it until they drain.
        self.write_paused = True
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.transport is not None and not self.switches.stall_read:
            self.transport.resume_reading()
            self.reading_resumed(self.loop.time())
        self.hub.deliver(self.loop.time())

    @property
    def unread(self) -> bool:
        """The server has stopped reading this connection (a read stall, or replies it does
        not take): its silence is ours, not its own."""
        return self.write_paused or self.switches.stall_read

    def reading_resumed(self, now: float) -> None:
        """Reading starts again: the idle and read clocks start over, the time not read was
        not the client's."""
        self.last_heard = now
        if self.partial_since:
            self.partial_since = now

    def data_received(self, data: bytes) -> None:
        if self.broken:
            return  # (past a framing error: only the answers still owed go out, then it closes)
        try:
            events = self.framer.feed(data)
        except self.framing_error as exc:
            # The stream cannot be framed past here: what was decoded before the bad length is
            # still answered (FramingError.events), then the connection closes.
            self.stats["framing_errors"] += 1
            events = getattr(exc, "events", [])
            self.broken = True
            if not events:
                self._close_when_answered()
                return
        now = self.loop.time()
        self.wall = self.hub.tick()
        n = len(events)
        if n:
            self.last_heard = now
        # The read timeout's clock: from the first octets of a PDU still incomplete (a new one
        # when this batch completed others).
        if self.framer.buffered:
            if n or not self.partial_since:
                self.partial_since = now
        elif self.partial_since:
            self.partial_since = 0.0
        self.stats["pdus_in"] += n
        self.pdus_in += n
        switches = self.switches
        drop = False
        if switches.faulty and switches.drop_after_pdus:
            # Answer the PDUs up to the limit, then close: the limit can fall inside a batch.
            keep = switches.drop_after_pdus - (self.pdus_in - n)
            if keep <= n:
                drop = True
                events = events[:max(keep, 0)]
        if not self.received(events, now, not switches.faulty):
            return
        self.hub.deliver(now)  # flushes this connection too if it got receipts
        self.flush()
        if drop:
            self.stats["faults_dropped"] += 1
            self.close()
        elif self.broken:
            self._close_when_answered()

    # --- output ----------------------------------------------------------------------------------

    def flush(self) -> None:
        out = self.out
        if out and self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(out) if len(out) > 1 else out[0])
            self.stats["pdus_out"] += len(out)
        out.clear()

    def respond(self, data: bytes) -> None:
        """Send a response now, or after the configured latency."""
        if self.latency_zero:
            self.out.append(data)
            return
        self.unanswered += 1
        self.loop.call_at(self.loop.time() + self.hub.latency(), self._late, data)

    def _late(self, data: bytes) -> None:
        self.unanswered -= 1
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)
            self.stats["pdus_out"] += 1
            if self.broken and not self.unanswered:
                self.close()

    def _close_when_answered(self) -> None:
        """Close now, or once the answers held back by the configured latency are written
        (the last of them closes it, in _late)."""
        if not self.unanswered:
            self.close()

    def next_seq(self) -> int:
        self.seq = self.seq + 1 if self.seq < 0x7FFFFFFF else 1
        return self.seq

    def close(self) -> None:
        if self.transport is not None:
            self.flush()
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def unbinding(self) -> None:
        """The session is ending (unbind or TERMINATE, either way): no more submits."""
        self.state = BindState.UNBINDING
        self.can_submit = False


class Server:
    """A fake carrier's bookkeeping, whatever its protocol. A subclass names its connection
    class, the status an ``errors`` entry injects, and how a due job is encoded."""

    #: One instance per TCP connection.
    _conn_class: type[Conn]

    def __init__(self, config: Config | None = None, *, host: str = "127.0.0.1", port: int = 0):
        self.config = config or Config()
        self.host = host
        self.port = port
        self.ledger = Ledger(self.config.ledger_limit)
        self.stats: dict[str, int] = dict.fromkeys(
            (
                "connections", "connections_refused", "binds", "binds_refused", "pdus_in",
                "pdus_out", "invalid_pdus", "framing_errors", "throttled", "errors_injected",
                "receipts_sent", "receipts_answered", "receipts_retried", "receipts_dropped",
                "mo_sent", "faults_dropped", "restarts", "connections_evicted",
                "pre_bind_timeouts", "idle_timeouts", "read_timeouts",
            ),
            0,
        )
        cfg = self.config
        self._accounts = {a.system_id: a for a in cfg.accounts}
        self._rng = random.Random(cfg.seed)
        self._bind_ids = itertools.count(1)
        self._conns: set[Conn] = set()
        # Connections not bound yet, oldest first (dicts keep insertion order), in all and by
        # remote address: the first to go at a cap, and the pre-bind timeout's queue.
        self._unbound: dict[Conn, None] = {}
        self._unbound_at: dict[str, dict[Conn, None]] = {}
        self._per_address: dict[str, int] = {}
        self._binds_of: dict[str, list[Conn]] = {}
        self._receivers: dict[str, list[Conn]] = {}
        self._rr = 0
        self._buckets: dict[str, Bucket] = {}
        # message_id -> (message_state, when it got there; 0.0 while en route)
        self._states: dict[str, tuple[int, float]] = {}
        self._cancelled: set[str] = set()
        # Jobs by deadline: FIFO when every delay is the same, else a heap; _ready holds jobs
        # due now (retries, MO, receipts whose bind went away).
        self._fifo_delays = cfg.receipts.delay.kind == "fixed"
        self._fifo: deque[tuple[float, Job]] = deque()
        self._heap: list[tuple[float, int, Job]] = []
        self._ready: deque[Job] = deque()
        # Jobs of accounts with no receiver bind at all, parked until one binds: left in _ready
        # they would be rescanned by every _pump, i.e. on every read (quadratic).
        self._waiting: dict[str, deque[Job]] = {}
        self._order = itertools.count()
        self._pending = 0  # jobs queued (not yet written)
        receipts = cfg.receipts
        self._receipt_delay = receipts.delay
        self._receipt_delay_zero = receipts.delay.is_zero
        self._retry_after = receipts.retry_after
        self._max_pending = receipts.max_pending
        self._timer: asyncio.TimerHandle | asyncio.Handle | None = None
        # Kept beside the handle: uvloop's call_at returns a plain Handle (no .when()) for a
        # time already past.
        self._timer_due = 0.0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._switches = Switches(cfg.faults.drop_after_pdus)
        self._refuse_binds_until = 0.0
        self._wall = time.time()
        cumulative = 0.0
        self._error_table: list[tuple[int, float]] = []
        for name, rate in cfg.errors.items():
            cumulative += rate
            self._error_table.append((self._error_code(name), cumulative))
        stats, weights = zip(*cfg.receipts.statuses.items(), strict=True)
        self._stat_names: tuple[str, ...] = stats
        self._stat_weights = list(itertools.accumulate(weights))
        self._loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]

    def _error_code(self, name: str) -> int:
        """The status an ``errors`` entry injects."""
        raise NotImplementedError

    def _deliver_octets(self, conn: Conn, job: Job, seq: int) -> bytes:
        """The deliver_sm (DELIVER) of a due job, as ``conn`` speaks it."""
        raise NotImplementedError

    # --- lifecycle ----------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        now = self._loop.time()
        for account in self.config.accounts:
            if account.tps:
                self._buckets[account.system_id] = Bucket(account.tps, now)
        if self.config.faults.refuse_binds_for:
            self._refuse_binds_until = now + self.config.faults.refuse_binds_for
        await self._listen()
        self._spawn(self._housekeeping())

    async def _listen(self) -> None:
        # TLS (config.tls_cert): a client that fails the handshake (a plaintext one) never
        # becomes a Conn, and one that stalls in it is cut at the pre-bind timeout.
        context = self.config.ssl_context()
        self._server = await self._loop.create_server(
            lambda: self._conn_class(self, self._switches), self.host, self.port,
            reuse_address=True, ssl=context,
            ssl_handshake_timeout=(self.config.pre_bind_timeout or None) if context else None,
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self, *, unbind_timeout: float = 1.0) -> None:
        """Unbind every client (waiting up to ``unbind_timeout``), then close."""
        if self._server is not None:
            self._server.close()
        await self.unbind_all(timeout=unbind_timeout)
        for conn in list(self._conns):
            conn.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def binds(self) -> list[BindInfo]:
        return sorted(
            (BindInfo(c.bind_id, c.system_id, c.mode, c.peer)
             for c in self._conns if c.state in BOUND),
            key=lambda b: b.bind_id,
        )

    def _spawn(self, coro: Any) -> None:
        task = self._loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- for connections (Hub) ------------------------------------------------------------------

    def attach(self, conn: Conn) -> bool:
        cfg = self.config
        address = conn.address
        if ((self._per_address.get(address, 0) >= cfg.max_connections_per_address
             and not self._evict(self._unbound_at.get(address)))
                or (len(self._conns) >= cfg.max_connections and not self._evict(self._unbound))):
            self.stats["connections_refused"] += 1
            return False
        self._conns.add(conn)
        self._per_address[address] = self._per_address.get(address, 0) + 1
        self._unbound[conn] = None
        self._unbound_at.setdefault(address, {})[conn] = None
        self.stats["connections"] += 1
        return True

    def _evict(self, unbound: dict[Conn, None] | None) -> bool:
        """Make room for a new connection by closing the oldest of ``unbound``; False when
        there is none (everyone there is bound: the newcomer is the one refused)."""
        if not unbound:
            return False
        self._close_for(next(iter(unbound)), "connections_evicted")
        return True

    def _close_for(self, conn: Conn, counter: str) -> None:
        """Abort ``conn`` for a limit, counted under ``counter``. It leaves the bookkeeping now
        (its connection_lost comes in a later callback) so that it makes room at once."""
        self._forget(conn)
        self.stats[counter] += 1
        conn.abort()

    def _forget(self, conn: Conn) -> None:
        if conn not in self._conns:
            return
        self._conns.discard(conn)
        address = conn.address
        left = self._per_address[address] - 1
        if left:
            self._per_address[address] = left
        else:
            del self._per_address[address]
        self._not_unbound(conn)

    def _not_unbound(self, conn: Conn) -> None:
        """``conn`` bound, or went: out of the queues of connections not bound yet."""
        if conn in self._unbound:
            del self._unbound[conn]
            mine = self._unbound_at[conn.address]
            del mine[conn]
            if not mine:
                del self._unbound_at[conn.address]

    def detach(self, conn: Conn) -> None:
        self._forget(conn)
        for table in (self._binds_of, self._receivers):
            binds = table.get(conn.system_id)
            if binds and conn in binds:
                binds.remove(conn)
        # Jobs it never answered go to another bind (or wait for one).
        for job in conn.jobs.values():
            self._ready.append(job)
            self._pending += 1
        conn.jobs.clear()
        if self._ready:
            self._loop.call_soon(self._pump)

    def tick(self) -> float:
        self._wall = wall = time.time()
        return wall

    def login(self, system_id: str, now: float, secret_ok: Callable[[Account], bool],
              mode: str | None = None) -> Account | Refusal:
        if now < self._refuse_binds_until:
            return Refusal.BUSY
        account = self._accounts.get(system_id)
        if account is None:
            if not self.config.open_mode:
                return Refusal.UNKNOWN
            account = Account(system_id=system_id or "open")
        elif not secret_ok(account):
            return Refusal.SECRET
        if mode is not None and mode not in account.bind_modes:
            return Refusal.MODE
        if len(self._binds_of.get(account.system_id, ())) >= account.max_binds:
            return Refusal.FULL
        return account

    def bound(self, conn: Conn) -> None:
        account = conn.account
        assert account is not None
        system_id = account.system_id
        conn.admit_free = (not account.window and system_id not in self._buckets
                           and not self._error_table)
        conn.bind_id = next(self._bind_ids)
        self._not_unbound(conn)
        self._binds_of.setdefault(system_id, []).append(conn)
        self.stats["binds"] += 1
        if conn.state in CAN_RECEIVE:
            self._receivers.setdefault(system_id, []).append(conn)
            waiting = self._waiting.pop(system_id, None)
            if waiting:
                self._ready.extend(waiting)
            self._loop.call_soon(self._pump)

    def admit(self, conn: Conn, now: float, n: int = 1) -> int:
        account = conn.account
        assert account is not None
        if account.window and conn.unanswered >= account.window:
            self.stats["throttled"] += 1
            return conn.throttle_status
        bucket = self._buckets.get(account.system_id)
        if bucket is not None and not bucket.take(now, n):
            self.stats["throttled"] += 1
            return conn.throttle_status
        if self._error_table:
            x = self._rng.random()
            for status, upto in self._error_table:
                if x < upto:
                    self.stats["errors_injected"] += 1
                    return status
        return 0

    def latency(self) -> float:
        return draw(self.config.latency, self._rng)

    def deliver(self, now: float) -> None:
        if (self._ready or (self._fifo and self._fifo[0][0] <= now)
                or (self._heap and self._heap[0][0] <= now)):
            self._pump()

    def answered(self, job: Job, status: int) -> None:
        if job.on_resp is not None:
            job.on_resp(status)
        else:
            self.stats["receipts_answered"] += 1

    def en_route(self, message_id: str) -> bool:
        return self._states.get(message_id, (0, 0.0))[0] == ENROUTE

    def cancel(self, message_id: str) -> bool:
        if not self.en_route(message_id):
            return False
        self._states[message_id] = (int(MessageState.DELETED), self._wall)
        self._cancelled.add(message_id)
        return True

    # --- receipts and MO: the job queues -------------------------------------------------------

    def _draw_stat(self) -> str:
        """A receipt's final state, drawn from ``receipts.statuses``."""
        weights = self._stat_weights
        if len(weights) > 1:
            x = self._rng.random() * weights[-1]
            for i, upto in enumerate(weights):
                if x < upto:
                    return self._stat_names[i]
        return self._stat_names[0]

    def _schedule(self, job: Job, due: float) -> None:
        """Queue a receipt job for ``due`` (loop time), unless too many are pending."""
        if self._pending >= self._max_pending:
            self.stats["receipts_dropped"] += 1
            return
        self._pending += 1
        if self._fifo_delays:
            self._fifo.append((due, job))
            if len(self._fifo) == 1:
                self._arm(due)
        else:
            heapq.heappush(self._heap, (due, next(self._order), job))
            if self._heap[0][2] is job:
                self._arm(due)

    def _arm(self, due: float) -> None:
        if self._timer is not None:
            if self._timer_due <= due:
                return
            self._timer.cancel()
        self._timer_due = due
        self._timer = self._loop.call_at(due, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._pump()

    def _receiver(self, account: str) -> Conn | None:
        binds = self._receivers.get(account)
        if not binds:
            return None
        self._rr += 1
        conn = binds[self._rr % len(binds)]
        if conn.write_paused:
            ready = [c for c in binds if not c.write_paused]
            return ready[self._rr % len(ready)] if ready else None
        return conn

    def _pump(self) -> None:
        """Write every job that is due to a receiver bind of its account."""
        now = self._loop.time()
        touched: set[Conn] = set()
        send = self._send
        held: list[Job] = []
        hold = self._hold
        ready = self._ready
        while ready:
            job = ready.popleft()
            conn = self._receiver(job.account)
            if conn is None:
                hold(job, held)
            else:
                send(conn, job, now)
                touched.add(conn)
        fifo, heap = self._fifo, self._heap
        while fifo and fifo[0][0] <= now:
            job = fifo.popleft()[1]
            conn = self._receiver(job.account)
            if conn is None:
                hold(job, held)
            else:
                send(conn, job, now)
                touched.add(conn)
        while heap and heap[0][0] <= now:
            job = heapq.heappop(heap)[2]
            conn = self._receiver(job.account)
            if conn is None:
                hold(job, held)
            else:
                send(conn, job, now)
                touched.add(conn)
        ready.extend(held)  # receivers bound but all paused: try again on resume_writing
        for conn in touched:
            conn.flush()
        if fifo:
            self._arm(fifo[0][0])
        if heap:
            self._arm(heap[0][0])

    def _hold(self, job: Job, held: list[Job]) -> None:
        """A due job no receiver can take now: parked for its account's next receiver bind, or,
        when its receivers are only write-paused, kept ready."""
        if self._receivers.get(job.account):
            held.append(job)
        else:
            self._waiting.setdefault(job.account, deque()).append(job)

    def _send(self, conn: Conn, job: Job, now: float) -> None:
        seq = conn.seq = conn.seq + 1 if conn.seq < 0x7FFFFFFF else 1
        self._pending -= 1
        job.attempts += 1
        if job.attempts > 1:
            self.stats["receipts_retried"] += 1
        conn.jobs[seq] = job
        job.sent_at = now
        conn.out.append(self._deliver_octets(conn, job, seq))
        self.stats["receipts_sent" if job.mo is None else "mo_sent"] += 1

    def _retry_unanswered(self, now: float) -> None:
        """Resend deliver_sm nobody answered within retry_after (to any receiver bind), up to
        max_attempts. Only unanswered jobs are kept, so this scans at most a window's worth."""
        cutoff = now - self._retry_after
        for conn in list(self._conns):
            late = [seq for seq, job in conn.jobs.items() if job.sent_at <= cutoff]
            for seq in late:
                job = conn.jobs.pop(seq)
                if job.attempts >= self.config.receipts.max_attempts:
                    self.stats["receipts_dropped"] += 1
                    if job.on_resp is not None:
                        job.on_resp(-1)
                    continue
                self._ready.append(job)
                self._pending += 1
        if self._ready:
            self._pump()

    async def _housekeeping(self) -> None:
        """Retries of unanswered deliver_sm, scheduled faults and the connection timeouts,
        four times a second (more often when a timeout is shorter than a second)."""
        cfg = self.config
        faults = cfg.faults
        next_drop = self._loop.time() + faults.drop_every if faults.drop_every else math.inf
        timeouts = [t for t in (cfg.pre_bind_timeout, cfg.enquire_link_timeout,
                                cfg.read_timeout) if t]
        tick = max(0.01, min([0.25, *(t / 4 for t in timeouts)]))
        while True:
            await asyncio.sleep(tick)
            now = self._loop.time()
            self._retry_unanswered(now)
            if now >= next_drop:
                next_drop = now + faults.drop_every
                self.drop_connections()
            if timeouts:
                self._enforce_timeouts(now)

    def _enforce_timeouts(self, now: float) -> None:
        """Close connections past the pre-bind, idle or read timeout."""
        cfg = self.config
        if cfg.pre_bind_timeout:
            # Oldest first: only those that expired are looked at.
            cutoff = now - cfg.pre_bind_timeout
            unbound = self._unbound
            while unbound:
                conn = next(iter(unbound))
                if conn.connected_at > cutoff:
                    break
                self._close_for(conn, "pre_bind_timeouts")
        idle, read = cfg.enquire_link_timeout, cfg.read_timeout
        if not (idle or read):
            return
        for conn in list(self._conns):
            if conn.transport is None or conn.unread:
                continue
            if idle and now - conn.last_heard > idle:
                self._close_for(conn, "idle_timeouts")
            elif read and conn.partial_since and now - conn.partial_since > read:
                self._close_for(conn, "read_timeouts")

    # --- control: MO traffic ------------------------------------------------------------------

    def _mo_target(self, account: str | None, nobody: str) -> str:
        """The account an MO message goes to: ``account``, or the first with a receiver.
        RuntimeError ("``nobody`` for …") when it has no receiver bind."""
        target = account or next((a for a, b in self._receivers.items() if b), None)
        if target is None or not self._receivers.get(target):
            raise RuntimeError(f"{nobody} for {target or 'any account'}")
        return target

    async def _send_mo(self, target: str, mos: Sequence[dict[str, Any]],
                       timeout: float) -> MoResult:
        """Queue the parts of an MO message for ``target``'s binds; wait (up to ``timeout``)
        for every part's response. ``mos`` are what the protocol's connections send (the SMPP
        fields, or the CMPP octets per version)."""
        result = MoResult(parts=len(mos))
        done = self._loop.create_future()

        def on_resp(status: int) -> None:
            result.statuses.append(status)
            if len(result.statuses) == result.parts and not done.done():
                done.set_result(None)

        for mo in mos:
            job = Job(target, "", "", self._wall, 0.0, (0, 0, b""), (0, 0, b""), b"", mo=mo,
                      on_resp=on_resp)
            self._ready.append(job)
            self._pending += 1
        self._pump()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(done), timeout)
        return result

    # --- control: faults ----------------------------------------------------------------------

    def drop_connections(self, account: str | None = None) -> int:
        """Close connections abruptly (no unbind); returns how many."""
        victims = [c for c in self._conns if account is None or c.system_id == account]
        for conn in victims:
            conn.abort()
        self.stats["faults_dropped"] += len(victims)
        return len(victims)

    def drop_after_pdus(self, count: int) -> None:
        """Close each connection once it has sent ``count`` PDUs (0 turns it off)."""
        self._switches.drop_after_pdus = count
        self._switches.update()

    def stall(self, mode: str = "answer") -> None:
        """``"read"``: stop reading from clients; ``"answer"``: read but never answer."""
        if mode == "read":
            self._switches.stall_read = True
            for conn in self._conns:
                if conn.transport is not None:
                    conn.transport.pause_reading()
        elif mode == "answer":
            self._switches.stall_answer = True
            self._switches.update()
        else:
            raise ValueError(f"stall mode must be 'read' or 'answer', got {mode!r}")

    def resume(self) -> None:
        """End any stall."""
        switches = self._switches
        switches.stall_answer = False
        switches.update()
        if switches.stall_read:
            switches.stall_read = False
            now = self._loop.time()
            for conn in self._conns:
                if conn.transport is not None and not conn.write_paused:
                    conn.transport.resume_reading()
                    conn.reading_resumed(now)

    def send_garbage(self, data: bytes = b"\xde\xad\xbe\xef" * 8,
                     account: str | None = None) -> int:
        """Write bytes that are not SMPP (CMPP) to clients; returns how many got them."""
        n = 0
        for conn in list(self._conns):
            if (account is None or conn.system_id == account) and conn.transport is not None:
                conn.transport.write(data)
                n += 1
        return n

    async def unbind_all(self, timeout: float = 1.0) -> None:
        """Server-initiated unbind (CMPP: TERMINATE) of every bound client; waits for the
        connections to go."""
        bound = [c for c in self._conns if c.state in BOUND]
        for conn in bound:
            conn.unbinding()
            conn.out.append(conn.goodbye())
            conn.flush()
        deadline = self._loop.time() + timeout
        while any(c in self._conns for c in bound) and self._loop.time() < deadline:
            await asyncio.sleep(0.01)
        for conn in bound:
            if conn in self._conns:
                conn.abort()

    def refuse_binds(self, seconds: float) -> None:
        """Answer every bind with ESME_RBINDFAIL (CMPP: CONNECT_RESP Status 5) for
        ``seconds``."""
        self._refuse_binds_until = self._loop.time() + seconds

    async def restart(self, down_for: float = 0.0) -> None:
        """Lose every bind at once and stop listening for ``down_for`` seconds; the ledger and
        pending receipts survive, as on a carrier's SMSC restart."""
        self.stats["restarts"] += 1
        if self._server is not None:
            self._server.close()
        # Abort before wait_closed: from Python 3.12.1 it waits for every open connection.
        for conn in list(self._conns):
            conn.abort()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        if down_for:
            await asyncio.sleep(down_for)
        await self._listen()
