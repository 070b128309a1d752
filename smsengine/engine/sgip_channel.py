"""The SGIP adapter: a China Unicom SP account (SGIP 1.2) behind the same lanes, flow control,
tracker, MO reassembly and opt-out as an SMPP or CMPP account.

What is SGIP here and nowhere else in the engine (``/work/shared/specs/sgip.md``):

- the connections: the SP's own to the SMG (Bind Login Type 1, window 16 by default, closed
  after ``idle_close`` seconds without traffic and reopened on demand, 11.2), and a listener on
  ``listen_host:listen_port`` for the SMG's connections back (11.1), whose Bind must carry the
  account's ``system_id`` / ``password`` with Login Type 2; the first connection's keeper runs
  the listener;
- building Submits, one per part (4.4): UserNumber ``86``-prefixed (10.2), TP_udhi with the
  text layer's UDH (7.3), MessageCoding 0/8/15 (7.1), ReportFlag 1 when a receipt is asked
  for and 2 otherwise (ReportFlag 0, the protocol's default, would report failures only),
  ExpireTime / ScheduleTime in Beijing time ``yymmddhhmmss032+``;
- what a Submit_Resp Result means (11, 33, 88: throttled; 9.2);
- reading the SMG's requests: Reports (4.6, 8; State 0 delivered, 1 waiting, 2 failed with
  its ErrorCode) and Deliver, the MO (4.5).

The message id is the Submit's own Sequence Number (6): the Submit_Resp's ``message_id`` and the
Report's ``submit_sequence_number`` give it in the same 30-digit form. A Report may come back,
on the other connection, before the Submit_Resp; the tracker keeps it in its early-receipt
table until the response comes.
"""

from __future__ import annotations

import random
import struct
import time
from collections.abc import Callable
from typing import Any, Final

from ..bind import BindEvent, BindMode
from ..bind.sgip import SgipBindKeeper, SgipListener
from ..link import ReceiptState
from ..sgip import (
    CHARGE_NUMBER_SP_PAYS,
    Deliver,
    EncodedSubmit,
    ErrorCode,
    InvalidPduError,
    MessageCoding,
    ReportType,
    Result,
    SequenceNumber,
    SgipReceiverConfig,
    SgipResultError,
    SgipSessionConfig,
    State,
    Submit,
    TpUdhi,
    encode,
    error_for_result,
    is_retriable_result,
    sp_node_id,
)
from ..sgip import Report as SgipReport
from ..smpp import CommandStatus
from ..text import Encoding, ReferenceCounter, SplitMethod, encoding_for_msg_fmt
from .adapter import (
    CN_ENCODINGS,
    RECEIPT_STATES,
    MoPart,
    Receipt,
    destination_for,
    single_part_cn,
    split_message,
)
from .config import ChannelConfig
from .model import DeliveryFailure, MessageHandle, MessageRefusedError, MessageState
from .tracker import Verdict

__all__ = ["SgipAdapter"]

_METHOD: Final = {"udh8": SplitMethod.UDH8, "udh16": SplitMethod.UDH16}
_THROTTLE: Final = frozenset({int(Result.NODE_BUSY), int(ErrorCode.SMSC_QUEUE_FULL),
                              int(Result.FLOW_CONTROL)})
#: Report State (8) -> the neutral receipt state -> ours (None: intermediate, keep waiting).
_REPORT_STATES: Final[dict[int, MessageState | None]] = {
    State.DELIVERED: RECEIPT_STATES[ReceiptState.DELIVERED],
    State.WAITING: RECEIPT_STATES[ReceiptState.ENROUTE],
}
_FAILED: Final = RECEIPT_STATES[ReceiptState.UNDELIVERABLE]
#: A Submit field the SMG would refuse -> the Message field and SMPP status it came from.
_REFUSED_FIELDS: Final = {
    "user_numbers": ("destination", CommandStatus.ESME_RINVDSTADR),
    "sp_number": ("source", CommandStatus.ESME_RINVSRCADR),
    "message_content": ("text", CommandStatus.ESME_RINVMSGLEN),
}
_BEIJING: Final = 8 * 3600


def _sgip_time(epoch: float) -> str:
    """An SGIP absolute time (4.4): Beijing time ``yymmddhhmmss``, then ``032+`` (tenths 0,
    32 quarter hours ahead of UTC)."""
    return time.strftime("%y%m%d%H%M%S", time.gmtime(epoch + _BEIJING)) + "032+"


