"""The fake SGIP 1.2 SMG: the fake SMSC's accounts, ledger, throttling, latency, error
injection, receipt queues and faults, speaking SGIP (``/work/shared/specs/sgip.md``, section 14).

:class:`FakeSMG` is a :class:`~smsengine.fakesmsc.server.FakeSMSC` whose connections are
:class:`_SgipConn`: the job queues, the TPS buckets, the fault switches and the control methods
are :mod:`._common`'s. What differs is SGIP's two directions (11.1):

- The SP connects to the SMG (:class:`_SgipConn`): Bind with Login Type 1 (anything else:
  Result 4) and the account's Login Name / Password (Result 1 otherwise, 3 when the account has
  ``max_binds`` already or binds are refused; then the connection closes; a second Bind gets
  2). Submit is answered with its own Sequence Number (4.2, 6): Result 0, or the throttle
  Result 88 (TPS, window; 9.2), or an injected ``errors`` Result. One ledger line per
  UserNumber, its ``message_id`` the Submit's triple in the 30-digit form. Unbind works both
  ways (``unbind_all`` sends it).
- The SMG connects back to the SP (:class:`_BackConn`) to deliver Reports and MO: to
  ``sgip.sp_host:sgip.sp_port`` (or the address given with :meth:`FakeSMG.connect_back`),
  with a Bind of Login Type 2 carrying the account's own name and password (or
  ``sgip.login_name`` / ``sgip.login_password``). It is opened when a Report or an MO is due
  and no connection back is up, and closed with Unbind after ``sgip.idle_close`` seconds
  without traffic. Reports (4.6) name the Submit by its Sequence Number, one per UserNumber,
  State 0, or 2 with an ErrorCode for a failed stat (``receipts.err_codes`` may give it as
  digits); ReportFlag 1 and 3 always report, 0 only failures, 2 never.
- MO (:meth:`FakeSMG.inject_mo`): MessageCoding 0, 8 (UCS2) or 15; longer than 140 octets goes
  in parts with TP_udhi = 1 and a ``05 00 03`` UDH.

Sequence Numbers the SMG originates carry ``sgip.node_id`` (an SMG node, ``1AAAAX``) and the
local time.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time
from typing import TYPE_CHECKING, Any, Final, Protocol

from ..sgip import (
    DEFAULT_MAX_PDU_LENGTH,
    HEADER_LENGTH,
    MAX_PDU_LENGTH,
    Bind,
    BindResp,
    CommandId,
    Deliver,
    DeliverResp,
    Framer,
    FramingError,
    InvalidPdu,
    LoginType,
    Pdu,
    ReportFlag,
    ReportResp,
    Result,
    SequenceNumber,
    Submit,
    Unbind,
    UnbindResp,
    UserRptResp,
    encode,
    timestamp_from,
)
from ..sgip.errors import PduDecodeError
from ..sgip.pdu import Buffer, decode_body
from ._common import (
    ENROUTE,
    STATE_OF_STAT,
    BindState,
    Conn,
    Hub,
    Job,
    MoResult,
    Refusal,
    Switches,
    draw,
)
from .config import Account, Config, ConfigError, result_code
from .ismg import _mo_parts
from .server import FakeSMSC

__all__ = ["FakeSMG"]

_RESULT_RESP: Final = struct.Struct(">IIIIIB8x")
_HEADER: Final = struct.Struct(">IIIII")
# A Report (4.6), header to Reserve, in one pack: 64 octets.
_REPORT: Final = struct.Struct(">IIIIIIIIB21sBB8x")
_SUBMIT_RESP: Final = int(CommandId.SGIP_SUBMIT_RESP)
_BIND_RESP: Final = int(CommandId.SGIP_BIND_RESP)
_REPORT_ID: Final = int(CommandId.SGIP_REPORT)
_FLOW_CONTROL: Final = int(Result.FLOW_CONTROL)
# ReportFlags tested once a Submit and once a report, as plain ints: ReportFlag.NEVER read off
# its class and compared costs 163 ns (timeit, Python 3.11), a global 14.
_NEVER: Final = int(ReportFlag.NEVER)
_ON_FAILURE: Final = int(ReportFlag.ON_FAILURE)
_REFUSED: Final = {
    Refusal.BUSY: Result.TOO_MANY_CONNECTIONS,
    Refusal.UNKNOWN: Result.ILLEGAL_LOGIN,
    Refusal.SECRET: Result.ILLEGAL_LOGIN,
    Refusal.MODE: Result.WRONG_LOGIN_TYPE,
    Refusal.FULL: Result.TOO_MANY_CONNECTIONS,
}
#: Report ErrorCode (9.2) for a failed stat, unless ``receipts.err_codes`` gives digits.
_ERROR_CODES: Final = {"UNDELIV": 21, "EXPIRED": 25, "REJECTD": 30, "UNKNOWN": 32,
                       "DELETED": 32}
_STAT_STATE: Final = {stat: int(state) for stat, state in STATE_OF_STAT.items()}


_SUBMIT_ID: Final = int(CommandId.SGIP_SUBMIT)
_unpack_length = struct.Struct(">I").unpack_from
# A Submit body with one UserNumber (4.4): SPNumber, ChargeNumber, UserCount (43 octets), the
# UserNumber (21), CorpId … MessageCoding, MessageType (68), MessageLength (4), the content, the
# Reserve (8).
_USER: Final = slice(43, 64)
_TAIL: Final = slice(64, 132)
_FAST_CONTENT: Final = MAX_PDU_LENGTH - 143 - 21  # (any content up to this keeps it <= 2 KiB)
_MAX_KNOWN: Final = 256


class _FastSubmit:
    """A Submit read by :class:`_SubmitFramer`'s fast path: what the SMG acts on (its Sequence
    Number, UserNumber and ReportFlag), and its body, decoded in full (:meth:`decoded`) only when
    the ledger's entry is read."""

    __slots__ = ("body", "report_flag", "sequence_number", "user_numbers")

    def __init__(self, seq: SequenceNumber, body: bytes, user: str) -> None:
        self.sequence_number = seq
        self.body = body
        self.user_numbers = (user,)
        self.report_flag = body[127]

    def decoded(self) -> Submit:
        """The Submit the plain decoder reads from the same octets."""
        pdu = decode_body(_SUBMIT_ID, self.sequence_number, self.body, 0, len(self.body))
        assert type(pdu) is Submit
        return pdu


