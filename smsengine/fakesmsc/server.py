"""The fake SMSC: an SMPP 3.4 server that behaves — and fails — like carriers do.

One :class:`_Conn` (an ``asyncio.Protocol``) per TCP connection feeds received bytes to the
sans-I/O :class:`~smsengine.smpp.Framer` and answers each PDU; everything a batch of input
produces leaves in one ``transport.write``. :class:`FakeSMSC` owns the accounts, the ledger, the
receipt queues and the control methods tests use to inject MO traffic and faults; what of that
the CMPP ISMG shares (connections, logins, admission, job queues, faults) is in :mod:`._common`,
and a connection uses its server only through :class:`SmppHub`.

Hot path (it must never be what limits a client under test): a submit_sm is checked (bind state,
TPS, window, injected errors), recorded in the ledger as a tuple, and answered from a header
template. Receipts wait in deadline order — a FIFO when the delay is fixed (constant delay keeps
arrival order), a heap when it is random — drained by one timer, and are encoded from a template
of the deliver_sm body: the values are the server's own, already valid.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final, Protocol

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
from ._common import (
    BOUND,
    CAN_SUBMIT,
    ENROUTE,
    STATE_OF_STAT,
    BindInfo,
    BindState,
    Conn,
    Dates,
    Hub,
    Job,
    MoResult,
    Refusal,
    Server,
    Switches,
    draw,
)
from .config import Config
from .ledger import message_id_factory, other_base

__all__ = ["BindInfo", "FakeSMSC", "MoResult"]

_HEADER = struct.Struct(">IIII")
_SUBMIT_RESP: Final = int(CommandId.submit_sm_resp)
_DELIVER_SM: Final = int(CommandId.deliver_sm)
_S = CommandStatus
_STATUS_BY_NAME: Final = {s.name: s for s in CommandStatus}

_MODE_OF = {
    CommandId.bind_transmitter: ("transmitter", BindState.BOUND_TX),
    CommandId.bind_receiver: ("receiver", BindState.BOUND_RX),
    CommandId.bind_transceiver: ("transceiver", BindState.BOUND_TRX),
}
_REFUSED: Final = {
    Refusal.BUSY: _S.ESME_RBINDFAIL,
    Refusal.UNKNOWN: _S.ESME_RINVSYSID,
    Refusal.SECRET: _S.ESME_RINVPASWD,
    Refusal.MODE: _S.ESME_RBINDFAIL,
    Refusal.FULL: _S.ESME_RALYBND,
}

# Which requests an ESME may send in which state (SMPP 3.4 section 2.3); anything else is
# answered with ESME_RINVBNDSTS. A bind on a bound connection gets ESME_RALYBND.
_ALLOWED: Final[dict[int, frozenset[BindState]]] = {
    CommandId.submit_sm: CAN_SUBMIT,
    CommandId.submit_multi: CAN_SUBMIT,
    CommandId.data_sm: CAN_SUBMIT,
    CommandId.query_sm: CAN_SUBMIT,
    CommandId.cancel_sm: CAN_SUBMIT,
    CommandId.replace_sm: CAN_SUBMIT,
    CommandId.unbind: BOUND | {BindState.UNBINDING},
    CommandId.enquire_link: BOUND | {BindState.OPEN, BindState.UNBINDING},
}

_FAILED_STATS = frozenset({"UNDELIV", "EXPIRED", "REJECTD", "UNKNOWN", "DELETED"})

# deliver_sm body of a receipt after destination_addr: esm_class 0x04 (SMSC delivery receipt),
# protocol_id, priority_flag, schedule_delivery_time, validity_period, registered_delivery,
# replace_if_present_flag, data_coding, sm_default_msg_id — then sm_length, text, TLVs.
_RECEIPT_BODY: Final = b"\0%c%c%b\0%c%c%b\0\x04\0\0\0\0\0\0\0\0%c%b%b"
# receipted_message_id (length, id, NUL) and message_state (one octet).
_RECEIPT_TLVS: Final = b"\x00\x1e\x00%c%b\x00\x04\x27\x00\x01%c"


class SmppHub(Hub, Protocol):
    """What an SMPP connection asks of :class:`FakeSMSC` beyond the :class:`Hub`."""

    @property
    def message_ids(self) -> Iterator[str]: ...

    def receipt_for(self, account: str, mid: str, pdu: SubmitSm | SubmitMulti | DataSm,
                    ton: int, npi: int, dest: str, now: float) -> None:
        """Schedule the receipt of an accepted message to ``dest``, as its
        ``registered_delivery`` asks."""
        ...

    def state_of(self, message_id: str) -> tuple[int, str]:
        """query_sm: the message_state and final_date of ``message_id`` (0: unknown)."""
        ...


class _Conn(Conn):
    """One ESME connection."""

    framing_error = FramingError
    hub: SmppHub

    def __init__(self, hub: SmppHub, switches: Switches) -> None:
        super().__init__(hub, switches)
        self.framer = Framer(hub.config.max_pdu_length)
        self.message_ids = hub.message_ids

    def goodbye(self) -> bytes:
        return Unbind(sequence_number=self.next_seq()).encode()

    def received(self, events: list[Pdu | InvalidPdu], now: float, fast: bool) -> bool:
        hub = self.hub
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
                        hub.answered(job, event.command_status)  # type: ignore[union-attr]
                    continue
            self._handle(event, now)
            if self.transport is None or self.transport.is_closing():
                return False
        return True

    # --- dispatch ---------------------------------------------------------------------------

    def _handle(self, event: Pdu | InvalidPdu, now: float) -> None:
        if isinstance(event, InvalidPdu):
            self.stats["invalid_pdus"] += 1
            if event.response is not None:
                self.out.append(event.response.encode())
            return
        if self.switches.stall_answer:
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
            self.unbinding()
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
        mode, state = _MODE_OF[pdu.command_id]
        if self.state is not BindState.OPEN:
            self._reply(pdu, _S.ESME_RALYBND)
            return
        password = pdu.password
        account = self.hub.login(pdu.system_id, now, lambda a: a.password == password, mode)
        if isinstance(account, Refusal):
            self.stats["binds_refused"] += 1
            self._reply(pdu, _REFUSED[account])
            return
        self.account = account
        self.system_id = account.system_id
        self.state = state
        self.mode = mode
        self.can_submit = state in CAN_SUBMIT
        self.throttle_status = _STATUS_BY_NAME[account.throttle_status]
        self.hub.bound(self)
        self._reply(pdu, 0, system_id=self.hub.config.system_id,
                    tlvs=(Tlv(Tag.sc_interface_version, 0x34),))

    # --- messages ---------------------------------------------------------------------------

    def _submit(self, pdu: SubmitSm, now: float) -> None:
        if not self.admit_free:
            status = self.hub.admit(self, now)
            if status:
                self.respond(_HEADER.pack(16, _SUBMIT_RESP, status, pdu.sequence_number))
                return
        mid = next(self.message_ids)
        self.ledger.append(self.wall, self.system_id, self.bind_id, mid, pdu.destination_addr,
                           pdu)
        raw = mid.encode()
        self.respond(_HEADER.pack(17 + len(raw), _SUBMIT_RESP, 0, pdu.sequence_number)
                     + raw + b"\0")
        if pdu.registered_delivery & 0x03:
            self.hub.receipt_for(self.system_id, mid, pdu, pdu.dest_addr_ton, pdu.dest_addr_npi,
                                 pdu.destination_addr, now)

    def _submit_multi(self, pdu: SubmitMulti, now: float) -> None:
        status = self.hub.admit(self, now)
        if status:
            self.respond(pdu.response(status).encode())
            return
        mid = next(self.message_ids)
        for dest in pdu.dest_address:
            if isinstance(dest, SmeAddress):
                ton, npi, name = dest.dest_addr_ton, dest.dest_addr_npi, dest.destination_addr
            else:
                ton, npi, name = 0, 0, dest.dl_name
            self.ledger.append(self.wall, self.system_id, self.bind_id, mid, name, pdu)
            if pdu.registered_delivery & 0x03:
                self.hub.receipt_for(self.system_id, mid, pdu, ton, npi, name, now)
        self.respond(pdu.response(0, message_id=mid).encode())

    def _data_sm(self, pdu: DataSm, now: float) -> None:
        status = self.hub.admit(self, now)
        if status:
            self.respond(pdu.response(status).encode())
            return
        mid = next(self.message_ids)
        self.ledger.append(self.wall, self.system_id, self.bind_id, mid, pdu.destination_addr,
                           pdu)
        self.respond(pdu.response(0, message_id=mid).encode())
        if pdu.registered_delivery & 0x03:
            self.hub.receipt_for(self.system_id, mid, pdu, pdu.dest_addr_ton, pdu.dest_addr_npi,
                                 pdu.destination_addr, now)

    def _query(self, pdu: QuerySm) -> None:
        state, final_date = self.hub.state_of(pdu.message_id)
        if not state:
            self._reply(pdu, _S.ESME_RQUERYFAIL)
            return
        self._reply(pdu, 0, message_id=pdu.message_id, final_date=final_date,
                    message_state=state)

    def _cancel_or_replace(self, pdu: CancelSm | ReplaceSm) -> None:
        if isinstance(pdu, CancelSm):
            self._reply(pdu, 0 if self.hub.cancel(pdu.message_id) else _S.ESME_RCANCELFAIL)
        else:
            self._reply(pdu, 0 if self.hub.en_route(pdu.message_id) else _S.ESME_RREPLACEFAIL)

    def _response(self, pdu: Response) -> None:
        cid = pdu.command_id
        if cid in (CommandId.deliver_sm_resp, CommandId.data_sm_resp, CommandId.generic_nack):
            job = self.jobs.pop(pdu.sequence_number, None)
            if job is not None:
                self.hub.answered(job, pdu.command_status)
        elif cid == CommandId.unbind_resp:
            self.close()


class FakeSMSC(Server):
    """The fake SMSC; ``async with FakeSMSC(config) as smsc:`` serves on ``smsc.port``."""

    #: One instance per TCP connection (the CMPP ISMG subclass puts its own here).
    _conn_class: type[Conn] = _Conn

    def __init__(self, config: Config | None = None, *, host: str = "127.0.0.1", port: int = 0):
        super().__init__(config, host=host, port=port)
        cfg = self.config
        #: The message_id of each accepted message, in the configured style (connections draw).
        self.message_ids = message_id_factory(cfg.message_id_style,
                                              self._rng.randrange(10**9, 2 * 10**9))
        receipts = cfg.receipts
        self._dates = Dates(12 if receipts.profile == "long_dates" else 10)
        self._final_dates = Dates(12)
        self._err_codes = receipts.err_codes
        self._upper = receipts.profile == "upper"
        self._other_base = receipts.profile == "other_base"
        self._receipt_tlvs = receipts.tlvs
        self._middles: dict[tuple[str, int, int], bytes] = {}

    def _error_code(self, name: str) -> int:
        return int(_STATUS_BY_NAME[name])

    # --- for connections (SmppHub) ---------------------------------------------------------------

    def state_of(self, message_id: str) -> tuple[int, str]:
        known = self._states.get(message_id)
        if known is not None:
            state, when = known
            return state, (self._final_dates(when) + "000+") if when else ""
        # No receipt was asked for: delivered as soon as accepted, if we accepted it at all.
        for mid in reversed(self.ledger.message_ids()):
            if mid == message_id:
                return MessageState.DELIVERED, ""
        return 0, ""

    def receipt_for(self, account: str, mid: str, pdu: SubmitSm | SubmitMulti | DataSm,
                    ton: int, npi: int, dest: str, now: float) -> None:
        stat = self._draw_stat()
        if pdu.registered_delivery & 0x03 == 2 and stat not in _FAILED_STATS:
            return  # receipt on failure only, and this one was delivered
        states = self._states
        states[mid] = (ENROUTE, 0.0)
        if len(states) > self.ledger.limit:
            del states[next(iter(states))]
        delay = 0.0 if self._receipt_delay_zero else draw(self._receipt_delay, self._rng)
        text = b""
        if isinstance(pdu, SubmitSm) and pdu.data_coding in (0, 1, 3) and not pdu.esm_class & 0x40:
            text = pdu.short_message[:20]
        job = Job(account, mid, stat, self._wall, delay, (ton, npi, dest[:20].encode("latin-1")),
                  (pdu.source_addr_ton, pdu.source_addr_npi,
                   pdu.source_addr[:20].encode("latin-1")), text)
        self._schedule(job, now + delay)

    # --- deliver_sm ---------------------------------------------------------------------------

    def _deliver_octets(self, conn: Conn, job: Job, seq: int) -> bytes:
        """The deliver_sm of an MO part, or of a receipt encoded from a template (SMPP 3.4
        Appendix B text)."""
        if job.mo is not None:
            return DeliverSm(sequence_number=seq, **job.mo).encode()
        mid = job.message_id
        stat = "DELETED" if mid in self._cancelled else job.stat
        state = STATE_OF_STAT[stat]
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
        target = self._mo_target(account, "no receiver or transceiver bind")
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


if TYPE_CHECKING:
    def _is_its_connections_hub(smsc: FakeSMSC) -> SmppHub:
        return smsc  # mypy checks that FakeSMSC offers what _Conn asks of it
