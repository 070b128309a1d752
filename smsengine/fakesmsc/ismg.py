"""The fake CMPP 2.0 / 3.0 ISMG: the fake SMSC's accounts, ledger, throttling, latency, error
injection, receipt queues and faults, speaking CMPP (``/work/shared/specs/cmpp.md``).

:class:`FakeISMG` is a :class:`~smsengine.fakesmsc.server.FakeSMSC` whose connections are
:class:`_CmppConn`: the job queues, the TPS buckets, the fault switches and the control methods
are the ones in :mod:`._common` that the SMPP server uses too; what differs is the wire (the
sans-I/O :mod:`smsengine.cmpp` codec), login (section 5), Msg_Id (section 6), status reports
(section 8) and keep-alive (section 11.3). A connection uses the ISMG only through
:class:`IsmgHub`.

- CONNECT (4.1, 4.2): Source_Addr names the account, AuthenticatorSource is checked against its
  secret (Status 2 unknown Source_Addr, 3 wrong secret; open mode accepts anyone). A client
  asking for a version up to the ISMG's own gets CONNECT_RESP in its own layout and Version
  (2.0: 30 octets, 1-octet Status, AuthenticatorISMG over a 1-octet Status; 3.0: 33 / 4), and
  the connection speaks that version from then on; above it gets Status 4 in the ISMG's layout.
  Status 5 ("other") covers refused logins (``refuse_binds``, ``max_binds`` reached). Every
  failed login is answered, then the connection closed. The Timestamp is not checked for skew.
- Before a successful CONNECT only CONNECT is allowed: anything else is answered with Result 1
  where its response has a Result (TERMINATE with TERMINATE_RESP) and the connection closed.
- SUBMIT: Msg_Id = local time, ``cmpp.gateway_code`` and a rotating 16-bit sequence, unique: at
  most 65536 sequence values per second, beyond that the id clock runs ahead of the wall clock.
  A SUBMIT to N numbers takes N consecutive ids (Msg_Id … Msg_Id+N-1, never wrapping into the
  gateway bits), N ledger lines and N TPS tokens (11.6); throttling (TPS, window) answers
  Result 8, ``errors`` injects any Result.
- Status reports: Registered_Delivery = 1 gives one report DELIVER per destination, 71-octet
  Msg_Content on 3.0 connections (60 with ``cmpp.short_reports``), 60 on 2.0, encoded from one
  precompiled struct in the layout of the connection that carries it.
- MO (:meth:`FakeISMG.inject_mo`): Msg_Fmt 0, 8 (UCS2) or 15 (GB18030); longer than 140 octets
  goes in parts with TP_udhi = 1 and a ``05 00 03`` UDH.
- ACTIVE_TEST is answered; after ``cmpp.active_test_interval`` of silence the ISMG sends its own,
  repeats it every ``cmpp.active_test_timeout`` and drops the connection after
  ``cmpp.active_test_max_misses`` unanswered. TERMINATE works both ways (``unbind_all`` sends
  it). QUERY gets totals, CANCEL succeeds for a report not yet sent.
"""

from __future__ import annotations

import asyncio
import random
import struct
import time
from typing import TYPE_CHECKING, Any, Final, Protocol, cast

from ..cmpp import (
    DEFAULT_MAX_TOTAL_LENGTH,
    ActiveTest,
    ActiveTestResp,
    Cancel,
    CancelResp,
    CommandId,
    Connect,
    ConnectResp,
    ConnectStatus,
    Deliver,
    DeliverResp,
    Framer,
    FramingError,
    InvalidPdu,
    Pdu,
    Query,
    QueryResp,
    Submit,
    SubmitResult,
    Terminate,
    TerminateResp,
    Version,
    authenticator_ismg,
    authenticator_source,
    encode,
    make_msg_id,
    with_sequence_id,
)
from ._common import (
    ENROUTE,
    STATE_OF_STAT,
    BindState,
    Conn,
    Dates,
    Hub,
    Job,
    MoResult,
    Refusal,
    Switches,
    draw,
)
from .config import Config, ConfigError, cmpp_result_code
from .server import FakeSMSC