class _SubmitFramer(Framer):
    """The SMG's framer, with a fast path for the bulk Submit: 8.7 -> 2.3 µs a Submit framed
    (one-part Submits of one sender, 128 a read, on the shared 2-core machine; the plain path
    decodes and validates every field, ~6 µs of it).

    A Submit with one UserNumber, laid out exactly, whose octets other than its UserNumber,
    MessageLength and content equal those of a Submit the plain decoder accepted before (the
    same sender and fields: every bulk sender's case) is not decoded: those fields were
    validated then, any 21 octets of UserNumber make a valid Text (up to its first NUL, as
    Latin-1), any content is valid and one of at most ``_FAST_CONTENT`` octets keeps the PDU
    within 2 KiB. Anything else takes the plain path, which also learns the constant octets of
    what it accepts. The constant octets of the last Submit read fast or learned (``_last``,
    always a key of ``_known``) are compared in place first, so a bulk sender's next Submit
    builds no key (three slices, two concatenations and a hash): 1.81 -> 1.60 us a Submit
    framed (timeit, 128 a read, load 0.8). tests/fakesmsc/test_smg_fast.py checks the fast and
    plain paths agree.

    The fast path is :meth:`_read_submit`, the base framer's reader for Submit (its one loop
    frames the stream); read through that hook rather than a copy of the loop, a Submit costs
    some 50 ns more: 0.80 -> 0.85 us framed, against 3.2 us plain (timeit, 128 a read, 8
    alternating runs at load 3.6-4.1, minima)."""

    __slots__ = ("_known", "_last")

    def __init__(self, max_pdu_length: int) -> None:
        super().__init__(max_pdu_length)
        self._known: set[bytes] = set()
        # body[:43], body[64:132] and body[-8:] of a key in _known
        self._last: tuple[bytes, bytes, bytes] | None = None
        self._readers = {_SUBMIT_ID: self._read_submit}

    def _read_submit(self, src: Buffer, pos: int, stop: int, node_id: int, timestamp: int,
                     counter: int) -> object:
        """The Submit ``src[pos:stop]`` as a :class:`_FastSubmit` when it is the bulk case
        above, the plain decoder's event when it has that layout but constant octets not seen
        (learnt when accepted), None for any other layout."""
        body = bytes(src[pos + HEADER_LENGTH : stop])
        size = len(body) - 144
        if not (0 <= size <= _FAST_CONTENT and body[42] == 1
                and _unpack_length(body, 132)[0] == size):
            return None
        seq = SequenceNumber(node_id, timestamp, counter)
        last = self._last
        if not (last is not None and body.startswith(last[0])
                and body.startswith(last[1], 64) and body.endswith(last[2])):
            # (when it does, the key below would be last's, which is known)
            key = body[:43] + body[_TAIL] + body[-8:]
            if key not in self._known:
                return self._learn(seq, body, key)
            self._last = (body[:43], body[_TAIL], body[-8:])
        raw = body[_USER]
        return _FastSubmit(seq, body, "" if not raw[0] else raw.partition(
            b"\0")[0].rstrip(b" ").decode("latin-1"))

    def _learn(self, seq: SequenceNumber, body: bytes, key: bytes) -> Pdu | InvalidPdu:
        """The plain decoder's event for a Submit of the fast layout, its constant octets
        ``key`` learnt when it is accepted."""
        try:
            pdu = decode_body(_SUBMIT_ID, seq, body, 0, len(body))
        except PduDecodeError as exc:
            return InvalidPdu(exc, exc.response)
        known = self._known
        if len(known) >= _MAX_KNOWN:
            known.clear()
        known.add(key)
        self._last = (body[:43], body[_TAIL], body[-8:])
        return pdu


