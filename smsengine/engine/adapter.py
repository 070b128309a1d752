"""What a channel needs from a protocol: the small interface an SMPP or CMPP account plugs into.

A :class:`Channel` (dispatcher: lanes, tokens, binds) never sees a protocol. It asks its
:class:`ProtocolAdapter` to open connections, to build a message's PDUs, to classify a
response's status, and to read an inbound PDU as a :class:`Receipt`, an :class:`MoPart` or
nothing. A new protocol is a new adapter (``smpp_channel.py``, ``cmpp_channel.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, Protocol

from ..bind import BindEvent, BindMode
from ..link import ReceiptState
from ..smpp import CommandStatus
from ..text import Encoding, ReferenceCounter, Split, SplitMethod, TextError, split
from .config import ChannelConfig
from .model import DeliveryFailure, Message, MessageHandle, MessageRefusedError, MessageState
from .tracker import Verdict

__all__ = ["RECEIPT_STATES", "UNREADABLE", "MoPart", "ProtocolAdapter", "Receipt", "absolute_time",
           "destination_for", "relative_time", "single_part_cn", "split_message"]

#: A receipt's state, in the words every protocol maps its own into (smsengine.link), -> ours;
#: ENROUTE and ACCEPTED are intermediate (None). Keyed by plain int: an IntEnum key hashes in
#: Python code.
RECEIPT_STATES: dict[int, MessageState | None] = {
    int(ReceiptState.DELIVERED): MessageState.DELIVERED,
    int(ReceiptState.EXPIRED): MessageState.EXPIRED,
    int(ReceiptState.DELETED): MessageState.UNDELIVERABLE,
    int(ReceiptState.UNDELIVERABLE): MessageState.UNDELIVERABLE,
    int(ReceiptState.REJECTED): MessageState.REJECTED,
    int(ReceiptState.UNKNOWN): MessageState.UNKNOWN,
    int(ReceiptState.ENROUTE): None,
    int(ReceiptState.ACCEPTED): None,
}


class Receipt(NamedTuple):
    """A delivery receipt read from an inbound PDU."""

    smsc_id: str  # the carrier's id of the part, as the receipt writes it
    state: MessageState | None  # None: intermediate (ENROUTE, ACCEPTED), the final one follows
    reason: DeliveryFailure | None = None  # what a receipt not saying DELIVERED carried


#: A receipt whose id cannot be read: counted unmatched.
UNREADABLE = Receipt("", MessageState.UNKNOWN)


class MoPart(NamedTuple):
    """A mobile-originated message, or one part of a long one, read from an inbound PDU."""

    source: str
    destination: str
    payload: bytes
    encoding: Encoding
    udhi: bool  # the payload starts with a user data header
    sar: tuple[int, int, int] | None = None  # (ref, total, seqnum) from SMPP's sar_* TLVs


class ProtocolAdapter(Protocol):
    """One carrier account's protocol, for its channel."""

    @property
    def receipt_states(self) -> Mapping[int, MessageState | None]:
        """The receipt states the bind's fast receipt path reports (``on_receipt``: a
        :class:`~smsengine.link.ReceiptState` value) -> our state (None: intermediate);
        :data:`RECEIPT_STATES`, or empty for a protocol without that path."""

    def new_keeper(self, index: int, mode: BindMode, *,
                   on_event: Callable[[BindEvent], None], on_message: Callable[[Any], None],
                   on_receipt: Callable[[str, int], None]) -> Any:
        """A keeper (``BindKeeper`` or ``CmppBindKeeper``) for connection ``index``."""

    def build(self, handle: MessageHandle) -> list[Any]:
        """The message's requests, one per part (raises MessageRefusedError, or the codec's
        InvalidPduError naming a field the protocol cannot carry)."""

    def classify(self, status: int) -> Verdict:
        """What a submit response's status means for the part."""

    def error_for(self, status: int) -> BaseException:
        """The error a part refused with ``status`` carries (with ``status``, ``retriable``)."""

    def read(self, pdu: Any) -> Receipt | MoPart | None:
        """An inbound request (already answered by the bind): a receipt, an MO part, or
        nothing the engine needs."""


def destination_for(destination: str, config: ChannelConfig) -> str:
    """A destination written ``+CC…`` as the channel sends it (its ``plus`` setting): the
    digits (``strip``), as written (``keep``), or without the country code (``national``,
    for a number of that country; another country's keeps its digits)."""
    if not destination.startswith("+") or config.plus == "keep":
        return destination
    digits = destination[1:]
    if config.plus == "national" and digits.startswith(config.country_code):
        return digits[len(config.country_code):]
    return digits


def split_message(message: Message, encodings: tuple[Encoding, ...], method: SplitMethod,
                  refs: ReferenceCounter) -> Split:
    """The message encoded and cut into parts by a channel's rules (raises
    MessageRefusedError when it cannot be: too long, not encodable)."""
    destination = message.destination
    bits = 16 if method is SplitMethod.UDH16 else 8
    try:
        return split(
            message.text if message.text is not None else message.data,  # type: ignore[arg-type]
            allowed=encodings, method=method,
            # Only a message of several parts takes a reference from the counter.
            ref=lambda: refs.next(destination, bits=bits),
        )
    except TextError as exc:
        raise MessageRefusedError(str(exc), status=CommandStatus.ESME_RINVMSGLEN) from None


#: The Chinese protocols' default encodings (ChannelConfig.encoding_names), which
#: :func:`single_part_cn` is for.
CN_ENCODINGS = (Encoding.ASCII, Encoding.UCS2)


def single_part_cn(text: str) -> tuple[int, bytes] | None:
    """``(msg_fmt, content)`` when :func:`split_message` would send ``text`` as one part with
    :data:`CN_ENCODINGS` (ASCII, Msg_Fmt 0, up to 160 characters; else UCS2, Msg_Fmt 8, up to
    140 octets), else None (then split_message says how, or what is wrong). The one-part case
    without building a Split: the SGIP and SMGP adapters' templates take it
    (tests/engine/test_cn_templates.py checks the two agree)."""
    if text.isascii():
        return (0, text.encode()) if len(text) <= 160 else None
    if len(text) > 70:
        return None
    try:
        data = text.encode("utf-16-be")
    except UnicodeEncodeError:  # a lone surrogate: split() raises the error that names it
        return None
    return (8, data) if len(data) <= 140 else None


def relative_time(seconds: float) -> str:
    """SMPP relative time (section 7.1.1.2), which CMPP's Valid_Time also takes:
    YYMMDDhhmmss000R."""
    total = int(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"0000{days:02d}{hours:02d}{minutes:02d}{secs:02d}000R"


def absolute_time(epoch: float) -> str:
    """SMPP absolute time in UTC (section 7.1.1.1): YYMMDDhhmmss000+."""
    return time.strftime("%y%m%d%H%M%S", time.gmtime(epoch)) + "000+"