__all__ = ["FakeISMG"]

_HDR: Final = struct.Struct(">III")
_SUBMIT_RESP30: Final = struct.Struct(">IIIQI")
_SUBMIT_RESP20: Final = struct.Struct(">IIIQB")
_ACTIVE_TEST_RESP: Final = struct.Struct(">IIIB").pack(13, CommandId.CMPP_ACTIVE_TEST_RESP, 0, 0)
# A DELIVER carrying a status report, from the header to LinkID / Reserved, in one pack
# (sections 4.9 and 8): 180 octets (3.0), 169 (3.0 with a 60-octet report), 145 (2.0).
_REPORT30: Final = struct.Struct(">IIIQ21s10sBBB32sBBBQ7s10s10s32sI20x")
_REPORT30_SHORT: Final = struct.Struct(">IIIQ21s10sBBB32sBBBQ7s10s10s21sI20x")
_REPORT20: Final = struct.Struct(">IIIQ21s10sBBB21sBBQ7s10s10s21sI8x")

_SUBMIT_RESP_ID: Final = int(CommandId.CMPP_SUBMIT_RESP)
_DELIVER_ID: Final = int(CommandId.CMPP_DELIVER)
_FLOW_CONTROL: Final = int(SubmitResult.FLOW_CONTROL)
_OTHER_ERROR: Final = 5  # CONNECT_RESP Status 5 and above: "other errors" (section 9.1)
_MAX_CONTENT: Final = 140  # Msg_Content cap for every Msg_Fmt (section 7.2)
_PART_CONTENT: Final = 134  # 140 minus the 6-octet UDH
_MO_CODECS: Final = {0: "ascii", 8: "utf-16-be", 15: "gb18030"}
_STAT_STATE: Final = {stat: int(state) for stat, state in STATE_OF_STAT.items()}
_STAT_OCTETS: Final = {stat: stat.encode() for stat in STATE_OF_STAT}
# CONNECT_RESP Status for a refused login (section 4.2).
_REFUSED: Final = {
    Refusal.BUSY: _OTHER_ERROR,
    Refusal.UNKNOWN: ConnectStatus.ILLEGAL_SOURCE_ADDR,
    Refusal.SECRET: ConnectStatus.AUTHENTICATION_FAILED,
    Refusal.FULL: _OTHER_ERROR,
}


def _version_name(version: int) -> str:
    return f"CMPP {version >> 4}.{version & 0xF}"


class _ReportJob(Job):
    """A status report owed: the numeric Msg_Id and the SUBMIT's Service_Id ride along
    (``source`` holds the handset, ``dest`` the SP's Src_Id). The DELIVER's own Msg_Id and
    SMSC_sequence are fixed when it is first sent, so a resend is the same report."""

    __slots__ = ("deliver_id", "msg_id", "service_id", "smsc_sequence")

    def __init__(self, account: str, msg_id: int, mid: str, stat: str, submitted: float,
                 delay: float, handset: bytes, src_id: bytes, service_id: bytes) -> None:
        # Job's slots, set here rather than through Job.__init__: one per report, hot.
        self.account = account
        self.message_id = mid
        self.stat = stat
        self.submitted = submitted
        self.delay = delay
        self.source = (0, 0, handset)
        self.dest = (0, 0, src_id)
        self.text = b""
        self.mo = None
        self.on_resp = None
        self.attempts = 0
        self.sent_at = 0.0
        self.msg_id = msg_id
        self.service_id = service_id
        self.deliver_id = -1
        self.smsc_sequence = 0


class IsmgHub(Hub, Protocol):
    """What a CMPP connection asks of :class:`FakeISMG` beyond the :class:`Hub`."""

    @property
    def version(self) -> int: ...

    def next_msg_id(self, n: int = 1) -> int:
        """The first of ``n`` consecutive Msg_Ids."""
        ...

    def report_for(self, account: str, msg_id: int, mid: str, pdu: Submit, dest: str,
                   now: float) -> None:
        """Schedule the status report of an accepted message to ``dest``."""
        ...