_REPORT_RESP_ID: Final = int(CommandId.SGIP_REPORT_RESP)


class _ReportAnswer:
    """A Report_Resp read by :class:`_BackFramer`'s fast path: its Sequence Number's parts and
    its Result (any body of one octet or more makes a valid one: a Result is any octet, a
    short Reserve reads as NULs), its body decoded in full (:meth:`decoded`) for tests."""

    __slots__ = ("body", "counter", "node_id", "result", "timestamp")

    def __init__(self, node_id: int, timestamp: int, counter: int, result: int,
                 body: bytes) -> None:
        self.node_id = node_id
        self.timestamp = timestamp
        self.counter = counter
        self.result = result
        self.body = body

    def decoded(self) -> ReportResp:
        """The Report_Resp the plain decoder reads from the same octets."""
        seq = SequenceNumber(self.node_id, self.timestamp, self.counter)
        pdu = decode_body(_REPORT_RESP_ID, seq, self.body, 0, len(self.body))
        assert type(pdu) is ReportResp
        return pdu


class _BackFramer(Framer):
    """The framer of the SMG's connection back to the SP, with a fast path for the Report_Resp
    (one a report): read as its counter and Result, without a SequenceNumber or a ReportResp
    built and validated. 2.0 -> 0.95 us one framed (timeit, 128 a read, the shared 2-core
    machine); read by :func:`_read_report_resp` through the base framer's reader hook rather
    than a copy of its loop, 0.33 -> 0.38 us (0.60 plain; timeit as for the Submit).
    tests/fakesmsc/test_smg_fast.py checks it against the plain framer."""

    __slots__ = ()

    def __init__(self, max_pdu_length: int) -> None:
        super().__init__(max_pdu_length)
        self._readers = {_REPORT_RESP_ID: _read_report_resp}


def _read_report_resp(src: Buffer, pos: int, stop: int, node_id: int, timestamp: int,
                      counter: int) -> _ReportAnswer | None:
    """A Report_Resp with a body of one octet or more as a :class:`_ReportAnswer`; an empty
    one takes the plain path."""
    if stop - pos <= HEADER_LENGTH:
        return None
    start = pos + HEADER_LENGTH
    return _ReportAnswer(node_id, timestamp, counter, src[start], bytes(src[start:stop]))


def _answer(command_id: int, seq: SequenceNumber, result: int = 0) -> bytes:
    return _RESULT_RESP.pack(29, command_id, seq.node_id, seq.timestamp, seq.counter, result)


class _ReportJob(Job):
    """A Report owed: the Submit's Sequence Number and the UserNumber ride along."""

    __slots__ = ("submit_seq", "user_number")

    def __init__(self, account: str, mid: str, stat: str, submitted: float, delay: float,
                 user_number: bytes, submit_seq: SequenceNumber) -> None:
        # Job's slots, set here rather than through Job.__init__: one per report, hot.
        self.account = account
        self.message_id = mid
        self.stat = stat
        self.submitted = submitted
        self.delay = delay
        self.source = (0, 0, user_number)
        self.dest = (0, 0, b"")
        self.text = b""
        self.mo = None
        self.on_resp = None
        self.attempts = 0
        self.sent_at = 0.0
        self.submit_seq = submit_seq
        self.user_number = user_number


