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

import struct
from collections.abc import Callable
from typing import Any, Final

from ..bind import BindEvent, BindMode, SmgpBindKeeper
from ..smgp import (
    Deliver,
    EncodedSubmit,
    InvalidPduError,
    LoginMode,
    ReportDecodeError,
    SmgpError,
    SmgpSessionConfig,
    Status,
    Submit,
    Version,
    encode,
    error_for_status,
    is_retriable_status,
    receipt_state,
    report_id_stat_err,
)
from ..smpp import CommandStatus
from ..text import Encoding, ReferenceCounter, SplitMethod, encoding_for_msg_fmt
from .adapter import (
    CN_ENCODINGS,
    RECEIPT_STATES,
    UNREADABLE,
    MoPart,
    Receipt,
    absolute_time,
    destination_for,
    relative_time,
    single_part_cn,
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


_MAX_TEMPLATES: Final = 1024  # (senders x formats x NeedReport kept; then started afresh)


class SmgpSubmitTemplate:
    """The Submit body of one (sender, MsgFormat, NeedReport) for a one-part message to one
    DestTermID, in the session's version and TLV settings: its constant octets cut once out of
    what the plain encoder writes for a Submit built (so validated) with the adapter's fields;
    :meth:`body` fills in the DestTermID, MsgLength and content. The same octets as
    ``encode(Submit(...))`` after the header (tests/engine/test_cn_templates.py).

    Measured (timeit, a 46-character ASCII message, the shared 2-core machine): build and
    encode 7.2 -> 1.4 µs (build alone 4.0 -> 0.9; split_message, the validated Submit and its
    TLV encoding skipped, the session's encode a header pack). The bench:
    docs/performance.md."""

    __slots__ = ("_head", "_pack", "_tail")

    def __init__(self, submit: Submit, version: int, compact_tlvs: bool,
                 max_msg_length: int) -> None:
        body = encode(submit, version, sequence_id=0, compact_tlvs=compact_tlvs,
                      max_msg_length=max_msg_length)[12:]
        # The fields up to DestTermIDCount; DestTermID (21); MsgLength (1); the content (none
        # here); Reserve (8) and the TLVs.
        head = (126 if version >= 0x20 else 120) - 21
        assert submit.msg_content == b"" and body[head - 1] == 1 and body[head + 21] == 0
        self._pack = struct.Struct(f">{head}s21sB").pack
        self._head = body[:head]
        self._tail = body[head + 22:]

    def body(self, destination: bytes, content: bytes) -> bytes:
        """The body to ``destination`` (at most 21 octets, no NUL) carrying ``content`` (at
        most the session's max_msg_length octets)."""
        return self._pack(self._head, destination, len(content)) + content + self._tail


class SmgpAdapter:
    """See the module docstring."""

    #: The fast receipt path: the sessions read reports apart (``SmgpSessionConfig(receipts=
    #: True)``) and hand one saying DELIVRD to ``on_receipt`` as its MsgID's text and the
    #: neutral state, without building the Deliver, its report or a Receipt; any other comes
    #: whole to :meth:`read`. tests/engine/test_cn_receipts.py holds the two paths to the same
    #: outcome. Measured: docs/performance.md (issue 22).
    receipt_states = RECEIPT_STATES

    def __init__(self, config: ChannelConfig, refs: ReferenceCounter) -> None:
        self.config = config
        self._refs = refs
        self._encodings = tuple(Encoding(e) for e in config.encoding_names)
        self._method = _METHOD[config.split]
        # The one-part fast path: the default encodings only (single_part_cn's), and templates
        # by (sender, MsgFormat, NeedReport) in the sessions' version and settings.
        self._one_part = self._encodings == CN_ENCODINGS
        self._templates: dict[tuple[str, int, int], SmgpSubmitTemplate] = {}
        session = self._session_config()
        self._version = session.version
        self._compact = session.compact_tlvs
        self._max_msg_length = session.max_msg_length

    def _session_config(self) -> SmgpSessionConfig:
        cfg = self.config
        return SmgpSessionConfig(
            cfg.system_id, cfg.password, version=_VERSION[cfg.smgp_version],
            login_mode=LoginMode.TRANSMIT, window=cfg.window_size,
            response_timeout=cfg.response_timeout,
            active_test_interval=cfg.enquire_link_interval, receipts=True,
        )

    def new_keeper(self, index: int, mode: BindMode, *,
                   on_event: Callable[[BindEvent], None], on_message: Callable[[Any], None],
                   on_receipt: Callable[[str, int], None]) -> SmgpBindKeeper:
        cfg = self.config
        return SmgpBindKeeper(cfg.host, cfg.port, self._session_config(),
                              name=f"{cfg.name}#{index}", on_event=on_event,
                              on_message=on_message, on_receipt=on_receipt,
                              ssl=cfg.ssl_context(),
                              server_hostname=cfg.tls_server_name or None)

    def _submit(self, source: str, destination: str, msg_format: int, need_report: int,
                validity: str, schedule: str, content: bytes, udhi: bool, total: int,
                number: int) -> Submit:
        cfg = self.config
        return Submit(
            need_report=need_report, service_id=cfg.service_id,
            fee_type=cfg.fee_type, fee_code=cfg.fee_code, fixed_fee=cfg.fixed_fee,
            msg_format=msg_format, valid_time=validity, at_time=schedule,
            src_term_id=source, dest_term_ids=(destination,),
            msg_content=content, tp_udhi=1 if udhi else None,
            pk_total=total if total > 1 else None,
            pk_number=number if total > 1 else None, msg_src=cfg.msg_src,
        )

    def _template(self, key: tuple[str, int, int]) -> SmgpSubmitTemplate | None:
        """The template of (sender, MsgFormat, NeedReport); None when the Submit would be
        refused (the plain path then says why). A bounded cache."""
        source, msg_format, need_report = key
        try:
            template = SmgpSubmitTemplate(
                self._submit(source, "", msg_format, need_report, "", "", b"", False, 1, 1),
                self._version, self._compact, self._max_msg_length)
        except InvalidPduError:
            return None
        if len(self._templates) >= _MAX_TEMPLATES:
            self._templates.clear()
        self._templates[key] = template
        return template

    def build(self, handle: MessageHandle) -> list[Any]:
        """Encode and split a message into Submits, one per part (raises
        MessageRefusedError naming the field SMGP cannot carry): the usual one-part message
        through its sender's :class:`SmgpSubmitTemplate`, already encoded."""
        msg = handle.message
        cfg = self.config
        text = msg.text
        if (text is not None and self._one_part and msg.validity is None
                and msg.schedule_at is None):
            one = single_part_cn(text)
            if one is not None and len(one[1]) <= self._max_msg_length:
                destination = msg.destination
                if destination[:1] == "+":
                    destination = destination_for(destination, cfg)
                if (len(destination) <= 21 and destination.isascii()
                        and "\0" not in destination):
                    source = msg.source if msg.source is not None else cfg.default_source
                    key = (source, one[0], 1 if msg.registered_delivery else 0)
                    template = self._templates.get(key) or self._template(key)
                    if template is not None:
                        return [EncodedSubmit(template.body(destination.encode(), one[1]))]
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
                self._submit(source, destination, msg_format, need_report, validity, schedule,
                             part.user_data, part.udhi, total, i + 1)
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