class _CmppConn(Conn):
    """One SP connection."""

    framing_error = FramingError
    hub: IsmgHub

    def __init__(self, hub: IsmgHub, switches: Switches) -> None:
        super().__init__(hub, switches)
        limit = min(hub.config.max_pdu_length, DEFAULT_MAX_TOTAL_LENGTH)
        self.version = hub.version
        self.framer = self.cmpp = Framer(self.version, max_total_length=max(limit, 12))
        self.v3 = self.version >= 0x30
        self.throttle_status = _FLOW_CONTROL
        self.tests_unanswered = 0  # ACTIVE_TESTs we sent since the client last said anything
        self.last_test = 0.0

    def goodbye(self) -> bytes:
        return _HDR.pack(12, CommandId.CMPP_TERMINATE, self.next_seq())

    def _speak(self, version: int) -> None:
        self.version = version
        self.v3 = version >= 0x30
        self.cmpp.version = version

    # --- input ------------------------------------------------------------------------------

    def received(self, events: list[Pdu | InvalidPdu], now: float, fast: bool) -> bool:
        self.tests_unanswered = 0
        hub = self.hub
        submit = self._submit_cmpp if self.can_submit else None
        jobs = self.jobs
        answered = 0  # reports answered in this batch (counted once, below)
        for event in events:
            if fast:
                kind = type(event)
                if kind is Submit and submit is not None:
                    submit(event, now)  # type: ignore[arg-type]
                    continue
                if kind is DeliverResp:
                    job = jobs.pop(event.sequence_id, None)
                    if job is not None:
                        if job.on_resp is None:
                            answered += 1
                        else:
                            hub.answered(job, event.result)  # type: ignore[union-attr]
                    continue
            if answered:
                self.stats["receipts_answered"] += answered
                answered = 0
            self._dispatch(event, now)
            if self.transport is None or self.transport.is_closing():
                return False
        if answered:
            self.stats["receipts_answered"] += answered
        return True

    def _dispatch(self, event: Pdu | InvalidPdu, now: float) -> None:
        if isinstance(event, InvalidPdu):
            self.stats["invalid_pdus"] += 1
            if event.response is not None:
                self.out.append(encode(event.response, self.version))
            if self.account is None:
                self.close()
            return
        if self.switches.stall_answer:
            return  # a stalled ISMG reads and forgets
        kind = type(event)
        if kind is Connect:
            self._connect(event, now)  # type: ignore[arg-type]
            return
        if self.account is None:
            self._before_login(event)
            return
        seq = event.sequence_id
        if kind is Submit:
            if self.can_submit:
                self._submit_cmpp(event, now)  # type: ignore[arg-type]
            else:  # TERMINATE under way
                self.out.append(self._submit_resp(seq, 0, _FLOW_CONTROL))
        elif kind is DeliverResp:
            job = self.jobs.pop(seq, None)
            if job is not None:
                self.hub.answered(job, event.result)  # type: ignore[attr-defined]
        elif kind is ActiveTest:
            self.out.append(with_sequence_id(_ACTIVE_TEST_RESP, seq))
        elif kind is ActiveTestResp:
            pass  # data_received already counted it as a sign of life
        elif kind is Terminate:
            self.out.append(_HDR.pack(12, CommandId.CMPP_TERMINATE_RESP, seq))
            self.unbinding()
            self.close()
        elif kind is TerminateResp:
            self.close()
        elif kind is Query:
            self._query_cmpp(event)  # type: ignore[arg-type]
        elif kind is Cancel:
            self._cancel_cmpp(event)  # type: ignore[arg-type]
        elif kind is Deliver:  # an SP never sends one
            self.out.append(encode(DeliverResp(sequence_id=seq, msg_id=event.msg_id,  # type: ignore[attr-defined]
                                               result=SubmitResult.COMMAND_ERROR), self.version))
        # Any other response (CONNECT_RESP, SUBMIT_RESP …) answers nothing we sent: ignored.

    def _before_login(self, event: Pdu) -> None:
        """Only CONNECT may come first (section 11.2)."""
        seq = event.sequence_id
        kind = type(event)
        if kind is Submit:
            self.out.append(self._submit_resp(seq, 0, SubmitResult.STRUCTURE_ERROR))
        elif kind is Terminate:
            self.out.append(_HDR.pack(12, CommandId.CMPP_TERMINATE_RESP, seq))
        elif kind is Cancel:
            self.out.append(encode(CancelResp(sequence_id=seq, success_id=1), self.version))
        elif kind is Deliver:
            self.out.append(encode(DeliverResp(sequence_id=seq, result=1), self.version))
        self.close()

    # --- login (sections 4.1, 4.2, 5) -------------------------------------------------------

    def _connect(self, pdu: Connect, now: float) -> None:
        hub = self.hub
        seq = pdu.sequence_id
        if self.account is not None:
            self.out.append(encode(ConnectResp(sequence_id=seq, status=_OTHER_ERROR,
                                               version=self.version), self.version))
            return
        asked = pdu.version
        if asked > hub.version:
            self._refuse(seq, ConnectStatus.VERSION_TOO_HIGH, hub.version)
            return
        if asked < Version.V20:
            # CMPP 1.x has other layouts; answered in 2.0's, as "other error".
            self._refuse(seq, _OTHER_ERROR, Version.V20)
            return
        account = hub.login(pdu.source_addr, now, lambda a: _authentic(pdu, a.password))
        if isinstance(account, Refusal):
            self._refuse(seq, _REFUSED[account], asked)
            return
        self._speak(asked)
        self.account = account
        self.system_id = account.system_id
        self.state = BindState.BOUND_TRX
        self.mode = _version_name(asked)
        self.can_submit = True
        hub.bound(self)
        auth = authenticator_ismg(0, pdu.authenticator_source, account.password,
                                  4 if self.v3 else 1)
        self.out.append(encode(ConnectResp(sequence_id=seq, status=0, authenticator_ismg=auth,
                                           version=asked), asked))

    def _refuse(self, seq: int, status: int, version: int) -> None:
        """A failed login: CONNECT_RESP (AuthenticatorISMG all NUL, section 4.2), then close."""
        self.stats["binds_refused"] += 1
        self.out.append(encode(ConnectResp(sequence_id=seq, status=status, version=version),
                               version))
        self.close()

    # --- messages ---------------------------------------------------------------------------

    def _submit_resp(self, seq: int, msg_id: int, result: int) -> bytes:
        if self.v3:
            return _SUBMIT_RESP30.pack(24, _SUBMIT_RESP_ID, seq, msg_id, result)
        return _SUBMIT_RESP20.pack(21, _SUBMIT_RESP_ID, seq, msg_id, result)

    def _submit_cmpp(self, pdu: Submit, now: float) -> None:
        hub = self.hub
        dests = pdu.dest_terminal_ids
        n = len(dests)
        if not self.admit_free:
            result = hub.admit(self, now, n)
            if result:
                self.respond(self._submit_resp(pdu.sequence_id, 0, result))
                return
        mid = hub.next_msg_id(n)
        ledger = self.ledger
        wall = self.wall
        if self.v3:
            resp = _SUBMIT_RESP30.pack(24, _SUBMIT_RESP_ID, pdu.sequence_id, mid, 0)
        else:
            resp = _SUBMIT_RESP20.pack(21, _SUBMIT_RESP_ID, pdu.sequence_id, mid, 0)
        if self.latency_zero:
            self.out.append(resp)
        else:
            self.respond(resp)
        if n == 1:
            text_id = str(mid)
            ledger.append_cmpp(wall, self.system_id, self.bind_id, text_id, dests[0], pdu)
            if pdu.registered_delivery == 1:
                hub.report_for(self.system_id, mid, text_id, pdu, dests[0], now)
            return
        for i, dest in enumerate(dests):
            ledger.append_cmpp(wall, self.system_id, self.bind_id, str(mid + i), dest, pdu)
        if pdu.registered_delivery == 1:
            for i, dest in enumerate(dests):
                hub.report_for(self.system_id, mid + i, str(mid + i), pdu, dest, now)

    def _query_cmpp(self, pdu: Query) -> None:
        total = self.ledger.appended & 0xFFFFFFFF
        self.out.append(encode(QueryResp(
            sequence_id=pdu.sequence_id, time=pdu.time, query_type=pdu.query_type,
            query_code=pdu.query_code, mt_tlmsg=total, mt_tlusr=total, mt_scs=total,
        ), self.version))

    def _cancel_cmpp(self, pdu: Cancel) -> None:
        cancelled = self.hub.cancel(str(pdu.msg_id))
        self.out.append(encode(CancelResp(sequence_id=pdu.sequence_id,
                                          success_id=0 if cancelled else 1), self.version))