class SmgHub(Hub, Protocol):
    """What the SGIP connections ask of :class:`FakeSMG` beyond the :class:`Hub`."""

    def next_sequence(self, counter: int) -> SequenceNumber:
        """A Sequence Number of the SMG's node, now, with ``counter``."""
        ...

    def report_for(self, account: str, submit_seq: SequenceNumber, mid: str, user: str,
                   report_flag: int, now: float) -> None:
        """Schedule the Report of an accepted Submit to ``user``, as its ReportFlag asks."""
        ...

    def back_bound(self, conn: Conn) -> None:
        """A connection back to the SP was accepted: Reports and MO may go on it."""
        ...

    def back_login(self, account: str) -> tuple[str, str]:
        """The Login Name and Password of the Bind back to the SP for ``account``."""
        ...


class _SgipBase(Conn):
    framing_error = FramingError
    hub: SmgHub

    def __init__(self, hub: SmgHub, switches: Switches) -> None:
        super().__init__(hub, switches)
        limit = min(hub.config.max_pdu_length, DEFAULT_MAX_PDU_LENGTH)
        self.framer = Framer(max(limit, HEADER_LENGTH))
        self.throttle_status = _FLOW_CONTROL

    def goodbye(self) -> bytes:
        s = self.hub.next_sequence(self.next_seq())
        return _HEADER.pack(20, CommandId.SGIP_UNBIND, s.node_id, s.timestamp, s.counter)

    def _unbind(self, pdu: Pdu) -> None:
        s = pdu.sequence_number
        self.out.append(_HEADER.pack(20, CommandId.SGIP_UNBIND_RESP, s.node_id, s.timestamp,
                                     s.counter))
        self.unbinding()
        self.close()


class _SgipConn(_SgipBase):
    """One SP connection to the SMG (Login Type 1)."""

    def __init__(self, hub: SmgHub, switches: Switches) -> None:
        super().__init__(hub, switches)
        limit = min(hub.config.max_pdu_length, DEFAULT_MAX_PDU_LENGTH)
        self.framer = _SubmitFramer(max(limit, HEADER_LENGTH))

    def received(self, events: list[Any], now: float, fast: bool) -> bool:
        submit = self._submit if self.can_submit and fast else None
        for event in events:
            if submit is not None and (type(event) is Submit or type(event) is _FastSubmit):
                submit(event, now)
                continue
            self._dispatch(event, now)
            if self.transport is None or self.transport.is_closing():
                return False
        return True

    def _dispatch(self, event: Any, now: float) -> None:
        if type(event) is InvalidPdu:
            self.stats["invalid_pdus"] += 1
            if event.response is not None:
                self.out.append(encode(event.response))
            if self.account is None:
                self.close()
            return
        if self.switches.stall_answer:
            return  # a stalled SMG reads and forgets
        if type(event) is _FastSubmit:  # (here only off the fast path: read as the plain one)
            event = event.decoded()
        kind = type(event)
        seq = event.sequence_number
        if kind is Bind:
            self._bind(event, now)
        elif self.account is None:
            # Only Bind may come first: answered with Result 1 where it has one, then closed.
            if kind is Unbind:
                self._unbind(event)
                return
            response = getattr(event, "response_class", None)
            if response is not None and "result" in response.__struct_fields__:
                self.out.append(_answer(response.command_id, seq, Result.ILLEGAL_LOGIN))
            self.close()
        elif kind is Submit:
            if self.can_submit:
                self._submit(event, now)
            else:  # Unbind under way
                self.out.append(_answer(_SUBMIT_RESP, seq, _FLOW_CONTROL))
        elif kind is Unbind:
            self._unbind(event)
        elif kind is UnbindResp:
            self.close()
        elif not kind.command_id & 0x80000000:
            # Deliver, Report … never come from an SP (11.1): an error Result where one fits.
            response = getattr(event, "response_class", None)
            if response is not None and "result" in response.__struct_fields__:
                self.out.append(_answer(response.command_id, seq, Result.MESSAGE_ID_ERROR))
        # Any other response answers nothing we sent: ignored.

    def _bind(self, pdu: Bind, now: float) -> None:
        seq = pdu.sequence_number
        if self.account is not None:
            self.out.append(_answer(_BIND_RESP, seq, Result.REPEATED_LOGIN))
            return
        if pdu.login_type != LoginType.SP_TO_SMG:
            self._refuse(seq, Result.WRONG_LOGIN_TYPE)
            return
        password = pdu.login_password
        account = self.hub.login(pdu.login_name, now, lambda a: a.password == password)
        if isinstance(account, Refusal):
            self._refuse(seq, _REFUSED[account])
            return
        self.account = account
        self.system_id = account.system_id
        self.state = BindState.BOUND_TX
        self.mode = "SGIP 1.2"
        self.can_submit = True
        self.hub.bound(self)
        self.out.append(_answer(_BIND_RESP, seq))

    def _refuse(self, seq: SequenceNumber, result: int) -> None:
        self.stats["binds_refused"] += 1
        self.out.append(_answer(_BIND_RESP, seq, result))
        self.close()

    def _submit(self, pdu: Submit | _FastSubmit, now: float) -> None:
        hub = self.hub
        seq = pdu.sequence_number
        users = pdu.user_numbers
        if not self.admit_free:
            result = hub.admit(self, now, len(users))
            if result:
                self.respond(_answer(_SUBMIT_RESP, seq, result))
                return
        resp = _answer(_SUBMIT_RESP, seq)
        if self.latency_zero:
            self.out.append(resp)
        else:
            self.respond(resp)
        mid = str(seq)  # the message id is the Submit's triple (6)
        flag = pdu.report_flag
        for user in users:
            self.ledger.append(self.wall, self.system_id, self.bind_id, mid, user, pdu)  # type: ignore[arg-type]
            if flag != _NEVER:
                hub.report_for(self.system_id, seq, mid, user, flag, now)