_MAX_TEMPLATES: Final = 1024  # (senders x codings x report flags kept; then started afresh)


class SgipSubmitTemplate:
    """The Submit body of one (sender, MessageCoding, ReportFlag) for a one-part message to one
    UserNumber, its constant octets cut once out of what the plain encoder writes for a Submit
    built (so validated) with the adapter's fields: :meth:`body` fills in the UserNumber,
    MessageLength and content. The same octets as ``encode(Submit(...))`` after the header
    (tests/engine/test_cn_templates.py).

    Measured (timeit, a 46-character ASCII message, the shared 2-core machine): build and
    encode 6.0 -> 1.5 µs (build alone 3.9 -> 1.1; split_message and the validated Submit
    skipped, the session's encode a header pack). The bench: docs/performance.md."""

    __slots__ = ("_head", "_pack", "_reserve")

    def __init__(self, submit: Submit) -> None:
        body = encode(submit, sequence_number=SequenceNumber())[20:]
        # SPNumber, ChargeNumber, UserCount (43); UserNumber (21); CorpId … MessageType (68);
        # MessageLength (4); the content (none here); Reserve (8).
        assert submit.message_content == b"" and len(body) == 144 and body[42] == 1
        self._pack = struct.Struct(f">43s21s{68}sI").pack
        self._head = body[:43], body[64:132]
        self._reserve = body[136:]

    def body(self, user: bytes, content: bytes) -> bytes:
        """The body to ``user`` (at most 21 octets, no NUL) carrying ``content``."""
        head, tail = self._head
        return self._pack(head, user, tail, len(content)) + content + self._reserve


def _user_number(number: str) -> str:
    """A UserNumber as SGIP wants it: ``86`` + the MSISDN (10.2)."""
    return number if number.startswith("86") else "86" + number