def _authentic(pdu: Connect, secret: str) -> bool:
    """AuthenticatorSource over Source_Addr as decoded or NUL-padded to its 6 octets (both
    are seen when an SP_Id is shorter than 6)."""
    given = pdu.authenticator_source
    addr = pdu.source_addr
    if authenticator_source(addr, secret, pdu.timestamp) == given:
        return True
    return len(addr) < 6 and authenticator_source(addr.ljust(6, "\0"), secret,
                                                  pdu.timestamp) == given


class FakeISMG(FakeSMSC):
    """The fake CMPP ISMG; ``async with FakeISMG(Config(protocol="cmpp", …)) as ismg:`` serves
    on ``ismg.port``. Everything :class:`FakeSMSC` offers (ledger, stats, faults, restart,
    ``inject_mo``) works the same; ``unbind_all`` sends TERMINATE."""

    _conn_class = _CmppConn

    def __init__(self, config: Config | None = None, *, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        config = config or Config(protocol="cmpp")
        if config.protocol != "cmpp":
            raise ConfigError("protocol", 'FakeISMG serves CMPP: set protocol = "cmpp"')
        super().__init__(config, host=host, port=port)
        cmpp = config.cmpp
        #: The highest version spoken; clients asking less get their own.
        self.version = cmpp.version_octet
        self._gateway = cmpp.gateway_code
        self._short_reports = cmpp.short_reports
        self._mo_service_id = cmpp.service_id
        self._report_dates = Dates(10)  # YYMMDDHHMM (section 8)
        self._report_date_octets: dict[int, bytes] = {}
        self._octets: dict[str, bytes] = {}  # Src_Id / Service_Id -> their octets
        self._mid_clock = -1  # the second the Msg_Id time fields hold
        self._mid_prefix = 0  # those fields and the gateway code, packed
        self._mid_seq = self._rng.randrange(0x10000)
        self._mid_used = 0  # sequence values passed in this id second
        self._smsc_sequence = 0
        self.stats.update(active_tests_sent=0, active_test_drops=0)

    def _error_code(self, name: str) -> int:
        return cmpp_result_code(name)

    async def start(self) -> None:
        await super().start()
        if self.config.cmpp.active_test_interval:
            self._spawn(self._keepalive())

    # --- Msg_Id (section 6) -------------------------------------------------------------------

    def next_msg_id(self, n: int = 1) -> int:
        """The first of ``n`` consecutive Msg_Ids."""
        sec = int(self._wall)
        if sec > self._mid_clock:
            self._new_id_second(sec)
        seq = self._mid_seq
        used = self._mid_used + n
        if seq + n < 0x10000 and used <= 0x10000:  # the usual case: no wrap, no running ahead
            self._mid_used = used
            self._mid_seq = seq + n
            return self._mid_prefix | seq
        if seq + n > 0x10000:
            # Msg_Id+i must stay inside the sequence field: skip to 0, counting the skipped.
            self._mid_used += 0x10000 - seq
            seq = 0
        if self._mid_used + n > 0x10000:
            self._new_id_second(self._mid_clock + 1)  # every value used this second: run ahead
        self._mid_used += n
        self._mid_seq = (seq + n) & 0xFFFF
        return self._mid_prefix | seq

    def _new_id_second(self, sec: int) -> None:
        self._mid_clock = sec
        self._mid_used = 0
        self._mid_prefix = make_msg_id(time.localtime(sec), self._gateway, 0)

    # --- status reports (section 8) ------------------------------------------------------------

    def report_for(self, account: str, msg_id: int, mid: str, pdu: Submit, dest: str,
                   now: float) -> None:
        weights = self._stat_weights
        stat = self._draw_stat() if len(weights) > 1 else self._stat_names[0]
        states = self._states
        states[mid] = (ENROUTE, 0.0)
        if len(states) > self.ledger.limit:
            del states[next(iter(states))]
        delay = 0.0 if self._receipt_delay_zero else draw(self._receipt_delay, self._rng)
        # Src_Id and Service_Id are the same few strings message after message.
        octets = self._octets
        src_id = octets.get(pdu.src_id)
        if src_id is None:
            src_id = self._octets_of(pdu.src_id)
        service_id = octets.get(pdu.service_id)
        if service_id is None:
            service_id = self._octets_of(pdu.service_id)
        job = _ReportJob(account, msg_id, mid, stat, self._wall, delay, dest.encode("latin-1"),
                         src_id, service_id)
        self._schedule(job, now + delay)

    def _octets_of(self, text: str) -> bytes:
        octets = self._octets
        if len(octets) >= 1024:
            octets.clear()
        raw = octets[text] = text.encode("latin-1")
        return raw

    def _date_octets(self, when: float) -> bytes:
        """YYMMDDHHMM of a wall-clock time, as octets (cached per second)."""
        key = int(when)
        cache = self._report_date_octets
        raw = cache.get(key)
        if raw is None:
            if len(cache) >= 4096:
                cache.clear()
            raw = cache[key] = self._report_dates(when).encode()
        return raw

    def _deliver_octets(self, conn: Conn, job: Job, seq: int) -> bytes:
        """The DELIVER of an MO part, or of a status report in the layout of the connection
        that carries it."""
        c: _CmppConn = conn  # type: ignore[assignment]  # (a cast() call costs, per report)
        if job.mo is not None:
            return with_sequence_id(job.mo["v30" if c.v3 else "v20"], seq)
        report: _ReportJob = job  # type: ignore[assignment]
        mid = report.message_id
        stat = "DELETED" if mid in self._cancelled else report.stat
        submitted = report.submitted
        done = submitted + report.delay
        self._states[mid] = (_STAT_STATE[stat], done)
        cache = self._report_date_octets
        submit_time = cache.get(int(submitted)) or self._date_octets(submitted)
        done_time = submit_time if int(done) == int(submitted) else (
            cache.get(int(done)) or self._date_octets(done))
        handset = report.source[2]
        deliver_id = report.deliver_id
        if deliver_id < 0:
            deliver_id = report.deliver_id = self.next_msg_id(1)
            self._smsc_sequence = (self._smsc_sequence + 1) & 0xFFFFFFFF
            report.smsc_sequence = self._smsc_sequence
        if c.v3:
            if self._short_reports:
                st, total, length = _REPORT30_SHORT, 169, 60
            else:
                st, total, length = _REPORT30, 180, 71
            return st.pack(total, _DELIVER_ID, seq, deliver_id, report.dest[2], report.service_id,
                           0, 0, 0, handset, 0, 1, length, report.msg_id, _STAT_OCTETS[stat],
                           submit_time, done_time, handset, report.smsc_sequence)
        return _REPORT20.pack(145, _DELIVER_ID, seq, deliver_id, report.dest[2], report.service_id,
                              0, 0, 0, handset, 1, 60, report.msg_id, _STAT_OCTETS[stat],
                              submit_time, done_time, handset, report.smsc_sequence)

    # --- keep-alive (section 11.3) -------------------------------------------------------------

    async def _keepalive(self) -> None:
        cmpp = self.config.cmpp
        interval = cmpp.active_test_interval
        timeout = cmpp.active_test_timeout
        misses = cmpp.active_test_max_misses
        tick = max(0.01, min(interval, timeout) / 4)
        while True:
            await asyncio.sleep(tick)
            now = self._loop.time()
            for conn in list(self._conns):
                c = cast(_CmppConn, conn)
                if c.state is not BindState.BOUND_TRX or c.transport is None:
                    continue
                if c.tests_unanswered:
                    if now - c.last_test < timeout:
                        continue
                    if c.tests_unanswered >= misses:
                        self.stats["active_test_drops"] += 1
                        c.abort()
                        continue
                elif now - c.last_heard < interval:
                    continue
                c.out.append(_HDR.pack(12, CommandId.CMPP_ACTIVE_TEST, c.next_seq()))
                c.flush()
                c.tests_unanswered += 1
                c.last_test = now
                self.stats["active_tests_sent"] += 1

    # --- MO (sections 4.9, 7) ------------------------------------------------------------------

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
        link_id: str = "",
        service_id: str | None = None,
    ) -> MoResult:
        """Send a mobile-originated message (DELIVER, Registered_Delivery 0) from handset
        ``source_addr`` to the SP number ``destination_addr`` (Dest_Id: SP code + extension).

        ``data_coding`` is the Msg_Fmt: text goes as ASCII (0) when it can, else UCS2 (8);
        pass 15 for GB18030. Over 140 octets it goes in parts (TP_udhi = 1, 8-bit reference
        UDH) that never split a character. Waits for every DELIVER_RESP (or ``timeout``);
        RuntimeError when no client of ``account`` (or of any account) is logged in.
        """
        if (text is None) == (data is None):
            raise ValueError("give either text or data")
        if len(source_addr) > 21:
            raise ValueError("source_addr: at most 21 characters (2.0 Src_terminal_Id)")
        parts = _mo_parts(text, data, data_coding)
        target = self._mo_target(account, "no CMPP client logged in")
        wires: list[dict[str, Any]] = []
        for udhi, fmt, payload in parts:
            pdu = Deliver(msg_id=self.next_msg_id(1), dest_id=destination_addr,
                          service_id=self._mo_service_id if service_id is None else service_id,
                          tp_udhi=udhi, msg_fmt=fmt, src_terminal_id=source_addr,
                          registered_delivery=0, msg_content=payload, link_id=link_id)
            wires.append({"v20": encode(pdu, Version.V20), "v30": encode(pdu, Version.V30)})
        return await self._send_mo(target, wires, timeout)