class _BackConn(_SgipBase):
    """The SMG's connection to the SP's listener (Login Type 2): Reports and MO go here."""

    def __init__(self, hub: SmgHub, switches: Switches, account: Account) -> None:
        super().__init__(hub, switches)
        limit = min(hub.config.max_pdu_length, DEFAULT_MAX_PDU_LENGTH)
        self.framer = _BackFramer(max(limit, HEADER_LENGTH))
        self.back_account = account
        self.bound_future: asyncio.Future[bool] = self.loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        name, password = self.hub.back_login(self.back_account.system_id)
        s = self.hub.next_sequence(self.next_seq())
        self.out.append(encode(Bind(sequence_number=s, login_type=LoginType.SMG_TO_SP,
                                    login_name=name, login_password=password)))
        self.flush()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if not self.bound_future.done():
            self.bound_future.set_result(False)

    def received(self, events: list[Any], now: float, fast: bool) -> bool:
        hub = self.hub
        jobs = self.jobs
        for event in events:
            kind = type(event)
            if kind is _ReportAnswer:  # (the usual answer, read by _BackFramer's fast path)
                job = jobs.pop(event.counter, None)
                if job is not None:
                    hub.answered(job, event.result)
            elif kind is ReportResp or kind is DeliverResp or kind is UserRptResp:
                job = jobs.pop(event.sequence_number.counter, None)
                if job is not None:
                    hub.answered(job, event.result)
            elif kind is BindResp:
                if event.result == 0 and self.account is None:
                    account = self.back_account
                    self.account = account
                    self.system_id = account.system_id
                    self.state = BindState.BOUND_RX
                    self.mode = "SGIP 1.2, to the SP"
                    hub.back_bound(self)
                    self.bound_future.set_result(True)
                else:
                    self.stats["back_binds_refused"] += 1
                    if not self.bound_future.done():
                        self.bound_future.set_result(False)
                    self.close()
            elif kind is Unbind:
                self._unbind(event)
            elif kind is UnbindResp:
                self.close()
            elif kind is InvalidPdu:
                self.stats["invalid_pdus"] += 1
            elif not event.command_id & 0x80000000:
                # The SP is the server here: it sends no requests (11.1) but Unbind.
                response = getattr(event, "response_class", None)
                if response is not None and "result" in response.__struct_fields__:
                    self.out.append(_answer(response.command_id, event.sequence_number,
                                            Result.MESSAGE_ID_ERROR))
            if self.transport is None or self.transport.is_closing():
                return False
        return True


