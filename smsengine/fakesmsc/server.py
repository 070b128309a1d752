"""The fake SMSC: an SMPP 3.4 server that behaves — and fails — like carriers do.

One :class:`_Conn` (an ``asyncio.Protocol``) per TCP connection feeds received bytes to the
sans-I/O :class:`~smsengine.smpp.Framer` and answers each PDU; everything a batch of input
produces leaves in one ``transport.write``. :class:`FakeSMSC` owns the accounts, the ledger, the
receipt queues and the control methods tests use to inject MO traffic and faults.

Hot path (it must never be what limits a client under test): a submit_sm is checked (bind state,
TPS, window, injected errors), recorded in the ledger as a tuple, and answered from a header
template. Receipts wait in deadline order — a FIFO when the delay is fixed (constant delay keeps
arrival order), a heap when it is random — drained by one timer, and are encoded from a template
of the deliver_sm body: the values are the server's own, already valid.
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
import struct
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, cast

from ..smpp import (
    CommandId,
    CommandStatus,
    DataSm,
    DeliverSm,
    DeliverSmResp,
    Framer,
    FramingError,
    GenericNack,
    InvalidPdu,
    MessageState,
    Pdu,
    QuerySm,
    Request,
    Response,
    SubmitMulti,
    SubmitSm,
    Tag,
    Tlv,
    Unbind,
)
from ..smpp.pdu import (
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    CancelSm,
    ReplaceSm,
    SmeAddress,
)
from .config import Account, Config, Delay
from .ledger import Ledger, message_id_factory, other_base

__all__ = ["BindInfo", "FakeSMSC", "MoResult"]

_HEADER = struct.Struct(">IIII")
_SUBMIT_RESP: Final = int(CommandId.submit_sm_resp)
_DELIVER_SM: Final = int(CommandId.deliver_sm)
_S = CommandStatus
_STATUS_BY_NAME: Final = {s.name: s for s in CommandStatus}


class BindState(enum.Enum):
    OPEN = "open"
    BOUND_TX = "bound_tx"
    BOUND_RX = "bound_rx"
    BOUND_TRX = "bound_trx"
    UNBINDING = "unbinding"  # unbind sent or received; the connection is going away
    CLOSED = "closed"

    # Enum.__hash__ is Python code; identity hashing keeps set membership in C.
    __hash__ = object.__hash__


_MODE_OF = {
    CommandId.bind_transmitter: ("transmitter", BindState.BOUND_TX),
    CommandId.bind_receiver: ("receiver", BindState.BOUND_RX),
    CommandId.bind_transceiver: ("transceiver", BindState.BOUND_TRX),
}
_MODE_NAME = {BindState.BOUND_TX: "transmitter", BindState.BOUND_RX: "receiver",
              BindState.BOUND_TRX: "transceiver"}
_CAN_SUBMIT = frozenset({BindState.BOUND_TX, BindState.BOUND_TRX})
_CAN_RECEIVE = frozenset({BindState.BOUND_RX, BindState.BOUND_TRX})
_BOUND = frozenset({BindState.BOUND_TX, BindState.BOUND_RX, BindState.BOUND_TRX})

# Which requests an ESME may send in which state (SMPP 3.4 section 2.3); anything else is
# answered with ESME_RINVBNDSTS. A bind on a bound connection gets ESME_RALYBND.
_ALLOWED: Final[dict[int, frozenset[BindState]]] = {
    CommandId.submit_sm: _CAN_SUBMIT,
    CommandId.submit_multi: _CAN_SUBMIT,
    CommandId.data_sm: _CAN_SUBMIT,
    CommandId.query_sm: _CAN_SUBMIT,
    CommandId.cancel_sm: _CAN_SUBMIT,
    CommandId.replace_sm: _CAN_SUBMIT,
    CommandId.unbind: _BOUND | {BindState.UNBINDING},
    CommandId.enquire_link: _BOUND | {BindState.OPEN, BindState.UNBINDING},
}

_ENROUTE: Final = int(MessageState.ENROUTE)
_FAILED_STATS = frozenset({"UNDELIV", "EXPIRED", "REJECTD", "UNKNOWN", "DELETED"})
_STATE_OF_STAT: Final = {
    "DELIVRD": MessageState.DELIVERED,
    "UNDELIV": MessageState.UNDELIVERABLE,
    "EXPIRED": MessageState.EXPIRED,
    "REJECTD": MessageState.REJECTED,
    "ACCEPTD": MessageState.ACCEPTED,
    "UNKNOWN": MessageState.UNKNOWN,
    "DELETED": MessageState.DELETED,
}

# deliver_sm body of a receipt after destination_addr: esm_class 0x04 (SMSC delivery receipt),
# protocol_id, priority_flag, schedule_delivery_time, validity_period, registered_delivery,
# replace_if_present_flag, data_coding, sm_default_msg_id — then sm_length, text, TLVs.
_RECEIPT_BODY: Final = b"\0%c%c%b\0%c%c%b\0\x04\0\0\0\0\0\0\0\0%c%b%b"
# receipted_message_id (length, id, NUL) and message_state (one octet).
_RECEIPT_TLVS: Final = b"\x00\x1e\x00%c%b\x00\x04\x27\x00\x01%c"


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


class _Job:
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
        self.mo = mo
        self.on_resp = on_resp
        self.attempts = 0
        self.sent_at = 0.0


class _Bucket:
    """Token bucket for an account's TPS (burst: one second's worth)."""

    __slots__ = ("last", "rate", "tokens")

    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self.tokens = max(rate, 1.0)
        self.last = now

    def take(self, now: float) -> bool:
        tokens = min(max(self.rate, 1.0), self.tokens + (now - self.last) * self.rate)
        self.last = now
        if tokens >= 1.0:
            self.tokens = tokens - 1.0
            return True
        self.tokens = tokens
        return False

    def take_many(self, now: float, n: int) -> bool:
        """Take ``n`` tokens at once (a CMPP SUBMIT to n numbers counts n times, section 11.6);
        more than a burst's worth needs a full bucket."""
        cap = max(self.rate, 1.0)
        tokens = min(cap, self.tokens + (now - self.last) * self.rate)
        self.last = now
        need = min(float(n), cap)
        if tokens >= need:
            self.tokens = tokens - need
            return True
        self.tokens = tokens
        return False


