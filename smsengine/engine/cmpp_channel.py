"""The CMPP adapter: a China Mobile SP account (CMPP 2.0 or 3.0) behind the same lanes, flow
control, tracker, MO reassembly and opt-out as an SMPP account.

What is CMPP here and nowhere else in the engine: the connections (CONNECT login, ACTIVE_TEST
keepalive, window 16 by default), building CMPP_SUBMITs (Pk_total/Pk_number, TP_udhi with the
text layer's UDH, Msg_Fmt 0/8/15, the fee and service fields of the account), what a
SUBMIT_RESP Result means (8 is throttling), and reading DELIVERs: status reports (Msg_Id and
Stat, cmpp.md section 8) and MO messages. Msg_Ids are correlated in their canonical form, the
decimal of the 64-bit value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..bind import BindEvent, BindMode, CmppBindKeeper
from ..cmpp import (
    CmppError,
    CmppSessionConfig,
    Deliver,
    ReportDecodeError,
    Submit,
    SubmitResult,
    Version,
    error_for_result,
    is_retriable_result,
    receipt_state,
    report_id_and_stat,
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

__all__ = ["CmppAdapter"]

_METHOD = {"udh8": SplitMethod.UDH8, "udh16": SplitMethod.UDH16, "sar": SplitMethod.SAR,
           "payload": SplitMethod.PAYLOAD}
_THROTTLE = int(SubmitResult.FLOW_CONTROL)


class CmppAdapter:
    """See the module docstring."""

    receipt_states: dict[int, MessageState | None] = {}  # (no fast receipt path in CMPP)

    def __init__(self, config: ChannelConfig, refs: ReferenceCounter) -> None:
        self.config = config
        self._refs = refs
        self._encodings = tuple(Encoding(e) for e in config.encoding_names)
        self._method = _METHOD[config.split]

    def new_keeper(self, index: int, mode: BindMode, *,
                   on_event: Callable[[BindEvent], None], on_message: Callable[[Any], None],
                   on_receipt: Callable[[str, int], None]) -> CmppBindKeeper:
        cfg = self.config
        session = CmppSessionConfig(
            cfg.system_id, cfg.password,
            version=Version.V30 if cfg.cmpp_version == "3.0" else Version.V20,
            window=cfg.window_size, response_timeout=cfg.response_timeout,
            active_test_interval=cfg.enquire_link_interval,
        )
        return CmppBindKeeper(cfg.host, cfg.port, session, name=f"{cfg.name}#{index}",
                              ssl=cfg.ssl_context(),
                              server_hostname=cfg.tls_server_name or None,
                              on_event=on_event, on_message=on_message)

    def build(self, handle: MessageHandle) -> list[Submit]:
        """Encode and split a message into CMPP_SUBMITs (raises MessageRefusedError)."""
        msg = handle.message
        cfg = self.config
        parts = split_message(msg, self._encodings, self._method, self._refs)
        msg_fmt = parts.encoding.msg_fmt
        if msg_fmt is None:
            msg_fmt = 4  # (octets given as ``data``) Msg_Fmt 4: binary
        source = msg.source if msg.source is not None else cfg.default_source
        if len(source) > 21:
            raise MessageRefusedError(f"source {source!r} is longer than Src_Id's 21 octets",
                                      status=CommandStatus.ESME_RINVSRCADR)
        validity = relative_time(msg.validity) if msg.validity is not None else ""
        schedule = absolute_time(msg.schedule_at) if msg.schedule_at is not None else ""
        registered = 1 if msg.registered_delivery else 0
        total = len(parts.parts)
        msg_src = cfg.msg_src or cfg.system_id
        destination = destination_for(msg.destination, cfg)
        return [
            Submit(
                pk_total=total, pk_number=i + 1, registered_delivery=registered,
                service_id=cfg.service_id, fee_user_type=cfg.fee_user_type,
                tp_udhi=1 if part.udhi else 0, msg_fmt=msg_fmt, msg_src=msg_src,
                fee_type=cfg.fee_type, fee_code=cfg.fee_code, valid_time=validity,
                at_time=schedule, src_id=source, dest_terminal_ids=(destination,),
                msg_content=part.user_data,
            )
            for i, part in enumerate(parts.parts)
        ]

    def classify(self, status: int) -> Verdict:
        if status == 0:
            return Verdict.ACCEPTED
        if status == _THROTTLE:
            return Verdict.THROTTLED
        return Verdict.RETRIABLE if is_retriable_result(status) else Verdict.PERMANENT

    def error_for(self, status: int) -> CmppError:
        return error_for_result(status)

    def read(self, pdu: Any) -> Receipt | MoPart | None:
        if not isinstance(pdu, Deliver):
            return None
        if pdu.registered_delivery == 1:
            try:
                msg_id, stat = report_id_and_stat(pdu.msg_content)
            except ReportDecodeError:
                return UNREADABLE
            # (The Stat through the neutral receipt state: an unknown one is UNDELIVERABLE,
            # ACCEPTD intermediate, None, and ignored if seen.)
            state = RECEIPT_STATES[receipt_state(stat)]
            if state is None or state is MessageState.DELIVERED:
                return Receipt(str(msg_id), state)
            # The Stat is the reason: DELIVRD's others, or the gateway's own codes (MA:0001, …).
            return Receipt(str(msg_id), state, DeliveryFailure(stat=stat.strip()))
        return MoPart(pdu.src_terminal_id, pdu.dest_id, pdu.msg_content,
                      encoding_for_msg_fmt(pdu.msg_fmt), bool(pdu.tp_udhi & 1))
