"""A CMPP channel: a China Mobile SP account (CMPP 2.0 or 3.0) behind the same lanes, flow
control, retries, receipt correlation, MO reassembly and opt-out as an SMPP channel.

What differs from SMPP is only here: the connections (CONNECT login, ACTIVE_TEST keepalive,
window 16 by default), building CMPP_SUBMITs (Pk_total/Pk_number, TP_udhi with the text layer's
UDH, Msg_Fmt 0/8/15, the fee and service fields of the account), SUBMIT_RESP Result 8 as
throttling, and reading DELIVERs: status reports (Msg_Id and Stat, cmpp.md section 8) and MO
messages. Msg_Ids are correlated in their canonical form, the decimal of the 64-bit value.
"""

from __future__ import annotations

from typing import Any

from ..bind import BindMode, CmppBindKeeper
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
    report_id_and_stat,
)
from ..smpp import CommandStatus
from ..smpp import MessageState as SmppState
from ..text import encoding_for_msg_fmt
from .channel import Channel, _absolute, _relative
from .model import MessageHandle, MessageRefusedError

__all__ = ["CmppChannel"]

# Report Stat (cmpp.md section 8) -> the SMPP message_state the shared correlation code speaks.
# Anything else (the gateway's XX:nnnn error forms, vendor codes) is a failure to deliver.
_STAT_STATE = {
    "DELIVRD": SmppState.DELIVERED,
    "EXPIRED": SmppState.EXPIRED,
    "DELETED": SmppState.DELETED,
    "UNDELIV": SmppState.UNDELIVERABLE,
    "ACCEPTD": SmppState.ACCEPTED,  # intermediate: gateways should drop it; ignored if seen
    "UNKNOWN": SmppState.UNKNOWN,
    "REJECTD": SmppState.REJECTED,
}


class CmppChannel(Channel):
    _throttle = frozenset({int(SubmitResult.FLOW_CONTROL)})

    def _new_keeper(self, i: int, mode: BindMode) -> Any:
        cfg = self.config
        session = CmppSessionConfig(
            cfg.system_id, cfg.password,
            version=Version.V30 if cfg.cmpp_version == "3.0" else Version.V20,
            window=cfg.window_size, response_timeout=cfg.response_timeout,
            active_test_interval=cfg.enquire_link_interval,
        )
        return CmppBindKeeper(cfg.host, cfg.port, session, name=f"{self.name}#{i}",
                              on_event=self._bind_event, on_message=self._incoming)

    def _retriable(self, status: int) -> bool:
        return is_retriable_result(status)

    def _error_for(self, status: int) -> CmppError:
        return error_for_result(status)

    def build(self, handle: MessageHandle) -> list[Submit]:
        """Encode and split a message into CMPP_SUBMITs (raises MessageRefusedError)."""
        msg = handle.message
        cfg = self.config
        destination = msg.destination
        parts = self._split(msg)
        msg_fmt = parts.encoding.msg_fmt
        if msg_fmt is None:
            # (octets given as ``data``) Msg_Fmt 4: binary
            msg_fmt = 4
        source = msg.source if msg.source is not None else cfg.default_source
        if len(source) > 21:
            raise MessageRefusedError(f"source {source!r} is longer than Src_Id's 21 octets",
                                      status=CommandStatus.ESME_RINVSRCADR)
        validity = _relative(msg.validity) if msg.validity is not None else ""
        schedule = _absolute(msg.schedule_at) if msg.schedule_at is not None else ""
        registered = 1 if msg.registered_delivery else 0
        total = len(parts.parts)
        msg_src = cfg.msg_src or cfg.system_id
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

    def _incoming(self, pdu: Any) -> None:
        if not isinstance(pdu, Deliver):
            return
        if pdu.registered_delivery == 1:
            try:
                msg_id, stat = report_id_and_stat(pdu.msg_content)
            except ReportDecodeError:
                self.counters["receipts_unmatched"] += 1
                return
            state = _STAT_STATE.get(stat) or _STAT_STATE.get(stat.strip().upper(),
                                                              SmppState.UNDELIVERABLE)
            self._receipt_found(str(msg_id), int(state))
            return
        encoding = encoding_for_msg_fmt(pdu.msg_fmt)
        self._mo_part(pdu.src_terminal_id, pdu.dest_id, pdu.msg_content, encoding,
                      bool(pdu.tp_udhi & 1))