def _mo_parts(text: str | None, data: bytes | None,
              msg_fmt: int | None) -> list[tuple[int, int, bytes]]:
    """(TP_udhi, Msg_Fmt, Msg_Content) per part of an MO message."""
    if data is not None:
        if len(data) > 255:
            raise ValueError("data: at most 255 octets (Msg_Length is one octet)")
        return [(0, 4 if msg_fmt is None else msg_fmt, data)]
    assert text is not None
    if msg_fmt is None:
        msg_fmt = 0 if text.isascii() else 8
    codec = _MO_CODECS.get(msg_fmt)
    if codec is None:
        raise ValueError(f"Msg_Fmt {msg_fmt} for text: use 0 (ASCII), 8 (UCS2) or 15 (GB18030)")
    raw = text.encode(codec)  # UnicodeEncodeError is a ValueError
    if len(raw) <= _MAX_CONTENT:
        return [(0, msg_fmt, raw)]
    # Split between characters: a UCS2 surrogate pair or a 2- or 4-octet GB18030 character
    # stays in one part.
    chunks: list[bytes] = []
    current = bytearray()
    for ch in text:
        octets = ch.encode(codec)
        if len(current) + len(octets) > _PART_CONTENT:
            chunks.append(bytes(current))
            current.clear()
        current += octets
    if current:
        chunks.append(bytes(current))
    if len(chunks) > 255:
        raise ValueError(f"MO text needs {len(chunks)} parts; at most 255")
    ref = random.randrange(256)
    return [(1, msg_fmt, bytes((5, 0, 3, ref, len(chunks), n)) + chunk)
            for n, chunk in enumerate(chunks, 1)]


if TYPE_CHECKING:
    def _is_its_connections_hub(ismg: FakeISMG) -> IsmgHub:
        return ismg  # mypy checks that FakeISMG offers what _CmppConn asks of it