def _draw(delay: Delay, rng: random.Random) -> float:
    if delay.kind == "fixed":
        return delay.value
    if delay.kind == "uniform":
        return rng.uniform(delay.low, delay.high)
    value = delay.median * math.exp(rng.gauss(0.0, delay.sigma))
    return min(value, delay.high) if delay.high > 0 else value


class _Dates:
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


class _Conn(asyncio.Protocol):
    """One ESME connection."""

    def __init__(self, smsc: FakeSMSC) -> None:
        self.smsc = smsc
        self.framer = Framer(smsc.config.max_pdu_length)
        self.transport: asyncio.Transport | None = None
        self.state = BindState.OPEN
        self.can_submit = False
        self.account: Account | None = None
        self.system_id = ""
        self.admit_free = False  # no TPS, window or injected errors to check
        self.bind_id = 0
        self.peer = ""
        self.pdus_in = 0
        self.seq = 0
        self.out: list[bytes] = []
        self.unanswered = 0  # requests whose delayed response is not yet written
        self.jobs: dict[int, _Job] = {}  # our deliver_sm sequence -> job awaiting its resp
        self.write_paused = False
        self.last_heard = 0.0

    # --- asyncio callbacks ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        smsc = self.smsc
        if len(smsc._conns) >= smsc.config.max_connections:
            smsc.stats["connections_refused"] += 1
            self.transport.abort()
            return
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if peer else "?"
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.transport.set_write_buffer_limits(high=smsc.config.output_buffer_limit)
        smsc._conns.add(self)
        smsc.stats["connections"] += 1
        self.last_heard = smsc._loop.time()
        if smsc._stall_read:
            self.transport.pause_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.state = BindState.CLOSED
        self.can_submit = False
        self.smsc._forget(self)
        self.transport = None

    def pause_writing(self) -> None:
        # Replies pile up (the client does not read): stop reading it until they drain.
        self.write_paused = True
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.transport is not None and not self.smsc._stall_read:
            self.transport.resume_reading()
        self.smsc._pump()

    def data_received(self, data: bytes) -> None:
        smsc = self.smsc
        try:
            events = self.framer.feed(data)
        except FramingError:
            smsc.stats["framing_errors"] += 1
            self.close()
            return
        now = smsc._loop.time()
        smsc._wall = time.time()
        self.last_heard = now
        smsc.stats["pdus_in"] += len(events)
        self.pdus_in += len(events)
        fast = not smsc._faulty
        drop = False
        if not fast and smsc._drop_after_pdus:
            # Answer the PDUs up to the limit, then close: the limit can fall inside a batch.
            keep = smsc._drop_after_pdus - (self.pdus_in - len(events))
            if keep <= len(events):
                drop = True
                events = events[:max(keep, 0)]
        submit = self._submit if self.can_submit else None
        jobs = self.jobs
        for event in events:
            if fast:
                kind = type(event)
                if kind is SubmitSm and submit is not None:
                    submit(event, now)  # type: ignore[arg-type]
                    continue
                if kind is DeliverSmResp:
                    job = jobs.pop(event.sequence_number, None)
                    if job is not None:
                        smsc._answered(job, event.command_status)  # type: ignore[union-attr]
                    continue
            self._handle(event, now)
            if self.transport is None or self.transport.is_closing():
                return
        if smsc._has_due(now):
            smsc._pump()  # flushes this connection too if it got receipts
        self.flush()
        if drop:
            smsc.stats["faults_dropped"] += 1
            self.close()

    # --- output -----------------------------------------------------------------------------

    def flush(self) -> None:
        out = self.out
        if out and self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(out) if len(out) > 1 else out[0])
            self.smsc.stats["pdus_out"] += len(out)
        out.clear()

    def next_seq(self) -> int:
        self.seq = self.seq + 1 if self.seq < 0x7FFFFFFF else 1
        return self.seq

    def close(self) -> None:
        if self.transport is not None:
            self.flush()
            self.transport.close()

    def goodbye(self) -> bytes:
        """The request that ends a session from the server's side (unbind; CMPP: TERMINATE)."""
        return Unbind(sequence_number=self.next_seq()).encode()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    # --- dispatch ---------------------------------------------------------------------------

    def _handle(self, event: Pdu | InvalidPdu, now: float) -> None:
        smsc = self.smsc
        if isinstance(event, InvalidPdu):
            smsc.stats["invalid_pdus"] += 1
            if event.response is not None:
                self.out.append(event.response.encode())
            return
        if smsc._stall_answer:
            return  # a stalled SMSC reads and forgets
        if isinstance(event, Response):
            self._response(event)
            return
        cid = event.command_id
        if cid in _MODE_OF:
            self._bind(event, now)  # type: ignore[arg-type]
            return
        allowed = _ALLOWED.get(cid)
        if allowed is None:
            # outbind, alert_notification and deliver_sm go from an SMSC, never to one.
            self.out.append(GenericNack(sequence_number=event.sequence_number,
                                        command_status=_S.ESME_RINVCMDID).encode())
            return
        if self.state not in allowed:
            self._reply(event, _S.ESME_RINVBNDSTS)
            return
        if cid == CommandId.submit_sm:
            self._submit(event, now)  # type: ignore[arg-type]
        elif cid == CommandId.enquire_link:
            self._reply(event, 0)
        elif cid == CommandId.unbind:
            self._reply(event, 0)
            self.state = BindState.UNBINDING
            self.can_submit = False
            self.close()
        elif cid == CommandId.submit_multi:
            self._submit_multi(event, now)  # type: ignore[arg-type]
        elif cid == CommandId.data_sm:
            self._data_sm(event, now)  # type: ignore[arg-type]
        elif cid == CommandId.query_sm:
            self._query(event)  # type: ignore[arg-type]
        else:
            self._cancel_or_replace(event)  # type: ignore[arg-type]

    def _reply(self, request: Pdu, status: int, **fields: Any) -> None:
        assert isinstance(request, Request)
        self.out.append(request.response(status, **fields).encode())

    # --- binds ------------------------------------------------------------------------------

    def _bind(self, pdu: BindTransmitter | BindReceiver | BindTransceiver, now: float) -> None:
        smsc = self.smsc
        mode, state = _MODE_OF[pdu.command_id]
        refused = smsc.stats
        if self.state is not BindState.OPEN:
            self._reply(pdu, _S.ESME_RALYBND)
            return
        status = 0
        account = smsc._accounts.get(pdu.system_id)
        if now < smsc._refuse_binds_until:
            status = _S.ESME_RBINDFAIL
        elif account is None:
            if smsc.config.open_mode:
                account = Account(system_id=pdu.system_id or "open", password=pdu.password)
            else:
                status = _S.ESME_RINVSYSID
        elif account.password != pdu.password:
            status = _S.ESME_RINVPASWD
        if not status:
            assert account is not None
            if mode not in account.bind_modes:
                status = _S.ESME_RBINDFAIL
            elif len(smsc._binds_of.get(account.system_id, ())) >= account.max_binds:
                status = _S.ESME_RALYBND
        if status:
            refused["binds_refused"] += 1
            self._reply(pdu, status)
            return
        assert account is not None
        self.account = account
        self.system_id = account.system_id
        self.state = state
        self.can_submit = state in _CAN_SUBMIT
        self.admit_free = (not account.window and account.system_id not in smsc._buckets
                           and not smsc._error_table)
        self.bind_id = next(smsc._bind_ids)
        smsc._register(self)
        self._reply(pdu, 0, system_id=smsc.config.system_id,
                    tlvs=(Tlv(Tag.sc_interface_version, 0x34),))
        if state in _CAN_RECEIVE:
            waiting = smsc._waiting.pop(account.system_id, None)
            if waiting:
                smsc._ready.extend(waiting)
            smsc._loop.call_soon(smsc._pump)

    # --- messages ---------------------------------------------------------------------------

    def _admit(self, now: float) -> int:
        """0 to accept a message now, else the status to refuse it with."""
        smsc = self.smsc
        account = self.account
        assert account is not None
        if account.window and self.unanswered >= account.window:
            smsc.stats["throttled"] += 1
            return _STATUS_BY_NAME[account.throttle_status]
        bucket = smsc._buckets.get(account.system_id)
        if bucket is not None and not bucket.take(now):
            smsc.stats["throttled"] += 1
            return _STATUS_BY_NAME[account.throttle_status]
        if smsc._error_table:
            draw = smsc._rng.random()
            for status, upto in smsc._error_table:
                if draw < upto:
                    smsc.stats["errors_injected"] += 1
                    return status
        return 0

    def _respond(self, data: bytes) -> None:
        """Send a response now, or after the configured latency."""
        smsc = self.smsc
        if smsc._latency_zero:
            self.out.append(data)
            return
        self.unanswered += 1
        due = smsc._loop.time() + _draw(smsc.config.latency, smsc._rng)
        smsc._loop.call_at(due, self._late, data)

    def _late(self, data: bytes) -> None:
        self.unanswered -= 1
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)
            self.smsc.stats["pdus_out"] += 1

    def _submit(self, pdu: SubmitSm, now: float) -> None:
        smsc = self.smsc
        if not self.admit_free:
            status = self._admit(now)
            if status:
                self._respond(_HEADER.pack(16, _SUBMIT_RESP, status, pdu.sequence_number))
                return
        mid = next(smsc._ids)
        smsc.ledger.append(smsc._wall, self.system_id, self.bind_id, mid, pdu.destination_addr,
                           pdu)
        raw = mid.encode()
        self._respond(_HEADER.pack(17 + len(raw), _SUBMIT_RESP, 0, pdu.sequence_number)
                      + raw + b"\0")
        if pdu.registered_delivery & 0x03:
            smsc._receipt_for(self.system_id, mid, pdu, pdu.dest_addr_ton, pdu.dest_addr_npi,
                              pdu.destination_addr, now)

    def _submit_multi(self, pdu: SubmitMulti, now: float) -> None:
        smsc = self.smsc
        status = self._admit(now)
        if status:
            self._respond(pdu.response(status).encode())
            return
        mid = next(smsc._ids)
        for dest in pdu.dest_address:
            if isinstance(dest, SmeAddress):
                ton, npi, name = dest.dest_addr_ton, dest.dest_addr_npi, dest.destination_addr
            else:
                ton, npi, name = 0, 0, dest.dl_name
            smsc.ledger.append(smsc._wall, self.system_id, self.bind_id, mid, name, pdu)
            if pdu.registered_delivery & 0x03:
                smsc._receipt_for(self.system_id, mid, pdu, ton, npi, name, now)
        self._respond(pdu.response(0, message_id=mid).encode())

    def _data_sm(self, pdu: DataSm, now: float) -> None:
        smsc = self.smsc
        status = self._admit(now)
        if status:
            self._respond(pdu.response(status).encode())
            return
        mid = next(smsc._ids)
        smsc.ledger.append(smsc._wall, self.system_id, self.bind_id, mid, pdu.destination_addr,
                           pdu)
        self._respond(pdu.response(0, message_id=mid).encode())
        if pdu.registered_delivery & 0x03:
            smsc._receipt_for(self.system_id, mid, pdu, pdu.dest_addr_ton, pdu.dest_addr_npi,
                              pdu.destination_addr, now)

    def _query(self, pdu: QuerySm) -> None:
        state, final_date = self.smsc._state_of(pdu.message_id)
        if not state:
            self._reply(pdu, _S.ESME_RQUERYFAIL)
            return
        self._reply(pdu, 0, message_id=pdu.message_id, final_date=final_date,
                    message_state=state)

    def _cancel_or_replace(self, pdu: CancelSm | ReplaceSm) -> None:
        smsc = self.smsc
        pending = smsc._states.get(pdu.message_id, (0, 0.0))[0] == _ENROUTE
        if isinstance(pdu, CancelSm):
            if not pending:
                self._reply(pdu, _S.ESME_RCANCELFAIL)
                return
            smsc._states[pdu.message_id] = (int(MessageState.DELETED), smsc._wall)
            smsc._cancelled.add(pdu.message_id)
            self._reply(pdu, 0)
        else:
            self._reply(pdu, 0 if pending else _S.ESME_RREPLACEFAIL)

    def _response(self, pdu: Response) -> None:
        cid = pdu.command_id
        if cid in (CommandId.deliver_sm_resp, CommandId.data_sm_resp, CommandId.generic_nack):
            job = self.jobs.pop(pdu.sequence_number, None)
            if job is not None:
                self.smsc._answered(job, pdu.command_status)
        elif cid == CommandId.unbind_resp:
            self.close()