class FakeSMG(FakeSMSC):
    """The fake SGIP SMG; ``async with FakeSMG(Config(protocol="sgip", …)) as smg:`` serves on
    ``smg.port`` and connects back to the SP's listener to deliver Reports and MO. Everything
    :class:`FakeSMSC` offers (ledger, stats, faults, restart, ``inject_mo``) works the same;
    ``unbind_all`` sends Unbind on every connection, both ways."""

    _conn_class = _SgipConn

    def __init__(self, config: Config | None = None, *, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        config = config or Config(protocol="sgip")
        if config.protocol != "sgip":
            raise ConfigError("protocol", 'FakeSMG serves SGIP: set protocol = "sgip"')
        super().__init__(config, host=host, port=port)
        sgip = config.sgip
        self.node_id: int = sgip.node_id
        self._sp_address: dict[str | None, tuple[str, int]] = {}
        if sgip.sp_port:
            self._sp_address[None] = (sgip.sp_host, sgip.sp_port)
        self._back_login = (sgip.login_name, sgip.login_password)
        self._idle_close: float = sgip.idle_close
        self._connecting: dict[str, asyncio.Task[bool]] = {}
        self._stamp_second = -1
        self._stamp = 0
        self.stats.update(back_connections=0, back_connect_failures=0, back_binds_refused=0,
                          back_idle_closed=0)

    def _error_code(self, name: str) -> int:
        return result_code("sgip", name)

    async def start(self) -> None:
        await super().start()
        if self._idle_close:
            self._spawn(self._close_idle_backs())

    async def stop(self, *, unbind_timeout: float = 1.0) -> None:
        for task in list(self._connecting.values()):
            task.cancel()
        await super().stop(unbind_timeout=unbind_timeout)

    # --- Sequence Numbers ------------------------------------------------------------------------

    def next_sequence(self, counter: int) -> SequenceNumber:
        return SequenceNumber(self.node_id, self._timestamp(), counter & 0xFFFFFFFF)

    def _timestamp(self) -> int:
        sec = int(self._wall)
        if sec != self._stamp_second:
            self._stamp_second = sec
            self._stamp = timestamp_from(time.localtime(sec))
        return self._stamp

    # --- the connection back to the SP (11.1) --------------------------------------------------

    def connect_back(self, host: str, port: int, account: str | None = None) -> None:
        """Where the SP listens for ``account`` (None: for every account)."""
        self._sp_address[account] = (host, port)

    def back_login(self, account: str) -> tuple[str, str]:
        name, password = self._back_login
        acct = self._accounts.get(account)
        return (name or account, password or (acct.password if acct is not None else ""))

    def back_bound(self, conn: Conn) -> None:
        system_id = conn.system_id
        conn.bind_id = next(self._bind_ids)
        self._not_unbound(conn)
        self.stats["back_connections"] += 1
        self._receivers.setdefault(system_id, []).append(conn)
        waiting = self._waiting.pop(system_id, None)
        if waiting:
            self._ready.extend(waiting)
        self._loop.call_soon(self._pump)

    def _want_back(self, account: str) -> asyncio.Task[bool] | None:
        """Open a connection back for ``account`` unless one is up or on its way."""
        if self._receivers.get(account):
            return None
        task = self._connecting.get(account)
        if task is None:
            address = self._sp_address.get(account) or self._sp_address.get(None)
            if address is None:
                return None
            task = self._loop.create_task(self._connect_back(account, address))
            self._connecting[account] = task
        return task

    async def _connect_back(self, account: str, address: tuple[str, int]) -> bool:
        acct = self._accounts.get(account) or Account(system_id=account)
        ok = False
        try:
            _, conn = await asyncio.wait_for(self._loop.create_connection(
                lambda: _BackConn(self, self._switches, acct), *address), 5.0)
            ok = await asyncio.wait_for(asyncio.shield(conn.bound_future), 5.0)
        except (OSError, TimeoutError):
            ok = False
        finally:
            self._connecting.pop(account, None)
        if not ok:
            self.stats["back_connect_failures"] += 1
            if self._waiting.get(account):
                self._loop.call_later(1.0, self._want_back, account)  # try again
        return ok

    def _hold(self, job: Job, held: list[Job]) -> None:
        super()._hold(job, held)
        self._want_back(job.account)

    async def _close_idle_backs(self) -> None:
        """Unbind connections back that carried nothing for ``sgip.idle_close`` (14.5)."""
        idle = self._idle_close
        while True:
            await asyncio.sleep(max(0.05, idle / 4))
            now = self._loop.time()
            for conn in list(self._conns):
                if (type(conn) is _BackConn and conn.state is BindState.BOUND_RX
                        and not conn.jobs and now - max(conn.last_heard, conn.connected_at) > idle):
                    self.stats["back_idle_closed"] += 1
                    conn.unbinding()
                    for table in (self._receivers,):
                        binds = table.get(conn.system_id)
                        if binds and conn in binds:
                            binds.remove(conn)
                    conn.out.append(conn.goodbye())
                    conn.flush()

    # --- Reports (4.6, 8) ------------------------------------------------------------------------

    def report_for(self, account: str, submit_seq: SequenceNumber, mid: str, user: str,
                   report_flag: int, now: float) -> None:
        weights = self._stat_weights
        stat = self._draw_stat() if len(weights) > 1 else self._stat_names[0]
        if report_flag == _ON_FAILURE and stat == "DELIVRD":
            self._states[mid] = (_STAT_STATE[stat], self._wall)
            return
        states = self._states
        states[mid] = (ENROUTE, 0.0)
        if len(states) > self.ledger.limit:
            del states[next(iter(states))]
        delay = 0.0 if self._receipt_delay_zero else draw(self._receipt_delay, self._rng)
        job = _ReportJob(account, mid, stat, self._wall, delay, user.encode("latin-1"),
                         submit_seq)
        self._schedule(job, now + delay)
        if not self._receivers.get(account):
            self._want_back(account)

    def _deliver_octets(self, conn: Conn, job: Job, seq: int) -> bytes:
        stamp = self._timestamp()
        if job.mo is not None:
            return encode(job.mo["pdu"],
                          sequence_number=SequenceNumber(self.node_id, stamp, seq))
        report: _ReportJob = job  # type: ignore[assignment]  # (a cast() call costs, per report)
        mid = report.message_id
        stat = "DELETED" if mid in self._cancelled else report.stat
        self._states[mid] = (_STAT_STATE[stat], report.submitted + report.delay)
        if stat == "DELIVRD":
            state, error = 0, 0
        elif stat == "ACCEPTD":
            state, error = 1, 0
        else:
            err = self.config.receipts.err_codes.get(stat, "")
            state, error = 2, int(err) if err.isdigit() and int(err) < 256 else _ERROR_CODES.get(
                stat, 32)
        s = report.submit_seq
        return _REPORT.pack(64, _REPORT_ID, self.node_id, stamp, seq, s.node_id, s.timestamp,
                            s.counter, 0, report.user_number, state, error)

    # --- MO (4.5, 7) ------------------------------------------------------------------------------

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
        """Send a mobile-originated message (Deliver) from handset ``source_addr`` to the SP
        number ``destination_addr`` over the connection back (opened first if need be).

        ``data_coding`` is the MessageCoding: text goes as ASCII (0) when it can, else UCS2
        (8); pass 15 for GBK/GB18030. Over 140 octets it goes in parts (TP_udhi = 1, 8-bit
        reference UDH). Waits for every Deliver_Resp (or ``timeout``); RuntimeError when no
        connection back can be made for ``account`` (or for any account)."""
        if (text is None) == (data is None):
            raise ValueError("give either text or data")
        if len(source_addr) > 21 or len(destination_addr) > 21:
            raise ValueError("source_addr, destination_addr: at most 21 characters")
        parts = _mo_parts(text, data, data_coding)
        if account is None:
            account = next((a for a, b in self._receivers.items() if b), None) or next(
                (a for a, b in self._binds_of.items() if b), None)
            if account is None and self.config.accounts:
                account = self.config.accounts[0].system_id
        if account is not None and not self._receivers.get(account):
            task = self._want_back(account)
            if task is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(task), timeout)
        target = self._mo_target(account, "no connection back to the SP")
        mos: list[dict[str, Any]] = [
            {"pdu": Deliver(user_number=source_addr, sp_number=destination_addr, tp_udhi=udhi,
                            message_coding=coding, message_content=payload)}
            for udhi, coding, payload in parts
        ]
        return await self._send_mo(target, mos, timeout)


if TYPE_CHECKING:
    def _is_its_connections_hub(smg: FakeSMG) -> SmgHub:
        return smg  # mypy checks that FakeSMG offers what the connections ask of it
