"""The SMGP adapter: a China Telecom SP account (SMGP 3.0, 2.0 or 1.3) behind the same lanes,
flow control, tracker, MO reassembly and opt-out as an SMPP or CMPP account.

What is SMGP here and nowhere else in the engine: the connections (Login with the MD5
authenticator, Active_Test keepalive, window 16 by default), building Submits (the text layer's
UDH with the TP_udhi, PkTotal and PkNumber TLVs, MsgFormat 0/8/15, the account's service and
fee fields), what a Submit_Resp Status means (1, system busy, is throttling; 75, the daily
volume, worth a later retry), and reading Delivers: status reports (IsReport = 1, the reported
MsgID and stat, smgp.md section 9) and MO messages. MsgIDs are correlated in their canonical
text, 20 lower-case hex digits of the 10 octets (the digits themselves when the id is BCD).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from ..bind import BindEvent, BindMode, SmgpBindKeeper
from ..smgp import (
    Deliver,
    InvalidPduError,
    LoginMode,
    ReportDecodeError,
    SmgpError,
    SmgpSessionConfig,
    Status,
    Submit,
    Version,
    error_for_status,
    is_retriable_status,
    receipt_state,
    report_id_stat_err,
)
from ..smpp import CommandStatus
from ..text import Encoding, ReferenceCounter, SplitMethod, encoding_for_msg_fmt
from .adapter import (
    RECEIPT_STATES,
    UNREADABLE,
    MoPart,
    Receipt,
    absolute_time,
    destination_for,
    relative_time,
    split_message,
)
from .config import ChannelConfig
from .model import DeliveryFailure, MessageHandle, MessageRefusedError, MessageState
from .tracker import Verdict

__all__ = ["SmgpAdapter"]

_METHOD: Final = {"udh8": SplitMethod.UDH8, "udh16": SplitMethod.UDH16}
_VERSION: Final = {"3.0": Version.V30, "2.0": Version.V20, "1.3": Version.V13}
_THROTTLE: Final = int(Status.SYSTEM_BUSY)
_DELIVERED: Final = MessageState.DELIVERED
# A Submit field SMGP cannot carry -> the Message field it came from, and the SMPP status the
# engine's refusals speak.
_FIELDS: Final = {
    "src_term_id": ("source", CommandStatus.ESME_RINVSRCADR),
    "dest_term_ids": ("destination", CommandStatus.ESME_RINVDSTADR),
    "msg_content": ("text", CommandStatus.ESME_RINVMSGLEN),
}


class SmgpAdapter:
    """See the module docstring."""

    receipt_states: dict[int, MessageState | None] = {}  # (no fast receipt path in SMGP)

    def __init__(self, config: ChannelConfig, refs: ReferenceCounter) -> None:
        self.config = config
        self._refs = refs
        self._encodings = tuple(Encoding(e) for e in config.encoding_names)
        self._method = _METHOD[config.split]

    def new_keeper(self, index: int, mode: BindMode, *,
                   on_event: Callable[[BindEvent], None], on_message: Callable[[Any], None],
                   on_receipt: Callable[[str, int], None]) -> SmgpBindKeeper:
        cfg = self.config
        session = SmgpSessionConfig(
            cfg.system_id, cfg.password, version=_VERSION[cfg.smgp_version],
            login_mode=LoginMode.TRANSMIT, window=cfg.window_size,
            response_timeout=cfg.response_timeout,
            active_test_interval=cfg.enquire_link_interval,
        )
        return SmgpBindKeeper(cfg.host, cfg.port, session, name=f"{cfg.name}#{index}",
                              on_event=on_event, on_message=on_message)

    def build(self, handle: MessageHandle) -> list[Submit]:
        """Encode and split a message into Submits, one per part (raises
        MessageRefusedError naming the field SMGP cannot carry)."""
        msg = handle.message
        cfg = self.config
        parts = split_message(msg, self._encodings, self._method, self._refs)
        msg_format = parts.encoding.msg_fmt
        if msg_format is None:
            msg_format = 4  # (octets given as ``data``) MsgFormat 4: binary
        source = msg.source if msg.source is not None else cfg.default_source
        validity = relative_time(msg.validity) if msg.validity is not None else ""
        schedule = absolute_time(msg.schedule_at) if msg.schedule_at is not None else ""
        need_report = 1 if msg.registered_delivery else 0
        total = len(parts.parts)
        destination = destination_for(msg.destination, cfg)
        try:
            return [
                Submit(
                    need_report=need_report, service_id=cfg.service_id,
                    fee_type=cfg.fee_type, fee_code=cfg.fee_code, fixed_fee=cfg.fixed_fee,
                    msg_format=msg_format, valid_time=validity, at_time=schedule,
                    src_term_id=source, dest_term_ids=(destination,),
                    msg_content=part.user_data, tp_udhi=1 if part.udhi else None,
                    pk_total=total if total > 1 else None,
                    pk_number=i + 1 if total > 1 else None, msg_src=cfg.msg_src,
                )
                for i, part in enumerate(parts.parts)
            ]
        except InvalidPduError as exc:
            field, status = _FIELDS.get(exc.field, (None, CommandStatus.ESME_RSUBMITFAIL))
            raise MessageRefusedError(f"{cfg.name}: SMGP cannot carry it: {exc}",
                                      status=status, field=field) from None

    def classify(self, status: int) -> Verdict:
        if status == 0:
            return Verdict.ACCEPTED
        if status == _THROTTLE:
            return Verdict.THROTTLED
        return Verdict.RETRIABLE if is_retriable_status(status) else Verdict.PERMANENT

    def error_for(self, status: int) -> SmgpError:
        return error_for_status(status)

    def read(self, pdu: Any) -> Receipt | MoPart | None:
        if not isinstance(pdu, Deliver):
            return None
        if pdu.is_report == 1:
            try:
                msg_id, stat, err = report_id_stat_err(pdu.msg_content)
            except ReportDecodeError:
                return UNREADABLE
            if stat == "DELIVRD":
                return Receipt(msg_id.hex(), _DELIVERED)
            state = RECEIPT_STATES[receipt_state(stat)]
            if state is None:
                return Receipt(msg_id.hex(), state)
            # The stat is the reason (the gateway's own ones too: DTBLACK, …), err beside it.
            return Receipt(msg_id.hex(), state, DeliveryFailure(stat=stat, err=err))
        return MoPart(pdu.src_term_id, pdu.dest_term_id, pdu.msg_content,
                      encoding_for_msg_fmt(pdu.msg_format), bool(pdu.tp_udhi))