class FakeSMSC:
    """The fake SMSC; ``async with FakeSMSC(config) as smsc:`` serves on ``smsc.port``."""

    #: One instance per TCP connection (the CMPP ISMG subclass puts its own here).
    _conn_class: type[_Conn] = _Conn

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
                "mo_sent", "faults_dropped", "restarts",
            ),
            0,
        )
        cfg = self.config
        self._accounts = {a.system_id: a for a in cfg.accounts}
        self._rng = random.Random(cfg.seed)
        self._ids = message_id_factory(cfg.message_id_style, self._rng.randrange(10**9, 2 * 10**9))
        self._bind_ids = itertools.count(1)
        self._conns: set[_Conn] = set()
        self._binds_of: dict[str, list[_Conn]] = {}
        self._receivers: dict[str, list[_Conn]] = {}
        self._rr = 0
        self._buckets: dict[str, _Bucket] = {}
        # message_id -> (message_state, when it got there; 0.0 while en route)
        self._states: dict[str, tuple[int, float]] = {}
        self._cancelled: set[str] = set()
        # Jobs by deadline: FIFO when every delay is the same, else a heap; _ready holds jobs
        # due now (retries, MO, receipts whose bind went away).
        self._fifo_delays = cfg.receipts.delay.kind == "fixed"
        self._fifo: deque[tuple[float, _Job]] = deque()
        self._heap: list[tuple[float, int, _Job]] = []
        self._ready: deque[_Job] = deque()
        # Jobs of accounts with no receiver bind at all, parked until one binds: left in _ready
        # they would be rescanned by every _pump, i.e. on every read (quadratic).
        self._waiting: dict[str, deque[_Job]] = {}
        self._order = itertools.count()
        self._pending = 0  # jobs queued (not yet written)
        self._dates = _Dates(12 if cfg.receipts.profile == "long_dates" else 10)
        self._final_dates = _Dates(12)
        receipts = cfg.receipts
        self._receipt_delay = receipts.delay
        self._receipt_delay_zero = receipts.delay.is_zero
        self._retry_after = receipts.retry_after
        self._max_pending = receipts.max_pending
        self._err_codes = receipts.err_codes
        self._upper = receipts.profile == "upper"
        self._other_base = receipts.profile == "other_base"
        self._receipt_tlvs = receipts.tlvs
        self._middles: dict[tuple[str, int, int], bytes] = {}
        self._timer: asyncio.TimerHandle | asyncio.Handle | None = None
        # Kept beside the handle: uvloop's call_at returns a plain Handle (no .when()) for a
        # time already past.
        self._timer_due = 0.0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stall_read = False
        self._stall_answer = False
        self._drop_after_pdus = cfg.faults.drop_after_pdus
        self._faulty = bool(self._drop_after_pdus)
        self._refuse_binds_until = 0.0
        self._latency_zero = cfg.latency.is_zero
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
        return int(_STATUS_BY_NAME[name])

    # --- lifecycle ----------------------------------------------------------------------------

    async def __aenter__(self) -> FakeSMSC:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        now = self._loop.time()
        for account in self.config.accounts:
            if account.tps:
                self._buckets[account.system_id] = _Bucket(account.tps, now)
        if self.config.faults.refuse_binds_for:
            self._refuse_binds_until = now + self.config.faults.refuse_binds_for
        await self._listen()
        self._spawn(self._housekeeping())

    async def _listen(self) -> None:
        self._server = await self._loop.create_server(
            lambda: self._conn_class(self), self.host, self.port, reuse_address=True
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

    def _spawn(self, coro: Any) -> None:
        task = self._loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- bookkeeping -------------------------------------------------------------------------

    def _register(self, conn: _Conn) -> None:
        self._binds_of.setdefault(conn.system_id, []).append(conn)
        if conn.state in _CAN_RECEIVE:
            self._receivers.setdefault(conn.system_id, []).append(conn)
        self.stats["binds"] += 1

    def _forget(self, conn: _Conn) -> None:
        self._conns.discard(conn)
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

    @property
    def binds(self) -> list[BindInfo]:
        return sorted(
            (BindInfo(c.bind_id, c.system_id, _MODE_NAME[c.state], c.peer)
             for c in self._conns if c.state in _BOUND),
            key=lambda b: b.bind_id,
        )

    def _state_of(self, message_id: str) -> tuple[int, str]:
        known = self._states.get(message_id)
        if known is not None:
            state, when = known
            return state, (self._final_dates(when) + "000+") if when else ""
        # No receipt was asked for: delivered as soon as accepted, if we accepted it at all.
        for mid in reversed(self.ledger.message_ids()):
            if mid == message_id:
                return MessageState.DELIVERED, ""
        return 0, ""

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

    def _receipt_for(self, account: str, mid: str, pdu: SubmitSm | SubmitMulti | DataSm,
                     ton: int, npi: int, dest: str, now: float) -> None:
        rng = self._rng
        stat = self._draw_stat()
        if pdu.registered_delivery & 0x03 == 2 and stat not in _FAILED_STATS:
            return  # receipt on failure only, and this one was delivered
        states = self._states
        states[mid] = (_ENROUTE, 0.0)
        if len(states) > self.ledger.limit:
            del states[next(iter(states))]
        delay = 0.0 if self._receipt_delay_zero else _draw(self._receipt_delay, rng)
        text = b""
        if isinstance(pdu, SubmitSm) and pdu.data_coding in (0, 1, 3) and not pdu.esm_class & 0x40:
            text = pdu.short_message[:20]
        job = _Job(account, mid, stat, self._wall, delay, (ton, npi, dest[:20].encode("latin-1")),
                   (pdu.source_addr_ton, pdu.source_addr_npi,
                    pdu.source_addr[:20].encode("latin-1")), text)
        self._schedule(job, now + delay)

    def _schedule(self, job: _Job, due: float) -> None:
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

    def _has_due(self, now: float) -> bool:
        return bool(self._ready or (self._fifo and self._fifo[0][0] <= now)
                    or (self._heap and self._heap[0][0] <= now))

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

    def _receiver(self, account: str) -> _Conn | None:
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
        touched: set[_Conn] = set()
        send = self._send
        held: list[_Job] = []
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

    def _hold(self, job: _Job, held: list[_Job]) -> None:
        """A due job no receiver can take now: parked for its account's next receiver bind, or,
        when its receivers are only write-paused, kept ready."""
        if self._receivers.get(job.account):
            held.append(job)
        else:
            self._waiting.setdefault(job.account, deque()).append(job)

    def _send(self, conn: _Conn, job: _Job, now: float) -> None:
        seq = conn.next_seq()
        self._pending -= 1
        job.attempts += 1
        if job.attempts > 1:
            self.stats["receipts_retried"] += 1
        conn.jobs[seq] = job
        job.sent_at = now
        if job.mo is not None:
            conn.out.append(DeliverSm(sequence_number=seq, **job.mo).encode())
            self.stats["mo_sent"] += 1
            return
        conn.out.append(self._receipt_octets(job, seq))
        self.stats["receipts_sent"] += 1

    def _receipt_octets(self, job: _Job, seq: int) -> bytes:
        """The deliver_sm of a receipt, encoded from a template (SMPP 3.4 Appendix B text)."""
        mid = job.message_id
        stat = "DELETED" if mid in self._cancelled else job.stat
        state = _STATE_OF_STAT[stat]
        done = job.submitted + job.delay
        self._states[mid] = (int(state), done)  # plain ints: the GC can stop tracking the tuple
        # Everything between the id and the text depends only on the stat and the two dates,
        # which many receipts share.
        key = (stat, int(job.submitted), int(done))
        middle = self._middles.get(key)
        if middle is None:
            if len(self._middles) > 4096:
                self._middles.clear()
            dates = self._dates
            dlvrd = "001" if stat == "DELIVRD" else "000"
            err = self._err_codes.get(stat, "000")
            words = (("SUB", "DLVRD", "SUBMIT DATE", "DONE DATE", "STAT", "ERR", "TEXT")
                     if self._upper else
                     ("sub", "dlvrd", "submit date", "done date", "stat", "err", "text"))
            middle = self._middles[key] = (
                f" {words[0]}:001 {words[1]}:{dlvrd} {words[2]}:{dates(job.submitted)} "
                f"{words[3]}:{dates(done)} {words[4]}:{stat} {words[5]}:{err} {words[6]}:"
            ).encode()
        raw_id = mid.encode()
        text_id = other_base(mid, self.config.message_id_style).encode() if self._other_base \
            else raw_id
        sm = (b"ID:" if self._upper else b"id:") + text_id + middle + job.text
        if len(sm) > 254:
            sm = sm[:254]
        tlvs = (_RECEIPT_TLVS % (len(raw_id) + 1, raw_id, state)) if self._receipt_tlvs else b""
        s_ton, s_npi, source = job.source
        d_ton, d_npi, dest = job.dest
        body = _RECEIPT_BODY % (s_ton, s_npi, source, d_ton, d_npi, dest, len(sm), sm, tlvs)
        return _HEADER.pack(16 + len(body), _DELIVER_SM, 0, seq) + body

    def _answered(self, job: _Job, status: int) -> None:
        if job.on_resp is not None:
            job.on_resp(status)
        else:
            self.stats["receipts_answered"] += 1

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
        """Retries of unanswered deliver_sm and scheduled faults, four times a second."""
        faults = self.config.faults
        next_drop = self._loop.time() + faults.drop_every if faults.drop_every else math.inf
        timeout = self.config.enquire_link_timeout
        while True:
            await asyncio.sleep(0.25)
            now = self._loop.time()
            self._retry_unanswered(now)
            if now >= next_drop:
                next_drop = now + faults.drop_every
                self.drop_connections()
            if timeout:
                for conn in list(self._conns):
                    if now - conn.last_heard > timeout:
                        conn.abort()

    # --- control: MO traffic ------------------------------------------------------------------

    async def inject_mo(
        self,
        source_addr: str,
        destination_addr: str,
        text: str | None = None,
        *,
        data: bytes | None = None,
        data_coding: int | None = None,
        account: str | None = None,
        timeout: float = 5.0,
    ) -> MoResult:
        """Send a mobile-originated message to a receiver bind; long text goes in UDH parts.

        Waits for every part's deliver_sm_resp (or ``timeout``). Raises RuntimeError when no
        receiver or transceiver is bound (for ``account``, when given).
        """
        if (text is None) == (data is None):
            raise ValueError("give either text or data")
        parts = _mo_parts(text, data, data_coding)
        target = account or next((a for a, b in self._receivers.items() if b), None)
        if target is None or not self._receivers.get(target):
            raise RuntimeError(f"no receiver or transceiver bind for {target or 'any account'}")
        mos: list[dict[str, Any]] = [
            {"source_addr": source_addr, "destination_addr": destination_addr,
             "esm_class": esm_class, "data_coding": coding, "short_message": payload}
            for esm_class, coding, payload in parts
        ]
        for mo in mos:
            # Check the fields here (InvalidPduError, a ValueError, to the caller): a part that
            # cannot be encoded would raise later inside _pump, and from there kill the
            # housekeeping task when its retry comes round.
            DeliverSm(**mo)
        return await self._send_mo(target, mos, timeout)

    async def _send_mo(self, target: str, mos: list[Any], timeout: float) -> MoResult:
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
            job = _Job(target, "", "", self._wall, 0.0, (0, 0, b""), (0, 0, b""), b"", mo=mo,
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
        self._drop_after_pdus = count
        self._faulty = bool(count) or self._stall_answer

    def stall(self, mode: str = "answer") -> None:
        """``"read"``: stop reading from clients; ``"answer"``: read but never answer."""
        if mode == "read":
            self._stall_read = True
            for conn in self._conns:
                if conn.transport is not None:
                    conn.transport.pause_reading()
        elif mode == "answer":
            self._stall_answer = True
            self._faulty = True
        else:
            raise ValueError(f"stall mode must be 'read' or 'answer', got {mode!r}")

    def resume(self) -> None:
        """End any stall."""
        self._stall_answer = False
        self._faulty = bool(self._drop_after_pdus)
        if self._stall_read:
            self._stall_read = False
            for conn in self._conns:
                if conn.transport is not None and not conn.write_paused:
                    conn.transport.resume_reading()

    def send_garbage(self, data: bytes = b"\xde\xad\xbe\xef" * 8,
                     account: str | None = None) -> int:
        """Write bytes that are not SMPP to clients; returns how many got them."""
        n = 0
        for conn in list(self._conns):
            if (account is None or conn.system_id == account) and conn.transport is not None:
                conn.transport.write(data)
                n += 1
        return n

    async def unbind_all(self, timeout: float = 1.0) -> None:
        """Server-initiated unbind of every bound client; waits for the connections to go."""
        bound = [c for c in self._conns if c.state in _BOUND]
        for conn in bound:
            conn.state = BindState.UNBINDING
            conn.can_submit = False
            conn.out.append(conn.goodbye())
            conn.flush()
        deadline = self._loop.time() + timeout
        while any(c in self._conns for c in bound) and self._loop.time() < deadline:
            await asyncio.sleep(0.01)
        for conn in bound:
            if conn in self._conns:
                conn.abort()

    def refuse_binds(self, seconds: float) -> None:
        """Answer every bind with ESME_RBINDFAIL for ``seconds``."""
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


def _mo_parts(text: str | None, data: bytes | None,
              data_coding: int | None) -> list[tuple[int, int, bytes]]:
    """(esm_class, data_coding, short_message) per part of an MO message."""
    if data is not None:
        return [(0, 4 if data_coding is None else data_coding, data)]
    assert text is not None
    if text.isascii() and data_coding in (None, 0, 1):
        coding, raw, single, per_part, unit = (data_coding or 0), text.encode("ascii"), 160, 153, 1
    else:
        coding, raw, single, per_part, unit = 8, text.encode("utf-16-be"), 140, 134, 2
    if len(raw) <= single:
        return [(0, coding, raw)]
    chunks: list[bytes] = []
    i = 0
    while i < len(raw):
        end = min(len(raw), i + per_part)
        if unit == 2 and end < len(raw) and 0xD8 <= raw[end - 2] <= 0xDB:
            end -= 2  # never split a surrogate pair
        chunks.append(raw[i:end])
        i = end
    if len(chunks) > 255:
        raise ValueError(f"MO text needs {len(chunks)} parts; at most 255")
    ref = random.randrange(256)
    return [
        (0x40, coding, bytes((5, 0, 3, ref, len(chunks), n)) + chunk)
        for n, chunk in enumerate(chunks, 1)
    ]
