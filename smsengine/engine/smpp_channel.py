"""The SMPP 3.4 adapter: an SMPP carrier account behind a channel's lanes, flow control and
tracker.

What is SMPP here and nowhere else in the engine: binds (transmitter, receiver, transceiver),
building submit_sm (a per-sender template, one-part texts without a split, UDH, SAR or
message_payload for long ones), what a command_status means (ESME_RTHROTTLED and ESME_RMSGQFUL
throttle), and reading deliver_sm / data_sm as receipts (receipted_message_id + message_state,
or the Appendix B text) or MO messages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..bind import BindEvent, BindKeeper, BindMode, SessionConfig
from ..smpp import RECEIPT_STATES as SMPP_TO_RECEIPT_STATE
from ..smpp import (
    CommandStatus,
    DataSm,
    DeliverSm,
    ReceiptParseError,
    SmppError,
    SubmitSmTemplate,
    Tag,
    Tlv,
    error_for_status,
    is_retriable_status,
    parse_receipt,
)
from ..smpp import MessageState as SmppState
from ..text import (
    DEFAULT_ENCODINGS,
    Encoding,
    ReferenceCounter,
    SplitMethod,
    count,
    encoding_for_data_coding,
    single_part,
)
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

__all__ = ["SMPP_RECEIPT_STATES", "SmppAdapter"]

_MAX_TEMPLATES = 1024  # senders whose submit_sm template is kept
_METHOD = {"udh8": SplitMethod.UDH8, "udh16": SplitMethod.UDH16, "sar": SplitMethod.SAR,
           "payload": SplitMethod.PAYLOAD}
_THROTTLE = frozenset({CommandStatus.ESME_RTHROTTLED, CommandStatus.ESME_RMSGQFUL})
# A module global, not SplitMethod.PAYLOAD in build(): an enum member read from its class is a
# ~75 ns lookup in Python 3.11, and build() runs once per message (1 % of the engine
# benchmark's CPU in a py-spy profile of this line).
_PAYLOAD = SplitMethod.PAYLOAD

#: message_state -> our state, through the protocol-neutral receipt state (smsengine.link);
#: ENROUTE and ACCEPTED are intermediate (None); a value outside the spec's is UNKNOWN. Keyed
#: by plain int: an IntEnum key hashes in Python code.
SMPP_RECEIPT_STATES: dict[int, MessageState | None] = {
    code: RECEIPT_STATES[int(state)] for code, state in SMPP_TO_RECEIPT_STATE.items()
}
# The receipt text's stat: (Appendix B) word -> message_state.
_STAT_STATE = {
    "DELIVRD": SmppState.DELIVERED, "DELIVERED": SmppState.DELIVERED,
    "EXPIRED": SmppState.EXPIRED, "DELETED": SmppState.DELETED,
    "UNDELIV": SmppState.UNDELIVERABLE, "UNDELIVERABLE": SmppState.UNDELIVERABLE,
    "ACCEPTD": SmppState.ACCEPTED, "ACCEPTED": SmppState.ACCEPTED,
    "UNKNOWN": SmppState.UNKNOWN, "REJECTD": SmppState.REJECTED, "REJECTED": SmppState.REJECTED,
    "ENROUTE": SmppState.ENROUTE,
}
_RECEIPTED_ID = int(Tag.receipted_message_id)
_MESSAGE_STATE = int(Tag.message_state)
_NETWORK_ERROR = int(Tag.network_error_code)
# Our state -> the stat a receipt would say, for a reason whose text gave none.
_STAT_NAME = {MessageState.UNDELIVERABLE: "UNDELIV", MessageState.EXPIRED: "EXPIRED",
              MessageState.REJECTED: "REJECTD", MessageState.UNKNOWN: "UNKNOWN"}
_UNKNOWN = MessageState.UNKNOWN


class SmppAdapter:
    """See the module docstring."""

    receipt_states = SMPP_RECEIPT_STATES

    def __init__(self, config: ChannelConfig, refs: ReferenceCounter) -> None:
        self.config = config
        self._refs = refs
        encodings = tuple(Encoding(e) for e in config.encoding_names)
        # The text layer's default list, by identity, takes its one-search fast path.
        self._encodings = DEFAULT_ENCODINGS if encodings == tuple(DEFAULT_ENCODINGS) else encodings
        self._method = _METHOD[config.split]
        # submit_sm templates by sender (the fields every message from it shares, checked once).
        self._templates: dict[str, SubmitSmTemplate] = {}

    def new_keeper(self, index: int, mode: BindMode, *,
                   on_event: Callable[[BindEvent], None], on_message: Callable[[Any], None],
                   on_receipt: Callable[[str, int], None]) -> BindKeeper:
        cfg = self.config
        session = SessionConfig(
            cfg.system_id, cfg.password, mode, system_type=cfg.system_type,
            window=cfg.window_size, response_timeout=cfg.response_timeout,
            enquire_link_interval=cfg.enquire_link_interval, receipt_tlvs=True,
        )
        # receipt_tlvs: the usual receipt comes as its two ids, straight to on_receipt,
        # without building the deliver_sm (0.7 against 2.1-2.4 µs a receipt).
        return BindKeeper(cfg.host, cfg.port, session, name=f"{cfg.name}#{index}",
                          ssl=cfg.ssl_context(), server_hostname=cfg.tls_server_name or None,
                          on_event=on_event, on_message=on_message, on_receipt=on_receipt)

    # --- down ---------------------------------------------------------------------------------

    def _template(self, source: str) -> SubmitSmTemplate:
        """The submit_sm template of one sender (raises InvalidPduError for a sender the
        protocol cannot carry); a bounded cache."""
        template = self._templates.get(source)
        if template is None:
            cfg = self.config
            numeric = source.isdigit()
            template = SubmitSmTemplate(
                source_addr_ton=1 if numeric else cfg.source_ton,
                source_addr_npi=1 if numeric else cfg.source_npi,
                source_addr=source, dest_addr_ton=cfg.dest_ton, dest_addr_npi=cfg.dest_npi,
            )
            if len(self._templates) >= _MAX_TEMPLATES:
                self._templates.clear()
            self._templates[source] = template
        return template

    def build(self, handle: MessageHandle) -> list[Any]:
        """Encode and split a message into submit_sm requests (raises MessageRefusedError, or
        InvalidPduError naming a field the protocol cannot carry)."""
        msg = handle.message
        source = msg.source if msg.source is not None else self.config.default_source
        registered = 1 if msg.registered_delivery else 0
        text = msg.text
        method = self._method
        destination = msg.destination
        if destination[0] == "+":
            destination = destination_for(destination, self.config)
        if (text is not None and msg.validity is None and msg.schedule_at is None
                and method is not _PAYLOAD):
            # The usual message: one part in the default encodings, no TLVs.
            one = single_part(text, self._encodings)
            if one is not None:
                # (The cache hit inline, without _template's call: once per message.)
                template = self._templates.get(source) or self._template(source)
                return [template.simple(destination, one[1], registered, one[0])]
        parts = split_message(msg, self._encodings, method, self._refs)
        if method is _PAYLOAD:
            # One PDU, but the carrier cuts it into the parts it bills: max_parts counts those.
            billed = count(msg.text if msg.text is not None else msg.data or b"",
                           allowed=self._encodings, method=SplitMethod.UDH8).parts
            if billed > self.config.max_parts:
                raise MessageRefusedError(
                    f"the text takes {billed} parts (sent whole in message_payload) on channel "
                    f"{self.config.name!r}, which sends at most {self.config.max_parts} "
                    "(max_parts)", status=CommandStatus.ESME_RINVMSGLEN)
        template = self._template(source)
        validity = relative_time(msg.validity) if msg.validity is not None else ""
        schedule = absolute_time(msg.schedule_at) if msg.schedule_at is not None else ""
        data_coding = parts.data_coding or 0
        total = len(parts.parts)
        pdus = []
        tlvs: tuple[Tlv, ...]
        for part in parts.parts:
            if method is _PAYLOAD:
                short, esm, tlvs = b"", 0, (Tlv(Tag.message_payload, part.user_data),)
            elif method is SplitMethod.SAR and total > 1:
                short, esm, tlvs = part.user_data, 0, (
                    Tlv(Tag.sar_msg_ref_num, part.ref or 0),
                    Tlv(Tag.sar_total_segments, total),
                    Tlv(Tag.sar_segment_seqnum, part.seqnum or 1),
                )
            else:
                short, esm, tlvs = part.user_data, 0x40 if part.udhi else 0, ()
            pdus.append(template.request(
                destination, short, esm_class=esm, registered_delivery=registered,
                data_coding=data_coding, validity_period=validity,
                schedule_delivery_time=schedule, tlvs=tlvs,
            ))
        return pdus

    # --- up -----------------------------------------------------------------------------------

    def classify(self, status: int) -> Verdict:
        if status == 0:
            return Verdict.ACCEPTED
        if status in _THROTTLE:
            return Verdict.THROTTLED
        return Verdict.RETRIABLE if is_retriable_status(status) else Verdict.PERMANENT

    def error_for(self, status: int) -> SmppError:
        return error_for_status(status)

    def read(self, pdu: Any) -> Receipt | MoPart | None:
        kind = type(pdu)
        if kind is not DeliverSm and kind is not DataSm:
            return None
        esm = pdu.esm_class & 0x3C
        if esm != 0x04 and esm != 0x20:  # not a receipt (DeliverSm.is_receipt's test)
            sar = None
            if not pdu.esm_class & 0x40 and pdu.tlv(Tag.sar_msg_ref_num) is not None:
                sar = (pdu.tlv(Tag.sar_msg_ref_num), pdu.tlv(Tag.sar_total_segments, 1),
                       pdu.tlv(Tag.sar_segment_seqnum, 1))
            return MoPart(pdu.source_addr, pdu.destination_addr, pdu.message,
                          encoding_for_data_coding(pdu.data_coding),
                          bool(pdu.esm_class & 0x40), sar)
        raw_id = state = network = None
        for tlv in pdu.tlvs:  # the first of each counts, as pdu.tlv() would
            tag = tlv.tag
            if tag == _RECEIPTED_ID:
                if raw_id is None:
                    raw_id = tlv.value
            elif tag == _MESSAGE_STATE:
                if state is None:
                    state = tlv.value
            elif tag == _NETWORK_ERROR and network is None:
                network = tlv.value
        parsed = None
        if raw_id is None or state is None or state != SmppState.DELIVERED:
            # Without both TLVs the text says the rest; a failure's text says its err:.
            try:
                parsed = parse_receipt(pdu.message)
            except ReceiptParseError:
                if raw_id is None or state is None:
                    return UNREADABLE
            if parsed is not None:
                raw_id = raw_id or parsed.id
                if state is None:
                    state = _STAT_STATE.get(parsed.stat.upper(), SmppState.UNKNOWN)
        ours = SMPP_RECEIPT_STATES.get(int(state), _UNKNOWN)  # type: ignore[arg-type]
        reason = None
        if ours is not None and ours is not MessageState.DELIVERED:
            reason = DeliveryFailure(
                stat=parsed.stat if parsed is not None and parsed.stat else _STAT_NAME[ours],
                err=parsed.err if parsed is not None else "",
                network_type=network[0] if type(network) is bytes and len(network) == 3
                else None,
                network_code=int.from_bytes(network[1:], "big")
                if type(network) is bytes and len(network) == 3 else None)
        return Receipt(str(raw_id), ours, reason)