class SgipAdapter:
    """See the module docstring."""

    #: The fast receipt path: the listener's connections read Reports apart
    #: (``SgipReceiverConfig(receipts=True)``) and hand one saying delivered to ``on_receipt``
    #: as its id and neutral state, without building the Report or a Receipt; any other comes
    #: whole to :meth:`read`. tests/engine/test_cn_receipts.py holds the two paths to the
    #: same outcome. Measured: docs/performance.md (issue 22).
    receipt_states = RECEIPT_STATES

    def __init__(self, config: ChannelConfig, refs: ReferenceCounter) -> None:
        self.config = config
        self._refs = refs
        self._encodings = tuple(Encoding(e) for e in config.encoding_names)
        self._method = _METHOD.get(config.split, SplitMethod.UDH8)
        node_id = config.sgip_node_id or sp_node_id("0", config.corp_id or 0)
        # One config for every connection of the account: its counter numbers the Submits of
        # all of them, so no two share a Sequence Number (the Reports' key). Started at random
        # so that a restart within the same second cannot repeat one either.
        self.session_config = SgipSessionConfig(
            config.system_id, config.password, node_id=node_id, window=config.window_size,
            response_timeout=config.response_timeout, idle_timeout=config.idle_close,
            counter_start=random.randrange(1 << 31),
        )
        self.receiver_config = SgipReceiverConfig(
            config.system_id, config.password, response_timeout=config.response_timeout,
            idle_timeout=max(60.0, config.idle_close), receipts=True,
        )
        self.listener: SgipListener | None = None
        self._fee_type = int(config.fee_type) if config.fee_type.isdigit() else 1
        fee = config.fee_code.lstrip("0")
        self._fee_value = fee if fee.isdigit() and len(fee) <= 6 else "0"
        # The one-part fast path: the default encodings only (single_part_cn's), and templates
        # by (sender, MessageCoding, ReportFlag).
        self._one_part = self._encodings == CN_ENCODINGS
        self._templates: dict[tuple[str, int, int], SgipSubmitTemplate] = {}

    def new_keeper(self, index: int, mode: BindMode, *,
                   on_event: Callable[[BindEvent], None], on_message: Callable[[Any], None],
                   on_receipt: Callable[[str, int], None]) -> SgipBindKeeper:
        cfg = self.config
        listener = None
        if index == 0 and cfg.listen_port:
            listener = self.listener = SgipListener(
                cfg.listen_host, cfg.listen_port, self.receiver_config,
                name=f"{cfg.name}/listener", on_event=on_event, on_message=on_message,
                on_receipt=on_receipt)
        return SgipBindKeeper(cfg.host, cfg.port, self.session_config, listener=listener,
                              name=f"{cfg.name}#{index}", on_event=on_event,
                              on_message=on_message)

    def _submit(self, source: str, users: tuple[str, ...], coding: int, report_flag: int,
                expire: str, schedule: str, udhi: int, content: bytes) -> Submit:
        cfg = self.config
        return Submit(
            sp_number=source, charge_number=CHARGE_NUMBER_SP_PAYS, user_numbers=users,
            corp_id=cfg.corp_id, service_type=cfg.service_id, fee_type=self._fee_type,
            fee_value=self._fee_value, expire_time=expire, schedule_time=schedule,
            report_flag=report_flag, tp_udhi=udhi, message_coding=coding,
            message_content=content,
        )

    def _template(self, key: tuple[str, int, int]) -> SgipSubmitTemplate | None:
        """The template of (sender, MessageCoding, ReportFlag); None when the Submit would be
        refused (the plain path then says why). A bounded cache."""
        source, coding, report_flag = key
        try:
            template = SgipSubmitTemplate(
                self._submit(source, ("",), coding, report_flag, "", "", 0, b""))
        except InvalidPduError:
            return None
        if len(self._templates) >= _MAX_TEMPLATES:
            self._templates.clear()
        self._templates[key] = template
        return template

    def build(self, handle: MessageHandle) -> list[Any]:
        """Encode and split a message into Submits (raises MessageRefusedError): the usual
        one-part message through its sender's :class:`SgipSubmitTemplate`, already encoded."""
        msg = handle.message
        cfg = self.config
        text = msg.text
        if (text is not None and self._one_part and msg.validity is None
                and msg.schedule_at is None):
            one = single_part_cn(text)
            if one is not None:
                user = msg.destination
                if user[:1] == "+":
                    user = destination_for(user, cfg)
                user = _user_number(user)
                if len(user) <= 21 and user.isascii() and "\0" not in user:
                    source = msg.source if msg.source is not None else cfg.default_source
                    key = (source, one[0], 1 if msg.registered_delivery else 2)
                    template = self._templates.get(key) or self._template(key)
                    if template is not None:
                        return [EncodedSubmit(template.body(user.encode(), one[1]))]
        parts = split_message(msg, self._encodings, self._method, self._refs)
        coding = parts.encoding.msg_fmt
        if coding is None:
            coding = MessageCoding.BINARY  # (octets given as ``data``)
        source = msg.source if msg.source is not None else cfg.default_source
        expire = _sgip_time(time.time() + msg.validity) if msg.validity is not None else ""
        schedule = _sgip_time(msg.schedule_at) if msg.schedule_at is not None else ""
        report_flag = 1 if msg.registered_delivery else 2
        users = (_user_number(destination_for(msg.destination, cfg)),)
        try:
            return [
                self._submit(source, users, coding, report_flag, expire, schedule,
                             TpUdhi.UDH if part.udhi else 0, part.user_data)
                for part in parts.parts
            ]
        except InvalidPduError as exc:
            field, status = _REFUSED_FIELDS.get(exc.field, (None, CommandStatus.ESME_RSUBMITFAIL))
            raise MessageRefusedError(f"{cfg.name}: {exc}", status=status, field=field) from None

    def classify(self, status: int) -> Verdict:
        if status == 0:
            return Verdict.ACCEPTED
        if status in _THROTTLE:
            return Verdict.THROTTLED
        return Verdict.RETRIABLE if is_retriable_result(status) else Verdict.PERMANENT

    def error_for(self, status: int) -> SgipResultError:
        return error_for_result(status)

    def read(self, pdu: Any) -> Receipt | MoPart | None:
        cls = type(pdu)
        if cls is SgipReport:
            if pdu.report_type != ReportType.SUBMIT:
                return None  # the status of a forwarded Deliver (SMG to SMG): not ours
            smsc_id = str(pdu.submit_sequence_number)
            state = _REPORT_STATES.get(pdu.state, _FAILED)
            if state is None or state is MessageState.DELIVERED:
                return Receipt(smsc_id, state)
            # State 2 (or anything undefined): the ErrorCode is the reason (9.2), verbatim.
            return Receipt(smsc_id, state, DeliveryFailure(stat="FAILED",
                                                           err=str(pdu.error_code)))
        if cls is Deliver:
            return MoPart(pdu.user_number, pdu.sp_number, pdu.message_content,
                          encoding_for_msg_fmt(pdu.message_coding), bool(pdu.tp_udhi & 1))
        return None  # UserRpt: answered, nothing for the engine
